//! Every PAR/REC recording nibabel ships reads as nibabel's `parrec` reads it.
//!
//! `tests/oracle/make_fixtures.py` copies each `.PAR` of nibabel's `tests/data` (and its
//! `.REC` when there is one) into the oracle directory and records, under each load option
//! set — `permit_truncated` × `strict_sort` × `scaling` (`dv`, `fp`) — what nibabel's
//! `PARRECHeader.from_fileobj` gives, or the error it raises; and for the three recordings
//! with a `.REC`, the arrays its `PARRECImage` reads (`.npy`). The manifest's `parrec` part
//! gives one trial per file and option set:
//!
//! - `oracle_parrec::header::<name>.PAR-<options>` parses the `.PAR` with
//!   [`ParrecHeader::parse_with`] and compares shape, dtype, zooms, slice order, scaling,
//!   volume labels, b values and vectors exactly and both affines (`scanner`, `fov` origin)
//!   to 1e-12; where nibabel refuses the header (or one of those values), so must we, with an
//!   error;
//! - `oracle_parrec::data::<name>.PAR-<options>` loads the recording with [`Image::load_with`]
//!   and compares shape, affine, stored dtype, the proxy's scaled values (`dataobj`),
//!   `get_fdata`, the stored values (`read_raw`, nibabel's `get_unscaled`) and a handful of
//!   slices of each, exactly; a recording nibabel refuses must fail to load.
//!
//! `<options>` is `[truncated-](lax|strict)-(dv|fp)`, e.g. `T1.PAR-truncated-strict-fp`.

use crate::common;
use crate::oracle_data::{load_npy_dyn, selections};
use crate::oracle_headers::Checker;
use common::{json_f64, json_usizes, manifest_path};

use libtest_mimic::{Failed, Trial};
use ndarray::Dimension;
use neurovox::array::{DynArray, Selection, slice_array};
use neurovox::format::affine::Affine;
use neurovox::format::parrec::{AffineOrigin, ParrecHeader, ParrecOptions, ParrecScaling};
use neurovox::image::{Caching, DataObj, Image, LoadOptions};
use neurovox::{Header, ImageFormat};
use serde_json::Value;
use std::fmt::{Debug, Display};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;

/// How far an affine element may be from nibabel's (the same products summed in another
/// order).
const AFFINE_TOLERANCE: f64 = 1e-12;

/// The trials: `oracle_parrec::coverage`, then `oracle_parrec::header::<id>` for each `.PAR`
/// and option set and `oracle_parrec::data::<id>` for each recording with a `.REC`.
pub fn trials() -> Vec<Trial> {
    let (dir, manifest, mut trials) =
        match crate::manifest_and_coverage("oracle_parrec", common::Oracle::Nibabel, coverage) {
            Ok(found) => found,
            Err(skipped) => return skipped,
        };
    type Check = fn(&Path, &Value) -> Result<(), String>;
    let kinds: [(&str, &str, Check); 2] = [
        ("header", "headers", header_matches_nibabel),
        ("data", "recordings", recording_matches_nibabel),
    ];
    for (kind, list, check) in kinds {
        let count = manifest["parrec"][list].as_array().map_or(0, Vec::len);
        for n in 0..count {
            let id = manifest["parrec"][list][n]["id"]
                .as_str()
                .expect("id")
                .to_owned();
            let (dir, manifest) = (Arc::clone(&dir), Arc::clone(&manifest));
            trials.push(Trial::test(
                format!("oracle_parrec::{kind}::{id}"),
                move || {
                    let case = &manifest["parrec"][list][n];
                    match std::panic::catch_unwind(AssertUnwindSafe(|| check(&dir, case))) {
                        Ok(result) => result.map_err(Failed::from),
                        Err(panic) => Err(format!("{id}: panicked: {}", panic_text(&panic)).into()),
                    }
                },
            ));
        }
    }
    trials
}

