//! One selection type for every way of asking for part of an array.
//!
//! A [`Selection`] is numpy's *basic* indexing written down: a list of [`SliceItem`]s, each an
//! integer index, a Python slice `start:stop:step`, an `...` (Ellipsis) or a `None` (NewAxis).
//! Rust ranges, the [`sel!`](crate::sel) macro, ndarray's `s![]` and the Python layer's keys
//! all convert into it, so the read planner ([`crate::array::plan`]) has one input to understand.
//!
//! A [`SliceItem::Slice`] holds a *Python* slice. Rust ranges (in [`sel!`](crate::sel), and
//! through `From`) are read the way ndarray reads them: the range picks the elements and a
//! negative step walks them from the last, so `sel![1..4;-1]` is Python's `3:0:-1`. For a
//! positive step the two readings agree (see [`SliceArg`]).
//!
//! [`Selection::canonicalize`] resolves a selection against an array shape into one
//! [`Canonical`] item per output-relevant axis, following Python and numpy exactly:
//!
//! * a single `...` expands to as many full slices as the axes not otherwise indexed; a second
//!   `...` is an error;
//! * `NewAxis` adds an axis of length 1 and consumes no array axis;
//! * missing trailing axes are full slices;
//! * an integer index drops its axis; a negative index counts from the end, **once**;
//! * a slice is resolved with the rules of Python's `slice.indices()`: negative starts and stops
//!   count from the end, and out-of-range starts and stops are clipped, so `5:100` is `5:len`;
//! * the result is `start`, `step` and the number of elements `len`, so element `k` of the axis
//!   is `start + k * step`.
//!
//! ```
//! use neurovox::sel;
//! use neurovox::array::Canonical;
//!
//! let canon = sel![NewAxis, -1, ...].canonicalize(&[3, 4])?;
//! assert_eq!(canon, vec![Canonical::NewAxis, Canonical::Index(2), Canonical::full(4)]);
//! # Ok::<(), neurovox::Error>(())
//! ```
//!
//! Fancy (advanced) indexing — index arrays, boolean masks — cannot be expressed in this type;
//! the Python layer rejects it with nibabel's `ValueError('Cannot handle fancy indexing')`.
//!
//! # Deliberate differences from nibabel
//!
//! nibabel's `fileslice.canonical_slicers` differs from numpy in a few corners; neurovox follows
//! numpy (the lead lists these in `docs/compat.md`):
//!
//! * An out-of-range **negative** index is an error. nibabel adds the axis length twice (once in
//!   `canonical_slicers`, once in `optimize_slicer`), so on an axis of length 2 `p[-3]` and
//!   `p[-5]` silently return `p[1]`.
//! * Every out-of-range index is a [`Usage`](crate::ErrorKind::Usage) error with numpy's
//!   `IndexError` wording (`index 5 is out of bounds for axis 1 with size 3`); nibabel raises
//!   `ValueError('Integer index 5 too large')`.
//! * There are no float indices (nibabel truncates `p[1.5]` to `p[1]`).
//! * A step of 0 is a Usage error (`slice step cannot be zero`, Python's wording); nibabel fails
//!   with `ZeroDivisionError`.
//! * Too many indices is a Usage error with numpy's wording (nibabel: `IndexError('tuple index out
//!   of range')`).
//! * [`Selection::is_full`] also counts `::1`, `0:n:1` and over-long stops such as `0:10**9` as the
//!   whole axis (nibabel's `canonical_slicers` does not, so those keys lose its full-read and
//!   memory-mapping path).
//! * Out-of-range slice starts are clipped as Python clips them. nibabel adds the axis length
//!   once and keeps going, so on an F-order (10, 6) array `p[0, -8:]` returns 2 elements instead
//!   of 6 and `p[0, -20::2]` fails with `negative seek value` (nibabel 5.4.2, checked).

use crate::error::{Error, Result};
use std::fmt;
use std::ops::{Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};

/// One item of a selection: what to do with one array axis, or with none (`NewAxis`).
///
/// The slice form is Python's `start:stop:step`: `None` for an omitted bound, negative bounds
/// count from the end of the axis.
///
/// ```
/// use neurovox::array::SliceItem;
///
/// let every_other_reversed = SliceItem::Slice { start: None, stop: None, step: -2 };
/// assert_eq!(every_other_reversed.to_string(), "::-2");
/// assert_eq!(SliceItem::from(1..4).to_string(), "1:4");
/// assert_eq!(SliceItem::from(-1).to_string(), "-1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SliceItem {
    /// One position along the axis; the axis is dropped from the result. Negative counts from
    /// the end.
    Index(isize),
    /// Python's `start:stop:step`; the step must not be 0.
    Slice {
        /// First position (default: the first element in the direction of `step`).
        start: Option<isize>,
        /// Position to stop before (default: past the last element in the direction of `step`).
        stop: Option<isize>,
        /// Distance between selected positions; negative walks backwards.
        step: isize,
    },
    /// `...`: as many full slices as the axes not indexed otherwise. At most one per selection.
    Ellipsis,
    /// `None` / `np.newaxis`: a new axis of length 1, consuming no array axis.
    NewAxis,
}

impl SliceItem {
    /// The whole axis, `:`.
    ///
    /// ```
    /// use neurovox::array::SliceItem;
    /// assert_eq!(SliceItem::full(), SliceItem::from(..));
    /// ```
    pub const fn full() -> Self {
        SliceItem::Slice {
            start: None,
            stop: None,
            step: 1,
        }
    }

    /// A Python slice `start:stop:step`.
    ///
    /// ```
    /// use neurovox::array::SliceItem;
    /// assert_eq!(SliceItem::slice(Some(1), None, 2).to_string(), "1::2");
    /// ```
    pub const fn slice(start: Option<isize>, stop: Option<isize>, step: isize) -> Self {
        SliceItem::Slice { start, stop, step }
    }

    /// True for the items that consume an array axis (indices and slices).
    ///
    /// ```
    /// use neurovox::array::SliceItem;
    /// assert!(SliceItem::Index(0).is_real());
    /// assert!(!SliceItem::NewAxis.is_real());
    /// ```
    pub const fn is_real(&self) -> bool {
        matches!(self, SliceItem::Index(_) | SliceItem::Slice { .. })
    }
}

impl fmt::Display for SliceItem {
    /// Python's spelling: `3`, `1:4:2`, `::-1`, `...`, `None`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SliceItem::Index(i) => write!(f, "{i}"),
            SliceItem::Ellipsis => f.write_str("..."),
            SliceItem::NewAxis => f.write_str("None"),
            SliceItem::Slice { start, stop, step } => {
                if let Some(s) = start {
                    write!(f, "{s}")?;
                }
                f.write_str(":")?;
                if let Some(s) = stop {
                    write!(f, "{s}")?;
                }
                if step != 1 {
                    write!(f, ":{step}")?;
                }
                Ok(())
            }
        }
    }
}

