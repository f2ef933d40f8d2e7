//! Byte sources: a file's (decompressed) bytes, read at any offset by any number of threads.
//!
//! [`Source::read_at`] never shares a cursor, so one source serves every thread of a proxy at
//! once, and no outside file position can change what it returns.

use crate::error::{Error, Result};
use crate::io::file_identity::FileIdentity;
use std::fmt::Debug;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Random access to bytes.
pub trait Source: Send + Sync + Debug {
    /// The number of bytes (decompressed, for compressed files).
    fn len(&self) -> Result<u64>;

    /// True if the source holds no bytes.
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The length if it is known without reading (a plain file's size, a fully indexed gzip
    /// stream): lets a read allocate its whole buffer at once when the source surely holds it.
    fn len_hint(&self) -> Option<u64> {
        None
    }

    /// Whether a read may size its output for data ending at byte `end` before reading it:
    /// true only when the source surely holds that many bytes, or (compressed sources) when
    /// what is known without decompressing says it can, and the bytes the data could really
    /// inflate to bound the claim (see [`GzipSource`](super::GzipSource)'s trailer rule). A
    /// read sized this way that then finds the data shorter fails with the usual past-the-end
    /// error, having filled no more memory than the data it really holds.
    ///
    /// ```
    /// use neurovox::io::{MemorySource, Source};
    /// let source = MemorySource::new(vec![0u8; 100]);
    /// assert!(source.may_hold(100));
    /// assert!(!source.may_hold(101));
    /// ```
    fn may_hold(&self, end: u64) -> bool {
        self.len_hint().is_some_and(|len| len >= end)
    }

    /// Fills `buf` with the bytes starting at `offset`. Bytes past the end are a Format error
    /// naming the file and the offset ("the file ends at …").
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;

    /// The bytes `offset..offset + len`, borrowed where the source already holds them in
    /// memory (a memory map, bytes in memory), so a read converts straight from them with
    /// no copy; `None` where bytes must be copied out (positioned reads, compressed data)
    /// or the range is not all there.
    ///
    /// ```
    /// use neurovox::io::{MemorySource, Source};
    /// let source = MemorySource::new(vec![1u8, 2, 3, 4]);
    /// assert_eq!(source.borrow_at(1, 2), Some(&[2u8, 3][..]));
    /// assert_eq!(source.borrow_at(3, 2), None);
    /// ```
    fn borrow_at(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let _ = (offset, len);
        None
    }

    /// Bytes of room before its output with which a read of `[offset, end)` can fill that
    /// output faster, handed to [`Source::read_at_with_room`]; 0 (the default) when room does
    /// not help. A gzip file inflated in one call needs it: DEFLATE's back-references reach
    /// into the bytes before `offset` (the image header), so one-call inflaters (libdeflate)
    /// must write the stream from its first byte into one buffer
    /// ([`GzipSource`](super::GzipSource)'s whole reads).
    ///
    /// ```
    /// use neurovox::io::{MemorySource, Source};
    /// assert_eq!(MemorySource::new(vec![0u8; 8]).room_for_read(4, 8), 0);
    /// ```
    fn room_for_read(&self, offset: u64, end: u64) -> usize {
        let _ = (offset, end);
        0
    }

    /// Fills `buf[room..]` with the bytes from `offset`, as [`Source::read_at`] fills a
    /// buffer; `buf[..room]` is scratch the source may overwrite (with its own bytes before
    /// `offset`, when `room` is what [`Source::room_for_read`] asked for). A `room` longer
    /// than `buf` is a Usage error.
    ///
    /// ```
    /// use neurovox::io::{MemorySource, Source};
    /// let source = MemorySource::new(vec![1u8, 2, 3, 4, 5]);
    /// let mut buf = [0u8; 5];
    /// source.read_at_with_room(3, &mut buf, 3)?;
    /// assert_eq!(buf[3..], [4, 5]);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    fn read_at_with_room(&self, offset: u64, buf: &mut [u8], room: usize) -> Result<()> {
        let out = buf
            .get_mut(room..)
            .ok_or_else(|| Error::usage("the room before a read is longer than its buffer"))?;
        self.read_at(offset, out)
    }

