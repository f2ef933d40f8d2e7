//! Images: a data object (an array in memory or an [`ArrayProxy`] on disk), a header, an
//! affine and the files they came from, with nibabel's caching rules (docs/nibabel-rules.md
//! §7, §8, §19).
//!
//! * [`Image::get_fdata`] returns floating-point data and, with [`Caching::Fill`], keeps it:
//!   one cache slot, keyed by the float type, so asking for float32 with `Fill` drops a
//!   float64 cache. [`Caching::Unchanged`] never fills the slot, but returns what it holds.
//! * [`Image::get_data`] returns what a full read of the proxy returns — the proxy's own
//!   output type, scaled — with a cache of its own (the seeds' `get_data`, which nibabel 5
//!   removed; see docs/compat.md).
//! * [`Image::in_memory`] is true for array images and whenever a cache is full;
//!   [`Image::uncache`] empties both caches.
//! * Writes go through [`Image::get_fdata_mut`]: the cache (or, for an array image of that
//!   float type, the data object itself), which later calls see until `uncache`.
//!
//! Arrays are `ndarray::ArcArray`s: the array a call returns and the cached one share their
//! buffer, like the same numpy array handed out twice.

use crate::ByteOrder;
use crate::array::dyn_array::{DynArray, DynElement};
use crate::array::selection::{Canonical, Selection};
use crate::error::{Error, Result};
use crate::format::affine::{self, Affine};
use crate::format::{Header, ImageFormat};
use crate::image::dataobj::{Caching, DataObj, FloatElement};
use crate::image::file_map::read_header_limited;
use crate::image::proxy::{ArrayProxy, ArraySpec, ProxyOptions};
use crate::image::tracking::{DirtyReason, ImageParts, Snapshot, Tracking};
use crate::io::opener::Opener;
use crate::limits::Limits;
use ndarray::{ArcArray, ArrayD, IxDyn};
use std::path::{Path, PathBuf};

/// The files an image belongs to: nibabel's `file_map` for file names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileMap {
    /// The file with the header.
    pub header: Option<PathBuf>,
    /// The file with the data (the same as `header` for single-file formats).
    pub image: Option<PathBuf>,
}

/// How to load: nibabel's `mmap` and `keep_file_open` keywords.
pub type LoadOptions = ProxyOptions;

/// A neuroimaging image.
///
/// ```no_run
/// use neurovox::image::{Caching, Image};
/// let mut img = neurovox::load("example4d.nii.gz")?;
/// assert!(!img.in_memory());
/// let vol1 = img.dataobj().read(&neurovox::sel![.., .., .., 1])?; // reads one volume
/// let data = img.get_fdata(Caching::Fill)?;                      // reads and caches all
/// assert!(img.in_memory());
/// img.uncache();
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Image {
    // Visible to the image layer's other modules (save, handle), which add methods to Image.
    pub(super) dataobj: DataObj,
    pub(super) header: Header,
    pub(super) affine: Option<Affine>,
    pub(super) files: FileMap,
    pub(super) fdata_cache: Option<DynArray>,
    pub(super) data_cache: Option<DynArray>,
    pub(super) options: LoadOptions,
    pub(super) tracking: Tracking,
}

/// The header an image of data of `dtype` and `shape` gets from the header it starts from
/// ([`Image::from_dataobj`]'s rule, nibabel's constructors): a copy of `header` when it is of
/// `format` (else a default one of `dtype`), updated to the shape, its scale factors consumed,
/// and `affine` stored when it differs from the header's.
pub(crate) fn header_for_data(
    dtype: crate::DataType,
    shape: &[usize],
    affine: Option<&Affine>,
    header: Option<&Header>,
    format: ImageFormat,
) -> Result<Header> {
    let mut header = match header {
        Some(h) if h.format() == format => h.clone(),
        // nibabel's AFNIHeader.from_header refuses to make a header from nothing.
        _ if !format.is_writable() => {
            return Err(Error::unsupported(format!(
                "{} images are made only from a header of their own (read from a file)",
                format.nibabel_class()
            )));
        }
        _ => {
            let mut h = Header::new(format, ByteOrder::NATIVE);
            h.set_data_dtype(dtype)?;
            h
        }
    };
    if header.data_shape().ok().as_deref() != Some(shape) {
        header.set_data_shape(shape)?;
    }
    // The values in memory are already scaled: a header that came with stored-value
    // scaling must not scale them again. nibabel "consumes" these fields the same way.
    match &mut header {
        Header::Nifti(n) => n.set_slope_inter(None, None)?,
        Header::Analyze(a) if a.flavour() != crate::format::AnalyzeFlavour::Analyze => {
            header.set("scl_slope", crate::FieldValue::Float(f64::NAN))?
        }
        _ => {}
    }
    if let Some(aff) = affine
        && !affine::allclose(aff, &header.best_affine()?)
    {
        header.store_affine(aff)?;
    }
    Ok(header)
}

