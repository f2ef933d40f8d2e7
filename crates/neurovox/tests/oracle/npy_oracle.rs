//! Every `.npy` header numpy writes parses to what numpy reports, and we write the same bytes.
//!
//! `tests/oracle/make_numpy_fixtures.py` (run by `scripts/test.sh`) writes `.npy` files with
//! numpy — every supported dtype × byte order × C/Fortran order × shape, forced format versions
//! 2.0 and 3.0, special float values, and dtypes we refuse — and a `manifest.json` of what numpy
//! reads from each. One trial per file parses its header, compares version, dtype, order, shape and
//! data offset, checks that [`npy_header_bytes`] reproduces numpy's header byte for byte, and
//! decodes the data to compare every value. The manifest's `npz` and `memmap` entries belong to
//! other tests.
//!
//! The fixtures live in `$NEUROVOX_NUMPY_ORACLE_DIR` (default `target/numpy-oracle`). Without
//! them one ignored trial says so, unless `NEUROVOX_REQUIRE_ORACLE=1` (set by
//! `scripts/test.sh`), which makes it fail, so a CI run can never skip it silently.

use crate::common;
use common::{json_f64, json_usizes};

use libtest_mimic::Trial;
use neurovox::numpy::npy::{
    NpyDtype, npy_header_bytes, npy_header_bytes_versioned, npy_header_len, parse_npy_header,
};
use neurovox::{ByteOrder, DataType, ErrorKind};
use serde_json::Value;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

fn load_manifest(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest readable");
    serde_json::from_str(&text).expect("manifest is JSON")
}

/// The header bytes of a file, read as a caller would: the fixed prefix, then exactly
/// `npy_header_len` bytes.
fn read_header_bytes(path: &Path) -> neurovox::Result<Vec<u8>> {
    let mut file = std::fs::File::open(path)?;
    let mut prefix = [0u8; 12];
    file.read_exact(&mut prefix)?;
    let len = npy_header_len(&prefix)?;
    let mut header = prefix.to_vec();
    header.resize(len, 0);
    file.read_exact(&mut header[12..])?;
    Ok(header)
}

/// One array element, decoded from the file or read from the manifest.
#[derive(Debug, Clone, Copy)]
enum Element {
    Int(i128),
    Float(f64),
    Complex(f64, f64),
}

fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn same_element(a: Element, b: Element) -> bool {
    match (a, b) {
        (Element::Int(x), Element::Int(y)) => x == y,
        (Element::Float(x), Element::Float(y)) => same_f64(x, y),
        (Element::Complex(xr, xi), Element::Complex(yr, yi)) => {
            same_f64(xr, yr) && same_f64(xi, yi)
        }
        _ => false,
    }
}

fn json_element(v: &Value, dtype: DataType) -> Element {
    if dtype.is_integer() {
        let n = v
            .as_i64()
            .map(i128::from)
            .or_else(|| v.as_u64().map(i128::from));
        return Element::Int(n.expect("integer value"));
    }
    if dtype.is_complex() {
        let parts = v.as_array().expect("complex as [re, im]");
        return Element::Complex(json_f64(&parts[0]), json_f64(&parts[1]));
    }
    Element::Float(json_f64(v))
}

/// `N` bytes in the file's byte order, as little-endian.
fn le_bytes<const N: usize>(bytes: &[u8], order: ByteOrder) -> [u8; N] {
    let mut out: [u8; N] = bytes.try_into().unwrap();
    if order == ByteOrder::Big {
        out.reverse();
    }
    out
}

fn decode_f64(bytes: &[u8], order: ByteOrder) -> f64 {
    match bytes.len() {
        4 => f64::from(f32::from_le_bytes(le_bytes(bytes, order))),
        8 => f64::from_le_bytes(le_bytes(bytes, order)),
        n => panic!("no {n}-byte float"),
    }
}

