//! The behaviours of `python/tests/doctests/seed000_images_and_memory.txt` ("Seed 000"),
//! `seed001_dataobj_images.txt` ("Seed 001") and `seed003_arrayproxy.txt` ("Seed 003"), one by
//! one, on nibabel's own `example4d.nii.gz`, plus nibabel's `_check_proxy_interface`
//! and `_check_array_caching` validators (docs/nibabel-rules.md §18).
//!
//! `example4d.nii.gz` is found through the oracle manifest (`tests/oracle/make_fixtures.py`
//! lists nibabel's test data with absolute paths); without it these tests say SKIPPED.

// Helpers shared by the tests unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use ndarray::{ArcArray, IxDyn};
use neurovox::array::DynArray;
use neurovox::array::Selection;
use neurovox::image::{Caching, DataObj, Image};
use neurovox::{ImageFormat, sel};
use std::path::{Path, PathBuf};

fn example4d() -> Option<PathBuf> {
    let dir = std::env::var_os("NEUROVOX_ORACLE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/oracle"));
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).ok();
    let found = manifest.and_then(|text| {
        let m: serde_json::Value = serde_json::from_str(&text).ok()?;
        m["files"]
            .as_array()?
            .iter()
            .find(|e| e["id"] == "testdata-example4d.nii.gz")
            .map(|e| PathBuf::from(e["paths"]["image"].as_str().unwrap_or_default()))
    });
    if found.is_none() {
        assert!(
            std::env::var("NEUROVOX_REQUIRE_ORACLE").as_deref() != Ok("1"),
            "example4d.nii.gz not in the oracle manifest"
        );
        eprintln!("SKIPPED: nibabel's example4d.nii.gz not found (run scripts/test.sh)");
    }
    found
}

fn same_buffer(a: &ArcArray<f64, IxDyn>, b: &ArcArray<f64, IxDyn>) -> bool {
    a.as_ptr() == b.as_ptr()
}

/// Seed 000: images loaded from disk are proxy images; nothing is read until asked.
#[test]
fn proxy_images_load_nothing_until_asked() {
    let Some(path) = example4d() else { return };
    let img = neurovox::load(&path).unwrap();
    assert!(img.dataobj().is_proxy());
    assert!(!img.in_memory());
    assert_eq!(img.shape(), &[128, 96, 24, 2]);
    let DataObj::Proxy(proxy) = img.dataobj() else {
        unreachable!()
    };
    assert_eq!(proxy.source().inflated_bytes(), 0, "loading read no data");
}

/// Seed 000: `get_data()` fills the cache and returns the cached array next time;
/// `uncache()` empties it and the next call reads a new array; `caching='unchanged'` leaves
/// an empty cache empty and a full one in use.
#[test]
fn get_data_caching_in_memory_and_uncache() {
    let Some(path) = example4d() else { return };
    let mut img = neurovox::load(&path).unwrap();
    let data = img.get_data(Caching::Fill).unwrap();
    assert_eq!(data.shape(), &[128, 96, 24, 2]);
    assert!(img.in_memory());
    let again = img.get_data(Caching::Fill).unwrap();
    assert!(same_dyn_buffer(&data, &again), "data is data_again");
    img.uncache();
    assert!(!img.in_memory());
    let once_more = img.get_data(Caching::Fill).unwrap();
    assert!(
        !same_dyn_buffer(&data, &once_more),
        "a new copy read from disk"
    );
    assert_eq!(data, once_more);

    let mut fresh = neurovox::load(&path).unwrap();
    fresh.get_data(Caching::Unchanged).unwrap();
    assert!(!fresh.in_memory());
    fresh.get_data(Caching::Fill).unwrap();
    fresh.get_data(Caching::Unchanged).unwrap();
    assert!(fresh.in_memory());
}

fn same_dyn_buffer(a: &DynArray, b: &DynArray) -> bool {
    neurovox::dyn_array_apply!(a, x => neurovox::dyn_array_apply!(b, y => std::ptr::eq(x.as_ptr().cast::<u8>(), y.as_ptr().cast::<u8>())))
}

/// Seed 000: `in_memory` is always true for array images, and `uncache` does nothing to them.
#[test]
fn array_images_are_always_in_memory() {
    let data = ndarray::Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 12 + j * 4 + k) as i16)
        .into_dyn();
    let affine = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 2.0, 0.0, 0.0],
        [0.0, 0.0, 3.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let mut img = Image::from_array(data, Some(affine), ImageFormat::Nifti1).unwrap();
    assert!(img.in_memory());
    img.uncache();
    assert!(img.in_memory());
    assert!(!img.dataobj().is_proxy());
}

