//! [`ArrayProxy`]: an array that stays on disk until asked for, and reads only the bytes a
//! slice needs (nibabel's `arrayproxy.py`, docs/nibabel-rules.md §2).
//!
//! A proxy is a spec — shape, stored type and byte order, data offset, slope and intercept,
//! layout order (Fortran for every format here) — and a byte [`Source`]. Reads go through the
//! read planner (`array/plan.rs`) straight into one buffer, then through read scaling
//! (`array/read_scale.rs`). The spec is copied when the proxy is made, so later edits of the
//! header it came from change nothing, and sources read without a shared cursor, so the proxy is
//! `Send + Sync` and any number of threads read it at once.
//!
//! Memory mapping (nibabel's `mmap=True/'c'/'r'`) gives a [`MemmapArray`] over the data of an
//! uncompressed file ([`ArrayProxy::memmap`]); where nibabel would silently fall back to
//! reading (compressed files, sources without a file, files too short), this returns `None`.

use crate::array::dyn_array::DynArray;
use crate::array::index_scaling::IndexScaling;
use crate::array::plan::{DataLayout, PIECE_BYTES, ReadPlan, plan_read_from};
use crate::array::read_scale::{
    FactorType, FloatOut, Scaling, apply_scaling, decode_raw, decode_raw_with,
    decode_raw_with_room, scale_bytes_into, scale_into,
};
use crate::array::selection::{Canonical, Selection};
use crate::dtype::Order;
use crate::dtype::StorageDtype;
use crate::dtype::element::{Element, Rgb, Rgba};
use crate::error::{Error, Result};
use crate::format::Header;
use crate::io::opener::Opener;
use crate::io::{Compression, Source};
use crate::numpy::memmap::{MapMode, MemmapArray, MemmapOptions};
use num_complex::Complex;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// nibabel's `KEEP_FILE_OPEN_DEFAULT`: whether proxies made with `keep_file_open: None` keep
/// one file handle for their life. False, as in nibabel.
static KEEP_FILE_OPEN_DEFAULT: AtomicBool = AtomicBool::new(false);

/// Sets the process-wide default for `keep_file_open` (nibabel's
/// `arrayproxy.KEEP_FILE_OPEN_DEFAULT`); proxies made afterwards use it.
pub fn set_keep_file_open_default(keep: bool) {
    KEEP_FILE_OPEN_DEFAULT.store(keep, Ordering::Relaxed);
}

/// The current process-wide default for `keep_file_open`.
pub fn keep_file_open_default() -> bool {
    KEEP_FILE_OPEN_DEFAULT.load(Ordering::Relaxed)
}

/// How much a direct read allocates ahead of the bytes it has really read.
const GROW_CHUNK: usize = 16 << 20;

/// `raw` with `axes` reversed as a view: only the strides change.
fn reversed_view(mut raw: DynArray, axes: &[usize]) -> DynArray {
    crate::dyn_array_apply!(&mut raw, a => axes
        .iter()
        .for_each(|&axis| a.invert_axis(ndarray::Axis(axis))));
    raw
}

/// A factor axis that a selection keeps as a slice of more than one element, to read and
/// scale one index of at a time: the index of its item in `canonical` and the output axis it
/// becomes. Of several factor axes (MINC's time and slice), the one that varies slowest in
/// the file (`order`), so that each block is one run of the file (a volume, not a slice).
fn factor_axis_in_output(
    factors: &IndexScaling,
    canonical: &[Canonical],
    order: Order,
) -> Option<(usize, usize)> {
    // Slowest in the file first: the first axis in C order, the last in Fortran order.
    let mut axes = factors.axes().to_vec();
    axes.sort_unstable();
    if order == Order::F {
        axes.reverse();
    }
    axes.into_iter().find_map(|axis| {
        let (mut source_axis, mut out_axis) = (0, 0);
        for (item, c) in canonical.iter().enumerate() {
            match *c {
                Canonical::NewAxis => out_axis += 1,
                Canonical::Index(_) => source_axis += 1,
                Canonical::Slice { len, .. } => {
                    if source_axis == axis {
                        return (len > 1).then_some((item, out_axis));
                    }
                    source_axis += 1;
                    out_axis += 1;
                }
            }
        }
        None
    })
}

/// `raw` with `axes` reversed, copied into `order` (the layout every read returns).
fn in_order(raw: DynArray, axes: &[usize], order: Order) -> DynArray {
    fn copy<T: Copy + Default + crate::array::DynElement>(
        a: &ndarray::ArcArray<T, ndarray::IxDyn>,
        order: Order,
    ) -> DynArray {
        use ndarray::ShapeBuilder;
        let shape = ndarray::IxDyn(a.shape()).set_f(order == Order::F);
        let mut out = ndarray::ArrayD::<T>::default(shape);
        if out.ndim() == 0 {
            out.assign(a);
            return DynArray::from_array(out);
        }
        // Row by row along the fastest axis: a tight loop even over reversed strides.
        let axis = ndarray::Axis(match order {
            Order::F => 0,
            Order::C => out.ndim() - 1,
        });
        ndarray::Zip::from(out.lanes_mut(axis))
            .and(a.lanes(axis))
            .for_each(|mut o, v| o.iter_mut().zip(v).for_each(|(o, &v)| *o = v));
        DynArray::from_array(out)
    }
    let raw = reversed_view(raw, axes);
    crate::dyn_array_apply!(&raw, a => copy(a, order))
}

/// `source` as the spec's segments or HDF5 dataset present it (itself without either).
fn in_segments(source: Arc<dyn Source>, spec: &ArraySpec) -> Result<Arc<dyn Source>> {
    if let Some(dataset) = &spec.hdf5_dataset {
        return Ok(Arc::new(crate::io::Hdf5DatasetSource::new(
            source,
            Arc::clone(dataset),
            spec.shape.clone(),
            spec.dtype,
        )?));
    }
    Ok(match &spec.segments {
        Some(ranges) => Arc::new(crate::io::SegmentedSource::new(source, ranges.to_vec())?),
        None => source,
    })
}

/// The byte just past the last one a plan reads.
fn plan_end(plan: &ReadPlan) -> u64 {
    plan.segments()
        .iter()
        .map(|&(o, l)| o + l as u64)
        .max()
        .unwrap_or(0)
}

/// The bytes of a plan of one segment, borrowed from a source that holds them in memory
/// (see [`Source::borrow_at`]), with the offset they start at.
fn borrow_plan<'a>(source: &'a dyn Source, plan: &ReadPlan) -> Option<(u64, &'a [u8])> {
    match plan.segments() {
        [(offset, len)] => Some((*offset, source.borrow_at(*offset, *len)?)),
        _ => None,
    }
}

/// Borrowed bytes are converted or compared in pieces of about this many bytes, each piece
/// prefetched in its source before ([`Source::prefetch`]: a map faults it in at once) and
/// released once done ([`Source::release`]), on every core: a whole mapped
/// `.nii` converted to a float64 array then holds a few pieces of the file beside the array,
/// not the whole file (`get_fdata()` of a 221 MB int16 `.nii` peaked at 1094 MiB, the array
/// and the file; nibabel's at 1096).
const BORROWED_PIECE: usize = 8 << 20;

/// Scales borrowed bytes (`source`'s, from `offset`) into `out` ([`scale_bytes_into`])
/// piece by piece on every core, each piece prefetched and released (see
/// [`BORROWED_PIECE`]).
fn scale_borrowed_into<O: FloatOut>(
    source: &dyn Source,
    (offset, bytes): (u64, &[u8]),
    stored: crate::StorageDtype,
    scaling: &Scaling,
    out: &mut [O],
) -> Result<()> {
    use rayon::prelude::*;
    let itemsize = stored.dtype.itemsize().max(1);
    if bytes.len() != out.len() * itemsize {
        // Not one value per output element: the conversion itself names the mismatch.
        return scale_bytes_into(bytes, stored, scaling, out);
    }
    let values = (BORROWED_PIECE / itemsize).max(1);
    out.par_chunks_mut(values)
        .zip(bytes.par_chunks(values * itemsize))
        .enumerate()
        .try_for_each(|(k, (out, bytes))| {
            let at = offset + (k * values * itemsize) as u64;
            source.prefetch(at, at + bytes.len() as u64);
            scale_bytes_into(bytes, stored, scaling, out)?;
            source.release(at, bytes.len());
            Ok(())
        })
}

/// Whether every piece of borrowed bytes (`source`'s, from `offset`; `itemsize` bytes per
/// value) matches its share of `expected` by `same`, checked on every core, each piece
/// prefetched and released (see [`BORROWED_PIECE`]).
fn borrowed_pieces_match<E: Sync>(
    source: &dyn Source,
    (offset, bytes): (u64, &[u8]),
    itemsize: usize,
    expected: &[E],
    same: impl Fn(&[u8], &[E]) -> Result<bool> + Sync,
) -> Result<bool> {
    use rayon::prelude::*;
    let itemsize = itemsize.max(1);
    if bytes.len() != expected.len() * itemsize {
        return Ok(false);
    }
    let values = (BORROWED_PIECE / itemsize).max(1);
    expected
        .par_chunks(values)
        .zip(bytes.par_chunks(values * itemsize))
        .enumerate()
        .map(|(k, (expected, bytes))| {
            let at = offset + (k * values * itemsize) as u64;
            source.prefetch(at, at + bytes.len() as u64);
            let matched = same(bytes, expected);
            source.release(at, bytes.len());
            matched
        })
        .try_reduce(|| true, |a, b| Ok(a && b))
}

