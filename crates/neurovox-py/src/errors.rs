//! neurovox errors as the Python exceptions nibabel raises.
//!
//! | core reason or kind | Python |
//! |---|---|
//! | reason `Truncated` | `ImageTruncatedError`: an `ImageFileError`, `EOFError` and `OSError` |
//! | reason `HeaderValue` (a bad header value; every `Unsupported`) | `HeaderDataError` |
//! | reason `FileContent` (any other `Format` error) | `ImageFileError` |
//! | `Io` (file missing / no permission) | `FileNotFoundError` / `PermissionError`, else `OSError` |
//! | `Stale` | `StaleFileError`, an `ImageFileError` |
//! | `Limit` | `ImageLimitError`: both an `ImageFileError` and an `OSError` (nibabel's short-read error) |
//! | `Usage` | `ValueError` (`WriterError`, a subclass, while saving) |
//!
//! The message is the core's: the file, the field and the byte offset where known.

use pyo3::exceptions::{
    PyException, PyFileNotFoundError, PyOSError, PyPermissionError, PyValueError,
};
use pyo3::prelude::{PyAnyMethods, PyDictMethods};
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use pyo3::{Bound, Py, PyErr, PyResult, Python, create_exception};

create_exception!(
    neurovox,
    ImageFileError,
    PyException,
    "The file is not an image neurovox can read (nibabel's `ImageFileError`)."
);
create_exception!(
    neurovox,
    HeaderDataError,
    PyException,
    "A header value is invalid or unsupported (nibabel's `HeaderDataError`)."
);
create_exception!(
    neurovox,
    HeaderTypeError,
    PyException,
    "The header cannot do what was asked (nibabel's `HeaderTypeError`)."
);
create_exception!(
    neurovox,
    WriterError,
    PyValueError,
    "The data cannot be written as asked: scaling needed that the format cannot store, or a \
     cast between kinds of values (nibabel's `WriterError`, here also a `ValueError`)."
);
create_exception!(
    neurovox,
    StaleFileError,
    ImageFileError,
    "The file changed on disk since it was opened."
);

/// The Python exception for a core error.
pub fn to_py(e: neurovox::Error) -> PyErr {
    use neurovox::ErrorKind as K;
    use neurovox::ErrorReason as R;
    let message = e.to_string();
    match e.reason() {
        R::Truncated => return error_of(truncated_error_type, message),
        R::HeaderValue => return HeaderDataError::new_err(message),
        R::FileContent => return ImageFileError::new_err(message),
        _ => {}
    }
    match e.kind() {
        K::Io => {
            let io_kind = std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .map(std::io::Error::kind);
            match io_kind {
                Some(std::io::ErrorKind::NotFound) => {
                    let path = e
                        .path()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    PyFileNotFoundError::new_err(format!(
                        "No such file or no access: '{path}' ({message})"
                    ))
                }
                Some(std::io::ErrorKind::PermissionDenied) => PyPermissionError::new_err(message),
                _ => PyOSError::new_err(message),
            }
        }
        K::Stale => StaleFileError::new_err(message),
        K::Limit => error_of(limit_error_type, message),
        _ => PyValueError::new_err(message),
    }
}

/// `ImageLimitError`, a subclass of both `ImageFileError` and `OSError`: a file whose header
/// asks for more than its data holds is a bad image file (what code written for nibabel's
/// `ImageFileError` catches) and a short read (nibabel's `OSError`). Made by calling `type`,
/// since a pyo3 exception has a single base.
static LIMIT_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The `ImageLimitError` type (see [`LIMIT_ERROR`]).
pub fn limit_error_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    let bases = (py.get_type::<ImageFileError>(), py.get_type::<PyOSError>());
    exception_type(
        py,
        &LIMIT_ERROR,
        "ImageLimitError",
        bases,
        "A file asks for more than it holds or than neurovox's limits allow: both an \
         ImageFileError and an OSError (nibabel's short-read error).",
    )
}

