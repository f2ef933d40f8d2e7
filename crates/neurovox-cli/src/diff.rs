//! `neurovox diff A B [--atol X] [--rtol Y] [--affine-atol Z] [--header-only | --values]
//! [--all-fields]`: what differs between two images, most important first — the values the
//! images show (scaled, as `get_fdata` gives them), shape, data type and scaling, affine,
//! then header fields by name and extensions, and last the format with a count of the
//! header fields only one format has (their names with `--all-fields`). The data streams a
//! piece at a time so memory stays flat, with a progress bar on stderr when it is a
//! terminal. Handy to see what `Image::is_dirty` means when it says a file changed.
//!
//! The first line always says what became of the values: `values: equal`,
//! `values: equal within --atol X (max abs difference Y at voxel (i, j, k))`,
//! `values differ: N of M voxels, max abs difference Y at voxel (i, j, k)`, or why they were
//! not compared. `--values` compares only the shape, the affine and the values, so an image
//! saved as another type or format (`neurovox convert`) passes when what it shows is the
//! same within the tolerance.
//!
//! Values are equal when `|a − b| ≤ atol + rtol·|b|` (numpy's `isclose`), NaN equal to NaN;
//! complex and RGB values must be identical. Header fields are compared exactly (NaN equal to
//! NaN), the affine with `--affine-atol` (default: `--atol`) and `--rtol`. Exit status 0: no
//! difference, 1: differences, 2: a file could not be read (or, from the argument parser,
//! the arguments are wrong).

use crate::stats::{piece_count, pieces, progress_bar};
use crate::table::format_g;
use ndarray::Dimension as _;
use neurovox::array::DynArray;
use neurovox::array::FactorType;
use neurovox::format::affine::Affine;
use neurovox::image::MmapMode;
use neurovox::image::{DataObj, Image, LoadOptions};
use neurovox::{DataType, FieldValue, Header, Result};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Values compared per piece (both images): about 16 MiB of float64 each.
const CHUNK_BYTES: usize = 16 << 20;

/// Where the list of header field names only one image has is wrapped.
const WRAP_COLUMNS: usize = 88;

/// The tolerance for values and affines.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tolerance {
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (of the second image's value).
    pub rtol: f64,
}

impl Tolerance {
    fn close(self, a: f64, b: f64) -> bool {
        if a.is_nan() || b.is_nan() {
            return a.is_nan() && b.is_nan();
        }
        if a == b {
            return true; // equal infinities too
        }
        (a - b).abs() <= self.atol + self.rtol * b.abs()
    }

    /// ` --atol X --rtol Y` as given (the options that are not zero), to say what "equal
    /// within" means.
    fn as_options(self, atol_option: &str) -> String {
        let mut shown = String::new();
        if self.atol != 0.0 {
            shown.push_str(&format!(" {atol_option} {}", format_g(self.atol, 6)));
        }
        if self.rtol != 0.0 {
            shown.push_str(&format!(" --rtol {}", format_g(self.rtol, 6)));
        }
        shown
    }
}

/// Which parts of the images are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything: values, shape, data type, scaling, affine, header fields, extensions.
    Everything,
    /// All but the values (`--header-only`).
    HeaderOnly,
    /// Only what the image shows: shape, affine and values (`--values`).
    ValuesOnly,
}

/// How `neurovox diff` compares.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// For the values.
    pub values: Tolerance,
    /// For the affine entries.
    pub affine: Tolerance,
    /// What is compared.
    pub scope: Scope,
    /// Name every header field only one of the images has, rather than count them.
    pub all_fields: bool,
}

/// What a comparison found: lines to print, in order, and whether any is a difference.
#[derive(Debug, Default)]
pub struct Report {
    lines: Vec<String>,
    differences: usize,
}

impl Report {
    fn difference(&mut self, line: String) {
        self.lines.push(line);
        self.differences += 1;
    }

    fn note(&mut self, line: String) {
        self.lines.push(line);
    }

    /// True if nothing compared differs.
    pub fn is_same(&self) -> bool {
        self.differences == 0
    }