/// Reads segments one after the other into a buffer that grows as the bytes arrive.
fn read_growing(source: &dyn Source, segments: &[(u64, usize)]) -> Result<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    for &(offset, len) in segments {
        let mut done = 0;
        while done < len {
            let n = (len - done).min(GROW_CHUNK);
            let start = out.len();
            out.try_reserve(n).map_err(|_| {
                Error::limit(format!("cannot allocate {n} more bytes for the read"))
            })?;
            out.resize(start + n, 0);
            source.read_at(offset + done as u64, &mut out[start..])?;
            done += n;
        }
    }
    Ok(out)
}

/// nibabel's `mmap` argument.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum MmapMode {
    /// `False`: always read.
    No,
    /// `True` or `'c'`: copy-on-write maps (writes stay private).
    #[default]
    CopyOnWrite,
    /// `'r'`: read-only maps.
    ReadOnly,
}

impl MmapMode {
    fn map_mode(self) -> Option<MapMode> {
        match self {
            MmapMode::No => None,
            MmapMode::CopyOnWrite => Some(MapMode::CopyOnWrite),
            MmapMode::ReadOnly => Some(MapMode::Read),
        }
    }
}

/// How a proxy reads: nibabel's `mmap` and `keep_file_open` keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ProxyOptions {
    /// Memory mapping for whole, unscaled reads of uncompressed files.
    pub mmap: MmapMode,
    /// Keep one file handle open for the proxy's life (`None`: the process-wide default).
    /// Compressed files keep their random-access index either way.
    pub keep_file_open: Option<bool>,
    /// Caps on what the file may make a load read beyond its data.
    #[serde(default)]
    pub limits: crate::limits::Limits,
    /// PAR/REC's load keywords (scaling, `permit_truncated`, `strict_sort`); other formats
    /// ignore them.
    #[serde(default)]
    pub parrec: crate::format::parrec::ParrecOptions,
}

/// How a read computes values from the stored ones: the options of [`ArrayProxy::read_with`],
/// [`ArrayProxy::read_into`] and [`ArrayProxy::read_matches`].
///
/// ```
/// use neurovox::array::FactorType;
/// use neurovox::image::ReadOptions;
/// // What nibabel's get_fdata() computes: float32 scale factors widened to float64 first.
/// let fdata = ReadOptions { factors: Some(FactorType::F64) };
/// assert_ne!(fdata, ReadOptions::default()); // proxy[key]: the header's own factors
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// The precision the scale factors are applied in. `None` (the default) or `F32`: the
    /// header's own (float32 for SPM99, else float64), as nibabel's `proxy[key]`. `F64`:
    /// float32 factors widened first, as nibabel's `np.asanyarray(proxy, np.float64)`
    /// (`get_fdata`) computes them; factors that would narrow are kept.
    pub factors: Option<FactorType>,
}

/// What a proxy reads: where the array is and how to turn its bytes into values.
#[derive(Debug, Clone, PartialEq)]
pub struct ArraySpec {
    /// The array's shape.
    pub shape: Vec<usize>,
    /// Stored element type and byte order.
    pub dtype: StorageDtype,
    /// Byte offset of the first element in the (decompressed) file.
    pub offset: u64,
    /// Read scaling.
    pub scaling: Scaling,
    /// Layout order in the file (Fortran for NIfTI, Analyze and MGH).
    pub order: Order,
    /// Scale factors that change along some axes (AFNI's per-sub-brick factors, ECAT's
    /// per-frame ones); when set, they replace `scaling` (which stays the identity) and values
    /// come out in float64 (complex128), as nibabel's AFNI and ECAT proxies give them.
    pub index_scaling: Option<Arc<IndexScaling>>,
    /// The byte ranges `(offset, len)` of the file that hold the array, one after the other
    /// (ECAT frames, each after its subheader); `offset` then counts within them. `None`: one
    /// run from `offset`.
    pub segments: Option<Arc<[(u64, u64)]>>,
    /// Axes stored in reverse (ECAT's `patient_orientation`): index `i` of such an axis is
    /// stored at `len - 1 - i`.
    pub flipped_axes: Vec<usize>,
    /// The array is this HDF5 dataset of the file (MINC2's image), not bytes at `offset`:
    /// its decoded elements, in C order, are the bytes read (`io::Hdf5DatasetSource`).
    pub hdf5_dataset: Option<Arc<str>>,
}

impl ArraySpec {
    /// Unscaled values of `dtype` in Fortran order from byte 0 (nibabel's `ArrayProxy`
    /// defaults), for data no header describes; set the other fields as needed.
    ///
    /// ```
    /// use neurovox::image::{ArrayProxy, ArraySpec};
    /// use neurovox::io::MemorySource;
    /// use neurovox::{ByteOrder, DataType, StorageDtype};
    /// let spec = ArraySpec::unscaled(vec![3], StorageDtype::new(DataType::UInt8, ByteOrder::Little));
    /// let proxy = ArrayProxy::from_source(std::sync::Arc::new(MemorySource::new(vec![7, 8, 9])), spec);
    /// assert_eq!(proxy.read(..)?.get_f64(&[2]), Some(9.0));
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn unscaled(shape: Vec<usize>, dtype: StorageDtype) -> Self {
        ArraySpec {
            shape,
            dtype,
            offset: 0,
            scaling: Scaling::IDENTITY,
            order: Order::F,
            index_scaling: None,
            segments: None,
            flipped_axes: Vec::new(),
            hdf5_dataset: None,
        }
    }

    /// The spec a header describes (nibabel builds its proxies from a header the same way).
    /// SPM99 headers give float32 scale factors; every other format float64.
    pub fn from_header(header: &Header) -> Result<Self> {
        if let Header::Ecat(ecat) = header {
            return Self::from_ecat(ecat);
        }
        if let Header::Parrec(par) = header {
            return Self::from_parrec(par);
        }
        if let Header::Minc(minc) = header {
            return Self::from_minc(minc);
        }
        let (slope, inter) = header.slope_inter()?;
        let index_scaling = match header {
            Header::Afni(afni) => afni
                .data_scaling()?
                .map(|facs| {
                    let zeros = vec![0.0; facs.len()];
                    IndexScaling::along(
                        afni.geometry().data_shape().len().saturating_sub(1),
                        facs,
                        zeros,
                    )
                    .map(Arc::new)
                })
                .transpose()?,
            _ => None,
        };
        let factor = match header.format() {
            crate::ImageFormat::Spm99 => FactorType::F32,
            _ => FactorType::F64,
        };
        Ok(ArraySpec {
            shape: header.data_shape()?,
            dtype: header.data_dtype()?,
            offset: header.data_offset(),
            scaling: Scaling::from_header_values(slope, inter, factor),
            order: Order::F,
            index_scaling,
            segments: None,
            flipped_axes: Vec::new(),
            hdf5_dataset: None,
        })
    }

    /// True when values are the stored values: no slope and intercept, no per-index factors.
    ///
    /// ```
    /// use neurovox::image::ArraySpec;
    /// use neurovox::{ByteOrder, DataType, StorageDtype};
    /// let spec = ArraySpec::unscaled(vec![3], StorageDtype::new(DataType::UInt8, ByteOrder::Little));
    /// assert!(spec.is_unscaled());
    /// ```
    pub fn is_unscaled(&self) -> bool {
        self.scaling.is_identity() && self.index_scaling.is_none()
    }

    /// True when the file holds the array as one run in the array's own order, so a memory
    /// map or a reshape can show it as it is: no segments, no flipped axes, no HDF5 dataset.
    pub fn is_one_run(&self) -> bool {
        self.segments.is_none() && self.flipped_axes.is_empty() && self.hdf5_dataset.is_none()
    }

    /// A selection of the array as a selection of the stored bytes with every step forwards,
    /// and the output axes to reverse afterwards to give the selection's order: a flipped
    /// axis is read as stored, one run per row, instead of one element at a time.
    fn forward_selection(&self, canonical: Vec<Canonical>) -> (Vec<Canonical>, Vec<usize>) {
        let mut reversed = Vec::new();
        if self.flipped_axes.is_empty() {
            return (canonical, reversed);
        }
        let mut out_axis = 0;
        let forwards = self
            .stored_selection(canonical)
            .into_iter()
            .map(|item| match item {
                Canonical::Index(_) => item,
                Canonical::NewAxis => {
                    out_axis += 1;
                    item
                }
                Canonical::Slice { start, step, len } => {
                    out_axis += 1;
                    if step < 0 && len > 1 {
                        reversed.push(out_axis - 1);
                        Canonical::Slice {
                            start: (start as isize + (len as isize - 1) * step) as usize,
                            step: -step,
                            len,
                        }
                    } else {
                        item
                    }
                }
            })
            .collect();
        (forwards, reversed)
    }

    /// A selection of the array (`canonical`, resolved against the shape) as a selection of
    /// the stored bytes: on a flipped axis, position `i` is stored at `len - 1 - i`.
    fn stored_selection(&self, mut canonical: Vec<Canonical>) -> Vec<Canonical> {
        if self.flipped_axes.is_empty() {
            return canonical;
        }
        let mut axis = 0;
        for item in &mut canonical {
            let flipped = self.flipped_axes.contains(&axis);
            let len = self.shape.get(axis).copied().unwrap_or(0);
            match *item {
                Canonical::NewAxis => continue,
                Canonical::Index(i) if flipped => *item = Canonical::Index(len - 1 - i),
                Canonical::Slice {
                    start,
                    step,
                    len: n,
                } if flipped && n > 0 => {
                    *item = Canonical::Slice {
                        start: len - 1 - start,
                        step: -step,
                        len: n,
                    }
                }
                _ => {}
            }
            axis += 1;
        }
        canonical
    }