/// A range with a step, read the way ndarray's `s![]` reads it: what the
/// [`sel!`](crate::sel) macro's `range;step` form is built from.
///
/// The range picks the elements: its start and end count from the end of the axis when
/// negative and are clipped to the axis, as Python does. A positive step then walks them from
/// the first, a negative step from the **last**: on `[0, 1, 2, 3]`, `1..3` with step `-1` is
/// `[2, 1]` and `..` with step `-2` is `[3, 1]` (ndarray's rule). In Python terms, `a..b` with a
/// negative step is `b-1:a-1:step`, and `a..=b` is `a..b+1`.
///
/// ```
/// use neurovox::array::{SliceArg, SliceItem};
/// assert_eq!((1..8).with_step(3), SliceItem::slice(Some(1), Some(8), 3));
/// assert_eq!((1..3).with_step(-1), SliceItem::slice(Some(2), Some(0), -1));
/// assert_eq!((..).with_step(-2), SliceItem::slice(None, None, -2));
/// assert_eq!((0..=2).with_step(-1), SliceItem::slice(Some(2), None, -1));
/// ```
pub trait SliceArg {
    /// The slice item for this range with `step` (which must not be 0 when resolved).
    fn with_step(self, step: isize) -> SliceItem;
}

/// Converts an integer to `isize`, saturating (an index that large is out of bounds anyway).
fn saturate<T: TryInto<isize>>(v: T) -> isize {
    v.try_into().unwrap_or(isize::MAX)
}

/// The exclusive end of a range whose inclusive end is `end`; `None` (the end of the axis)
/// for `-1`.
fn exclusive_end(end: isize) -> Option<isize> {
    if end == -1 { None } else { end.checked_add(1) }
}

/// The Python slice for the elements of range `start..end` (ndarray's reading, see
/// [`SliceArg`]) walked with `step`.
fn range_slice(start: Option<isize>, end: Option<isize>, step: isize) -> SliceItem {
    if step >= 0 {
        return SliceItem::slice(start, end, step);
    }
    let first = match end {
        None => None,
        // `..0` and `..isize::MIN` hold no element.
        Some(e) if e == 0 || e == isize::MIN => return SliceItem::slice(Some(0), Some(0), step),
        Some(e) => Some(e - 1),
    };
    let stop = match start {
        None | Some(0) => None,
        Some(s) => s.checked_sub(1),
    };
    SliceItem::slice(first, stop, step)
}

macro_rules! slice_args_for {
    ($($t:ty),*) => {$(
        impl SliceArg for Range<$t> {
            fn with_step(self, step: isize) -> SliceItem {
                range_slice(Some(saturate(self.start)), Some(saturate(self.end)), step)
            }
        }
        impl SliceArg for RangeFrom<$t> {
            fn with_step(self, step: isize) -> SliceItem {
                range_slice(Some(saturate(self.start)), None, step)
            }
        }
        impl SliceArg for RangeTo<$t> {
            fn with_step(self, step: isize) -> SliceItem {
                range_slice(None, Some(saturate(self.end)), step)
            }
        }
        impl SliceArg for RangeInclusive<$t> {
            fn with_step(self, step: isize) -> SliceItem {
                let (start, end) = self.into_inner();
                range_slice(Some(saturate(start)), exclusive_end(saturate(end)), step)
            }
        }
        impl SliceArg for RangeToInclusive<$t> {
            fn with_step(self, step: isize) -> SliceItem {
                range_slice(None, exclusive_end(saturate(self.end)), step)
            }
        }
        impl From<Range<$t>> for SliceItem {
            fn from(r: Range<$t>) -> Self { r.with_step(1) }
        }
        impl From<RangeFrom<$t>> for SliceItem {
            fn from(r: RangeFrom<$t>) -> Self { r.with_step(1) }
        }
        impl From<RangeTo<$t>> for SliceItem {
            fn from(r: RangeTo<$t>) -> Self { r.with_step(1) }
        }
        impl From<RangeInclusive<$t>> for SliceItem {
            fn from(r: RangeInclusive<$t>) -> Self { r.with_step(1) }
        }
        impl From<RangeToInclusive<$t>> for SliceItem {
            fn from(r: RangeToInclusive<$t>) -> Self { r.with_step(1) }
        }
        impl From<$t> for SliceItem {
            fn from(i: $t) -> Self { SliceItem::Index(saturate(i)) }
        }
        impl From<Range<$t>> for Selection {
            fn from(r: Range<$t>) -> Self { Selection::new(vec![r.into()]) }
        }
        impl From<RangeFrom<$t>> for Selection {
            fn from(r: RangeFrom<$t>) -> Self { Selection::new(vec![r.into()]) }
        }
        impl From<RangeTo<$t>> for Selection {
            fn from(r: RangeTo<$t>) -> Self { Selection::new(vec![r.into()]) }
        }
        impl From<RangeInclusive<$t>> for Selection {
            fn from(r: RangeInclusive<$t>) -> Self { Selection::new(vec![r.into()]) }
        }
        impl From<RangeToInclusive<$t>> for Selection {
            fn from(r: RangeToInclusive<$t>) -> Self { Selection::new(vec![r.into()]) }
        }
        impl From<$t> for Selection {
            fn from(i: $t) -> Self { Selection::new(vec![i.into()]) }
        }
    )*};
}

// `i32` is here so that integer literals (`sel![3]`, `sel![1..4]`) need no suffix.
slice_args_for!(isize, usize, i32);

impl SliceArg for RangeFull {
    fn with_step(self, step: isize) -> SliceItem {
        SliceItem::slice(None, None, step)
    }
}

/// ndarray's slice start (0 when omitted) as an optional start.
fn ndarray_start(start: isize) -> Option<isize> {
    (start != 0).then_some(start)
}

impl SliceArg for ndarray::Slice {
    /// The slice's own step is multiplied by `step`, as in ndarray's `s![slice;step]`.
    fn with_step(self, step: isize) -> SliceItem {
        range_slice(
            ndarray_start(self.start),
            self.end,
            self.step.saturating_mul(step),
        )
    }
}

impl From<ndarray::Slice> for SliceItem {
    /// ndarray's slice, with ndarray's meaning of a negative step (see [`SliceArg`]).
    ///
    /// ```
    /// use neurovox::array::SliceItem;
    /// let s = ndarray::Slice::new(1, Some(3), -1);
    /// assert_eq!(SliceItem::from(s).to_string(), "2:0:-1");
    /// ```
    fn from(s: ndarray::Slice) -> Self {
        s.with_step(1)
    }
}

impl From<ndarray::SliceInfoElem> for SliceItem {
    /// One element of ndarray's `s![]`.
    ///
    /// ```
    /// use neurovox::array::SliceItem;
    /// let item = ndarray::SliceInfoElem::from(ndarray::NewAxis);
    /// assert_eq!(SliceItem::from(item), SliceItem::NewAxis);
    /// ```
    fn from(e: ndarray::SliceInfoElem) -> Self {
        match e {
            ndarray::SliceInfoElem::Slice { start, end, step } => {
                range_slice(ndarray_start(start), end, step)
            }
            ndarray::SliceInfoElem::Index(i) => SliceItem::Index(i),
            ndarray::SliceInfoElem::NewAxis => SliceItem::NewAxis,
        }
    }
}

