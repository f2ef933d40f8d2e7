//! Writing values as a file stores them (nibabel's `array_to_file`): in Fortran order,
//! in the output type and byte order, divided by the slope a save chose
//! ([`super::write_scale`]) after the intercept is taken off, rounded and clipped as nibabel
//! does, one volume-sized piece at a time.

use super::write_scale::*;
use crate::array::dyn_array::{DynArray, DynView};
use crate::dtype::element::{Element, FloatOut, RealValue};
use crate::dtype::{ByteOrder, DataType, StorageDtype};
use crate::error::{Error, Result};
use ndarray::{ArrayViewD, Axis, Ix2, IxDyn};
use num_complex::Complex;

/// Appends `data` written as `out` with `scaling` (nibabel's `array_to_file`, the rules in the
/// module docs): the values in Fortran order whatever the array's layout, in `out`'s byte
/// order.
///
/// `data` may be the whole array or any part of it (a volume), as long as `scaling` was chosen
/// for the whole data. `kind` must be the writer the scaling came from.
///
/// Errors: non-finite factors ("divslope and intercept must be finite"), a zero slope
/// ("divslope cannot be zero"), factors the writer cannot hold, a NaN fill value outside the
/// output type, NaN in data whose scaling was chosen for NaN-free data, complex data to a real
/// type (Usage); float128 / complex256 output (Unsupported).
///
/// ```
/// use ndarray::array;
/// use neurovox::array::DynArray;
/// use neurovox::internals::{choose_scaling, write_values, WriterKind};
/// use neurovox::{ByteOrder, DataType, StorageDtype};
/// // Column-major bytes of a 2 × 2 int16 array, big-endian, no scaling needed.
/// let data = DynArray::from_array(array![[1i16, 2], [3, 4]].into_dyn());
/// let s = choose_scaling(&data, DataType::Int16, WriterKind::NoScaling)?;
/// let mut out = Vec::new();
/// write_values(&data, StorageDtype::new(DataType::Int16, ByteOrder::Big), &s,
///              WriterKind::NoScaling, &mut out)?;
/// assert_eq!(out, [0, 1, 0, 3, 0, 2, 0, 4]);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn write_values(
    data: &DynArray,
    out: StorageDtype,
    scaling: &WriteScaling,
    kind: WriterKind,
    dst: &mut Vec<u8>,
) -> Result<()> {
    write_view(&data.view(), out, scaling, kind, dst)
}

/// [`write_values`] of a borrowed array (a volume of a larger one, or memory the library
/// does not own).
pub fn write_view(
    data: &DynView<'_>,
    out: StorageDtype,
    scaling: &WriteScaling,
    kind: WriterKind,
    dst: &mut Vec<u8>,
) -> Result<()> {
    let start = dst.len();
    let len = data
        .len()
        .checked_mul(out.dtype.itemsize())
        .ok_or_else(|| Error::usage("the data's byte count overflows"))?;
    dst.resize(start + len, 0);
    let written = write_view_into(data, out, scaling, kind, &mut dst[start..]);
    if written.is_err() {
        // Nothing half-written.
        dst.truncate(start);
    }
    written
}

