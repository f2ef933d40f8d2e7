//! Fast `.nii.gz` output: gzip in independent members of about 1 MiB, compressed on all
//! cores, with an index that lets [`GzipSource`](super::GzipSource) read any byte range
//! without a first pass, and that every other gzip reader ignores.
//!
//! [`ParallelGzWriter`] buffers what is written to it into chunks of
//! [`DEFAULT_MEMBER_SIZE`] bytes, compresses each chunk as one complete gzip member on a
//! thread pool (libdeflate, [`DEFAULT_LEVEL`]) and writes the members in order. Each member's
//! header carries an extra subfield `NV` with the member's total compressed size and its
//! uncompressed size (like BGZF's `BC`). [`finish`](ParallelGzWriter::finish) appends one (or,
//! past 8186 members, several) *index members*: empty gzip members whose extra field lists
//! every data member's compressed and uncompressed size and ends with a fixed footer, so a
//! reader finds the index in the file's last 42 bytes. The exact layout is in
//! `docs/formats.md`; [`MemberIndex`](super::member_index::MemberIndex) reads it back.
//! A large `write` is compressed straight from the caller's buffer; bytes the caller
//! computes (an array converted to its stored type) are better given to
//! [`write_produced`](ParallelGzWriter::write_produced), which has each member's bytes made by
//! the thread that compresses them.
//!
//! The result is an ordinary multi-member gzip stream (RFC 1952 §2.2): `gzip -d`, zlib,
//! Python's `gzip`, nibabel (with or without `indexed_gzip`) and flate2's `MultiGzDecoder`
//! decompress it to the bytes written, and ignore the subfields and the empty members.
//!
//! # Choosing the backend, the level and the member size (measured)
//!
//! On the benchmark's synthetic fMRI run (96×96×60×180 int16 with its NIfTI header, 199 MB,
//! smooth volumes plus noise; the benchmark of that time, since replaced by
//! `benches/matrix.py`), on the 2-vCPU machine, one thread, 1 MiB members, sizes including our
//! headers and index:
//!
//! | compressor | size (MB) | vs Python `gzip` level 1 (= nibabel) | MB/s |
//! |---|---|---|---|
//! | Python `gzip.compress`, level 1 | 88.18 | — | 80 |
//! | Python `gzip.compress`, level 6 | 81.42 | −7.7 % | 14 |
//! | libdeflate level 1 | 88.10 | −0.1 % | 206 |
//! | **libdeflate level 2** | **85.18** | **−3.4 %** | **143** |
//! | libdeflate level 4 | 83.67 | −5.1 % | 123 |
//! | libdeflate level 6 | 83.15 | −5.7 % | 68 |
//! | zlib-rs level 1 | 127.80 | +44.9 % | 228 |
//! | zlib-rs level 2 | 89.55 | +1.6 % | 115 |
//! | zlib-rs level 3 | 86.39 | −2.0 % | 100 |
//!
//! With the `isal` feature (on in the command and the Python package) the default compressor
//! is ISA-L's igzip at level 2 instead: 4–5× faster than libdeflate at level 2 and still no
//! larger than nibabel's output (the table and the reasons are in `isal.rs`). An explicit
//! [`GzWriteOptions::level`] always means libdeflate's scale. Without the feature:
//!
//! Level 2 of libdeflate is the default: it is the fastest setting that stays clearly below
//! nibabel's size (level 1 is only 0.08 % below on this volume and 0.07 % *above* it with
//! 256 KiB members); 12 % smaller than Python's level 1 on a float32 copy of the run and
//! 2 % on a uint8 one; and on two threads it compresses at about 3× Python's level 1 (see
//! below). zlib-rs is slower at every size, and its level 1 (zlib-ng's "quick" strategy) is
//! 45 % larger.
//!
//! The member size barely changes the ratio above 512 KiB (level 2: 85.37 MB at 256 KiB,
//! 85.24 at 512 KiB, 85.18 at 1 MiB, 85.12 at 4 MiB). 1 MiB keeps a random read to at most
//! one member of decompression before its bytes (≈2 ms) and the index at 8 bytes per MiB.
//!
//! End to end on the same image and machine, in one session (best of 5): writing it to a
//! file through a `ParallelGzWriter` (level 2, 1 MiB members, written in 1 MB slabs) runs at
//! **135 MB/s on one thread and 255 MB/s on two**, against 78 MB/s for Python's
//! `gzip.compress(data, 1)`: 3.3× on two cores, 3.4 % smaller. Level 1 runs at 182 and
//! 353 MB/s (0.08 % smaller than nibabel), level 6 at 60 and 119 MB/s (5.7 % smaller).
//! Reading the file back whole with [`GzipSource`](super::GzipSource) runs at 553 MB/s on one
//! thread and 1090 MB/s on two (flate2's `MultiGzDecoder`, one stream: 327 MB/s on this file,
//! 360 MB/s on nibabel's); a 1 MiB read near the end of a freshly opened file takes 1.8 ms
//! (503 ms for nibabel's file, whose first pass must reach it).
//!
//! # Example
//!
//! ```
//! use neurovox::io::gzip::{GzWriteOptions, ParallelGzWriter};
//! use neurovox::io::{GzipSource, Source};
//! use std::io::{Read, Write};
//!
//! let data: Vec<u8> = (0..3_000_000u32).map(|i| (i / 1000 % 251) as u8).collect();
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("image.nii.gz");
//!
//! let file = std::fs::File::create(&path)?;
//! let mut gz = ParallelGzWriter::with_options(file, GzWriteOptions::new().level(2))?;
//! gz.write_all(&data)?;
//! gz.finish()?.sync_all()?;
//!
//! // Any gzip reader reads it as one stream ...
//! let mut back = Vec::new();
//! flate2::read::MultiGzDecoder::new(std::fs::File::open(&path)?).read_to_end(&mut back)?;
//! assert_eq!(back, data);
//!
//! // ... and GzipSource reads any range without a first pass.
//! let source = GzipSource::open(&path)?;
//! assert_eq!(source.len_hint(), Some(3_000_000));
//! let mut buf = vec![0u8; 1000];
//! source.read_at(2_900_000, &mut buf)?;
//! assert_eq!(buf, &data[2_900_000..2_901_000]);
//! assert!(source.inflated_bytes() < 1 << 20); // only the last member was inflated
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::member_index::{MEMBER_HEADER_LEN, data_member_header, encode_index};
use crate::error::{Error, Result};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc;