impl<T, Din, Dout> From<&ndarray::SliceInfo<T, Din, Dout>> for Selection
where
    T: AsRef<[ndarray::SliceInfoElem]>,
    Din: ndarray::Dimension,
    Dout: ndarray::Dimension,
{
    /// ndarray's `s![]`: the same elements in the same order.
    ///
    /// ```
    /// use ndarray::s;
    /// use neurovox::sel;
    /// use neurovox::array::Selection;
    /// assert_eq!(Selection::from(&s![1..3;-1, 2, ..]), sel![1..3;-1, 2, ..]);
    /// ```
    fn from(info: &ndarray::SliceInfo<T, Din, Dout>) -> Self {
        let elems: &[ndarray::SliceInfoElem] = info.as_ref();
        elems.iter().map(|&e| SliceItem::from(e)).collect()
    }
}

impl From<RangeFull> for SliceItem {
    fn from(_: RangeFull) -> Self {
        SliceItem::full()
    }
}

/// A basic-indexing key: a list of [`SliceItem`]s, like the tuple inside numpy's `a[...]`.
///
/// Build one with [`sel!`](crate::sel), from a `Vec<SliceItem>`, or from a single index or range.
///
/// ```
/// use neurovox::array::{Selection, SliceItem};
/// use neurovox::sel;
///
/// assert_eq!(Selection::from(3), sel![3]);
/// assert_eq!(Selection::from(1..4), sel![1..4]);
/// assert_eq!(Selection::from(vec![SliceItem::Ellipsis, SliceItem::Index(-1)]), sel![..., -1]);
/// assert_eq!(sel![.., ..;-1, NewAxis].to_string(), "(:, ::-1, None)");
/// assert_eq!(Selection::all().output_shape(&[4, 5])?, vec![4, 5]);
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Selection {
    items: Vec<SliceItem>,
}

/// One axis of a selection resolved against a shape (see [`Selection::canonicalize`]).
///
/// ```
/// use neurovox::sel;
/// use neurovox::array::Canonical;
///
/// let c = sel![-1, ..;-2, NewAxis].canonicalize(&[4, 5])?;
/// assert_eq!(
///     c,
///     vec![
///         Canonical::Index(3),
///         Canonical::Slice { start: 4, step: -2, len: 3 },
///         Canonical::NewAxis,
///     ]
/// );
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Canonical {
    /// A valid position on the axis (`0 <= i < len`); the axis is dropped.
    Index(usize),
    /// Elements `start + k * step` for `k` in `0..len`, all inside the axis. An empty slice
    /// (`len == 0`) has `start == 0`.
    Slice {
        /// Position of the first selected element.
        start: usize,
        /// Distance between selected elements (never 0; negative walks backwards).
        step: isize,
        /// Number of selected elements.
        len: usize,
    },
    /// A new axis of length 1.
    NewAxis,
}

impl Canonical {
    /// The whole axis of length `len`, in order.
    ///
    /// ```
    /// use neurovox::array::Canonical;
    /// assert_eq!(Canonical::full(3), Canonical::Slice { start: 0, step: 1, len: 3 });
    /// ```
    pub const fn full(len: usize) -> Self {
        Canonical::Slice {
            start: 0,
            step: 1,
            len,
        }
    }

    /// The length this item contributes to the output shape: `None` for a dropped axis.
    ///
    /// ```
    /// use neurovox::array::Canonical;
    /// assert_eq!(Canonical::Index(2).output_len(), None);
    /// assert_eq!(Canonical::NewAxis.output_len(), Some(1));
    /// assert_eq!(Canonical::full(7).output_len(), Some(7));
    /// ```
    pub const fn output_len(&self) -> Option<usize> {
        match *self {
            Canonical::Index(_) => None,
            Canonical::Slice { len, .. } => Some(len),
            Canonical::NewAxis => Some(1),
        }
    }

    /// True if this item selects every element of an axis of length `dim`, in order.
    ///
    /// ```
    /// use neurovox::array::Canonical;
    /// assert!(Canonical::full(4).is_whole_axis(4));
    /// assert!(Canonical::Slice { start: 0, step: -1, len: 1 }.is_whole_axis(1));
    /// assert!(!Canonical::Slice { start: 3, step: -1, len: 4 }.is_whole_axis(4));
    /// assert!(!Canonical::Index(0).is_whole_axis(1));
    /// ```
    pub const fn is_whole_axis(&self, dim: usize) -> bool {
        match *self {
            Canonical::Slice { start, step, len } => {
                len == dim && (dim <= 1 || (start == 0 && step == 1))
            }
            _ => false,
        }
    }
}

impl Selection {
    /// A selection of these items.
    ///
    /// ```
    /// use neurovox::array::{Selection, SliceItem};
    /// let s = Selection::new(vec![SliceItem::Index(0), SliceItem::full()]);
    /// assert_eq!(s.items().len(), 2);
    /// ```
    pub fn new(items: Vec<SliceItem>) -> Self {
        Selection { items }
    }

