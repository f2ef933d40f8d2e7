//! Read scaling: decoding stored bytes into values, `value = raw × slope + inter`, with
//! nibabel's exact output-dtype rules (docs/nibabel-rules.md §1).
//!
//! * `(slope, inter) == (1, 0)`: the stored type, unchanged.
//! * Otherwise numpy's promotion of the stored type with the type of the scale factors — a
//!   float64 for the Python floats of NIfTI and SPM2 headers, a float32 for SPM99's header
//!   field — upgraded to float64 when `[min, max] × slope + inter` of an integer type would
//!   overflow the float32. So NIfTI scaling always gives float64 (complex128 for complex data),
//!   and SPM99 gives float32 for 8- and 16-bit integers.
//!
//! The arithmetic is numpy's too: the multiplication and the addition each round in the output
//! type (no fused multiply-add), the multiplication is skipped for a slope of 1 and the
//! addition for an intercept of 0, and a real intercept adds to the real part of complex data.

use crate::array::dyn_array::{DynArray, map_values};
use crate::dtype::element::Element;
use crate::dtype::{ByteOrder, DataType, StorageDtype, binary128_to_f64};
use crate::dtype::{Order, with_dtype};
use crate::error::{Error, Result};
use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use num_complex::Complex;

/// The float type the scale factors come in, which decides the output precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FactorType {
    /// float32 factors (SPM99's `scl_slope` field, as nibabel returns it).
    F32,
    /// float64 factors (NIfTI-1/2 and SPM2 headers give Python floats).
    #[default]
    F64,
}

/// A slope and intercept with the type they come in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scaling {
    /// Multiplier.
    pub slope: f64,
    /// Added after the multiplication.
    pub inter: f64,
    /// The float type of the factors.
    pub factor: FactorType,
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling::IDENTITY
    }
}

impl Scaling {
    /// No scaling.
    pub const IDENTITY: Scaling = Scaling {
        slope: 1.0,
        inter: 0.0,
        factor: FactorType::F64,
    };

    /// A slope and intercept of the given factor type.
    pub fn new(slope: f64, inter: f64, factor: FactorType) -> Self {
        Scaling {
            slope,
            inter,
            factor,
        }
    }

    /// From a header's `slope_inter()` (None means no scaling: 1 and 0).
    pub fn from_header_values(slope: Option<f64>, inter: Option<f64>, factor: FactorType) -> Self {
        Scaling::new(slope.unwrap_or(1.0), inter.unwrap_or(0.0), factor)
    }

    /// True for `(1, 0)`: values are the stored values.
    pub fn is_identity(&self) -> bool {
        self.slope == 1.0 && self.inter == 0.0
    }

    /// The element type scaled values have, for data stored as `storage`.
    ///
    /// ```
    /// use neurovox::array::{FactorType, Scaling};
    /// use neurovox::DataType;
    /// let nifti = Scaling::new(2.0, 1.0, FactorType::F64);
    /// assert_eq!(nifti.output_dtype(DataType::Int16)?, DataType::Float64);
    /// let spm99 = Scaling::new(2.0, 0.0, FactorType::F32);
    /// assert_eq!(spm99.output_dtype(DataType::Int16)?, DataType::Float32);
    /// assert_eq!(spm99.output_dtype(DataType::Int32)?, DataType::Float64); // numpy promotion
    /// assert_eq!(Scaling::IDENTITY.output_dtype(DataType::UInt8)?, DataType::UInt8);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn output_dtype(&self, storage: DataType) -> Result<DataType> {
        if self.is_identity() {
            return Ok(match storage {
                // No Rust type holds binary128: those are read as float64 (docs/compat.md).
                DataType::Float128 => DataType::Float64,
                DataType::Complex256 => DataType::Complex128,
                other => other,
            });
        }
        let factor = if storage.is_integer() {
            self.integer_factor_type(storage)?
        } else {
            self.factor
        };
        promote(storage, factor)
    }

    /// nibabel's `int_scinter_ftype`: the first float type, from the factors' own, in which
    /// the integer range scaled stays finite.
    fn integer_factor_type(&self, storage: DataType) -> Result<FactorType> {
        let (min, max) = integer_range(storage);
        let candidates: &[FactorType] = match self.factor {
            FactorType::F32 => &[FactorType::F32, FactorType::F64],
            FactorType::F64 => &[FactorType::F64],
        };
        for &factor in candidates {
            let finite = match promote(storage, factor)? {
                DataType::Float32 => [min, max]
                    .iter()
                    .all(|&v| self.apply_f32(v as f32).is_finite()),
                _ => [min, max].iter().all(|&v| self.apply_f64(v).is_finite()),
            };
            if finite {
                return Ok(factor);
            }
        }
        Err(Error::unsupported(format!(
            "slope {} and intercept {} overflow float64 for {storage} data (nibabel would use long double)",
            self.slope, self.inter
        ))
        .field("scl_slope"))
    }

    fn apply_f32(&self, v: f32) -> f32 {
        let mut out = v;
        if self.slope != 1.0 {
            out *= self.slope as f32;
        }
        if self.inter != 0.0 {
            out += self.inter as f32;
        }
        out
    }

    fn apply_f64(&self, v: f64) -> f64 {
        let mut out = v;
        if self.slope != 1.0 {
            out *= self.slope;
        }
        if self.inter != 0.0 {
            out += self.inter;
        }
        out
    }
}

