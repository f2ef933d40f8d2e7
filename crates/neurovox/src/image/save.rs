//! Saving images: every format, plain or compressed, atomically (nibabel's `to_filename`,
//! docs/nibabel-rules.md §15).
//!
//! * The header is updated as nibabel's `update_header` does: shape, data type, the affine
//!   when it differs from the header's own, `vox_offset` (the smallest that fits for single
//!   files, 0 for pairs), and the scale factors the array writer chooses.
//! * Data that is a proxy, saved as its own stored type, is copied volume by volume as stored
//!   bytes, scale factors kept: the file reads back to the last bit, in memory for one
//!   volume. Anything else is converted by nibabel's array writers ([`crate::array::write_scale`]):
//!   float data to an integer type gets a slope and intercept, rounding half to even.
//! * Every file is written to a temporary file in its directory, synced and renamed over the
//!   target ([`crate::io::atomic`]): saving over the very file an image was loaded from is safe,
//!   and the old image's proxy keeps reading the old file (or reports it Stale).
//! * Compression follows the name: `.gz`/`.mgz` (gzip, written by
//!   [`crate::io::gzip::writer::ParallelGzWriter`]: indexed members compressed on all cores),
//!   `.bz2`, `.zst`.

use crate::array::dyn_array::{DynArray, DynView};
use crate::array::selection::{Selection, SliceItem};
use crate::array::write_scale::{
    DataRange, WriterKind, choose_scaling_for_range, choose_scaling_for_view, unscaled_by_type,
};
use crate::array::write_scale::{ValueCast, WriteScaling};
use crate::array::write_values::{write_values, write_view, write_view_into};
use crate::error::{Error, Result};
use crate::format::affine::{self, Affine};
use crate::format::spm_mat::mat_file_bytes;
use crate::format::{AnalyzeFlavour, Header, ImageFormat};
use crate::image::dataobj::DataObj;
use crate::image::file_map::{ExtensionKind, extension_kind, header_and_image_paths, split_name};
use crate::image::proxy::ArrayProxy;
use crate::image::spatial_image::{FileMap, Image};
use crate::image::tracking::DirtyReason;
use crate::io::Compression;
use crate::io::atomic::FileSet;
use crate::{DataType, StorageDtype};
use std::io::Write;
use std::path::{Path, PathBuf};

/// How to save: nibabel's `to_filename(..., dtype=...)` and compression settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SaveOptions {
    /// Store the data as this type (nibabel's `dtype=`), else the header's.
    pub dtype: Option<DataType>,
    /// Compression level: gzip 0-12 (libdeflate's scale; 0 stores, 1-9 as zlib's, 10-12
    /// smaller and slower), bzip2 1-9, zstd 1-22; ignored for uncompressed files. `None`
    /// for the default (gzip: [`GzCompressor::default`](crate::io::gzip::GzCompressor),
    /// ISA-L's level 2 when built in, no larger than nibabel's level 1).
    pub level: Option<u32>,
    /// What to do when a file being replaced has other hard links (refused by default; see
    /// [`HardLinks`](crate::io::atomic::HardLinks)).
    pub hard_links: crate::io::atomic::HardLinks,
}

/// What a save did to the values on their way to the file: `None` when the file holds the
/// image's values exactly (its stored bytes copied, or values of the file's type written
/// unscaled), else the cast. [`crate::Image::to_filename`] uses it to tell whether the image
/// still matches the file it was saved to.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SaveOutcome {
    /// How the values were changed, if they were.
    pub cast: Option<ValueCast>,
}

/// The format a file name asks for, given the image's own format family.
pub(crate) fn target_format(current: ImageFormat, path: &Path) -> Result<ImageFormat> {
    let (_, ext, _) = split_name(&path.to_string_lossy());
    let kind = extension_kind(&ext).ok_or_else(|| {
        Error::usage(format!(
            "cannot tell the image format from the extension {ext:?}"
        ))
        .with_path(path)
    })?;
    use ImageFormat as F;
    Ok(match (kind, current) {
        (
            ExtensionKind::AfniHead
            | ExtensionKind::AfniBrik
            | ExtensionKind::Ecat
            | ExtensionKind::Par
            | ExtensionKind::Rec
            | ExtensionKind::Minc,
            _,
        ) => {
            // nibabel's AFNIImage and PARRECImage are not makeable either; its ECAT writer
            // only re-saves an image loaded from ECAT, which neurovox does not offer; its MINC
            // headers raise NotImplementedError when asked to write data.
            return Err(Error::unsupported(
                "AFNI, ECAT7, PAR/REC and MINC files are read only in neurovox; save the image \
                 as NIfTI (.nii, .nii.gz)",
            )
            .with_path(path));
        }
        (ExtensionKind::Mgh | ExtensionKind::Mgz, _) => F::Mgh,
        (ExtensionKind::Nifti, F::Nifti2 | F::Nifti2Pair) => F::Nifti2,
        (ExtensionKind::Nifti, _) => F::Nifti1,
        (
            ExtensionKind::Header | ExtensionKind::Image,
            F::Nifti1
            | F::Nifti1Pair
            | F::Mgh
            | F::Afni
            | F::Ecat
            | F::Parrec
            | F::Minc1
            | F::Minc2,
        ) => F::Nifti1Pair,
        (ExtensionKind::Header | ExtensionKind::Image, F::Nifti2 | F::Nifti2Pair) => F::Nifti2Pair,
        (ExtensionKind::Header | ExtensionKind::Image, analyze) => analyze,
    })
}