    /// The report's lines, each ending in `\n`.
    pub fn text(&self) -> String {
        self.lines.iter().map(|line| format!("{line}\n")).collect()
    }
}

/// Arguments of `neurovox diff`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 if nothing compared differs, 1 if something does, \
                        2 if a file cannot be read or the arguments are wrong."
)]
pub struct Args {
    /// The first image.
    #[arg(value_name = "A")]
    first: PathBuf,
    /// The second image.
    #[arg(value_name = "B")]
    second: PathBuf,
    /// Values within this absolute difference are equal (and affine entries, unless
    /// --affine-atol is given).
    #[arg(long, value_name = "X", default_value_t = 0.0)]
    atol: f64,
    /// Values within this fraction of the second image's value are equal (added to --atol).
    #[arg(long, value_name = "Y", default_value_t = 0.0)]
    rtol: f64,
    /// Affine entries within this absolute difference (mm) are equal [default: --atol].
    #[arg(long, value_name = "Z")]
    affine_atol: Option<f64>,
    /// Compare headers, affines and shapes only, not the values.
    #[arg(long, conflicts_with = "values")]
    header_only: bool,
    /// Compare only what the images show: shape, affine and scaled values (not the data
    /// type, scaling, format or other header fields).
    #[arg(long)]
    values: bool,
    /// Name the header fields only one image has (by default they are counted).
    #[arg(long, conflicts_with = "values")]
    all_fields: bool,
}

impl Args {
    /// How the arguments ask to compare.
    fn options(&self) -> Options {
        let scope = match (self.header_only, self.values) {
            (true, _) => Scope::HeaderOnly,
            (false, true) => Scope::ValuesOnly,
            (false, false) => Scope::Everything,
        };
        Options {
            values: Tolerance {
                atol: self.atol,
                rtol: self.rtol,
            },
            affine: Tolerance {
                atol: self.affine_atol.unwrap_or(self.atol),
                rtol: self.rtol,
            },
            scope,
            all_fields: self.all_fields,
        }
    }
}

/// Runs `neurovox diff`; the exit status (0 same, 1 different, 2 unreadable).
pub fn run(args: &Args) -> u8 {
    compare(&args.first, &args.second, &args.options())
}

/// Compares the images at `a` and `b` and prints the report; the exit status (0 same,
/// 1 different, 2 unreadable).
fn compare(a: &Path, b: &Path, options: &Options) -> u8 {
    let show_progress = std::io::stderr().is_terminal();
    match diff(a, b, options, show_progress) {
        Ok(mut report) => {
            let same = report.is_same();
            if same {
                let (shown_a, shown_b) = (crate::shown::path(a), crate::shown::path(b));
                report.note(match options.scope {
                    Scope::Everything => format!("{shown_a} and {shown_b} do not differ"),
                    Scope::HeaderOnly => {
                        format!("{shown_a} and {shown_b} do not differ (values not compared)")
                    }
                    Scope::ValuesOnly => {
                        format!("{shown_a} and {shown_b} do not differ in shape, affine or values")
                    }
                });
            }
            match (crate::info::write_stdout(&report.text()), same) {
                (true, true) => 0,
                (true, false) => 1,
                (false, _) => 2,
            }
        }
        Err(e) => {
            eprintln!("{}", crate::shown::text(&e.to_string()));
            2
        }
    }
}

/// Compares the images at `a` and `b`, with a progress bar over the values on stderr if
/// `show_progress`.
pub fn diff(a: &Path, b: &Path, options: &Options, show_progress: bool) -> Result<Report> {
    let load = LoadOptions {
        mmap: MmapMode::No,
        keep_file_open: Some(true),
        ..Default::default()
    };
    let img_a = Image::load_with(a, load)?;
    let img_b = Image::load_with(b, load)?;
    let mut report = Report::default();
    if img_a.shape() != img_b.shape() {
        report.difference(format!(
            "shape: {:?} | {:?} (values not compared)",
            img_a.shape(),
            img_b.shape()
        ));
    } else if options.scope == Scope::HeaderOnly {
        report.note("values: not compared (--header-only)".to_owned());
    } else {
        let progress_name = format!("{} | {}", crate::shown::path(a), crate::shown::path(b));
        let values = compare_values(
            &img_a,
            &img_b,
            options.values,
            &progress_name,
            show_progress,
        )?;
        values_line(&values, options.values, &mut report);
    }
    if options.scope != Scope::ValuesOnly {
        storage_differences(img_a.header(), img_b.header(), &mut report);
    }
    affine_difference(img_a.affine(), img_b.affine(), options.affine, &mut report);
    if options.scope != Scope::ValuesOnly {
        header_differences(
            img_a.header(),
            img_b.header(),
            options.all_fields,
            &mut report,
        );
    }
    Ok(report)
}

