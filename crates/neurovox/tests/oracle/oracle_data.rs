//! Every array in the nibabel oracle reads back as nibabel reads it.
//!
//! For each file of `tests/oracle/make_fixtures.py`'s manifest with data, the fixture script
//! saved `np.asanyarray(img.dataobj)` and `img.get_fdata()` as `.npy`. One trial per file
//! loads it with neurovox (as the same image class) and compares: element type, stored byte
//! order for unscaled data, shape and every value exactly (NaN equal to NaN), for the whole
//! array, for `get_fdata`, and for a handful of slices of each array against the same slices
//! of nibabel's full array.

use crate::common;
use common::manifest_path;

use libtest_mimic::Trial;
use neurovox::ImageFormat;
use neurovox::array::DynArray;
use neurovox::array::slice_array;
use neurovox::array::{Selection, SliceItem};
use neurovox::image::{Caching, DataObj, Image};
use neurovox::numpy::npy::{read_npy_dyn, read_npy_header};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// A numpy-written .npy of any supported type, as a DynArray, with its stored byte order.
pub(crate) fn load_npy_dyn(path: &Path) -> (DynArray, neurovox::ByteOrder) {
    let order = read_npy_header(&mut std::fs::File::open(path).unwrap())
        .unwrap()
        .dtype
        .byte_order();
    let values = read_npy_dyn(&mut std::io::BufReader::new(
        std::fs::File::open(path).unwrap(),
    ))
    .unwrap();
    (values, order)
}

/// Exact equality, NaN equal to NaN, element type included.
fn same_values(a: &DynArray, b: &DynArray) -> bool {
    if a.dtype() != b.dtype() || a.shape() != b.shape() {
        return false;
    }
    macro_rules! cmp {
        ($($v:ident),*) => {
            match (a, b) {
                $((DynArray::$v(x), DynArray::$v(y)) => x.iter().zip(y.iter()).all(|(p, q)| p == q || (p != p && q != q)),)*
                _ => false,
            }
        };
    }
    cmp!(
        U8, I8, U16, I16, U32, I32, U64, I64, F32, F64, C64, C128, Rgb, Rgba
    )
}

/// A few selections of every kind for an array of `shape`: a late volume, a slab, negative
/// steps, a new axis, a single voxel.
pub(crate) fn selections(shape: &[usize]) -> Vec<Selection> {
    let full = || SliceItem::Slice {
        start: None,
        stop: None,
        step: 1,
    };
    let last = shape.len() as isize;
    let mut out = vec![
        Selection::from(vec![SliceItem::Ellipsis, SliceItem::Index(-1)]),
        Selection::from(vec![SliceItem::Index(0)]),
        Selection::from(vec![
            SliceItem::Slice {
                start: None,
                stop: None,
                step: -1,
            },
            SliceItem::Ellipsis,
        ]),
        Selection::from(
            shape
                .iter()
                .map(|&n| SliceItem::Index(n as isize - 1))
                .collect::<Vec<_>>(),
        ),
    ];
    if last >= 2 {
        out.push(Selection::from(vec![
            full(),
            SliceItem::NewAxis,
            SliceItem::Slice {
                start: Some(1),
                stop: None,
                step: 2,
            },
        ]));
    }
    if last >= 3 {
        out.push(Selection::from(vec![
            full(),
            SliceItem::Index(1),
            SliceItem::Slice {
                start: Some(-1),
                stop: None,
                step: -2,
            },
        ]));
    }
    out
}

/// Whether a manifest entry has arrays to compare, and if so whether nibabel saved them as
/// `.npy` (RGB files have none).
fn has_data(entry: &Value) -> bool {
    !entry["data"].is_null() && entry["load_error"].is_null()
}

