//! End-to-end tests of the `neurovox` binary: run it, check its output and exit code.

mod common;
use common::{neurovox, stderr, stdout};

use neurovox::{ByteOrder, DataType, Header, ImageFormat};
use std::path::{Path, PathBuf};
use std::process::Output;

/// Exit code 1, no panic, and stderr names `file`.
fn assert_failed_naming(output: &Output, file: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(file), "stderr should name {file}: {err}");
}

/// Writes a little-endian NIfTI-1 `.nii` with int16 data of `shape` and voxel sizes `zooms`.
fn write_nifti(dir: &Path, name: &str, shape: &[usize], zooms: &[f64]) -> PathBuf {
    let mut header = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
    header.set_data_shape(shape).expect("shape");
    header.set_data_dtype(DataType::Int16).expect("dtype");
    header.set_zooms(zooms).expect("zooms");
    let mut bytes = header.to_prefix_bytes().expect("header bytes");
    let nbytes = header.data_nbytes().expect("data size");
    bytes.resize(bytes.len() + usize::try_from(nbytes).expect("fits"), 3);
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write image");
    path
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn example_writes_and_lists_one_image_per_format() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let output = neurovox(&["info", "--example"], tmp.path());
    let out = stdout(&output);
    assert!(output.status.success(), "{out}\n{}", stderr(&output));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines[0].contains(path_str(tmp.path())), "{out}");
    for class in ["Nifti1Image", "Nifti2Image", "Spm2AnalyzeImage", "MGHImage"] {
        let matching = lines.iter().filter(|l| l.contains(class)).count();
        assert_eq!(matching, 1, "{class} in\n{out}");
    }
    let func = lines
        .iter()
        .find(|l| l.contains("Nifti1Image"))
        .expect("NIfTI-1 line");
    for expected in [
        "gzip",
        "int16",
        "[ 64,  64,  30,  10]",
        "3.00x3.00x3.00x2.00",
        "#exts: 1",
        "sform:4 qform:1",
    ] {
        assert!(func.contains(expected), "{expected} in {func}");
    }
}

#[test]
fn example_header_dump_runs_for_every_image() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let output = neurovox(&["info", "--example", "--header"], tmp.path());
    let out = stdout(&output);
    assert!(output.status.success(), "{out}\n{}", stderr(&output));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("== ")).count(),
        4,
        "{out}"
    );
    assert!(out.contains("code 6 (comment)"), "{out}");
    assert!(out.contains("code 4 (mni)"), "{out}");
    assert!(out.contains("MRI_FLOAT"), "{out}");
    assert!(!out.contains(": error"), "{out}");
}

#[test]
fn info_shows_shape_dtype_and_zooms() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = write_nifti(tmp.path(), "small.nii", &[5, 6, 7], &[1.5, 2.0, 2.5]);
    let output = neurovox(&["info", path_str(&path)], tmp.path());
    let out = stdout(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(out.lines().count(), 1, "{out}");
    for expected in [
        path_str(&path),
        "Nifti1Image",
        "none",
        "int16",
        "[  5,   6,   7]",
        "1.50x2.00x2.50",
    ] {
        assert!(out.contains(expected), "{expected} in {out}");
    }
}

#[test]
fn header_dump_lists_fields_and_derived_values() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = write_nifti(tmp.path(), "small.nii", &[5, 6, 7], &[1.5, 2.0, 2.5]);
    let output = neurovox(&["info", "--header", path_str(&path)], tmp.path());
    let out = stdout(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    let line_starting = |prefix: &str| {
        out.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in\n{out}"))
            .to_owned()
    };
    assert!(line_starting("dim ").contains("[3, 5, 6, 7, 1, 1, 1, 1]"));
    assert!(line_starting("sform_code ").ends_with(": 0"));
    assert!(line_starting("pixdim ").contains("1.5, 2.0, 2.5"));
    assert!(line_starting("shape ").contains("[5, 6, 7]"));
    assert!(line_starting("dtype ").contains("int16 (<i2)"));
    assert!(line_starting("data offset ").ends_with(": 352"));
    assert!(line_starting("problems ").contains("no problems"));
    assert_eq!(
        out.lines()
            .skip_while(|l| !l.starts_with("best affine"))
            .take(4)
            .count(),
        4
    );
}