/// The default libdeflate level (its scale, 0–12), the default compressor without the
/// `isal` feature. See the [module docs](self) for the measurement behind it.
pub const DEFAULT_LEVEL: u32 = 2;
/// ISA-L's level used by default when the `isal` feature is on (its scale, 0–3).
pub const DEFAULT_ISAL_LEVEL: u32 = 2;
/// ISA-L's highest level (its slowest and smallest; `isal.rs` checks it against the library's
/// own constant).
pub const ISAL_MAX_LEVEL: u32 = 3;
/// The highest compression level (libdeflate's slowest and smallest).
pub const MAX_LEVEL: u32 = 12;
/// The default uncompressed size of one member.
pub const DEFAULT_MEMBER_SIZE: usize = 1 << 20;
/// The largest allowed member size: keeps every member's compressed size in 32 bits.
pub const MAX_MEMBER_SIZE: usize = 1 << 30;

// ------------------------------------------------------------------------------------------
// Options

/// The deflate compressor that makes each member, with its level.
///
/// ```
/// use neurovox::io::gzip::GzCompressor;
/// // ISA-L when the `isal` feature is on, libdeflate otherwise.
/// let default = GzCompressor::default();
/// assert_eq!(default.level(), 2);
/// assert_eq!(GzCompressor::Libdeflate(9).level(), 9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GzCompressor {
    /// libdeflate at a level 0 (stored) to [`MAX_LEVEL`]; 1–9 compare roughly with zlib's.
    Libdeflate(u32),
    /// ISA-L's igzip at a level 0 to [`ISAL_MAX_LEVEL`] (only with the `isal` feature). A member ISA-L cannot
    /// compress (say, incompressible data overflowing its buffer) is compressed by
    /// libdeflate at [`DEFAULT_LEVEL`] instead.
    Isal(u32),
}

impl Default for GzCompressor {
    /// ISA-L at [`DEFAULT_ISAL_LEVEL`] with the `isal` feature, else libdeflate at
    /// [`DEFAULT_LEVEL`]: the fastest compressor built in whose files are about nibabel's
    /// size (docs/formats.md, "Why these choices").
    fn default() -> Self {
        if cfg!(feature = "isal") {
            GzCompressor::Isal(DEFAULT_ISAL_LEVEL)
        } else {
            GzCompressor::Libdeflate(DEFAULT_LEVEL)
        }
    }
}

impl GzCompressor {
    /// The level, on the compressor's own scale.
    pub fn level(self) -> u32 {
        match self {
            GzCompressor::Libdeflate(level) | GzCompressor::Isal(level) => level,
        }
    }

    /// Whether this build can use ISA-L (the `isal` feature).
    pub fn isal_available() -> bool {
        cfg!(feature = "isal")
    }
}

/// How a [`ParallelGzWriter`] compresses: compressor and level, member size and threads.
///
/// ```
/// use neurovox::io::gzip::{GzCompressor, GzWriteOptions};
/// let options = GzWriteOptions::new().level(6).member_size(4 << 20).threads(2);
/// assert_eq!(options.get_level(), 6);
/// assert_eq!(options.get_compressor(), GzCompressor::Libdeflate(6));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GzWriteOptions {
    compressor: GzCompressor,
    member_size: usize,
    threads: usize,
}

impl Default for GzWriteOptions {
    fn default() -> Self {
        GzWriteOptions {
            compressor: GzCompressor::default(),
            member_size: DEFAULT_MEMBER_SIZE,
            threads: 0,
        }
    }
}

impl GzWriteOptions {
    /// The defaults: [`GzCompressor::default`], [`DEFAULT_MEMBER_SIZE`], rayon's global
    /// pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// libdeflate at a compression level, 0 (stored) to [`MAX_LEVEL`] (1–9 compare
    /// roughly with zlib's). A level the user chose always means libdeflate's scale.
    pub fn level(mut self, level: u32) -> Self {
        self.compressor = GzCompressor::Libdeflate(level);
        self
    }

    /// The compressor and its level.
    pub fn compressor(mut self, compressor: GzCompressor) -> Self {
        self.compressor = compressor;
        self
    }

    /// Uncompressed bytes per member, 1 to [`MAX_MEMBER_SIZE`]. Below ~256 KiB the ratio
    /// suffers; larger members make random reads inflate more before their bytes.
    pub fn member_size(mut self, bytes: usize) -> Self {
        self.member_size = bytes;
        self
    }

    /// Compression threads: 0 (the default) uses rayon's global pool (all cores), 1
    /// compresses on the writing thread, n > 1 uses a pool of its own with n threads.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// The compression level, on the compressor's scale.
    pub fn get_level(&self) -> u32 {
        self.compressor.level()
    }

    /// The compressor and its level.
    pub fn get_compressor(&self) -> GzCompressor {
        self.compressor
    }

    /// The member size.
    pub fn get_member_size(&self) -> usize {
        self.member_size
    }

    /// The thread setting (0: rayon's global pool).
    pub fn get_threads(&self) -> usize {
        self.threads
    }