fn decode_element(bytes: &[u8], dtype: NpyDtype) -> Element {
    let dtype = match dtype {
        NpyDtype::Number(dtype) => dtype,
        NpyDtype::Bool => return Element::Int(bytes[0].into()),
    };
    let order = dtype.order;
    match dtype.dtype {
        DataType::UInt8 => Element::Int(bytes[0].into()),
        DataType::Int8 => Element::Int(i8::from_le_bytes([bytes[0]]).into()),
        DataType::UInt16 => Element::Int(u16::from_le_bytes(le_bytes(bytes, order)).into()),
        DataType::Int16 => Element::Int(i16::from_le_bytes(le_bytes(bytes, order)).into()),
        DataType::UInt32 => Element::Int(u32::from_le_bytes(le_bytes(bytes, order)).into()),
        DataType::Int32 => Element::Int(i32::from_le_bytes(le_bytes(bytes, order)).into()),
        DataType::UInt64 => Element::Int(u64::from_le_bytes(le_bytes(bytes, order)).into()),
        DataType::Int64 => Element::Int(i64::from_le_bytes(le_bytes(bytes, order)).into()),
        DataType::Float32 | DataType::Float64 => Element::Float(decode_f64(bytes, order)),
        DataType::Complex64 | DataType::Complex128 => {
            let (re, im) = bytes.split_at(bytes.len() / 2);
            Element::Complex(decode_f64(re, order), decode_f64(im, order))
        }
        other => panic!("{other} is not a .npy dtype"),
    }
}

/// Where the element at C-order position `flat` sits in storage of the given order.
fn storage_index(flat: usize, shape: &[usize], fortran_order: bool) -> usize {
    if !fortran_order {
        return flat;
    }
    let mut rest = flat;
    let mut index = vec![0; shape.len()];
    for axis in (0..shape.len()).rev() {
        index[axis] = rest % shape[axis];
        rest /= shape[axis];
    }
    let mut stride = 1;
    let mut offset = 0;
    for axis in 0..shape.len() {
        offset += index[axis] * stride;
        stride *= shape[axis];
    }
    offset
}

/// Checks one supported entry; Err describes the first mismatch.
fn check_supported(dir: &Path, entry: &Value) -> Result<(), String> {
    let path = dir.join(entry["path"].as_str().unwrap());
    let header_bytes = read_header_bytes(&path).map_err(|e| format!("header: {e}"))?;
    let header = parse_npy_header(&header_bytes).map_err(|e| format!("parse: {e}"))?;

    let version = json_usizes(&entry["version"]);
    let expected_version = (
        u8::try_from(version[0]).unwrap(),
        u8::try_from(version[1]).unwrap(),
    );
    let numpy_dtype = entry["dtype"].as_str().unwrap();
    let shape = json_usizes(&entry["shape"]);
    let fortran_order = entry["fortran_order"].as_bool().unwrap();
    let header_len = usize::try_from(entry["header_len"].as_u64().unwrap()).unwrap();
    let compare = |what: &str, ours: String, numpy: String| {
        if ours == numpy {
            Ok(())
        } else {
            Err(format!("{what}: ours {ours}, numpy {numpy}"))
        }
    };
    compare(
        "version",
        format!("{:?}", header.version),
        format!("{expected_version:?}"),
    )?;
    compare("dtype", header.dtype.to_string(), numpy_dtype.to_string())?;
    compare(
        "NpyDtype::from_descr",
        format!(
            "{:?}",
            NpyDtype::from_descr(numpy_dtype).map_err(|e| e.to_string())?
        ),
        format!("{:?}", header.dtype),
    )?;
    compare(
        "fortran_order",
        header.fortran_order.to_string(),
        fortran_order.to_string(),
    )?;
    compare("shape", format!("{:?}", header.shape), format!("{shape:?}"))?;
    compare(
        "data_offset",
        header.data_offset.to_string(),
        header_len.to_string(),
    )?;

    // np.save writes 1.0; the 2.0 / 3.0 files were written by format.write_array(version=...),
    // which the versioned writer reproduces.
    {
        let ours = if header.version == (1, 0) {
            npy_header_bytes(header.dtype, header.fortran_order, &header.shape)
        } else {
            npy_header_bytes_versioned(
                header.dtype,
                header.fortran_order,
                &header.shape,
                header.version,
            )
        }
        .map_err(|e| format!("npy_header_bytes: {e}"))?;
        if ours != header_bytes {
            return Err(format!(
                "header bytes differ:\n ours  {:?}\n numpy {:?}",
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&header_bytes)
            ));
        }
    }

    let file = std::fs::read(&path).map_err(|e| e.to_string())?;
    let data = &file[header.data_offset..];
    let data_len = usize::try_from(header.data_len().map_err(|e| e.to_string())?).unwrap();
    compare("data length", data.len().to_string(), data_len.to_string())?;
    check_values(
        data,
        &header.shape,
        header.dtype,
        header.fortran_order,
        &entry["values"],
    )
}

