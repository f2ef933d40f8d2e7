//! Where a load's files come from: an [`Opener`] opens a name — a local path or, with the
//! `remote` feature, an object at an `http(s)://` or `s3://` URL — as a stream of its
//! decompressed bytes or as a random-access [`Source`], so the loaders above read every
//! format, pair and sidecar the same way from a disk and from a server.
//!
//! A remote opener is one load's session: the header, the data and the sidecars of one object
//! share its first request, its block cache and (for gzip) its checkpoint index, and each
//! object is opened once however many readers ask for it.

use crate::error::Result;
use crate::io::file_identity::FileIdentity;
use crate::io::open::{Compression, open_decompressed_identified};
use crate::io::random_access::{SourceOptions, file_compression, random_access_source};
use crate::io::source::Source;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// A decompressed byte stream, its compression, and which local file it is (none for URLs).
pub(crate) type OpenedStream = (Compression, Box<dyn Read + Send>, Option<FileIdentity>);

/// Opens the files of one load (the module docs say why).
#[derive(Debug)]
pub(crate) enum Opener {
    /// Paths on this machine's filesystems.
    Local,
    /// Objects at URLs, opened once each for this load.
    #[cfg(feature = "remote")]
    Remote(crate::io::remote::RemoteSession),
}

impl Opener {
    /// The opener for a load of `name`: remote for a URL, local otherwise. A URL in a build
    /// without the `remote` feature is an Unsupported error.
    pub(crate) fn for_name(name: &Path) -> Result<Opener> {
        let Some(url) = name.to_str().filter(|s| crate::io::open::is_url(s)) else {
            return Ok(Opener::Local);
        };
        #[cfg(feature = "remote")]
        {
            let _ = url;
            Ok(Opener::Remote(crate::io::remote::RemoteSession::new(
                crate::io::RemoteOptions::from_env(),
            )))
        }
        #[cfg(not(feature = "remote"))]
        Err(crate::error::Error::unsupported(format!(
            "{url} is a URL, and this build of neurovox reads no URLs (the `remote` feature)"
        )))
    }

    /// Whether names are URLs.
    pub(crate) fn is_remote(&self) -> bool {
        !matches!(self, Opener::Local)
    }

    /// Whether `name` exists. For a URL this opens the object; an object the server refuses
    /// to show (403, as S3 answers for a missing key of a bucket that cannot be listed) counts
    /// as absent, so an optional sidecar never fails a load.
    pub(crate) fn exists(&self, name: &Path) -> bool {
        match self {
            Opener::Local => name.exists(),
            #[cfg(feature = "remote")]
            Opener::Remote(session) => session.exists(name),
        }
    }

    /// The length of the (compressed) file, if it can be opened: a missing file is reported
    /// when its data is read.
    pub(crate) fn raw_len(&self, name: &Path) -> Option<u64> {
        match self {
            Opener::Local => std::fs::metadata(name).ok().map(|m| m.len()),
            #[cfg(feature = "remote")]
            Opener::Remote(session) => session.raw(name).ok().and_then(|s| s.len().ok()),
        }
    }

    /// The compression of `name`, recognised by its first bytes.
    pub(crate) fn compression(&self, name: &Path) -> Result<Compression> {
        match self {
            Opener::Local => file_compression(name),
            #[cfg(feature = "remote")]
            Opener::Remote(session) => session.compression(name),
        }
    }

    /// The decompressed bytes of `name` as a stream from its start.
    pub(crate) fn decompressed(&self, name: &Path) -> Result<OpenedStream> {
        match self {
            Opener::Local => open_decompressed_identified(name)
                .map(|(compression, reader, identity)| (compression, reader, Some(identity))),
            #[cfg(feature = "remote")]
            Opener::Remote(session) => session
                .decompressed(name)
                .map(|(compression, reader)| (compression, reader, None)),
        }
    }

    /// The decompressed bytes of `name` (whose compression is `compression`) at random. For a
    /// URL the options do not apply: there is no file to keep open or map.
    pub(crate) fn random_access(
        &self,
        name: &Path,
        compression: Compression,
        options: SourceOptions,
    ) -> Result<Arc<dyn Source>> {
        match self {
            Opener::Local => random_access_source(name, compression, options),
            #[cfg(feature = "remote")]
            Opener::Remote(session) => {
                let _ = options;
                session.random_access(name, compression)
            }
        }
    }
}

/// The gzip source of the file or URL `name`, to build its index with a pass over it
/// (`neurovox index`): a local file's source looks for index files as
/// [`GzipSource::open`](crate::io::GzipSource::open) does; a URL's source reads the object
/// with range requests and looks for no index.
///
/// ```
/// use neurovox::io::{open_gzip, Source};
/// use std::io::Write;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("x.gz");
/// let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
/// gz.write_all(&[5u8; 1000])?;
/// std::fs::write(&path, gz.finish()?)?;
/// assert_eq!(open_gzip(&path)?.len()?, 1000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open_gzip(name: &Path) -> Result<crate::io::GzipSource> {
    match Opener::for_name(name)? {
        Opener::Local => crate::io::GzipSource::open(name),
        #[cfg(feature = "remote")]
        Opener::Remote(session) => {
            let raw: Arc<dyn Source> = session.raw(name)?;
            crate::io::GzipSource::over_source(raw, name)
        }
    }
}
