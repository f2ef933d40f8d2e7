//! Rust element types for voxel values, one per storable [`DataType`].
//!
//! An [`Element`] is plain old data (any bit pattern is a valid value, no padding), so a slice
//! of file bytes in native byte order can be viewed as `&[T]` without copying, via
//! `bytemuck`; values in the other byte order are swapped one scalar component at a time.

use crate::dtype::DataType;
use num_complex::Complex;
use std::fmt::Debug;

/// One RGB24 voxel: red, green, blue bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Rgb {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
}

/// One RGBA32 voxel: red, green, blue, alpha bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Rgba {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
    /// Alpha.
    pub a: u8,
}

/// A Rust type voxel values can be read as and written from.
///
/// ```
/// use neurovox::dtype::Element;
/// use neurovox::DataType;
/// assert_eq!(<i16 as Element>::DTYPE, DataType::Int16);
/// assert_eq!(0x0102i16.swap_bytes(), 0x0201);
/// ```
pub trait Element: bytemuck::Pod + Debug + PartialEq + Send + Sync + 'static {
    /// The storage type this Rust type reads and writes.
    const DTYPE: DataType;

    /// The value with the bytes of each scalar component reversed (byte order conversion).
    #[must_use]
    fn swap_bytes(self) -> Self;
}

macro_rules! int_element {
    ($($t:ty => $d:ident),*) => {$(
        impl Element for $t {
            const DTYPE: DataType = DataType::$d;
            fn swap_bytes(self) -> Self {
                <$t>::swap_bytes(self)
            }
        }
    )*};
}

int_element!(u8 => UInt8, i8 => Int8, u16 => UInt16, i16 => Int16, u32 => UInt32, i32 => Int32,
    u64 => UInt64, i64 => Int64);

impl Element for f32 {
    const DTYPE: DataType = DataType::Float32;
    fn swap_bytes(self) -> Self {
        f32::from_bits(self.to_bits().swap_bytes())
    }
}

impl Element for f64 {
    const DTYPE: DataType = DataType::Float64;
    fn swap_bytes(self) -> Self {
        f64::from_bits(self.to_bits().swap_bytes())
    }
}

impl Element for Complex<f32> {
    const DTYPE: DataType = DataType::Complex64;
    fn swap_bytes(self) -> Self {
        Complex::new(self.re.swap_bytes(), self.im.swap_bytes())
    }
}

impl Element for Complex<f64> {
    const DTYPE: DataType = DataType::Complex128;
    fn swap_bytes(self) -> Self {
        Complex::new(self.re.swap_bytes(), self.im.swap_bytes())
    }
}

impl Element for Rgb {
    const DTYPE: DataType = DataType::Rgb24;
    fn swap_bytes(self) -> Self {
        self
    }
}

impl Element for Rgba {
    const DTYPE: DataType = DataType::Rgba32;
    fn swap_bytes(self) -> Self {
        self
    }
}

/// A numeric element's value as numpy's `astype(float64)` / `astype(float32)` gives it: one
/// rounding from integers and float64, the real part of complex values. Colour types have no
/// single number and do not implement it.
///
/// ```
/// use neurovox::dtype::RealValue;
/// assert_eq!(16_777_217i32.real_f32(), 16_777_216.0);
/// assert_eq!(num_complex::Complex::new(1.5f32, 2.0).real_f64(), 1.5);
/// ```
pub trait RealValue: Element {
    /// The value as float64.
    fn real_f64(self) -> f64;
    /// The value as float32, rounded once.
    fn real_f32(self) -> f32;
}

macro_rules! real_value {
    ($($t:ty),*) => {$(
        impl RealValue for $t {
            fn real_f64(self) -> f64 {
                self as f64
            }
            fn real_f32(self) -> f32 {
                self as f32
            }
        }
    )*};
}

real_value!(u8, i8, u16, i16, u32, i32, u64, i64, f32, f64);

macro_rules! complex_real_value {
    ($($t:ty),*) => {$(
        impl RealValue for Complex<$t> {
            fn real_f64(self) -> f64 {
                self.re.real_f64()
            }
            fn real_f32(self) -> f32 {
                self.re.real_f32()
            }
        }
    )*};
}

complex_real_value!(f32, f64);

/// A real float type that scaled values can be written into: `f32` or `f64`.
pub trait FloatOut: Copy + Send + Sync + bytemuck::Pod {
    /// The value nearest `v` (numpy's cast from float32).
    fn from_f32(v: f32) -> Self;
    /// The value nearest `v` (numpy's cast from float64).
    fn from_f64(v: f64) -> Self;
    /// The value nearest `v`, rounded once (numpy's cast from int64).
    fn from_i64(v: i64) -> Self;
    /// The value nearest `v`, rounded once (numpy's cast from uint64).
    fn from_u64(v: u64) -> Self;
    /// `v` as numpy's `astype` to this type gives it ([`RealValue`]).
    fn from_real<T: RealValue>(v: T) -> Self;
}

macro_rules! float_out {
    ($t:ty, $real:ident) => {
        impl FloatOut for $t {
            fn from_f32(v: f32) -> Self {
                v as $t
            }
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            fn from_u64(v: u64) -> Self {
                v as $t
            }
            fn from_real<T: RealValue>(v: T) -> Self {
                v.$real()
            }
        }
    };
}
float_out!(f32, real_f32);
float_out!(f64, real_f64);

#[cfg(test)]
mod tests {
    use super::*;

    fn size_matches<T: Element>() {
        assert_eq!(
            std::mem::size_of::<T>(),
            T::DTYPE.itemsize(),
            "{:?}",
            T::DTYPE
        );
    }

    #[test]
    fn sizes_match_the_storage_types() {
        size_matches::<u8>();
        size_matches::<i8>();
        size_matches::<u16>();
        size_matches::<i16>();
        size_matches::<u32>();
        size_matches::<i32>();
        size_matches::<u64>();
        size_matches::<i64>();
        size_matches::<f32>();
        size_matches::<f64>();
        size_matches::<Complex<f32>>();
        size_matches::<Complex<f64>>();
        size_matches::<Rgb>();
        size_matches::<Rgba>();
    }

    #[test]
    fn swapping_reverses_each_component() {
        let x = 1.5f64;
        assert_eq!(x.swap_bytes().to_be_bytes(), x.to_le_bytes());
        let c = Complex::new(1.0f32, -2.0);
        let s = Element::swap_bytes(c);
        assert_eq!(s.re.to_le_bytes(), 1.0f32.to_be_bytes());
        assert_eq!(s.im.to_le_bytes(), (-2.0f32).to_be_bytes());
        assert_eq!(Element::swap_bytes(Element::swap_bytes(c)), c);
        let rgb = Rgb { r: 1, g: 2, b: 3 };
        assert_eq!(rgb.swap_bytes(), rgb);
    }
}
