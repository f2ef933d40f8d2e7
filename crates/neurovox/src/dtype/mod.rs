//! The ground layer: storage data types, byte order, and the Rust element types that hold
//! voxel values. Everything else builds on it; it uses nothing of the crate but
//! [`crate::error`].
//!
//! * [`DataType`], [`ByteOrder`], [`StorageDtype`] (this module) — what a file declares;
//!   [`Order`] — how an array's elements follow each other (C or Fortran).
//! * `element.rs` — [`Element`]: one plain-old-data Rust type per storable [`DataType`].
//!
//! [`DataType`] lists every element type a NIfTI, Analyze or MGH file can declare (nibabel's
//! `_dtdefs` tables, docs/nibabel-rules.md §9); [`StorageDtype`] pairs it with the file's
//! [`ByteOrder`], which is what numpy calls a dtype (`<i2`, `>f4`).
//!
//! `float128` and `complex256` have no Rust type. NIfTI defines them as IEEE binary128, which
//! x86-64 numpy cannot represent (its longdouble is 80-bit), so nibabel refuses such files. We
//! accept their headers and convert their values to `f64` with
//! [`binary128_to_f64`], rounding to nearest, ties to even: see docs/compat.md.

pub(crate) mod element;

pub use element::{Element, FloatOut, RealValue, Rgb, Rgba};

/// The one `DataType` → Rust element type dispatch: runs `$body` with `$T` bound (as a type
/// alias) to the element type of `$dtype`, for the types of the named family; every other
/// data type goes to the arms after it.
///
/// * `int`: the eight integer types.
/// * `real`: `int` and `f32`, `f64`.
/// * `numeric`: `real` and `Complex<f32>`, `Complex<f64>`.
/// * `all`: `numeric` and `Rgb`, `Rgba` (everything but binary128).
///
/// For example `with_dtype!(numeric: dtype, T => std::mem::size_of::<T>(), _ => 0)` is the
/// item size of numeric types and 0 for the rest (`tests::with_dtype_binds_each_type`).
/// Exported (hidden) for the Python bindings, which dispatch on the same types.
#[macro_export]
#[doc(hidden)]
macro_rules! with_dtype {
    (int: $dtype:expr, $T:ident => $body:expr, $($rest:pat => $other:expr),+ $(,)?) => {
        match $dtype {
            $crate::DataType::UInt8 => { type $T = u8; $body }
            $crate::DataType::Int8 => { type $T = i8; $body }
            $crate::DataType::UInt16 => { type $T = u16; $body }
            $crate::DataType::Int16 => { type $T = i16; $body }
            $crate::DataType::UInt32 => { type $T = u32; $body }
            $crate::DataType::Int32 => { type $T = i32; $body }
            $crate::DataType::UInt64 => { type $T = u64; $body }
            $crate::DataType::Int64 => { type $T = i64; $body }
            $($rest => $other),+
        }
    };
    (real: $dtype:expr, $T:ident => $body:expr, $($rest:pat => $other:expr),+ $(,)?) => {
        $crate::with_dtype!(int: $dtype, $T => $body,
            $crate::DataType::Float32 => { type $T = f32; $body },
            $crate::DataType::Float64 => { type $T = f64; $body },
            $($rest => $other),+)
    };
    (numeric: $dtype:expr, $T:ident => $body:expr, $($rest:pat => $other:expr),+ $(,)?) => {
        $crate::with_dtype!(real: $dtype, $T => $body,
            $crate::DataType::Complex64 => { type $T = $crate::internals::Complex<f32>; $body },
            $crate::DataType::Complex128 => { type $T = $crate::internals::Complex<f64>; $body },
            $($rest => $other),+)
    };
    (all: $dtype:expr, $T:ident => $body:expr, $($rest:pat => $other:expr),+ $(,)?) => {
        $crate::with_dtype!(numeric: $dtype, $T => $body,
            $crate::DataType::Rgb24 => { type $T = $crate::dtype::Rgb; $body },
            $crate::DataType::Rgba32 => { type $T = $crate::dtype::Rgba; $body },
            $($rest => $other),+)
    };
}
pub(crate) use crate::with_dtype;
use std::fmt;