    fn validate(&self) -> Result<()> {
        match self.compressor {
            GzCompressor::Libdeflate(level) if level > MAX_LEVEL => {
                return Err(Error::usage(format!(
                    "gzip level {level} is over the maximum {MAX_LEVEL}"
                )));
            }
            GzCompressor::Isal(_) if !GzCompressor::isal_available() => {
                return Err(Error::usage(
                    "this build has no ISA-L compressor (the `isal` feature is off)",
                ));
            }
            GzCompressor::Isal(level) if level > ISAL_MAX_LEVEL => {
                return Err(Error::usage(format!(
                    "ISA-L level {level} is over the maximum {ISAL_MAX_LEVEL}"
                )));
            }
            _ => {}
        }
        if self.member_size == 0 || self.member_size > MAX_MEMBER_SIZE {
            return Err(Error::usage(format!(
                "gzip member size {} is outside 1..={MAX_MEMBER_SIZE}",
                self.member_size
            )));
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------
// Members

thread_local! {
    /// One libdeflate compressor per thread, for the level it was last used with.
    static COMPRESSOR: RefCell<Option<(u32, libdeflater::Compressor)>> = const { RefCell::new(None) };
}

/// Compresses `data` (non-empty, at most [`MAX_MEMBER_SIZE`] bytes) into `out` as one
/// complete data member.
fn compress_member(data: &[u8], compressor: GzCompressor, out: &mut Vec<u8>) -> io::Result<()> {
    let size = u32::try_from(data.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "gzip member over 4 GiB"))?;
    match compressor {
        GzCompressor::Libdeflate(level) => libdeflate_member(data, level, out)?,
        GzCompressor::Isal(level) if isal_deflate_member(data, level, out) => {}
        GzCompressor::Isal(_) => libdeflate_member(data, DEFAULT_LEVEL, out)?,
    }
    finish_member(data, size, out)
}

/// Compresses `data` with libdeflate at `level` into `out` after room for the member header.
fn libdeflate_member(data: &[u8], level: u32, out: &mut Vec<u8>) -> io::Result<()> {
    out.clear();
    COMPRESSOR.with(|slot| -> io::Result<()> {
        let mut slot = slot.borrow_mut();
        if !matches!(&*slot, Some((l, _)) if *l == level) {
            let lvl = libdeflater::CompressionLvl::new(level as i32).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidInput, "invalid compression level")
            })?;
            *slot = Some((level, libdeflater::Compressor::new(lvl)));
        }
        let Some((_, c)) = slot.as_mut() else {
            return Err(io::Error::other("libdeflate compressor missing"));
        };
        let bound = c.deflate_compress_bound(data.len());
        out.resize(MEMBER_HEADER_LEN + bound, 0);
        let n = c
            .deflate_compress(data, &mut out[MEMBER_HEADER_LEN..])
            .map_err(|_| io::Error::other("libdeflate output exceeded its own bound"))?;
        out.truncate(MEMBER_HEADER_LEN + n);
        Ok(())
    })
}

/// Compresses `data` with ISA-L into `out` after room for the member header; false if ISA-L
/// could not (the caller compresses it otherwise).
#[cfg(feature = "isal")]
fn isal_deflate_member(data: &[u8], level: u32, out: &mut Vec<u8>) -> bool {
    // Stored blocks cost 5 bytes per 64 KiB; ISA-L never needs more than that plus a
    // header, and says so (false) if it would.
    let bound = data.len() + 5 * (data.len() / 65_535 + 1) + 1024;
    out.clear();
    out.resize(MEMBER_HEADER_LEN, 0);
    super::isal::deflate_append(data, level, out, bound)
}

#[cfg(not(feature = "isal"))]
fn isal_deflate_member(_data: &[u8], _level: u32, _out: &mut Vec<u8>) -> bool {
    false
}

/// Appends the gzip trailer to the deflate stream in `out` (after its header's room) and
/// writes the member header.
fn finish_member(data: &[u8], size: u32, out: &mut Vec<u8>) -> io::Result<()> {
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    let len = u32::try_from(out.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "gzip member over 4 GiB"))?;
    out[..MEMBER_HEADER_LEN].copy_from_slice(&data_member_header(len, size));
    Ok(())
}

/// Compresses `data` into a complete neurovox gzip stream (data members of
/// [`DEFAULT_MEMBER_SIZE`], compressed in parallel on rayon's global pool, then the index).
/// `level` is clamped to [`MAX_LEVEL`].
///
/// ```
/// use neurovox::io::gzip::{compress_to_vec, DEFAULT_LEVEL};
/// use std::io::Read;
///
/// let data = vec![7u8; 3 << 20];
/// let gz = compress_to_vec(&data, DEFAULT_LEVEL);
/// let mut back = Vec::new();
/// flate2::read::MultiGzDecoder::new(&gz[..]).read_to_end(&mut back)?;
/// assert_eq!(back, data);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn compress_to_vec(data: &[u8], level: u32) -> Vec<u8> {
    use rayon::prelude::*;
    let level = level.min(MAX_LEVEL);
    let members: Vec<Vec<u8>> = data
        .par_chunks(DEFAULT_MEMBER_SIZE)
        .map(|chunk| {
            let mut out = Vec::new();
            // Cannot fail: the level is valid and the chunk is under 4 GiB.
            compress_member(chunk, GzCompressor::Libdeflate(level), &mut out).map(|()| out)
        })
        .collect::<io::Result<_>>()
        .unwrap_or_else(|e| panic!("compressing in memory failed: {e}"));
    let entries: Vec<(u32, u32)> = members
        .iter()
        .zip(data.chunks(DEFAULT_MEMBER_SIZE))
        .map(|(m, c)| (m.len() as u32, c.len() as u32))
        .collect();
    let index = encode_index(&entries);
    let mut out = Vec::with_capacity(members.iter().map(Vec::len).sum::<usize>() + index.len());
    for m in &members {
        out.extend_from_slice(m);
    }
    out.extend_from_slice(&index);
    out
}

// ------------------------------------------------------------------------------------------
// The writer