/// numpy's result type of `storage` data combined with a float array of `factor` type.
fn promote(storage: DataType, factor: FactorType) -> Result<DataType> {
    use DataType as D;
    Ok(match (storage, factor) {
        (D::UInt8 | D::Int8 | D::UInt16 | D::Int16 | D::Float32, FactorType::F32) => D::Float32,
        (D::Complex64, FactorType::F32) => D::Complex64,
        (D::Complex64 | D::Complex128 | D::Complex256, _) => D::Complex128,
        (D::Rgb24 | D::Rgba32, _) => {
            return Err(Error::usage("RGB/RGBA data cannot be scaled").field("scl_slope"));
        }
        _ => D::Float64,
    })
}

/// The smallest and largest value of an integer type, as f64 (exact for the bounds numpy
/// scales: its `iinfo` min and max).
fn integer_range(dtype: DataType) -> (f64, f64) {
    match dtype {
        DataType::UInt8 => (0.0, f64::from(u8::MAX)),
        DataType::Int8 => (f64::from(i8::MIN), f64::from(i8::MAX)),
        DataType::UInt16 => (0.0, f64::from(u16::MAX)),
        DataType::Int16 => (f64::from(i16::MIN), f64::from(i16::MAX)),
        DataType::UInt32 => (0.0, f64::from(u32::MAX)),
        DataType::Int32 => (f64::from(i32::MIN), f64::from(i32::MAX)),
        DataType::UInt64 => (0.0, u64::MAX as f64),
        DataType::Int64 => (i64::MIN as f64, i64::MAX as f64),
        _ => (0.0, 0.0),
    }
}

/// Stored bytes to values of `T`, swapping bytes when the storage order is not native.
fn decode<T: Element>(bytes: &[u8], order: ByteOrder) -> Vec<T> {
    let swap = order != ByteOrder::NATIVE && T::DTYPE.component_size() > 1;
    bytes
        .chunks_exact(std::mem::size_of::<T>())
        .map(|c| {
            let v: T = bytemuck::pod_read_unaligned(c);
            if swap { v.swap_bytes() } else { v }
        })
        .collect()
}

/// binary128 bytes (one value per 16 bytes) to the nearest f64 values.
fn decode_binary128(bytes: &[u8], order: ByteOrder) -> Vec<f64> {
    bytes
        .chunks_exact(16)
        .map(|c| {
            let mut b = [0u8; 16];
            b.copy_from_slice(c);
            binary128_to_f64(match order {
                ByteOrder::Little => u128::from_le_bytes(b),
                ByteOrder::Big => u128::from_be_bytes(b),
            })
        })
        .collect()
}

fn shaped<T>(values: Vec<T>, shape: &[usize], order: Order) -> Result<ArrayD<T>> {
    ArrayD::from_shape_vec(IxDyn(shape).set_f(order == Order::F), values).map_err(|e| {
        Error::usage(format!(
            "{} values do not fill shape {shape:?}: {e}",
            shape.iter().product::<usize>()
        ))
    })
}

