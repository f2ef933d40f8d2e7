//! PAR/REC for the Python package: a `.PAR`'s contents as nibabel's `general_info` dict and
//! `image_defs` columns, headers rebuilt from them, and what the core derives (sorted slices,
//! scalings, affine, volume labels, b values). The numpy structured array and nibabel's names
//! live in `python/neurovox/parrec.py`.

use crate::errors::IntoPyResult;
use crate::header::NativeHeader;
use neurovox::format::parrec::{
    AffineOrigin, ColumnKind, ColumnValues, ImageDefs, ParContents, ParrecHeader, ParrecOptions,
    ParrecScaling, ParrecVersion,
};
use neurovox::{FieldValue, Header};
use numpy::PyArrayMethods;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

/// A `.PAR`'s contents for Python: version, general information (short name → `str`, `int`,
/// `float` or a list of numbers), the table's columns `(name, kind, width, values)` with kind
/// `'i'`, `'f'` or `'S'` and values flat row by row (numeric columns as numpy arrays, so a
/// recording of thousands of slices makes no Python object per value), and the general keys
/// nibabel does not know.
type Contents<'py> = (
    &'static str,
    Bound<'py, PyDict>,
    Vec<(&'static str, char, usize, Bound<'py, PyAny>)>,
    Vec<String>,
);

fn contents_for_python<'py>(py: Python<'py>, contents: &ParContents) -> PyResult<Contents<'py>> {
    let general = PyDict::new(py);
    for (name, value) in &contents.general {
        general.set_item(name, crate::header::text_value_to_py(py, value)?)?;
    }
    let mut columns = Vec::new();
    for (def, values) in contents.defs.columns() {
        let (kind, list): (char, Bound<'py, PyAny>) = match values {
            ColumnValues::Ints(v) => ('i', numpy::PyArray1::from_slice(py, v).into_any()),
            ColumnValues::Floats(v) => ('f', numpy::PyArray1::from_slice(py, v).into_any()),
            ColumnValues::Texts(v) => (
                'S',
                PyList::new(py, v.iter().map(|b| PyBytes::new(py, b)))?.into_any(),
            ),
        };
        columns.push((def.name, kind, def.width, list));
    }
    Ok((
        contents.version.as_str(),
        general,
        columns,
        contents.unknown_keys.clone(),
    ))
}

fn parrec_of<'a>(header: &'a NativeHeader, what: &str) -> PyResult<&'a ParrecHeader> {
    match &header.inner {
        Header::Parrec(p) => Ok(p),
        other => Err(PyValueError::new_err(format!(
            "{what} needs a PAR/REC header, not {}",
            other.format()
        ))),
    }
}

/// nibabel's scaling name as the core's.
pub(crate) fn scaling_of(name: &str) -> PyResult<ParrecScaling> {
    ParrecScaling::from_name(name)
        .ok_or_else(|| PyValueError::new_err(format!("Unknown scaling method '{name}'.")))
}

/// The load options a binding was given as `(scaling, permit_truncated, strict_sort)`, or
/// nibabel's defaults.
pub(crate) fn options_or_default(parrec: Option<(String, bool, bool)>) -> PyResult<ParrecOptions> {
    match parrec {
        Some((scaling, permit, strict)) => options_of(&scaling, permit, strict),
        None => Ok(ParrecOptions::default()),
    }
}

/// The core's PAR/REC load options from nibabel's keywords.
pub(crate) fn options_of(
    scaling: &str,
    permit_truncated: bool,
    strict_sort: bool,
) -> PyResult<ParrecOptions> {
    Ok(ParrecOptions {
        scaling: scaling_of(scaling)?,
        permit_truncated,
        strict_sort,
    })
}

/// The contents of a `.PAR` file's bytes (nibabel's `parse_PAR_header`, before the numpy
/// array is built).
#[pyfunction]
pub fn parse_par<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Contents<'py>> {
    let contents = ParContents::parse(data).py()?;
    contents_for_python(py, &contents)
}

/// The contents a PAR/REC header was made from.
#[pyfunction]
pub fn parrec_contents<'py>(
    py: Python<'py>,
    header: PyRef<'_, NativeHeader>,
) -> PyResult<Contents<'py>> {
    contents_for_python(py, parrec_of(&header, "general_info")?.contents())
}

