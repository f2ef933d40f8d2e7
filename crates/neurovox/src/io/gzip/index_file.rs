//! Checkpoint indexes of gzip files that outlive the process: the `.nvgzidx` file format,
//! the fingerprint that ties an index to the one file it was built from, and where loads look
//! for one.
//!
//! A foreign `.nii.gz` (one gzip member, as nibabel, FSL, ITK and dcm2niix write) can only be
//! read at random, or in parallel, from checkpoints that a first pass over the whole file
//! recorded ([`GzipSource`](super::GzipSource)). `neurovox index FILE` (or
//! [`GzipSource::write_index`](super::GzipSource::write_index)) stores those checkpoints, so
//! that every later process, thread or Dask worker that opens the file starts with the
//! complete index: one late volume inflates at most its span plus one checkpoint interval, and
//! a full read inflates all spans in parallel.
//!
//! # Where an index is looked for
//!
//! [`GzipSource::open`](super::GzipSource::open) looks, in order, for
//!
//! 1. a sidecar next to the file: `scan.nii.gz.nvgzidx` ([`sidecar_path`]);
//! 2. the cache directory, for read-only datasets ([`cache_path`]):
//!    `$NEUROVOX_GZIP_INDEX_DIR`, else `$XDG_CACHE_HOME/neurovox/gzip-index`, else
//!    `~/.cache/neurovox/gzip-index`, the file named by a hash of the gzip file's absolute path.
//!    `neurovox index --cache` writes there and then trims the directory to
//!    [`DEFAULT_CACHE_BYTES`] (or `$NEUROVOX_GZIP_INDEX_CACHE_MB`), oldest first.
//!
//! A `.nii.gz` at a URL looks for `URL.nvgzidx` next to the object, then in the cache
//! directory under a hash of its URL, at the first read of its data (a header-only load asks
//! for neither); `neurovox index URL [--cache]` writes either.
//!
//! `NEUROVOX_GZIP_INDEX=off` turns both lookups off. An index that cannot be used (another
//! file's, a stale one, a truncated or damaged one) is ignored, never trusted:
//! [`GzipSource::index_file_error`](super::GzipSource::index_file_error) says why, and reads
//! work as without it.
//!
//! # The fingerprint
//!
//! An index records the gzip file's length and XXH3-128 digests of its first and last 64 KiB.
//! The last bytes hold the last member's CRC32 of all its data, so a file rewritten with other
//! content almost surely changes the tail digest even at the same length. Neither the inode
//! nor the modification time is recorded: a dataset copied with its sidecars (`cp -r`,
//! `datalad get`) keeps its indexes. Checking costs two 64 KiB reads when a file is opened.
//!
//! # Format (version 1, little-endian)
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `NVGZIDX1` |
//! | 8 | checkpoint span (informative) |
//! | 8 + 16 + 16 | the fingerprint: file length, head digest, tail digest |
//! | 8 | decompressed length |
//! | 4 | number of checkpoints `n` |
//! | n × (8 + 8 + 4 + 1 + 4 + len) | per checkpoint: decompressed offset, compressed bit offset, raw window length (0: a member start, no window), 1 if the window is raw-deflate-compressed, stored length, stored bytes |
//! | 4 | CRC32 of everything before |
//!
//! Why a format of our own: the index must carry the fingerprint and compressed windows
//! (indexed_gzip's GZIDX has neither, and stores 32 KiB raw per point). [`gzidx`] reads and
//! writes GZIDX beside it, so indexes move both ways between neurovox and `indexed_gzip`
//! (`neurovox index FILE --from-gzidx IDX`, `--gzidx IDX`).
//!
//! # Example
//!
//! ```
//! use neurovox::io::gzip::index_file;
//! use neurovox::io::{GzipSource, Source};
//! use std::io::Write;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("run.nii.gz");
//! let data: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 26) as u8).collect();
//! let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&path)?, Default::default());
//! gz.write_all(&data)?;
//! gz.finish()?;
//!
//! GzipSource::open(&path)?.write_index(&index_file::sidecar_path(&path))?;
//! let later = GzipSource::open(&path)?; // finds the sidecar: no first pass
//! assert!(later.index_stats().complete);
//! let mut tail = vec![0u8; 1000];
//! later.read_at(2_999_000, &mut tail)?;
//! assert_eq!(tail, &data[2_999_000..]);
//! assert!(later.inflated_bytes() < 2 << 20); // one span, not the file
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The file name suffix of index files.
pub const SUFFIX: &str = ".nvgzidx";
/// The size the cache directory is trimmed to after `neurovox index --cache` writes to it.
pub const DEFAULT_CACHE_BYTES: u64 = 1 << 30;