    /// An ECAT7 image's frames as one array (nibabel's `EcatImageArrayProxy`): the frames'
    /// byte ranges in frame order, each scaled by the calibration factor and then its own
    /// scale factor (float32 data in float32, as nibabel's Python-float products give it),
    /// axes flipped as `patient_orientation` says.
    fn from_ecat(ecat: &crate::format::EcatHeader) -> Result<Self> {
        let shape = ecat.data_shape()?;
        let slopes = ecat.frame_scale_factors()?;
        let zeros = vec![0.0; slopes.len()];
        let factors = IndexScaling::along(3, slopes, zeros)?
            .with_leading_factor(ecat.calibration_factor())
            .with_float32_arithmetic();
        Ok(ArraySpec {
            shape,
            dtype: ecat.data_dtype()?,
            offset: 0,
            scaling: Scaling::IDENTITY,
            order: Order::F,
            index_scaling: Some(Arc::new(factors)),
            segments: Some(ecat.frame_ranges()?.into()),
            flipped_axes: ecat.flipped_axes(),
            hdf5_dataset: None,
        })
    }

    /// A PAR/REC image's slices as one array (nibabel's `PARRECArrayProxy`): the `.REC`'s
    /// slices in the header's sorted order, each scaled by its own slope and intercept under
    /// the scaling the header was loaded with.
    fn from_parrec(par: &crate::format::ParrecHeader) -> Result<Self> {
        let shape = par.geometry().data_shape().to_vec();
        let (slopes, inters) = par.data_scaling(par.options().scaling)?;
        let slices: usize = shape.iter().skip(2).product();
        if shape.len() < 3 || slopes.len() != slices {
            return Err(Error::usage(format!(
                "the PAR/REC header's shape {shape:?} does not hold its {} sorted slices",
                slopes.len()
            )));
        }
        // The header lists slice-fastest (Fortran order over slice and volume); the factor
        // table runs in C order over its axes.
        let index_scaling = if shape.len() == 4 {
            let (nz, nv) = (shape[2], shape[3]);
            let c_order = |f: &[f64]| -> Vec<f64> {
                (0..nz)
                    .flat_map(|z| (0..nv).map(move |v| (z, v)))
                    .map(|(z, v)| f[z + nz * v])
                    .collect()
            };
            IndexScaling::new(vec![2, 3], vec![nz, nv], c_order(&slopes), c_order(&inters))?
        } else {
            IndexScaling::along(2, slopes, inters)?
        };
        let segments = match par.is_in_file_order() {
            true => None,
            false => Some(par.slice_ranges()?.into()),
        };
        Ok(ArraySpec {
            shape,
            dtype: par.geometry().data_dtype(),
            offset: 0,
            scaling: Scaling::IDENTITY,
            order: Order::F,
            index_scaling: Some(Arc::new(index_scaling)),
            segments,
            flipped_axes: Vec::new(),
            hdf5_dataset: None,
        })
    }

    /// A MINC image (nibabel's `MincImageArrayProxy`): C order; MINC1 from the image
    /// variable's bytes, MINC2 from its HDF5 dataset; integers clipped to the valid range and
    /// scaled per entry of `image-min` / `image-max` (values in float64), floats as stored.
    fn from_minc(minc: &crate::format::MincHeader) -> Result<Self> {
        let shape = minc.geometry().data_shape().to_vec();
        let index_scaling = match minc.data_scaling()? {
            None => None,
            Some(s) => {
                let factors = IndexScaling::new(s.axes, s.lens, s.slopes, s.inters)?;
                Some(Arc::new(factors.with_clip(s.clip[0], s.clip[1])))
            }
        };
        let (offset, segments, hdf5_dataset) = match minc.version() {
            crate::format::minc::MincVersion::Two => {
                (0, None, Some(Arc::from(crate::format::minc::MINC2_IMAGE)))
            }
            crate::format::minc::MincVersion::One => match minc.data_ranges() {
                [(offset, _)] => (*offset, None, None),
                ranges => (0, Some(ranges.into()), None),
            },
        };
        Ok(ArraySpec {
            shape,
            dtype: minc.geometry().data_dtype(),
            offset,
            scaling: Scaling::IDENTITY,
            order: Order::C,
            index_scaling,
            segments,
            flipped_axes: Vec::new(),
            hdf5_dataset,
        })
    }

    /// The byte just past the data (`offset` + the size of the whole array), if it can be
    /// counted.
    fn data_end(&self) -> Option<u64> {
        crate::dtype::checked_nbytes(&self.shape, self.dtype.dtype.itemsize())?
            .checked_add(self.offset)
    }

    fn layout(&self) -> DataLayout {
        DataLayout {
            shape: self.shape.clone(),
            itemsize: self.dtype.dtype.itemsize(),
            offset: self.offset,
            order: self.order,
        }
    }
}

/// A memory map of a proxy's data with its element type decided at run time.
#[derive(Debug)]
pub enum DynMemmap {
    /// uint8
    U8(MemmapArray<u8>),
    /// int8
    I8(MemmapArray<i8>),
    /// uint16
    U16(MemmapArray<u16>),
    /// int16
    I16(MemmapArray<i16>),
    /// uint32
    U32(MemmapArray<u32>),
    /// int32
    I32(MemmapArray<i32>),
    /// uint64
    U64(MemmapArray<u64>),
    /// int64
    I64(MemmapArray<i64>),
    /// float32
    F32(MemmapArray<f32>),
    /// float64
    F64(MemmapArray<f64>),
    /// complex64
    C64(MemmapArray<Complex<f32>>),
    /// complex128
    C128(MemmapArray<Complex<f64>>),
    /// RGB24
    Rgb(MemmapArray<Rgb>),
    /// RGBA32
    Rgba(MemmapArray<Rgba>),
}

impl DynMemmap {
    fn open(path: &Path, spec: &ArraySpec, mode: MapMode) -> Result<Option<DynMemmap>> {
        fn map<T: Element>(path: &Path, spec: &ArraySpec, mode: MapMode) -> Result<MemmapArray<T>> {
            let options = MemmapOptions::new(mode)
                .offset(spec.offset)
                .shape(&spec.shape)
                .order(spec.order)
                .byte_order(spec.dtype.order);
            MemmapArray::open(path, options)
        }
        use crate::DataType as D;
        Ok(Some(match spec.dtype.dtype {
            D::UInt8 => DynMemmap::U8(map(path, spec, mode)?),
            D::Int8 => DynMemmap::I8(map(path, spec, mode)?),
            D::UInt16 => DynMemmap::U16(map(path, spec, mode)?),
            D::Int16 => DynMemmap::I16(map(path, spec, mode)?),
            D::UInt32 => DynMemmap::U32(map(path, spec, mode)?),
            D::Int32 => DynMemmap::I32(map(path, spec, mode)?),
            D::UInt64 => DynMemmap::U64(map(path, spec, mode)?),
            D::Int64 => DynMemmap::I64(map(path, spec, mode)?),
            D::Float32 => DynMemmap::F32(map(path, spec, mode)?),
            D::Float64 => DynMemmap::F64(map(path, spec, mode)?),
            D::Complex64 => DynMemmap::C64(map(path, spec, mode)?),
            D::Complex128 => DynMemmap::C128(map(path, spec, mode)?),
            D::Rgb24 => DynMemmap::Rgb(map(path, spec, mode)?),
            D::Rgba32 => DynMemmap::Rgba(map(path, spec, mode)?),
            // binary128 has no Rust type to map as.
            D::Float128 | D::Complex256 => return Ok(None),
        }))
    }

    /// The mapped values copied into an array in native byte order.
    pub fn to_dyn_array(&self) -> DynArray {
        macro_rules! each {
            ($($v:ident),*) => {
                match self { $(DynMemmap::$v(m) => DynArray::from_array(m.to_array()),)* }
            };
        }
        each!(
            U8, I8, U16, I16, U32, I32, U64, I64, F32, F64, C64, C128, Rgb, Rgba
        )
    }
}

/// An array on disk, read lazily (nibabel's `ArrayProxy`).
///
/// ```
/// use neurovox::image::{ArrayProxy, ArraySpec};
/// use neurovox::array::Scaling;
/// use neurovox::array::Selection;
/// use neurovox::Order;
/// use neurovox::io::MemorySource;
/// use neurovox::{ByteOrder, DataType, StorageDtype};
/// use std::sync::Arc;
///
/// // A 2×3 int16 array in Fortran order, values 0..6, with slope 2 and intercept 1.
/// let bytes: Vec<u8> = (0..6i16).flat_map(|v| v.to_le_bytes()).collect();
/// let spec = ArraySpec {
///     shape: vec![2, 3],
///     dtype: StorageDtype::new(DataType::Int16, ByteOrder::Little),
///     offset: 0,
///     scaling: Scaling::new(2.0, 1.0, neurovox::array::FactorType::F64),
///     order: Order::F,
///     index_scaling: None,
///     segments: None,
///     flipped_axes: Vec::new(),
///     hdf5_dataset: None,
/// };
/// let proxy = ArrayProxy::from_source(Arc::new(MemorySource::new(bytes)), spec);
/// let all = proxy.read(Selection::all())?;
/// assert_eq!(all.dtype(), DataType::Float64);
/// assert_eq!(all.get_f64(&[1, 2]), Some(11.0)); // raw 5 * 2 + 1
/// let column = proxy.read(&Selection::from(vec![
///     neurovox::array::SliceItem::Slice { start: None, stop: None, step: 1 },
///     neurovox::array::SliceItem::Index(-1),
/// ]))?;
/// assert_eq!(column.shape(), &[2]);
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ArrayProxy {
    spec: ArraySpec,
    source: Arc<dyn Source>,
    file: Option<PathBuf>,
    compression: Compression,
    mmap: MmapMode,
    keep_file_open: bool,
}

