//! Random numpy basic-indexing keys read through neurovox's proxies give numpy's answers.
//!
//! `tests/oracle/make_selection_fixtures.py` writes a handful of NIfTI-1 images with nibabel
//! (six dtypes, 1-D to 5-D, axes of length 1, scaled and unscaled, `.nii` and `.nii.gz`) and,
//! for each, numpy's answer `np.asanyarray(img.dataobj)[key]` to hundreds of random keys,
//! written in Python's syntax. Every key is parsed with `Selection::from_str` and read with
//! `img.dataobj().read(..)` from three sources: the `.nii` by positioned reads, the `.nii`
//! with memory mapping on (whose `memmap()` is also checked against the stored values), and
//! the `.nii.gz`. Element type, shape and every value must match (NaN equal to NaN). The keys
//! numpy rejects must be Usage errors.

use crate::common;

use libtest_mimic::Trial;
use neurovox::ErrorKind;
use neurovox::array::DynArray;
use neurovox::array::Selection;
use neurovox::image::{DataObj, Image};
use neurovox::image::{MmapMode, ProxyOptions};
use neurovox::numpy::npz::NpzArchive;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The three ways an image's data is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The `.nii`, by positioned reads, no file kept open.
    Positioned,
    /// The `.nii` with copy-on-write memory mapping.
    Mapped,
    /// The `.nii.gz`.
    Gzip,
}

const SOURCES: [Source; 3] = [Source::Positioned, Source::Mapped, Source::Gzip];

