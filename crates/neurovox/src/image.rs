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

use crate::array::{DynArray, DynElement};
use crate::error::{Error, Result};
use crate::files::read_header_as;
use crate::format::affine::{self, Affine};
use crate::format::{Header, ImageFormat};
use crate::proxy::{ArrayProxy, ArraySpec, ProxyOptions};
use crate::scale::FactorType;
use crate::select::{Canonical, Selection};
use crate::tracking::{DirtyReason, ImageParts, Snapshot, Tracking};
use crate::ByteOrder;
use ndarray::{ArcArray, ArrayD, IxDyn, SliceInfo, SliceInfoElem};
use std::path::{Path, PathBuf};

/// An image's data: an array in memory, or a proxy that reads from disk.
#[derive(Debug, Clone)]
pub enum DataObj {
    /// An array in memory (an "array image").
    Array(DynArray),
    /// An array on disk (a "proxy image").
    Proxy(ArrayProxy),
}

impl DataObj {
    /// The data shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            DataObj::Array(a) => a.shape(),
            DataObj::Proxy(p) => p.shape(),
        }
    }

    /// True for proxies (nibabel's `is_proxy`).
    pub fn is_proxy(&self) -> bool {
        matches!(self, DataObj::Proxy(_))
    }

    /// All values as the data object gives them (nibabel's `np.asanyarray(dataobj)`): the
    /// array itself, or a full read of the proxy, scaled.
    pub fn to_array(&self) -> Result<DynArray> {
        match self {
            DataObj::Array(a) => Ok(a.clone()),
            DataObj::Proxy(p) => p.read_all(),
        }
    }

    /// The values of a selection.
    pub fn read(&self, selection: &Selection) -> Result<DynArray> {
        match self {
            DataObj::Array(a) => slice_array(a, &selection.canonicalize(a.shape())?),
            DataObj::Proxy(p) => p.read(selection),
        }
    }
}

/// The `caching` argument of [`Image::get_fdata`] and [`Image::get_data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Caching {
    /// Keep what is read in the image's cache (nibabel's default, `'fill'`).
    #[default]
    Fill,
    /// Never fill the cache (`'unchanged'`); a full cache is still used.
    Unchanged,
}

impl std::str::FromStr for Caching {
    type Err = Error;

    /// `"fill"` or `"unchanged"`, anything else a Usage error with nibabel's message.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fill" => Ok(Caching::Fill),
            "unchanged" => Ok(Caching::Unchanged),
            _ => Err(Error::usage(
                "caching value should be \"fill\" or \"unchanged\"",
            )),
        }
    }
}

/// The float types [`Image::get_fdata`] returns: `f32` and `f64`.
pub trait FloatElement: DynElement + crate::scale::FloatOut {
    /// The scale-factor precision this type asks for.
    const FACTOR: FactorType;
    /// Converts any data to this float type as numpy's `astype` does.
    fn convert(data: &DynArray) -> Result<ArrayD<Self>>;
}

impl FloatElement for f64 {
    const FACTOR: FactorType = FactorType::F64;
    fn convert(data: &DynArray) -> Result<ArrayD<f64>> {
        data.to_f64()
    }
}

impl FloatElement for f32 {
    const FACTOR: FactorType = FactorType::F32;
    fn convert(data: &DynArray) -> Result<ArrayD<f32>> {
        data.to_f32()
    }
}

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
    dataobj: DataObj,
    header: Header,
    affine: Option<Affine>,
    files: FileMap,
    fdata_cache: Option<DynArray>,
    data_cache: Option<DynArray>,
    options: LoadOptions,
    tracking: Tracking,
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
    if let Some(aff) = affine {
        if !affine::allclose(aff, &header.best_affine()?) {
            header.store_affine(aff)?;
        }
    }
    Ok(header)
}

