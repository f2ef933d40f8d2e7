//! End-to-end tests of `neurovox stats` and `neurovox slice`: small NIfTI files written
//! with the library's header codecs, statistics and sub-arrays computed here independently.

mod common;
use common::{neurovox, stderr, stdout};

use flate2::write::GzEncoder;
use neurovox::format::Affine;
use neurovox::{ByteOrder, DataType, FieldValue, Header, ImageFormat};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Exit code 1, no panic, and stderr names `file`.
fn assert_failed_naming(output: &Output, file: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(file), "stderr should name {file}: {err}");
}

const AFFINE: Affine = [
    [-2.0, 0.0, 0.0, 90.0],
    [0.0, 2.5, 0.0, -126.0],
    [0.0, 0.0, 3.0, -72.0],
    [0.0, 0.0, 0.0, 1.0],
];

/// A test image: shape, stored values (first axis fastest), and scaling.
struct Spec<'a> {
    shape: &'a [usize],
    dtype: DataType,
    /// `(slope, inter)` written to `scl_slope`/`scl_inter`, or none.
    scaling: Option<(f64, f64)>,
}

/// The stored value of the voxel at flat (Fortran-order) position `i`: a spread of
/// positive and negative numbers, NaN at every 11th voxel for float data.
fn stored_value(i: usize, dtype: DataType) -> f64 {
    let base = ((i * 37) % 2001) as f64 - 1000.0;
    match dtype {
        DataType::Float32 if i % 11 == 5 => f64::NAN,
        DataType::Float32 => f64::from((base / 7.0) as f32),
        _ => base,
    }
}

/// The stored values of the whole image, first axis fastest.
fn stored_values(spec: &Spec) -> Vec<f64> {
    let n: usize = spec.shape.iter().product();
    (0..n).map(|i| stored_value(i, spec.dtype)).collect()
}

/// The value `get_fdata` gives for a stored value.
fn scaled(spec: &Spec, raw: f64) -> f64 {
    match spec.scaling {
        Some((slope, inter)) => raw * slope + inter,
        None => raw,
    }
}

/// Writes a little-endian single-file NIfTI-1 (gzip if the name ends in `.gz`).
fn write_image(dir: &Path, name: &str, spec: &Spec) -> PathBuf {
    let mut header = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
    header.set_data_shape(spec.shape).expect("shape");
    header.set_data_dtype(spec.dtype).expect("dtype");
    header.store_affine(&AFFINE).expect("affine");
    if let Some((slope, inter)) = spec.scaling {
        header
            .set("scl_slope", FieldValue::Float(slope))
            .expect("slope");
        header
            .set("scl_inter", FieldValue::Float(inter))
            .expect("inter");
    }
    let mut bytes = header.to_prefix_bytes().expect("header bytes");
    // vox_offset 0 means "right after the header", which to_prefix_bytes fills in.
    let offset = usize::try_from(header.data_offset()).expect("fits");
    bytes.resize(bytes.len().max(offset), 0);
    for v in stored_values(spec) {
        match spec.dtype {
            DataType::Int16 => bytes.extend_from_slice(&(v as i16).to_le_bytes()),
            DataType::Float32 => bytes.extend_from_slice(&(v as f32).to_le_bytes()),
            other => panic!("no test encoding for {other}"),
        }
    }
    let path = dir.join(name);
    if name.ends_with(".gz") {
        let mut gz = GzEncoder::new(
            std::fs::File::create(&path).expect("create"),
            flate2::Compression::new(6),
        );
        gz.write_all(&bytes).expect("write");
        gz.finish().expect("finish");
    } else {
        std::fs::write(&path, bytes).expect("write image");
    }
    path
}

/// The number after `label` on a stats line.
fn field(line: &str, label: &str) -> f64 {
    let mut words = line.split_whitespace();
    words
        .by_ref()
        .find(|w| *w == label)
        .unwrap_or_else(|| panic!("no {label} in {line}"));
    let word = words.next().expect("a value after the label");
    word.parse()
        .unwrap_or_else(|_| panic!("{label} value {word} in {line}"))
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-8 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} vs {expected}"
    );
}

