//! Write scaling: which slope and intercept nibabel stores when it saves data in a smaller or
//! integer type, and the exact bytes it writes (docs/nibabel-rules.md §16; nibabel's
//! `arraywriters.py` and `volumeutils.array_to_file`).
//!
//! # The three writers
//!
//! | [`WriterKind`]  | nibabel class            | formats           | may store           |
//! |-----------------|--------------------------|-------------------|---------------------|
//! | `NoScaling`     | `ArrayWriter`            | Analyze 7.5, MGH  | nothing             |
//! | `Slope`         | `SlopeArrayWriter`       | SPM99, SPM2       | a slope             |
//! | `SlopeInter`    | `SlopeInterArrayWriter`  | NIfTI-1, NIfTI-2  | a slope, an intercept |
//!
//! # Choosing the scale factors ([`choose_scaling`])
//!
//! *Is scaling needed?* nibabel's `scaling_needed()` rules, in order: a colour (numpy void)
//! type on either side needs none if both types are equal, else it is an error; a safe numpy
//! cast (`np.can_cast`) needs none; complex output needs none; complex input to real output is
//! an error; float output needs none (float64 → float32 overflows to ±inf, as numpy casts);
//! empty data needs none; data whose finite values are all 0 needs none; float input to an
//! integer type always needs scaling; integers need it only if their range does not fit. The
//! `Slope` and `SlopeInter` writers also need none when no value is finite. The `NoScaling`
//! writer fails with "Scaling needed but cannot scale" whenever scaling is needed.
//!
//! *Float → integer:* the finite range `[mn, mx]` (NaN and ±inf ignored), widened to include 0
//! when the data hold NaN (NaN is written as the stored value that reads back as 0), then
//! `_range_scale`:
//!
//! * `SlopeInter`: a constant gives `(slope, inter) = (1, mn)`; otherwise
//!   `slope = (mx - mn) / (out_max - out_min)` and `inter = mn - out_min · slope` over the
//!   *shared range* of float32 and the output type (the extreme float32 values that convert
//!   exactly, e.g. int32 → `[-2147483648, 2147483520]`). For unsigned output with
//!   `|mx| < |mn|` the slope is negated and `inter = mx`, so the smaller-magnitude end is stored
//!   as 0. Non-finite float32 factors are an error ("Slope / inter not both finite"). When 0 is
//!   an end of the range and the data hold NaN, the intercept is adjusted if the NaN fill value
//!   `rint(-inter / slope)` does not fit the output type.
//! * `Slope`: unsigned output with values of both signs is an error ("Cannot scale negative and
//!   positive numbers to uint without intercept"); otherwise `slope = mn / out_max` for data
//!   ≤ 0, `mx / out_max` else; signed output takes `max(mx / out_max, mn / out_min)`.
//!
//! *Integer → integer* (out of range): `SlopeInter` first tries an intercept alone (the
//! minimum for unsigned output, the midpoint for signed output, each floored to a float32
//! integer), then a slope of -1 for non-positive data into an unsigned type, then range
//! scaling; `Slope` tries the -1 slope, then range scaling.
//!
//! The factors are float32 values (nibabel's `scaler_dtype`), returned widened to `f64`.
//!
//! # Writing ([`write_values`], in `array/write_values.rs`)
//!
//! `volumeutils.array_to_file`: non-finite factors and a zero slope are errors; a writing range
//! of `(0, 0)` (no finite data) writes zeros; a plain numpy cast when no scaling is needed and
//! the cast is safe; float output is `astype` (float64 → float32 overflow gives ±inf);
//! integer → integer with no scaling clips to the output range. Otherwise each value becomes
//! `(x - inter) / slope`, then `np.rint` (round half to even), then is clipped to the images of
//! the data extremes — so ±inf become the extremes of the finite range — intersected with the
//! shared range of the working float type and the output type; NaN becomes the value that
//! reads back as 0; then the cast. The arithmetic runs in numpy's types: float32 for float32
//! data and for 8- and 16-bit integers, float64 for float64 data and 32- and 64-bit integers,
//! float64 for float32 data whose scaled extremes would overflow float32. Values are written
//! in Fortran order, in the output's byte order.
//!
//! # Precision: nibabel's long double, emulated
//!
//! `_range_scale` computes in `best_float()`, numpy's `longdouble` — the x87 80-bit extended
//! format (64-bit significand) on x86-64 Linux, where the oracle runs. Plain `f64` arithmetic
//! gives a different float32 slope or intercept in 15 of the oracle's 4,916 scale factors from
//! the `Slope`/`SlopeInter` writers: in 5 (the full int64 range into unsigned types) slope and
//! intercept change sign, because 2⁶³ - 1 rounds to 2⁶³ and the `|mx| < |mn|` test no longer
//! holds; in 9 (int64 data near 2⁶⁰) the intercept is one float32 step off; in 1 (subnormal
//! float64 data) the slope is -0 instead of 0. So `array/casting.rs` carries a small software
//! extended-precision float: add,
//! subtract, multiply and divide rounded to 64 significand bits, half to even, and a direct
//! rounding to float32 — the operations the writers use, on finite values. With it, every
//! oracle case agrees bit for bit. (On platforms where nibabel's `best_float()` is float64 or
//! binary128, nibabel's own answers differ from x86-64's in such cases; we follow x86-64.)
//!
//! Differences from nibabel, all outside what its writers produce: a working type that needs
//! `longdouble` (only reachable with factors a caller invents) is Unsupported; NaN in data
//! whose scaling was chosen for NaN-free data is a Usage error rather than numpy's undefined
//! cast; float128/complex256 output is Unsupported.
//!
//! # Why no crate
//!
//! No Rust crate reproduces nibabel's rules — they are a product of nibabel's history (the
//! shared-range trick, the NaN fill value, numpy's type promotion, x87 long double) — and the
//! point is byte-identical files. The only generic piece, extended-precision arithmetic (a
//! soft-float crate with an x87 type, such as `rustc_apfloat`), would be a dependency for five
//! operations on finite numbers; `array/casting.rs` is tested against `f64` and, through the
//! writers, against nibabel.
//!
//! # Streaming
//!
//! [`write_values`] works on any part of the data: choose the scaling from the whole data
//! (with [`choose_scaling`], or by merging [`DataRange`]s volume by volume and calling
//! [`choose_scaling_for_range`]), then write one volume at a time. The [`WriteScaling`] carries
//! everything the whole data decides (the writing range and whether NaN must be filled).
//!
//! ```
//! use ndarray::array;
//! use neurovox::array::DynArray;
//! use neurovox::internals::{choose_scaling, write_values, WriterKind};
//! use neurovox::{ByteOrder, DataType, StorageDtype};
//!
//! // nibabel VERIFIED: [nan, 1, 2, inf] as int16 reads back as [0, 1, 2, 2].
//! let data = DynArray::from_array(array![f64::NAN, 1.0, 2.0, f64::INFINITY].into_dyn());
//! let scaling = choose_scaling(&data, DataType::Int16, WriterKind::SlopeInter)?;
//! let mut bytes = Vec::new();
//! let out = StorageDtype::new(DataType::Int16, ByteOrder::Little);
//! write_values(&data, out, &scaling, WriterKind::SlopeInter, &mut bytes)?;
//! let stored: Vec<i16> = bytes
//!     .chunks(2)
//!     .map(|b| i16::from_le_bytes([b[0], b[1]]))
//!     .collect();
//! let read: Vec<f64> = stored
//!     .iter()
//!     .map(|&v| f64::from(v) * scaling.slope + scaling.inter)
//!     .collect();
//! assert!(read[0].abs() < 1e-3 && (read[1] - 1.0).abs() < 1e-3);
//! assert_eq!(stored[2], stored[3]); // inf is written as the finite maximum
//! # Ok::<(), neurovox::Error>(())
//! ```