/// [`write_view`] into `dst`, which holds exactly the written bytes (`data.len()` times the
/// item size of `out`): a caller converting into buffers of its own (the gzip writer's
/// members) needs no second copy of the values. Errors as [`write_values`]'s, and a Usage
/// error for a `dst` of another length; after an error `dst` holds no meaningful bytes.
///
/// ```
/// use ndarray::array;
/// use neurovox::array::DynArray;
/// use neurovox::internals::{choose_scaling, write_view_into, WriterKind};
/// use neurovox::{ByteOrder, DataType, StorageDtype};
/// let data = DynArray::from_array(array![[1i16, -2], [300, 4]].into_dyn());
/// let s = choose_scaling(&data, DataType::Int16, WriterKind::NoScaling)?;
/// let mut out = [0u8; 8];
/// write_view_into(&data.view(), StorageDtype::new(DataType::Int16, ByteOrder::Big), &s,
///                 WriterKind::NoScaling, &mut out)?;
/// assert_eq!(out, [0, 1, 1, 44, 255, 254, 0, 4]); // Fortran order, big-endian
/// assert!(write_view_into(&data.view(), StorageDtype::new(DataType::Int16, ByteOrder::Big),
///                         &s, WriterKind::NoScaling, &mut [0u8; 6]).is_err());
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn write_view_into(
    data: &DynView<'_>,
    out: StorageDtype,
    scaling: &WriteScaling,
    kind: WriterKind,
    dst: &mut [u8],
) -> Result<()> {
    if Some(dst.len()) != data.len().checked_mul(out.dtype.itemsize()) {
        return Err(Error::usage(format!(
            "{} values of {} are {} bytes, not {}",
            data.len(),
            out.dtype,
            data.len().saturating_mul(out.dtype.itemsize()),
            dst.len()
        )));
    }
    let (slope, inter) = (scaling.slope, scaling.inter);
    if !(slope.is_finite() && inter.is_finite()) {
        return Err(Error::usage("divslope and intercept must be finite"));
    }
    if slope == 0.0 {
        return Err(Error::usage("divslope cannot be zero"));
    }
    let null = slope == 1.0 && inter == 0.0;
    match kind {
        WriterKind::NoScaling if !null => {
            return Err(Error::usage(
                "the NoScaling writer cannot apply a slope or an intercept",
            ));
        }
        WriterKind::Slope if inter != 0.0 => {
            return Err(Error::usage("the Slope writer cannot apply an intercept"));
        }
        WriterKind::Slope | WriterKind::SlopeInter
            if f64::from(slope as f32) != slope || f64::from(inter as f32) != inter =>
        {
            return Err(Error::usage(
                "write scale factors must be float32 values, as nibabel's writers hold them",
            ));
        }
        _ => {}
    }
    if matches!(out.dtype, DataType::Float128 | DataType::Complex256) {
        return Err(Error::unsupported(format!(
            "writing {} data is not supported",
            out.dtype
        )));
    }
    if let Some((mn, mx)) = scaling.clip
        && ((mn == 0.0 && mx == 0.0) || mx < mn)
    {
        dst.fill(0);
        return Ok(());
    }
    let input = data.dtype();
    if is_void(input) || is_void(out.dtype) {
        if input != out.dtype {
            return Err(Error::usage("Cannot cast to or from non-numeric types"));
        }
        if !null {
            return Err(Error::usage("Cannot scale non-numeric types"));
        }
        match data {
            DynView::Rgb(a) => emit_map(a, |x| x, out.order, dst),
            DynView::Rgba(a) => emit_map(a, |x| x, out.order, dst),
            _ => {}
        }
        return Ok(());
    }
    if input.is_complex() {
        if !(out.dtype.is_complex() && null) {
            return Err(Error::usage(
                "complex data can only be written unscaled as a complex type",
            ));
        }
        let o = out.order;
        match (data, out.dtype) {
            (DynView::C64(a), DataType::Complex64) => emit_map(a, |c| c, o, dst),
            (DynView::C64(a), _) => emit_map(
                a,
                |c| Complex::new(f64::from(c.re), f64::from(c.im)),
                o,
                dst,
            ),
            (DynView::C128(a), DataType::Complex64) => {
                emit_map(a, |c| Complex::new(c.re as f32, c.im as f32), o, dst)
            }
            (DynView::C128(a), _) => emit_map(a, |c| c, o, dst),
            _ => {}
        }
        return Ok(());
    }
    match data {
        DynView::U8(a) => write_real(a, out, scaling, null, dst),
        DynView::I8(a) => write_real(a, out, scaling, null, dst),
        DynView::U16(a) => write_real(a, out, scaling, null, dst),
        DynView::I16(a) => write_real(a, out, scaling, null, dst),
        DynView::U32(a) => write_real(a, out, scaling, null, dst),
        DynView::I32(a) => write_real(a, out, scaling, null, dst),
        DynView::U64(a) => write_real(a, out, scaling, null, dst),
        DynView::I64(a) => write_real(a, out, scaling, null, dst),
        DynView::F32(a) => write_real(a, out, scaling, null, dst),
        DynView::F64(a) => write_real(a, out, scaling, null, dst),
        // Handled above.
        DynView::C64(_) | DynView::C128(_) | DynView::Rgb(_) | DynView::Rgba(_) => Ok(()),
    }
}