/// Loads the image at `path`, reading nothing but its header (nibabel's `load`).
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
        let (header_path, image_path) = crate::files::header_and_image_paths(path.as_ref());
        Self::open_files(&header_path, &image_path, format, options)
    }

    /// Loads the image whose header is in `header_path` and data in `image_path` (usually
    /// the header file's sibling), fingerprinting the files before the header is read.
    ///
    /// The header and the data come from the files of one save: a load that finds the files
    /// replaced while it read them (the file the header came from is not the one the data
    /// source opened, or a pair's journal shows a save in progress) starts again, and fails
    /// with a Stale error if the files keep changing. An interrupted pair save is completed
    /// or rolled back first ([`crate::atomic::journal`]).
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
                crate::atomic::journal::finish_interrupted_save(image_path)?;
            }
            let watched = crate::tracking::watched_files(header_path, image_path, is_pair);
            let prints = crate::tracking::fingerprint_all(&watched);
            let info = read_header_as(header_path, format)?;
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
            spm_affine(&info.header, image_path)?
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
        let (header_path, sibling) = crate::files::header_and_image_paths(given);
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
        let bytes: Vec<u8> = bytes.into();
        let plain = match crate::io::detect_compression(&bytes) {
            crate::io::Compression::None => bytes,
            _ => {
                let mut reader = crate::io::decompressing_reader(std::io::Cursor::new(bytes))?;
                let mut out = Vec::new();
                crate::io::read_up_to(reader.as_mut(), u64::MAX, &mut out)?;
                out
            }
        };
        let format = crate::files::detect_format(&plain, None)
            .filter(|f| !f.is_pair())
            .ok_or_else(|| {
                Error::format("the bytes are not a single-file NIfTI-1, NIfTI-2 or MGH image")
            })?;
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

    /// Saves the image to `path` (nibabel's `to_filename`; see [`crate::save::save`]) and,
    /// as nibabel does, makes that file the image's file map.
    ///
    /// The image is then clean ([`Image::is_dirty`] false) when the file holds its values
    /// exactly in a header of the same layout; when the save cast or scaled the values (the
    /// outcome says how) or wrote another format, it is dirty and
    /// [`Image::dirty_reasons`] says so.
    ///
    /// ```
    /// use neurovox::{Image, ImageFormat};
    /// use neurovox::save::SaveOptions;
    /// let dir = tempfile::tempdir()?;
    /// let data = ndarray::Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i + j + k) as i16);
    /// let mut img = Image::from_array(data.into_dyn(), None, ImageFormat::Nifti1)?;
    /// let outcome = img.to_filename(dir.path().join("a.nii"), SaveOptions::default())?;
    /// assert_eq!(outcome.cast, None);
    /// assert!(!img.is_dirty());
    /// let as_float = SaveOptions { dtype: Some(neurovox::DataType::Float32), ..Default::default() };
    /// let outcome = img.to_filename(dir.path().join("b.nii"), as_float)?;
    /// assert!(outcome.cast.is_some());
    /// assert!(img.is_dirty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_filename(
        &mut self,
        path: impl AsRef<Path>,
        options: crate::save::SaveOptions,
    ) -> Result<crate::save::SaveOutcome> {
        let path = path.as_ref();
        let outcome = crate::save::save(self, path, options)?;
        let (header, image) = crate::files::header_and_image_paths(path);
        self.files = FileMap {
            header: Some(header),
            image: Some(image),
        };
        let written = crate::save::target_format(self.format(), path)?;
        // The image's header is not updated by a save (the file's is): the image matches
        // the file when its values went in unchanged and the header layout is the same.
        let same_layout = std::ptr::eq(
            Header::new(written, self.header.byte_order()).layout(),
            self.header.layout(),
        );
        let why = match outcome.cast {
            Some(cast) => Some(DirtyReason::SavedWithCast(cast)),
            None if !same_layout => Some(DirtyReason::SavedAsFormat(written)),
            None => None,
        };
        match why {
            None => self.match_files(true),
            Some(why) => self.tracking.forget(Some(why)),
        }
        Ok(outcome)
    }

    /// Declares that the image is not known to match its files until [`Image::mark_clean`];
    /// [`Image::dirty_reasons`] then gives `why`, or says it has no file it is known to
    /// match.
    pub fn forget_match(&mut self, why: Option<DirtyReason>) {
        self.tracking.forget(why);
    }

    /// Saves the image to the files of `files` (nibabel's `to_file_map`): the image file
    /// decides the names (a pair's header file is its sibling).
    pub fn to_file_map(
        &mut self,
        files: &FileMap,
        options: crate::save::SaveOptions,
    ) -> Result<crate::save::SaveOutcome> {
        let target = files
            .image
            .as_ref()
            .or(files.header.as_ref())
            .ok_or_else(|| Error::usage("No filename or fileobj present"))?
            .clone();
        self.to_filename(target, options)
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
            DataObj::Proxy(p) => match p.read_real_as::<T>(&Selection::all(), T::FACTOR)? {
                Some(values) => return Ok(values),
                None => p.read_for_float(&Selection::all(), T::FACTOR)?,
            },
        };
        if let Some(same) = values.as_typed::<T>() {
            return Ok(same.clone());
        }
        Ok(T::convert(&values)?.into_shared())
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
        let canonical = selection.canonicalize(self.shape())?;
        let mut axis = 0;
        let mut transform = affine::IDENTITY;
        for item in &canonical {
            match item {
                Canonical::NewAxis if axis < 3 => {
                    return Err(Error::usage("New axis not permitted in spatial dimensions"))
                }
                Canonical::Index(_) if axis < 3 => {
                    return Err(Error::usage(
                        "Scalar indices disallowed in spatial dimensions; Use `[x]` or `x:x+1`.",
                    ))
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
        let data = self.dataobj.read(selection)?;
        let new_affine = self.affine.map(|a| affine::matmul(&a, &transform));
        Self::from_dyn_array(data, new_affine, Some(&self.header), self.format())
    }
}

/// Where an image's files are ([`Image::as_filename`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFiles {
    /// The file with the header.
    pub header: PathBuf,
    /// The file with the data (the same as `header` for single-file formats).
    pub image: PathBuf,
    /// True if these are a copy just saved (the caller's to delete); false for the files
    /// the image was loaded from.
    pub is_copy: bool,
}

