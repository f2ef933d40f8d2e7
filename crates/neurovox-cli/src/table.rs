//! Plain-text tables and numbers formatted the way nibabel's command-line tools print them.
//!
//! [`render`] is nibabel's `table2string`: every column as wide as its widest cell, cells
//! centred unless marked left-aligned, one space between columns, trailing blanks trimmed.
//! [`format_g`] and [`format_fixed`] are Python's `%g` and `%.Nf`, so numbers read the same
//! as in `nib-ls`.

/// How a cell sits in its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Padded on the right (nibabel's `@l`).
    Left,
    /// Padded on both sides, the odd space on the right (nibabel's default).
    Centre,
    /// Padded on the left (for numbers).
    Right,
}

/// One cell of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The text shown.
    pub text: String,
    /// Its alignment.
    pub align: Align,
}

impl Cell {
    /// A left-aligned cell.
    pub fn left(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            align: Align::Left,
        }
    }

    /// A centred cell.
    pub fn centre(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            align: Align::Centre,
        }
    }

    /// A right-aligned cell.
    pub fn right(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            align: Align::Right,
        }
    }

    /// An empty cell (a column this row has nothing for).
    pub fn empty() -> Cell {
        Cell::centre("")
    }
}

/// Lays out rows as aligned text, one line per row, each line ending in `\n`.
/// Short rows are padded with empty cells.
pub fn render(rows: &[Vec<Cell>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.text.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let padded: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(i, &width)| match row.get(i) {
                Some(cell) => pad(cell, width),
                None => " ".repeat(width),
            })
            .collect();
        out.push_str(padded.join(" ").trim_end());
        out.push('\n');
    }
    out
}

fn pad(cell: &Cell, width: usize) -> String {
    match cell.align {
        Align::Left => format!("{:<width$}", cell.text),
        Align::Centre => format!("{:^width$}", cell.text),
        Align::Right => format!("{:>width$}", cell.text),
    }
}

/// Python's `'%.{precision}g' % value`: `precision` significant digits, trailing zeros
/// dropped, scientific notation for exponents below -4 or at least `precision`.
pub fn format_g(value: f64, precision: usize) -> String {
    if let Some(special) = non_finite(value) {
        return special;
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let precision = precision.max(1);
    let scientific = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = match scientific.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (scientific.as_str(), 0),
    };
    let max_exponent = i32::try_from(precision).unwrap_or(i32::MAX);
    if exponent < -4 || exponent >= max_exponent {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            strip_fraction_zeros(mantissa),
            exponent.unsigned_abs()
        )
    } else {
        let decimals = usize::try_from(max_exponent - 1 - exponent).unwrap_or(0);
        strip_fraction_zeros(&format!("{value:.decimals$}")).to_owned()
    }
}

/// Python's `'%.{decimals}f' % value` (`nan` and `inf` spelled as Python spells them).
pub fn format_fixed(value: f64, decimals: usize) -> String {
    non_finite(value).unwrap_or_else(|| format!("{value:.decimals$}"))
}

/// Python's `repr(float)` for a value: shortest round-trip digits (of the value's own type),
/// `.0` on whole numbers, an exponent (`1e-05`, `1e+16`) below 1e-4 and from 1e16 on.
pub fn format_float<T: std::fmt::LowerExp + Into<f64> + Copy>(value: T) -> String {
    if let Some(text) = non_finite(value.into()) {
        return text;
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = match scientific.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (scientific.as_str(), 0),
    };
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let body = if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else {
            let point = point as usize;
            if digits.len() > point {
                format!("{}.{}", &digits[..point], &digits[point..])
            } else {
                format!("{digits}{}.0", "0".repeat(point - digits.len()))
            }
        }
    } else {
        let mantissa = match digits.len() {
            1 => digits.clone(),
            _ => format!("{}.{}", &digits[..1], &digits[1..]),
        };
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    };
    format!("{sign}{body}")
}

fn non_finite(value: f64) -> Option<String> {
    if value.is_nan() {
        Some("nan".to_owned())
    } else if value.is_infinite() {
        Some(if value > 0.0 { "inf" } else { "-inf" }.to_owned())
    } else {
        None
    }
}

fn strip_fraction_zeros(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_float_is_pythons_repr() {
        for (value, repr) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1000.0, "1000.0"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (123456789012345.6, "123456789012345.6"),
            (-2.5e20, "-2.5e+20"),
            (0.024235, "0.024235"),
        ] {
            assert_eq!(format_float(value), repr, "{value}");
        }
        assert_eq!(format_float(0.1f32), "0.1");
    }

    #[test]
    fn format_g_matches_python() {
        let cases = [
            (1.0, "1"),
            (2.5, "2.5"),
            (0.000123456, "0.000123"),
            (0.0000123456, "1.23e-05"),
            (1234.0, "1.23e+03"),
            (123.0, "123"),
            (-0.5, "-0.5"),
            (0.0, "0"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_g(value, 3), expected, "{value}");
        }
    }

    #[test]
    fn fixed_and_float_follow_python_spelling() {
        assert_eq!(format_fixed(2.2, 2), "2.20");
        assert_eq!(format_fixed(f64::NAN, 2), "nan");
        assert_eq!(format_float(2000.0f32), "2000.0");
        assert_eq!(format_float(2.2f32), "2.2");
        assert_eq!(format_float(f32::NAN), "nan");
    }

    #[test]
    fn render_aligns_like_table2string() {
        let rows = vec![
            vec![Cell::left("a.nii"), Cell::centre(">i2"), Cell::left("x")],
            vec![Cell::left("long.nii"), Cell::centre("int16"), Cell::empty()],
        ];
        assert_eq!(render(&rows), "a.nii     >i2  x\nlong.nii int16\n");
        let rows = vec![
            vec![Cell::left("a"), Cell::right("1.5")],
            vec![Cell::left("bb"), Cell::right("-10.25")],
        ];
        assert_eq!(render(&rows), "a     1.5\nbb -10.25\n");
    }
}
