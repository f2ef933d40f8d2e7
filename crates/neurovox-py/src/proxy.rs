//! [`NativeProxy`]: the core's `ArrayProxy` for Python.

use crate::convert::{
    dyn_to_numpy, empty_array, empty_array_with_room, numpy_dtype, numpy_native_dtype,
};
use crate::errors::{IntoPyResult, IntoPyResultFor};
use crate::fileobj::PyFileSource;
use crate::header::NativeHeader;
use neurovox::DataType;
use neurovox::Order;
use neurovox::array::Selection;
use neurovox::array::{DataLayout, ReadPlan, plan_extent, plan_read};
use neurovox::array::{FactorType, Scaling};
use neurovox::image::{ArrayProxy, ArraySpec, MmapMode, ProxyOptions};
use neurovox::io::fingerprint::{FileFingerprint, FileState, MAX_HEAD_BYTES};
use numpy::{PyArrayDescr, PyUntypedArrayMethods};
use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use std::sync::Arc;

/// An array on disk, read lazily: what `neurovox.ArrayProxy` wraps.
#[pyclass(frozen, module = "neurovox._neurovox")]
pub struct NativeProxy {
    pub(crate) inner: ArrayProxy,
    /// The file as it was when the spec was read from it (`None` for file objects): a
    /// pickled proxy carries it, and unpickling checks the file still matches.
    pub(crate) fingerprint: Option<FileFingerprint>,
}

/// A file's recorded state as Python sees it in a pickle: `(device, inode, size, mtime_ns,
/// ctime_ns, head_len, head_digest)`.
pub(crate) type StateTuple = (u64, u64, u64, i128, i128, u64, u128);

pub(crate) fn state_to_tuple(state: &Option<FileState>) -> Option<StateTuple> {
    state.as_ref().map(|s| {
        (
            s.device,
            s.inode,
            s.len,
            s.modified_ns,
            s.changed_ns,
            s.head_len,
            s.head_digest,
        )
    })
}

/// The fingerprint a pickled proxy carries (`()`: the file did not exist when the proxy was
/// made), checked against the file now: a changed file is a `StaleFileError`.
fn checked_fingerprint(
    path: &std::path::Path,
    state: &Bound<'_, PyAny>,
) -> PyResult<FileFingerprint> {
    let state = match state.len()? {
        0 => None,
        _ => Some(state.extract::<StateTuple>()?),
    };
    let print = FileFingerprint {
        path: path.to_path_buf(),
        state: state_from_tuple(state),
        unexamined: None,
    };
    print.check().py()?;
    Ok(print)
}

/// A remote object's fingerprint as a pickle carries it: `(size, etag, last_modified)`.
type RemoteTuple = (u64, Option<String>, Option<String>);

/// Whether `path` is a URL (read remotely) rather than a file.
fn is_url(path: &std::path::Path) -> bool {
    path.to_str().is_some_and(neurovox::io::is_url)
}

/// A proxy of a URL made again from a pickle: the object must still be the one the pickle
/// was made from (`expected`, a [`RemoteTuple`]), else a `StaleFileError` naming the URL.
fn check_remote(
    proxy: &ArrayProxy,
    url: &std::path::Path,
    expected: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let (size, etag, last_modified): RemoteTuple = expected.extract()?;
    let expected = neurovox::io::RemoteFingerprint {
        size,
        etag,
        last_modified,
    };
    match proxy.source().remote_fingerprint() {
        Some(now) if now == expected => Ok(()),
        now => Err(neurovox::Error::stale(format!(
            "the object changed since the proxy was pickled (it was {expected:?}, it is {now:?})"
        ))
        .with_path(url))
        .py(),
    }
}

pub(crate) fn state_from_tuple(state: Option<StateTuple>) -> Option<FileState> {
    state.map(
        |(device, inode, len, modified_ns, changed_ns, head_len, head_digest)| FileState {
            device,
            inode,
            len,
            modified_ns,
            changed_ns,
            head_len,
            head_digest,
        },
    )
}