/// `f` of every value of `a` into `out` (as long as `a`), in Fortran order, whatever `a`'s
/// layout.
///
/// Fortran-contiguous data is read in memory order. Otherwise, when the axis with the smallest
/// stride is not the first, the data are read in tiles over the first axis (fastest in the
/// output) and that axis (fastest in memory), so that neither the reads nor the writes stride
/// through memory: writing a C-ordered array in Fortran order is a transposition.
pub(super) fn fortran_fill<T: Copy, O>(
    a: &ArrayViewD<'_, T>,
    mut f: impl FnMut(T) -> O,
    out: &mut [O],
) {
    debug_assert_eq!(a.len(), out.len());
    if let Some(values) = a.t().as_slice() {
        out.iter_mut().zip(values).for_each(|(o, &x)| *o = f(x));
        return;
    }
    let shape = a.shape();
    let strides = a.strides();
    let fast = (0..a.ndim())
        .filter(|&k| shape[k] > 1)
        .min_by_key(|&k| strides[k].unsigned_abs());
    match fast {
        Some(fa)
            if fa > 0
                && shape[0] >= TILE_MIN
                && shape[fa] >= TILE_MIN
                && tiled_fortran_fill(a, fa, &mut f, out) => {}
        _ => out.iter_mut().zip(a.t()).for_each(|(o, &x)| *o = f(x)),
    }
}

/// [`fortran_fill`] into a new vector.
#[cfg(test)]
pub(super) fn fortran_map<T: Copy, O: bytemuck::Pod>(
    a: &ArrayViewD<'_, T>,
    f: impl FnMut(T) -> O,
) -> Vec<O> {
    let mut out = vec![O::zeroed(); a.len()];
    fortran_fill(a, f, &mut out);
    out
}

/// Tiles are `TILE` × `TILE`; the tiled walk is used when both axes are at least `TILE_MIN`.
const TILE: usize = 64;
const TILE_MIN: usize = 8;

/// [`fortran_fill`]'s tiled walk over axes 0 and `fa` (`fa > 0`), for every index of the other
/// axes; false only if ndarray refuses a 2-d view (it cannot), before anything is written.
fn tiled_fortran_fill<T: Copy, O>(
    a: &ArrayViewD<'_, T>,
    fa: usize,
    f: &mut impl FnMut(T) -> O,
    out: &mut [O],
) -> bool {
    let shape = a.shape();
    // Fortran-order strides of the output.
    let mut out_strides = vec![1usize; shape.len()];
    for k in 1..shape.len() {
        out_strides[k] = out_strides[k - 1] * shape[k - 1];
    }
    let others: Vec<usize> = (1..shape.len()).filter(|&k| k != fa).collect();
    let other_shape: Vec<usize> = others.iter().map(|&k| shape[k]).collect();
    let (n0, nf, fstride) = (shape[0], shape[fa], out_strides[fa]);
    for idx in ndarray::indices(IxDyn(&other_shape)) {
        let mut view = a.view();
        let mut base = 0;
        // Highest axis first, so the lower axis numbers stay valid.
        for (pos, &k) in others.iter().enumerate().rev() {
            view = view.index_axis_move(Axis(k), idx[pos]);
            base += idx[pos] * out_strides[k];
        }
        // Two axes are left, axis 0 and `fa`, from the first index on.
        let Ok(plane) = view.into_dimensionality::<Ix2>() else {
            return false;
        };
        for i0 in (0..n0).step_by(TILE) {
            for j0 in (0..nf).step_by(TILE) {
                for i in i0..(i0 + TILE).min(n0) {
                    for j in j0..(j0 + TILE).min(nf) {
                        out[base + i + j * fstride] = f(plane[(i, j)]);
                    }
                }
            }
        }
    }
    true
}

