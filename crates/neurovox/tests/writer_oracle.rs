//! neurovox's write scaling chooses nibabel's scale factors and writes nibabel's bytes.
//!
//! `tests/oracle/make_writer_fixtures.py` (run by `scripts/test.sh`) runs nibabel's array
//! writers (`make_array_writer` → `get_slope_inter` → `to_fileobj(order='F')`) on thousands of
//! (input array, output dtype, writer kind) cases: every input dtype with positive, negative,
//! mixed, tiny, constant, NaN, ±inf, all-NaN, empty and near-the-limit values, written as every
//! integer and float type. For each case this test runs [`choose_scaling`] and
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
//! Without them the test says so and passes, unless `NEUROVOX_REQUIRE_ORACLE=1` (set by
//! `scripts/test.sh`).

// Helpers shared by the tests unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
use common::hex;

use ndarray::Axis;
use neurovox::array::{DynArray, DynElement};
use neurovox::internals::{
    choose_scaling, choose_scaling_for_range, write_values, DataRange, WriteScaling, WriterKind,
};
use neurovox::numpy::npy::{descr_to_dtype, load_npy};
use neurovox::{DataType, ErrorKind, StorageDtype};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

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

#[derive(Default)]
struct Tally {
    cases: usize,
    writer_errors: usize,
    write_errors: usize,
    scaled: usize,
    bytes_compared: usize,
    streamed: usize,
}

#[test]
fn writers_match_nibabel() {
    let Some(dir) = common::oracle_dir(common::Oracle::Writer) else {
        return;
    };
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let manifest: Value = serde_json::from_str(&text).unwrap();
    let cases = manifest["cases"].as_array().unwrap();
    let mut inputs: HashMap<String, DynArray> = HashMap::new();
    let mut failures: Vec<String> = Vec::new();
    let mut t = Tally::default();
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let rel = case["input"].as_str().unwrap();
        let data = inputs
            .entry(rel.to_owned())
            .or_insert_with(|| load_input(&dir, rel, case["in_dtype"].as_str().unwrap()))
            .clone();
        let shape: Vec<usize> = case["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(data.shape(), &shape[..], "{id}: input shape");
        let out = descr_to_dtype(case["out_dtype"].as_str().unwrap()).unwrap();
        let kind = kind(case["kind"].as_str().unwrap());
        t.cases += 1;

        let chosen = choose_scaling(&data, out.dtype, kind);
        if let Some(err) = case["writer_error"].as_object() {
            t.writer_errors += 1;
            let message = err["message"].as_str().unwrap();
            match chosen {
                Ok(s) => failures.push(format!(
                    "{id}: nibabel raised {} ({message}), we chose {s:?}",
                    err["type"]
                )),
                Err(e) if e.kind() != ErrorKind::Usage || e.message() != message => {
                    failures.push(format!("{id}: nibabel raised {message:?}, we raised {e}"))
                }
                Err(_) => {}
            }
            continue;
        }
        let scaling = match chosen {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{id}: nibabel chose a scaling, we raised {e}"));
                continue;
            }
        };
        let slope_bits = case["slope_bits"].as_u64().unwrap() as u32;
        let inter_bits = case["inter_bits"].as_u64().unwrap() as u32;
        // The factors are float32 values: the casts are exact, and `to_bits` tells -0 from 0.
        if (scaling.slope as f32).to_bits() != slope_bits
            || (scaling.inter as f32).to_bits() != inter_bits
        {
            failures.push(format!(
                "{id}: slope/inter {}/{} vs nibabel {}/{}",
                scaling.slope,
                scaling.inter,
                f32::from_bits(slope_bits),
                f32::from_bits(inter_bits)
            ));
            continue;
        }
        if scaling.slope != 1.0 || scaling.inter != 0.0 {
            t.scaled += 1;
        }

        let mut bytes = Vec::new();
        let written = write_values(&data, out, &scaling, kind, &mut bytes);
        if let Some(err) = case["write_error"].as_object() {
            t.write_errors += 1;
            let message = err["message"].as_str().unwrap();
            match written {
                Ok(()) => failures.push(format!(
                    "{id}: nibabel's write raised {message:?}, we wrote {} bytes",
                    bytes.len()
                )),
                Err(e) if e.kind() != ErrorKind::Usage || e.message() != message => failures.push(
                    format!("{id}: nibabel's write raised {message:?}, we raised {e}"),
                ),
                Err(_) => assert!(bytes.is_empty(), "{id}: bytes left after an error"),
            }
            continue;
        }
        let expected = case["bytes"].as_str().unwrap();
        match written {
            Err(e) => {
                failures.push(format!("{id}: nibabel wrote, we raised {e}"));
                continue;
            }
            Ok(()) if hex(&bytes) != expected => {
                failures.push(format!(
                    "{id}: bytes differ\n  ours   {}\n  theirs {expected}",
                    hex(&bytes)
                ));
                continue;
            }
            Ok(()) => t.bytes_compared += 1,
        }

        if data.ndim() >= 2 && !data.is_empty() {
            match write_streamed(&data, out, kind) {
                Ok((s, b)) if s == scaling && b == bytes => t.streamed += 1,
                Ok((s, _)) if s != scaling => failures.push(format!(
                    "{id}: streamed scaling {s:?} differs from whole-array {scaling:?}"
                )),
                Ok(_) => failures.push(format!("{id}: streamed bytes differ")),
                Err(e) => failures.push(format!("{id}: streamed write raised {e}")),
            }
        }
    }
    eprintln!(
        "writer oracle: {} cases — {} nibabel writer errors and {} write errors reproduced, \
         {} scaled, {} byte-identical outputs ({} also streamed slab by slab)",
        t.cases, t.writer_errors, t.write_errors, t.scaled, t.bytes_compared, t.streamed
    );
    for f in failures.iter().take(40) {
        eprintln!("{f}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from nibabel",
        failures.len(),
        t.cases
    );
    assert!(t.cases >= 1000, "only {} cases", t.cases);
}
