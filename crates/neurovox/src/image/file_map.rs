//! File names and format detection: which files make up an image, which format they hold,
//! and reading just enough of them to parse the header.
//!
//! Extensions follow nibabel (docs/nibabel-rules.md §6): `.nii` single files, `.hdr` +
//! `.img` pairs (either name may be given; the sibling keeps the case of an all-upper or
//! all-lower extension), `.mgh` and `.mgz`, and AFNI's `.HEAD` + `.BRIK`; each may end in
//! `.gz`, `.bz2` or `.zst`. AFNI compresses only the `.BRIK`: as nibabel does, a `.HEAD`
//! finds a compressed `.BRIK` when the plain one is absent, and a `.BRIK.gz` finds the plain
//! `.HEAD`. Compression is
//! recognised by content, so the suffix only helps find the sibling file. The format is
//! decided by the header bytes, in nibabel's order: NIfTI-1 magic, NIfTI-2 size, then
//! Analyze (which nibabel reads as SPM2); a file with no known extension is sniffed.

use crate::error::{Error, Result};
use crate::format::{Affine, Header, ImageFormat, afni, analyze, mgh, nifti1, nifti2};
use crate::image::proxy::ProxyOptions as LoadOptions;
use crate::io::opener::Opener;
use crate::io::{Compression, read_up_to, skip};
use crate::limits::Limits;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The kind of file an extension names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionKind {
    /// `.nii`
    Nifti,
    /// `.hdr`
    Header,
    /// `.img`
    Image,
    /// `.mgh`
    Mgh,
    /// `.mgz` (gzip-compressed MGH)
    Mgz,
    /// AFNI `.HEAD` (attributes)
    AfniHead,
    /// AFNI `.BRIK` (data)
    AfniBrik,
    /// ECAT7 `.v`
    Ecat,
    /// PAR/REC `.PAR` (text header)
    Par,
    /// PAR/REC `.REC` (slices)
    Rec,
    /// MINC1 or MINC2 `.mnc`
    Minc,
}

/// A path split as nibabel's `splitext_addext` splits it: stem, type extension, compression
/// suffix (`("a", ".nii", ".gz")` for `a.nii.gz`). Extensions are matched case-insensitively.
///
/// ```
/// use neurovox::image::split_name;
/// assert_eq!(split_name("dir/a.nii.gz"), ("dir/a".to_owned(), ".nii".to_owned(), ".gz".to_owned()));
/// assert_eq!(split_name("B.IMG"), ("B".to_owned(), ".IMG".to_owned(), String::new()));
/// assert_eq!(split_name("c.mgz"), ("c".to_owned(), ".mgz".to_owned(), String::new()));
/// ```
pub fn split_name(path: &str) -> (String, String, String) {
    let (rest, compression) = match path.rfind('.') {
        Some(dot) if Compression::from_suffix(&path[dot..]).is_some() => {
            (&path[..dot], path[dot..].to_owned())
        }
        _ => (path, String::new()),
    };
    match rest.rfind('.') {
        Some(dot) if !rest[dot..].contains('/') => {
            (rest[..dot].to_owned(), rest[dot..].to_owned(), compression)
        }
        _ => (rest.to_owned(), String::new(), compression),
    }
}

/// What an extension (`.nii`, `.HDR`) names, if it is one of ours.
pub fn extension_kind(ext: &str) -> Option<ExtensionKind> {
    match ext.to_ascii_lowercase().as_str() {
        ".nii" => Some(ExtensionKind::Nifti),
        ".hdr" => Some(ExtensionKind::Header),
        ".img" => Some(ExtensionKind::Image),
        ".mgh" => Some(ExtensionKind::Mgh),
        ".mgz" => Some(ExtensionKind::Mgz),
        ".head" => Some(ExtensionKind::AfniHead),
        ".brik" => Some(ExtensionKind::AfniBrik),
        ".v" => Some(ExtensionKind::Ecat),
        ".par" => Some(ExtensionKind::Par),
        ".rec" => Some(ExtensionKind::Rec),
        ".mnc" => Some(ExtensionKind::Minc),
        _ => None,
    }
}

/// The sibling extension of a pair, in the case nibabel gives it: all-upper stays upper,
/// anything else becomes lower (`X.IMG → X.HDR`, `x.Img → x.hdr`).
fn sibling_ext(ext: &str, sibling_lower: &str) -> String {
    let letters = &ext[1..];
    if !letters.is_empty() && letters.chars().all(|c| c.is_ascii_uppercase()) {
        sibling_lower.to_ascii_uppercase()
    } else {
        sibling_lower.to_owned()
    }
}

/// The `(header, image)` paths of the image `path` names: the same file for single-file
/// formats, the `.hdr` and `.img` for pairs (whichever of them was given).
///
/// ```
/// use neurovox::image::header_and_image_paths;
/// use std::path::PathBuf;
/// let (h, i) = header_and_image_paths("T1.IMG.gz".as_ref());
/// assert_eq!((h, i), (PathBuf::from("T1.HDR.gz"), PathBuf::from("T1.IMG.gz")));
/// ```
pub fn header_and_image_paths(path: &Path) -> (PathBuf, PathBuf) {
    header_and_image_paths_with(path, &|p| p.exists())
}