/// nanmin, nanmax, nanmean, nanstd (ddof 0) and the NaN count, computed plainly.
fn expected_stats(values: &[f64]) -> (f64, f64, f64, f64, usize) {
    let kept: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    let n = kept.len() as f64;
    let mean = kept.iter().sum::<f64>() / n;
    let var = kept.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let min = kept.iter().copied().fold(f64::INFINITY, f64::min);
    let max = kept.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max, mean, var.sqrt(), values.len() - kept.len())
}

fn assert_stats_line(line: &str, values: &[f64]) {
    let (min, max, mean, std, nans) = expected_stats(values);
    assert_eq!(field(line, "voxels"), values.len() as f64, "{line}");
    assert_eq!(field(line, "NaN"), nans as f64, "{line}");
    assert_eq!(field(line, "min"), min, "{line}");
    assert_eq!(field(line, "max"), max, "{line}");
    assert_close(field(line, "mean"), mean, line);
    assert_close(field(line, "std"), std, line);
}

#[test]
fn stats_of_scaled_4d_int16_equal_values_computed_here() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = Spec {
        shape: &[6, 5, 4, 7],
        dtype: DataType::Int16,
        scaling: Some((0.5, -3.0)),
    };
    let values: Vec<f64> = stored_values(&spec)
        .into_iter()
        .map(|v| scaled(&spec, v))
        .collect();
    for name in ["bold.nii", "bold.nii.gz"] {
        let path = write_image(tmp.path(), name, &spec);
        let output = neurovox(&["stats", path_str(&path)], tmp.path());
        let out = stdout(&output);
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(out.starts_with(path_str(&path)), "{out}");
        assert_stats_line(out.trim_end(), &values);
        assert_eq!(
            stderr(&output),
            "",
            "no progress bar when stderr is not a terminal"
        );
    }
}

#[test]
fn stats_count_nans_and_align_lines_for_several_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let float = Spec {
        shape: &[9, 8, 7],
        dtype: DataType::Float32,
        scaling: None,
    };
    let plain = Spec {
        shape: &[3, 4, 5, 2],
        dtype: DataType::Int16,
        scaling: None,
    };
    let a = write_image(tmp.path(), "float.nii", &float);
    let b = write_image(tmp.path(), "plain_int16.nii.gz", &plain);
    let output = neurovox(&["stats", path_str(&a), path_str(&b)], tmp.path());
    let out = stdout(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_stats_line(lines[0], &stored_values(&float));
    assert!(field(lines[0], "NaN") > 0.0);
    assert_stats_line(lines[1], &stored_values(&plain));
    // Aligned: the labels start in the same columns.
    for label in ["voxels", "NaN", "min", "max", "mean", "std"] {
        let columns: Vec<Option<usize>> = lines
            .iter()
            .map(|l| l.find(&format!(" {label} ")))
            .collect();
        assert_eq!(columns[0], columns[1], "{label} in\n{out}");
    }
}

#[test]
fn stats_report_bad_files_and_still_print_the_good_ones() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = write_image(
        tmp.path(),
        "good.nii",
        &Spec {
            shape: &[2, 3, 4],
            dtype: DataType::Int16,
            scaling: None,
        },
    );
    let missing = tmp.path().join("missing.nii");
    let truncated = tmp.path().join("truncated.nii");
    let bytes = std::fs::read(&good).expect("read");
    std::fs::write(&truncated, &bytes[..360]).expect("truncate");
    let output = neurovox(
        &[
            "stats",
            path_str(&missing),
            path_str(&good),
            path_str(&truncated),
        ],
        tmp.path(),
    );
    assert_failed_naming(&output, "missing.nii");
    assert_failed_naming(&output, "truncated.nii");
    let out = stdout(&output);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("good.nii"), "{out}");
}