/// Seed 000: modifying the cached array changes what later calls return, until `uncache`,
/// after which the file's values come back.
#[test]
fn modifications_are_seen_through_the_cache_until_uncache() {
    let Some(path) = example4d() else { return };
    let mut img = neurovox::load(&path).unwrap();
    let original = img.get_fdata(Caching::Fill).unwrap()[[0, 0, 0, 0]];
    img.get_fdata_mut::<f64>().unwrap()[[0, 0, 0, 0]] = 99.0;
    assert_eq!(img.get_fdata(Caching::Fill).unwrap()[[0, 0, 0, 0]], 99.0);
    img.uncache();
    assert_eq!(
        img.get_fdata(Caching::Fill).unwrap()[[0, 0, 0, 0]],
        original
    );
}

/// Seeds 000/003: slicing the proxy reads only the second volume; it equals that volume of the
/// full array.
#[test]
fn proxy_slicing_reads_one_volume() {
    let Some(path) = example4d() else { return };
    let img = neurovox::load(&path).unwrap();
    let vol1 = img.dataobj().read(&sel![.., .., .., 1]).unwrap();
    assert_eq!(vol1.shape(), &[128, 96, 24]);
    let vol1_ellipsis = img.dataobj().read(&sel![..., 1]).unwrap();
    assert_eq!(vol1, vol1_ellipsis);
    let full = img.dataobj().to_array().unwrap().to_f64().unwrap();
    let from_full = full.index_axis(ndarray::Axis(3), 1).to_owned().into_dyn();
    assert_eq!(vol1.to_f64().unwrap(), from_full);
}

/// Seed 003: the proxy API — read-only shape, `is_proxy`, reshape with -1 in the proxy's
/// (Fortran) order, and results independent of later header edits.
#[test]
fn proxy_api_shape_reshape_and_isolation() {
    let Some(path) = example4d() else { return };
    let mut img = neurovox::load(&path).unwrap();
    let DataObj::Proxy(proxy) = img.dataobj().clone() else {
        unreachable!()
    };
    assert!(proxy.is_proxy());
    assert_eq!(proxy.ndim(), 4);
    let before = proxy.read(sel![0, 0, 0, ..]).unwrap();
    img.header_mut().set_data_shape(&[1, 1, 1]).unwrap();
    img.header_mut()
        .set("scl_slope", neurovox::FieldValue::Float(5.0))
        .unwrap();
    assert_eq!(
        proxy.read(sel![0, 0, 0, ..]).unwrap(),
        before,
        "header edits do not reach the proxy"
    );
    let flat = proxy.reshape(&[-1, 2]).unwrap();
    assert_eq!(flat.shape(), &[128 * 96 * 24, 2]);
    let full = proxy
        .read(neurovox::array::Selection::all())
        .unwrap()
        .to_f64()
        .unwrap();
    let flat_all = flat
        .read(neurovox::array::Selection::all())
        .unwrap()
        .to_f64()
        .unwrap();
    // Fortran-order reinterpretation: element (i, t) of the reshaped array is voxel i of volume t.
    assert_eq!(flat_all[[128 * 5 + 3, 1]], full[[3, 5, 0, 1]]);
}

/// nibabel's `_check_proxy_interface`, step by step (docs/nibabel-rules.md §18).
#[test]
fn nibabel_proxy_interface_validator() {
    let Some(path) = example4d() else { return };
    let mut img = neurovox::load(&path).unwrap();
    // 1-2: a proxy; reading it does not put the image in memory.
    let proxy_data = img.dataobj().to_array().unwrap().to_f64().unwrap();
    assert!(!img.in_memory());
    // 3: unchanged leaves the cache empty.
    img.get_fdata(Caching::Unchanged).unwrap();
    assert!(!img.in_memory());
    // 4: fill caches; equal values.
    let data = img.get_fdata(Caching::Fill).unwrap();
    assert!(img.in_memory());
    assert_eq!(data.to_owned(), proxy_data);
    // 5: both caching modes return the cached object.
    assert!(same_buffer(
        &img.get_fdata(Caching::Unchanged).unwrap(),
        &data
    ));
    assert!(same_buffer(&img.get_fdata(Caching::Fill).unwrap(), &data));
    // 6: writing the cache changes get_fdata, not the proxy.
    img.get_fdata_mut::<f64>().unwrap().fill(42.0);
    assert!(
        img.get_fdata(Caching::Fill)
            .unwrap()
            .iter()
            .all(|&v| v == 42.0)
    );
    assert_eq!(
        img.dataobj().to_array().unwrap().to_f64().unwrap(),
        proxy_data
    );
    // 7: uncache brings the file's values back.
    img.uncache();
    assert!(!img.in_memory());
    assert_eq!(img.get_fdata(Caching::Fill).unwrap().to_owned(), proxy_data);
    // 9-10: float32 with 'unchanged' reads fresh data and leaves the float64 cache.
    img.get_fdata_mut::<f64>().unwrap().fill(42.0);
    let f32_data = img.get_fdata_as::<f32>(Caching::Unchanged).unwrap();
    assert_eq!(f32_data.to_owned(), proxy_data.mapv(|v| v as f32));
    assert!(
        img.get_fdata(Caching::Unchanged)
            .unwrap()
            .iter()
            .all(|&v| v == 42.0)
    );
    // 12-14: float32 with 'fill' replaces the one cache slot; float64 reads the file again.
    let f32_cached = img.get_fdata_as::<f32>(Caching::Fill).unwrap();
    assert_eq!(f32_cached.to_owned(), proxy_data.mapv(|v| v as f32));
    img.get_fdata_mut::<f32>().unwrap().fill(43.0);
    assert!(
        img.get_fdata_as::<f32>(Caching::Fill)
            .unwrap()
            .iter()
            .all(|&v| v == 43.0)
    );
    assert_eq!(
        img.get_fdata(Caching::Unchanged).unwrap().to_owned(),
        proxy_data
    );
    assert!("something".parse::<Caching>().is_err());
}