/// Writes `f` of every value of `a`, in Fortran order, into `dst` as type `O` in byte order
/// `order`: straight into `dst` when it is aligned for `O` (a member buffer of the gzip
/// writer, a fresh vector), through a vector otherwise.
fn emit_map<T: Copy, O: Element>(
    a: &ArrayViewD<'_, T>,
    f: impl FnMut(T) -> O,
    order: ByteOrder,
    dst: &mut [u8],
) {
    let swap = |values: &mut [O]| {
        if order != ByteOrder::NATIVE {
            values.iter_mut().for_each(|v| *v = v.swap_bytes());
        }
    };
    match bytemuck::try_cast_slice_mut::<u8, O>(dst) {
        Ok(values) => {
            fortran_fill(a, f, values);
            swap(values);
        }
        Err(_) => {
            let mut values = vec![O::zeroed(); a.len()];
            fortran_fill(a, f, &mut values);
            swap(&mut values);
            dst.copy_from_slice(bytemuck::cast_slice(&values));
        }
    }
}

/// Appends `f` of every value of `a`, in Fortran order, as integer type `out`; `f` gives an
/// integer inside `out`'s range.
fn emit_ints<T: Copy>(
    a: &ArrayViewD<'_, T>,
    out: StorageDtype,
    dst: &mut [u8],
    mut f: impl FnMut(T) -> i128,
) -> Result<()> {
    crate::with_dtype!(int: out.dtype,
        O => {
            emit_map(a, |x| f(x) as O, out.order, dst);
            Ok(())
        },
        other => Err(not_an_integer_type(other)))
}

/// The integer writers' complaint about an output type that is not an integer (their callers
/// never pass one).
fn not_an_integer_type(dtype: DataType) -> Error {
    Error::usage(format!("{dtype} is not an integer storage type"))
}

/// Appends `f` of every value of `a`, in Fortran order, as float or complex type `out`:
/// `f` gives the value and numpy's cast rounds it once.
fn emit_floats<T: Copy>(
    a: &ArrayViewD<'_, T>,
    out: StorageDtype,
    dst: &mut [u8],
    f32_of: impl Fn(T) -> f32,
    f64_of: impl Fn(T) -> f64,
) {
    let o = out.order;
    match out.dtype {
        DataType::Float32 => emit_map(a, f32_of, o, dst),
        DataType::Float64 => emit_map(a, f64_of, o, dst),
        DataType::Complex64 => emit_map(a, |x| Complex::new(f32_of(x), 0.0), o, dst),
        _ => emit_map(a, |x| Complex::new(f64_of(x), 0.0), o, dst),
    }
}

fn write_real<T: Real>(
    a: &ArrayViewD<'_, T>,
    out: StorageDtype,
    scaling: &WriteScaling,
    null: bool,
    dst: &mut [u8],
) -> Result<()> {
    let input = T::DTYPE;
    if !out.dtype.is_integer() {
        if null {
            // A plain numpy cast: one rounding from the input type.
            emit_floats(a, out, dst, RealValue::real_f32, RealValue::real_f64);
            return Ok(());
        }
        // (x - inter) / slope in numpy's type for float32 factors (exact in f64), then the
        // cast.
        let plan = ScalePlan::float_out(input, scaling);
        match plan.compute {
            Ft::F32 => {
                let p = plan.typed::<f32>();
                emit_floats(a, out, dst, |x| p.scale(x), |x| f64::from(p.scale(x)));
            }
            Ft::F64 => {
                let p = plan.typed::<f64>();
                emit_floats(a, out, dst, |x| p.scale(x) as f32, |x| p.scale(x));
            }
        }
        return Ok(());
    }
    if !T::IS_FLOAT && null {
        // Integer to integer, unscaled: clip to the output range, then cast.
        let (lo, hi) = int_limits(out.dtype).unwrap_or((0, 0));
        return emit_ints(a, out, dst, |v| v.cast_i128().clamp(lo, hi));
    }
    let plan = ScalePlan::int_out(input, out.dtype, scaling)?;
    match plan.compute {
        Ft::F32 => write_scaled_ints(a, &plan.typed::<f32>(), out, dst),
        Ft::F64 => write_scaled_ints(a, &plan.typed::<f64>(), out, dst),
    }
}

