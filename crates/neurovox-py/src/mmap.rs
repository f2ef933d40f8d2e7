//! Zero-copy numpy views of memory-mapped files.
//!
//! The view's `base` is an [`MmapOwner`] holding a core [`MemmapBytes`], so the map lives as
//! long as any array that views it. The map is raw memory (no Rust references into it)
//! because numpy writes through the pointer: in mode `r+`/`w+` to the file, in mode `c` to
//! private pages. Mode `r` views are read-only (numpy refuses to write them, and refuses to
//! make them writeable: the owner exposes no writable buffer).
//!
//! Two users: the image proxies (nibabel's `mmap=True`/`'c'`/`'r'`, plain `ndarray` views in
//! Fortran order) and `neurovox.memmap` / `load_npy` / `load_npz` (genuine `numpy.memmap`
//! instances: [`view`] is given numpy.memmap's type as the subtype). numpy's
//! `memmap.flush()` calls `self.base.flush()`, which is [`MmapOwner::flush`].

use crate::errors::to_py;
use neurovox::Order;
use neurovox::numpy::memmap::{MapMode, MemmapBytes, MemmapOptions};
use numpy::npyffi::{self, NPY_ARRAY_WRITEABLE, NpyTypes, PY_ARRAY_API};
use numpy::{PyArrayDescr, PyArrayDescrMethods};
use pyo3::prelude::*;
use pyo3::types::PyType;
use std::path::{Path, PathBuf};

/// The owner of a memory map that numpy arrays view (their `base`).
#[pyclass(frozen, module = "neurovox._neurovox")]
pub struct MmapOwner {
    map: MemmapBytes,
}

impl MmapOwner {
    /// An owner for `map`.
    pub fn new(map: MemmapBytes) -> Self {
        MmapOwner { map }
    }
}

#[pymethods]
impl MmapOwner {
    /// The mapping mode: `'r'`, `'r+'`, `'w+'` or `'c'`.
    #[getter]
    fn mode(&self) -> &'static str {
        self.map.mode().as_str()
    }

    /// Byte offset of the first mapped byte in the file.
    #[getter]
    fn offset(&self) -> u64 {
        self.map.offset()
    }

    /// The mapped file.
    #[getter]
    fn filename(&self) -> PathBuf {
        self.map.path().to_path_buf()
    }

    /// The mapped length in bytes.
    fn __len__(&self) -> usize {
        self.map.len()
    }

    /// Writes changes to the file and waits for the disk (modes `r+`, `w+`); nothing to do in
    /// `r` and `c`. What `numpy.memmap.flush()` calls.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.map.flush()).map_err(to_py)
    }

    fn __repr__(&self) -> String {
        format!(
            "<neurovox MmapOwner {:?} mode={:?} offset={} len={}>",
            self.map.path(),
            self.map.mode().as_str(),
            self.map.offset(),
            self.map.len()
        )
    }
}

/// A non-null pointer, aligned for any numpy dtype, for arrays of no elements (numpy would
/// allocate memory of its own if given NULL).
fn empty_data_ptr() -> *mut u8 {
    #[repr(align(64))]
    struct Aligned;
    std::ptr::NonNull::<Aligned>::dangling().as_ptr().cast()
}

/// A numpy array viewing the whole map of `owner`: `dtype` elements of `shape` in Fortran
/// (`fortran`) or C order, of type `subtype` (numpy.memmap for neurovox.memmap; `None` for
/// plain `ndarray`). Writeable unless the map is mode `r`. The caller checks that `shape` and
/// `dtype` cover exactly the mapped bytes.
pub fn view<'py>(
    owner: Bound<'py, MmapOwner>,
    dtype: Bound<'py, PyArrayDescr>,
    shape: &[usize],
    fortran: bool,
    subtype: Option<&Bound<'py, PyType>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = owner.py();
    let map = &owner.get().map;
    let itemsize = dtype.itemsize();
    let nbytes = shape
        .iter()
        .try_fold(itemsize, |acc, &n| acc.checked_mul(n));
    if nbytes != Some(map.len()) {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "internal: shape {shape:?} of {itemsize}-byte items does not cover the {}-byte map",
            map.len()
        )));
    }
    // A subarray dtype ('(2,)i2') adds its axes after the array's, and the strides are
    // computed over all of them in the array's order, as ndarray.__new__ does.
    let (dtype, shape, itemsize) = if dtype.has_subarray() {
        let base = dtype.base();
        let mut full = shape.to_vec();
        full.extend(dtype.shape());
        let base_size = base.itemsize();
        (base, full, base_size)
    } else {
        (dtype, shape.to_vec(), itemsize)
    };
    let shape = shape.as_slice();
    let (ptr, writeable) = match map.as_mut_ptr() {
        Some(p) => (p, true),
        None => (map.as_ptr().cast_mut(), false),
    };
    let ptr = if map.is_empty() {
        empty_data_ptr()
    } else {
        ptr
    };
    let mut dims: Vec<npyffi::npy_intp> = shape.iter().map(|&n| n as npyffi::npy_intp).collect();
    let mut strides: Vec<npyffi::npy_intp> = vec![0; shape.len()];
    let mut stride = itemsize as npyffi::npy_intp;
    let axes: Box<dyn Iterator<Item = usize>> = if fortran {
        Box::new(0..shape.len())
    } else {
        Box::new((0..shape.len()).rev())
    };
    for axis in axes {
        strides[axis] = stride;
        stride *= shape[axis].max(1) as npyffi::npy_intp;
    }
    let flags = if writeable { NPY_ARRAY_WRITEABLE } else { 0 };
    // SAFETY: the pointer covers the map's `nbytes` bytes (checked above), writable only if
    // the map is (`as_mut_ptr`), and `owner` keeps the map alive: the array takes `owner` as
    // its base (SetBaseObject steals the reference we give it). `into_dtype_ptr` hands
    // NewFromDescr the reference it steals. `subtype` is an ndarray subclass (numpy.memmap).
    unsafe {
        let subtype = match subtype {
            Some(t) => t.as_type_ptr().cast(),
            None => npyffi::get_type_object(py, NpyTypes::PyArray_Type),
        };
        let array = PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            subtype,
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
        Ok(array)
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
    identity: Option<neurovox::io::FileIdentity>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let itemsize = dtype.itemsize();
    if shape.iter().product::<usize>() == 0 || itemsize == 0 {
        return Ok(None);
    }
    let mode = if writeable {
        MapMode::CopyOnWrite
    } else {
        MapMode::Read
    };
    let options = MemmapOptions::new(mode)
        .offset(offset)
        .shape(shape)
        .order(Order::F);
    // The map is made from a descriptor checked to be the file the proxy was made for: a
    // file replaced since (even by one of the same size) is a StaleFileError, as every other
    // read path reports it, never the new file's bytes under the old header.
    let opened = py.detach(|| -> neurovox::Result<Option<MemmapBytes>> {
        let file = neurovox::io::open_regular(path)?;
        if let Some(identity) = identity {
            identity.check(&file, path)?;
        }
        Ok(MemmapBytes::open_file(&file, path, itemsize, &options).ok())
    });
    let map = match opened {
        Ok(Some(map)) => map,
        Ok(None) => return Ok(None),
        Err(e) if e.kind() == neurovox::ErrorKind::Stale => {
            return Err(crate::errors::to_py(e));
        }
        Err(_) => return Ok(None),
    };
    let owner = Bound::new(py, MmapOwner::new(map))?;
    view(owner, dtype, shape, true, None).map(Some)
}
