//! neurovox's write scaling chooses nibabel's scale factors and writes nibabel's bytes.
//!
//! `tests/oracle/make_writer_fixtures.py` (run by `scripts/test.sh`) runs nibabel's array
//! writers (`make_array_writer` → `get_slope_inter` → `to_fileobj(order='F')`) on thousands of
//! (input array, output dtype, writer kind) cases: every input dtype with positive, negative,
//! mixed, tiny, constant, NaN, ±inf, all-NaN, empty and near-the-limit values, written as every
//! integer and float type. For each case a trial runs [`choose_scaling`] and
//! [`write_values`] on the same input and compares
//!
//! * the error, if nibabel raised one (kind Usage and nibabel's message);
//! * the slope and intercept as float32 bit patterns (the sign of a zero too);
//! * every written byte;
//! * and, for arrays of two or more axes, the same bytes when the range is computed and the
//!   data written one slab (last axis) at a time: [`DataRange::merge`],
//!   [`choose_scaling_for_range`] and `write_values` on each slab.
//!
//! The fixtures live in `$NEUROVOX_WRITER_ORACLE_DIR` (default `target/writer-oracle`).
//! Without them one ignored trial says so, unless `NEUROVOX_REQUIRE_ORACLE=1` (set by
//! `scripts/test.sh`), which makes it fail.

use crate::common;
use common::hex;

use libtest_mimic::Trial;
use ndarray::Axis;
use neurovox::array::{DynArray, DynElement};
use neurovox::internals::{
    DataRange, WriteScaling, WriterKind, choose_scaling, choose_scaling_for_range, write_values,
};
use neurovox::numpy::npy::{descr_to_dtype, load_npy};
use neurovox::{DataType, ErrorKind, StorageDtype};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

fn load_input(dir: &Path, rel: &str, descr: &str) -> DynArray {
    fn load<T: DynElement>(path: &Path) -> DynArray {
        DynArray::from_array(load_npy::<T>(path, None).unwrap().to_array())
    }
    let path = dir.join(rel);
    match descr_to_dtype(descr).unwrap().dtype {
        DataType::UInt8 => load::<u8>(&path),
        DataType::Int8 => load::<i8>(&path),
        DataType::UInt16 => load::<u16>(&path),
        DataType::Int16 => load::<i16>(&path),
        DataType::UInt32 => load::<u32>(&path),
        DataType::Int32 => load::<i32>(&path),
        DataType::UInt64 => load::<u64>(&path),
        DataType::Int64 => load::<i64>(&path),
        DataType::Float32 => load::<f32>(&path),
        DataType::Float64 => load::<f64>(&path),
        other => panic!("no input of type {other}"),
    }
}

fn kind(name: &str) -> WriterKind {
    match name {
        "SlopeInter" => WriterKind::SlopeInter,
        "Slope" => WriterKind::Slope,
        "NoScaling" => WriterKind::NoScaling,
        other => panic!("unknown writer kind {other}"),
    }
}

/// The slabs of `data` along its last axis (Fortran order concatenates them).
fn slabs(data: &DynArray) -> Vec<DynArray> {
    fn split<T: DynElement>(a: &ndarray::ArcArray<T, ndarray::IxDyn>) -> Vec<DynArray> {
        let last = Axis(a.ndim() - 1);
        (0..a.len_of(last))
            .map(|i| DynArray::from_array(a.index_axis(last, i).to_owned()))
            .collect()
    }
    neurovox::dyn_array_apply!(data, a => split(a))
}

/// Writes `data` slab by slab, choosing the scaling from merged slab ranges.
fn write_streamed(
    data: &DynArray,
    out: StorageDtype,
    kind: WriterKind,
) -> neurovox::Result<(WriteScaling, Vec<u8>)> {
    let parts = slabs(data);
    let mut range = DataRange::of(&parts[0]);
    for p in &parts[1..] {
        range.merge(&DataRange::of(p))?;
    }
    let scaling = choose_scaling_for_range(&range, out.dtype, kind)?;
    let mut bytes = Vec::new();
    for p in &parts {
        write_values(p, out, &scaling, kind, &mut bytes)?;
    }
    Ok((scaling, bytes))
}

/// The inputs, each loaded once and shared by the cases that write it.
type Inputs = Mutex<HashMap<String, DynArray>>;

