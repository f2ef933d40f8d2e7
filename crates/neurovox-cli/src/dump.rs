//! The full header dump of `neurovox info --header`.
//!
//! Three blocks per image: where it is (format, compression, byte order, files), every raw
//! header field in layout order (as nibabel prints a header: `name : value`), and the values
//! derived from them (shape, dtype, zooms, data offset, scaling, best affine, NIfTI codes,
//! units, intent and extensions, the MGH footer), ending with the problems nibabel's checks
//! would report.

use crate::table::{format_float, format_g};
use neurovox::format::fields::{Field, FieldKind};
use neurovox::format::mgh::MGH_LAYOUT;
use neurovox::format::nifti1::xform_label;
use neurovox::format::{Extension, MghHeader, NiftiHeader, NiftiVersion};
use neurovox::{ByteOrder, FieldValue, Header, HeaderInfo};

/// Width of the label column of the "derived" block.
const DERIVED_LABEL_WIDTH: usize = 16;

/// How many characters of an extension's text to show.
const EXTENSION_PREVIEW_CHARS: usize = 60;

/// The whole dump of one image, ending in a newline.
pub fn header_dump(shown: &str, info: &HeaderInfo) -> String {
    let mut out = format!("== {shown} ==\n");
    out.push_str(&location_block(info));
    out.push_str("-- header fields --\n");
    out.push_str(&fields_block(&info.header));
    out.push_str("-- derived --\n");
    out.push_str(&derived_block(&info.header));
    out
}

/// Format, compression, byte order and the files the image lives in.
fn location_block(info: &HeaderInfo) -> String {
    let order = match info.header.byte_order() {
        ByteOrder::Little => "little-endian",
        ByteOrder::Big => "big-endian",
    };
    let mut lines = vec![
        (
            "format",
            format!("{} ({})", info.format.nibabel_class(), info.format.label()),
        ),
        ("compression", info.compression.label().to_owned()),
        ("byte order", order.to_owned()),
        ("header file", crate::shown::path(&info.header_path)),
    ];
    if info.image_path != info.header_path {
        lines.push(("image file", crate::shown::path(&info.image_path)));
    }
    labelled_lines(&lines, DERIVED_LABEL_WIDTH)
}

/// Every field in layout order, named and padded as nibabel's `str(header)` pads them.
fn fields_block(header: &Header) -> String {
    let fields = header.fields();
    let layout = header.layout();
    let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0) + 2;
    let lines: Vec<(&str, String)> = fields
        .iter()
        .map(|(name, value)| (*name, field_value_text(layout.field(name), value)))
        .collect();
    labelled_lines(&lines, width)
}

/// A field's value: floats with the shortest digits of their stored width (a float32
/// `2.2` prints as `2.2`, not as its float64 widening), matrices row by row, the rest as
/// the library prints them.
fn field_value_text(field: Option<&Field>, value: &FieldValue) -> String {
    let float32 = field.is_some_and(|f| f.kind == FieldKind::F32);
    let float_text = |v: f64| {
        if float32 {
            // The value was widened from a float32 field, so this narrowing is exact.
            format_float(v as f32)
        } else {
            format_float(v)
        }
    };
    match value {
        FieldValue::Float(v) => float_text(*v),
        FieldValue::Floats(values) => {
            let texts: Vec<String> = values.iter().map(|&v| float_text(v)).collect();
            let columns = field.map_or(0, |f| f.columns);
            if columns > 0 {
                let rows: Vec<String> = texts
                    .chunks(columns)
                    .map(|row| format!("[{}]", row.join(", ")))
                    .collect();
                format!("[{}]", rows.join(", "))
            } else {
                format!("[{}]", texts.join(", "))
            }
        }
        FieldValue::Bytes(bytes) => quoted_bytes(bytes),
        other => other.to_string(),
    }
}

/// A byte-string field up to its trailing NULs, quoted, with `\xNN` for bytes that are not
/// printable ASCII. Unlike the library's display (text up to the first NUL), this shows
/// everything the field holds, as nibabel's `b'FSL3.3\x00 v2.25 …'` does.
fn quoted_bytes(bytes: &[u8]) -> String {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let mut out = String::from("\"");
    for &byte in &bytes[..end] {
        match byte {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(byte));
            }
            b' '..=b'~' => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push('"');
    out
}