/// The order of bytes within each multi-byte value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Least significant byte first (`<` in numpy).
    Little,
    /// Most significant byte first (`>` in numpy).
    Big,
}

impl ByteOrder {
    /// The byte order of the machine running this code.
    pub const NATIVE: ByteOrder = if cfg!(target_endian = "little") {
        ByteOrder::Little
    } else {
        ByteOrder::Big
    };

    /// The other byte order.
    ///
    /// ```
    /// use neurovox::ByteOrder;
    /// assert_eq!(ByteOrder::Little.swapped(), ByteOrder::Big);
    /// ```
    pub fn swapped(self) -> ByteOrder {
        match self {
            ByteOrder::Little => ByteOrder::Big,
            ByteOrder::Big => ByteOrder::Little,
        }
    }

    /// numpy's byte-order character: `<` or `>`.
    pub fn numpy_char(self) -> char {
        match self {
            ByteOrder::Little => '<',
            ByteOrder::Big => '>',
        }
    }
}

/// An element type as declared by a file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `uint8`
    UInt8,
    /// `int8`
    Int8,
    /// `uint16`
    UInt16,
    /// `int16`
    Int16,
    /// `uint32`
    UInt32,
    /// `int32`
    Int32,
    /// `uint64`
    UInt64,
    /// `int64`
    Int64,
    /// `float32`
    Float32,
    /// `float64`
    Float64,
    /// IEEE binary128; read as `f64` (see the module docs).
    Float128,
    /// Two `float32` (real, imaginary).
    Complex64,
    /// Two `float64` (real, imaginary).
    Complex128,
    /// Two IEEE binary128; read as two `f64`.
    Complex256,
    /// Three `uint8` per voxel: red, green, blue.
    Rgb24,
    /// Four `uint8` per voxel: red, green, blue, alpha.
    Rgba32,
}

/// Every NIfTI datatype code with its meaning; `None` marks the codes the standard defines
/// without a storable type (0 "none", 1 "binary", 255 "all").
const NIFTI_CODES: &[(i16, Option<DataType>, &str)] = &[
    (0, None, "none"),
    (1, None, "binary"),
    (2, Some(DataType::UInt8), "NIFTI_TYPE_UINT8"),
    (4, Some(DataType::Int16), "NIFTI_TYPE_INT16"),
    (8, Some(DataType::Int32), "NIFTI_TYPE_INT32"),
    (16, Some(DataType::Float32), "NIFTI_TYPE_FLOAT32"),
    (32, Some(DataType::Complex64), "NIFTI_TYPE_COMPLEX64"),
    (64, Some(DataType::Float64), "NIFTI_TYPE_FLOAT64"),
    (128, Some(DataType::Rgb24), "NIFTI_TYPE_RGB24"),
    (255, None, "all"),
    (256, Some(DataType::Int8), "NIFTI_TYPE_INT8"),
    (512, Some(DataType::UInt16), "NIFTI_TYPE_UINT16"),
    (768, Some(DataType::UInt32), "NIFTI_TYPE_UINT32"),
    (1024, Some(DataType::Int64), "NIFTI_TYPE_INT64"),
    (1280, Some(DataType::UInt64), "NIFTI_TYPE_UINT64"),
    (1536, Some(DataType::Float128), "NIFTI_TYPE_FLOAT128"),
    (1792, Some(DataType::Complex128), "NIFTI_TYPE_COMPLEX128"),
    (2048, Some(DataType::Complex256), "NIFTI_TYPE_COMPLEX256"),
    (2304, Some(DataType::Rgba32), "NIFTI_TYPE_RGBA32"),
];

/// What a header's datatype code means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeMeaning {
    /// A storable element type.
    Type(DataType),
    /// A code the format defines without a storable type (nibabel: "known but not supported").
    KnownUnsupported,
    /// A code the format does not define.
    Unknown,
}