/// Loads `path` with the library: its shape, values (as f64, first axis fastest), dtype
/// and affine.
fn reload(path: &Path) -> (Vec<usize>, Vec<f64>, DataType, Affine) {
    let img = neurovox::load(path).expect("output loads");
    let data = img.dataobj().to_array().expect("output reads");
    let shape = data.shape().to_vec();
    let n: usize = shape.iter().product();
    let values = (0..n)
        .map(|flat| {
            let index = unravel_fortran(flat, &shape);
            data.get_f64(&index).expect("in range")
        })
        .collect();
    let affine = *img.affine().expect("affine");
    (shape, values, data.dtype(), affine)
}

fn unravel_fortran(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    shape
        .iter()
        .map(|&len| {
            let i = flat % len;
            flat /= len;
            i
        })
        .collect()
}

fn ravel_fortran(index: &[usize], shape: &[usize]) -> usize {
    index
        .iter()
        .zip(shape)
        .rev()
        .fold(0, |acc, (&i, &len)| acc * len + i)
}

fn assert_affine(actual: &Affine, expected: &Affine) {
    for (a, e) in actual.iter().flatten().zip(expected.iter().flatten()) {
        assert!((a - e).abs() < 1e-5, "{actual:?} vs {expected:?}");
    }
}

fn world(affine: &Affine, voxel: [f64; 3]) -> [f64; 3] {
    let mut out = [0.0; 3];
    for row in 0..3 {
        out[row] = affine[row][3] + (0..3).map(|c| affine[row][c] * voxel[c]).sum::<f64>();
    }
    out
}

#[test]
fn slice_one_volume_of_a_scaled_image_is_float64_with_the_same_affine() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = Spec {
        shape: &[6, 5, 4, 7],
        dtype: DataType::Int16,
        scaling: Some((2.0, 10.0)),
    };
    let stored = stored_values(&spec);
    for (input, out_name) in [("bold.nii", "vol3.nii"), ("bold.nii.gz", "vol3.nii.gz")] {
        let path = write_image(tmp.path(), input, &spec);
        let out = tmp.path().join(out_name);
        let output = neurovox(
            &["slice", path_str(&path), "...,3", "-o", path_str(&out)],
            tmp.path(),
        );
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(
            stdout(&output).contains("float64 [6, 5, 4]"),
            "{}",
            stdout(&output)
        );
        let (shape, values, dtype, affine) = reload(&out);
        assert_eq!(shape, [6, 5, 4]);
        assert_eq!(dtype, DataType::Float64);
        let expected: Vec<f64> = (0..6 * 5 * 4)
            .map(|i| scaled(&spec, stored[i + 3 * 6 * 5 * 4]))
            .collect();
        assert_eq!(values, expected);
        assert_affine(&affine, &AFFINE);
        let is_gzip = std::fs::read(&out).expect("read")[..2] == [0x1f, 0x8b];
        assert_eq!(is_gzip, out_name.ends_with(".gz"));
    }
}

#[test]
fn slice_with_steps_keeps_the_stored_type_and_moves_the_affine() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = Spec {
        shape: &[6, 5, 4, 3],
        dtype: DataType::Int16,
        scaling: None,
    };
    let stored = stored_values(&spec);
    let path = write_image(tmp.path(), "plain.nii", &spec);
    let out = tmp.path().join("part.nii");
    let output = neurovox(
        &[
            "slice",
            path_str(&path),
            ":, 1:4, ::-1, -1",
            "-o",
            path_str(&out),
        ],
        tmp.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let (shape, values, dtype, affine) = reload(&out);
    assert_eq!(shape, [6, 3, 4]);
    assert_eq!(dtype, DataType::Int16);
    for (flat, value) in values.iter().enumerate() {
        let [i, j, k] = unravel_fortran(flat, &shape)[..] else {
            panic!("3-D")
        };
        let source = ravel_fortran(&[i, 1 + j, 3 - k, 2], spec.shape);
        assert_eq!(*value, stored[source], "voxel {i} {j} {k}");
    }
    // img.slicer's rule: start at voxel (0, 1, 3), third axis reversed.
    let mut expected = AFFINE;
    expected[1][3] += 2.5;
    expected[2][3] += 3.0 * 3.0;
    expected[2][2] = -3.0;
    assert_affine(&affine, &expected);
}

