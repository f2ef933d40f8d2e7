//! Arrays between numpy and the core: numpy allocates, Rust fills with the GIL released.

use crate::errors::IntoPyResult;
use ndarray::{ArcArray, IxDyn, ShapeBuilder};
use neurovox::array::DynArray;
use neurovox::dtype::Element;
use neurovox::{ByteOrder, DataType, StorageDtype};
use numpy::{PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;

/// numpy's dtype for a stored type as `np.dtype('<i2')` spells it (`dtype('int16')` on a
/// little-endian machine): what numpy's own readers give for a `.npy` header's `descr`.
pub fn numpy_descr_dtype<'py>(py: Python<'py>, dtype: StorageDtype) -> PyResult<Bound<'py, PyAny>> {
    if dtype.order == ByteOrder::NATIVE {
        return numpy_native_dtype(py, dtype.dtype);
    }
    numpy_dtype(py, dtype)
}

/// numpy's dtype for a stored type, as nibabel's headers give it: the byte order explicit
/// for multi-byte types (`dtype('<i2')`, not the equal `dtype('int16')`: nibabel builds it
/// with `newbyteorder`, and the reprs differ), or nibabel's structured RGB types.
pub fn numpy_dtype<'py>(py: Python<'py>, dtype: StorageDtype) -> PyResult<Bound<'py, PyAny>> {
    let np = py.import("numpy")?;
    let spec: Bound<'py, PyAny> = match dtype.dtype {
        DataType::Rgb24 => PyList::new(py, [("R", "u1"), ("G", "u1"), ("B", "u1")])?.into_any(),
        DataType::Rgba32 => {
            PyList::new(py, [("R", "u1"), ("G", "u1"), ("B", "u1"), ("A", "u1")])?.into_any()
        }
        _ => dtype.numpy_str().into_pyobject(py)?.into_any(),
    };
    let numpy_dtype = np.getattr("dtype")?.call1((spec,))?;
    let structured = matches!(dtype.dtype, DataType::Rgb24 | DataType::Rgba32);
    if dtype.dtype.component_size() > 1 && !structured {
        return numpy_dtype.call_method1("newbyteorder", (dtype.order.numpy_char().to_string(),));
    }
    Ok(numpy_dtype)
}

/// numpy's dtype for values computed in this process (scaled values, conversions): native
/// byte order, spelled as numpy spells it (`dtype('float64')`), as nibabel's results are.
pub fn numpy_native_dtype<'py>(py: Python<'py>, dtype: DataType) -> PyResult<Bound<'py, PyAny>> {
    let explicit = numpy_dtype(py, StorageDtype::new(dtype, ByteOrder::NATIVE))?;
    explicit.call_method1("newbyteorder", ("=",))
}

/// The core's stored type for a numpy dtype; `None` for types no format stores (bool,
/// float16, strings, objects…).
pub fn storage_dtype(dtype: &Bound<'_, PyAny>) -> PyResult<Option<StorageDtype>> {
    let names = dtype.getattr("names")?;
    if !names.is_none() {
        let names: Vec<String> = names.extract()?;
        let all_u1 = dtype.getattr("itemsize")?.extract::<usize>()? == names.len();
        return Ok(match (names.join(",").as_str(), all_u1) {
            ("R,G,B", true) => Some(StorageDtype::new(DataType::Rgb24, ByteOrder::NATIVE)),
            ("R,G,B,A", true) => Some(StorageDtype::new(DataType::Rgba32, ByteOrder::NATIVE)),
            _ => None,
        });
    }
    let kind: String = dtype.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "i" | "u" | "f" | "c") {
        return Ok(None);
    }
    let itemsize: usize = dtype.getattr("itemsize")?.extract()?;
    let order = match dtype.getattr("byteorder")?.extract::<String>()?.as_str() {
        ">" => ByteOrder::Big,
        "<" => ByteOrder::Little,
        _ => ByteOrder::NATIVE,
    };
    Ok(DataType::from_name(&format!("{kind}{itemsize}")).map(|t| StorageDtype::new(t, order)))
}

/// A raw pointer that may cross into `py.detach`: the numpy array it points into is kept
/// alive, and not otherwise touched, by the caller holding it for the whole closure.
pub struct SendPtr(pub *mut u8, pub usize);
// SAFETY: see the type's documentation; the pointer is only dereferenced while the array
// that owns the memory is held by the calling frame.
unsafe impl Send for SendPtr {}
// SAFETY: as for `Send`: one closure at a time uses the pointer.
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The bytes, as a mutable slice.
    ///
    /// # Safety
    /// The memory must be valid for `self.1` bytes and not aliased for the slice's life.
    pub unsafe fn as_mut_slice<'a>(&self) -> &'a mut [u8] {
        if self.1 == 0 {
            return &mut [];
        }
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0, self.1) }
    }

    /// The bytes, read-only (for arrays numpy may have mapped read-only).
    ///
    /// # Safety
    /// The memory must be valid for `self.1` bytes and not written for the slice's life.
    pub unsafe fn as_slice<'a>(&self) -> &'a [u8] {
        if self.1 == 0 {
            return &[];
        }
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts(self.0, self.1) }
    }
}

