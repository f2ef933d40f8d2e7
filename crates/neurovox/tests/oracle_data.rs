//! Every array in the nibabel oracle reads back as nibabel reads it.
//!
//! For each file of `tests/oracle/make_fixtures.py`'s manifest with data, the fixture script
//! saved `np.asanyarray(img.dataobj)` and `img.get_fdata()` as `.npy`. This test loads the file
//! with neurovox (as the same image class) and compares: element type, stored byte order for
//! unscaled data, shape and every value exactly (NaN equal to NaN), for the whole array, for
//! `get_fdata`, and for a handful of slices of each array against the same slices of
//! nibabel's full array.

// Helpers shared by the tests unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
use common::manifest_path;

use neurovox::array::slice_array;
use neurovox::array::DynArray;
use neurovox::array::{Selection, SliceItem};
use neurovox::image::{Caching, DataObj, Image};
use neurovox::numpy::npy::{read_npy_dyn, read_npy_header};
use neurovox::ImageFormat;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn oracle_dir() -> Option<PathBuf> {
    common::oracle_dir(common::Oracle::Nibabel)
}

/// A numpy-written .npy of any supported type, as a DynArray, with its stored byte order.
fn load_npy_dyn(path: &Path) -> (DynArray, neurovox::ByteOrder) {
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
    cmp!(U8, I8, U16, I16, U32, I32, U64, I64, F32, F64, C64, C128, Rgb, Rgba)
}

/// A few selections of every kind for an array of `shape`: a late volume, a slab, negative
/// steps, a new axis, a single voxel.
fn selections(shape: &[usize]) -> Vec<Selection> {
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

#[test]
fn every_oracle_array_reads_as_nibabel_reads_it() {
    let Some(dir) = oracle_dir() else { return };
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut failures = Vec::new();
    let (mut checked, mut colour) = (0, 0);
    for entry in manifest["files"].as_array().unwrap() {
        let data = &entry["data"];
        if data.is_null() || !entry["load_error"].is_null() {
            continue;
        }
        let id = entry["id"].as_str().unwrap();
        if data["dataobj_npy"].is_null() {
            colour += 1;
            continue;
        }
        let class = ImageFormat::from_nibabel_class(entry["class"].as_str().unwrap()).unwrap();
        let path = manifest_path(&dir, &entry["paths"]["image"]);
        let mut img = match Image::load_as(&path, Some(class), Default::default()) {
            Ok(img) => img,
            Err(e) => {
                failures.push(format!("{id}: load failed: {e}"));
                continue;
            }
        };
        let (want, want_order) = load_npy_dyn(&manifest_path(&dir, &data["dataobj_npy"]));
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
        if let DataObj::Proxy(p) = img.dataobj() {
            if p.spec().scaling.is_identity()
                && want.dtype().component_size() > 1
                && p.dtype().order != want_order
            {
                failures.push(format!(
                    "{id}: stored byte order {:?} vs nibabel's {want_order:?}",
                    p.dtype().order
                ));
            }
        }
        let (want_f, _) = load_npy_dyn(&manifest_path(&dir, &data["fdata_npy"]));
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
        checked += 1;
    }
    eprintln!("checked {checked} arrays with nibabel's ({colour} RGB files have no .npy)");
    assert!(checked > 1500, "too few arrays checked: {checked}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
