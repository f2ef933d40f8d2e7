//! Issue 6: `Image::is_dirty` through every transition, `as_filename`, and image handles —
//! opened in this process and in a spawned one, and refused (Stale) after the file changed.
#![allow(clippy::unwrap_used)]

use ndarray::{Array, ArrayD};
use neurovox::format::Extension;
use neurovox::image::MmapMode;
use neurovox::image::{Caching, DataObj};
use neurovox::{DirtyReason, ErrorKind, FieldValue, Header, Image, ImageFormat, ImageHandle};
use std::path::{Path, PathBuf};

fn volume(shape: (usize, usize, usize, usize)) -> ArrayD<i16> {
    Array::from_shape_fn(shape, |(i, j, k, t)| {
        (i as i16 * 7 - j as i16 * 3 + k as i16 * 11 + t as i16 * 5) % 200
    })
    .into_dyn()
}

/// Saves a small int16 image as `name` in `dir` (format from the name) and returns the path.
fn saved(dir: &Path, name: &str, format: ImageFormat) -> PathBuf {
    let affine = [
        [2.0, 0.0, 0.0, -10.0],
        [0.0, 2.0, 0.0, -12.0],
        [0.0, 0.0, 2.5, 4.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let mut img = Image::from_array(volume((5, 6, 4, 3)), Some(affine), format).unwrap();
    let path = dir.join(name);
    img.to_filename(&path, Default::default()).unwrap();
    path
}

fn all_kinds(dir: &Path) -> Vec<PathBuf> {
    vec![
        saved(dir, "single.nii", ImageFormat::Nifti1),
        saved(dir, "single.nii.gz", ImageFormat::Nifti1),
        saved(dir, "two.nii", ImageFormat::Nifti2),
        saved(dir, "pair.hdr", ImageFormat::Nifti1Pair),
        saved(dir, "spm.img", ImageFormat::Spm2),
        saved(dir, "analyze.hdr", ImageFormat::Analyze),
        saved(dir, "fs.mgz", ImageFormat::Mgh),
    ]
}

fn is_header_change(reasons: &[DirtyReason], field: &str) -> bool {
    reasons
        .iter()
        .any(|r| matches!(r, DirtyReason::HeaderFields(f) if f.contains(&field)))
}

#[test]
fn fresh_loads_are_clean_and_memory_images_are_not() {
    let dir = tempfile::tempdir().unwrap();
    for path in all_kinds(dir.path()) {
        for mmap in [MmapMode::No, MmapMode::CopyOnWrite] {
            let options = neurovox::image::LoadOptions {
                mmap,
                keep_file_open: None,
                ..Default::default()
            };
            let img = Image::load_with(&path, options).unwrap();
            assert!(!img.is_dirty(), "{path:?}: {:?}", img.dirty_reasons());
            assert!(img.dirty_reasons().is_empty());
        }
    }
    let img = Image::from_array(volume((2, 2, 2, 1)), None, ImageFormat::Nifti1).unwrap();
    assert!(img.is_dirty());
    assert_eq!(img.dirty_reasons(), vec![DirtyReason::NoSnapshot]);
    let bytes = std::fs::read(dir.path().join("single.nii")).unwrap();
    assert!(Image::from_bytes(bytes).unwrap().is_dirty());
}

#[test]
fn header_fields_dirty_and_setting_them_back_cleans() {
    let dir = tempfile::tempdir().unwrap();
    for path in all_kinds(dir.path()) {
        let mut img = neurovox::load(&path).unwrap();
        let field = match img.format() {
            ImageFormat::Mgh => "tr",
            _ => "descrip",
        };
        let before = img.header().get(field).unwrap();
        let changed = match &before {
            FieldValue::Float(x) => FieldValue::Float(x + 1.5),
            _ => FieldValue::Bytes(b"edited in memory".to_vec()),
        };
        img.header_mut().set(field, changed).unwrap();
        assert!(img.is_dirty(), "{path:?}");
        assert!(is_header_change(&img.dirty_reasons(), field), "{path:?}");
        img.header_mut().set(field, before).unwrap();
        assert!(!img.is_dirty(), "{path:?}: {:?}", img.dirty_reasons());

        // A change through a typed setter names the fields it touched.
        let zooms = img.header().zooms();
        let mut bigger = zooms.clone();
        bigger[0] += 1.0;
        img.header_mut().set_zooms(&bigger).unwrap();
        assert!(img.is_dirty());
        img.header_mut().set_zooms(&zooms).unwrap();
        assert!(!img.is_dirty(), "{path:?}: {:?}", img.dirty_reasons());
    }
}

#[test]
fn nan_fields_compare_equal_to_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path(), "nan.nii", ImageFormat::Nifti1);
    let mut img = neurovox::load(&path).unwrap();
    img.header_mut()
        .set("scl_inter", FieldValue::Float(f64::NAN))
        .unwrap();
    assert!(is_header_change(&img.dirty_reasons(), "scl_inter"));
    img.mark_clean().unwrap();
    // NaN != NaN as numbers, but the field holds the same bytes: no change.
    img.header_mut()
        .set("scl_inter", FieldValue::Float(f64::NAN))
        .unwrap();
    assert!(!img.is_dirty(), "{:?}", img.dirty_reasons());
}