use crate::array::casting::Ext;
use crate::array::dyn_array::{DynArray, DynView};
#[cfg(doc)]
use crate::array::write_values::write_values;
use crate::dtype::DataType;
use crate::dtype::element::RealValue;
use crate::error::{Error, Result};
use ndarray::ArrayViewD;

/// Values saved as another type, or scaled, so that the file reads back other values (or
/// values of another type) than the image holds.
///
/// ```
/// use neurovox::array::ValueCast;
/// use neurovox::DataType;
/// let cast = ValueCast { from: DataType::Float64, to: DataType::Int16, slope: 0.5, inter: 0.0 };
/// assert_eq!(cast.to_string(), "float64 values stored as int16 (scl_slope 0.5, scl_inter 0)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueCast {
    /// The type of the values saved (what the data object gives).
    pub from: DataType,
    /// The type stored in the file.
    pub to: DataType,
    /// The slope the file's header gives them.
    pub slope: f64,
    /// The intercept the file's header gives them.
    pub inter: f64,
}

impl std::fmt::Display for ValueCast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} values stored as {}", self.from, self.to)?;
        if self.slope != 1.0 || self.inter != 0.0 {
            write!(f, " (scl_slope {}, scl_inter {})", self.slope, self.inter)?;
        }
        Ok(())
    }
}

/// Which of nibabel's array writers to follow: what the format can store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriterKind {
    /// `ArrayWriter`: no scale factors (Analyze 7.5, MGH).
    NoScaling,
    /// `SlopeArrayWriter`: a slope only (SPM99, SPM2).
    Slope,
    /// `SlopeInterArrayWriter`: a slope and an intercept (NIfTI-1, NIfTI-2).
    SlopeInter,
}

/// The scale factors a writer chose, and what writing needs to know about the whole data.
///
/// `slope` and `inter` go into the header: stored values read back as
/// `stored × slope + inter`. They are float32 values (nibabel's writers compute them in
/// float32), widened to `f64`; `(1, 0)` when no scaling is needed.
///
/// ```
/// use neurovox::internals::WriteScaling;
/// let none = WriteScaling::identity();
/// assert_eq!((none.slope, none.inter), (1.0, 0.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriteScaling {
    /// The slope to store (a float32 value).
    pub slope: f64,
    /// The intercept to store (a float32 value; 0 for the `Slope` writer).
    pub inter: f64,
    /// nibabel's writing range (`mn`, `mx` given to `array_to_file`): the finite range of the
    /// whole data for float data written as integers by the `Slope` and `SlopeInter` writers,
    /// `(0, 0)` (write zeros) when no value is finite; `None` otherwise. [`write_values`] uses
    /// it for integer output only (the only case nibabel's writers set it).
    pub clip: Option<(f64, f64)>,
    /// True if the whole data holds NaN and is written as integers: NaN is then written as the
    /// value that reads back as 0.
    pub nan2zero: bool,
}

impl Default for WriteScaling {
    fn default() -> Self {
        Self::identity()
    }
}

impl WriteScaling {
    /// No scaling, no clipping: values are cast (nibabel's `ArrayWriter`, also used for data
    /// the user scaled explicitly).
    pub fn identity() -> Self {
        WriteScaling {
            slope: 1.0,
            inter: 0.0,
            clip: None,
            nan2zero: false,
        }
    }
}

/// One end of a data range, exact for every element type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Extreme {
    /// An integer (every 64-bit value fits).
    Int(i128),
    /// A float (float32 values are exact in `f64`).
    Float(f64),
}

impl Extreme {
    /// The value as `f64` (rounded for integers beyond 2⁵³).
    pub fn as_f64(self) -> f64 {
        match self {
            Extreme::Int(v) => v as f64,
            Extreme::Float(v) => v,
        }
    }

    fn to_ext(self) -> Ext {
        match self {
            Extreme::Int(v) => Ext::from_int(v),
            Extreme::Float(v) => Ext::from_f64(v),
        }
    }

    /// numpy's `float32(value)` of a numpy scalar: one rounding, half to even.
    fn to_f32(self) -> f32 {
        match self {
            Extreme::Int(v) => v as f32,
            Extreme::Float(v) => v as f32,
        }
    }

    fn signum(self) -> i8 {
        match self {
            Extreme::Int(v) => v.signum() as i8,
            Extreme::Float(v) if v > 0.0 => 1,
            Extreme::Float(v) if v < 0.0 => -1,
            Extreme::Float(_) => 0,
        }
    }

    fn abs_less(self, other: Extreme) -> bool {
        match (self, other) {
            (Extreme::Int(a), Extreme::Int(b)) => a.unsigned_abs() < b.unsigned_abs(),
            (a, b) => a.as_f64().abs() < b.as_f64().abs(),
        }
    }

    fn same(self, other: Extreme) -> bool {
        match (self, other) {
            (Extreme::Int(a), Extreme::Int(b)) => a == b,
            (a, b) => a.as_f64() == b.as_f64(),
        }
    }

    fn less(self, other: Extreme) -> bool {
        match (self, other) {
            (Extreme::Int(a), Extreme::Int(b)) => a < b,
            (a, b) => a.as_f64() < b.as_f64(),
        }
    }
}

