//! The `.npy` header codec: bytes in, [`NpyHeader`] out, and back. No I/O.
//!
//! # The format
//!
//! A `.npy` file (numpy's `numpy/lib/_format_impl.py`) is a header followed by the raw array
//! data, nothing after it:
//!
//! | bytes            | content                                                              |
//! |------------------|----------------------------------------------------------------------|
//! | 0..6             | the magic `\x93NUMPY`                                                |
//! | 6, 7             | format version, major and minor: 1.0, 2.0 or 3.0                     |
//! | 8..10 or 8..12   | header text length, little-endian: `u16` in 1.0, `u32` in 2.0 / 3.0  |
//! | then             | the header text: a Python dict literal, latin-1 (1.0, 2.0) or UTF-8 (3.0) |
//! | then             | the data, `shape` product × item size bytes, C or Fortran order      |
//!
//! The dict has exactly the keys `'descr'` (numpy's dtype string, `'<f8'`), `'fortran_order'`
//! (`True`/`False`) and `'shape'` (a tuple of ints; `()` for a 0-d array). numpy 2 writes the
//! keys sorted, then 21 − len(str(growth axis)) spaces (room for the first axis, or the last in
//! Fortran order, to grow in place), then pads with spaces and a final `\n` so the data starts on
//! a 64-byte boundary — always adding at least one space, so a header that would already end on
//! the boundary gets 64 more. It writes version 1.0 unless the padded text is longer than 65535
//! bytes (2.0) or not latin-1 (3.0); with at most 64 dimensions and no structured dtypes, ours
//! always fits 1.0. numpy refuses to read headers longer than [`MAX_HEADER_SIZE`].
//!
//! [`parse_npy_header`] reads the header with a small, strict parser for the literals numpy
//! writes and accepts (strings in either quote, `True`/`False`, integers — with Python 2's `L`
//! suffix in 1.0/2.0 files, which numpy still reads —, tuples, lists, dicts, trailing commas,
//! whitespace), not a general Python evaluator. [`npy_header_bytes`] writes byte for byte what
//! numpy 2.4's `np.save` writes before the data.
//!
//! # Supported dtypes
//!
//! | descr (`<`, `>`, `\|`, `=` or no byte order)  | [`NpyDtype`]                           |
//! |-----------------------------------------------|----------------------------------------|
//! | `u1 u2 u4 u8`, `i1 i2 i4 i8`                   | `Number`: `UInt8` … `Int64`            |
//! | `f4 f8`                                        | `Number`: `Float32`, `Float64`         |
//! | `c8 c16`                                       | `Number`: `Complex64`, `Complex128`    |
//! | `b1`                                           | `Bool` (Rust `bool`; no [`DataType`])  |
//!
//! `=`, `|` and no byte order mean the machine's own ([`ByteOrder::NATIVE`]), as in numpy.
//! bool is an [`NpyDtype`] of its own, not a [`DataType`], because no neuroimaging format
//! stores it (see [`NpyDtype`] for why, and for how bytes other than 0 and 1 are read).
//! Everything else numpy can write is an [`ErrorKind::Unsupported`](crate::ErrorKind) error on
//! field `descr`: float16 (`f2`), longdouble (`f16`, `c32`: on x86-64 that is
//! 80-bit extended precision padded to 16 bytes, not IEEE binary128, so it is never read as our
//! [`DataType::Float128`]), byte and unicode strings (`S`, `U`), datetimes (`M`, `m`), objects
//! (`O`, pickled), void (`V`) and structured dtypes (a list of fields). Our `Float128`,
//! `Complex256`, `Rgb24` and `Rgba32` have no `.npy` descr and cannot be written.
//!
//! # Why not a crate
//!
//! `npyz` (0.9) and `ndarray-npy` (0.10) read and write `.npy` files, but each as a whole-array
//! reader/writer over its own element traits and error types. We need the header alone: the
//! exact bytes numpy 2.4 writes (ndarray-npy's writer omits numpy 2's growth-axis spaces), the
//! data offset so the data can be memory-mapped in place — also inside an uncompressed `.npz`
//! member —, our own [`StorageDtype`]/[`ByteOrder`] and [`Error`] taxonomy with field names,
//! numpy's `max_header_size` limit (ndarray-npy allocates whatever length the header declares),
//! and a guarantee never to panic on any input. That is a few hundred lines, so we own them.
//!
//! ```
//! use neurovox::numpy::npy::{npy_header_bytes, parse_npy_header};
//! use neurovox::{ByteOrder, DataType, StorageDtype};
//!
//! let f8 = StorageDtype::new(DataType::Float64, ByteOrder::Little);
//! let bytes = npy_header_bytes(f8, false, &[2, 3])?;
//! assert_eq!(bytes.len(), 128); // data starts on a 64-byte boundary
//! let header = parse_npy_header(&bytes)?;
//! assert_eq!((header.version, header.shape.clone(), header.data_offset), ((1, 0), vec![2, 3], 128));
//! # Ok::<(), neurovox::Error>(())
//! ```

use crate::dtype::element::Element;
use crate::dtype::Order;
use crate::dtype::{ByteOrder, DataType, StorageDtype};
use crate::error::{Error, Result};
use crate::numpy::memmap::{MapMode, MemmapArray, MemmapBytes, MemmapOptions};
use ndarray::{ArrayD, ArrayViewD, IxDyn, ShapeBuilder};
use std::io::{Read, Write};
use std::path::Path;

/// The six bytes every `.npy` file starts with.
///
/// ```
/// assert_eq!(&neurovox::numpy::npy::MAGIC[1..], b"NUMPY");
/// ```
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// numpy's default `max_header_size` (10000): longer headers are a Limit error, as numpy
/// refuses them.
///
/// numpy counts decoded characters; we count bytes, which is the same for every header we
/// support (non-ASCII text can only appear in structured dtypes' field names).
///
/// ```
/// use neurovox::numpy::npy::{npy_header_len, MAX_HEADER_SIZE};
/// let mut prefix = b"\x93NUMPY\x01\x00".to_vec();
/// prefix.extend_from_slice(&u16::try_from(MAX_HEADER_SIZE + 1).unwrap().to_le_bytes());
/// assert_eq!(npy_header_len(&prefix).unwrap_err().kind(), neurovox::ErrorKind::Limit);
/// ```
pub const MAX_HEADER_SIZE: usize = 10_000;

/// The most dimensions a numpy array can have (`NPY_MAXDIMS` in numpy 2); more is a Limit error.
///
/// ```
/// use neurovox::numpy::npy::{npy_header_bytes, MAX_NDIM};
/// use neurovox::{ByteOrder, DataType, StorageDtype};
/// let u1 = StorageDtype::new(DataType::UInt8, ByteOrder::Little);
/// assert!(npy_header_bytes(u1, false, &[1; MAX_NDIM]).is_ok());
/// assert!(npy_header_bytes(u1, false, &[1; MAX_NDIM + 1]).is_err());
/// ```
pub const MAX_NDIM: usize = 64;

/// The magic plus the two version bytes.
const PREFIX_LEN: usize = 8;

/// numpy aligns the start of the data to this many bytes.
const ARRAY_ALIGN: usize = 64;

/// numpy 2 leaves room for the growth axis to reach this many digits (`len(str(8*2**64-1))`).
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// The deepest nesting of brackets the header parser follows (numpy's own headers nest 1 deep;
/// structured dtypes a few more).
const MAX_NESTING: usize = 32;

/// numpy's largest array: `shape` product × item size must fit in `npy_intp` (`i64`).
const MAX_NBYTES: u64 = i64::MAX as u64;

/// A parsed `.npy` header.
///
/// ```
/// use neurovox::numpy::npy::{parse_npy_header, NpyDtype, NpyHeader};
/// use neurovox::{ByteOrder, DataType, StorageDtype};
///
/// // 10 bytes of prefix, then 59 of text (numpy would pad it to 118; the parser needs no padding)
/// let mut file = b"\x93NUMPY\x01\x00\x3b\x00".to_vec();
/// file.extend_from_slice(b"{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }\n");
/// let header = parse_npy_header(&file)?;
/// assert_eq!(
///     header,
///     NpyHeader {
///         version: (1, 0),
///         dtype: NpyDtype::Number(StorageDtype::new(DataType::Int16, ByteOrder::Big)),
///         fortran_order: true,
///         shape: vec![2, 3],
///         data_offset: 69,
///     }
/// );
/// assert_eq!(header.data_len()?, 12);
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Format version: (1, 0), (2, 0) or (3, 0).
    pub version: (u8, u8),
    /// Element type and byte order.
    pub dtype: NpyDtype,
    /// True when the data is stored in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The array's shape; empty for a 0-d (scalar) array.
    pub shape: Vec<usize>,
    /// Total header length: magic + version + length field + header text. The data starts here.
    pub data_offset: usize,
}

impl NpyHeader {
    /// The number of elements: the product of the shape (1 for a 0-d array).
    ///
    /// ```
    /// use neurovox::numpy::npy::NpyHeader;
    /// use neurovox::{ByteOrder, DataType, StorageDtype};
    /// let mut h = NpyHeader {
    ///     version: (1, 0),
    ///     dtype: StorageDtype::new(DataType::Float32, ByteOrder::Little).into(),
    ///     fortran_order: false,
    ///     shape: vec![],
    ///     data_offset: 128,
    /// };
    /// assert_eq!(h.element_count()?, 1);
    /// h.shape = vec![4, 0];
    /// assert_eq!(h.element_count()?, 0);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn element_count(&self) -> Result<u64> {
        checked_nbytes(&self.shape, 1)
    }

    /// The number of data bytes after the header: element count × item size.
    ///
    /// ```
    /// use neurovox::numpy::npy::NpyHeader;
    /// use neurovox::{ByteOrder, DataType, StorageDtype};
    /// let h = NpyHeader {
    ///     version: (1, 0),
    ///     dtype: StorageDtype::new(DataType::Complex128, ByteOrder::Little).into(),
    ///     fortran_order: false,
    ///     shape: vec![2, 5],
    ///     data_offset: 128,
    /// };
    /// assert_eq!(h.data_len()?, 160);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn data_len(&self) -> Result<u64> {
        checked_nbytes(&self.shape, self.dtype.itemsize())
    }
}

// ---------------------------------------------------------------------------------------------
// The fixed prefix: magic, version, length field.

/// The version bytes after a correct magic.
fn read_version(bytes: &[u8]) -> Result<(u8, u8)> {
    let magic = bytes
        .get(..MAGIC.len())
        .ok_or_else(|| truncated(PREFIX_LEN, bytes.len()))?;
    if magic != MAGIC {
        return Err(Error::format(format!(
            "not a .npy file: the magic is {}, not \\x93NUMPY",
            escape_bytes(magic)
        ))
        .field("magic")
        .offset(0));
    }
    match bytes.get(MAGIC.len()..PREFIX_LEN) {
        Some(&[major, minor]) => Ok((major, minor)),
        _ => Err(truncated(PREFIX_LEN, bytes.len())),
    }
}