/// The general path to integer output: scale, round, clip and fill in type `F`; every value is
/// then an integer inside the output range, so the casts are exact.
fn write_scaled_ints<T: Real, F: Flt>(
    a: &ArrayViewD<'_, T>,
    p: &TypedPlan<F>,
    out: StorageDtype,
    dst: &mut [u8],
) -> Result<()> {
    let mut unfilled_nan = false;
    // A value inside the output type's range is cast directly; one outside it (the clip
    // range is infinite when the scaled extremes are) goes through the 128-bit integer, as
    // it always did: its low bits are what numpy's cast on x86 gives (0 for infinities
    // into 8- and 16-bit types). The 128-bit step is a library call, so only for those.
    crate::with_dtype!(int: out.dtype, O => emit_map(
        a,
        |x| match p.to_int(x) {
            Some(v) => {
                let v = v.to_f64();
                if v >= O::MIN as f64 && v < O::MAX as f64 + 1.0 {
                    v as O
                } else {
                    v as i128 as O
                }
            }
            None => {
                unfilled_nan = true;
                0
            }
        },
        out.order,
        dst,
    ),
        other => return Err(not_an_integer_type(other)));
    if unfilled_nan {
        return Err(Error::usage(
            "NaN in data whose write scaling was chosen for data without NaN",
        ));
    }
    Ok(())
}

/// numpy's `rint` (round half to even) without a call into libm: `round_ties_even` is a
/// library call on x86-64 without SSE4.1, in the writers' innermost loop. Below `$magic` (the
/// first value from which every float of the type is an integer), adding and subtracting
/// `$magic` with the value's sign rounds once, half to even, in the default rounding mode and
/// in the type's own precision (SSE2 or any 64-bit target; never x87's extended registers); at
/// and above it (and for NaN and infinities) the value is its own rint. The sign of zero is
/// kept.
macro_rules! rint_by_magic {
    ($x:expr, $magic:expr) => {{
        let x = $x;
        if x.abs() < $magic {
            let m = $magic.copysign(x);
            ((x + m) - m).copysign(x)
        } else {
            x
        }
    }};
}

/// The float types numpy computes in, as far as the writers need them.
trait Flt: FloatOut + PartialOrd + std::ops::Sub<Output = Self> + std::ops::Div<Output = Self> {
    /// Which type this is.
    const FT: Ft;
    /// numpy's `finfo(t).eps`.
    const EPS: f64;
    /// numpy's cast of an integer: one rounding, half to even.
    fn from_i128(v: i128) -> Self;
    fn to_f64(self) -> f64;
    fn rint(self) -> Self;
    fn is_nan(self) -> bool;
}

impl Flt for f32 {
    const FT: Ft = Ft::F32;
    const EPS: f64 = f32::EPSILON as f64;
    fn from_i128(v: i128) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn rint(self) -> Self {
        // 2^23: at and above it every float32 is an integer.
        rint_by_magic!(self, 8_388_608f32)
    }
    fn is_nan(self) -> bool {
        self.is_nan()
    }
}

impl Flt for f64 {
    const FT: Ft = Ft::F64;
    const EPS: f64 = f64::EPSILON;
    fn from_i128(v: i128) -> Self {
        v as f64
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn rint(self) -> Self {
        // 2^52: at and above it every float64 is an integer.
        rint_by_magic!(self, 4_503_599_627_370_496f64)
    }
    fn is_nan(self) -> bool {
        self.is_nan()
    }
}

/// What `array_to_file` works out before touching the data.
#[derive(Debug, Clone, Copy)]
struct ScalePlan {
    /// The type the data are computed in.
    compute: Ft,
    inter: Option<f64>,
    slope: Option<f64>,
    /// Post-scaling clip range (integer output).
    lo: f64,
    hi: f64,
    nan_fill: Option<f64>,
}

struct TypedPlan<F> {
    inter: Option<F>,
    slope: Option<F>,
    lo: F,
    hi: F,
    nan_fill: Option<F>,
}

impl ScalePlan {
    /// Float output: `(x - inter) / slope` in numpy's type for float32 factors.
    fn float_out(input: DataType, scaling: &WriteScaling) -> ScalePlan {
        ScalePlan {
            compute: promote(input, Ft::F32),
            inter: (scaling.inter != 0.0).then_some(scaling.inter),
            slope: (scaling.slope != 1.0).then_some(scaling.slope),
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY,
            nan_fill: None,
        }
    }

