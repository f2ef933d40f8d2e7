//! The native side of `neurovox.memmap`, `load_npy`/`save_npy` and `.npz` access
//! (`python/neurovox/npyio.py`).
//!
//! Every file rule — numpy.memmap's modes, sizing and growth, the `.npy` header codec, the
//! zip container and where a stored member's data sits in it — is the core's
//! ([`neurovox::numpy`]). This module only moves bytes
//! between those and numpy: maps become zero-copy arrays whose `base` owns the map
//! ([`crate::mmap`]), in-memory reads fill arrays numpy allocates with the GIL released, and
//! numpy arrays are written as the raw bytes of their memory, in their own byte order.
//!
//! bool arrays (`'|b1'`, the core's [`NpyDtype::Bool`]) go through the same byte paths: their
//! bytes are numpy's own, read into (or mapped as) arrays of numpy's `bool` dtype and written
//! from them unchanged, so a file's bytes reach numpy exactly as `numpy.load` would give them.

use crate::convert::{SendPtr, data_ptr, empty_array, numpy_descr_dtype, storage_dtype};
use crate::errors::numpy_error;
use crate::fileobj::{PyReader, PyWriter};
use crate::mmap::{MmapOwner, view};
use neurovox::DataType;
use neurovox::Order;
use neurovox::numpy::memmap::{MapMode, MemmapBytes, MemmapOptions};
use neurovox::numpy::npy::{self, NpyDtype, NpyHeader, NpyWritable};
use neurovox::numpy::npz::NpzArchive;
use numpy::{PyArrayDescr, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};
use std::io::{Read, Write};
use std::path::PathBuf;

fn parse_mode(mode: &str) -> PyResult<MapMode> {
    mode.parse().map_err(numpy_error)
}

/// numpy's dtype for a `.npy` element type: `bool` for `'|b1'`, else as for image data.
fn npy_numpy_dtype(py: Python<'_>, dtype: NpyDtype) -> PyResult<Bound<'_, PyAny>> {
    match dtype {
        NpyDtype::Number(dtype) => numpy_descr_dtype(py, dtype),
        NpyDtype::Bool => py.import("numpy")?.getattr("dtype")?.call1(("?",)),
    }
}

/// A numpy.memmap (`subtype`) over a map, its `base` the map's owner.
fn memmap_of<'py>(
    py: Python<'py>,
    map: MemmapBytes,
    dtype: Bound<'py, PyArrayDescr>,
    shape: &[usize],
    fortran: bool,
    subtype: &Bound<'py, PyType>,
) -> PyResult<Bound<'py, PyAny>> {
    let ndarray = py.import("numpy")?.getattr("ndarray")?;
    if !subtype.is_subclass(&ndarray)? {
        return Err(PyTypeError::new_err(
            "subtype must be a subclass of numpy.ndarray",
        ));
    }
    let owner = Bound::new(py, MmapOwner::new(map))?;
    view(owner, dtype, shape, fortran, Some(subtype))
}

/// A numpy.memmap (`subtype`) over the data of a `.npy` file or member whose header is
/// `header`, as numpy's `open_memmap` gives.
fn memmap_of_npy<'py>(
    py: Python<'py>,
    header: &NpyHeader,
    map: MemmapBytes,
    subtype: &Bound<'py, PyType>,
) -> PyResult<Bound<'py, PyAny>> {
    let dtype = npy_numpy_dtype(py, header.dtype)?.cast_into::<PyArrayDescr>()?;
    memmap_of(py, map, dtype, &header.shape, header.fortran_order, subtype)
}

/// Maps `path` (or the open file `fileno`, named `path`) as `numpy.memmap(path, dtype, mode,
/// offset, shape, order)` does, returning an instance of `subtype` (numpy.memmap) whose base
/// owns the map. The Python caller sets the memmap attributes (`filename`, `offset`, `mode`).
#[pyfunction]
#[pyo3(signature = (path, dtype, mode, offset, shape, fortran, subtype, fileno=None))]
#[allow(clippy::too_many_arguments)]
pub fn memmap_native<'py>(
    py: Python<'py>,
    path: PathBuf,
    dtype: Bound<'py, PyArrayDescr>,
    mode: &str,
    offset: u64,
    shape: Option<Vec<usize>>,
    fortran: bool,
    subtype: Bound<'py, PyType>,
    fileno: Option<i32>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut options = MemmapOptions::new(parse_mode(mode)?)
        .offset(offset)
        .order(if fortran { Order::F } else { Order::C });
    options.shape = shape;
    let itemsize = dtype.itemsize();
    let map = match fileno {
        None => py.detach(|| MemmapBytes::open(&path, itemsize, &options)),
        Some(fd) => {
            let file = borrow_file(fd)?;
            py.detach(|| MemmapBytes::open_file(&file, &path, itemsize, &options))
        }
    }
    .map_err(numpy_error)?;
    let shape = map.shape().to_vec();
    memmap_of(py, map, dtype, &shape, fortran, &subtype)
}