/// The trials: `writer_oracle::<case id>` for each (input, output dtype, writer kind) case,
/// and `writer_oracle::coverage`, which checks that there are enough of them.
pub fn trials() -> Vec<Trial> {
    let dir = match crate::fixtures("writer_oracle", common::Oracle::Writer) {
        Ok(dir) => Arc::new(dir),
        Err(skipped) => return skipped,
    };
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let manifest: Arc<Value> = Arc::new(serde_json::from_str(&text).unwrap());
    let inputs: Arc<Inputs> = Arc::default();
    let mut trials = Vec::new();
    {
        let manifest = Arc::clone(&manifest);
        trials.push(Trial::test("writer_oracle::coverage", move || {
            let cases = manifest["cases"].as_array().unwrap().len();
            eprintln!("writer oracle: {cases} cases");
            assert!(cases >= 1000, "only {cases} cases");
            Ok(())
        }));
    }
    for (n, case) in manifest["cases"].as_array().unwrap().iter().enumerate() {
        let id = case["id"].as_str().unwrap();
        let (dir, manifest, inputs) =
            (Arc::clone(&dir), Arc::clone(&manifest), Arc::clone(&inputs));
        trials.push(Trial::test(format!("writer_oracle::{id}"), move || {
            writer_matches_nibabel(&dir, &manifest["cases"][n], &inputs).map_err(Into::into)
        }));
    }
    trials
}

/// neurovox's write scaling chooses nibabel's scale factors and writes nibabel's bytes: one
/// case.
fn writer_matches_nibabel(dir: &Path, case: &Value, inputs: &Inputs) -> Result<(), String> {
    let id = case["id"].as_str().unwrap();
    let rel = case["input"].as_str().unwrap();
    let data = {
        let loaded = inputs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(rel)
            .cloned();
        match loaded {
            Some(data) => data,
            None => {
                let data = load_input(dir, rel, case["in_dtype"].as_str().unwrap());
                inputs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(rel.to_owned(), data.clone());
                data
            }
        }
    };
    let shape: Vec<usize> = case["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(data.shape(), &shape[..], "{id}: input shape");
    let out = descr_to_dtype(case["out_dtype"].as_str().unwrap()).unwrap();
    let kind = kind(case["kind"].as_str().unwrap());

    let chosen = choose_scaling(&data, out.dtype, kind);
    if let Some(err) = case["writer_error"].as_object() {
        let message = err["message"].as_str().unwrap();
        return match chosen {
            Ok(s) => Err(format!(
                "{id}: nibabel raised {} ({message}), we chose {s:?}",
                err["type"]
            )),
            Err(e) if e.kind() != ErrorKind::Usage || e.message() != message => {
                Err(format!("{id}: nibabel raised {message:?}, we raised {e}"))
            }
            Err(_) => Ok(()),
        };
    }
    let scaling = match chosen {
        Ok(s) => s,
        Err(e) => return Err(format!("{id}: nibabel chose a scaling, we raised {e}")),
    };
    let slope_bits = case["slope_bits"].as_u64().unwrap() as u32;
    let inter_bits = case["inter_bits"].as_u64().unwrap() as u32;
    // The factors are float32 values: the casts are exact, and `to_bits` tells -0 from 0.
    if (scaling.slope as f32).to_bits() != slope_bits
        || (scaling.inter as f32).to_bits() != inter_bits
    {
        return Err(format!(
            "{id}: slope/inter {}/{} vs nibabel {}/{}",
            scaling.slope,
            scaling.inter,
            f32::from_bits(slope_bits),
            f32::from_bits(inter_bits)
        ));
    }

    let mut bytes = Vec::new();
    let written = write_values(&data, out, &scaling, kind, &mut bytes);
    if let Some(err) = case["write_error"].as_object() {
        let message = err["message"].as_str().unwrap();
        return match written {
            Ok(()) => Err(format!(
                "{id}: nibabel's write raised {message:?}, we wrote {} bytes",
                bytes.len()
            )),
            Err(e) if e.kind() != ErrorKind::Usage || e.message() != message => Err(format!(
                "{id}: nibabel's write raised {message:?}, we raised {e}"
            )),
            Err(_) => {
                assert!(bytes.is_empty(), "{id}: bytes left after an error");
                Ok(())
            }
        };
    }
    let expected = case["bytes"].as_str().unwrap();
    match written {
        Err(e) => return Err(format!("{id}: nibabel wrote, we raised {e}")),
        Ok(()) if hex(&bytes) != expected => {
            return Err(format!(
                "{id}: bytes differ\n  ours   {}\n  theirs {expected}",
                hex(&bytes)
            ));
        }
        Ok(()) => {}
    }

    if data.ndim() >= 2 && !data.is_empty() {
        match write_streamed(&data, out, kind) {
            Ok((s, b)) if s == scaling && b == bytes => {}
            Ok((s, _)) if s != scaling => {
                return Err(format!(
                    "{id}: streamed scaling {s:?} differs from whole-array {scaling:?}"
                ));
            }
            Ok(_) => return Err(format!("{id}: streamed bytes differ")),
            Err(e) => return Err(format!("{id}: streamed write raised {e}")),
        }
    }
    Ok(())
}