/// nibabel's `mmap` argument, already validated by the Python layer: `'c'`, `'r'` or `'no'`.
pub fn mmap_mode(mmap: &str) -> PyResult<MmapMode> {
    match mmap {
        "c" => Ok(MmapMode::CopyOnWrite),
        "r" => Ok(MmapMode::ReadOnly),
        "no" => Ok(MmapMode::No),
        other => Err(PyValueError::new_err(format!(
            "mmap should be one of {{True, False, 'c', 'r'}}, not {other:?}"
        ))),
    }
}

/// A load's or proxy's options from the bindings' arguments: the `mmap` name, `keep_file_open`,
/// and PAR/REC's `(scaling, permit_truncated, strict_sort)` (nibabel's defaults if `None`).
pub(crate) fn proxy_options(
    mmap: &str,
    keep_file_open: Option<bool>,
    parrec: Option<(String, bool, bool)>,
) -> PyResult<ProxyOptions> {
    Ok(ProxyOptions {
        mmap: mmap_mode(mmap)?,
        keep_file_open,
        parrec: crate::parrec::options_or_default(parrec)?,
        ..Default::default()
    })
}

pub(crate) fn mmap_name(mode: MmapMode) -> &'static str {
    match mode {
        MmapMode::CopyOnWrite => "c",
        MmapMode::ReadOnly => "r",
        MmapMode::No => "no",
    }
}

impl NativeProxy {
    fn layout(&self) -> DataLayout {
        let spec = self.inner.spec();
        DataLayout::new(
            spec.shape.clone(),
            spec.dtype.dtype.itemsize(),
            spec.offset,
            spec.order,
        )
    }

    /// The read plan of `selection` if the source surely holds every byte it reads (its
    /// length is known and long enough): only then may an output be sized by the header
    /// before reading. `None` otherwise (compressed or short sources), where the core's
    /// growing reads allocate nothing large on a lying header.
    fn plan_if_source_holds(
        &self,
        py: Python<'_>,
        selection: &Selection,
    ) -> PyResult<Option<ReadPlan>> {
        let canonical = selection
            .canonicalize(self.inner.shape())
            .map_err(|e| PyIndexError::new_err(e.message().to_string()))?;
        // The extent first: building the segments of a lying header's shape would reserve
        // memory before anything shows the data is there.
        let end = plan_extent(&self.layout(), &canonical).py_for(&self.inner)?;
        // Without the GIL: a remote source may first fetch its index (a network's wait).
        let source = self.inner.source();
        if !py.detach(|| source.may_hold(end)) {
            return Ok(None);
        }
        Ok(Some(
            plan_read(&self.layout(), &canonical).py_for(&self.inner)?,
        ))
    }