impl DataType {
    /// All types, in NIfTI code order.
    pub const ALL: [DataType; 16] = [
        DataType::UInt8,
        DataType::Int16,
        DataType::Int32,
        DataType::Float32,
        DataType::Complex64,
        DataType::Float64,
        DataType::Rgb24,
        DataType::Int8,
        DataType::UInt16,
        DataType::UInt32,
        DataType::Int64,
        DataType::UInt64,
        DataType::Float128,
        DataType::Complex128,
        DataType::Complex256,
        DataType::Rgba32,
    ];

    /// Bytes per element.
    ///
    /// ```
    /// use neurovox::DataType;
    /// assert_eq!(DataType::Complex128.itemsize(), 16);
    /// assert_eq!(DataType::Rgb24.itemsize(), 3);
    /// ```
    pub fn itemsize(self) -> usize {
        match self {
            DataType::UInt8 | DataType::Int8 => 1,
            DataType::UInt16 | DataType::Int16 => 2,
            DataType::Rgb24 => 3,
            DataType::UInt32 | DataType::Int32 | DataType::Float32 | DataType::Rgba32 => 4,
            DataType::UInt64 | DataType::Int64 | DataType::Float64 | DataType::Complex64 => 8,
            DataType::Float128 | DataType::Complex128 => 16,
            DataType::Complex256 => 32,
        }
    }

    /// The NIfTI (and Analyze) datatype code.
    pub fn nifti_code(self) -> i16 {
        NIFTI_CODES
            .iter()
            .find(|(_, t, _)| *t == Some(self))
            .map_or(0, |(code, _, _)| *code)
    }

    /// What a NIfTI datatype code means.
    ///
    /// ```
    /// use neurovox::{CodeMeaning, DataType};
    /// assert_eq!(DataType::from_nifti_code(4), CodeMeaning::Type(DataType::Int16));
    /// assert_eq!(DataType::from_nifti_code(1), CodeMeaning::KnownUnsupported);
    /// assert_eq!(DataType::from_nifti_code(3), CodeMeaning::Unknown);
    /// ```
    pub fn from_nifti_code(code: i16) -> CodeMeaning {
        match NIFTI_CODES.iter().find(|(c, _, _)| *c == code) {
            Some((_, Some(t), _)) => CodeMeaning::Type(*t),
            Some((_, None, _)) => CodeMeaning::KnownUnsupported,
            None => CodeMeaning::Unknown,
        }
    }