const MAGIC: &[u8; 8] = b"NVGZIDX1";
/// Bytes of the file's head and tail the fingerprint digests.
const EDGE: u64 = 64 * 1024;
/// DEFLATE's window: no stored window is longer.
const WINDOW: u32 = 32 * 1024;
/// Header (without magic) and per-entry fixed sizes.
const HEADER_LEN: usize = 8 + 8 + 8 + 16 + 16 + 8 + 4;
const ENTRY_LEN: usize = 8 + 8 + 4 + 1 + 4;

/// What ties an index to the gzip file it was built from (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GzipFingerprint {
    /// The compressed file's length.
    pub len: u64,
    /// XXH3-128 of its first 64 KiB (all of it when shorter).
    pub head: u128,
    /// XXH3-128 of its last 64 KiB.
    pub tail: u128,
}

impl GzipFingerprint {
    /// Takes the fingerprint of an open file.
    pub fn of(file: &std::fs::File) -> std::io::Result<Self> {
        use std::os::unix::fs::FileExt;
        let len = file.metadata()?.len();
        Self::of_bytes(len, |at, buf| file.read_exact_at(buf, at))
    }

    /// Takes the fingerprint of `len` compressed bytes that `read_exact_at` reads (a remote
    /// object's, say): two reads of at most 64 KiB.
    ///
    /// ```
    /// use neurovox::io::gzip::index_file::GzipFingerprint;
    /// let bytes = vec![7u8; 200_000];
    /// let print = GzipFingerprint::of_bytes(200_000, |at, buf| {
    ///     buf.copy_from_slice(&bytes[at as usize..at as usize + buf.len()]);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// assert_eq!(print.len, 200_000);
    /// assert_eq!(print.head, print.tail); // both edges are 64 KiB of 7s
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn of_bytes<E>(
        len: u64,
        mut read_exact_at: impl FnMut(u64, &mut [u8]) -> std::result::Result<(), E>,
    ) -> std::result::Result<Self, E> {
        let mut edge = |at: u64| -> std::result::Result<u128, E> {
            let mut buf = vec![0u8; EDGE.min(len) as usize];
            read_exact_at(at, &mut buf)?;
            Ok(xxhash_rust::xxh3::xxh3_128(&buf))
        };
        Ok(GzipFingerprint {
            len,
            head: edge(0)?,
            tail: edge(len - EDGE.min(len))?,
        })
    }
}

/// One checkpoint as stored: where a read can start inflating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Decompressed offset.
    pub out: u64,
    /// Compressed offset, in bits, of the next deflate block (or member's data).
    pub bit: u64,
    /// The window before `out`: raw length, whether `bytes` are raw-deflate-compressed,
    /// and the bytes. `None` at a member start.
    pub window: Option<(u32, bool, Vec<u8>)>,
}

/// A complete index of one gzip file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    /// Checkpoint spacing it was built with.
    pub span: u64,
    /// The file it belongs to.
    pub fingerprint: GzipFingerprint,
    /// The decompressed length.
    pub total: u64,
    /// Checkpoints in increasing `out`, the first at 0.
    pub checkpoints: Vec<StoredCheckpoint>,
}