#[test]
fn extensions_dirty_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path(), "ext.nii", ImageFormat::Nifti1);
    let mut img = neurovox::load(&path).unwrap();
    let Header::Nifti(h) = img.header_mut() else {
        panic!("NIfTI")
    };
    h.extensions_mut()
        .push(Extension::new(6, b"a comment".to_vec()));
    assert!(img.dirty_reasons().contains(&DirtyReason::Extensions));
    let Header::Nifti(h) = img.header_mut() else {
        panic!("NIfTI")
    };
    h.extensions_mut().clear();
    assert!(!img.is_dirty());
}

#[test]
fn affine_change_dirty_and_back_clean() {
    let dir = tempfile::tempdir().unwrap();
    for path in all_kinds(dir.path()) {
        let mut img = neurovox::load(&path).unwrap();
        let original = *img.affine().unwrap();
        img.affine_mut().unwrap()[0][3] += 0.5;
        assert_eq!(img.dirty_reasons(), vec![DirtyReason::Affine], "{path:?}");
        *img.affine_mut().unwrap() = original;
        assert!(!img.is_dirty(), "{path:?}");
    }
}

#[test]
fn reading_data_never_dirties() {
    let dir = tempfile::tempdir().unwrap();
    for path in all_kinds(dir.path()) {
        let mut img = neurovox::load(&path).unwrap();
        let _ = img.dataobj().read(&neurovox::sel![.., .., 1, 2]).unwrap();
        let _ = img.get_fdata(Caching::Fill).unwrap();
        let _ = img.get_fdata_as::<f32>(Caching::Unchanged).unwrap();
        let _ = img.get_data(Caching::Fill).unwrap();
        assert!(img.in_memory());
        assert!(!img.is_dirty(), "{path:?}");
        // A returned array written to is a copy (copy-on-write), not the cache.
        let mut mine = img.get_fdata(Caching::Fill).unwrap();
        mine[[0, 0, 0, 0]] = 1e6;
        assert!(!img.is_dirty(), "{path:?}");
        assert_ne!(img.get_fdata(Caching::Fill).unwrap()[[0, 0, 0, 0]], 1e6);
    }
}

#[test]
fn mutable_access_dirties_only_when_values_change() {
    let dir = tempfile::tempdir().unwrap();
    for path in all_kinds(dir.path()) {
        let mut img = neurovox::load(&path).unwrap();
        // Mutable access without change: clean.
        let old = img.get_fdata(Caching::Fill).unwrap()[[1, 2, 3, 1]];
        img.get_fdata_mut::<f64>().unwrap()[[1, 2, 3, 1]] = old; // written back, same value
        assert!(!img.is_dirty(), "{path:?}");

        // Written back while an earlier returned array shares the buffer (the write copies
        // it first): still clean, and the earlier array keeps its values.
        let held = img.get_fdata(Caching::Fill).unwrap();
        img.get_fdata_mut::<f64>().unwrap()[[1, 2, 3, 1]] = old;
        assert!(!img.is_dirty(), "{path:?}: {:?}", img.dirty_reasons());
        drop(held);

        // One voxel changed: dirty, and the reason is the data.
        img.get_fdata_mut::<f64>().unwrap()[[1, 2, 3, 1]] = old + 1.0;
        assert_eq!(
            img.dirty_reasons(),
            vec![DirtyReason::DataModified],
            "{path:?}"
        );

        // Changed back by hand: clean again (compared by digest, not by a flag).
        img.get_fdata_mut::<f64>().unwrap()[[1, 2, 3, 1]] = old;
        assert!(!img.is_dirty(), "{path:?}");

        // Changed, then uncached: the cache is gone and the file unchanged, so clean.
        img.get_fdata_mut::<f64>().unwrap()[[0, 0, 0, 0]] = -5.0;
        assert!(img.is_dirty());
        img.uncache();
        assert!(!img.is_dirty(), "{path:?}");
        assert!(!img.in_memory());

        // Changed, then the cache replaced by a float32 fill: the change is gone too.
        img.get_fdata_mut::<f64>().unwrap()[[0, 0, 0, 0]] = -5.0;
        let _ = img.get_fdata_as::<f32>(Caching::Fill).unwrap();
        assert!(!img.is_dirty(), "{path:?}");
    }
}