/// Stored bytes (in `order` layout) to the stored values, in native byte order. binary128
/// values become the nearest float64 (complex256: two of them).
///
/// ```
/// use neurovox::Order;
/// use neurovox::internals::decode_raw;
/// use neurovox::{ByteOrder, DataType, StorageDtype};
/// let bytes = [0u8, 1, 0, 2];
/// let a = decode_raw(&bytes, StorageDtype::new(DataType::Int16, ByteOrder::Big), &[2], Order::F)?;
/// assert_eq!(a.get_f64(&[1]), Some(2.0));
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn decode_raw(
    bytes: &[u8],
    dtype: StorageDtype,
    shape: &[usize],
    order: Order,
) -> Result<DynArray> {
    let o = dtype.order;
    Ok(with_dtype!(all: dtype.dtype,
        T => DynArray::from_array(shaped(decode::<T>(bytes, o), shape, order)?),
        DataType::Float128 => {
            DynArray::from_array(shaped(decode_binary128(bytes, o), shape, order)?)
        },
        DataType::Complex256 => {
            let parts = decode_binary128(bytes, o);
            let values = parts
                .chunks_exact(2)
                .map(|p| Complex::new(p[0], p[1]))
                .collect();
            DynArray::from_array(shaped(values, shape, order)?)
        }
    ))
}

/// Stored values read straight into a typed buffer: `fill` writes the stored bytes into the
/// bytes of a zeroed `Vec<T>`, which is then byte-swapped in place if needed. One buffer, no
/// copy between bytes and values.
pub fn decode_raw_with(
    dtype: StorageDtype,
    shape: &[usize],
    order: Order,
    fill: impl FnOnce(&mut [u8]) -> Result<()>,
) -> Result<DynArray> {
    decode_raw_with_room(dtype, shape, order, 0, fill)
}

/// [`decode_raw_with`] for a reader that wants `room` bytes of scratch before the stored
/// bytes (`Source::room_for_read`): `fill` gets `room` bytes followed by the values' bytes,
/// in one allocation that the result keeps (at most one element more than `room` besides
/// the values), so nothing is copied afterwards.
///
/// ```
/// use neurovox::Order;
/// use neurovox::internals::decode_raw_with_room;
/// use neurovox::{ByteOrder, DataType, StorageDtype};
/// let dtype = StorageDtype::new(DataType::Int16, ByteOrder::Little);
/// let a = decode_raw_with_room(dtype, &[2], Order::F, 3, |buf| {
///     assert_eq!(buf.len(), 3 + 4);
///     buf.copy_from_slice(&[9, 9, 9, 1, 0, 2, 0]);
///     Ok(())
/// })?;
/// assert_eq!(a.get_f64(&[1]), Some(2.0));
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn decode_raw_with_room(
    dtype: StorageDtype,
    shape: &[usize],
    order: Order,
    room: usize,
    fill: impl FnOnce(&mut [u8]) -> Result<()>,
) -> Result<DynArray> {
    fn typed<T: Element + crate::array::dyn_array::DynElement>(
        count: usize,
        byte_order: ByteOrder,
        shape: &[usize],
        order: Order,
        room: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<()>,
    ) -> Result<DynArray> {
        let size = std::mem::size_of::<T>();
        // Whole elements before the values, holding the room at their end.
        let lead = room.div_ceil(size);
        let total = count
            .checked_add(lead)
            .ok_or_else(|| Error::limit("the array is too large for memory"))?;
        let mut values: Vec<T> = crate::array::dyn_array::zeroed_values(total)?;
        fill(&mut bytemuck::cast_slice_mut(&mut values)[lead * size - room..])?;
        if byte_order != ByteOrder::NATIVE && T::DTYPE.component_size() > 1 {
            values[lead..].iter_mut().for_each(|v| *v = v.swap_bytes());
        }
        if lead == 0 {
            return Ok(DynArray::from_array(shaped(values, shape, order)?));
        }
        // The values start `lead` elements into the allocation; the array points there.
        let flat = ndarray::Array1::from_vec(values).slice_move(ndarray::s![lead..]);
        let layout = match order {
            Order::F => ndarray::Order::ColumnMajor,
            Order::C => ndarray::Order::RowMajor,
        };
        let array = flat
            .into_shape_with_order((IxDyn(shape), layout))
            .map_err(|e| {
                Error::usage(format!("{count} values do not fill shape {shape:?}: {e}"))
            })?;
        Ok(DynArray::from_array(array))
    }
    let count: usize = shape.iter().product();
    let o = dtype.order;
    let r = room;
    with_dtype!(all: dtype.dtype,
        T => typed::<T>(count, o, shape, order, r, fill),
        DataType::Float128 | DataType::Complex256 => {
            let mut bytes = vec![0u8; room + count * dtype.dtype.itemsize()];
            fill(&mut bytes)?;
            decode_raw(&bytes[room..], dtype, shape, order)
        }
    )
}