/// As [`header_and_image_paths`], asking `exists` whether a candidate sibling exists (an
/// opener's view: a URL is asked of its server).
pub(crate) fn header_and_image_paths_with(
    path: &Path,
    exists: &dyn Fn(&Path) -> bool,
) -> (PathBuf, PathBuf) {
    let s = path.to_string_lossy();
    let (stem, ext, compression) = split_name(&s);
    match extension_kind(&ext) {
        Some(ExtensionKind::Header) => {
            let img = format!("{stem}{}{compression}", sibling_ext(&ext, ".img"));
            (path.to_path_buf(), PathBuf::from(img))
        }
        Some(ExtensionKind::Image) => {
            let hdr = format!("{stem}{}{compression}", sibling_ext(&ext, ".hdr"));
            (PathBuf::from(hdr), path.to_path_buf())
        }
        Some(ExtensionKind::AfniHead) => {
            let brik = format!("{stem}{}", sibling_ext(&ext, ".brik"));
            let image = first_existing(
                std::iter::once(compression.as_str())
                    .chain([".gz", ".bz2", ".zst"])
                    .map(|suffix| format!("{brik}{suffix}")),
                exists,
            );
            (path.to_path_buf(), image)
        }
        Some(ExtensionKind::AfniBrik) => {
            let head = format!("{stem}{}", sibling_ext(&ext, ".head"));
            let header = first_existing([format!("{head}{compression}"), head], exists);
            (header, path.to_path_buf())
        }
        Some(ExtensionKind::Par) => {
            let rec = format!("{stem}{}{compression}", sibling_ext(&ext, ".rec"));
            (path.to_path_buf(), PathBuf::from(rec))
        }
        Some(ExtensionKind::Rec) => {
            let par = format!("{stem}{}{compression}", sibling_ext(&ext, ".par"));
            (PathBuf::from(par), path.to_path_buf())
        }
        _ => (path.to_path_buf(), path.to_path_buf()),
    }
}

/// The first of `candidates` that exists, else the first (whose absence is reported when it
/// is opened).
fn first_existing(
    candidates: impl IntoIterator<Item = String>,
    exists: &dyn Fn(&Path) -> bool,
) -> PathBuf {
    let mut candidates = candidates.into_iter().map(PathBuf::from);
    let first = candidates.next().unwrap_or_default();
    if exists(&first) {
        return first;
    }
    candidates.find(|p| exists(p)).unwrap_or(first)
}

/// The part of a name that names the file: a URL without its query (`?…`) or fragment
/// (`#…`), a path as it is.
pub(crate) fn name_without_query(name: &str) -> &str {
    if crate::io::is_url(name) {
        name.split(['?', '#']).next().unwrap_or(name)
    } else {
        name
    }
}

/// The SPM `.mat` sidecar of an image (`x.img.gz` → `x.mat.gz`, `X.IMG` → `X.MAT`), as
/// nibabel names it.
pub fn mat_path(image_path: &Path) -> PathBuf {
    let s = image_path.to_string_lossy();
    let (stem, ext, compression) = split_name(&s);
    PathBuf::from(format!("{stem}{}{compression}", sibling_ext(&ext, ".mat")))
}

/// Decides the format from the first bytes of the (decompressed) header file, in nibabel's
/// order of image classes. `kind` is what the extension says, if anything; with no known
/// extension the bytes alone decide, and a pair magic is reported as a pair format.
///
/// ```
/// use neurovox::image::{detect_format, ExtensionKind};
/// use neurovox::{ByteOrder, Header, ImageFormat};
/// let bytes = Header::new(ImageFormat::Nifti2, ByteOrder::Big).to_prefix_bytes().unwrap();
/// assert_eq!(detect_format(&bytes, Some(ExtensionKind::Nifti)), Some(ImageFormat::Nifti2));
/// assert_eq!(detect_format(&bytes, None), Some(ImageFormat::Nifti2));
/// ```
pub fn detect_format(bytes: &[u8], kind: Option<ExtensionKind>) -> Option<ImageFormat> {
    let nifti1_magic = bytes.get(344..348);
    let is_nifti1 = nifti1::may_contain_header(bytes);
    let is_nifti2 = nifti2::may_contain_header(bytes);
    match kind {
        Some(ExtensionKind::Mgh | ExtensionKind::Mgz) => Some(ImageFormat::Mgh),
        Some(ExtensionKind::AfniHead | ExtensionKind::AfniBrik) => Some(ImageFormat::Afni),
        Some(ExtensionKind::Ecat) => Some(ImageFormat::Ecat),
        Some(ExtensionKind::Par | ExtensionKind::Rec) => Some(ImageFormat::Parrec),
        // nibabel's sniffs: `CDF\x01` only (its loader refuses 64-bit offset files, which
        // Minc1Image.from_filename reads), and HDF5's first four bytes.
        Some(ExtensionKind::Minc) => minc_by_content(bytes),
        Some(ExtensionKind::Nifti) => {
            if is_nifti1 {
                Some(ImageFormat::Nifti1)
            } else if is_nifti2 {
                Some(ImageFormat::Nifti2)
            } else {
                None
            }
        }
        Some(ExtensionKind::Header | ExtensionKind::Image) => {
            if is_nifti1 {
                Some(ImageFormat::Nifti1Pair)
            } else if is_nifti2 {
                Some(ImageFormat::Nifti2Pair)
            } else if analyze::may_contain_header(bytes) {
                // nibabel tries Spm2AnalyzeImage before Spm99 and Analyze, and it accepts
                // every Analyze header that is not NIfTI-1.
                Some(ImageFormat::Spm2)
            } else {
                None
            }
        }
        None => {
            if is_nifti1 {
                Some(if nifti1_magic == Some(b"ni1\0") {
                    ImageFormat::Nifti1Pair
                } else {
                    ImageFormat::Nifti1
                })
            } else if is_nifti2 {
                Some(if bytes.get(4..8) == Some(b"ni2\0") {
                    ImageFormat::Nifti2Pair
                } else {
                    ImageFormat::Nifti2
                })
            } else if analyze::may_contain_header(bytes) {
                Some(ImageFormat::Spm2)
            } else if looks_like_mgh(bytes) {
                Some(ImageFormat::Mgh)
            } else if afni::looks_like_head(bytes) {
                Some(ImageFormat::Afni)
            } else if bytes.starts_with(b"MATRIX") {
                Some(ImageFormat::Ecat)
            } else if crate::format::parrec::looks_like_par(bytes) {
                Some(ImageFormat::Parrec)
            } else {
                minc_by_content(bytes)
            }
        }
    }
}