    /// Integer output from float data, or scaled integer data: the general path of
    /// `array_to_file`.
    fn int_out(input: DataType, out: DataType, scaling: &WriteScaling) -> Result<ScalePlan> {
        let has_inter = scaling.inter != 0.0;
        let has_slope = scaling.slope != 1.0;
        let in_float = float_type(input);
        // working_type(): the type of ([1] - inter) / slope with float32 factors (the
        // factors of the NoScaling writer are always 1 and 0, so never applied).
        let working = match in_float {
            Some(f) if !has_inter && !has_slope => f,
            _ => promote(input, Ft::F32),
        };
        // The data extremes: the writing range for float data, the type's range for integers.
        let (emn, emx) = match (in_float, scaling.clip) {
            (Some(_), Some((a, b))) => (Extreme::Float(a), Extreme::Float(b)),
            (Some(_), None) => (
                Extreme::Float(f64::NEG_INFINITY),
                Extreme::Float(f64::INFINITY),
            ),
            (None, _) => {
                let (a, b) = int_limits(input).unwrap_or((0, 0));
                (Extreme::Int(a), Extreme::Int(b))
            }
        };
        // best_write_scale_ftype(): the smallest float type from `working` in which the
        // scaled extremes stay finite.
        let start = in_float.map_or(working, |f| f.max(working));
        let finite = emn.as_f64().is_finite() && emx.as_f64().is_finite();
        let w = if !finite {
            start
        } else {
            let fits = |ft: Ft| {
                let c = promote(input, ft);
                let probe = |e: Extreme| -> bool {
                    match c {
                        Ft::F32 => scale_extreme::<f32>(e, scaling, has_inter, has_slope)
                            .to_f64()
                            .is_finite(),
                        Ft::F64 => {
                            scale_extreme::<f64>(e, scaling, has_inter, has_slope).is_finite()
                        }
                    }
                };
                probe(emn) && probe(emx)
            };
            if start == Ft::F32 && fits(Ft::F32) {
                Ft::F32
            } else if fits(Ft::F64) {
                Ft::F64
            } else {
                return Err(Error::unsupported(
                    "these scale factors need numpy's longdouble working precision",
                ));
            }
        };
        // Integer data cannot hold NaN: nibabel turns the NaN check off for them.
        let nan2zero = scaling.nan2zero && in_float.is_some();
        let (post, nan_fill) = match w {
            Ft::F32 => post_clips::<f32>(emn, emx, scaling, out, has_inter, has_slope, nan2zero)?,
            Ft::F64 => post_clips::<f64>(emn, emx, scaling, out, has_inter, has_slope, nan2zero)?,
        };
        let compute = if has_inter || has_slope {
            promote(input, w)
        } else {
            in_float.unwrap_or(w)
        };
        Ok(ScalePlan {
            compute,
            inter: has_inter.then_some(scaling.inter),
            slope: has_slope.then_some(scaling.slope),
            lo: post.0,
            hi: post.1,
            nan_fill: if nan2zero { Some(nan_fill) } else { None },
        })
    }

    /// The plan's values in the compute type (exact: they are float32 or `w` values and the
    /// compute type is at least as wide).
    fn typed<F: Flt>(&self) -> TypedPlan<F> {
        TypedPlan {
            inter: self.inter.map(F::from_f64),
            slope: self.slope.map(F::from_f64),
            lo: F::from_f64(self.lo),
            hi: F::from_f64(self.hi),
            nan_fill: self.nan_fill.map(F::from_f64),
        }
    }
}

impl<F: Flt> TypedPlan<F> {
    fn scale<T: Real>(&self, x: T) -> F {
        let mut v = F::from_real(x);
        if let Some(inter) = self.inter {
            v = v - inter;
        }
        if let Some(slope) = self.slope {
            v = v / slope;
        }
        v
    }