/// Where chunks are compressed.
enum Workers {
    /// On the writing thread.
    Inline,
    /// On rayon's global pool.
    Global,
    /// On a pool of our own.
    Pool(rayon::ThreadPool),
}

/// A compressed chunk coming back from a worker, with its input buffer for reuse.
struct Done {
    member: io::Result<Vec<u8>>,
    input: Vec<u8>,
}

/// A gzip writer that compresses independent members on all cores and ends the stream with
/// a member index (see the [module docs](self) and `docs/formats.md`).
///
/// Input is cut into chunks of the member size; each full chunk is compressed by a worker
/// while the caller goes on writing, and members reach the inner writer in order, from the
/// caller's thread, as they complete. At most about two chunks per thread are in flight,
/// so memory stays at a few MiB per thread. [`flush`](Write::flush) ends the current member
/// early (a short member) and writes everything out, so flush rarely.
/// [`finish`](Self::finish) writes the last member and the index and returns the inner
/// writer; dropping the writer unfinished finishes it and ignores errors (as flate2 does),
/// unless the thread is panicking.
///
/// ```
/// use neurovox::io::gzip::ParallelGzWriter;
/// use std::io::Write;
///
/// let mut gz = ParallelGzWriter::new(Vec::new());
/// gz.write_all(b"hello, members")?;
/// let bytes = gz.finish()?;
/// assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ParallelGzWriter<W: Write> {
    inner: Option<W>,
    compressor: GzCompressor,
    member_size: usize,
    workers: Workers,
    /// The compression threads (1 inline).
    threads: usize,
    max_in_flight: usize,
    chunk: Vec<u8>,
    in_flight: VecDeque<mpsc::Receiver<Done>>,
    spare_inputs: Vec<Vec<u8>>,
    spare_outputs: Vec<Vec<u8>>,
    /// (compressed length, uncompressed size) of every member written.
    members: Vec<(u32, u32)>,
    total_in: u64,
    total_out: u64,
    /// Set by the first error: the stream is broken and no more is written.
    failed: bool,
}

impl<W: Write> ParallelGzWriter<W> {
    /// A writer with the default options (level [`DEFAULT_LEVEL`], 1 MiB members, rayon's
    /// global pool).
    pub fn new(inner: W) -> Self {
        let options = GzWriteOptions::default();
        Self::build(inner, options, Workers::Global)
    }

    /// A writer with `options`; a Usage error for a level or member size out of range, an
    /// Io error if its thread pool cannot be started.
    pub fn with_options(inner: W, options: GzWriteOptions) -> Result<Self> {
        options.validate()?;
        let workers = match options.threads {
            0 => Workers::Global,
            1 => Workers::Inline,
            n => Workers::Pool(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .thread_name(|i| format!("neurovox-gzip-{i}"))
                    .build()
                    .map_err(|e| Error::io(io::Error::other(e)))?,
            ),
        };
        Ok(Self::build(inner, options, workers))
    }

    fn build(inner: W, options: GzWriteOptions, workers: Workers) -> Self {
        let threads = match &workers {
            Workers::Inline => 1,
            Workers::Global => rayon::current_num_threads(),
            Workers::Pool(pool) => pool.current_num_threads(),
        };
        ParallelGzWriter {
            inner: Some(inner),
            compressor: options.compressor,
            member_size: options.member_size,
            workers,
            threads: threads.max(1),
            max_in_flight: 2 * threads.max(1),
            chunk: Vec::new(),
            in_flight: VecDeque::new(),
            spare_inputs: Vec::new(),
            spare_outputs: Vec::new(),
            members: Vec::new(),
            total_in: 0,
            total_out: 0,
            failed: false,
        }
    }

    /// The inner writer.
    pub fn get_ref(&self) -> Option<&W> {
        self.inner.as_ref()
    }

    /// Uncompressed bytes accepted so far.
    pub fn total_in(&self) -> u64 {
        self.total_in + self.chunk.len() as u64
    }

    /// Compressed bytes written to the inner writer so far.
    pub fn total_out(&self) -> u64 {
        self.total_out
    }