/// The MINC class nibabel's `nib.load` picks by the first bytes of a `.mnc`.
fn minc_by_content(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(b"CDF\x01") {
        Some(ImageFormat::Minc1)
    } else if bytes.starts_with(b"\x89HDF") {
        Some(ImageFormat::Minc2)
    } else {
        None
    }
}

/// MGH has no magic; version 1 and a known type code, big-endian, is as close as it gets.
fn looks_like_mgh(bytes: &[u8]) -> bool {
    bytes.len() >= mgh::HEADER_SIZE
        && bytes[0..4] == [0, 0, 0, 1]
        && matches!(bytes[20..24], [0, 0, 0, 0 | 1 | 3 | 4 | 10])
}

/// What [`read_header`] found: the format, the files, their compression and the header.
#[derive(Debug, Clone)]
pub struct HeaderInfo {
    /// The image format, as nibabel would load it.
    pub format: ImageFormat,
    /// The file holding the header.
    pub header_path: PathBuf,
    /// The file holding the data (the same file for single-file formats).
    pub image_path: PathBuf,
    /// The compression of the header file, recognised by content.
    pub compression: Compression,
    /// The parsed header (with extensions for NIfTI, with the footer for MGH).
    pub header: Header,
    /// Which file the header was read from (device and inode of the descriptor read): a
    /// loader checks its data comes from the file this says, not one a save put there since.
    /// `None` for a header read from a URL (its object's fingerprint guards it instead).
    pub header_identity: Option<crate::io::FileIdentity>,
}

/// Reads and parses the header of the image at `path` (a URL too, with the `remote` feature),
/// reading no more than the header needs (for MGH, also the footer after the data). For
/// uncompressed image files, a data region past the end of the file is a Limit error. Every
/// error names the file.
///
/// ```no_run
/// let info = neurovox::read_header("sub-01_T1w.nii.gz")?;
/// println!("{} {:?}", info.format, info.header.data_shape()?);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn read_header(path: impl AsRef<Path>) -> Result<HeaderInfo> {
    read_header_as(path, None)
}

/// As [`read_header`], but reads the header as `format` when given (nibabel's
/// `Spm99AnalyzeImage.from_filename` where `nib.load` would choose SPM2, say); the format
/// must use the same files as the one detected.
pub fn read_header_as(path: impl AsRef<Path>, format: Option<ImageFormat>) -> Result<HeaderInfo> {
    read_header_limited(path.as_ref(), format, &LoadOptions::default())
}

/// As [`read_header_as`], under a load's options: its limits, and for PAR/REC its sorting
/// and truncation options.
pub fn read_header_limited(
    path: &Path,
    format: Option<ImageFormat>,
    options: &LoadOptions,
) -> Result<HeaderInfo> {
    let opener = Opener::for_name(path)?;
    let (header_path, image_path) = header_and_image_paths_with(path, &|p| opener.exists(p));
    read_header_in(&opener, &header_path, &image_path, format, options)
}

