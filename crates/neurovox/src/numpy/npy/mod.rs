//! `.npy` files as numpy writes them. This file is the header codec — bytes in, [`NpyHeader`]
//! out, and back, no I/O; `literal.rs` parses the header's Python literals, `descr.rs` numpy's
//! dtype strings ([`NpyDtype`]), `file.rs` reads and writes whole files and maps them.
//!
//! # The format
//!
//! A `.npy` file (numpy's `numpy/lib/_format_impl.py`) is a header followed by the raw array
//! data, nothing after it:
//!
//! | bytes            | content                                                              |
//! |------------------|----------------------------------------------------------------------|
//! | 0..6             | the magic `\x93NUMPY`                                                |
//! | 6, 7             | format version, major and minor: 1.0, 2.0 or 3.0                     |
//! | 8..10 or 8..12   | header text length, little-endian: `u16` in 1.0, `u32` in 2.0 / 3.0  |
//! | then             | the header text: a Python dict literal, latin-1 (1.0, 2.0) or UTF-8 (3.0) |
//! | then             | the data, `shape` product × item size bytes, C or Fortran order      |
//!
//! The dict has exactly the keys `'descr'` (numpy's dtype string, `'<f8'`), `'fortran_order'`
//! (`True`/`False`) and `'shape'` (a tuple of ints; `()` for a 0-d array). numpy 2 writes the
//! keys sorted, then 21 − len(str(growth axis)) spaces (room for the first axis, or the last in
//! Fortran order, to grow in place), then pads with spaces and a final `\n` so the data starts on
//! a 64-byte boundary — always adding at least one space, so a header that would already end on
//! the boundary gets 64 more. It writes version 1.0 unless the padded text is longer than 65535
//! bytes (2.0) or not latin-1 (3.0); with at most 64 dimensions and no structured dtypes, ours
//! always fits 1.0. numpy refuses to read headers longer than [`MAX_HEADER_SIZE`].
//!
//! [`parse_npy_header`] reads the header with a small, strict parser for the literals numpy
//! writes and accepts (strings in either quote, `True`/`False`, integers — with Python 2's `L`
//! suffix in 1.0/2.0 files, which numpy still reads —, tuples, lists, dicts, trailing commas,
//! whitespace), not a general Python evaluator. [`npy_header_bytes`] writes byte for byte what
//! numpy 2.4's `np.save` writes before the data.
//!
//! # Supported dtypes
//!
//! | descr (`<`, `>`, `\|`, `=` or no byte order)  | [`NpyDtype`]                           |
//! |-----------------------------------------------|----------------------------------------|
//! | `u1 u2 u4 u8`, `i1 i2 i4 i8`                   | `Number`: `UInt8` … `Int64`            |
//! | `f4 f8`                                        | `Number`: `Float32`, `Float64`         |
//! | `c8 c16`                                       | `Number`: `Complex64`, `Complex128`    |
//! | `b1`                                           | `Bool` (Rust `bool`; no [`DataType`])  |
//!
//! `=`, `|` and no byte order mean the machine's own ([`ByteOrder::NATIVE`]), as in numpy.
//! bool is an [`NpyDtype`] of its own, not a [`DataType`], because no neuroimaging format
//! stores it (see [`NpyDtype`] for why, and for how bytes other than 0 and 1 are read).
//! Everything else numpy can write is an [`ErrorKind::Unsupported`](crate::ErrorKind) error on
//! field `descr`: float16 (`f2`), longdouble (`f16`, `c32`: on x86-64 that is
//! 80-bit extended precision padded to 16 bytes, not IEEE binary128, so it is never read as our
//! [`DataType::Float128`]), byte and unicode strings (`S`, `U`), datetimes (`M`, `m`), objects
//! (`O`, pickled), void (`V`) and structured dtypes (a list of fields). Our `Float128`,
//! `Complex256`, `Rgb24` and `Rgba32` have no `.npy` descr and cannot be written.
//!
//! # Why not a crate
//!
//! `npyz` (0.9) and `ndarray-npy` (0.10) read and write `.npy` files, but each as a whole-array
//! reader/writer over its own element traits and error types. We need the header alone: the
//! exact bytes numpy 2.4 writes (ndarray-npy's writer omits numpy 2's growth-axis spaces), the
//! data offset so the data can be memory-mapped in place — also inside an uncompressed `.npz`
//! member —, our own [`StorageDtype`]/[`ByteOrder`] and [`Error`] taxonomy with field names,
//! numpy's `max_header_size` limit (ndarray-npy allocates whatever length the header declares),
//! and a guarantee never to panic on any input. That is a few hundred lines, so we own them.
//!
//! ```
//! use neurovox::numpy::npy::{npy_header_bytes, parse_npy_header};
//! use neurovox::{ByteOrder, DataType, StorageDtype};
//!
//! let f8 = StorageDtype::new(DataType::Float64, ByteOrder::Little);
//! let bytes = npy_header_bytes(f8, false, &[2, 3])?;
//! assert_eq!(bytes.len(), 128); // data starts on a 64-byte boundary
//! let header = parse_npy_header(&bytes)?;
//! assert_eq!((header.version, header.shape.clone(), header.data_offset), ((1, 0), vec![2, 3], 128));
//! # Ok::<(), neurovox::Error>(())
//! ```

use crate::error::{Error, Result};
#[cfg(doc)]
use crate::{ByteOrder, DataType, StorageDtype};

mod descr;
mod file;
mod literal;

use descr::parse_descr;
pub use descr::{NpyDtype, descr_to_dtype, dtype_to_descr};
pub use file::{
    NpyData, NpyElement, NpyWritable, check_data_len, load_npy, map_npy, open_npy, read_npy,
    read_npy_data_into, read_npy_dyn, read_npy_header, save_npy, write_npy,
};
pub(crate) use file::{map_npy_bytes, map_npy_data};
use literal::{DictItem, Literal, LiteralParser, Spanned, offset_u64};

/// The six bytes every `.npy` file starts with.
///
/// ```
/// assert_eq!(&neurovox::numpy::npy::MAGIC[1..], b"NUMPY");
/// ```
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// numpy's default `max_header_size` (10000): longer headers are a Limit error, as numpy
/// refuses them.
///
/// numpy counts decoded characters; we count bytes, which is the same for every header we
/// support (non-ASCII text can only appear in structured dtypes' field names).
///
/// ```
/// use neurovox::numpy::npy::{npy_header_len, MAX_HEADER_SIZE};
/// let mut prefix = b"\x93NUMPY\x01\x00".to_vec();
/// prefix.extend_from_slice(&u16::try_from(MAX_HEADER_SIZE + 1).unwrap().to_le_bytes());
/// assert_eq!(npy_header_len(&prefix).unwrap_err().kind(), neurovox::ErrorKind::Limit);
/// ```
pub const MAX_HEADER_SIZE: usize = 10_000;

/// The most dimensions a numpy array can have (`NPY_MAXDIMS` in numpy 2); more is a Limit error.
///
/// ```
/// use neurovox::numpy::npy::{npy_header_bytes, MAX_NDIM};
/// use neurovox::{ByteOrder, DataType, StorageDtype};
/// let u1 = StorageDtype::new(DataType::UInt8, ByteOrder::Little);
/// assert!(npy_header_bytes(u1, false, &[1; MAX_NDIM]).is_ok());
/// assert!(npy_header_bytes(u1, false, &[1; MAX_NDIM + 1]).is_err());
/// ```
pub const MAX_NDIM: usize = 64;