/// What the writers need to know about data: its type, size, finite range and NaN.
///
/// Computed from the whole data with [`DataRange::of`], or volume by volume and combined with
/// [`DataRange::merge`] — the same answer either way.
///
/// ```
/// use ndarray::array;
/// use neurovox::array::DynArray;
/// use neurovox::internals::{DataRange, Extreme};
/// let mut r = DataRange::of(&DynArray::from_array(array![1.5, f64::NAN].into_dyn()));
/// r.merge(&DataRange::of(&DynArray::from_array(array![-2.0, f64::INFINITY].into_dyn())))?;
/// assert_eq!(r.finite, Some((Extreme::Float(-2.0), Extreme::Float(1.5))));
/// assert!(r.has_nan);
/// assert_eq!(r.len, 4);
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataRange {
    /// The element type of the data.
    pub dtype: DataType,
    /// The number of elements.
    pub len: u64,
    /// The smallest and largest finite values; `None` for empty data, data without a finite
    /// value, and complex or colour data (whose range the writers never use).
    pub finite: Option<(Extreme, Extreme)>,
    /// True if any value (or complex component) is NaN.
    pub has_nan: bool,
}

impl DataRange {
    /// The range of `data` (nibabel's `finite_range(arr, check_nan=True)`).
    pub fn of(data: &DynArray) -> DataRange {
        Self::of_view(&data.view())
    }

    /// [`DataRange::of`] a borrowed array.
    pub fn of_view(data: &DynView<'_>) -> DataRange {
        let (finite, has_nan) = match data {
            DynView::U8(a) => int_range(a),
            DynView::I8(a) => int_range(a),
            DynView::U16(a) => int_range(a),
            DynView::I16(a) => int_range(a),
            DynView::U32(a) => int_range(a),
            DynView::I32(a) => int_range(a),
            DynView::U64(a) => int_range(a),
            DynView::I64(a) => int_range(a),
            DynView::F32(a) => float_range(a, f64::from),
            DynView::F64(a) => float_range(a, |v| v),
            DynView::C64(a) => (None, any_value(a, |v| v.re.is_nan() || v.im.is_nan())),
            DynView::C128(a) => (None, any_value(a, |v| v.re.is_nan() || v.im.is_nan())),
            DynView::Rgb(_) | DynView::Rgba(_) => (None, false),
        };
        DataRange {
            dtype: data.dtype(),
            len: data.len() as u64,
            finite,
            has_nan,
        }
    }

    /// Adds the range of more data of the same type (another volume); a Usage error if the
    /// types differ.
    pub fn merge(&mut self, other: &DataRange) -> Result<()> {
        if self.dtype != other.dtype {
            return Err(Error::usage(format!(
                "cannot merge the range of {} data into the range of {} data",
                other.dtype, self.dtype
            )));
        }
        self.len += other.len;
        self.has_nan |= other.has_nan;
        self.finite = match (self.finite, other.finite) {
            (None, x) | (x, None) => x,
            (Some((a0, a1)), Some((b0, b1))) => Some((
                if b0.less(a0) { b0 } else { a0 },
                if a1.less(b1) { b1 } else { a1 },
            )),
        };
        Ok(())
    }
}

/// `f` of every value of `a`, in memory order where the layout allows (order does not matter
/// for a range, and strided walks are slow).
pub(super) fn for_each_value<T: Copy>(a: &ArrayViewD<'_, T>, mut f: impl FnMut(T)) {
    match a.as_slice_memory_order() {
        Some(values) => values.iter().for_each(|&v| f(v)),
        None => a.iter().for_each(|&v| f(v)),
    }
}

pub(super) fn any_value<T: Copy>(a: &ArrayViewD<'_, T>, f: impl Fn(T) -> bool) -> bool {
    match a.as_slice_memory_order() {
        Some(values) => values.iter().any(|&v| f(v)),
        None => a.iter().any(|&v| f(v)),
    }
}

pub(super) fn int_range<T: Real>(a: &ArrayViewD<'_, T>) -> (Option<(Extreme, Extreme)>, bool) {
    let mut range: Option<(i128, i128)> = None;
    for_each_value(a, |v| {
        let v = v.cast_i128();
        range = Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
    });
    (
        range.map(|(lo, hi)| (Extreme::Int(lo), Extreme::Int(hi))),
        false,
    )
}

pub(super) fn float_range<T: Copy + Sync>(
    a: &ArrayViewD<'_, T>,
    to_f64: impl Fn(T) -> f64 + Sync,
) -> (Option<(Extreme, Extreme)>, bool) {
    use rayon::prelude::*;
    let (range, has_nan) = match a.as_slice_memory_order() {
        // Large arrays in pieces on every core, merged in order: the same first minimum and
        // maximum (which matters only for the sign of a zero) as one walk.
        Some(values) if values.len() >= RANGE_PIECE => values
            .par_chunks(RANGE_PIECE)
            .map(|piece| float_range_of(piece.iter().copied(), &to_f64))
            .collect::<Vec<_>>()
            .into_iter()
            .reduce(merge_float_ranges)
            .unwrap_or((None, false)),
        Some(values) => float_range_of(values.iter().copied(), &to_f64),
        None => float_range_of(a.iter().copied(), &to_f64),
    };
    (
        range.map(|(lo, hi)| (Extreme::Float(lo), Extreme::Float(hi))),
        has_nan,
    )
}

/// Values a piece of the parallel range pass holds.
const RANGE_PIECE: usize = 1 << 18;

type FloatRange = (Option<(f64, f64)>, bool);

/// The finite range and whether any value is NaN, in one walk.
fn float_range_of<T>(values: impl Iterator<Item = T>, to_f64: impl Fn(T) -> f64) -> FloatRange {
    let mut has_nan = false;
    let mut range: Option<(f64, f64)> = None;
    for v in values {
        let v = to_f64(v);
        if v.is_nan() {
            has_nan = true;
        } else if v.is_finite() {
            range = Some(match range {
                None => (v, v),
                Some((lo, hi)) => (if v < lo { v } else { lo }, if v > hi { v } else { hi }),
            });
        }
    }
    (range, has_nan)
}

/// The range of `a` followed by `b`, as one walk over both would give it.
fn merge_float_ranges(a: FloatRange, b: FloatRange) -> FloatRange {
    let range = match (a.0, b.0) {
        (None, x) | (x, None) => x,
        (Some((alo, ahi)), Some((blo, bhi))) => Some((
            if blo < alo { blo } else { alo },
            if bhi > ahi { bhi } else { ahi },
        )),
    };
    (range, a.1 || b.1)
}

/// The smallest and largest finite values of real data (NaN and ±inf ignored), as `f64`;
/// `None` for empty data, data without a finite value, and complex or colour data. Integers
/// beyond 2⁵³ are rounded: [`DataRange`] keeps them exact.
///
/// ```
/// use ndarray::array;
/// use neurovox::array::DynArray;
/// use neurovox::internals::finite_range;
/// let a = DynArray::from_array(array![[-1.0, 0.0, 1.0], [f64::INFINITY, f64::NAN, -f64::INFINITY]].into_dyn());
/// assert_eq!(finite_range(&a), Some((-1.0, 1.0)));
/// ```
pub fn finite_range(data: &DynArray) -> Option<(f64, f64)> {
    DataRange::of(data)
        .finite
        .map(|(lo, hi)| (lo.as_f64(), hi.as_f64()))
}

