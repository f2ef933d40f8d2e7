//! numpy dtype strings (`'<i2'`, `'>f4'`, `'|b1'`): [`NpyDtype`], the element type of a
//! `.npy` array, and the conversions between `descr` strings and the core's data types.

use crate::dtype::{ByteOrder, DataType, StorageDtype};
use crate::error::{Error, Result};
#[cfg(doc)]
use {super::read_npy, crate::dtype::Element};

/// The element type of a `.npy` array: one of the core's numeric types in a byte order, or
/// numpy's `bool`.
///
/// bool is here and not a [`DataType`] because no neuroimaging format stores it: a
/// `DataType::Bool` would have to be handled — refused — by every NIfTI, Analyze and MGH code
/// path, scaling and [`DynArray`](crate::array::DynArray), and could not be an [`Element`]
/// (a Rust `bool` byte must be 0 or 1, so file bytes cannot be viewed as `&[bool]`). So only
/// `.npy`/`.npz` know it: a bool array is stored as one byte per value (`'|b1'`, numpy's
/// header byte for byte), written from Rust `bool`s or raw bytes, and read back either as raw
/// bytes (the Python package hands them to numpy as they are, exactly as `numpy.load` does, so
/// a byte other than 0 or 1 stays what it was) or as Rust `bool`s through [`read_npy`], where a
/// nonzero byte is `true` — numpy's own reading of such a byte (`bool(x)`, `x == True`,
/// `x.astype(int)` all treat it as True).
///
/// ```
/// use neurovox::numpy::npy::{npy_header_bytes, parse_npy_header, NpyDtype};
/// use neurovox::{ByteOrder, DataType, StorageDtype};
///
/// assert_eq!(NpyDtype::from_descr("|b1")?, NpyDtype::Bool);
/// assert_eq!(NpyDtype::Bool.descr()?, "|b1");
/// let f4 = StorageDtype::new(DataType::Float32, ByteOrder::Big);
/// assert_eq!(NpyDtype::from_descr(">f4")?, NpyDtype::Number(f4));
/// let header = parse_npy_header(&npy_header_bytes(NpyDtype::Bool, true, &[2, 3])?)?;
/// assert_eq!((header.dtype, header.fortran_order), (NpyDtype::Bool, true));
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NpyDtype {
    /// A numeric type in a byte order (`'<f8'`, `'|u1'`, `'>c16'`).
    Number(StorageDtype),
    /// numpy's `bool` (`'|b1'`): one byte per value, 0 for False, 1 for True.
    Bool,
}

impl NpyDtype {
    /// The dtype a numpy descr string (`'<f8'`, `'|b1'`) names; the rules and errors of
    /// [`descr_to_dtype`], with bool (`b1`, any byte-order character) accepted.
    ///
    /// ```
    /// use neurovox::numpy::npy::NpyDtype;
    /// assert_eq!(NpyDtype::from_descr("?").unwrap_err().kind(), neurovox::ErrorKind::Format);
    /// assert_eq!(NpyDtype::from_descr("b1")?, NpyDtype::Bool);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn from_descr(descr: &str) -> Result<NpyDtype> {
        parse_descr(descr)
    }

    /// numpy's descr, as `np.save` writes it: `'|b1'` for bool, else [`dtype_to_descr`]'s
    /// (an Unsupported error for the core types numpy has no descr for).
    ///
    /// ```
    /// use neurovox::numpy::npy::NpyDtype;
    /// use neurovox::{ByteOrder, DataType, StorageDtype};
    /// let i2 = StorageDtype::new(DataType::Int16, ByteOrder::Little);
    /// assert_eq!(NpyDtype::from(i2).descr()?, "<i2");
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn descr(self) -> Result<String> {
        match self {
            NpyDtype::Number(dtype) => dtype_to_descr(dtype),
            NpyDtype::Bool => Ok("|b1".to_string()),
        }
    }

    /// Bytes per element.
    ///
    /// ```
    /// use neurovox::numpy::npy::NpyDtype;
    /// assert_eq!(NpyDtype::Bool.itemsize(), 1);
    /// ```
    pub fn itemsize(self) -> usize {
        match self {
            NpyDtype::Number(dtype) => dtype.dtype.itemsize(),
            NpyDtype::Bool => 1,
        }
    }

    /// The byte order values are stored in ([`ByteOrder::NATIVE`] for bool, whose one-byte
    /// values have none).
    ///
    /// ```
    /// use neurovox::numpy::npy::NpyDtype;
    /// assert_eq!(NpyDtype::Bool.byte_order(), neurovox::ByteOrder::NATIVE);
    /// ```
    pub fn byte_order(self) -> ByteOrder {
        match self {
            NpyDtype::Number(dtype) => dtype.order,
            NpyDtype::Bool => ByteOrder::NATIVE,
        }
    }

    /// The core's type, or `None` for bool.
    ///
    /// ```
    /// use neurovox::numpy::npy::NpyDtype;
    /// assert_eq!(NpyDtype::Bool.storage(), None);
    /// ```
    pub fn storage(self) -> Option<StorageDtype> {
        match self {
            NpyDtype::Number(dtype) => Some(dtype),
            NpyDtype::Bool => None,
        }
    }

    /// numpy's name for the element type (`bool`, `int16`), byte order aside.
    pub(super) fn type_name(self) -> &'static str {
        match self {
            NpyDtype::Number(dtype) => dtype.dtype.name(),
            NpyDtype::Bool => "bool",
        }
    }
}

