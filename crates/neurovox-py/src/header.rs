//! [`NativeHeader`]: the core's `Header` for Python.

use crate::errors::{HeaderTypeError, IntoPyResult};
use neurovox::format::affine::Affine;
use neurovox::format::{AnalyzeFlavour, Extension};
use neurovox::{ByteOrder, FieldValue, Header, ImageFormat};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyList};

/// A header of any format: what the Python header classes wrap.
#[pyclass(module = "neurovox._neurovox")]
#[derive(Clone)]
pub struct NativeHeader {
    pub(crate) inner: Header,
}

/// The format of a nibabel image class name.
pub fn format_of(name: &str) -> PyResult<ImageFormat> {
    ImageFormat::from_nibabel_class(name)
        .ok_or_else(|| PyValueError::new_err(format!("unknown image class {name:?}")))
}

fn order_of(endianness: &str) -> PyResult<ByteOrder> {
    match endianness {
        "<" | "little" | "l" | "L" => Ok(ByteOrder::Little),
        ">" | "big" | "b" | "B" => Ok(ByteOrder::Big),
        "=" | "native" | "n" | "N" | "|" => Ok(ByteOrder::NATIVE),
        "swapped" | "s" | "S" => Ok(ByteOrder::NATIVE.swapped()),
        other => Err(PyValueError::new_err(format!("bad endianness {other:?}"))),
    }
}

fn field_value(value: &Bound<'_, PyAny>) -> PyResult<FieldValue> {
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok(FieldValue::Bytes(b.as_bytes().to_vec()));
    }
    if value.is_instance_of::<PyInt>() {
        return Ok(FieldValue::Int(value.extract()?));
    }
    if value.is_instance_of::<PyFloat>() {
        return Ok(FieldValue::Float(value.extract()?));
    }
    if let Ok(list) = value.cast::<PyList>() {
        if list.iter().all(|v| v.is_instance_of::<PyInt>()) {
            return Ok(FieldValue::Ints(list.extract()?));
        }
        return Ok(FieldValue::Floats(list.extract()?));
    }
    Err(PyValueError::new_err(
        "a header field value must be bytes, int, float or a list of them",
    ))
}

impl NativeHeader {
    fn nifti(&mut self, what: &str) -> PyResult<&mut neurovox::format::NiftiHeader> {
        let format = self.inner.format();
        match &mut self.inner {
            Header::Nifti(n) => Ok(n),
            _ => Err(needs(what, "a NIfTI", format)),
        }
    }

    fn ecat_ref(&self, what: &str) -> PyResult<&neurovox::format::EcatHeader> {
        match &self.inner {
            Header::Ecat(e) => Ok(e),
            other => Err(needs(what, "an ECAT7", other.format())),
        }
    }

    fn afni_ref(&self, what: &str) -> PyResult<&neurovox::format::AfniHeader> {
        match &self.inner {
            Header::Afni(a) => Ok(a),
            other => Err(needs(what, "an AFNI", other.format())),
        }
    }

    fn minc_ref(&self, what: &str) -> PyResult<&neurovox::format::MincHeader> {
        match &self.inner {
            Header::Minc(m) => Ok(m),
            other => Err(needs(what, "a MINC", other.format())),
        }
    }

    fn nifti_ref(&self, what: &str) -> PyResult<&neurovox::format::NiftiHeader> {
        match &self.inner {
            Header::Nifti(n) => Ok(n),
            other => Err(needs(what, "a NIfTI", other.format())),
        }
    }
}

#[pymethods]
impl NativeHeader {
    /// The header of an image class read from a Python file object at its position
    /// (nibabel's `header_class.from_fileobj`): NIfTI up to `vox_offset`, MGH on to the
    /// footer after the data. The object is left after what was read.
    #[staticmethod]
    fn from_fileobj(format: &str, fileobj: Bound<'_, PyAny>) -> PyResult<NativeHeader> {
        let format = format_of(format)?;
        let mut reader = crate::fileobj::PyReader::new(fileobj);
        let inner = neurovox::image::read_header_from(&mut reader, format).py()?;
        Ok(NativeHeader { inner })
    }

    /// A default header of an image class (`'Nifti1Image'`…) in a byte order (`'<'`, `'>'`).
    #[new]
    #[pyo3(signature = (format, endianness="="))]
    fn new(format: &str, endianness: &str) -> PyResult<Self> {
        Ok(NativeHeader {
            inner: Header::new(format_of(format)?, order_of(endianness)?),
        })
    }