/// The scale factors nibabel's writer of `kind` chooses for `data` written as `out`.
///
/// Errors (Usage, with nibabel's messages): scaling needed but `kind` is `NoScaling`
/// ("Scaling needed but cannot scale"); complex data to a real type; colour data to another
/// type; values of both signs to an unsigned type with the `Slope` writer; float32 factors
/// that overflow ("Slope / inter not both finite").
///
/// ```
/// use ndarray::array;
/// use neurovox::array::DynArray;
/// use neurovox::internals::{choose_scaling, WriterKind};
/// use neurovox::{DataType, ErrorKind};
///
/// // nibabel VERIFIED: a constant 5.5 gives (1, 5.5); int16 [-5..3] into uint8 gives inter -5.
/// let c = DynArray::from_array(array![5.5, 5.5].into_dyn());
/// let s = choose_scaling(&c, DataType::UInt8, WriterKind::SlopeInter)?;
/// assert_eq!((s.slope, s.inter), (1.0, 5.5));
/// let i = DynArray::from_array(array![-5i16, 0, 3].into_dyn());
/// let s = choose_scaling(&i, DataType::UInt8, WriterKind::SlopeInter)?;
/// assert_eq!((s.slope, s.inter), (1.0, -5.0));
/// // SPM cannot store an intercept.
/// let err = choose_scaling(&i, DataType::UInt8, WriterKind::Slope).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Usage);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn choose_scaling(data: &DynArray, out: DataType, kind: WriterKind) -> Result<WriteScaling> {
    choose_scaling_for_view(&data.view(), out, kind)
}

/// [`choose_scaling`] from a [`DataRange`], for data seen a volume at a time.
///
/// ```
/// use ndarray::array;
/// use neurovox::array::DynArray;
/// use neurovox::internals::{choose_scaling, choose_scaling_for_range, DataRange, WriterKind};
/// use neurovox::DataType;
/// let v0 = DynArray::from_array(array![0.25, 7.0].into_dyn());
/// let v1 = DynArray::from_array(array![-3.5, 1.0].into_dyn());
/// let mut range = DataRange::of(&v0);
/// range.merge(&DataRange::of(&v1))?;
/// let whole = DynArray::from_array(array![0.25, 7.0, -3.5, 1.0].into_dyn());
/// assert_eq!(
///     choose_scaling_for_range(&range, DataType::Int16, WriterKind::SlopeInter)?,
///     choose_scaling(&whole, DataType::Int16, WriterKind::SlopeInter)?
/// );
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn choose_scaling_for_range(
    range: &DataRange,
    out: DataType,
    kind: WriterKind,
) -> Result<WriteScaling> {
    let input = range.dtype;
    let in_float = input.is_float();
    let clip = (kind != WriterKind::NoScaling && in_float && out.is_integer()).then(|| {
        range
            .finite
            .map_or((0.0, 0.0), |(lo, hi)| (lo.as_f64(), hi.as_f64()))
    });
    let nan2zero = (in_float || input.is_complex()) && out.is_integer() && range.has_nan;
    let mut scaling = WriteScaling {
        clip,
        nan2zero,
        ..WriteScaling::identity()
    };
    if !scaling_needed(range, out, kind)? {
        return Ok(scaling);
    }
    let (slope, inter) = match kind {
        WriterKind::NoScaling => return Err(Error::usage("Scaling needed but cannot scale")),
        WriterKind::Slope | WriterKind::SlopeInter => calc_scale(range, out, kind)?,
    };
    scaling.slope = f64::from(slope);
    scaling.inter = f64::from(inter);
    Ok(scaling)
}

/// Whether nibabel's writers write data of type `input` as `out` unscaled whatever its values:
/// a safe cast (numpy's `can_cast`: int16 as int16, uint8 as int16, float32 as float64) or a
/// complex output — no factors, no clip, no NaN to zero. A writer then skips the pass over the
/// data that finding its range costs (about an eighth of an int16 `.nii.gz` save). Colour
/// types are `false`: their rule is in [`choose_scaling_for_range`].
///
/// ```
/// use neurovox::internals::unscaled_by_type;
/// use neurovox::DataType;
/// assert!(unscaled_by_type(DataType::Int16, DataType::Int16));
/// assert!(unscaled_by_type(DataType::UInt8, DataType::Float32));
/// assert!(!unscaled_by_type(DataType::Float64, DataType::Int16));
/// assert!(!unscaled_by_type(DataType::Int32, DataType::Int16));
/// ```
pub fn unscaled_by_type(input: DataType, out: DataType) -> bool {
    !is_void(input) && !is_void(out) && (can_cast(input, out) || out.is_complex())
}

/// [`choose_scaling`] of a borrowed array, which computes the array's range only when the
/// types leave the scaling to the values (not [`unscaled_by_type`]).
///
/// ```
/// use ndarray::array;
/// use neurovox::array::DynArray;
/// use neurovox::internals::{choose_scaling, choose_scaling_for_view, WriteScaling, WriterKind};
/// use neurovox::DataType;
/// let a = DynArray::from_array(array![-3i16, 7].into_dyn());
/// let kind = WriterKind::SlopeInter;
/// assert_eq!(choose_scaling_for_view(&a.view(), DataType::Int16, kind)?, WriteScaling::identity());
/// assert_eq!(
///     choose_scaling_for_view(&a.view(), DataType::UInt8, kind)?,
///     choose_scaling(&a, DataType::UInt8, kind)?
/// );
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn choose_scaling_for_view(
    data: &DynView<'_>,
    out: DataType,
    kind: WriterKind,
) -> Result<WriteScaling> {
    if unscaled_by_type(data.dtype(), out) {
        // What choose_scaling_for_range gives for these types whatever the range: no clip
        // (float into an integer type is never a safe cast), no NaN to zero (that needs an
        // integer output), no factors.
        return Ok(WriteScaling::identity());
    }
    choose_scaling_for_range(&DataRange::of_view(data), out, kind)
}

pub(super) fn is_void(t: DataType) -> bool {
    matches!(t, DataType::Rgb24 | DataType::Rgba32)
}