/// The trials: `oracle_data::<id>` for each entry with a `.npy` of nibabel's arrays, and
/// `oracle_data::coverage`, which checks that there are enough of them.
pub fn trials() -> Vec<Trial> {
    let (dir, manifest, mut trials) =
        match crate::manifest_and_coverage("oracle_data", common::Oracle::Nibabel, coverage) {
            Ok(found) => found,
            Err(skipped) => return skipped,
        };
    for (n, entry) in manifest["files"].as_array().unwrap().iter().enumerate() {
        if !has_data(entry) || entry["data"]["dataobj_npy"].is_null() {
            continue;
        }
        let id = entry["id"].as_str().unwrap();
        let (dir, manifest) = (Arc::clone(&dir), Arc::clone(&manifest));
        trials.push(Trial::test(format!("oracle_data::{id}"), move || {
            let failures = array_reads_as_nibabel_reads_it(&dir, &manifest["files"][n]);
            if failures.is_empty() {
                return Ok(());
            }
            Err(format!("{} failures:\n{}", failures.len(), failures.join("\n")).into())
        }));
    }
    trials
}

/// Enough arrays to compare.
fn coverage(manifest: &Value) {
    let (mut checked, mut colour) = (0, 0);
    for entry in manifest["files"].as_array().unwrap() {
        if !has_data(entry) {
            continue;
        }
        if entry["data"]["dataobj_npy"].is_null() {
            colour += 1;
        } else {
            checked += 1;
        }
    }
    eprintln!("{checked} arrays to check with nibabel's ({colour} RGB files have no .npy)");
    assert!(checked > 1500, "too few arrays checked: {checked}");
}

/// Every array in the nibabel oracle reads back as nibabel reads it: one entry; the
/// mismatches found.
fn array_reads_as_nibabel_reads_it(dir: &Path, entry: &Value) -> Vec<String> {
    let mut failures = Vec::new();
    let data = &entry["data"];
    let id = entry["id"].as_str().unwrap();
    let class = ImageFormat::from_nibabel_class(entry["class"].as_str().unwrap()).unwrap();
    let path = manifest_path(dir, &entry["paths"]["image"]);
    let mut img = match Image::load_as(&path, Some(class), Default::default()) {
        Ok(img) => img,
        Err(e) => {
            failures.push(format!("{id}: load failed: {e}"));
            return failures;
        }
    };
    let (want, want_order) = load_npy_dyn(&manifest_path(dir, &data["dataobj_npy"]));
    let got = img.dataobj().to_array().unwrap();
    if !same_values(&got, &want) {
        failures.push(format!(
            "{id}: dataobj {:?} {:?} vs nibabel {:?} {:?}",
            got.dtype(),
            got.shape(),
            want.dtype(),
            want.shape()
        ));
    }
    if let DataObj::Proxy(p) = img.dataobj()
        && p.spec().scaling.is_identity()
        && want.dtype().component_size() > 1
        && p.dtype().order != want_order
    {
        failures.push(format!(
            "{id}: stored byte order {:?} vs nibabel's {want_order:?}",
            p.dtype().order
        ));
    }
    let (want_f, _) = load_npy_dyn(&manifest_path(dir, &data["fdata_npy"]));
    let got_f = DynArray::F64(img.get_fdata(Caching::Unchanged).unwrap());
    if !same_values(&got_f, &want_f) {
        failures.push(format!("{id}: get_fdata differs"));
    }
    for sel in selections(want.shape()) {
        let Ok(canonical) = sel.canonicalize(want.shape()) else {
            // Not a valid key for this shape: the proxy must refuse it too.
            if img.dataobj().read(&sel).is_ok() {
                failures.push(format!("{id}: slice {sel:?} should be an error"));
            }
            continue;
        };
        let want_part = slice_array(&want, &canonical).unwrap();
        match img.dataobj().read(&sel) {
            Ok(part) if same_values(&part, &want_part) => {}
            Ok(part) => failures.push(format!(
                "{id}: slice {sel:?} gives {:?} {:?}",
                part.dtype(),
                part.shape()
            )),
            Err(e) => failures.push(format!("{id}: slice {sel:?} failed: {e}")),
        }
    }
    failures
}
