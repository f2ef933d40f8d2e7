//! A random-access [`Source`] over a file, whatever its compression (recognised by content):
//! the one way a proxy's data file, an ECAT7 file's scattered header blocks or any other
//! positioned read of a path is opened.

use crate::error::Result;
use crate::io::gzip::reader::GzipSource;
use crate::io::open::{Compression, detect_compression, open_regular, read_fully};
use crate::io::source::{FileSource, MmapSource, Source, StreamSource};
use std::path::Path;
use std::sync::Arc;

/// The compression of the file at `path`, from its first bytes (a file shorter than a magic
/// number is plain).
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("x.gz");
/// std::fs::write(&path, [0x1f, 0x8b, 8, 0])?;
/// assert_eq!(neurovox::io::file_compression(&path)?, neurovox::io::Compression::Gzip);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn file_compression(path: &Path) -> Result<Compression> {
    let mut file = open_regular(path)?;
    let mut magic = [0u8; 4];
    let n = read_fully(&mut file, &mut magic).map_err(|e| e.with_path(path))?;
    Ok(detect_compression(&magic[..n]))
}

/// How [`random_access_source`] reads a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SourceOptions {
    /// Keep one file handle open for the source's life (a gzip file: also between reads)
    /// instead of opening the file for each read.
    pub keep_open: bool,
    /// Serve reads of a plain file from one memory map of it.
    pub map: bool,
}

/// A source of the decompressed bytes of the file at `path`, whose compression is
/// `compression`: positioned reads of a plain file (or of its memory map), the checkpoint
/// index of a gzip file, a forward stream for bzip2 and zstd.
///
/// ```
/// use neurovox::io::{random_access_source, Compression, Source, SourceOptions};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("plain.bin");
/// std::fs::write(&path, [1u8, 2, 3, 4])?;
/// let source = random_access_source(&path, Compression::None, SourceOptions::default())?;
/// let mut two = [0u8; 2];
/// source.read_at(1, &mut two)?;
/// assert_eq!(two, [2, 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn random_access_source(
    path: &Path,
    compression: Compression,
    options: SourceOptions,
) -> Result<Arc<dyn Source>> {
    Ok(match compression {
        Compression::None if options.map => Arc::new(if options.keep_open {
            MmapSource::keeping_open(path)
        } else {
            MmapSource::new(path)
        }),
        Compression::None => Arc::new(FileSource::open(path, options.keep_open)?),
        Compression::Gzip => {
            let source = GzipSource::open(path)?;
            Arc::new(if options.keep_open {
                source
            } else {
                source.closing_between_reads()
            })
        }
        Compression::Bzip2 | Compression::Zstd => Arc::new(StreamSource::new(path)),
    })
}
