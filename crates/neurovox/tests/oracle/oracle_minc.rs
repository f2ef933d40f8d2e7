//! Every MINC1 and MINC2 file reads as nibabel's `minc1` and `minc2` read it.
//!
//! `tests/oracle/make_fixtures.py` (`describe_minc`) records what nibabel gives for every
//! `.mnc` of its `tests/data` (opened with `nib.load`, by absolute path) and for MINC files it
//! writes into the oracle directory's `minc/` at test time: MINC1 with nibabel's own netCDF
//! writer (classic and 64-bit offset, a record dimension, gzip- and bzip2-compressed whole),
//! MINC2 with h5py (contiguous and chunked, gzip and shuffle filters, both byte orders, old and
//! new HDF5 object formats; one gzipped whole, which nibabel refuses), in every stored type, with `image-min` / `image-max` over none, one or two
//! leading dimensions, time first, the spatial dimensions in `xspace,yspace,zspace` order,
//! oblique direction cosines and negative steps, and files nibabel refuses. The manifest's
//! `minc` part gives one trial per file and way of opening it:
//!
//! - `oracle_minc::<id>` opens the file as nibabel was asked to — [`neurovox::load`] for
//!   `nib.load`, [`Image::load_as`] with the format for `Minc1Image.from_filename` (a CDF-2
//!   file, which `nib.load` does not recognise and that class reads) — and compares the class
//!   ([`ImageFormat::nibabel_class`]), shape, stored dtype with its byte order, zooms exactly,
//!   the affine to 1e-12 relative, then the values exactly (floats bit for bit, NaN equal to
//!   NaN, element type included, not the byte order of nibabel's array — MINC1 floats come
//!   big-endian — which ours, in memory, does not have): the whole proxy (`np.asarray(img.dataobj)`), `get_fdata`,
//!   each key nibabel was asked for (`img.dataobj[key]`, keys in Python's spelling, which
//!   [`Selection`] parses), and a handful of slices of nibabel's whole array
//!   ([`selections`]). [`read_header_as`] must agree with the load on format, shape and
//!   dtype.
//!
//! Refusals: where nibabel's load raises, ours must fail. Where nibabel loads but raises when
//! data is read (a valid range outside the type's, scaling variables that do not fit the
//! image), we may refuse at load (docs/compat.md, "MINC1 and MINC2", difference 1); if we load,
//! every read — the whole array, `get_fdata`, every key — must fail.
//!
//! Ids are `testdata-<name>` for nibabel's files, `<name>` for a written file opened with
//! `nib.load` and `<name>::<Class>` with `Class.from_filename`, e.g.
//! `oracle_minc::minc1-cdf2-i2-z::Minc1Image`.

use crate::common;
use crate::oracle_data::{load_npy_dyn, selections};
use crate::oracle_headers::Checker;
use crate::oracle_parrec::{panic_text, same_f64s};
use common::{json_f64, json_usizes, manifest_path};

use libtest_mimic::{Failed, Trial};
use neurovox::ImageFormat;
use neurovox::array::{DynArray, Selection, slice_array};
use neurovox::format::affine::Affine;
use neurovox::image::{Caching, Image, LoadOptions, read_header_as};
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;

/// How far an affine element may be from nibabel's, relative to it (at least 1): the same
/// products, summed in another order.
const AFFINE_TOLERANCE: f64 = 1e-12;

/// The trials: `oracle_minc::coverage`, then `oracle_minc::<id>` for each case.
pub fn trials() -> Vec<Trial> {
    let (dir, manifest, mut trials) =
        match crate::manifest_and_coverage("oracle_minc", common::Oracle::Nibabel, coverage) {
            Ok(found) => found,
            Err(skipped) => return skipped,
        };
    let count = manifest["minc"].as_array().map_or(0, Vec::len);
    for n in 0..count {
        let id = manifest["minc"][n]["id"].as_str().expect("id").to_owned();
        let (dir, manifest) = (Arc::clone(&dir), Arc::clone(&manifest));
        trials.push(Trial::test(format!("oracle_minc::{id}"), move || {
            let case = &manifest["minc"][n];
            match std::panic::catch_unwind(AssertUnwindSafe(|| case_matches_nibabel(&dir, case))) {
                Ok(result) => result.map_err(Failed::from),
                Err(panic) => Err(format!("{id}: panicked: {}", panic_text(&panic)).into()),
            }
        }));
    }
    trials
}