impl ArrayProxy {
    /// A proxy over the file at `path` (its compression recognised by content). Nothing but
    /// the first bytes is read.
    ///
    /// `path` may be a URL (with the `remote` feature): the proxy then reads the object's
    /// ranges through a block cache, and is never memory-mapped.
    pub fn open(path: impl AsRef<Path>, spec: ArraySpec, options: ProxyOptions) -> Result<Self> {
        let path = path.as_ref();
        Self::open_in(&Opener::for_name(path)?, path, spec, options)
    }

    /// As [`ArrayProxy::open`], the file opened by `opener` (one load's).
    pub(crate) fn open_in(
        opener: &Opener,
        path: &Path,
        spec: ArraySpec,
        options: ProxyOptions,
    ) -> Result<Self> {
        let keep_file_open = options
            .keep_file_open
            .unwrap_or_else(keep_file_open_default);
        let compression = opener.compression(path)?;
        // With memory mapping on, reads copy from one map of the file (nibabel maps only whole
        // reads; every read here is served by the map).
        let mmap = if opener.is_remote() {
            MmapMode::No
        } else {
            options.mmap
        };
        let source = opener.random_access(
            path,
            compression,
            crate::io::SourceOptions {
                keep_open: keep_file_open,
                map: mmap != MmapMode::No,
            },
        )?;
        let source = in_segments(source, &spec)?;
        if let Some(end) = spec.data_end() {
            source.expect_data_end(end);
        }
        Ok(ArrayProxy {
            spec,
            source,
            file: Some(path.to_path_buf()),
            compression,
            mmap,
            keep_file_open,
        })
    }

    /// A proxy over any byte source (never memory-mapped).
    pub fn from_source(source: Arc<dyn Source>, spec: ArraySpec) -> Self {
        // Segments that cannot be joined (their lengths overflow) leave nothing to read: every
        // read is then a past-the-end error, never the bytes of another layout.
        let source = in_segments(source, &spec)
            .unwrap_or_else(|_| Arc::new(crate::io::MemorySource::new(Vec::new())));
        ArrayProxy {
            spec,
            source,
            file: None,
            compression: Compression::None,
            mmap: MmapMode::No,
            keep_file_open: false,
        }
    }

    /// The spec: shape, stored type, offset, scaling, order.
    pub fn spec(&self) -> &ArraySpec {
        &self.spec
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.spec.shape
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.spec.shape.len()
    }

    /// The stored type and byte order (nibabel's `proxy.dtype`).
    pub fn dtype(&self) -> StorageDtype {
        self.spec.dtype
    }

    /// The element type of what [`ArrayProxy::read`] returns (scaled values).
    pub fn output_dtype(&self) -> Result<crate::DataType> {
        if let Some(factors) = &self.spec.index_scaling {
            return self.naming_file(factors.output_dtype(self.spec.dtype.dtype));
        }
        self.naming_file(self.spec.scaling.output_dtype(self.spec.dtype.dtype))
    }

    /// The data offset.
    pub fn offset(&self) -> u64 {
        self.spec.offset
    }

    /// The slope.
    pub fn slope(&self) -> f64 {
        self.spec.scaling.slope
    }

    /// The intercept.
    pub fn inter(&self) -> f64 {
        self.spec.scaling.inter
    }

    /// Always true: nibabel's `is_proxy`.
    pub fn is_proxy(&self) -> bool {
        true
    }

    /// The memory-mapping mode.
    pub fn mmap_mode(&self) -> MmapMode {
        self.mmap
    }

    /// True if the proxy keeps one file handle open.
    pub fn keeps_file_open(&self) -> bool {
        self.keep_file_open
    }