    /// A header parsed from bytes (the header block, and for NIfTI what follows up to the
    /// data: extensions), with nibabel's checks and fixes.
    #[staticmethod]
    fn parse(format: &str, data: &[u8]) -> PyResult<Self> {
        Ok(NativeHeader {
            inner: Header::parse(format_of(format)?, data).py()?,
        })
    }

    /// A copy.
    fn copy(&self) -> Self {
        self.clone()
    }

    /// The image class this header belongs to.
    #[getter]
    fn format(&self) -> &'static str {
        self.inner.format().nibabel_class()
    }

    /// `'<'` or `'>'`.
    #[getter]
    fn endianness(&self) -> String {
        self.inner.byte_order().numpy_char().to_string()
    }

    /// The raw header block (MGH: header and footer).
    #[getter]
    fn binaryblock<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.binary_block())
    }

    /// The field table: `(name, offset, kind, count, columns)` with kind one of `i1 u1 i2 u2
    /// i4 u4 i8 f4 f8 S`.
    fn layout(&self) -> Vec<LayoutRow> {
        layout_rows(self.inner.layout())
    }

    /// An ECAT7 subheader's field table, as `layout` gives the main header's.
    #[staticmethod]
    fn ecat_subheader_layout() -> Vec<LayoutRow> {
        layout_rows(&neurovox::format::ecat::ECAT_SUBHEADER_LAYOUT)
    }

    /// An ECAT7 header's matrix list: one `[id, subheader block, last block, status]` row per
    /// frame the main header counts.
    fn ecat_mlist(&self) -> PyResult<Vec<[i32; 4]>> {
        Ok(self.ecat_ref("get_mlist")?.mlist().to_vec())
    }

    /// An ECAT7 header's subheaders (510 bytes each, the header's byte order), in matrix-list
    /// order.
    fn ecat_subheader_blocks<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        Ok(self
            .ecat_ref("get_subheaders")?
            .subheaders()
            .iter()
            .map(|s| PyBytes::new(py, s.bytes()))
            .collect())
    }

    /// The matrix-list rows of an ECAT7 image's frames in array order.
    fn ecat_frame_order(&self) -> PyResult<Vec<usize>> {
        Ok(self.ecat_ref("frame order")?.frame_order())
    }

    /// The size of the header block in bytes.
    #[getter]
    fn sizeof(&self) -> usize {
        self.inner.layout().size
    }

    /// Sets a field by name: bytes, an int, a float, or a list of ints or floats.
    fn set(&mut self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.set(name, field_value(value)?).py()
    }

    /// The data shape.
    fn get_data_shape(&self) -> PyResult<Vec<usize>> {
        self.inner.data_shape().py()
    }

    /// Sets the data shape.
    fn set_data_shape(&mut self, shape: Vec<usize>) -> PyResult<()> {
        self.inner.set_data_shape(&shape).py()
    }

    /// The stored numpy dtype.
    fn get_data_dtype<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::numpy_dtype(py, self.inner.data_dtype().py()?)
    }

    /// Sets the stored dtype from a numpy dtype (HeaderDataError if the format cannot store
    /// it).
    fn set_data_dtype(&mut self, dtype: &Bound<'_, PyAny>) -> PyResult<()> {
        let storage = crate::convert::parse_storage(dtype)?;
        self.inner.set_data_dtype(storage.dtype).py()
    }

    /// Voxel sizes.
    fn get_zooms(&self) -> Vec<f64> {
        self.inner.zooms()
    }

    /// Sets voxel sizes.
    fn set_zooms(&mut self, zooms: Vec<f64>) -> PyResult<()> {
        self.inner.set_zooms(&zooms).py()
    }

    /// The data offset.
    fn get_data_offset(&self) -> u64 {
        self.inner.data_offset()
    }

    /// Sets the data offset (NIfTI and Analyze: `vox_offset`; MGH has a fixed offset).
    fn set_data_offset(&mut self, offset: u64) -> PyResult<()> {
        match &mut self.inner {
            Header::Nifti(n) => n.set_data_offset(offset).py(),
            Header::Analyze(_) => self
                .inner
                .set("vox_offset", FieldValue::Float(offset as f64))
                .py(),
            Header::Mgh(_)
            | Header::Afni(_)
            | Header::Ecat(_)
            | Header::Parrec(_)
            | Header::Minc(_) => Ok(()),
        }
    }

    /// `(slope, inter)`, `None` for no scaling.
    fn get_slope_inter(&self) -> PyResult<(Option<f64>, Option<f64>)> {
        self.inner.slope_inter().py()
    }

    /// Sets the scaling as nibabel's headers do (`None` stores NaN for NIfTI and SPM;
    /// Analyze accepts only no scaling).
    #[pyo3(signature = (slope, inter=None))]
    fn set_slope_inter(&mut self, slope: Option<f64>, inter: Option<f64>) -> PyResult<()> {
        match &mut self.inner {
            Header::Afni(_) | Header::Ecat(_) | Header::Parrec(_) | Header::Minc(_) => {
                Err(HeaderTypeError::new_err(
                    "AFNI, ECAT, PAR/REC and MINC headers scale each sub-brick, frame or slice \
                     by its own factor; they have no slope and intercept to set",
                ))
            }
            Header::Nifti(n) => n.set_slope_inter(slope, inter).py(),
            Header::Analyze(a) => {
                let flavour = a.flavour();
                let slope_ok = matches!(slope, None | Some(1.0)) || slope.is_some_and(f64::is_nan);
                let inter_ok = matches!(inter, None | Some(0.0)) || inter.is_some_and(f64::is_nan);
                match flavour {
                    AnalyzeFlavour::Analyze => {
                        if slope_ok && inter_ok {
                            Ok(())
                        } else {
                            Err(HeaderTypeError::new_err(
                                "Cannot set slope != 1 or intercept != 0 for Analyze headers",
                            ))
                        }
                    }
                    // SPM2 inherits SPM99's setter in nibabel: the intercept field is
                    // left alone, and only a zero or NaN intercept is accepted.
                    AnalyzeFlavour::Spm99 | AnalyzeFlavour::Spm2 => {
                        if !inter_ok {
                            return Err(HeaderTypeError::new_err(
                                "Cannot set non-zero intercept for SPM headers",
                            ));
                        }
                        let s = slope.unwrap_or(f64::NAN);
                        if s == 0.0 || s.is_infinite() {
                            return Err(crate::errors::HeaderDataError::new_err(
                                "Slope cannot be 0 or infinite",
                            ));
                        }
                        self.inner.set("scl_slope", FieldValue::Float(s)).py()
                    }
                }
            }
            Header::Mgh(_) => Err(HeaderTypeError::new_err("MGH headers have no scaling")),
        }
    }

    /// nibabel's `get_best_affine`.
    fn get_best_affine(&self) -> PyResult<Affine> {
        self.inner.best_affine().py()
    }

    /// Stores an affine in the header (nibabel's image `_affine2header`).
    fn store_affine(&mut self, affine: Affine) -> PyResult<()> {
        self.inner.store_affine(&affine).py()
    }

    /// NIfTI: `(qform, code)`.
    fn get_qform(&self) -> PyResult<(Affine, i64)> {
        let n = self.nifti_ref("get_qform")?;
        Ok((n.qform().py()?, n.qform_code()))
    }

    /// NIfTI: `(sform, code)`.
    fn get_sform(&self) -> PyResult<(Affine, i64)> {
        let n = self.nifti_ref("get_sform")?;
        Ok((n.sform(), n.sform_code()))
    }

    /// NIfTI: nibabel's `set_qform`.
    #[pyo3(signature = (affine, code=None, strip_shears=true))]
    fn set_qform(
        &mut self,
        affine: Option<Affine>,
        code: Option<i64>,
        strip_shears: bool,
    ) -> PyResult<()> {
        self.nifti("set_qform")?
            .set_qform(affine.as_ref(), code, strip_shears)
            .py()
    }

    /// NIfTI: nibabel's `set_sform`.
    #[pyo3(signature = (affine, code=None))]
    fn set_sform(&mut self, affine: Option<Affine>, code: Option<i64>) -> PyResult<()> {
        self.nifti("set_sform")?
            .set_sform(affine.as_ref(), code)
            .py()
    }

    /// NIfTI: the extensions as `(code, raw bytes)`.
    fn get_extensions(&self) -> Vec<(i32, Vec<u8>)> {
        match &self.inner {
            Header::Nifti(n) => n
                .extensions()
                .iter()
                .map(|e| (e.code, e.raw.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// NIfTI: replaces the extensions.
    fn set_extensions(&mut self, extensions: Vec<(i32, Vec<u8>)>) -> PyResult<()> {
        let n = self.nifti("extensions")?;
        *n.extensions_mut() = extensions
            .into_iter()
            .map(|(code, raw)| Extension { code, raw })
            .collect();
        Ok(())
    }

    /// Applies nibabel's checks and fixes; returns the problems as `(level, message)`.
    fn check_fix(&mut self) -> Vec<(u8, String)> {
        self.inner
            .check_fix()
            .iter()
            .map(|p| (p.level, p.to_string()))
            .collect()
    }

    /// The header bytes written before the data.
    fn to_prefix_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.inner.to_prefix_bytes().py()?))
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    /// A header restored byte for byte from what `__reduce__` gives: no checks, no fixes.
    #[staticmethod]
    fn _restore(
        format: &str,
        endianness: &str,
        block: &[u8],
        extensions: Vec<(i32, Vec<u8>)>,
        tags: Vec<u8>,
    ) -> PyResult<Self> {
        let mut inner =
            Header::from_binary_block(format_of(format)?, block, order_of(endianness)?).py()?;
        match &mut inner {
            Header::Nifti(n) => {
                *n.extensions_mut() = extensions
                    .into_iter()
                    .map(|(code, raw)| Extension { code, raw })
                    .collect();
            }
            Header::Mgh(m) => m.set_tag_bytes(tags),
            Header::Analyze(_)
            | Header::Afni(_)
            | Header::Ecat(_)
            | Header::Parrec(_)
            | Header::Minc(_) => {}
        }
        Ok(NativeHeader { inner })
    }

    /// Pickling (and `copy.deepcopy`): the format, byte order, binary block, NIfTI
    /// extensions and MGH tags, restored exactly by `_restore`.
    /// An AFNI header's attributes as nibabel's `info` dict: strings as `str`, one number as
    /// an `int` or `float`, more as a list (a later attribute of a name wins).
    fn afni_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        afni_info_dict(py, self.afni_ref("info")?.attributes())
    }

    /// A MINC header's variables: `dim_names` (file order), `valid_range`, `scale_dims`,
    /// `image_min`, `image_max` (C order over `scale_dims`) and the `warnings` nibabel gives.
    fn minc_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let minc = self.minc_ref("minc_info")?;
        let info = pyo3::types::PyDict::new(py);
        let names: Vec<&str> = minc.dimensions().iter().map(|d| d.name.as_str()).collect();
        info.set_item("dim_names", names)?;
        info.set_item("valid_range", minc.valid_range().to_vec())?;
        info.set_item("scale_dims", minc.scale_dims().to_vec())?;
        info.set_item("image_min", minc.image_min().to_vec())?;
        info.set_item("image_max", minc.image_max().to_vec())?;
        info.set_item("warnings", minc.warnings().to_vec())?;
        Ok(info)
    }

    /// The attributes of a `.HEAD` file's bytes as nibabel's `parse_AFNI_header` dict.
    #[staticmethod]
    fn parse_afni_attributes<'py>(
        py: Python<'py>,
        data: &[u8],
    ) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let attributes = neurovox::format::afni::parse_attributes(data).py()?;
        afni_info_dict(py, &attributes)
    }

    /// An AFNI header from an `info` dict (nibabel's `AFNIHeader(info)`), with the shape,
    /// type and voxel sizes the attributes give.
    #[staticmethod]
    fn from_afni_info(info: &Bound<'_, pyo3::types::PyDict>) -> PyResult<Self> {
        let mut attributes = Vec::with_capacity(info.len());
        for (name, value) in info.iter() {
            let name: String = name.extract()?;
            attributes.push((name.clone(), afni_value(&name, &value)?));
        }
        let afni = neurovox::format::AfniHeader::from_attributes(attributes).py()?;
        Ok(NativeHeader {
            inner: Header::Afni(afni),
        })
    }

    /// One factor per sub-brick, or None (nibabel's `get_data_scaling`).
    fn afni_scaling(&self) -> PyResult<Option<Vec<f64>>> {
        self.afni_ref("get_data_scaling")?.data_scaling().py()
    }

    /// The sub-brick labels (nibabel's `get_volume_labels`).
    fn afni_volume_labels(&self) -> PyResult<Option<Vec<String>>> {
        Ok(self.afni_ref("get_volume_labels")?.volume_labels())
    }

    /// The template space (nibabel's `get_space`).
    fn afni_space(&self) -> PyResult<String> {
        Ok(self.afni_ref("get_space")?.space())
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, pyo3::types::PyTuple>)> {
        let py = slf.py();
        let this = slf.borrow();
        let header = &this.inner;
        let tags = match header {
            Header::Mgh(m) => m.tag_bytes().to_vec(),
            _ => Vec::new(),
        };
        let args = (
            header.format().nibabel_class(),
            header.byte_order().numpy_char().to_string(),
            PyBytes::new(py, header.binary_block()),
            this.get_extensions(),
            PyBytes::new(py, &tags),
        )
            .into_pyobject(py)?;
        Ok((slf.get_type().getattr("_restore")?, args))
    }
}