    /// The NIfTI string (`NIFTI_TYPE_INT16`).
    pub fn nifti_string(self) -> &'static str {
        NIFTI_CODES
            .iter()
            .find(|(_, t, _)| *t == Some(self))
            .map_or("none", |(_, _, s)| *s)
    }

    /// numpy's name for the type (`int16`, `complex64`); `RGB24` / `RGBA32` for colours.
    pub fn name(self) -> &'static str {
        match self {
            DataType::UInt8 => "uint8",
            DataType::Int8 => "int8",
            DataType::UInt16 => "uint16",
            DataType::Int16 => "int16",
            DataType::UInt32 => "uint32",
            DataType::Int32 => "int32",
            DataType::UInt64 => "uint64",
            DataType::Int64 => "int64",
            DataType::Float32 => "float32",
            DataType::Float64 => "float64",
            DataType::Float128 => "float128",
            DataType::Complex64 => "complex64",
            DataType::Complex128 => "complex128",
            DataType::Complex256 => "complex256",
            DataType::Rgb24 => "RGB24",
            DataType::Rgba32 => "RGBA32",
        }
    }

    /// Parses a type name: numpy names (`int16`), NIfTI strings (`NIFTI_TYPE_INT16`), numpy
    /// type strings without byte order (`i2`, `f4`, `u1`), `rgb`/`rgba`; case-insensitive.
    ///
    /// ```
    /// use neurovox::DataType;
    /// assert_eq!(DataType::from_name("float32"), Some(DataType::Float32));
    /// assert_eq!(DataType::from_name("NIFTI_TYPE_UINT16"), Some(DataType::UInt16));
    /// assert_eq!(DataType::from_name("i8"), Some(DataType::Int64));
    /// assert_eq!(DataType::from_name("int"), None); // sized types only, as nibabel asks
    /// ```
    pub fn from_name(name: &str) -> Option<DataType> {
        let lower = name.trim().to_ascii_lowercase();
        let short = lower.trim_start_matches(['<', '>', '=', '|']);
        DataType::ALL.into_iter().find(|t| {
            t.name().eq_ignore_ascii_case(short)
                || t.nifti_string().eq_ignore_ascii_case(short)
                || t.numpy_kind_size().as_deref() == Some(short)
                || (short == "rgb" && *t == DataType::Rgb24)
                || (short == "rgba" && *t == DataType::Rgba32)
        })
    }

    /// numpy's kind+size code (`i2`, `c8`), or None for the colour types.
    fn numpy_kind_size(self) -> Option<String> {
        let kind = match self {
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => 'u',
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => 'i',
            DataType::Float32 | DataType::Float64 | DataType::Float128 => 'f',
            DataType::Complex64 | DataType::Complex128 | DataType::Complex256 => 'c',
            DataType::Rgb24 | DataType::Rgba32 => return None,
        };
        Some(format!("{kind}{}", self.itemsize()))
    }

    /// True for signed and unsigned integers.
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            DataType::UInt8
                | DataType::Int8
                | DataType::UInt16
                | DataType::Int16
                | DataType::UInt32
                | DataType::Int32
                | DataType::UInt64
                | DataType::Int64
        )
    }

    /// True for real floating-point types.
    pub fn is_float(self) -> bool {
        matches!(
            self,
            DataType::Float32 | DataType::Float64 | DataType::Float128
        )
    }

    /// True for complex types.
    pub fn is_complex(self) -> bool {
        matches!(
            self,
            DataType::Complex64 | DataType::Complex128 | DataType::Complex256
        )
    }

    /// The size of one scalar component: the element size, or half of it for complex types,
    /// 1 for the colour types. Byte swapping works on units of this size.
    pub fn component_size(self) -> usize {
        match self {
            DataType::Rgb24 | DataType::Rgba32 => 1,
            t if t.is_complex() => t.itemsize() / 2,
            t => t.itemsize(),
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An element type together with the byte order it is stored in: numpy's dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StorageDtype {
    /// The element type.
    pub dtype: DataType,
    /// The byte order of each value in the file.
    pub order: ByteOrder,
}

impl StorageDtype {
    /// A type in a byte order.
    pub fn new(dtype: DataType, order: ByteOrder) -> Self {
        StorageDtype { dtype, order }
    }

    /// numpy's dtype string: `<i2`, `>f4`, `|u1` (no byte order for one-byte types),
    /// `|V3` / `|V4` for the colour types, as numpy reports structured dtypes.
    ///
    /// ```
    /// use neurovox::{ByteOrder, DataType, StorageDtype};
    /// assert_eq!(StorageDtype::new(DataType::Int16, ByteOrder::Big).numpy_str(), ">i2");
    /// assert_eq!(StorageDtype::new(DataType::UInt8, ByteOrder::Big).numpy_str(), "|u1");
    /// assert_eq!(StorageDtype::new(DataType::Rgb24, ByteOrder::Little).numpy_str(), "|V3");
    /// ```
    pub fn numpy_str(&self) -> String {
        match self.dtype.numpy_kind_size() {
            None => format!("|V{}", self.dtype.itemsize()),
            Some(ks) if self.dtype.component_size() == 1 => format!("|{ks}"),
            Some(ks) => format!("{}{ks}", self.order.numpy_char()),
        }
    }
}

impl fmt::Display for StorageDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.numpy_str())
    }
}