impl IndexFile {
    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let windows: usize = self
            .checkpoints
            .iter()
            .map(|c| c.window.as_ref().map_or(0, |w| w.2.len()))
            .sum();
        let mut b =
            Vec::with_capacity(8 + HEADER_LEN + self.checkpoints.len() * ENTRY_LEN + windows + 4);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&self.span.to_le_bytes());
        b.extend_from_slice(&self.fingerprint.len.to_le_bytes());
        b.extend_from_slice(&self.fingerprint.head.to_le_bytes());
        b.extend_from_slice(&self.fingerprint.tail.to_le_bytes());
        b.extend_from_slice(&self.total.to_le_bytes());
        b.extend_from_slice(&(self.checkpoints.len() as u32).to_le_bytes());
        for c in &self.checkpoints {
            b.extend_from_slice(&c.out.to_le_bytes());
            b.extend_from_slice(&c.bit.to_le_bytes());
            let (raw, deflated, bytes) = match &c.window {
                Some((raw, deflated, bytes)) => (*raw, *deflated, bytes.as_slice()),
                None => (0, false, &[][..]),
            };
            b.extend_from_slice(&raw.to_le_bytes());
            b.push(u8::from(deflated));
            b.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            b.extend_from_slice(bytes);
        }
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses and checks an index file's bytes against the gzip file `fingerprint` describes:
    /// magic, CRC32, fingerprint, and every checkpoint inside the file (increasing offsets,
    /// bit offsets within the compressed length, windows at most 32 KiB). Any failure is a
    /// Format error saying which check failed.
    pub fn from_bytes(bytes: &[u8], fingerprint: &GzipFingerprint) -> Result<Self> {
        let bad = |why: &str| Error::format(format!("gzip index file: {why}"));
        let body_len = bytes
            .len()
            .checked_sub(4)
            .filter(|&n| n >= 8 + HEADER_LEN)
            .ok_or_else(|| bad("too short (truncated?)"))?;
        if &bytes[..8] != MAGIC {
            return Err(bad("not a neurovox gzip index (bad magic)"));
        }
        let (body, crc) = bytes.split_at(body_len);
        if crc32fast::hash(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            return Err(bad("CRC32 mismatch (truncated or damaged)"));
        }
        let mut r = Reader { bytes: body, at: 8 };
        let span = r.u64()?;
        let stored = GzipFingerprint {
            len: r.u64()?,
            head: r.u128()?,
            tail: r.u128()?,
        };
        if stored != *fingerprint {
            return Err(bad(
                "built from another file, or the file changed since (fingerprint differs)",
            ));
        }
        let total = r.u64()?;
        let count = r.u32()? as usize;
        // Every entry takes at least ENTRY_LEN bytes: the count cannot make us allocate more
        // than the index file's own size.
        if count == 0 || count > body.len() / ENTRY_LEN {
            return Err(bad("impossible checkpoint count"));
        }
        let most_out = fingerprint.len.saturating_mul(1032);
        if total > most_out {
            return Err(bad("decompressed length beyond what the file can hold"));
        }
        let mut checkpoints = Vec::with_capacity(count);
        for i in 0..count {
            let out = r.u64()?;
            let bit = r.u64()?;
            let raw = r.u32()?;
            let deflated = r.byte()?;
            let stored_len = r.u32()? as usize;
            let stored = r.take(stored_len)?;
            let previous = checkpoints.last().map(|c: &StoredCheckpoint| c.out);
            let in_order = match previous {
                None => out == 0,
                Some(p) => out > p,
            };
            if !in_order || (out >= total && total > 0) || bit >= fingerprint.len.saturating_mul(8)
            {
                return Err(bad(&format!("checkpoint {i} is out of place")));
            }
            if raw > WINDOW || deflated > 1 || (raw == 0 && stored_len != 0) {
                return Err(bad(&format!("checkpoint {i} has an impossible window")));
            }
            let window = (raw > 0).then(|| (raw, deflated == 1, stored.to_vec()));
            checkpoints.push(StoredCheckpoint { out, bit, window });
        }
        if r.at != body.len() {
            return Err(bad("trailing bytes after the checkpoints"));
        }
        Ok(IndexFile {
            span,
            fingerprint: stored,
            total,
            checkpoints,
        })
    }
}

/// A stored window's raw bytes: inflated when it was kept raw-deflate-compressed.
pub(crate) fn window_bytes(raw_len: u32, deflated: bool, stored: &[u8]) -> Result<Vec<u8>> {
    if !deflated {
        return Ok(stored.to_vec());
    }
    let mut out = Vec::with_capacity(raw_len as usize + 1);
    let mut d = flate2::Decompress::new(false);
    match d.decompress_vec(stored, &mut out, flate2::FlushDecompress::Finish) {
        Ok(flate2::Status::StreamEnd) if out.len() == raw_len as usize => Ok(out),
        _ => Err(Error::format(
            "a stored gzip index window does not decompress",
        )),
    }
}