/// One `info` value as an AFNI attribute: `str`, `int`, `float`, or a list of numbers (a list
/// with a float in it is a float attribute).
fn afni_value(name: &str, value: &Bound<'_, PyAny>) -> PyResult<FieldValue> {
    if let Ok(text) = value.extract::<String>() {
        return Ok(FieldValue::Bytes(text.into_bytes()));
    }
    if value.is_instance_of::<PyInt>() {
        return Ok(FieldValue::Int(value.extract()?));
    }
    if value.is_instance_of::<PyFloat>() {
        return Ok(FieldValue::Float(value.extract()?));
    }
    if let Ok(items) = value.extract::<Vec<Bound<'_, PyAny>>>() {
        if items.iter().all(|v| v.is_instance_of::<PyInt>()) {
            return Ok(FieldValue::Ints(value.extract()?));
        }
        return Ok(FieldValue::Floats(value.extract()?));
    }
    Err(PyValueError::new_err(format!(
        "AFNI attribute {name}: {} is not a str, a number or a list of numbers",
        value.repr()?
    )))
}

/// AFNI attributes as nibabel's `info` dict: strings as `str`, one number as an `int` or
/// `float`, more as a list; a later attribute of a name wins.
fn afni_info_dict<'py>(
    py: Python<'py>,
    attributes: &[(String, FieldValue)],
) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let info = pyo3::types::PyDict::new(py);
    for (name, value) in attributes {
        info.set_item(name, text_value_to_py(py, value)?)?;
    }
    Ok(info)
}

