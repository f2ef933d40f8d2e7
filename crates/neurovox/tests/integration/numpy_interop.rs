//! neurovox and numpy read each other's array files: `.npy`, `.npz` and raw `np.memmap` files.
//!
//! **numpy → neurovox.** `tests/oracle/make_numpy_fixtures.py` (run by `scripts/test.sh`)
//! writes files with numpy and a `manifest.json` of what each holds. Every supported `.npy` is
//! loaded with [`load_npy`] memory-mapped (`r`, `c`) and in memory, every `.npz` member through
//! [`NpzArchive::load`], every raw file through [`MemmapArray::open`] with numpy's dtype,
//! shape, order, offset and byte order; shapes and every value (NaN equal to NaN, the sign of
//! zero kept) must be numpy's. Arrays numpy lists no values for (over 64 elements) are compared
//! with the file's bytes decoded here. The fixtures live in `$NEUROVOX_NUMPY_ORACLE_DIR`
//! (default `target/numpy-oracle`); without them these tests say SKIPPED and pass, unless
//! `NEUROVOX_REQUIRE_ORACLE=1` (set by `scripts/test.sh`).
//!
//! **neurovox → numpy.** [`neurovox_writes_files_for_numpy`] always runs: it writes `.npy`,
//! `.npz` and memmap files of known contents into `$NEUROVOX_NUMPY_ROUNDTRIP_DIR` (default
//! `target/numpy-roundtrip`) with a `manifest.json` in the oracle's style, which
//! `python/tests/test_numpy_reads_neurovox.py` checks with numpy.

// Helpers shared by the tests unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use crate::common;
use common::{json_f64, json_usizes};

use ndarray::{Array, ArrayBase, ArrayD, Data, Dimension, IxDyn, ShapeBuilder, s};
use neurovox::Order;
use neurovox::dtype::Element;
use neurovox::numpy::memmap::{MapMode, MemmapArray, MemmapOptions};
use neurovox::numpy::npy::{
    NpyData, NpyDtype, NpyWritable, load_npy, map_npy, parse_npy_header, read_npy, save_npy,
};
use neurovox::numpy::npz::{NpzArchive, savez, savez_compressed};
use neurovox::{ByteOrder, ErrorKind};
use num_complex::Complex;
use serde_json::{Value, json};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

// ---------------------------------------------------------------------------------------------
// Where the files are

fn oracle_dir() -> Option<PathBuf> {
    common::oracle_dir(common::Oracle::Numpy)
}

use common::workspace_dir;

fn roundtrip_dir() -> PathBuf {
    std::env::var_os("NEUROVOX_NUMPY_ROUNDTRIP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target/numpy-roundtrip"))
}

fn load_manifest(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest readable");
    serde_json::from_str(&text).expect("manifest is JSON")
}

fn entries<'a>(manifest: &'a Value, key: &str) -> &'a [Value] {
    let list = manifest[key].as_array().expect("a list of entries");
    assert!(!list.is_empty(), "the manifest lists no {key} entries");
    list
}