/// indexed_gzip's index files (GZIDX, version 1, as `IndexedGzipFile.export_index` writes
/// and `import_index` reads them).
///
/// Layout (little-endian): `GZIDX`, version byte, flags byte; compressed size (u64),
/// uncompressed size (u64), spacing (u32), window size (u32), point count (u32); per point
/// the compressed offset of its first whole byte (u64), its uncompressed offset (u64), the
/// number of bits of the byte before that belong to it (u8) and whether it has a window
/// (u8); then every window, `window size` bytes each, in point order. A point without a
/// window starts a gzip member's deflate data.
pub mod gzidx {
    use super::{GzipFingerprint, IndexFile, Reader, StoredCheckpoint, WINDOW, window_bytes};
    use crate::error::{Error, Result};

    const ID: &[u8; 5] = b"GZIDX";

    /// The GZIDX bytes of a complete index.
    pub fn export(index: &IndexFile) -> Result<Vec<u8>> {
        let mut b = Vec::new();
        b.extend_from_slice(ID);
        b.push(1); // version
        b.push(0); // flags
        b.extend_from_slice(&index.fingerprint.len.to_le_bytes());
        b.extend_from_slice(&index.total.to_le_bytes());
        let spacing = u32::try_from(index.span).unwrap_or(u32::MAX).max(WINDOW);
        b.extend_from_slice(&spacing.to_le_bytes());
        b.extend_from_slice(&WINDOW.to_le_bytes());
        b.extend_from_slice(&(index.checkpoints.len() as u32).to_le_bytes());
        for c in &index.checkpoints {
            let cmp = c.bit.div_ceil(8);
            b.extend_from_slice(&cmp.to_le_bytes());
            b.extend_from_slice(&c.out.to_le_bytes());
            // Bits of the byte before `cmp` that belong to the point, computed without
            // `cmp * 8`, which overflows for a bit offset near u64::MAX (IndexFile's fields
            // are public: export must not trust them).
            b.push(((8 - c.bit % 8) % 8) as u8);
            b.push(u8::from(c.window.is_some()));
        }
        for c in &index.checkpoints {
            if let Some((raw, deflated, stored)) = &c.window {
                let window = window_bytes(*raw, *deflated, stored)?;
                // indexed_gzip keeps whole windows: a shorter one (near a member's start) is
                // padded in front, where no back-reference can reach.
                b.resize(b.len() + WINDOW as usize - window.len(), 0);
                b.extend_from_slice(&window);
            }
        }
        Ok(b)
    }