/// As [`read_header_limited`] of the image whose header is in `header_path` and data in
/// `image_path`, opened by `opener`.
pub(crate) fn read_header_in(
    opener: &Opener,
    header_path: &Path,
    image_path: &Path,
    format: Option<ImageFormat>,
    options: &LoadOptions,
) -> Result<HeaderInfo> {
    let limits = &options.limits;
    let (stem_ext, kind) = {
        let (_, ext, _) = split_name(name_without_query(&header_path.to_string_lossy()));
        (ext.clone(), extension_kind(&ext))
    };
    let (header_path, image_path) = (header_path.to_path_buf(), image_path.to_path_buf());
    let (compression, mut reader, header_identity) = opener.decompressed(&header_path)?;
    let mut bytes = Vec::new();
    read_up_to(reader.as_mut(), 1024, &mut bytes).map_err(|e| e.with_path(&header_path))?;
    if bytes.is_empty() {
        return Err(Error::format("Empty file").with_path(&header_path));
    }
    let detected = detect_format(&bytes, kind);
    let format = format.or(detected).ok_or_else(|| {
        let what = if bytes.starts_with(b"CDF\x02") {
            "a netCDF 64-bit offset (CDF-2) file: nibabel's load does not recognise it as MINC1 \
             (Minc1Image.from_filename reads it, as neurovox.minc1.load does)"
                .to_owned()
        } else if kind.is_none() && !stem_ext.is_empty() {
            format!("unknown extension {stem_ext:?} and no known header inside")
        } else {
            "Cannot work out file type".to_owned()
        };
        Error::format(what).with_path(&header_path)
    })?;
    if kind.is_none() && format.is_pair() {
        return Err(Error::unsupported(format!(
            "the header says {}, a .hdr/.img pair, but the file name has no .hdr or .img extension",
            format.label()
        ))
        .with_path(&header_path));
    }

    if format == ImageFormat::Minc2 && compression != Compression::None {
        return Err(Error::unsupported(format!(
            "a {}-compressed MINC2 file: HDF5 files are read uncompressed (nibabel refuses them \
             too); decompress it first",
            compression.suffix()
        ))
        .with_path(&header_path));
    }
    let header = if matches!(format, ImageFormat::Minc1 | ImageFormat::Minc2) {
        read_minc_header(opener, &header_path, compression, format)
    } else if format == ImageFormat::Ecat {
        // Its subheaders lie between the frames: read block by block, at random.
        read_ecat_header(opener, &header_path, compression)
    } else if format == ImageFormat::Parrec {
        read_whole_text_header(bytes, reader.as_mut(), limits.max_header_bytes, ".PAR").and_then(
            |text| {
                crate::format::ParrecHeader::parse_with(&text, options.parrec).map(Header::Parrec)
            },
        )
    } else {
        parse_header_from(format, bytes, reader.as_mut(), limits)
    }
    .map_err(|e| e.with_path(&header_path))?;

    // A pair's files are compressed alike, except AFNI's, whose .BRIK alone may be.
    let image_compressed =
        format == ImageFormat::Afni && image_file_is_compressed(opener, &image_path);
    if compression == Compression::None && !image_compressed {
        check_data_fits(&header, &image_path, opener.raw_len(&image_path))?;
    }
    Ok(HeaderInfo {
        format,
        header_path,
        image_path,
        compression,
        header,
        header_identity,
    })
}

/// Reads and parses a header of `format` from `reader` (positioned at the start of the
/// header, the bytes uncompressed), reading no more than the header needs: for NIfTI up to
/// `vox_offset` (the extensions), for MGH on through the data to the footer and the tags
/// after it. What [`read_header_as`] does after opening a file, for any reader (nibabel's
/// `header_class.from_fileobj`).
///
/// ```
/// use neurovox::{ByteOrder, Header, ImageFormat};
/// let mut h = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
/// h.set_data_shape(&[2, 3, 4])?;
/// let bytes = h.to_prefix_bytes()?;
/// let back = neurovox::image::read_header_from(&mut &bytes[..], ImageFormat::Nifti1)?;
/// assert_eq!(back.data_shape()?, vec![2, 3, 4]);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn read_header_from(reader: &mut dyn std::io::Read, format: ImageFormat) -> Result<Header> {
    let mut bytes = Vec::new();
    read_up_to(reader, 1024, &mut bytes)?;
    if bytes.is_empty() {
        return Err(Error::format("Empty file"));
    }
    parse_header_from(format, bytes, reader, &Limits::default())
}

/// Parses a header of `format` whose first bytes (up to 1024) are `bytes`, reading more from
/// `reader` as the format needs.
fn parse_header_from(
    format: ImageFormat,
    mut bytes: Vec<u8>,
    reader: &mut dyn std::io::Read,
    limits: &Limits,
) -> Result<Header> {
    let max_header = limits.max_header_bytes;
    match format {
        ImageFormat::Nifti1 | ImageFormat::Nifti2 => {
            // Extensions run up to vox_offset: read that far, bounded.
            let probe = Header::parse(format, &header_block_only(&bytes, format));
            if let Ok(h) = &probe {
                let want = h.data_offset().min(max_header);
                if want > bytes.len() as u64 {
                    read_up_to(reader, want - bytes.len() as u64, &mut bytes)?;
                }
                if h.data_offset() > max_header {
                    return Err(Error::limit(format!(
                        "vox_offset {} puts over {max_header} bytes of extensions before the data \
                         (Limits::max_header_bytes)",
                        h.data_offset()
                    ))
                    .field("vox_offset"));
                }
            }
            Header::parse(format, &bytes)
        }
        ImageFormat::Nifti1Pair | ImageFormat::Nifti2Pair => {
            read_up_to(reader, max_header, &mut bytes)?;
            Header::parse(format, &bytes)
        }
        ImageFormat::Mgh => read_mgh_header(&bytes, reader, limits.max_mgh_tag_bytes),
        ImageFormat::Afni => {
            let text = read_whole_text_header(bytes, reader, max_header, ".HEAD")?;
            Header::parse(format, &text)
        }
        ImageFormat::Minc1 | ImageFormat::Minc2 => {
            // The netCDF / HDF5 structures may lie anywhere in the file: a stream is read
            // whole (nibabel's netCDF reader reads a file object whole too).
            read_up_to(reader, u64::MAX, &mut bytes)?;
            Header::parse(format, &bytes)
        }
        _ => Header::parse(format, &bytes),
    }
}

/// The whole of a text header file whose first bytes are `bytes`, bounded by `max_header`:
/// one byte more than allowed tells "too long".
fn read_whole_text_header(
    mut bytes: Vec<u8>,
    reader: &mut dyn std::io::Read,
    max_header: u64,
    what: &str,
) -> Result<Vec<u8>> {
    read_up_to(reader, max_header.saturating_add(1), &mut bytes)?;
    if bytes.len() as u64 > max_header {
        return Err(Error::limit(format!(
            "the {what} file is over {max_header} bytes (Limits::max_header_bytes)"
        )));
    }
    Ok(bytes)
}

