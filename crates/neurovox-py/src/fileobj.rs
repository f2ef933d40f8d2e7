//! Python file objects (`BytesIO`, open files, anything with `read`, `seek` and `tell`) as
//! the core's byte sources and readers.
//!
//! [`PyFileSource`] serves proxies over file objects as nibabel's `ArrayProxy(fileobj, …)`
//! does: every read goes to the object at the time of the read (a `BytesIO` written after the
//! proxy was made is read as it is then), and the object's position is put back after each
//! read, so a proxy never moves its caller's position.

use neurovox::io::Source;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::PyBytes;
use std::io::Read;
use std::sync::Mutex;

/// One lock for every read of a Python file object: a seek, a read and a seek back must not
/// interleave with another thread's on the same object, and real files release the GIL while
/// they read. Taken with [`MutexExt::lock_py_attached`], which never waits holding the GIL.
static FILEOBJ_LOCK: Mutex<()> = Mutex::new(());

/// A Python exception as a core I/O error (the message keeps the exception's type).
fn core_error(py: Python<'_>, e: PyErr) -> neurovox::Error {
    let name = e
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".to_owned());
    neurovox::Error::io(std::io::Error::other(format!(
        "the file object failed: {name}: {}",
        e.value(py)
    )))
}

/// Reads up to `want` bytes from the object's position, looping over short reads until
/// `want` bytes or the end.
fn read_some(fileobj: &Bound<'_, PyAny>, want: usize, out: &mut Vec<u8>) -> PyResult<()> {
    while out.len() < want {
        let data = fileobj.call_method1("read", (want - out.len(),))?;
        let data = data.cast::<PyBytes>().map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(
                "the file object's read() must return bytes (open it in binary mode)",
            )
        })?;
        let bytes = data.as_bytes();
        if bytes.is_empty() {
            break;
        }
        out.extend_from_slice(&bytes[..bytes.len().min(want - out.len())]);
    }
    Ok(())
}

/// The bytes of a Python file object, read at any offset.
#[derive(Debug)]
pub struct PyFileSource {
    fileobj: Py<PyAny>,
}

impl PyFileSource {
    /// A source over `fileobj`; nothing is read.
    pub fn new(fileobj: Py<PyAny>) -> Self {
        PyFileSource { fileobj }
    }

    /// Runs `f` on the file object at `offset` (or its end when `None`), with the lock held,
    /// and puts the object's position back afterwards, whatever `f` returned.
    fn at<T>(
        &self,
        offset: Option<u64>,
        f: impl FnOnce(&Bound<'_, PyAny>) -> PyResult<T>,
    ) -> neurovox::Result<T> {
        Python::attach(|py| {
            let _guard = FILEOBJ_LOCK
                .lock_py_attached(py)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let fileobj = self.fileobj.bind(py);
            let run = || -> PyResult<T> {
                let pos = fileobj.call_method0("tell")?;
                let moved = match offset {
                    Some(o) => fileobj.call_method1("seek", (o,)),
                    None => fileobj.call_method1("seek", (0, 2)),
                };
                let result = moved.and_then(|_| f(fileobj));
                fileobj.call_method1("seek", (pos,))?;
                result
            };
            run().map_err(|e| core_error(py, e))
        })
    }
}

impl Source for PyFileSource {
    fn len(&self) -> neurovox::Result<u64> {
        self.at(None, |f| f.call_method0("tell")?.extract::<u64>())
    }

    fn len_hint(&self) -> Option<u64> {
        // Asking a file object its size costs a seek: cheap, and it lets reads go straight
        // into their output arrays.
        self.len().ok()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> neurovox::Result<()> {
        let mut out = Vec::with_capacity(buf.len());
        self.at(Some(offset), |f| read_some(f, buf.len(), &mut out))?;
        if out.len() < buf.len() {
            // A read that starts past the end gets nothing: its offset is not where the file
            // object ends, so ask it (a seek) for its length.
            let got_to = offset + out.len() as u64;
            let end = self.len().map_or(got_to, |len| len.min(got_to));
            return Err(neurovox::Error::format(format!(
                "wanted {} bytes at offset {offset}, but the file object ends at byte {end}",
                buf.len(),
            ))
            .offset(offset));
        }
        buf.copy_from_slice(&out);
        Ok(())
    }
}

/// A Python file object read from its position on, as a [`Read`] (for parsing headers).
pub struct PyReader<'py> {
    fileobj: Bound<'py, PyAny>,
}

impl<'py> PyReader<'py> {
    /// A reader of `fileobj` from its current position.
    pub fn new(fileobj: Bound<'py, PyAny>) -> Self {
        PyReader { fileobj }
    }
}

impl Read for PyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut out = Vec::with_capacity(buf.len().min(1 << 20));
        read_some(&self.fileobj, buf.len(), &mut out)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        buf[..out.len()].copy_from_slice(&out);
        Ok(out.len())
    }
}

/// A Python file object written from its position on, as a [`std::io::Write`] (for
/// `save_npy` to an open file).
pub struct PyWriter<'py> {
    fileobj: Bound<'py, PyAny>,
}

impl<'py> PyWriter<'py> {
    /// A writer to `fileobj` at its current position.
    pub fn new(fileobj: Bound<'py, PyAny>) -> Self {
        PyWriter { fileobj }
    }
}

impl std::io::Write for PyWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let py = self.fileobj.py();
        let written = self
            .fileobj
            .call_method1("write", (PyBytes::new(py, buf),))
            .map_err(|e| std::io::Error::other(format!("the file object's write() failed: {e}")))?;
        // Raw files may write less than asked and say so; buffered ones return the length
        // or (some file-likes) None, meaning everything.
        match written.extract::<Option<usize>>() {
            Ok(Some(n)) => Ok(n.min(buf.len())),
            _ => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.fileobj.hasattr("flush").unwrap_or(false) {
            self.fileobj
                .call_method0("flush")
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        Ok(())
    }
}