/// `values: equal`, `values: equal within ...` or `values differ: ...`.
fn values_line(values: &ValueDiff, tolerance: Tolerance, report: &mut Report) {
    let largest = values.largest.as_ref().filter(|(gap, _)| *gap > 0.0);
    let largest_text = |(gap, at): &(f64, Vec<usize>)| {
        format!(
            "max abs difference {} at voxel {}",
            format_g(*gap, 6),
            voxel(at)
        )
    };
    if values.differing == 0 {
        match largest {
            None => report.note("values: equal".to_owned()),
            Some(largest) => report.note(format!(
                "values: equal within{} ({})",
                tolerance.as_options("--atol"),
                largest_text(largest)
            )),
        }
        return;
    }
    let mut line = format!(
        "values differ: {} of {} voxels",
        values.differing, values.compared
    );
    // When every difference is a NaN against a number, the largest numeric gap lies among
    // the voxels that are equal within the tolerance: point at a voxel that differs instead.
    let numeric_differences = values.differing > values.nan_in_one;
    match largest.filter(|_| numeric_differences) {
        Some(largest) => line.push_str(&format!(", {}", largest_text(largest))),
        None => {
            if let Some(first) = &values.first {
                line.push_str(&format!(", first at voxel {}", voxel(first)));
            }
        }
    }
    if values.nan_in_one > 0 {
        line.push_str(&format!(" ({} NaN in one image only)", values.nan_in_one));
    }
    report.difference(line);
}

/// A voxel index as Python writes a tuple: `(4, 3, 2, 1)`.
fn voxel(index: &[usize]) -> String {
    let parts: Vec<String> = index.iter().map(ToString::to_string).collect();
    match parts.len() {
        1 => format!("({},)", parts[0]),
        _ => format!("({})", parts.join(", ")),
    }
}

/// Two numbers with the fewest significant digits (at least six) that tell them apart, so
/// `-90 | -90.000001` rather than twenty digits of binary noise or two equal-looking values.
fn number_pair(a: f64, b: f64) -> (String, String) {
    for digits in 6..=17 {
        let (x, y) = (format_g(a, digits), format_g(b, digits));
        if x != y || digits == 17 {
            return (x, y);
        }
    }
    (format_g(a, 17), format_g(b, 17))
}

/// The data type and scaling as the values see them (`dtype: int16 | float32`), whatever
/// header fields hold them in each format.
fn storage_differences(a: &Header, b: &Header, report: &mut Report) {
    let dtype = |h: &Header| {
        h.data_dtype()
            .map(|d| d.dtype.name().to_owned())
            .unwrap_or_else(|e| format!("unreadable ({e})"))
    };
    let (dtype_a, dtype_b) = (dtype(a), dtype(b));
    if dtype_a != dtype_b {
        report.difference(format!("dtype: {dtype_a} | {dtype_b}"));
    }
    // Unscaled is slope 1, intercept 0 however a format spells it (NaN, 0, no field).
    let scaling = |h: &Header| {
        h.slope_inter()
            .map(|(slope, inter)| (slope.unwrap_or(1.0), inter.unwrap_or(0.0)))
    };
    match (scaling(a), scaling(b)) {
        (Ok(x), Ok(y)) if same_float(x.0, y.0) && same_float(x.1, y.1) => {}
        (Ok(x), Ok(y)) => {
            let (slope_a, slope_b) = number_pair(x.0, y.0);
            let (inter_a, inter_b) = number_pair(x.1, y.1);
            let shown = |pair: (f64, f64), slope: String, inter: String| {
                if pair == (1.0, 0.0) {
                    "none".to_owned()
                } else {
                    format!("slope {slope}, inter {inter}")
                }
            };
            report.difference(format!(
                "scaling: {} | {}",
                shown(x, slope_a, inter_a),
                shown(y, slope_b, inter_b)
            ));
        }
        (x, y) => {
            let shown = |s: Result<(f64, f64)>| match s {
                Ok((slope, inter)) => {
                    format!("slope {}, inter {}", format_g(slope, 6), format_g(inter, 6))
                }
                Err(e) => format!("unreadable ({e})"),
            };
            report.difference(format!("scaling: {} | {}", shown(x), shown(y)));
        }
    }
}