fn compression_of(path: &Path) -> Compression {
    let (_, ext, suffix) = split_name(&path.to_string_lossy());
    if extension_kind(&ext) == Some(ExtensionKind::Mgz) {
        return Compression::Gzip;
    }
    Compression::from_suffix(&suffix).unwrap_or(Compression::None)
}

fn writer_kind(format: ImageFormat) -> WriterKind {
    match format {
        ImageFormat::Analyze | ImageFormat::Mgh => WriterKind::NoScaling,
        ImageFormat::Spm99 | ImageFormat::Spm2 => WriterKind::Slope,
        _ => WriterKind::SlopeInter,
    }
}

/// A header of `format` for the image: the image's own when the format is the same, else a
/// default header of `format` with every field of the image's header that `format` also has
/// (single file ⇄ pair, Analyze ⇄ SPM, NIfTI extensions kept); then nibabel's
/// `update_header`: data type, shape, and the affine when it differs from the header's.
fn header_for(parts: &SaveParts<'_, '_>, format: ImageFormat, dtype: DataType) -> Result<Header> {
    let mut header = if parts.format == format {
        parts.header.clone()
    } else {
        let mut h = Header::new(format, parts.header.byte_order());
        for (name, value) in parts.header.fields() {
            let shared = h.get(name).is_ok()
                && !matches!(name, "magic" | "sizeof_hdr" | "eol_check" | "vox_offset");
            if shared && h.layout().field(name) == parts.header.layout().field(name) {
                h.set(name, value)?;
            }
        }
        if let (Header::Nifti(new), Header::Nifti(old)) = (&mut h, parts.header) {
            *new.extensions_mut() = old.extensions().to_vec();
        }
        // nibabel's `from_header` copies `get_zooms()` (an AFNI or MGH time step included);
        // the affine below overrides the spatial ones.
        let zooms = parts.header.zooms();
        if parts.header.data_shape().ok().as_deref() == Some(parts.shape())
            && zooms.len() == parts.shape().len()
            && zooms.iter().all(|z| z.is_finite() && *z >= 0.0)
        {
            h.set_data_shape(parts.shape())?;
            h.set_zooms(&zooms)?;
        }
        if let Header::Parrec(par) = parts.header {
            // PARRECHeader.as_analyze_map: the fields nibabel's from_header takes from a .PAR,
            // where the new format has them.
            let mapped = [
                ("descrip", crate::FieldValue::Bytes(par.nifti_descrip())),
                ("xyzt_units", crate::FieldValue::Int(par.nifti_xyzt_units())),
            ];
            for (name, value) in mapped {
                if h.get(name).is_ok() {
                    h.set(name, value)?;
                }
            }
        }
        h
    };
    if let Header::Nifti(n) = &mut header {
        // 0: the smallest offset that fits, computed when the header is written.
        n.set_data_offset(0)?;
    }
    header.set_data_dtype(dtype)?;
    if header.data_shape().ok().as_deref() != Some(parts.shape()) {
        header.set_data_shape(parts.shape())?;
    }
    if let Some(aff) = parts.affine
        && !affine::allclose(aff, &header.best_affine()?)
    {
        header.store_affine(aff)?;
    }
    Ok(header)
}