/// The values a reader derives from the fields, and the header's problems.
fn derived_block(header: &Header) -> String {
    let mut lines: Vec<(&str, String)> = vec![
        (
            "shape",
            or_error(header.data_shape().map(|s| format!("{s:?}"))),
        ),
        (
            "dtype",
            or_error(
                header
                    .data_dtype()
                    .map(|d| format!("{} ({})", d.dtype.name(), d.numpy_str())),
            ),
        ),
        ("zooms", zooms_text(header)),
        ("data offset", header.data_offset().to_string()),
        (
            "slope, inter",
            or_error(header.slope_inter().map(scaling_text)),
        ),
        (
            "best affine",
            or_error(header.best_affine().map(|a| affine_text(&a))),
        ),
    ];
    match header {
        Header::Nifti(h) => lines.extend(nifti_lines(h)),
        Header::Mgh(h) => lines.extend(mgh_lines(header, h)),
        Header::Afni(h) => lines.extend(afni_lines(h)),
        Header::Ecat(h) => lines.extend(ecat_lines(h)),
        Header::Parrec(h) => lines.extend(parrec_lines(h)),
        Header::Minc(h) => lines.extend(minc_lines(h)),
        Header::Analyze(_) => {}
    }
    lines.push(("problems", problems_text(header)));
    labelled_lines(&lines, DERIVED_LABEL_WIDTH)
}

/// An AFNI header's per-sub-brick factors, labels and space, then every attribute as the
/// `.HEAD` file holds it (AFNI headers have no binary fields to list).
fn afni_lines(h: &neurovox::format::AfniHeader) -> Vec<(&str, String)> {
    let factors = match h.data_scaling() {
        Ok(Some(f)) => {
            let texts: Vec<String> = f.iter().map(|&v| format_float(v)).collect();
            format!("[{}]", texts.join(", "))
        }
        Ok(None) => "none (data is not scaled)".to_owned(),
        Err(e) => format!("error: {e}"),
    };
    let mut lines = vec![
        ("sub-brick factors", factors),
        (
            "volume labels",
            h.volume_labels()
                .map_or_else(|| "none".to_owned(), |l| format!("{l:?}")),
        ),
        ("space", format!("{:?}", h.space())),
    ];
    for (name, value) in h.attributes() {
        let text = match value {
            neurovox::FieldValue::Bytes(b) => quoted_bytes(b),
            other => other.to_string(),
        };
        lines.push((name.as_str(), text));
    }
    lines
}

/// A MINC header: the dimensions in file order, the valid range and the scaling variables
/// (their range of values; every value in long files would drown the rest), warnings, then
/// each dimension's step, start and direction cosines.
fn minc_lines(h: &neurovox::format::MincHeader) -> Vec<(&str, String)> {
    let dims: Vec<String> = h
        .dimensions()
        .iter()
        .map(|d| format!("{} ({})", d.name, d.len))
        .collect();
    let range = |values: &[f64]| match values.iter().copied().reduce(f64::min) {
        Some(low) => {
            let high = values.iter().copied().fold(low, f64::max);
            format!(
                "{} value(s), {} to {}",
                values.len(),
                format_float(low),
                format_float(high)
            )
        }
        None => "none".to_owned(),
    };
    let scaled = h.geometry().data_dtype().dtype.is_integer();
    let mut lines = vec![
        ("dimensions", dims.join(", ")),
        (
            "valid range",
            match scaled {
                true => format!("{:?}", h.valid_range()),
                false => "none (float data is not scaled)".to_owned(),
            },
        ),
        ("scaled along", format!("{:?}", h.scale_dims())),
        ("image-min", range(h.image_min())),
        ("image-max", range(h.image_max())),
    ];
    for warning in h.warnings() {
        lines.push(("warning", warning.clone()));
    }
    for (name, value) in h.attributes() {
        if name.contains(':') || name == "signtype" {
            let text = match value {
                neurovox::FieldValue::Bytes(b) => quoted_bytes(b),
                other => other.to_string(),
            };
            lines.push((name.as_str(), text));
        }
    }
    lines
}

/// An ECAT7 image's frames: the matrix list and, for each frame, its scale factor.
fn ecat_lines(h: &neurovox::format::EcatHeader) -> Vec<(&'static str, String)> {
    let rows: Vec<String> = h.mlist().iter().map(|r| format!("{r:?}")).collect();
    let factors = match h.frame_scale_factors() {
        Ok(f) => {
            let texts: Vec<String> = f.iter().map(|&v| format_float(v)).collect();
            format!("[{}]", texts.join(", "))
        }
        Err(e) => format!("error: {e}"),
    };
    vec![
        ("matrix list", rows.join(" ")),
        ("frame factors", factors),
        ("calibration", format_float(h.calibration_factor())),
        ("flipped axes", format!("{:?}", h.flipped_axes())),
    ]
}