    /// Whether reads of parts of `[offset, end)` made on several threads at once each cost
    /// only their own bytes, so a reader may split a large read between threads: true for
    /// bytes in memory, plain files and a gzip file whose index covers the range; false (the
    /// default) where reads would wait on one another — a gzip file's first pass, which
    /// inflates the stream in order, or a Python file object's lock.
    ///
    /// ```
    /// use neurovox::io::{MemorySource, Source};
    /// assert!(MemorySource::new(vec![0u8; 8]).parallel_reads(0, 8));
    /// ```
    fn parallel_reads(&self, offset: u64, end: u64) -> bool {
        let _ = (offset, end);
        false
    }

    /// How many bytes this source has decompressed so far, over all reads (0 for plain
    /// files). Tests use it to show that a read decompressed only what it needed.
    fn inflated_bytes(&self) -> u64 {
        0
    }

    /// The file behind the source, if any.
    fn path(&self) -> Option<&Path> {
        None
    }

    /// Tells the source where the data its reader wants ends (an image's data region ends
    /// at `end`). A compressed source verifies the checksum of a member that ends there as
    /// soon as a read reaches `end`, even when other bytes follow the member in the file
    /// (zero padding, an index member). Plain sources need nothing.
    ///
    /// ```
    /// use neurovox::io::{MemorySource, Source};
    /// MemorySource::new(vec![0u8; 8]).expect_data_end(8); // nothing to check in memory
    /// ```
    fn expect_data_end(&self, end: u64) {
        let _ = end;
    }

    /// Which file the source reads (device and inode, fixed when it was made), for sources
    /// over a file: a loader compares it with the file its header came from.
    fn identity(&self) -> Option<FileIdentity> {
        None
    }

    /// Says that reads of `[offset, end)` follow, in pieces, soon: a source whose every fetch
    /// costs a round trip (a remote object) starts fetching the range in the background, in a
    /// few large concurrent requests, and returns; reads of those bytes wait for them rather
    /// than sending one request per piece. A memory map faults the range in at once. Others
    /// need nothing.
    ///
    /// ```
    /// use neurovox::io::{MemorySource, Source};
    /// MemorySource::new(vec![0u8; 8]).prefetch(0, 8); // in memory already
    /// ```
    fn prefetch(&self, offset: u64, end: u64) {
        let _ = (offset, end);
    }

    /// Says that the small reads that follow one another from here (a gzip first pass) will
    /// probably stop near `end`: a source that reads ahead of such reads (a remote object)
    /// reads no further ahead than `end` until the reads pass it. A guess, which the reads
    /// may overrun; sources that read nothing ahead need nothing.
    ///
    /// ```
    /// use neurovox::io::{MemorySource, Source};
    /// MemorySource::new(vec![0u8; 8]).expect_sequential_end(4); // reads nothing ahead
    /// ```
    fn expect_sequential_end(&self, end: u64) {
        let _ = end;
    }

    /// Says that the reader is done, for now, with the bytes `[offset, offset + len)` that it
    /// borrowed ([`Source::borrow_at`]): a memory-mapped source drops their pages from the
    /// process's page tables (they stay in the page cache, and a later borrow maps them
    /// again), so converting a whole mapped file into a new array does not hold the file's
    /// pages and the array at once. Others need nothing.
    ///
    /// ```
    /// use neurovox::io::{MemorySource, Source};
    /// MemorySource::new(vec![0u8; 8]).release(0, 8); // the bytes are the source's own
    /// ```
    fn release(&self, offset: u64, len: usize) {
        let _ = (offset, len);
    }

    /// For a source over an object at a URL (directly, or decompressed, or in pieces): what
    /// the object was when it was opened. `None` for files and memory.
    ///
    /// ```
    /// use neurovox::io::{MemorySource, Source};
    /// assert_eq!(MemorySource::new(vec![0u8; 8]).remote_fingerprint(), None);
    /// ```
    fn remote_fingerprint(&self) -> Option<crate::io::RemoteFingerprint> {
        None
    }

    /// For a source that holds an array rather than a run of bytes (an HDF5 dataset): the
    /// elements of a strided box, `(start, count, step)` per axis, in C order and the array's
    /// byte order, read in one call. `None` (the default) for byte sources, whose reads the
    /// planner splits into runs.
    ///
    /// ```
    /// use neurovox::io::{MemorySource, Source};
    /// assert!(MemorySource::new(vec![0u8; 8]).read_box(&[(0, 2, 1)]).is_none());
    /// ```
    fn read_box(&self, strided_box: &[(u64, u64, u64)]) -> Option<Result<Vec<u8>>> {
        let _ = strided_box;
        None
    }
}