/// nibabel's `scaling_needed()` (rules in the module docs).
pub(super) fn scaling_needed(range: &DataRange, out: DataType, kind: WriterKind) -> Result<bool> {
    let input = range.dtype;
    if is_void(input) || is_void(out) {
        return if input == out {
            Ok(false)
        } else {
            Err(Error::usage("Cannot cast to or from non-numeric types"))
        };
    }
    if can_cast(input, out) || out.is_complex() {
        return Ok(false);
    }
    if input.is_complex() {
        return Err(Error::usage("Cannot cast complex types to non-complex"));
    }
    if out.is_float() || range.len == 0 {
        return Ok(false);
    }
    let Some((mn, mx)) = range.finite else {
        // No finite value: nibabel's (inf, -inf). Float input needs scaling, but the writers
        // that can scale strip the non-finite values instead.
        return Ok(input.is_float() && kind == WriterKind::NoScaling);
    };
    if mn.signum() == 0 && mx.signum() == 0 {
        return Ok(false);
    }
    if input.is_float() {
        return Ok(true);
    }
    Ok(!fits(out, mn, mx))
}

pub(super) fn fits(out: DataType, mn: Extreme, mx: Extreme) -> bool {
    match (int_limits(out), mn, mx) {
        (Some((lo, hi)), Extreme::Int(a), Extreme::Int(b)) => a >= lo && b <= hi,
        _ => false,
    }
}

/// numpy's `np.can_cast(from, to)` (safe casting) for the numeric types.
pub(super) fn can_cast(from: DataType, to: DataType) -> bool {
    use DataType::*;
    let size = |t: DataType| t.itemsize();
    let small_int = |t: DataType| t.is_integer() && size(t) <= 2;
    let signed = |t: DataType| matches!(t, Int8 | Int16 | Int32 | Int64);
    match (from, to) {
        (f, t) if f == t => true,
        (f, t) if f.is_integer() && t.is_integer() => match (signed(f), signed(t)) {
            (false, false) | (true, true) => size(t) >= size(f),
            (false, true) => size(t) > size(f),
            (true, false) => false,
        },
        (f, Float32 | Complex64) if f.is_integer() => small_int(f),
        (f, Float64 | Float128 | Complex128 | Complex256) if f.is_integer() => true,
        (Float32, Float64 | Float128 | Complex64 | Complex128 | Complex256) => true,
        (Float64, Float128 | Complex128 | Complex256) => true,
        (Float128, Complex256) => true,
        (Complex64, Complex128 | Complex256) => true,
        (Complex128, Complex256) => true,
        _ => false,
    }
}