/// The manifest holds every `.PAR` under all eight option sets, the three recordings with a
/// `.REC`, and cases nibabel refuses.
fn coverage(manifest: &Value) {
    let parrec = &manifest["parrec"];
    let (Some(headers), Some(recordings)) = (
        parrec["headers"].as_array(),
        parrec["recordings"].as_array(),
    ) else {
        panic!("no `parrec` part in the manifest: run tests/oracle/make_fixtures.py again");
    };
    let refused = |cases: &[Value]| {
        cases
            .iter()
            .filter(|c| !c["nibabel"]["error"].is_null())
            .count()
    };
    let pars: std::collections::BTreeSet<&str> =
        headers.iter().filter_map(|c| c["par"].as_str()).collect();
    eprintln!(
        "{} PAR/REC header cases ({} .PAR files, {} refused by nibabel), {} recording cases \
         ({} refused)",
        headers.len(),
        pars.len(),
        refused(headers),
        recordings.len(),
        refused(recordings)
    );
    assert!(pars.len() >= 30, "too few .PAR files: {}", pars.len());
    assert_eq!(headers.len(), 8 * pars.len(), "8 option sets per .PAR");
    assert_eq!(
        recordings.len(),
        3 * 8,
        "3 recordings with a .REC, 8 option sets each"
    );
    assert!(refused(headers) > 0 && refused(recordings) > 0);
    assert!(recordings.len() - refused(recordings) >= 20);
}

/// The options of a case.
fn options_of(v: &Value) -> ParrecOptions {
    ParrecOptions {
        scaling: ParrecScaling::from_name(v["scaling"].as_str().expect("scaling"))
            .expect("dv or fp"),
        permit_truncated: v["permit_truncated"].as_bool().expect("permit_truncated"),
        strict_sort: v["strict_sort"].as_bool().expect("strict_sort"),
    }
}

pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// The same float, bit for bit (`-0.0` is not `0.0`); NaN equal to NaN.
pub(crate) fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// A JSON list of floats.
fn json_f64s(v: &Value) -> Option<Vec<f64>> {
    Some(v.as_array()?.iter().map(json_f64).collect())
}

pub(crate) fn same_f64s(ours: &[f64], theirs: &Value) -> bool {
    json_f64s(theirs).is_some_and(|t| {
        t.len() == ours.len() && ours.iter().zip(&t).all(|(a, b)| same_f64(*a, *b))
    })
}

fn affine_close(ours: &Affine, theirs: &Value) -> bool {
    let theirs: Vec<f64> = theirs
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(json_f64s)
        .flatten()
        .collect();
    theirs.len() == 16
        && ours
            .iter()
            .flatten()
            .zip(&theirs)
            .all(|(a, b)| (a - b).abs() <= AFFINE_TOLERANCE)
}

impl Checker {
    /// One of our results against nibabel's value or `{"error": ...}`: both fail, or both
    /// give values that are `same`.
    fn result<T: Debug, E: Display>(
        &mut self,
        what: &str,
        ours: Result<T, E>,
        theirs: &Value,
        same: impl FnOnce(&T, &Value) -> bool,
    ) {
        match (ours, theirs.get("error")) {
            (Err(_), Some(_)) => {}
            (Ok(v), None) => self.check(same(&v, theirs), || {
                format!("{what}: ours {v:?} vs nibabel's {theirs}")
            }),
            (Ok(v), Some(e)) => self.check(false, || {
                format!("{what}: nibabel raises {e}, we give {v:?}")
            }),
            (Err(e), None) => self.check(false, || {
                format!("{what}: we fail ({e}), nibabel gives {theirs}")
            }),
        }
    }

    pub(crate) fn finish(self) -> Result<(), String> {
        if self.failures.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{} mismatches:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        ))
    }
}

/// A `.PAR` parsed under one option set gives what nibabel's `PARRECHeader` gives.
fn header_matches_nibabel(dir: &Path, case: &Value) -> Result<(), String> {
    let id = case["id"].as_str().expect("id");
    let bytes = std::fs::read(manifest_path(dir, &case["par"])).map_err(|e| e.to_string())?;
    let options = options_of(&case["options"]);
    let theirs = &case["nibabel"];
    let parsed = ParrecHeader::parse_with(&bytes, options);
    if !theirs["error"].is_null() {
        return match parsed {
            Err(_) => Ok(()),
            Ok(h) => Err(format!(
                "{id}: nibabel refuses it ({}), we parse shape {:?}",
                theirs["error"],
                h.geometry().data_shape()
            )),
        };
    }
    let h = parsed.map_err(|e| format!("{id}: parse failed: {e}"))?;
    let mut c = Checker {
        id: id.to_owned(),
        failures: Vec::new(),
    };
    check_header(&h, options.scaling, theirs, &mut c);
    c.finish()
}

