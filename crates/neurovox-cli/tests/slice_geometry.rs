//! `neurovox slice` keeps every voxel where it was: for each key its `--help` shows (and the
//! keys that once gave wrong positions), on a 3-D and a 4-D image with an oblique affine,
//! every output voxel's world position (output affine) is checked against the world position
//! of the input voxel it came from (each input voxel holds its own flat index, so the output
//! value says which one). Keys that cannot keep positions must be refused, never written.

use neurovox::format::affine::{self, Affine};
use neurovox::{DataType, ImageFormat};
use std::path::Path;
use std::process::{Command, Output};

const AFFINE: Affine = [
    [-2.0, 0.1, 0.0, 90.0],
    [0.0, 2.0, 0.3, -126.0],
    [0.2, 0.0, 2.5, -72.0],
    [0.0, 0.0, 0.0, 1.0],
];
const TR: f64 = 2.5;

fn neurovox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neurovox"))
        .args(args)
        .output()
        .expect("the neurovox binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The keys quoted in the help of the KEY argument.
fn help_keys() -> Vec<String> {
    let help = text(&neurovox(&["slice", "--help"]).stdout);
    let start = help.find("<KEY>").expect("KEY in the help");
    let rest = &help[start + 5..];
    let section = &rest[..rest.find("Options:").expect("options after KEY")];
    // The examples follow "e.g." (the text before it has an apostrophe of its own).
    let section = &section[section.find("e.g.").expect("examples in the help")..];
    let keys: Vec<String> = section
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    assert!(keys.len() >= 4, "keys in the help: {keys:?}\n{section}");
    keys
}

/// A float32 image whose voxels hold their flat (Fortran-order) index, with the oblique
/// affine and, for 4-D, a TR.
fn write_index_image(path: &Path, shape: &[usize]) {
    let n: usize = shape.iter().product();
    use ndarray::ShapeBuilder;
    let values = ndarray::Array::from_shape_vec(
        ndarray::IxDyn(shape).f(),
        (0..n).map(|i| i as f32).collect(),
    )
    .expect("shape");
    let mut img = neurovox::Image::from_array(values.into_dyn(), Some(AFFINE), ImageFormat::Nifti1)
        .expect("image");
    let mut zooms = img.header().zooms();
    if zooms.len() > 3 {
        zooms[3] = TR;
    }
    img.header_mut().set_zooms(&zooms).expect("zooms");
    img.to_filename(path, Default::default()).expect("save");
}

fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    shape
        .iter()
        .map(|&n| {
            let i = flat % n;
            flat /= n;
            i
        })
        .collect()
}

fn world(affine: &Affine, voxel: &[usize]) -> [f64; 3] {
    let v: Vec<f64> = (0..3)
        .map(|i| voxel.get(i).map_or(0.0, |&x| x as f64))
        .collect();
    let mut out = [0.0; 3];
    for (row, out) in out.iter_mut().enumerate() {
        *out = affine[row][3] + (0..3).map(|c| affine[row][c] * v[c]).sum::<f64>();
    }
    out
}

/// Every output voxel lands where its input voxel was; a time axis keeps its TR.
fn assert_positions_kept(key: &str, source_shape: &[usize], out: &Path) {
    let img = neurovox::load(out).expect("output loads");
    let out_affine = *img.affine().expect("affine");
    let data = img.dataobj().to_array().expect("data");
    let out_shape = data.shape().to_vec();
    let n: usize = out_shape.iter().product();
    assert!(n > 0, "{key}: empty output");
    for flat in 0..n {
        let out_voxel = unravel(flat, &out_shape);
        let value = data.get_f64(&out_voxel).expect("in range");
        let in_voxel = unravel(value as usize, source_shape);
        let (a, b) = (world(&out_affine, &out_voxel), world(&AFFINE, &in_voxel));
        assert!(
            a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-3),
            "{key}: output voxel {out_voxel:?} claims {a:?}, it came from input voxel \
             {in_voxel:?} at {b:?}"
        );
    }
    // A time axis kept as the fourth: its zoom is the TR times the step between volumes.
    if source_shape.len() == 4 && out_shape.len() >= 4 && out_shape[3] > 1 {
        let mut at = vec![0; out_shape.len()];
        let first = unravel(data.get_f64(&at).expect("voxel") as usize, source_shape);
        at[3] = 1;
        let second = unravel(data.get_f64(&at).expect("voxel") as usize, source_shape);
        let step = second[3] as f64 - first[3] as f64;
        let zoom = img.header().zooms()[3];
        assert!(
            (zoom - TR * step.abs()).abs() < 1e-6,
            "{key}: time zoom {zoom}, expected {}",
            TR * step.abs()
        );
    }
}

