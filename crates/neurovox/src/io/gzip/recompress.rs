//! Rewriting a gzip file another tool wrote as neurovox's own indexed gzip: independent
//! ~1 MiB members with a member index (docs/formats.md), so that every later read of any
//! part is direct and whole reads inflate on every core, with no index file to keep.
//!
//! The decompressed bytes are kept exactly (header, extensions, data, anything after):
//! the file is streamed through flate2's multi-member decoder, which checks every member's
//! CRC32 and ISIZE, so a damaged file is refused before anything replaces it, and the new
//! file is written beside the old, synced and renamed over it (`atomic`). Any gzip reader
//! reads the result as one stream.
//!
//! # Example
//!
//! ```
//! use neurovox::io::gzip::recompress;
//! use neurovox::io::{GzipSource, Source};
//! use std::io::Write;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("scan.nii.gz");
//! let data: Vec<u8> = (0..3_000_000u32).map(|i| (i / 9 % 200) as u8).collect();
//! let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&path)?, Default::default());
//! gz.write_all(&data)?;
//! gz.finish()?;
//!
//! let report = recompress::recompress_file(&path, None)?;
//! assert_eq!(report.decompressed, 3_000_000);
//! let source = GzipSource::open(&path)?;
//! assert!(source.member_index().is_some()); // read in parallel, no first pass
//! let mut all = vec![0u8; data.len()];
//! source.read_at(0, &mut all)?;
//! assert_eq!(all, data);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::writer::{GzWriteOptions, ParallelGzWriter};
use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// What [`recompress_file`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecompressReport {
    /// The file's size before.
    pub before: u64,
    /// Its size after (equal to `before` when it was already neurovox's).
    pub after: u64,
    /// Decompressed bytes (all of them kept).
    pub decompressed: u64,
    /// False when the file already was neurovox's indexed gzip and was left alone.
    pub rewritten: bool,
}

/// Rewrites the gzip file at `path` as neurovox's indexed gzip at `level` (libdeflate's
/// 0-12; `None` for the default), atomically; a file that already has neurovox's member
/// index is left as it is. A damaged or truncated file is a Format error naming it, and the
/// file is untouched. A sidecar index (`.nvgzidx`) of the old file is removed: it no longer
/// applies.
pub fn recompress_file(path: &Path, level: Option<u32>) -> Result<RecompressReport> {
    let before = std::fs::metadata(path)
        .map_err(|e| Error::io(e).with_path(path))?
        .len();
    let source = super::reader::GzipSource::open(path)?;
    if source.member_index().is_some() {
        return Ok(RecompressReport {
            before,
            after: before,
            decompressed: crate::io::source::Source::len(&source)?,
            rewritten: false,
        });
    }
    drop(source);
    let mut options = GzWriteOptions::new();
    if let Some(level) = level {
        if level > 12 {
            return Err(Error::usage(format!(
                "compression level {level} is outside 0-12 for gzip"
            ))
            .with_path(path));
        }
        options = options.level(level);
    }
    let input = crate::io::open::open_regular(path)?;
    let mut decoder =
        flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(1 << 20, input));
    let mut decompressed = 0u64;
    crate::io::atomic::write_atomically(path, |out| {
        let mut gz = ParallelGzWriter::with_options(out, options)?;
        let mut buf = vec![0u8; 4 << 20];
        loop {
            let n = match decoder.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::format(format!(
                        "cannot recompress: the gzip stream is damaged or truncated \
                         after {decompressed} decompressed bytes ({e})"
                    )));
                }
            };
            std::io::Write::write_all(&mut gz, &buf[..n]).map_err(Error::io)?;
            decompressed += n as u64;
        }
        gz.finish().map_err(Error::io)?;
        Ok(())
    })
    .map_err(|e| e.with_path(path))?;
    let sidecar = super::index_file::sidecar_path(path);
    if sidecar.exists() {
        std::fs::remove_file(&sidecar).map_err(|e| Error::io(e).with_path(&sidecar))?;
    }
    let after = std::fs::metadata(path)
        .map_err(|e| Error::io(e).with_path(path))?
        .len();
    Ok(RecompressReport {
        before,
        after,
        decompressed,
        rewritten: true,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;

    #[test]
    fn a_damaged_file_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.nii.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        gz.write_all(&vec![7u8; 500_000]).unwrap();
        let mut bytes = gz.finish().unwrap();
        let n = bytes.len();
        bytes[n - 7] ^= 1; // the CRC32
        std::fs::write(&path, &bytes).unwrap();
        let e = recompress_file(&path, None).unwrap_err();
        assert!(e.to_string().contains("bad.nii.gz"), "{e}");
        assert!(e.to_string().contains("damaged"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(recompress_file(&path, Some(13)).is_err());
    }
}
