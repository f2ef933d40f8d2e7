//! Opening a file and undoing its compression, recognised by content (magic bytes), never by
//! name alone: a `.nii.gz` that is really plain is read as plain, and a `.nii` that is really
//! gzip is decompressed.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// The compression wrapped around a file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Plain bytes.
    None,
    /// gzip (`1f 8b`), possibly several members.
    Gzip,
    /// bzip2 (`BZh`).
    Bzip2,
    /// Zstandard (`28 b5 2f fd`).
    Zstd,
}

impl Compression {
    /// The usual file-name suffix (`.gz`), empty for plain files.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Bzip2 => ".bz2",
            Compression::Zstd => ".zst",
        }
    }

    /// The compression a file-name suffix names (case-insensitive), if any.
    pub fn from_suffix(suffix: &str) -> Option<Compression> {
        match suffix.to_ascii_lowercase().as_str() {
            ".gz" => Some(Compression::Gzip),
            ".bz2" => Some(Compression::Bzip2),
            ".zst" => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// A short name for messages.
    pub fn label(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Zstd => "zstd",
        }
    }
}

/// Recognises the compression from the first bytes of a file.
///
/// ```
/// use neurovox::io::{detect_compression, Compression};
/// assert_eq!(detect_compression(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
/// assert_eq!(detect_compression(b"BZh91AY"), Compression::Bzip2);
/// assert_eq!(detect_compression(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
/// assert_eq!(detect_compression(&[0x5c, 0x01, 0, 0]), Compression::None);
/// ```
pub fn detect_compression(start: &[u8]) -> Compression {
    match start {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [b'B', b'Z', b'h', ..] => Compression::Bzip2,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
        _ => Compression::None,
    }
}

/// Whether `text` is a URL neurovox reads remotely with the `remote` feature (`http://`, `https://`, `s3://`), rather than a
/// path.
///
/// ```
/// assert!(neurovox::io::is_url("https://example.org/sub-01_T1w.nii.gz"));
/// assert!(neurovox::io::is_url("s3://openneuro.org/ds000001/sub-01/anat/sub-01_T1w.nii.gz"));
/// assert!(!neurovox::io::is_url("/data/sub-01_T1w.nii.gz"));
/// ```
pub fn is_url(text: &str) -> bool {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("s3://")
}

/// Wraps a byte stream in the decoder its first bytes call for (none for plain bytes).
pub fn decompressing_reader<R: Read + Send + 'static>(
    mut inner: R,
) -> Result<Box<dyn Read + Send>> {
    let mut magic = [0u8; 4];
    let n = read_fully(&mut inner, &mut magic)?;
    let stream = std::io::Cursor::new(magic[..n].to_vec()).chain(inner);
    Ok(match detect_compression(&magic[..n]) {
        Compression::None => Box::new(stream),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(stream))),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(BufReader::new(stream))),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(stream)?),
    })
}

/// Opens `path` for reading if it is a regular file. Anything else (a FIFO, a device, a
/// directory) is a Format error naming it (Python: `ImageFileError`), given without waiting: the file is opened
/// non-blocking (no effect on regular files, and a FIFO with no writer would otherwise
/// block the open itself forever) and examined through the open descriptor.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let e = neurovox::io::open_regular(dir.path()).unwrap_err();
/// assert!(e.to_string().contains("not a regular file"), "{e}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open_regular(path: &Path) -> Result<File> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| Error::io(e).with_path(path))?;
    let kind = file
        .metadata()
        .map_err(|e| Error::io(e).with_path(path))?
        .file_type();
    if kind.is_file() {
        return Ok(file);
    }
    let what = if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "neither a file nor a directory"
    };
    Err(Error::format(format!(
        "is not a regular file but {what}; neurovox reads images only from regular files"
    ))
    .with_path(path))
}

/// Opens `path` and returns its decompressed byte stream with the compression found.
/// Failures name the file.
pub fn open_decompressed(path: &Path) -> Result<(Compression, Box<dyn Read + Send>)> {
    open_decompressed_identified(path).map(|(compression, reader, _)| (compression, reader))
}