/// The magic plus the two version bytes.
const PREFIX_LEN: usize = 8;

/// numpy aligns the start of the data to this many bytes.
const ARRAY_ALIGN: usize = 64;

/// numpy 2 leaves room for the growth axis to reach this many digits (`len(str(8*2**64-1))`).
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// numpy's largest array: `shape` product × item size must fit in `npy_intp` (`i64`).
const MAX_NBYTES: u64 = i64::MAX as u64;

/// A parsed `.npy` header.
///
/// ```
/// use neurovox::numpy::npy::{parse_npy_header, NpyDtype, NpyHeader};
/// use neurovox::{ByteOrder, DataType, StorageDtype};
///
/// // 10 bytes of prefix, then 59 of text (numpy would pad it to 118; the parser needs no padding)
/// let mut file = b"\x93NUMPY\x01\x00\x3b\x00".to_vec();
/// file.extend_from_slice(b"{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }\n");
/// let header = parse_npy_header(&file)?;
/// assert_eq!(
///     header,
///     NpyHeader {
///         version: (1, 0),
///         dtype: NpyDtype::Number(StorageDtype::new(DataType::Int16, ByteOrder::Big)),
///         fortran_order: true,
///         shape: vec![2, 3],
///         data_offset: 69,
///     }
/// );
/// assert_eq!(header.data_len()?, 12);
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Format version: (1, 0), (2, 0) or (3, 0).
    pub version: (u8, u8),
    /// Element type and byte order.
    pub dtype: NpyDtype,
    /// True when the data is stored in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The array's shape; empty for a 0-d (scalar) array.
    pub shape: Vec<usize>,
    /// Total header length: magic + version + length field + header text. The data starts here.
    pub data_offset: usize,
}

impl NpyHeader {
    /// The number of elements: the product of the shape (1 for a 0-d array).
    ///
    /// ```
    /// use neurovox::numpy::npy::NpyHeader;
    /// use neurovox::{ByteOrder, DataType, StorageDtype};
    /// let mut h = NpyHeader {
    ///     version: (1, 0),
    ///     dtype: StorageDtype::new(DataType::Float32, ByteOrder::Little).into(),
    ///     fortran_order: false,
    ///     shape: vec![],
    ///     data_offset: 128,
    /// };
    /// assert_eq!(h.element_count()?, 1);
    /// h.shape = vec![4, 0];
    /// assert_eq!(h.element_count()?, 0);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn element_count(&self) -> Result<u64> {
        checked_nbytes(&self.shape, 1)
    }

    /// The number of data bytes after the header: element count × item size.
    ///
    /// ```
    /// use neurovox::numpy::npy::NpyHeader;
    /// use neurovox::{ByteOrder, DataType, StorageDtype};
    /// let h = NpyHeader {
    ///     version: (1, 0),
    ///     dtype: StorageDtype::new(DataType::Complex128, ByteOrder::Little).into(),
    ///     fortran_order: false,
    ///     shape: vec![2, 5],
    ///     data_offset: 128,
    /// };
    /// assert_eq!(h.data_len()?, 160);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn data_len(&self) -> Result<u64> {
        checked_nbytes(&self.shape, self.dtype.itemsize())
    }
}

// ---------------------------------------------------------------------------------------------
// The fixed prefix: magic, version, length field.

/// The version bytes after a correct magic.
fn read_version(bytes: &[u8]) -> Result<(u8, u8)> {
    let magic = bytes
        .get(..MAGIC.len())
        .ok_or_else(|| truncated(PREFIX_LEN, bytes.len()))?;
    if magic != MAGIC {
        return Err(Error::header_value(format!(
            "not a .npy file: the magic is {}, not \\x93NUMPY",
            escape_bytes(magic)
        ))
        .field("magic")
        .offset(0));
    }
    match bytes.get(MAGIC.len()..PREFIX_LEN) {
        Some(&[major, minor]) => Ok((major, minor)),
        _ => Err(truncated(PREFIX_LEN, bytes.len())),
    }
}

/// Bytes of the header-length field in a format version.
fn len_field_size(version: (u8, u8)) -> Result<usize> {
    match version {
        (1, 0) => Ok(2),
        (2, 0) | (3, 0) => Ok(4),
        (major, minor) => Err(Error::header_value(format!(
            "unknown .npy format version {major}.{minor} (numpy writes 1.0, 2.0 and 3.0)"
        ))
        .field("version")
        .offset(MAGIC.len() as u64)),
    }
}

/// The little-endian header-text length that follows the version.
fn read_text_len(bytes: &[u8], field_size: usize) -> Result<usize> {
    let end = PREFIX_LEN + field_size;
    let field = bytes
        .get(PREFIX_LEN..end)
        .ok_or_else(|| truncated(end, bytes.len()))?;
    let mut le = [0u8; 4];
    le[..field_size].copy_from_slice(field);
    usize::try_from(u32::from_le_bytes(le)).map_err(|_| {
        Error::limit("the header length does not fit in memory")
            .field("header_len")
            .offset(PREFIX_LEN as u64)
    })
}

/// How many bytes the whole header takes — magic, version, length field and header text —
/// read from the first 10 (version 1.0) or 12 (2.0, 3.0) bytes of a file, so a caller can read
/// exactly that much. This is the data offset.
///
/// Errors: a wrong magic or unknown version (Format), fewer bytes than the prefix (Format), a
/// header text longer than [`MAX_HEADER_SIZE`] (Limit, field `header_len`).
///
/// ```
/// use neurovox::numpy::npy::npy_header_len;
/// assert_eq!(npy_header_len(b"\x93NUMPY\x01\x00\x76\x00")?, 128);
/// assert_eq!(npy_header_len(b"\x93NUMPY\x02\x00\x74\x00\x00\x00")?, 128);
/// assert!(npy_header_len(b"\x93NUMPY\x04\x00\x76\x00\x00\x00").is_err());
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn npy_header_len(prefix: &[u8]) -> Result<usize> {
    let version = read_version(prefix)?;
    let field_size = len_field_size(version)?;
    let text_len = read_text_len(prefix, field_size)?;
    if text_len > MAX_HEADER_SIZE {
        return Err(Error::limit(format!(
            "the header text is {text_len} bytes, over numpy's max_header_size of {MAX_HEADER_SIZE}"
        ))
        .field("header_len")
        .offset(PREFIX_LEN as u64));
    }
    Ok(PREFIX_LEN + field_size + text_len)
}