/// Knowing whether the image matches its file (docs/nibabel-rules.md §19.1; see
/// [`crate::tracking`] for what is compared and what it costs).
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
    fn match_files(&mut self, after_save: bool) {
        let (Some(header_path), Some(image_path)) = (&self.files.header, &self.files.image) else {
            return self.tracking.forget(None);
        };
        let with_mat = matches!(self.format(), ImageFormat::Spm99 | ImageFormat::Spm2);
        let mut watched = crate::tracking::watched_files(header_path, image_path, with_mat);
        if let (true, DataObj::Proxy(p)) = (after_save, &self.dataobj) {
            if let Some(source) = p.file() {
                if !watched.iter().any(|(path, _)| path == source) {
                    watched.push((source.to_path_buf(), 0));
                }
            }
        }
        let prints = crate::tracking::fingerprint_all(&watched);
        let snapshot = Snapshot::new(&self.header, self.affine.as_ref(), &self.dataobj, prints);
        let accepted_cache = (!after_save).then_some(self.fdata_cache.as_ref());
        self.tracking.reset(snapshot, accepted_cache);
    }

    /// Declares that the image may differ from its file, whatever the checks say, until
    /// [`Image::mark_clean`].
    pub fn mark_dirty(&mut self) {
        self.tracking.mark_dirty();
    }

    /// File names for this image, for a program that needs files (docs/nibabel-rules.md
    /// §19.2): the files it was loaded from when it is clean — nothing is written — else a
    /// copy saved atomically under a new temporary name (`neurovox-XXXXXX.nii`, `.hdr`/`.img`
    /// for pairs, `.mgh`) in `dir`, or the system's temporary directory. The copy is the
    /// caller's to delete.
    /// It holds what the image shows: float data changed through [`Image::get_fdata_mut`]
    /// is saved as that float type (float32 for MGH), not rescaled to the header's type.
    ///
    /// ```
    /// use neurovox::{Image, ImageFormat};
    /// let dir = tempfile::tempdir()?;
    /// let data = ndarray::Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i + j + k) as u8);
    /// let img = Image::from_array(data.into_dyn(), None, ImageFormat::Nifti1)?;
    /// let files = img.as_filename(Some(dir.path()))?; // in memory only: saved
    /// assert!(files.is_copy);
    /// let again = neurovox::load(&files.image)?;
    /// assert_eq!(again.as_filename(None)?.image, files.image); // clean: the same file
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn as_filename(&self, dir: Option<&Path>) -> Result<ImageFiles> {
        if !self.is_dirty() {
            if let (Some(header), Some(image)) = (&self.files.header, &self.files.image) {
                return Ok(ImageFiles {
                    header: header.clone(),
                    image: image.clone(),
                    is_copy: false,
                });
            }
        }
        let dir = dir.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let suffix = match self.format() {
            ImageFormat::Nifti1 | ImageFormat::Nifti2 => ".nii",
            ImageFormat::Mgh => ".mgh",
            _ => ".hdr",
        };
        let reserved = tempfile::Builder::new()
            .prefix("neurovox-")
            .suffix(suffix)
            .tempfile_in(&dir)
            .map_err(|e| Error::io(e).with_path(&dir))?
            .into_temp_path();
        let (header, image) = crate::files::header_and_image_paths(&reserved);
        // A program handed these files must see what this image shows: float data changed
        // in the cache is saved, not the data object behind it (which to_filename saves,
        // as nibabel does).
        // Stored as the cache's float type (MGH has no float64: float32), so the copy holds
        // exactly those values rather than an integer rescaling of them.
        let as_shown;
        let (to_save, options) = match (&self.fdata_cache, self.tracking.fdata_exposed()) {
            (Some(cache), true) => {
                as_shown = Image::from_dyn_array(
                    cache.clone(),
                    self.affine,
                    Some(&self.header),
                    self.format(),
                )?;
                let dtype = match self.format() {
                    ImageFormat::Mgh => crate::DataType::Float32,
                    _ => cache.dtype(),
                };
                let options = crate::save::SaveOptions {
                    dtype: Some(dtype),
                    ..Default::default()
                };
                (&as_shown, options)
            }
            _ => (self, crate::save::SaveOptions::default()),
        };
        if let Err(e) = crate::save::save(to_save, &header, options) {
            if image != header {
                let _ = std::fs::remove_file(&image);
            }
            return Err(e); // `reserved` removes the header name when dropped
        }
        reserved
            .keep()
            .map_err(|e| Error::io(e.error).with_path(&header))?;
        Ok(ImageFiles {
            header,
            image,
            is_copy: true,
        })
    }

    /// A small serialisable handle to this image's files (paths, format, load options,
    /// fingerprints; never data) that any thread or process opens as a proxy image again
    /// ([`crate::ImageHandle`]). A Usage error saying why if the image is dirty.
    pub fn handle(&self) -> Result<crate::ImageHandle> {
        crate::ImageHandle::of(self)
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
    info: &crate::files::HeaderInfo,
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
    let header = Some(info.header_identity);
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
        && !crate::atomic::journal::journal_path(image_path).exists()
}