/// A new, uninitialised numpy array of `shape` and `dtype` in Fortran order (`fortran`) or C
/// order, and a pointer to its bytes.
pub fn empty_array<'py>(
    py: Python<'py>,
    shape: &[usize],
    dtype: &Bound<'py, PyAny>,
    fortran: bool,
) -> PyResult<(Bound<'py, PyUntypedArray>, SendPtr)> {
    let np = py.import("numpy")?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("dtype", dtype)?;
    kwargs.set_item("order", if fortran { "F" } else { "C" })?;
    let array = np
        .getattr("empty")?
        .call((shape.to_vec(),), Some(&kwargs))?
        .cast_into::<PyUntypedArray>()?;
    let ptr = data_ptr(&array)?;
    Ok((array, ptr))
}

/// Alignment of the data of an array made by [`empty_array_with_room`]: numpy's own
/// allocations are 16-byte aligned, enough for every element type (complex128 included).
const ROOM_ALIGN: usize = 16;

/// A new numpy array like [`empty_array`]'s whose data is preceded by `room` bytes of
/// scratch in the same allocation (its base, a uint8 array), for sources that fill an output
/// faster with room before it (`Source::room_for_read`). Returns the array and the pointer to
/// the `room` + data bytes; the data starts 16-byte aligned.
pub fn empty_array_with_room<'py>(
    py: Python<'py>,
    shape: &[usize],
    dtype: &Bound<'py, PyAny>,
    fortran: bool,
    room: usize,
) -> PyResult<(Bound<'py, PyAny>, SendPtr)> {
    let itemsize: usize = dtype.getattr("itemsize")?.extract()?;
    let too_large = || PyValueError::new_err("the array is too large for memory");
    let data_bytes = shape
        .iter()
        .try_fold(itemsize, |n, &d| n.checked_mul(d))
        .ok_or_else(too_large)?;
    let total = data_bytes
        .checked_add(room)
        .and_then(|n| n.checked_add(ROOM_ALIGN - 1))
        .ok_or_else(too_large)?;
    let np = py.import("numpy")?;
    let base = np
        .getattr("empty")?
        .call1((total, np.getattr("uint8")?))?
        .cast_into::<PyUntypedArray>()?;
    let SendPtr(start, _) = data_ptr(&base)?;
    let pad = (ROOM_ALIGN - (start as usize + room) % ROOM_ALIGN) % ROOM_ALIGN;
    let data_start = pad + room;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("order", if fortran { "F" } else { "C" })?;
    let slice = pyo3::types::PySlice::new(
        py,
        isize::try_from(data_start).map_err(|_| too_large())?,
        isize::try_from(data_start + data_bytes).map_err(|_| too_large())?,
        1,
    );
    let array = base
        .get_item(slice)?
        .call_method1("view", (dtype,))?
        .call_method("reshape", (shape.to_vec(),), Some(&kwargs))?;
    // SAFETY: `pad + room + data_bytes <= total`, inside `base`'s allocation, which `array`
    // keeps alive (its base).
    let ptr = unsafe { start.add(pad) };
    Ok((array, SendPtr(ptr, room + data_bytes)))
}

/// The data pointer and byte length of a contiguous, writeable numpy array.
pub fn data_ptr(array: &Bound<'_, PyUntypedArray>) -> PyResult<SendPtr> {
    if !array.is_contiguous() {
        return Err(PyValueError::new_err("the array is not contiguous"));
    }
    let itemsize: usize = array.dtype().getattr("itemsize")?.extract()?;
    // SAFETY: the object is a numpy array (checked by the cast that made `array`).
    let data = unsafe { (*array.as_array_ptr()).fields.data };
    Ok(SendPtr(data.cast::<u8>(), array.len() * itemsize))
}

/// A core array copied into a new numpy array of the same type, shape and memory order
/// (native byte order), the copy made with the GIL released.
pub fn dyn_to_numpy<'py>(py: Python<'py>, array: &DynArray) -> PyResult<Bound<'py, PyAny>> {
    let dtype = numpy_native_dtype(py, array.dtype())?;
    fn bytes_of<T: Element>(a: &ArcArray<T, IxDyn>) -> Option<(bool, &[u8])> {
        if let Some(s) = a.as_slice() {
            return Some((false, bytemuck::cast_slice(s)));
        }
        a.as_slice_memory_order()
            .filter(|_| a.t().is_standard_layout())
            .map(|s| (true, bytemuck::cast_slice(s)))
    }
    let contiguous;
    let array = match neurovox::dyn_array_apply!(array, a => bytes_of(a).is_some()) {
        true => array,
        false => {
            contiguous = neurovox::dyn_array_apply!(array, a => DynArray::from_array(a.as_standard_layout().into_owned()));
            &contiguous
        }
    };
    let (fortran, bytes) = neurovox::dyn_array_apply!(array, a => bytes_of(a))
        .ok_or_else(|| PyValueError::new_err("internal: array not contiguous"))?;
    let fortran = fortran && array.ndim() > 1;
    let (out, ptr) = empty_array(py, array.shape(), &dtype, fortran)?;
    py.detach(|| {
        // SAFETY: `out` is a new array of exactly `bytes.len()` bytes, held by this frame.
        let dest = unsafe { ptr.as_mut_slice() };
        dest.copy_from_slice(bytes);
    });
    Ok(out.into_any())
}