    /// The empty selection `()`, equivalent to `...`: the whole array.
    ///
    /// ```
    /// use neurovox::array::Selection;
    /// assert!(Selection::all().is_full(&[3, 4])?);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn all() -> Self {
        Selection { items: Vec::new() }
    }

    /// The items, as given (nothing resolved).
    ///
    /// ```
    /// use neurovox::sel;
    /// use neurovox::array::SliceItem;
    /// assert_eq!(sel![..., 2].items(), &[SliceItem::Ellipsis, SliceItem::Index(2)]);
    /// ```
    pub fn items(&self) -> &[SliceItem] {
        &self.items
    }

    /// Resolves the selection against an array `shape`: one [`Canonical`] per array axis, in
    /// order, with `NewAxis` items where they were written.
    ///
    /// Errors (all [`Usage`](crate::ErrorKind::Usage), never a panic): an index out of range
    /// (numpy's wording, `index 5 is out of bounds for axis 1 with size 3`; negative indices
    /// wrap once, unlike nibabel which wraps twice), a step of 0, more than one `...`, more
    /// indices than axes.
    ///
    /// ```
    /// use neurovox::sel;
    /// use neurovox::array::Canonical;
    ///
    /// let c = sel![1, ...].canonicalize(&[2, 3, 4])?;
    /// assert_eq!(c, vec![Canonical::Index(1), Canonical::full(3), Canonical::full(4)]);
    /// let err = sel![.., 5].canonicalize(&[2, 3]).unwrap_err();
    /// assert_eq!(err.message(), "index 5 is out of bounds for axis 1 with size 3");
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn canonicalize(&self, shape: &[usize]) -> Result<Vec<Canonical>> {
        let n_ellipsis = self.count(|i| matches!(i, SliceItem::Ellipsis));
        if n_ellipsis > 1 {
            return Err(Error::usage("More than one Ellipsis in slicing expression"));
        }
        let n_real = self.count(SliceItem::is_real);
        if n_real > shape.len() {
            return Err(Error::usage(format!(
                "too many indices for array: array is {}-dimensional, but {} were indexed",
                shape.len(),
                n_real
            )));
        }
        let mut out = Vec::with_capacity(shape.len() + self.items.len());
        let mut axis = 0;
        for item in &self.items {
            match *item {
                SliceItem::NewAxis => out.push(Canonical::NewAxis),
                SliceItem::Ellipsis => {
                    let n_fill = shape.len() - n_real;
                    out.extend(
                        shape[axis..axis + n_fill]
                            .iter()
                            .map(|&d| Canonical::full(d)),
                    );
                    axis += n_fill;
                }
                SliceItem::Index(i) => {
                    out.push(resolve_index(i, axis, shape[axis])?);
                    axis += 1;
                }
                SliceItem::Slice { start, stop, step } => {
                    out.push(resolve_slice(start, stop, step, shape[axis])?);
                    axis += 1;
                }
            }
        }
        out.extend(shape[axis..].iter().map(|&d| Canonical::full(d)));
        Ok(out)
    }

    /// The shape of the result of applying this selection to an array of `shape` (nibabel's
    /// `predict_shape`): dropped axes for indices, 1 for each `NewAxis`.
    ///
    /// ```
    /// use neurovox::sel;
    /// // nibabel: predict_shape((None, 3, ..., slice(None, None, -3), None), (4, 5, 6))
    /// assert_eq!(sel![NewAxis, 3, ..., ..;-3, NewAxis].output_shape(&[4, 5, 6])?, vec![1, 5, 2, 1]);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn output_shape(&self, shape: &[usize]) -> Result<Vec<usize>> {
        Ok(output_shape_of(&self.canonicalize(shape)?))
    }

    /// True if this selection is the whole array as it is: every axis selected whole and in
    /// order, no index, no `NewAxis`. This is the key that may take the full-read path, which
    /// may memory-map.
    ///
    /// Unlike nibabel, which only treats `()`, `...`, `:`, `0:n` and `0:n:1` as full, any slice
    /// that resolves to the whole axis counts: `::1`, `0:10**9` and `-n:` too
    /// (docs/nibabel-rules.md §4).
    /// On an axis of length 1, `::-1` and `::2` are also the whole axis.
    ///
    /// ```
    /// use neurovox::sel;
    /// assert!(sel![...].is_full(&[4, 5])?);
    /// assert!(sel![..;1, 0..1000].is_full(&[4, 5])?); // nibabel: not full
    /// assert!(!sel![.., ..;-1].is_full(&[4, 5])?);
    /// assert!(!sel![NewAxis].is_full(&[4, 5])?);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn is_full(&self, shape: &[usize]) -> Result<bool> {
        let canon = self.canonicalize(shape)?;
        Ok(canon.len() == shape.len() && canon.iter().zip(shape).all(|(c, &d)| c.is_whole_axis(d)))
    }

    fn count(&self, pred: impl Fn(&SliceItem) -> bool) -> usize {
        self.items.iter().filter(|i| pred(i)).count()
    }
}

/// The output shape of a canonical selection.
pub(crate) fn output_shape_of(canon: &[Canonical]) -> Vec<usize> {
    canon.iter().filter_map(Canonical::output_len).collect()
}

/// Resolves one index on `axis` of length `dim`: negative counts from the end, once.
fn resolve_index(i: isize, axis: usize, dim: usize) -> Result<Canonical> {
    let dim_i = dim as i128;
    let wrapped = if i < 0 { i as i128 + dim_i } else { i as i128 };
    if (0..dim_i).contains(&wrapped) {
        Ok(Canonical::Index(wrapped as usize))
    } else {
        Err(Error::usage(format!(
            "index {i} is out of bounds for axis {axis} with size {dim}"
        )))
    }
}

/// Resolves a slice against an axis of length `dim` with Python's `slice.indices()` rules.
fn resolve_slice(
    start: Option<isize>,
    stop: Option<isize>,
    step: isize,
    dim: usize,
) -> Result<Canonical> {
    if step == 0 {
        return Err(Error::usage("slice step cannot be zero"));
    }
    let n = dim as i128;
    let step_i = step as i128;
    // Bounds as Python clips them: [0, n] going up, [-1, n - 1] going down.
    let (lo, hi) = if step > 0 { (0, n) } else { (-1, n - 1) };
    let clip = |v: Option<isize>, default: i128| match v {
        None => default,
        Some(v) if v < 0 => (v as i128 + n).max(lo),
        Some(v) => (v as i128).min(hi),
    };
    let (first, end) = if step > 0 {
        (clip(start, 0), clip(stop, n))
    } else {
        (clip(start, n - 1), clip(stop, -1))
    };
    let len = if step > 0 {
        ceil_div(end - first, step_i)
    } else {
        ceil_div(first - end, -step_i)
    };
    if len == 0 {
        return Ok(Canonical::Slice {
            start: 0,
            step,
            len: 0,
        });
    }
    Ok(Canonical::Slice {
        start: first as usize,
        step,
        len: len as usize,
    })
}

/// `ceil(num / den)` for `den > 0`, and 0 when `num <= 0`.
fn ceil_div(num: i128, den: i128) -> i128 {
    if num <= 0 { 0 } else { (num + den - 1) / den }
}

impl From<Vec<SliceItem>> for Selection {
    fn from(items: Vec<SliceItem>) -> Self {
        Selection::new(items)
    }
}

/// A selection given by reference (readers take `impl Into<Selection>`).
impl From<&Selection> for Selection {
    fn from(selection: &Selection) -> Self {
        selection.clone()
    }
}

impl From<&[SliceItem]> for Selection {
    fn from(items: &[SliceItem]) -> Self {
        Selection::new(items.to_vec())
    }
}

impl<const N: usize> From<[SliceItem; N]> for Selection {
    fn from(items: [SliceItem; N]) -> Self {
        Selection::new(items.to_vec())
    }
}

impl From<SliceItem> for Selection {
    fn from(item: SliceItem) -> Self {
        Selection::new(vec![item])
    }
}

impl From<RangeFull> for Selection {
    fn from(_: RangeFull) -> Self {
        Selection::new(vec![SliceItem::full()])
    }
}

impl FromIterator<SliceItem> for Selection {
    fn from_iter<I: IntoIterator<Item = SliceItem>>(iter: I) -> Self {
        Selection::new(iter.into_iter().collect())
    }
}

impl fmt::Display for Selection {
    /// Python's tuple spelling: `(1:4:2, -1, ...)`; `()` for the empty selection, `(3,)` for one
    /// item.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (n, item) in self.items.iter().enumerate() {
            if n > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{item}")?;
        }
        if self.items.len() == 1 {
            f.write_str(",")?;
        }
        f.write_str(")")
    }
}

impl std::str::FromStr for Selection {
    type Err = Error;