/// Panics listing every failure, after saying how many entries were checked.
fn report(what: &str, checked: usize, failures: &[String]) {
    eprintln!("{what}: {checked} checked, {} failed", failures.len());
    assert!(
        failures.is_empty(),
        "{} of {checked} {what} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Runs `check` on the file of each manifest entry of `kind` that `keep` accepts; `None` when
/// the oracle files are absent. Gives how many were checked and the failures, each naming
/// its file.
fn check_entries(
    kind: &str,
    keep: impl Fn(&Value) -> bool,
    mut check: impl FnMut(&Path, &Value) -> Result<(), String>,
) -> Option<(usize, Vec<String>)> {
    let dir = oracle_dir()?;
    let manifest = load_manifest(&dir);
    let mut failures = Vec::new();
    let mut checked = 0;
    for entry in entries(&manifest, kind).iter().filter(|e| keep(e)) {
        checked += 1;
        let name = entry["path"].as_str().unwrap();
        if let Err(msg) = check(&dir.join(name), entry) {
            failures.push(format!("{name}: {msg}"));
        }
    }
    Some((checked, failures))
}

// ---------------------------------------------------------------------------------------------
// Values

/// One array element as the manifests list it: ints exactly, floats and complex parts as f64.
#[derive(Debug, Clone, Copy)]
enum Scalar {
    Int(i128),
    Float(f64),
    Complex(f64, f64),
}

/// The same float: NaN equals NaN (any payload), otherwise the same bits (so -0.0 != 0.0).
fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

impl Scalar {
    fn same(self, other: Scalar) -> bool {
        match (self, other) {
            (Scalar::Int(a), Scalar::Int(b)) => a == b,
            (Scalar::Float(a), Scalar::Float(b)) => same_f64(a, b),
            (Scalar::Complex(ar, ai), Scalar::Complex(br, bi)) => {
                same_f64(ar, br) && same_f64(ai, bi)
            }
            _ => false,
        }
    }

    /// Reads a manifest value of a dtype of `kind` (`u`, `i`, `f` or `c`).
    fn from_json(v: &Value, kind: char) -> Scalar {
        match kind {
            'u' | 'i' => {
                let n = v.as_i64().map(i128::from);
                Scalar::Int(
                    n.or_else(|| v.as_u64().map(i128::from))
                        .expect("an integer"),
                )
            }
            'f' => Scalar::Float(json_f64(v)),
            'c' => {
                let parts = v.as_array().expect("complex as [re, im]");
                Scalar::Complex(json_f64(&parts[0]), json_f64(&parts[1]))
            }
            other => panic!("no dtype kind {other:?}"),
        }
    }

    fn to_json(self) -> Value {
        match self {
            Scalar::Int(n) => i64::try_from(n)
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(u64::try_from(n).unwrap())),
            Scalar::Float(x) => f64_json(x),
            Scalar::Complex(re, im) => json!([f64_json(re), f64_json(im)]),
        }
    }
}

fn f64_json(x: f64) -> Value {
    if x.is_nan() {
        json!("nan")
    } else if x.is_infinite() {
        json!(if x > 0.0 { "inf" } else { "-inf" })
    } else {
        json!(x)
    }
}

/// An element type numpy has, with its numpy type code and a deterministic sample value.
trait Sample: Element {
    /// numpy's kind and size: `u1`, `i8`, `f4`, `c16`, ...
    const CODE: &'static str;
    fn scalar(self) -> Scalar;
    /// Element `i` of an `n`-element sample array.
    fn sample(i: usize, n: usize) -> Self;
}

macro_rules! int_sample {
    ($($t:ty => $code:literal),*) => {$(
        impl Sample for $t {
            const CODE: &'static str = $code;
            fn scalar(self) -> Scalar {
                Scalar::Int(i128::from(self))
            }
            fn sample(i: usize, _n: usize) -> Self {
                // Knuth's multiplicative hash, wrapped: every byte of the type varies.
                (i as u64).wrapping_mul(2_654_435_761).wrapping_add(12_345) as $t
            }
        }
    )*};
}

int_sample!(u8 => "u1", i8 => "i1", u16 => "u2", i16 => "i2", u32 => "u4", i32 => "i4",
    u64 => "u8", i64 => "i8");

/// `(i - n/2) / 3 + 0.25`, as the numpy fixture script makes float samples.
fn float_sample(i: usize, n: usize) -> f64 {
    (i as f64 - (n / 2) as f64) / 3.0 + 0.25
}

impl Sample for f32 {
    const CODE: &'static str = "f4";
    fn scalar(self) -> Scalar {
        Scalar::Float(f64::from(self))
    }
    fn sample(i: usize, n: usize) -> Self {
        float_sample(i, n) as f32
    }
}

impl Sample for f64 {
    const CODE: &'static str = "f8";
    fn scalar(self) -> Scalar {
        Scalar::Float(self)
    }
    fn sample(i: usize, n: usize) -> Self {
        float_sample(i, n)
    }
}

impl Sample for Complex<f32> {
    const CODE: &'static str = "c8";
    fn scalar(self) -> Scalar {
        Scalar::Complex(f64::from(self.re), f64::from(self.im))
    }
    fn sample(i: usize, n: usize) -> Self {
        let z = Complex::<f64>::sample(i, n);
        Complex::new(z.re as f32, z.im as f32)
    }
}

impl Sample for Complex<f64> {
    const CODE: &'static str = "c16";
    fn scalar(self) -> Scalar {
        Scalar::Complex(self.re, self.im)
    }
    fn sample(i: usize, n: usize) -> Self {
        Complex::new(float_sample(i, n), -((i + 1) as f64) * 0.5)
    }
}

/// Calls `func::<T>(args)` with the element type `T` of a numpy type code (`"f8"`, ...).
macro_rules! with_element_type {
    ($code:expr, $func:ident($($arg:expr),* $(,)?)) => {
        match $code {
            "u1" => $func::<u8>($($arg),*),
            "i1" => $func::<i8>($($arg),*),
            "u2" => $func::<u16>($($arg),*),
            "i2" => $func::<i16>($($arg),*),
            "u4" => $func::<u32>($($arg),*),
            "i4" => $func::<i32>($($arg),*),
            "u8" => $func::<u64>($($arg),*),
            "i8" => $func::<i64>($($arg),*),
            "f4" => $func::<f32>($($arg),*),
            "f8" => $func::<f64>($($arg),*),
            "c8" => $func::<Complex<f32>>($($arg),*),
            "c16" => $func::<Complex<f64>>($($arg),*),
            other => Err(format!("no Rust element type for numpy code {other:?}")),
        }
    };
}

/// A value no sample array holds at index 0: every byte 0xA5.
fn marker<T: Element>() -> T {
    bytemuck::pod_read_unaligned(&[0xA5u8; 16][..std::mem::size_of::<T>()])
}

/// numpy's dtype string for `T` stored in `order`: `<f8`, `>i2`, `|u1`.
fn dtype_str<T: Sample>(order: ByteOrder) -> String {
    if std::mem::size_of::<T>() == 1 {
        format!("|{}", T::CODE)
    } else {
        format!("{}{}", order.numpy_char(), T::CODE)
    }
}

/// The index of the element at C-order position `flat`.
fn c_index(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for axis in (0..shape.len()).rev() {
        index[axis] = flat % shape[axis];
        flat /= shape[axis];
    }
    index
}

/// Where the element at C-order position `flat` sits in storage of the given order.
fn storage_position(flat: usize, shape: &[usize], fortran_order: bool) -> usize {
    if !fortran_order {
        return flat;
    }
    let index = c_index(flat, shape);
    let mut stride = 1;
    let mut position = 0;
    for axis in 0..shape.len() {
        position += index[axis] * stride;
        stride *= shape[axis];
    }
    position
}

// ---------------------------------------------------------------------------------------------
// What an entry says an array is

/// One array a manifest describes: a `.npy` file, an `.npz` member or a raw memmap file.
#[derive(Debug, Clone)]
struct ArraySpec {
    /// numpy's dtype string (`<f8`, `>c16`, `|u1`).
    dtype: String,
    shape: Vec<usize>,
    fortran_order: bool,
    /// The flat C-order values, when the manifest lists them.
    values: Option<Vec<Scalar>>,
}

impl ArraySpec {
    /// From an entry with `dtype`, `shape`, `values` and either `fortran_order` or `order`.
    fn from_entry(entry: &Value) -> ArraySpec {
        let dtype = entry["dtype"].as_str().expect("dtype string").to_owned();
        let kind = dtype.chars().nth(1).expect("dtype kind");
        let fortran_order = match entry.get("order") {
            Some(order) => order.as_str() == Some("F"),
            None => entry["fortran_order"].as_bool().expect("fortran_order"),
        };
        let values = entry["values"]
            .as_array()
            .map(|list| list.iter().map(|v| Scalar::from_json(v, kind)).collect());
        ArraySpec {
            dtype,
            shape: json_usizes(&entry["shape"]),
            fortran_order,
            values,
        }
    }

    /// numpy's type code without the byte order: `f8`.
    fn code(&self) -> &str {
        &self.dtype[1..]
    }

    fn byte_order(&self) -> ByteOrder {
        match self.dtype.as_bytes()[0] {
            b'>' => ByteOrder::Big,
            b'<' => ByteOrder::Little,
            _ => ByteOrder::NATIVE, // '|': one-byte values have no byte order
        }
    }

    fn order(&self) -> Order {
        if self.fortran_order {
            Order::F
        } else {
            Order::C
        }
    }

    fn itemsize(&self) -> usize {
        let digits = &self.code()[1..];
        digits.parse().expect("itemsize")
    }

    fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The listed values, or the stored `data` decoded here when the manifest lists none.
    fn expected_values(&self, data: impl FnOnce() -> Vec<u8>) -> Result<Vec<Scalar>, String> {
        match &self.values {
            Some(values) => Ok(values.clone()),
            None => self.decode(&data()),
        }
    }

    /// Decodes the stored data of this array, independently of neurovox, in C order.
    fn decode(&self, data: &[u8]) -> Result<Vec<Scalar>, String> {
        let size = self.itemsize();
        if data.len() < self.len() * size {
            return Err(format!(
                "{} data bytes for {} elements of {}",
                data.len(),
                self.len(),
                self.dtype
            ));
        }
        let kind = self.dtype.as_bytes()[1];
        Ok((0..self.len())
            .map(|flat| {
                let at = storage_position(flat, &self.shape, self.fortran_order) * size;
                decode_scalar(&data[at..at + size], kind, self.byte_order())
            })
            .collect())
    }
}

/// The value bytes little-endian first, zero-extended to 8 bytes.
fn le_u64(bytes: &[u8], order: ByteOrder) -> u64 {
    let mut le = bytes.to_vec();
    if order == ByteOrder::Big {
        le.reverse();
    }
    le.resize(8, 0);
    u64::from_le_bytes(le.try_into().unwrap())
}

fn decode_float(bytes: &[u8], order: ByteOrder) -> f64 {
    let bits = le_u64(bytes, order);
    match bytes.len() {
        4 => f64::from(f32::from_bits(u32::try_from(bits).unwrap())),
        8 => f64::from_bits(bits),
        n => panic!("no {n}-byte float"),
    }
}

fn decode_scalar(bytes: &[u8], kind: u8, order: ByteOrder) -> Scalar {
    match kind {
        b'u' => Scalar::Int(le_u64(bytes, order).into()),
        b'i' => {
            let unused = 64 - 8 * bytes.len() as u32;
            // Shift the sign bit to the top, then back with sign extension.
            let signed = (le_u64(bytes, order) << unused) as i64 >> unused;
            Scalar::Int(signed.into())
        }
        b'f' => Scalar::Float(decode_float(bytes, order)),
        b'c' => {
            let (re, im) = bytes.split_at(bytes.len() / 2);
            Scalar::Complex(decode_float(re, order), decode_float(im, order))
        }
        other => panic!("no dtype kind {:?}", char::from(other)),
    }
}

// ---------------------------------------------------------------------------------------------
// Checks shared by .npy, .npz and memmap files

/// The load modes every file is read with: memory-mapped read-only, copy-on-write, in memory.
const LOAD_MODES: [Option<MapMode>; 3] = [Some(MapMode::Read), Some(MapMode::CopyOnWrite), None];

fn mode_name(mode: Option<MapMode>) -> &'static str {
    mode.map_or("in memory", MapMode::as_str)
}