/// Stored bytes to scaled values, with nibabel's output type and arithmetic.
pub fn decode_scaled(
    bytes: &[u8],
    dtype: StorageDtype,
    shape: &[usize],
    order: Order,
    scaling: &Scaling,
) -> Result<DynArray> {
    let raw = decode_raw(bytes, dtype, shape, order)?;
    apply_scaling(&raw, dtype.dtype, scaling)
}

/// Scales stored values (as decoded by [`decode_raw`]) with nibabel's rules.
pub fn apply_scaling(raw: &DynArray, storage: DataType, scaling: &Scaling) -> Result<DynArray> {
    if scaling.is_identity() {
        return Ok(raw.clone());
    }
    let s = *scaling;
    match scaling.output_dtype(storage)? {
        DataType::Float32 => {
            let values = match raw {
                DynArray::U8(a) => map_values(a, |v| s.apply_f32(f32::from(v))),
                DynArray::I8(a) => map_values(a, |v| s.apply_f32(f32::from(v))),
                DynArray::U16(a) => map_values(a, |v| s.apply_f32(f32::from(v))),
                DynArray::I16(a) => map_values(a, |v| s.apply_f32(f32::from(v))),
                DynArray::F32(a) => map_values(a, |v| s.apply_f32(v)),
                other => return Err(unexpected(other, DataType::Float32)),
            };
            Ok(DynArray::from_array(values))
        }
        DataType::Complex64 => match raw {
            DynArray::C64(a) => Ok(DynArray::from_array(map_values(a, |v| {
                Complex::new(
                    s.apply_f32(v.re),
                    if s.slope != 1.0 {
                        v.im * s.slope as f32
                    } else {
                        v.im
                    },
                )
            }))),
            other => Err(unexpected(other, DataType::Complex64)),
        },
        DataType::Complex128 => {
            let scale = |re: f64, im: f64| {
                Complex::new(
                    s.apply_f64(re),
                    if s.slope != 1.0 { im * s.slope } else { im },
                )
            };
            let values = match raw {
                DynArray::C64(a) => map_values(a, |v| scale(f64::from(v.re), f64::from(v.im))),
                DynArray::C128(a) => map_values(a, |v| scale(v.re, v.im)),
                other => return Err(unexpected(other, DataType::Complex128)),
            };
            Ok(DynArray::from_array(values))
        }
        _ => {
            let f = move |v: f64| s.apply_f64(v);
            let values = match raw {
                DynArray::U8(a) => map_values(a, move |v| f(f64::from(v))),
                DynArray::I8(a) => map_values(a, move |v| f(f64::from(v))),
                DynArray::U16(a) => map_values(a, move |v| f(f64::from(v))),
                DynArray::I16(a) => map_values(a, move |v| f(f64::from(v))),
                DynArray::U32(a) => map_values(a, move |v| f(f64::from(v))),
                DynArray::I32(a) => map_values(a, move |v| f(f64::from(v))),
                DynArray::U64(a) => map_values(a, move |v| f(v as f64)),
                DynArray::I64(a) => map_values(a, move |v| f(v as f64)),
                DynArray::F32(a) => map_values(a, move |v| f(f64::from(v))),
                DynArray::F64(a) => map_values(a, f),
                DynArray::Rgb(_) | DynArray::Rgba(_) => {
                    return Err(crate::array::dyn_array::colour_has_no_float());
                }
                DynArray::C64(_) | DynArray::C128(_) => {
                    return Err(unexpected(raw, DataType::Float64));
                }
            };
            Ok(DynArray::from_array(values))
        }
    }
}

pub use crate::dtype::element::FloatOut;

/// Receives the per-value function of a scaling for one stored type `T` and applies it: the
/// one dispatch ([`scaled_fn`]) that [`scale_into`] (values already decoded) and
/// [`scale_bytes_into`] (stored bytes) share, so the arithmetic is written once.
trait ScaledSink<O: FloatOut> {
    fn apply<T: crate::array::dyn_array::DynElement, F: Fn(T) -> O + Send + Sync>(
        self,
        f: F,
    ) -> Result<()>;
}