#[test]
fn replacing_the_data_object_dirties() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path(), "a.nii", ImageFormat::Nifti1);
    let mut img = neurovox::load(&path).unwrap();
    let values = img.dataobj().to_array().unwrap();
    *img.dataobj_mut() = DataObj::Array(values);
    assert_eq!(img.dirty_reasons(), vec![DirtyReason::DataObjectReplaced]);
}

/// Sets a file's modification time `seconds` away from now.
fn touch(path: &Path, seconds: i64) {
    let when = std::time::SystemTime::now()
        .checked_add(std::time::Duration::from_secs(seconds.unsigned_abs()))
        .unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(when).unwrap();
}

#[test]
fn files_touched_or_rewritten_on_disk_dirty() {
    let dir = tempfile::tempdir().unwrap();
    for path in all_kinds(dir.path()) {
        // Touched.
        let img = neurovox::load(&path).unwrap();
        touch(&path, 3600);
        let reasons = img.dirty_reasons();
        assert!(
            matches!(&reasons[..], [DirtyReason::FileChanged { path: p, change }]
                if p == &path && change.contains("time")),
            "{path:?}: {reasons:?}"
        );

        // Rewritten in place with the same bytes but one (same size, same inode).
        let img = neurovox::load(&path).unwrap();
        let data_file = img.file_map().image.clone().unwrap();
        let mut bytes = std::fs::read(&data_file).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&data_file, &bytes).unwrap();
        assert!(img.is_dirty(), "{path:?}");
        // Undo it: the flipped byte is a gzip trailer's for compressed files, which a load
        // that reads to the end (an .mgz's tags) refuses as damaged.
        bytes[last] ^= 1;
        std::fs::write(&data_file, &bytes).unwrap();

        // Replaced by a save.
        let img = neurovox::load(&path).unwrap();
        let mut other = neurovox::load(&path).unwrap();
        let _ = other.get_fdata(Caching::Fill).unwrap();
        other.to_filename(&path, Default::default()).unwrap();
        assert!(
            img.dirty_reasons()
                .iter()
                .any(|r| matches!(r, DirtyReason::FileChanged { .. })),
            "{path:?}"
        );
    }
}

#[test]
fn a_new_spm_mat_sidecar_dirties() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path(), "spm.img", ImageFormat::Spm99);
    let mat = dir.path().join("spm.mat");
    let had_mat = mat.exists();
    let img = neurovox::load(&path).unwrap();
    if had_mat {
        std::fs::remove_file(&mat).unwrap();
    } else {
        std::fs::write(&mat, b"not really a mat file").unwrap();
    }
    let reasons = img.dirty_reasons();
    assert!(
        reasons
            .iter()
            .any(|r| matches!(r, DirtyReason::FileChanged { path, .. } if path == &mat)),
        "{reasons:?}"
    );
}