#[test]
fn slice_indexing_a_spatial_axis_keeps_voxels_in_place() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = Spec {
        shape: &[6, 5, 4],
        dtype: DataType::Float32,
        scaling: None,
    };
    let stored = stored_values(&spec);
    let path = write_image(tmp.path(), "anat.nii", &spec);
    let out = tmp.path().join("axial.nii.gz");
    let output = neurovox(
        &["slice", path_str(&path), ":, :, 2", "-o", path_str(&out)],
        tmp.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let (shape, values, dtype, affine) = reload(&out);
    assert_eq!(shape, [6, 5]);
    assert_eq!(dtype, DataType::Float32);
    for (flat, value) in values.iter().enumerate() {
        let index = unravel_fortran(flat, &shape);
        let source = stored[ravel_fortran(&[index[0], index[1], 2], spec.shape)];
        assert!(
            *value == source || (value.is_nan() && source.is_nan()),
            "{index:?}"
        );
    }
    // Output voxel (i, j, 0) is input voxel (i, j, 2).
    for (i, j) in [(0, 0), (5, 4), (2, 3)] {
        let out_world = world(&affine, [i as f64, j as f64, 0.0]);
        let in_world = world(&AFFINE, [i as f64, j as f64, 2.0]);
        for (a, b) in out_world.iter().zip(in_world) {
            assert!((a - b).abs() < 1e-5, "{out_world:?} vs {in_world:?}");
        }
    }
}

#[test]
fn slice_accepts_a_negative_index_as_the_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = Spec {
        shape: &[4, 3, 2, 5],
        dtype: DataType::Int16,
        scaling: None,
    };
    let path = write_image(tmp.path(), "run.nii", &spec);
    let out = tmp.path().join("first.nii");
    // Index -1 on the first (spatial) axis of a 4-D image would make time a spatial axis:
    // refused; with --keep-axes the axis stays, with length 1.
    let output = neurovox(
        &["slice", path_str(&path), "-1", "-o", path_str(&out)],
        tmp.path(),
    );
    assert_failed_naming(&output, "run.nii");
    assert!(
        stderr(&output).contains("--keep-axes"),
        "{}",
        stderr(&output)
    );
    let output = neurovox(
        &[
            "slice",
            path_str(&path),
            "-1",
            "-o",
            path_str(&out),
            "--keep-axes",
        ],
        tmp.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let (shape, values, _, _) = reload(&out);
    assert_eq!(shape, [1, 3, 2, 5]);
    let stored = stored_values(&spec);
    assert_eq!(values[0], stored[ravel_fortran(&[3, 0, 0, 0], spec.shape)]);
}

#[test]
fn slice_errors_exit_1_naming_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = write_image(
        tmp.path(),
        "src.nii",
        &Spec {
            shape: &[4, 3, 2],
            dtype: DataType::Int16,
            scaling: None,
        },
    );
    let out = tmp.path().join("out.nii");
    for key in ["1:2:3:4", "x", "::0", "9", "..., ...", "0, 0, 0", "1:1"] {
        let output = neurovox(
            &["slice", path_str(&path), key, "-o", path_str(&out)],
            tmp.path(),
        );
        assert_failed_naming(&output, "src.nii");
        assert!(!out.exists(), "{key}: nothing written");
    }
    let missing = tmp.path().join("absent.nii");
    let output = neurovox(
        &["slice", path_str(&missing), "...,0", "-o", path_str(&out)],
        tmp.path(),
    );
    assert_failed_naming(&output, "absent.nii");
    let bad_output = tmp.path().join("out.img");
    let output = neurovox(
        &["slice", path_str(&path), "0:1", "-o", path_str(&bad_output)],
        tmp.path(),
    );
    assert_failed_naming(&output, "out.img");
    assert_eq!(
        std::fs::read_dir(tmp.path()).expect("dir").count(),
        1,
        "no temporary file left behind"
    );
}