/// Bytes of the header-length field in a format version.
fn len_field_size(version: (u8, u8)) -> Result<usize> {
    match version {
        (1, 0) => Ok(2),
        (2, 0) | (3, 0) => Ok(4),
        (major, minor) => Err(Error::format(format!(
            "unknown .npy format version {major}.{minor} (numpy writes 1.0, 2.0 and 3.0)"
        ))
        .field("version")
        .offset(MAGIC.len() as u64)),
    }
}

/// The little-endian header-text length that follows the version.
fn read_text_len(bytes: &[u8], field_size: usize) -> Result<usize> {
    let end = PREFIX_LEN + field_size;
    let field = bytes
        .get(PREFIX_LEN..end)
        .ok_or_else(|| truncated(end, bytes.len()))?;
    let mut le = [0u8; 4];
    le[..field_size].copy_from_slice(field);
    usize::try_from(u32::from_le_bytes(le)).map_err(|_| {
        Error::limit("the header length does not fit in memory")
            .field("header_len")
            .offset(PREFIX_LEN as u64)
    })
}

/// How many bytes the whole header takes — magic, version, length field and header text —
/// read from the first 10 (version 1.0) or 12 (2.0, 3.0) bytes of a file, so a caller can read
/// exactly that much. This is the data offset.
///
/// Errors: a wrong magic or unknown version (Format), fewer bytes than the prefix (Format), a
/// header text longer than [`MAX_HEADER_SIZE`] (Limit, field `header_len`).
///
/// ```
/// use neurovox::numpy::npy::npy_header_len;
/// assert_eq!(npy_header_len(b"\x93NUMPY\x01\x00\x76\x00")?, 128);
/// assert_eq!(npy_header_len(b"\x93NUMPY\x02\x00\x74\x00\x00\x00")?, 128);
/// assert!(npy_header_len(b"\x93NUMPY\x04\x00\x76\x00\x00\x00").is_err());
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn npy_header_len(prefix: &[u8]) -> Result<usize> {
    let version = read_version(prefix)?;
    let field_size = len_field_size(version)?;
    let text_len = read_text_len(prefix, field_size)?;
    if text_len > MAX_HEADER_SIZE {
        return Err(Error::limit(format!(
            "the header text is {text_len} bytes, over numpy's max_header_size of {MAX_HEADER_SIZE}"
        ))
        .field("header_len")
        .offset(PREFIX_LEN as u64));
    }
    Ok(PREFIX_LEN + field_size + text_len)
}

/// Parses a `.npy` header from the start of a file (at least the whole header; more is
/// ignored).
///
/// Errors name the field at fault (`magic`, `version`, `header_len`, `header` for the dict's
/// syntax, `descr`, `fortran_order`, `shape`, or an unexpected key) and its byte offset:
/// Format for what numpy would refuse too, Unsupported for valid dtypes we do not handle (see
/// the module docs), Limit for headers over [`MAX_HEADER_SIZE`], more than [`MAX_NDIM`]
/// dimensions, or arrays over numpy's largest size.
///
/// ```
/// use neurovox::numpy::npy::parse_npy_header;
/// use neurovox::ErrorKind;
///
/// let mut file = b"\x93NUMPY\x01\x00\x38\x00".to_vec();
/// file.extend_from_slice(b"{'descr': '<f8', 'fortran_order': False, 'shape': (), }\n");
/// let header = parse_npy_header(&file)?;
/// assert!(header.shape.is_empty()); // a 0-d array holds one value
/// assert_eq!(header.element_count()?, 1);
///
/// let mut halves = b"\x93NUMPY\x01\x00\x3a\x00".to_vec();
/// halves.extend_from_slice(b"{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }\n");
/// let err = parse_npy_header(&halves).unwrap_err();
/// assert_eq!((err.kind(), err.field_name()), (ErrorKind::Unsupported, Some("descr")));
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn parse_npy_header(bytes: &[u8]) -> Result<NpyHeader> {
    let version = read_version(bytes)?;
    let text_start = PREFIX_LEN + len_field_size(version)?;
    let data_offset = npy_header_len(bytes)?;
    let text = bytes
        .get(text_start..data_offset)
        .ok_or_else(|| truncated(data_offset, bytes.len()))?;
    let fields = parse_header_dict(text, text_start, version)?;
    let dtype = dtype_from_literal(&fields.descr)?;
    let fortran_order = fortran_order_from_literal(&fields.fortran_order)?;
    let shape = shape_from_literal(&fields.shape)?;
    checked_nbytes(&shape, dtype.itemsize())
        .map_err(|e| e.offset(offset_u64(fields.shape.offset)))?;
    Ok(NpyHeader {
        version,
        dtype,
        fortran_order,
        shape,
        data_offset,
    })
}

/// A Format error for input shorter than a header needs.
fn truncated(needed: usize, given: usize) -> Error {
    Error::format(format!(
        "truncated .npy header: it needs {needed} bytes, only {given} given"
    ))
    .offset(offset_u64(given))
}

/// Bytes as Python would show them in a bytes literal.
fn escape_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}

fn offset_u64(offset: usize) -> u64 {
    u64::try_from(offset).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------------------------
// The header dict: a small parser for the Python literals numpy writes and reads.

/// A Python literal as it can appear in a header.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Int(i128),
    Bool(bool),
    Tuple(Vec<Literal>),
    List(Vec<Literal>),
    Dict(Vec<DictItem>),
}

/// One `key: value` pair of a dict, with the file offset of its value.
#[derive(Debug, Clone, PartialEq)]
struct DictItem {
    key: Literal,
    value: Spanned,
}

/// A literal and the file offset where it starts.
#[derive(Debug, Clone, PartialEq)]
struct Spanned {
    literal: Literal,
    offset: usize,
}

/// The three values every header holds.
#[derive(Debug)]
struct HeaderFields {
    descr: Spanned,
    fortran_order: Spanned,
    shape: Spanned,
}