/// A `File` of our own (a duplicate descriptor) for a Python file object's `fileno()`.
#[cfg(unix)]
fn borrow_file(fd: i32) -> PyResult<std::fs::File> {
    use std::os::fd::BorrowedFd;
    if fd < 0 {
        return Err(PyValueError::new_err(format!(
            "invalid file descriptor {fd}"
        )));
    }
    // SAFETY: `fd` is the fileno() of a file object the Python caller holds open for the whole
    // call; it is only duplicated here, the duplicate owned by the returned File.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    Ok(std::fs::File::from(borrowed.try_clone_to_owned()?))
}

/// File objects are mapped through their descriptor, which this platform cannot borrow.
#[cfg(not(unix))]
fn borrow_file(_fd: i32) -> PyResult<std::fs::File> {
    Err(PyTypeError::new_err(
        "neurovox.memmap maps file objects on Unix only; pass the file's path",
    ))
}

/// A new numpy array of the header's dtype, shape and order, filled from `reader` (with the
/// GIL released when `detach`; a Python file object reader needs the GIL).
fn read_new_array<'py>(
    py: Python<'py>,
    header: &NpyHeader,
    reader: &mut (dyn Read + Send),
) -> PyResult<Bound<'py, PyAny>> {
    let dtype = npy_numpy_dtype(py, header.dtype)?;
    let (array, ptr) = empty_array(py, &header.shape, &dtype, header.fortran_order)?;
    py.detach(|| {
        // SAFETY: `array` is new, held by this frame, and exactly the header's data length.
        let out = unsafe { ptr.as_mut_slice() };
        npy::read_npy_data_into(reader, header, out)
    })
    .map_err(numpy_error)?;
    Ok(array.into_any())
}

/// `numpy.load(path, mmap_mode)` for a `.npy` file: a numpy.memmap (`subtype`) viewing the
/// data after the header for modes `r`, `r+`, `c`; else an array read into memory.
#[pyfunction]
pub fn load_npy_native<'py>(
    py: Python<'py>,
    path: PathBuf,
    mmap_mode: Option<&str>,
    subtype: Bound<'py, PyType>,
) -> PyResult<Bound<'py, PyAny>> {
    match mmap_mode {
        Some(mode) => {
            let mode = parse_mode(mode)?;
            let (header, map) = py
                .detach(|| npy::map_npy(&path, mode))
                .map_err(numpy_error)?;
            memmap_of_npy(py, &header, map, &subtype)
        }
        None => {
            let (header, mut reader) = py.detach(|| npy::open_npy(&path)).map_err(numpy_error)?;
            read_new_array(py, &header, &mut reader)
                .map_err(|e| with_path_note(py, e, &path.display().to_string()))
        }
    }
}

/// Adds the file name to a read error that lacks it (reads of an open stream know no path).
fn with_path_note(py: Python<'_>, e: PyErr, name: &str) -> PyErr {
    let message = e.value(py).to_string();
    if e.is_instance_of::<PyValueError>(py) && !message.contains(name) {
        return PyValueError::new_err(format!("{name}: {message}"));
    }
    e
}

/// `numpy.load(fileobj)` for `.npy` bytes read from a Python file object at its position.
#[pyfunction]
pub fn load_npy_fileobj<'py>(
    py: Python<'py>,
    fileobj: Bound<'py, PyAny>,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let mut reader = PyReader::new(fileobj.clone());
    let header = npy::read_npy_header(&mut reader).map_err(|e| numpy_error(e.with_path(name)))?;
    // Check what the object holds before allocating what the header declares.
    if let Some(available) = remaining_len(&fileobj)? {
        npy::check_data_len(&header, available).map_err(|e| numpy_error(e.with_path(name)))?;
    }
    let dtype = npy_numpy_dtype(py, header.dtype)?;
    let (array, ptr) = empty_array(py, &header.shape, &dtype, header.fortran_order)?;
    // The reader calls into Python, so the GIL stays held.
    // SAFETY: `array` is new, held by this frame, and exactly the header's data length.
    let out = unsafe { ptr.as_mut_slice() };
    npy::read_npy_data_into(&mut reader, &header, out)
        .map_err(|e| numpy_error(e.with_path(name)))?;
    Ok(array.into_any())
}