    /// Parses a key written as Python writes the inside of `a[...]` — what [`Display`]
    /// prints, or what a person types on a command line.
    ///
    /// Items are separated by commas; each is an integer (`3`, `-1`), a slice
    /// `start:stop:step` with any part left out or written `None` (`:`, `::2`, `-1::-1`,
    /// `2:`), `...` (or `Ellipsis`), or `None` (or `newaxis`). The whole key may be wrapped in
    /// parentheses, a trailing comma is allowed (`(3,)`), blanks around items and their parts
    /// are ignored, and `""` or `()` is [`Selection::all`]. Whatever Python's syntax accepts is
    /// accepted, even keys numpy then refuses (`::0`, two `...`): those fail in
    /// [`Selection::canonicalize`]. Errors are [`Usage`](crate::ErrorKind::Usage) errors naming
    /// the bad item and its position, counted from 1.
    ///
    /// [`Display`]: fmt::Display
    ///
    /// ```
    /// use neurovox::sel;
    /// use neurovox::array::{Selection, SliceItem};
    ///
    /// let s: Selection = ":, ::-2, None, ...".parse()?;
    /// assert_eq!(s, sel![.., ..;-2, NewAxis, ...]);
    /// assert_eq!("-1::-1".parse::<Selection>()?, sel![SliceItem::slice(Some(-1), None, -1)]);
    /// assert_eq!(s.to_string().parse::<Selection>()?, s);
    /// assert_eq!("(3,)".parse::<Selection>()?, sel![3]);
    /// assert_eq!("".parse::<Selection>()?, Selection::all());
    /// let err = "1, x".parse::<Selection>().unwrap_err();
    /// assert_eq!(err.kind(), neurovox::ErrorKind::Usage);
    /// assert_eq!(
    ///     err.message(),
    ///     "selection \"1, x\": item 2 \"x\" is not an integer, a slice, `...` or `None`"
    /// );
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    fn from_str(text: &str) -> Result<Self> {
        let bad = |why: String| Error::usage(format!("selection {text:?}: {why}"));
        let mut inner = text.trim();
        if let Some(rest) = inner.strip_prefix('(') {
            inner = rest
                .strip_suffix(')')
                .ok_or_else(|| bad("`(` without a closing `)`".into()))?;
        }
        let mut parts: Vec<&str> = inner.split(',').map(str::trim).collect();
        // `3,` is Python's one-item tuple; the empty key is the whole array.
        if parts.last() == Some(&"") {
            parts.pop();
        }
        parts
            .iter()
            .enumerate()
            .map(|(n, part)| {
                parse_item(part).map_err(|why| bad(format!("item {} {part:?} {why}", n + 1)))
            })
            .collect()
    }
}

/// One item of a key: `...`, `None`, an index or a slice; the error says what is wrong.
fn parse_item(part: &str) -> std::result::Result<SliceItem, String> {
    match part {
        "..." | "Ellipsis" => Ok(SliceItem::Ellipsis),
        "None" | "newaxis" => Ok(SliceItem::NewAxis),
        "" => Err("is empty".into()),
        _ if part.contains(':') => {
            let bounds: Vec<&str> = part.split(':').map(str::trim).collect();
            if bounds.len() > 3 {
                return Err("has more than two `:`".into());
            }
            let bound = |k: usize| match bounds.get(k).copied() {
                None | Some("" | "None") => Ok(None),
                Some(b) => parse_int(b)
                    .map(Some)
                    .map_err(|why| format!("has a bound {b:?} that {why}")),
            };
            let step = bound(2)?.unwrap_or(1);
            Ok(SliceItem::slice(bound(0)?, bound(1)?, step))
        }
        _ => match parse_int(part) {
            Err(NOT_AN_INTEGER) => Err("is not an integer, a slice, `...` or `None`".into()),
            index => index.map(SliceItem::Index).map_err(String::from),
        },
    }
}

const NOT_AN_INTEGER: &str = "is not an integer";

/// A decimal integer, with blanks allowed after its sign (`- 1`, as Python allows).
fn parse_int(text: &str) -> std::result::Result<isize, &'static str> {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest.trim_start()),
        None => ("", text.strip_prefix('+').map_or(text, str::trim_start)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NOT_AN_INTEGER);
    }
    format!("{sign}{digits}")
        .parse()
        .map_err(|_| "does not fit in an isize")
}