/// Hands `sink` the function that maps a stored value of type `values` to its scaled value
/// cast to `O`, with nibabel's output type for `storage` (see the module docs).
fn scaled_fn<O: FloatOut, S: ScaledSink<O>>(
    values: DataType,
    storage: DataType,
    scaling: &Scaling,
    sink: S,
) -> Result<()> {
    use DataType as D;
    let s = *scaling;
    let unexpected = |out: DataType| Error::usage(format!("cannot scale {values} data to {out}"));
    if s.is_identity() {
        return match values {
            D::UInt8 => sink.apply(|v: u8| O::from_f64(f64::from(v))),
            D::Int8 => sink.apply(|v: i8| O::from_f64(f64::from(v))),
            D::UInt16 => sink.apply(|v: u16| O::from_f64(f64::from(v))),
            D::Int16 => sink.apply(|v: i16| O::from_f64(f64::from(v))),
            D::UInt32 => sink.apply(|v: u32| O::from_f64(f64::from(v))),
            D::Int32 => sink.apply(|v: i32| O::from_f64(f64::from(v))),
            D::UInt64 => sink.apply(O::from_u64),
            D::Int64 => sink.apply(O::from_i64),
            D::Float32 => sink.apply(O::from_f32),
            D::Float64 => sink.apply(O::from_f64),
            _ => Err(unexpected(D::Float64)),
        };
    }
    match scaling.output_dtype(storage)? {
        D::Float32 => match values {
            D::UInt8 => sink.apply(|v: u8| O::from_f32(s.apply_f32(f32::from(v)))),
            D::Int8 => sink.apply(|v: i8| O::from_f32(s.apply_f32(f32::from(v)))),
            D::UInt16 => sink.apply(|v: u16| O::from_f32(s.apply_f32(f32::from(v)))),
            D::Int16 => sink.apply(|v: i16| O::from_f32(s.apply_f32(f32::from(v)))),
            D::Float32 => sink.apply(|v: f32| O::from_f32(s.apply_f32(v))),
            _ => Err(unexpected(D::Float32)),
        },
        D::Float64 => {
            let f = move |v: f64| O::from_f64(s.apply_f64(v));
            match values {
                D::UInt8 => sink.apply(move |v: u8| f(f64::from(v))),
                D::Int8 => sink.apply(move |v: i8| f(f64::from(v))),
                D::UInt16 => sink.apply(move |v: u16| f(f64::from(v))),
                D::Int16 => sink.apply(move |v: i16| f(f64::from(v))),
                D::UInt32 => sink.apply(move |v: u32| f(f64::from(v))),
                D::Int32 => sink.apply(move |v: i32| f(f64::from(v))),
                D::UInt64 => sink.apply(move |v: u64| f(v as f64)),
                D::Int64 => sink.apply(move |v: i64| f(v as f64)),
                D::Float32 => sink.apply(move |v: f32| f(f64::from(v))),
                D::Float64 => sink.apply(f),
                _ => Err(unexpected(D::Float64)),
            }
        }
        other => Err(unexpected(other)),
    }
}

/// Values per parallel piece of a conversion: large enough that rayon's overhead vanishes,
/// small enough that both cores share a piece of a few MiB.
const PIECE: usize = 1 << 16;

/// Maps `values` into `out` in parallel pieces.
fn map_into<T: Copy + Send + Sync, O: FloatOut>(
    values: &[T],
    out: &mut [O],
    f: impl Fn(T) -> O + Send + Sync,
) -> Result<()> {
    use rayon::prelude::*;
    if values.len() != out.len() {
        return Err(Error::usage(format!(
            "{} values for an output of {}",
            values.len(),
            out.len()
        )));
    }
    out.par_chunks_mut(PIECE)
        .zip(values.par_chunks(PIECE))
        .for_each(|(o, v)| o.iter_mut().zip(v).for_each(|(o, &v)| *o = f(v)));
    Ok(())
}