fn same_values<'a, T: Sample>(
    what: &str,
    got: impl IntoIterator<Item = &'a T>,
    expected: &[Scalar],
) -> Result<(), String> {
    let got: Vec<Scalar> = got.into_iter().map(|v| v.scalar()).collect();
    if got.len() != expected.len() {
        return Err(format!(
            "{what}: {} values, expected {}",
            got.len(),
            expected.len()
        ));
    }
    match got.iter().zip(expected).position(|(g, e)| !g.same(*e)) {
        None => Ok(()),
        Some(i) => Err(format!(
            "{what}: C-order value {i} is {:?}, expected {:?}",
            got[i], expected[i]
        )),
    }
}

/// Shape and values of a loaded array, and whether it was mapped.
fn check_loaded<T: Sample>(
    loaded: &NpyData<T>,
    spec: &ArraySpec,
    expected: &[Scalar],
    expect_mapped: bool,
) -> Result<(), String> {
    if loaded.is_mapped() != expect_mapped {
        return Err(format!(
            "is_mapped() is {}, expected {expect_mapped}",
            loaded.is_mapped()
        ));
    }
    if loaded.shape() != spec.shape {
        return Err(format!(
            "shape {:?}, expected {:?}",
            loaded.shape(),
            spec.shape
        ));
    }
    same_values("to_array()", loaded.to_array().iter(), expected)?;
    match loaded {
        NpyData::InMemory(_) => same_values("view()", loaded.view().map_err(err)?.iter(), expected),
        NpyData::Mapped(map) => check_map(map, spec, expected),
    }
}

fn err(e: neurovox::Error) -> String {
    e.to_string()
}

fn expect_kind<V: std::fmt::Debug>(
    what: &str,
    result: neurovox::Result<V>,
    kind: ErrorKind,
) -> Result<(), String> {
    match result {
        Err(e) if e.kind() == kind => Ok(()),
        Err(e) => Err(format!("{what}: expected a {kind:?} error, got {e}")),
        Ok(v) => Err(format!("{what}: expected a {kind:?} error, got {v:?}")),
    }
}