#[test]
fn mark_clean_and_mark_dirty() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path(), "a.nii.gz", ImageFormat::Nifti1);
    let mut img = neurovox::load(&path).unwrap();
    img.mark_dirty();
    assert_eq!(img.dirty_reasons(), vec![DirtyReason::MarkedDirty]);
    img.uncache();
    assert!(img.is_dirty(), "only mark_clean undoes mark_dirty");
    img.mark_clean().unwrap();
    assert!(!img.is_dirty());

    // mark_clean accepts the present state, and changes are measured from it.
    img.get_fdata_mut::<f64>().unwrap()[[0, 0, 0, 0]] = 99.0;
    img.header_mut()
        .set("descrip", FieldValue::Bytes(b"accepted".to_vec()))
        .unwrap();
    assert!(img.is_dirty());
    img.mark_clean().unwrap();
    assert!(!img.is_dirty(), "{:?}", img.dirty_reasons());
    img.get_fdata_mut::<f64>().unwrap()[[0, 0, 0, 0]] = 98.0;
    assert_eq!(img.dirty_reasons(), vec![DirtyReason::DataModified]);
    img.get_fdata_mut::<f64>().unwrap()[[0, 0, 0, 0]] = 99.0;
    assert!(!img.is_dirty());

    // An image made in memory has no file to be clean against.
    let mut fresh = Image::from_array(volume((2, 2, 2, 1)), None, ImageFormat::Nifti1).unwrap();
    assert_eq!(fresh.mark_clean().unwrap_err().kind(), ErrorKind::Usage);
    assert!(fresh.is_dirty());

    // Saved with a cast, the image does not match its file until the caller who knows
    // better marks it clean; its array is then tracked by digest.
    let saved_path = dir.path().join("fresh.nii");
    let as_float = neurovox::image::SaveOptions {
        dtype: Some(neurovox::DataType::Float32),
        ..Default::default()
    };
    fresh.to_filename(&saved_path, as_float).unwrap();
    let reasons = fresh.dirty_reasons();
    assert!(
        matches!(&reasons[..], [DirtyReason::SavedWithCast(cast)]
            if cast.from == neurovox::DataType::Int16 && cast.to == neurovox::DataType::Float32),
        "{reasons:?}"
    );
    assert!(
        reasons[0]
            .to_string()
            .contains("int16 values stored as float32")
    );
    fresh.mark_clean().unwrap();
    assert!(!fresh.is_dirty());
    let DataObj::Array(neurovox::array::DynArray::I16(a)) = fresh.dataobj_mut() else {
        panic!("int16 array image")
    };
    a[[0, 0, 0, 0]] += 1;
    assert_eq!(fresh.dirty_reasons(), vec![DirtyReason::DataModified]);
}

#[test]
fn a_save_that_keeps_the_values_leaves_the_image_clean() {
    let dir = tempfile::tempdir().unwrap();
    // Array images of every format family, saved as their own type.
    for (name, format) in [
        ("a.nii", ImageFormat::Nifti1),
        ("a.nii.gz", ImageFormat::Nifti1),
        ("b.hdr", ImageFormat::Nifti1Pair),
        ("c.nii", ImageFormat::Nifti2),
        ("d.img", ImageFormat::Spm2),
        ("e.hdr", ImageFormat::Analyze),
        ("f.mgz", ImageFormat::Mgh),
    ] {
        let path = dir.path().join(name);
        let mut img = Image::from_array(volume((3, 4, 5, 2)), None, format).unwrap();
        let outcome = img.to_filename(&path, Default::default()).unwrap();
        assert_eq!(outcome.cast, None, "{name}");
        assert!(!img.is_dirty(), "{name}: {:?}", img.dirty_reasons());
        // as_filename gives the saved file, writing nothing.
        let before = files_in(dir.path());
        let files = img.as_filename(Some(dir.path())).unwrap();
        assert!(!files.is_copy, "{name}");
        assert_eq!(
            files.image,
            neurovox::image::header_and_image_paths(&path).1
        );
        assert_eq!(files_in(dir.path()), before, "{name}: nothing written");
        // Later changes are seen: a header field, the array, the file on disk.
        img.header_mut()
            .set("descrip", FieldValue::Bytes(b"edited".to_vec()))
            .ok();
        if format != ImageFormat::Mgh {
            assert!(img.is_dirty(), "{name}: header edit");
        }
        img.to_filename(&path, Default::default()).unwrap();
        assert!(!img.is_dirty(), "{name}");
        if let DataObj::Array(neurovox::array::DynArray::I16(a)) = img.dataobj_mut() {
            a[[0, 0, 0, 0]] += 1;
        }
        assert_eq!(
            img.dirty_reasons(),
            vec![DirtyReason::DataModified],
            "{name}"
        );
        img.to_filename(&path, Default::default()).unwrap();
        assert!(!img.is_dirty(), "{name}");
        touch(&neurovox::image::header_and_image_paths(&path).1, 1000);
        assert!(img.is_dirty(), "{name}: file touched");
    }

    // A loaded image saved elsewhere matches the new file, and still watches the file its
    // proxy reads.
    let source = saved(dir.path(), "source.nii", ImageFormat::Nifti1);
    let mut img = neurovox::load(&source).unwrap();
    let copy = dir.path().join("copy.nii.gz");
    assert_eq!(
        img.to_filename(&copy, Default::default()).unwrap().cast,
        None
    );
    assert!(!img.is_dirty(), "{:?}", img.dirty_reasons());
    assert_eq!(img.file_map().image.as_deref(), Some(copy.as_path()));
    touch(&source, 2000);
    assert!(
        img.dirty_reasons()
            .iter()
            .any(|r| matches!(r, DirtyReason::FileChanged { path, .. } if *path == source)),
        "{:?}",
        img.dirty_reasons()
    );

    // A float cache changed in place before the save: the save wrote the data object, so
    // the cache (what get_fdata shows) still differs from the new file.
    let mut img = neurovox::load(&source).unwrap();
    img.get_fdata_mut::<f64>().unwrap()[[0, 0, 0, 0]] += 1.0;
    img.to_filename(dir.path().join("edited.nii"), Default::default())
        .unwrap();
    assert_eq!(img.dirty_reasons(), vec![DirtyReason::DataModified]);
    img.uncache();
    assert!(!img.is_dirty(), "{:?}", img.dirty_reasons());

    // Scaled on the way (float64 to int16 through the scaling writer): dirty, saying so.
    let floats = volume((3, 4, 5, 2)).mapv(|v| f64::from(v) / 3.0);
    let mut img = Image::from_array(floats, None, ImageFormat::Nifti1).unwrap();
    let to_int16 = neurovox::image::SaveOptions {
        dtype: Some(neurovox::DataType::Int16),
        ..Default::default()
    };
    let outcome = img
        .to_filename(dir.path().join("scaled.nii"), to_int16)
        .unwrap();
    let cast = outcome.cast.expect("scaled");
    assert_eq!(
        (cast.from, cast.to),
        (neurovox::DataType::Float64, neurovox::DataType::Int16)
    );
    assert!(cast.slope != 1.0, "{cast}");
    assert_eq!(img.dirty_reasons(), vec![DirtyReason::SavedWithCast(cast)]);

    // Another format: values kept, header fields lost: dirty, saying so.
    let mut img = Image::from_array(volume((3, 4, 5, 2)), None, ImageFormat::Nifti1).unwrap();
    img.to_filename(dir.path().join("as.mgh"), Default::default())
        .unwrap();
    assert_eq!(
        img.dirty_reasons(),
        vec![DirtyReason::SavedAsFormat(ImageFormat::Mgh)]
    );
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
}