/// Sets the scale factors a writer chose (or keeps the proxy's own for stored-byte copies).
fn set_scaling(header: &mut Header, slope: f64, inter: f64) -> Result<()> {
    match header {
        Header::Nifti(n) => n.set_slope_inter(Some(slope), Some(inter)),
        Header::Analyze(a) if a.flavour() != AnalyzeFlavour::Analyze => {
            header.set("scl_slope", crate::FieldValue::Float(slope))?;
            if matches!(header, Header::Analyze(a) if a.flavour() == AnalyzeFlavour::Spm2) {
                // SPM2 headers carry an intercept field: never leave a stale one (the
                // re-save bug of nibabel, docs/nibabel-rules.md §15).
                header.set("scl_inter", crate::FieldValue::Float(inter))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// How the data will be written, decided (with the header's scale factors) before any byte
/// of the file is.
enum DataPlan<'a, 'd> {
    /// A proxy's stored bytes, copied volume by volume; its factors kept.
    Stored(&'a ArrayProxy),
    /// Values converted by an array writer, volume by volume from a proxy.
    ConvertProxy(&'a ArrayProxy, WriteScaling),
    /// Values in memory converted by an array writer.
    ConvertArray(&'a DynView<'d>, WriteScaling),
}

/// What a save writes: the header to start from, the affine, the format of the image the
/// parts come from, and the data — an image's ([`SaveParts::of`]), or an array the library
/// does not own, seen through a view ([`save_view`]).
#[derive(Debug, Clone)]
pub struct SaveParts<'h, 'd> {
    /// The header the saved one is made from.
    pub header: &'h Header,
    /// The affine, if any (stored when it differs from the header's).
    pub affine: Option<&'h Affine>,
    /// The format of the image the parts come from (the header's own).
    pub format: ImageFormat,
    /// The data.
    pub data: SaveData<'d>,
}

/// The data a save writes.
#[derive(Debug, Clone)]
pub enum SaveData<'a> {
    /// A proxy, read a volume at a time.
    Proxy(&'a ArrayProxy),
    /// Values in memory.
    Array(DynView<'a>),
}

impl<'a> SaveParts<'a, 'a> {
    /// The parts of an image.
    pub fn of(image: &'a Image) -> Self {
        SaveParts {
            header: image.header(),
            affine: image.affine(),
            format: image.format(),
            data: match image.dataobj() {
                DataObj::Proxy(p) => SaveData::Proxy(p),
                DataObj::Array(a) => SaveData::Array(a.view()),
            },
        }
    }
}

impl SaveParts<'_, '_> {
    /// The data's shape.
    pub fn shape(&self) -> &[usize] {
        match &self.data {
            SaveData::Proxy(p) => p.shape(),
            SaveData::Array(a) => a.shape(),
        }
    }
}

/// Chooses how to write the data and sets the header's scale factors accordingly. A proxy is
/// read volume by volume for its range, never whole.
fn plan_data<'a, 'd>(
    parts: &'a SaveParts<'_, 'd>,
    header: &mut Header,
    kind: WriterKind,
) -> Result<DataPlan<'a, 'd>> {
    let stored = header.data_dtype()?;
    match &parts.data {
        SaveData::Proxy(p)
            if p.dtype() == stored
                && p.spec().order == crate::dtype::Order::F
                && p.spec().index_scaling.is_none() =>
        {
            set_scaling(header, p.slope(), p.inter())?;
            Ok(DataPlan::Stored(p))
        }
        SaveData::Proxy(p) if unscaled_by_type(p.output_dtype()?, stored.dtype) => {
            // A safe cast: no pass over the data for a range nothing would use.
            let scaling = WriteScaling::identity();
            set_scaling(header, scaling.slope, scaling.inter)?;
            Ok(DataPlan::ConvertProxy(p, scaling))
        }
        SaveData::Proxy(p) => {
            let mut range: Option<DataRange> = None;
            for_each_volume(parts.shape(), |sel| {
                let part = DataRange::of(&p.read(&sel)?);
                match &mut range {
                    Some(r) => r.merge(&part),
                    None => {
                        range = Some(part);
                        Ok(())
                    }
                }
            })?;
            let range = range.ok_or_else(|| Error::usage("no data to save"))?;
            let scaling = choose_scaling_for_range(&range, stored.dtype, kind)?;
            set_scaling(header, scaling.slope, scaling.inter)?;
            Ok(DataPlan::ConvertProxy(p, scaling))
        }
        SaveData::Array(a) => {
            let scaling = choose_scaling_for_view(a, stored.dtype, kind)?;
            set_scaling(header, scaling.slope, scaling.inter)?;
            Ok(DataPlan::ConvertArray(a, scaling))
        }
    }
}

impl DataPlan<'_, '_> {
    /// How the plan changes the values stored as `stored` (see [`SaveOutcome`]).
    fn cast(&self, stored: DataType) -> Option<ValueCast> {
        let (from, scaling) = match self {
            // The stored bytes and their factors: the file reads back as the proxy does.
            DataPlan::Stored(_) => return None,
            // Read whole already, so its output type is known; were it not, the values
            // count as cast (never a false "unchanged").
            DataPlan::ConvertProxy(p, scaling) => (p.output_dtype().ok(), scaling),
            DataPlan::ConvertArray(a, scaling) => (Some(a.dtype()), scaling),
        };
        let unscaled = scaling.slope == 1.0 && scaling.inter == 0.0;
        if from == Some(stored) && unscaled {
            return None;
        }
        Some(ValueCast {
            from: from.unwrap_or(DataType::Float64),
            to: stored,
            slope: scaling.slope,
            inter: scaling.inter,
        })
    }
}

/// Writes the data as planned, in the header's stored type and Fortran order; proxies a
/// volume at a time, arrays in pieces converted on every core, so memory holds a few pieces
/// whatever the image's size.
fn stream_data(
    shape: &[usize],
    plan: &DataPlan<'_, '_>,
    stored: StorageDtype,
    kind: WriterKind,
    out: &mut Compressor<'_>,
) -> Result<()> {
    let mut bytes = Vec::new();
    match plan {
        DataPlan::Stored(p) => for_each_volume(shape, |sel| {
            // A failed read names the file read (ArrayProxy's reads do), not the one written.
            write_stored(&p.read_raw(&sel)?, stored, out)
        }),
        DataPlan::ConvertProxy(p, scaling) => for_each_volume(shape, |sel| {
            bytes.clear();
            write_values(&p.read(&sel)?, stored, scaling, kind, &mut bytes)?;
            out.write_all(&bytes).map_err(Error::io)
        }),
        DataPlan::ConvertArray(a, scaling) => write_array_converted(a, stored, scaling, kind, out),
    }
}

/// Converted bytes a thread makes at a time for writers other than the gzip writer (which
/// converts a member's worth on the thread that compresses it): far more work than handing
/// it to a thread costs, and a MiB per core in memory.
const CONVERTED_PIECE: usize = 1 << 20;

/// Converts an array to the stored type, in Fortran order, as the writer takes the bytes:
/// the gzip writer has each member's bytes converted on the thread that compresses them;
/// other writers get pieces converted a batch at a time on every core, written in order. No
/// converted copy of the array, or of more than a few pieces of it, is ever held.
fn write_array_converted(
    data: &DynView<'_>,
    stored: StorageDtype,
    scaling: &WriteScaling,
    kind: WriterKind,
    out: &mut Compressor<'_>,
) -> Result<()> {
    let unchanged = scaling.slope == 1.0
        && scaling.inter == 0.0
        && data.dtype() == stored.dtype
        && stored.order == crate::ByteOrder::NATIVE;
    if unchanged && let Some(bytes) = data.fortran_bytes() {
        // Values stored as they are: the array's own bytes are the file's.
        return out.write_all(bytes).map_err(Error::io);
    }
    let len = data
        .len()
        .checked_mul(stored.dtype.itemsize())
        .ok_or_else(|| Error::usage("the data's byte count overflows"))?;
    out.write_produced(len, &|offset, buf| {
        convert_fortran_bytes(data, stored, scaling, kind, offset, buf)
    })
}

/// Fills `buf` with the bytes from `offset` of `data` converted to `stored` in Fortran
/// order.
fn convert_fortran_bytes(
    data: &DynView<'_>,
    stored: StorageDtype,
    scaling: &WriteScaling,
    kind: WriterKind,
    offset: usize,
    buf: &mut [u8],
) -> Result<()> {
    let size = stored.dtype.itemsize();
    let first = offset / size;
    let end = (offset + buf.len()).div_ceil(size);
    let parts = data.fortran_range(first, end)?;
    if offset.is_multiple_of(size) && buf.len().is_multiple_of(size) {
        let mut at = 0;
        for part in parts {
            let n = part.len() * size;
            write_view_into(&part, stored, scaling, kind, &mut buf[at..at + n])?;
            at += n;
        }
        return Ok(());
    }
    // A value lies across an edge of the range (RGB's 3 bytes after a 352-byte header, at the
    // end of a gzip member): convert the values around the range and keep the range.
    let mut values = Vec::with_capacity((end - first) * size);
    for part in parts {
        write_view(&part, stored, scaling, kind, &mut values)?;
    }
    let skip = offset - first * size;
    buf.copy_from_slice(&values[skip..skip + buf.len()]);
    Ok(())
}

/// Calls `f` with a selection for each volume (each index of the axes after the third, in
/// Fortran order), or once with the whole array for 3-D and smaller.
fn for_each_volume(shape: &[usize], mut f: impl FnMut(Selection) -> Result<()>) -> Result<()> {
    if shape.len() < 4 {
        return f(Selection::all());
    }
    let volumes: usize = shape[3..].iter().product();
    let mut index = vec![0usize; shape.len() - 3];
    for _ in 0..volumes {
        let mut items = vec![SliceItem::full(); 3];
        items.extend(index.iter().map(|&i| SliceItem::Index(i as isize)));
        f(Selection::from(items))?;
        for (axis, i) in index.iter_mut().enumerate() {
            *i += 1;
            if *i < shape[3 + axis] {
                break;
            }
            *i = 0;
        }
    }
    Ok(())
}

/// Stored values (native) back to stored bytes, Fortran order, in the file's byte order.
fn write_stored(raw: &DynArray, stored: crate::StorageDtype, out: &mut dyn Write) -> Result<()> {
    let swap = stored.order != crate::ByteOrder::NATIVE;
    if !swap && let Some(bytes) = raw.view().fortran_bytes() {
        return out.write_all(bytes).map_err(Error::io);
    }
    crate::dyn_array_apply!(raw, a => {
        let mut bytes = Vec::with_capacity(a.len() * stored.dtype.itemsize());
        for v in a.t().iter() {
            let v = if swap { crate::dtype::element::Element::swap_bytes(*v) } else { *v };
            bytes.extend_from_slice(bytemuck::bytes_of(&v));
        }
        out.write_all(&bytes).map_err(Error::io)
    })
}

/// The compressor a file name asks for, finished explicitly so a failure to write the end of
/// the stream is an error and never a silently truncated file.
enum Compressor<'a> {
    Plain(&'a mut dyn Write),
    Gzip(crate::io::gzip::writer::ParallelGzWriter<&'a mut dyn Write>),
    Bzip2(bzip2::write::BzEncoder<&'a mut dyn Write>),
    Zstd(zstd::stream::write::Encoder<'static, &'a mut dyn Write>),
}

impl<'a> Compressor<'a> {
    fn new(out: &'a mut dyn Write, compression: Compression, level: Option<u32>) -> Result<Self> {
        // Checked here, where the user's number meets the codec: bzip2 aborts on a level
        // outside 1-9 rather than returning an error.
        let levels = match compression {
            Compression::None => 0..=u32::MAX,
            Compression::Gzip => 0..=12,
            Compression::Bzip2 => 1..=9,
            Compression::Zstd => 1..=22,
        };
        if let Some(level) = level.filter(|l| !levels.contains(l)) {
            return Err(Error::usage(format!(
                "compression level {level} is outside {}-{} for {}",
                levels.start(),
                levels.end(),
                compression.label()
            )));
        }
        Ok(match compression {
            Compression::None => Compressor::Plain(out),
            // Independent ~1 MiB members compressed on all cores, indexed so that neurovox
            // reads any part without a first pass (docs/formats.md); any gzip reader reads it.
            Compression::Gzip => {
                let mut options = crate::io::gzip::writer::GzWriteOptions::new();
                if let Some(level) = level {
                    options = options.level(level);
                }
                Compressor::Gzip(crate::io::gzip::writer::ParallelGzWriter::with_options(
                    out, options,
                )?)
            }
            Compression::Bzip2 => Compressor::Bzip2(bzip2::write::BzEncoder::new(
                out,
                bzip2::Compression::new(level.unwrap_or(6)),
            )),
            Compression::Zstd => Compressor::Zstd(
                zstd::stream::write::Encoder::new(out, level.unwrap_or(3) as i32)
                    .map_err(Error::io)?,
            ),
        })
    }

    /// Writes `len` bytes that `produce(offset, buf)` makes (`buf` filled with the bytes
    /// from `offset`): the gzip writer has them made on its compression threads
    /// ([`ParallelGzWriter::write_produced`](crate::io::gzip::writer::ParallelGzWriter::write_produced)),
    /// other writers a batch of [`CONVERTED_PIECE`]s at a time on every core.
    fn write_produced(
        &mut self,
        len: usize,
        produce: &(dyn Fn(usize, &mut [u8]) -> Result<()> + Sync),
    ) -> Result<()> {
        use rayon::prelude::*;
        if let Compressor::Gzip(z) = self {
            return z
                .write_produced(len, &|offset, buf| {
                    produce(offset, buf).map_err(std::io::Error::other)
                })
                .map_err(|e| Error::carried_by(e).unwrap_or_else(Error::io));
        }
        let threads = rayon::current_num_threads().max(1);
        let mut pieces = vec![Vec::new(); threads];
        for batch in (0..len).step_by(CONVERTED_PIECE * threads) {
            let count = (len - batch).div_ceil(CONVERTED_PIECE).min(threads);
            pieces[..count]
                .par_iter_mut()
                .enumerate()
                .try_for_each(|(k, piece)| {
                    let from = batch + k * CONVERTED_PIECE;
                    piece.resize((len - from).min(CONVERTED_PIECE), 0);
                    produce(from, piece)
                })?;
            for piece in &pieces[..count] {
                self.write_all(piece).map_err(Error::io)?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            Compressor::Plain(out) => out.flush(),
            Compressor::Gzip(z) => z.finish().and_then(|out| out.flush()),
            Compressor::Bzip2(z) => z.finish().and_then(|out| out.flush()),
            Compressor::Zstd(z) => z.finish().and_then(|out| out.flush()),
        }
        .map_err(Error::io)
    }
}

impl Write for Compressor<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Compressor::Plain(out) => out.write(buf),
            Compressor::Gzip(z) => z.write(buf),
            Compressor::Bzip2(z) => z.write(buf),
            Compressor::Zstd(z) => z.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Compressor::Plain(out) => out.flush(),
            Compressor::Gzip(z) => z.flush(),
            Compressor::Bzip2(z) => z.flush(),
            Compressor::Zstd(z) => z.flush(),
        }
    }
}

/// The files of a saved image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilePart {
    /// The header file of a pair (`.hdr`).
    Header,
    /// The image file: the whole image for single-file formats, the data of a pair (`.img`).
    Image,
    /// An SPM image's `.mat` sidecar with its affine.
    Mat,
}

/// The bytes of each file of a saved image ([`save_to_bytes`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedBytes {
    /// The header file of a pair; `None` for single-file formats.
    pub header: Option<Vec<u8>>,
    /// The image file.
    pub image: Vec<u8>,
    /// The SPM `.mat` sidecar, for SPM formats with an affine.
    pub mat: Option<Vec<u8>>,
}

/// A writer of one file's bytes, called by [`write_parts`] for each file it writes.
type PartWriter<'w> = dyn FnMut(&mut dyn Write) -> Result<()> + 'w;

/// Writes the files of `image` saved as `format` with `compression`: for each file, `sink`
/// gets its part and a function that writes its bytes to a writer it chooses. The header and
/// the data plan are decided before any byte is written.
fn write_parts(
    parts: &SaveParts<'_, '_>,
    format: ImageFormat,
    compression: Compression,
    options: SaveOptions,
    sink: &mut dyn FnMut(FilePart, &mut PartWriter<'_>) -> Result<()>,
) -> Result<SaveOutcome> {
    let dtype = match options.dtype {
        Some(t) => t,
        None => parts
            .header
            .data_dtype()
            .map(|d| d.dtype)
            .unwrap_or(DataType::Float32),
    };
    let mut header = header_for(parts, format, dtype)?;
    let kind = writer_kind(format);
    let plan = plan_data(parts, &mut header, kind)?;
    let stored = header.data_dtype()?;
    let outcome = SaveOutcome {
        cast: plan.cast(stored.dtype),
    };
    // One file: fixed parts before and after the data, the data streamed between.
    let mut write_file = |part: FilePart, before: &[u8], data: bool, after: &[&[u8]]| {
        sink(part, &mut |w: &mut dyn Write| {
            let mut z = Compressor::new(w, compression, options.level)?;
            z.write_all(before).map_err(Error::io)?;
            if data {
                stream_data(parts.shape(), &plan, stored, kind, &mut z)?;
            }
            for part in after {
                z.write_all(part).map_err(Error::io)?;
            }
            z.finish()
        })
    };
    let written = match &header {
        Header::Mgh(m) => write_file(
            FilePart::Image,
            &m.prefix_bytes(),
            true,
            &[m.footer_bytes(), m.tag_bytes()],
        ),
        _ if format.is_pair() => {
            header.set("vox_offset", crate::FieldValue::Int(0))?;
            write_file(FilePart::Header, &header.to_prefix_bytes()?, false, &[])?;
            write_file(FilePart::Image, &[], true, &[])?;
            match (format, parts.affine) {
                (ImageFormat::Spm99 | ImageFormat::Spm2, Some(aff)) => {
                    write_file(FilePart::Mat, &mat_file_bytes(aff), false, &[])
                }
                _ => Ok(()),
            }
        }
        // vox_offset is 0 here, so the header bytes end exactly where the data starts.
        _ => write_file(FilePart::Image, &header.to_prefix_bytes()?, true, &[]),
    };
    written.map(|()| outcome)
}

/// Saves `image` to `path` (nibabel's `nib.save` / `img.to_filename`): the format from the
/// extension (within the image's family), compression from the suffix, atomically. Says
/// whether the values were cast on the way ([`SaveOutcome`]).
pub fn save(image: &Image, path: impl AsRef<Path>, options: SaveOptions) -> Result<SaveOutcome> {
    save_parts(&SaveParts::of(image), path, options)
}

/// Saves an array seen through a view — memory the library does not own, such as a numpy
/// array, read where it lies — as an image of `format` made with `header` and `affine` as
/// [`Image::from_dataobj`] makes one; otherwise as [`save`].
///
/// ```
/// use neurovox::array::DynView;
/// use neurovox::image::{save_view, SaveOptions};
/// use neurovox::{DataType, ImageFormat};
/// let values: Vec<i16> = (0..24).collect();
/// let view = DynView::from_bytes(bytemuck::cast_slice(&values), DataType::Int16, &[2, 3, 4], true)?;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.nii");
/// save_view(&view, None, None, ImageFormat::Nifti1, &path, SaveOptions::default())?;
/// let img = neurovox::load(&path)?;
/// assert_eq!(img.dataobj().to_array()?.get_f64(&[1, 2, 3]), Some(23.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn save_view(
    data: &DynView<'_>,
    affine: Option<&Affine>,
    header: Option<&Header>,
    format: ImageFormat,
    path: impl AsRef<Path>,
    options: SaveOptions,
) -> Result<SaveOutcome> {
    let header = crate::image::spatial_image::header_for_data(
        data.dtype(),
        data.shape(),
        affine,
        header,
        format,
    )?;
    let parts = SaveParts {
        header: &header,
        affine,
        format,
        data: SaveData::Array(data.clone()),
    };
    save_parts(&parts, path, options)
}

/// [`save`] of an image's parts.
pub fn save_parts(
    parts: &SaveParts<'_, '_>,
    path: impl AsRef<Path>,
    options: SaveOptions,
) -> Result<SaveOutcome> {
    let path = path.as_ref();
    let format = target_format(parts.format, path)?;
    let compression = compression_of(path);
    let (header_path, image_path) = header_and_image_paths(path);
    // A pair (and an SPM .mat) is replaced as one set, journalled next to the image file.
    let mut files = if header_path == image_path {
        FileSet::new(options.hard_links)
    } else {
        FileSet::with_journal(&image_path, options.hard_links)
    };
    write_parts(parts, format, compression, options, &mut |part, write| {
        let target = match part {
            FilePart::Header => header_path.clone(),
            FilePart::Image => image_path.clone(),
            FilePart::Mat => crate::image::file_map::mat_path(&image_path),
        };
        files.stage(&target, |w| write(w))
    })
    .and_then(|outcome| files.commit().map(|()| outcome))
    .map_err(|e| e.with_path(path))
}

/// The bytes `image` saved as `format` would have, file by file, in memory (nibabel's
/// `to_file_map` over `BytesIO` objects, `to_bytes`, `to_stream`): the same bytes
/// [`save`] writes for a file name of that format and compression.
///
/// ```
/// use neurovox::image::Image;
/// use neurovox::io::Compression;
/// use neurovox::image::{save_to_bytes, SaveOptions};
/// use neurovox::ImageFormat;
/// let data = ndarray::Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i + j + k) as u8).into_dyn();
/// let img = Image::from_array(data, None, ImageFormat::Nifti1)?;
/// let saved = save_to_bytes(&img, ImageFormat::Nifti1, Compression::None, SaveOptions::default())?;
/// assert!(saved.header.is_none());
/// let back = Image::from_bytes(saved.image)?;
/// assert_eq!(back.dataobj().to_array()?.get_f64(&[1, 2, 3]), Some(6.0));
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn save_to_bytes(
    image: &Image,
    format: ImageFormat,
    compression: Compression,
    options: SaveOptions,
) -> Result<SavedBytes> {
    let mut saved = SavedBytes::default();
    write_parts(
        &SaveParts::of(image),
        format,
        compression,
        options,
        &mut |part, write| {
            let mut out = Vec::new();
            write(&mut out)?;
            match part {
                FilePart::Header => saved.header = Some(out),
                FilePart::Image => saved.image = out,
                FilePart::Mat => saved.mat = Some(out),
            }
            Ok(())
        },
    )?;
    Ok(saved)
}
/// Saving an image to files (nibabel's `to_filename`, `to_file_map`) and to file names a
/// program can use (docs/nibabel-rules.md §19.2).
impl Image {
    /// Saves the image to `path` (nibabel's `to_filename`; see [`crate::image::save::save`]) and,
    /// as nibabel does, makes that file the image's file map.
    ///
    /// The image is then clean ([`Image::is_dirty`] false) when the file holds its values
    /// exactly in a header of the same layout; when the save cast or scaled the values (the
    /// outcome says how) or wrote another format, it is dirty and
    /// [`Image::dirty_reasons`] says so.
    ///
    /// ```
    /// use neurovox::{Image, ImageFormat};
    /// use neurovox::image::SaveOptions;
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
        options: crate::image::save::SaveOptions,
    ) -> Result<crate::image::save::SaveOutcome> {
        let path = path.as_ref();
        let outcome = crate::image::save::save(self, path, options)?;
        let (header, image) = crate::image::file_map::header_and_image_paths(path);
        self.files = FileMap {
            header: Some(header),
            image: Some(image),
        };
        let written = crate::image::save::target_format(self.format(), path)?;
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

    /// Saves the image to the files of `files` (nibabel's `to_file_map`): the image file
    /// decides the names (a pair's header file is its sibling).
    pub fn to_file_map(
        &mut self,
        files: &FileMap,
        options: crate::image::save::SaveOptions,
    ) -> Result<crate::image::save::SaveOutcome> {
        let target = files
            .image
            .as_ref()
            .or(files.header.as_ref())
            .ok_or_else(|| Error::usage("No filename or fileobj present"))?
            .clone();
        self.to_filename(target, options)
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
        self.as_filename_shown(dir, None)
    }

    /// As [`Image::as_filename`], but a copy stores the values as floats of type `floats`
    /// (float32 for MGH, which has no float64): for a caller that holds the float values the
    /// image shows — the Python layer's `get_fdata` cache — in an image made from them.
    ///
    /// ```
    /// use neurovox::{DataType, Image, ImageFormat};
    /// let dir = tempfile::tempdir()?;
    /// let data = ndarray::Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i + j + k) as f64 / 3.0);
    /// let img = Image::from_array(data.into_dyn(), None, ImageFormat::Nifti1Pair)?;
    /// let files = img.as_filename_as_floats(Some(dir.path()), DataType::Float64)?;
    /// assert!(files.is_copy && files.header.extension() == Some("hdr".as_ref()));
    /// let back = neurovox::load(&files.image)?;
    /// assert_eq!(back.header().data_dtype()?.dtype, DataType::Float64);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn as_filename_as_floats(
        &self,
        dir: Option<&Path>,
        floats: DataType,
    ) -> Result<ImageFiles> {
        if !floats.is_float() {
            return Err(Error::usage(format!("{floats} is not a float type")));
        }
        self.as_filename_shown(dir, Some(floats))
    }

    fn as_filename_shown(
        &self,
        dir: Option<&Path>,
        floats: Option<DataType>,
    ) -> Result<ImageFiles> {
        if !self.is_dirty()
            && let (Some(header), Some(image)) = (&self.files.header, &self.files.image)
        {
            return Ok(ImageFiles {
                header: header.clone(),
                image: image.clone(),
                is_copy: false,
            });
        }
        let dir = dir.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let reserved = tempfile::Builder::new()
            .prefix("neurovox-")
            .suffix(self.format().valid_exts()[0])
            .tempfile_in(&dir)
            .map_err(|e| Error::io(e).with_path(&dir))?
            .into_temp_path();
        let (header, image) = crate::image::file_map::header_and_image_paths(&reserved);
        // A program handed these files must see what this image shows: float data changed
        // in the cache is saved, not the data object behind it (which to_filename saves,
        // as nibabel does).
        // Stored as the cache's float type (MGH has no float64: float32), so the copy holds
        // exactly those values rather than an integer rescaling of them.
        // Floats are stored as floats of their type; MGH has no float64.
        let floats_stored = |floats: DataType| SaveOptions {
            dtype: Some(match self.format() {
                ImageFormat::Mgh => DataType::Float32,
                _ => floats,
            }),
            ..Default::default()
        };
        let as_shown;
        let (to_save, options) = match (&self.fdata_cache, self.tracking.fdata_exposed(), floats) {
            (_, _, Some(floats)) => (self, floats_stored(floats)),
            (Some(cache), true, None) => {
                as_shown = Image::from_dyn_array(
                    cache.clone(),
                    self.affine,
                    Some(&self.header),
                    self.format(),
                )?;
                (&as_shown, floats_stored(cache.dtype()))
            }
            _ => (self, SaveOptions::default()),
        };
        if let Err(e) = crate::image::save::save(to_save, &header, options) {
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

#[cfg(test)]
mod image_save_tests {
    use super::*;
    use crate::image::spatial_image::FileMap;

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
