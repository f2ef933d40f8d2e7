//! End-to-end tests of `neurovox diff`: what it reports and in which order, its tolerance,
//! its values-only mode, its exit codes; and the line `neurovox convert` prints.
#![allow(clippy::unwrap_used)]

use ndarray::{Array, ArrayD};
use neurovox::image::Caching;
use neurovox::{FieldValue, Image, ImageFormat};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn neurovox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neurovox"))
        .args(args)
        .output()
        .expect("the neurovox binary runs")
}

fn diff(a: &Path, b: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["diff", a.to_str().unwrap(), b.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = neurovox(&args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn values() -> ArrayD<f32> {
    Array::from_shape_fn((6, 5, 4, 3), |(i, j, k, t)| {
        (i * 60 + j * 12 + k * 3 + t) as f32 * 0.5
    })
    .into_dyn()
}

fn save(dir: &Path, name: &str, data: ArrayD<f32>, format: ImageFormat) -> PathBuf {
    let mut img = Image::from_array(data, None, format).unwrap();
    let path = dir.join(name);
    img.to_filename(&path, Default::default()).unwrap();
    path
}

fn save_with_affine(dir: &Path, name: &str, affine: [[f64; 4]; 4]) -> PathBuf {
    let mut img = Image::from_array(values(), Some(affine), ImageFormat::Nifti1).unwrap();
    let path = dir.join(name);
    img.to_filename(&path, Default::default()).unwrap();
    path
}

#[test]
fn an_image_does_not_differ_from_itself_or_its_compressed_copy() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(dir.path(), "a.nii", values(), ImageFormat::Nifti1);
    let gz = save(dir.path(), "a.nii.gz", values(), ImageFormat::Nifti1);
    for b in [&a, &gz] {
        let (code, out, err) = diff(&a, b, &[]);
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(out.contains("do not differ"), "{out}");
    }
}

#[test]
fn header_fields_are_named_with_both_values() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(dir.path(), "a.nii", values(), ImageFormat::Nifti1);
    let mut img = neurovox::load(&a).unwrap();
    let _ = img.get_fdata(Caching::Fill).unwrap();
    img.header_mut()
        .set("descrip", FieldValue::Bytes(b"edited".to_vec()))
        .unwrap();
    let b = dir.path().join("b.nii");
    img.to_filename(&b, Default::default()).unwrap();
    let (code, out, _) = diff(&a, &b, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        out.trim(),
        "values: equal\nheader descrip: \"\" | \"edited\"",
        "{out}"
    );
}

#[test]
fn one_changed_voxel_is_counted_and_located() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(dir.path(), "a.nii", values(), ImageFormat::Nifti1);
    let mut changed = values();
    changed[[4, 3, 2, 1]] += 2.0;
    let b = save(dir.path(), "b.nii.gz", changed, ImageFormat::Nifti1);
    let (code, out, _) = diff(&a, &b, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        out.trim(),
        "values differ: 1 of 360 voxels, max abs difference 2 at voxel (4, 3, 2, 1)",
        "{out}"
    );
    // Within the tolerance: no difference, and the line says how close.
    let (code, out, _) = diff(&a, &b, &["--atol", "2"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.starts_with(
            "values: equal within --atol 2 (max abs difference 2 at voxel (4, 3, 2, 1))\n"
        ),
        "{out}"
    );
    let (code, _, _) = diff(&a, &b, &["--atol", "1.9"]);
    assert_eq!(code, Some(1));
    // rtol is relative to the second value: |146.5 − 148.5| ≤ 0.014 · 148.5.
    let (code, out, _) = diff(&a, &b, &["--rtol", "0.014"]);
    assert_eq!(code, Some(0), "{out}");
    // --header-only does not read the values.
    let (code, out, _) = diff(&a, &b, &["--header-only"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("values: not compared"), "{out}");
}

#[test]
fn the_same_values_stored_differently_differ_in_the_header_only() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(dir.path(), "a.nii", values(), ImageFormat::Nifti1);
    let b = dir.path().join("b.nii");
    let convert = neurovox(&[
        "convert",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--dtype",
        "float64",
    ]);
    assert!(convert.status.success());
    let (code, out, _) = diff(&a, &b, &[]);
    assert_eq!(code, Some(1));
    assert!(out.starts_with("values: equal\n"), "{out}");
    assert!(out.contains("dtype: float32 | float64"), "{out}");
    assert!(out.contains("header datatype: 16 | 64"), "{out}");
    assert!(out.contains("header bitpix: 32 | 64"), "{out}");
}

#[test]
fn shapes_formats_and_affines() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(dir.path(), "a.nii", values(), ImageFormat::Nifti1);
    let two = save(dir.path(), "a2.nii", values(), ImageFormat::Nifti2);
    let (code, out, _) = diff(&a, &two, &[]);
    assert_eq!(code, Some(1));
    assert!(out.starts_with("values: equal\n"), "{out}");
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("format: Nifti1Image | Nifti2Image"),
        "the format comes after what the values, affine and shared fields show: {out}"
    );
    assert!(out.contains("header magic:"), "{out}");

    let smaller = values().slice_move(ndarray::s![..5, .., .., ..]).into_dyn();
    let b = save(dir.path(), "b.nii", smaller, ImageFormat::Nifti1);
    let (code, out, _) = diff(&a, &b, &[]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("shape: [6, 5, 4, 3] | [5, 5, 4, 3] (values not compared)"),
        "{out}"
    );

    let mut affine = [[0.0; 4]; 4];
    for (i, row) in affine.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    let a = save_with_affine(dir.path(), "identity.nii", affine);
    affine[0][3] = 0.25;
    let c = save_with_affine(dir.path(), "c.nii", affine);
    let (code, out, _) = diff(&a, &c, &[]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains(
            "affine: 1 of 16 entries differ, max abs difference 0.25 at row 0, column 3 (0 | 0.25)"
        ),
        "{out}"
    );
    let (code, out, _) = diff(&a, &c, &["--atol", "0.25", "--header-only"]);
    assert!(!out.contains("affine"), "{out}");
    assert_eq!(
        code,
        Some(1),
        "the header's sform fields still differ: {out}"
    );
}