/// The error for a read past the end of a source.
pub(crate) fn past_end(path: Option<&Path>, offset: u64, want: usize, len: u64) -> Error {
    let e = Error::truncated(format!(
        "wanted {want} bytes at offset {offset}, but the data ends at byte {len}; could the file be truncated?"
    ))
    .offset(offset);
    match path {
        Some(p) => e.with_path(p),
        None => e,
    }
}

/// Copies `buf.len()` bytes of `bytes` from `offset`, or the past-the-end error.
pub(crate) fn copy_from(
    bytes: &[u8],
    path: Option<&Path>,
    offset: u64,
    buf: &mut [u8],
) -> Result<()> {
    let len = bytes.len() as u64;
    match offset
        .checked_add(buf.len() as u64)
        .filter(|&end| end <= len)
    {
        Some(end) => {
            buf.copy_from_slice(&bytes[offset as usize..end as usize]);
            Ok(())
        }
        None => Err(past_end(path, offset, buf.len(), len)),
    }
}

/// A source read in order from its start as a [`std::io::Read`] stream: a remote object's
/// bytes fed to a decompressor, as a file's are. Its errors travel inside the stream's I/O
/// errors and come out whole from [`crate::io::read_up_to`] and friends.
///
/// ```
/// use neurovox::io::{MemorySource, SourceReader};
/// use std::io::Read;
/// let mut reader = SourceReader::new(std::sync::Arc::new(MemorySource::new(vec![1u8, 2, 3])))?;
/// let mut all = Vec::new();
/// reader.read_to_end(&mut all)?;
/// assert_eq!(all, [1, 2, 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SourceReader {
    source: Arc<dyn Source>,
    position: u64,
    len: u64,
}

impl SourceReader {
    /// A stream of `source` from its first byte (its length is asked once, here: a source
    /// whose length is not known without reading all of it is a poor stream).
    pub fn new(source: Arc<dyn Source>) -> Result<Self> {
        let len = source.len()?;
        Ok(SourceReader {
            source,
            position: 0,
            len,
        })
    }
}

impl std::io::Read for SourceReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.len.saturating_sub(self.position);
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if n == 0 {
            return Ok(0);
        }
        self.source
            .read_at(self.position, &mut buf[..n])
            .map_err(std::io::Error::other)?;
        self.position += n as u64;
        Ok(n)
    }
}

/// Bytes in memory (an array written by hand, or a whole decompressed file).
#[derive(Debug, Clone)]
pub struct MemorySource {
    bytes: Arc<[u8]>,
    path: Option<PathBuf>,
}