/// The range of an integer type, exactly.
pub(super) fn int_limits(t: DataType) -> Option<(i128, i128)> {
    Some(match t {
        DataType::UInt8 => (0, u8::MAX.into()),
        DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DataType::UInt16 => (0, u16::MAX.into()),
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DataType::UInt32 => (0, u32::MAX.into()),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        DataType::UInt64 => (0, u64::MAX.into()),
        DataType::Int64 => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

/// A numpy float type the writers compute in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Ft {
    F32,
    F64,
}

impl Ft {
    fn significand_bits(self) -> u32 {
        match self {
            Ft::F32 => 24,
            Ft::F64 => 53,
        }
    }
}

/// nibabel's `shared_range(flt, int)`: the most extreme values of float type `ft` that convert
/// into integer type `t` without leaving its range (as `f64`, exactly).
///
/// The minimum of an unsigned type is `-0.0`, as nibabel's `ceil_exact(0) = -floor_exact(-0)`
/// gives it; the sign shows in the intercept `in_min - out_min · slope` of data whose minimum
/// is `-0.0`.
pub(super) fn shared_range(ft: Ft, t: DataType) -> (f64, f64) {
    let (lo, hi) = int_limits(t).unwrap_or((0, 0));
    // lo is 0 or -2^k, exact in every float type; hi = 2^k - 1 floors to 2^k - 2^(k - p).
    let k = 128 - hi.leading_zeros();
    let p = ft.significand_bits();
    let hi = if k <= p {
        hi
    } else {
        (1i128 << k) - (1i128 << (k - p))
    };
    (if lo == 0 { -0.0 } else { lo as f64 }, hi as f64)
}

/// The type of `input op factor` in numpy (arrays on both sides): floats keep the wider type;
/// 8- and 16-bit integers take the factor's type; 32- and 64-bit integers need float64.
pub(super) fn promote(input: DataType, factor: Ft) -> Ft {
    match input {
        DataType::Float64 => Ft::F64,
        DataType::Float32 => factor,
        t if t.is_integer() && t.itemsize() <= 2 => factor,
        _ => Ft::F64,
    }
}

pub(super) fn float_type(t: DataType) -> Option<Ft> {
    match t {
        DataType::Float32 => Some(Ft::F32),
        DataType::Float64 => Some(Ft::F64),
        _ => None,
    }
}

/// `calc_scale` of the `Slope` and `SlopeInter` writers, once scaling is known to be needed.
pub(super) fn calc_scale(range: &DataRange, out: DataType, kind: WriterKind) -> Result<(f32, f32)> {
    let Some((mn, mx)) = range.finite else {
        return Ok((1.0, 0.0));
    };
    if range.dtype.is_float() {
        let (mut lo, mut hi) = (mn.as_f64(), mx.as_f64());
        if range.has_nan {
            // Python's min(mn, 0) / max(mx, 0): NaN is written as the value for 0.
            if lo > 0.0 {
                lo = 0.0;
            }
            if hi < 0.0 {
                hi = 0.0;
            }
        }
        return range_scale(
            kind,
            Extreme::Float(lo),
            Extreme::Float(hi),
            range.has_nan,
            out,
        );
    }
    let (Extreme::Int(lo), Extreme::Int(hi)) = (mn, mx) else {
        return Err(Error::usage("an integer data range must hold integers"));
    };
    match kind {
        WriterKind::SlopeInter => iu2iu_inter(lo, hi, out),
        _ => iu2iu_slope(lo, hi, out, kind),
    }
}

pub(super) fn range_scale(
    kind: WriterKind,
    lo: Extreme,
    hi: Extreme,
    has_nan: bool,
    out: DataType,
) -> Result<(f32, f32)> {
    match kind {
        WriterKind::SlopeInter => range_scale_inter(lo, hi, has_nan, out),
        _ => range_scale_slope(lo, hi, out),
    }
}

/// `SlopeInterArrayWriter._iu2iu`: an intercept alone if it brings the data into range.
pub(super) fn iu2iu_inter(mn: i128, mx: i128, out: DataType) -> Result<(f32, f32)> {
    let (o_min, o_max) = shared_range(Ft::F32, out);
    let (o_min, o_max) = (o_min as i128, o_max as i128);
    let mn2mx = mx - mn;
    if mn2mx <= o_max - o_min {
        let inter = if o_min == 0 {
            floor_exact_f32(mn - o_min)
        } else {
            // Python: mn + int(np.ceil(mn2mx / 2.0)), the division in float64.
            floor_exact_f32(mn + ((mn2mx as f64) / 2.0).ceil() as i128)
        };
        let int_inter = inter as i128;
        if mn - int_inter < o_min {
            return Err(Error::usage(
                "internal error: intercept-only scaling left the output range",
            ));
        }
        if mx - int_inter <= o_max {
            return Ok((1.0, inter));
        }
    }
    iu2iu_slope(mn, mx, out, WriterKind::SlopeInter)
}

/// `SlopeArrayWriter._iu2iu`: a slope of -1 for non-positive data into an unsigned type, else
/// range scaling.
pub(super) fn iu2iu_slope(
    mn: i128,
    mx: i128,
    out: DataType,
    kind: WriterKind,
) -> Result<(f32, f32)> {
    if matches!(int_limits(out), Some((0, _))) {
        let (_, o_max) = shared_range(Ft::F32, out);
        if mx <= 0 && mn.unsigned_abs() <= o_max as u128 {
            return Ok((-1.0, 0.0));
        }
    }
    range_scale(kind, Extreme::Int(mn), Extreme::Int(mx), false, out)
}

/// nibabel's `floor_exact(val, np.float32)`, including its conversion of a Python int to
/// float32 through float64 (two roundings) and its correction by the largest gap.
pub(super) fn floor_exact_f32(val: i128) -> f32 {
    let fval = (val as f64) as f32;
    if !fval.is_finite() || val - fval as i128 >= 0 {
        return fval;
    }
    let floor_log2 = 127 - val.unsigned_abs().leading_zeros() as i32;
    fval - 2f32.powi(floor_log2 - 23)
}

/// True if the float `v` (an integer value) is in the range of integer type `t`: nibabel's
/// `v == np.array(v, dtype=t)`.
pub(super) fn in_int_range(t: DataType, v: f32) -> bool {
    let Some((lo, hi)) = int_limits(t) else {
        return false;
    };
    v.is_finite() && v.fract() == 0.0 && (lo..=hi).contains(&(v as i128))
}

/// `SlopeInterArrayWriter._range_scale`, in x87 extended precision as nibabel computes it.
pub(super) fn range_scale_inter(
    in_min: Extreme,
    in_max: Extreme,
    has_nan: bool,
    out: DataType,
) -> Result<(f32, f32)> {
    if in_max.same(in_min) {
        return Ok((1.0, in_min.to_f32()));
    }
    let (lo, hi) = (in_min.to_ext(), in_max.to_ext());
    let in_range = match (in_min, in_max) {
        (Extreme::Int(a), Extreme::Int(b)) => Ext::from_int(b - a),
        _ => hi.sub(lo),
    };
    let (out_min, out_max) = shared_range(Ft::F32, out);
    let (o_lo, o_hi) = (Ext::from_f64(out_min), Ext::from_f64(out_max));
    let mut slope = in_range.div(o_hi.sub(o_lo));
    let inter = if out_min == 0.0 && in_max.abs_less(in_min) {
        let inter = hi.add(o_lo.mul(slope));
        slope = slope.neg();
        inter
    } else {
        lo.sub(o_lo.mul(slope))
    };
    let (slope, mut inter) = (slope.to_f32(), inter.to_f32());
    if !(slope.is_finite() && inter.is_finite()) {
        return Err(Error::usage("Slope / inter not both finite"));
    }
    if !((in_min.signum() == 0 || in_max.signum() == 0) && has_nan) {
        return Ok((slope, inter));
    }
    let nan_fill = -inter / slope;
    if in_int_range(out, nan_fill.round_ties_even()) {
        return Ok((slope, inter));
    }
    // np.clip keeps NaN; the product of two float32 values is exact in f64, so this rounds
    // once, as nibabel's long double product does.
    let f = f64::from(nan_fill);
    let clipped = if f < out_min {
        out_min
    } else if f > out_max {
        out_max
    } else {
        f
    };
    inter = (-clipped * f64::from(slope)) as f32;
    if !in_int_range(out, (-inter / slope).round_ties_even()) {
        return Err(Error::usage(
            "the NaN fill value cannot be represented in the output type",
        ));
    }
    Ok((slope, inter))
}

/// `SlopeArrayWriter._range_scale`, in x87 extended precision.
pub(super) fn range_scale_slope(
    in_min: Extreme,
    in_max: Extreme,
    out: DataType,
) -> Result<(f32, f32)> {
    let (t_min, t_max) = int_limits(out).unwrap_or((0, 0));
    let (o_lo, o_hi) = (Ext::from_int(t_min), Ext::from_int(t_max));
    let slope = if t_min == 0 {
        if in_min.signum() < 0 && in_max.signum() > 0 {
            return Err(Error::usage(
                "Cannot scale negative and positive numbers to uint without intercept",
            ));
        }
        if in_max.signum() <= 0 {
            in_min.to_ext().div(o_hi)
        } else {
            in_max.to_ext().div(o_hi)
        }
    } else {
        let mx_slope = in_max.to_ext().div(o_hi);
        let mn_slope = in_min.to_ext().div(o_lo);
        if mn_slope.greater(mx_slope) {
            mn_slope
        } else {
            mx_slope
        }
    };
    Ok((slope.to_f32(), 0.0))
}

/// Element types with a single real value: the writers also need to know integers from
/// floats and to take an integer's exact value.
pub(super) trait Real: RealValue + Copy {
    const IS_FLOAT: bool;
    fn cast_i128(self) -> i128;
}

macro_rules! real {
    ($float:expr; $($t:ty),*) => {$(
        impl Real for $t {
            const IS_FLOAT: bool = $float;
            fn cast_i128(self) -> i128 { self as i128 }
        }
    )*};
}
real!(false; u8, i8, u16, i16, u32, i32, u64, i64);
real!(true; f32, f64);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::write_values::*;
    use crate::dtype::{ByteOrder, StorageDtype};
    use ndarray::IxDyn;
    use ndarray::array;

    fn dyn_f64(v: &[f64]) -> DynArray {
        DynArray::from_array(ndarray::Array1::from(v.to_vec()).into_dyn())
    }

    /// The range pass over a large array (in pieces on every core) gives what one walk
    /// gives: the same extremes, the same first zero's sign, NaN seen anywhere, infinities
    /// ignored.
    #[test]
    fn the_parallel_range_pass_equals_one_walk() {
        let n = 5 * RANGE_PIECE + 123;
        let mut values: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64 - 500.0).collect();
        values[3 * RANGE_PIECE + 5] = f64::NEG_INFINITY;
        values[RANGE_PIECE - 1] = f64::INFINITY;
        for (at, v) in [(0, -0.0), (RANGE_PIECE, 0.0)] {
            values[at] = v;
        }
        let walk = |v: &[f64]| float_range_of(v.iter().copied(), |x| x);
        let whole = |v: &[f64]| {
            let a = ndarray::ArrayView1::from(v).into_dyn();
            float_range(&a, |x| x)
        };
        let as_pair = |r: (Option<(Extreme, Extreme)>, bool)| {
            (
                r.0.map(|(a, b)| (a.as_f64().to_bits(), b.as_f64().to_bits())),
                r.1,
            )
        };
        let one = walk(&values);
        assert_eq!(
            as_pair(whole(&values)),
            (one.0.map(|(a, b)| (a.to_bits(), b.to_bits())), one.1)
        );
        assert!(!one.1);
        values[4 * RANGE_PIECE + 9] = f64::NAN;
        assert!(whole(&values).1);
        // Only zeros, of both signs: the first one's sign, as one walk keeps it.
        let zeros: Vec<f64> = (0..n)
            .map(|i| if i < RANGE_PIECE { -0.0 } else { 0.0 })
            .collect();
        let (lo, _) = whole(&zeros).0.unwrap();
        assert!(lo.as_f64().is_sign_negative());
        // No finite value at all.
        assert_eq!(whole(&vec![f64::INFINITY; n]).0.map(|_| ()), None);
    }

    fn written(
        data: &DynArray,
        out: DataType,
        kind: WriterKind,
    ) -> Result<(WriteScaling, Vec<u8>)> {
        let s = choose_scaling(data, out, kind)?;
        let mut bytes = Vec::new();
        write_values(
            data,
            StorageDtype::new(out, ByteOrder::Little),
            &s,
            kind,
            &mut bytes,
        )?;
        Ok((s, bytes))
    }

    #[test]
    fn tiled_fortran_walk_matches_the_plain_one() {
        use ndarray::{ArcArray, ShapeBuilder, s};
        let c: ArcArray<u32, IxDyn> = ndarray::Array::from_shape_fn((13, 70, 9), |(i, j, k)| {
            (i * 10_000 + j * 10 + k) as u32
        })
        .into_dyn()
        .into_shared();
        let f: ArcArray<u32, IxDyn> =
            ndarray::Array::from_shape_fn((13, 70, 9).f(), |(i, j, k)| {
                (i * 10_000 + j * 10 + k) as u32
            })
            .into_dyn()
            .into_shared();
        let d4: ArcArray<u32, IxDyn> =
            ndarray::Array::from_shape_fn((9, 3, 66, 10), |(i, j, k, l)| {
                (i * 100_000 + j * 10_000 + k * 10 + l) as u32
            })
            .into_dyn()
            .into_shared();
        let layouts = [
            c.clone(),
            f.clone(),
            c.clone().permuted_axes(IxDyn(&[1, 0, 2])),
            c.clone().permuted_axes(IxDyn(&[2, 1, 0])),
            c.clone().slice_move(s![..;-1, ..;2, ..]).into_dyn(),
            c.clone().slice_move(s![1.., ..;-3, 2..]).into_dyn(),
            f.clone().slice_move(s![.., 5..;-1, ..]).into_dyn(),
            d4.clone(),
            d4.clone().permuted_axes(IxDyn(&[3, 1, 2, 0])),
            d4.clone().slice_move(s![.., .., ..;-1, 1..]).into_dyn(),
        ];
        for (n, a) in layouts.iter().enumerate() {
            let plain: Vec<u32> = a.t().iter().copied().collect();
            assert_eq!(
                fortran_map(&a.view(), |x| x),
                plain,
                "layout {n}: {:?} {:?}",
                a.shape(),
                a.strides()
            );
        }
    }

    #[test]
    fn shared_ranges_match_nibabel() {
        assert_eq!(
            shared_range(Ft::F32, DataType::Int32),
            (-2147483648.0, 2147483520.0)
        );
        assert_eq!(shared_range(Ft::F32, DataType::UInt32), (0.0, 4294967040.0));
        assert!(shared_range(Ft::F32, DataType::UInt8).0.is_sign_negative());
        assert_eq!(
            shared_range(Ft::F32, DataType::UInt64),
            (0.0, 18446742974197923840.0)
        );
        assert_eq!(
            shared_range(Ft::F64, DataType::Int64),
            (-9223372036854775808.0, 9223372036854774784.0)
        );
        assert_eq!(shared_range(Ft::F64, DataType::Int32).1, 2147483647.0);
        assert_eq!(shared_range(Ft::F32, DataType::Int16), (-32768.0, 32767.0));
    }

    #[test]
    fn floor_exact_follows_nibabel() {
        assert_eq!(floor_exact_f32(2), 2.0);
        assert_eq!(floor_exact_f32((1 << 24) - 1), 16777215.0);
        assert_eq!(floor_exact_f32((1 << 24) + 1), 16777216.0);
        assert_eq!(floor_exact_f32(-(1 << 24) - 1), -16777218.0);
        // Python int → float32 rounds through float64 first: 2^60 + 2^36 + 1 → 2^60.
        let v = (1i128 << 60) + (1 << 36) + 1;
        assert_eq!(floor_exact_f32(v), 2f32.powi(60));
    }

    #[test]
    fn skipping_the_range_never_changes_the_chosen_scaling() {
        use crate::dtype::element::{Rgb, Rgba};
        use DataType::*;
        use num_complex::Complex;
        let values = [
            -3.5,
            0.0,
            2.0,
            300.0,
            f64::NAN,
            f64::INFINITY,
            -70000.0,
            1e10,
        ];
        fn one<T: crate::array::dyn_array::DynElement>(
            v: &[f64],
            f: impl Fn(f64) -> T,
        ) -> DynArray {
            DynArray::from_array(
                v.iter()
                    .map(|&x| f(x))
                    .collect::<ndarray::Array1<T>>()
                    .into_dyn(),
            )
        }
        let of = |v: &[f64]| -> Vec<DynArray> {
            vec![
                one(v, |x| x as u8),
                one(v, |x| x as i8),
                one(v, |x| x as u16),
                one(v, |x| x as i16),
                one(v, |x| x as u32),
                one(v, |x| x as i32),
                one(v, |x| x as u64),
                one(v, |x| x as i64),
                one(v, |x| x as f32),
                one(v, |x| x),
                one(v, |x| Complex::new(x as f32, 1.0)),
                one(v, |x| Complex::new(x, -1.0)),
                one(v, |x| Rgb {
                    r: x as u8,
                    g: 1,
                    b: 2,
                }),
                one(v, |x| Rgba {
                    r: x as u8,
                    g: 1,
                    b: 2,
                    a: 3,
                }),
            ]
        };
        let outs = [
            UInt8, Int8, UInt16, Int16, UInt32, Int32, UInt64, Int64, Float32, Float64, Complex64,
            Complex128, Rgb24, Rgba32,
        ];
        let mut skipped = 0;
        for v in [&values[..], &values[..4], &[][..], &[f64::NAN][..]] {
            for data in of(v) {
                for out in outs {
                    for kind in [
                        WriterKind::NoScaling,
                        WriterKind::Slope,
                        WriterKind::SlopeInter,
                    ] {
                        let fast = choose_scaling_for_view(&data.view(), out, kind);
                        let full = choose_scaling_for_range(&DataRange::of(&data), out, kind);
                        let what = format!("{} as {out} ({kind:?}), {v:?}", data.dtype());
                        match (fast, full) {
                            (Ok(a), Ok(b)) => assert_eq!(a, b, "{what}"),
                            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{what}"),
                            (a, b) => panic!("{what}: {a:?} vs {b:?}"),
                        }
                        skipped += usize::from(unscaled_by_type(data.dtype(), out));
                    }
                }
            }
        }
        assert!(skipped > 100, "the shortcut was taken {skipped} times");
    }

    #[test]
    fn can_cast_follows_numpy() {
        use DataType::*;
        assert!(can_cast(UInt8, Int16));
        assert!(!can_cast(Int8, UInt8));
        assert!(!can_cast(UInt16, Int16));
        assert!(can_cast(Int16, Float32));
        assert!(!can_cast(Int32, Float32));
        assert!(can_cast(Int64, Float64));
        assert!(!can_cast(Float64, Float32));
        assert!(can_cast(Float32, Complex64));
        assert!(!can_cast(Float64, Int64));
        assert!(!can_cast(UInt64, Int64));
    }

    #[test]
    fn verified_examples() -> Result<()> {
        // A constant 5.5 gives (1, 5.5).
        let (s, _) = written(
            &dyn_f64(&[5.5, 5.5]),
            DataType::Int16,
            WriterKind::SlopeInter,
        )?;
        assert_eq!((s.slope, s.inter), (1.0, 5.5));
        // int16 [-5..3] → uint8 gives inter -5.
        let d = DynArray::from_array(array![-5i16, -1, 3].into_dyn());
        let (s, b) = written(&d, DataType::UInt8, WriterKind::SlopeInter)?;
        assert_eq!((s.slope, s.inter), (1.0, -5.0));
        assert_eq!(b, [0, 4, 8]);
        // SPM: both signs to uint fails.
        let e = written(&d, DataType::UInt8, WriterKind::Slope).unwrap_err();
        assert_eq!(
            e.message(),
            "Cannot scale negative and positive numbers to uint without intercept"
        );
        // Analyze: cannot scale.
        let e = written(
            &dyn_f64(&[0.5, 2.0]),
            DataType::Int16,
            WriterKind::NoScaling,
        )
        .unwrap_err();
        assert_eq!(e.message(), "Scaling needed but cannot scale");
        Ok(())
    }

    #[test]
    fn nan_and_inf_become_zero_and_the_extremes() -> Result<()> {
        let d = dyn_f64(&[f64::NAN, 1.0, 2.0, f64::INFINITY]);
        let (s, b) = written(&d, DataType::Int16, WriterKind::SlopeInter)?;
        let vals: Vec<f64> = b
            .chunks(2)
            .map(|c| f64::from(i16::from_le_bytes([c[0], c[1]])) * s.slope + s.inter)
            .collect();
        assert!(vals[0].abs() < 1e-3);
        assert!((vals[1] - 1.0).abs() < 1e-3 && (vals[2] - 2.0).abs() < 1e-3);
        assert_eq!(vals[2], vals[3]);
        Ok(())
    }

    #[test]
    fn float64_to_float32_overflows_to_inf() -> Result<()> {
        let (s, b) = written(
            &dyn_f64(&[1e300, -1.5]),
            DataType::Float32,
            WriterKind::NoScaling,
        )?;
        assert_eq!((s.slope, s.inter), (1.0, 0.0));
        assert_eq!(b[..4], f32::INFINITY.to_le_bytes());
        assert_eq!(b[4..], (-1.5f32).to_le_bytes());
        Ok(())
    }

    #[test]
    fn integers_saturate_without_scaling() -> Result<()> {
        let d = DynArray::from_array(array![-3i32, 7, 300].into_dyn());
        let s = WriteScaling::identity();
        let mut b = Vec::new();
        let out = StorageDtype::new(DataType::UInt8, ByteOrder::Little);
        write_values(&d, out, &s, WriterKind::NoScaling, &mut b)?;
        assert_eq!(b, [0, 7, 255]);
        Ok(())
    }

    #[test]
    fn bad_factors_are_errors() {
        let d = dyn_f64(&[1.0]);
        let out = StorageDtype::new(DataType::Int16, ByteOrder::Little);
        let mut b = Vec::new();
        for (slope, inter, kind) in [
            (0.0, 0.0, WriterKind::SlopeInter),
            (f64::INFINITY, 0.0, WriterKind::Slope),
            (2.0, 0.0, WriterKind::NoScaling),
            (2.0, 1.0, WriterKind::Slope),
            (0.1, 0.0, WriterKind::SlopeInter),
        ] {
            let s = WriteScaling {
                slope,
                inter,
                ..WriteScaling::identity()
            };
            let e = write_values(&d, out, &s, kind, &mut b).unwrap_err();
            assert_eq!(
                e.kind(),
                crate::ErrorKind::Usage,
                "{slope} {inter} {kind:?}"
            );
        }
        assert!(b.is_empty());
    }

    #[test]
    fn streaming_matches_whole() -> Result<()> {
        let data = array![[0.5, f64::NAN], [-3.25, 8.0], [f64::INFINITY, 2.0]];
        let whole = DynArray::from_array(data.clone().into_dyn());
        let (s, bytes) = written(&whole, DataType::Int8, WriterKind::SlopeInter)?;
        let mut range: Option<DataRange> = None;
        let mut parts = Vec::new();
        let cols: Vec<DynArray> = (0..2)
            .map(|j| DynArray::from_array(data.column(j).to_owned().into_dyn()))
            .collect();
        for c in &cols {
            let r = DataRange::of(c);
            match &mut range {
                None => range = Some(r),
                Some(acc) => acc.merge(&r)?,
            }
        }
        let Some(range) = range else {
            return Err(Error::usage("no range"));
        };
        let s2 = choose_scaling_for_range(&range, DataType::Int8, WriterKind::SlopeInter)?;
        assert_eq!(s, s2);
        let out = StorageDtype::new(DataType::Int8, ByteOrder::Little);
        for c in &cols {
            write_values(c, out, &s2, WriterKind::SlopeInter, &mut parts)?;
        }
        assert_eq!(bytes, parts);
        Ok(())
    }
}