/// The format of a single-file image held in memory (NIfTI-1, NIfTI-2 or MGH), detected from
/// its first bytes; a Format error for anything else.
pub(crate) fn single_file_format(bytes: &[u8]) -> Result<ImageFormat> {
    detect_format(bytes, None)
        .filter(|f| {
            matches!(
                f,
                ImageFormat::Nifti1 | ImageFormat::Nifti2 | ImageFormat::Mgh
            )
        })
        .ok_or_else(|| {
            Error::format("the bytes are not a single-file NIfTI-1, NIfTI-2 or MGH image")
        })
}

/// The inflated bytes of a single-file image held in memory as a compressed stream
/// (`Image::from_bytes`): as far as its header says the image reaches — the extensions and
/// data for NIfTI, the data, footer and at most `max_mgh_tag_bytes` of tags for MGH. One byte
/// more is asked of the decoder, so that a stream which ends there is read to its end and its
/// checksum checked. A stream declaring more than it holds gives what it holds (its reads
/// fail later, naming the shortfall); one inflating past `max_inflated_bytes` is a Limit
/// error. So neither trailing bytes nor a header value make the inflate grow past what the
/// image is or the caller allows.
pub(crate) fn inflate_single_file_image(
    reader: &mut dyn std::io::Read,
    limits: &Limits,
) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    read_up_to(reader, 1024, &mut bytes)?;
    let format = single_file_format(&bytes)?;
    let end = match format {
        ImageFormat::Mgh => mgh::MghHeader::parse(&bytes)?
            .footer_offset()?
            .saturating_add(mgh::FOOTER_SIZE as u64)
            .saturating_add(limits.max_mgh_tag_bytes),
        _ => {
            let header = Header::parse(format, &header_block_only(&bytes, format))?;
            if header.data_offset() > limits.max_header_bytes {
                return Err(Error::limit(format!(
                    "vox_offset {} puts over {} bytes of extensions before the data \
                     (Limits::max_header_bytes)",
                    header.data_offset(),
                    limits.max_header_bytes
                ))
                .field("vox_offset"));
            }
            header.data_offset().saturating_add(header.data_nbytes()?)
        }
    };
    let want = end
        .saturating_add(1)
        .min(limits.max_inflated_bytes.saturating_add(1));
    read_up_to(reader, want.saturating_sub(bytes.len() as u64), &mut bytes)?;
    if bytes.len() as u64 > limits.max_inflated_bytes {
        return Err(Error::limit(format!(
            "the compressed image inflates past {} bytes (Limits::max_inflated_bytes)",
            limits.max_inflated_bytes
        )));
    }
    // The byte past the end (and, for a small image, the rest of the first 1024) is not
    // part of the image.
    bytes.truncate(usize::try_from(end).unwrap_or(usize::MAX));
    Ok(bytes)
}

/// The bytes of a single NIfTI file before the extension flag, so the header can be parsed
/// before we know how far its extensions reach.
pub(crate) fn header_block_only(bytes: &[u8], format: ImageFormat) -> Vec<u8> {
    let size = if format == ImageFormat::Nifti1 {
        348
    } else {
        540
    };
    bytes[..bytes.len().min(size)].to_vec()
}

/// An SPM image's affine: from its `.mat` sidecar when there is one (nibabel reads it with
/// scipy), else the header's origin affine.
pub(crate) fn spm_affine(
    opener: &Opener,
    header: &Header,
    image_path: &Path,
    max_mat_bytes: u64,
) -> Result<Affine> {
    let mat = mat_path(image_path);
    if !opener.exists(&mat) {
        return header.best_affine();
    }
    let (_, mut reader, _) = opener.decompressed(&mat)?;
    let mut bytes = Vec::new();
    crate::io::read_up_to(reader.as_mut(), max_mat_bytes, &mut bytes)
        .map_err(|e| e.with_path(&mat))?;
    if bytes.is_empty() {
        return header.best_affine();
    }
    crate::format::spm_mat::read_mat_affine(&bytes).map_err(|e| e.with_path(&mat))
}

/// Parses an MGH header, then skips over the data to read the footer and the tags after it.
fn read_mgh_header(
    bytes: &[u8],
    reader: &mut dyn std::io::Read,
    max_tag_bytes: u64,
) -> Result<Header> {
    let mut header = mgh::MghHeader::parse(bytes)?;
    let footer_offset = header.footer_offset()?;
    let have = bytes.len() as u64;
    if footer_offset >= have {
        skip(reader, footer_offset - have)?;
        let mut footer = Vec::new();
        read_up_to(reader, mgh::FOOTER_SIZE as u64, &mut footer)?;
        // A missing or short footer reads as zeros, as in nibabel.
        footer.resize(mgh::FOOTER_SIZE, 0);
        header.set_footer_bytes(&footer)?;
        let mut tags = Vec::new();
        read_up_to(reader, max_tag_bytes, &mut tags)?;
        header.set_tag_bytes(tags);
    } else {
        // The first read reached past the footer (a small image): the tags began in it, and
        // the rest of them follow in the reader.
        let mut tags = header.tag_bytes().to_vec();
        let have_tags = tags.len() as u64;
        if have_tags < max_tag_bytes {
            read_up_to(reader, max_tag_bytes - have_tags, &mut tags)?;
        } else {
            tags.truncate(usize::try_from(max_tag_bytes).unwrap_or(usize::MAX));
        }
        header.set_tag_bytes(tags);
    }
    Ok(Header::Mgh(header))
}