/// A cursor over the header text.
struct LiteralParser<'a> {
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
    fn new(text: &'a [u8], base: usize, version: (u8, u8)) -> Self {
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

    fn error(&self, message: String) -> Error {
        Error::format(message)
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

    fn at_end(&mut self) -> bool {
        self.skip_whitespace();
        self.pos == self.text.len()
    }

    /// Any literal, after optional whitespace.
    fn value(&mut self, depth: usize) -> Result<Spanned> {
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
                return Err(Error::format("a string in the header is not closed")
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
            Error::format("a string in a version 3.0 header is not UTF-8")
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

/// Parses the header text into its three values. `base` is the text's offset in the file.
fn parse_header_dict(text: &[u8], base: usize, version: (u8, u8)) -> Result<HeaderFields> {
    let mut parser = LiteralParser::new(text, base, version);
    let top = parser.value(0)?;
    if !parser.at_end() {
        return Err(parser.error("unexpected text after the header dict".into()));
    }
    let Literal::Dict(items) = top.literal else {
        return Err(Error::format("the header is not a dict")
            .field("header")
            .offset(offset_u64(top.offset)));
    };
    header_fields(items, top.offset)
}

/// Sorts a dict's items into the three keys numpy expects; a repeated key keeps its last value,
/// as in Python.
fn header_fields(items: Vec<DictItem>, dict_offset: usize) -> Result<HeaderFields> {
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    for DictItem { key, value } in items {
        let slot = match &key {
            Literal::Str(k) if k == "descr" => &mut descr,
            Literal::Str(k) if k == "fortran_order" => &mut fortran_order,
            Literal::Str(k) if k == "shape" => &mut shape,
            Literal::Str(k) => {
                return Err(Error::format(format!(
                    "unexpected key '{k}' in the header (numpy writes only 'descr', 'fortran_order' and 'shape')"
                ))
                .field(k.clone())
                .offset(offset_u64(value.offset)))
            }
            other => {
                return Err(Error::format(format!("header keys must be strings, not {other:?}"))
                    .field("header")
                    .offset(offset_u64(value.offset)))
            }
        };
        *slot = Some(value);
    }
    let missing = |name: &'static str| {
        Error::format(format!("the header has no '{name}' key"))
            .field(name)
            .offset(offset_u64(dict_offset))
    };
    Ok(HeaderFields {
        descr: descr.ok_or_else(|| missing("descr"))?,
        fortran_order: fortran_order.ok_or_else(|| missing("fortran_order"))?,
        shape: shape.ok_or_else(|| missing("shape"))?,
    })
}

fn dtype_from_literal(descr: &Spanned) -> Result<NpyDtype> {
    let offset = offset_u64(descr.offset);
    match &descr.literal {
        Literal::Str(s) => parse_descr(s).map_err(|e| e.offset(offset)),
        Literal::List(_) => Err(Error::unsupported("structured dtypes are not supported")
            .field("descr")
            .offset(offset)),
        Literal::Tuple(_) => Err(Error::unsupported("subarray dtypes are not supported")
            .field("descr")
            .offset(offset)),
        other => Err(
            Error::format(format!("descr is not a valid dtype descriptor: {other:?}"))
                .field("descr")
                .offset(offset),
        ),
    }
}

fn fortran_order_from_literal(value: &Spanned) -> Result<bool> {
    match value.literal {
        Literal::Bool(b) => Ok(b),
        ref other => Err(
            Error::format(format!("fortran_order is not True or False: {other:?}"))
                .field("fortran_order")
                .offset(offset_u64(value.offset)),
        ),
    }
}

/// A tuple of non-negative integers, at most [`MAX_NDIM`] of them.
fn shape_from_literal(value: &Spanned) -> Result<Vec<usize>> {
    let offset = offset_u64(value.offset);
    let bad = |message: String| Error::format(message).field("shape").offset(offset);
    let Literal::Tuple(dims) = &value.literal else {
        return Err(bad(format!(
            "the shape is not a tuple of integers: {:?}",
            value.literal
        )));
    };
    check_ndim(dims.len()).map_err(|e| e.offset(offset))?;
    dims.iter()
        .map(|dim| match *dim {
            Literal::Int(n) if n < 0 => Err(bad(format!("negative dimension {n}"))),
            Literal::Int(n) => usize::try_from(n).map_err(|_| {
                Error::limit(format!("dimension {n} does not fit in memory"))
                    .field("shape")
                    .offset(offset)
            }),
            ref other => Err(bad(format!("a dimension is not an integer: {other:?}"))),
        })
        .collect()
}

fn check_ndim(ndim: usize) -> Result<()> {
    if ndim > MAX_NDIM {
        return Err(Error::limit(format!(
            "{ndim} dimensions; numpy arrays have at most {MAX_NDIM}"
        ))
        .field("shape"));
    }
    Ok(())
}

/// Product of `shape` × `itemsize`, checked as numpy checks it: the product of the non-zero
/// dimensions times the item size must fit in `i64`, even when another dimension is zero.
fn checked_nbytes(shape: &[usize], itemsize: usize) -> Result<u64> {
    let too_big = || {
        Error::limit(format!(
            "an array of shape {} with {itemsize}-byte items is larger than numpy's largest (2**63 - 1 bytes)",
            python_tuple(shape)
        ))
        .field("shape")
    };
    let mut nonzero = u64::try_from(itemsize).map_err(|_| too_big())?;
    let mut has_zero = false;
    for &dim in shape {
        let dim = u64::try_from(dim).map_err(|_| too_big())?;
        if dim == 0 {
            has_zero = true;
        } else {
            nonzero = nonzero.checked_mul(dim).ok_or_else(too_big)?;
        }
    }
    if nonzero > MAX_NBYTES {
        return Err(too_big());
    }
    Ok(if has_zero { 0 } else { nonzero })
}

// ---------------------------------------------------------------------------------------------
// dtype strings.

/// The element type of a `.npy` array: one of the core's numeric types in a byte order, or
/// numpy's `bool`.
///
/// bool is here and not a [`DataType`] because no neuroimaging format stores it: a
/// `DataType::Bool` would have to be handled — refused — by every NIfTI, Analyze and MGH code
/// path, scaling and [`DynArray`](crate::array::dyn_array::DynArray), and could not be an [`Element`]
/// (a Rust `bool` byte must be 0 or 1, so file bytes cannot be viewed as `&[bool]`). So only
/// `.npy`/`.npz` know it: a bool array is stored as one byte per value (`'|b1'`, numpy's
/// header byte for byte), written from Rust `bool`s or raw bytes, and read back either as raw
/// bytes (the Python package hands them to numpy as they are, exactly as `numpy.load` does, so
/// a byte other than 0 or 1 stays what it was) or as Rust `bool`s through [`read_npy`], where a
/// nonzero byte is `true` — numpy's own reading of such a byte (`bool(x)`, `x == True`,
/// `x.astype(int)` all treat it as True).
///
/// ```
/// use neurovox::numpy::npy::{npy_header_bytes, parse_npy_header, NpyDtype};
/// use neurovox::{ByteOrder, DataType, StorageDtype};
///
/// assert_eq!(NpyDtype::from_descr("|b1")?, NpyDtype::Bool);
/// assert_eq!(NpyDtype::Bool.descr()?, "|b1");
/// let f4 = StorageDtype::new(DataType::Float32, ByteOrder::Big);
/// assert_eq!(NpyDtype::from_descr(">f4")?, NpyDtype::Number(f4));
/// let header = parse_npy_header(&npy_header_bytes(NpyDtype::Bool, true, &[2, 3])?)?;
/// assert_eq!((header.dtype, header.fortran_order), (NpyDtype::Bool, true));
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NpyDtype {
    /// A numeric type in a byte order (`'<f8'`, `'|u1'`, `'>c16'`).
    Number(StorageDtype),
    /// numpy's `bool` (`'|b1'`): one byte per value, 0 for False, 1 for True.
    Bool,
}

impl NpyDtype {
    /// The dtype a numpy descr string (`'<f8'`, `'|b1'`) names; the rules and errors of
    /// [`descr_to_dtype`], with bool (`b1`, any byte-order character) accepted.
    ///
    /// ```
    /// use neurovox::numpy::npy::NpyDtype;
    /// assert_eq!(NpyDtype::from_descr("?").unwrap_err().kind(), neurovox::ErrorKind::Format);
    /// assert_eq!(NpyDtype::from_descr("b1")?, NpyDtype::Bool);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn from_descr(descr: &str) -> Result<NpyDtype> {
        parse_descr(descr)
    }

    /// numpy's descr, as `np.save` writes it: `'|b1'` for bool, else [`dtype_to_descr`]'s
    /// (an Unsupported error for the core types numpy has no descr for).
    ///
    /// ```
    /// use neurovox::numpy::npy::NpyDtype;
    /// use neurovox::{ByteOrder, DataType, StorageDtype};
    /// let i2 = StorageDtype::new(DataType::Int16, ByteOrder::Little);
    /// assert_eq!(NpyDtype::from(i2).descr()?, "<i2");
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn descr(self) -> Result<String> {
        match self {
            NpyDtype::Number(dtype) => dtype_to_descr(dtype),
            NpyDtype::Bool => Ok("|b1".to_string()),
        }
    }

    /// Bytes per element.
    ///
    /// ```
    /// use neurovox::numpy::npy::NpyDtype;
    /// assert_eq!(NpyDtype::Bool.itemsize(), 1);
    /// ```
    pub fn itemsize(self) -> usize {
        match self {
            NpyDtype::Number(dtype) => dtype.dtype.itemsize(),
            NpyDtype::Bool => 1,
        }
    }

    /// The byte order values are stored in ([`ByteOrder::NATIVE`] for bool, whose one-byte
    /// values have none).
    ///
    /// ```
    /// use neurovox::numpy::npy::NpyDtype;
    /// assert_eq!(NpyDtype::Bool.byte_order(), neurovox::ByteOrder::NATIVE);
    /// ```
    pub fn byte_order(self) -> ByteOrder {
        match self {
            NpyDtype::Number(dtype) => dtype.order,
            NpyDtype::Bool => ByteOrder::NATIVE,
        }
    }

    /// The core's type, or `None` for bool.
    ///
    /// ```
    /// use neurovox::numpy::npy::NpyDtype;
    /// assert_eq!(NpyDtype::Bool.storage(), None);
    /// ```
    pub fn storage(self) -> Option<StorageDtype> {
        match self {
            NpyDtype::Number(dtype) => Some(dtype),
            NpyDtype::Bool => None,
        }
    }

    /// numpy's name for the element type (`bool`, `int16`), byte order aside.
    fn type_name(self) -> &'static str {
        match self {
            NpyDtype::Number(dtype) => dtype.dtype.name(),
            NpyDtype::Bool => "bool",
        }
    }
}

impl From<StorageDtype> for NpyDtype {
    fn from(dtype: StorageDtype) -> Self {
        NpyDtype::Number(dtype)
    }
}

impl PartialEq<StorageDtype> for NpyDtype {
    fn eq(&self, other: &StorageDtype) -> bool {
        *self == NpyDtype::Number(*other)
    }
}

/// numpy's str: the descr (`<f8`, `|b1`), or the core's name for the types numpy has no descr
/// for.
impl std::fmt::Display for NpyDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NpyDtype::Number(dtype) => write!(f, "{dtype}"),
            NpyDtype::Bool => f.write_str("|b1"),
        }
    }
}

/// The element type and byte order a numpy descr string (`'<f8'`, `'>i2'`, `'|u1'`, `'c16'`)
/// names.
///
/// `<` is little-endian, `>` big-endian; `=`, `|` and no byte order mean the machine's own
/// ([`ByteOrder::NATIVE`]). Dtypes numpy has but we do not handle are Unsupported, strings numpy
/// would not understand are Format errors; both name field `descr`.
///
/// ```
/// use neurovox::numpy::npy::descr_to_dtype;
/// use neurovox::{ByteOrder, DataType, ErrorKind, StorageDtype};
///
/// assert_eq!(descr_to_dtype(">i2")?, StorageDtype::new(DataType::Int16, ByteOrder::Big));
/// assert_eq!(descr_to_dtype("<c16")?.dtype, DataType::Complex128);
/// assert_eq!(descr_to_dtype("f8")?, StorageDtype::new(DataType::Float64, ByteOrder::NATIVE));
/// assert_eq!(descr_to_dtype("b1").unwrap_err().kind(), ErrorKind::Unsupported);
/// assert_eq!(descr_to_dtype("<f16").unwrap_err().kind(), ErrorKind::Unsupported);
/// assert_eq!(descr_to_dtype("<i3").unwrap_err().kind(), ErrorKind::Format);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn descr_to_dtype(descr: &str) -> Result<StorageDtype> {
    match parse_descr(descr)? {
        NpyDtype::Number(dtype) => Ok(dtype),
        NpyDtype::Bool => Err(Error::unsupported(format!(
            "bool ('{descr}') has no neurovox DataType; NpyDtype::from_descr reads it as NpyDtype::Bool"
        ))
        .field("descr")),
    }
}

/// A descr string as an [`NpyDtype`]: [`descr_to_dtype`]'s rules, plus numpy's bool.
fn parse_descr(descr: &str) -> Result<NpyDtype> {
    let (order, type_code) = split_byte_order(descr);
    let mut chars = type_code.chars();
    let kind = chars.next().unwrap_or(' ');
    if let Some(why) = unsupported_kind(kind) {
        return Err(Error::unsupported(format!("{why} ('{descr}')")).field("descr"));
    }
    let size = chars
        .as_str()
        .parse::<usize>()
        .ok()
        .filter(|_| chars.as_str().bytes().all(|b| b.is_ascii_digit()));
    match size.and_then(|size| sized_type(kind, size)) {
        Some(SizedType::Ours(dtype)) => Ok(NpyDtype::Number(StorageDtype::new(dtype, order))),
        Some(SizedType::Bool) => Ok(NpyDtype::Bool),
        Some(SizedType::Unsupported(why)) => {
            Err(Error::unsupported(format!("{why} ('{descr}')")).field("descr"))
        }
        None => Err(Error::format(format!(
            "'{descr}' is not a numpy dtype string of the form <byte order><kind><size>"
        ))
        .field("descr")),
    }
}

/// Splits numpy's byte-order character off a descr.
fn split_byte_order(descr: &str) -> (ByteOrder, &str) {
    match descr.as_bytes().first() {
        Some(b'<') => (ByteOrder::Little, &descr[1..]),
        Some(b'>') => (ByteOrder::Big, &descr[1..]),
        Some(b'|' | b'=') => (ByteOrder::NATIVE, &descr[1..]),
        _ => (ByteOrder::NATIVE, descr),
    }
}

/// Why a dtype kind that is not a number is unsupported.
fn unsupported_kind(kind: char) -> Option<&'static str> {
    match kind {
        'S' | 'a' => Some("byte-string arrays are not supported"),
        'U' => Some("unicode string arrays are not supported"),
        'M' => Some("datetime64 arrays are not supported"),
        'm' => Some("timedelta64 arrays are not supported"),
        'O' => Some("object arrays are not supported (numpy needs pickle for them)"),
        'V' => Some("void (raw record) arrays are not supported"),
        _ => None,
    }
}