/// Bytes left after a seekable file object's position; `None` if it cannot seek.
fn remaining_len(fileobj: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
    let seekable = fileobj
        .call_method0("seekable")
        .and_then(|s| s.extract::<bool>())
        .unwrap_or(false);
    if !seekable {
        return Ok(None);
    }
    let pos: u64 = fileobj.call_method0("tell")?.extract()?;
    let end: u64 = fileobj.call_method1("seek", (0, 2))?.extract()?;
    fileobj.call_method1("seek", (pos,))?;
    Ok(Some(end.saturating_sub(pos)))
}

/// A contiguous numpy array as `.npy` data: its bytes as they are in memory, in its byte
/// order, C order unless it is only Fortran-contiguous (numpy.save's rule).
struct RawNpy<'a> {
    dtype: NpyDtype,
    shape: Vec<usize>,
    fortran: bool,
    bytes: &'a [u8],
}

impl NpyWritable for RawNpy<'_> {
    fn npy_dtype(&self) -> NpyDtype {
        self.dtype
    }

    fn npy_shape(&self) -> Vec<usize> {
        self.shape.clone()
    }

    fn npy_fortran_order(&self) -> bool {
        self.fortran
    }

    fn write_values(&self, out: &mut dyn Write) -> neurovox::Result<()> {
        out.write_all(self.bytes).map_err(neurovox::Error::io)
    }
}

/// What a [`RawNpy`] needs, gathered with the GIL held; the pointer stays valid while the
/// array it came from is held by the caller.
struct RawParts {
    dtype: NpyDtype,
    shape: Vec<usize>,
    fortran: bool,
    ptr: SendPtr,
}

impl RawParts {
    /// # Safety
    /// The array the pointer came from must be held, and not written, for `'a`.
    unsafe fn raw<'a>(&self) -> RawNpy<'a> {
        RawNpy {
            dtype: self.dtype,
            shape: self.shape.clone(),
            fortran: self.fortran,
            // SAFETY: guaranteed by the caller.
            bytes: unsafe { self.ptr.as_mut_slice() },
        }
    }
}

/// The parts of a contiguous numpy array to write; a `TypeError` naming `file` and the dtype
/// for dtypes `.npy` files cannot hold in neurovox.
fn raw_parts(array: &Bound<'_, PyUntypedArray>, file: &str) -> PyResult<RawParts> {
    let dtype = array.dtype();
    let supported = if dtype.kind() == b'b' {
        Some(NpyDtype::Bool)
    } else {
        storage_dtype(dtype.as_any())?
            .filter(|s| !matches!(s.dtype, DataType::Rgb24 | DataType::Rgba32))
            .map(NpyDtype::Number)
    };
    let Some(storage) = supported else {
        return Err(PyTypeError::new_err(format!(
            "cannot save {file}: dtype {} ({}) is not supported; neurovox writes .npy arrays of \
             bool, (u)int8-64, float32/64 and complex64/128",
            dtype.str()?,
            dtype.getattr("name")?
        )));
    };
    Ok(RawParts {
        dtype: storage,
        shape: array.shape().to_vec(),
        fortran: !array.is_c_contiguous(),
        ptr: data_ptr(array)?,
    })
}

/// `numpy.save(path, array)`, atomically: `array` is contiguous (the caller makes it so).
#[pyfunction]
pub fn save_npy_native(
    py: Python<'_>,
    path: PathBuf,
    array: Bound<'_, PyUntypedArray>,
) -> PyResult<()> {
    let parts = raw_parts(&array, &path.display().to_string())?;
    py.detach(|| {
        // SAFETY: `array` is held by this frame for the whole closure and only read.
        let raw = unsafe { parts.raw() };
        npy::save_npy(&path, &raw)
    })
    .map_err(numpy_error)
}

