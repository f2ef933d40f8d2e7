//! `neurovox diff A B [--atol X] [--rtol Y] [--header-only]`: what differs between two images
//! — header fields by name, extensions, affine, shape, and the values the images show
//! (scaled, as `get_fdata` gives them) — streaming the data a piece at a time so memory
//! stays flat. Handy to see what `Image::is_dirty` means when it says a file changed.
//!
//! Values are equal when `|a − b| ≤ atol + rtol·|b|` (numpy's `isclose`), NaN equal to NaN;
//! complex and RGB values must be identical. Header fields are compared exactly (NaN equal to
//! NaN), the affine with the same tolerance. Exit status 0: no difference, 1: differences,
//! 2: a file could not be read.

use crate::stats::pieces;
use ndarray::Dimension as _;
use neurovox::array::DynArray;
use neurovox::format::affine::Affine;
use neurovox::image::{DataObj, Image, LoadOptions};
use neurovox::proxy::MmapMode;
use neurovox::scale::FactorType;
use neurovox::{DataType, FieldValue, Header, Result};
use std::fmt::Write as _;
use std::path::Path;

/// Values compared per piece (both images): about 16 MiB of float64 each.
const CHUNK_BYTES: usize = 16 << 20;

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
}

/// Runs `neurovox diff`; the exit status (0 same, 1 different, 2 unreadable).
pub fn run(a: &Path, b: &Path, tolerance: Tolerance, header_only: bool) -> u8 {
    match diff(a, b, tolerance, header_only) {
        Ok(report) if report.is_empty() => {
            println!(
                "{} and {} do not differ",
                crate::shown::path(a),
                crate::shown::path(b)
            );
            0
        }
        Ok(report) => {
            print!("{report}");
            1
        }
        Err(e) => {
            eprintln!("{}", crate::shown::text(&e.to_string()));
            2
        }
    }
}

/// The differences between the images at `a` and `b`, as lines of text (empty: none).
pub fn diff(a: &Path, b: &Path, tolerance: Tolerance, header_only: bool) -> Result<String> {
    let options = LoadOptions {
        mmap: MmapMode::No,
        keep_file_open: Some(true),
    };
    let img_a = Image::load_with(a, options)?;
    let img_b = Image::load_with(b, options)?;
    let mut out = String::new();
    if img_a.format() != img_b.format() {
        let _ = writeln!(out, "format: {} | {}", img_a.format(), img_b.format());
    }
    out.push_str(&header_differences(img_a.header(), img_b.header()));
    if let (Some(x), Some(y)) = (img_a.affine(), img_b.affine()) {
        out.push_str(&affine_difference(x, y, tolerance));
    }
    if img_a.shape() != img_b.shape() {
        let _ = writeln!(
            out,
            "shape: {:?} | {:?} (values not compared)",
            img_a.shape(),
            img_b.shape()
        );
    } else if !header_only {
        out.push_str(&data_difference(&img_a, &img_b, tolerance)?);
    }
    Ok(out)
}

/// Exact equality of field values, NaN equal to NaN.
fn same_value(a: &FieldValue, b: &FieldValue) -> bool {
    let same_float = |x: f64, y: f64| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan());
    match (a, b) {
        (FieldValue::Float(x), FieldValue::Float(y)) => same_float(*x, *y),
        (FieldValue::Floats(x), FieldValue::Floats(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_float(*p, *q))
        }
        _ => a == b,
    }
}