/// What a numeric kind and size mean.
enum SizedType {
    Ours(DataType),
    Bool,
    Unsupported(&'static str),
}

/// numpy's numeric kind + size codes; None for combinations numpy does not know.
fn sized_type(kind: char, size: usize) -> Option<SizedType> {
    use SizedType::{Ours, Unsupported};
    const LONGDOUBLE: &str = "numpy longdouble is not supported (on x86 it is 80-bit extended \
                              precision padded to 12 or 16 bytes, not IEEE binary128)";
    Some(match (kind, size) {
        ('u', 1) => Ours(DataType::UInt8),
        ('u', 2) => Ours(DataType::UInt16),
        ('u', 4) => Ours(DataType::UInt32),
        ('u', 8) => Ours(DataType::UInt64),
        ('i', 1) => Ours(DataType::Int8),
        ('i', 2) => Ours(DataType::Int16),
        ('i', 4) => Ours(DataType::Int32),
        ('i', 8) => Ours(DataType::Int64),
        ('f', 4) => Ours(DataType::Float32),
        ('f', 8) => Ours(DataType::Float64),
        ('c', 8) => Ours(DataType::Complex64),
        ('c', 16) => Ours(DataType::Complex128),
        ('b', 1) => SizedType::Bool,
        ('f', 2) => Unsupported("float16 arrays are not supported"),
        ('f', 12 | 16) | ('c', 24 | 32) => Unsupported(LONGDOUBLE),
        _ => return None,
    })
}

/// numpy's descr for a dtype, as `np.save` writes it: `'|u1'` for one-byte types, else the
/// byte order and kind+size (`'<f8'`, `'>c16'`).
///
/// Our `Float128` and `Complex256` (IEEE binary128) have no numpy equivalent, nor do `Rgb24`
/// and `Rgba32` without a structured dtype: these are Unsupported, field `descr`.
///
/// ```
/// use neurovox::numpy::npy::dtype_to_descr;
/// use neurovox::{ByteOrder, DataType, StorageDtype};
///
/// assert_eq!(dtype_to_descr(StorageDtype::new(DataType::Int16, ByteOrder::Big))?, ">i2");
/// assert_eq!(dtype_to_descr(StorageDtype::new(DataType::Int8, ByteOrder::Little))?, "|i1");
/// assert!(dtype_to_descr(StorageDtype::new(DataType::Float128, ByteOrder::Little)).is_err());
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn dtype_to_descr(dtype: StorageDtype) -> Result<String> {
    match dtype.dtype {
        DataType::Float128 | DataType::Complex256 => Err(Error::unsupported(format!(
            "{} (IEEE binary128) cannot be written to .npy: numpy's 16-byte floats are x86 \
             80-bit extended precision",
            dtype.dtype
        ))
        .field("descr")),
        DataType::Rgb24 | DataType::Rgba32 => Err(Error::unsupported(format!(
            "{} cannot be written to .npy: numpy would need a structured dtype",
            dtype.dtype
        ))
        .field("descr")),
        _ => Ok(dtype.numpy_str()),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// Byte for byte what numpy 2.4's `np.save` writes before the data of an array with this
/// dtype, order and shape (`fortran_order` as numpy decides it: false for arrays that are both
/// C- and Fortran-contiguous, such as 1-d ones).
///
/// The text is the dict with sorted keys and Python's repr of the shape, then numpy 2's
/// growth-axis spaces, then spaces and `\n` up to a 64-byte boundary; version 1.0 unless that
/// does not fit a `u16` length (then 2.0, as numpy does).
///
/// ```
/// use neurovox::numpy::npy::npy_header_bytes;
/// use neurovox::{ByteOrder, DataType, StorageDtype};
///
/// let bytes = npy_header_bytes(StorageDtype::new(DataType::UInt8, ByteOrder::Little), false, &[3])?;
/// let mut expected = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
/// expected.extend_from_slice(b"{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }");
/// expected.resize(127, b' ');
/// expected.push(b'\n');
/// assert_eq!(bytes, expected);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn npy_header_bytes(
    dtype: impl Into<NpyDtype>,
    fortran_order: bool,
    shape: &[usize],
) -> Result<Vec<u8>> {
    let text = checked_header_text(dtype.into(), fortran_order, shape)?;
    wrap_header(text.as_bytes(), (1, 0))
        .or_else(|| wrap_header(text.as_bytes(), (2, 0)))
        .ok_or_else(|| {
            Error::limit("the .npy header does not fit a u32 length").field("header_len")
        })
}

/// As [`npy_header_bytes`], in a given format version, as numpy's
/// `format.write_array(..., version=...)` writes it: `(1, 0)`, `(2, 0)` (4-byte length) or
/// `(3, 0)` (UTF-8 text). A header too long for version 1.0 is a Limit error.
///
/// ```
/// use neurovox::numpy::npy::{npy_header_bytes_versioned, parse_npy_header};
/// use neurovox::{ByteOrder, DataType, StorageDtype};
/// let dtype = StorageDtype::new(DataType::Int16, ByteOrder::Big);
/// let bytes = npy_header_bytes_versioned(dtype, false, &[2, 3], (3, 0))?;
/// assert_eq!(&bytes[6..8], &[3, 0]);
/// assert_eq!(parse_npy_header(&bytes)?.shape, vec![2, 3]);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn npy_header_bytes_versioned(
    dtype: impl Into<NpyDtype>,
    fortran_order: bool,
    shape: &[usize],
    version: (u8, u8),
) -> Result<Vec<u8>> {
    let text = checked_header_text(dtype.into(), fortran_order, shape)?;
    len_field_size(version)?;
    wrap_header(text.as_bytes(), version).ok_or_else(|| {
        Error::limit(format!(
            "the .npy header does not fit format version {}.{}",
            version.0, version.1
        ))
        .field("header_len")
    })
}

/// The header dict text for an array, after checking numpy's limits on it.
fn checked_header_text(dtype: NpyDtype, fortran_order: bool, shape: &[usize]) -> Result<String> {
    let descr = dtype.descr()?;
    check_ndim(shape.len())?;
    checked_nbytes(shape, dtype.itemsize())?;
    Ok(header_dict_text(&descr, fortran_order, shape))
}

/// The dict as numpy formats it, with the growth-axis spaces but before the alignment padding.
fn header_dict_text(descr: &str, fortran_order: bool, shape: &[usize]) -> String {
    let order = if fortran_order { "True" } else { "False" };
    let mut text = format!(
        "{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {}, }}",
        python_tuple(shape)
    );
    let growth_axis = if fortran_order {
        shape.last()
    } else {
        shape.first()
    };
    if let Some(dim) = growth_axis {
        let spare = GROWTH_AXIS_MAX_DIGITS.saturating_sub(dim.to_string().len());
        text.extend(std::iter::repeat_n(' ', spare));
    }
    text
}

/// Python's repr of a tuple of ints: `()`, `(3,)`, `(2, 3)`.
fn python_tuple(dims: &[usize]) -> String {
    match dims {
        [] => "()".to_string(),
        [one] => format!("({one},)"),
        _ => {
            let inner: Vec<String> = dims.iter().map(usize::to_string).collect();
            format!("({})", inner.join(", "))
        }
    }
}

/// numpy's `_wrap_header`: magic, version, length, text, then at least one space and a `\n`
/// so the total is a multiple of 64. None when the length does not fit the version's field.
fn wrap_header(text: &[u8], version: (u8, u8)) -> Option<Vec<u8>> {
    let field_size = len_field_size(version).ok()?;
    let with_newline = text.len() + 1;
    let padding = ARRAY_ALIGN - (PREFIX_LEN + field_size + with_newline) % ARRAY_ALIGN;
    let text_len = u32::try_from(with_newline + padding).ok()?;
    if field_size == 2 && u16::try_from(text_len).is_err() {
        return None;
    }
    let mut out = Vec::with_capacity(PREFIX_LEN + field_size + with_newline + padding);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version.0, version.1]);
    out.extend_from_slice(&text_len.to_le_bytes()[..field_size]);
    out.extend_from_slice(text);
    out.resize(out.len() + padding, b' ');
    out.push(b'\n');
    Some(out)
}

// ---- Reading and writing whole .npy files (memory-mapped or in memory). ----

/// A `.npy` array as [`load_npy`] returns it: memory-mapped for modes `r`, `r+`, `c`, read
/// into memory otherwise.
#[derive(Debug)]
pub enum NpyData<T: Element> {
    /// A memory map of the file's data region.
    Mapped(MemmapArray<T>),
    /// The values read into memory.
    InMemory(ArrayD<T>),
}

impl<T: Element> NpyData<T> {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            NpyData::Mapped(m) => m.shape(),
            NpyData::InMemory(a) => a.shape(),
        }
    }

    /// The values as an owned array in native byte order.
    pub fn to_array(&self) -> ArrayD<T> {
        match self {
            NpyData::Mapped(m) => m.to_array(),
            NpyData::InMemory(a) => a.clone(),
        }
    }

    /// A view without copying (for maps: native byte order and alignment required).
    pub fn view(&self) -> Result<ArrayViewD<'_, T>> {
        match self {
            NpyData::Mapped(m) => m.view(),
            NpyData::InMemory(a) => Ok(a.view()),
        }
    }

    /// True if the values are memory-mapped.
    pub fn is_mapped(&self) -> bool {
        matches!(self, NpyData::Mapped(_))
    }
}

/// Reads exactly the header from the start of a `.npy` stream.
pub fn read_npy_header(reader: &mut dyn Read) -> Result<NpyHeader> {
    let mut bytes = vec![0u8; 12];
    let got = crate::io::read_fully(reader, &mut bytes)?;
    bytes.truncate(got);
    let total = npy_header_len(&bytes)?;
    if total > bytes.len() {
        crate::io::read_up_to(reader, (total - bytes.len()) as u64, &mut bytes)?;
    }
    parse_npy_header(&bytes)
}

/// A Rust type `.npy` values can be read as and written from: every [`Element`] (numpy's
/// numeric types) and `bool` (numpy's `'|b1'`, see [`NpyDtype`]).
///
/// ```
/// use neurovox::numpy::npy::{NpyDtype, NpyElement};
/// use neurovox::ByteOrder;
/// assert_eq!(<bool as NpyElement>::NPY_DTYPE, NpyDtype::Bool);
/// assert!(bool::from_npy_bytes(&[2], ByteOrder::Little)); // nonzero is True, as in numpy
/// assert_eq!(u16::from_npy_bytes(&[1, 2], ByteOrder::Big), 0x0102);
/// ```
pub trait NpyElement:
    bytemuck::NoUninit + std::fmt::Debug + PartialEq + Send + Sync + 'static
{
    /// The dtype arrays of this type are written as (native byte order).
    const NPY_DTYPE: NpyDtype;

    /// A value from its stored bytes (exactly the item size) in byte order `order`.
    fn from_npy_bytes(bytes: &[u8], order: ByteOrder) -> Self;
}