/// An SPM image's affine: from its `.mat` sidecar when there is one (nibabel reads it with
/// scipy), else the header's origin affine.
fn spm_affine(header: &Header, image_path: &Path) -> Result<Affine> {
    let mat = crate::files::mat_path(image_path);
    if !mat.exists() {
        return header.best_affine();
    }
    let (_, mut reader) = crate::io::open_decompressed(&mat)?;
    let mut bytes = Vec::new();
    crate::io::read_up_to(reader.as_mut(), 1 << 20, &mut bytes).map_err(|e| e.with_path(&mat))?;
    if bytes.is_empty() {
        return header.best_affine();
    }
    crate::format::spm_mat::read_mat_affine(&bytes).map_err(|e| e.with_path(&mat))
}

/// The typed array of a `DynArray`, mutably, if it holds `T`.
fn typed_mut<T: DynElement>(array: &mut DynArray) -> Option<&mut ArcArray<T, IxDyn>> {
    crate::dyn_array_apply!(array, a => (a as &mut dyn std::any::Any).downcast_mut::<ArcArray<T, IxDyn>>())
}

/// Slices an in-memory array by a canonical selection (numpy's basic indexing), copying.
pub fn slice_array(array: &DynArray, canonical: &[Canonical]) -> Result<DynArray> {
    let elems: Vec<SliceInfoElem> = canonical
        .iter()
        .map(|c| match *c {
            Canonical::Index(i) => SliceInfoElem::Index(i as isize),
            Canonical::NewAxis => SliceInfoElem::NewAxis,
            Canonical::Slice { start, step, len } => {
                if len == 0 {
                    return SliceInfoElem::Slice {
                        start: 0,
                        end: Some(0),
                        step: 1,
                    };
                }
                let last = start as isize + (len as isize - 1) * step;
                let (lo, hi) = if step > 0 {
                    (start as isize, last)
                } else {
                    (last, start as isize)
                };
                // ndarray takes negative steps from the end of the range: hi, hi-|step|, …
                SliceInfoElem::Slice {
                    start: lo,
                    end: Some(hi + 1),
                    step,
                }
            }
        })
        .collect();
    let info = SliceInfo::<Vec<SliceInfoElem>, IxDyn, IxDyn>::try_from(elems)
        .map_err(|e| Error::usage(format!("bad selection: {e}")))?;
    Ok(crate::dyn_array_apply!(array, a => DynArray::from_array(a.slice(info.as_ref()).to_owned())))
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

#[cfg(test)]
mod save_tests {
    use super::*;

    #[test]
    fn to_filename_saves_and_updates_the_file_map() {
        let dir = tempfile::tempdir().unwrap();
        let data =
            ndarray::Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i + j + k) as u8).into_dyn();
        let mut img = Image::from_array(data, None, ImageFormat::Nifti1).unwrap();
        let path = dir.path().join("a.img");
        img.to_filename(&path, Default::default()).unwrap();
        assert_eq!(img.file_map().header, Some(dir.path().join("a.hdr")));
        let back = crate::load(&path).unwrap();
        assert_eq!(back.format(), ImageFormat::Nifti1Pair);
        assert_eq!(
            back.dataobj().to_array().unwrap(),
            img.dataobj().to_array().unwrap()
        );
        let files = FileMap {
            header: None,
            image: Some(dir.path().join("b.nii.gz")),
        };
        img.to_file_map(&files, Default::default()).unwrap();
        assert_eq!(
            crate::load(dir.path().join("b.nii.gz")).unwrap().shape(),
            &[2, 3, 4]
        );
    }
}