/// Converts an IEEE 754 binary128 value (its 128 bits) to the nearest `f64`, ties to even.
///
/// Values beyond the `f64` range become ±infinity, values below its subnormal range ±0, NaN
/// stays NaN. This is how neurovox reads NIfTI `float128` / `complex256` data.
///
/// ```
/// use neurovox::dtype::binary128_to_f64;
/// // 1.0 in binary128: exponent bias 16383, so the top bits are 0x3fff.
/// assert_eq!(binary128_to_f64(0x3fff_u128 << 112), 1.0);
/// assert_eq!(binary128_to_f64(0xc000_u128 << 112), -2.0);
/// ```
pub fn binary128_to_f64(bits: u128) -> f64 {
    const F128_BIAS: i64 = 16383;
    const F64_BIAS: i64 = 1023;
    let negative = bits >> 127 != 0;
    let exponent = ((bits >> 112) & 0x7fff) as i64;
    let fraction = bits & ((1u128 << 112) - 1);
    let sign = if negative { -1.0 } else { 1.0 };
    if exponent == 0x7fff {
        return if fraction == 0 {
            sign * f64::INFINITY
        } else {
            f64::NAN
        };
    }
    if exponent == 0 && fraction == 0 {
        return sign * 0.0;
    }
    // The significand with its implicit bit, as an integer scaled by 2^-112.
    let (significand, unbiased) = if exponent == 0 {
        (fraction, 1 - F128_BIAS)
    } else {
        (fraction | (1u128 << 112), exponent - F128_BIAS)
    };
    // Normalise so the leading one sits at bit 112 and adjust the exponent.
    let lead = 127 - significand.leading_zeros() as i64;
    let e = unbiased + (lead - 112);
    // f64 keeps 52 fraction bits below the leading one; subnormals keep fewer.
    let keep_fraction_bits = if e >= 1 - F64_BIAS {
        52
    } else {
        52 - ((1 - F64_BIAS) - e)
    };
    if keep_fraction_bits < -1 {
        return sign * 0.0;
    }
    let drop = lead - keep_fraction_bits;
    let rounded = round_shift_right_even(significand, drop as u32);
    // `rounded` carries the value as rounded * 2^(e - keep_fraction_bits); f64 arithmetic with
    // a power of two is exact (or overflows to infinity, as it should).
    let mantissa = rounded as f64;
    sign * mantissa * pow2(e - keep_fraction_bits)
}

/// `value >> shift`, rounded to nearest with ties to even.
fn round_shift_right_even(value: u128, shift: u32) -> u128 {
    if shift == 0 {
        return value;
    }
    if shift >= 128 {
        return 0;
    }
    let kept = value >> shift;
    let remainder = value & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    if remainder > half || (remainder == half && kept & 1 == 1) {
        kept + 1
    } else {
        kept
    }
}

/// 2^exp as f64, exact across the whole normal and subnormal range.
fn pow2(exp: i64) -> f64 {
    // Split to stay within powi's exact range for large magnitudes.
    let mut result = 1.0f64;
    let mut remaining = exp;
    while remaining > 1000 {
        result *= 2f64.powi(1000);
        remaining -= 1000;
    }
    while remaining < -1000 {
        result *= 2f64.powi(-1000);
        remaining += 1000;
    }
    result * 2f64.powi(remaining as i32)
}

/// The memory layout of a multi-dimensional array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    /// Row-major: the last index varies fastest.
    #[default]
    C,
    /// Column-major (Fortran): the first index varies fastest. NIfTI data is stored this way.
    F,
}