#[test]
fn missing_file_fails_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("nothing-here.nii");
    let output = neurovox(&["info", path_str(&missing)], tmp.path());
    assert_failed_naming(&output, "nothing-here.nii");
    assert_eq!(stdout(&output), "");
}

#[test]
fn corrupt_file_fails_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let corrupt = tmp.path().join("corrupt.nii");
    std::fs::write(&corrupt, vec![0x5a; 600]).expect("write");
    for args in [vec!["info"], vec!["info", "--header"]] {
        let mut args = args;
        args.push(path_str(&corrupt));
        let output = neurovox(&args, tmp.path());
        assert_failed_naming(&output, "corrupt.nii");
    }
}

#[test]
fn truncated_data_fails_naming_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = write_nifti(tmp.path(), "short.nii", &[5, 6, 7], &[1.0, 1.0, 1.0]);
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&path, &bytes[..400]).expect("truncate");
    let output = neurovox(&["info", path_str(&path)], tmp.path());
    assert_failed_naming(&output, "short.nii");
}

#[test]
fn good_files_still_print_when_another_fails() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = write_nifti(tmp.path(), "good.nii", &[2, 3, 4], &[1.0, 1.0, 1.0]);
    let bad = tmp.path().join("bad.nii");
    std::fs::write(&bad, b"not an image").expect("write");
    let output = neurovox(&["info", path_str(&bad), path_str(&good)], tmp.path());
    assert_failed_naming(&output, "bad.nii");
    let out = stdout(&output);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("good.nii") && out.contains("[  2,   3,   4]"),
        "{out}"
    );
    assert!(!stderr(&output).contains("good.nii"));
}

#[test]
fn info_without_files_is_a_usage_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let output = neurovox(&["info"], tmp.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("FILE"), "{}", stderr(&output));
}

#[test]
fn convert_refuses_an_unknown_dtype_as_a_usage_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = write_nifti(tmp.path(), "in.nii", &[2, 3, 4], &[1.0, 1.0, 1.0]);
    let out = tmp.path().join("out.nii");
    let output = neurovox(
        &[
            "convert",
            path_str(&input),
            path_str(&out),
            "--dtype",
            "float33",
        ],
        tmp.path(),
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "stderr: {err}");
    assert!(stdout(&output).is_empty(), "{}", stdout(&output));
    assert!(err.contains("float33") && err.contains("--dtype"), "{err}");
    for accepted in [
        "uint8",
        "int16",
        "float32",
        "complex64",
        "RGB24",
        "NIFTI_TYPE_INT16",
    ] {
        assert!(err.contains(accepted), "{accepted} in {err}");
    }
    assert!(!out.exists(), "nothing is written");
    // Every spelling DataType::from_name knows is still taken.
    for name in ["INT16", "NIFTI_TYPE_FLOAT32", "<f4", "u1", "i8"] {
        let output = neurovox(
            &["convert", path_str(&input), path_str(&out), "--dtype", name],
            tmp.path(),
        );
        assert!(output.status.success(), "{name}: {}", stderr(&output));
    }
}

#[test]
fn file_names_with_control_characters_are_shown_escaped() {
    // A newline would break the one-line-per-file format, ESC[31m would reach the terminal.
    let dir = tempfile::tempdir().expect("tmp");
    let name = "evil\n\u{1b}[31mred.nii";
    write_nifti(dir.path(), name, &[2, 3, 4], &[1.0, 1.0, 1.0]);
    let missing = dir.path().join("gone\n\u{1b}[2J.nii");
    let shown_ok = "evil\\n\\u{1b}[31mred.nii";
    for command in ["info", "stats"] {
        let out = neurovox(
            &[
                command,
                path_str(&dir.path().join(name)),
                path_str(&missing),
            ],
            dir.path(),
        );
        let (text, err) = (stdout(&out), stderr(&out));
        assert!(text.contains(shown_ok), "{command}: {text}");
        assert!(err.contains("gone\\n\\u{1b}[2J.nii"), "{command}: {err}");
        for shown in [&text, &err] {
            assert!(
                !shown.contains('\u{1b}'),
                "{command}: an escape sequence was printed"
            );
        }
        assert_eq!(
            err.lines().count(),
            1,
            "{command}: one line per failure: {err}"
        );
    }
}