#[test]
fn as_filename_returns_the_original_for_a_clean_image_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    for path in all_kinds(dir.path()) {
        let img = neurovox::load(&path).unwrap();
        let before = files_in(dir.path());
        let files = img.as_filename(Some(scratch.path())).unwrap();
        assert!(!files.is_copy);
        assert_eq!(Some(&files.header), img.file_map().header.as_ref());
        assert_eq!(Some(&files.image), img.file_map().image.as_ref());
        assert_eq!(
            files_in(dir.path()),
            before,
            "nothing written beside the image"
        );
        assert!(
            files_in(scratch.path()).is_empty(),
            "nothing written in the scratch dir"
        );
    }
}

#[test]
fn as_filename_saves_a_readable_equal_copy_of_a_dirty_image() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    for path in all_kinds(dir.path()) {
        let mut img = neurovox::load(&path).unwrap();
        img.get_fdata_mut::<f64>().unwrap()[[4, 5, 3, 2]] = 123.0;
        let mut affine = *img.affine().unwrap();
        affine[1][3] = 40.0;
        *img.affine_mut().unwrap() = affine;
        assert!(img.is_dirty());

        let files = img.as_filename(Some(scratch.path())).unwrap();
        assert!(files.is_copy);
        assert!(files.header.starts_with(scratch.path()));
        assert!(files.header.exists() && files.image.exists(), "{files:?}");
        let mut copy = neurovox::load(&files.image).unwrap();
        assert_eq!(copy.format(), img.format(), "{path:?}");
        assert!(!copy.is_dirty());
        let ours = img.get_fdata(Caching::Fill).unwrap();
        let theirs = copy.get_fdata(Caching::Fill).unwrap();
        assert_eq!(ours, theirs, "{path:?}");
        let a = copy.affine().unwrap();
        for (x, y) in a.iter().flatten().zip(affine.iter().flatten()) {
            assert!((x - y).abs() < 1e-5, "{path:?}: {a:?} vs {affine:?}");
        }
        // The copy's own as_filename is the copy.
        assert_eq!(copy.as_filename(None).unwrap().image, files.image);
    }
    // The default directory is the system's temporary directory.
    let img = Image::from_array(volume((2, 2, 2, 1)), None, ImageFormat::Nifti1).unwrap();
    let files = img.as_filename(None).unwrap();
    assert!(files.image.starts_with(std::env::temp_dir()));
    assert!(neurovox::load(&files.image).is_ok());
    std::fs::remove_file(&files.image).unwrap();
}