/// A PAR/REC header: version, orientation, the slice order and scalings, the labels that
/// change between volumes, warnings, then the general information as nibabel names it.
fn parrec_lines(h: &neurovox::format::ParrecHeader) -> Vec<(&'static str, String)> {
    use neurovox::format::parrec::ParrecScaling;
    let range = |values: &[f64]| match values.iter().copied().reduce(f64::min) {
        Some(low) => {
            let high = values.iter().copied().fold(low, f64::max);
            match low == high {
                true => format_float(low),
                false => format!("{} to {}", format_float(low), format_float(high)),
            }
        }
        None => "none".to_owned(),
    };
    let scaling = |method| match h.data_scaling(method) {
        Ok((slopes, inters)) => format!("slope {}, inter {}", range(&slopes), range(&inters)),
        Err(e) => format!("error: {e}"),
    };
    let order = h.sorted_slice_indices();
    let order_text = if h.is_in_file_order() {
        "the .REC's order".to_owned()
    } else {
        let shown: Vec<String> = order.iter().take(12).map(|i| i.to_string()).collect();
        let more = if order.len() > 12 { ", …" } else { "" };
        format!("[{}{more}]", shown.join(", "))
    };
    let mut lines = vec![
        ("version", h.version().as_str().to_owned()),
        (
            "slice orientation",
            or_error(h.slice_orientation().map(|o| o.label().to_owned())),
        ),
        ("image lines", h.image_defs().rows().to_string()),
        ("slice order", order_text),
        ("scaling dv", scaling(ParrecScaling::Dv)),
        ("scaling fp", scaling(ParrecScaling::Fp)),
    ];
    for (name, values) in h.volume_labels() {
        lines.push((name, format!("{values:?}")));
    }
    for warning in h.warnings() {
        lines.push(("warning", warning.clone()));
    }
    for (name, value) in &h.contents().general {
        let text = match value {
            neurovox::FieldValue::Bytes(b) => quoted_bytes(b),
            other => other.to_string(),
        };
        lines.push((name, text));
    }
    lines
}

/// The value, or `error: …` in its place so one bad value does not hide the rest.
fn or_error(value: neurovox::Result<String>) -> String {
    value.unwrap_or_else(|err| format!("error: {err}"))
}

/// The zooms at the precision of the header's float fields.
fn zooms_text(header: &Header) -> String {
    let stores_float32 = !matches!(header, Header::Nifti(h) if h.version() == NiftiVersion::Two)
        && !matches!(header, Header::Parrec(_));
    let texts: Vec<String> = header
        .zooms()
        .iter()
        .map(|&z| {
            if stores_float32 {
                format_float(z as f32)
            } else {
                format_float(z)
            }
        })
        .collect();
    format!("[{}]", texts.join(", "))
}

/// `slope 2.0, inter 10.0`, or a note that the data is stored unscaled.
fn scaling_text((slope, inter): (Option<f64>, Option<f64>)) -> String {
    match (slope, inter) {
        (None, None) => "none (data is not scaled)".to_owned(),
        (slope, inter) => format!(
            "slope {}, inter {}",
            slope.map_or_else(|| "none".to_owned(), format_float),
            inter.map_or_else(|| "none".to_owned(), format_float)
        ),
    }
}

/// Four rows of a 4×4 affine, columns aligned, four decimals.
fn affine_text(affine: &neurovox::format::Affine) -> String {
    let rows: Vec<String> = affine
        .iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .map(|&v| format!("{:>10.4}", tidy_zero(v)))
                .collect();
            format!("[{} ]", cells.join(""))
        })
        .collect();
    rows.join("\n")
}

/// Values that would print as `-0.0000` print as `0.0000`.
fn tidy_zero(value: f64) -> f64 {
    if value.abs() < 0.5e-4 { 0.0 } else { value }
}

/// The NIfTI-only lines: transform codes, units, intent and extensions.
fn nifti_lines(h: &NiftiHeader) -> Vec<(&'static str, String)> {
    let (space_unit, time_unit) = h.xyzt_units();
    let intent = h.intent();
    let mut intent_text = intent.label;
    if !intent.params.is_empty() {
        let params: Vec<String> = intent.params.iter().map(|&p| format_g(p, 6)).collect();
        intent_text.push_str(&format!(" ({})", params.join(", ")));
    }
    if !intent.name.is_empty() {
        intent_text.push_str(&format!(" {:?}", intent.name));
    }
    vec![
        ("qform", xform_code_text(h.qform_code())),
        ("sform", xform_code_text(h.sform_code())),
        ("units", format!("{space_unit}, {time_unit}")),
        ("intent", intent_text),
        ("extensions", extensions_text(h.extensions())),
    ]
}