impl<T: Element> NpyElement for T {
    const NPY_DTYPE: NpyDtype = NpyDtype::Number(StorageDtype {
        dtype: T::DTYPE,
        order: ByteOrder::NATIVE,
    });

    fn from_npy_bytes(bytes: &[u8], order: ByteOrder) -> Self {
        let value: T = bytemuck::pod_read_unaligned(bytes);
        if order != ByteOrder::NATIVE && T::DTYPE.component_size() > 1 {
            value.swap_bytes()
        } else {
            value
        }
    }
}

impl NpyElement for bool {
    const NPY_DTYPE: NpyDtype = NpyDtype::Bool;

    /// A Rust bool must be 0 or 1, so a byte numpy would keep as is (it views the data) is
    /// read the way numpy's truth tests read it: nonzero is true.
    fn from_npy_bytes(bytes: &[u8], _order: ByteOrder) -> Self {
        bytes.iter().any(|&b| b != 0)
    }
}

/// Checks that the file's element type is the one asked for (in either byte order).
fn check_element<T: NpyElement>(header: &NpyHeader) -> Result<()> {
    let same = match (header.dtype, T::NPY_DTYPE) {
        (NpyDtype::Number(file), NpyDtype::Number(asked)) => file.dtype == asked.dtype,
        (file, asked) => file == asked,
    };
    if same {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "the array holds {}, not {}",
            header.dtype.type_name(),
            T::NPY_DTYPE.type_name()
        ))
        .field("descr"))
    }
}

fn order_of(header: &NpyHeader) -> Order {
    if header.fortran_order {
        Order::F
    } else {
        Order::C
    }
}

/// Reads a whole `.npy` stream (header and data) into memory, in native byte order. `T` must
/// be the file's element type (a Usage error otherwise); `bool` reads numpy's bool arrays.
///
/// ```
/// use neurovox::numpy::npy::{read_npy, write_npy};
/// let mask = ndarray::array![[true, false], [false, true]];
/// let mut bytes = Vec::new();
/// write_npy(&mut bytes, &mask)?;
/// assert_eq!(read_npy::<bool>(&mut bytes.as_slice())?, mask.into_dyn());
/// assert!(read_npy::<u8>(&mut bytes.as_slice()).is_err());
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn read_npy<T: NpyElement>(reader: &mut dyn Read) -> Result<ArrayD<T>> {
    let header = read_npy_header(reader)?;
    read_npy_data(&header, reader)
}

/// Reads a whole `.npy` stream of whatever element type its header declares (what numpy's
/// `load` does without knowing the type beforehand).
///
/// ```
/// use neurovox::numpy::npy::{read_npy_dyn, write_npy};
/// let mut bytes = Vec::new();
/// write_npy(&mut bytes, &ndarray::array![1u16, 2, 3])?;
/// let values = read_npy_dyn(&mut bytes.as_slice())?;
/// assert_eq!(values.dtype(), neurovox::DataType::UInt16);
/// assert_eq!(values.get_f64(&[2]), Some(3.0));
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn read_npy_dyn(reader: &mut dyn Read) -> Result<crate::array::dyn_array::DynArray> {
    use crate::array::dyn_array::DynArray;
    use num_complex::Complex;
    let header = read_npy_header(reader)?;
    macro_rules! read {
        ($t:ty) => {
            DynArray::from_array(read_npy_data::<$t>(&header, reader)?)
        };
    }
    let dtype = match header.dtype {
        NpyDtype::Number(dtype) => dtype.dtype,
        NpyDtype::Bool => {
            return Err(Error::unsupported(
                "bool arrays have no DynArray type; read them with read_npy::<bool>",
            )
            .field("descr"))
        }
    };
    Ok(match dtype {
        DataType::UInt8 => read!(u8),
        DataType::Int8 => read!(i8),
        DataType::UInt16 => read!(u16),
        DataType::Int16 => read!(i16),
        DataType::UInt32 => read!(u32),
        DataType::Int32 => read!(i32),
        DataType::UInt64 => read!(u64),
        DataType::Int64 => read!(i64),
        DataType::Float32 => read!(f32),
        DataType::Float64 => read!(f64),
        DataType::Complex64 => read!(Complex<f32>),
        DataType::Complex128 => read!(Complex<f64>),
        other => {
            return Err(
                Error::unsupported(format!("{other} arrays are not read from .npy")).field("descr"),
            )
        }
    })
}

/// The data of a `.npy` stream whose header has been read.
fn read_npy_data<T: NpyElement>(header: &NpyHeader, reader: &mut dyn Read) -> Result<ArrayD<T>> {
    check_element::<T>(header)?;
    let count: usize = header.shape.iter().product();
    let size = header.dtype.itemsize();
    let mut bytes = Vec::new();
    // Read what is there, bounded by what the header declares: never allocate from the
    // header alone.
    crate::io::read_up_to(reader, (count * size) as u64, &mut bytes)?;
    if bytes.len() != count * size {
        return Err(Error::format(format!(
            "the header declares {} data bytes, the file has {}",
            count * size,
            bytes.len()
        ))
        .field("shape"));
    }
    let order = header.dtype.byte_order();
    let values: Vec<T> = bytes
        .chunks_exact(size)
        .map(|c| T::from_npy_bytes(c, order))
        .collect();
    let shape = IxDyn(&header.shape).set_f(header.fortran_order);
    ArrayD::from_shape_vec(shape, values).map_err(|e| Error::format(e.to_string()).field("shape"))
}

/// Memory-maps the data of an array whose header is known, at `data_offset` in `path`.
pub(crate) fn map_npy_data<T: Element>(
    path: &Path,
    header: &NpyHeader,
    data_offset: u64,
    mode: MapMode,
) -> Result<MemmapArray<T>> {
    check_element::<T>(header).map_err(|e| e.with_path(path))?;
    MemmapArray::open(path, map_options(header, data_offset, mode))
}

/// The map of an array's data, as `numpy.lib.format.open_memmap` asks numpy.memmap for it.
fn map_options(header: &NpyHeader, data_offset: u64, mode: MapMode) -> MemmapOptions {
    MemmapOptions::new(mode)
        .offset(data_offset)
        .shape(&header.shape)
        .order(order_of(header))
        .byte_order(header.dtype.byte_order())
}

/// Memory-maps the data region of an array whose header is known, as untyped bytes.
pub(crate) fn map_npy_bytes(
    path: &Path,
    header: &NpyHeader,
    data_offset: u64,
    mode: MapMode,
) -> Result<MemmapBytes> {
    let itemsize = header.dtype.itemsize();
    MemmapBytes::open(path, itemsize, &map_options(header, data_offset, mode))
}

/// Memory-maps a `.npy` file's data, whatever its element type: the header, and the map of
/// the data after it (what `numpy.load(path, mmap_mode=...)` gives, for callers that learn the
/// type at run time). Modes `r`, `r+`, `c`; `w+` is a Usage error (see [`load_npy`]).
///
/// ```
/// use neurovox::numpy::memmap::MapMode;
/// use neurovox::numpy::npy::{map_npy, save_npy};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.npy");
/// save_npy(&path, &ndarray::array![[1i16, 2], [3, 4]])?;
/// let (header, map) = map_npy(&path, MapMode::Read)?;
/// assert_eq!((header.shape.as_slice(), map.offset(), map.len()), (&[2, 2][..], 128, 8));
/// assert_eq!(&map.as_bytes()[6..], &4i16.to_le_bytes());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn map_npy(path: impl AsRef<Path>, mode: MapMode) -> Result<(NpyHeader, MemmapBytes)> {
    let path = path.as_ref();
    let with_path = |e: Error| e.with_path(path);
    if mode == MapMode::Create {
        return Err(with_path(w_plus_error()));
    }
    let mut file =
        std::io::BufReader::new(std::fs::File::open(path).map_err(|e| with_path(Error::io(e)))?);
    let header = read_npy_header(&mut file).map_err(with_path)?;
    let map = map_npy_bytes(path, &header, header.data_offset as u64, mode)?;
    Ok((header, map))
}

/// Opens a `.npy` file to read it into a buffer of the caller's: the header, and a reader
/// positioned at the data. The file is checked to hold all the data the header declares
/// before anything is allocated for it (a Format error otherwise, numpy's "Failed to read all
/// data").
///
/// ```
/// use neurovox::numpy::npy::{open_npy, read_npy_data_into, save_npy};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.npy");
/// save_npy(&path, &ndarray::array![1.5f32, 2.5])?;
/// let (header, mut data) = open_npy(&path)?;
/// let mut out = vec![0u8; header.data_len()? as usize];
/// read_npy_data_into(&mut data, &header, &mut out)?;
/// assert_eq!(&out[4..], &2.5f32.to_ne_bytes());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open_npy(path: impl AsRef<Path>) -> Result<(NpyHeader, std::io::BufReader<std::fs::File>)> {
    let path = path.as_ref();
    let opened = (|| {
        let file = std::fs::File::open(path)?;
        let file_len = file.metadata()?.len();
        let mut reader = std::io::BufReader::new(file);
        let header = read_npy_header(&mut reader)?;
        check_data_len(&header, file_len.saturating_sub(header.data_offset as u64))?;
        Ok((header, reader))
    })();
    opened.map_err(|e: Error| e.with_path(path))
}

/// A Format error if fewer than the header's data bytes are `available`: check a stream
/// before allocating what its header declares.
///
/// ```
/// use neurovox::numpy::npy::{check_data_len, parse_npy_header, write_npy};
/// let mut bytes = Vec::new();
/// write_npy(&mut bytes, &ndarray::array![1u32, 2])?;
/// let header = parse_npy_header(&bytes)?;
/// assert!(check_data_len(&header, 8).is_ok());
/// assert!(check_data_len(&header, 7).is_err());
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn check_data_len(header: &NpyHeader, available: u64) -> Result<()> {
    let expected = header.data_len()?;
    if available < expected {
        return Err(Error::format(format!(
            "Failed to read all data: the header declares {expected} data bytes, the file has {available}"
        ))
        .field("shape"));
    }
    Ok(())
}

fn w_plus_error() -> Error {
    Error::usage("mmap_mode 'w+' would overwrite the file; use 'r', 'r+' or 'c'")
}