/// `numpy.save(fileobj, array)`: the `.npy` bytes written to a Python file object.
#[pyfunction]
pub fn save_npy_fileobj(
    fileobj: Bound<'_, PyAny>,
    array: Bound<'_, PyUntypedArray>,
    name: &str,
) -> PyResult<()> {
    let parts = raw_parts(&array, name)?;
    // SAFETY: `array` is held by this frame for the whole call and only read.
    let raw = unsafe { parts.raw() };
    let mut out = PyWriter::new(fileobj);
    npy::write_npy(&mut out, &raw)
        .and_then(|()| out.flush().map_err(neurovox::Error::io))
        .map_err(|e| numpy_error(e.with_path(name)))
}

/// `numpy.savez` / `savez_compressed`: `arrays` (contiguous) under `names`, atomically.
#[pyfunction]
pub fn savez_native(
    py: Python<'_>,
    path: PathBuf,
    names: Vec<String>,
    arrays: Vec<Bound<'_, PyUntypedArray>>,
    compressed: bool,
) -> PyResult<()> {
    if names.len() != arrays.len() {
        return Err(PyValueError::new_err("one name per array"));
    }
    let file = path.display().to_string();
    let parts = arrays
        .iter()
        .zip(&names)
        .map(|(a, name)| raw_parts(a, &format!("{file} member {name:?}")))
        .collect::<PyResult<Vec<_>>>()?;
    py.detach(|| {
        // SAFETY: every array is held by this frame (`arrays`) for the whole closure.
        let raws: Vec<RawNpy<'_>> = parts.iter().map(|p| unsafe { p.raw() }).collect();
        let members: Vec<(&str, &dyn NpyWritable)> = names
            .iter()
            .zip(&raws)
            .map(|(n, r)| (n.as_str(), r as &dyn NpyWritable))
            .collect();
        if compressed {
            neurovox::numpy::npz::savez_compressed(&path, &members)
        } else {
            neurovox::numpy::npz::savez(&path, &members)
        }
    })
    .map_err(numpy_error)
}

/// An open `.npz` archive (its member list): what `neurovox.load_npz`'s `NpzFile` reads
/// members through.
#[pyclass(frozen, module = "neurovox._neurovox")]
pub struct NativeNpz {
    archive: NpzArchive,
}

#[pymethods]
impl NativeNpz {
    /// Reads the member list of the archive at `path`.
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let archive = py.detach(|| NpzArchive::open(&path)).map_err(numpy_error)?;
        Ok(NativeNpz { archive })
    }

    /// The archive's path.
    #[getter]
    fn path(&self) -> PathBuf {
        self.archive.path().to_path_buf()
    }

    /// Member names in archive order, `.npy` stripped (numpy's `NpzFile.files`).
    fn names(&self) -> Vec<String> {
        self.archive
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// True if the member is deflated (written by savez_compressed).
    fn is_compressed(&self, name: &str) -> PyResult<bool> {
        self.archive
            .members()
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.compressed)
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(name.to_owned()))
    }

    /// True if the member holds a `.npy` array (else numpy returns its raw bytes).
    fn is_npy(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        py.detach(|| self.archive.is_npy(name)).map_err(numpy_error)
    }

    /// A member's raw (decompressed) bytes.
    fn read_bytes<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py
            .detach(|| self.archive.read_member_bytes(name))
            .map_err(numpy_error)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// A member's array: with `mmap_mode` `'r'` or `'c'` a stored member is a numpy.memmap
    /// (`subtype`) viewing the archive in place; deflated members (and `mmap_mode=None`) are
    /// read into memory with the GIL released.
    #[pyo3(signature = (name, mmap_mode, subtype))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        mmap_mode: Option<&str>,
        subtype: Bound<'py, PyType>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Some(mode) = mmap_mode {
            let mode = parse_mode(mode)?;
            let mapped = py
                .detach(|| self.archive.map_member(name, mode))
                .map_err(numpy_error)?;
            if let Some((header, map)) = mapped {
                return memmap_of_npy(py, &header, map, &subtype);
            }
        }
        let (header, mut reader) = py
            .detach(|| self.archive.open_member(name))
            .map_err(numpy_error)?;
        read_new_array(py, &header, &mut reader)
            .map_err(|e| with_path_note(py, e, &self.archive.path().display().to_string()))
    }
}