/// An ECAT7 header read through a random-access source over the file: only the blocks it
/// needs (main header, matrix list, one subheader per frame), never the frames between them.
fn read_ecat_header(opener: &Opener, path: &Path, compression: Compression) -> Result<Header> {
    let options = crate::io::SourceOptions {
        keep_open: true,
        map: false,
    };
    let source = opener.random_access(path, compression, options)?;
    // Once: a compressed source learns its length by inflating.
    let len = source.len()?;
    let header = crate::format::EcatHeader::read(&mut |block| {
        let start = (block.max(1) - 1).saturating_mul(crate::format::ecat::BLOCK_SIZE);
        let mut bytes = vec![0u8; crate::format::ecat::BLOCK_SIZE as usize];
        // A block past the end (or cut by it) reads as what there is, then zeros.
        let have = len.saturating_sub(start).min(bytes.len() as u64) as usize;
        source.read_at(start, &mut bytes[..have])?;
        Ok(bytes)
    })?;
    Ok(Header::Ecat(header))
}

/// A MINC header read through a random-access source over the file (a `.mnc.gz` through its
/// gzip index): the netCDF header or the HDF5 objects the image needs, never its data.
fn read_minc_header(
    opener: &Opener,
    path: &Path,
    compression: Compression,
    format: ImageFormat,
) -> Result<Header> {
    let options = crate::io::SourceOptions {
        keep_open: true,
        map: false,
    };
    let source = opener.random_access(path, compression, options)?;
    let storage = crate::io::SourceStorage::new(source)?;
    let header = crate::format::MincHeader::read(Arc::new(storage))?;
    if header.format() != format {
        return Err(Error::format(format!(
            "the file is {}, not {}",
            header.format().label(),
            format.label()
        )));
    }
    Ok(Header::Minc(header))
}

/// Whether the file at `path` starts with a compression magic (false if it cannot be read:
/// its absence is reported when the data is read).
fn image_file_is_compressed(opener: &Opener, path: &Path) -> bool {
    opener
        .compression(path)
        .is_ok_and(|c| c != Compression::None)
}

