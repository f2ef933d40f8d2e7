//! A small parser for the Python literals of a `.npy` header dict (`{'descr': '<i2',
//! 'fortran_order': False, 'shape': (3, 4), }`): strings, integers, booleans, tuples, lists
//! and dicts, each with the file offset where it starts, so an error names the byte.
//!
//! Why our own: numpy reads the header with `ast.literal_eval`; no Rust crate parses exactly
//! that subset with Python 2 longs and latin-1 text, and a general Python parser would accept
//! far more than a header may hold (see the module docs of [`super`], "Why not a crate").

use crate::error::{Error, Result};

/// The deepest nesting of brackets the header parser follows (numpy's own headers nest 1 deep;
/// structured dtypes a few more).
pub(super) const MAX_NESTING: usize = 32;

pub(super) fn offset_u64(offset: usize) -> u64 {
    u64::try_from(offset).unwrap_or(u64::MAX)
}

/// A Python literal as it can appear in a header.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Literal {
    Str(String),
    Int(i128),
    Bool(bool),
    Tuple(Vec<Literal>),
    List(Vec<Literal>),
    Dict(Vec<DictItem>),
}

/// One `key: value` pair of a dict, with the file offset of its value.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct DictItem {
    pub(super) key: Literal,
    pub(super) value: Spanned,
}

/// A literal and the file offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Spanned {
    pub(super) literal: Literal,
    pub(super) offset: usize,
}

/// A cursor over the header text.
pub(super) struct LiteralParser<'a> {
    text: &'a [u8],
    pos: usize,
    /// Offset of `text` in the file, for error offsets.
    base: usize,
    /// Version 3.0 text is UTF-8; 1.0 and 2.0 are latin-1.
    utf8: bool,
    /// Versions 1.0 and 2.0 may hold Python 2 long integers (`3L`), which numpy still reads.
    python2_longs: bool,
}

impl<'a> LiteralParser<'a> {
    pub(super) fn new(text: &'a [u8], base: usize, version: (u8, u8)) -> Self {
        LiteralParser {
            text,
            pos: 0,
            base,
            utf8: version >= (3, 0),
            python2_longs: version <= (2, 0),
        }
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(super) fn error(&self, message: String) -> Error {
        Error::header_value(message)
            .field("header")
            .offset(offset_u64(self.offset()))
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')) {
            self.pos += 1;
        }
    }

    pub(super) fn at_end(&mut self) -> bool {
        self.skip_whitespace();
        self.pos == self.text.len()
    }

    /// Any literal, after optional whitespace.
    pub(super) fn value(&mut self, depth: usize) -> Result<Spanned> {
        self.skip_whitespace();
        if depth > MAX_NESTING {
            return Err(self.error(format!("brackets nest deeper than {MAX_NESTING}")));
        }
        let offset = self.offset();
        let literal = match self.peek() {
            Some(b'{') => Literal::Dict(self.dict(depth)?),
            Some(b'(') => self.parenthesised(depth)?,
            Some(b'[') => Literal::List(self.items(b']', depth)?.0),
            Some(quote @ (b'\'' | b'"')) => Literal::Str(self.string(quote)?),
            Some(b'-' | b'+' | b'0'..=b'9') => Literal::Int(self.int()?),
            Some(c) if c.is_ascii_alphabetic() => Literal::Bool(self.bool_word()?),
            Some(c) => return Err(self.error(format!("unexpected {:?}", char::from(c)))),
            None => return Err(self.error("the header ends where a value should be".into())),
        };
        Ok(Spanned { literal, offset })
    }