/// One line per header field that differs (by name, so different formats compare on the
/// fields they share), then the fields only one header has, then the extensions.
fn header_differences(a: &Header, b: &Header) -> String {
    let mut out = String::new();
    let fields_b = b.fields();
    let fields_a = a.fields();
    let find = |fields: &[(&'static str, FieldValue)], name: &str| {
        fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    for (name, value_a) in &fields_a {
        match find(&fields_b, name) {
            Some(value_b) if !same_value(value_a, &value_b) => {
                let _ = writeln!(
                    out,
                    "header {name}: {} | {}",
                    value_a.display_string(),
                    value_b.display_string()
                );
            }
            Some(_) => {}
            None => {
                let _ = writeln!(out, "header {name}: only in the first image");
            }
        }
    }
    for (name, _) in &fields_b {
        if find(&fields_a, name).is_none() {
            let _ = writeln!(out, "header {name}: only in the second image");
        }
    }
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
        let _ = writeln!(
            out,
            "extensions: {} with codes {:?} | {} with codes {:?} (contents differ)",
            ext_a.len(),
            codes(&ext_a),
            ext_b.len(),
            codes(&ext_b)
        );
    }
    out
}

fn affine_difference(a: &Affine, b: &Affine, tolerance: Tolerance) -> String {
    let mut worst: f64 = 0.0;
    let mut differs = false;
    for (x, y) in a.iter().flatten().zip(b.iter().flatten()) {
        if !tolerance.close(*x, *y) {
            differs = true;
            worst = worst.max((x - y).abs());
        }
    }
    if differs {
        format!("affine: differs, largest |difference| {worst}\n")
    } else {
        String::new()
    }
}

/// Running totals of a value comparison.
#[derive(Debug, Default)]
struct ValueDiff {
    compared: u64,
    differing: u64,
    largest: f64,
    first: Option<Vec<usize>>,
}

fn data_difference(a: &Image, b: &Image, tolerance: Tolerance) -> Result<String> {
    let shape = a.shape().to_vec();
    let mut totals = ValueDiff::default();
    for piece in pieces(&shape, CHUNK_BYTES) {
        let (values_a, values_b) = (scaled(a, &piece)?, scaled(b, &piece)?);
        let canonical = piece.canonicalize(&shape)?;
        compare_piece(&values_a, &values_b, tolerance, &mut totals, &|local| {
            global_index(&canonical, local)
        })
        .map_err(|e| e.with_path(b.file_map().image.clone().unwrap_or_default()))?;
    }
    if totals.differing == 0 {
        return Ok(String::new());
    }
    let mut line = format!(
        "data: {} of {} values differ",
        totals.differing, totals.compared
    );
    if totals.largest.is_finite() && totals.largest > 0.0 {
        let _ = write!(line, ", largest |difference| {}", totals.largest);
    }
    if let Some(first) = &totals.first {
        let _ = write!(line, ", first at {first:?}");
    }
    line.push('\n');
    Ok(line)
}

/// The values an image shows for a piece: scaled in float64 like `get_fdata`.
fn scaled(img: &Image, piece: &neurovox::select::Selection) -> Result<DynArray> {
    match img.dataobj() {
        DataObj::Proxy(p) => p.read_for_float(piece, FactorType::F64),
        DataObj::Array(_) => img.dataobj().read(piece),
    }
}

/// The index in the whole image of the value at `local` in a piece (pieces index trailing
/// axes and slice the others).
fn global_index(canonical: &[neurovox::select::Canonical], local: &[usize]) -> Vec<usize> {
    use neurovox::select::Canonical;
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
    // `gap` is NaN where no distance is defined (NaN against a number, colours).
    let note = |index: Vec<usize>, gap: f64, totals: &mut ValueDiff| {
        totals.differing += 1;
        if gap > totals.largest {
            totals.largest = gap;
        }
        if totals.first.is_none() {
            totals.first = Some(to_global(&index));
        }
    };
    totals.compared += a.len() as u64;
    if real(a) && real(b) {
        let (x, y) = (a.to_f64()?, b.to_f64()?);
        for ((index, p), q) in x.indexed_iter().zip(y.iter()) {
            if !tolerance.close(*p, *q) {
                note(index.slice().to_vec(), (p - q).abs(), totals);
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
        let y = b.as_typed().ok_or_else(|| neurovox::Error::usage("types differ"))?;
        for ((index, p), q) in x.indexed_iter().zip(y.iter()) {
            if p != q {
                note(index.slice().to_vec(), f64::NAN, totals);
            }
        }
    });
    Ok(())
}