/// The bytes of an array of `shape` with elements of `itemsize` bytes — the one place a
/// size from a header is multiplied out — or `None` when it does not fit in 64 bits.
///
/// ```
/// use neurovox::dtype::checked_nbytes;
/// assert_eq!(checked_nbytes(&[64, 64, 30], 2), Some(245_760));
/// assert_eq!(checked_nbytes(&[1 << 40, 1 << 30], 2), None);
/// ```
pub fn checked_nbytes(shape: &[usize], itemsize: usize) -> Option<u64> {
    shape
        .iter()
        .try_fold(itemsize as u64, |acc, &n| acc.checked_mul(n as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_dtype_binds_each_type() {
        for dtype in DataType::ALL {
            let all = with_dtype!(all: dtype, T => std::mem::size_of::<T>(), _ => 0);
            let numeric = with_dtype!(numeric: dtype, T => std::mem::size_of::<T>(), _ => 0);
            let real = with_dtype!(real: dtype, T => <T as Element>::DTYPE, other => other);
            let binary128 = matches!(dtype, DataType::Float128 | DataType::Complex256);
            assert_eq!(all, if binary128 { 0 } else { dtype.itemsize() }, "{dtype}");
            let colour = matches!(dtype, DataType::Rgb24 | DataType::Rgba32);
            assert_eq!(numeric == 0, binary128 || colour, "{dtype}");
            assert_eq!(real, dtype, "{dtype}");
        }
    }

    fn f128_from_f64(x: f64) -> u128 {
        // Exact widening: binary128 holds every f64.
        let bits = x.to_bits();
        let sign = (bits >> 63) as u128;
        let exp = ((bits >> 52) & 0x7ff) as i64;
        let frac = (bits & ((1 << 52) - 1)) as u128;
        assert!(
            exp != 0 && exp != 0x7ff,
            "normal numbers only in this helper"
        );
        let e128 = (exp - 1023 + 16383) as u128;
        (sign << 127) | (e128 << 112) | (frac << 60)
    }

    #[test]
    fn nifti_codes_round_trip() {
        for t in DataType::ALL {
            assert_eq!(
                DataType::from_nifti_code(t.nifti_code()),
                CodeMeaning::Type(t)
            );
            assert_eq!(DataType::from_name(t.name()), Some(t));
            assert_eq!(DataType::from_name(t.nifti_string()), Some(t));
        }
        assert_eq!(
            DataType::from_nifti_code(255),
            CodeMeaning::KnownUnsupported
        );
        assert_eq!(DataType::from_nifti_code(-4), CodeMeaning::Unknown);
    }

    #[test]
    fn numpy_strings_match_numpy() {
        let s = |t, o| StorageDtype::new(t, o).numpy_str();
        assert_eq!(s(DataType::Float64, ByteOrder::Little), "<f8");
        assert_eq!(s(DataType::Complex64, ByteOrder::Big), ">c8");
        assert_eq!(s(DataType::Int8, ByteOrder::Little), "|i1");
        assert_eq!(s(DataType::Rgba32, ByteOrder::Big), "|V4");
        assert_eq!(s(DataType::Complex256, ByteOrder::Little), "<c32");
    }

    #[test]
    fn binary128_exact_values_convert_exactly() {
        for x in [
            1.0,
            -1.5,
            std::f64::consts::PI,
            1e300,
            -2.5e-300,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(binary128_to_f64(f128_from_f64(x)), x, "{x}");
        }
    }

    #[test]
    fn binary128_rounds_to_nearest_even() {
        let one = f128_from_f64(1.0);
        // Half an f64 ulp above 1.0 is a tie: rounds to even (1.0).
        let half_ulp = 1u128 << (60 - 1);
        assert_eq!(binary128_to_f64(one | half_ulp), 1.0);
        // Just above the tie rounds up.
        assert_eq!(binary128_to_f64(one | half_ulp | 1), 1.0 + f64::EPSILON);
        // 1 + 1ulp + half ulp is a tie with an odd kept value: rounds up to 1 + 2ulp.
        let one_ulp = 1u128 << 60;
        assert_eq!(
            binary128_to_f64(one | one_ulp | half_ulp),
            1.0 + 2.0 * f64::EPSILON
        );
    }

    #[test]
    fn binary128_specials_and_range_ends() {
        let inf = 0x7fff_u128 << 112;
        assert_eq!(binary128_to_f64(inf), f64::INFINITY);
        assert_eq!(binary128_to_f64(inf | 1u128 << 127), f64::NEG_INFINITY);
        assert!(binary128_to_f64(inf | 1).is_nan());
        assert_eq!(binary128_to_f64(0), 0.0);
        assert!(binary128_to_f64(1u128 << 127).is_sign_negative());
        // 2^2000 overflows f64; 2^-1074 is the smallest f64 subnormal; 2^-1100 underflows.
        let pow = |e: i64| ((e + 16383) as u128) << 112;
        assert_eq!(binary128_to_f64(pow(2000)), f64::INFINITY);
        assert_eq!(binary128_to_f64(pow(-1074)), 5e-324);
        assert_eq!(binary128_to_f64(pow(-1100)), 0.0);
        // The smallest binary128 subnormal is far below f64's range.
        assert_eq!(binary128_to_f64(1), 0.0);
    }
}