    /// Reads the stored values of `selection` into a numpy array of the stored dtype (file
    /// byte order, Fortran order) that numpy allocated, with the GIL released. `None` when
    /// the direct path does not apply (binary128 data, or a source that may be shorter than
    /// the header says: the core then reads with its growing buffer, so a lying header
    /// allocates nothing large).
    fn read_direct<'py>(
        &self,
        py: Python<'py>,
        selection: &Selection,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let spec = self.inner.spec();
        // Arrays stored in pieces or reversed are read through the core, which maps them.
        if matches!(spec.dtype.dtype, DataType::Float128 | DataType::Complex256)
            || !spec.is_one_run()
        {
            return Ok(None);
        }
        let Some(plan) = self.plan_if_source_holds(py, selection)? else {
            return Ok(None);
        };
        let source = self.inner.source().clone();
        let dtype = numpy_dtype(py, spec.dtype)?;
        let fortran = spec.order == Order::F;
        // A whole .nii.gz inflates fastest in one call, into an array with the header's
        // bytes of room before it (neurovox::io::gzip, "Whole reads in one call").
        let room = plan.room_for_read(source.as_ref());
        let (out, ptr) = if room > 0 {
            empty_array_with_room(py, plan.output_shape(), &dtype, fortran, room)?
        } else {
            let (out, ptr) = empty_array(py, plan.output_shape(), &dtype, fortran)?;
            (out.into_any(), ptr)
        };
        py.detach(|| {
            // SAFETY: `ptr` covers the room and the `output_bytes` bytes of `out`'s
            // allocation, which this frame holds.
            let buf = unsafe { ptr.as_mut_slice() };
            plan.read_into_with_room(source.as_ref(), buf, room)
        })
        .py_for(&self.inner)?;
        Ok(Some(out))
    }

    /// The values of `selection` as [`ArrayProxy::read_into`] computes them for
    /// `requested` factors, cast to float64 (`double`) or float32, written by the core
    /// straight into a numpy array with the GIL released. `None` where that path does not
    /// apply: values that are not real (complex, colour), binary128 storage, or a source that
    /// may be shorter than the header says (the core's growing read then allocates nothing
    /// large on a lying header).
    fn read_real<'py>(
        &self,
        py: Python<'py>,
        selection: &Selection,
        requested: FactorType,
        double: bool,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let spec = self.inner.spec();
        let storage = spec.dtype.dtype;
        if storage.is_complex()
            || matches!(
                storage,
                DataType::Rgb24 | DataType::Rgba32 | DataType::Float128 | DataType::Complex256
            )
        {
            return Ok(None);
        }
        let Some(plan) = self.plan_if_source_holds(py, selection)? else {
            return Ok(None);
        };
        let dtype = numpy_native_dtype(
            py,
            if double {
                DataType::Float64
            } else {
                DataType::Float32
            },
        )?;
        let (out, ptr) = empty_array(py, plan.output_shape(), &dtype, spec.order == Order::F)?;
        let inner = &self.inner;
        py.detach(|| {
            // SAFETY: `out` is a new array of exactly this many bytes, held by this frame.
            let buf = unsafe { ptr.as_mut_slice() };
            if buf.is_empty() {
                return Ok(()); // nothing to read (and an empty slice has no f64 alignment)
            }
            /// Reads the scaled values into `buf` viewed as `O`s.
            fn read_as<O: neurovox::internals::FloatOut>(
                inner: &ArrayProxy,
                selection: impl Into<Selection>,
                requested: FactorType,
                buf: &mut [u8],
            ) -> neurovox::Result<()> {
                let values = bytemuck::try_cast_slice_mut::<u8, O>(buf)
                    .map_err(|_| neurovox::Error::usage("numpy gave a misaligned float buffer"))?;
                let options = neurovox::image::ReadOptions {
                    factors: Some(requested),
                };
                inner.read_into(selection, options, values)
            }
            if double {
                read_as::<f64>(inner, selection, requested, buf)
            } else {
                read_as::<f32>(inner, selection, requested, buf)
            }
        })
        .py_for(&self.inner)?;
        Ok(Some(out.into_any()))
    }

    /// The stored dtype, when scaled values keep it (float or complex data stored in native
    /// byte order, scaled in its own precision): numpy's arithmetic on nibabel's `'<f8'`
    /// array gives `'<f8'` again, where promotion from other types gives `'float64'`.
    fn scaled_dtype_as_stored<'py>(
        &self,
        py: Python<'py>,
        output: DataType,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let stored = self.inner.dtype();
        if output == stored.dtype && stored.order == neurovox::ByteOrder::NATIVE {
            return numpy_dtype(py, stored).map(Some);
        }
        Ok(None)
    }

    fn canonical_error(&self, selection: &Selection) -> PyResult<()> {
        selection
            .canonicalize(self.inner.shape())
            .map(|_| ())
            .map_err(|e| PyIndexError::new_err(e.message().to_string()))
    }
}

/// Where an array is in its file and how its bytes become values (the core's `ArraySpec`):
/// one object crosses into the proxies instead of seven positional arguments.
#[pyclass(frozen, name = "ArraySpec", module = "neurovox._neurovox")]
pub struct NativeSpec {
    inner: ArraySpec,
}