    /// One value for integer output: scale, rint, clip (NaN kept, as `np.clip`), NaN fill.
    /// The value is an integer inside the output range; `None` for a NaN the plan has no
    /// fill for (0 is written in its place and the write fails).
    #[inline(always)]
    fn to_int<T: Real>(&self, x: T) -> Option<F> {
        let mut v = self.scale(x).rint();
        if v < self.lo {
            v = self.lo;
        }
        if v > self.hi {
            v = self.hi;
        }
        if v.is_nan() {
            return self.nan_fill;
        }
        Some(v)
    }
}

/// `(e - inter) / slope` in type `F`, the factors cast to `F`.
fn scale_extreme<F: Flt>(e: Extreme, s: &WriteScaling, has_inter: bool, has_slope: bool) -> F {
    let mut v = match e {
        Extreme::Int(i) => F::from_i128(i),
        Extreme::Float(f) => F::from_f64(f),
    };
    if has_inter {
        v = v - F::from_f64(s.inter);
    }
    if has_slope {
        v = v / F::from_f64(s.slope);
    }
    v
}

/// The post-scaling clip range and NaN fill value in the working type `F`: nibabel's
/// `specials`, intersected with the shared range of `F` and the output type.
fn post_clips<F: Flt>(
    emn: Extreme,
    emx: Extreme,
    s: &WriteScaling,
    out: DataType,
    has_inter: bool,
    has_slope: bool,
    nan2zero: bool,
) -> Result<((f64, f64), f64)> {
    let special = |e: Extreme| scale_extreme::<F>(e, s, has_inter, has_slope).rint();
    let (mut post_mn, mut post_mx) = (special(emn), special(emx));
    let mut nan_fill = special(Extreme::Float(0.0));
    if post_mn > post_mx {
        std::mem::swap(&mut post_mn, &mut post_mx);
    }
    let (both_mn, both_mx) = shared_range(F::FT, out);
    let (both_mn, both_mx) = (F::from_f64(both_mn), F::from_f64(both_mx));
    if nan2zero && !(both_mn <= nan_fill && nan_fill <= both_mx) {
        // nibabel's estimated error of (0 - inter) / slope: 2 eps |inter / slope|, rounded.
        // 2 eps is a power of two, so the product is exact in either type.
        let ratio = F::from_f64(s.inter) / F::from_f64(s.slope);
        let est_err = F::from_f64((2.0 * F::EPS * ratio.to_f64().abs()).round_ties_even());
        let below =
            nan_fill < both_mn && F::from_f64((nan_fill - both_mn).to_f64().abs()) < est_err;
        let above =
            nan_fill > both_mx && F::from_f64((nan_fill - both_mx).to_f64().abs()) < est_err;
        if below {
            nan_fill = both_mn;
        } else if above {
            nan_fill = both_mx;
        } else {
            return Err(Error::usage(format!(
                "nan_fill == {:?}, outside safe int range ({}-{}); change scaling or set \
                 nan2zero=False?",
                nan_fill.to_f64(),
                both_mn.to_f64() as i128,
                both_mx.to_f64() as i128
            )));
        }
    }
    let lo = if post_mn > both_mn { post_mn } else { both_mn };
    let hi = if post_mx < both_mx { post_mx } else { both_mx };
    Ok(((lo.to_f64(), hi.to_f64()), nan_fill.to_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Converting the values of any Fortran-order range, sub-view by sub-view straight into a
    /// slice, gives the bytes the whole conversion gives there: C-ordered, Fortran-ordered,
    /// strided and reversed views, small enough for every range and large enough for the
    /// tiled transposition, scaled to int16 big-endian and cast to float32.
    #[test]
    fn every_fortran_range_converts_to_the_bytes_of_the_whole() {
        use crate::array::write_scale::choose_scaling_for_view;
        let values = |shape: &[usize]| {
            ndarray::ArrayD::from_shape_fn(IxDyn(shape), |ix| {
                let key = ndarray::Dimension::slice(&ix)
                    .iter()
                    .fold(0usize, |k, &i| k * 31 + i);
                (key % 977) as f64 * 0.37 - 150.0
            })
        };
        let small = values(&[4, 3, 2, 2]);
        let large = values(&[20, 3, 12]);
        let fortran = small.t().as_standard_layout().to_owned();
        let fortran = fortran.t();
        let mut views = vec![
            small.view(),
            fortran.view(),
            small.slice_each_axis(|ax| match ax.axis.index() {
                1 => ndarray::Slice::new(0, None, 2),
                _ => ndarray::Slice::from(..),
            }),
            large.view(),
        ];
        let mut reversed = large.view();
        reversed.invert_axis(Axis(1));
        views.push(reversed);
        for (v, view) in views.iter().enumerate() {
            let data = DynView::F64(view.view());
            let n = data.len();
            for (dtype, kind) in [
                (
                    StorageDtype::new(DataType::Int16, ByteOrder::Big),
                    WriterKind::SlopeInter,
                ),
                (
                    StorageDtype::new(DataType::Float32, ByteOrder::Little),
                    WriterKind::NoScaling,
                ),
            ] {
                let scaling = choose_scaling_for_view(&data, dtype.dtype, kind).unwrap();
                let size = dtype.dtype.itemsize();
                let mut whole = Vec::new();
                write_view(&data, dtype, &scaling, kind, &mut whole).unwrap();
                assert_eq!(whole.len(), n * size);
                let step = if n > 100 { 37 } else { 1 };
                for start in (0..=n).step_by(step) {
                    for end in (start..=n).step_by(step).chain([n]) {
                        let mut part = vec![0xa5u8; (end - start) * size];
                        let mut at = 0;
                        for block in data.fortran_range(start, end).unwrap() {
                            let len = block.len() * size;
                            let dst = &mut part[at..at + len];
                            write_view_into(&block, dtype, &scaling, kind, dst).unwrap();
                            at += len;
                        }
                        assert_eq!(at, part.len(), "view {v}, {start}..{end}");
                        assert!(
                            part == whole[start * size..end * size],
                            "view {v}, {dtype:?}, values {start}..{end}"
                        );
                    }
                }
            }
            assert!(data.fortran_range(1, 0).is_err());
            assert!(data.fortran_range(0, n + 1).is_err());
        }
    }

    #[test]
    fn conversions_into_a_slice_of_another_length_are_refused() {
        let data = DynArray::from_array(ndarray::array![1i16, 2, 3].into_dyn());
        let dtype = StorageDtype::new(DataType::Int16, ByteOrder::Little);
        let mut short = [0u8; 5];
        let err = write_view_into(
            &data.view(),
            dtype,
            &WriteScaling::identity(),
            WriterKind::NoScaling,
            &mut short,
        )
        .unwrap_err();
        assert!(
            err.message()
                .contains("3 values of int16 are 6 bytes, not 5"),
            "{err}"
        );
    }

    /// The writers' rint is numpy's (round half to even) for every kind of value, in both
    /// float types: ties, the edges of the integer range, huge values, signed zeros, NaN.
    #[test]
    fn rint_rounds_half_to_even_like_the_library() {
        let mut values = vec![
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            -0.5,
            -1.5,
            -2.5,
            0.49999999999999994,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            9.0e15 + 1.0,
            8_388_607.5,
            8_388_608.5,
            -8_388_607.5,
            1e300,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE / 4.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        // Pseudo-random values over many magnitudes, and their halves.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let v = unit * 10f64.powi((state % 40) as i32 - 10);
            values.extend([v, v.trunc() + 0.5]);
        }
        for &v in &values {
            let want = v.round_ties_even();
            let got = Flt::rint(v);
            assert_eq!(got.to_bits(), want.to_bits(), "f64 {v:e}");
            let v32 = v as f32;
            let want32 = v32.round_ties_even();
            assert_eq!(Flt::rint(v32).to_bits(), want32.to_bits(), "f32 {v32:e}");
        }
        assert!(Flt::rint(f64::NAN).is_nan());
        assert!(Flt::rint(f32::NAN).is_nan());
    }
}