/// Parses a `.npy` header from the start of a file (at least the whole header; more is
/// ignored).
///
/// Errors name the field at fault (`magic`, `version`, `header_len`, `header` for the dict's
/// syntax, `descr`, `fortran_order`, `shape`, or an unexpected key) and its byte offset:
/// Format for what numpy would refuse too, Unsupported for valid dtypes we do not handle (see
/// the module docs), Limit for headers over [`MAX_HEADER_SIZE`], more than [`MAX_NDIM`]
/// dimensions, or arrays over numpy's largest size.
///
/// ```
/// use neurovox::numpy::npy::parse_npy_header;
/// use neurovox::ErrorKind;
///
/// let mut file = b"\x93NUMPY\x01\x00\x38\x00".to_vec();
/// file.extend_from_slice(b"{'descr': '<f8', 'fortran_order': False, 'shape': (), }\n");
/// let header = parse_npy_header(&file)?;
/// assert!(header.shape.is_empty()); // a 0-d array holds one value
/// assert_eq!(header.element_count()?, 1);
///
/// let mut halves = b"\x93NUMPY\x01\x00\x3a\x00".to_vec();
/// halves.extend_from_slice(b"{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }\n");
/// let err = parse_npy_header(&halves).unwrap_err();
/// assert_eq!((err.kind(), err.field_name()), (ErrorKind::Unsupported, Some("descr")));
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn parse_npy_header(bytes: &[u8]) -> Result<NpyHeader> {
    let version = read_version(bytes)?;
    let text_start = PREFIX_LEN + len_field_size(version)?;
    let data_offset = npy_header_len(bytes)?;
    let text = bytes
        .get(text_start..data_offset)
        .ok_or_else(|| truncated(data_offset, bytes.len()))?;
    let fields = parse_header_dict(text, text_start, version)?;
    let dtype = dtype_from_literal(&fields.descr)?;
    let fortran_order = fortran_order_from_literal(&fields.fortran_order)?;
    let shape = shape_from_literal(&fields.shape)?;
    checked_nbytes(&shape, dtype.itemsize())
        .map_err(|e| e.offset(offset_u64(fields.shape.offset)))?;
    Ok(NpyHeader {
        version,
        dtype,
        fortran_order,
        shape,
        data_offset,
    })
}

/// A Format error for input shorter than a header needs.
fn truncated(needed: usize, given: usize) -> Error {
    Error::format(format!(
        "truncated .npy header: it needs {needed} bytes, only {given} given"
    ))
    .offset(offset_u64(given))
}

/// Bytes as Python would show them in a bytes literal.
fn escape_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The header dict: its three values, read from the literal parser's output.

/// The three values every header holds.
#[derive(Debug)]
struct HeaderFields {
    descr: Spanned,
    fortran_order: Spanned,
    shape: Spanned,
}

/// Parses the header text into its three values. `base` is the text's offset in the file.
fn parse_header_dict(text: &[u8], base: usize, version: (u8, u8)) -> Result<HeaderFields> {
    let mut parser = LiteralParser::new(text, base, version);
    let top = parser.value(0)?;
    if !parser.at_end() {
        return Err(parser.error("unexpected text after the header dict".into()));
    }
    let Literal::Dict(items) = top.literal else {
        return Err(Error::header_value("the header is not a dict")
            .field("header")
            .offset(offset_u64(top.offset)));
    };
    header_fields(items, top.offset)
}

/// Sorts a dict's items into the three keys numpy expects; a repeated key keeps its last value,
/// as in Python.
fn header_fields(items: Vec<DictItem>, dict_offset: usize) -> Result<HeaderFields> {
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    for DictItem { key, value } in items {
        let slot = match &key {
            Literal::Str(k) if k == "descr" => &mut descr,
            Literal::Str(k) if k == "fortran_order" => &mut fortran_order,
            Literal::Str(k) if k == "shape" => &mut shape,
            Literal::Str(k) => {
                return Err(Error::header_value(format!(
                    "unexpected key '{k}' in the header (numpy writes only 'descr', 'fortran_order' and 'shape')"
                ))
                .field(k.clone())
                .offset(offset_u64(value.offset)))
            }
            other => {
                return Err(Error::header_value(format!("header keys must be strings, not {other:?}"))
                    .field("header")
                    .offset(offset_u64(value.offset)))
            }
        };
        *slot = Some(value);
    }
    let missing = |name: &'static str| {
        Error::header_value(format!("the header has no '{name}' key"))
            .field(name)
            .offset(offset_u64(dict_offset))
    };
    Ok(HeaderFields {
        descr: descr.ok_or_else(|| missing("descr"))?,
        fortran_order: fortran_order.ok_or_else(|| missing("fortran_order"))?,
        shape: shape.ok_or_else(|| missing("shape"))?,
    })
}

fn dtype_from_literal(descr: &Spanned) -> Result<NpyDtype> {
    let offset = offset_u64(descr.offset);
    match &descr.literal {
        Literal::Str(s) => parse_descr(s).map_err(|e| e.offset(offset)),
        Literal::List(_) => Err(Error::unsupported("structured dtypes are not supported")
            .field("descr")
            .offset(offset)),
        Literal::Tuple(_) => Err(Error::unsupported("subarray dtypes are not supported")
            .field("descr")
            .offset(offset)),
        other => Err(Error::header_value(format!(
            "descr is not a valid dtype descriptor: {other:?}"
        ))
        .field("descr")
        .offset(offset)),
    }
}

fn fortran_order_from_literal(value: &Spanned) -> Result<bool> {
    match value.literal {
        Literal::Bool(b) => Ok(b),
        ref other => Err(Error::header_value(format!(
            "fortran_order is not True or False: {other:?}"
        ))
        .field("fortran_order")
        .offset(offset_u64(value.offset))),
    }
}

/// A tuple of non-negative integers, at most [`MAX_NDIM`] of them.
fn shape_from_literal(value: &Spanned) -> Result<Vec<usize>> {
    let offset = offset_u64(value.offset);
    let bad = |message: String| Error::header_value(message).field("shape").offset(offset);
    let Literal::Tuple(dims) = &value.literal else {
        return Err(bad(format!(
            "the shape is not a tuple of integers: {:?}",
            value.literal
        )));
    };
    check_ndim(dims.len()).map_err(|e| e.offset(offset))?;
    dims.iter()
        .map(|dim| match *dim {
            Literal::Int(n) if n < 0 => Err(bad(format!("negative dimension {n}"))),
            Literal::Int(n) => usize::try_from(n).map_err(|_| {
                Error::limit(format!("dimension {n} does not fit in memory"))
                    .field("shape")
                    .offset(offset)
            }),
            ref other => Err(bad(format!("a dimension is not an integer: {other:?}"))),
        })
        .collect()
}

fn check_ndim(ndim: usize) -> Result<()> {
    if ndim > MAX_NDIM {
        return Err(Error::limit(format!(
            "{ndim} dimensions; numpy arrays have at most {MAX_NDIM}"
        ))
        .field("shape"));
    }
    Ok(())
}