#[test]
fn an_unreadable_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(dir.path(), "a.nii", values(), ImageFormat::Nifti1);
    let missing = dir.path().join("missing.nii");
    let (code, _, err) = diff(&a, &missing, &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("missing.nii"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Runs `neurovox convert A B EXTRA...`, which must succeed; its stdout.
fn convert(a: &Path, b: &Path, extra: &[&str]) -> String {
    let mut args = vec!["convert", a.to_str().unwrap(), b.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = neurovox(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Scaled-looking float64 values float32 cannot hold exactly.
fn fine_values() -> ArrayD<f64> {
    values().mapv(|v| f64::from(v) * 0.2 + 0.01)
}

fn save_f64(dir: &Path, name: &str, data: ArrayD<f64>) -> PathBuf {
    let mut img = Image::from_array(data, None, ImageFormat::Nifti1).unwrap();
    let path = dir.join(name);
    img.to_filename(&path, Default::default()).unwrap();
    path
}

/// An oblique affine with 1.1 mm voxels: MGH stores it as float32 direction cosines, voxel
/// sizes and centre, so it reads back a few float32 roundings away from NIfTI's sform.
fn oblique_affine() -> [[f64; 4]; 4] {
    let (sin, cos) = 0.3f64.sin_cos();
    [
        [1.1 * cos, -1.1 * sin, 0.0, -90.1],
        [1.1 * sin, 1.1 * cos, 0.0, 126.3],
        [0.0, 0.0, 1.1, -72.7],
        [0.0, 0.0, 0.0, 1.0],
    ]
}

#[test]
fn convert_says_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(dir.path(), "a.nii", values(), ImageFormat::Nifti1);
    let mgz = dir.path().join("a.mgz");
    assert_eq!(
        convert(&a, &mgz, &[]),
        format!(
            "{}: MGH float32 [6, 5, 4, 3] from {}\n",
            mgz.display(),
            a.display()
        )
    );
    let int16 = dir.path().join("b.nii.gz");
    assert_eq!(
        convert(&a, &int16, &["--dtype", "int16"]),
        format!(
            "{}: NIfTI-1 int16 [6, 5, 4, 3] from {}\n",
            int16.display(),
            a.display()
        )
    );
    // Names are shown escaped, as every command shows them.
    let odd = dir.path().join("odd\n\u{1b}[31m.nii");
    let line = convert(&a, &odd, &[]);
    assert!(line.contains("odd\\n\\u{1b}[31m.nii: NIfTI-1"), "{line}");
    assert!(!line.contains('\u{1b}'), "{line}");
    // A failure prints nothing on stdout.
    let out = neurovox(&[
        "convert",
        dir.path().join("missing.nii").to_str().unwrap(),
        mgz.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_converted_mgz_is_summarised_in_a_few_lines_values_and_affine_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut img = Image::from_array(values(), Some(oblique_affine()), ImageFormat::Nifti1).unwrap();
    let a = dir.path().join("a.nii");
    img.to_filename(&a, Default::default()).unwrap();
    let mgz = dir.path().join("a.mgz");
    convert(&a, &mgz, &[]);

    let (code, out, err) = diff(&a, &mgz, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(err, "", "no progress bar when stderr is not a terminal");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], "values: equal");
    // The affine as numbers a person reads: six significant digits, or as many as tell the
    // two apart, never the twenty-odd digits of a binary fraction.
    assert!(
        lines[1].starts_with("affine: 3 of 16 entries differ, max abs difference "),
        "{out}"
    );
    assert!(lines[1].contains("e-06 at row "), "{out}");
    assert!(
        lines[1]
            .split(|c: char| !c.is_ascii_digit())
            .all(|digits| digits.len() <= 9),
        "{out}"
    );
    assert!(
        lines[2].starts_with("format: Nifti1Image | MGHImage; "),
        "{out}"
    );
    assert!(
        lines[2].contains(" header fields only in the first, ")
            && lines[2].ends_with(" only in the second (--all-fields names them)"),
        "{out}"
    );

    let (code, out, _) = diff(&a, &mgz, &["--all-fields"]);
    assert_eq!(code, Some(1), "{out}");
    let first = out.find("  only in the first: sizeof_hdr,").unwrap();
    let second = out.find("  only in the second: ").unwrap();
    assert!(first < second, "{out}");
    assert!(out.contains("Pxyz_c"), "{out}");
    assert!(
        out.lines()
            .filter(|l| l.starts_with("  "))
            .all(|l| l.len() <= 88),
        "the names are wrapped: {out}"
    );

    // What the image shows is the same, up to MGH's float32 affine.
    let (code, out, _) = diff(&a, &mgz, &["--values"]);
    assert_eq!(code, Some(1), "{out}");
    let (code, out, _) = diff(&a, &mgz, &["--values", "--affine-atol", "1e-4"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out,
        format!(
            "values: equal\n{} and {} do not differ in shape, affine or values\n",
            a.display(),
            mgz.display()
        )
    );
}

#[test]
fn values_mode_accepts_a_float32_copy_within_atol_and_catches_a_changed_voxel() {
    let dir = tempfile::tempdir().unwrap();
    let a = save_f64(dir.path(), "a.nii", fine_values());
    let b = dir.path().join("b.nii");
    convert(&a, &b, &["--dtype", "float32"]);

    // Everything: the stored type differs, however close the values.
    let (code, out, _) = diff(&a, &b, &["--atol", "1e-3"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("\ndtype: float64 | float32\n"), "{out}");

    let (code, out, _) = diff(&a, &b, &["--values", "--atol", "1e-3"]);
    assert_eq!(code, Some(0), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("values: equal within --atol 0.001 (max abs difference ")
            && lines[0].contains(" at voxel ("),
        "{out}"
    );
    assert!(
        lines[1].ends_with("do not differ in shape, affine or values"),
        "{out}"
    );

    // Without a tolerance float32 rounding is a difference.
    let (code, out, _) = diff(&a, &b, &["--values"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("values differ: "), "{out}");

    // A voxel that really changed fails whatever the stored type.
    let mut changed = fine_values();
    changed[[1, 2, 3, 0]] += 1.0;
    let c64 = save_f64(dir.path(), "c64.nii", changed);
    let c = dir.path().join("c.nii");
    convert(&c64, &c, &["--dtype", "float32"]);
    let (code, out, _) = diff(&a, &c, &["--values", "--atol", "1e-3"]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with("values differ: 1 of 360 voxels, max abs difference 1")
            && out.ends_with(" at voxel (1, 2, 3, 0)\n"),
        "{out}"
    );

    // --values and --header-only ask for opposite things: a usage error.
    let (code, _, err) = diff(&a, &b, &["--values", "--header-only"]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn scaling_and_type_are_shown_as_values_before_header_fields() {
    let dir = tempfile::tempdir().unwrap();
    let a = save_f64(dir.path(), "a.nii", fine_values());
    let b = dir.path().join("b.nii");
    convert(&a, &b, &["--dtype", "int16"]);
    let (code, out, _) = diff(&a, &b, &[]);
    assert_eq!(code, Some(1), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("values"), "{out}");
    assert_eq!(lines[1], "dtype: float64 | int16", "{out}");
    assert!(lines[2].starts_with("scaling: none | slope "), "{out}");
    assert!(lines[2].contains(", inter "), "{out}");
    assert!(lines[3].starts_with("header "), "{out}");
}

/// On a terminal (a pseudo-terminal from util-linux's `script`) the comparison shows a
/// progress bar on stderr.
#[cfg(target_os = "linux")]
#[test]
fn a_terminal_shows_progress() {
    let Ok(script) = which("script") else {
        eprintln!("no `script` command: progress on a terminal not tested");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = save(dir.path(), "a.nii", values(), ImageFormat::Nifti1);
    let b = save(dir.path(), "b.nii.gz", values(), ImageFormat::Nifti1);
    let command = format!(
        "'{}' diff '{}' '{}'",
        env!("CARGO_BIN_EXE_neurovox"),
        a.display(),
        b.display()
    );
    let out = Command::new(script)
        .args(["-q", "-c", &command, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("pieces"), "{shown}");
    assert!(shown.contains("do not differ"), "{shown}");
}

fn which(name: &str) -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or(())
}

#[test]
fn a_nan_against_a_number_is_located_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let mut with_nan = values();
    with_nan[[0, 1, 2, 0]] = f32::NAN;
    let a = save(dir.path(), "a.nii", with_nan, ImageFormat::Nifti1);
    let mut nudged = values();
    nudged[[5, 4, 3, 2]] += 0.5;
    let b = save(dir.path(), "b.nii", nudged, ImageFormat::Nifti1);
    let (code, out, _) = diff(&a, &b, &["--atol", "1"]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        "values differ: 1 of 360 voxels, first at voxel (0, 1, 2, 0) (1 NaN in one image only)\n"
    );
    // NaN is equal to NaN.
    let (code, out, _) = diff(&a, &a, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("values: equal\n"), "{out}");
}