#[pymethods]
impl NativeSpec {
    /// Data of `shape` and numpy `dtype` at byte `offset`, scaled by `slope` and `inter`
    /// (float32 factors if `factor_f32`, as SPM99 gives), in `order` (`'F'` or `'C'`);
    /// `index_slopes`, one factor per index of the last axis (AFNI's sub-bricks), replace
    /// `slope` and `inter`.
    #[new]
    #[pyo3(signature = (shape, dtype, offset=0, slope=1.0, inter=0.0, factor_f32=false, order="F", index_slopes=None))]
    #[allow(clippy::too_many_arguments)] // numpy-style keyword arguments, all optional
    fn new(
        shape: Vec<usize>,
        dtype: &Bound<'_, PyAny>,
        offset: u64,
        slope: f64,
        inter: f64,
        factor_f32: bool,
        order: &str,
        index_slopes: Option<Vec<f64>>,
    ) -> PyResult<Self> {
        let index_scaling = match index_slopes {
            Some(slopes) => {
                let zeros = vec![0.0; slopes.len()];
                let factors = neurovox::array::IndexScaling::along(
                    shape.len().saturating_sub(1),
                    slopes,
                    zeros,
                )
                .py()?;
                factors.check_shape(&shape).py()?;
                Some(Arc::new(factors))
            }
            None => None,
        };
        let factor = if factor_f32 {
            FactorType::F32
        } else {
            FactorType::F64
        };
        let inner = ArraySpec {
            shape,
            dtype: crate::convert::parse_storage(dtype)?,
            offset,
            scaling: Scaling::new(slope, inter, factor),
            order: if order == "C" { Order::C } else { Order::F },
            index_scaling,
            segments: None,
            flipped_axes: Vec::new(),
            hdf5_dataset: None,
        };
        Ok(NativeSpec { inner })
    }
}