/// A text header's value for Python: text as `str`, one number as `int` or `float`, more as a
/// list (AFNI's `info` and PAR/REC's `general_info` hold them so).
pub(crate) fn text_value_to_py<'py>(
    py: Python<'py>,
    value: &FieldValue,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        FieldValue::Bytes(b) => String::from_utf8_lossy(b).into_pyobject(py)?.into_any(),
        FieldValue::Int(v) => v.into_pyobject(py)?.into_any(),
        FieldValue::Float(v) => v.into_pyobject(py)?.into_any(),
        FieldValue::Ints(v) => PyList::new(py, v)?.into_any(),
        FieldValue::Floats(v) => PyList::new(py, v)?.into_any(),
    })
}

/// The error for a method that needs a header of another format.
fn needs(what: &str, wanted: &str, format: ImageFormat) -> PyErr {
    HeaderTypeError::new_err(format!("{what} needs {wanted} header, not {format}"))
}

/// One row of a field table for Python: name, offset, numpy kind, count, matrix columns.
type LayoutRow = (&'static str, usize, &'static str, usize, usize);

/// A field table's rows.
fn layout_rows(layout: &neurovox::format::fields::Layout) -> Vec<LayoutRow> {
    use neurovox::format::fields::FieldKind as K;
    layout
        .fields
        .iter()
        .map(|f| {
            let kind = match f.kind {
                K::I8 => "i1",
                K::U8 => "u1",
                K::I16 => "i2",
                K::U16 => "u2",
                K::I32 => "i4",
                K::U32 => "u4",
                K::I64 => "i8",
                K::F32 => "f4",
                K::F64 => "f8",
                K::Bytes => "S",
            };
            (f.name, f.offset, kind, f.count, f.columns)
        })
        .collect()
}