/// `neurovox convert` re-saves in the format of the new name, and a bad type is an error.
#[test]
fn convert_changes_format_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.nii");
    let data =
        ndarray::Array::from_shape_fn((3, 4, 5), |(i, j, k)| (i * 20 + j * 5 + k) as f32 * 0.5)
            .into_dyn();
    neurovox::image::save(
        &neurovox::Image::from_array(data.clone(), None, neurovox::ImageFormat::Nifti1).unwrap(),
        &input,
        Default::default(),
    )
    .unwrap();
    for out in ["out.nii.gz", "out.mgz", "out.img"] {
        let output = dir.path().join(out);
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_neurovox"))
            .args(["convert", input.to_str().unwrap(), output.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success(), "{out}");
        let back = neurovox::load(&output).unwrap();
        assert_eq!(
            back.dataobj().to_array().unwrap().to_f64().unwrap(),
            data.mapv(f64::from),
            "{out}"
        );
    }
    let output = dir.path().join("int.nii");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_neurovox"))
        .args([
            "convert",
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            "--dtype",
            "int16",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        neurovox::load(&output)
            .unwrap()
            .header()
            .data_dtype()
            .unwrap()
            .dtype,
        neurovox::DataType::Int16
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_neurovox"))
        .args([
            "convert",
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            "--dtype",
            "int12",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("int12"));
}

/// Issue 13: one flipped bit in a `.nii.gz` (which Python's gzip and nibabel reject) must
/// never become a wrong statistic or a new file with a valid checksum over damaged data.
#[test]
fn a_damaged_nii_gz_fails_stats_and_convert_naming_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = Spec {
        shape: &[24, 20, 12, 6],
        dtype: DataType::Int16,
        scaling: None,
    };
    let good = std::fs::read(write_image(tmp.path(), "good.nii.gz", &spec)).expect("read");
    let bad_path = tmp.path().join("damaged.nii.gz");
    let out = tmp.path().join("out.nii");
    let mut noticed = 0;
    // Flips from the end of the NIfTI header's deflate data to the trailer.
    for (n, pos) in (200..good.len()).step_by(good.len() / 24).enumerate() {
        let mut bad = good.clone();
        bad[pos] ^= 1 << (n % 8);
        std::fs::write(&bad_path, &bad).expect("write");
        let stats = neurovox(&["stats", path_str(&bad_path)], tmp.path());
        let convert = neurovox(
            &["convert", path_str(&bad_path), path_str(&out)],
            tmp.path(),
        );
        for output in [&stats, &convert] {
            if output.status.success() {
                // Only a flip that changes nothing may pass: the header and the
                // statistics must then be the good file's.
                let clean = neurovox(
                    &["stats", path_str(&tmp.path().join("good.nii.gz"))],
                    tmp.path(),
                );
                assert_eq!(
                    stdout(&stats).replace("damaged", "good"),
                    stdout(&clean),
                    "a flip at byte {pos} passed"
                );
            } else {
                assert_failed_naming(output, "damaged.nii.gz");
                // The input is to blame, not the file being written (issue 14 item 11).
                assert!(!stderr(output).contains("out.nii"), "{}", stderr(output));
                noticed += 1;
            }
        }
    }
    assert!(noticed >= 40, "only {noticed} of 48 damaged runs failed");
}

/// `--level` outside what the codec has is an error naming the output, never a panic (bzip2
/// aborts on level 0), and leaves no file behind.
#[test]
fn convert_refuses_a_level_the_codec_lacks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = Spec {
        shape: &[6, 5, 4],
        dtype: DataType::Int16,
        scaling: None,
    };
    let input = write_image(tmp.path(), "in.nii", &spec);
    for (name, level) in [
        ("out.nii.bz2", "0"),
        ("out.nii.gz", "13"),
        ("out.nii.zst", "23"),
    ] {
        let out = tmp.path().join(name);
        let output = neurovox(
            &[
                "convert",
                path_str(&input),
                path_str(&out),
                "--level",
                level,
            ],
            tmp.path(),
        );
        assert_failed_naming(&output, name);
        assert!(
            stderr(&output).contains("compression level"),
            "{}",
            stderr(&output)
        );
        assert!(!out.exists(), "{name} was written");
    }
    let out = tmp.path().join("ok.nii.bz2");
    let output = neurovox(
        &["convert", path_str(&input), path_str(&out), "--level", "1"],
        tmp.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
}

/// `neurovox index`: a sidecar for a file another tool wrote (which loads then find), a note
/// for neurovox's own files, and an error naming a file that is not gzip.
#[test]
fn index_writes_sidecars_that_loads_find() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = Spec {
        shape: &[40, 30, 20, 8],
        dtype: DataType::Int16,
        scaling: None,
    };
    let foreign = write_image(tmp.path(), "foreign.nii.gz", &spec);
    let plain = write_image(tmp.path(), "plain.nii", &spec);
    let own = tmp.path().join("own.nii.gz");
    let converted = neurovox(&["convert", path_str(&plain), path_str(&own)], tmp.path());
    assert!(converted.status.success(), "{}", stderr(&converted));

    let output = neurovox(&["index", path_str(&foreign), path_str(&own)], tmp.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("foreign.nii.gz.nvgzidx"), "{out}");
    assert!(out.contains("own.nii.gz: written by neurovox"), "{out}");
    let sidecar = neurovox::io::gzip::sidecar_path(&foreign);
    assert!(sidecar.exists());
    assert!(!neurovox::io::gzip::sidecar_path(&own).exists());
    let source = neurovox::io::GzipSource::open(&foreign).expect("open");
    assert_eq!(source.index_origin(), Some(sidecar.as_path()));
    // The image reads the same with its index.
    let stats = neurovox(&["stats", path_str(&foreign)], tmp.path());
    let stats_plain = neurovox(&["stats", path_str(&plain)], tmp.path());
    assert_eq!(
        stdout(&stats).replace("foreign.nii.gz", "X"),
        stdout(&stats_plain).replace("plain.nii", "X")
    );

    let output = neurovox(&["index", path_str(&plain)], tmp.path());
    assert_failed_naming(&output, "plain.nii");
}

/// `neurovox recompress`: a foreign `.nii.gz` becomes neurovox's indexed gzip with the same
/// bytes inside, which `gzip -t` accepts; a damaged one is refused and left alone.
#[test]
fn recompress_keeps_every_byte_and_refuses_damage() {
    use std::io::Read;
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = Spec {
        shape: &[40, 30, 20, 8],
        dtype: DataType::Int16,
        scaling: Some((0.5, 3.0)),
    };
    let path = write_image(tmp.path(), "foreign.nii.gz", &spec);
    let original = std::fs::read(&path).expect("read");
    let mut inside = Vec::new();
    flate2::read::MultiGzDecoder::new(&original[..])
        .read_to_end(&mut inside)
        .expect("inflate");

    let output = neurovox(&["recompress", path_str(&path), "--level", "6"], tmp.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("indexed members"),
        "{}",
        stdout(&output)
    );
    let rewritten = std::fs::read(&path).expect("read");
    let mut again = Vec::new();
    flate2::read::MultiGzDecoder::new(&rewritten[..])
        .read_to_end(&mut again)
        .expect("inflate");
    assert!(again == inside, "the decompressed bytes changed");
    let source = neurovox::io::GzipSource::open(&path).expect("open");
    assert!(source.member_index().is_some());
    if let Ok(status) = std::process::Command::new("gzip")
        .arg("-t")
        .arg(&path)
        .status()
    {
        assert!(status.success(), "gzip -t refused the recompressed file");
    }
    // A second run leaves it alone.
    let output = neurovox(&["recompress", path_str(&path)], tmp.path());
    assert!(
        stdout(&output).contains("left as it is"),
        "{}",
        stdout(&output)
    );

    let mut damaged = original.clone();
    let n = damaged.len();
    damaged[n / 2] ^= 0x10;
    let bad = tmp.path().join("damaged.nii.gz");
    std::fs::write(&bad, &damaged).expect("write");
    let output = neurovox(&["recompress", path_str(&bad)], tmp.path());
    assert_failed_naming(&output, "damaged.nii.gz");
    assert_eq!(std::fs::read(&bad).expect("read"), damaged);
}
