//! [`NativeImage`]: the core's `Image`, for loading, saving and dirty tracking.
//!
//! The Python image classes keep their own header, affine and caches (nibabel's objects,
//! which users change in place); before asking whether the image matches its files, or
//! saving it, they hand the current header and affine to this object.

use crate::errors::IntoPyResult;
use crate::header::{NativeHeader, format_of};
use crate::proxy::{NativeProxy, StateTuple, mmap_name, state_from_tuple, state_to_tuple};
use neurovox::format::affine::Affine;
use neurovox::image::DirtyReason;
use neurovox::image::ProxyOptions;
use neurovox::image::{DataObj, Image};
use neurovox::io::FileFingerprint;
use neurovox::{DataType, Header, SaveOptions};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::ffi::OsString;
use std::path::PathBuf;

/// `(header, image, mat)` bytes of a saved image ([`NativeImage::to_bytes`]).
type SavedPyBytes<'py> = (
    Option<Bound<'py, PyBytes>>,
    Bound<'py, PyBytes>,
    Option<Bound<'py, PyBytes>>,
);

/// An image of the core library.
#[pyclass(module = "neurovox._neurovox")]
pub struct NativeImage {
    inner: Image,
    /// The header the image was loaded with (the file's consumable fields).
    loaded: Option<Header>,
}

/// The fields nibabel's image constructors reset in the headers they keep ("consumable":
/// the data offset and the scale factors), which are restored from the file's header when
/// comparing or saving.
const CONSUMABLE: [&str; 3] = ["vox_offset", "scl_slope", "scl_inter"];

fn data_obj(data: &Bound<'_, PyAny>) -> PyResult<DataObj> {
    if let Ok(proxy) = data.cast::<NativeProxy>() {
        return Ok(DataObj::Proxy(proxy.get().inner.clone()));
    }
    Ok(DataObj::Array(crate::convert::numpy_to_dyn(data)?))
}

fn save_options(
    dtype: Option<&Bound<'_, PyAny>>,
    compresslevel: Option<u32>,
    hard_links: Option<&str>,
) -> PyResult<SaveOptions> {
    let hard_links = match hard_links {
        None => neurovox::io::atomic::HardLinks::default(),
        Some(name) => neurovox::io::atomic::HardLinks::parse(name).ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err(format!(
                "hard_links must be 'refuse', 'replace' or 'in_place', not {name:?}"
            ))
        })?,
    };
    let dtype: Option<DataType> = match dtype {
        Some(d) if !d.is_none() => Some(crate::convert::parse_storage(d)?.dtype),
        _ => None,
    };
    Ok(SaveOptions {
        dtype,
        level: compresslevel,
        hard_links,
    })
}

/// An image handle as pickles carry it; see [`NativeImage::handle`].
type HandleTuple = (
    String,
    OsString,
    OsString,
    String,
    Option<bool>,
    Vec<(OsString, Option<StateTuple>)>,
    Option<(String, bool, bool)>,
);

impl NativeImage {
    /// `header` with its consumable fields (`vox_offset`, `scl_slope`, `scl_inter`) restored
    /// from the header the image was loaded with, so resetting them — which every nibabel
    /// image does — is no change.
    fn as_loaded(&self, header: &neurovox::Header) -> PyResult<neurovox::Header> {
        let mut new = header.clone();
        if let Some(loaded) = &self.loaded
            && loaded.format() == new.format()
        {
            for name in CONSUMABLE {
                if let Ok(value) = loaded.get(name) {
                    new.set(name, value).py()?;
                }
            }
        }
        Ok(new)
    }

    /// Takes the header and affine the Python image holds, as a save or `mark_clean` leaves
    /// the image: the header's consumable fields are restored by [`Self::as_loaded`]; an
    /// affine that appeared or went away rebuilds the image around the same data object.
    fn adopt(&mut self, header: &neurovox::Header, affine: Option<Affine>) -> PyResult<()> {
        let new = self.as_loaded(header)?;
        *self.inner.header_mut() = new;
        match (self.inner.affine_mut(), affine) {
            (Some(slot), Some(a)) => *slot = a,
            (Some(_), None) | (None, Some(_)) => {
                let data = self.inner.dataobj().clone();
                let header = self.inner.header().clone();
                let format = self.inner.format();
                self.inner = Image::from_dataobj(data, affine, Some(&header), format).py()?;
                self.loaded = None;
            }
            (None, None) => {}
        }
        Ok(())
    }
}