impl From<StorageDtype> for NpyDtype {
    fn from(dtype: StorageDtype) -> Self {
        NpyDtype::Number(dtype)
    }
}

impl PartialEq<StorageDtype> for NpyDtype {
    fn eq(&self, other: &StorageDtype) -> bool {
        *self == NpyDtype::Number(*other)
    }
}

/// numpy's str: the descr (`<f8`, `|b1`), or the core's name for the types numpy has no descr
/// for.
impl std::fmt::Display for NpyDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NpyDtype::Number(dtype) => write!(f, "{dtype}"),
            NpyDtype::Bool => f.write_str("|b1"),
        }
    }
}

/// The element type and byte order a numpy descr string (`'<f8'`, `'>i2'`, `'|u1'`, `'c16'`)
/// names.
///
/// `<` is little-endian, `>` big-endian; `=`, `|` and no byte order mean the machine's own
/// ([`ByteOrder::NATIVE`]). Dtypes numpy has but we do not handle are Unsupported, strings numpy
/// would not understand are Format errors; both name field `descr`.
///
/// ```
/// use neurovox::numpy::npy::descr_to_dtype;
/// use neurovox::{ByteOrder, DataType, ErrorKind, StorageDtype};
///
/// assert_eq!(descr_to_dtype(">i2")?, StorageDtype::new(DataType::Int16, ByteOrder::Big));
/// assert_eq!(descr_to_dtype("<c16")?.dtype, DataType::Complex128);
/// assert_eq!(descr_to_dtype("f8")?, StorageDtype::new(DataType::Float64, ByteOrder::NATIVE));
/// assert_eq!(descr_to_dtype("b1").unwrap_err().kind(), ErrorKind::Unsupported);
/// assert_eq!(descr_to_dtype("<f16").unwrap_err().kind(), ErrorKind::Unsupported);
/// assert_eq!(descr_to_dtype("<i3").unwrap_err().kind(), ErrorKind::Format);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn descr_to_dtype(descr: &str) -> Result<StorageDtype> {
    match parse_descr(descr)? {
        NpyDtype::Number(dtype) => Ok(dtype),
        NpyDtype::Bool => Err(Error::unsupported(format!(
            "bool ('{descr}') has no neurovox DataType; NpyDtype::from_descr reads it as NpyDtype::Bool"
        ))
        .field("descr")),
    }
}

/// A descr string as an [`NpyDtype`]: [`descr_to_dtype`]'s rules, plus numpy's bool.
pub(super) fn parse_descr(descr: &str) -> Result<NpyDtype> {
    let (order, type_code) = split_byte_order(descr);
    let mut chars = type_code.chars();
    let kind = chars.next().unwrap_or(' ');
    if let Some(why) = unsupported_kind(kind) {
        return Err(Error::unsupported(format!("{why} ('{descr}')")).field("descr"));
    }
    let size = chars
        .as_str()
        .parse::<usize>()
        .ok()
        .filter(|_| chars.as_str().bytes().all(|b| b.is_ascii_digit()));
    match size.and_then(|size| sized_type(kind, size)) {
        Some(SizedType::Ours(dtype)) => Ok(NpyDtype::Number(StorageDtype::new(dtype, order))),
        Some(SizedType::Bool) => Ok(NpyDtype::Bool),
        Some(SizedType::Unsupported(why)) => {
            Err(Error::unsupported(format!("{why} ('{descr}')")).field("descr"))
        }
        None => Err(Error::header_value(format!(
            "'{descr}' is not a numpy dtype string of the form <byte order><kind><size>"
        ))
        .field("descr")),
    }
}