    /// Writes the last member and the index, flushes, and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.finish_members()?;
        self.inner.take().ok_or_else(finished)
    }

    fn finish_members(&mut self) -> io::Result<()> {
        self.flush_members()?;
        let index = encode_index(&self.members);
        self.write_inner(&index)?;
        self.inner_mut()?
            .flush()
            .inspect_err(|_| self.failed = true)
    }

    fn inner_mut(&mut self) -> io::Result<&mut W> {
        if self.failed {
            return Err(io::Error::other(
                "an earlier error broke this gzip stream; it cannot be written further",
            ));
        }
        self.inner.as_mut().ok_or_else(finished)
    }

    fn write_inner(&mut self, bytes: &[u8]) -> io::Result<()> {
        let result = self.inner_mut()?.write_all(bytes);
        if result.is_err() {
            self.failed = true;
        } else {
            self.total_out += bytes.len() as u64;
        }
        result
    }

    /// Compresses the current chunk (if any) and writes every member in flight.
    fn flush_members(&mut self) -> io::Result<()> {
        if !self.chunk.is_empty() {
            self.submit()?;
        }
        while let Some(rx) = self.in_flight.pop_front() {
            self.receive(rx)?;
        }
        Ok(())
    }

    /// Hands the current chunk to a worker (or compresses it here) and writes whatever
    /// members are ready.
    fn submit(&mut self) -> io::Result<()> {
        self.inner_mut()?;
        let input = std::mem::replace(&mut self.chunk, self.spare_inputs.pop().unwrap_or_default());
        self.total_in += input.len() as u64;
        let mut output = self.spare_outputs.pop().unwrap_or_default();
        let compressor = self.compressor;
        let (tx, rx) = mpsc::sync_channel(1);
        let job = move || {
            let member = compress_member(&input, compressor, &mut output).map(|()| output);
            // The writer may have given up (dropped after an error): nothing to do then.
            let _ = tx.send(Done { member, input });
        };
        match &self.workers {
            Workers::Inline => job(),
            Workers::Global => rayon::spawn(job),
            Workers::Pool(pool) => pool.spawn(job),
        }
        self.in_flight.push_back(rx);
        // Write what is done, in order, without waiting ...
        while let Some(front) = self.in_flight.front() {
            match front.try_recv() {
                Ok(done) => {
                    self.in_flight.pop_front();
                    self.write_done(done)?;
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return Err(self.worker_died()),
            }
        }
        // ... and wait only when too much is in flight.
        while self.in_flight.len() > self.max_in_flight {
            if let Some(rx) = self.in_flight.pop_front() {
                self.receive(rx)?;
            }
        }
        Ok(())
    }

    fn receive(&mut self, rx: mpsc::Receiver<Done>) -> io::Result<()> {
        match wait(&rx, matches!(self.workers, Workers::Global)) {
            Some(done) => self.write_done(done),
            None => Err(self.worker_died()),
        }
    }

    fn worker_died(&mut self) -> io::Error {
        self.failed = true;
        io::Error::other("a gzip compression worker stopped without a result")
    }

    fn write_done(&mut self, done: Done) -> io::Result<()> {
        let Done { member, mut input } = done;
        let member = member.inspect_err(|_| self.failed = true)?;
        self.write_member(member, input.len())?;
        if self.spare_inputs.len() <= self.max_in_flight {
            input.clear();
            self.spare_inputs.push(input);
        }
        Ok(())
    }

    /// Writes a compressed member of `size` input bytes, records it for the index and keeps
    /// its buffer for reuse.
    fn write_member(&mut self, member: Vec<u8>, size: usize) -> io::Result<()> {
        self.write_inner(&member)?;
        // Both fit in u32: members are at most MAX_MEMBER_SIZE and compress_member checked.
        self.members.push((member.len() as u32, size as u32));
        if self.spare_outputs.len() <= self.max_in_flight {
            self.spare_outputs.push(member);
        }
        Ok(())
    }
}

/// Waits for a worker's result; `None` if the worker died. A writer running on a thread of
/// rayon's global pool, whose jobs go to that same pool, runs other jobs while it waits, so a
/// one-thread pool cannot deadlock.
fn wait(rx: &mpsc::Receiver<Done>, global: bool) -> Option<Done> {
    if !global || rayon::current_thread_index().is_none() {
        return rx.recv().ok();
    }
    loop {
        match rx.recv_timeout(std::time::Duration::from_micros(200)) {
            Ok(done) => return Some(done),
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = rayon::yield_now();
            }
        }
    }
}

fn finished() -> io::Error {
    io::Error::other("the gzip stream was already finished")
}

/// A write holding at least this many whole members (past a partly filled chunk) compresses
/// them straight from the caller's buffer.
const BORROWED_MIN_MEMBERS: usize = 4;

impl<W: Write> ParallelGzWriter<W> {
    /// Compresses `data`, a whole number of members, straight from the caller's buffer: no
    /// copy into chunks (a save of a 221 MB array copied all of it, and kept a few chunks of
    /// it in memory). Members already in flight are written first; then windows of a member
    /// per thread are compressed in parallel and written in order (two per thread held 1.8
    /// MiB more of compressed float data, to save 4–7 ms on the benchmark's 64 MiB float32
    /// volume: 0.042–0.045 s against 0.046–0.052 s, where nibabel takes 0.62 s).
    fn compress_borrowed(&mut self, data: &[u8]) -> io::Result<()> {
        use rayon::prelude::*;
        while let Some(rx) = self.in_flight.pop_front() {
            self.receive(rx)?;
        }
        let compressor = self.compressor;
        let member_size = self.member_size;
        let per_window = self.threads;
        for window in data.chunks(member_size * per_window) {
            let mut outputs: Vec<Vec<u8>> = (0..window.len().div_ceil(member_size))
                .map(|_| self.spare_outputs.pop().unwrap_or_default())
                .collect();
            let mut compress = || {
                window
                    .par_chunks(member_size)
                    .zip(outputs.par_iter_mut())
                    .try_for_each(|(chunk, out)| compress_member(chunk, compressor, out))
            };
            match &self.workers {
                Workers::Pool(pool) => pool.install(compress),
                Workers::Global | Workers::Inline => compress(),
            }
            .inspect_err(|_| self.failed = true)?;
            for (member, chunk) in outputs.into_iter().zip(window.chunks(member_size)) {
                self.write_member(member, chunk.len())?;
                self.total_in += chunk.len() as u64;
            }
        }
        Ok(())
    }
}

/// What [`ParallelGzWriter::write_produced`] calls to make bytes: `fill(offset, buf)` fills
/// `buf` with the bytes from `offset`, on whichever compression thread needs them.
///
/// ```
/// use neurovox::io::gzip::Producer;
/// let zeros: &Producer<'_> = &|_offset, buf| {
///     buf.fill(0);
///     Ok(())
/// };
/// let mut buf = [1u8; 4];
/// zeros(4096, &mut buf)?;
/// assert_eq!(buf, [0; 4]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub type Producer<'a> = dyn Fn(usize, &mut [u8]) -> io::Result<()> + Sync + 'a;