/// Loads the image at `path`, reading nothing but its header (nibabel's `load`). With the
/// `remote` feature, `path` may be an `http://`, `https://` or `s3://` URL: only the bytes
/// that reads need are fetched (module `io::remote`).
pub fn load(path: impl AsRef<Path>) -> Result<Image> {
    Image::load_with(path, LoadOptions::default())
}

impl Image {
    /// nibabel's `load` with its keywords.
    pub fn load_with(path: impl AsRef<Path>, options: LoadOptions) -> Result<Image> {
        Self::load_as(path, None, options)
    }

    /// Loads the image reading its header as `format` (nibabel's `Class.from_filename`);
    /// `None` detects the format as [`load`] does.
    pub fn load_as(
        path: impl AsRef<Path>,
        format: Option<ImageFormat>,
        options: LoadOptions,
    ) -> Result<Image> {
        let opener = Opener::for_name(path.as_ref())?;
        if opener.is_remote() {
            return Self::from_url_parts(
                crate::image::url_load::load_url(&opener, path.as_ref(), format, &options)?,
                options,
            );
        }
        let (header_path, image_path) =
            crate::image::file_map::header_and_image_paths(path.as_ref());
        Self::open_files(&header_path, &image_path, format, options)
    }

    /// The image of a URL's header and proxy: no files (nothing local to save over or
    /// watch), clean until changed.
    fn from_url_parts(
        parts: crate::image::url_load::UrlImage,
        options: LoadOptions,
    ) -> Result<Image> {
        let dataobj = DataObj::Proxy(parts.proxy);
        let snapshot = Snapshot::new(&parts.header, Some(&parts.affine), &dataobj, Vec::new());
        Ok(Image {
            dataobj,
            header: parts.header,
            affine: Some(parts.affine),
            files: FileMap::default(),
            fdata_cache: None,
            data_cache: None,
            options,
            tracking: Tracking::with_snapshot(snapshot),
        })
    }

    /// Loads the image whose header is in `header_path` and data in `image_path` (usually
    /// the header file's sibling), fingerprinting the files before the header is read.
    ///
    /// The header and the data come from the files of one save: a load that finds the files
    /// replaced while it read them (the file the header came from is not the one the data
    /// source opened, or a pair's journal shows a save in progress) starts again, and fails
    /// with a Stale error if the files keep changing. An interrupted pair save is completed
    /// or rolled back first ([`crate::io::atomic::journal`]).
    pub(crate) fn open_files(
        header_path: &Path,
        image_path: &Path,
        format: Option<ImageFormat>,
        options: LoadOptions,
    ) -> Result<Image> {
        const ATTEMPTS: usize = 5;
        let is_pair = header_path != image_path;
        let mut attempt = 0;
        let (info, proxy, mut prints) = loop {
            attempt += 1;
            if is_pair {
                crate::io::atomic::journal::finish_interrupted_save(image_path)?;
            }
            let watched = crate::image::tracking::watched_files(header_path, image_path, is_pair);
            let prints = crate::image::tracking::fingerprint_all(&watched);
            let info = read_header_limited(header_path, format, &options)?;
            let spec =
                ArraySpec::from_header(&info.header).map_err(|e| e.with_path(&info.header_path))?;
            let proxy = ArrayProxy::open(image_path, spec, options)?;
            if one_save(&info, &proxy, &prints, image_path, is_pair) {
                break (info, proxy, prints);
            }
            if attempt == ATTEMPTS {
                return Err(Error::stale(format!(
                    "the files changed while they were being loaded, {ATTEMPTS} times in a \
                     row (is something saving them in a loop?)"
                ))
                .with_path(header_path));
            }
        };
        let is_spm = matches!(info.format, ImageFormat::Spm99 | ImageFormat::Spm2);
        let affine = if is_spm {
            crate::image::file_map::spm_affine(
                &Opener::Local,
                &info.header,
                image_path,
                options.limits.max_mat_bytes,
            )?
        } else {
            info.header
                .best_affine()
                .map_err(|e| e.with_path(&info.header_path))?
        };
        if is_pair && !is_spm {
            prints.pop(); // only SPM images read the .mat sidecar
        }
        let dataobj = DataObj::Proxy(proxy);
        let snapshot = Snapshot::new(&info.header, Some(&affine), &dataobj, prints);
        Ok(Image {
            dataobj,
            header: info.header,
            affine: Some(affine),
            files: FileMap {
                header: Some(info.header_path),
                image: Some(image_path.to_path_buf()),
            },
            fdata_cache: None,
            data_cache: None,
            options,
            tracking: Tracking::with_snapshot(snapshot),
        })
    }