    /// Reads a complete GZIDX index of the file `fingerprint` describes. indexed_gzip records
    /// only the compressed size of its file, so that is all that can be checked against it:
    /// import only an index built from this very file. An incomplete index (no uncompressed
    /// size yet) is refused.
    pub fn import(bytes: &[u8], fingerprint: &GzipFingerprint) -> Result<IndexFile> {
        let bad = |why: &str| Error::format(format!("indexed_gzip index file: {why}"));
        let mut r = Reader { bytes, at: 0 };
        let short = |_| bad("truncated");
        if r.take(5).map_err(short)? != ID {
            return Err(bad("not a GZIDX file (bad magic)"));
        }
        let version = r.byte().map_err(short)?;
        if version > 1 {
            return Err(bad(&format!("version {version} is newer than 1")));
        }
        r.byte().map_err(short)?; // flags, unused
        let compressed = r.u64().map_err(short)?;
        let total = r.u64().map_err(short)?;
        let spacing = r.u32().map_err(short)?;
        let window = r.u32().map_err(short)?;
        let count = r.u32().map_err(short)? as usize;
        if compressed != fingerprint.len {
            return Err(bad(&format!(
                "built from a file of {compressed} bytes, this one has {}",
                fingerprint.len
            )));
        }
        if total == 0 || total > fingerprint.len.saturating_mul(1032) {
            return Err(bad("incomplete (no uncompressed size) or impossible"));
        }
        if !(WINDOW..=1 << 20).contains(&window) || count == 0 || count > bytes.len() / 18 {
            return Err(bad("impossible window size or point count"));
        }
        let mut points = Vec::with_capacity(count);
        for _ in 0..(if version == 0 { 0 } else { count }) {
            let cmp = r.u64().map_err(short)?;
            let out = r.u64().map_err(short)?;
            let bits = r.byte().map_err(short)?;
            let has_window = r.byte().map_err(short)?;
            points.push((cmp, out, bits, has_window));
        }
        if version == 0 {
            return Err(bad(
                "version 0 files are not read (re-export with indexed_gzip 1.x)",
            ));
        }
        let mut checkpoints = Vec::with_capacity(count);
        for (i, (cmp, out, bits, has_window)) in points.into_iter().enumerate() {
            let window = if has_window == 1 {
                let whole = r.take(window as usize).map_err(short)?;
                let last = &whole[whole.len() - WINDOW as usize..];
                Some((WINDOW, false, last.to_vec()))
            } else {
                None
            };
            // indexed_gzip ends a full index with a point at the end of the stream (the
            // file's length, the data's length): nothing starts there.
            if i + 1 == count && out == total && cmp == compressed {
                continue;
            }
            let in_order = checkpoints
                .last()
                .map_or(out == 0, |p: &StoredCheckpoint| out > p.out);
            // The bit offset is `cmp * 8 - bits`: a point at byte 0 cannot own bits of the
            // byte before it, and a huge byte offset cannot be counted in bits.
            let bit = cmp
                .checked_mul(8)
                .and_then(|b| b.checked_sub(u64::from(bits)));
            let Some(bit) = bit.filter(|_| {
                in_order && out < total && bits <= 7 && has_window <= 1 && cmp < compressed
            }) else {
                return Err(bad(&format!("point {i} is out of place")));
            };
            checkpoints.push(StoredCheckpoint { out, bit, window });
        }
        if r.at != bytes.len() {
            return Err(bad("trailing bytes after the windows"));
        }
        Ok(IndexFile {
            span: u64::from(spacing),
            fingerprint: *fingerprint,
            total,
            checkpoints,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end =
            end.ok_or_else(|| Error::format("gzip index file: an entry runs past its end"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn byte(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn u128(&mut self) -> Result<u128> {
        Ok(u128::from_le_bytes(self.array()?))
    }
}

/// Whether loads look for index files (`NEUROVOX_GZIP_INDEX=off` turns it off).
pub fn lookup_enabled() -> bool {
    !matches!(
        std::env::var("NEUROVOX_GZIP_INDEX").as_deref(),
        Ok("off" | "0" | "no" | "false")
    )
}

/// The sidecar index of `gz`: the same name with [`SUFFIX`] added.
pub fn sidecar_path(gz: &Path) -> PathBuf {
    let mut name = gz.as_os_str().to_os_string();
    name.push(SUFFIX);
    PathBuf::from(name)
}

/// The cache directory (see the module docs), if one can be named.
pub fn cache_dir() -> Option<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("NEUROVOX_GZIP_INDEX_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("neurovox/gzip-index")))
        .or_else(|| var("HOME").map(|d| d.join(".cache/neurovox/gzip-index")))
}

/// The index of `gz` in the cache directory, named by a hash of its absolute path, or of
/// its URL (without a query, which for a presigned URL changes with every signature).
///
/// ```
/// use neurovox::io::gzip::index_file::cache_path;
/// let a = cache_path("https://h/x.nii.gz?X-Amz-Signature=1".as_ref());
/// assert_eq!(a, cache_path("https://h/x.nii.gz?X-Amz-Signature=2".as_ref()));
/// ```
pub fn cache_path(gz: &Path) -> Option<PathBuf> {
    let name = gz.to_str().filter(|s| crate::io::is_url(s));
    let hash = match name {
        Some(url) => xxhash_rust::xxh3::xxh3_64(url.split(['?', '#']).next()?.as_bytes()),
        None => {
            let absolute = std::path::absolute(gz).ok()?;
            xxhash_rust::xxh3::xxh3_64(absolute.as_os_str().as_encoded_bytes())
        }
    };
    Some(cache_dir()?.join(format!("{hash:016x}{SUFFIX}")))
}

/// The cache directory's size cap: `NEUROVOX_GZIP_INDEX_CACHE_MB` or [`DEFAULT_CACHE_BYTES`].
pub fn cache_cap() -> u64 {
    std::env::var("NEUROVOX_GZIP_INDEX_CACHE_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(DEFAULT_CACHE_BYTES, |mb| mb.saturating_mul(1 << 20))
}

/// Deletes the least recently modified index files in `dir` until the rest fit in `cap`
/// bytes; returns how many it deleted. Only files ending in [`SUFFIX`] are touched.
pub fn trim_cache(dir: &Path, cap: u64) -> Result<usize> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(e).with_path(dir))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.to_string_lossy().ends_with(SUFFIX) {
            continue;
        }
        if let Ok(meta) = entry.metadata() {
            let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
            files.push((modified, meta.len(), path));
        }
    }
    files.sort();
    let mut held: u64 = files.iter().map(|f| f.1).sum();
    let mut removed = 0;
    for (_, len, path) in files {
        if held <= cap {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            held -= len;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> IndexFile {
        IndexFile {
            span: 1 << 20,
            fingerprint: GzipFingerprint {
                len: 5_000_000,
                head: 7,
                tail: 9,
            },
            total: 20_000_000,
            checkpoints: vec![
                StoredCheckpoint {
                    out: 0,
                    bit: 80,
                    window: None,
                },
                StoredCheckpoint {
                    out: 1_100_000,
                    bit: 2_000_003,
                    window: Some((32768, true, vec![1, 2, 3])),
                },
            ],
        }
    }

    #[test]
    fn round_trips_and_every_damage_is_refused() {
        let index = sample();
        let bytes = index.to_bytes();
        assert_eq!(
            IndexFile::from_bytes(&bytes, &index.fingerprint).unwrap(),
            index
        );
        for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(IndexFile::from_bytes(&bytes[..cut], &index.fingerprint).is_err());
        }
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x20;
            let e = IndexFile::from_bytes(&bad, &index.fingerprint).unwrap_err();
            assert!(e.to_string().contains("gzip index file"), "{e}");
        }
        let other = GzipFingerprint {
            tail: 10,
            ..index.fingerprint
        };
        let e = IndexFile::from_bytes(&bytes, &other).unwrap_err();
        assert!(e.to_string().contains("fingerprint differs"), "{e}");
    }

    #[test]
    fn consistent_but_impossible_entries_are_refused() {
        let mut index = sample();
        index.checkpoints[1].out = 0; // not increasing
        let bytes = index.to_bytes();
        assert!(
            IndexFile::from_bytes(&bytes, &index.fingerprint)
                .unwrap_err()
                .to_string()
                .contains("out of place")
        );
        let mut index = sample();
        index.checkpoints[1].window = Some((40_000, false, vec![0; 4]));
        let bytes = index.to_bytes();
        assert!(
            IndexFile::from_bytes(&bytes, &index.fingerprint)
                .unwrap_err()
                .to_string()
                .contains("impossible window")
        );
    }

    #[test]
    fn gzidx_round_trips_and_checks_the_file_size() {
        let mut index = sample();
        index.checkpoints[1].window = Some((32768, false, vec![5u8; 32768]));
        let bytes = gzidx::export(&index).unwrap();
        assert_eq!(&bytes[..5], b"GZIDX");
        let back = gzidx::import(&bytes, &index.fingerprint).unwrap();
        assert_eq!(back, index);
        let other = GzipFingerprint {
            len: 5_000_001,
            ..index.fingerprint
        };
        assert!(gzidx::import(&bytes, &other).is_err());
        for cut in [3, 40, bytes.len() - 1] {
            assert!(gzidx::import(&bytes[..cut], &index.fingerprint).is_err());
        }
    }

    #[test]
    fn the_cache_is_trimmed_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            let p = dir.path().join(format!("{name}{SUFFIX}"));
            std::fs::write(&p, vec![0u8; 100]).unwrap();
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1000 + i as u64);
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        std::fs::write(dir.path().join("other.txt"), vec![0u8; 1000]).unwrap();
        assert_eq!(trim_cache(dir.path(), 250).unwrap(), 1);
        assert!(!dir.path().join(format!("a{SUFFIX}")).exists());
        assert!(dir.path().join(format!("c{SUFFIX}")).exists());
        assert!(dir.path().join("other.txt").exists());
    }
}