#[test]
fn handles_reopen_without_data_and_refuse_changed_files() {
    let dir = tempfile::tempdir().unwrap();
    for path in all_kinds(dir.path()) {
        let mut img = neurovox::load(&path).unwrap();
        let handle = img.handle().unwrap();
        let json = serde_json::to_string(&handle).unwrap();
        assert!(json.len() < 1200, "{} bytes: {json}", json.len());
        let back: ImageHandle = serde_json::from_str(&json).unwrap();
        assert_eq!(back, handle);
        let mut opened = back.open().unwrap();
        assert!(opened.dataobj().is_proxy());
        assert!(!opened.in_memory());
        assert!(!opened.is_dirty());
        assert_eq!(opened.format(), img.format());
        assert_eq!(
            opened.get_fdata(Caching::Fill).unwrap(),
            img.get_fdata(Caching::Fill).unwrap()
        );
        assert_eq!(opened.affine(), img.affine());
        assert_eq!(opened.header(), img.header());

        // A dirty image gives no handle.
        img.header_mut()
            .set("descrip", FieldValue::Bytes(b"x".to_vec()))
            .unwrap_or(());
        if img.is_dirty() {
            let e = img.handle().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Usage);
            assert!(e.to_string().contains("descrip"), "{e}");
        }

        // The file touched since: Stale, naming the file.
        touch(&path, -3600);
        let e = handle.open().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Stale, "{path:?}: {e}");
        assert!(e.to_string().contains(&*path.to_string_lossy()) || e.path().is_some());
    }
}

const HANDLE_VAR: &str = "NEUROVOX_TEST_HANDLE_JSON";
const RESULT_VAR: &str = "NEUROVOX_TEST_HANDLE_RESULT";

/// Runs the child test with `handle` and returns what it wrote.
fn open_in_another_process(handle: &ImageHandle, dir: &Path) -> String {
    let result = dir.join("child-result.txt");
    let _ = std::fs::remove_file(&result);
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &crate::common::test_name(module_path!(), "child_opens_a_handle"),
            "--ignored",
            "--quiet",
        ])
        .env(HANDLE_VAR, serde_json::to_string(handle).unwrap())
        .env(RESULT_VAR, &result)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    std::fs::read_to_string(&result).unwrap()
}

fn describe(img: &mut Image) -> String {
    let data = img.get_fdata(Caching::Fill).unwrap();
    let sum: f64 = data.iter().sum();
    let vol = img.dataobj().read(&neurovox::sel![.., .., .., 2]).unwrap();
    format!(
        "shape={:?} sum={sum} digest={:032x} affine={:?}",
        img.shape(),
        vol.content_digest(),
        img.affine()
    )
}

#[test]
fn a_handle_sent_to_another_process_reads_the_same_data_or_stale() {
    let dir = tempfile::tempdir().unwrap();
    for path in all_kinds(dir.path()) {
        let mut img = neurovox::load(&path).unwrap();
        let handle = img.handle().unwrap();
        let theirs = open_in_another_process(&handle, dir.path());
        assert_eq!(theirs, format!("ok {}", describe(&mut img)), "{path:?}");

        // Rewritten since the handle was made (same shape, other values): Stale there.
        let mut other = neurovox::load(&path).unwrap();
        other.get_fdata_mut::<f64>().unwrap()[[0, 0, 0, 2]] += 1.0;
        other.to_filename(&path, Default::default()).unwrap();
        let theirs = open_in_another_process(&handle, dir.path());
        assert!(theirs.starts_with("error Stale"), "{path:?}: {theirs}");
    }
}

/// The other process of `a_handle_sent_to_another_process_reads_the_same_data_or_stale`.
#[test]
#[ignore = "run as the child process of a_handle_sent_to_another_process_reads_the_same_data_or_stale"]
fn child_opens_a_handle() {
    let (Ok(json), Some(result)) = (std::env::var(HANDLE_VAR), std::env::var_os(RESULT_VAR)) else {
        return; // run alone (--include-ignored): nothing to do
    };
    let handle: ImageHandle = serde_json::from_str(&json).unwrap();
    let report = match handle.open() {
        Ok(mut img) => format!("ok {}", describe(&mut img)),
        Err(e) => format!("error {:?} {e}", e.kind()),
    };
    std::fs::write(result, report).unwrap();
}