/// Builds a [`Selection`](crate::array::Selection) with the syntax of ndarray's `s![]`,
/// plus `...`.
///
/// Items are separated by commas; each is one of:
///
/// | written | meaning | Python |
/// |---|---|---|
/// | `3`, `-1`, `i` | an index (an `isize`, `usize` or `i32` expression) | `3`, `-1` |
/// | `..`, `1..4`, `2..`, `..-1`, `1..=3` | a slice with step 1 | `:`, `1:4`, `2:`, `:-1`, `1:4` |
/// | `range;step` | a slice with a step: `1..9;2`, `..;-1`, `1..4;-1` | `1:9:2`, `::-1`, `3:0:-1` |
/// | `...` (or `Ellipsis`) | as many `..` as the axes not indexed otherwise | `...` |
/// | `NewAxis` | a new axis of length 1 | `None` |
///
/// As in ndarray, the range picks the elements and a negative step walks them from the last:
/// `sel![1..4;-1]` selects 3, 2, 1 (Python's `3:0:-1`), so ranges are always written low to
/// high (see [`SliceArg`](crate::array::SliceArg)). Negative and out-of-range bounds follow
/// Python: `..-1` stops before the last element, `0..1000` is the whole of a shorter axis. Any
/// expression that converts into [`SliceItem`](crate::array::SliceItem) is accepted too, such
/// as a `SliceItem::Slice { .. }` with Python's start and stop. Ranges with negative ends
/// (`1..-1`) would trip clippy's `reversed_empty_ranges`; the macro allows that lint for them.
///
/// ```
/// use neurovox::sel;
/// use neurovox::array::SliceItem;
///
/// let z = 10;
/// assert_eq!(sel![1..4;2, -1, ...].to_string(), "(1:4:2, -1, ...)");
/// assert_eq!(sel![.., z].to_string(), "(:, 10)");
/// assert_eq!(sel![NewAxis, ..;-1].to_string(), "(None, ::-1)");
/// assert_eq!(sel![1..4;-1].to_string(), "(3:0:-1,)");
/// assert_eq!(sel![1..-1].output_shape(&[6])?, vec![4]);
/// assert_eq!(sel![Ellipsis, 0], sel![..., 0]);
/// assert_eq!(sel![].items(), &[] as &[SliceItem]);
/// # Ok::<(), neurovox::Error>(())
/// ```
#[macro_export]
macro_rules! sel {
    // Finished: build the selection.
    (@acc [$($items:expr),*]) => {
        $crate::array::Selection::new(::std::vec![$($items),*])
    };
    (@acc [$($items:expr),*] ... $(, $($rest:tt)*)?) => {
        $crate::sel!(@acc [$($items,)* $crate::array::SliceItem::Ellipsis] $($($rest)*)?)
    };
    (@acc [$($items:expr),*] Ellipsis $(, $($rest:tt)*)?) => {
        $crate::sel!(@acc [$($items,)* $crate::array::SliceItem::Ellipsis] $($($rest)*)?)
    };
    (@acc [$($items:expr),*] NewAxis $(, $($rest:tt)*)?) => {
        $crate::sel!(@acc [$($items,)* $crate::array::SliceItem::NewAxis] $($($rest)*)?)
    };
    (@acc [$($items:expr),*] $r:expr ; $s:expr $(, $($rest:tt)*)?) => {
        $crate::sel!(@acc [$($items,)* {
            #[allow(clippy::reversed_empty_ranges)]
            let r = $r;
            $crate::array::SliceArg::with_step(r, $s)
        }] $($($rest)*)?)
    };
    (@acc [$($items:expr),*] $r:expr $(, $($rest:tt)*)?) => {
        $crate::sel!(@acc [$($items,)* {
            #[allow(clippy::reversed_empty_ranges)]
            let r = $r;
            $crate::array::SliceItem::from(r)
        }] $($($rest)*)?)
    };
    (@acc $($t:tt)*) => {
        ::std::compile_error!(
            "sel![]: expected items like `3`, `1..4`, `..;-1`, `...` or `NewAxis`, separated by commas"
        )
    };
    ($($t:tt)*) => {
        $crate::sel!(@acc [] $($t)*)
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const SN: SliceItem = SliceItem::full();

    fn sl(start: Option<isize>, stop: Option<isize>, step: isize) -> SliceItem {
        SliceItem::slice(start, stop, step)
    }

    fn slice_of(item: SliceItem, dim: usize) -> Canonical {
        Selection::from(item).canonicalize(&[dim]).unwrap()[0]
    }

    fn len_of(item: SliceItem, dim: usize) -> usize {
        slice_of(item, dim).output_len().unwrap()
    }

    fn cs(start: usize, step: isize, len: usize) -> Canonical {
        Canonical::Slice { start, step, len }
    }

    #[test]
    fn macro_items() {
        assert_eq!(sel![].items(), &[] as &[SliceItem]);
        assert_eq!(sel![..].items(), &[SN]);
        assert_eq!(sel![3,].items(), &[SliceItem::Index(3)]);
        assert_eq!(
            sel![1..4;2, -1, ...].items(),
            &[
                sl(Some(1), Some(4), 2),
                SliceItem::Index(-1),
                SliceItem::Ellipsis
            ]
        );
        assert_eq!(
            sel![NewAxis, ..;-1].items(),
            &[SliceItem::NewAxis, sl(None, None, -1)]
        );
        assert_eq!(sel![..=-1].items(), &[sl(None, None, 1)]);
        assert_eq!(sel![2..=-2].items(), &[sl(Some(2), Some(-1), 1)]);
        assert_eq!(sel![2..=5;-1].items(), &[sl(Some(5), Some(1), -1)]);
        assert_eq!(sel![0..=5;-1].items(), &[sl(Some(5), None, -1)]);
        assert_eq!(sel![..0;-1].items(), &[sl(Some(0), Some(0), -1)]);
        assert_eq!(sel![-3..;-1].items(), &[sl(None, Some(-4), -1)]);
        assert_eq!(sel![..-1].items(), &[sl(None, Some(-1), 1)]);
        let (a, b): (usize, usize) = (2, 7);
        assert_eq!(
            sel![a..b;2, b].items(),
            &[sl(Some(2), Some(7), 2), SliceItem::Index(7)]
        );
        assert_eq!(
            sel![SN, SliceItem::NewAxis].items(),
            &[SN, SliceItem::NewAxis]
        );
        assert_eq!(sel![usize::MAX].items(), &[SliceItem::Index(isize::MAX)]);
    }

    #[test]
    fn inclusive_ranges_select_their_end() {
        let shape = [10];
        for (s, want) in [
            (sel![2..=4], vec![3]),
            (sel![..=-1], vec![10]),
            (sel![2..=5;-1], vec![4]),
            (sel![0..=5;-1], vec![6]),
            (sel![-3..=-1;-1], vec![3]),
            (sel![..=-2;-1], vec![9]),
        ] {
            assert_eq!(s.output_shape(&shape).unwrap(), want, "{s}");
        }
    }

    /// The positions `item` selects on an axis of `dim`, in order.
    fn positions(item: SliceItem, dim: usize) -> Vec<usize> {
        match slice_of(item, dim) {
            Canonical::Slice { start, step, len } => (0..len)
                .map(|k| (start as isize + k as isize * step) as usize)
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    // ndarray's documented negative-step examples, on [0, 1, 2, 3].
    #[test]
    fn negative_steps_read_like_ndarray() {
        let cases = [
            (sel![1..3;-1], vec![2, 1]),
            (sel![1..;-2], vec![3, 1]),
            (sel![0..4;-2], vec![3, 1]),
            (sel![0..;-2], vec![3, 1]),
            (sel![..;-2], vec![3, 1]),
            (sel![-3..-1;-1], vec![2, 1]),
            (sel![1..100;-1], vec![3, 2, 1]),
            (sel![-100..2;-1], vec![1, 0]),
            (sel![3..1;-1], vec![]),
            (sel![..0;-1], vec![]),
        ];
        for (s, want) in cases {
            assert_eq!(positions(s.items()[0], 4), want, "{s}");
        }
        let info = ndarray::SliceInfoElem::from(ndarray::Slice::from(1..3).step_by(-1));
        assert_eq!(positions(SliceItem::from(info), 4), vec![2, 1]);
        let a = ndarray::Array1::from_iter(0..4usize);
        for s in [
            ndarray::s![1..3;-1],
            ndarray::s![1..;-2],
            ndarray::s![..;-3],
            ndarray::s![-3..;2],
        ] {
            let want: Vec<usize> = a.slice(s).to_vec();
            assert_eq!(positions(Selection::from(&s).items()[0], 4), want);
        }
    }

    #[test]
    fn display_is_python() {
        assert_eq!(Selection::all().to_string(), "()");
        assert_eq!(sel![3].to_string(), "(3,)");
        assert_eq!(
            sel![.., 1..;-2, NewAxis, ...].to_string(),
            "(:, :0:-2, None, ...)"
        );
    }

    // test_fileslice.test_fill_slicer / test_slice2len, as (start, len) of the canonical slice.
    #[test]
    fn python_slice_rules() {
        let cases: &[(SliceItem, Canonical)] = &[
            (SN, cs(0, 1, 10)),
            (sl(None, Some(11), 1), cs(0, 1, 10)),
            (sl(Some(1), Some(11), 1), cs(1, 1, 9)),
            (sl(Some(1), Some(1), 1), cs(0, 1, 0)),
            (sl(Some(1), Some(11), 2), cs(1, 2, 5)),
            (sl(Some(0), Some(11), 3), cs(0, 3, 4)),
            (sl(Some(1), Some(11), 3), cs(1, 3, 3)),
            (sl(None, None, -1), cs(9, -1, 10)),
            (sl(Some(11), None, -1), cs(9, -1, 10)),
            (sl(None, Some(1), -1), cs(9, -1, 8)),
            (sl(None, None, -2), cs(9, -2, 5)),
            (sl(None, None, -3), cs(9, -3, 4)),
            (sl(None, Some(0), -3), cs(9, -3, 3)),
            (sl(None, Some(-4), -1), cs(9, -1, 3)),
            (sl(Some(-4), Some(-2), 1), cs(6, 1, 2)),
            (sl(Some(3), Some(2), 1), cs(0, 1, 0)),
            (sl(Some(2), Some(3), -1), cs(0, -1, 0)),
            // Beyond both ends.
            (sl(Some(-100), Some(100), 1), cs(0, 1, 10)),
            (sl(Some(100), Some(-100), -1), cs(9, -1, 10)),
            (sl(Some(100), None, 1), cs(0, 1, 0)),
            (sl(Some(-100), None, -1), cs(0, -1, 0)),
            (
                sl(Some(isize::MIN), Some(isize::MAX), isize::MAX),
                cs(0, isize::MAX, 1),
            ),
            (
                sl(Some(isize::MAX), Some(isize::MIN), isize::MIN),
                cs(9, isize::MIN, 1),
            ),
        ];
        for &(item, want) in cases {
            assert_eq!(slice_of(item, 10), want, "{item}");
        }
        // slice2len on an axis of length 10.
        assert_eq!(len_of(sl(Some(1), Some(11), 2), 10), 5);
        assert_eq!(len_of(sl(None, None, -3), 10), 4);
        // Empty axes.
        assert_eq!(slice_of(SN, 0), cs(0, 1, 0));
        assert_eq!(slice_of(sl(None, None, -1), 0), cs(0, -1, 0));
    }

    // test_fileslice.test_canonical_slicers, in canonical form.
    #[test]
    fn canonical_slicers() {
        let shape = [10, 10];
        let items = [
            (SN, cs(0, 1, 10)),
            (sl(None, Some(9), 1), cs(0, 1, 9)),
            (sl(Some(0), Some(9), 1), cs(0, 1, 9)),
            (sl(Some(1), Some(10), 1), cs(1, 1, 9)),
            (sl(Some(1), Some(10), 2), cs(1, 2, 5)),
            (SliceItem::Index(2), Canonical::Index(2)),
        ];
        for (a, ca) in items {
            let got = Selection::from(a).canonicalize(&shape).unwrap();
            assert_eq!(got, vec![ca, Canonical::full(10)]);
            for (b, cb) in items {
                let s = Selection::new(vec![a, b]);
                assert_eq!(s.canonicalize(&shape).unwrap(), vec![ca, cb]);
                let got = s.canonicalize(&[10, 10, 2, 3, 4]).unwrap();
                let want = [
                    ca,
                    cb,
                    Canonical::full(2),
                    Canonical::full(3),
                    Canonical::full(4),
                ];
                assert_eq!(got, want);
                let tripled = Selection::new([a, b].repeat(3));
                assert_eq!(tripled.canonicalize(&[10; 6]).unwrap(), [ca, cb].repeat(3));
                let na = SliceItem::NewAxis;
                let cna = Canonical::NewAxis;
                let s = Selection::new(vec![na, a, b, na]);
                assert_eq!(s.canonicalize(&shape).unwrap(), vec![cna, ca, cb, cna]);
            }
        }
        let canon = |s: Selection, shape: &[usize]| s.canonicalize(shape).unwrap();
        let full = Canonical::full(10);
        assert_eq!(canon(sel![...], &shape), vec![full, full]);
        assert_eq!(
            canon(sel![..., NewAxis], &shape),
            vec![full, full, Canonical::NewAxis]
        );
        assert_eq!(canon(sel![..., 1], &shape), vec![full, Canonical::Index(1)]);
        assert_eq!(canon(sel![1, ...], &shape), vec![Canonical::Index(1), full]);
        assert_eq!(
            canon(sel![1, 1, ...], &shape),
            vec![Canonical::Index(1), Canonical::Index(1)]
        );
        assert_eq!(
            canon(sel![1, ..., 2], &[10, 1, 2, 3, 11]),
            vec![
                Canonical::Index(1),
                Canonical::full(1),
                Canonical::full(2),
                Canonical::full(3),
                Canonical::Index(2)
            ]
        );
        // Negative to positive.
        assert_eq!(canon(sel![-1], &shape), vec![Canonical::Index(9), full]);
        assert_eq!(canon(sel![.., -1], &shape), vec![full, Canonical::Index(9)]);
        assert_eq!(canon(Selection::all(), &[]), vec![]);
        assert_eq!(canon(sel![NewAxis], &[]), vec![Canonical::NewAxis]);
    }

    #[test]
    fn errors_are_usage_with_numpy_wording() {
        let shape = [10, 10];
        let err = |s: Selection, shape: &[usize]| {
            let e = s.canonicalize(shape).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Usage);
            e.message().to_string()
        };
        assert_eq!(
            err(sel![10], &shape),
            "index 10 is out of bounds for axis 0 with size 10"
        );
        assert_eq!(
            err(sel![1, 10], &shape),
            "index 10 is out of bounds for axis 1 with size 10"
        );
        assert_eq!(
            err(sel![-11], &shape),
            "index -11 is out of bounds for axis 0 with size 10"
        );
        // nibabel wraps these twice and returns arr[1] on a length-2 axis.
        assert_eq!(
            err(sel![-3], &[2, 3, 4]),
            "index -3 is out of bounds for axis 0 with size 2"
        );
        assert!(sel![-5].canonicalize(&[2, 3, 4]).is_err());
        assert_eq!(
            err(sel![isize::MIN], &shape),
            format!(
                "index {} is out of bounds for axis 0 with size 10",
                isize::MIN
            )
        );
        assert_eq!(
            err(sel![0], &[0]),
            "index 0 is out of bounds for axis 0 with size 0"
        );
        assert_eq!(err(sel![..;0], &shape), "slice step cannot be zero");
        assert_eq!(
            err(sel![..., 1, ...], &[2, 3, 4, 5]),
            "More than one Ellipsis in slicing expression"
        );
        assert_eq!(
            err(sel![0, 0, 0, 0], &[2, 3, 4]),
            "too many indices for array: array is 3-dimensional, but 4 were indexed"
        );
        assert!(sel![0, NewAxis, 0, 0, ...].canonicalize(&[2, 3, 4]).is_ok());
        assert!(sel![0].canonicalize(&[]).is_err());
    }

    // test_fileslice.test_predict_shape, None and Ellipsis cases, plus the example of
    // docs/nibabel-rules.md §4.
    #[test]
    fn predict_shape() {
        let shape = |s: Selection, sh: &[usize]| s.output_shape(sh).unwrap();
        assert_eq!(shape(sel![...], &[2, 3]), vec![2, 3]);
        assert_eq!(shape(sel![..., 1], &[2, 3]), vec![2]);
        assert_eq!(shape(sel![1, ...], &[2, 3]), vec![3]);
        assert_eq!(shape(sel![1, .., ...], &[2, 3]), vec![3]);
        assert_eq!(shape(sel![NewAxis], &[2, 3]), vec![1, 2, 3]);
        assert_eq!(shape(sel![NewAxis, 1], &[2, 3]), vec![1, 3]);
        assert_eq!(shape(sel![1, NewAxis, ..], &[2, 3]), vec![1, 3]);
        assert_eq!(shape(sel![1, .., NewAxis], &[2, 3]), vec![3, 1]);
        assert_eq!(
            shape(sel![NewAxis, 3, ..., ..;-3, NewAxis], &[4, 5, 6]),
            vec![1, 5, 2, 1]
        );
        assert_eq!(shape(sel![1..1], &[2, 3, 4]), vec![0, 3, 4]);
    }

    fn parse(text: &str) -> Selection {
        text.parse()
            .unwrap_or_else(|e: Error| panic!("{text:?}: {}", e.message()))
    }

    #[test]
    fn parses_python_keys() {
        let idx = SliceItem::Index;
        let (e, na) = (SliceItem::Ellipsis, SliceItem::NewAxis);
        let cases: &[(&str, &[SliceItem])] = &[
            ("", &[]),
            ("()", &[]),
            (" ( ) ", &[]),
            ("3", &[idx(3)]),
            ("-1", &[idx(-1)]),
            ("(3,)", &[idx(3)]),
            ("3,", &[idx(3)]),
            ("- 1", &[idx(-1)]),
            ("+2", &[idx(2)]),
            (":", &[SN]),
            ("::", &[SN]),
            ("::2", &[sl(None, None, 2)]),
            ("-1::-1", &[sl(Some(-1), None, -1)]),
            ("2:", &[sl(Some(2), None, 1)]),
            (":-1", &[sl(None, Some(-1), 1)]),
            ("1:4:2", &[sl(Some(1), Some(4), 2)]),
            ("None:None:None", &[SN]),
            ("None:3", &[sl(None, Some(3), 1)]),
            (" 1 : 4 : -2 ", &[sl(Some(1), Some(4), -2)]),
            ("::0", &[sl(None, None, 0)]),
            ("...", &[e]),
            ("Ellipsis", &[e]),
            ("None", &[na]),
            ("newaxis", &[na]),
            ("...,3", &[e, idx(3)]),
            (":, -1::-2, None", &[SN, sl(Some(-1), None, -2), na]),
            ("(None,1:,...,-3)", &[na, sl(Some(1), None, 1), e, idx(-3)]),
            ("...,...", &[e, e]),
            (
                "-9223372036854775808::9223372036854775807",
                &[sl(Some(isize::MIN), None, isize::MAX)],
            ),
        ];
        for &(text, items) in cases {
            assert_eq!(parse(text).items(), items, "{text:?}");
        }
    }

    #[test]
    fn display_round_trips_through_parse() {
        let bounds = [
            None,
            Some(0),
            Some(3),
            Some(-1),
            Some(isize::MIN),
            Some(isize::MAX),
        ];
        let mut items = vec![
            SliceItem::Ellipsis,
            SliceItem::NewAxis,
            SliceItem::Index(0),
            SliceItem::Index(-7),
            SliceItem::Index(isize::MAX),
            SliceItem::Index(isize::MIN),
        ];
        for start in bounds {
            for stop in bounds {
                for step in [1, -1, 2, -3, 0, isize::MIN, isize::MAX] {
                    items.push(sl(start, stop, step));
                }
            }
        }
        let mut checked = 0;
        for (n, &a) in items.iter().enumerate() {
            let b = items[(n * 7 + 3) % items.len()];
            let c = items[(n * 13 + 5) % items.len()];
            for s in [
                Selection::all(),
                Selection::from(a),
                Selection::new(vec![a, b]),
                Selection::new(vec![c, a, b, c]),
            ] {
                assert_eq!(parse(&s.to_string()), s, "{s}");
                // Without the parentheses, as typed on a command line.
                let bare = s.to_string();
                assert_eq!(parse(&bare[1..bare.len() - 1]), s, "{s}");
                checked += 1;
            }
        }
        assert!(checked > 1000, "{checked}");
        assert_eq!(parse("(:, ::-1, None)").to_string(), "(:, ::-1, None)");
    }

    #[test]
    fn parse_errors_name_the_item() {
        let cases = [
            (
                "x",
                r#"selection "x": item 1 "x" is not an integer, a slice, `...` or `None`"#,
            ),
            (
                "1, x",
                r#"selection "1, x": item 2 "x" is not an integer, a slice, `...` or `None`"#,
            ),
            (
                "1.5",
                r#"selection "1.5": item 1 "1.5" is not an integer, a slice, `...` or `None`"#,
            ),
            (
                "1 2",
                r#"selection "1 2": item 1 "1 2" is not an integer, a slice, `...` or `None`"#,
            ),
            (
                "--1",
                r#"selection "--1": item 1 "--1" is not an integer, a slice, `...` or `None`"#,
            ),
            (",", r#"selection ",": item 1 "" is empty"#),
            ("1,,2", r#"selection "1,,2": item 2 "" is empty"#),
            ("3,,", r#"selection "3,,": item 2 "" is empty"#),
            (
                "1:2:3:4",
                r#"selection "1:2:3:4": item 1 "1:2:3:4" has more than two `:`"#,
            ),
            (
                ":, 1:a",
                r#"selection ":, 1:a": item 2 "1:a" has a bound "a" that is not an integer"#,
            ),
            (
                "::-",
                r#"selection "::-": item 1 "::-" has a bound "-" that is not an integer"#,
            ),
            (
                "0, 99999999999999999999",
                r#"selection "0, 99999999999999999999": item 2 "99999999999999999999" does not fit in an isize"#,
            ),
            (
                "1:-99999999999999999999",
                r#"selection "1:-99999999999999999999": item 1 "1:-99999999999999999999" has a bound "-99999999999999999999" that does not fit in an isize"#,
            ),
            ("(1, 2", r#"selection "(1, 2": `(` without a closing `)`"#),
            (
                "1, 2)",
                r#"selection "1, 2)": item 2 "2)" is not an integer, a slice, `...` or `None`"#,
            ),
            (
                "((1))",
                r#"selection "((1))": item 1 "(1)" is not an integer, a slice, `...` or `None`"#,
            ),
        ];
        for (text, want) in cases {
            let err = text.parse::<Selection>().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Usage, "{text:?}");
            assert_eq!(err.message(), want, "{text:?}");
        }
    }

    #[test]
    fn full_keys() {
        let shape = [10, 6];
        for s in [
            Selection::all(),
            sel![...],
            sel![..],
            sel![0..10],
            sel![0..10;1, ..],
            sel![..;1],
            sel![0..1_000_000_000],
            sel![-10..],
            sel![-100..100, ...],
        ] {
            assert!(s.is_full(&shape).unwrap(), "{s}");
        }
        for s in [
            sel![1..],
            sel![..;-1],
            sel![..;2],
            sel![0],
            sel![NewAxis],
            sel![.., .., NewAxis],
            sel![.., 0..5],
        ] {
            assert!(!s.is_full(&shape).unwrap(), "{s}");
        }
        // Length-1 axes: any slice that keeps the element is the whole axis, an index is not.
        assert!(sel![..;-1, ..;3].is_full(&[1, 1]).unwrap());
        assert!(!sel![0].is_full(&[1]).unwrap());
        // Empty axes are whole when sliced.
        assert!(sel![5..].is_full(&[0, 3]).unwrap());
        assert!(Selection::all().is_full(&[]).unwrap());
        assert!(sel![0].is_full(&[3]).is_ok());
        assert!(sel![3].is_full(&[3]).is_err());
    }
}