    /// The file the data is in, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The compression of the file.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// `result`, its error naming the proxy's file when nothing more specific was named (a
    /// selection or a layout the data cannot have, colour data asked for as floats): the one
    /// rule by which errors of work on this proxy's data name its file. Every read here
    /// applies it; callers that plan or convert a proxy's data themselves (the Python
    /// bindings) apply it to their own results.
    ///
    /// ```
    /// use neurovox::{Error, load};
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("tiny.nii");
    /// # let data = ndarray::Array::from_shape_fn((2, 2), |(i, j)| (i + j) as u8).into_dyn();
    /// # neurovox::save(&neurovox::Image::from_array(data, None, neurovox::ImageFormat::Nifti1)?, &path, Default::default())?;
    /// let img = load(&path)?;
    /// let neurovox::image::DataObj::Proxy(proxy) = img.dataobj() else { unreachable!() };
    /// let e = proxy.naming_file::<()>(Err(Error::usage("no such plan"))).unwrap_err();
    /// assert_eq!(e.path(), Some(path.as_path()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn naming_file<T>(&self, result: Result<T>) -> Result<T> {
        match (&self.file, result) {
            (Some(file), Err(e)) => Err(e.with_path(file)),
            (_, other) => other,
        }
    }

    /// The byte source (shared by every clone of the proxy).
    pub fn source(&self) -> &Arc<dyn Source> {
        &self.source
    }

    /// Reads the raw bytes of a selection and its shape (no byte swap, no scaling). No
    /// buffer is sized by the header alone: segments read straight into the output grow it
    /// chunk by chunk, so a file shorter than its header claims fails with at most one chunk
    /// too many allocated; a read through a scratch buffer first checks the last byte exists.
    fn read_bytes_planned(&self, plan: &ReadPlan) -> Result<(Vec<u8>, Vec<usize>)> {
        let shape = plan.output_shape().to_vec();
        let source = self.source.as_ref();
        if plan.post_slicing().is_none() {
            return Ok((read_growing(source, plan.segments())?, shape));
        }
        if plan.bytes_to_read() > GROW_CHUNK as u64
            && let Some(end) = plan.segments().iter().map(|(o, l)| o + *l as u64).max()
        {
            source.read_at(end - 1, &mut [0u8; 1])?;
        }
        let mut buf = vec![0u8; plan.output_bytes()];
        plan.read_into(source, &mut buf)?;
        Ok((buf, shape))
    }

    /// The stored values of a selection, unscaled, in native byte order (nibabel's
    /// `get_unscaled` for the whole array). When the source surely holds the bytes (its
    /// length is known), they are read straight into the typed result; otherwise through a
    /// buffer that grows as the bytes arrive.
    ///
    /// # Errors
    ///
    /// A Usage error for a selection outside the shape; a Limit or Format error (naming the
    /// file) when the file holds fewer bytes than the selection needs, or its compressed data
    /// is damaged; an Io error from the operating system; a Stale error when the file was
    /// replaced since the proxy was made.
    pub fn read_raw(&self, selection: impl Into<Selection>) -> Result<DynArray> {
        let selection = selection.into();
        self.naming_file((|| -> Result<_> {
            let (raw, reversed) = self.read_forwards(&selection)?;
            if reversed.is_empty() {
                return Ok(raw);
            }
            Ok(in_order(raw, &reversed, self.spec.order))
        })())
    }

    /// The stored values of `selection`, read with every step forwards (see
    /// [`ArraySpec::forward_selection`]), and the output axes still to reverse.
    fn read_forwards(&self, selection: &Selection) -> Result<(DynArray, Vec<usize>)> {
        self.read_forwards_canonical(selection.canonicalize(&self.spec.shape)?)
    }

    /// [`ArrayProxy::read_forwards`] of a selection already resolved against the shape.
    fn read_forwards_canonical(&self, canonical: Vec<Canonical>) -> Result<(DynArray, Vec<usize>)> {
        if let Some(read) = self.read_as_box(&canonical) {
            return read;
        }
        let (canonical, reversed) = self.spec.forward_selection(canonical);
        let plan = plan_read_from(self.source.as_ref(), &self.spec.layout(), &canonical)?;
        if self.source.may_hold(plan_end(&plan)) || plan.bytes_to_read() <= GROW_CHUNK as u64 {
            let source = self.source.as_ref();
            // A whole .nii.gz inflates fastest in one call, with room for the header
            // before the values (io::gzip, "Whole reads in one call").
            let room = plan.room_for_read(source);
            let raw = decode_raw_with_room(
                self.spec.dtype,
                plan.output_shape(),
                self.spec.order,
                room,
                |buf| plan.read_into_with_room(source, buf, room),
            )?;
            return Ok((raw, reversed));
        }
        let (bytes, shape) = self.read_bytes_planned(&plan)?;
        Ok((
            decode_raw(&bytes, self.spec.dtype, &shape, self.spec.order)?,
            reversed,
        ))
    }

    /// A basic selection read in one call from a source that holds an array (an HDF5
    /// dataset: [`Source::read_box`]), each step forwards, and the output axes to reverse
    /// for the negative ones; `None` for byte sources.
    fn read_as_box(&self, canonical: &[Canonical]) -> Option<Result<(DynArray, Vec<usize>)>> {
        if !self.spec.flipped_axes.is_empty() || self.spec.order != Order::C {
            return None;
        }
        // The whole array: the planner reads it in one call straight into the output.
        let whole = canonical
            .iter()
            .filter(|c| !matches!(c, Canonical::NewAxis))
            .count()
            == self.spec.shape.len()
            && canonical
                .iter()
                .filter(|c| !matches!(c, Canonical::NewAxis))
                .zip(&self.spec.shape)
                .all(
                    |(c, &n)| matches!(*c, Canonical::Slice { start: 0, step: 1, len } if len == n),
                );
        if whole {
            return None;
        }
        let mut strided_box = Vec::new();
        let mut shape = Vec::new();
        let mut reversed = Vec::new();
        for item in canonical {
            match *item {
                Canonical::Index(i) => strided_box.push((i as u64, 1, 1)),
                Canonical::NewAxis => shape.push(1),
                Canonical::Slice { start, step, len } => {
                    let first = match step < 0 && len > 1 {
                        true => {
                            reversed.push(shape.len());
                            start - (len - 1) * step.unsigned_abs()
                        }
                        false => start,
                    };
                    strided_box.push((first as u64, len as u64, step.unsigned_abs() as u64));
                    shape.push(len);
                }
            }
        }
        let bytes = self.source.read_box(&strided_box)?;
        Some(bytes.and_then(|bytes| {
            let raw = decode_raw(&bytes, self.spec.dtype, &shape, Order::C)?;
            Ok((raw, reversed))
        }))
    }

    /// The scaled values of a selection (nibabel's `proxy[key]`; `Selection::all()` for
    /// `np.asarray(proxy)`), in the output type nibabel's scaling rules give.
    ///
    /// ```
    /// use neurovox::array::{FactorType, Scaling};
    /// use neurovox::image::{ArrayProxy, ArraySpec};
    /// use neurovox::io::MemorySource;
    /// use neurovox::{sel, ByteOrder, DataType, Order, StorageDtype};
    /// let spec = ArraySpec {
    ///     shape: vec![2, 2],
    ///     dtype: StorageDtype::new(DataType::UInt8, ByteOrder::Little),
    ///     offset: 0,
    ///     scaling: Scaling::new(2.0, 0.5, FactorType::F64),
    ///     order: Order::F,
    ///     index_scaling: None,
    ///     segments: None,
    ///     flipped_axes: Vec::new(),
    ///     hdf5_dataset: None,
    /// };
    /// let proxy = ArrayProxy::from_source(std::sync::Arc::new(MemorySource::new(vec![1, 2, 3, 4])), spec);
    /// assert_eq!(proxy.read(sel![.., 1])?.get_f64(&[1]), Some(8.5));
    /// assert_eq!(proxy.read_raw(sel![.., 1])?.get_f64(&[1]), Some(4.0));
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`ArrayProxy::read_raw`].
    pub fn read(&self, selection: impl Into<Selection>) -> Result<DynArray> {
        self.naming_file(self.read_scaled(&selection.into(), self.spec.scaling))
    }

    /// The values of `selection` scaled by `scaling`: real float results go from the stored
    /// bytes straight into the result ([`ArrayProxy::read_into`]) when the source may
    /// hold the bytes; other results decode the stored values first.
    fn read_scaled(&self, selection: &Selection, scaling: Scaling) -> Result<DynArray> {
        if let Some(factors) = &self.spec.index_scaling {
            let canonical = selection.canonicalize(&self.spec.shape)?;
            let raw = self.read_raw(selection.clone())?;
            return factors.apply(&raw, &canonical);
        }
        if !scaling.is_identity() {
            let plan = self.plan(selection)?;
            if self.source.may_hold(plan_end(&plan)) {
                match scaling.output_dtype(self.spec.dtype.dtype) {
                    Ok(crate::DataType::Float64) => {
                        return self.read_float_array::<f64>(&plan, scaling);
                    }
                    Ok(crate::DataType::Float32) => {
                        return self.read_float_array::<f32>(&plan, scaling);
                    }
                    _ => {}
                }
            }
        }
        let raw = self.read_raw(selection)?;
        apply_scaling(&raw, self.spec.dtype.dtype, &scaling)
    }

    /// The values of `selection` computed for `requested` factors and cast to `O` (`f32` or
    /// `f64`), in a new array filled by one streamed pass from the stored bytes (see
    /// [`ArrayProxy::read_into`]): what [`ArrayProxy::read_with`] followed by a
    /// cast gives, without the arrays in between. `None` where that path does not apply:
    /// values that are not real (complex, colour), binary128 storage, or a source that may
    /// hold fewer bytes than the header says (whose reads grow as the bytes arrive).
    ///
    pub(crate) fn read_as<O: FloatOut + crate::array::dyn_array::DynElement>(
        &self,
        selection: &Selection,
        requested: FactorType,
    ) -> Result<Option<ndarray::ArcArray<O, ndarray::IxDyn>>> {
        self.naming_file((|| -> Result<_> {
            use crate::DataType as D;
            let storage = self.spec.dtype.dtype;
            if storage.is_complex()
                || matches!(storage, D::Rgb24 | D::Rgba32 | D::Float128 | D::Complex256)
            {
                return Ok(None);
            }
            let scaling = self.scaling_for(Some(requested));
            if scaling.is_identity()
                && self.spec.index_scaling.is_none()
                && storage == O::DTYPE
                && self.spec.dtype.order == crate::ByteOrder::NATIVE
            {
                // The stored values are the values asked for: read them as stored (a whole
                // .nii.gz in one call, io::gzip "Whole reads in one call"); read_raw plans
                // the read itself.
                return Ok(self.read_raw(selection)?.as_typed::<O>().cloned());
            }
            let plan = self.plan(selection)?;
            if !self.source.may_hold(plan_end(&plan)) {
                return Ok(None);
            }
            if self.spec.index_scaling.is_some() {
                // Scaled straight into the result (the source holds the bytes: the result
                // is not sized by the header alone), no float64 array in between.
                let mut values: Vec<O> =
                    crate::array::dyn_array::zeroed_values(plan.output_shape().iter().product())?;
                self.index_scaled_into(selection, &mut values)?;
                use ndarray::ShapeBuilder;
                let shape = ndarray::IxDyn(plan.output_shape()).set_f(self.spec.order == Order::F);
                let array = ndarray::ArrayD::from_shape_vec(shape, values).map_err(|e| {
                    Error::usage(format!("scaled values do not fill their shape: {e}"))
                })?;
                return Ok(Some(array.into_shared()));
            }
            let values = self.read_float_array::<O>(&plan, scaling)?;
            Ok(values.as_typed::<O>().cloned())
        })())
    }

    /// A new array of the plan's values scaled into `O` (see [`ArrayProxy::read_into`]).
    fn read_float_array<O: FloatOut + crate::array::dyn_array::DynElement>(
        &self,
        plan: &ReadPlan,
        scaling: Scaling,
    ) -> Result<DynArray> {
        let count: usize = plan.output_shape().iter().product();
        let mut values: Vec<O> = crate::array::dyn_array::zeroed_values(count)?;
        self.scale_plan_into(plan, scaling, &mut values)?;
        use ndarray::ShapeBuilder;
        let shape = ndarray::IxDyn(plan.output_shape()).set_f(self.spec.order == Order::F);
        let array = ndarray::ArrayD::from_shape_vec(shape, values)
            .map_err(|e| Error::usage(format!("scaled values do not fill their shape: {e}")))?;
        Ok(DynArray::from_array(array))
    }

    /// The read plan of a selection, once the source is shown to hold what it reads
    /// ([`plan_read_from`]: a header's claimed shape builds nothing the data does not back).
    fn plan(&self, selection: &Selection) -> Result<ReadPlan> {
        let canonical = self
            .spec
            .stored_selection(selection.canonicalize(&self.spec.shape)?);
        plan_read_from(self.source.as_ref(), &self.spec.layout(), &canonical)
    }

    /// Executes `plan`, scaling into `out`: one streamed pass from the stored bytes
    /// ([`ReadPlan::stream_into`]: in pieces, the next piece read while the current one is
    /// converted, or on every thread in shares where the source reads in parallel) for plans
    /// without post-slicing; other plans decode the stored values first.
    fn scale_plan_into<O: FloatOut>(
        &self,
        plan: &ReadPlan,
        scaling: Scaling,
        out: &mut [O],
    ) -> Result<()> {
        let stored = self.spec.dtype;
        let count: usize = plan.output_shape().iter().product();
        if out.len() != count {
            return Err(Error::usage(format!(
                "the output holds {} values, but the selection has {count}",
                out.len()
            )));
        }
        let binary128 = matches!(
            stored.dtype,
            crate::DataType::Float128 | crate::DataType::Complex256
        );
        if plan.post_slicing().is_none() && !binary128 {
            if let Some(borrowed) = borrow_plan(self.source.as_ref(), plan) {
                return scale_borrowed_into(self.source.as_ref(), borrowed, stored, &scaling, out);
            }
            // A whole .nii.gz inflates fastest in one buffer (on every core): into the back of
            // `out` when its values are wider than the stored ones, converted in place.
            let room = plan.room_for_read(self.source.as_ref());
            if room > 0
                && plan.read_then_convert_in_place(
                    self.source.as_ref(),
                    room,
                    out,
                    |bytes, piece| scale_bytes_into(bytes, stored, &scaling, piece),
                )?
            {
                return Ok(());
            }
            return plan.stream_into(self.source.as_ref(), PIECE_BYTES, out, |bytes, piece| {
                scale_bytes_into(bytes, stored, &scaling, piece)
            });
        }
        let source = self.source.as_ref();
        let raw = if self.source.may_hold(plan_end(plan)) {
            decode_raw_with(stored, plan.output_shape(), self.spec.order, |buf| {
                plan.read_into(source, buf)
            })?
        } else {
            let (bytes, shape) = self.read_bytes_planned(plan)?;
            decode_raw(&bytes, stored, &shape, self.spec.order)?
        };
        scale_into(&raw, stored.dtype, &scaling, out)
    }

    /// The scaled values of a selection computed as `options` say: with
    /// `factors: Some(F64)`, as nibabel's `np.asanyarray(proxy, np.float64)` computes them
    /// (SPM99's float32 slope scales in float64); with the defaults, [`ArrayProxy::read`].
    ///
    /// # Errors
    ///
    /// As [`ArrayProxy::read_raw`].
    pub fn read_with(
        &self,
        selection: impl Into<Selection>,
        options: ReadOptions,
    ) -> Result<DynArray> {
        let scaling = self.scaling_for(options.factors);
        self.naming_file(self.read_scaled(&selection.into(), scaling))
    }

    /// The spec's scaling with float32 factors widened when float64 is requested.
    fn scaling_for(&self, requested: Option<FactorType>) -> Scaling {
        let mut scaling = self.spec.scaling;
        if requested == Some(FactorType::F64) {
            scaling.factor = FactorType::F64;
        }
        scaling
    }

    /// [`ArrayProxy::read_with`] cast to `O` (`f32` or `f64`), written into `out` — the
    /// selection's values laid out in the proxy's order (`spec().order`), `out.len()` of
    /// them — with no float array in between: one pass from the stored values to the
    /// caller's buffer.
    ///
    /// # Errors
    ///
    /// As [`ArrayProxy::read_raw`]; also a Usage error for complex or colour data, and for
    /// an `out` whose length is not the selection's element count.
    ///
    /// ```
    /// use neurovox::io::MemorySource;
    /// use neurovox::Order;
    /// use neurovox::image::{ArrayProxy, ArraySpec};
    /// use neurovox::array::{FactorType, Scaling};
    /// use neurovox::array::Selection;
    /// use neurovox::{ByteOrder, DataType, StorageDtype};
    /// let spec = ArraySpec {
    ///     shape: vec![2, 2],
    ///     dtype: StorageDtype::new(DataType::UInt8, ByteOrder::Little),
    ///     offset: 0,
    ///     scaling: Scaling::new(2.0, 0.5, FactorType::F64),
    ///     order: Order::F,
    ///     index_scaling: None,
    ///     segments: None,
    ///     flipped_axes: Vec::new(),
    ///     hdf5_dataset: None,
    /// };
    /// let bytes = vec![1u8, 2, 3, 4];
    /// let proxy = ArrayProxy::from_source(std::sync::Arc::new(MemorySource::new(bytes)), spec);
    /// let mut out = [0f64; 4];
    /// let f64_factors = neurovox::image::ReadOptions { factors: Some(FactorType::F64) };
    /// proxy.read_into(Selection::all(), f64_factors, &mut out)?;
    /// assert_eq!(out, [2.5, 4.5, 6.5, 8.5]);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn read_into<O: FloatOut>(
        &self,
        selection: impl Into<Selection>,
        options: ReadOptions,
        out: &mut [O],
    ) -> Result<()> {
        let selection = selection.into();
        self.naming_file((|| -> Result<_> {
            if self.spec.index_scaling.is_some() {
                return self.index_scaled_into(&selection, out);
            }
            let plan = self.plan(&selection)?;
            self.scale_plan_into(&plan, self.scaling_for(options.factors), out)
        })())
    }

    /// Per-index scaled values of `selection` cast to `O` and written into `out` in the
    /// proxy's order: the stored values read, then scaled straight into `out`.
    fn index_scaled_into<O: FloatOut>(&self, selection: &Selection, out: &mut [O]) -> Result<()> {
        let Some(factors) = &self.spec.index_scaling else {
            return Err(Error::usage("no per-index factors"));
        };
        let canonical = selection.canonicalize(&self.spec.shape)?;
        use ndarray::ShapeBuilder;
        let shape = ndarray::IxDyn(&crate::array::selection::output_shape_of(&canonical))
            .set_f(self.spec.order == Order::F);
        let mut view = ndarray::ArrayViewMutD::from_shape(shape, out)
            .map_err(|_| Error::usage("the output does not hold the values of the selection"))?;
        // From a plain file, one block of a factor (a sub-brick, a frame, a volume) at a time:
        // the stored values held at once are one block's, not the whole selection's. A
        // compressed file, or an HDF5 dataset (MINC2: its deflated chunks span several blocks,
        // and each block's read inflated them again, 0.56 -> 1.23 s for a full read), is read
        // in one pass (its fastest path), then scaled.
        if let (Compression::None, None, Some((item, out_axis))) = (
            self.compression,
            &self.spec.hdf5_dataset,
            factor_axis_in_output(factors, &canonical, self.spec.order),
        ) && let Canonical::Slice { start, step, len } = canonical[item]
        {
            for k in 0..len {
                let mut one = canonical.clone();
                one[item] = Canonical::Index((start as isize + k as isize * step) as usize);
                let (raw, reversed) = self.read_forwards_canonical(one.clone())?;
                let block = view.index_axis_mut(ndarray::Axis(out_axis), k);
                factors.apply_into(&reversed_view(raw, &reversed), &one, block)?;
            }
            return Ok(());
        }
        let (raw, reversed) = self.read_forwards_canonical(canonical.clone())?;
        factors.apply_into(&reversed_view(raw, &reversed), &canonical, view)
    }

    /// The stored bytes of a selection as the file holds them (its byte order), laid out in
    /// the proxy's order, written into `out` (`itemsize` × the selection's element count
    /// bytes): the unscaled read into a caller's buffer, numpy's or a memory map.
    ///
    /// ```
    /// use neurovox::array::Scaling;
    /// use neurovox::image::{ArrayProxy, ArraySpec};
    /// use neurovox::io::MemorySource;
    /// use neurovox::{sel, ByteOrder, DataType, Order, StorageDtype};
    /// let spec = ArraySpec {
    ///     shape: vec![3],
    ///     dtype: StorageDtype::new(DataType::Int16, ByteOrder::Big),
    ///     offset: 0,
    ///     scaling: Scaling::IDENTITY,
    ///     order: Order::F,
    ///     index_scaling: None,
    ///     segments: None,
    ///     flipped_axes: Vec::new(),
    ///     hdf5_dataset: None,
    /// };
    /// let proxy = ArrayProxy::from_source(std::sync::Arc::new(MemorySource::new(vec![0, 1, 0, 2, 0, 3])), spec);
    /// let mut out = [0u8; 4];
    /// proxy.read_raw_into(sel![1..], &mut out)?;
    /// assert_eq!(out, [0, 2, 0, 3]);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`ArrayProxy::read_raw`]; also a Usage error for an `out` of another length.
    pub fn read_raw_into(&self, selection: impl Into<Selection>, out: &mut [u8]) -> Result<()> {
        let selection = selection.into();
        self.naming_file((|| -> Result<_> {
            let plan = self.plan(&selection)?;
            if out.len() != plan.output_bytes() {
                return Err(Error::usage(format!(
                    "the buffer holds {} bytes; the selection reads {}",
                    out.len(),
                    plan.output_bytes()
                )));
            }
            plan.read_into(self.source.as_ref(), out)
        })())
    }

    /// Whether `expected` holds, bit for bit, what [`ArrayProxy::read_into`] writes for
    /// `selection` and `options` now — read in pieces and compared piece by piece, with
    /// no second array. This is how an image tells that a cache filled from the proxy was not
    /// changed since, without digesting the cache when it fills it: the check costs a read,
    /// but only when someone asks. A length that differs is `false`.
    ///
    /// ```
    /// use neurovox::io::MemorySource;
    /// use neurovox::Order;
    /// use neurovox::image::{ArrayProxy, ArraySpec};
    /// use neurovox::array::{FactorType, Scaling};
    /// use neurovox::array::Selection;
    /// use neurovox::{ByteOrder, DataType, StorageDtype};
    /// let spec = ArraySpec {
    ///     shape: vec![4],
    ///     dtype: StorageDtype::new(DataType::UInt8, ByteOrder::Little),
    ///     offset: 0,
    ///     scaling: Scaling::new(2.0, 0.0, FactorType::F64),
    ///     order: Order::F,
    ///     index_scaling: None,
    ///     segments: None,
    ///     flipped_axes: Vec::new(),
    ///     hdf5_dataset: None,
    /// };
    /// let proxy = ArrayProxy::from_source(std::sync::Arc::new(MemorySource::new(vec![1, 2, 3, 4])), spec);
    /// let all = Selection::all();
    /// let f64_factors = neurovox::image::ReadOptions { factors: Some(FactorType::F64) };
    /// assert!(proxy.read_matches(&all, f64_factors, &[2.0f64, 4.0, 6.0, 8.0])?);
    /// assert!(!proxy.read_matches(&all, f64_factors, &[2.0f64, 4.0, 6.0, 9.0])?);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn read_matches<O: FloatOut>(
        &self,
        selection: impl Into<Selection>,
        options: ReadOptions,
        expected: &[O],
    ) -> Result<bool> {
        let selection = selection.into();
        self.naming_file((|| -> Result<_> {
            let plan = self.plan(&selection)?;
            let count: usize = plan.output_shape().iter().product();
            if expected.len() != count {
                return Ok(false);
            }
            if self.spec.index_scaling.is_some() {
                let mut fresh: Vec<O> = crate::array::dyn_array::zeroed_values(count)?;
                self.index_scaled_into(&selection, &mut fresh)?;
                return Ok(bytemuck::cast_slice::<O, u8>(&fresh)
                    == bytemuck::cast_slice::<O, u8>(expected));
            }
            let scaling = self.scaling_for(options.factors);
            let stored = self.spec.dtype;
            let binary128 = matches!(
                stored.dtype,
                crate::DataType::Float128 | crate::DataType::Complex256
            );
            if plan.post_slicing().is_some() || binary128 {
                let mut fresh: Vec<O> = crate::array::dyn_array::zeroed_values(count)?;
                self.scale_plan_into(&plan, scaling, &mut fresh)?;
                return Ok(bytemuck::cast_slice::<O, u8>(&fresh)
                    == bytemuck::cast_slice::<O, u8>(expected));
            }
            let itemsize = stored.dtype.itemsize();
            // Each piece converted in runs of VALUES through one small buffer: a fresh
            // buffer of a whole piece's values would fault in new memory for every piece.
            const VALUES: usize = 1 << 16;
            let same = |bytes: &[u8], expected: &[O]| -> Result<bool> {
                let mut fresh = vec![O::zeroed(); VALUES.min(expected.len())];
                for (run, want) in bytes.chunks(VALUES * itemsize).zip(expected.chunks(VALUES)) {
                    let fresh = &mut fresh[..want.len()];
                    scale_bytes_into(run, stored, &scaling, fresh)?;
                    if bytemuck::cast_slice::<O, u8>(fresh) != bytemuck::cast_slice::<O, u8>(want) {
                        return Ok(false);
                    }
                }
                Ok(true)
            };
            if let Some(borrowed) = borrow_plan(self.source.as_ref(), &plan) {
                // Bytes in memory: pieces converted and compared on every core.
                return borrowed_pieces_match(
                    self.source.as_ref(),
                    borrowed,
                    itemsize,
                    expected,
                    same,
                );
            }
            plan.all_pieces(self.source.as_ref(), PIECE_BYTES, |at, bytes| {
                let first = at / itemsize;
                match expected.get(first..first + bytes.len() / itemsize) {
                    Some(want) => same(bytes, want),
                    None => Ok(false),
                }
            })
        })())
    }

    /// Whether `expected` holds, byte for byte, the stored bytes of `selection` (file byte
    /// order, unscaled: what a memory map or `get_unscaled` shows), compared piece by piece
    /// as in [`ArrayProxy::read_matches`]. A length that differs is `false`.
    ///
    /// ```
    /// use neurovox::io::MemorySource;
    /// use neurovox::Order;
    /// use neurovox::image::{ArrayProxy, ArraySpec};
    /// use neurovox::array::Scaling;
    /// use neurovox::array::Selection;
    /// use neurovox::{ByteOrder, DataType, StorageDtype};
    /// let spec = ArraySpec {
    ///     shape: vec![2],
    ///     dtype: StorageDtype::new(DataType::Int16, ByteOrder::Big),
    ///     offset: 1,
    ///     scaling: Scaling::IDENTITY,
    ///     order: Order::F,
    ///     index_scaling: None,
    ///     segments: None,
    ///     flipped_axes: Vec::new(),
    ///     hdf5_dataset: None,
    /// };
    /// let proxy = ArrayProxy::from_source(std::sync::Arc::new(MemorySource::new(vec![9, 0, 1, 0, 2])), spec);
    /// assert!(proxy.raw_matches(Selection::all(), &[0, 1, 0, 2])?);
    /// assert!(!proxy.raw_matches(Selection::all(), &[1, 0, 2, 0])?);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn raw_matches(&self, selection: impl Into<Selection>, expected: &[u8]) -> Result<bool> {
        let selection = selection.into();
        self.naming_file((|| -> Result<_> {
            let plan = self.plan(&selection)?;
            if expected.len() != plan.output_bytes() {
                return Ok(false);
            }
            if plan.post_slicing().is_some() {
                let mut fresh: Vec<u8> =
                    crate::array::dyn_array::zeroed_values(plan.output_bytes())?;
                plan.read_into(self.source.as_ref(), &mut fresh)?;
                return Ok(fresh == expected);
            }
            if let Some(borrowed) = borrow_plan(self.source.as_ref(), &plan) {
                return borrowed_pieces_match(
                    self.source.as_ref(),
                    borrowed,
                    1,
                    expected,
                    |bytes, expected| Ok(bytes == expected),
                );
            }
            plan.all_pieces(self.source.as_ref(), PIECE_BYTES, |at, bytes| {
                Ok(bytes == &expected[at..at + bytes.len()])
            })
        })())
    }

    /// A memory map of the stored values, as nibabel's full read makes one: `None` where it
    /// would silently read instead (mmap off, compressed or non-file source, a file too short,
    /// binary128 data). The map shows stored values; apply [`ArraySpec::scaling`] yourself or
    /// use [`ArrayProxy::read`].
    pub fn memmap(&self) -> Result<Option<DynMemmap>> {
        let (Some(mode), Some(path)) = (self.mmap.map_mode(), &self.file) else {
            return Ok(None);
        };
        if self.compression != Compression::None || !self.spec.is_one_run() {
            return Ok(None);
        }
        match DynMemmap::open(path, &self.spec, mode) {
            Ok(map) => Ok(map),
            Err(e) if e.kind() == crate::ErrorKind::Limit => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The same data with a new shape (nibabel's `reshape`): at most one `-1` is filled in,
    /// the element count must not change, and the file bytes are reinterpreted in the proxy's
    /// order. Unlike nibabel, the order and `keep_file_open` are kept.
    ///
    /// ```
    /// # use neurovox::image::{ArrayProxy, ArraySpec};
    /// # use neurovox::{array::Scaling, io::MemorySource, ByteOrder, DataType, Order, StorageDtype};
    /// # let spec = ArraySpec { shape: vec![2, 3, 4], dtype: StorageDtype::new(DataType::UInt8, ByteOrder::Little),
    /// #     offset: 0, scaling: Scaling::IDENTITY, order: Order::F, index_scaling: None, segments: None, flipped_axes: Vec::new(),
    /// #     hdf5_dataset: None };
    /// # let proxy = ArrayProxy::from_source(std::sync::Arc::new(MemorySource::new(vec![0u8; 24])), spec);
    /// let flat = proxy.reshape(&[6, -1])?;
    /// assert_eq!(flat.shape(), &[6, 4]);
    /// assert!(proxy.reshape(&[5, -1]).is_err());
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn reshape(&self, shape: &[isize]) -> Result<ArrayProxy> {
        if self.spec.index_scaling.is_some()
            || !self.spec.flipped_axes.is_empty()
            || self.spec.hdf5_dataset.is_some()
        {
            return Err(Error::unsupported(
                "a proxy whose scale factors change along its axes, whose axes are stored \
                 reversed, or which reads an HDF5 dataset, cannot be reshaped; read it and \
                 reshape the array",
            ));
        }
        let size: usize = self.spec.shape.iter().product();
        let unknown: Vec<usize> = shape
            .iter()
            .enumerate()
            .filter(|&(_, &d)| d == -1)
            .map(|(i, _)| i)
            .collect();
        if unknown.len() > 1 {
            return Err(Error::usage("can only specify one unknown dimension"));
        }
        if let Some(&bad) = shape.iter().find(|&&d| d < -1) {
            return Err(Error::usage(format!("negative dimension {bad} in reshape")));
        }
        let known: usize = shape
            .iter()
            .filter(|&&d| d >= 0)
            .map(|&d| d as usize)
            .product();
        let mut new_shape: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
        if let Some(&i) = unknown.first() {
            new_shape[i] = size.checked_div(known).unwrap_or(0);
        }
        if new_shape.iter().product::<usize>() != size {
            return Err(Error::usage(format!(
                "cannot reshape array of size {size} into shape {shape:?}"
            )));
        }
        let mut out = self.clone();
        out.spec.shape = new_shape;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `read_as` (get_fdata_as): int16 values as float64 in one pass, and float32 values
    /// asked as float32, unscaled, read as stored.
    #[test]
    fn read_as_gives_the_values_in_the_float_type_asked() {
        use crate::array::FactorType;
        use crate::array::Selection;
        use crate::image::{ArrayProxy, ArraySpec};
        use crate::io::MemorySource;
        use crate::{ByteOrder, DataType, StorageDtype};
        let spec = ArraySpec::unscaled(
            vec![3],
            StorageDtype::new(DataType::Int16, ByteOrder::Little),
        );
        let proxy = ArrayProxy::from_source(
            std::sync::Arc::new(MemorySource::new(vec![1, 0, 2, 0, 3, 0])),
            spec,
        );
        let values = proxy
            .read_as::<f64>(&Selection::all(), FactorType::F64)
            .unwrap()
            .unwrap();
        assert_eq!(values.as_slice_memory_order(), Some(&[1.0, 2.0, 3.0][..]));

        // float32 values asked as float32, unscaled: read as they are stored.
        let stored: Vec<u8> = [0.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let spec = ArraySpec::unscaled(
            vec![2],
            StorageDtype::new(DataType::Float32, ByteOrder::Little),
        );
        let proxy = ArrayProxy::from_source(std::sync::Arc::new(MemorySource::new(stored)), spec);
        let values = proxy
            .read_as::<f32>(&Selection::all(), FactorType::F32)
            .unwrap()
            .unwrap();
        assert_eq!(values.as_slice_memory_order(), Some(&[0.5f32, -2.0][..]));
    }
    use crate::io::MemorySource;
    use crate::{ByteOrder, DataType};

    /// Factors along two axes (MINC's time and slice) are applied one index of the slowest
    /// of them at a time, in either memory order, to any selection, with the values the
    /// factors give value by value.
    #[test]
    fn factors_along_two_axes_scale_every_selection_block_by_block() {
        use crate::array::{FactorType, IndexScaling};
        let shape = [3usize, 4, 5];
        let count: usize = shape.iter().product();
        let stored: Vec<i16> = (0..count as i16).map(|v| v * 7 - 100).collect();
        let bytes: Vec<u8> = stored.iter().flat_map(|v| v.to_le_bytes()).collect();
        // One slope and intercept per (axis 0, axis 2) pair.
        let slopes: Vec<f64> = (0..15).map(|k| 0.5 + k as f64).collect();
        let inters: Vec<f64> = (0..15).map(|k| -(k as f64)).collect();
        for order in [Order::C, Order::F] {
            let factors =
                IndexScaling::new(vec![0, 2], vec![3, 5], slopes.clone(), inters.clone()).unwrap();
            let proxy = ArrayProxy::from_source(
                Arc::new(MemorySource::new(bytes.clone())),
                ArraySpec {
                    order,
                    index_scaling: Some(Arc::new(factors)),
                    ..ArraySpec::unscaled(
                        shape.to_vec(),
                        StorageDtype::new(DataType::Int16, ByteOrder::Little),
                    )
                },
            );
            let value = |i: usize, j: usize, k: usize| {
                let at = match order {
                    Order::C => (i * 4 + j) * 5 + k,
                    Order::F => i + 3 * (j + 4 * k),
                };
                f64::from(stored[at]) * slopes[i * 5 + k] + inters[i * 5 + k]
            };
            for (selection, picked) in [
                (
                    Selection::all(),
                    [
                        (0..3).collect::<Vec<_>>(),
                        (0..4).collect(),
                        (0..5).collect(),
                    ],
                ),
                (
                    crate::sel![..;-1, 1..3, ..;2],
                    [vec![2, 1, 0], vec![1, 2], vec![0, 2, 4]],
                ),
                (
                    crate::sel![1, .., 3..],
                    [vec![1], (0..4).collect(), vec![3, 4]],
                ),
            ] {
                let read = proxy
                    .read_as::<f64>(&selection, FactorType::F64)
                    .unwrap()
                    .unwrap();
                let mut want = Vec::new();
                for &i in &picked[0] {
                    for &j in &picked[1] {
                        for &k in &picked[2] {
                            want.push(value(i, j, k));
                        }
                    }
                }
                let got: Vec<f64> = read.iter().copied().collect();
                assert_eq!(got, want, "{order:?} {selection:?}");
            }
        }
    }

    /// A whole read of a mapped file scaled into floats, and the comparisons `is_dirty` makes
    /// with such a file, go through the map in pieces and release each (none of the map is
    /// left in the process's memory), with the values a plain computation gives across the
    /// pieces' edges, and a change in the last piece seen.
    #[cfg(target_os = "linux")]
    #[test]
    fn whole_reads_and_comparisons_of_a_mapped_file_release_it_piece_by_piece() {
        use crate::array::FactorType;
        use crate::io::MmapSource;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.raw");
        // int16 values: two pieces of BORROWED_PIECE bytes and part of a third.
        let count = BORROWED_PIECE + 4_321;
        let stored: Vec<i16> = (0..count)
            .map(|i| (i % 60_001) as i32 - 30_000)
            .map(|v| v as i16)
            .collect();
        let mut bytes = vec![7u8; 352];
        bytes.extend(stored.iter().flat_map(|v| v.to_le_bytes()));
        std::fs::write(&path, &bytes).unwrap();
        let map = Arc::new(MmapSource::new(&path));
        let proxy = ArrayProxy::from_source(
            Arc::clone(&map) as Arc<dyn Source>,
            ArraySpec {
                offset: 352,
                scaling: Scaling::new(0.5, 10.0, FactorType::F64),
                ..ArraySpec::unscaled(
                    vec![count],
                    StorageDtype::new(DataType::Int16, ByteOrder::Little),
                )
            },
        );
        let want: Vec<f64> = stored.iter().map(|&v| f64::from(v) * 0.5 + 10.0).collect();

        let read = proxy
            .read_as::<f64>(&Selection::all(), FactorType::F64)
            .unwrap()
            .unwrap();
        assert!(read.as_slice_memory_order() == Some(&want[..]));
        assert_eq!(map.resident_bytes(), 0);

        let options = ReadOptions {
            factors: Some(FactorType::F64),
        };
        assert!(
            proxy
                .read_matches(Selection::all(), options, &want)
                .unwrap()
        );
        assert_eq!(map.resident_bytes(), 0);
        let mut changed = want.clone();
        *changed.last_mut().unwrap() += 1.0;
        assert!(
            !proxy
                .read_matches(Selection::all(), options, &changed)
                .unwrap()
        );

        assert!(proxy.raw_matches(Selection::all(), &bytes[352..]).unwrap());
        assert_eq!(map.resident_bytes(), 0);
        let mut raw = bytes[352..].to_vec();
        raw[BORROWED_PIECE + 1] ^= 1;
        assert!(!proxy.raw_matches(Selection::all(), &raw).unwrap());
    }

    fn proxy(bytes: Vec<u8>, shape: &[usize], dtype: DataType, scaling: Scaling) -> ArrayProxy {
        ArrayProxy::from_source(
            Arc::new(MemorySource::new(bytes)),
            ArraySpec {
                shape: shape.to_vec(),
                dtype: StorageDtype::new(dtype, ByteOrder::Big),
                offset: 0,
                scaling,
                order: Order::F,
                index_scaling: None,
                segments: None,
                flipped_axes: Vec::new(),
                hdf5_dataset: None,
            },
        )
    }

    #[test]
    fn short_sources_fail_before_allocating() {
        let p = proxy(
            vec![0; 10],
            &[1000, 1000, 1000],
            DataType::Float64,
            Scaling::IDENTITY,
        );
        let e = p.read(Selection::all()).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Format);
    }

    #[test]
    fn per_index_factors_apply_on_every_read_path_even_for_float64_data() {
        // Two float64 sub-bricks of two values, the second scaled by 3.
        let bytes: Vec<u8> = [1.0f64, 2.0, 3.0, 4.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut spec = ArraySpec::unscaled(
            vec![2, 2],
            StorageDtype::new(DataType::Float64, ByteOrder::Little),
        );
        spec.index_scaling = Some(Arc::new(
            IndexScaling::along(1, vec![1.0, 3.0], vec![0.0; 2]).unwrap(),
        ));
        let proxy = ArrayProxy::from_source(Arc::new(MemorySource::new(bytes)), spec);
        let want = [1.0, 2.0, 9.0, 12.0];
        let read = proxy.read(Selection::all()).unwrap();
        assert_eq!(
            read.to_f64()
                .unwrap()
                .t()
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            want
        );
        let as_f64 = proxy
            .read_as::<f64>(&Selection::all(), FactorType::F64)
            .unwrap()
            .unwrap();
        assert_eq!(as_f64.t().iter().copied().collect::<Vec<_>>(), want);
        let mut into = [0f32; 4];
        proxy
            .read_into(Selection::all(), ReadOptions::default(), &mut into)
            .unwrap();
        assert_eq!(into, [1.0, 2.0, 9.0, 12.0]);
        assert!(
            proxy
                .read_matches(Selection::all(), ReadOptions::default(), &want)
                .unwrap()
        );
        assert_eq!(
            proxy.read(crate::sel![1, 1]).unwrap().get_f64(&[]),
            Some(12.0)
        );
        assert!(proxy.reshape(&[4]).is_err());
    }

    #[test]
    fn unscaled_and_scaled_reads() {
        let bytes: Vec<u8> = [1i16, -2, 3, 4]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let p = proxy(
            bytes,
            &[2, 2],
            DataType::Int16,
            Scaling::new(0.5, 0.0, FactorType::F64),
        );
        assert_eq!(p.output_dtype().unwrap(), DataType::Float64);
        assert_eq!(
            p.read_raw(Selection::all()).unwrap().get_f64(&[1, 0]),
            Some(-2.0)
        );
        assert_eq!(
            p.read(Selection::all()).unwrap().get_f64(&[1, 0]),
            Some(-1.0)
        );
        assert!(p.memmap().unwrap().is_none(), "no file: nothing to map");
        assert!(p.reshape(&[-1, -1]).is_err());
        assert_eq!(
            p.reshape(&[4])
                .unwrap()
                .read(Selection::all())
                .unwrap()
                .get_f64(&[3]),
            Some(2.0)
        );
    }

    #[test]
    fn proxies_and_images_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<ArrayProxy>();
        send_sync::<crate::Image>();
        send_sync::<DynMemmap>();
    }

    #[test]
    fn keep_file_open_default_is_false_and_settable() {
        assert!(!keep_file_open_default());
    }
}