/// Product of `shape` × `itemsize`, checked as numpy checks it: the product of the non-zero
/// dimensions times the item size must fit in `i64`, even when another dimension is zero.
fn checked_nbytes(shape: &[usize], itemsize: usize) -> Result<u64> {
    let too_big = || {
        Error::limit(format!(
            "an array of shape {} with {itemsize}-byte items is larger than numpy's largest (2**63 - 1 bytes)",
            python_tuple(shape)
        ))
        .field("shape")
    };
    let mut nonzero = u64::try_from(itemsize).map_err(|_| too_big())?;
    let mut has_zero = false;
    for &dim in shape {
        let dim = u64::try_from(dim).map_err(|_| too_big())?;
        if dim == 0 {
            has_zero = true;
        } else {
            nonzero = nonzero.checked_mul(dim).ok_or_else(too_big)?;
        }
    }
    if nonzero > MAX_NBYTES {
        return Err(too_big());
    }
    Ok(if has_zero { 0 } else { nonzero })
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// Byte for byte what numpy 2.4's `np.save` writes before the data of an array with this
/// dtype, order and shape (`fortran_order` as numpy decides it: false for arrays that are both
/// C- and Fortran-contiguous, such as 1-d ones).
///
/// The text is the dict with sorted keys and Python's repr of the shape, then numpy 2's
/// growth-axis spaces, then spaces and `\n` up to a 64-byte boundary; version 1.0 unless that
/// does not fit a `u16` length (then 2.0, as numpy does).
///
/// ```
/// use neurovox::numpy::npy::npy_header_bytes;
/// use neurovox::{ByteOrder, DataType, StorageDtype};
///
/// let bytes = npy_header_bytes(StorageDtype::new(DataType::UInt8, ByteOrder::Little), false, &[3])?;
/// let mut expected = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
/// expected.extend_from_slice(b"{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }");
/// expected.resize(127, b' ');
/// expected.push(b'\n');
/// assert_eq!(bytes, expected);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn npy_header_bytes(
    dtype: impl Into<NpyDtype>,
    fortran_order: bool,
    shape: &[usize],
) -> Result<Vec<u8>> {
    let text = checked_header_text(dtype.into(), fortran_order, shape)?;
    wrap_header(text.as_bytes(), (1, 0))
        .or_else(|| wrap_header(text.as_bytes(), (2, 0)))
        .ok_or_else(|| {
            Error::limit("the .npy header does not fit a u32 length").field("header_len")
        })
}

/// As [`npy_header_bytes`], in a given format version, as numpy's
/// `format.write_array(..., version=...)` writes it: `(1, 0)`, `(2, 0)` (4-byte length) or
/// `(3, 0)` (UTF-8 text). A header too long for version 1.0 is a Limit error.
///
/// ```
/// use neurovox::numpy::npy::{npy_header_bytes_versioned, parse_npy_header};
/// use neurovox::{ByteOrder, DataType, StorageDtype};
/// let dtype = StorageDtype::new(DataType::Int16, ByteOrder::Big);
/// let bytes = npy_header_bytes_versioned(dtype, false, &[2, 3], (3, 0))?;
/// assert_eq!(&bytes[6..8], &[3, 0]);
/// assert_eq!(parse_npy_header(&bytes)?.shape, vec![2, 3]);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn npy_header_bytes_versioned(
    dtype: impl Into<NpyDtype>,
    fortran_order: bool,
    shape: &[usize],
    version: (u8, u8),
) -> Result<Vec<u8>> {
    let text = checked_header_text(dtype.into(), fortran_order, shape)?;
    len_field_size(version)?;
    wrap_header(text.as_bytes(), version).ok_or_else(|| {
        Error::limit(format!(
            "the .npy header does not fit format version {}.{}",
            version.0, version.1
        ))
        .field("header_len")
    })
}

/// The header dict text for an array, after checking numpy's limits on it.
fn checked_header_text(dtype: NpyDtype, fortran_order: bool, shape: &[usize]) -> Result<String> {
    let descr = dtype.descr()?;
    check_ndim(shape.len())?;
    checked_nbytes(shape, dtype.itemsize())?;
    Ok(header_dict_text(&descr, fortran_order, shape))
}

/// The dict as numpy formats it, with the growth-axis spaces but before the alignment padding.
fn header_dict_text(descr: &str, fortran_order: bool, shape: &[usize]) -> String {
    let order = if fortran_order { "True" } else { "False" };
    let mut text = format!(
        "{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {}, }}",
        python_tuple(shape)
    );
    let growth_axis = if fortran_order {
        shape.last()
    } else {
        shape.first()
    };
    if let Some(dim) = growth_axis {
        let spare = GROWTH_AXIS_MAX_DIGITS.saturating_sub(dim.to_string().len());
        text.extend(std::iter::repeat_n(' ', spare));
    }
    text
}

/// Python's repr of a tuple of ints: `()`, `(3,)`, `(2, 3)`.
fn python_tuple(dims: &[usize]) -> String {
    match dims {
        [] => "()".to_string(),
        [one] => format!("({one},)"),
        _ => {
            let inner: Vec<String> = dims.iter().map(usize::to_string).collect();
            format!("({})", inner.join(", "))
        }
    }
}