/// `ImageTruncatedError`, a subclass of `ImageFileError`, `EOFError` and `OSError`: the file
/// ends before the data it declares. nibabel raises `EOFError` (its gzip reader) or `OSError`
/// (a short read) for this; code catching either, or `ImageFileError`, catches it.
static TRUNCATED_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The `ImageTruncatedError` type (see [`TRUNCATED_ERROR`]).
pub fn truncated_error_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    let bases = (
        py.get_type::<ImageFileError>(),
        py.get_type::<pyo3::exceptions::PyEOFError>(),
        py.get_type::<PyOSError>(),
    );
    exception_type(
        py,
        &TRUNCATED_ERROR,
        "ImageTruncatedError",
        bases,
        "The file ends before the data it declares (a truncated download or copy): an \
         ImageFileError, and an EOFError and OSError as nibabel raises for it.",
    )
}

/// An exception class of the `neurovox` module with several bases, made once by calling
/// `type(name, bases, {...})` (a pyo3 exception has a single base) and kept in `cell`.
fn exception_type<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
    bases: impl pyo3::IntoPyObject<'py>,
    doc: &str,
) -> PyResult<&'py Bound<'py, PyType>> {
    cell.get_or_try_init(py, || {
        let attributes = pyo3::types::PyDict::new(py);
        attributes.set_item("__module__", "neurovox")?;
        attributes.set_item("__doc__", doc)?;
        let made = py
            .import("builtins")?
            .getattr("type")?
            .call1((name, bases, attributes))?;
        Ok(made.cast_into::<PyType>()?.unbind())
    })
    .map(|ty| ty.bind(py))
}

/// A Python error of one of the classes made by [`exception_type`], or the error making it.
fn error_of(made: fn(Python<'_>) -> PyResult<&Bound<'_, PyType>>, message: String) -> PyErr {
    Python::attach(|py| match made(py) {
        Ok(ty) => PyErr::from_type(ty.clone(), message),
        Err(e) => e,
    })
}

/// The Python exception for a core error while saving: Usage errors (the array writers'
/// refusals) are `WriterError`s.
pub fn save_error(e: neurovox::Error) -> PyErr {
    if e.kind() == neurovox::ErrorKind::Usage {
        return WriterError::new_err(e.to_string());
    }
    to_py(e)
}

/// The Python exception for a core error in the numpy-shaped functions (`neurovox.memmap`,
/// `load_npy`, `load_npz`…), as numpy raises them: I/O errors as [`to_py`]
/// (`FileNotFoundError`…), everything else — a file too short to map ("mmap length is greater
/// than file size"), a bad mode or shape, a malformed or unsupported `.npy` header — a
/// `ValueError` whose message names the file.
pub fn numpy_error(e: neurovox::Error) -> PyErr {
    match e.kind() {
        neurovox::ErrorKind::Io => to_py(e),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// The result of work on a proxy's data that the binding does itself (planning, converting),
/// as `PyResult<T>`, its error naming the proxy's file by the core's rule
/// (`ArrayProxy::naming_file`).
pub trait IntoPyResultFor<T> {
    /// Converts the error with [`to_py`] after `proxy.naming_file`.
    fn py_for(self, proxy: &neurovox::image::ArrayProxy) -> pyo3::PyResult<T>;
}

impl<T> IntoPyResultFor<T> for neurovox::Result<T> {
    fn py_for(self, proxy: &neurovox::image::ArrayProxy) -> pyo3::PyResult<T> {
        proxy.naming_file(self).map_err(to_py)
    }
}

/// `Result<T, neurovox::Error>` to `PyResult<T>`.
pub trait IntoPyResult<T> {
    /// Converts the error with [`to_py`].
    fn py(self) -> pyo3::PyResult<T>;
}

impl<T> IntoPyResult<T> for neurovox::Result<T> {
    fn py(self) -> pyo3::PyResult<T> {
        self.map_err(to_py)
    }
}