#[pymethods]
impl NativeProxy {
    /// A proxy over the file at `path` holding the array `spec` describes.
    ///
    /// `fingerprint` (from a pickled proxy's `fingerprint`) is the file as it was when the
    /// original proxy was made: a file that changed since is a `StaleFileError` naming it and
    /// what changed. Without one, the file's fingerprint is taken now.
    #[staticmethod]
    #[pyo3(signature = (path, spec, mmap, keep_file_open, fingerprint=None))]
    fn open(
        py: Python<'_>,
        path: std::path::PathBuf,
        spec: PyRef<'_, NativeSpec>,
        mmap: &str,
        keep_file_open: Option<bool>,
        fingerprint: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<NativeProxy> {
        let spec = spec.inner.clone();
        let options = proxy_options(mmap, keep_file_open, None)?;
        if is_url(&path) {
            // Without the GIL: a server may take seconds (and may be this process's own).
            let inner = py.detach(|| ArrayProxy::open(&path, spec, options)).py()?;
            if let Some(expected) = fingerprint {
                check_remote(&inner, &path, expected)?;
            }
            return Ok(NativeProxy {
                inner,
                fingerprint: None,
            });
        }
        let fingerprint = match fingerprint {
            Some(state) => checked_fingerprint(&path, state)?,
            // As nibabel, a proxy is made without reading its file: one that cannot be
            // examined now fails when read, and its pickles are stale.
            None => FileFingerprint::take_or_note(&path, MAX_HEAD_BYTES),
        };
        Ok(NativeProxy {
            inner: ArrayProxy::open(&path, spec, options).py()?,
            fingerprint: Some(fingerprint),
        })
    }

    /// A proxy over a Python file object (`BytesIO`, an open file): as [`NativeProxy::open`],
    /// but every read goes to the object when it happens, and puts its position back.
    #[staticmethod]
    #[pyo3(signature = (fileobj, spec))]
    fn from_fileobj(fileobj: Py<PyAny>, spec: PyRef<'_, NativeSpec>) -> PyResult<NativeProxy> {
        let spec = spec.inner.clone();
        Ok(NativeProxy {
            inner: ArrayProxy::from_source(Arc::new(PyFileSource::new(fileobj)), spec),
            fingerprint: None,
        })
    }

    /// A proxy over a Python file object for the data a header describes (shape, stored
    /// type, offset and scale factors as the core reads them from files), the file starting
    /// at byte `pos` of the object.
    #[staticmethod]
    #[pyo3(signature = (fileobj, header, pos=0))]
    fn from_fileobj_header(
        fileobj: Py<PyAny>,
        header: PyRef<'_, NativeHeader>,
        pos: u64,
    ) -> PyResult<NativeProxy> {
        let mut spec = ArraySpec::from_header(&header.inner).py()?;
        spec.offset = spec.offset.checked_add(pos).ok_or_else(|| {
            PyValueError::new_err(format!("data offset {} + pos {pos} overflows", spec.offset))
        })?;
        Ok(NativeProxy {
            inner: ArrayProxy::from_source(Arc::new(PyFileSource::new(fileobj)), spec),
            fingerprint: None,
        })
    }

    /// A proxy over the file at `path` for the data `header` describes, as a load builds
    /// it (AFNI's per-sub-brick factors included), the file's fingerprint taken now.
    #[staticmethod]
    #[pyo3(signature = (path, header, mmap, keep_file_open))]
    fn open_for_header(
        py: Python<'_>,
        path: std::path::PathBuf,
        header: PyRef<'_, NativeHeader>,
        mmap: &str,
        keep_file_open: Option<bool>,
    ) -> PyResult<NativeProxy> {
        let spec = ArraySpec::from_header(&header.inner).py()?;
        let options = proxy_options(mmap, keep_file_open, None)?;
        let fingerprint = FileFingerprint::take_or_note(&path, MAX_HEAD_BYTES);
        Ok(NativeProxy {
            inner: py.detach(|| ArrayProxy::open(&path, spec, options)).py()?,
            fingerprint: Some(fingerprint),
        })
    }

    /// A proxy over the data of the image of `format` whose data file is `path`, as a load
    /// builds it from the image's header (read again from its file): how a proxy whose
    /// layout a spec cannot carry (ECAT frames) travels in a pickle. `fingerprint` is the
    /// data file as it was; a changed file is a `StaleFileError`.
    #[staticmethod]
    #[pyo3(signature = (path, format, mmap, keep_file_open, fingerprint, parrec=None))]
    fn open_image_data(
        py: Python<'_>,
        path: std::path::PathBuf,
        format: &str,
        mmap: &str,
        keep_file_open: Option<bool>,
        fingerprint: &Bound<'_, PyAny>,
        parrec: Option<(String, bool, bool)>,
    ) -> PyResult<NativeProxy> {
        let format = neurovox::ImageFormat::from_nibabel_class(format)
            .ok_or_else(|| PyValueError::new_err(format!("unknown image class {format:?}")))?;
        let print = if is_url(&path) {
            None
        } else {
            Some(checked_fingerprint(&path, fingerprint)?)
        };
        let (header_path, _) = neurovox::image::header_and_image_paths(&path);
        let options = proxy_options(mmap, keep_file_open, parrec)?;
        let inner = py
            .detach(|| {
                let info =
                    neurovox::image::read_header_limited(&header_path, Some(format), &options)?;
                let spec = ArraySpec::from_header(&info.header)?;
                ArrayProxy::open(&path, spec, options)
            })
            .py()?;
        if print.is_none() {
            check_remote(&inner, &path, fingerprint)?;
        }
        Ok(NativeProxy {
            inner,
            fingerprint: print,
        })
    }

    /// True when the file holds the array as one run in its own order (no frames apart, no
    /// reversed axes): a spec alone can rebuild it.
    #[getter]
    fn one_run(&self) -> bool {
        self.inner.spec().is_one_run()
    }

    /// True when the values are the stored values (no scaling of any kind).
    #[getter]
    fn unscaled(&self) -> bool {
        self.inner.spec().is_unscaled()
    }

    /// The per-index slopes (AFNI: one per sub-brick), or `None` without them.
    #[getter]
    fn index_slopes(&self) -> Option<Vec<f64>> {
        self.inner
            .spec()
            .index_scaling
            .as_ref()
            .map(|f| f.slopes().to_vec())
    }

    /// The file's recorded state for pickling: `None` for file objects, `()` for a file
    /// that did not exist, else a tuple of integers (see `open`); for an object at a URL,
    /// `(size, etag, last_modified)` as its first answer gave them.
    #[getter]
    fn fingerprint<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        if let Some(remote) = self.inner.source().remote_fingerprint() {
            let tuple: RemoteTuple = (remote.size, remote.etag, remote.last_modified);
            return Ok(Some(tuple.into_pyobject(py)?.into_any()));
        }
        self.fingerprint
            .as_ref()
            .map(|print| match state_to_tuple(&print.state) {
                Some(t) => Ok(t.into_pyobject(py)?.into_any()),
                None => Ok(pyo3::types::PyTuple::empty(py).into_any()),
            })
            .transpose()
    }