/// Reads the data of a `.npy` stream whose header has been read into `out`, byte for byte
/// as stored (the header's byte order and memory order): `out` must be exactly
/// [`NpyHeader::data_len`] bytes. A stream shorter than that is a Format error (numpy's
/// "Failed to read all data").
///
/// ```
/// use neurovox::numpy::npy::{read_npy_data_into, read_npy_header, write_npy};
/// let mut bytes = Vec::new();
/// write_npy(&mut bytes, &ndarray::array![7u8, 8, 9])?;
/// let mut stream = bytes.as_slice();
/// let header = read_npy_header(&mut stream)?;
/// let mut data = vec![0u8; header.data_len()? as usize];
/// read_npy_data_into(&mut stream, &header, &mut data)?;
/// assert_eq!(data, [7, 8, 9]);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn read_npy_data_into(reader: &mut dyn Read, header: &NpyHeader, out: &mut [u8]) -> Result<()> {
    let expected = header.data_len()?;
    if out.len() as u64 != expected {
        return Err(Error::usage(format!(
            "the buffer has {} bytes, the array {expected}",
            out.len()
        )));
    }
    let got = crate::io::read_fully(reader, out)?;
    if got != out.len() {
        return Err(Error::format(format!(
            "Failed to read all data: the header declares {expected} data bytes, the file has {got}"
        ))
        .field("shape"));
    }
    Ok(())
}

/// numpy's `load` for `.npy` files: with `mmap_mode` `r`, `r+` or `c` the data is
/// memory-mapped (nothing is read until touched), otherwise read into memory. `w+` is a
/// Usage error, as in numpy (it would destroy the file).
///
/// `T` is an [`Element`], which `bool` cannot be (a map may hold any byte): bool files are
/// read with [`read_npy`]`::<bool>`, or mapped as bytes with [`map_npy`].
///
/// ```
/// use ndarray::array;
/// use neurovox::numpy::memmap::MapMode;
/// use neurovox::numpy::npy::{load_npy, save_npy};
/// let dir = tempfile::tempdir()?;
/// let fname = dir.path().join("afile.npy");
/// save_npy(&fname, &array![[1.0, 2.0], [3.0, 4.0]])?;
/// let aa = load_npy::<f64>(&fname, Some(MapMode::Read))?;
/// assert!(aa.is_mapped());
/// assert_eq!(aa.view()?[[1, 0]], 3.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_npy<T: Element>(
    path: impl AsRef<Path>,
    mmap_mode: Option<MapMode>,
) -> Result<NpyData<T>> {
    let path = path.as_ref();
    let with_path = |e: Error| e.with_path(path);
    let mut file =
        std::io::BufReader::new(std::fs::File::open(path).map_err(|e| with_path(Error::io(e)))?);
    match mmap_mode {
        None => read_npy(&mut file)
            .map(NpyData::InMemory)
            .map_err(with_path),
        Some(MapMode::Create) => Err(with_path(w_plus_error())),
        Some(mode) => {
            let header = read_npy_header(&mut file).map_err(with_path)?;
            map_npy_data(path, &header, header.data_offset as u64, mode).map(NpyData::Mapped)
        }
    }
}

/// An array that can be written as `.npy` (any `ndarray` of an [`NpyElement`] type: numpy's
/// numeric types and `bool`); lets [`crate::numpy::npz::savez`] take arrays of different types
/// together.
///
/// ```
/// use ndarray::ShapeBuilder;
/// use neurovox::numpy::npy::{NpyDtype, NpyWritable};
/// let mask = ndarray::Array3::<bool>::from_elem((2, 3, 4).f(), true);
/// assert_eq!((mask.npy_dtype(), mask.npy_fortran_order()), (NpyDtype::Bool, true));
/// ```
pub trait NpyWritable {
    /// The element type and byte order to write.
    fn npy_dtype(&self) -> NpyDtype;
    /// The shape.
    fn npy_shape(&self) -> Vec<usize>;
    /// True to write in Fortran order (the array is Fortran-contiguous and not C-contiguous).
    fn npy_fortran_order(&self) -> bool;
    /// Writes the values in that order.
    fn write_values(&self, out: &mut dyn Write) -> Result<()>;
}

impl<T, S, D> NpyWritable for ndarray::ArrayBase<S, D>
where
    T: NpyElement,
    S: ndarray::Data<Elem = T>,
    D: ndarray::Dimension,
{
    fn npy_dtype(&self) -> NpyDtype {
        T::NPY_DTYPE
    }

    fn npy_shape(&self) -> Vec<usize> {
        self.shape().to_vec()
    }

    fn npy_fortran_order(&self) -> bool {
        self.ndim() > 1 && !self.is_standard_layout() && self.t().is_standard_layout()
    }

    fn write_values(&self, out: &mut dyn Write) -> Result<()> {
        let view = if self.npy_fortran_order() {
            self.t()
        } else {
            self.view()
        };
        if let Some(slice) = view.as_slice() {
            return out
                .write_all(bytemuck::cast_slice(slice))
                .map_err(Error::io);
        }
        for v in view.iter() {
            out.write_all(bytemuck::bytes_of(v)).map_err(Error::io)?;
        }
        Ok(())
    }
}

/// Writes one array as a `.npy` stream, header as numpy writes it.
pub fn write_npy(out: &mut dyn Write, array: &dyn NpyWritable) -> Result<()> {
    let header = npy_header_bytes(
        array.npy_dtype(),
        array.npy_fortran_order(),
        &array.npy_shape(),
    )?;
    out.write_all(&header).map_err(Error::io)?;
    array.write_values(out)
}