    /// Comma-separated literals from the opening bracket to `close`, trailing comma allowed;
    /// also tells whether there was any comma (`(3)` is an int, `(3,)` a tuple).
    fn items(&mut self, close: u8, depth: usize) -> Result<(Vec<Literal>, bool)> {
        self.pos += 1;
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            self.skip_whitespace();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok((items, comma));
            }
            items.push(self.value(depth + 1)?.literal);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    comma = true;
                }
                Some(c) if c == close => {}
                _ => return Err(self.error(format!("expected ',' or '{}'", char::from(close)))),
            }
        }
    }

    /// A tuple, or a value in grouping parentheses.
    fn parenthesised(&mut self, depth: usize) -> Result<Literal> {
        let (mut items, comma) = self.items(b')', depth)?;
        match items.pop() {
            Some(only) if items.is_empty() && !comma => Ok(only),
            Some(last) => {
                items.push(last);
                Ok(Literal::Tuple(items))
            }
            None => Ok(Literal::Tuple(items)),
        }
    }

    /// `{key: value, ...}`, trailing comma allowed.
    fn dict(&mut self, depth: usize) -> Result<Vec<DictItem>> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_whitespace();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(items);
            }
            let key = self.value(depth + 1)?.literal;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':' after a dict key".into()));
            }
            self.pos += 1;
            let value = self.value(depth + 1)?;
            items.push(DictItem { key, value });
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.error("expected ',' or '}'".into())),
            }
        }
    }

    /// A one-line string in `quote`s. Escapes of a backslash, quote, newline or tab are
    /// decoded; any other backslash is kept as written (no descr numpy writes has one).
    fn string(&mut self, quote: u8) -> Result<String> {
        let start = self.offset();
        self.pos += 1;
        let mut raw = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                return Err(Error::header_value("a string in the header is not closed")
                    .field("header")
                    .offset(offset_u64(start)));
            };
            self.pos += 1;
            match byte {
                b if b == quote => break,
                b'\n' => return Err(self.error("a string in the header spans lines".into())),
                b'\\' => match self.peek() {
                    None => {}
                    Some(escaped) => {
                        self.pos += 1;
                        match escaped {
                            b'\\' | b'\'' | b'"' => raw.push(escaped),
                            b'n' => raw.push(b'\n'),
                            b't' => raw.push(b'\t'),
                            other => raw.extend_from_slice(&[b'\\', other]),
                        }
                    }
                },
                b => raw.push(b),
            }
        }
        self.decode_text(raw, start)
    }

    fn decode_text(&self, raw: Vec<u8>, start: usize) -> Result<String> {
        if !self.utf8 {
            return Ok(raw.into_iter().map(char::from).collect());
        }
        String::from_utf8(raw).map_err(|_| {
            Error::header_value("a string in a version 3.0 header is not UTF-8")
                .field("header")
                .offset(offset_u64(start))
        })
    }

    /// A decimal integer with optional sign (and Python 2's `L` suffix in 1.0/2.0 headers).
    fn int(&mut self) -> Result<i128> {
        let negative = self.peek() == Some(b'-');
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
            self.skip_whitespace();
        }
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = self.text.get(start..self.pos).unwrap_or_default();
        let magnitude = self.int_magnitude(digits)?;
        if self.python2_longs && self.peek() == Some(b'L') {
            self.pos += 1;
        }
        if self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
        {
            return Err(self.error("only decimal integers may appear in a header".into()));
        }
        let magnitude = i128::from(magnitude);
        Ok(if negative { -magnitude } else { magnitude })
    }

    fn int_magnitude(&self, digits: &[u8]) -> Result<u64> {
        if digits.is_empty() {
            return Err(self.error("expected digits".into()));
        }
        if digits.len() > 1 && digits[0] == b'0' && digits.iter().any(|&d| d != b'0') {
            return Err(self.error("Python integers have no leading zeros".into()));
        }
        digits.iter().try_fold(0u64, |acc, &d| {
            acc.checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d - b'0')))
                .ok_or_else(|| {
                    Error::limit("an integer in the header is larger than 2**64")
                        .field("header")
                        .offset(offset_u64(self.offset()))
                })
        })
    }

    /// `True` or `False`, the only names a header may hold.
    fn bool_word(&mut self) -> Result<bool> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.pos += 1;
        }
        match self.text.get(start..self.pos).unwrap_or_default() {
            b"True" => Ok(true),
            b"False" => Ok(false),
            word => {
                self.pos = start;
                Err(self.error(format!(
                    "unexpected name {:?} (only True and False may appear)",
                    String::from_utf8_lossy(word)
                )))
            }
        }
    }
}