    /// nibabel's `from_filename` (the same as [`load`]).
    pub fn from_filename(path: impl AsRef<Path>, options: LoadOptions) -> Result<Image> {
        Self::load_with(path, options)
    }

    /// nibabel's `from_file_map`: the image whose header and data files are named.
    pub fn from_file_map(files: &FileMap, options: LoadOptions) -> Result<Image> {
        let given = files
            .header
            .as_ref()
            .or(files.image.as_ref())
            .ok_or_else(|| Error::usage("No filename or fileobj present"))?;
        let (header_path, sibling) = crate::image::file_map::header_and_image_paths(given);
        let image_path = files.image.clone().unwrap_or(sibling);
        Self::open_files(&header_path, &image_path, None, options)
    }

    /// An image from the bytes of a single-file image (nibabel's `from_bytes` /
    /// `from_stream`: NIfTI-1, NIfTI-2 or MGH, plain or compressed — recognised by content).
    /// The data stays in those bytes and is read lazily from them, like a file.
    ///
    /// ```
    /// use neurovox::{ByteOrder, DataType, Header, ImageFormat, Image};
    /// let mut h = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
    /// h.set_data_shape(&[2, 2])?;
    /// h.set_data_dtype(DataType::UInt8)?;
    /// let mut bytes = h.to_prefix_bytes()?;
    /// bytes.extend_from_slice(&[1, 2, 3, 4]);
    /// let img = Image::from_bytes(bytes)?;
    /// assert_eq!(img.dataobj().to_array()?.get_f64(&[1, 1]), Some(4.0));
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Image> {
        Self::from_bytes_with(bytes, &Limits::default())
    }