/// Scales stored values (as decoded by [`decode_raw`]) and casts them to `O`, writing them
/// into `out` in the memory order of `raw`: what [`apply_scaling`] followed by numpy's
/// `astype(O)` gives, value for value, but in one pass, in parallel, into a buffer the
/// caller owns (a numpy array, say) instead of two new arrays.
///
/// Errors: `raw` not contiguous in memory, `out` of another length, or values that are not
/// real numbers once scaled (complex or colour data) — Usage errors.
///
/// ```
/// use neurovox::array::DynArray;
/// use neurovox::array::{FactorType, Scaling};
/// use neurovox::internals::scale_into;
/// use neurovox::DataType;
/// let raw = DynArray::from_array(ndarray::arr1(&[1i16, 2, 3]).into_dyn());
/// let mut out = [0f32; 3];
/// scale_into(&raw, DataType::Int16, &Scaling::new(0.5, 1.0, FactorType::F64), &mut out)?;
/// assert_eq!(out, [1.5, 2.0, 2.5]);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn scale_into<O: FloatOut>(
    raw: &DynArray,
    storage: DataType,
    scaling: &Scaling,
    out: &mut [O],
) -> Result<()> {
    struct FromArray<'a, O> {
        raw: &'a DynArray,
        out: &'a mut [O],
    }
    impl<O: FloatOut> ScaledSink<O> for FromArray<'_, O> {
        fn apply<T: crate::array::dyn_array::DynElement, F: Fn(T) -> O + Send + Sync>(
            self,
            f: F,
        ) -> Result<()> {
            let a = T::unwrap_ref(self.raw)
                .ok_or_else(|| Error::usage("scale_into: values of another type"))?;
            let contiguous = a.is_standard_layout() || a.t().is_standard_layout();
            let values = a
                .as_slice_memory_order()
                .filter(|_| contiguous)
                .ok_or_else(|| Error::usage("scale_into needs values contiguous in memory"))?;
            map_into(values, self.out, f)
        }
    }
    scaled_fn(raw.dtype(), storage, scaling, FromArray { raw, out })
}

/// Scales stored bytes (`stored`: type and byte order; binary128 is not accepted) and casts
/// them to `O`, writing them into `out` in the bytes' order: [`scale_into`] without the
/// decoded array in between. `bytes` holds exactly `out.len()` values.
///
/// ```
/// use neurovox::array::{FactorType, Scaling};
/// use neurovox::internals::scale_bytes_into;
/// use neurovox::{ByteOrder, DataType, StorageDtype};
/// let bytes = [0u8, 1, 0, 2, 0, 3]; // big-endian int16 1, 2, 3
/// let stored = StorageDtype::new(DataType::Int16, ByteOrder::Big);
/// let mut out = [0f64; 3];
/// scale_bytes_into(&bytes, stored, &Scaling::new(0.5, 1.0, FactorType::F64), &mut out)?;
/// assert_eq!(out, [1.5, 2.0, 2.5]);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn scale_bytes_into<O: FloatOut>(
    bytes: &[u8],
    stored: StorageDtype,
    scaling: &Scaling,
    out: &mut [O],
) -> Result<()> {
    struct FromBytes<'a, O> {
        bytes: &'a [u8],
        order: ByteOrder,
        out: &'a mut [O],
    }
    impl<O: FloatOut> ScaledSink<O> for FromBytes<'_, O> {
        fn apply<T: crate::array::dyn_array::DynElement, F: Fn(T) -> O + Send + Sync>(
            self,
            f: F,
        ) -> Result<()> {
            let size = std::mem::size_of::<T>();
            if self.bytes.len() != self.out.len() * size {
                return Err(Error::usage(format!(
                    "{} bytes of {size}-byte values for an output of {}",
                    self.bytes.len(),
                    self.out.len()
                )));
            }
            let swap = self.order != ByteOrder::NATIVE && size > 1;
            match bytemuck::try_cast_slice::<u8, T>(self.bytes) {
                // Aligned and native: a plain slice loop the compiler vectorises.
                Ok(values) if !swap => map_into(values, self.out, f),
                _ => {
                    use rayon::prelude::*;
                    self.out
                        .par_chunks_mut(PIECE)
                        .zip(self.bytes.par_chunks(PIECE * size))
                        .for_each(|(o, b)| {
                            for (o, c) in o.iter_mut().zip(b.chunks_exact(size)) {
                                let v: T = bytemuck::pod_read_unaligned(c);
                                *o = f(if swap { v.swap_bytes() } else { v });
                            }
                        });
                    Ok(())
                }
            }
        }
    }
    if matches!(stored.dtype, DataType::Float128 | DataType::Complex256) {
        return Err(Error::usage(
            "scale_bytes_into: binary128 values are decoded with decode_raw",
        ));
    }
    let sink = FromBytes {
        bytes,
        order: stored.order,
        out,
    };
    scaled_fn(stored.dtype, stored.dtype, scaling, sink)
}