/// Every value nibabel's header gives under `scaling`.
fn check_header(h: &ParrecHeader, scaling: ParrecScaling, theirs: &Value, c: &mut Checker) {
    let geometry = h.geometry();
    let shape = geometry.data_shape();
    c.check(shape == json_usizes(&theirs["shape"]), || {
        format!("shape {shape:?} vs {}", theirs["shape"])
    });
    let dtype = geometry.data_dtype().numpy_str();
    c.check(theirs["dtype_str"] == dtype.as_str(), || {
        format!("dtype {dtype} vs {}", theirs["dtype_str"])
    });
    let zooms = geometry.zooms();
    c.check(same_f64s(zooms, &theirs["zooms"]), || {
        format!("zooms {zooms:?} vs {}", theirs["zooms"])
    });
    for (key, origin) in [
        ("affine", AffineOrigin::Scanner),
        ("affine_fov", AffineOrigin::Fov),
    ] {
        c.result(key, h.affine_from(origin), &theirs[key], affine_close);
    }
    c.result(
        "sorted slice indices",
        Ok::<_, String>(h.sorted_slice_indices()),
        &theirs["sorted_slice_indices"],
        |ours, t| json_usizes(t) == *ours,
    );
    c.result(
        "data scaling",
        h.data_scaling(scaling),
        &theirs["scaling"],
        |(slope, inter), t| same_f64s(slope, &t["slope"]) && same_f64s(inter, &t["inter"]),
    );
    c.result(
        "volume labels",
        Ok::<_, String>(h.volume_labels()),
        &theirs["volume_labels"],
        |ours, t| {
            let theirs: Vec<(&str, Vec<i64>)> = t
                .as_array()
                .into_iter()
                .flatten()
                .map(|pair| {
                    let values = pair[1].as_array().into_iter().flatten();
                    (
                        pair[0].as_str().unwrap_or_default(),
                        values.map(|v| v.as_i64().expect("int")).collect(),
                    )
                })
                .collect();
            ours.len() == theirs.len()
                && ours
                    .iter()
                    .zip(&theirs)
                    .all(|((a, x), (b, y))| a == b && x == y)
        },
    );
    c.result(
        "b values and vectors",
        h.bvals_bvecs(),
        &theirs["bvals_bvecs"],
        |(bvals, bvecs), t| {
            let bvals_same = match bvals {
                None => t["bvals"].is_null(),
                Some(ours) => same_f64s(ours, &t["bvals"]),
            };
            let bvecs_same = match bvecs {
                None => t["bvecs"].is_null(),
                Some(ours) => t["bvecs"].as_array().is_some_and(|rows| {
                    rows.len() == ours.len() && ours.iter().zip(rows).all(|(a, b)| same_f64s(a, b))
                }),
            };
            bvals_same && bvecs_same
        },
    );
}

/// Same element type, shape and values, floats bit for bit (NaN equal to NaN).
pub(crate) fn same_array(ours: &DynArray, theirs: &DynArray) -> bool {
    if ours.dtype() != theirs.dtype() || ours.shape() != theirs.shape() {
        return false;
    }
    match (ours, theirs) {
        // Through slices where both are in C order: much faster than `iter` in a debug build.
        (DynArray::F64(a), DynArray::F64(b)) => match (a.as_slice(), b.as_slice()) {
            (Some(x), Some(y)) => x.iter().zip(y).all(|(p, q)| same_f64(*p, *q)),
            _ => a.iter().zip(b.iter()).all(|(p, q)| same_f64(*p, *q)),
        },
        (DynArray::F32(a), DynArray::F32(b)) => a
            .iter()
            .zip(b.iter())
            .all(|(p, q)| same_f64(f64::from(*p), f64::from(*q))),
        (DynArray::U16(a), DynArray::U16(b)) => a == b,
        (DynArray::U8(a), DynArray::U8(b)) => a == b,
        _ => false,
    }
}

/// How two arrays that are not [`same_array`] differ: type and shape, or the first value.
fn difference(ours: &DynArray, theirs: &DynArray) -> String {
    let kinds = format!(
        "ours {:?} {:?}, nibabel's {:?} {:?}",
        ours.dtype(),
        ours.shape(),
        theirs.dtype(),
        theirs.shape()
    );
    if ours.dtype() != theirs.dtype() || ours.shape() != theirs.shape() {
        return kinds;
    }
    let first = match (ours, theirs) {
        (DynArray::F64(a), DynArray::F64(b)) => a
            .indexed_iter()
            .zip(b.iter())
            .find(|((_, p), q)| !same_f64(**p, **q))
            .map(|((at, p), q)| format!("{:?}: {p:?} vs {q:?}", at.slice())),
        (DynArray::F32(a), DynArray::F32(b)) => a
            .indexed_iter()
            .zip(b.iter())
            .find(|((_, p), q)| !same_f64(f64::from(**p), f64::from(**q)))
            .map(|((at, p), q)| format!("{:?}: {p:?} vs {q:?}", at.slice())),
        (DynArray::U16(a), DynArray::U16(b)) => a
            .indexed_iter()
            .zip(b.iter())
            .find(|((_, p), q)| p != q)
            .map(|((at, p), q)| format!("{:?}: {p} vs {q}", at.slice())),
        (DynArray::U8(a), DynArray::U8(b)) => a
            .indexed_iter()
            .zip(b.iter())
            .find(|((_, p), q)| p != q)
            .map(|((at, p), q)| format!("{:?}: {p} vs {q}", at.slice())),
        _ => None,
    };
    match first {
        Some(first) => format!("{kinds}; first difference at {first}"),
        None => kinds,
    }
}