/// nibabel's `_check_array_caching`: for a float64 array image, get_fdata *is* the data
/// object; for other types, 'fill' caches a converted copy and 'unchanged' does not.
#[test]
fn nibabel_array_caching_validator() {
    let f64_data =
        ndarray::Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i + j + k) as f64).into_dyn();
    let mut img = Image::from_array(f64_data.clone(), None, ImageFormat::Nifti1).unwrap();
    let data = img.get_fdata(Caching::Unchanged).unwrap();
    let DataObj::Array(DynArray::F64(dataobj)) = img.dataobj() else {
        unreachable!()
    };
    assert!(same_buffer(&data, dataobj), "the data object itself");
    img.get_fdata_mut::<f64>().unwrap().fill(42.0);
    let DataObj::Array(DynArray::F64(dataobj)) = img.dataobj() else {
        unreachable!()
    };
    assert!(
        dataobj.iter().all(|&v| v == 42.0),
        "writes reach the data object"
    );
    img.uncache();
    assert!(
        img.get_fdata(Caching::Fill)
            .unwrap()
            .iter()
            .all(|&v| v == 42.0),
        "uncache has no effect"
    );

    for caching in [Caching::Fill, Caching::Unchanged] {
        let ints = ndarray::Array::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as i32).into_dyn();
        let mut img = Image::from_array(ints, None, ImageFormat::Nifti1).unwrap();
        img.get_fdata(caching).unwrap();
        img.get_fdata_mut::<f64>().unwrap().fill(42.0);
        let again = img.get_fdata(caching).unwrap();
        assert!(
            again.iter().all(|&v| v == 42.0),
            "mutable access always fills the cache"
        );
        img.uncache();
        assert_eq!(
            img.get_fdata(caching).unwrap()[[1, 2]],
            5.0,
            "uncache restores the values"
        );
        assert!(img.in_memory());
    }
}

/// Image slicing moves the affine to the first selected voxel — also for negative steps and
/// negative starts, which nibabel gets wrong (docs/nibabel-rules.md §8).
#[test]
fn slicer_affines_with_negative_steps() {
    let data = ndarray::Array::from_shape_fn((4, 5, 6), |(i, j, k)| (i * 100 + j * 10 + k) as f32)
        .into_dyn();
    let affine = [
        [2.0, 0.0, 0.0, 10.0],
        [0.0, 3.0, 0.0, 20.0],
        [0.0, 0.0, 4.0, 30.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let img = Image::from_array(data, Some(affine), ImageFormat::Nifti1).unwrap();
    let flipped = img
        .slicer(&Selection::from(vec![
            neurovox::array::SliceItem::Slice {
                start: None,
                stop: None,
                step: -1,
            },
            neurovox::array::SliceItem::Slice {
                start: Some(-2),
                stop: None,
                step: 1,
            },
            neurovox::array::SliceItem::Slice {
                start: Some(1),
                stop: None,
                step: 2,
            },
        ]))
        .unwrap();
    assert_eq!(flipped.shape(), &[4, 2, 3]);
    let a = flipped.affine().unwrap();
    assert_eq!(
        a[0],
        [-2.0, 0.0, 0.0, 10.0 + 3.0 * 2.0],
        "x starts at voxel 3 and runs backwards"
    );
    assert_eq!(
        a[1],
        [0.0, 3.0, 0.0, 20.0 + 3.0 * 3.0],
        "y starts at voxel 5-2 = 3"
    );
    assert_eq!(
        a[2],
        [0.0, 0.0, 8.0, 30.0 + 4.0],
        "z starts at 1 in steps of 2"
    );
    let voxel = flipped
        .dataobj()
        .to_array()
        .unwrap()
        .get_f64(&[0, 0, 0])
        .unwrap();
    assert_eq!(voxel, 331.0);
    assert_eq!(flipped.header().data_shape().unwrap(), vec![4, 2, 3]);
    assert!(
        img.slicer(&sel![0, .., ..]).is_err(),
        "scalar indices disallowed in spatial dimensions"
    );
    assert!(img.slicer(&sel![2..2, .., ..]).is_err(), "empty slice");
}
