//! Selections written as Python writes the key of `a[...]`: `"...,3"`, `":, 10, ::-1"`,
//! `"None, 2:-1"`, `"(1:4:2, -1)"`.
//!
//! Items are separated by commas; each is `...` (or `Ellipsis`), `None` (or `np.newaxis` /
//! `newaxis`), an integer index (negative counts from the end), or a slice `start:stop:step`
//! whose parts may each be left out. Blanks around items are ignored, the whole key may be
//! wrapped in `(…)` or `[…]`, a trailing comma is allowed, and the empty key (`""`, `"()"`)
//! selects everything. The result is the library's [`Selection`], whose `Display` prints
//! the same syntax back.

use neurovox::select::{Selection, SliceItem};
use neurovox::{Error, Result};

/// Parses a Python-style key into a [`Selection`]; a Usage error naming the bad item.
pub fn parse_selection(text: &str) -> Result<Selection> {
    let trimmed = text.trim();
    let inner = strip_brackets(trimmed);
    let mut parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    // `3,` and `(3,)`: Python's one-element tuple; `""`: the empty key.
    if parts.last() == Some(&"") {
        parts.pop();
    }
    let items = parts
        .iter()
        .map(|part| parse_item(part))
        .collect::<Result<Vec<_>>>()
        .map_err(|err| Error::usage(format!("bad selection {text:?}: {}", err.message())))?;
    if items
        .iter()
        .filter(|item| matches!(item, SliceItem::Ellipsis))
        .count()
        > 1
    {
        return Err(Error::usage(format!(
            "bad selection {text:?}: more than one `...`"
        )));
    }
    Ok(Selection::new(items))
}

/// The text inside one pair of enclosing `()` or `[]`, if there is one.
fn strip_brackets(text: &str) -> &str {
    for (open, close) in [('(', ')'), ('[', ']')] {
        if let Some(inner) = text
            .strip_prefix(open)
            .and_then(|rest| rest.strip_suffix(close))
        {
            return inner.trim();
        }
    }
    text
}

/// One item: `...`, `None`, an index or a slice.
fn parse_item(part: &str) -> Result<SliceItem> {
    match part {
        "" => Err(Error::usage("empty item between commas")),
        "..." | "Ellipsis" => Ok(SliceItem::Ellipsis),
        "None" | "np.newaxis" | "numpy.newaxis" | "newaxis" => Ok(SliceItem::NewAxis),
        _ if part.contains(':') => parse_slice(part),
        _ => parse_integer(part).map(SliceItem::Index),
    }
}

/// `start:stop` or `start:stop:step`, each part optional; a step of 0 is refused.
fn parse_slice(part: &str) -> Result<SliceItem> {
    let fields: Vec<&str> = part.split(':').map(str::trim).collect();
    if fields.len() > 3 {
        return Err(Error::usage(format!(
            "{part:?} has more than two `:` (start:stop:step)"
        )));
    }
    let bound = |text: &str| -> Result<Option<isize>> {
        if text.is_empty() || text == "None" {
            Ok(None)
        } else {
            parse_integer(text).map(Some)
        }
    };
    let start = bound(fields[0])?;
    let stop = bound(fields[1])?;
    let step = match fields.get(2) {
        Some(text) => bound(text)?.unwrap_or(1),
        None => 1,
    };
    if step == 0 {
        return Err(Error::usage(format!("{part:?}: slice step cannot be zero")));
    }
    Ok(SliceItem::slice(start, stop, step))
}

/// A decimal integer with an optional sign (`-1`, `+2`, `10`).
fn parse_integer(text: &str) -> Result<isize> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::usage(format!(
            "{text:?} is not an index, a slice (start:stop:step), `...` or `None`"
        )));
    }
    text.parse::<isize>()
        .map_err(|_| Error::usage(format!("{text:?} is too large for an index")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use neurovox::sel;

    fn parsed(text: &str) -> Selection {
        parse_selection(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn parses_the_usual_keys() {
        assert_eq!(parsed("...,3"), sel![..., 3]);
        assert_eq!(parsed(":, 10, ::-1"), sel![.., 10, ..;-1]);
        assert_eq!(parsed("None"), sel![NewAxis]);
        assert_eq!(parsed("-1"), sel![-1]);
        assert_eq!(parsed("1:4:2, -3, ..."), sel![1..4;2, -3, ...]);
        assert_eq!(parsed(" 2: , :-1 "), sel![2.., ..-1]);
        assert_eq!(
            parsed("5:1:-2"),
            Selection::new(vec![SliceItem::slice(Some(5), Some(1), -2)])
        );
        assert_eq!(
            parsed("None:None:None"),
            Selection::new(vec![SliceItem::full()])
        );
        assert_eq!(parsed("Ellipsis, np.newaxis"), sel![..., NewAxis]);
        assert_eq!(parsed("+2"), sel![2]);
    }

    #[test]
    fn brackets_trailing_commas_and_the_empty_key() {
        assert_eq!(parsed("(1:4, ...)"), sel![1..4, ...]);
        assert_eq!(parsed("[0]"), sel![0]);
        assert_eq!(parsed("3,"), sel![3]);
        assert_eq!(parsed("(3,)"), sel![3]);
        assert_eq!(parsed(""), Selection::all());
        assert_eq!(parsed("()"), Selection::all());
    }

    #[test]
    fn display_round_trips() {
        for text in ["(1:4:2, -1, ...)", "(None, ::-1)", "(:, 10)", "(3,)", "()"] {
            assert_eq!(parsed(text).to_string(), text);
        }
    }

    #[test]
    fn bad_keys_are_usage_errors_naming_the_key() {
        for text in [
            "a", "1:2:3:4", "::0", "1,,2", "..., ...", "1.5", "-", "3 4", ":x",
        ] {
            let err = parse_selection(text).expect_err(text);
            assert_eq!(err.kind(), neurovox::ErrorKind::Usage, "{text}");
            assert!(err.message().contains(text), "{text}: {}", err.message());
        }
        let huge = parse_selection("99999999999999999999999").expect_err("overflow");
        assert!(huge.message().contains("too large"), "{}", huge.message());
    }
}