impl<W: Write> ParallelGzWriter<W> {
    /// Writes `len` bytes that `fill` makes, as [`write_all`](Write::write_all) of those
    /// bytes would: `fill(offset, buf)` fills `buf` with the bytes from `offset` (counted from
    /// the first of the `len`). Each compression thread makes the input of the member it
    /// compresses, so that a member per thread, in and out, is all this holds, however large
    /// `len` is: a caller converting values on the way (an image's data to its stored type)
    /// keeps no converted pieces of its own beside the writer's. An error from `fill` is
    /// returned as it is, and the stream is broken (as after any failed write).
    ///
    /// ```
    /// use neurovox::io::gzip::ParallelGzWriter;
    /// use std::io::{Read, Write};
    /// let mut gz = ParallelGzWriter::new(Vec::new());
    /// gz.write_all(b"header:")?;
    /// // Three million bytes counting 0, 1, 2, ... modulo 251, made where they are compressed.
    /// gz.write_produced(3_000_000, &|offset, buf| {
    ///     for (i, b) in buf.iter_mut().enumerate() {
    ///         *b = ((offset + i) % 251) as u8;
    ///     }
    ///     Ok(())
    /// })?;
    /// let file = gz.finish()?;
    /// let mut back = Vec::new();
    /// flate2::read::MultiGzDecoder::new(&file[..]).read_to_end(&mut back)?;
    /// assert_eq!(&back[..7], b"header:");
    /// assert!(back[7..].iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_produced(&mut self, len: usize, fill: &Producer<'_>) -> io::Result<()> {
        self.inner_mut()?;
        let mut done = 0;
        if !self.chunk.is_empty() {
            // Complete the member already begun (the header written before the data).
            done = (self.member_size - self.chunk.len()).min(len);
            self.fill_chunk(0, done, fill)?;
            if self.chunk.len() == self.member_size {
                self.submit()?;
            }
        }
        let whole = (len - done) / self.member_size * self.member_size;
        if whole > 0 {
            self.compress_produced(done, whole, fill)?;
            done += whole;
        }
        // The rest begins the next member.
        self.fill_chunk(done, len - done, fill)
    }

    /// Gives the current chunk room for a whole member, once: it never grows past one.
    fn reserve_chunk(&mut self) {
        if self.chunk.capacity() < self.member_size {
            self.chunk
                .reserve_exact(self.member_size - self.chunk.len());
        }
    }

    /// Appends `count` bytes made by `fill` from `offset` to the current chunk.
    fn fill_chunk(&mut self, offset: usize, count: usize, fill: &Producer<'_>) -> io::Result<()> {
        if count == 0 {
            return Ok(());
        }
        self.reserve_chunk();
        let start = self.chunk.len();
        self.chunk.resize(start + count, 0);
        fill(offset, &mut self.chunk[start..]).inspect_err(|_| self.failed = true)
    }

    /// Makes and compresses `len` bytes (whole members) from `offset` of what `fill` makes, a
    /// member per thread at a time, each made by the thread that compresses it, and writes the
    /// members in order. The current chunk is empty.
    fn compress_produced(
        &mut self,
        offset: usize,
        len: usize,
        fill: &Producer<'_>,
    ) -> io::Result<()> {
        use rayon::prelude::*;
        while let Some(rx) = self.in_flight.pop_front() {
            self.receive(rx)?;
        }
        let compressor = self.compressor;
        let member_size = self.member_size;
        let per_window = self.threads;
        let mut inputs: Vec<Vec<u8>> = (0..per_window)
            .map(|_| self.spare_inputs.pop().unwrap_or_default())
            .collect();
        let mut outputs: Vec<Vec<u8>> = (0..per_window)
            .map(|_| self.spare_outputs.pop().unwrap_or_default())
            .collect();
        for window in (0..len).step_by(member_size * per_window) {
            let count = ((len - window) / member_size).min(per_window);
            let make = |(k, (input, out)): (usize, (&mut Vec<u8>, &mut Vec<u8>))| {
                // Reused buffers are already member-sized: nothing is cleared twice.
                input.resize(member_size, 0);
                fill(offset + window + k * member_size, input)?;
                compress_member(input, compressor, out)
            };
            let (ins, outs) = (&mut inputs[..count], &mut outputs[..count]);
            let made = match &self.workers {
                Workers::Inline => ins.iter_mut().zip(outs).enumerate().try_for_each(make),
                Workers::Global => (ins.par_iter_mut().zip(outs).enumerate()).try_for_each(make),
                Workers::Pool(pool) => {
                    pool.install(|| (ins.par_iter_mut().zip(outs).enumerate()).try_for_each(make))
                }
            };
            made.inspect_err(|_| self.failed = true)?;
            for k in 0..count {
                let member = std::mem::take(&mut outputs[k]);
                self.write_member(member, member_size)?;
                outputs[k] = self.spare_outputs.pop().unwrap_or_default();
                self.total_in += member_size as u64;
            }
        }
        self.spare_inputs.extend(inputs);
        self.spare_outputs.extend(outputs);
        Ok(())
    }
}

impl<W: Write> Write for ParallelGzWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner_mut()?;
        let mut rest = buf;
        while !rest.is_empty() {
            if self.chunk.is_empty()
                && rest.len() >= BORROWED_MIN_MEMBERS * self.member_size
                && !matches!(self.workers, Workers::Inline)
            {
                let whole = rest.len() - rest.len() % self.member_size;
                self.compress_borrowed(&rest[..whole])?;
                rest = &rest[whole..];
                continue;
            }
            self.reserve_chunk();
            let n = (self.member_size - self.chunk.len()).min(rest.len());
            self.chunk.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.chunk.len() == self.member_size {
                self.submit()?;
            }
        }
        Ok(buf.len())
    }

    /// Ends the current member early, writes every member and flushes the inner writer.
    fn flush(&mut self) -> io::Result<()> {
        self.flush_members()?;
        self.inner_mut()?
            .flush()
            .inspect_err(|_| self.failed = true)
    }
}

impl<W: Write> Drop for ParallelGzWriter<W> {
    fn drop(&mut self) {
        if self.inner.is_some() && !self.failed && !std::thread::panicking() {
            let _ = self.finish_members();
        }
    }
}