/// Bit-for-bit equality, NaN equal to NaN.
fn same_float(x: f64, y: f64) -> bool {
    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
}

/// Exact equality of field values, NaN equal to NaN.
fn same_value(a: &FieldValue, b: &FieldValue) -> bool {
    match (a, b) {
        (FieldValue::Float(x), FieldValue::Float(y)) => same_float(*x, *y),
        (FieldValue::Floats(x), FieldValue::Floats(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_float(*p, *q))
        }
        _ => a == b,
    }
}

/// One line per header field both headers have that differs (by name, so different formats
/// compare on the fields they share), the extensions, then the formats with a count of the
/// fields only one header has — a NIfTI and an MGH header share almost none, and ~60 lines
/// of "only in one" would bury the differences that matter.
fn header_differences(a: &Header, b: &Header, all_fields: bool, report: &mut Report) {
    let fields_a = a.fields();
    let fields_b = b.fields();
    let find = |fields: &[(&'static str, FieldValue)], name: &str| {
        fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    let mut only_in_a = Vec::new();
    for (name, value_a) in &fields_a {
        match find(&fields_b, name) {
            Some(value_b) if !same_value(value_a, &value_b) => {
                report.difference(format!(
                    "header {name}: {} | {}",
                    value_a.display_string(),
                    value_b.display_string()
                ));
            }
            Some(_) => {}
            None => only_in_a.push(*name),
        }
    }
    let only_in_b: Vec<&str> = fields_b
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| find(&fields_a, name).is_none())
        .collect();
    let extensions = |h: &Header| match h {
        Header::Nifti(n) => n
            .extensions()
            .iter()
            .map(|e| (e.code, e.content().to_vec()))
            .collect(),
        _ => Vec::new(),
    };
    let (ext_a, ext_b) = (extensions(a), extensions(b));
    if ext_a != ext_b {
        let codes = |e: &[(i32, Vec<u8>)]| e.iter().map(|(c, _)| *c).collect::<Vec<_>>();
        report.difference(format!(
            "extensions: {} with codes {:?} | {} with codes {:?} (contents differ)",
            ext_a.len(),
            codes(&ext_a),
            ext_b.len(),
            codes(&ext_b)
        ));
    }
    let (format_a, format_b) = (a.format(), b.format());
    if format_a == format_b && only_in_a.is_empty() && only_in_b.is_empty() {
        return;
    }
    let mut line = if format_a == format_b {
        "header fields:".to_owned()
    } else {
        format!("format: {format_a} | {format_b}")
    };
    if !only_in_a.is_empty() || !only_in_b.is_empty() {
        if format_a != format_b {
            line.push(';');
        }
        line.push_str(&format!(
            " {} header fields only in the first, {} only in the second",
            only_in_a.len(),
            only_in_b.len()
        ));
        if !all_fields {
            line.push_str(" (--all-fields names them)");
        }
    }
    report.difference(line);
    if all_fields {
        for (label, names) in [
            ("only in the first:", &only_in_a),
            ("only in the second:", &only_in_b),
        ] {
            if !names.is_empty() {
                report.note(wrapped(label, names));
            }
        }
    }
}

/// `  label a, b, c` wrapped at [`WRAP_COLUMNS`], continuation lines indented.
fn wrapped(label: &str, names: &[&str]) -> String {
    let indent = "    ";
    let mut text = format!("  {label}");
    let mut column = text.len();
    for (i, name) in names.iter().enumerate() {
        let piece = if i + 1 < names.len() {
            format!("{name},")
        } else {
            (*name).to_owned()
        };
        if column + 1 + piece.len() > WRAP_COLUMNS {
            text.push('\n');
            text.push_str(indent);
            text.push_str(&piece);
            column = indent.len() + piece.len();
        } else {
            text.push(' ');
            text.push_str(&piece);
            column += 1 + piece.len();
        }
    }
    text
}

/// `affine: 3 of 16 entries differ, max abs difference D at row i, column j (x | y)`.
fn affine_difference(
    a: Option<&Affine>,
    b: Option<&Affine>,
    tolerance: Tolerance,
    report: &mut Report,
) {
    let (a, b) = match (a, b) {
        (Some(a), Some(b)) => (a, b),
        (None, None) => return,
        (Some(_), None) => {
            report.difference("affine: only the first image has one".to_owned());
            return;
        }
        (None, Some(_)) => {
            report.difference("affine: only the second image has one".to_owned());
            return;
        }
    };
    let mut differing = 0;
    // The largest difference of an entry out of tolerance: (gap, row, column).
    let mut worst: Option<(f64, usize, usize)> = None;
    for (row, (row_a, row_b)) in a.iter().zip(b).enumerate() {
        for (column, (x, y)) in row_a.iter().zip(row_b).enumerate() {
            if !tolerance.close(*x, *y) {
                differing += 1;
                let gap = (x - y).abs();
                if worst.is_none_or(|(largest, _, _)| gap > largest) {
                    worst = Some((gap, row, column));
                }
            }
        }
    }
    if let Some((gap, row, column)) = worst {
        let (x, y) = number_pair(a[row][column], b[row][column]);
        report.difference(format!(
            "affine: {differing} of 16 entries differ, max abs difference {} at row {row}, \
             column {column} ({x} | {y})",
            format_g(gap, 6)
        ));
    }
}

/// Running totals of a value comparison.
#[derive(Debug, Default)]
struct ValueDiff {
    compared: u64,
    differing: u64,
    /// Voxels that are NaN in one image and not in the other.
    nan_in_one: u64,
    /// The largest difference between two numbers (within tolerance or not) and where.
    largest: Option<(f64, Vec<usize>)>,
    /// The first voxel that differs.
    first: Option<Vec<usize>>,
}

fn compare_values(
    a: &Image,
    b: &Image,
    tolerance: Tolerance,
    progress_name: &str,
    show_progress: bool,
) -> Result<ValueDiff> {
    let shape = a.shape().to_vec();
    let progress = progress_bar(
        progress_name,
        piece_count(&shape, CHUNK_BYTES),
        show_progress,
    );
    let mut totals = ValueDiff::default();
    for piece in pieces(&shape, CHUNK_BYTES) {
        let (values_a, values_b) = (scaled(a, &piece)?, scaled(b, &piece)?);
        let canonical = piece.canonicalize(&shape)?;
        compare_piece(&values_a, &values_b, tolerance, &mut totals, &|local| {
            global_index(&canonical, local)
        })
        .map_err(|e| e.with_path(b.file_map().image.clone().unwrap_or_default()))?;
        progress.inc(1);
    }
    Ok(totals)
}

/// The values an image shows for a piece: scaled in float64 like `get_fdata`.
fn scaled(img: &Image, piece: &neurovox::array::Selection) -> Result<DynArray> {
    match img.dataobj() {
        DataObj::Proxy(p) => p.read_with(
            piece,
            neurovox::image::ReadOptions {
                factors: Some(FactorType::F64),
            },
        ),
        DataObj::Array(_) => img.dataobj().read(piece),
    }
}

/// The index in the whole image of the value at `local` in a piece (pieces index trailing
/// axes and slice the others).
fn global_index(canonical: &[neurovox::array::Canonical], local: &[usize]) -> Vec<usize> {
    use neurovox::array::Canonical;
    let mut local = local.iter();
    canonical
        .iter()
        .filter_map(|c| match *c {
            Canonical::Index(i) => Some(i),
            Canonical::Slice { start, step, .. } => local
                .next()
                .map(|&j| (start as isize + j as isize * step) as usize),
            Canonical::NewAxis => {
                local.next();
                None
            }
        })
        .collect()
}

fn compare_piece(
    a: &DynArray,
    b: &DynArray,
    tolerance: Tolerance,
    totals: &mut ValueDiff,
    to_global: &dyn Fn(&[usize]) -> Vec<usize>,
) -> Result<()> {
    let real = |d: &DynArray| {
        !d.dtype().is_complex() && !matches!(d.dtype(), DataType::Rgb24 | DataType::Rgba32)
    };
    totals.compared += a.len() as u64;
    if real(a) && real(b) {
        let (x, y) = (a.to_f64()?, b.to_f64()?);
        for ((index, p), q) in x.indexed_iter().zip(y.iter()) {
            // NaN where no distance is defined (NaN against a number); NaN against NaN is 0.
            let gap = if p.is_nan() && q.is_nan() || p == q {
                0.0
            } else {
                (p - q).abs()
            };
            if gap > 0.0
                && totals
                    .largest
                    .as_ref()
                    .is_none_or(|(largest, _)| gap > *largest)
            {
                totals.largest = Some((gap, to_global(index.slice())));
            }
            if !tolerance.close(*p, *q) {
                totals.differing += 1;
                if gap.is_nan() {
                    totals.nan_in_one += 1;
                }
                if totals.first.is_none() {
                    totals.first = Some(to_global(index.slice()));
                }
            }
        }
        return Ok(());
    }
    if a.dtype() != b.dtype() {
        return Err(neurovox::Error::usage(format!(
            "values of types {} and {} cannot be compared",
            a.dtype(),
            b.dtype()
        )));
    }
    neurovox::dyn_array_apply!(a, x => {
        let y = same_type_as(x, b).ok_or_else(|| neurovox::Error::usage("types differ"))?;
        for ((index, p), q) in x.indexed_iter().zip(y.iter()) {
            if p != q {
                totals.differing += 1;
                if totals.first.is_none() {
                    totals.first = Some(to_global(index.slice()));
                }
            }
        }
    });
    Ok(())
}

/// `b` as an array of `like`'s element type, if it holds that type.
fn same_type_as<'a, T: neurovox::array::DynElement>(
    _like: &ndarray::ArcArray<T, ndarray::IxDyn>,
    b: &'a neurovox::array::DynArray,
) -> Option<&'a ndarray::ArcArray<T, ndarray::IxDyn>> {
    b.as_typed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_show_the_digits_that_tell_them_apart() {
        assert_eq!(
            number_pair(-90.0, -90.000001),
            ("-90".into(), "-90.000001".into())
        );
        assert_eq!(number_pair(2.0, 2.5), ("2".into(), "2.5".into()));
        let f32_rounded = f64::from(1.2f32);
        assert_eq!(
            number_pair(1.2, f32_rounded),
            ("1.2".into(), "1.20000005".into())
        );
        assert_eq!(format_g(2f64.powi(-20), 6), "9.53674e-07");
    }

    #[test]
    fn voxels_print_as_python_tuples() {
        assert_eq!(voxel(&[4, 3, 2, 1]), "(4, 3, 2, 1)");
        assert_eq!(voxel(&[7]), "(7,)");
    }

    #[test]
    fn long_name_lists_wrap_with_an_indent() {
        let names: Vec<&str> = std::iter::repeat_n("intent_p1", 20).collect();
        let text = wrapped("only in the first:", &names);
        assert!(text.lines().count() > 1, "{text}");
        assert!(text.lines().all(|l| l.len() <= WRAP_COLUMNS), "{text}");
        assert!(
            text.lines().skip(1).all(|l| l.starts_with("    ")),
            "{text}"
        );
        assert!(text.ends_with("intent_p1"), "{text}");
    }
}
