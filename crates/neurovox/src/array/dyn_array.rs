//! [`DynArray`]: one n-d array whose element type is known only at run time, as a file's
//! datatype is.
//!
//! Each variant holds an `ndarray::ArcArray`, so cloning a `DynArray` shares the buffer
//! (cheap, like handing out the same numpy array twice) and writing to a shared one copies it
//! first. An image's cache and the arrays it returns are the same buffer until one of them is
//! written.

use crate::array::selection::Canonical;
use crate::dtype::DataType;
use crate::dtype::element::{Element, FloatOut, Rgb, Rgba};
use crate::error::{Error, Result};
use ndarray::{ArcArray, ArrayD, ArrayViewD, IxDyn, ShapeBuilder, SliceInfo, SliceInfoElem};
use num_complex::Complex;

/// An n-d array of any storable element type, in native byte order.
#[derive(Debug, Clone, PartialEq)]
pub enum DynArray {
    /// uint8
    U8(ArcArray<u8, IxDyn>),
    /// int8
    I8(ArcArray<i8, IxDyn>),
    /// uint16
    U16(ArcArray<u16, IxDyn>),
    /// int16
    I16(ArcArray<i16, IxDyn>),
    /// uint32
    U32(ArcArray<u32, IxDyn>),
    /// int32
    I32(ArcArray<i32, IxDyn>),
    /// uint64
    U64(ArcArray<u64, IxDyn>),
    /// int64
    I64(ArcArray<i64, IxDyn>),
    /// float32
    F32(ArcArray<f32, IxDyn>),
    /// float64
    F64(ArcArray<f64, IxDyn>),
    /// complex64
    C64(ArcArray<Complex<f32>, IxDyn>),
    /// complex128
    C128(ArcArray<Complex<f64>, IxDyn>),
    /// RGB24
    Rgb(ArcArray<Rgb, IxDyn>),
    /// RGBA32
    Rgba(ArcArray<Rgba, IxDyn>),
}