/// Decodes every element and compares it with numpy's flat C-order list.
fn check_values(
    data: &[u8],
    shape: &[usize],
    dtype: NpyDtype,
    fortran_order: bool,
    values: &Value,
) -> Result<(), String> {
    let Some(values) = values.as_array() else {
        return Ok(()); // more than 64 elements: the length check above covers the data
    };
    let itemsize = dtype.itemsize();
    if values.len() * itemsize != data.len() {
        return Err(format!(
            "{} values for {} data bytes",
            values.len(),
            data.len()
        ));
    }
    for (flat, value) in values.iter().enumerate() {
        let at = storage_index(flat, shape, fortran_order) * itemsize;
        let ours = decode_element(&data[at..at + itemsize], dtype);
        let numpy = match dtype {
            NpyDtype::Number(dtype) => json_element(value, dtype.dtype),
            // the manifest lists numpy's True / False as 1 / 0
            NpyDtype::Bool => json_element(value, DataType::UInt8),
        };
        if !same_element(ours, numpy) {
            return Err(format!("value {flat}: ours {ours:?}, numpy {numpy:?}"));
        }
    }
    Ok(())
}

/// Checks one entry numpy wrote but we refuse: the expected error kind, naming the field.
fn check_unsupported(dir: &Path, entry: &Value) -> Result<(), String> {
    let path = dir.join(entry["path"].as_str().unwrap());
    let (kind, field) = match entry["error_kind"].as_str() {
        Some("limit") => (ErrorKind::Limit, "header_len"),
        _ => (ErrorKind::Unsupported, "descr"),
    };
    let result = read_header_bytes(&path).and_then(|bytes| parse_npy_header(&bytes));
    match result {
        Ok(header) => Err(format!(
            "parsed as {header:?}, expected {kind} on `{field}`"
        )),
        Err(e) if e.kind() == kind && e.field_name() == Some(field) => Ok(()),
        Err(e) => Err(format!("expected {kind} on `{field}`, got {e}")),
    }
}

/// The trials: `npy_oracle::<path>` for each `.npy` file of the manifest, `npy_oracle::coverage`
/// for the list as a whole, and `npy_oracle::storage_index_walks_fortran_order`.
pub fn trials() -> Vec<Trial> {
    let mut trials = vec![Trial::test(
        "npy_oracle::storage_index_walks_fortran_order",
        || {
            storage_index_walks_fortran_order();
            Ok(())
        },
    )];
    let dir = match crate::fixtures("npy_oracle", common::Oracle::Numpy) {
        Ok(dir) => Arc::new(dir),
        Err(skipped) => {
            trials.extend(skipped);
            return trials;
        }
    };
    let manifest = Arc::new(load_manifest(&dir));
    {
        let manifest = Arc::clone(&manifest);
        trials.push(Trial::test("npy_oracle::coverage", move || {
            coverage(&manifest);
            Ok(())
        }));
    }
    for (n, entry) in manifest["npy"]
        .as_array()
        .expect("npy entries")
        .iter()
        .enumerate()
    {
        let path = entry["path"].as_str().unwrap();
        let (dir, manifest) = (Arc::clone(&dir), Arc::clone(&manifest));
        trials.push(Trial::test(format!("npy_oracle::{path}"), move || {
            npy_file_matches_numpy(&dir, &manifest["npy"][n]).map_err(Into::into)
        }));
    }
    trials
}

/// The manifest lists `.npy` files.
fn coverage(manifest: &Value) {
    let entries = manifest["npy"].as_array().expect("npy entries");
    assert!(!entries.is_empty(), "the manifest lists no .npy files");
    let supported = entries
        .iter()
        .filter(|entry| entry["supported"].as_bool().unwrap())
        .count();
    eprintln!(
        "numpy {}: {} .npy files, {supported} supported, {} refused",
        manifest["numpy_version"],
        entries.len(),
        entries.len() - supported
    );
}

/// Every `.npy` header numpy writes parses to what numpy reports: one file.
fn npy_file_matches_numpy(dir: &Path, entry: &Value) -> Result<(), String> {
    let result = if entry["supported"].as_bool().unwrap() {
        check_supported(dir, entry)
    } else {
        check_unsupported(dir, entry)
    };
    result.map_err(|msg| format!("{}: {msg}", entry["path"].as_str().unwrap()))
}

fn storage_index_walks_fortran_order() {
    // shape (2, 3): C order (0,0) (0,1) (0,2) (1,0) (1,1) (1,2) → F offsets 0 2 4 1 3 5
    let offsets: Vec<usize> = (0..6).map(|i| storage_index(i, &[2, 3], true)).collect();
    assert_eq!(offsets, [0, 2, 4, 1, 3, 5]);
    assert_eq!(storage_index(4, &[2, 3], false), 4);
    assert_eq!(storage_index(0, &[], true), 0);
}