/// A mapped array: layout, byte order, `get` of every element, and `view()` exactly when the
/// values are native and aligned.
fn check_map<T: Sample>(
    map: &MemmapArray<T>,
    spec: &ArraySpec,
    expected: &[Scalar],
) -> Result<(), String> {
    if map.order() != spec.order() {
        return Err(format!(
            "order {:?}, expected {:?}",
            map.order(),
            spec.order()
        ));
    }
    let native = spec.byte_order() == ByteOrder::NATIVE || std::mem::size_of::<T>() == 1;
    if map.is_native() != native {
        return Err(format!("is_native() is {}", map.is_native()));
    }
    for (flat, value) in expected.iter().enumerate() {
        let index = c_index(flat, &spec.shape);
        let got = map.get(&index).map_err(err)?.scalar();
        if !got.same(*value) {
            return Err(format!("get({index:?}) is {got:?}, expected {value:?}"));
        }
    }
    let aligned = map
        .offset()
        .is_multiple_of(std::mem::align_of::<T>() as u64);
    if native && aligned {
        let view = map
            .view()
            .map_err(|e| format!("view() of a native, aligned map: {e}"))?;
        same_values("view()", view.iter(), expected)
    } else {
        expect_kind(
            "view() of a swapped or misaligned map",
            map.view(),
            ErrorKind::Usage,
        )
    }
}