impl Source {
    fn load(self, dir: &Path, entry: &Value) -> Image {
        let (key, mmap) = match self {
            Source::Positioned => ("nii", MmapMode::No),
            Source::Mapped => ("nii", MmapMode::CopyOnWrite),
            Source::Gzip => ("nii_gz", MmapMode::No),
        };
        let path = dir.join(entry[key].as_str().unwrap());
        let keep_file_open = (self == Source::Positioned).then_some(false);
        Image::load_with(
            &path,
            ProxyOptions {
                mmap,
                keep_file_open,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// A member of numpy's answers, as a DynArray of the type numpy stored.
fn load_member(npz: &NpzArchive, name: &str) -> DynArray {
    npz.load_dyn(name).unwrap()
}

/// Why `got` is not numpy's `want`: element type, shape, or the first differing value.
fn difference(got: &DynArray, want: &DynArray) -> Option<String> {
    if got.dtype() != want.dtype() || got.shape() != want.shape() {
        return Some(format!(
            "got {} {:?}, numpy {} {:?}",
            got.dtype(),
            got.shape(),
            want.dtype(),
            want.shape()
        ));
    }
    macro_rules! first_diff {
        ($($v:ident),*) => {
            match (got, want) {
                $((DynArray::$v(x), DynArray::$v(y)) => x
                    .iter()
                    .zip(y.iter())
                    .position(|(p, q)| !(p == q || (p != p && q != q)))
                    .map(|k| format!("value {k} (C order): got {:?}, numpy {:?}", x.iter().nth(k), y.iter().nth(k))),)*
                _ => Some("unexpected element type".to_string()),
            }
        };
    }
    first_diff!(U8, I8, U16, I16, U32, I32, U64, I64, F32, F64, C64, C128)
}

/// One image of the manifest with numpy's answers loaded.
struct Case {
    id: String,
    entry: Value,
    keys: Vec<String>,
    answers: Vec<DynArray>,
    unscaled: DynArray,
    errors: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Loads one image of the manifest and numpy's answers for it.
fn load_case(dir: &Path, entry: &Value) -> Case {
    let npz = NpzArchive::open(dir.join(entry["answers"].as_str().unwrap())).unwrap();
    let keys = strings(&entry["keys"]);
    let answers = (0..keys.len())
        .map(|n| load_member(&npz, &format!("k{n}")))
        .collect();
    Case {
        id: entry["id"].as_str().unwrap().to_string(),
        unscaled: load_member(&npz, entry["unscaled"].as_str().unwrap()),
        errors: strings(&entry["errors"]),
        keys,
        answers,
        entry: entry.clone(),
    }
}

/// Reads one key from an image: `Err` describes a mismatch with numpy.
fn check_key(img: &Image, text: &str, want: &DynArray) -> Result<(), String> {
    let sel: Selection = text.parse().map_err(|e| format!("parse failed: {e}"))?;
    let again: Selection = sel.to_string().parse().map_err(|e| format!("{e}"))?;
    if again != sel {
        return Err(format!("{sel} parses back as {again}"));
    }
    let got = img
        .dataobj()
        .read(&sel)
        .map_err(|e| format!("read failed: {e}"))?;
    difference(&got, want).map_or(Ok(()), Err)
}

/// The whole-array checks of one source: a full read, and the memory map where there is one.
fn check_full(img: &Image, source: Source, case: &Case) -> Vec<String> {
    let mut failures = Vec::new();
    let DataObj::Proxy(proxy) = img.dataobj() else {
        return vec!["not a proxy".to_string()];
    };
    if let Some(d) = difference(&img.dataobj().to_array().unwrap(), &case.answers[0]) {
        failures.push(format!("full read: {d}"));
    }
    match (source, proxy.memmap()) {
        (Source::Mapped, Ok(Some(map))) => {
            if let Some(d) = difference(&map.to_dyn_array(), &case.unscaled) {
                failures.push(format!("memmap vs stored values: {d}"));
            }
        }
        (Source::Mapped, other) => failures.push(format!("no memory map: {other:?}")),
        (_, Ok(None)) => {}
        (_, other) => failures.push(format!("unexpected memory map: {other:?}")),
    }
    failures
}

/// The trials: `selection_oracle::<image id>::<source>` reads every key of one image from one
/// source; `selection_oracle::coverage` checks that there are enough keys.
pub fn trials() -> Vec<Trial> {
    let (dir, manifest, mut trials) =
        match crate::manifest_and_coverage("selection_oracle", common::Oracle::Selection, coverage)
        {
            Ok(found) => found,
            Err(skipped) => return skipped,
        };
    for (n, entry) in manifest["images"].as_array().unwrap().iter().enumerate() {
        let id = entry["id"].as_str().unwrap();
        for source in SOURCES {
            let (dir, manifest) = (Arc::clone(&dir), Arc::clone(&manifest));
            trials.push(Trial::test(
                format!("selection_oracle::{id}::{source:?}"),
                move || {
                    let case = load_case(&dir, &manifest["images"][n]);
                    random_keys_read_as_numpy_indexes(&dir, &case, source).map_err(Into::into)
                },
            ));
        }
    }
    trials
}

/// Enough (key × source) checks.
fn coverage(manifest: &Value) {
    let images = manifest["images"].as_array().unwrap();
    let (mut checks, mut error_checks) = (0usize, 0usize);
    for _source in SOURCES {
        for entry in images {
            checks += entry["keys"].as_array().unwrap().len();
            error_checks += entry["errors"].as_array().unwrap().len();
        }
    }
    eprintln!(
        "{checks} (key × source) checks against numpy and {error_checks} error-key checks, \
         {} images",
        images.len()
    );
    assert!(checks >= 2000 * 3, "too few checks: {checks}");
}

/// Random numpy basic-indexing keys read through neurovox's proxies give numpy's answers: one
/// image, one source.
fn random_keys_read_as_numpy_indexes(
    dir: &Path,
    case: &Case,
    source: Source,
) -> Result<(), String> {
    let mut failures = Vec::new();
    let start = Instant::now();
    let img = source.load(dir, &case.entry);
    let at = |what: String| format!("{} {source:?}: {what}", case.id);
    failures.extend(check_full(&img, source, case).into_iter().map(at));
    for (text, want) in case.keys.iter().zip(&case.answers) {
        if let Err(why) = check_key(&img, text, want) {
            failures.push(at(format!("key {text:?}: {why}")));
        }
    }
    for text in &case.errors {
        let sel: Selection = text.parse().unwrap();
        match img.dataobj().read(&sel) {
            Err(e) if e.kind() == ErrorKind::Usage => {}
            Err(e) => failures.push(at(format!("error key {text:?}: not Usage: {e}"))),
            Ok(a) => failures.push(at(format!(
                "error key {text:?}: numpy refuses it, neurovox gave {:?}",
                a.shape()
            ))),
        }
    }
    eprintln!(
        "{} {source:?}: {} key reads in {:.3} s",
        case.id,
        case.keys.len(),
        start.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} failures:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    ))
}