/// Splits numpy's byte-order character off a descr.
pub(super) fn split_byte_order(descr: &str) -> (ByteOrder, &str) {
    match descr.as_bytes().first() {
        Some(b'<') => (ByteOrder::Little, &descr[1..]),
        Some(b'>') => (ByteOrder::Big, &descr[1..]),
        Some(b'|' | b'=') => (ByteOrder::NATIVE, &descr[1..]),
        _ => (ByteOrder::NATIVE, descr),
    }
}

/// Why a dtype kind that is not a number is unsupported.
pub(super) fn unsupported_kind(kind: char) -> Option<&'static str> {
    match kind {
        'S' | 'a' => Some("byte-string arrays are not supported"),
        'U' => Some("unicode string arrays are not supported"),
        'M' => Some("datetime64 arrays are not supported"),
        'm' => Some("timedelta64 arrays are not supported"),
        'O' => Some("object arrays are not supported (numpy needs pickle for them)"),
        'V' => Some("void (raw record) arrays are not supported"),
        _ => None,
    }
}

/// What a numeric kind and size mean.
pub(super) enum SizedType {
    Ours(DataType),
    Bool,
    Unsupported(&'static str),
}

/// numpy's numeric kind + size codes; None for combinations numpy does not know.
pub(super) fn sized_type(kind: char, size: usize) -> Option<SizedType> {
    use SizedType::{Ours, Unsupported};
    const LONGDOUBLE: &str = "numpy longdouble is not supported (on x86 it is 80-bit extended \
                              precision padded to 12 or 16 bytes, not IEEE binary128)";
    Some(match (kind, size) {
        ('u', 1) => Ours(DataType::UInt8),
        ('u', 2) => Ours(DataType::UInt16),
        ('u', 4) => Ours(DataType::UInt32),
        ('u', 8) => Ours(DataType::UInt64),
        ('i', 1) => Ours(DataType::Int8),
        ('i', 2) => Ours(DataType::Int16),
        ('i', 4) => Ours(DataType::Int32),
        ('i', 8) => Ours(DataType::Int64),
        ('f', 4) => Ours(DataType::Float32),
        ('f', 8) => Ours(DataType::Float64),
        ('c', 8) => Ours(DataType::Complex64),
        ('c', 16) => Ours(DataType::Complex128),
        ('b', 1) => SizedType::Bool,
        ('f', 2) => Unsupported("float16 arrays are not supported"),
        ('f', 12 | 16) | ('c', 24 | 32) => Unsupported(LONGDOUBLE),
        _ => return None,
    })
}

/// numpy's descr for a dtype, as `np.save` writes it: `'|u1'` for one-byte types, else the
/// byte order and kind+size (`'<f8'`, `'>c16'`).
///
/// Our `Float128` and `Complex256` (IEEE binary128) have no numpy equivalent, nor do `Rgb24`
/// and `Rgba32` without a structured dtype: these are Unsupported, field `descr`.
///
/// ```
/// use neurovox::numpy::npy::dtype_to_descr;
/// use neurovox::{ByteOrder, DataType, StorageDtype};
///
/// assert_eq!(dtype_to_descr(StorageDtype::new(DataType::Int16, ByteOrder::Big))?, ">i2");
/// assert_eq!(dtype_to_descr(StorageDtype::new(DataType::Int8, ByteOrder::Little))?, "|i1");
/// assert!(dtype_to_descr(StorageDtype::new(DataType::Float128, ByteOrder::Little)).is_err());
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn dtype_to_descr(dtype: StorageDtype) -> Result<String> {
    match dtype.dtype {
        DataType::Float128 | DataType::Complex256 => Err(Error::unsupported(format!(
            "{} (IEEE binary128) cannot be written to .npy: numpy's 16-byte floats are x86 \
             80-bit extended precision",
            dtype.dtype
        ))
        .field("descr")),
        DataType::Rgb24 | DataType::Rgba32 => Err(Error::unsupported(format!(
            "{} cannot be written to .npy: numpy would need a structured dtype",
            dtype.dtype
        ))
        .field("descr")),
        _ => Ok(dtype.numpy_str()),
    }
}