/// As [`open_decompressed`], with the identity (device and inode) of the file opened: the
/// file the bytes really come from, whatever the path names a moment later.
pub fn open_decompressed_identified(
    path: &Path,
) -> Result<(
    Compression,
    Box<dyn Read + Send>,
    super::file_identity::FileIdentity,
)> {
    let mut file = open_regular(path)?;
    let identity = super::file_identity::FileIdentity::of_file(&file, path)?;
    let mut magic = [0u8; 4];
    let n = read_fully(&mut file, &mut magic).map_err(|e| e.with_path(path))?;
    let compression = detect_compression(&magic[..n]);
    // Put the magic back in front of the rest of the file.
    let stream = std::io::Cursor::new(magic[..n].to_vec()).chain(file);
    let reader: Box<dyn Read + Send> = match compression {
        Compression::None => Box::new(stream),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(stream))),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(BufReader::new(stream))),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(stream).map_err(|e| Error::io(e).with_path(path))?,
        ),
    };
    Ok((compression, reader, identity))
}

/// Reads until `buf` is full or the stream ends; returns the number of bytes read.
pub fn read_fully(reader: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(decompression_error(e)),
        }
    }
    Ok(filled)
}

/// Appends up to `limit` more bytes of the stream to `out`. Memory grows with the bytes that
/// really arrive, never with `limit`, so a header value used as `limit` cannot force a large
/// allocation.
pub fn read_up_to(reader: &mut dyn Read, limit: u64, out: &mut Vec<u8>) -> Result<usize> {
    reader
        .take(limit)
        .read_to_end(out)
        .map_err(decompression_error)
}

/// Skips `count` bytes of a stream, returning how many were really there.
pub fn skip(reader: &mut dyn Read, count: u64) -> Result<u64> {
    std::io::copy(&mut reader.take(count), &mut std::io::sink()).map_err(decompression_error)
}

/// A decoder's complaint about corrupt input is a Format error, not an I/O failure.
fn decompression_error(e: std::io::Error) -> Error {
    // A source read as a stream (a remote object) carries its own error through the stream.
    let e = match Error::carried_by(e) {
        Ok(carried) => return carried,
        Err(e) => e,
    };
    match e.kind() {
        std::io::ErrorKind::InvalidInput
        | std::io::ErrorKind::InvalidData
        | std::io::ErrorKind::UnexpectedEof => {
            Error::format(format!("corrupt compressed stream: {e}"))
        }
        _ => Error::io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn decompresses_by_content_whatever_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let payload: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let gz_named_plain = dir.path().join("a.nii");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&payload).unwrap();
        std::fs::write(&gz_named_plain, enc.finish().unwrap()).unwrap();
        let (c, mut r) = open_decompressed(&gz_named_plain).unwrap();
        assert_eq!(c, Compression::Gzip);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, payload);

        let plain_named_gz = dir.path().join("b.nii.gz");
        std::fs::write(&plain_named_gz, &payload).unwrap();
        let (c, mut r) = open_decompressed(&plain_named_gz).unwrap();
        assert_eq!(c, Compression::None);
        let mut out = Vec::new();
        assert_eq!(read_up_to(&mut r, 10, &mut out).unwrap(), 10);
        assert_eq!(skip(&mut r, 1_000_000).unwrap(), 4990);
    }

    #[test]
    fn corrupt_gzip_is_a_format_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.nii.gz");
        std::fs::write(&p, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0xde, 0xad]).unwrap();
        let (_, mut r) = open_decompressed(&p).unwrap();
        let mut buf = [0u8; 16];
        let e = read_fully(&mut r, &mut buf).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Format);
    }

    #[test]
    fn missing_file_names_the_path() {
        let e = open_decompressed(Path::new("/nonexistent/x.nii"))
            .err()
            .unwrap();
        assert_eq!(e.kind(), crate::ErrorKind::Io);
        assert!(e.to_string().contains("/nonexistent/x.nii"));
    }
}
