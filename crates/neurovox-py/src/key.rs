//! Python indexing keys (`proxy[key]`) to a [`Selection`].
//!
//! Accepted, as numpy's basic indexing: ints (anything with `__index__`: numpy integers,
//! 0-d integer arrays), slices with any start, stop and non-zero step, `None`, one `...`, or
//! a tuple of these. Fancy keys — lists, arrays with dimensions, booleans — raise nibabel's
//! `ValueError('Cannot handle fancy indexing')`; other bad items raise `IndexError` with
//! numpy's wording.

use neurovox::array::{Selection, SliceItem};
use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyEllipsis, PySlice, PyTuple};

const FANCY: &str = "Cannot handle fancy indexing";

/// The selection a Python key describes.
pub fn parse_key(key: &Bound<'_, PyAny>) -> PyResult<Selection> {
    let items = match key.cast::<PyTuple>() {
        Ok(tuple) => tuple
            .iter()
            .map(|item| parse_item(&item))
            .collect::<PyResult<Vec<_>>>()?,
        Err(_) => vec![parse_item(key)?],
    };
    Ok(Selection::new(items))
}

fn parse_item(item: &Bound<'_, PyAny>) -> PyResult<SliceItem> {
    if item.is_none() {
        return Ok(SliceItem::NewAxis);
    }
    if item.is_instance_of::<PyEllipsis>() {
        return Ok(SliceItem::Ellipsis);
    }
    if let Ok(slice) = item.cast::<PySlice>() {
        let bound = |name: &str| -> PyResult<Option<isize>> {
            let value = slice.getattr(name)?;
            if value.is_none() {
                return Ok(None);
            }
            index_value(&value).map(Some).map_err(|_| {
                PyIndexError::new_err(
                    "slice indices must be integers or None or have an __index__ method",
                )
            })
        };
        let step = bound("step")?.unwrap_or(1);
        if step == 0 {
            return Err(PyValueError::new_err("slice step cannot be zero"));
        }
        return Ok(SliceItem::Slice {
            start: bound("start")?,
            stop: bound("stop")?,
            step,
        });
    }
    if is_fancy(item)? {
        return Err(PyValueError::new_err(FANCY));
    }
    index_value(item).map(SliceItem::Index).map_err(|_| {
        PyIndexError::new_err(
            "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer \
             arrays are valid indices",
        )
    })
}

/// A Python integer (via `__index__`), saturated to `isize` (an index that large is out of
/// bounds anyway).
fn index_value(item: &Bound<'_, PyAny>) -> PyResult<isize> {
    let py = item.py();
    let index = py.import("operator")?.getattr("index")?.call1((item,))?;
    match index.extract::<isize>() {
        Ok(v) => Ok(v),
        Err(_) => {
            let negative: bool = index.lt(0)?;
            Ok(if negative { isize::MIN } else { isize::MAX })
        }
    }
}

/// nibabel's `is_fancy` for one item: arrays with dimensions, sequences, booleans.
fn is_fancy(item: &Bound<'_, PyAny>) -> PyResult<bool> {
    if item.is_instance_of::<PyBool>() {
        return Ok(true);
    }
    if let Ok(ndim) = item.getattr("ndim") {
        if ndim.extract::<usize>().unwrap_or(0) > 0 {
            return Ok(true);
        }
        if let Ok(dtype) = item.getattr("dtype")
            && dtype.getattr("kind")?.extract::<String>()? == "b"
        {
            return Ok(true);
        }
        // A numpy scalar or 0-d array: an index if it has `__index__` (0-d arrays have
        // `__len__` too, which raises).
        return Ok(false);
    }
    Ok(item.hasattr("__len__")? && !item.is_instance_of::<pyo3::types::PyString>())
}