fn unexpected(raw: &DynArray, out: DataType) -> Error {
    Error::usage(format!("cannot scale {} data to {out}", raw.dtype()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_dtypes_follow_nibabels_table() {
        use DataType as D;
        let f32s = Scaling::new(2.0, 0.0, FactorType::F32);
        let f64s = Scaling::new(2.0, 10.0, FactorType::F64);
        for (storage, spm99, nifti) in [
            (D::UInt8, D::Float32, D::Float64),
            (D::Int16, D::Float32, D::Float64),
            (D::UInt16, D::Float32, D::Float64),
            (D::Int32, D::Float64, D::Float64),
            (D::UInt64, D::Float64, D::Float64),
            (D::Float32, D::Float32, D::Float64),
            (D::Float64, D::Float64, D::Float64),
            (D::Complex64, D::Complex64, D::Complex128),
            (D::Complex128, D::Complex128, D::Complex128),
        ] {
            assert_eq!(
                f32s.output_dtype(storage).unwrap(),
                spm99,
                "{storage} spm99"
            );
            assert_eq!(
                f64s.output_dtype(storage).unwrap(),
                nifti,
                "{storage} nifti"
            );
        }
        // int16 with a float32 slope of 1e38 overflows float32: upgraded to float64.
        assert_eq!(
            Scaling::new(1e38, 0.0, FactorType::F32)
                .output_dtype(D::Int16)
                .unwrap(),
            D::Float64
        );
        // ... and 1e308 overflows float64, where nibabel would use long double.
        assert!(
            Scaling::new(1e308, 0.0, FactorType::F64)
                .output_dtype(D::Int16)
                .is_err()
        );
        assert!(f64s.output_dtype(D::Rgb24).is_err());
    }

    #[test]
    fn arithmetic_rounds_like_numpy() {
        // float32 path: (x * s) rounded, then + i rounded, in float32.
        let s = Scaling::new(0.1, 0.2, FactorType::F32);
        let raw = DynArray::from_array(ndarray::arr1(&[3i16]).into_dyn());
        let out = apply_scaling(&raw, DataType::Int16, &s).unwrap();
        let want = 3.0f32 * 0.1f32 + 0.2f32;
        assert_eq!(out.typed::<f32>().unwrap()[[0]], want);
        // complex: the intercept adds to the real part only.
        let s = Scaling::new(2.0, 1.0, FactorType::F64);
        let raw = DynArray::from_array(ndarray::arr1(&[Complex::new(1.0f32, 3.0)]).into_dyn());
        let out = apply_scaling(&raw, DataType::Complex64, &s).unwrap();
        assert_eq!(
            out.typed::<Complex<f64>>().unwrap()[[0]],
            Complex::new(3.0, 6.0)
        );
    }

    #[test]
    fn decoding_swaps_and_lays_out_in_order() {
        let bytes: Vec<u8> = [1i32, 2, 3, 4, 5, 6]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let a = decode_raw(
            &bytes,
            StorageDtype::new(DataType::Int32, ByteOrder::Big),
            &[2, 3],
            Order::F,
        )
        .unwrap();
        let t = a.typed::<i32>().unwrap();
        assert_eq!(
            t[[1, 0]],
            2,
            "Fortran order: the first index varies fastest"
        );
        assert_eq!(t[[0, 2]], 5);
        let one = 0x3fff_u128 << 112;
        let bytes = one.to_le_bytes();
        let f = decode_raw(
            &bytes,
            StorageDtype::new(DataType::Float128, ByteOrder::Little),
            &[1],
            Order::F,
        )
        .unwrap();
        assert_eq!(f.get_f64(&[0]), Some(1.0));
        assert!(
            decode_raw(
                &bytes[..3],
                StorageDtype::new(DataType::Int16, ByteOrder::Little),
                &[2],
                Order::F
            )
            .is_err()
        );
    }

    #[test]
    fn scale_into_gives_apply_scaling_then_a_cast() {
        use DataType as D;
        // Extreme and ordinary values of every real storage type, in C and Fortran order;
        // 2^60 + 2^36 + 1 rounds differently to float32 directly than through float64.
        let arrays = |fortran: bool| -> Vec<(DataType, DynArray)> {
            fn m<T: crate::array::dyn_array::DynElement>(v: Vec<T>, fortran: bool) -> DynArray {
                DynArray::from_array(
                    ArrayD::from_shape_vec(IxDyn(&[2, 3]).set_f(fortran), v).unwrap(),
                )
            }
            vec![
                (D::UInt8, m(vec![0u8, 1, 7, 255, 128, 3], fortran)),
                (D::Int8, m(vec![-128i8, -1, 0, 1, 127, 5], fortran)),
                (D::UInt16, m(vec![0u16, 1, 65535, 300, 9, 2], fortran)),
                (D::Int16, m(vec![-32768i16, -1, 0, 32767, 12, 3], fortran)),
                (
                    D::UInt32,
                    DynArray::from_array(
                        ndarray::arr1(&[0u32, u32::MAX, 16_777_217, 5, 6, 7]).into_dyn(),
                    ),
                ),
                (
                    D::Int32,
                    DynArray::from_array(
                        ndarray::arr1(&[i32::MIN, -1, i32::MAX, 16_777_217, 0, 1]).into_dyn(),
                    ),
                ),
                (
                    D::UInt64,
                    DynArray::from_array(
                        ndarray::arr1(&[
                            0u64,
                            u64::MAX,
                            (1 << 53) + 1,
                            (1 << 60) + (1 << 36) + 1,
                            1,
                            2,
                        ])
                        .into_dyn(),
                    ),
                ),
                (
                    D::Int64,
                    DynArray::from_array(
                        ndarray::arr1(&[
                            i64::MIN,
                            -1,
                            i64::MAX,
                            (1 << 53) + 1,
                            -(1 << 60) - (1 << 36) - 1,
                            2,
                        ])
                        .into_dyn(),
                    ),
                ),
                (
                    D::Float32,
                    DynArray::from_array(
                        ndarray::arr1(&[f32::MIN, -0.0, f32::MAX, 1e-40, f32::NAN, f32::INFINITY])
                            .into_dyn(),
                    ),
                ),
                (
                    D::Float64,
                    DynArray::from_array(
                        ndarray::arr1(&[f64::MIN, -0.0, 1e300, 1e-310, f64::NAN, 0.1]).into_dyn(),
                    ),
                ),
            ]
        };
        let scalings = [
            Scaling::IDENTITY,
            Scaling::new(0.1, 0.2, FactorType::F32),
            Scaling::new(2.0, 0.0, FactorType::F32),
            Scaling::new(1e38, 0.0, FactorType::F32),
            Scaling::new(0.5, -3.25, FactorType::F64),
            Scaling::new(1.0, 7.0, FactorType::F64),
        ];
        let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        for fortran in [false, true] {
            for (storage, raw) in arrays(fortran) {
                let storage = &storage;
                for scaling in &scalings {
                    let Ok(expected) = apply_scaling(&raw, *storage, scaling) else {
                        continue;
                    };
                    let what = format!("{storage} {scaling:?} fortran={fortran}");
                    let mut out64 = [0f64; 6];
                    scale_into(&raw, *storage, scaling, &mut out64).unwrap();
                    let want64 = expected.to_f64().unwrap();
                    let want64: Vec<f64> = want64.as_slice_memory_order().unwrap().to_vec();
                    for (g, w) in out64.iter().zip(&want64) {
                        assert!(same(*g, *w), "{what}: f64 {g} != {w}");
                    }
                    let mut out32 = [0f32; 6];
                    scale_into(&raw, *storage, scaling, &mut out32).unwrap();
                    let want32 = expected.to_f32().unwrap();
                    for (g, w) in out32.iter().zip(want32.as_slice_memory_order().unwrap()) {
                        assert!(same(f64::from(*g), f64::from(*w)), "{what}: f32 {g} != {w}");
                    }
                }
            }
        }
        let complex = DynArray::from_array(ndarray::arr1(&[Complex::new(1f32, 2.0)]).into_dyn());
        assert!(scale_into(&complex, D::Complex64, &Scaling::IDENTITY, &mut [0f64; 1]).is_err());
        let short = DynArray::from_array(ndarray::arr1(&[1u8, 2]).into_dyn());
        assert!(scale_into(&short, D::UInt8, &Scaling::IDENTITY, &mut [0f64; 3]).is_err());
    }
}