/// numpy's `save`: writes the array to `path` as `.npy` (atomically: a reader never sees half
/// a file, and a failed save leaves the old file).
///
/// ```
/// use neurovox::numpy::npy::{load_npy, read_npy, save_npy};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("mask.npy");
/// let mask = ndarray::array![[true, false, true], [false, false, true]];
/// save_npy(&path, &mask)?; // descr '|b1', as np.save writes it
/// let back = read_npy::<bool>(&mut std::fs::File::open(&path)?)?;
/// assert_eq!(back, mask.into_dyn());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn save_npy(path: impl AsRef<Path>, array: &dyn NpyWritable) -> Result<()> {
    crate::io::atomic::write_atomically(path.as_ref(), |w| write_npy(w, array))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    /// A version 1.0 file prefix around `text`, without padding (numpy reads that too).
    fn v1(text: &str) -> Vec<u8> {
        with_version((1, 0), text.as_bytes())
    }

    fn with_version(version: (u8, u8), text: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[version.0, version.1]);
        let len = u32::try_from(text.len()).unwrap();
        if version == (1, 0) {
            out.extend_from_slice(&u16::try_from(len).unwrap().to_le_bytes());
        } else {
            out.extend_from_slice(&len.to_le_bytes());
        }
        out.extend_from_slice(text);
        out
    }

    fn dict(descr: &str, fortran: &str, shape: &str) -> String {
        format!("{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}\n")
    }

    fn err_of(bytes: &[u8]) -> Error {
        parse_npy_header(bytes).unwrap_err()
    }

    fn assert_err(err: &Error, kind: ErrorKind, field: &str, words: &str) {
        assert_eq!(err.kind(), kind, "{err}");
        assert_eq!(err.field_name(), Some(field), "{err}");
        assert!(err.message().contains(words), "{err}");
    }

    // -- prefix -----------------------------------------------------------------------------

    #[test]
    fn header_len_of_each_version() {
        assert_eq!(npy_header_len(b"\x93NUMPY\x01\x00\x76\x00").unwrap(), 128);
        assert_eq!(
            npy_header_len(b"\x93NUMPY\x02\x00\x74\x00\x00\x00").unwrap(),
            128
        );
        assert_eq!(
            npy_header_len(b"\x93NUMPY\x03\x00\x34\x01\x00\x00").unwrap(),
            320
        );
    }

    #[test]
    fn wrong_magic_is_a_format_error() {
        let err = npy_header_len(b"\x93NUMPX\x01\x00\x76\x00").unwrap_err();
        assert_err(&err, ErrorKind::Format, "magic", "not a .npy file");
        assert_eq!(err.byte_offset(), Some(0));
    }

    #[test]
    fn unknown_version_is_named() {
        let err = npy_header_len(b"\x93NUMPY\x01\x01\x76\x00").unwrap_err();
        assert_err(&err, ErrorKind::Format, "version", "version 1.1");
        let err = npy_header_len(b"\x93NUMPY\x04\x00\x76\x00\x00\x00").unwrap_err();
        assert_err(&err, ErrorKind::Format, "version", "version 4.0");
    }

    #[test]
    fn short_prefixes_are_truncated_not_panics() {
        for n in 0..12 {
            let full = b"\x93NUMPY\x02\x00\x74\x00\x00\x00";
            let err = npy_header_len(&full[..n]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Format, "{n}: {err}");
        }
        assert!(npy_header_len(b"\x93NUMPY\x01\x00\x76").is_err());
    }

    #[test]
    fn header_over_max_header_size_is_a_limit_error() {
        let err = npy_header_len(b"\x93NUMPY\x01\x00\x11\x27").unwrap_err(); // 10001
        assert_err(&err, ErrorKind::Limit, "header_len", "max_header_size");
        assert_eq!(
            npy_header_len(b"\x93NUMPY\x01\x00\x10\x27").unwrap(),
            10_010
        );
        let err = npy_header_len(b"\x93NUMPY\x02\x00\xff\xff\xff\xff").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Limit);
    }

    #[test]
    fn header_text_past_the_given_bytes_is_truncated() {
        let mut bytes = v1(&dict("'<f8'", "False", "()"));
        bytes.truncate(30);
        let err = err_of(&bytes);
        assert_eq!(err.kind(), ErrorKind::Format);
        assert!(err.message().contains("truncated"), "{err}");
    }

    // -- the dict ---------------------------------------------------------------------------

    #[test]
    fn parses_what_numpy_writes() {
        let h = parse_npy_header(&v1(&dict("'<f8'", "False", "(2, 3)"))).unwrap();
        assert_eq!(h.version, (1, 0));
        assert_eq!(
            h.dtype,
            StorageDtype::new(DataType::Float64, ByteOrder::Little)
        );
        assert!(!h.fortran_order);
        assert_eq!(h.shape, vec![2, 3]);
        assert_eq!(h.data_offset, 10 + dict("'<f8'", "False", "(2, 3)").len());
    }

    #[test]
    fn scalar_empty_and_one_d_shapes() {
        let shape = |s: &str| {
            parse_npy_header(&v1(&dict("'<f8'", "False", s)))
                .unwrap()
                .shape
        };
        assert_eq!(shape("()"), Vec::<usize>::new());
        assert_eq!(shape("(0,)"), vec![0]);
        assert_eq!(shape("(5,)"), vec![5]);
        assert_eq!(shape("(2, 3, 4,)"), vec![2, 3, 4]);
        assert_eq!(shape("((7,))"), vec![7]);
    }

    #[test]
    fn keys_in_any_order_double_quotes_and_odd_whitespace() {
        let text = "{ \"shape\" :(4 ,) ,\n\t'fortran_order':True,\"descr\":\">i4\"}";
        let h = parse_npy_header(&v1(text)).unwrap();
        assert_eq!(h.dtype, StorageDtype::new(DataType::Int32, ByteOrder::Big));
        assert!(h.fortran_order);
        assert_eq!(h.shape, vec![4]);
    }

    #[test]
    fn python2_long_suffix_in_versions_1_and_2_only() {
        let text = dict("'<f8'", "False", "(2L, 3L)");
        assert_eq!(parse_npy_header(&v1(&text)).unwrap().shape, vec![2, 3]);
        assert_eq!(
            parse_npy_header(&with_version((2, 0), text.as_bytes()))
                .unwrap()
                .shape,
            vec![2, 3]
        );
        let err = err_of(&with_version((3, 0), text.as_bytes()));
        assert_err(&err, ErrorKind::Format, "header", "decimal integers");
    }

    #[test]
    fn version_3_strings_are_utf8_and_version_1_latin1() {
        let text = "{'descr': '<f8', 'fortran_order': False, 'shape': (), 'é': 1}".as_bytes();
        let err = err_of(&with_version((3, 0), text));
        assert_err(&err, ErrorKind::Format, "é", "unexpected key 'é'");
        let latin1 = b"{'descr': '<f8', 'fortran_order': False, 'shape': (), '\xe9': 1}";
        let err = err_of(&with_version((1, 0), latin1));
        assert_err(&err, ErrorKind::Format, "é", "unexpected key");
        let err = err_of(&with_version((3, 0), latin1));
        assert_err(&err, ErrorKind::Format, "header", "not UTF-8");
    }

    #[test]
    fn missing_keys_are_named() {
        let err = err_of(&v1("{'descr': '<f8', 'shape': ()}"));
        assert_err(
            &err,
            ErrorKind::Format,
            "fortran_order",
            "no 'fortran_order' key",
        );
        let err = err_of(&v1("{'fortran_order': False, 'shape': ()}"));
        assert_err(&err, ErrorKind::Format, "descr", "no 'descr' key");
        let err = err_of(&v1("{'descr': '<f8', 'fortran_order': False}"));
        assert_err(&err, ErrorKind::Format, "shape", "no 'shape' key");
    }

    #[test]
    fn extra_and_non_string_keys_are_refused() {
        let err = err_of(&v1(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), 'extra': 1}",
        ));
        assert_err(&err, ErrorKind::Format, "extra", "unexpected key 'extra'");
        let err = err_of(&v1(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), 1: 1}",
        ));
        assert_err(&err, ErrorKind::Format, "header", "keys must be strings");
    }

    #[test]
    fn repeated_key_keeps_the_last_value_as_python_does() {
        let h = parse_npy_header(&v1(
            "{'descr': '<f8', 'shape': (1,), 'fortran_order': False, 'shape': (9,)}",
        ))
        .unwrap();
        assert_eq!(h.shape, vec![9]);
    }

    #[test]
    fn syntax_errors_are_format_errors_on_header() {
        for text in [
            "",
            "   ",
            "[1, 2]",
            "{'descr': '<f8' 'fortran_order': False, 'shape': ()}",
            "{'descr' '<f8', 'fortran_order': False, 'shape': ()}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1 2)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': ()",
            "{'descr': '<f8', 'fortran_order': False, 'shape': ()} x",
            "{'descr': '<f8, 'fortran_order': False, 'shape': ()}",
            "{'descr': '<f8', 'fortran_order': None, 'shape': ()}",
            "{'descr': '<f8', 'fortran_order': false, 'shape': ()}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2.0,)}",
            // numpy's literal_eval reads hex; numpy never writes it, so we keep to decimal
            "{'descr': '<f8', 'fortran_order': False, 'shape': (0x10,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (007,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': @}",
            "{'descr': '<f8\n', 'fortran_order': False, 'shape': ()}",
        ] {
            let err = err_of(&v1(text));
            assert_eq!(err.kind(), ErrorKind::Format, "{text:?}: {err}");
            assert_eq!(err.field_name(), Some("header"), "{text:?}: {err}");
        }
    }

    #[test]
    fn syntax_error_offsets_point_into_the_file() {
        let err = err_of(&v1("{'descr': @}"));
        assert_eq!(err.byte_offset(), Some(10 + 10));
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let text = format!("{}{}", "(".repeat(5000), ")".repeat(5000));
        let err = err_of(&v1(&text));
        assert_err(&err, ErrorKind::Format, "header", "nest deeper");
    }

    #[test]
    fn fortran_order_must_be_a_bool() {
        for value in ["1", "0", "'True'", "()"] {
            let err = err_of(&v1(&dict("'<f8'", value, "()")));
            assert_err(
                &err,
                ErrorKind::Format,
                "fortran_order",
                "not True or False",
            );
        }
    }

    #[test]
    fn shape_must_be_a_tuple_of_non_negative_ints() {
        for (shape, words) in [
            ("[2, 3]", "not a tuple"),
            ("3", "not a tuple"),
            ("(3)", "not a tuple"),
            ("('3',)", "not an integer"),
            // Python's True is an int, so numpy would read (True,) as (1,); we refuse it
            ("(True,)", "not an integer"),
            ("(2, -1)", "negative dimension -1"),
        ] {
            let err = err_of(&v1(&dict("'<f8'", "False", shape)));
            assert_err(&err, ErrorKind::Format, "shape", words);
        }
        let h = parse_npy_header(&v1(&dict("'<f8'", "False", "(+2, -0)"))).unwrap();
        assert_eq!(h.shape, vec![2, 0]);
    }

    #[test]
    fn sizes_numpy_cannot_hold_are_limit_errors() {
        let err = err_of(&v1(&dict("'<f8'", "False", "(99999999999999999999999,)")));
        assert_err(&err, ErrorKind::Limit, "header", "larger than 2**64");
        let err = err_of(&v1(&dict("'<f8'", "False", "(4294967296, 4294967296)")));
        assert_err(
            &err,
            ErrorKind::Limit,
            "shape",
            "larger than numpy's largest",
        );
        let err = err_of(&v1(&dict("'|u1'", "False", "(9223372036854775808,)")));
        assert_eq!(err.kind(), ErrorKind::Limit);
        // numpy refuses these even when another dimension is zero
        let err = err_of(&v1(&dict("'<f8'", "False", "(0, 4294967296, 4294967296)")));
        assert_eq!(err.kind(), ErrorKind::Limit);
        let ok = parse_npy_header(&v1(&dict("'|u1'", "False", "(0, 9223372036854775807)")));
        assert_eq!(ok.unwrap().element_count().unwrap(), 0);
    }

    #[test]
    fn more_than_64_dimensions_is_a_limit_error() {
        let dims = |n: usize| format!("({})", vec!["1,"; n].concat());
        assert!(parse_npy_header(&v1(&dict("'<f8'", "False", &dims(64)))).is_ok());
        let err = err_of(&v1(&dict("'<f8'", "False", &dims(65))));
        assert_err(&err, ErrorKind::Limit, "shape", "at most 64");
    }

    #[test]
    fn descr_errors_carry_the_field_and_offset() {
        let err = err_of(&v1(&dict("'<f2'", "False", "(3,)")));
        assert_err(&err, ErrorKind::Unsupported, "descr", "float16");
        assert_eq!(err.byte_offset(), Some(10 + 10));
        let err = err_of(&v1(&dict("[('a', '<i4'), ('b', '<f8')]", "False", "(3,)")));
        assert_err(
            &err,
            ErrorKind::Unsupported,
            "descr",
            "structured dtypes are not supported",
        );
        let err = err_of(&v1(&dict("('<f8', (2,))", "False", "(3,)")));
        assert_err(&err, ErrorKind::Unsupported, "descr", "subarray");
        let err = err_of(&v1(&dict("8", "False", "(3,)")));
        assert_err(
            &err,
            ErrorKind::Format,
            "descr",
            "not a valid dtype descriptor",
        );
        let err = err_of(&v1(&dict("'<f3'", "False", "(3,)")));
        assert_err(&err, ErrorKind::Format, "descr", "'<f3'");
    }

    #[test]
    fn string_escapes() {
        let h = parse_npy_header(&v1(
            "{'desc\\x72': '<f8', 'fortran_order': False, 'shape': ()}",
        ));
        // `\x72` is kept as written, so the key is not 'descr'
        assert_err(
            &h.unwrap_err(),
            ErrorKind::Format,
            "desc\\x72",
            "unexpected key",
        );
        let h = parse_npy_header(&v1(
            "{'descr': '<f8', 'fortran_order': False, \"sha\\\"pe\": ()}",
        ));
        assert_err(
            &h.unwrap_err(),
            ErrorKind::Format,
            "sha\"pe",
            "unexpected key",
        );
        let err = err_of(&v1("{'descr': '<f8\\"));
        assert_err(&err, ErrorKind::Format, "header", "not closed");
    }

    #[test]
    fn never_panics_on_any_prefix_of_a_header() {
        let full = npy_header_bytes(
            StorageDtype::new(DataType::Complex64, ByteOrder::Big),
            true,
            &[2, 3, 4],
        )
        .unwrap();
        for n in 0..full.len() {
            assert!(parse_npy_header(&full[..n]).is_err(), "{n}");
        }
        for i in 10..full.len() {
            let mut bytes = full.clone();
            for b in [0u8, b'(', b'\'', b'{', b',', 0xff] {
                bytes[i] = b;
                let _ = parse_npy_header(&bytes);
            }
        }
    }

    // -- descr ------------------------------------------------------------------------------

    #[test]
    fn descr_maps_every_supported_type() {
        let cases = [
            ("|u1", DataType::UInt8),
            ("|i1", DataType::Int8),
            ("<u2", DataType::UInt16),
            ("<i2", DataType::Int16),
            ("<u4", DataType::UInt32),
            ("<i4", DataType::Int32),
            ("<u8", DataType::UInt64),
            ("<i8", DataType::Int64),
            ("<f4", DataType::Float32),
            ("<f8", DataType::Float64),
            ("<c8", DataType::Complex64),
            ("<c16", DataType::Complex128),
        ];
        for (descr, dtype) in cases {
            let parsed = descr_to_dtype(descr).unwrap();
            assert_eq!(parsed.dtype, dtype, "{descr}");
            assert_eq!(parsed.numpy_str(), descr);
            assert_eq!(dtype_to_descr(parsed).unwrap(), parsed.numpy_str());
            assert_eq!(NpyDtype::from_descr(descr).unwrap(), parsed);
        }
    }

    #[test]
    fn bool_descrs_in_any_byte_order() {
        for descr in ["|b1", "b1", "<b1", ">b1", "=b1"] {
            assert_eq!(
                NpyDtype::from_descr(descr).unwrap(),
                NpyDtype::Bool,
                "{descr}"
            );
            // no DataType: the core's descr_to_dtype points to NpyDtype
            let err = descr_to_dtype(descr).unwrap_err();
            assert_err(&err, ErrorKind::Unsupported, "descr", "NpyDtype::Bool");
        }
        for descr in ["b2", "b0", "|b", "?"] {
            let err = NpyDtype::from_descr(descr).unwrap_err();
            assert_err(&err, ErrorKind::Format, "descr", "not a numpy dtype string");
        }
        assert_eq!(NpyDtype::Bool.descr().unwrap(), "|b1");
        assert_eq!(NpyDtype::Bool.to_string(), "|b1");
    }

    #[test]
    fn descr_byte_orders() {
        assert_eq!(descr_to_dtype("<i2").unwrap().order, ByteOrder::Little);
        assert_eq!(descr_to_dtype(">i2").unwrap().order, ByteOrder::Big);
        assert_eq!(descr_to_dtype("=i2").unwrap().order, ByteOrder::NATIVE);
        assert_eq!(descr_to_dtype("|i2").unwrap().order, ByteOrder::NATIVE);
        assert_eq!(descr_to_dtype("i2").unwrap().order, ByteOrder::NATIVE);
        assert_eq!(descr_to_dtype(">u1").unwrap().numpy_str(), "|u1");
        assert_eq!(descr_to_dtype("f08").unwrap().dtype, DataType::Float64);
    }

    #[test]
    fn unsupported_descrs_say_why() {
        for (descr, words) in [
            ("<f2", "float16"),
            ("<f16", "80-bit"),
            ("<c32", "longdouble"),
            ("|S5", "byte-string"),
            ("|a5", "byte-string"),
            ("<U3", "unicode"),
            ("<M8[s]", "datetime64"),
            ("<m8[D]", "timedelta64"),
            (
                "|O",
                "object arrays are not supported (numpy needs pickle for them)",
            ),
            ("|V4", "void"),
        ] {
            let err = descr_to_dtype(descr).unwrap_err();
            assert_err(&err, ErrorKind::Unsupported, "descr", words);
            assert!(err.message().contains(descr), "{err}");
        }
    }

    #[test]
    fn invalid_descrs_are_format_errors() {
        for descr in [
            "", "<", "<<f8", "f", "i", "d", "<i3", "u16", "b2", "c4", "f+8", " f8", "<f8 ", "f8\0",
            "x8", "é8",
        ] {
            let err = descr_to_dtype(descr).unwrap_err();
            assert_err(&err, ErrorKind::Format, "descr", "not a numpy dtype string");
        }
    }

    #[test]
    fn types_without_a_numpy_descr_cannot_be_written() {
        for dtype in [
            DataType::Float128,
            DataType::Complex256,
            DataType::Rgb24,
            DataType::Rgba32,
        ] {
            let err = dtype_to_descr(StorageDtype::new(dtype, ByteOrder::Little)).unwrap_err();
            assert_err(&err, ErrorKind::Unsupported, "descr", "cannot be written");
            assert!(
                npy_header_bytes(StorageDtype::new(dtype, ByteOrder::Little), false, &[1]).is_err()
            );
        }
    }

    // -- writing ----------------------------------------------------------------------------

    /// What numpy 2.4 writes, copied from `np.save` output.
    #[test]
    fn header_bytes_match_numpy() {
        let f8 = StorageDtype::new(DataType::Float64, ByteOrder::Little);
        let cases: [(&[usize], bool, &str); 4] = [
            (
                &[],
                false,
                "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
            ),
            (
                &[0],
                false,
                "{'descr': '<f8', 'fortran_order': False, 'shape': (0,), }                    ",
            ),
            (
                &[2, 3],
                true,
                "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }                    ",
            ),
            (
                &[12345, 3],
                false,
                "{'descr': '<f8', 'fortran_order': False, 'shape': (12345, 3), }                ",
            ),
        ];
        for (shape, fortran, text) in cases {
            let bytes = npy_header_bytes(f8, fortran, shape).unwrap();
            assert_eq!(&bytes[..10], b"\x93NUMPY\x01\x00\x76\x00");
            assert_eq!(bytes.len(), 128);
            assert_eq!(&bytes[10..10 + text.len()], text.as_bytes(), "{shape:?}");
            assert!(bytes[10 + text.len()..127].iter().all(|&b| b == b' '));
            assert_eq!(bytes[127], b'\n');
        }
    }

    /// What numpy 2.4's `np.save` writes for bool arrays (all pad to 128 bytes).
    #[test]
    fn bool_header_bytes_match_numpy() {
        let cases: [(&[usize], bool, &str); 7] = [
            (
                &[],
                false,
                "{'descr': '|b1', 'fortran_order': False, 'shape': (), }",
            ),
            (
                &[0],
                false,
                "{'descr': '|b1', 'fortran_order': False, 'shape': (0,), }",
            ),
            (
                &[3],
                false,
                "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
            ),
            (
                &[2, 3],
                true,
                "{'descr': '|b1', 'fortran_order': True, 'shape': (2, 3), }",
            ),
            (
                &[4, 5, 6],
                false,
                "{'descr': '|b1', 'fortran_order': False, 'shape': (4, 5, 6), }",
            ),
            (
                &[4, 5, 6],
                true,
                "{'descr': '|b1', 'fortran_order': True, 'shape': (4, 5, 6), }",
            ),
            (
                &[0, 3],
                false,
                "{'descr': '|b1', 'fortran_order': False, 'shape': (0, 3), }",
            ),
        ];
        for (shape, fortran, text) in cases {
            let mut expected = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
            expected.extend_from_slice(text.as_bytes());
            expected.resize(127, b' ');
            expected.push(b'\n');
            let ours = npy_header_bytes(NpyDtype::Bool, fortran, shape).unwrap();
            assert_eq!(ours, expected, "{shape:?} {fortran}");
            let h = parse_npy_header(&ours).unwrap();
            assert_eq!(
                (h.dtype, h.fortran_order, h.shape.as_slice()),
                (NpyDtype::Bool, fortran, shape)
            );
            assert_eq!(
                h.data_len().unwrap(),
                shape.iter().product::<usize>() as u64
            );
        }
    }

    #[test]
    fn bool_arrays_write_and_read_like_numpy() {
        use ndarray::{array, Array3};
        let mask = Array3::from_shape_fn((2, 3, 4).f(), |(i, j, k)| (i + j * k) % 3 == 0);
        let mut bytes = Vec::new();
        write_npy(&mut bytes, &mask).unwrap();
        let h = parse_npy_header(&bytes).unwrap();
        assert_eq!((h.dtype, h.fortran_order), (NpyDtype::Bool, true));
        // Fortran order on disk: the transpose's C order
        let stored: Vec<u8> = mask.t().iter().map(|&b| u8::from(b)).collect();
        assert_eq!(&bytes[h.data_offset..], stored.as_slice());
        assert_eq!(
            read_npy::<bool>(&mut bytes.as_slice()).unwrap(),
            mask.into_dyn()
        );

        let scalar = ndarray::arr0(true);
        let mut bytes = Vec::new();
        write_npy(&mut bytes, &scalar).unwrap();
        assert_eq!(bytes.len(), 129);
        assert_eq!(bytes[128], 1);
        let back = read_npy::<bool>(&mut bytes.as_slice()).unwrap();
        assert_eq!(back.shape(), &[] as &[usize]);

        let err = read_npy::<u8>(&mut bytes.as_slice()).unwrap_err();
        assert_err(&err, ErrorKind::Usage, "descr", "holds bool, not uint8");
        let err = read_npy_dyn(&mut bytes.as_slice()).unwrap_err();
        assert_err(&err, ErrorKind::Unsupported, "descr", "read_npy::<bool>");

        let mut u8s = Vec::new();
        write_npy(&mut u8s, &array![1u8]).unwrap();
        let err = read_npy::<bool>(&mut u8s.as_slice()).unwrap_err();
        assert_err(&err, ErrorKind::Usage, "descr", "holds uint8, not bool");
    }

    #[test]
    fn bool_bytes_other_than_0_and_1_read_as_true() {
        // numpy keeps such a byte as is, and its truth tests call it True
        let mut bytes = npy_header_bytes(NpyDtype::Bool, false, &[4]).unwrap();
        bytes.extend_from_slice(&[0, 1, 2, 255]);
        let values = read_npy::<bool>(&mut bytes.as_slice()).unwrap();
        assert_eq!(values.as_slice().unwrap(), &[false, true, true, true]);
    }

    #[test]
    fn header_bytes_round_trip() {
        for shape in [&[][..], &[5], &[2, 3, 4], &[1, 1, 7], &[0, 3]] {
            for fortran in [false, true] {
                let dtype = StorageDtype::new(DataType::Int16, ByteOrder::Big);
                let bytes = npy_header_bytes(dtype, fortran, shape).unwrap();
                assert_eq!(bytes.len() % 64, 0);
                let h = parse_npy_header(&bytes).unwrap();
                assert_eq!(
                    (h.dtype, h.fortran_order, h.shape.as_slice()),
                    (dtype.into(), fortran, shape)
                );
                assert_eq!(h.data_offset, bytes.len());
            }
        }
    }

    #[test]
    fn exact_multiple_of_64_still_gets_a_full_pad() {
        // numpy always adds at least one space: a text that would end on the boundary gets 64 more
        let text = vec![b'x'; 64 - 10 - 1];
        let bytes = wrap_header(&text, (1, 0)).unwrap();
        assert_eq!(bytes.len(), 128);
        assert_eq!(&bytes[8..10], &118u16.to_le_bytes());
    }

    #[test]
    fn long_text_falls_back_to_version_2() {
        let text = vec![b' '; 70_000];
        assert!(wrap_header(&text, (1, 0)).is_none());
        let bytes = wrap_header(&text, (2, 0)).unwrap();
        assert_eq!(&bytes[6..8], b"\x02\x00");
        assert_eq!(bytes.len() % 64, 0);
        let len = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
        assert_eq!(len as usize + 12, bytes.len());
    }

    #[test]
    fn growth_axis_padding_follows_the_growth_axis() {
        let text = header_dict_text("<f8", true, &[123, 4]);
        assert!(text.ends_with(&format!("}}{}", " ".repeat(20))));
        let text = header_dict_text("<f8", false, &[123, 4]);
        assert!(text.ends_with(&format!("}}{}", " ".repeat(18))));
        assert!(header_dict_text("<f8", false, &[]).ends_with('}'));
    }

    #[test]
    fn python_tuple_repr() {
        assert_eq!(python_tuple(&[]), "()");
        assert_eq!(python_tuple(&[3]), "(3,)");
        assert_eq!(python_tuple(&[2, 3]), "(2, 3)");
    }

    #[test]
    fn writing_refuses_shapes_numpy_cannot_hold() {
        let u1 = StorageDtype::new(DataType::UInt8, ByteOrder::Little);
        let err = npy_header_bytes(u1, false, &[1; 65]).unwrap_err();
        assert_err(&err, ErrorKind::Limit, "shape", "at most 64");
        let err = npy_header_bytes(u1, false, &[usize::MAX, 2]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Limit);
    }
}