/// The manifest holds every MINC file of nibabel's test data, written files of both versions,
/// the CDF-2 file opened both ways, and files nibabel refuses at load and at data reads.
fn coverage(manifest: &Value) {
    let Some(cases) = manifest["minc"].as_array() else {
        panic!("no `minc` part in the manifest: run tests/oracle/make_fixtures.py again");
    };
    let count = |keep: &dyn Fn(&Value) -> bool| cases.iter().filter(|c| keep(c)).count();
    let test_data = count(&|c| c["source"] == "nibabel-test-data");
    let refused = count(&|c| !c["nibabel"]["error"].is_null());
    let data_refused =
        count(&|c| c["nibabel"]["error"].is_null() && !c["nibabel"]["data_error"].is_null());
    let read = cases.len() - refused - data_refused;
    let of_class = |class: &str| count(&|c| c["nibabel"]["class"] == class);
    let keys: usize = cases
        .iter()
        .filter_map(|c| c["nibabel"]["slices"].as_array())
        .map(|s| s.iter().filter(|k| k["error"].is_null()).count())
        .sum();
    eprintln!(
        "{} MINC cases ({test_data} from nibabel's tests/data; {} Minc1Image, {} Minc2Image; \
         {refused} refused at load, {data_refused} when data is read), {keys} keys read",
        cases.len(),
        of_class("Minc1Image"),
        of_class("Minc2Image"),
    );
    assert!(test_data >= 10, "too few nibabel test files: {test_data}");
    assert!(cases.len() >= 40, "too few cases: {}", cases.len());
    assert!(of_class("Minc1Image") >= 15 && of_class("Minc2Image") >= 15);
    assert!(refused >= 4 && data_refused >= 4 && read >= 30);
    assert!(keys >= 200, "too few keys read: {keys}");
    let cdf2 = |opened: &str| {
        count(&|c| {
            c["id"].as_str().is_some_and(|id| id.contains("cdf2")) && c["opened_with"] == opened
        })
    };
    assert!(
        cdf2("load") >= 1 && cdf2("Minc1Image") >= 1,
        "the CDF-2 file opened with nib.load and with Minc1Image.from_filename"
    );
}

/// Every element within [`AFFINE_TOLERANCE`] of nibabel's, relative to it.
fn affine_close(ours: &Affine, theirs: &Value) -> bool {
    let theirs: Vec<f64> = theirs
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .map(json_f64)
        .collect();
    theirs.len() == 16
        && ours
            .iter()
            .flatten()
            .zip(&theirs)
            .all(|(a, b)| (a - b).abs() <= AFFINE_TOLERANCE * b.abs().max(1.0))
}

/// The format a case was opened as: `None` for `nib.load` (detected), else the class's.
fn forced_format(case: &Value) -> Option<ImageFormat> {
    match case["opened_with"].as_str().expect("opened_with") {
        "load" => None,
        class => Some(
            ImageFormat::from_nibabel_class(class)
                .unwrap_or_else(|| panic!("unknown class {class}")),
        ),
    }
}