/// For an uncompressed image file of `len` bytes: the data region must lie inside the file.
fn check_data_fits(header: &Header, image_path: &Path, len: Option<u64>) -> Result<()> {
    let Some(len) = len else {
        // A missing .img is reported when the data is read (nibabel reads lazily too).
        return Ok(());
    };
    if let Header::Parrec(par) = header {
        // nibabel reads every slice the .PAR lists, used or not.
        let nbytes = par.rec_nbytes().map_err(|e| e.with_path(image_path))?;
        if nbytes > len {
            return Err(Error::limit(format!(
                "the .PAR lists {} slices of {:?} pixels ({nbytes} bytes), but the .REC has \
                 {len} bytes",
                par.image_defs().rows(),
                par.rec_shape().map(|s| [s[0], s[1]]).unwrap_or_default()
            ))
            .field("recon resolution")
            .with_path(image_path));
        }
        return Ok(());
    }
    if let Header::Minc(_) = header {
        // The MINC header was read through the file and checked its data against it.
        return Ok(());
    }
    if let Header::Ecat(ecat) = header {
        // Frames lie apart, each after its subheader: each must be inside the file.
        for (offset, nbytes) in ecat.frame_ranges().map_err(|e| e.with_path(image_path))? {
            if offset.checked_add(nbytes).is_none_or(|end| end > len) {
                return Err(Error::limit(format!(
                    "a frame of {nbytes} bytes at offset {offset} runs past the end of the \
                     {len}-byte file"
                ))
                .field("mlist")
                .with_path(image_path));
            }
        }
        return Ok(());
    }
    let offset = header.data_offset();
    if offset > len {
        return Err(Error::limit(format!(
            "the data offset {offset} is past the end of the {len}-byte file"
        ))
        .field("vox_offset")
        .with_path(image_path));
    }
    let nbytes = header.data_nbytes().map_err(|e| e.with_path(image_path))?;
    if offset.checked_add(nbytes).is_none_or(|end| end > len) {
        return Err(Error::limit(format!(
            "the header declares {nbytes} data bytes at offset {offset}, but the file has {len} bytes"
        ))
        .field("dim")
        .with_path(image_path));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ByteOrder, DataType, ErrorKind};

    /// A single NIfTI file whose `vox_offset` leaves `gap` bytes of (empty) extension space
    /// before 8 bytes of uint8 data.
    fn nifti_with_gap(dir: &Path, gap: u64) -> PathBuf {
        let mut h = crate::format::NiftiHeader::new(
            crate::format::NiftiVersion::One,
            true,
            ByteOrder::Little,
        );
        h.set_data_shape(&[2, 2, 2]).unwrap();
        h.set_data_dtype(DataType::UInt8).unwrap();
        h.set_data_offset(352 + gap).unwrap();
        let mut bytes = h.to_bytes().to_vec();
        bytes.resize((352 + gap) as usize, 0); // extension flag 0: no extensions
        bytes.extend(0u8..8);
        let path = dir.join("gap.nii");
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn limits_bound_the_header_a_load_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = nifti_with_gap(dir.path(), 64 << 10);
        let info = read_header_limited(&path, None, &LoadOptions::default()).unwrap();
        assert_eq!(info.header.data_offset(), 352 + (64 << 10));

        let strict = Limits {
            max_header_bytes: 4096,
            ..Limits::default()
        };
        let with = |limits: Limits| LoadOptions {
            limits,
            ..LoadOptions::default()
        };
        let e = read_header_limited(&path, None, &with(strict)).unwrap_err();
        assert_eq!(
            (e.kind(), e.field_name()),
            (ErrorKind::Limit, Some("vox_offset"))
        );
        assert_eq!(e.path(), Some(path.as_path()));
        assert!(e.to_string().contains("max_header_bytes"), "{e}");

        // The load options carry the limits, and a handle keeps them.
        let options = crate::image::ProxyOptions {
            limits: strict,
            ..Default::default()
        };
        let e = crate::Image::load_with(&path, options).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Limit);
        let img = crate::load(&path).unwrap();
        let json = serde_json::to_string(&img.handle().unwrap()).unwrap();
        assert!(json.contains("max_header_bytes"), "{json}");
    }

    #[test]
    fn limits_cap_the_mgh_tags_read() {
        let dir = tempfile::tempdir().unwrap();
        let (_, mut bytes) = uint8_image(ImageFormat::Mgh, &[2, 2, 2]);
        bytes.extend(std::iter::repeat_n(7u8, 10_000));
        let path = dir.path().join("tags.mgh");
        std::fs::write(&path, bytes).unwrap();
        let tags = |limits: &Limits| {
            let options = LoadOptions {
                limits: *limits,
                ..LoadOptions::default()
            };
            match read_header_limited(&path, None, &options).unwrap().header {
                Header::Mgh(m) => m.tag_bytes().len(),
                other => panic!("not MGH: {other:?}"),
            }
        };
        assert_eq!(tags(&Limits::default()), 10_000);
        let strict = Limits {
            max_mgh_tag_bytes: 100,
            ..Limits::default()
        };
        assert_eq!(tags(&strict), 100);
    }

    /// Counts the bytes a reader hands out.
    struct Counted<R> {
        inner: R,
        count: u64,
    }

    impl<R: std::io::Read> std::io::Read for Counted<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.count += n as u64;
            Ok(n)
        }
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    /// A header of `format` for uint8 data of `shape` (big-endian for MGH), and the image's
    /// bytes: the header, the data `0, 1, 2, …` (wrapping) and, for MGH, the footer.
    fn uint8_image(format: ImageFormat, shape: &[usize]) -> (Header, Vec<u8>) {
        let order = if format == ImageFormat::Mgh {
            ByteOrder::Big
        } else {
            ByteOrder::Little
        };
        let mut h = Header::new(format, order);
        h.set_data_shape(shape).unwrap();
        h.set_data_dtype(DataType::UInt8).unwrap();
        let mut bytes = h.to_prefix_bytes().unwrap();
        bytes.extend((0..shape.iter().product::<usize>()).map(|i| i as u8));
        if let Header::Mgh(m) = &h {
            bytes.extend_from_slice(m.footer_bytes());
        }
        (h, bytes)
    }

    /// Inflates `gz` as `Image::from_bytes_with` does; returns the result and how many
    /// inflated bytes the decoder handed out.
    fn inflate_counted(gz: &[u8], limits: &Limits) -> (Result<Vec<u8>>, u64) {
        let mut reader = Counted {
            inner: flate2::read::MultiGzDecoder::new(gz),
            count: 0,
        };
        let out = inflate_single_file_image(&mut reader, limits);
        (out, reader.count)
    }

    #[test]
    fn a_compressed_image_in_memory_inflates_only_as_far_as_its_header_reaches() {
        let (mut h, mut plain) = uint8_image(ImageFormat::Nifti1, &[10, 10, 10]);
        let end = plain.len() as u64;
        let exact = gzip(&plain);
        // 16 MiB of zeros after the data (a bomb's tail) are never inflated.
        plain.resize(plain.len() + (16 << 20), 0);
        let (out, handed_out) = inflate_counted(&gzip(&plain), &Limits::default());
        assert_eq!(out.unwrap(), plain[..end as usize]);
        assert_eq!(handed_out, end + 1);

        // A stream that ends at the data's end is read to its trailer, so its CRC is checked.
        let (out, _) = inflate_counted(&exact, &Limits::default());
        assert_eq!(out.unwrap().len() as u64, end);
        let mut bad_crc = exact.clone();
        let at = bad_crc.len() - 8;
        bad_crc[at] ^= 1;
        let (out, _) = inflate_counted(&bad_crc, &Limits::default());
        assert_eq!(out.unwrap_err().kind(), ErrorKind::Format);

        // The caller's cap holds even where the header reaches further.
        let strict = Limits {
            max_inflated_bytes: 500,
            ..Limits::default()
        };
        let (out, handed_out) = inflate_counted(&exact, &strict);
        let e = out.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Limit);
        assert!(e.to_string().contains("max_inflated_bytes"), "{e}");
        assert!(handed_out <= 1024, "{handed_out}");

        // A header that declares more than the stream holds gets what it holds.
        h.set_data_shape(&[30_000, 30_000, 30_000]).unwrap();
        let mut claims = h.to_prefix_bytes().unwrap();
        claims.extend([1u8; 100]);
        let (out, _) = inflate_counted(&gzip(&claims), &Limits::default());
        assert_eq!(out.unwrap().len(), claims.len());
    }

    #[test]
    fn a_compressed_mgh_in_memory_inflates_its_data_footer_and_capped_tags() {
        let (_, mut bytes) = uint8_image(ImageFormat::Mgh, &[16, 16, 16]);
        let tags_start = bytes.len() as u64;
        bytes.extend(std::iter::repeat_n(7u8, 10_000));
        let strict = Limits {
            max_mgh_tag_bytes: 100,
            ..Limits::default()
        };
        let (out, handed_out) = inflate_counted(&gzip(&bytes), &strict);
        assert_eq!(out.unwrap().len() as u64, tags_start + 100);
        assert_eq!(handed_out, tags_start + 101);
        let (out, _) = inflate_counted(&gzip(&bytes), &Limits::default());
        assert_eq!(out.unwrap(), bytes);
    }

    #[test]
    fn pair_siblings_follow_nibabels_case_rules() {
        let pairs = [
            ("a.hdr", "a.hdr", "a.img"),
            ("a.img", "a.hdr", "a.img"),
            ("A.IMG", "A.HDR", "A.IMG"),
            ("a.Img", "a.hdr", "a.Img"),
            ("d/a.img.bz2", "d/a.hdr.bz2", "d/a.img.bz2"),
            ("a.nii.gz", "a.nii.gz", "a.nii.gz"),
        ];
        for (given, hdr, img) in pairs {
            let (h, i) = header_and_image_paths(Path::new(given));
            assert_eq!(
                (h.to_str().unwrap(), i.to_str().unwrap()),
                (hdr, img),
                "{given}"
            );
        }
    }

    #[test]
    fn split_name_handles_dots_in_directories() {
        assert_eq!(
            split_name("my.dir/scan"),
            ("my.dir/scan".into(), String::new(), String::new())
        );
        assert_eq!(
            split_name("x.NII.GZ"),
            ("x".into(), ".NII".into(), ".GZ".into())
        );
    }

    fn write_nifti(dir: &Path, name: &str, shape: &[usize], data_len: usize) -> PathBuf {
        let mut h = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
        h.set_data_shape(shape).unwrap();
        h.set_data_dtype(DataType::UInt8).unwrap();
        let mut bytes = h.to_prefix_bytes().unwrap();
        bytes.resize(bytes.len() + data_len, 7);
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn reads_header_and_detects_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_nifti(dir.path(), "ok.nii", &[2, 3, 4], 24);
        let info = read_header(&p).unwrap();
        assert_eq!(
            (info.format, info.compression),
            (ImageFormat::Nifti1, Compression::None)
        );
        // Same bytes without an extension: sniffed.
        let bare = dir.path().join("noext");
        std::fs::copy(&p, &bare).unwrap();
        assert_eq!(read_header(&bare).unwrap().format, ImageFormat::Nifti1);
    }

    #[test]
    fn every_compression_is_recognised_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let plain = std::fs::read(write_nifti(dir.path(), "p.nii", &[2, 3, 4], 24)).unwrap();
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut e, &plain).unwrap();
            e.finish().unwrap()
        };
        let bz2 = {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            std::io::Write::write_all(&mut e, &plain).unwrap();
            e.finish().unwrap()
        };
        let zst = zstd::encode_all(&plain[..], 3).unwrap();
        for (name, bytes, want) in [
            ("a.nii.gz", gz.clone(), Compression::Gzip),
            ("b.nii.bz2", bz2, Compression::Bzip2),
            ("c.nii.zst", zst, Compression::Zstd),
            ("d.nii", gz, Compression::Gzip),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let info = read_header(&p).unwrap();
            assert_eq!(
                (info.format, info.compression),
                (ImageFormat::Nifti1, want),
                "{name}"
            );
            assert_eq!(info.header.data_shape().unwrap(), vec![2, 3, 4]);
        }
    }

    #[test]
    fn data_past_the_end_is_a_limit_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_nifti(dir.path(), "short.nii", &[2, 3, 4], 10);
        let e = read_header(&p).unwrap_err();
        assert_eq!((e.kind(), e.field_name()), (ErrorKind::Limit, Some("dim")));
        assert!(e.to_string().contains("short.nii"), "{e}");

        let mut bytes = std::fs::read(&p).unwrap();
        bytes[108..112].copy_from_slice(&1.0e9f32.to_le_bytes());
        std::fs::write(&p, &bytes).unwrap();
        let e = read_header(&p).unwrap_err();
        assert_eq!(
            (e.kind(), e.field_name()),
            (ErrorKind::Limit, Some("vox_offset"))
        );
    }

    #[test]
    fn empty_and_unknown_files_are_format_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("e.nii");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(read_header(&empty).unwrap_err().message(), "Empty file");
        let junk = dir.path().join("j.nii");
        std::fs::write(&junk, vec![1u8; 600]).unwrap();
        let e = read_header(&junk).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Format);
        assert!(e.to_string().contains("j.nii"));
        let truncated = dir.path().join("t.nii");
        std::fs::write(
            &truncated,
            &Header::new(ImageFormat::Nifti1, ByteOrder::Little)
                .to_prefix_bytes()
                .unwrap()[..200],
        )
        .unwrap();
        assert_eq!(
            read_header(&truncated).unwrap_err().kind(),
            ErrorKind::Format
        );
    }
}
