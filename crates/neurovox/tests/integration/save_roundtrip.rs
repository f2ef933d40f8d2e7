//! Saving: what neurovox writes reads back equal (here), and nibabel reads it equal
//! (`python/tests/test_nibabel_reads_neurovox.py` checks the files this test leaves in
//! `$NEUROVOX_SAVE_ROUNDTRIP_DIR`); saving over a loaded, memory-mapped source is safe.

// Helpers shared by the tests unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use crate::common;
use common::manifest_path;

use neurovox::image::{Caching, DataObj, Image};
use neurovox::image::{MmapMode, ProxyOptions};
use neurovox::image::{SaveOptions, save};
use neurovox::{ErrorKind, ImageFormat};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn roundtrip_dir() -> PathBuf {
    let dir = std::env::var_os("NEUROVOX_SAVE_ROUNDTRIP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::workspace_dir().join("target/save-roundtrip"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The extensions to re-save an image of `class` under (its own family, plain and gz).
fn targets(class: ImageFormat) -> &'static [&'static str] {
    match class {
        ImageFormat::Nifti1 | ImageFormat::Nifti2 => &["nii", "nii.gz"],
        ImageFormat::Mgh => &["mgh", "mgz"],
        _ => &["img", "img.gz"],
    }
}

/// Every nibabel-written file of the oracle matrix, re-saved by neurovox in its own format
/// (plain and compressed), reads back with the same values, shape and affine.
#[test]
fn oracle_files_resave_and_read_back_equal() {
    let Some(oracle) = common::oracle_dir(common::Oracle::Nibabel) else {
        return;
    };
    let out_dir = roundtrip_dir();
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(oracle.join("manifest.json")).unwrap())
            .unwrap();
    let mut written = Vec::new();
    let mut failures = Vec::new();
    for entry in manifest["files"].as_array().unwrap() {
        if entry["source"] != "matrix" || !entry["load_error"].is_null() || entry["data"].is_null()
        {
            continue;
        }
        let id = entry["id"].as_str().unwrap();
        let class = ImageFormat::from_nibabel_class(entry["class"].as_str().unwrap()).unwrap();
        let img = Image::load_as(
            manifest_path(&oracle, &entry["paths"]["image"]),
            Some(class),
            Default::default(),
        )
        .unwrap();
        let want = img.dataobj().to_array().unwrap();
        for ext in targets(class) {
            let target = out_dir.join(format!("{id}.{ext}"));
            if let Err(e) = save(&img, &target, SaveOptions::default()) {
                failures.push(format!("{id}.{ext}: save failed: {e}"));
                continue;
            }
            let back = Image::load_as(&target, Some(class), Default::default()).unwrap();
            let got = back.dataobj().to_array().unwrap();
            if got != want {
                failures.push(format!(
                    "{id}.{ext}: data differs ({:?} vs {:?})",
                    got.dtype(),
                    want.dtype()
                ));
            }
            if back.affine() != img.affine() {
                failures.push(format!(
                    "{id}.{ext}: affine {:?} vs {:?}",
                    back.affine(),
                    img.affine()
                ));
            }
            written.push(json!({
                "path": target.file_name().unwrap().to_str().unwrap(),
                "class": entry["class"],
                "original": manifest_path(&oracle, &entry["paths"]["image"]).to_string_lossy(),
                "dataobj_npy": entry["data"]["dataobj_npy"].as_str().map(|p| oracle.join(p).to_string_lossy().into_owned()),
                "affine": entry["image"]["affine"],
            }));
        }
    }
    std::fs::write(
        out_dir.join("manifest.json"),
        serde_json::to_string_pretty(&json!({ "files": written })).unwrap(),
    )
    .unwrap();
    check_with_gzip_tool(&out_dir);
    eprintln!("re-saved {} files", written.len());
    assert!(
        written.len() > 300,
        "too few files re-saved: {}",
        written.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// `gzip -t` accepts every .gz neurovox wrote and `gzip -dc` gives what neurovox reads.
fn check_with_gzip_tool(dir: &Path) {
    if std::process::Command::new("gzip")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: no gzip tool on this machine");
        return;
    }
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("gz") {
            continue;
        }
        let test = std::process::Command::new("gzip")
            .arg("-t")
            .arg(&path)
            .status()
            .unwrap();
        assert!(test.success(), "gzip -t {}", path.display());
        let plain = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(&path)
            .output()
            .unwrap();
        let (_, mut ours) = neurovox::io::open_decompressed(&path).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut ours, &mut bytes).unwrap();
        assert_eq!(plain.stdout, bytes, "gzip -dc {}", path.display());
        checked += 1;
    }
    assert!(checked > 100, "only {checked} .gz files checked");
}