    /// [`Image::from_bytes`] under `limits`: a compressed input is inflated only as far as
    /// its header says the image reaches, and never past
    /// [`Limits::max_inflated_bytes`] — the cap to set when the bytes come from someone
    /// else (a few KiB of bzip2 can inflate to gigabytes).
    ///
    /// ```
    /// use neurovox::{ByteOrder, DataType, ErrorKind, Header, Image, ImageFormat, Limits};
    /// use std::io::Write;
    /// let mut h = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
    /// h.set_data_shape(&[1000, 1000])?;
    /// h.set_data_dtype(DataType::UInt8)?;
    /// let mut plain = h.to_prefix_bytes()?;
    /// plain.resize(plain.len() + 1_000_000, 0);
    /// let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    /// gz.write_all(&plain).unwrap();
    /// let gz = gz.finish().unwrap();
    /// let strict = Limits { max_inflated_bytes: 64 << 10, ..Limits::default() };
    /// let refused = Image::from_bytes_with(gz.clone(), &strict).unwrap_err();
    /// assert_eq!(refused.kind(), ErrorKind::Limit);
    /// assert_eq!(Image::from_bytes(gz)?.shape(), &[1000, 1000]);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn from_bytes_with(bytes: impl Into<Vec<u8>>, limits: &Limits) -> Result<Image> {
        let bytes: Vec<u8> = bytes.into();
        let plain = match crate::io::detect_compression(&bytes) {
            crate::io::Compression::None => bytes,
            _ => {
                let mut reader = crate::io::decompressing_reader(std::io::Cursor::new(bytes))?;
                crate::image::file_map::inflate_single_file_image(reader.as_mut(), limits)?
            }
        };
        let format = crate::image::file_map::single_file_format(&plain)?;
        let header = Header::parse(format, &plain)?;
        let spec = ArraySpec::from_header(&header)?;
        let affine = header.best_affine()?;
        let source = std::sync::Arc::new(crate::io::MemorySource::new(plain));
        Ok(Image {
            dataobj: DataObj::Proxy(ArrayProxy::from_source(source, spec)),
            header,
            affine: Some(affine),
            files: FileMap::default(),
            fdata_cache: None,
            data_cache: None,
            options: LoadOptions::default(),
            tracking: Tracking::default(),
        })
    }

    /// An image from a reader positioned anywhere (nibabel's `FileHolder(fileobj=…, pos=…)`
    /// for single-file formats): the bytes from `position` to the end are read into memory
    /// and the image is built by [`Image::from_bytes`]. The reader's own position is not used
    /// afterwards.
    pub fn from_reader<R: std::io::Read + std::io::Seek>(
        mut reader: R,
        position: u64,
    ) -> Result<Image> {
        reader
            .seek(std::io::SeekFrom::Start(position))
            .map_err(Error::io)?;
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(Error::io)?;
        Self::from_bytes(bytes)
    }

    /// An array image of `format` from data and an affine (nibabel's `Nifti1Image(data,
    /// affine)` and friends): a default header of the data's type and shape in native byte
    /// order, the affine stored in it as nibabel does.
    ///
    /// ```
    /// use neurovox::image::{Caching, Image};
    /// use neurovox::ImageFormat;
    /// let data = ndarray::Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i + j + k) as i16).into_dyn();
    /// let affine = [[1.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0, 1.0]];
    /// let mut img = Image::from_array(data, Some(affine), ImageFormat::Nifti1)?;
    /// assert!(img.in_memory());
    /// assert_eq!(img.header().zooms(), vec![1.0, 2.0, 3.0]);
    /// assert_eq!(img.get_fdata(Caching::Unchanged)?[[1, 2, 3]], 6.0);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn from_array<T: DynElement>(
        data: ArrayD<T>,
        affine: Option<Affine>,
        format: ImageFormat,
    ) -> Result<Image> {
        Self::from_dyn_array(DynArray::from_array(data), affine, None, format)
    }

    /// An array image from a [`DynArray`], with an optional header to start from (a copy of
    /// it is updated to the data's shape, and to the affine when it differs, as nibabel's
    /// `update_header` does).
    pub fn from_dyn_array(
        data: DynArray,
        affine: Option<Affine>,
        header: Option<&Header>,
        format: ImageFormat,
    ) -> Result<Image> {
        Self::from_dataobj(DataObj::Array(data), affine, header, format)
    }

    /// An image of any data object — an array, or a proxy such as another image's — with an
    /// optional header to start from, as nibabel's `Nifti1Image(img.dataobj, affine,
    /// header)`: a copy of the header (a default one of the data's stored type when none of
    /// `format` is given) updated to the data's shape, its scale factors consumed, and the
    /// affine stored when it differs from the header's.
    ///
    /// ```
    /// use neurovox::image::{DataObj, Image};
    /// use neurovox::ImageFormat;
    /// let data = ndarray::Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i + j + k) as u8).into_dyn();
    /// let img = Image::from_array(data, None, ImageFormat::Nifti1)?;
    /// // A second image over the same data object, as MGH.
    /// let other = Image::from_dataobj(img.dataobj().clone(), None, None, ImageFormat::Mgh)?;
    /// assert_eq!(other.shape(), &[2, 3, 4]);
    /// assert_eq!(other.header().data_dtype()?.dtype, neurovox::DataType::UInt8);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn from_dataobj(
        data: DataObj,
        affine: Option<Affine>,
        header: Option<&Header>,
        format: ImageFormat,
    ) -> Result<Image> {
        let dtype = match &data {
            DataObj::Array(a) => a.dtype(),
            DataObj::Proxy(p) => p.dtype().dtype,
        };
        let header = header_for_data(dtype, data.shape(), affine.as_ref(), header, format)?;
        Ok(Image {
            dataobj: data,
            header,
            affine,
            files: FileMap::default(),
            fdata_cache: None,
            data_cache: None,
            options: LoadOptions::default(),
            tracking: Tracking::default(),
        })
    }

    /// Declares that the image is not known to match its files until [`Image::mark_clean`];
    /// [`Image::dirty_reasons`] then gives `why`, or says it has no file it is known to
    /// match.
    pub fn forget_match(&mut self, why: Option<DirtyReason>) {
        self.tracking.forget(why);
    }

    /// The data object: an array or a proxy.
    pub fn dataobj(&self) -> &DataObj {
        &self.dataobj
    }

    /// The data object, to change or replace. An in-memory array handed out this way is
    /// digested first, so [`Image::is_dirty`] can tell whether it really changed.
    pub fn dataobj_mut(&mut self) -> &mut DataObj {
        if let DataObj::Array(array) = &self.dataobj {
            self.tracking.expose_dataobj(array);
        }
        &mut self.dataobj
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The header, to edit (the proxy keeps its own copy of what it needs, so its data
    /// does not change).
    pub fn header_mut(&mut self) -> &mut Header {
        &mut self.header
    }

    /// The voxel-to-world affine.
    pub fn affine(&self) -> Option<&Affine> {
        self.affine.as_ref()
    }

    /// The affine, to edit in place (it reaches the header when the image is saved).
    pub fn affine_mut(&mut self) -> Option<&mut Affine> {
        self.affine.as_mut()
    }

    /// The files the image was loaded from.
    pub fn file_map(&self) -> &FileMap {
        &self.files
    }

    /// The format.
    pub fn format(&self) -> ImageFormat {
        self.header.format()
    }

    /// The data shape.
    pub fn shape(&self) -> &[usize] {
        self.dataobj.shape()
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// True for array images, and for proxy images whose data is cached.
    pub fn in_memory(&self) -> bool {
        matches!(self.dataobj, DataObj::Array(_))
            || self.fdata_cache.is_some()
            || self.data_cache.is_some()
    }

    /// Empties the caches (array images keep their array).
    pub fn uncache(&mut self) {
        self.set_fdata_cache(None);
        self.data_cache = None;
    }

    fn set_fdata_cache(&mut self, cache: Option<DynArray>) {
        self.fdata_cache = cache;
        self.tracking.fdata_replaced();
    }

    /// Floating-point data (nibabel's `get_fdata()`, float64).
    pub fn get_fdata(&mut self, caching: Caching) -> Result<ArcArray<f64, IxDyn>> {
        self.get_fdata_as::<f64>(caching)
    }

    /// Floating-point data of type `T` (`f32` or `f64`), nibabel's `get_fdata(caching,
    /// dtype)`: the cache if it holds `T`; else the data converted (for an array image of
    /// type `T`, the array itself), which `Fill` keeps in the one cache slot.
    pub fn get_fdata_as<T: FloatElement>(
        &mut self,
        caching: Caching,
    ) -> Result<ArcArray<T, IxDyn>> {
        if let Some(cached) = self.fdata_cache.as_ref().and_then(DynArray::as_typed::<T>) {
            return Ok(cached.clone());
        }
        let data = self.fdata_from_dataobj::<T>()?;
        if caching == Caching::Fill {
            self.set_fdata_cache(Some(T::wrap(data.clone())));
        }
        Ok(data)
    }

    fn fdata_from_dataobj<T: FloatElement>(&self) -> Result<ArcArray<T, IxDyn>> {
        let values = match &self.dataobj {
            DataObj::Array(a) => a.clone(),
            DataObj::Proxy(p) => match p.read_as::<T>(&Selection::all(), T::FACTOR)? {
                Some(values) => return Ok(values),
                None => p.read_with(
                    Selection::all(),
                    crate::image::ReadOptions {
                        factors: Some(T::FACTOR),
                    },
                )?,
            },
        };
        if let Some(same) = values.as_typed::<T>() {
            return Ok(same.clone());
        }
        Ok(values.to_float::<T>()?.into_shared())
    }

    /// Mutable floating-point data: the cached array (filled first if needed), or for an
    /// array image of type `T` the data object itself. Later `get_fdata` calls see the
    /// changes until [`Image::uncache`].
    pub fn get_fdata_mut<T: FloatElement>(&mut self) -> Result<&mut ArcArray<T, IxDyn>> {
        let array_is_t = matches!(&self.dataobj, DataObj::Array(a) if a.as_typed::<T>().is_some());
        let target = if array_is_t {
            if let DataObj::Array(array) = &self.dataobj {
                self.tracking.expose_dataobj(array);
            }
            match &mut self.dataobj {
                DataObj::Array(a) => Some(a),
                DataObj::Proxy(_) => None,
            }
        } else {
            if self
                .fdata_cache
                .as_ref()
                .and_then(DynArray::as_typed::<T>)
                .is_none()
            {
                let data = self.fdata_from_dataobj::<T>()?;
                self.set_fdata_cache(Some(T::wrap(data)));
            }
            if let Some(cache) = &self.fdata_cache {
                self.tracking.expose_fdata(cache);
            }
            self.fdata_cache.as_mut()
        };
        target
            .and_then(typed_mut)
            .ok_or_else(|| Error::usage(format!("no {} data to give mutable access to", T::DTYPE)))
    }

    /// The data as a full read of the data object gives it — the proxy's own output type,
    /// scaled — with a cache of its own (the seeds' `get_data`).
    pub fn get_data(&mut self, caching: Caching) -> Result<DynArray> {
        if let DataObj::Array(a) = &self.dataobj {
            return Ok(a.clone());
        }
        if let Some(cached) = &self.data_cache {
            return Ok(cached.clone());
        }
        let data = self.dataobj.to_array()?;
        if caching == Caching::Fill {
            self.data_cache = Some(data.clone());
        }
        Ok(data)
    }

    /// A new in-memory image of part of this one (nibabel's `img.slicer[...]`): the first
    /// three axes must be sliced with ranges (no index, no new axis), later axes may be
    /// indexed; the affine moves to the first selected voxel and scales by the steps,
    /// negative steps and negative starts included.
    pub fn slicer(&self, selection: &Selection) -> Result<Image> {
        let transform = slicer_transform(self.shape(), selection)?;
        let data = self.dataobj.read(selection)?;
        let new_affine = self.affine.map(|a| affine::matmul(&a, &transform));
        Self::from_dyn_array(data, new_affine, Some(&self.header), self.format())
    }
}

/// The voxel transform of [`Image::slicer`]'s `selection` of an image of `shape`, which
/// the sliced image's affine is the old affine times (nibabel's `SpatialFirstSlicer`): the
/// first three axes must be sliced with ranges (no index, no new axis) and none may be
/// empty; the transform moves to the first selected voxel and scales by the steps.
///
/// ```
/// use neurovox::image::slicer_transform;
/// let t = slicer_transform(&[10, 10, 10, 5], &neurovox::sel![2..8;2, .., ..;-1, 3])?;
/// assert_eq!(t[0], [2.0, 0.0, 0.0, 2.0]);
/// assert_eq!(t[2], [0.0, 0.0, -1.0, 9.0]);
/// assert!(slicer_transform(&[10, 10, 10], &neurovox::sel![1, .., ..]).is_err());
/// # Ok::<(), neurovox::Error>(())
/// ```
///
/// # Errors
///
/// Usage errors with nibabel's messages: a new axis or a scalar index among the first three
/// axes, an empty slice, and what [`Selection::canonicalize`] refuses.
pub fn slicer_transform(shape: &[usize], selection: &Selection) -> Result<Affine> {
    let canonical = selection.canonicalize(shape)?;
    let mut axis = 0;
    let mut transform = affine::IDENTITY;
    for item in &canonical {
        match item {
            Canonical::NewAxis if axis < 3 => {
                return Err(Error::usage("New axis not permitted in spatial dimensions"));
            }
            Canonical::Index(_) if axis < 3 => {
                return Err(Error::usage(
                    "Scalar indices disallowed in spatial dimensions; Use `[x]` or `x:x+1`.",
                ));
            }
            Canonical::Slice { start, step, len } => {
                if *len == 0 {
                    return Err(Error::usage("Empty slice requested"));
                }
                if axis < 3 {
                    transform[axis][axis] = *step as f64;
                    transform[axis][3] = *start as f64;
                }
                axis += 1;
            }
            Canonical::Index(_) => axis += 1,
            Canonical::NewAxis => {}
        }
    }
    Ok(transform)
}

/// Knowing whether the image matches its file (docs/nibabel-rules.md §19.1; see
/// `image/tracking.rs` for what is compared and what it costs).
impl Image {
    /// True whenever the image might differ from its file: a header field, the extensions,
    /// the affine or the data changed in memory, the file changed on disk, the image was
    /// marked dirty, or it was never loaded from a file. Reading data never dirties an
    /// image; data handed out mutably is compared by digest, so writing back the same values
    /// leaves it clean.
    ///
    /// ```
    /// use neurovox::{FieldValue, Image, ImageFormat};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("a.nii");
    /// let data = ndarray::Array::from_shape_fn((4, 5, 6), |(i, j, k)| (i + j + k) as f32);
    /// let mut img = Image::from_array(data.into_dyn(), None, ImageFormat::Nifti1)?;
    /// assert!(img.is_dirty()); // made in memory
    /// img.to_filename(&path, Default::default())?;
    ///
    /// let mut img = neurovox::load(&path)?;
    /// assert!(!img.is_dirty());
    /// let before = img.header().get("descrip")?;
    /// img.header_mut().set("descrip", FieldValue::Bytes(b"edited".to_vec()))?;
    /// assert!(img.is_dirty());
    /// img.header_mut().set("descrip", before)?;
    /// assert!(!img.is_dirty());
    /// img.get_fdata_mut::<f64>()?[[0, 0, 0]] = 7.0;
    /// assert!(img.is_dirty());
    /// img.uncache();
    /// assert!(!img.is_dirty());
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn is_dirty(&self) -> bool {
        self.dirty_reasons_first().is_some()
    }

    /// Every reason the image may differ from its file (empty when clean), e.g. "header
    /// fields changed: descrip" — what [`Image::is_dirty`] found, in words.
    pub fn dirty_reasons(&self) -> Vec<DirtyReason> {
        self.tracking.reasons(&self.parts(), false)
    }

    /// What [`Image::dirty_reasons`] would give if the image's header and affine were
    /// `header` and `affine` — for a caller that holds those itself (the Python layer's
    /// header and affine objects): the call compares, it changes nothing. `first_only`
    /// stops at the first reason, checking the cheap parts first.
    ///
    /// ```
    /// use neurovox::FieldValue;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("a.nii");
    /// let data = ndarray::Array3::<u8>::zeros((2, 3, 4)).into_dyn();
    /// neurovox::Image::from_array(data, None, neurovox::ImageFormat::Nifti1)?
    ///     .to_filename(&path, Default::default())?;
    /// let img = neurovox::load(&path)?;
    /// let mut edited = img.header().clone();
    /// edited.set("descrip", FieldValue::Bytes(b"edited".to_vec()))?;
    /// assert!(img.dirty_reasons_of(img.header(), img.affine(), false).is_empty());
    /// assert_eq!(img.dirty_reasons_of(&edited, img.affine(), true).len(), 1);
    /// assert!(!img.is_dirty()); // the image itself did not change
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn dirty_reasons_of(
        &self,
        header: &Header,
        affine: Option<&Affine>,
        first_only: bool,
    ) -> Vec<DirtyReason> {
        let parts = ImageParts {
            header,
            affine,
            dataobj: &self.dataobj,
            fdata_cache: self.fdata_cache.as_ref(),
        };
        self.tracking.reasons(&parts, first_only)
    }

    /// The first reason found, checking the cheap parts first.
    pub(crate) fn dirty_reasons_first(&self) -> Option<DirtyReason> {
        self.tracking.reasons(&self.parts(), true).pop()
    }

    fn parts(&self) -> ImageParts<'_> {
        ImageParts {
            header: &self.header,
            affine: self.affine.as_ref(),
            dataobj: &self.dataobj,
            fdata_cache: self.fdata_cache.as_ref(),
        }
    }

    /// Declares that the image matches its files as they are now (the seed's manual
    /// override): the header, affine, data and file fingerprints are taken again, and later
    /// changes are measured from here. A Usage error for an image with no files.
    pub fn mark_clean(&mut self) -> Result<()> {
        if self.files.header.is_none() || self.files.image.is_none() {
            return Err(Error::usage(
                "the image has no files to match; save it with to_filename first",
            ));
        }
        self.match_files(false);
        Ok(())
    }

    /// Takes a snapshot: the image matches its files as they are now. `after_save`: the
    /// file a proxy reads is watched too when it is not one of the image's (an image saved
    /// elsewhere keeps reading the file it was loaded from), and a float cache changed in
    /// place stays changed (the save wrote the data object, not the cache); otherwise
    /// (mark_clean) the cache is accepted as it is.
    pub(super) fn match_files(&mut self, after_save: bool) {
        let (Some(header_path), Some(image_path)) = (&self.files.header, &self.files.image) else {
            return self.tracking.forget(None);
        };
        let with_mat = matches!(self.format(), ImageFormat::Spm99 | ImageFormat::Spm2);
        let mut watched = crate::image::tracking::watched_files(header_path, image_path, with_mat);
        if let (true, DataObj::Proxy(p)) = (after_save, &self.dataobj)
            && let Some(source) = p.file()
            && !watched.iter().any(|(path, _)| path == source)
        {
            watched.push((source.to_path_buf(), 0));
        }
        let prints = crate::image::tracking::fingerprint_all(&watched);
        let snapshot = Snapshot::new(&self.header, self.affine.as_ref(), &self.dataobj, prints);
        let accepted_cache = (!after_save).then_some(self.fdata_cache.as_ref());
        self.tracking.reset(snapshot, accepted_cache);
    }

    /// Declares that the image may differ from its file, whatever the checks say, until
    /// [`Image::mark_clean`].
    pub fn mark_dirty(&mut self) {
        self.tracking.mark_dirty();
    }

    /// The fingerprints of the image's files when it was loaded or last marked clean
    /// (`None` for an image without files, or saved since without `mark_clean`).
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("a.nii");
    /// let data = ndarray::Array3::<u8>::zeros((2, 3, 4)).into_dyn();
    /// neurovox::Image::from_array(data, None, neurovox::ImageFormat::Nifti1)?
    ///     .to_filename(&path, Default::default())?;
    /// let img = neurovox::load(&path)?;
    /// let prints = img.fingerprints().unwrap_or_default();
    /// assert!(prints.iter().any(|p| p.path == path && p.change().is_none()));
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn fingerprints(&self) -> Option<&[crate::io::FileFingerprint]> {
        self.tracking.snapshot().map(Snapshot::files)
    }

    /// The options the image was loaded with (the defaults for images made in memory).
    pub fn load_options(&self) -> LoadOptions {
        self.options
    }
}

/// Whether a load read its header and opened its data from the files of one save: the file
/// the header came from is the one fingerprinted and (single files) the one the data source
/// reads; for pairs, the data file is the one fingerprinted, both paths still name those
/// files, and no save of the pair is committing.
fn one_save(
    info: &crate::image::file_map::HeaderInfo,
    proxy: &ArrayProxy,
    prints: &[crate::io::FileFingerprint],
    image_path: &Path,
    is_pair: bool,
) -> bool {
    use crate::io::FileIdentity;
    let printed = |path: &Path| {
        prints
            .iter()
            .find(|p| p.path == path)
            .and_then(|p| p.state.as_ref())
            .map(|s| FileIdentity::new(s.device, s.inode))
    };
    let agrees = |a: Option<FileIdentity>, b: Option<FileIdentity>| match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    let header = info.header_identity;
    let data = proxy.source().identity();
    if !agrees(printed(&info.header_path), header) {
        return false;
    }
    if !is_pair {
        return agrees(header, data);
    }
    agrees(printed(image_path), data)
        && agrees(FileIdentity::of(&info.header_path).ok(), header)
        && agrees(FileIdentity::of(image_path).ok(), data)
        && !crate::io::atomic::journal::journal_path(image_path).exists()
}

/// The typed array of a `DynArray`, mutably, if it holds `T`.
fn typed_mut<T: DynElement>(array: &mut DynArray) -> Option<&mut ArcArray<T, IxDyn>> {
    crate::dyn_array_apply!(array, a => (a as &mut dyn std::any::Any).downcast_mut::<ArcArray<T, IxDyn>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataType;

    /// A scaled int16 NIfTI in memory: raw 0..24, slope 2, intercept 1.
    fn scaled_image() -> Image {
        let mut h = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
        h.set_data_shape(&[2, 3, 4]).unwrap();
        h.set_data_dtype(DataType::Int16).unwrap();
        if let Header::Nifti(n) = &mut h {
            n.set_slope_inter(Some(2.0), Some(1.0)).unwrap();
        }
        let mut bytes = h.to_prefix_bytes().unwrap();
        bytes.extend((0..24i16).flat_map(|v| v.to_le_bytes()));
        Image::from_bytes(bytes).unwrap()
    }

    #[test]
    fn sliced_images_do_not_scale_twice() {
        let img = scaled_image();
        assert_eq!(
            img.dataobj().to_array().unwrap().get_f64(&[1, 2, 3]),
            Some(47.0)
        );
        let part = img.slicer(&crate::sel![.., 1.., ..]).unwrap();
        assert_eq!(
            part.dataobj().to_array().unwrap().get_f64(&[1, 1, 3]),
            Some(47.0)
        );
        assert_eq!(
            part.header().slope_inter().unwrap(),
            (None, None),
            "scaling consumed"
        );
        assert_eq!(part.header().data_shape().unwrap(), vec![2, 2, 4]);
    }

    #[test]
    fn from_reader_starts_at_the_position() {
        let img = scaled_image();
        let DataObj::Proxy(p) = img.dataobj() else {
            unreachable!()
        };
        let mut bytes = vec![0xEE; 10];
        let mut source = vec![0u8; p.source().len().unwrap() as usize];
        p.source().read_at(0, &mut source).unwrap();
        bytes.extend(source);
        let back = Image::from_reader(std::io::Cursor::new(bytes), 10).unwrap();
        assert_eq!(
            back.dataobj().to_array().unwrap(),
            img.dataobj().to_array().unwrap()
        );
        assert!(Image::from_bytes(vec![1u8; 100]).is_err());
    }
}
