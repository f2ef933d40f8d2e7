//! Loading an image from a URL (`http://`, `https://`, `s3://`; the `remote` feature):
//! [`load`](crate::load) of a URL lands here.
//!
//! A URL load reads as a local load does — the same header readers, the same proxy — through
//! one load's remote [`Opener`]: each object (a single file, or a pair's `.hdr` and `.img`,
//! an SPM `.mat`, an AFNI `.BRIK`) is opened once, by a first request that holds the start of
//! the object, and then read in the ranges a read needs through a block cache (a gzip object
//! through its checkpoint index, or a neurovox-written one through its member index). Every
//! format and compression neurovox reads from a file is read from a URL.
//!
//! A loaded remote image has no files (`file_map` is empty: nothing local to save over or
//! fingerprint); each object's first answer is its fingerprint, and a read after the object
//! was replaced is a Stale error ([`RemoteObject`](crate::io::RemoteObject)).

use crate::error::Result;
use crate::format::{Affine, Header, ImageFormat};
use crate::image::file_map::{header_and_image_paths_with, read_header_in};
use crate::image::proxy::{ArrayProxy, ArraySpec, ProxyOptions};
use crate::io::opener::Opener;
use std::path::Path;

/// What a load of a URL found: the header, its affine, and a proxy over the object's data
/// (`Image::load_as` makes the image of them).
pub(crate) struct UrlImage {
    pub header: Header,
    pub affine: Affine,
    pub proxy: ArrayProxy,
}

/// Reads the header of the image at the URL `url` (by `opener`, a remote one) and nothing
/// else: its data is read when asked for.
pub(crate) fn load_url(
    opener: &Opener,
    url: &Path,
    format: Option<ImageFormat>,
    options: &ProxyOptions,
) -> Result<UrlImage> {
    let (header_url, image_url) = header_and_image_paths_with(url, &|p| opener.exists(p));
    let info = read_header_in(opener, &header_url, &image_url, format, options)?;
    let spec = ArraySpec::from_header(&info.header).map_err(|e| e.with_path(&header_url))?;
    let proxy = ArrayProxy::open_in(opener, &image_url, spec, *options)?;
    let affine = if matches!(info.format, ImageFormat::Spm99 | ImageFormat::Spm2) {
        crate::image::file_map::spm_affine(
            opener,
            &info.header,
            &image_url,
            options.limits.max_mat_bytes,
        )?
    } else {
        info.header
            .best_affine()
            .map_err(|e| e.with_path(&header_url))?
    };
    Ok(UrlImage {
        header: info.header,
        affine,
        proxy,
    })
}