impl Checker {
    /// One array we read against nibabel's.
    pub(crate) fn array<E: Display>(
        &mut self,
        what: &str,
        ours: Result<DynArray, E>,
        theirs: &DynArray,
    ) {
        match ours {
            Ok(ours) => self.check(same_array(&ours, theirs), || {
                format!("{what}: {}", difference(&ours, theirs))
            }),
            Err(e) => self.check(false, || format!("{what} failed: {e}")),
        }
    }
}

/// A recording loaded under one option set reads as nibabel's `PARRECImage` reads it.
fn recording_matches_nibabel(dir: &Path, case: &Value) -> Result<(), String> {
    let id = case["id"].as_str().expect("id");
    let par = manifest_path(dir, &case["par"]);
    let options = LoadOptions {
        parrec: options_of(&case["options"]),
        ..Default::default()
    };
    let theirs = &case["nibabel"];
    let loaded = Image::load_with(&par, options);
    if !theirs["error"].is_null() {
        return match loaded {
            Err(_) => Ok(()),
            Ok(img) => Err(format!(
                "{id}: nibabel refuses it ({}), we load shape {:?}",
                theirs["error"],
                img.shape()
            )),
        };
    }
    let mut img = loaded.map_err(|e| format!("{id}: load failed: {e}"))?;
    let mut c = Checker {
        id: id.to_owned(),
        failures: Vec::new(),
    };
    c.check(img.format() == ImageFormat::Parrec, || {
        format!("format {}", img.format())
    });
    c.check(img.shape() == json_usizes(&theirs["shape"]), || {
        format!("shape {:?} vs {}", img.shape(), theirs["shape"])
    });
    c.check(
        img.affine()
            .is_some_and(|a| affine_close(a, &theirs["affine"])),
        || format!("affine {:?} vs {}", img.affine(), theirs["affine"]),
    );
    match img.header() {
        Header::Parrec(h) => {
            let dtype = h.geometry().data_dtype().numpy_str();
            c.check(theirs["dtype_str"] == dtype.as_str(), || {
                format!("dtype {dtype} vs {}", theirs["dtype_str"])
            });
            c.check(h.options() == options.parrec, || {
                format!("header options {:?}", h.options())
            });
        }
        other => c.check(false, || format!("header {:?}", other.format())),
    }

    let npy = |key: &str| load_npy_dyn(&manifest_path(dir, &theirs[key])).0;
    let (want_scaled, want_fdata, want_raw) =
        (npy("dataobj_npy"), npy("fdata_npy"), npy("unscaled_npy"));
    let DataObj::Proxy(proxy) = img.dataobj() else {
        c.check(false, || "not a proxy image".into());
        return c.finish();
    };
    c.array("dataobj", img.dataobj().to_array(), &want_scaled);
    c.array(
        "read_raw (get_unscaled)",
        proxy.read_raw(Selection::all()),
        &want_raw,
    );
    for sel in selections(want_scaled.shape()) {
        let Ok(canonical) = sel.canonicalize(want_scaled.shape()) else {
            // Not a valid key for this shape: the proxy must refuse it too.
            c.check(img.dataobj().read(&sel).is_err(), || {
                format!("slice {sel:?} should be an error")
            });
            c.check(proxy.read_raw(sel.clone()).is_err(), || {
                format!("raw slice {sel:?} should be an error")
            });
            continue;
        };
        for (what, ours, theirs) in [
            ("slice", img.dataobj().read(&sel), &want_scaled),
            ("raw slice", proxy.read_raw(sel.clone()), &want_raw),
        ] {
            let theirs = slice_array(theirs, &canonical).expect("nibabel's array sliced");
            c.array(&format!("{what} {sel:?}"), ours, &theirs);
        }
    }
    let fdata = img.get_fdata(Caching::Unchanged).map(DynArray::F64);
    c.array("get_fdata", fdata, &want_fdata);
    c.finish()
}