impl MemorySource {
    /// A source over `bytes`.
    ///
    /// ```
    /// use neurovox::io::{MemorySource, Source};
    /// let s = MemorySource::new(vec![1, 2, 3, 4]);
    /// let mut buf = [0u8; 2];
    /// s.read_at(1, &mut buf)?;
    /// assert_eq!(buf, [2, 3]);
    /// assert!(s.read_at(3, &mut buf).is_err());
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        MemorySource {
            bytes: bytes.into(),
            path: None,
        }
    }

    /// A source over `bytes` that came from `path` (errors name it).
    pub fn from_file_bytes(bytes: impl Into<Arc<[u8]>>, path: &Path) -> Self {
        MemorySource {
            bytes: bytes.into(),
            path: Some(path.to_path_buf()),
        }
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl Source for MemorySource {
    fn parallel_reads(&self, _offset: u64, _end: u64) -> bool {
        true
    }

    fn len(&self) -> Result<u64> {
        Ok(self.bytes.len() as u64)
    }

    fn len_hint(&self) -> Option<u64> {
        Some(self.bytes.len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        copy_from(&self.bytes, self.path.as_deref(), offset, buf)
    }

    fn borrow_at(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let start = usize::try_from(offset).ok()?;
        self.bytes.get(start..start.checked_add(len)?)
    }

    fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

/// An uncompressed file read with positioned reads (`pread`): no shared cursor.
///
/// With `keep_open` the file handle is opened once and shared by every read (nibabel's
/// `keep_file_open=True`); without, each read opens and closes the file (`False`), so no
/// handle outlives a read.
#[derive(Debug)]
pub struct FileSource {
    path: PathBuf,
    handle: Option<File>,
    identity: FileIdentity,
}

impl FileSource {
    /// A source over the file at `path`; the file must exist now.
    pub fn open(path: &Path, keep_open: bool) -> Result<Self> {
        let file = super::open_regular(path)?;
        let identity = FileIdentity::of_file(&file, path)?;
        Ok(FileSource {
            path: path.to_path_buf(),
            handle: keep_open.then_some(file),
            identity,
        })
    }

    /// True if one handle is kept open for all reads.
    pub fn keeps_file_open(&self) -> bool {
        self.handle.is_some()
    }

    fn read_with(&self, file: &File, offset: u64, buf: &mut [u8]) -> Result<()> {
        use std::os::unix::fs::FileExt;
        match file.read_exact_at(buf, offset) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                let len = file.metadata().map(|m| m.len()).unwrap_or(0);
                Err(past_end(Some(&self.path), offset, buf.len(), len))
            }
            Err(e) => Err(Error::io(e).with_path(&self.path)),
        }
    }
}

impl Source for FileSource {
    fn parallel_reads(&self, _offset: u64, _end: u64) -> bool {
        true
    }

    fn len_hint(&self) -> Option<u64> {
        self.len().ok()
    }

    fn len(&self) -> Result<u64> {
        let meta = match &self.handle {
            Some(f) => f.metadata(),
            None => std::fs::metadata(&self.path),
        };
        meta.map(|m| m.len())
            .map_err(|e| Error::io(e).with_path(&self.path))
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        match &self.handle {
            Some(file) => self.read_with(file, offset, buf),
            None => {
                let file = super::open_regular(&self.path)?;
                self.identity.check(&file, &self.path)?;
                self.read_with(&file, offset, buf)
            }
        }
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn identity(&self) -> Option<FileIdentity> {
        Some(self.identity)
    }
}

/// Copies out of a memory map release the pages they touched once these span this many bytes
/// ([`MmapSource`]'s `read_at`). Measured with the benchmark matrix: keeping the pages of
/// volume-sized copies for the next read of them gained nothing measurable on 4 warm volumes
/// (1.14× vs 1.12× nibabel) and made a volume-by-volume copy of a file hold the whole file.
const RELEASE_AFTER_COPY: usize = 256 << 10;

/// A large copy out of a memory map goes in pieces of this many bytes, each released before
/// the next (see [`MmapSource`]'s `read_at`): a whole-file copy then holds one piece of the
/// map beside its output, not the whole file (`asarray` of a 221 MB `.nii` from Rust peaked
/// at 427 MiB; nibabel's read, 252).
const COPY_PIECE: usize = 8 << 20;

/// The page size to round releases of a map out to: a fault maps the whole page-cache folio
/// it hits, and kernels with large folios for files (ext4 since Linux 6.16) make them up to
/// 2 MiB, so a release of only the touched 64 KiB pages left the rest of each folio mapped
/// (a sagittal slab of a 221 MB .nii ended holding 42 MB more than nibabel).
const RELEASE_ROUNDING: usize = 2 << 20;

/// An uncompressed file read through a read-only memory map of the whole file, made on the
/// first read: reads are copies from the page cache, with no system call per read.
///
/// As with every memory map (and numpy.memmap), another process truncating the file while it
/// is mapped makes reads fault; files neurovox saves are replaced, never truncated in place,
/// so a proxy keeps reading the old file's pages.
///
/// Made with [`MmapSource::keeping_open`], the source also keeps the file handle it mapped
/// open for its life (nibabel's `keep_file_open=True`); otherwise the handle is closed once
/// the map is made (the map alone keeps the file's pages).
#[derive(Debug)]
pub struct MmapSource {
    path: PathBuf,
    identity: Option<FileIdentity>,
    keep_open: bool,
    map: std::sync::OnceLock<std::result::Result<MappedFile, Error>>,
    /// The span of the map that small copies have touched since its pages were last released
    /// (start, end; `u64::MAX, 0` when none): see `read_at`.
    touched: (std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64),
}

/// The map of a file (none for an empty file) and the handle kept open, if asked.
#[derive(Debug)]
struct MappedFile {
    map: Option<memmap2::Mmap>,
    _handle: Option<File>,
}

impl MmapSource {
    /// A source over the file at `path` (which file that is, is fixed now), mapped when
    /// first read.
    pub fn new(path: &Path) -> Self {
        MmapSource {
            path: path.to_path_buf(),
            identity: FileIdentity::of(path).ok(),
            keep_open: false,
            map: std::sync::OnceLock::new(),
            touched: (
                std::sync::atomic::AtomicU64::new(u64::MAX),
                std::sync::atomic::AtomicU64::new(0),
            ),
        }
    }

    /// As [`MmapSource::new`], and the handle opened to map the file stays open as long as
    /// the source (one descriptor per source, however many reads).
    pub fn keeping_open(path: &Path) -> Self {
        MmapSource {
            keep_open: true,
            ..Self::new(path)
        }
    }

    fn map(&self) -> Result<&[u8]> {
        let mapped = self.map.get_or_init(|| {
            let file = super::open_regular(&self.path)?;
            if let Some(identity) = &self.identity {
                identity.check(&file, &self.path)?;
            }
            let len = file
                .metadata()
                .map_err(|e| Error::io(e).with_path(&self.path))?
                .len();
            let map = if len == 0 {
                None
            } else {
                // SAFETY: read-only map of a file we do not write; see the type's
                // documentation for what another process truncating the file would do.
                Some(
                    unsafe { memmap2::Mmap::map(&file) }
                        .map_err(|e| Error::io(e).with_path(&self.path))?,
                )
            };
            Ok(MappedFile {
                map,
                _handle: self.keep_open.then_some(file),
            })
        });
        match mapped {
            Ok(MappedFile { map: Some(map), .. }) => Ok(map),
            Ok(MappedFile { map: None, .. }) => Ok(&[]),
            Err(e) => Err(Error::new(e.kind(), e.message().to_owned()).with_path(&self.path)),
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
impl MmapSource {
    /// How many bytes of the map count in the process's memory now (its `Rss` in
    /// `/proc/self/smaps`); 0 before it is made.
    pub(crate) fn resident_bytes(&self) -> u64 {
        let Some(Ok(MappedFile { map: Some(map), .. })) = self.map.get() else {
            return 0;
        };
        let start = map.as_ptr() as usize;
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("/proc/self/smaps");
        let mut lines = smaps.lines();
        while let Some(line) = lines.next() {
            let range = line.split_whitespace().next().unwrap_or("");
            let Some((from, _)) = range.split_once('-') else {
                continue;
            };
            if usize::from_str_radix(from, 16) != Ok(start) {
                continue;
            }
            for field in lines.by_ref() {
                if let Some(kb) = field.strip_prefix("Rss:") {
                    let kb = kb.trim().trim_end_matches("kB").trim();
                    return kb.parse::<u64>().expect("an Rss in kB") * 1024;
                }
            }
        }
        panic!("the map at {start:#x} is not in /proc/self/smaps")
    }
}

impl Source for MmapSource {
    fn parallel_reads(&self, _offset: u64, _end: u64) -> bool {
        true
    }

    fn len(&self) -> Result<u64> {
        Ok(self.map()?.len() as u64)
    }

    fn len_hint(&self) -> Option<u64> {
        self.len().ok()
    }

    /// Copies from the map, then lets the process's page tables drop the pages it copied
    /// ([`Source::release`]), once they span `RELEASE_AFTER_COPY` bytes (one large copy, in
    /// pieces of `COPY_PIECE` bytes, or many small copies through the same stretch of the
    /// file): they stay in the page cache but no longer count in the process's memory, so a
    /// whole-file copy or a strided read through a large file (a sagittal slab) keeps a flat
    /// footprint, as nibabel's file reads do.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        let map = self.map()?;
        if buf.len() >= RELEASE_AFTER_COPY {
            // Checked whole first: a read past the end copies nothing.
            let len = map.len() as u64;
            if offset
                .checked_add(buf.len() as u64)
                .is_none_or(|end| end > len)
            {
                return Err(past_end(Some(&self.path), offset, buf.len(), len));
            }
            let mut at = offset;
            for piece in buf.chunks_mut(COPY_PIECE) {
                copy_from(map, Some(&self.path), at, piece)?;
                self.release(at, piece.len());
                at += piece.len() as u64;
            }
            return Ok(());
        }
        copy_from(map, Some(&self.path), offset, buf)?;
        let end = offset + buf.len() as u64;
        let from = self.touched.0.fetch_min(offset, Relaxed).min(offset);
        let to = self.touched.1.fetch_max(end, Relaxed).max(end);
        if to - from >= RELEASE_AFTER_COPY as u64 {
            // Concurrent readers may release overlapping spans: harmless (see `release`).
            self.touched.0.store(u64::MAX, Relaxed);
            self.touched.1.store(0, Relaxed);
            self.release(from, usize::try_from(to - from).unwrap_or(usize::MAX));
        }
        Ok(())
    }

    /// Drops the whole 2 MiB stretches (`RELEASE_ROUNDING`) around the span from the page
    /// tables. Pages only partly used are dropped too, or every span would leave its two
    /// ends; a reader still using them faults them in again from the page cache.
    fn release(&self, offset: u64, len: usize) {
        if let Some(Ok(MappedFile { map: Some(map), .. })) = self.map.get() {
            let page = RELEASE_ROUNDING;
            let to = offset.saturating_add(len as u64);
            let start = usize::try_from(offset).unwrap_or(usize::MAX) / page * page;
            let end = (usize::try_from(to).unwrap_or(usize::MAX).div_ceil(page))
                .saturating_mul(page)
                .min(map.len());
            if end > start {
                // SAFETY: the map is a read-only, shared map of a file: dropping its pages
                // from the page tables loses no data (a later access faults them in again
                // from the page cache), so every slice of it stays valid, also for other
                // threads reading it now.
                let _ = unsafe {
                    map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        start,
                        end - start,
                    )
                };
            }
        }
    }

    /// The mapped bytes, faulted in as they are touched (a borrower of a large range
    /// prefetches each piece before it uses it, see `prefetch`).
    fn borrow_at(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let bytes = self.map().ok()?;
        let start = usize::try_from(offset).ok()?;
        bytes.get(start..start.checked_add(len)?)
    }

    /// Faults a range of at least 1 MiB in, in one call (`MADV_POPULATE_READ`), which costs
    /// far less than a page fault per page as a reader touches it; kernels without it just
    /// skip that step. Borrowers prefetch piece by piece and release each piece when done,
    /// so the whole map is never in the process's memory at once (a comparison with a cache
    /// that already fills memory would otherwise add the whole file to its peak).
    fn prefetch(&self, offset: u64, end: u64) {
        let (Ok(start), Ok(end)) = (usize::try_from(offset), usize::try_from(end)) else {
            return;
        };
        if end.saturating_sub(start) >= 1 << 20
            && let Ok(bytes) = self.map()
            && end <= bytes.len()
            && let Some(Ok(MappedFile { map: Some(map), .. })) = self.map.get()
        {
            let _ = map.advise_range(memmap2::Advice::PopulateRead, start, end - start);
        }
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn identity(&self) -> Option<FileIdentity> {
        self.identity
    }
}

/// A compressed stream without random access (bzip2, zstd): decompressed whole on the first
/// read and kept in memory for the source's life. Memory grows with the bytes that really
/// arrive, never with a size a header declares.
#[derive(Debug)]
pub struct StreamSource {
    path: PathBuf,
    identity: Option<FileIdentity>,
    /// The compressed bytes when they are not the file at `path` (a remote object).
    backing: Option<Arc<dyn Source>>,
    data: std::sync::OnceLock<std::result::Result<Arc<[u8]>, String>>,
    inflated: std::sync::atomic::AtomicU64,
}

impl StreamSource {
    /// A lazily decompressed source over the file at `path` (any compression
    /// [`crate::io::open_decompressed`] recognises).
    pub fn new(path: &Path) -> Self {
        StreamSource {
            path: path.to_path_buf(),
            identity: FileIdentity::of(path).ok(),
            backing: None,
            data: std::sync::OnceLock::new(),
            inflated: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A lazily decompressed source over the compressed bytes of `compressed` (a remote
    /// object), named `name` in errors.
    ///
    /// ```
    /// use neurovox::io::{MemorySource, Source, StreamSource};
    /// use std::io::Write;
    /// let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    /// bz.write_all(b"neurovox")?;
    /// let compressed = std::sync::Arc::new(MemorySource::new(bz.finish()?));
    /// let source = StreamSource::over_source(compressed, "x.bz2".as_ref());
    /// let mut word = [0u8; 3];
    /// source.read_at(5, &mut word)?;
    /// assert_eq!(&word, b"vox");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn over_source(compressed: Arc<dyn Source>, name: &Path) -> Self {
        StreamSource {
            path: name.to_path_buf(),
            identity: None,
            backing: Some(compressed),
            data: std::sync::OnceLock::new(),
            inflated: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The compressed bytes from their start: the backing source, else the file (checked to
    /// be the one this source was made for).
    fn compressed_stream(&self) -> Result<Box<dyn std::io::Read + Send>> {
        if let Some(backing) = &self.backing {
            return Ok(Box::new(SourceReader::new(backing.clone())?));
        }
        let file = super::open_regular(&self.path)?;
        if let Some(identity) = &self.identity {
            identity.check(&file, &self.path)?;
        }
        Ok(Box::new(file))
    }

    fn data(&self) -> Result<&Arc<[u8]>> {
        let loaded = self.data.get_or_init(|| {
            let mut bytes = Vec::new();
            let read = self
                .compressed_stream()
                .and_then(super::decompressing_reader)
                .and_then(|mut reader| {
                    super::read_up_to(reader.as_mut(), u64::MAX, &mut bytes)
                        .map_err(|e| e.with_path(&self.path))
                });
            self.inflated
                .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
            read.map(|_| Arc::from(bytes)).map_err(|e| e.to_string())
        });
        loaded
            .as_ref()
            .map_err(|message| Error::format(message.clone()).with_path(&self.path))
    }
}

impl Source for StreamSource {
    fn len(&self) -> Result<u64> {
        Ok(self.data()?.len() as u64)
    }

    fn len_hint(&self) -> Option<u64> {
        match self.data.get() {
            Some(Ok(data)) => Some(data.len() as u64),
            _ => None,
        }
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        copy_from(self.data()?, Some(&self.path), offset, buf)
    }

    fn inflated_bytes(&self) -> u64 {
        self.inflated.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn identity(&self) -> Option<FileIdentity> {
        self.identity
    }

    fn remote_fingerprint(&self) -> Option<crate::io::RemoteFingerprint> {
        self.backing.as_ref()?.remote_fingerprint()
    }
}

/// A source made on its first use: what a load opens for data it may never read (a remote
/// gzip object's index and trailer cost requests a header-only load should not make).
/// `expect_data_end` is kept until then; `remote_fingerprint` is given without making it.
/// Reads (`read_at`, `len`, `read_box`) and `may_hold`, asked just before a read, make it
/// (callers holding a lock, such as Python's GIL, release it first: making it may wait on a
/// network); `room_for_read` and `parallel_reads` get the cautious answer until then.
#[cfg_attr(not(feature = "remote"), allow(dead_code))]
pub(crate) struct LazySource {
    name: PathBuf,
    make: std::sync::Mutex<Option<LazyMaker>>,
    made: std::sync::OnceLock<
        std::result::Result<Arc<dyn Source>, (crate::error::ErrorKind, String)>,
    >,
    data_end: std::sync::atomic::AtomicU64,
    remote_fingerprint: Option<crate::io::RemoteFingerprint>,
}

#[cfg_attr(not(feature = "remote"), allow(dead_code))]
type LazyMaker = Box<dyn FnOnce() -> Result<Arc<dyn Source>> + Send>;

impl Debug for LazySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazySource")
            .field("name", &self.name)
            .field("made", &self.made.get().map(|m| m.is_ok()))
            .finish_non_exhaustive()
    }
}

#[cfg_attr(not(feature = "remote"), allow(dead_code))]
impl LazySource {
    /// A source that `make` makes when first read; `name` names it in errors,
    /// `remote_fingerprint` is what it will report.
    pub(crate) fn new(
        name: &Path,
        remote_fingerprint: Option<crate::io::RemoteFingerprint>,
        make: impl FnOnce() -> Result<Arc<dyn Source>> + Send + 'static,
    ) -> Self {
        LazySource {
            name: name.to_path_buf(),
            make: std::sync::Mutex::new(Some(Box::new(make))),
            made: std::sync::OnceLock::new(),
            data_end: std::sync::atomic::AtomicU64::new(u64::MAX),
            remote_fingerprint,
        }
    }

    fn inner(&self) -> Result<&Arc<dyn Source>> {
        let made = self.made.get_or_init(|| {
            let make = self.make.lock().unwrap_or_else(|e| e.into_inner()).take();
            let Some(make) = make else {
                return Err((crate::error::ErrorKind::Usage, "made twice".to_owned()));
            };
            make()
                .inspect(|source| {
                    let end = self.data_end.load(std::sync::atomic::Ordering::Relaxed);
                    if end != u64::MAX {
                        source.expect_data_end(end);
                    }
                })
                .map_err(|e| (e.kind(), e.to_string()))
        });
        made.as_ref()
            .map_err(|(kind, message)| Error::new(*kind, message.clone()))
    }

    fn made(&self) -> Option<&Arc<dyn Source>> {
        self.made.get().and_then(|m| m.as_ref().ok())
    }
}

impl Source for LazySource {
    fn len(&self) -> Result<u64> {
        self.inner()?.len()
    }

    fn len_hint(&self) -> Option<u64> {
        self.made()?.len_hint()
    }

    fn may_hold(&self, end: u64) -> bool {
        // Asked just before a read (which would make it anyway): sizing the read's buffer
        // at once is worth making it here.
        self.inner().is_ok_and(|s| s.may_hold(end))
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.inner()?.read_at(offset, buf)
    }

    fn borrow_at(&self, offset: u64, len: usize) -> Option<&[u8]> {
        self.made()?.borrow_at(offset, len)
    }

    fn release(&self, offset: u64, len: usize) {
        if let Some(source) = self.made() {
            source.release(offset, len);
        }
    }

    fn room_for_read(&self, offset: u64, end: u64) -> usize {
        self.made().map_or(0, |s| s.room_for_read(offset, end))
    }

    fn read_at_with_room(&self, offset: u64, buf: &mut [u8], room: usize) -> Result<()> {
        self.inner()?.read_at_with_room(offset, buf, room)
    }

    fn parallel_reads(&self, offset: u64, end: u64) -> bool {
        self.made().is_some_and(|s| s.parallel_reads(offset, end))
    }

    /// Makes the source: a prefetch comes just before the reads it announces.
    fn prefetch(&self, offset: u64, end: u64) {
        if let Ok(source) = self.inner() {
            source.prefetch(offset, end);
        }
    }

    fn inflated_bytes(&self) -> u64 {
        self.made().map_or(0, |s| s.inflated_bytes())
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.name)
    }

    fn expect_data_end(&self, end: u64) {
        match self.made() {
            Some(source) => source.expect_data_end(end),
            None => self
                .data_end
                .store(end, std::sync::atomic::Ordering::Relaxed),
        }
    }

    fn remote_fingerprint(&self) -> Option<crate::io::RemoteFingerprint> {
        self.remote_fingerprint.clone()
    }

    fn read_box(&self, strided_box: &[(u64, u64, u64)]) -> Option<Result<Vec<u8>>> {
        match self.inner() {
            Ok(source) => source.read_box(strided_box),
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmap_source_reads_like_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.bin");
        std::fs::write(&p, (0..50u8).collect::<Vec<_>>()).unwrap();
        let s = MmapSource::new(&p);
        let mut buf = [0u8; 4];
        s.read_at(46, &mut buf).unwrap();
        assert_eq!(buf, [46, 47, 48, 49]);
        assert!(s.read_at(47, &mut buf).is_err());
        let empty = dir.path().join("e.bin");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(MmapSource::new(&empty).len().unwrap(), 0);
        assert!(
            MmapSource::new(&dir.path().join("missing"))
                .read_at(0, &mut buf)
                .is_err()
        );
    }

    /// A copy of a whole large file and a released borrow leave none of the map in the
    /// process's memory; the bytes copied are the file's, and a read past the end copies
    /// nothing and names the file.
    #[cfg(target_os = "linux")]
    #[test]
    fn large_copies_and_released_borrows_leave_the_map_out_of_memory() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.bin");
        let len = 3 * COPY_PIECE + 12_345;
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &bytes).unwrap();
        let s = MmapSource::new(&p);

        let mut whole = vec![0u8; len - 7];
        s.read_at(7, &mut whole).unwrap();
        assert!(whole == bytes[7..]);
        assert!(
            s.resident_bytes() < RELEASE_ROUNDING as u64,
            "{}",
            s.resident_bytes()
        );

        let borrowed = s.borrow_at(0, len).unwrap();
        assert!(borrowed == &bytes[..]);
        assert!(s.resident_bytes() > COPY_PIECE as u64);
        s.release(0, len);
        assert_eq!(s.resident_bytes(), 0);

        let mut past = vec![1u8; COPY_PIECE];
        let e = s.read_at(len as u64 - 10, &mut past).unwrap_err();
        assert!(e.to_string().contains("big.bin"), "{e}");
        assert!(past.iter().all(|&b| b == 1));
    }

    #[test]
    fn file_source_reads_at_offsets_with_and_without_a_kept_handle() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.bin");
        std::fs::write(&p, (0..100u8).collect::<Vec<_>>()).unwrap();
        for keep in [true, false] {
            let s = FileSource::open(&p, keep).unwrap();
            assert_eq!(s.keeps_file_open(), keep);
            let mut buf = [0u8; 3];
            s.read_at(97, &mut buf).unwrap();
            assert_eq!(buf, [97, 98, 99]);
            let e = s.read_at(98, &mut buf).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Format);
            assert!(e.to_string().contains("f.bin"), "{e}");
            assert_eq!(s.len().unwrap(), 100);
        }
    }
}