impl<W: Write> std::fmt::Debug for ParallelGzWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelGzWriter")
            .field("compressor", &self.compressor)
            .field("member_size", &self.member_size)
            .field("members", &self.members.len())
            .field("in_flight", &self.in_flight.len())
            .field("total_in", &self.total_in())
            .field("total_out", &self.total_out)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::member_index::*;
    use super::*;
    use crate::error::ErrorKind;
    use std::io::Read;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn parse_file(bytes: &[u8]) -> Result<Option<MemberIndex>> {
        let tail = &bytes[bytes.len() - TAIL_LEN..];
        let Some(len) = MemberIndex::parse_tail(tail, bytes.len() as u64)? else {
            return Ok(None);
        };
        MemberIndex::parse(&bytes[bytes.len() - len as usize..], bytes.len() as u64).map(Some)
    }

    #[test]
    fn data_member_header_bytes() {
        assert_eq!(
            data_member_header(0x0102_0304, 0x0010_0000),
            [
                0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0,
                255, // magic, deflate, FEXTRA, MTIME, XFL, OS
                14, 0, b'N', b'V', 10, 0, // XLEN, subfield ID, LEN
                1, 0, // version, kind = data
                4, 3, 2, 1, // member length
                0, 0, 0x10, 0, // uncompressed size
            ]
        );
    }

    #[test]
    fn empty_stream_is_one_index_member() {
        let gz = compress_to_vec(&[], 6);
        assert_eq!(gz.len(), 26 + 4 + 32);
        #[rustfmt::skip]
        let want: Vec<u8> = [
            &[0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 255][..],
            &[40, 0, b'N', b'V', 36, 0], // XLEN = 40, LEN = 36
            &[1, 2, 0, 0],               // version, kind = last index, 0 entries
            &[0; 8],                     // total size
            &[0; 8],                     // member count
            &[62, 0, 0, 0, 0, 0, 0, 0],  // index length
            &[0; 4],                     // CRC32 of no entries
            b"NVIX",
            &[3, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ]
        .concat();
        assert_eq!(gz, want);
        assert!(gunzip(&gz).is_empty());
        let index = parse_file(&gz).unwrap().unwrap();
        assert_eq!(index.total_size(), 0);
        assert!(index.members().is_empty());
        assert_eq!(index.member_at(0), None);
    }

    #[test]
    fn index_lists_every_member() {
        let data: Vec<u8> = (0..2_500_000u32).map(|i| (i % 253) as u8).collect();
        let gz = compress_to_vec(&data, 2);
        assert_eq!(gunzip(&gz), data);
        let index = parse_file(&gz).unwrap().unwrap();
        let m = index.members();
        assert_eq!(m.len(), 3);
        assert_eq!((m[0].offset, m[0].out, m[0].size), (0, 0, 1 << 20));
        assert_eq!(m[1].offset, u64::from(m[0].len));
        assert_eq!(m[2].out, 2 << 20);
        assert_eq!(m[2].size, 2_500_000 - (2 << 20));
        for e in m {
            let o = e.offset as usize;
            assert!(member_header_matches(&gz[o..o + 26], e));
        }
        assert_eq!(index.member_at(0), Some(0));
        assert_eq!(index.member_at((1 << 20) - 1), Some(0));
        assert_eq!(index.member_at(1 << 20), Some(1));
        assert_eq!(index.member_at(2_499_999), Some(2));
        assert_eq!(index.member_at(2_500_000), None);
    }

    /// Bytes made by the compression threads give the stream that writing them gives: the
    /// same members (each a whole gzip member of the same bytes), whatever was written
    /// before, the threads and the lengths (none, within a member, whole members, members and
    /// a rest). Compressed bytes are not compared: ISA-L does not always compress the same
    /// member to the same bytes (one process in ten wrote other bytes than its first write in
    /// most of 600 writes of this data, through either path; every one inflated to the data).
    #[test]
    fn produced_bytes_make_the_stream_their_write_makes() {
        let byte = |i: usize| (i * 7 % 251) as u8 ^ (i / 3000) as u8;
        for threads in [0, 1, 2, 3] {
            for before in [0usize, 7, 1000, 1500] {
                for len in [0usize, 1, 993, 1000, 5500, 12_345] {
                    let options = GzWriteOptions::new().member_size(1000).threads(threads);
                    let prefix: Vec<u8> = (0..before).map(|i| i as u8).collect();
                    let data: Vec<u8> = (0..len).map(byte).collect();
                    let mut written = ParallelGzWriter::with_options(Vec::new(), options).unwrap();
                    written.write_all(&prefix).unwrap();
                    written.write_all(&data).unwrap();
                    written.write_all(b"after").unwrap();
                    let mut made = ParallelGzWriter::with_options(Vec::new(), options).unwrap();
                    made.write_all(&prefix).unwrap();
                    made.write_produced(len, &|offset, buf| {
                        assert!(offset + buf.len() <= len);
                        buf.iter_mut()
                            .enumerate()
                            .for_each(|(i, b)| *b = byte(offset + i));
                        Ok(())
                    })
                    .unwrap();
                    made.write_all(b"after").unwrap();
                    let case = format!("threads {threads}, {before} + {len} bytes");
                    let (written, made) = (written.finish().unwrap(), made.finish().unwrap());
                    assert!(gunzip(&written) == gunzip(&made), "{case}");
                    assert_eq!(gunzip(&made)[before..before + len], data[..], "{case}");
                    let index = parse_file(&made).unwrap().unwrap();
                    let sizes = |members: &[MemberEntry]| {
                        members.iter().map(|m| (m.out, m.size)).collect::<Vec<_>>()
                    };
                    let written_index = parse_file(&written).unwrap().unwrap();
                    assert_eq!(
                        sizes(index.members()),
                        sizes(written_index.members()),
                        "{case}"
                    );
                    for m in index.members() {
                        // Every member is a gzip stream of its own.
                        let (at, end) = (m.offset as usize, (m.offset + u64::from(m.len)) as usize);
                        assert_eq!(gunzip(&made[at..end]).len(), m.size as usize, "{case}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_failed_production_is_returned_and_breaks_the_stream() {
        for threads in [1, 2] {
            let options = GzWriteOptions::new().member_size(1000).threads(threads);
            let mut gz = ParallelGzWriter::with_options(Vec::new(), options).unwrap();
            gz.write_all(&[1; 10]).unwrap();
            let err = gz
                .write_produced(10_000, &|offset, buf| {
                    buf.fill(2);
                    if offset >= 4990 {
                        Err(io::Error::other("the values ran out"))
                    } else {
                        Ok(())
                    }
                })
                .unwrap_err();
            assert_eq!(err.to_string(), "the values ran out");
            assert!(gz.write_all(&[0u8; 1]).is_err());
            assert!(gz.finish().is_err());
        }
    }

    #[test]
    fn many_members_need_several_index_members() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let mut gz = ParallelGzWriter::with_options(
            Vec::new(),
            GzWriteOptions::new().member_size(2).threads(1),
        )
        .unwrap();
        gz.write_all(&data).unwrap();
        let bytes = gz.finish().unwrap();
        assert_eq!(gunzip(&bytes), data);
        let index = parse_file(&bytes).unwrap().unwrap();
        assert_eq!(index.members().len(), 10_000);
        assert_eq!(index.total_size(), 20_000);
        let len = bytes.len() as u64 - index.index_offset();
        assert_eq!(len, index_len(10_000));
        assert_eq!(len, 2 * 30 + 10_000 * 8 + 32);
    }

    #[test]
    fn tails_that_are_not_ours_are_none() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(&[5u8; 100_000]).unwrap();
        let plain = e.finish().unwrap();
        assert!(parse_file(&plain).unwrap().is_none());
        let e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        let empty = e.finish().unwrap(); // ends 03 00 + zeros, but no footer
        assert_eq!(empty.len(), 20);
        assert!(MemberIndex::parse_tail(&empty[..], 20).unwrap().is_none());
    }

    #[test]
    fn every_corrupted_index_byte_is_an_error_or_not_ours() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i / 100 % 256) as u8).collect();
        let gz = compress_to_vec(&data, 1);
        let good = parse_file(&gz).unwrap().unwrap();
        let start = good.index_offset() as usize;
        for i in start..gz.len() {
            for flip in [0x01u8, 0x80] {
                let mut bad = gz.clone();
                bad[i] ^= flip;
                match parse_file(&bad) {
                    Ok(None) => {}
                    Ok(Some(index)) => {
                        // Only MTIME/XFL/OS of the index member may change unnoticed.
                        assert!((4..10).contains(&(i - start)), "byte {i}: {index:?}");
                        assert_eq!(index, good);
                    }
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::Format);
                        assert!(e.byte_offset().is_some(), "{e}");
                    }
                }
            }
        }
    }

    #[test]
    fn inconsistent_sizes_are_errors() {
        // A valid index for a different file: the members do not tile this one.
        let a = compress_to_vec(&[1u8; 3_000_000], 2);
        let b = compress_to_vec(&[2u8; 100], 2);
        let cat = [&a[..], &b[..]].concat();
        let e = parse_file(&cat).unwrap_err();
        assert!(e.message().contains("end at byte"), "{e}");
    }

    #[test]
    fn options_are_checked() {
        let e = ParallelGzWriter::with_options(Vec::new(), GzWriteOptions::new().level(13))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        let e = ParallelGzWriter::with_options(Vec::new(), GzWriteOptions::new().member_size(0))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        assert!(
            ParallelGzWriter::with_options(
                Vec::new(),
                GzWriteOptions::new().member_size(MAX_MEMBER_SIZE + 1)
            )
            .is_err()
        );
    }

    #[test]
    fn flush_ends_a_member_and_writes_everything() {
        let mut gz =
            ParallelGzWriter::with_options(Vec::new(), GzWriteOptions::new().threads(2)).unwrap();
        gz.write_all(b"abc").unwrap();
        gz.flush().unwrap();
        let so_far = gz.get_ref().unwrap().len();
        assert_eq!(so_far as u64, gz.total_out());
        assert_eq!(gunzip(gz.get_ref().unwrap()), b"abc");
        gz.write_all(b"def").unwrap();
        let bytes = gz.finish().unwrap();
        assert_eq!(gunzip(&bytes), b"abcdef");
        let index = parse_file(&bytes).unwrap().unwrap();
        assert_eq!(index.members().len(), 2);
    }

    #[test]
    fn drop_finishes_the_stream() {
        let mut out = Vec::new();
        {
            let mut gz = ParallelGzWriter::new(&mut out);
            gz.write_all(&[9u8; 5000]).unwrap();
        }
        assert_eq!(gunzip(&out), vec![9u8; 5000]);
        assert!(parse_file(&out).unwrap().is_some());
    }

    #[test]
    fn write_errors_stick() {
        struct Failing(usize);
        impl Write for Failing {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk full"));
                }
                self.0 -= 1;
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut gz = ParallelGzWriter::with_options(
            Failing(1),
            GzWriteOptions::new().member_size(10).threads(1),
        )
        .unwrap();
        gz.write_all(&[0u8; 10]).unwrap();
        assert!(gz.write_all(&[0u8; 10]).is_err());
        assert!(gz.write_all(&[0u8; 1]).is_err());
        assert!(gz.finish().is_err());

        // The same through a large write compressed from the caller's buffer, on a pool.
        let mut gz = ParallelGzWriter::with_options(
            Failing(2),
            GzWriteOptions::new().member_size(10).threads(2),
        )
        .unwrap();
        assert!(gz.write_all(&[0u8; 100]).is_err());
        assert!(gz.write_all(&[0u8; 100]).is_err());
        assert!(gz.finish().is_err());
    }
}