/// A PAR/REC header from nibabel's `general_info` dict and `image_defs` columns (`(name,
/// values)`, values flat row by row) under the load options.
#[pyfunction]
#[pyo3(signature = (general, columns, permit_truncated=false, strict_sort=false, scaling="dv"))]
pub fn parrec_header(
    general: &Bound<'_, PyDict>,
    columns: Vec<(String, Bound<'_, PyAny>)>,
    permit_truncated: bool,
    strict_sort: bool,
    scaling: &str,
) -> PyResult<NativeHeader> {
    let version = ParrecVersion::with_column_count(columns.len()).ok_or_else(|| {
        PyValueError::new_err(format!(
            "image_defs has {} fields; PAR/REC V4, V4.1 and V4.2 have 35, 40 and 41",
            columns.len()
        ))
    })?;
    let mut values = Vec::with_capacity(columns.len());
    for (def, (name, column)) in version.columns().iter().zip(&columns) {
        if name != def.name {
            return Err(PyValueError::new_err(format!(
                "image_defs field {name:?} where {} has {:?}",
                version.as_str(),
                def.name
            )));
        }
        values.push(match def.kind {
            ColumnKind::Int => ColumnValues::Ints(numbers(column)?),
            ColumnKind::Float => ColumnValues::Floats(numbers(column)?),
            ColumnKind::Text => ColumnValues::Texts(column.extract()?),
        });
    }
    let defs = ImageDefs::from_columns(version, values).py()?;
    let mut entries = Vec::with_capacity(general.len());
    for (name, value) in general.iter() {
        let name: String = name.extract()?;
        entries.push((name.clone(), general_value(&name, &value)?));
    }
    let contents = ParContents::new(version, entries, defs).py()?;
    let options = options_of(scaling, permit_truncated, strict_sort)?;
    let header = ParrecHeader::from_contents(contents, options).py()?;
    Ok(NativeHeader {
        inner: Header::Parrec(header),
    })
}

/// A numeric column: a one-dimensional numpy array of the type (copied without a Python object
/// per value), or any sequence of numbers.
fn numbers<T: numpy::Element + Copy + for<'a, 'py> FromPyObject<'a, 'py>>(
    column: &Bound<'_, PyAny>,
) -> PyResult<Vec<T>> {
    if let Ok(array) = column.cast::<numpy::PyArray1<T>>()
        && let Ok(view) = array.try_readonly()
        && let Ok(slice) = view.as_slice()
    {
        return Ok(slice.to_vec());
    }
    column.extract()
}

/// One `general_info` value: text, a number, or numbers.
fn general_value(name: &str, value: &Bound<'_, PyAny>) -> PyResult<FieldValue> {
    if let Ok(text) = value.extract::<String>() {
        return Ok(FieldValue::Bytes(text.into_bytes()));
    }
    if let Ok(v) = value.extract::<i64>()
        && !value.is_instance_of::<pyo3::types::PyFloat>()
    {
        return Ok(FieldValue::Int(v));
    }
    if let Ok(v) = value.extract::<f64>() {
        return Ok(FieldValue::Float(v));
    }
    let items = value
        .call_method0("tolist")
        .unwrap_or_else(|_| value.clone());
    if let Ok(v) = items.extract::<Vec<i64>>() {
        return Ok(FieldValue::Ints(v));
    }
    if let Ok(v) = items.extract::<Vec<f64>>() {
        return Ok(FieldValue::Floats(v));
    }
    Err(PyValueError::new_err(format!(
        "general_info[{name:?}]: {} is not text, a number or numbers",
        value.repr()?
    )))
}

/// What the core derives from a PAR/REC header, as a dict: `sorted` (the `.REC` slice at each
/// array slice), `warnings`, `rec_shape`, `slice_orientation` (a label, or the error text),
/// `descrip`, `xyzt_units`, and the load options `scaling`, `permit_truncated`,
/// `strict_sort`.
#[pyfunction]
pub fn parrec_info<'py>(
    py: Python<'py>,
    header: PyRef<'_, NativeHeader>,
) -> PyResult<Bound<'py, PyDict>> {
    let par = parrec_of(&header, "PAR/REC information")?;
    let info = PyDict::new(py);
    info.set_item("sorted", par.sorted_slice_indices().to_vec())?;
    info.set_item("warnings", par.warnings().to_vec())?;
    info.set_item("rec_shape", par.rec_shape().ok().map(|s| s.to_vec()))?;
    info.set_item(
        "slice_orientation",
        match par.slice_orientation() {
            Ok(o) => o.label().to_owned(),
            Err(e) => format!("error: {e}"),
        },
    )?;
    info.set_item("descrip", PyBytes::new(py, &par.nifti_descrip()))?;
    info.set_item("xyzt_units", par.nifti_xyzt_units())?;
    let options = par.options();
    info.set_item(
        "scaling",
        match options.scaling {
            ParrecScaling::Dv => "dv",
            ParrecScaling::Fp => "fp",
        },
    )?;
    info.set_item("permit_truncated", options.permit_truncated)?;
    info.set_item("strict_sort", options.strict_sort)?;
    Ok(info)
}

/// nibabel's `get_affine(origin)`: `'scanner'` or `'fov'`.
#[pyfunction]
pub fn parrec_affine(header: PyRef<'_, NativeHeader>, origin: &str) -> PyResult<[[f64; 4]; 4]> {
    let origin = match origin {
        "scanner" => AffineOrigin::Scanner,
        "fov" => AffineOrigin::Fov,
        other => {
            return Err(PyValueError::new_err(format!(
                "origin must be 'scanner' or 'fov', not {other:?}"
            )));
        }
    };
    parrec_of(&header, "get_affine")?.affine_from(origin).py()
}

/// Each array slice's slope and intercept under `method` (`'dv'` or `'fp'`), slice fastest.
#[pyfunction]
pub fn parrec_scaling(
    header: PyRef<'_, NativeHeader>,
    method: &str,
) -> PyResult<(Vec<f64>, Vec<f64>)> {
    parrec_of(&header, "get_data_scaling")?
        .data_scaling(scaling_of(method)?)
        .py()
}

/// The labels that change between volumes, with one value per volume.
#[pyfunction]
pub fn parrec_volume_labels(
    header: PyRef<'_, NativeHeader>,
) -> PyResult<Vec<(&'static str, Vec<i64>)>> {
    Ok(parrec_of(&header, "get_volume_labels")?.volume_labels())
}

/// The b values and vectors (`None` where there are none).
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn parrec_bvals_bvecs(
    header: PyRef<'_, NativeHeader>,
) -> PyResult<(Option<Vec<f64>>, Option<Vec<[f64; 3]>>)> {
    parrec_of(&header, "get_bvals_bvecs")?.bvals_bvecs().py()
}
