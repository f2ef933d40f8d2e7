//! End-to-end tests of `neurovox diff`: what it reports, its tolerance, its exit codes.
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
    assert_eq!(out.trim(), r#"header descrip: "" | "edited""#, "{out}");
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
        "data: 1 of 360 values differ, largest |difference| 2, first at [4, 3, 2, 1]",
        "{out}"
    );
    // Within the tolerance: no difference.
    let (code, out, _) = diff(&a, &b, &["--atol", "2"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, _, _) = diff(&a, &b, &["--atol", "1.9"]);
    assert_eq!(code, Some(1));
    // rtol is relative to the second value: |146.5 − 148.5| ≤ 0.014 · 148.5.
    let (code, out, _) = diff(&a, &b, &["--rtol", "0.014"]);
    assert_eq!(code, Some(0), "{out}");
    // --header-only does not read the values.
    let (code, out, _) = diff(&a, &b, &["--header-only"]);
    assert_eq!(code, Some(0), "{out}");
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
    assert!(out.contains("header datatype: 16 | 64"), "{out}");
    assert!(out.contains("header bitpix: 32 | 64"), "{out}");
    assert!(!out.contains("data:"), "{out}");
}

#[test]
fn shapes_formats_and_affines() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(dir.path(), "a.nii", values(), ImageFormat::Nifti1);
    let two = save(dir.path(), "a2.nii", values(), ImageFormat::Nifti2);
    let (code, out, _) = diff(&a, &two, &[]);
    assert_eq!(code, Some(1));
    assert!(
        out.starts_with("format: Nifti1Image | Nifti2Image"),
        "{out}"
    );
    assert!(out.contains("header magic:"), "{out}");
    assert!(!out.contains("data:"), "{out}");

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
        out.contains("affine: differs, largest |difference| 0.25"),
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