#[pymethods]
impl NativeImage {
    /// Loads the image at `path` as the class `format` (`None`: detect it), reading only the
    /// header.
    #[staticmethod]
    #[pyo3(signature = (path, format=None, mmap="c", keep_file_open=None, parrec=None))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        format: Option<&str>,
        mmap: &str,
        keep_file_open: Option<bool>,
        parrec: Option<(String, bool, bool)>,
    ) -> PyResult<NativeImage> {
        let format = format.map(format_of).transpose()?;
        let options = crate::proxy::proxy_options(mmap, keep_file_open, parrec)?;
        let inner = py.detach(|| Image::load_as(&path, format, options)).py()?;
        let loaded = Some(inner.header().clone());
        Ok(NativeImage { inner, loaded })
    }

    /// An image from bytes of a single-file image (NIfTI-1, NIfTI-2, MGH; compressed or not).
    #[staticmethod]
    fn from_bytes(data: Vec<u8>) -> PyResult<NativeImage> {
        let inner = Image::from_bytes(data).py()?;
        let loaded = Some(inner.header().clone());
        Ok(NativeImage { inner, loaded })
    }

    /// An image of `data` (a numpy array or a `NativeProxy`), as nibabel's constructors
    /// build one: see the core's `Image::from_dataobj`.
    #[staticmethod]
    #[pyo3(signature = (data, affine, header, format))]
    fn from_parts(
        data: &Bound<'_, PyAny>,
        affine: Option<Affine>,
        header: Option<PyRef<'_, NativeHeader>>,
        format: &str,
    ) -> PyResult<NativeImage> {
        let inner = Image::from_dataobj(
            data_obj(data)?,
            affine,
            header.as_ref().map(|h| &h.inner),
            format_of(format)?,
        )
        .py()?;
        Ok(NativeImage {
            inner,
            loaded: None,
        })
    }

    /// Saves `data` (a numpy array) as an image of the class `format` made with `header` and
    /// `affine` as [`NativeImage::from_parts`] would make it, to `path`, and returns the
    /// saved image (not yet known to match: the Python image marks it clean with its own
    /// header) and whether the file holds the array's values exactly. The
    /// array is read where it lies, with the GIL released: no copy into the core, converted
    /// in pieces on every core. Arrays that are not contiguous, aligned and in native byte
    /// order are first made so by numpy.
    #[staticmethod]
    #[allow(clippy::too_many_arguments)] // the Python signature: nibabel's save arguments
    #[pyo3(signature = (data, affine, header, format, path, dtype=None, compresslevel=None, hard_links=None))]
    fn save_array(
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        affine: Option<Affine>,
        header: Option<PyRef<'_, NativeHeader>>,
        format: &str,
        path: PathBuf,
        dtype: Option<&Bound<'_, PyAny>>,
        compresslevel: Option<u32>,
        hard_links: Option<&str>,
    ) -> PyResult<(NativeImage, bool)> {
        use numpy::{PyUntypedArray, PyUntypedArrayMethods};
        let np = py.import("numpy")?;
        let mut array = np.getattr("asanyarray")?.call1((data,))?;
        let numpy_dtype = array.getattr("dtype")?;
        let Some(storage) = crate::convert::storage_dtype(&numpy_dtype)? else {
            return Err(crate::errors::HeaderDataError::new_err(format!(
                "data dtype \"{}\" not supported",
                numpy_dtype.str()?
            )));
        };
        let flags = array.getattr("flags")?;
        let usable = storage.order == neurovox::ByteOrder::NATIVE
            && flags.getattr("aligned")?.extract::<bool>()?
            && (flags.getattr("c_contiguous")?.extract::<bool>()?
                || flags.getattr("f_contiguous")?.extract::<bool>()?);
        if !usable {
            let native = numpy_dtype.call_method1("newbyteorder", ("=",))?;
            array = np.getattr("require")?.call1((array, native, ("A", "F")))?;
        }
        let array = array.cast_into::<PyUntypedArray>()?;
        let shape = array.shape().to_vec();
        let fortran = !array.is_c_contiguous();
        let ptr = crate::convert::data_ptr(&array)?;
        let options = save_options(dtype, compresslevel, hard_links)?;
        let format = format_of(format)?;
        let header = header.map(|h| h.inner.clone());
        let (inner, exact) = py
            .detach(|| -> neurovox::Result<(Image, bool)> {
                // SAFETY: `array` is held by this frame for the whole closure and only read;
                // another Python thread writing it meanwhile changes the values saved, never
                // the memory safety of a read.
                let bytes = unsafe { ptr.as_slice() };
                let view =
                    neurovox::array::DynView::from_bytes(bytes, storage.dtype, &shape, fortran)?;
                let outcome = neurovox::image::save_view(
                    &view,
                    affine.as_ref(),
                    header.as_ref(),
                    format,
                    &path,
                    options,
                )?;
                let mut saved = Image::load_as(&path, Some(format), ProxyOptions::default())?;
                saved.forget_match(outcome.cast.map(DirtyReason::SavedWithCast));
                Ok((saved, outcome.cast.is_none()))
            })
            .map_err(crate::errors::save_error)?;
        Ok((
            NativeImage {
                inner,
                loaded: None,
            },
            exact,
        ))
    }

    /// The image class name.
    #[getter]
    fn format(&self) -> &'static str {
        self.inner.format().nibabel_class()
    }

    /// A copy of the header.
    fn header(&self) -> NativeHeader {
        NativeHeader {
            inner: self.inner.header().clone(),
        }
    }

    /// The affine, if any.
    fn affine(&self) -> Option<Affine> {
        self.inner.affine().copied()
    }

    /// The data object, if it is a proxy.
    fn proxy(&self) -> Option<NativeProxy> {
        match self.inner.dataobj() {
            DataObj::Proxy(p) => Some(NativeProxy {
                inner: p.clone(),
                fingerprint: p.file().and_then(|file| {
                    self.inner
                        .fingerprints()?
                        .iter()
                        .find(|print| print.path == file)
                        .cloned()
                }),
            }),
            DataObj::Array(_) => None,
        }
    }

    /// `(header file, image file)`.
    fn files(&self) -> (Option<PathBuf>, Option<PathBuf>) {
        let f = self.inner.file_map();
        (f.header.clone(), f.image.clone())
    }

    /// The image's handle (the core's `ImageHandle`: format, paths, load options, file
    /// fingerprints — never data) as a tuple of strings and integers for pickling:
    /// `(class, header path, image path, mmap, keep_file_open, [(path, state or None)])`.
    /// A `ValueError` naming the reason for an image that may differ from its files.
    fn handle(&self) -> PyResult<HandleTuple> {
        let handle = self.inner.handle().py()?;
        Ok((
            handle.format.nibabel_class().to_owned(),
            handle.header_path.into_os_string(),
            handle.image_path.into_os_string(),
            mmap_name(handle.options.mmap).to_owned(),
            handle.options.keep_file_open,
            handle
                .files
                .into_iter()
                .map(|print| (print.path.into_os_string(), state_to_tuple(&print.state)))
                .collect(),
            // PAR/REC's load keywords (scaling, permit_truncated, strict_sort) decide its
            // values and shape; other formats have none.
            (handle.format == neurovox::ImageFormat::Parrec).then(|| {
                let p = handle.options.parrec;
                let scaling = match p.scaling {
                    neurovox::format::parrec::ParrecScaling::Dv => "dv",
                    neurovox::format::parrec::ParrecScaling::Fp => "fp",
                };
                (scaling.to_owned(), p.permit_truncated, p.strict_sort)
            }),
        ))
    }

    /// The image a handle tuple refers to, loaded again (only the header is read): a
    /// `StaleFileError` naming the file if any file changed since the handle was made.
    #[staticmethod]
    fn open_handle(py: Python<'_>, handle: HandleTuple) -> PyResult<NativeImage> {
        let (class, header_path, image_path, mmap, keep_file_open, files, parrec) = handle;
        let handle = neurovox::ImageHandle {
            format: format_of(&class)?,
            header_path: header_path.into(),
            image_path: image_path.into(),
            options: crate::proxy::proxy_options(&mmap, keep_file_open, parrec)?,
            files: files
                .into_iter()
                .map(|(path, state)| FileFingerprint {
                    path: path.into(),
                    state: state_from_tuple(state),
                    unexamined: None,
                })
                .collect(),
        };
        let inner = py.detach(|| handle.open()).py()?;
        let loaded = Some(inner.header().clone());
        Ok(NativeImage { inner, loaded })
    }

    /// The image's handle as JSON: data only (paths, format, load options, fingerprints),
    /// safe to send to and accept from untrusted or non-Python workers.
    fn handle_json(&self) -> PyResult<String> {
        let handle = self.inner.handle().py()?;
        serde_json::to_string(&handle)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    }

    /// The image a JSON handle ([`NativeImage::handle_json`]) refers to; a malformed one is
    /// a `ValueError`, one without fingerprints is refused, a changed file is stale.
    #[staticmethod]
    fn open_handle_json(py: Python<'_>, text: &str) -> PyResult<NativeImage> {
        let handle: neurovox::ImageHandle = serde_json::from_str(text).map_err(|e| {
            pyo3::exceptions::PyValueError::new_err(format!("not an image handle: {e}"))
        })?;
        let inner = py.detach(|| handle.open()).py()?;
        let loaded = Some(inner.header().clone());
        Ok(NativeImage { inner, loaded })
    }

    /// True if the image may differ from its files (see the core's `Image::is_dirty`).
    fn is_dirty(&self) -> bool {
        self.inner.is_dirty()
    }

    /// Why the image would differ from its files with the Python image's `header` and
    /// `affine` (consumable fields as in `as_loaded`), in words — only the first reason found with
    /// `first_only`; empty when it would match. A comparison only: nothing is stored.
    #[pyo3(signature = (header, affine, first_only=true))]
    fn dirty_reasons_of(
        &self,
        header: PyRef<'_, NativeHeader>,
        affine: Option<Affine>,
        first_only: bool,
    ) -> PyResult<Vec<String>> {
        let header = self.as_loaded(&header.inner)?;
        Ok(self
            .inner
            .dirty_reasons_of(&header, affine.as_ref(), first_only)
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    /// Every reason the image may differ from its files, in words.
    fn dirty_reasons(&self) -> Vec<String> {
        self.inner
            .dirty_reasons()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Declares the image, with the Python image's `header` and `affine`, matches its files
    /// as they are now.
    fn mark_clean(
        &mut self,
        header: PyRef<'_, NativeHeader>,
        affine: Option<Affine>,
    ) -> PyResult<()> {
        self.adopt(&header.inner, affine)?;
        self.inner.mark_clean().py()?;
        self.loaded = Some(self.inner.header().clone());
        Ok(())
    }

    /// Declares the image may differ from its files.
    fn mark_dirty(&mut self) {
        self.inner.mark_dirty();
    }

    /// `(header file, image file, is_copy)` of the image with the Python image's `header`
    /// and `affine`: its own files when it is clean, else a copy saved in `dir` (the system's
    /// temporary directory by default) — with its values stored as floats of the numpy dtype
    /// `floats` when given (float32 for MGH).
    #[pyo3(signature = (header, affine, dir=None, floats=None))]
    fn as_filename(
        &mut self,
        py: Python<'_>,
        header: PyRef<'_, NativeHeader>,
        affine: Option<Affine>,
        dir: Option<PathBuf>,
        floats: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(PathBuf, PathBuf, bool)> {
        self.adopt(&header.inner, affine)?;
        let floats = floats
            .map(|d| crate::convert::parse_storage(d).map(|s| s.dtype))
            .transpose()?;
        let inner = &self.inner;
        let files = py
            .detach(|| match floats {
                Some(floats) => inner.as_filename_as_floats(dir.as_deref(), floats),
                None => inner.as_filename(dir.as_deref()),
            })
            .py()?;
        Ok((files.header, files.image, files.is_copy))
    }

    /// Saves the image with the Python image's `header` and `affine` to `path` (nibabel's
    /// `to_filename`), storing the data as `dtype` if given; true when the file holds the
    /// image's values exactly (the image then matches it).
    #[allow(clippy::wrong_self_convention)] // nibabel's name; it saves and updates the file map
    #[allow(clippy::too_many_arguments)] // the Python image's state and nibabel's options
    #[pyo3(signature = (path, header, affine, dtype=None, compresslevel=None, hard_links=None))]
    fn to_filename(
        &mut self,
        py: Python<'_>,
        path: PathBuf,
        header: PyRef<'_, NativeHeader>,
        affine: Option<Affine>,
        dtype: Option<&Bound<'_, PyAny>>,
        compresslevel: Option<u32>,
        hard_links: Option<&str>,
    ) -> PyResult<bool> {
        self.adopt(&header.inner, affine)?;
        let options = save_options(dtype, compresslevel, hard_links)?;
        let inner = &mut self.inner;
        py.detach(|| inner.to_filename(&path, options))
            .map_err(crate::errors::save_error)?;
        Ok(!self.inner.is_dirty())
    }

    /// The bytes of each file this image, with the Python image's `header` and `affine`,
    /// saves to (nibabel's `to_file_map` over file objects, `to_stream`, `to_bytes`):
    /// `(header, image, mat)`, the header only for pairs
    /// and the `.mat` only for SPM images with an affine. The same bytes `to_filename` writes
    /// for an uncompressed file name of the image's format.
    #[allow(clippy::wrong_self_convention)] // nibabel's name
    #[pyo3(signature = (header, affine, dtype=None, compresslevel=None))]
    fn to_bytes<'py>(
        &mut self,
        py: Python<'py>,
        header: PyRef<'py, NativeHeader>,
        affine: Option<Affine>,
        dtype: Option<&Bound<'py, PyAny>>,
        compresslevel: Option<u32>,
    ) -> PyResult<SavedPyBytes<'py>> {
        self.adopt(&header.inner, affine)?;
        let options = save_options(dtype, compresslevel, None)?;
        let inner = &self.inner;
        let saved = py
            .detach(|| {
                neurovox::image::save_to_bytes(
                    inner,
                    inner.format(),
                    neurovox::io::Compression::None,
                    options,
                )
            })
            .map_err(crate::errors::save_error)?;
        Ok((
            saved.header.map(|b| PyBytes::new(py, &b)),
            PyBytes::new(py, &saved.image),
            saved.mat.map(|b| PyBytes::new(py, &b)),
        ))
    }
}

/// The voxel transform of nibabel's `img.slicer[key]` for an image of `shape` (the core's
/// `slicer_transform`): the sliced affine is the image's affine times it. Raises
/// `IndexError` with nibabel's messages for keys the slicer refuses.
#[pyfunction]
pub fn slicer_transform(shape: Vec<usize>, key: &Bound<'_, PyAny>) -> PyResult<Affine> {
    let selection = crate::key::parse_key(key)?;
    neurovox::image::slicer_transform(&shape, &selection)
        .map_err(|e| pyo3::exceptions::PyIndexError::new_err(e.message().to_string()))
}

/// The affine of an SPM `.mat` sidecar's bytes (MATLAB v4, as nibabel writes them): its
/// `mat`, or `M` with the x flip, moved to a 0-based voxel origin.
#[pyfunction]
pub fn read_mat_affine(data: &[u8]) -> PyResult<Affine> {
    neurovox::format::spm_mat::read_mat_affine(data).py()
}