/// numpy's `_wrap_header`: magic, version, length, text, then at least one space and a `\n`
/// so the total is a multiple of 64. None when the length does not fit the version's field.
fn wrap_header(text: &[u8], version: (u8, u8)) -> Option<Vec<u8>> {
    let field_size = len_field_size(version).ok()?;
    let with_newline = text.len() + 1;
    let padding = ARRAY_ALIGN - (PREFIX_LEN + field_size + with_newline) % ARRAY_ALIGN;
    let text_len = u32::try_from(with_newline + padding).ok()?;
    if field_size == 2 && u16::try_from(text_len).is_err() {
        return None;
    }
    let mut out = Vec::with_capacity(PREFIX_LEN + field_size + with_newline + padding);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version.0, version.1]);
    out.extend_from_slice(&text_len.to_le_bytes()[..field_size]);
    out.extend_from_slice(text);
    out.resize(out.len() + padding, b' ');
    out.push(b'\n');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::dtype::{ByteOrder, DataType, StorageDtype};
    use ndarray::ShapeBuilder;

    /// A version 1.0 file prefix around `text`, without padding (numpy reads that too).
    fn v1(text: &str) -> Vec<u8> {
        with_version((1, 0), text.as_bytes())
    }

    fn with_version(version: (u8, u8), text: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[version.0, version.1]);
        let len = u32::try_from(text.len()).unwrap();
        if version == (1, 0) {
            out.extend_from_slice(&u16::try_from(len).unwrap().to_le_bytes());
        } else {
            out.extend_from_slice(&len.to_le_bytes());
        }
        out.extend_from_slice(text);
        out
    }

    fn dict(descr: &str, fortran: &str, shape: &str) -> String {
        format!("{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}\n")
    }

    fn err_of(bytes: &[u8]) -> Error {
        parse_npy_header(bytes).unwrap_err()
    }

    fn assert_err(err: &Error, kind: ErrorKind, field: &str, words: &str) {
        assert_eq!(err.kind(), kind, "{err}");
        assert_eq!(err.field_name(), Some(field), "{err}");
        assert!(err.message().contains(words), "{err}");
    }

    // -- prefix -----------------------------------------------------------------------------

    #[test]
    fn header_len_of_each_version() {
        assert_eq!(npy_header_len(b"\x93NUMPY\x01\x00\x76\x00").unwrap(), 128);
        assert_eq!(
            npy_header_len(b"\x93NUMPY\x02\x00\x74\x00\x00\x00").unwrap(),
            128
        );
        assert_eq!(
            npy_header_len(b"\x93NUMPY\x03\x00\x34\x01\x00\x00").unwrap(),
            320
        );
    }

    #[test]
    fn wrong_magic_is_a_format_error() {
        let err = npy_header_len(b"\x93NUMPX\x01\x00\x76\x00").unwrap_err();
        assert_err(&err, ErrorKind::Format, "magic", "not a .npy file");
        assert_eq!(err.byte_offset(), Some(0));
    }

    #[test]
    fn unknown_version_is_named() {
        let err = npy_header_len(b"\x93NUMPY\x01\x01\x76\x00").unwrap_err();
        assert_err(&err, ErrorKind::Format, "version", "version 1.1");
        let err = npy_header_len(b"\x93NUMPY\x04\x00\x76\x00\x00\x00").unwrap_err();
        assert_err(&err, ErrorKind::Format, "version", "version 4.0");
    }

    #[test]
    fn short_prefixes_are_truncated_not_panics() {
        for n in 0..12 {
            let full = b"\x93NUMPY\x02\x00\x74\x00\x00\x00";
            let err = npy_header_len(&full[..n]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Format, "{n}: {err}");
        }
        assert!(npy_header_len(b"\x93NUMPY\x01\x00\x76").is_err());
    }

    #[test]
    fn header_over_max_header_size_is_a_limit_error() {
        let err = npy_header_len(b"\x93NUMPY\x01\x00\x11\x27").unwrap_err(); // 10001
        assert_err(&err, ErrorKind::Limit, "header_len", "max_header_size");
        assert_eq!(
            npy_header_len(b"\x93NUMPY\x01\x00\x10\x27").unwrap(),
            10_010
        );
        let err = npy_header_len(b"\x93NUMPY\x02\x00\xff\xff\xff\xff").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Limit);
    }

    #[test]
    fn header_text_past_the_given_bytes_is_truncated() {
        let mut bytes = v1(&dict("'<f8'", "False", "()"));
        bytes.truncate(30);
        let err = err_of(&bytes);
        assert_eq!(err.kind(), ErrorKind::Format);
        assert!(err.message().contains("truncated"), "{err}");
    }

    // -- the dict ---------------------------------------------------------------------------

    #[test]
    fn parses_what_numpy_writes() {
        let h = parse_npy_header(&v1(&dict("'<f8'", "False", "(2, 3)"))).unwrap();
        assert_eq!(h.version, (1, 0));
        assert_eq!(
            h.dtype,
            StorageDtype::new(DataType::Float64, ByteOrder::Little)
        );
        assert!(!h.fortran_order);
        assert_eq!(h.shape, vec![2, 3]);
        assert_eq!(h.data_offset, 10 + dict("'<f8'", "False", "(2, 3)").len());
    }

    #[test]
    fn scalar_empty_and_one_d_shapes() {
        let shape = |s: &str| {
            parse_npy_header(&v1(&dict("'<f8'", "False", s)))
                .unwrap()
                .shape
        };
        assert_eq!(shape("()"), Vec::<usize>::new());
        assert_eq!(shape("(0,)"), vec![0]);
        assert_eq!(shape("(5,)"), vec![5]);
        assert_eq!(shape("(2, 3, 4,)"), vec![2, 3, 4]);
        assert_eq!(shape("((7,))"), vec![7]);
    }

    #[test]
    fn keys_in_any_order_double_quotes_and_odd_whitespace() {
        let text = "{ \"shape\" :(4 ,) ,\n\t'fortran_order':True,\"descr\":\">i4\"}";
        let h = parse_npy_header(&v1(text)).unwrap();
        assert_eq!(h.dtype, StorageDtype::new(DataType::Int32, ByteOrder::Big));
        assert!(h.fortran_order);
        assert_eq!(h.shape, vec![4]);
    }

    #[test]
    fn python2_long_suffix_in_versions_1_and_2_only() {
        let text = dict("'<f8'", "False", "(2L, 3L)");
        assert_eq!(parse_npy_header(&v1(&text)).unwrap().shape, vec![2, 3]);
        assert_eq!(
            parse_npy_header(&with_version((2, 0), text.as_bytes()))
                .unwrap()
                .shape,
            vec![2, 3]
        );
        let err = err_of(&with_version((3, 0), text.as_bytes()));
        assert_err(&err, ErrorKind::Format, "header", "decimal integers");
    }

    #[test]
    fn version_3_strings_are_utf8_and_version_1_latin1() {
        let text = "{'descr': '<f8', 'fortran_order': False, 'shape': (), 'é': 1}".as_bytes();
        let err = err_of(&with_version((3, 0), text));
        assert_err(&err, ErrorKind::Format, "é", "unexpected key 'é'");
        let latin1 = b"{'descr': '<f8', 'fortran_order': False, 'shape': (), '\xe9': 1}";
        let err = err_of(&with_version((1, 0), latin1));
        assert_err(&err, ErrorKind::Format, "é", "unexpected key");
        let err = err_of(&with_version((3, 0), latin1));
        assert_err(&err, ErrorKind::Format, "header", "not UTF-8");
    }

    #[test]
    fn missing_keys_are_named() {
        let err = err_of(&v1("{'descr': '<f8', 'shape': ()}"));
        assert_err(
            &err,
            ErrorKind::Format,
            "fortran_order",
            "no 'fortran_order' key",
        );
        let err = err_of(&v1("{'fortran_order': False, 'shape': ()}"));
        assert_err(&err, ErrorKind::Format, "descr", "no 'descr' key");
        let err = err_of(&v1("{'descr': '<f8', 'fortran_order': False}"));
        assert_err(&err, ErrorKind::Format, "shape", "no 'shape' key");
    }

    #[test]
    fn extra_and_non_string_keys_are_refused() {
        let err = err_of(&v1(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), 'extra': 1}",
        ));
        assert_err(&err, ErrorKind::Format, "extra", "unexpected key 'extra'");
        let err = err_of(&v1(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), 1: 1}",
        ));
        assert_err(&err, ErrorKind::Format, "header", "keys must be strings");
    }

    #[test]
    fn repeated_key_keeps_the_last_value_as_python_does() {
        let h = parse_npy_header(&v1(
            "{'descr': '<f8', 'shape': (1,), 'fortran_order': False, 'shape': (9,)}",
        ))
        .unwrap();
        assert_eq!(h.shape, vec![9]);
    }

    #[test]
    fn syntax_errors_are_format_errors_on_header() {
        for text in [
            "",
            "   ",
            "[1, 2]",
            "{'descr': '<f8' 'fortran_order': False, 'shape': ()}",
            "{'descr' '<f8', 'fortran_order': False, 'shape': ()}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1 2)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': ()",
            "{'descr': '<f8', 'fortran_order': False, 'shape': ()} x",
            "{'descr': '<f8, 'fortran_order': False, 'shape': ()}",
            "{'descr': '<f8', 'fortran_order': None, 'shape': ()}",
            "{'descr': '<f8', 'fortran_order': false, 'shape': ()}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2.0,)}",
            // numpy's literal_eval reads hex; numpy never writes it, so we keep to decimal
            "{'descr': '<f8', 'fortran_order': False, 'shape': (0x10,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (007,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': @}",
            "{'descr': '<f8\n', 'fortran_order': False, 'shape': ()}",
        ] {
            let err = err_of(&v1(text));
            assert_eq!(err.kind(), ErrorKind::Format, "{text:?}: {err}");
            assert_eq!(err.field_name(), Some("header"), "{text:?}: {err}");
        }
    }

    #[test]
    fn syntax_error_offsets_point_into_the_file() {
        let err = err_of(&v1("{'descr': @}"));
        assert_eq!(err.byte_offset(), Some(10 + 10));
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let text = format!("{}{}", "(".repeat(5000), ")".repeat(5000));
        let err = err_of(&v1(&text));
        assert_err(&err, ErrorKind::Format, "header", "nest deeper");
    }

    #[test]
    fn fortran_order_must_be_a_bool() {
        for value in ["1", "0", "'True'", "()"] {
            let err = err_of(&v1(&dict("'<f8'", value, "()")));
            assert_err(
                &err,
                ErrorKind::Format,
                "fortran_order",
                "not True or False",
            );
        }
    }

    #[test]
    fn shape_must_be_a_tuple_of_non_negative_ints() {
        for (shape, words) in [
            ("[2, 3]", "not a tuple"),
            ("3", "not a tuple"),
            ("(3)", "not a tuple"),
            ("('3',)", "not an integer"),
            // Python's True is an int, so numpy would read (True,) as (1,); we refuse it
            ("(True,)", "not an integer"),
            ("(2, -1)", "negative dimension -1"),
        ] {
            let err = err_of(&v1(&dict("'<f8'", "False", shape)));
            assert_err(&err, ErrorKind::Format, "shape", words);
        }
        let h = parse_npy_header(&v1(&dict("'<f8'", "False", "(+2, -0)"))).unwrap();
        assert_eq!(h.shape, vec![2, 0]);
    }

    #[test]
    fn sizes_numpy_cannot_hold_are_limit_errors() {
        let err = err_of(&v1(&dict("'<f8'", "False", "(99999999999999999999999,)")));
        assert_err(&err, ErrorKind::Limit, "header", "larger than 2**64");
        let err = err_of(&v1(&dict("'<f8'", "False", "(4294967296, 4294967296)")));
        assert_err(
            &err,
            ErrorKind::Limit,
            "shape",
            "larger than numpy's largest",
        );
        let err = err_of(&v1(&dict("'|u1'", "False", "(9223372036854775808,)")));
        assert_eq!(err.kind(), ErrorKind::Limit);
        // numpy refuses these even when another dimension is zero
        let err = err_of(&v1(&dict("'<f8'", "False", "(0, 4294967296, 4294967296)")));
        assert_eq!(err.kind(), ErrorKind::Limit);
        let ok = parse_npy_header(&v1(&dict("'|u1'", "False", "(0, 9223372036854775807)")));
        assert_eq!(ok.unwrap().element_count().unwrap(), 0);
    }

    #[test]
    fn more_than_64_dimensions_is_a_limit_error() {
        let dims = |n: usize| format!("({})", vec!["1,"; n].concat());
        assert!(parse_npy_header(&v1(&dict("'<f8'", "False", &dims(64)))).is_ok());
        let err = err_of(&v1(&dict("'<f8'", "False", &dims(65))));
        assert_err(&err, ErrorKind::Limit, "shape", "at most 64");
    }

    #[test]
    fn descr_errors_carry_the_field_and_offset() {
        let err = err_of(&v1(&dict("'<f2'", "False", "(3,)")));
        assert_err(&err, ErrorKind::Unsupported, "descr", "float16");
        assert_eq!(err.byte_offset(), Some(10 + 10));
        let err = err_of(&v1(&dict("[('a', '<i4'), ('b', '<f8')]", "False", "(3,)")));
        assert_err(
            &err,
            ErrorKind::Unsupported,
            "descr",
            "structured dtypes are not supported",
        );
        let err = err_of(&v1(&dict("('<f8', (2,))", "False", "(3,)")));
        assert_err(&err, ErrorKind::Unsupported, "descr", "subarray");
        let err = err_of(&v1(&dict("8", "False", "(3,)")));
        assert_err(
            &err,
            ErrorKind::Format,
            "descr",
            "not a valid dtype descriptor",
        );
        let err = err_of(&v1(&dict("'<f3'", "False", "(3,)")));
        assert_err(&err, ErrorKind::Format, "descr", "'<f3'");
    }

    #[test]
    fn string_escapes() {
        let h = parse_npy_header(&v1(
            "{'desc\\x72': '<f8', 'fortran_order': False, 'shape': ()}",
        ));
        // `\x72` is kept as written, so the key is not 'descr'
        assert_err(
            &h.unwrap_err(),
            ErrorKind::Format,
            "desc\\x72",
            "unexpected key",
        );
        let h = parse_npy_header(&v1(
            "{'descr': '<f8', 'fortran_order': False, \"sha\\\"pe\": ()}",
        ));
        assert_err(
            &h.unwrap_err(),
            ErrorKind::Format,
            "sha\"pe",
            "unexpected key",
        );
        let err = err_of(&v1("{'descr': '<f8\\"));
        assert_err(&err, ErrorKind::Format, "header", "not closed");
    }

    #[test]
    fn never_panics_on_any_prefix_of_a_header() {
        let full = npy_header_bytes(
            StorageDtype::new(DataType::Complex64, ByteOrder::Big),
            true,
            &[2, 3, 4],
        )
        .unwrap();
        for n in 0..full.len() {
            assert!(parse_npy_header(&full[..n]).is_err(), "{n}");
        }
        for i in 10..full.len() {
            let mut bytes = full.clone();
            for b in [0u8, b'(', b'\'', b'{', b',', 0xff] {
                bytes[i] = b;
                let _ = parse_npy_header(&bytes);
            }
        }
    }

    // -- descr ------------------------------------------------------------------------------

    #[test]
    fn descr_maps_every_supported_type() {
        let cases = [
            ("|u1", DataType::UInt8),
            ("|i1", DataType::Int8),
            ("<u2", DataType::UInt16),
            ("<i2", DataType::Int16),
            ("<u4", DataType::UInt32),
            ("<i4", DataType::Int32),
            ("<u8", DataType::UInt64),
            ("<i8", DataType::Int64),
            ("<f4", DataType::Float32),
            ("<f8", DataType::Float64),
            ("<c8", DataType::Complex64),
            ("<c16", DataType::Complex128),
        ];
        for (descr, dtype) in cases {
            let parsed = descr_to_dtype(descr).unwrap();
            assert_eq!(parsed.dtype, dtype, "{descr}");
            assert_eq!(parsed.numpy_str(), descr);
            assert_eq!(dtype_to_descr(parsed).unwrap(), parsed.numpy_str());
            assert_eq!(NpyDtype::from_descr(descr).unwrap(), parsed);
        }
    }

    #[test]
    fn bool_descrs_in_any_byte_order() {
        for descr in ["|b1", "b1", "<b1", ">b1", "=b1"] {
            assert_eq!(
                NpyDtype::from_descr(descr).unwrap(),
                NpyDtype::Bool,
                "{descr}"
            );
            // no DataType: the core's descr_to_dtype points to NpyDtype
            let err = descr_to_dtype(descr).unwrap_err();
            assert_err(&err, ErrorKind::Unsupported, "descr", "NpyDtype::Bool");
        }
        for descr in ["b2", "b0", "|b", "?"] {
            let err = NpyDtype::from_descr(descr).unwrap_err();
            assert_err(&err, ErrorKind::Format, "descr", "not a numpy dtype string");
        }
        assert_eq!(NpyDtype::Bool.descr().unwrap(), "|b1");
        assert_eq!(NpyDtype::Bool.to_string(), "|b1");
    }

    #[test]
    fn descr_byte_orders() {
        assert_eq!(descr_to_dtype("<i2").unwrap().order, ByteOrder::Little);
        assert_eq!(descr_to_dtype(">i2").unwrap().order, ByteOrder::Big);
        assert_eq!(descr_to_dtype("=i2").unwrap().order, ByteOrder::NATIVE);
        assert_eq!(descr_to_dtype("|i2").unwrap().order, ByteOrder::NATIVE);
        assert_eq!(descr_to_dtype("i2").unwrap().order, ByteOrder::NATIVE);
        assert_eq!(descr_to_dtype(">u1").unwrap().numpy_str(), "|u1");
        assert_eq!(descr_to_dtype("f08").unwrap().dtype, DataType::Float64);
    }

    #[test]
    fn unsupported_descrs_say_why() {
        for (descr, words) in [
            ("<f2", "float16"),
            ("<f16", "80-bit"),
            ("<c32", "longdouble"),
            ("|S5", "byte-string"),
            ("|a5", "byte-string"),
            ("<U3", "unicode"),
            ("<M8[s]", "datetime64"),
            ("<m8[D]", "timedelta64"),
            (
                "|O",
                "object arrays are not supported (numpy needs pickle for them)",
            ),
            ("|V4", "void"),
        ] {
            let err = descr_to_dtype(descr).unwrap_err();
            assert_err(&err, ErrorKind::Unsupported, "descr", words);
            assert!(err.message().contains(descr), "{err}");
        }
    }

    #[test]
    fn invalid_descrs_are_format_errors() {
        for descr in [
            "", "<", "<<f8", "f", "i", "d", "<i3", "u16", "b2", "c4", "f+8", " f8", "<f8 ", "f8\0",
            "x8", "é8",
        ] {
            let err = descr_to_dtype(descr).unwrap_err();
            assert_err(&err, ErrorKind::Format, "descr", "not a numpy dtype string");
        }
    }

    #[test]
    fn types_without_a_numpy_descr_cannot_be_written() {
        for dtype in [
            DataType::Float128,
            DataType::Complex256,
            DataType::Rgb24,
            DataType::Rgba32,
        ] {
            let err = dtype_to_descr(StorageDtype::new(dtype, ByteOrder::Little)).unwrap_err();
            assert_err(&err, ErrorKind::Unsupported, "descr", "cannot be written");
            assert!(
                npy_header_bytes(StorageDtype::new(dtype, ByteOrder::Little), false, &[1]).is_err()
            );
        }
    }

    // -- writing ----------------------------------------------------------------------------

    /// What numpy 2.4 writes, copied from `np.save` output.
    #[test]
    fn header_bytes_match_numpy() {
        let f8 = StorageDtype::new(DataType::Float64, ByteOrder::Little);
        let cases: [(&[usize], bool, &str); 4] = [
            (
                &[],
                false,
                "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
            ),
            (
                &[0],
                false,
                "{'descr': '<f8', 'fortran_order': False, 'shape': (0,), }                    ",
            ),
            (
                &[2, 3],
                true,
                "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }                    ",
            ),
            (
                &[12345, 3],
                false,
                "{'descr': '<f8', 'fortran_order': False, 'shape': (12345, 3), }                ",
            ),
        ];
        for (shape, fortran, text) in cases {
            let bytes = npy_header_bytes(f8, fortran, shape).unwrap();
            assert_eq!(&bytes[..10], b"\x93NUMPY\x01\x00\x76\x00");
            assert_eq!(bytes.len(), 128);
            assert_eq!(&bytes[10..10 + text.len()], text.as_bytes(), "{shape:?}");
            assert!(bytes[10 + text.len()..127].iter().all(|&b| b == b' '));
            assert_eq!(bytes[127], b'\n');
        }
    }

    /// What numpy 2.4's `np.save` writes for bool arrays (all pad to 128 bytes).
    #[test]
    fn bool_header_bytes_match_numpy() {
        let cases: [(&[usize], bool, &str); 7] = [
            (
                &[],
                false,
                "{'descr': '|b1', 'fortran_order': False, 'shape': (), }",
            ),
            (
                &[0],
                false,
                "{'descr': '|b1', 'fortran_order': False, 'shape': (0,), }",
            ),
            (
                &[3],
                false,
                "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
            ),
            (
                &[2, 3],
                true,
                "{'descr': '|b1', 'fortran_order': True, 'shape': (2, 3), }",
            ),
            (
                &[4, 5, 6],
                false,
                "{'descr': '|b1', 'fortran_order': False, 'shape': (4, 5, 6), }",
            ),
            (
                &[4, 5, 6],
                true,
                "{'descr': '|b1', 'fortran_order': True, 'shape': (4, 5, 6), }",
            ),
            (
                &[0, 3],
                false,
                "{'descr': '|b1', 'fortran_order': False, 'shape': (0, 3), }",
            ),
        ];
        for (shape, fortran, text) in cases {
            let mut expected = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
            expected.extend_from_slice(text.as_bytes());
            expected.resize(127, b' ');
            expected.push(b'\n');
            let ours = npy_header_bytes(NpyDtype::Bool, fortran, shape).unwrap();
            assert_eq!(ours, expected, "{shape:?} {fortran}");
            let h = parse_npy_header(&ours).unwrap();
            assert_eq!(
                (h.dtype, h.fortran_order, h.shape.as_slice()),
                (NpyDtype::Bool, fortran, shape)
            );
            assert_eq!(
                h.data_len().unwrap(),
                shape.iter().product::<usize>() as u64
            );
        }
    }

    #[test]
    fn bool_arrays_write_and_read_like_numpy() {
        use ndarray::{Array3, array};
        let mask = Array3::from_shape_fn((2, 3, 4).f(), |(i, j, k)| (i + j * k) % 3 == 0);
        let mut bytes = Vec::new();
        write_npy(&mut bytes, &mask).unwrap();
        let h = parse_npy_header(&bytes).unwrap();
        assert_eq!((h.dtype, h.fortran_order), (NpyDtype::Bool, true));
        // Fortran order on disk: the transpose's C order
        let stored: Vec<u8> = mask.t().iter().map(|&b| u8::from(b)).collect();
        assert_eq!(&bytes[h.data_offset..], stored.as_slice());
        assert_eq!(
            read_npy::<bool>(&mut bytes.as_slice()).unwrap(),
            mask.into_dyn()
        );

        let scalar = ndarray::arr0(true);
        let mut bytes = Vec::new();
        write_npy(&mut bytes, &scalar).unwrap();
        assert_eq!(bytes.len(), 129);
        assert_eq!(bytes[128], 1);
        let back = read_npy::<bool>(&mut bytes.as_slice()).unwrap();
        assert_eq!(back.shape(), &[] as &[usize]);

        let err = read_npy::<u8>(&mut bytes.as_slice()).unwrap_err();
        assert_err(&err, ErrorKind::Usage, "descr", "holds bool, not uint8");
        let err = read_npy_dyn(&mut bytes.as_slice()).unwrap_err();
        assert_err(&err, ErrorKind::Unsupported, "descr", "read_npy::<bool>");

        let mut u8s = Vec::new();
        write_npy(&mut u8s, &array![1u8]).unwrap();
        let err = read_npy::<bool>(&mut u8s.as_slice()).unwrap_err();
        assert_err(&err, ErrorKind::Usage, "descr", "holds uint8, not bool");
    }

    #[test]
    fn bool_bytes_other_than_0_and_1_read_as_true() {
        // numpy keeps such a byte as is, and its truth tests call it True
        let mut bytes = npy_header_bytes(NpyDtype::Bool, false, &[4]).unwrap();
        bytes.extend_from_slice(&[0, 1, 2, 255]);
        let values = read_npy::<bool>(&mut bytes.as_slice()).unwrap();
        assert_eq!(values.as_slice().unwrap(), &[false, true, true, true]);
    }

    #[test]
    fn values_spanning_many_read_pieces_are_read_whole_or_named_short() {
        // 3 MiB of big-endian float64 in Fortran order: the values are converted a piece at a
        // time, so this crosses piece boundaries with byte swapping on every value.
        let shape = [128usize, 96, 32];
        let count: usize = shape.iter().product();
        let expected: Vec<f64> = (0..count).map(|i| i as f64 * 0.5 - 7.25).collect();
        let dtype = StorageDtype::new(DataType::Float64, ByteOrder::Big);
        let header = npy_header_bytes(dtype, true, &shape).unwrap();
        let mut bytes = header.clone();
        for v in &expected {
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        let values = read_npy::<f64>(&mut bytes.as_slice()).unwrap();
        assert_eq!(values.shape(), &shape);
        assert!(values.t().is_standard_layout(), "Fortran order is kept");
        let file_order: Vec<f64> = values.t().iter().copied().collect();
        assert_eq!(file_order, expected);
        let dyn_values = read_npy_dyn(&mut bytes.as_slice()).unwrap();
        assert_eq!(
            dyn_values.get_f64(&[127, 95, 31]),
            Some(expected[count - 1])
        );

        // Short by a byte, by a whole piece, at a piece boundary, and with no data at all.
        let data_len = count * 8;
        for kept in [data_len - 1, data_len - (1 << 20), 1 << 20, 0] {
            let short = &bytes[..header.len() + kept];
            let err = read_npy::<f64>(&mut &short[..]).unwrap_err();
            let words = format!("declares {data_len} data bytes, the file has {kept}");
            assert_err(&err, ErrorKind::Format, "shape", &words);
        }
        // Bytes past the declared data are not read as values.
        bytes.extend_from_slice(&[0; 16]);
        assert_eq!(read_npy::<f64>(&mut bytes.as_slice()).unwrap(), values);
    }

    #[test]
    fn header_bytes_round_trip() {
        for shape in [&[][..], &[5], &[2, 3, 4], &[1, 1, 7], &[0, 3]] {
            for fortran in [false, true] {
                let dtype = StorageDtype::new(DataType::Int16, ByteOrder::Big);
                let bytes = npy_header_bytes(dtype, fortran, shape).unwrap();
                assert_eq!(bytes.len() % 64, 0);
                let h = parse_npy_header(&bytes).unwrap();
                assert_eq!(
                    (h.dtype, h.fortran_order, h.shape.as_slice()),
                    (dtype.into(), fortran, shape)
                );
                assert_eq!(h.data_offset, bytes.len());
            }
        }
    }

    #[test]
    fn exact_multiple_of_64_still_gets_a_full_pad() {
        // numpy always adds at least one space: a text that would end on the boundary gets 64 more
        let text = vec![b'x'; 64 - 10 - 1];
        let bytes = wrap_header(&text, (1, 0)).unwrap();
        assert_eq!(bytes.len(), 128);
        assert_eq!(&bytes[8..10], &118u16.to_le_bytes());
    }

    #[test]
    fn long_text_falls_back_to_version_2() {
        let text = vec![b' '; 70_000];
        assert!(wrap_header(&text, (1, 0)).is_none());
        let bytes = wrap_header(&text, (2, 0)).unwrap();
        assert_eq!(&bytes[6..8], b"\x02\x00");
        assert_eq!(bytes.len() % 64, 0);
        let len = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
        assert_eq!(len as usize + 12, bytes.len());
    }

    #[test]
    fn growth_axis_padding_follows_the_growth_axis() {
        let text = header_dict_text("<f8", true, &[123, 4]);
        assert!(text.ends_with(&format!("}}{}", " ".repeat(20))));
        let text = header_dict_text("<f8", false, &[123, 4]);
        assert!(text.ends_with(&format!("}}{}", " ".repeat(18))));
        assert!(header_dict_text("<f8", false, &[]).ends_with('}'));
    }

    #[test]
    fn python_tuple_repr() {
        assert_eq!(python_tuple(&[]), "()");
        assert_eq!(python_tuple(&[3]), "(3,)");
        assert_eq!(python_tuple(&[2, 3]), "(2, 3)");
    }

    #[test]
    fn writing_refuses_shapes_numpy_cannot_hold() {
        let u1 = StorageDtype::new(DataType::UInt8, ByteOrder::Little);
        let err = npy_header_bytes(u1, false, &[1; 65]).unwrap_err();
        assert_err(&err, ErrorKind::Limit, "shape", "at most 64");
        let err = npy_header_bytes(u1, false, &[usize::MAX, 2]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Limit);
    }

    // -- hand-annotated bytes (not from our writer) -----------------------------------------

    /// The header `np.save` (numpy 2.4) writes for `np.zeros((2, 3), '<f4')`, byte by byte.
    fn npy_literal() -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"\x93NUMPY"); // magic: 0x93 then "NUMPY"
        bytes.extend_from_slice(&[0x01, 0x00]); // version 1.0
        bytes.extend_from_slice(&[0x76, 0x00]); // HEADER_LEN: little-endian uint16 118
        // The dict as Python's repr writes it: 59 bytes.
        bytes.extend_from_slice(b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
        // Spaces (numpy leaves room for the first axis to grow, then pads) and a newline, so
        // that 10 + 118 = 128, a multiple of 64, is where the data starts.
        bytes.extend_from_slice(&[b' '; 58]);
        bytes.push(b'\n');
        bytes
    }

    /// What numpy's `np.lib.format.read_magic` / `read_array_header_1_0` give for
    /// [`npy_literal`]: version (1, 0), dtype `<f4`, C order, shape (2, 3), data at byte 128.
    #[test]
    fn a_hand_written_npy_header_reads_as_numpy_reads_it() {
        let bytes = npy_literal();
        assert_eq!(bytes.len(), 128);
        assert_eq!(npy_header_len(&bytes[..10]).unwrap(), 128);
        let header = parse_npy_header(&bytes).unwrap();
        assert_eq!(header.version, (1, 0));
        assert_eq!(
            header.dtype,
            NpyDtype::Number(StorageDtype {
                dtype: DataType::Float32,
                order: ByteOrder::Little,
            })
        );
        assert_eq!(header.dtype.to_string(), "<f4");
        assert_eq!(header.dtype.itemsize(), 4);
        assert!(!header.fortran_order);
        assert_eq!(header.shape, [2, 3]);
        assert_eq!(header.data_offset, 128);
        assert_eq!(header.element_count().unwrap(), 6);
        assert_eq!(header.data_len().unwrap(), 24);
    }
}
