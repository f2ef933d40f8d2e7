//! Loading an image from a URL (the `remote` feature): [`load`](crate::load) of an
//! `http://`, `https://` or `s3://` URL lands here.
//!
//! The object is read through [`RemoteSource`] (a `.nii.gz` through a
//! [`GzipSource`] over it): the header costs the first request (64 KiB of the object, which
//! holds any NIfTI header and its usual extensions), the data only the ranges a read needs.
//! This version reads single-file NIfTI-1 and NIfTI-2, plain or gzip; other formats and
//! `.hdr`/`.img` pairs at URLs are Unsupported errors that say so.
//!
//! A loaded remote image has no files (`file_map` is empty: nothing local to save over or
//! fingerprint); a read after the object was replaced is a Stale error
//! ([`RemoteObject`](crate::io::RemoteObject)).

use crate::error::{Error, Result};
use crate::format::{Header, ImageFormat};
use crate::image::file_map::{detect_format, extension_kind, header_block_only, split_name};
use crate::image::proxy::{ArrayProxy, ArraySpec, ProxyOptions};
use crate::io::open::{Compression, detect_compression};
use crate::io::{GzipSource, RemoteOptions, RemoteSource, Source};
use std::path::Path;
use std::sync::Arc;

/// What a load of a URL found: the header, its affine, and a proxy over the object's data
/// (`Image::load_as` makes the image of them).
pub(crate) struct UrlImage {
    pub header: Header,
    pub affine: crate::format::Affine,
    pub proxy: ArrayProxy,
}

/// Reads the header of the image at `url` and nothing else.
pub(crate) fn load_url(
    url: &str,
    format: Option<ImageFormat>,
    options: &ProxyOptions,
) -> Result<UrlImage> {
    let name = Path::new(url);
    let raw = Arc::new(RemoteSource::open(url, RemoteOptions::from_env())?);
    let file_len = raw.len()?;
    if file_len == 0 {
        return Err(Error::format("Empty file").with_path(name));
    }
    let mut magic = [0u8; 4];
    let n = magic.len().min(file_len as usize);
    raw.read_at(0, &mut magic[..n])?;
    let source: Arc<dyn Source> = match detect_compression(&magic[..n]) {
        Compression::None => raw,
        Compression::Gzip => Arc::new(GzipSource::over_source(raw, name)?),
        other => {
            return Err(Error::unsupported(format!(
                "{} compression is not read from URLs yet (gzip and plain are)",
                other.label()
            ))
            .with_path(name));
        }
    };
    let (header, format) =
        read_header(source.as_ref(), url, format, options).map_err(|e| e.with_path(name))?;
    let spec = ArraySpec::from_header(&header).map_err(|e| e.with_path(name))?;
    let end = header
        .data_offset()
        .checked_add(header.data_nbytes().map_err(|e| e.with_path(name))?);
    if end.is_none_or(|end| !source.may_hold(end)) {
        return Err(Error::limit(format!(
            "the header puts the data past the end of the object ({} bytes)",
            file_len
        ))
        .with_path(name));
    }
    if let Some(end) = end {
        source.expect_data_end(end);
    }
    let affine = header.best_affine().map_err(|e| e.with_path(name))?;
    debug_assert!(matches!(format, ImageFormat::Nifti1 | ImageFormat::Nifti2));
    Ok(UrlImage {
        header,
        affine,
        proxy: ArrayProxy::from_source(source, spec),
    })
}

/// The header of the single-file NIfTI image `source` holds (as `format`, if given): its
/// fixed block, then its extensions up to `vox_offset` (bounded by the load's limits).
fn read_header(
    source: &dyn Source,
    url: &str,
    format: Option<ImageFormat>,
    options: &ProxyOptions,
) -> Result<(Header, ImageFormat)> {
    // sizeof_hdr is 348 or 540, in either byte order: read the larger when it is there.
    let mut block = vec![0u8; 540];
    if source.read_at(0, &mut block).is_err() {
        block.truncate(348);
        source.read_at(0, &mut block)?;
    }
    let (_, ext, _) = split_name(url.split(['?', '#']).next().unwrap_or(url));
    let detected = detect_format(&block, extension_kind(&ext));
    let format = format.or(detected).ok_or_else(|| {
        Error::format("the object is not an image neurovox recognises by its content")
    })?;
    if !matches!(format, ImageFormat::Nifti1 | ImageFormat::Nifti2) {
        return Err(Error::unsupported(format!(
            "{format} images are not read from URLs yet (single-file NIfTI-1 and NIfTI-2 are)"
        )));
    }
    let block = header_block_only(&block, format);
    let size = block.len();
    let fixed = Header::parse(format, &block)?;
    let offset = fixed.data_offset();
    let max = options.limits.max_header_bytes;
    if offset > max {
        return Err(Error::limit(format!(
            "vox_offset {offset} puts over {max} bytes of extensions before the data \
             (Limits::max_header_bytes)"
        ))
        .field("vox_offset"));
    }
    let want = usize::try_from(offset).unwrap_or(usize::MAX).max(size);
    if want == size || !source.may_hold(offset) {
        return Ok((fixed, format));
    }
    // The extensions, 64 KiB at a time: what is held grows with what the object really
    // gives, never by vox_offset alone.
    let mut bytes = block;
    while bytes.len() < want {
        let at = bytes.len();
        bytes.resize(at + (want - at).min(64 << 10), 0);
        source.read_at(at as u64, &mut bytes[at..])?;
    }
    Ok((Header::parse(format, &bytes)?, format))
}