/// `code 1 (scanner)`.
fn xform_code_text(code: i64) -> String {
    match xform_label(code) {
        Some(label) => format!("code {code} ({label})"),
        None => format!("code {code} (not a valid code)"),
    }
}

/// `none`, or the count and then one line per extension.
fn extensions_text(extensions: &[Extension]) -> String {
    if extensions.is_empty() {
        return "none".to_owned();
    }
    let mut lines = vec![extensions.len().to_string()];
    lines.extend(extensions.iter().map(extension_text));
    lines.join("\n")
}

/// `code 6 (comment), 32 bytes: "text…"` (the text only when the content is printable).
fn extension_text(ext: &Extension) -> String {
    let mut text = format!(
        "code {} ({}), {} bytes",
        ext.code,
        extension_code_label_of(ext.code),
        ext.size_on_disk()
    );
    if let Ok(content) = std::str::from_utf8(ext.content())
        && !content.is_empty()
        && !content.chars().any(char::is_control)
    {
        let preview: String = content.chars().take(EXTENSION_PREVIEW_CHARS).collect();
        let ellipsis = if preview.len() < content.len() {
            "…"
        } else {
            ""
        };
        text.push_str(&format!(": {preview:?}{ellipsis}"));
    }
    text
}

/// The MGH-only lines: the FreeSurfer type name and the footer after the data
/// (`header` is `h` itself, for reading the footer fields by name).
fn mgh_lines(header: &Header, h: &MghHeader) -> Vec<(&'static str, String)> {
    let footer_at = h.footer_offset().map_or_else(
        |err| format!("unknown offset ({err})"),
        |o| format!("byte {o}"),
    );
    let footer_values: Vec<String> = ["tr", "flip_angle", "te", "ti", "fov"]
        .iter()
        .map(|name| {
            let value = header.get(name).map_or_else(
                |err| format!("error: {err}"),
                |v| field_value_text(MGH_LAYOUT.field(name), &v),
            );
            format!("{name} {value}")
        })
        .collect();
    let footer_bytes: Vec<String> = h
        .footer_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    vec![
        (
            "MRI type",
            h.mri_type_name().unwrap_or("unknown").to_owned(),
        ),
        (
            "footer",
            format!(
                "{} bytes at {footer_at}: {}\n{}",
                h.footer_bytes().len(),
                footer_values.join(", "),
                footer_bytes.join(" ")
            ),
        ),
    ]
}

/// `no problems`, or one line per problem with its level and field.
fn problems_text(header: &Header) -> String {
    let problems = header.diagnose();
    if problems.is_empty() {
        return "no problems".to_owned();
    }
    problems
        .iter()
        .map(|p| format!("level {} in `{}`: {p}", p.level, p.field))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `label : value` lines with the labels padded to `width`; a value spanning several lines
/// continues under its first line.
fn labelled_lines<L: AsRef<str>>(lines: &[(L, String)], width: usize) -> String {
    let indent = " ".repeat(width + 2);
    let mut out = String::new();
    for (label, value) in lines {
        let mut value_lines = value.lines();
        let first = value_lines.next().unwrap_or("");
        out.push_str(&format!("{:<width$}: {first}\n", label.as_ref()));
        for more in value_lines {
            out.push_str(&format!("{indent}{more}\n"));
        }
    }
    out
}

/// nibabel's label for an extension code, or `unknown code`.
fn extension_code_label_of(code: i32) -> &'static str {
    neurovox::format::nifti1::extension_label(code).unwrap_or("unknown code")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_fields_show_everything_before_trailing_nuls() {
        assert_eq!(quoted_bytes(b"FSL3.3\0 v2\0\0"), r#""FSL3.3\x00 v2""#);
        assert_eq!(quoted_bytes(b"a\"b\\\xff"), r#""a\"b\\\xff""#);
        assert_eq!(quoted_bytes(b"\0\0"), r#""""#);
    }

    #[test]
    fn float32_fields_print_their_own_shortest_digits() {
        let pixdim = neurovox::format::nifti1::NIFTI1_LAYOUT.field("pixdim");
        let value = FieldValue::Floats(vec![-1.0, f64::from(2.2f32)]);
        assert_eq!(field_value_text(pixdim, &value), "[-1.0, 2.2]");
        let mdc = MGH_LAYOUT.field("Mdc");
        let value = FieldValue::Floats((1..=9).map(f64::from).collect());
        assert_eq!(
            field_value_text(mdc, &value),
            "[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]"
        );
    }
}
