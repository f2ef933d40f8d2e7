//! [`RemoteSession`]: the objects one load reads, each opened once.

use super::object::RemoteOptions;
use super::source::RemoteSource;
use crate::error::{Error, Result};
use crate::io::gzip::reader::GzipSource;
use crate::io::open::{Compression, decompressing_reader, detect_compression};
use crate::io::source::{LazySource, Source, SourceReader, StreamSource};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The objects of one load, by URL: the header of a `.hdr`/`.img` pair, its data, an SPM
/// `.mat`, each opened (one request) once and then shared by every reader of the load, with
/// the random-access source over each (a gzip object's index is built once).
#[derive(Debug)]
pub(crate) struct RemoteSession {
    options: RemoteOptions,
    raw: Mutex<HashMap<String, Arc<RemoteSource>>>,
    decompressed: Mutex<HashMap<String, Arc<dyn Source>>>,
}

impl RemoteSession {
    pub(crate) fn new(options: RemoteOptions) -> Self {
        RemoteSession {
            options,
            raw: Mutex::new(HashMap::new()),
            decompressed: Mutex::new(HashMap::new()),
        }
    }

    /// The object at `name`, opened by its first request the first time it is asked for.
    pub(crate) fn raw(&self, name: &Path) -> Result<Arc<RemoteSource>> {
        let url = url_of(name)?;
        if let Some(found) = lock(&self.raw).get(url) {
            return Ok(found.clone());
        }
        // Opened outside the lock: a request may take seconds, and other objects need not wait.
        let options = self.options.clone();
        let opened = Arc::new(if named_as_gzip(url) {
            // Its trailer and member index are at its end: asked for beside the first bytes.
            RemoteSource::open_with_tail(url, options)?
        } else {
            RemoteSource::open(url, options)?
        });
        Ok(lock(&self.raw)
            .entry(url.to_owned())
            .or_insert(opened)
            .clone())
    }

    /// Whether the object exists: a 404, or a 403 (S3's answer for a missing key in a bucket
    /// that cannot be listed), counts as absent; any other failure as present, so that opening
    /// it reports the failure.
    pub(crate) fn exists(&self, name: &Path) -> bool {
        match self.raw(name) {
            Ok(_) => true,
            Err(e) => !matches!(
                e.io_error_kind(),
                Some(std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied)
            ),
        }
    }

    /// The compression of the object, from its first bytes (in hand from the first request).
    pub(crate) fn compression(&self, name: &Path) -> Result<Compression> {
        let raw = self.raw(name)?;
        let mut magic = [0u8; 4];
        let n = magic
            .len()
            .min(usize::try_from(raw.len()?).unwrap_or(usize::MAX));
        raw.read_at(0, &mut magic[..n])?;
        Ok(detect_compression(&magic[..n]))
    }

    /// The object's decompressed bytes as a stream from the start, and its compression.
    pub(crate) fn decompressed(&self, name: &Path) -> Result<(Compression, Box<dyn Read + Send>)> {
        let compression = self.compression(name)?;
        let raw: Arc<dyn Source> = self.raw(name)?;
        let reader =
            decompressing_reader(SourceReader::new(raw)?).map_err(|e| e.with_path(name))?;
        Ok((compression, reader))
    }

    /// The object's decompressed bytes at random: the object itself when plain, its gzip
    /// index over it when gzip, the whole stream decompressed once for bzip2 and zstd.
    pub(crate) fn random_access(
        &self,
        name: &Path,
        compression: Compression,
    ) -> Result<Arc<dyn Source>> {
        let url = url_of(name)?;
        if let Some(found) = lock(&self.decompressed).get(url) {
            return Ok(found.clone());
        }
        let raw: Arc<dyn Source> = self.raw(name)?;
        let source: Arc<dyn Source> = match compression {
            Compression::None => raw,
            Compression::Gzip => {
                // Made at the first read of data: a header-only load asks for no trailer, member
                // index or index sidecar (the header is streamed from the first request's bytes).
                let (options, url_owned, name_owned) =
                    (self.options.clone(), url.to_owned(), name.to_path_buf());
                let fingerprint = raw.remote_fingerprint();
                Arc::new(LazySource::new(name, fingerprint, move || {
                    let sidecar = || index_sidecar(&url_owned, &options);
                    let gzip = GzipSource::over_source_indexed(raw, &name_owned, &sidecar)?;
                    Ok(Arc::new(gzip) as Arc<dyn Source>)
                }))
            }
            Compression::Bzip2 | Compression::Zstd => {
                Arc::new(StreamSource::over_source(raw, name))
            }
        };
        Ok(lock(&self.decompressed)
            .entry(url.to_owned())
            .or_insert(source)
            .clone())
    }
}

/// The persisted gzip index next to the object at `url` (`URL.nvgzidx`, as `neurovox index`
/// names a local file's), if the server has one. Only a URL without a query has one: a
/// presigned URL's signature covers its own object alone.
fn index_sidecar(url: &str, options: &RemoteOptions) -> Option<Arc<dyn Source>> {
    if url.contains(['?', '#']) {
        return None;
    }
    let sidecar = crate::io::gzip::index_file::sidecar_path(Path::new(url));
    let source = RemoteSource::open(sidecar.to_str()?, options.clone()).ok()?;
    Some(Arc::new(source))
}

/// Whether the URL's path ends as a gzip file's name does (`.gz`, `.mgz`); the name only
/// decides what is fetched early, never how the bytes are read (that is the magic number's).
fn named_as_gzip(url: &str) -> bool {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    path.ends_with(".gz") || path.ends_with(".mgz")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The UTF-8 text of a name that must be a URL.
fn url_of(name: &Path) -> Result<&str> {
    name.to_str()
        .ok_or_else(|| Error::usage("a URL must be UTF-8 text").with_path(name))
}