/// Writes through a copy-on-write map: the map sees the write, the file keeps its bytes.
fn write_privately<T: Sample>(map: &mut MemmapArray<T>, path: &Path) -> Result<(), String> {
    if map.is_empty() {
        return Ok(());
    }
    let before = std::fs::read(path).map_err(|e| e.to_string())?;
    let first = vec![0; map.ndim()];
    map.set(&first, marker()).map_err(err)?;
    map.flush().map_err(err)?;
    if map.get(&first).map_err(err)? != marker() {
        return Err("mode c: the map does not see its own write".into());
    }
    if std::fs::read(path).map_err(|e| e.to_string())? != before {
        return Err("mode c: a write changed the file".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// numpy → neurovox: .npy

/// Loads one supported `.npy` file in every mode as `T`.
fn check_npy_file<T: Sample>(
    path: &Path,
    spec: &ArraySpec,
    data_offset: usize,
) -> Result<(), String> {
    let expected = spec.expected_values(|| std::fs::read(path).unwrap()[data_offset..].to_vec())?;
    for mode in LOAD_MODES {
        let in_mode = |msg: String| format!("{}: {msg}", mode_name(mode));
        let loaded = load_npy::<T>(path, mode).map_err(|e| in_mode(err(e)))?;
        check_loaded(&loaded, spec, &expected, mode.is_some()).map_err(in_mode)?;
        if let NpyData::Mapped(mut map) = loaded {
            if map.offset() != data_offset as u64 {
                return Err(in_mode(format!(
                    "data at {}, numpy's at {data_offset}",
                    map.offset()
                )));
            }
            if mode == Some(MapMode::Read) {
                let first = vec![0; map.ndim()];
                expect_kind(
                    "set() in mode r",
                    map.set(&first, marker()),
                    ErrorKind::Usage,
                )
                .map_err(in_mode)?;
            } else {
                write_privately(&mut map, path)?;
            }
        }
    }
    Ok(())
}

/// Loading as another element type is a Usage error, in every mode.
fn check_wrong_type(path: &Path, code: &str) -> Result<(), String> {
    for mode in LOAD_MODES {
        let what = format!("{}: load as the wrong type", mode_name(mode));
        if code == "f8" {
            expect_kind(&what, load_npy::<i32>(path, mode), ErrorKind::Usage)?;
        } else {
            expect_kind(&what, load_npy::<f64>(path, mode), ErrorKind::Usage)?;
        }
    }
    Ok(())
}

/// A numpy bool file (`'|b1'`): read as Rust bools, whose values and memory order must be
/// numpy's; mapped as bytes at numpy's data offset; refused as any [`Element`] type (bool
/// cannot be one: a map may hold any byte).
fn check_bool_npy_file(path: &Path, entry: &Value, data_offset: usize) -> Result<(), String> {
    let file = std::fs::read(path).map_err(|e| e.to_string())?;
    let data = &file[data_offset..];
    let shape = json_usizes(&entry["shape"]);
    let fortran_order = entry["fortran_order"].as_bool().expect("fortran_order");
    let mut reader = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let values = read_npy::<bool>(&mut reader).map_err(err)?;
    if values.shape() != shape.as_slice() {
        return Err(format!("shape {:?}, numpy's {shape:?}", values.shape()));
    }
    for (flat, &value) in values.iter().enumerate() {
        let stored = data[storage_position(flat, &shape, fortran_order)];
        if u8::from(value) != stored {
            return Err(format!("value {flat}: ours {value}, stored byte {stored}"));
        }
    }
    if let Some(listed) = entry["values"].as_array() {
        let numpy: Vec<u64> = listed.iter().map(|v| v.as_u64().expect("0 or 1")).collect();
        let ours: Vec<u64> = values.iter().map(|&b| u64::from(b)).collect();
        if ours != numpy {
            return Err(format!("values {ours:?}, numpy's {numpy:?}"));
        }
    }
    let (header, map) = map_npy(path, MapMode::Read).map_err(err)?;
    if header.dtype != NpyDtype::Bool || map.offset() != data_offset as u64 {
        return Err(format!("mapped {} at {}", header.dtype, map.offset()));
    }
    if map.as_bytes() != data {
        return Err("the map's bytes are not the file's data".into());
    }
    for mode in LOAD_MODES {
        let what = format!("{}: load a bool file as u8", mode_name(mode));
        expect_kind(&what, load_npy::<u8>(path, mode), ErrorKind::Usage)?;
    }
    Ok(())
}

/// A file numpy wrote and neurovox refuses: the manifest's error kind, in every mode.
fn check_refused_npy(path: &Path, entry: &Value) -> Result<(), String> {
    let kind = match entry["error_kind"].as_str() {
        Some("limit") => ErrorKind::Limit,
        _ => ErrorKind::Unsupported,
    };
    for mode in LOAD_MODES {
        expect_kind(mode_name(mode), load_npy::<f64>(path, mode), kind)?;
        expect_kind(mode_name(mode), load_npy::<u8>(path, mode), kind)?;
    }
    Ok(())
}

#[test]
fn numpy_npy_files_load_mapped_and_in_memory() {
    let started = Instant::now();
    let supported = |e: &Value| e["supported"].as_bool().unwrap();
    let Some((checked, failures)) = check_entries("npy", supported, |path, entry| {
        let data_offset = usize::try_from(entry["header_len"].as_u64().unwrap()).unwrap();
        if entry["dtype"].as_str() == Some("|b1") {
            return check_bool_npy_file(path, entry, data_offset);
        }
        let spec = ArraySpec::from_entry(entry);
        with_element_type!(spec.code(), check_npy_file(path, &spec, data_offset))
            .and_then(|()| check_wrong_type(path, spec.code()))
    }) else {
        return;
    };
    let what = format!("numpy .npy files (in {:.2?})", started.elapsed());
    report(&what, checked, &failures);
}

#[test]
fn numpy_npy_files_neurovox_refuses_give_the_right_error() {
    let refused = |e: &Value| !e["supported"].as_bool().unwrap();
    let Some((checked, failures)) = check_entries("npy", refused, check_refused_npy) else {
        return;
    };
    assert!(checked > 0, "the manifest lists no refused dtypes");
    report("refused numpy .npy files", checked, &failures);
}

// ---------------------------------------------------------------------------------------------
// numpy → neurovox: .npz

/// A member's `.npy` bytes, read with the zip crate rather than neurovox.
fn npz_member_bytes(path: &Path, name: &str) -> Vec<u8> {
    let file = std::fs::File::open(path).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut member = zip.by_name(&format!("{name}.npy")).unwrap();
    let mut bytes = Vec::new();
    member.read_to_end(&mut bytes).unwrap();
    bytes
}

/// Loads one member in every mode: stored members map in place, deflated ones are read.
fn check_npz_member<T: Sample>(
    archive: &NpzArchive,
    name: &str,
    spec: &ArraySpec,
    compressed: bool,
) -> Result<(), String> {
    let expected = spec.expected_values(|| {
        let bytes = npz_member_bytes(archive.path(), name);
        let header = parse_npy_header(&bytes).unwrap();
        bytes[header.data_offset..].to_vec()
    })?;
    for mode in LOAD_MODES {
        let in_mode = |msg: String| format!("member {name:?}, {}: {msg}", mode_name(mode));
        let loaded = archive.load::<T>(name, mode).map_err(|e| in_mode(err(e)))?;
        let expect_mapped = mode.is_some() && !compressed;
        check_loaded(&loaded, spec, &expected, expect_mapped).map_err(in_mode)?;
        if let (NpyData::Mapped(mut map), Some(MapMode::CopyOnWrite)) = (loaded, mode) {
            write_privately(&mut map, archive.path()).map_err(in_mode)?;
        }
    }
    Ok(())
}

fn check_npz_archive(path: &Path, entry: &Value) -> Result<usize, String> {
    let compressed = entry["compressed"].as_bool().unwrap();
    let members = entry["members"].as_array().unwrap();
    let archive = NpzArchive::open(path).map_err(err)?;
    let numpy_names: Vec<&str> = members
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    if archive.names() != numpy_names {
        return Err(format!(
            "names {:?}, numpy's {numpy_names:?}",
            archive.names()
        ));
    }
    if let Some(m) = archive
        .members()
        .iter()
        .find(|m| m.compressed != compressed)
    {
        return Err(format!(
            "member {:?}: compressed is {}",
            m.name, m.compressed
        ));
    }
    for (name, member) in numpy_names.iter().zip(members) {
        let spec = ArraySpec::from_entry(member);
        with_element_type!(
            spec.code(),
            check_npz_member(&archive, name, &spec, compressed)
        )?;
    }
    expect_kind(
        "a missing member",
        archive.load::<f64>("no such member", None),
        ErrorKind::Usage,
    )?;
    for mode in [MapMode::ReadWrite, MapMode::Create] {
        let what = format!("mode {}", mode.as_str());
        let first = numpy_names[0];
        with_element_type!(
            ArraySpec::from_entry(&members[0]).code(),
            expect_npz_usage_error(&archive, first, mode, &what)
        )?;
    }
    Ok(members.len())
}

fn expect_npz_usage_error<T: Sample>(
    archive: &NpzArchive,
    name: &str,
    mode: MapMode,
    what: &str,
) -> Result<(), String> {
    expect_kind(what, archive.load::<T>(name, Some(mode)), ErrorKind::Usage)
}

#[test]
fn numpy_npz_archives_load_member_by_member() {
    let mut members = 0;
    let Some((checked, failures)) = check_entries(
        "npz",
        |_| true,
        |path, entry| {
            members += check_npz_archive(path, entry)?;
            Ok(())
        },
    ) else {
        return;
    };
    let what = format!("numpy .npz archives ({members} members)");
    report(&what, checked, &failures);
}

// ---------------------------------------------------------------------------------------------
// numpy → neurovox: np.memmap files

/// Maps a raw file with numpy's parameters: mode `r` reads numpy's values, mode `c` writes
/// privately.
fn check_memmap_file<T: Sample>(path: &Path, spec: &ArraySpec, offset: u64) -> Result<(), String> {
    let expected = spec.expected_values(|| {
        std::fs::read(path).unwrap()[usize::try_from(offset).unwrap()..].to_vec()
    })?;
    let options = |mode| {
        MemmapOptions::new(mode)
            .offset(offset)
            .shape(&spec.shape)
            .order(spec.order())
            .byte_order(spec.byte_order())
    };
    let read = MemmapArray::<T>::open(path, options(MapMode::Read)).map_err(err)?;
    if read.shape() != spec.shape {
        return Err(format!("shape {:?}", read.shape()));
    }
    same_values("r: to_array()", read.to_array().iter(), &expected)?;
    check_map(&read, spec, &expected).map_err(|e| format!("r: {e}"))?;
    let mut copy = MemmapArray::<T>::open(path, options(MapMode::CopyOnWrite)).map_err(err)?;
    same_values("c: to_array()", copy.to_array().iter(), &expected)?;
    write_privately(&mut copy, path)
}

#[test]
fn numpy_memmap_files_map_with_numpys_parameters() {
    let Some((checked, failures)) = check_entries(
        "memmap",
        |_| true,
        |path, entry| {
            let spec = ArraySpec::from_entry(entry);
            let offset = entry["offset"].as_u64().unwrap();
            with_element_type!(spec.code(), check_memmap_file(path, &spec, offset))
        },
    ) else {
        return;
    };
    report("numpy memmap files", checked, &failures);
}

// ---------------------------------------------------------------------------------------------
// neurovox → numpy

/// The `manifest.json` written next to the files, for `python/tests/test_numpy_reads_neurovox.py`.
#[derive(Default)]
struct RoundtripManifest {
    npy: Vec<Value>,
    npz: Vec<Value>,
    memmap: Vec<Value>,
}

/// Empties the roundtrip directory of what an earlier run wrote and makes its subdirectories.
fn prepare_roundtrip_dir(dir: &Path) {
    for sub in ["npy", "npz", "memmap"] {
        let sub = dir.join(sub);
        if sub.exists() {
            std::fs::remove_dir_all(&sub).unwrap();
        }
        std::fs::create_dir_all(&sub).unwrap();
    }
    let manifest = dir.join("manifest.json");
    if manifest.exists() {
        std::fs::remove_file(manifest).unwrap();
    }
}

/// dtype, shape, order and flat C-order values of an array neurovox writes (native order).
fn array_json<T: Sample, S: Data<Elem = T>, D: Dimension>(
    array: &ArrayBase<S, D>,
    fortran_order: bool,
) -> Value {
    let values: Vec<Value> = array.iter().map(|v| v.scalar().to_json()).collect();
    json!({
        "dtype": dtype_str::<T>(ByteOrder::NATIVE),
        "shape": array.shape(),
        "fortran_order": fortran_order,
        "values": values,
    })
}

/// A sample array of `shape`, built in C or Fortran order.
fn sample_array<T: Sample>(shape: &[usize], order: Order) -> ArrayD<T> {
    let n = shape.iter().product();
    let c_order: Vec<T> = (0..n).map(|i| T::sample(i, n)).collect();
    let c = Array::from_shape_vec(IxDyn(shape), c_order).unwrap();
    match order {
        Order::C => c,
        Order::F => {
            let mut f = Array::from_shape_vec(IxDyn(shape).f(), vec![T::zeroed(); n]).unwrap();
            f.assign(&c);
            f
        }
    }
}

fn shape_name(shape: &[usize]) -> String {
    if shape.is_empty() {
        return "scalar".into();
    }
    shape
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("x")
}

/// `save_npy`, a read-back with neurovox, and the manifest entry.
fn save_npy_entry<T: Sample, S: Data<Elem = T>, D: Dimension>(
    dir: &Path,
    name: &str,
    array: &ArrayBase<S, D>,
    fortran_order: bool,
) -> Value {
    let relative = format!("npy/{name}.npy");
    let path = dir.join(&relative);
    save_npy(&path, array).unwrap();
    let back = load_npy::<T>(&path, None).unwrap().to_array();
    assert_eq!(back.shape(), array.shape(), "{name}");
    let expected: Vec<Scalar> = array.iter().map(|v| v.scalar()).collect();
    same_values(name, back.iter(), &expected).unwrap();
    let mut entry = array_json(array, fortran_order);
    entry["path"] = json!(relative);
    entry
}

const ROUNDTRIP_SHAPES: [&[usize]; 5] = [&[], &[0], &[5], &[2, 3], &[2, 3, 4]];

/// Every shape, in C order and (two or more axes) Fortran order.
fn write_npy_matrix<T: Sample>(dir: &Path, out: &mut Vec<Value>) {
    for shape in ROUNDTRIP_SHAPES {
        let orders: &[Order] = if shape.len() >= 2 {
            &[Order::C, Order::F]
        } else {
            &[Order::C]
        };
        for &order in orders {
            let array = sample_array::<T>(shape, order);
            let name = format!("{}-{}-{:?}", T::CODE, shape_name(shape), order);
            out.push(save_npy_entry(dir, &name, &array, order == Order::F));
        }
    }
}

const SPECIAL_F64: [f64; 8] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -0.0,
    5e-324,
    f64::MAX,
    f64::MIN_POSITIVE,
    1.0,
];

const SPECIAL_F32: [f32; 8] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    -0.0,
    1e-45,
    f32::MAX,
    f32::MIN_POSITIVE,
    1.0,
];

/// A bool mask of `shape`, built in C or Fortran order.
fn bool_mask(shape: &[usize], order: Order) -> ArrayD<bool> {
    let c = sample_array::<u32>(shape, Order::C).mapv(|v| v % 3 == 0);
    match order {
        Order::C => c,
        Order::F => {
            let mut f = ArrayD::from_elem(IxDyn(shape).f(), false);
            f.assign(&c);
            f
        }
    }
}

/// The manifest entry of a bool array: numpy's `'|b1'`, values as 0 and 1.
fn bool_json<S: Data<Elem = bool>, D: Dimension>(
    array: &ArrayBase<S, D>,
    fortran_order: bool,
) -> Value {
    let values: Vec<Value> = array.iter().map(|&b| json!(u8::from(b))).collect();
    json!({
        "dtype": "|b1",
        "shape": array.shape(),
        "fortran_order": fortran_order,
        "values": values,
    })
}

/// bool masks (`save_npy` of `ndarray` bools) of every shape, C and Fortran order.
fn write_npy_bools(dir: &Path, out: &mut Vec<Value>) {
    for shape in ROUNDTRIP_SHAPES {
        let orders: &[Order] = if shape.len() >= 2 {
            &[Order::C, Order::F]
        } else {
            &[Order::C]
        };
        for &order in orders {
            let mask = bool_mask(shape, order);
            let relative = format!("npy/b1-{}-{order:?}.npy", shape_name(shape));
            let path = dir.join(&relative);
            save_npy(&path, &mask).unwrap();
            let mut file = std::fs::File::open(&path).unwrap();
            assert_eq!(read_npy::<bool>(&mut file).unwrap(), mask, "{relative}");
            let mut entry = bool_json(&mask, order == Order::F);
            entry["path"] = json!(relative);
            out.push(entry);
        }
    }
}

/// Non-finite, signed-zero, subnormal and extreme floats, real and complex.
fn write_npy_specials(dir: &Path, out: &mut Vec<Value>) {
    let f8 = Array::from(SPECIAL_F64.to_vec());
    let f4 = Array::from(SPECIAL_F32.to_vec());
    let c16: Array<_, _> = SPECIAL_F64
        .iter()
        .zip(SPECIAL_F64.iter().rev())
        .map(|(&re, &im)| Complex::new(re, im))
        .collect();
    let c8: Array<_, _> = SPECIAL_F32
        .iter()
        .zip(SPECIAL_F32.iter().rev())
        .map(|(&re, &im)| Complex::new(re, im))
        .collect();
    out.push(save_npy_entry(dir, "specials-f8", &f8, false));
    out.push(save_npy_entry(dir, "specials-f4", &f4, false));
    out.push(save_npy_entry(dir, "specials-c16", &c16, false));
    out.push(save_npy_entry(dir, "specials-c8", &c8, false));
}

/// Views that are not C-contiguous: strided, transposed (written in Fortran order), reversed.
fn write_npy_views(dir: &Path, out: &mut Vec<Value>) {
    let a = sample_array::<f64>(&[3, 5], Order::C);
    let b = sample_array::<Complex<f32>>(&[2, 3, 4], Order::C);
    let c = sample_array::<i16>(&[4, 3], Order::C);
    out.push(save_npy_entry(
        dir,
        "view-f8-every-other-column",
        &a.slice(s![.., ..;2]),
        false,
    ));
    out.push(save_npy_entry(
        dir,
        "view-c8-strided-3d",
        &b.slice(s![.., 1.., ..;3]),
        false,
    ));
    out.push(save_npy_entry(dir, "view-f8-transposed", &a.t(), true));
    out.push(save_npy_entry(
        dir,
        "view-i2-reversed-rows",
        &c.slice(s![..;-1, ..]),
        false,
    ));
}

/// The same members through `savez` and `savez_compressed`.
fn write_npz_archives(dir: &Path, out: &mut Vec<Value>) {
    let ints = sample_array::<i16>(&[2, 3], Order::C);
    let fortran = sample_array::<f32>(&[2, 3, 4], Order::F);
    let cplx = sample_array::<Complex<f64>>(&[3], Order::C);
    let scalar = ArrayD::from_elem(IxDyn(&[]), 2.5f64);
    let empty = sample_array::<u8>(&[0, 3], Order::C);
    let big = sample_array::<u64>(&[5], Order::C);
    let specials = Array::from(SPECIAL_F64.to_vec());
    let strided = sample_array::<i32>(&[4, 4], Order::C);
    let strided = strided.slice(s![..;2, 1..]);
    let mask = bool_mask(&[2, 3, 4], Order::F);
    let members: [(&str, &dyn NpyWritable, Value); 9] = [
        ("arr_0", &ints, array_json(&ints, false)),
        ("fortran_f4", &fortran, array_json(&fortran, true)),
        ("cplx", &cplx, array_json(&cplx, false)),
        ("scalar", &scalar, array_json(&scalar, false)),
        ("empty", &empty, array_json(&empty, false)),
        ("big_u8", &big, array_json(&big, false)),
        ("specials", &specials, array_json(&specials, false)),
        ("strided_i4", &strided, array_json(&strided, false)),
        ("mask", &mask, bool_json(&mask, true)),
    ];
    let arrays: Vec<(&str, &dyn NpyWritable)> = members.iter().map(|(n, a, _)| (*n, *a)).collect();
    let member_json: Vec<Value> = members
        .iter()
        .map(|(name, _, entry)| {
            let mut entry = entry.clone();
            entry["name"] = json!(name);
            entry
        })
        .collect();
    for compressed in [false, true] {
        let relative = if compressed {
            "npz/mixed-compressed.npz"
        } else {
            "npz/mixed.npz"
        };
        let path = dir.join(relative);
        if compressed {
            savez_compressed(&path, &arrays).unwrap();
        } else {
            savez(&path, &arrays).unwrap();
        }
        let archive = NpzArchive::open(&path).unwrap();
        let names: Vec<&str> = members.iter().map(|(n, _, _)| *n).collect();
        assert_eq!(archive.names(), names);
        out.push(json!({"path": relative, "compressed": compressed, "members": member_json}));
    }
    // numpy writes and reads archives without members too (`np.savez(path)`).
    let relative = "npz/no-members.npz";
    savez(dir.join(relative), &[]).unwrap();
    assert!(
        NpzArchive::open(dir.join(relative))
            .unwrap()
            .names()
            .is_empty()
    );
    out.push(json!({"path": relative, "compressed": false, "members": []}));
}

/// One raw file numpy should map with `np.memmap(path, dtype, 'r', offset, shape, order)`.
struct MemmapCase {
    code: &'static str,
    shape: &'static [usize],
    order: Order,
    offset: u64,
    byte_order: ByteOrder,
}

const MEMMAP_CASES: [MemmapCase; 9] = [
    MemmapCase {
        code: "f4",
        shape: &[3, 4],
        order: Order::C,
        offset: 0,
        byte_order: ByteOrder::Little,
    },
    MemmapCase {
        code: "f8",
        shape: &[2, 3, 4],
        order: Order::F,
        offset: 352,
        byte_order: ByteOrder::Big,
    },
    MemmapCase {
        code: "i2",
        shape: &[5],
        order: Order::C,
        offset: 352,
        byte_order: ByteOrder::Big,
    },
    MemmapCase {
        code: "c8",
        shape: &[2, 3],
        order: Order::F,
        offset: 0,
        byte_order: ByteOrder::Little,
    },
    MemmapCase {
        code: "c16",
        shape: &[3, 2],
        order: Order::C,
        offset: 352,
        byte_order: ByteOrder::Big,
    },
    MemmapCase {
        code: "u8",
        shape: &[2, 2, 2],
        order: Order::F,
        offset: 0,
        byte_order: ByteOrder::Big,
    },
    MemmapCase {
        code: "i1",
        shape: &[7],
        order: Order::C,
        offset: 352,
        byte_order: ByteOrder::Little,
    },
    MemmapCase {
        code: "u2",
        shape: &[1, 1, 7],
        order: Order::F,
        offset: 352,
        byte_order: ByteOrder::Little,
    },
    MemmapCase {
        code: "f8",
        shape: &[],
        order: Order::C,
        offset: 352,
        byte_order: ByteOrder::Big,
    },
];

/// Creates the file in mode `w+`, fills it through `view_mut` (native order) or `set`, flushes,
/// and checks it reads back; returns the manifest entry.
fn write_memmap_case<T: Sample>(dir: &Path, case: &MemmapCase) -> Result<Value, String> {
    let order_name = if case.byte_order == ByteOrder::Big {
        "be"
    } else {
        "le"
    };
    let relative = format!(
        "memmap/{}-{order_name}-{}-{:?}-off{}.dat",
        case.code,
        shape_name(case.shape),
        case.order,
        case.offset
    );
    let path = dir.join(&relative);
    let options = |mode| {
        MemmapOptions::new(mode)
            .offset(case.offset)
            .shape(case.shape)
            .order(case.order)
            .byte_order(case.byte_order)
    };
    let n: usize = case.shape.iter().product();
    let values: Vec<T> = (0..n).map(|i| T::sample(i, n)).collect();
    let mut map = MemmapArray::<T>::open(&path, options(MapMode::Create)).map_err(err)?;
    if map.is_native() {
        let mut view = map.view_mut().map_err(err)?;
        for (slot, value) in view.iter_mut().zip(&values) {
            *slot = *value;
        }
    } else {
        for (flat, value) in values.iter().enumerate() {
            map.set(&c_index(flat, case.shape), *value).map_err(err)?;
        }
    }
    map.flush().map_err(err)?;
    drop(map);
    let back = MemmapArray::<T>::open(&path, options(MapMode::Read)).map_err(err)?;
    let expected: Vec<Scalar> = values.iter().map(|v| v.scalar()).collect();
    same_values(&relative, back.to_array().iter(), &expected)?;
    Ok(json!({
        "path": relative,
        "dtype": dtype_str::<T>(case.byte_order),
        "shape": case.shape,
        "order": format!("{:?}", case.order),
        "offset": case.offset,
        "values": expected.iter().map(|v| v.to_json()).collect::<Vec<_>>(),
    }))
}

#[test]
fn neurovox_writes_files_for_numpy() {
    let started = Instant::now();
    let dir = roundtrip_dir();
    prepare_roundtrip_dir(&dir);
    let mut manifest = RoundtripManifest::default();

    write_npy_matrix::<u8>(&dir, &mut manifest.npy);
    write_npy_matrix::<i8>(&dir, &mut manifest.npy);
    write_npy_matrix::<u16>(&dir, &mut manifest.npy);
    write_npy_matrix::<i16>(&dir, &mut manifest.npy);
    write_npy_matrix::<u32>(&dir, &mut manifest.npy);
    write_npy_matrix::<i32>(&dir, &mut manifest.npy);
    write_npy_matrix::<u64>(&dir, &mut manifest.npy);
    write_npy_matrix::<i64>(&dir, &mut manifest.npy);
    write_npy_matrix::<f32>(&dir, &mut manifest.npy);
    write_npy_matrix::<f64>(&dir, &mut manifest.npy);
    write_npy_matrix::<Complex<f32>>(&dir, &mut manifest.npy);
    write_npy_matrix::<Complex<f64>>(&dir, &mut manifest.npy);
    write_npy_specials(&dir, &mut manifest.npy);
    write_npy_views(&dir, &mut manifest.npy);
    write_npy_bools(&dir, &mut manifest.npy);
    write_npz_archives(&dir, &mut manifest.npz);
    for case in &MEMMAP_CASES {
        let entry = with_element_type!(case.code, write_memmap_case(&dir, case)).unwrap();
        manifest.memmap.push(entry);
    }

    let text = serde_json::to_string_pretty(&json!({
        "writer": "neurovox",
        "npy": manifest.npy,
        "npz": manifest.npz,
        "memmap": manifest.memmap,
    }))
    .unwrap();
    std::fs::write(dir.join("manifest.json"), text).unwrap();
    eprintln!(
        "wrote {} .npy, {} .npz, {} memmap files for numpy to {} ({:.2?})",
        manifest.npy.len(),
        manifest.npz.len(),
        manifest.memmap.len(),
        dir.display(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// The helpers themselves

#[test]
fn storage_positions_walk_fortran_order() {
    // shape (2, 3): C order (0,0) (0,1) (0,2) (1,0) (1,1) (1,2) → F positions 0 2 4 1 3 5
    let positions: Vec<usize> = (0..6).map(|i| storage_position(i, &[2, 3], true)).collect();
    assert_eq!(positions, [0, 2, 4, 1, 3, 5]);
    assert_eq!(storage_position(4, &[2, 3], false), 4);
    assert_eq!(c_index(5, &[2, 3]), [1, 2]);
    assert!(c_index(0, &[]).is_empty());
}

#[test]
fn decoding_handles_sign_extension_and_byte_order() {
    let spec = ArraySpec {
        dtype: ">i2".into(),
        shape: vec![2],
        fortran_order: false,
        values: None,
    };
    let values = spec.decode(&[0xff, 0xfe, 0x01, 0x02]).unwrap();
    assert!(values[0].same(Scalar::Int(-2)));
    assert!(values[1].same(Scalar::Int(0x0102)));
    assert!(!Scalar::Float(0.0).same(Scalar::Float(-0.0)));
    assert!(Scalar::Float(f64::NAN).same(Scalar::Float(-f64::NAN)));
}