/// A numpy array (any layout, either byte order) as a core array in native byte order.
/// Errors: a dtype no format stores (`HeaderDataError`, as nibabel raises for bool or
/// float16 data).
pub fn numpy_to_dyn(array: &Bound<'_, PyAny>) -> PyResult<DynArray> {
    let py = array.py();
    let np = py.import("numpy")?;
    let array = np.getattr("asanyarray")?.call1((array,))?;
    let dtype = array.getattr("dtype")?;
    let Some(storage) = storage_dtype(&dtype)? else {
        return Err(crate::errors::HeaderDataError::new_err(format!(
            "data dtype \"{}\" not supported",
            dtype.str()?
        )));
    };
    let array = array.cast_into::<PyUntypedArray>()?;
    let array = if array.is_contiguous() {
        array
    } else {
        np.getattr("asfortranarray")?
            .call1((array,))?
            .cast_into::<PyUntypedArray>()?
    };
    let shape = array.shape().to_vec();
    let fortran = !array.is_c_contiguous();
    let ptr = data_ptr(&array)?;
    let swap = storage.order != ByteOrder::NATIVE;
    fn typed<T: Element + neurovox::array::DynElement>(
        bytes: &[u8],
        shape: &[usize],
        fortran: bool,
        swap: bool,
    ) -> neurovox::Result<DynArray> {
        let mut values: Vec<T> = vec![T::zeroed(); bytes.len() / std::mem::size_of::<T>()];
        bytemuck::cast_slice_mut::<T, u8>(&mut values).copy_from_slice(bytes);
        if swap && T::DTYPE.component_size() > 1 {
            values.iter_mut().for_each(|v| *v = v.swap_bytes());
        }
        let shape = IxDyn(shape).set_f(fortran);
        ndarray::ArrayD::from_shape_vec(shape, values)
            .map(DynArray::from_array)
            .map_err(|e| neurovox::Error::usage(e.to_string()))
    }
    let result = py.detach(|| {
        // SAFETY: `array` is held by this frame for the whole closure and only read.
        let bytes: &[u8] = unsafe { ptr.as_mut_slice() };
        neurovox::with_dtype!(all: storage.dtype,
        T => typed::<T>(bytes, &shape, fortran, swap),
        other => Err(neurovox::Error::unsupported(format!(
            "data dtype {other} not supported"
        ))))
    });
    result.py()
}

/// A 128-bit content digest (XXH3) of a numpy array's bytes, shape and dtype: how the Python
/// images tell whether a cached array was changed in place. C- and Fortran-contiguous arrays
/// are digested where they lie (memory order, tagged), in parallel with the GIL released;
/// other layouts are first made contiguous.
#[pyfunction]
pub fn digest(array: &Bound<'_, PyAny>) -> PyResult<u128> {
    let py = array.py();
    let mut array = array.clone().cast_into::<PyUntypedArray>()?;
    let fortran = |a: &Bound<'_, PyUntypedArray>| a.is_fortran_contiguous() && a.ndim() > 1;
    if !array.is_c_contiguous() && !fortran(&array) {
        array = py
            .import("numpy")?
            .getattr("ascontiguousarray")?
            .call1((&array,))?
            .cast_into::<PyUntypedArray>()?;
    }
    let order = if fortran(&array) { b'F' } else { b'C' };
    let descr = array.dtype().str()?.to_string();
    let shape = format!("{:?}{descr}", array.shape());
    let ptr = data_ptr(&array)?;
    Ok(py.detach(|| {
        // SAFETY: `array` is held by this frame and only read; other Python threads could
        // write it meanwhile, which changes the digest, never memory safety of a byte read.
        let bytes = unsafe { ptr.as_slice() };
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(shape.as_bytes());
        neurovox::internals::digest_memory(&mut hasher, order, bytes);
        hasher.digest128()
    }))
}

/// Parses a numpy dtype into the core's stored type, or raises `HeaderDataError`.
pub fn parse_storage(dtype: &Bound<'_, PyAny>) -> PyResult<StorageDtype> {
    let np = dtype.py().import("numpy")?;
    let dtype = np.getattr("dtype")?.call1((dtype,))?;
    storage_dtype(&dtype)?.ok_or_else(|| {
        crate::errors::HeaderDataError::new_err(format!(
            "data dtype \"{}\" not supported",
            dtype.str().map(|s| s.to_string()).unwrap_or_default()
        ))
    })
}