/// A borrowed n-d array of any storable element type: what [`DynArray::view`] gives, and
/// what memory the library does not own (a numpy array being saved) is seen through
/// ([`DynView::from_bytes`]), so writers read it where it lies, with no copy.
#[derive(Debug, Clone)]
pub enum DynView<'a> {
    /// uint8
    U8(ArrayViewD<'a, u8>),
    /// int8
    I8(ArrayViewD<'a, i8>),
    /// uint16
    U16(ArrayViewD<'a, u16>),
    /// int16
    I16(ArrayViewD<'a, i16>),
    /// uint32
    U32(ArrayViewD<'a, u32>),
    /// int32
    I32(ArrayViewD<'a, i32>),
    /// uint64
    U64(ArrayViewD<'a, u64>),
    /// int64
    I64(ArrayViewD<'a, i64>),
    /// float32
    F32(ArrayViewD<'a, f32>),
    /// float64
    F64(ArrayViewD<'a, f64>),
    /// complex64
    C64(ArrayViewD<'a, Complex<f32>>),
    /// complex128
    C128(ArrayViewD<'a, Complex<f64>>),
    /// RGB24
    Rgb(ArrayViewD<'a, Rgb>),
    /// RGBA32
    Rgba(ArrayViewD<'a, Rgba>),
}

/// Maps every variant of a [`DynArray`] or [`DynView`] (`$from`) to the same variant of
/// `$to`, with `$a` bound to the typed array.
macro_rules! map_variants {
    ($value:expr, $from:ident => $to:ident, $a:ident => $body:expr) => {
        match $value {
            $from::U8($a) => $to::U8($body),
            $from::I8($a) => $to::I8($body),
            $from::U16($a) => $to::U16($body),
            $from::I16($a) => $to::I16($body),
            $from::U32($a) => $to::U32($body),
            $from::I32($a) => $to::I32($body),
            $from::U64($a) => $to::U64($body),
            $from::I64($a) => $to::I64($body),
            $from::F32($a) => $to::F32($body),
            $from::F64($a) => $to::F64($body),
            $from::C64($a) => $to::C64($body),
            $from::C128($a) => $to::C128($body),
            $from::Rgb($a) => $to::Rgb($body),
            $from::Rgba($a) => $to::Rgba($body),
        }
    };
}

impl<'a> DynView<'a> {
    /// A view of `bytes` (native byte order, aligned for the type) as an array of `dtype`
    /// and `shape`, laid out in Fortran (`fortran`) or C order. Errors (Usage): binary128
    /// types, a byte count that does not fill the shape, misaligned bytes.
    ///
    /// ```
    /// use neurovox::array::DynView;
    /// use neurovox::DataType;
    /// let values = [1i16, 2, 3, 4, 5, 6];
    /// let view = DynView::from_bytes(bytemuck::cast_slice(&values), DataType::Int16, &[2, 3], true)?;
    /// assert_eq!(view.shape(), &[2, 3]);
    /// assert_eq!(view.to_owned().get_f64(&[1, 0]), Some(2.0));
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn from_bytes(
        bytes: &'a [u8],
        dtype: DataType,
        shape: &[usize],
        fortran: bool,
    ) -> Result<Self> {
        fn typed<'b, T: bytemuck::Pod>(
            bytes: &'b [u8],
            shape: &[usize],
            fortran: bool,
        ) -> Result<ArrayViewD<'b, T>> {
            let values: &[T] = bytemuck::try_cast_slice(bytes)
                .map_err(|e| Error::usage(format!("the array's bytes cannot be viewed: {e}")))?;
            ndarray::ArrayViewD::from_shape(IxDyn(shape).set_f(fortran), values)
                .map_err(|e| Error::usage(format!("the array's bytes do not fill {shape:?}: {e}")))
        }
        Ok(match dtype {
            DataType::UInt8 => DynView::U8(typed(bytes, shape, fortran)?),
            DataType::Int8 => DynView::I8(typed(bytes, shape, fortran)?),
            DataType::UInt16 => DynView::U16(typed(bytes, shape, fortran)?),
            DataType::Int16 => DynView::I16(typed(bytes, shape, fortran)?),
            DataType::UInt32 => DynView::U32(typed(bytes, shape, fortran)?),
            DataType::Int32 => DynView::I32(typed(bytes, shape, fortran)?),
            DataType::UInt64 => DynView::U64(typed(bytes, shape, fortran)?),
            DataType::Int64 => DynView::I64(typed(bytes, shape, fortran)?),
            DataType::Float32 => DynView::F32(typed(bytes, shape, fortran)?),
            DataType::Float64 => DynView::F64(typed(bytes, shape, fortran)?),
            DataType::Complex64 => DynView::C64(typed(bytes, shape, fortran)?),
            DataType::Complex128 => DynView::C128(typed(bytes, shape, fortran)?),
            DataType::Rgb24 => DynView::Rgb(typed(bytes, shape, fortran)?),
            DataType::Rgba32 => DynView::Rgba(typed(bytes, shape, fortran)?),
            DataType::Float128 | DataType::Complex256 => {
                return Err(Error::usage(format!("{dtype} values have no view")));
            }
        })
    }

    /// The element type.
    pub fn dtype(&self) -> DataType {
        match self {
            DynView::U8(_) => DataType::UInt8,
            DynView::I8(_) => DataType::Int8,
            DynView::U16(_) => DataType::UInt16,
            DynView::I16(_) => DataType::Int16,
            DynView::U32(_) => DataType::UInt32,
            DynView::I32(_) => DataType::Int32,
            DynView::U64(_) => DataType::UInt64,
            DynView::I64(_) => DataType::Int64,
            DynView::F32(_) => DataType::Float32,
            DynView::F64(_) => DataType::Float64,
            DynView::C64(_) => DataType::Complex64,
            DynView::C128(_) => DataType::Complex128,
            DynView::Rgb(_) => DataType::Rgb24,
            DynView::Rgba(_) => DataType::Rgba32,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            DynView::U8(a) => a.shape(),
            DynView::I8(a) => a.shape(),
            DynView::U16(a) => a.shape(),
            DynView::I16(a) => a.shape(),
            DynView::U32(a) => a.shape(),
            DynView::I32(a) => a.shape(),
            DynView::U64(a) => a.shape(),
            DynView::I64(a) => a.shape(),
            DynView::F32(a) => a.shape(),
            DynView::F64(a) => a.shape(),
            DynView::C64(a) => a.shape(),
            DynView::C128(a) => a.shape(),
            DynView::Rgb(a) => a.shape(),
            DynView::Rgba(a) => a.shape(),
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.shape().iter().product()
    }

    /// True if the view holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sub-array at `index` of the axes after the first `keep` (each axis from `keep` on
    /// taken at one index): a volume of a 4-D array is `view.index_trailing(3, &[t])`.
    /// Errors (Usage): an index out of range, or not one per trailing axis.
    pub fn index_trailing(&self, keep: usize, index: &[usize]) -> Result<DynView<'a>> {
        let shape = self.shape();
        if keep + index.len() != shape.len()
            || index.iter().zip(&shape[keep..]).any(|(&i, &n)| i >= n)
        {
            return Err(Error::usage(format!(
                "index {index:?} does not fit the axes after {keep} of shape {shape:?}"
            )));
        }
        Ok(map_variants!(self.clone(), DynView => DynView, a => {
            let mut a = a;
            for (k, &i) in index.iter().enumerate().rev() {
                a = a.index_axis_move(ndarray::Axis(keep + k), i);
            }
            a
        }))
    }

    /// The values from `start` to `end` of the view's values in Fortran order, as sub-views
    /// whose values (each in Fortran order) follow one another: at most two per axis and one
    /// more. What a writer converts for one byte range of the file it writes (a gzip member's
    /// worth). Errors (Usage): a range that is backwards or past the values.
    ///
    /// ```
    /// use neurovox::array::DynArray;
    /// // 2 x 3 in C order; Fortran order reads 1, 4, 2, 5, 3, 6.
    /// let a = DynArray::from_array(ndarray::array![[1u8, 2, 3], [4, 5, 6]].into_dyn());
    /// let parts = a.view().fortran_range(1, 5)?; // 4, 2, 5, 3
    /// let shapes: Vec<Vec<usize>> = parts.iter().map(|p| p.shape().to_vec()).collect();
    /// // The end of the first column, the whole second one, the start of the third.
    /// assert_eq!(shapes, [vec![1], vec![2, 1], vec![1]]);
    /// assert_eq!(parts[0].to_owned().get_f64(&[0]), Some(4.0));
    /// assert_eq!(parts[2].to_owned().get_f64(&[0]), Some(3.0));
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn fortran_range(&self, start: usize, end: usize) -> Result<Vec<DynView<'a>>> {
        if start > end || end > self.len() {
            return Err(Error::usage(format!(
                "values {start}..{end} are not within the {} of shape {:?}",
                self.len(),
                self.shape()
            )));
        }
        let mut parts = Vec::new();
        self.clone().push_fortran_range(start, end, &mut parts);
        Ok(parts)
    }

    /// [`fortran_range`](Self::fortran_range) within bounds: whole slabs of the last axis in
    /// one view, the partial slabs at either end split along the axes below.
    fn push_fortran_range(self, start: usize, end: usize, parts: &mut Vec<DynView<'a>>) {
        if start >= end {
            return;
        }
        let shape = self.shape().to_vec();
        let Some((&outer, inner_shape)) = shape.split_last() else {
            parts.push(self); // a 0-d view: its one value
            return;
        };
        let inner: usize = inner_shape.iter().product();
        if start == 0 && end == inner * outer {
            parts.push(self);
            return;
        }
        let axis = shape.len() - 1;
        let (first, last) = (start / inner, end / inner);
        if first == last {
            let slab = self.index_axis(axis, first);
            return slab.push_fortran_range(start % inner, end % inner, parts);
        }
        let mut whole_from = first;
        if !start.is_multiple_of(inner) {
            self.index_axis(axis, first)
                .push_fortran_range(start % inner, inner, parts);
            whole_from += 1;
        }
        if last > whole_from {
            parts.push(self.slice_axis(axis, whole_from..last));
        }
        if !end.is_multiple_of(inner) {
            self.index_axis(axis, last)
                .push_fortran_range(0, end % inner, parts);
        }
    }

    /// The view at index `i` of `axis` (in range), one axis fewer.
    fn index_axis(&self, axis: usize, i: usize) -> DynView<'a> {
        map_variants!(self.clone(), DynView => DynView, a => a.index_axis_move(ndarray::Axis(axis), i))
    }

    /// The view of indices `range` (in range) of `axis`.
    fn slice_axis(&self, axis: usize, range: std::ops::Range<usize>) -> DynView<'a> {
        map_variants!(self.clone(), DynView => DynView, a => a.slice_axis_move(
            ndarray::Axis(axis),
            ndarray::Slice::from(range),
        ))
    }

    /// The bytes of the values in Fortran order (native byte order), when the view lies in
    /// memory that way (Fortran-contiguous, or any contiguous 1-d view); `None` otherwise.
    ///
    /// ```
    /// use neurovox::array::DynArray;
    /// let a = DynArray::from_array(ndarray::array![[1u8, 2], [3, 4]].into_dyn());
    /// assert_eq!(a.view().fortran_bytes(), None); // C order
    /// let f = DynArray::from_array(ndarray::array![[1u8, 2], [3, 4]].reversed_axes().into_dyn());
    /// assert_eq!(f.view().fortran_bytes(), Some(&[1u8, 2, 3, 4][..]));
    /// ```
    pub fn fortran_bytes(&self) -> Option<&'a [u8]> {
        fn bytes<'b, T: bytemuck::Pod>(a: &ArrayViewD<'b, T>) -> Option<&'b [u8]> {
            let values: &'b [T] = a.clone().reversed_axes().to_slice()?;
            Some(bytemuck::cast_slice(values))
        }
        match self {
            DynView::U8(a) => bytes(a),
            DynView::I8(a) => bytes(a),
            DynView::U16(a) => bytes(a),
            DynView::I16(a) => bytes(a),
            DynView::U32(a) => bytes(a),
            DynView::I32(a) => bytes(a),
            DynView::U64(a) => bytes(a),
            DynView::I64(a) => bytes(a),
            DynView::F32(a) => bytes(a),
            DynView::F64(a) => bytes(a),
            DynView::C64(a) => bytes(a),
            DynView::C128(a) => bytes(a),
            DynView::Rgb(a) => bytes(a),
            DynView::Rgba(a) => bytes(a),
        }
    }

    /// An owned copy.
    pub fn to_owned(&self) -> DynArray {
        map_variants!(self, DynView => DynArray, a => a.to_owned().into_shared())
    }
}

/// `count` zeroed values for a result to be filled, or a Limit error (never an abort) when
/// memory runs out. The allocator hands large blocks over as fresh, untouched pages, zero
/// already; like numpy for its arrays, blocks of 4 MiB or more are marked for transparent
/// huge pages (`MADV_HUGEPAGE`), so filling them faults once per 2 MiB instead of once per
/// 4 KiB page, which on this project's machines is most of the cost of a large read.
pub(crate) fn zeroed_values<T: bytemuck::Pod>(count: usize) -> Result<Vec<T>> {
    let mut values: Vec<T> = bytemuck::allocation::try_zeroed_vec(count)
        .map_err(|_| Error::limit(format!("cannot allocate {count} values")))?;
    advise_huge_pages(bytemuck::cast_slice_mut(&mut values));
    Ok(values)
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(bytes: &mut [u8]) {
    const HUGE: usize = 2 << 20;
    if bytes.len() < 2 * HUGE {
        return;
    }
    let address = bytes.as_mut_ptr() as usize;
    let start = address.div_ceil(HUGE) * HUGE;
    let end = (address + bytes.len()) / HUGE * HUGE;
    if end > start {
        // SAFETY: [start, end) lies inside `bytes`, which this function borrows mutably; the
        // advice changes how its pages are backed, never their contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_bytes: &mut [u8]) {}

/// Runs `$body` with `$a` bound to the typed array of a numeric variant (every element type
/// is [`crate::dtype::RealValue`]), and `$colour` with `$c` bound to the array of RGB or RGBA
/// data.
#[macro_export]
#[doc(hidden)]
macro_rules! dyn_array_numeric {
    ($value:expr, $a:ident => $body:expr, colour $c:pat => $colour:expr) => {
        match $value {
            $crate::array::DynArray::U8($a) => $body,
            $crate::array::DynArray::I8($a) => $body,
            $crate::array::DynArray::U16($a) => $body,
            $crate::array::DynArray::I16($a) => $body,
            $crate::array::DynArray::U32($a) => $body,
            $crate::array::DynArray::I32($a) => $body,
            $crate::array::DynArray::U64($a) => $body,
            $crate::array::DynArray::I64($a) => $body,
            $crate::array::DynArray::F32($a) => $body,
            $crate::array::DynArray::F64($a) => $body,
            $crate::array::DynArray::C64($a) => $body,
            $crate::array::DynArray::C128($a) => $body,
            $crate::array::DynArray::Rgb($c) => $colour,
            $crate::array::DynArray::Rgba($c) => $colour,
        }
    };
}

/// Runs `$body` with `$a` bound to the typed array of any variant.
#[macro_export]
#[doc(hidden)]
macro_rules! dyn_array_apply {
    ($value:expr, $a:ident => $body:expr) => {
        $crate::dyn_array_numeric!($value, $a => $body, colour $a => $body)
    };
}

/// Element types a [`DynArray`] can hold, with the conversions into and out of it.
pub trait DynElement: Element {
    /// Wraps an array of this type.
    fn wrap(array: ArcArray<Self, IxDyn>) -> DynArray;
    /// The typed array, if `array` holds this type.
    fn unwrap_ref(array: &DynArray) -> Option<&ArcArray<Self, IxDyn>>;
}

macro_rules! dyn_element {
    ($($t:ty => $v:ident),*) => {$(
        impl DynElement for $t {
            fn wrap(array: ArcArray<Self, IxDyn>) -> DynArray {
                DynArray::$v(array)
            }
            fn unwrap_ref(array: &DynArray) -> Option<&ArcArray<Self, IxDyn>> {
                match array {
                    DynArray::$v(a) => Some(a),
                    _ => None,
                }
            }
        }
    )*};
}

dyn_element!(u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, u64 => U64,
    i64 => I64, f32 => F32, f64 => F64, Complex<f32> => C64, Complex<f64> => C128, Rgb => Rgb,
    Rgba => Rgba);

impl DynArray {
    /// A borrowed view of the array.
    ///
    /// ```
    /// use neurovox::array::DynArray;
    /// let a = DynArray::from_array(ndarray::array![1u8, 2, 3].into_dyn());
    /// assert_eq!(a.view().len(), 3);
    /// ```
    pub fn view(&self) -> DynView<'_> {
        map_variants!(self, DynArray => DynView, a => a.view())
    }

    /// Wraps a typed array.
    ///
    /// ```
    /// use neurovox::array::DynArray;
    /// use neurovox::DataType;
    /// let a = DynArray::from_array(ndarray::array![[1i16, 2], [3, 4]].into_dyn());
    /// assert_eq!(a.dtype(), DataType::Int16);
    /// assert_eq!(a.shape(), &[2, 2]);
    /// assert_eq!(a.get_f64(&[1, 0]), Some(3.0));
    /// ```
    pub fn from_array<T: DynElement>(array: ArrayD<T>) -> DynArray {
        T::wrap(array.into_shared())
    }

    /// The element type.
    pub fn dtype(&self) -> DataType {
        match self {
            DynArray::U8(_) => DataType::UInt8,
            DynArray::I8(_) => DataType::Int8,
            DynArray::U16(_) => DataType::UInt16,
            DynArray::I16(_) => DataType::Int16,
            DynArray::U32(_) => DataType::UInt32,
            DynArray::I32(_) => DataType::Int32,
            DynArray::U64(_) => DataType::UInt64,
            DynArray::I64(_) => DataType::Int64,
            DynArray::F32(_) => DataType::Float32,
            DynArray::F64(_) => DataType::Float64,
            DynArray::C64(_) => DataType::Complex64,
            DynArray::C128(_) => DataType::Complex128,
            DynArray::Rgb(_) => DataType::Rgb24,
            DynArray::Rgba(_) => DataType::Rgba32,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        dyn_array_apply!(self, a => a.shape())
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.shape().iter().product()
    }

    /// True if there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An XXH3-128 digest of the element type, the shape, the memory order and every
    /// value's bytes: any changed bit changes it (with probability 1 − 2⁻¹²⁸). The same values
    /// held in C and in Fortran order digest differently. Contiguous arrays are digested
    /// straight from memory in 8 MiB pieces on all cores (1 GiB in about 0.1 s); others are
    /// walked in logical order. The digests behind [`crate::Image::is_dirty`].
    ///
    /// ```
    /// use neurovox::array::DynArray;
    /// let a = DynArray::from_array(ndarray::array![[1i16, 2], [3, 4]].into_dyn());
    /// let same = DynArray::from_array(ndarray::array![[1i16, 2], [3, 4]].into_dyn());
    /// assert_eq!(a.content_digest(), same.content_digest());
    /// let b = DynArray::from_array(ndarray::array![[1i16, 2], [3, 5]].into_dyn());
    /// assert_ne!(a.content_digest(), b.content_digest());
    /// ```
    pub fn content_digest(&self) -> u128 {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(&self.dtype().nifti_code().to_le_bytes());
        for &n in self.shape() {
            hasher.update(&(n as u64).to_le_bytes());
        }
        dyn_array_apply!(self, a => digest_values(&mut hasher, a));
        hasher.digest128()
    }

    /// The typed array, if the element type is `T`.
    pub fn as_typed<T: DynElement>(&self) -> Option<&ArcArray<T, IxDyn>> {
        T::unwrap_ref(self)
    }

    /// The typed array, or a Usage error naming both types.
    pub fn typed<T: DynElement>(&self) -> Result<&ArcArray<T, IxDyn>> {
        self.as_typed().ok_or_else(|| {
            Error::usage(format!(
                "the array holds {}, not {}",
                self.dtype(),
                T::DTYPE
            ))
        })
    }

    /// One element as `f64` (the real part of complex values; None for colours or a bad
    /// index).
    pub fn get_f64(&self, index: &[usize]) -> Option<f64> {
        let index = IxDyn(index);
        match self {
            DynArray::U8(a) => a.get(index).map(|&v| f64::from(v)),
            DynArray::I8(a) => a.get(index).map(|&v| f64::from(v)),
            DynArray::U16(a) => a.get(index).map(|&v| f64::from(v)),
            DynArray::I16(a) => a.get(index).map(|&v| f64::from(v)),
            DynArray::U32(a) => a.get(index).map(|&v| f64::from(v)),
            DynArray::I32(a) => a.get(index).map(|&v| f64::from(v)),
            DynArray::U64(a) => a.get(index).map(|&v| v as f64),
            DynArray::I64(a) => a.get(index).map(|&v| v as f64),
            DynArray::F32(a) => a.get(index).map(|&v| f64::from(v)),
            DynArray::F64(a) => a.get(index).copied(),
            DynArray::C64(a) => a.get(index).map(|v| f64::from(v.re)),
            DynArray::C128(a) => a.get(index).map(|v| v.re),
            DynArray::Rgb(_) | DynArray::Rgba(_) => None,
        }
    }

    /// The values converted to `f64` (numpy's `astype(float64)`: the real part of complex
    /// values); a Usage error for colour data, which has no single number per voxel.
    pub fn to_f64(&self) -> Result<ArrayD<f64>> {
        self.to_float()
    }

    /// The values converted to `f32` with one rounding each, as numpy's `astype(float32)`
    /// (the real part of complex values); a Usage error for colour data.
    pub fn to_f32(&self) -> Result<ArrayD<f32>> {
        self.to_float()
    }

    /// The values converted to `O` as numpy's `astype` does (the real part of complex
    /// values); a Usage error for colour data.
    pub(crate) fn to_float<O: FloatOut + DynElement>(&self) -> Result<ArrayD<O>> {
        if let Some(a) = O::unwrap_ref(self) {
            return Ok(a.to_owned());
        }
        Ok(
            crate::dyn_array_numeric!(self, a => map_values(a, O::from_real),
            colour _ => return Err(colour_has_no_float())),
        )
    }
}

/// Element counts above this are converted on all cores.
const PARALLEL_MIN: usize = 1 << 20;

/// `f` applied to every element, walking memory in storage order (the fast path whatever the
/// layout), on all cores for large arrays; the result keeps the input's layout.
pub(crate) fn map_values<T, U, F>(a: &ndarray::ArcArray<T, IxDyn>, f: F) -> ArrayD<U>
where
    T: Copy + Send + Sync,
    U: Copy + Send,
    F: Fn(T) -> U + Send + Sync,
{
    use rayon::prelude::*;
    let fortran = a.ndim() > 1 && !a.is_standard_layout();
    match a.as_slice_memory_order() {
        Some(values) if !fortran || a.t().is_standard_layout() => {
            let mapped: Vec<U> = if values.len() >= PARALLEL_MIN {
                values.par_iter().map(|&v| f(v)).collect()
            } else {
                values.iter().map(|&v| f(v)).collect()
            };
            ArrayD::from_shape_vec(IxDyn(a.shape()).set_f(fortran), mapped)
                .unwrap_or_else(|_| a.mapv(&f))
        }
        _ => a.mapv(f),
    }
}

pub(crate) fn colour_has_no_float() -> Error {
    Error::usage(
        "RGB/RGBA data has no single floating-point value per voxel; read the channels with as_typed",
    )
}

/// Feeds the bytes of a contiguous array to `hasher` as [`DynArray::content_digest`] does:
/// the memory-order tag (`b'C'` or `b'F'`) and the XXH3-128 digests of 8 MiB pieces,
/// computed in parallel. Used by other front ends (the Python package) that hold arrays in
/// their own memory, so their digests cost the same one parallel pass.
///
/// ```
/// let mut a = xxhash_rust::xxh3::Xxh3::new();
/// let mut b = xxhash_rust::xxh3::Xxh3::new();
/// neurovox::internals::digest_memory(&mut a, b'C', &[1, 2, 3]);
/// neurovox::internals::digest_memory(&mut b, b'F', &[1, 2, 3]);
/// assert_ne!(a.digest128(), b.digest128());
/// ```
pub fn digest_memory(hasher: &mut xxhash_rust::xxh3::Xxh3, order: u8, bytes: &[u8]) {
    use rayon::prelude::*;
    const PIECE: usize = 8 << 20;
    hasher.update(&[order]);
    let pieces: Vec<u128> = bytes
        .par_chunks(PIECE)
        .map(xxhash_rust::xxh3::xxh3_128)
        .collect();
    for piece in pieces {
        hasher.update(&piece.to_le_bytes());
    }
}

/// Feeds an array's values to `hasher`: for a contiguous array, a memory-order tag and the
/// digests of its bytes in 8 MiB pieces, computed in parallel; else every value in logical
/// order.
fn digest_values<T: crate::dtype::element::Element>(
    hasher: &mut xxhash_rust::xxh3::Xxh3,
    array: &ArcArray<T, IxDyn>,
) {
    let order = if array.is_standard_layout() {
        Some(b'C')
    } else if array.t().is_standard_layout() {
        Some(b'F')
    } else {
        None
    };
    if let (Some(order), Some(values)) = (order, array.as_slice_memory_order()) {
        digest_memory(hasher, order, bytemuck::cast_slice(values));
        return;
    }
    hasher.update(b"L");
    let mut buffer = Vec::with_capacity(8192);
    for &value in array.iter() {
        buffer.push(value);
        if buffer.len() == buffer.capacity() {
            hasher.update(bytemuck::cast_slice(&buffer));
            buffer.clear();
        }
    }
    hasher.update(bytemuck::cast_slice(&buffer));
}
/// Slices an in-memory array by a canonical selection (numpy's basic indexing), copying.
pub fn slice_array(array: &DynArray, canonical: &[Canonical]) -> Result<DynArray> {
    let elems: Vec<SliceInfoElem> = canonical
        .iter()
        .map(|c| match *c {
            Canonical::Index(i) => SliceInfoElem::Index(i as isize),
            Canonical::NewAxis => SliceInfoElem::NewAxis,
            Canonical::Slice { start, step, len } => {
                if len == 0 {
                    return SliceInfoElem::Slice {
                        start: 0,
                        end: Some(0),
                        step: 1,
                    };
                }
                let last = start as isize + (len as isize - 1) * step;
                let (lo, hi) = if step > 0 {
                    (start as isize, last)
                } else {
                    (last, start as isize)
                };
                // ndarray takes negative steps from the end of the range: hi, hi-|step|, …
                SliceInfoElem::Slice {
                    start: lo,
                    end: Some(hi + 1),
                    step,
                }
            }
        })
        .collect();
    let info = SliceInfo::<Vec<SliceInfoElem>, IxDyn, IxDyn>::try_from(elems)
        .map_err(|e| Error::usage(format!("bad selection: {e}")))?;
    Ok(crate::dyn_array_apply!(array, a => DynArray::from_array(a.slice(info.as_ref()).to_owned())))
}