/// Float data saved as int16 by a NIfTI image gets nibabel's slope and intercept, and reads
/// back within half a step of the scale.
#[test]
fn float_data_saved_as_integers_is_scaled() {
    let dir = tempfile::tempdir().unwrap();
    let data = ndarray::Array::from_shape_fn((4, 5, 6), |(i, j, k)| {
        (i as f64) * 10.5 - (j * k) as f64 / 3.0
    })
    .into_dyn();
    let img = Image::from_array(data.clone(), None, ImageFormat::Nifti1).unwrap();
    let target = dir.path().join("scaled.nii.gz");
    save(
        &img,
        &target,
        SaveOptions {
            dtype: Some(neurovox::DataType::Int16),
            ..Default::default()
        },
    )
    .unwrap();
    let mut back = neurovox::load(&target).unwrap();
    assert_eq!(
        back.header().data_dtype().unwrap().dtype,
        neurovox::DataType::Int16
    );
    let (slope, _) = back.header().slope_inter().unwrap();
    let slope = slope.unwrap();
    let read = back.get_fdata(Caching::Unchanged).unwrap();
    for (a, b) in read.iter().zip(data.iter()) {
        assert!(
            (a - b).abs() <= slope / 2.0 + 1e-9,
            "{a} vs {b} (slope {slope})"
        );
    }
}

/// Saving over the file an image was loaded and memory-mapped from: the new file reads back
/// right, and the old image reads its old data or says its file was replaced.
#[test]
fn save_over_a_mapped_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("img.nii");
    let data = ndarray::Array::from_shape_fn((6, 5, 4, 3), |(i, j, k, t)| {
        (i + 10 * j + 100 * k + 1000 * t) as i16
    })
    .into_dyn();
    save(
        &Image::from_array(data.clone(), None, ImageFormat::Nifti1).unwrap(),
        &path,
        SaveOptions::default(),
    )
    .unwrap();
    let old = Image::load_with(
        &path,
        ProxyOptions {
            mmap: MmapMode::CopyOnWrite,
            keep_file_open: None,
            ..Default::default()
        },
    )
    .unwrap();
    let DataObj::Proxy(p) = old.dataobj() else {
        unreachable!()
    };
    let map = p.memmap().unwrap().expect("mapped");
    let doubled = data.mapv(|v| v * 2);
    save(
        &Image::from_array(doubled.clone(), None, ImageFormat::Nifti1).unwrap(),
        &path,
        SaveOptions::default(),
    )
    .unwrap();
    // The map made before the save still shows the old values.
    assert_eq!(
        map.to_dyn_array(),
        neurovox::array::DynArray::from_array(data.clone())
    );
    match old.dataobj().to_array() {
        Ok(values) => assert_eq!(values, neurovox::array::DynArray::from_array(data)),
        Err(e) => assert_eq!(e.kind(), ErrorKind::Stale),
    }
    let new = neurovox::load(&path).unwrap();
    assert_eq!(
        new.dataobj().to_array().unwrap(),
        neurovox::array::DynArray::from_array(doubled)
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
}

/// Converting a proxy image streams it a volume at a time; the file is byte for byte the one
/// the same data gives from memory (same range, same factors, same rounding).
#[test]
fn streamed_conversion_equals_in_memory_conversion() {
    let dir = tempfile::tempdir().unwrap();
    let data = ndarray::Array::from_shape_fn((5, 4, 3, 6), |(i, j, k, t)| {
        (i as f64 - 2.0) * 3.25 + (j * k) as f64 * 0.1 - t as f64 * 7.5
    })
    .into_dyn();
    let source = dir.path().join("source.nii");
    save(
        &Image::from_array(data.clone(), None, ImageFormat::Nifti1).unwrap(),
        &source,
        SaveOptions::default(),
    )
    .unwrap();
    let as_int16 = SaveOptions {
        dtype: Some(neurovox::DataType::Int16),
        ..Default::default()
    };
    let from_proxy = dir.path().join("from_proxy.nii");
    save(&neurovox::load(&source).unwrap(), &from_proxy, as_int16).unwrap();
    let from_memory = dir.path().join("from_memory.nii");
    save(
        &Image::from_array(data, None, ImageFormat::Nifti1).unwrap(),
        &from_memory,
        as_int16,
    )
    .unwrap();
    assert_eq!(
        std::fs::read(&from_proxy).unwrap(),
        std::fs::read(&from_memory).unwrap()
    );
}