/// Runs `slice`; Some(output path) when it wrote the file, None when it refused (exit 1,
/// a message about spatial axes naming the input, nothing written).
fn run_slice(dir: &Path, source: &Path, key: &str, keep: bool) -> Option<std::path::PathBuf> {
    let out = dir.join(format!("out-{}.nii", keep as u8));
    let _ = std::fs::remove_file(&out);
    let mut args = vec!["slice", source.to_str().expect("utf-8"), key, "-o"];
    args.push(out.to_str().expect("utf-8"));
    if keep {
        args.push("--keep-axes");
    }
    let output = neurovox(&args);
    if output.status.success() {
        return Some(out);
    }
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{key}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("spatial"),
        "{key} (keep {keep}) refused for another reason: {err}"
    );
    assert!(
        err.contains(&*source.file_name().expect("name").to_string_lossy()),
        "{err}"
    );
    assert!(!out.exists(), "{key}: refused but written");
    None
}

#[test]
fn every_key_of_the_help_keeps_voxels_in_place() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = help_keys();
    for shape in [&[13usize, 12, 9][..], &[13, 12, 9, 4]] {
        let source = tmp.path().join(format!("src{}d.nii", shape.len()));
        write_index_image(&source, shape);
        for key in &keys {
            let plain = run_slice(tmp.path(), &source, key, false);
            if let Some(out) = &plain {
                assert_positions_kept(key, shape, out);
            }
            let kept = run_slice(tmp.path(), &source, key, true);
            if let Some(out) = &kept {
                assert_positions_kept(key, shape, out);
            }
            // Every key the help shows works: as it is on 3-D images, and on 4-D images
            // at least with --keep-axes.
            if shape.len() == 3 {
                assert!(plain.is_some(), "{key} refused on a 3-D image");
            }
            assert!(
                kept.is_some(),
                "{key} refused with --keep-axes on {shape:?}"
            );
        }
    }
}

#[test]
fn keys_that_once_gave_wrong_positions_are_refused_or_kept_right() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let four = tmp.path().join("run.nii");
    write_index_image(&four, &[13, 12, 9, 4]);
    let three = tmp.path().join("anat.nii");
    write_index_image(&three, &[13, 12, 9]);
    // Time would become the third spatial axis: refused, kept right with --keep-axes.
    for key in [":, 10, ::-1", "-1", ":, :, 4", "3, 2:5"] {
        assert!(run_slice(tmp.path(), &four, key, false).is_none(), "{key}");
        let out = run_slice(tmp.path(), &four, key, true).expect("kept");
        assert_positions_kept(key, &[13, 12, 9, 4], &out);
        let img = neurovox::load(&out).expect("loads");
        assert_eq!(img.ndim(), 4, "{key}: the time axis stays fourth");
        assert_eq!(
            img.header().data_dtype().expect("dtype").dtype,
            DataType::Float32
        );
    }
    // A new axis before the spatial ones would push z out of them: refused either way.
    for key in ["None, 2:5", "None"] {
        assert!(run_slice(tmp.path(), &three, key, false).is_none(), "{key}");
        assert!(run_slice(tmp.path(), &three, key, true).is_none(), "{key}");
    }
    // Dropping a spatial axis of a 3-D image stays allowed: the implicit third axis of the
    // 2-D output points along the dropped one.
    for key in [":, :, 4", "7, ::-2", "..., None, 3"] {
        let out = run_slice(tmp.path(), &three, key, false).expect("written");
        assert_positions_kept(key, &[13, 12, 9], &out);
    }
    // The affine of a ranges-only key is nibabel's slicer's (checked in the unit tests);
    // here its inverse still exists.
    let out = run_slice(tmp.path(), &four, "2:5, ::-1, 1::2, 1:3", false).expect("written");
    let img = neurovox::load(&out).expect("loads");
    let a = img.affine().expect("affine");
    let m = [
        [a[0][0], a[0][1], a[0][2]],
        [a[1][0], a[1][1], a[1][2]],
        [a[2][0], a[2][1], a[2][2]],
    ];
    assert!(affine::det3(&m).abs() > 1e-6);
    assert_positions_kept("2:5, ::-1, 1::2, 1:3", &[13, 12, 9, 4], &out);
}