/// One MINC file, opened as nibabel was asked to, gives what nibabel gives.
fn case_matches_nibabel(dir: &Path, case: &Value) -> Result<(), String> {
    let id = case["id"].as_str().expect("id");
    let path = manifest_path(dir, &case["path"]);
    let format = forced_format(case);
    let theirs = &case["nibabel"];
    let loaded = match format {
        None => neurovox::load(&path),
        Some(format) => Image::load_as(&path, Some(format), LoadOptions::default()),
    };
    let header = read_header_as(&path, format);
    if !theirs["error"].is_null() {
        return match (loaded, header) {
            (Err(_), Err(_)) => Ok(()),
            (Ok(img), _) => Err(format!(
                "{id}: nibabel refuses it ({}), we load {} shape {:?}",
                theirs["error"],
                img.format(),
                img.shape()
            )),
            (Err(_), Ok(info)) => Err(format!(
                "{id}: nibabel refuses it ({}), our load fails but read_header gives {}",
                theirs["error"], info.format
            )),
        };
    }
    let data_refused = !theirs["data_error"].is_null();
    let mut img = match loaded {
        Ok(img) => img,
        // Refused at load what nibabel refuses when data is read (docs/compat.md).
        Err(_) if data_refused => return Ok(()),
        Err(e) => return Err(format!("{id}: load failed: {e}")),
    };
    let mut c = Checker {
        id: id.to_owned(),
        failures: Vec::new(),
    };
    let class = img.format().nibabel_class();
    c.check(theirs["class"] == class, || {
        format!("class {class} vs nibabel's {}", theirs["class"])
    });
    let shape = json_usizes(&theirs["shape"]);
    c.check(img.shape() == shape, || {
        format!("shape {:?} vs {shape:?}", img.shape())
    });
    match img.header().data_dtype() {
        Ok(dtype) => c.check(theirs["dtype_str"] == dtype.numpy_str().as_str(), || {
            format!("dtype {dtype} vs {}", theirs["dtype_str"])
        }),
        Err(e) => c.check(false, || format!("data_dtype failed: {e}")),
    }
    let zooms = img.header().zooms();
    c.check(same_f64s(&zooms, &theirs["zooms"]), || {
        format!("zooms {zooms:?} vs {}", theirs["zooms"])
    });
    c.check(
        img.affine()
            .is_some_and(|a| affine_close(a, &theirs["affine"])),
        || format!("affine {:?} vs {}", img.affine(), theirs["affine"]),
    );
    match &header {
        Ok(info) => c.check(
            info.format == img.format()
                && info.header.data_shape().ok().as_deref() == Some(img.shape())
                && info.header.data_dtype().ok() == img.header().data_dtype().ok(),
            || {
                format!(
                    "read_header gives {} {:?} {:?}",
                    info.format,
                    info.header.data_shape(),
                    info.header.data_dtype()
                )
            },
        ),
        Err(e) => c.check(false, || format!("read_header failed: {e}")),
    }

    let slices = theirs["slices"].as_array().expect("slices");
    if data_refused {
        // nibabel loads it but refuses every read: so must we.
        c.check(img.dataobj().to_array().is_err(), || {
            format!(
                "nibabel refuses its data ({}), we read it",
                theirs["data_error"]
            )
        });
        c.check(img.get_fdata(Caching::Unchanged).is_err(), || {
            "nibabel refuses its data, our get_fdata reads it".into()
        });
        for key in slices {
            let text = key["key"].as_str().expect("key");
            let sel: Selection = text.parse().expect("a key in Python's spelling");
            c.check(img.dataobj().read(&sel).is_err(), || {
                format!("[{text}]: nibabel refuses its data, we read the key")
            });
        }
        return c.finish();
    }

    let npy = |v: &Value| load_npy_dyn(&manifest_path(dir, v)).0;
    let want = npy(&theirs["dataobj_npy"]);
    c.array("dataobj", img.dataobj().to_array(), &want);
    c.array(
        "get_fdata",
        img.get_fdata(Caching::Unchanged).map(DynArray::F64),
        &npy(&theirs["fdata_npy"]),
    );
    for key in slices {
        let text = key["key"].as_str().expect("key");
        let sel: Selection = text.parse().expect("a key in Python's spelling");
        let ours = img.dataobj().read(&sel);
        if key["error"].is_null() {
            c.array(&format!("dataobj[{text}]"), ours, &npy(&key["npy"]));
        } else {
            c.check(ours.is_err(), || {
                format!(
                    "dataobj[{text}]: nibabel raises {}, we read it",
                    key["error"]
                )
            });
        }
    }
    // And the usual selections, against nibabel's whole array.
    for sel in selections(want.shape()) {
        let ours = img.dataobj().read(&sel);
        match sel.canonicalize(want.shape()) {
            Ok(canonical) => {
                let theirs = slice_array(&want, &canonical).expect("nibabel's array sliced");
                c.array(&format!("slice {sel}"), ours, &theirs);
            }
            Err(_) => c.check(ours.is_err(), || format!("slice {sel} should be an error")),
        }
    }
    c.finish()
}
