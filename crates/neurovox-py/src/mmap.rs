//! Zero-copy numpy views of memory-mapped files.
//!
//! The view's `base` is an [`MmapOwner`] holding the map, so the map lives as long as any
//! array that views it. The map is a `memmap2::MmapRaw` — a raw pointer with no Rust
//! references into it — because numpy writes through the pointer (copy-on-write mode `c`).
//! Mode `r` views are read-only; mode `c` views are writeable and their writes stay private,
//! as with nibabel's `mmap=True`/`'c'`.

use numpy::npyffi::{self, NpyTypes, NPY_ARRAY_F_CONTIGUOUS, NPY_ARRAY_WRITEABLE, PY_ARRAY_API};
use numpy::{PyArrayDescr, PyArrayDescrMethods};
use pyo3::prelude::*;
use std::path::Path;

/// The owner of a memory map that numpy arrays view (their `base`).
#[pyclass(frozen, module = "neurovox._neurovox")]
pub struct MmapOwner {
    map: memmap2::MmapRaw,
    mode: &'static str,
}

#[pymethods]
impl MmapOwner {
    /// The mapping mode: `'r'` or `'c'`.
    #[getter]
    fn mode(&self) -> &'static str {
        self.mode
    }

    /// The mapped length in bytes.
    fn __len__(&self) -> usize {
        self.map.len()
    }
}

/// A numpy array of `shape` and `dtype` in Fortran order viewing `path` from `offset`, mapped
/// read-only (`writeable == false`, numpy's mode `'r'`) or copy-on-write (`'c'`). `None` when
/// the file cannot hold the array (then the caller reads instead, as nibabel falls back) or
/// the array is empty.
pub fn map_view<'py>(
    py: Python<'py>,
    path: &Path,
    offset: u64,
    shape: &[usize],
    dtype: Bound<'py, PyArrayDescr>,
    writeable: bool,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let itemsize = dtype.itemsize();
    let Some(nbytes) = shape
        .iter()
        .try_fold(itemsize, |acc, &n| acc.checked_mul(n))
        .filter(|&n| n > 0)
    else {
        return Ok(None);
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(_) => return Ok(None),
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if offset
        .checked_add(nbytes as u64)
        .is_none_or(|end| end > len)
    {
        return Ok(None);
    }
    let mut options = memmap2::MmapOptions::new();
    options.offset(offset).len(nbytes);
    // SAFETY: the file holds `offset + nbytes` bytes (checked above). A file truncated by
    // another process while mapped makes accesses fault, as with numpy.memmap; neurovox's own
    // saves replace files instead of truncating them.
    let map = unsafe {
        if writeable {
            options.map_copy(&file).map(memmap2::MmapRaw::from)
        } else {
            options.map_raw_read_only(&file)
        }
    };
    let Ok(map) = map else {
        return Ok(None);
    };
    let ptr = map.as_mut_ptr();
    let owner = Bound::new(
        py,
        MmapOwner {
            map,
            mode: if writeable { "c" } else { "r" },
        },
    )?;
    let mut dims: Vec<npyffi::npy_intp> = shape.iter().map(|&n| n as npyffi::npy_intp).collect();
    let mut strides: Vec<npyffi::npy_intp> = Vec::with_capacity(shape.len());
    let mut stride = itemsize as npyffi::npy_intp;
    for &n in shape {
        strides.push(stride);
        stride *= n as npyffi::npy_intp;
    }
    let flags = NPY_ARRAY_F_CONTIGUOUS | if writeable { NPY_ARRAY_WRITEABLE } else { 0 };
    // SAFETY: the pointer covers `nbytes` bytes of a map that `owner` keeps alive, and the
    // array takes `owner` as its base (SetBaseObject steals the reference we give it);
    // `into_dtype_ptr` hands NewFromDescr the reference it steals.
    unsafe {
        let array = PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            npyffi::get_type_object(py, NpyTypes::PyArray_Type),
            dtype.into_dtype_ptr(),
            dims.len() as std::os::raw::c_int,
            dims.as_mut_ptr(),
            strides.as_mut_ptr(),
            ptr.cast(),
            flags,
            std::ptr::null_mut(),
        );
        let array = Bound::from_owned_ptr_or_err(py, array)?;
        if PY_ARRAY_API.PyArray_SetBaseObject(py, array.as_ptr().cast(), owner.into_ptr()) < 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(Some(array))
    }
}