    /// The shape.
    #[getter]
    fn shape(&self) -> Vec<usize> {
        self.inner.shape().to_vec()
    }

    /// The stored numpy dtype, in the file's byte order.
    #[getter]
    fn dtype<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        numpy_dtype(py, self.inner.dtype())
    }

    /// The numpy dtype of scaled values.
    #[getter]
    fn output_dtype<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let out = self.inner.output_dtype().py()?;
        if self.inner.spec().is_unscaled() {
            return numpy_dtype(py, self.inner.dtype());
        }
        match self.scaled_dtype_as_stored(py, out)? {
            Some(stored) => Ok(stored),
            None => numpy_native_dtype(py, out),
        }
    }

    /// Byte offset of the data.
    #[getter]
    fn offset(&self) -> u64 {
        self.inner.offset()
    }

    /// The slope.
    #[getter]
    fn slope(&self) -> f64 {
        self.inner.slope()
    }

    /// The intercept.
    #[getter]
    fn inter(&self) -> f64 {
        self.inner.inter()
    }

    /// True if the scale factors are float32 (SPM99).
    #[getter]
    fn factor_f32(&self) -> bool {
        self.inner.spec().scaling.factor == FactorType::F32
    }

    /// `'F'` or `'C'`.
    #[getter]
    fn order(&self) -> &'static str {
        match self.inner.spec().order {
            Order::F => "F",
            Order::C => "C",
        }
    }

    /// The data file (a `pathlib.Path`), or its URL (a `str`: a path would fold its `//`),
    /// if any.
    #[getter]
    fn path<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(file) = self.inner.file() else {
            return Ok(None);
        };
        Ok(Some(
            match file.to_str().filter(|s| neurovox::io::is_url(s)) {
                Some(url) => url.into_pyobject(py)?.into_any(),
                None => file.into_pyobject(py)?.into_any(),
            },
        ))
    }

    /// `'c'`, `'r'` or `'no'`.
    #[getter]
    fn mmap(&self) -> &'static str {
        mmap_name(self.inner.mmap_mode())
    }

    /// True if one file handle is kept open.
    #[getter]
    fn keep_file_open(&self) -> bool {
        self.inner.keeps_file_open()
    }

    /// The compression of the data file: `'none'`, `'gzip'`, `'bzip2'` or `'zstd'`.
    #[getter]
    fn compression(&self) -> String {
        format!("{:?}", self.inner.compression()).to_lowercase()
    }

    /// The values of `key` (numpy basic indexing), scaled unless `unscaled`: a numpy array
    /// that numpy allocated and Rust filled with the GIL released. Unscaled values keep the
    /// file's byte order (as nibabel returns them); scaled values are native.
    #[pyo3(signature = (key, unscaled=false))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        unscaled: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let selection = crate::key::parse_key(key)?;
        let spec = self.inner.spec();
        if unscaled || spec.is_unscaled() {
            if let Some(out) = self.read_direct(py, &selection)? {
                return Ok(out);
            }
            self.canonical_error(&selection)?;
            let inner = &self.inner;
            let data = py.detach(|| inner.read_raw(&selection)).py()?;
            let out = dyn_to_numpy(py, &data)?;
            // Stored values keep the file's byte order and the header's dtype, as nibabel
            // returns them (a view relabels native values; other orders need a swap).
            if data.dtype() == spec.dtype.dtype {
                let stored = numpy_dtype(py, spec.dtype)?;
                let how = if spec.dtype.order == neurovox::ByteOrder::NATIVE {
                    "view"
                } else {
                    "astype"
                };
                return out.call_method1(how, (stored,));
            }
            return Ok(out);
        }
        self.canonical_error(&selection)?;
        // Scaled real values: the core writes them straight into numpy's array. The
        // header's own factor type (`F32` keeps it) decides float32 or float64 values.
        let output = self.inner.output_dtype().py()?;
        let mut out = None;
        if matches!(output, DataType::Float32 | DataType::Float64) {
            let double = output == DataType::Float64;
            out = self.read_real(py, &selection, FactorType::F32, double)?;
        }
        let out = match out {
            Some(out) => out,
            None => {
                let inner = &self.inner;
                let data = py.detach(|| inner.read(&selection)).py()?;
                dyn_to_numpy(py, &data)?
            }
        };
        match self.scaled_dtype_as_stored(py, output)? {
            Some(stored) => out.call_method1("view", (stored,)),
            None => Ok(out),
        }
    }

    /// The values of `key` computed for a requested float type (`'f4'` or `'f8'`), with the
    /// core's rule for scale factors (docs/compat.md, proxies #12), converted to that type.
    fn read_float<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        double: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let selection = crate::key::parse_key(key)?;
        self.canonical_error(&selection)?;
        let spec = self.inner.spec();
        let wanted = if double {
            DataType::Float64
        } else {
            DataType::Float32
        };
        if spec.is_unscaled()
            && spec.dtype.dtype == wanted
            && spec.dtype.order == neurovox::ByteOrder::NATIVE
        {
            // The stored values are the values asked for: read them as they are (for a whole
            // .nii.gz, inflated in one call).
            if let Some(out) = self.read_direct(py, &selection)? {
                return Ok(out);
            }
        }
        let inner = &self.inner;
        let factor = if double {
            FactorType::F64
        } else {
            FactorType::F32
        };
        if let Some(out) = self.read_real(py, &selection, factor, double)? {
            return Ok(out);
        }
        let data = py
            .detach(|| -> neurovox::Result<neurovox::array::DynArray> {
                let values = inner.read_with(
                    &selection,
                    neurovox::image::ReadOptions {
                        factors: Some(factor),
                    },
                )?;
                let wanted = if double {
                    DataType::Float64
                } else {
                    DataType::Float32
                };
                if values.dtype() == wanted || values.dtype().is_complex() {
                    return Ok(values);
                }
                Ok(if double {
                    neurovox::array::DynArray::from_array(values.to_f64()?)
                } else {
                    neurovox::array::DynArray::from_array(values.to_f32()?)
                })
            })
            .py_for(&self.inner)?;
        dyn_to_numpy(py, &data)
    }

    /// Whether `array` holds, bit for bit, what a full read gives now, read in pieces and
    /// compared with the GIL released (no second array): how an image tells that a cache it
    /// filled from this proxy was not changed in place since, at the time someone asks.
    /// `kind` says which read filled it: `'stored'` (the stored values in the file's byte
    /// order: a memory map, `get_unscaled`, an unscaled `np.asarray`), `'f8'` / `'f4'`
    /// (`np.asarray(proxy, dtype)`: get_fdata), or `'scaled'` (the proxy's own scaled values).
    /// An array of another shape, type or layout is `False`; `None` where no such comparison
    /// applies (binary128 storage, complex or colour values), for the caller to compare
    /// another way.
    fn matches_full_read(
        &self,
        py: Python<'_>,
        array: &Bound<'_, PyAny>,
        kind: &str,
    ) -> PyResult<Option<bool>> {
        let spec = self.inner.spec();
        let storage = spec.dtype.dtype;
        if matches!(storage, DataType::Float128 | DataType::Complex256) {
            return Ok(None);
        }
        let output = self.inner.output_dtype().py()?;
        let (want, factor) = match kind {
            "stored" => (None, FactorType::F32),
            "f8" => (Some(DataType::Float64), FactorType::F64),
            "f4" => (Some(DataType::Float32), FactorType::F32),
            "scaled" if spec.is_unscaled() => (None, FactorType::F32),
            "scaled" if matches!(output, DataType::Float32 | DataType::Float64) => {
                (Some(output), FactorType::F32)
            }
            "scaled" => return Ok(None),
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown read kind {other:?}"
                )));
            }
        };
        if want.is_some()
            && (storage.is_complex() || matches!(storage, DataType::Rgb24 | DataType::Rgba32))
        {
            return Ok(None);
        }
        let Ok(array) = array.clone().cast_into::<numpy::PyUntypedArray>() else {
            return Ok(Some(false));
        };
        let expected_dtype = match want {
            Some(t) => numpy_native_dtype(py, t)?,
            None => numpy_dtype(py, spec.dtype)?,
        };
        let laid_out = match spec.order {
            Order::F => array.is_fortran_contiguous(),
            Order::C => array.is_c_contiguous(),
        };
        if array.shape() != spec.shape.as_slice()
            || !laid_out
            || !array.dtype().as_any().eq(&expected_dtype)?
        {
            return Ok(Some(false));
        }
        let ptr = crate::convert::data_ptr(&array)?;
        let inner = &self.inner;
        let all = Selection::all();
        py.detach(|| {
            // SAFETY: `array` is held by this frame and only read; another Python thread
            // writing it meanwhile changes the answer, never the memory safety of a read.
            let bytes = unsafe { ptr.as_slice() };
            let misaligned = |_| neurovox::Error::usage("numpy gave a misaligned float buffer");
            match want {
                None => inner.raw_matches(&all, bytes),
                Some(DataType::Float64) => {
                    let values = bytemuck::try_cast_slice::<u8, f64>(bytes).map_err(misaligned)?;
                    inner.read_matches(
                        &all,
                        neurovox::image::ReadOptions {
                            factors: Some(factor),
                        },
                        values,
                    )
                }
                Some(_) => {
                    let values = bytemuck::try_cast_slice::<u8, f32>(bytes).map_err(misaligned)?;
                    inner.read_matches(
                        &all,
                        neurovox::image::ReadOptions {
                            factors: Some(factor),
                        },
                        values,
                    )
                }
            }
        })
        .map(Some)
        .py_for(&self.inner)
    }

    /// The whole stored array as a zero-copy numpy view of a memory map, when memory mapping
    /// applies (mode `'c'` or `'r'`, an uncompressed file long enough); else `None`.
    fn memmap<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let writeable = match self.inner.mmap_mode() {
            MmapMode::No => return Ok(None),
            MmapMode::CopyOnWrite => true,
            MmapMode::ReadOnly => false,
        };
        let Some(path) = self.inner.file() else {
            return Ok(None);
        };
        if self.inner.compression() != neurovox::io::Compression::None
            || self.inner.spec().order != Order::F
            || !self.inner.spec().is_one_run()
            || matches!(
                self.inner.dtype().dtype,
                DataType::Float128 | DataType::Complex256
            )
        {
            return Ok(None);
        }
        let dtype = numpy_dtype(py, self.inner.dtype())?.cast_into::<PyArrayDescr>()?;
        crate::mmap::map_view(
            py,
            path,
            self.inner.offset(),
            self.inner.shape(),
            dtype,
            writeable,
            self.inner.source().identity(),
        )
    }

    /// The same data with a new shape (one `-1` allowed).
    fn reshape(&self, shape: Vec<isize>) -> PyResult<NativeProxy> {
        Ok(NativeProxy {
            inner: self.inner.reshape(&shape).py()?,
            fingerprint: self.fingerprint.clone(),
        })
    }
}

/// Sets the process-wide default for `keep_file_open` (nibabel's `KEEP_FILE_OPEN_DEFAULT`).
#[pyfunction]
pub fn set_keep_file_open_default(keep: bool) {
    neurovox::image::set_keep_file_open_default(keep);
}
