//! Random access into gzip files: a zran-style checkpoint index, built lazily and shared by
//! every read and every thread.
//!
//! A DEFLATE stream can only be resumed at a block boundary, and only with the 32 KiB of output
//! before it (the LZ77 window). [`GzipSource`] therefore decompresses the file once, front to
//! back, and at the first block boundary after every `span` bytes of output records a
//! *checkpoint*: the output offset, the compressed offset in bits, and the window, stored
//! deflate-compressed. The start of every gzip member is a boundary too, and one that needs no
//! window. A later read starts a fresh inflater at the last checkpoint at or before its first
//! byte (zlib's `inflatePrime` for the bit offset, `inflateSetDictionary` for the window) and so
//! decompresses at most about one span plus one deflate block before the bytes it wants.
//!
//! The first pass is lazy and incremental. [`GzipSource::open`] reads nothing but the magic
//! bytes. A read that reaches past what has been indexed so far advances the one first-pass
//! inflater (kept, paused, between reads) just far enough to cover the read, recording
//! checkpoints on the way and handing the read its bytes as they go by; reading a header at
//! offset 0 of a large file costs a few hundred bytes of inflation, not the file. The first
//! pass verifies every member's CRC32 and ISIZE; it understands concatenated members (as
//! `pigz` writes them), zero padding after the last member, and all header flags. A read
//! whose range is already indexed takes the index lock only to look up its checkpoint, then
//! decompresses on its own inflater, so any number of threads read one source in parallel.
//! Only reads that push the first pass further wait for each other.
//!
//! Memory is the index (a few dozen bytes plus one compressed window per checkpoint), the span
//! cache (at most [`DEFAULT_SPAN_CACHE_BYTES`], filled only by small reads) plus, per read, one
//! inflater, a 128 KiB input buffer and a 128 KiB scratch buffer. No size read
//! from the file (ISIZE, header fields) is used to allocate on its own; a reader may size its
//! output by a header's claim only when [`Source::may_hold`] accepts it, which bounds the claim by
//! what the file's bytes can inflate to (`TrailerClaim`). A truncated or corrupt file
//! gives a [`Format`](crate::ErrorKind::Format) error naming the file and the compressed byte
//! offset; bytes handed out before the corruption was reached are not taken back.
//!
//! # Why our own zran, and why on zlib-rs
//!
//! Both candidate crates were read (their 0.3.1 and 0.1.0 sources) and weighed against what
//! this module needs and what we measured:
//!
//! * `rapidgzip-core` 0.3.1 makes an index only as a by-product of a complete decode
//!   (`decode_with_index`, or an indexing reader whose index exists at `finish()`), so the
//!   first read of a header would cost a full pass. Its `IndexedReader` is `Read + Seek` and
//!   owns its `DeflateIndex` by value: sharing one index between threads means cloning every
//!   window per reader or serialising reads behind a lock. It brings 25 kLoC and its own
//!   worker runtime. Its strengths (parallel whole-file decode, GZIDX import for indexes
//!   shared with Python's `indexed_gzip`) remain worth adopting later, beside this module.
//! * `indexed_deflate` 0.1.0 (a single release) stops at the end of the first gzip member
//!   (concatenated members are not read), never checks the CRC32/ISIZE trailer, builds its
//!   index only by a full pass into a separate `Write + Seek` index stream, and decodes with
//!   `miniz_oxide`, which measured ~25 % slower than zlib-rs here (415 vs 545 MB/s, level 6).
//!
//! Our own zran is one file. It needs `inflate(Z_BLOCK)` with the block-boundary and
//! unused-bit fields of `data_type`, `inflatePrime`, `inflateSetDictionary` and
//! `inflateGetDictionary`. flate2's safe API has none of these; zlib-rs's safe `Inflate` has
//! `Z_BLOCK` and `set_dictionary` but neither `data_type`, `prime` nor `get_dictionary`. So
//! this module calls zlib-rs through its zlib C API (`libz-rs-sys`: the same inflate code
//! flate2 runs, pure Rust, no C toolchain, no exported C symbols). That FFI is the only
//! `unsafe` here, confined to the small `zlib` wrapper module at the end of this file.
//! `miniz_oxide`'s `block-boundary` feature would allow a fully safe implementation, but it
//! inflated 25–30 % slower than zlib-rs on our int16 test volumes (415 vs 545 MB/s at level 6,
//! 330 vs 460 MB/s at level 2). The first pass costs as much as a full load, so we chose the
//! speed and kept the unsafe surface to one wrapper of eight zlib calls.
//!
//! # Files with one huge deflate block
//!
//! Checkpoints can only sit at block (or member) boundaries. zlib-rs at level 1 (the "quick"
//! strategy it ports from zlib-ng, which flate2 with its zlib-rs backend uses for
//! `Compression::fast()`) keeps **one block open for (nearly) the whole stream** unless the
//! writer flushes: we found a single block boundary in a 200 MB stream. Such a file gets about
//! one checkpoint per member, and a late read inflates from there. Stock zlib (and so Python's
//! `gzip` and nibabel, pigz) at any level and zlib-rs at levels ≥ 2 end a block every few tens
//! of KiB of output. Writers that want fast random access should use level ≥ 2 or one member
//! per volume (each member start is a checkpoint).
//!
//! # Files written by neurovox: no first pass, parallel members
//!
//! [`ParallelGzWriter`](super::writer::ParallelGzWriter) writes independent members of
//! about 1 MiB and ends the file with a member index (layout in `docs/formats.md`).
//! [`GzipSource::open`] reads the file's last 42 bytes; if they are that index's footer it
//! reads the index (one more read), checks it strictly ([`MemberIndex::read_from`]: magic,
//! flags, subfield ID, version, CRC32 of the entries, members tiling the file exactly), and
//! then every member start is a checkpoint with no window, the length is known
//! ([`Source::len_hint`]) and the first pass never runs. A read then checks the header of each
//! member it starts in against the index, and decompresses its members **in parallel** on
//! rayon's pool. Members it covers whole go straight into the caller's buffer through
//! libdeflate, which also checks their CRC32 and ISIZE; so do the partial members at its two
//! ends, inflated whole into the span cache (below). A read that ends within the first
//! 64 KiB of a member streams it through zlib-rs from its start and stops at the last byte
//! wanted, so a header read inflates only the header. A
//! file whose tail is not our footer is read the ordinary way; one whose index is
//! inconsistent too, and [`GzipSource::member_index_error`] says why. A member that does
//! not match its index entry (the file changed, or the index lies consistently with itself
//! but not with the data) is a Format error, never different bytes.
//!
//! # Whole reads in one call
//!
//! A first pass is zlib-rs streaming with checkpoints. A read of a file's whole stream after
//! its header — `np.asarray(img.dataobj)`, `get_fdata(dtype=)` of the stored float type —
//! needs no checkpoints, and goes faster through an inflater that records none, writing the
//! stream from its first byte into one buffer (its back-references reach into the header
//! before the data). So such a read asks its caller for room before its output
//! ([`Source::room_for_read`]; the Python reader and `ArrayProxy::read_raw` allocate the
//! array with the header's bytes in front; a read from byte 0, such as the `.img.gz` of a
//! pair, needs none) and inflates the file's first member in one go, CRC32 and ISIZE
//! checked, when: the last trailer's ISIZE is where the read ends, the file is at most
//! [`ONE_CALL_MAX_COMPRESSED`] bytes or the parallel read below may serve it, no index
//! covers the range (an index reads it on both cores) and the header has no header CRC (the
//! first pass checks one; the one-go engines do not all do). A member that does not fill
//! the read exactly, or data the engine
//! refuses, is read the ordinary way, whose first pass names the damage as any read does.
//!
//! The engine is ISA-L's streaming inflater with the `isal` feature (the command and the
//! Python package), fed a MiB of the file at a time (module `isal`), and libdeflate's
//! one-call inflater without it, which needs all of the compressed bytes in memory. Measured
//! with `benches/matrix.py` and `examples/inflate_engines.rs` (`--features isal`) on the
//! 221 MB int16 run (53 MB nibabel-written `.nii.gz`) and the 64 MB float32 anatomical
//! (19 MB): the first pass alone takes 0.212 and 0.078 s into a warm buffer; libdeflate
//! 0.158 and 0.059 s, ISA-L 0.170 and 0.065 s; with the file read and a fresh output as a
//! reader meets them, libdeflate 0.293 and 0.091 s, ISA-L 0.275 and 0.096 s. ISA-L holds
//! one MiB of the compressed file where libdeflate holds all of it: `np.asarray(dataobj)`
//! of the int16 run peaked at 300 MiB with libdeflate and 252 with ISA-L (nibabel 273), in
//! 0.208 and 0.192 s (nibabel 0.473). The cap keeps libdeflate's memory bounded (the
//! 885 MB float64 run, 239 MB compressed, peaked at 1,114 MiB against nibabel's 906), and
//! for both engines keeps the checkpoints of the first pass for large files, whose later
//! random reads need them most.
//!
//! On two or more cores (rayon's pool size) a file of at least 4 MiB is first inflated in
//! chunks on every core (module `parallel_inflate`: one worker from the start, the others
//! from block headers they find near the end, with the window each chunk needs resolved by
//! inflating its start twice with two guessed windows); a file it does not serve (blocks
//! the header search cannot find, more members, damage) falls through to the engine above,
//! or above the cap to the first pass. The workers note the block boundaries they pass,
//! one per [`DEFAULT_SPAN`] as the first pass does (stopping at a block end only once one
//! is due), and these become the complete checkpoint index, each window deflated from the
//! finished output on every core: later partial reads never run a first pass, which is
//! why this read has no size cap. On the 885 MB float64 run (239 MB compressed) a whole
//! read took 0.98 s with the first pass and 0.60–0.63 s this way
//! (`benches/matrix.py --sides nibabel,py --only "get_fdata() float64 .nii.gz"`, nibabel
//! 1.56 s); four volumes of the int16 run after its whole read took 11–12 ms from this
//! index, against 9.4 ms from the first pass's (nibabel 330 ms). Its memory is the
//! chunk a backward worker holds: the compressed bytes of each chunk's unresolved start are
//! read again at the end rather than kept (8 MB of that file), and the windows the last
//! step needs are the output's own bytes, not copies.
//! Measured with `benches/matrix.py --sides nibabel,py` at 343e436, two runs each way, the
//! old path forced by a temporary switch: `np.asarray(dataobj)` of the float32 anatomical
//! 0.069–0.070 → 0.052 s (nibabel 0.133–0.139; memory 105 → 124 MiB, nibabel 126), of the
//! int16 run 0.188 → 0.146–0.155 s (252 → 270 MiB, nibabel 273). The memory is the chunk a
//! backward worker holds (about 4 MiB of output) and its compressed bytes.
//!
//! A one-go read on one core (ISA-L or libdeflate) records no checkpoints. Random access
//! afterwards starts the first pass lazily, from the start, at the first partial read (as
//! before any read), which is what the first full read would have cost anyway; recording
//! checkpoints needs a streaming inflater that stops at block boundaries (zlib-rs's
//! `Z_BLOCK` stops), whose speed is what the one go avoids. A file read often at random
//! keeps its index across processes with
//! `neurovox index` (module [`index_file`](super::index_file)); with one, whole reads
//! inflate spans on both cores instead.
//!
//! # Small reads: the span cache
//!
//! A key such as `[i, j, ...]` on a 4-D image is one tiny segment per slice of every volume.
//! A read of less than half a span inflates the whole span between its two checkpoints (or
//! its whole member) into a per-source cache of recently used spans
//! ([`DEFAULT_SPAN_CACHE_BYTES`], module [`span_cache`](super::span_cache)), so the next
//! segments in that span are copies: a key inflates each span it touches once. Larger reads
//! go straight into the caller's buffer.
//!
//! # Sequential reads
//!
//! A slab read with post-slicing (`dataobj[48]` on a 4-D image), a streamed conversion and a
//! proxy's own full read ask for the stream in consecutive pieces of a few MiB, which rarely
//! end on a checkpoint. A read that stops inside a span parks its inflater (a few per
//! source); the read that starts where one stopped takes it and goes on, instead of
//! inflating the span from its checkpoint again (before: 277 MB inflated for the 221 MB
//! stream of a nibabel-written run read as `[48]`; now 221 MB). With
//! [`Source::parallel_reads`], the read planner splits such a slab between threads in
//! contiguous shares, each continuing its own stream. `benches/cores.py` on that run with its
//! index file: `dataobj[48]` 0.267 s on one thread, 0.133 s on two (nibabel 0.976 s; before
//! this change 0.30 s on either).
//!
//! # Integrity
//!
//! Every read that takes the last byte of a member has that member's CRC32 and ISIZE
//! checked before it returns (`Builder::settle` on the first pass, libdeflate for whole
//! members), so a full read of a damaged file is an error naming the file and the check,
//! never different values. A read that ends inside a member it did not inflate from the
//! member's start cannot be checked (as with nibabel, whose gzip stream checks only at the
//! end); once any check has failed, every later read of the source fails with it.
//!
//! # Example
//!
//! ```
//! use neurovox::io::{GzipSource, Source};
//! use std::io::Write;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("volume.nii.gz");
//! let data: Vec<u8> = (0..2_000_000u32).map(|i| (i / 7 % 251) as u8).collect();
//! let file = std::fs::File::create(&path)?;
//! let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::new(6));
//! gz.write_all(&data)?;
//! gz.finish()?;
//!
//! let source = GzipSource::open(&path)?; // reads only the magic bytes
//! let mut header = [0u8; 348];
//! source.read_at(0, &mut header)?; // inflates about 348 bytes, not the file
//! assert_eq!(&header[..], &data[..348]);
//! assert!(source.inflated_bytes() < 100_000);
//!
//! let mut late = vec![0u8; 4096];
//! source.read_at(1_900_000, &mut late)?; // builds the index up to here
//! assert_eq!(late, &data[1_900_000..1_904_096]);
//! assert_eq!(source.len()?, 2_000_000); // finishes the first pass
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::hashed_runs::HashedRuns;
use super::member_index::{MEMBER_HEADER_LEN, MemberEntry, MemberIndex, member_header_matches};
use super::span_cache::{CachedSpan, SpanCache};
use super::zlib::{self, WINDOW_SIZE};
use crate::error::{Error, ErrorKind, Result};
use crate::io::source::{Source, past_end};
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// The default checkpoint spacing: one checkpoint per this many bytes of decompressed output.
///
/// Chosen by measurement on a 200 MB int16 volume (gzip level 1 by Python's zlib, as nibabel
/// writes, and level 6 by flate2): at 1 MiB a 1 MiB read late in the file costs 3–4 ms
/// against ~500 ms inflating from the start, the first pass runs at flate2's plain
/// streaming speed (it stops at block ends only when a checkpoint is due, and windows are
/// compressed on the other core: `examples/inflate_engines.rs`), and the index (181
/// windows) is under 1 % of the decompressed size.
/// 256 KiB reads only ~1 ms faster for a 5× larger index and a ~30 % slower first pass;
/// 4 MiB doubles the read time.
pub const DEFAULT_SPAN: u64 = 1 << 20;

/// The compressed bytes of members that a read of a remote gzip object asks for at once
/// ([`Source::prefetch`], fetched in the background in a few concurrent requests), the next
/// batch while one is inflated: two batches stay within half the remote block cache, so a
/// batch never evicts itself.
const PREFETCH_BATCH: u64 = 16 << 20;

/// Compressed bytes read from the file at a time.
const INPUT_CHUNK: usize = 128 * 1024;
/// Output the first pass makes before it guesses where its compressed bytes will end
/// (`Builder::announce_end`).
const RATIO_SAMPLE: u64 = 1 << 20;

/// How near its last guess of where its compressed bytes end the first pass guesses again.
const ANNOUNCE_AGAIN_WITHIN: u64 = 512 << 10;

/// Output produced per inflate call by the first pass.
const BUILD_CHUNK: usize = 256 * 1024;
/// Scratch for output a read decompresses only to skip it.
const SKIP_CHUNK: usize = 128 * 1024;
/// Compression level of the stored windows. Measured on int16 volume data: level 1 (zlib-rs's
/// "quick" strategy) leaves windows 40 % larger than level 2; level 6 takes three times as
/// long (~0.6 vs ~0.2 ms per window) for 9 % less.
const WINDOW_LEVEL: u32 = 2;

/// A gzip file read at any offset of its decompressed bytes, through a checkpoint index that
/// is built lazily by the reads themselves and shared by every thread. See the
/// [module docs](self).
///
/// One file handle is kept open for the source's life and read with `pread`, or only while
/// a read is in progress ([`GzipSource::closing_between_reads`]).
/// [`Source::inflated_bytes`] counts the decompressed stream bytes that every inflater of the
/// source produced, the first pass's included; restoring a checkpoint's stored window (at most
/// 32 KiB per read) is not counted.
pub struct GzipSource {
    file: Compressed,
    span: u64,
    /// Checkpoints in increasing output order; the first is at output 0.
    index: RwLock<Vec<Arc<Checkpoint>>>,
    /// Output bytes the first pass has produced (and indexed) so far.
    covered: AtomicU64,
    /// The decompressed size, once the first pass has reached the end.
    total: OnceLock<u64>,
    /// Decompressed bytes produced by every inflater of this source.
    inflated: AtomicU64,
    /// The first pass, paused between reads. `None` until the first read needs it.
    builder: Mutex<Option<Builder>>,
    /// The member index of a file written by `ParallelGzWriter`: reads use it instead of
    /// the first pass.
    members: Option<MemberIndex>,
    /// Why a file that ends like one with a member index is read without it.
    member_index_error: Option<String>,
    /// What the file's size and its last trailer say about the decompressed length.
    trailer: Option<TrailerClaim>,
    /// The first pass's failure, once it has failed: every later read reports it (see
    /// [`Failure`]).
    failure: OnceLock<Failure>,
    /// Where the data a reader wants ends ([`Source::expect_data_end`]; `u64::MAX` when not
    /// told): a read reaching it looks one step past it, so a member ending there has its
    /// checksum verified before the read returns, whatever follows the member in the file.
    data_end: AtomicU64,
    /// The index file the checkpoints were loaded from, if they were (module
    /// [`index_file`](super::index_file)).
    index_origin: Option<PathBuf>,
    /// Why an index file found for this file was not used.
    index_file_error: Option<String>,
    /// With an index from a file, no first pass checks the member's CRC32 in this process:
    /// reads that follow one another from the start hash what they read, and the read
    /// that reaches the end checks the sum (see [`GzipSource::check_stream`]).
    stream_check: Mutex<StreamCheck>,
    /// Recently inflated spans (between two checkpoints, or whole members), so that the many
    /// small segments of one key inflate each span once (module [`span_cache`]).
    ///
    /// [`span_cache`]: super::span_cache
    spans: SpanCache,
    /// Streams that stopped inside a span at the end of a read, so the read that starts
    /// where one stopped continues it (see [sequential reads](self#sequential-reads)).
    parked: ParkedStreams,
}

/// What a gzip file's size and the ISIZE field of its last member's trailer (the member's
/// length mod 2^32) say about the decompressed length, before anything is inflated. A read
/// may size its output by a header's claim when the claim is consistent with both
/// ([`Source::may_hold`]): the file then must inflate to at least that length, or the read
/// fails at the end with a past-the-end error. The claim can never exceed what DEFLATE can
/// produce from the file's bytes, so a lying header or trailer makes a read reserve at most
/// that much address space; the memory filled is what the data really inflates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TrailerClaim {
    compressed_len: u64,
    isize: u32,
}

impl TrailerClaim {
    /// DEFLATE's largest expansion: a 258-byte match costs at least 2 bits, so one compressed
    /// byte inflates to at most 1032 bytes (zlib's technical notes).
    const MAX_RATIO: u64 = 1032;

    /// Reads the last 4 bytes of the file; `None` for a file too short to hold a trailer.
    fn read(file: &Compressed) -> Result<Option<Self>> {
        let compressed_len = file.len()?;
        if compressed_len < 18 {
            return Ok(None); // shorter than one empty member: header, block, trailer
        }
        let mut isize = [0u8; 4];
        if file.read_at(compressed_len - 4, &mut isize)? != 4 {
            return Ok(None);
        }
        Ok(Some(TrailerClaim {
            compressed_len,
            isize: u32::from_le_bytes(isize),
        }))
    }

    /// Whether a decompressed length of at least `end` is consistent with the trailer: the
    /// length with `end`'s high bits and ISIZE's low 32 bits reaches `end` and is no more
    /// than the file can inflate to. A file of several members (whose last ISIZE counts only
    /// the last member) usually fails this and is read the careful way.
    fn allows(&self, end: u64) -> bool {
        let most = self.compressed_len.saturating_mul(Self::MAX_RATIO);
        let length = (end & !0xffff_ffff) | u64::from(self.isize);
        length >= end && length <= most
    }
}

/// What the index of a [`GzipSource`] holds so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GzipIndexStats {
    /// Number of checkpoints.
    pub checkpoints: usize,
    /// Bytes of stored (compressed) windows, the bulk of the index's memory.
    pub window_bytes: u64,
    /// Decompressed bytes the index covers: reads below this need no first-pass work.
    pub indexed_to: u64,
    /// True once the first pass has reached the end of the file.
    pub complete: bool,
}

impl GzipSource {
    /// A source over the gzip file at `path`, with checkpoints every [`DEFAULT_SPAN`] bytes.
    /// Reads the magic bytes (a file that does not start with `1f 8b` is a Format error) and
    /// the last 42 bytes; for a file written by `ParallelGzWriter`, also its member index
    /// (see the [module docs](self)).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::with_span(path, DEFAULT_SPAN)
    }

    /// Like [`GzipSource::open`], with a checkpoint every `span` bytes of output (at the first
    /// deflate block boundary after). Smaller spans make reads cheaper and the index larger.
    pub fn with_span(path: impl AsRef<Path>, span: u64) -> Result<Self> {
        Self::with_span_and_cache(path, span, DEFAULT_SPAN_CACHE_BYTES)
    }

    /// The same source holding its file open only while a read is in progress (nibabel's
    /// `keep_file_open=False`): an idle source holds no descriptor, so thousands of loaded
    /// images fit under a small open-files limit. A read that needs compressed bytes opens
    /// the file once (however many chunks it reads; reads the span cache serves open
    /// nothing) and checks it is still the file the source was made for. The index, the
    /// span cache and a damage found stay with the source.
    ///
    /// ```
    /// # use neurovox::io::{GzipSource, Source};
    /// # use std::io::Write;
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("run.gz");
    /// # let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&path)?, Default::default());
    /// # gz.write_all(&[7u8; 1000])?;
    /// # gz.finish()?;
    /// let source = GzipSource::open(&path)?.closing_between_reads();
    /// let mut byte = [0u8; 1];
    /// source.read_at(999, &mut byte)?;
    /// assert_eq!(byte, [7]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn closing_between_reads(mut self) -> Self {
        self.file.keep_open = false;
        self.file.open.lock().unwrap_or_else(|e| e.into_inner()).1 = 0;
        self.file.release();
        self
    }

    /// Like [`GzipSource::with_span`], keeping at most `cache_bytes` of recently inflated
    /// spans for small reads ([`DEFAULT_SPAN_CACHE_BYTES`] by default; 0 keeps none, so
    /// every small read inflates from its checkpoint).
    ///
    /// ```
    /// # use neurovox::io::{GzipSource, Source};
    /// # use std::io::Write;
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("run.gz");
    /// # let data: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 27) as u8).collect();
    /// # let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&path)?, Default::default());
    /// # gz.write_all(&data)?;
    /// # gz.finish()?;
    /// let source = GzipSource::with_span_and_cache(&path, 1 << 20, 8 << 20)?;
    /// source.len()?; // index the whole file
    /// let before = source.inflated_bytes();
    /// for i in 0..100 {
    ///     let mut voxel = [0u8; 2];
    ///     source.read_at(2_000_000 + 1000 * i, &mut voxel)?; // 100 reads in one span
    /// }
    /// // The one or two spans the reads fall in are inflated once each, not once per read.
    /// let cost = source.inflated_bytes() - before;
    /// assert!(cost <= 3 << 20, "{cost}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_span_and_cache(
        path: impl AsRef<Path>,
        span: u64,
        cache_bytes: usize,
    ) -> Result<Self> {
        let path = path.as_ref();
        if span == 0 {
            return Err(Error::usage("the checkpoint span must be at least 1 byte").with_path(path));
        }
        Self::over_compressed(
            Compressed::new(path)?,
            span,
            cache_bytes,
            Some(IndexLookup::Files),
        )
    }

    /// A source over gzip bytes that another source holds (a remote object's, say), named
    /// `name` in messages: the same checkpoint index, member index and checks as a file's,
    /// without index files (they belong to local files).
    ///
    /// ```
    /// use neurovox::io::{GzipSource, MemorySource, Source};
    /// use std::io::Write;
    /// let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    /// gz.write_all(&[9u8; 5000])?;
    /// let bytes = MemorySource::new(gz.finish()?);
    /// let source = GzipSource::over_source(std::sync::Arc::new(bytes), "memory.gz".as_ref())?;
    /// let mut two = [0u8; 2];
    /// source.read_at(4998, &mut two)?;
    /// assert_eq!(two, [9, 9]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn over_source(compressed: Arc<dyn Source>, name: &Path) -> Result<Self> {
        let file = Compressed::over(compressed, name);
        Self::over_compressed(file, DEFAULT_SPAN, DEFAULT_SPAN_CACHE_BYTES, None)
    }

    /// As [`GzipSource::over_source`], looking for a persisted index as a file's source does:
    /// next to the bytes (`sidecar`, asked for only when the bytes carry no member index,
    /// `None` where there is none) and in the local cache directory under `name`
    /// ([`index_file::cache_path`](super::index_file::cache_path)).
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) fn over_source_indexed(
        compressed: Arc<dyn Source>,
        name: &Path,
        sidecar: &dyn Fn() -> Option<Arc<dyn Source>>,
    ) -> Result<Self> {
        let file = Compressed::over(compressed, name);
        Self::over_compressed(
            file,
            DEFAULT_SPAN,
            DEFAULT_SPAN_CACHE_BYTES,
            Some(IndexLookup::Source(sidecar)),
        )
    }

    fn over_compressed(
        file: Compressed,
        span: u64,
        cache_bytes: usize,
        index_files: Option<IndexLookup<'_>>,
    ) -> Result<Self> {
        let path = file.path.clone();
        let path = path.as_path();
        let mut magic = [0u8; 2];
        let n = file.read_at(0, &mut magic)?;
        if n < 2 || magic != [0x1f, 0x8b] {
            return Err(Error::format(format!(
                "not a gzip file: it starts with {:02x?}, not 1f 8b",
                &magic[..n]
            ))
            .offset(0)
            .with_path(path));
        }
        let (members, member_index_error) = match probe_member_index(&file) {
            Ok(members) => (members, None),
            Err(e) if e.kind() == ErrorKind::Format => (None, Some(e.with_path(path).to_string())),
            Err(e) => return Err(e.with_path(path)),
        };
        let trailer = TrailerClaim::read(&file)?;
        let mut source = GzipSource {
            file,
            span,
            index: RwLock::new(Vec::new()),
            covered: AtomicU64::new(0),
            total: OnceLock::new(),
            inflated: AtomicU64::new(0),
            builder: Mutex::new(None),
            members,
            member_index_error,
            trailer,
            failure: OnceLock::new(),
            data_end: AtomicU64::new(u64::MAX),
            index_origin: None,
            index_file_error: None,
            stream_check: Mutex::new(StreamCheck::default()),
            spans: SpanCache::new(cache_bytes),
            parked: ParkedStreams::default(),
        };
        if let Some(members) = &source.members {
            let checkpoints = members
                .members()
                .iter()
                .map(|m| Arc::new(Checkpoint::member_start(m)))
                .collect();
            *source.index.write().unwrap_or_else(|e| e.into_inner()) = checkpoints;
            source
                .covered
                .store(members.total_size(), Ordering::Release);
            let _ = source.total.set(members.total_size());
        } else if let Some(lookup) = index_files.filter(|_| super::index_file::lookup_enabled()) {
            source.load_index_file(lookup)?;
        }
        Ok(source)
    }

    /// Looks for an index of these bytes (the sidecar, then the cache directory) and, if one
    /// fits, takes its checkpoints: the first pass then never runs.
    fn load_index_file(&mut self, lookup: IndexLookup<'_>) -> Result<()> {
        use super::index_file::{IndexFile, cache_path, sidecar_path};
        // An index's bytes, at most `most` of them: `None` where there is none.
        type Reader<'a> = Box<dyn FnOnce(u64) -> Option<Result<Vec<u8>>> + 'a>;
        let local = |path: PathBuf| -> (PathBuf, Reader<'_>) {
            let read = path.clone();
            let reader: Reader<'_> = Box::new(move |most| {
                let meta = std::fs::metadata(&read).ok()?;
                Some(if meta.len() > most {
                    Err(too_large())
                } else {
                    std::fs::read(&read).map_err(Error::io)
                })
            });
            (path, reader)
        };
        let mut candidates: Vec<(PathBuf, Reader<'_>)> = Vec::new();
        match lookup {
            IndexLookup::Files => candidates.push(local(sidecar_path(&self.file.path))),
            IndexLookup::Source(sidecar) => {
                let reader: Reader<'_> = Box::new(move |most| {
                    let source = sidecar()?;
                    Some(source.len().and_then(|len| {
                        if len > most {
                            return Err(too_large());
                        }
                        let mut bytes = vec![0u8; usize::try_from(len).map_err(|_| too_large())?];
                        source.read_at(0, &mut bytes).map(|()| bytes)
                    }))
                });
                candidates.push((sidecar_path(&self.file.path), reader));
            }
        }
        if let Some(cached) = cache_path(&self.file.path) {
            candidates.push(local(cached));
        }
        // An index holds at most a window (32 KiB) and a few dozen bytes per checkpoint, and
        // a checkpoint per block: never more than the file plus its windows. Bounding the
        // read keeps a stray huge file from being read whole.
        let most = self.file.len()?.saturating_mul(2).saturating_add(64 << 20);
        let mut fingerprint = None;
        for (candidate, read) in candidates {
            let Some(bytes) = read(most) else {
                continue;
            };
            // Taken once an index is found: two 64 KiB reads (requests, for a remote file).
            let print = match fingerprint {
                Some(p) => p,
                None => *fingerprint.insert(self.file.fingerprint()?),
            };
            match bytes.and_then(|bytes| IndexFile::from_bytes(&bytes, &print)) {
                Ok(index) => {
                    self.adopt(index);
                    self.index_origin = Some(candidate);
                    self.index_file_error = None;
                    return Ok(());
                }
                Err(e) => {
                    self.index_file_error = Some(e.with_path(&candidate).to_string());
                }
            }
        }
        Ok(())
    }

    /// Takes a checked index file's checkpoints as the complete index.
    fn adopt(&mut self, index: super::index_file::IndexFile) {
        let checkpoints = index
            .checkpoints
            .into_iter()
            .map(|c| {
                Arc::new(Checkpoint {
                    out: c.out,
                    bit: c.bit,
                    window: c.window.map(|(len, deflated, bytes)| {
                        StoredWindow::stored(len, deflated, bytes.into_boxed_slice())
                    }),
                })
            })
            .collect();
        *self.index.get_mut().unwrap_or_else(|e| e.into_inner()) = checkpoints;
        self.covered.store(index.total, Ordering::Release);
        let _ = self.total.set(index.total);
        let check = self
            .stream_check
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        // One member (the only member start is the first checkpoint) whose trailer agrees
        // with the index's length: the one case where a CRC32 of all the bytes is checkable.
        let member_starts = self
            .index
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|c| c.window.is_none())
            .count();
        check.checkable =
            member_starts == 1 && self.trailer.is_some_and(|t| t.isize == index.total as u32);
    }

    /// Hashes `buf` (the bytes at `offset`, just read through an index from a file) into the
    /// runs of the stream hashed so far (module [`hashed_runs`](super::hashed_runs); a gap of
    /// up to 64 KiB after a run, such as between a header read and the data, is read to
    /// close it), and checks the sum against the member's trailer once one run holds the
    /// whole stream. A full read through an index file, in order or split between threads,
    /// thus fails on damaged data as the first pass would.
    fn check_stream(&self, offset: u64, buf: &[u8]) -> Result<()> {
        const MAX_GAP: u64 = 64 * 1024;
        let wanted = {
            let check = self.stream_check.lock().unwrap_or_else(|e| e.into_inner());
            check.checkable && !check.done
        };
        if !wanted {
            return Ok(());
        }
        // Hashed before the lock is taken (see `hashed_runs::crc_of`).
        let crc = (buf.len() >= MIN_HASHED_RUN).then(|| super::hashed_runs::crc_of(buf));
        let mut check = self.stream_check.lock().unwrap_or_else(|e| e.into_inner());
        if check.done {
            return Ok(());
        }
        let gap_start = check.runs.gap_start(offset);
        if gap_start < offset && offset - gap_start <= MAX_GAP {
            let mut bytes = vec![0u8; (offset - gap_start) as usize];
            self.read_indexed(gap_start, &mut bytes)?;
            check.runs.add(gap_start, &bytes);
        }
        check.runs.add_hashed(offset, buf, crc);
        let Some(got) = self.total.get().and_then(|&t| check.runs.crc_of_whole(t)) else {
            return Ok(());
        };
        check.done = true;
        let at = self
            .trailer
            .map_or(0, |t| t.compressed_len)
            .saturating_sub(8);
        let mut want = [0u8; 4];
        let n = self.file.read_at(at, &mut want)?;
        let want = u32::from_le_bytes(want);
        if n == 4 && want == got {
            return Ok(());
        }
        let origin = self.index_origin.as_deref().unwrap_or(Path::new("?"));
        let e = self.file.corrupt(
            format!(
                "gzip member CRC32 mismatch: the trailer says {want:#010x}, the data (read \
                 through the index file {}) hashes to {got:#010x}",
                origin.display()
            ),
            at,
        );
        Failure::record(self, &e, false);
        Err(e)
    }

    /// The index file this source's checkpoints came from, if any.
    pub fn index_origin(&self) -> Option<&Path> {
        self.index_origin.as_deref()
    }

    /// Why an index file found for this file was ignored (another file's, stale, damaged),
    /// if one was.
    pub fn index_file_error(&self) -> Option<&str> {
        self.index_file_error.as_deref()
    }

    /// This file's complete checkpoint index (finishing the first pass first if it has not
    /// reached the end), as [`index_file`](super::index_file) stores it. A file written by
    /// neurovox carries its own member index and needs none: that is a Usage error.
    pub fn index_file(&self) -> Result<super::index_file::IndexFile> {
        use super::index_file::{IndexFile, StoredCheckpoint};
        if self.members.is_some() {
            return Err(Error::usage(
                "this file was written by neurovox and carries its own member index",
            )
            .with_path(&self.file.path));
        }
        let total = self.len()?;
        if self.covered.load(Ordering::Acquire) < total {
            // A whole read inflated in one call learns the length but records no checkpoints:
            // the pass runs now, so the index is never only its first checkpoint.
            let _session = self.file.session();
            let mut guard = self.lock_builder()?;
            let builder = Builder::get(&mut guard, &self.file.path)?;
            builder.advance(self, u64::MAX, None)?;
        }
        let fingerprint = self.file.fingerprint()?;
        let checkpoints = self
            .index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|c| StoredCheckpoint {
                out: c.out,
                bit: c.bit,
                window: c.window.as_ref().map(|w| {
                    // A window the pool has not compressed yet is compressed here, so the
                    // file is the same size whenever it is written.
                    w.compress();
                    let (deflated, bytes) = w.to_stored();
                    (w.len, deflated, bytes)
                }),
            })
            .collect();
        Ok(IndexFile {
            span: self.span,
            fingerprint,
            total,
            checkpoints,
        })
    }

    /// Writes [`GzipSource::index_file`] to `to`, atomically. See module
    /// [`index_file`](super::index_file) for where loads look for it.
    pub fn write_index(&self, to: &Path) -> Result<()> {
        let bytes = self.index_file()?.to_bytes();
        crate::io::atomic::write_atomically(to, |w| {
            use std::io::Write;
            w.write_all(&bytes).map_err(Error::io)
        })
    }

    /// The member index this source reads through (a file written by `ParallelGzWriter`),
    /// or `None` if it reads the ordinary way.
    pub fn member_index(&self) -> Option<&MemberIndex> {
        self.members.as_ref()
    }

    /// Why a file that ends with a neurovox member index footer is read without the index
    /// (the index was inconsistent); `None` if it was used or there was none.
    pub fn member_index_error(&self) -> Option<&str> {
        self.member_index_error.as_deref()
    }

    /// The checkpoint spacing in decompressed bytes.
    pub fn span(&self) -> u64 {
        self.span
    }

    /// What the index holds so far (it grows as reads go further into the file).
    pub fn index_stats(&self) -> GzipIndexStats {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        GzipIndexStats {
            checkpoints: index.len(),
            window_bytes: index
                .iter()
                .filter_map(|c| c.window.as_ref())
                .map(|w| w.stored_len() as u64)
                .sum(),
            indexed_to: self.covered.load(Ordering::Acquire),
            complete: self.total.get().is_some(),
        }
    }

    fn lock_builder(&self) -> Result<std::sync::MutexGuard<'_, Option<Builder>>> {
        self.builder.lock().map_err(|_| {
            Error::new(
                ErrorKind::Io,
                "an earlier read panicked while indexing this gzip file; open it again",
            )
            .with_path(&self.file.path)
        })
    }

    /// The checkpoint at or before `offset` (which lies below `covered`) and the end of its
    /// span: the next checkpoint, or how far the first pass has come.
    fn checkpoint_at(&self, offset: u64) -> Result<(Arc<Checkpoint>, u64)> {
        let covered = self.covered.load(Ordering::Acquire);
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        let i = index.partition_point(|c| c.out <= offset);
        match i.checked_sub(1).and_then(|i| index.get(i)) {
            Some(c) => {
                let end = index.get(i).map_or(covered, |next| next.out);
                Ok((Arc::clone(c), end.max(offset)))
            }
            None => Err(
                Error::format("gzip index has no checkpoint before the read")
                    .with_path(&self.file.path),
            ),
        }
    }

    /// Reads `buf` at `offset`, which lies below `covered`, from the nearest checkpoint.
    ///
    /// Each span the read touches (at most [`MAX_CACHED_SPAN`]) is copied from the span cache
    /// when it is there. Otherwise a piece that starts where a parked stream stopped
    /// continues it ([sequential reads](self#sequential-reads)); a piece of less than half a
    /// span inflates the whole span into the cache, so the next small read in the same span,
    /// the usual case for the segments of one key, is a copy; larger pieces inflate straight
    /// into `buf`.
    fn read_indexed(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        if buf.len() as u64 >= MAX_CACHED_SPAN {
            return self.read_spans_in_parallel(offset, buf);
        }
        let (mut at, mut rest) = (offset, buf);
        while !rest.is_empty() {
            let (checkpoint, span_end) = self.checkpoint_at(at)?;
            let n = usize::try_from(span_end - at)
                .unwrap_or(usize::MAX)
                .clamp(1, rest.len());
            let (piece, tail) = rest.split_at_mut(n);
            let span_len = span_end - checkpoint.out;
            let cacheable = span_len <= MAX_CACHED_SPAN && span_end > at;
            let cached = cacheable
                .then(|| self.spans.get(checkpoint.out, at + n as u64))
                .flatten();
            let span = match cached {
                Some(span) => Some(span),
                None if !cacheable || n as u64 >= span_len / 2 || self.parked.holds(at) => {
                    self.inflate_in_span(&checkpoint, span_end, at, piece)?;
                    None
                }
                None => {
                    let mut bytes = vec![0u8; span_len as usize];
                    self.inflate_from(&checkpoint, checkpoint.out, &mut bytes, false)?;
                    let bytes = Arc::new(bytes);
                    self.spans.insert(checkpoint.out, Arc::clone(&bytes));
                    Some(CachedSpan {
                        start: checkpoint.out,
                        bytes,
                    })
                }
            };
            if let Some(span) = span {
                let from = (at - span.start) as usize;
                piece.copy_from_slice(&span.bytes[from..from + n]);
            }
            rest = tail;
            at += n as u64;
        }
        Ok(())
    }

    /// The room ([`Source::room_for_read`]) a read of `[offset, end)` takes to inflate the
    /// file in one call: `offset`, when the read is the file's whole stream after a header of
    /// at most [`ONE_CALL_MAX_ROOM`] bytes (the last trailer's ISIZE is `end`), the file is
    /// at most [`ONE_CALL_MAX_COMPRESSED`] bytes, and neither a member index, an index file
    /// nor the first pass covers the range (those read it in parallel, or from memory).
    fn one_call_room(&self, offset: u64, end: u64) -> Option<usize> {
        if self.members.is_some()
            || self.index_origin.is_some()
            || self.failure.get().is_some()
            || offset > ONE_CALL_MAX_ROOM
            || end <= offset
            || self.covered.load(Ordering::Acquire) >= end
        {
            return None;
        }
        let trailer = self.trailer?;
        let whole_stream = u64::from(trailer.isize) == end && trailer.allows(end);
        if !whole_stream || !one_call_fits(trailer.compressed_len, rayon::current_num_threads()) {
            return None;
        }
        usize::try_from(offset).ok()
    }

    /// Inflates the file's first member into `out` (the stream from its first byte) in one
    /// go, with ISA-L or libdeflate (see [one-call whole reads](self#whole-reads-in-one-call)),
    /// either of which checks the member's CRC32 and ISIZE. `false` when that member does
    /// not fill `out` exactly, or the engine refuses the data: the caller then reads the
    /// ordinary way, whose first pass names the damage, if any, as every other read does.
    /// When the member does fill `out`, `out` holds the stream's first bytes whatever
    /// follows the member, as the first pass would have given them.
    fn inflate_in_one_call(&self, out: &mut [u8]) -> Result<bool> {
        let Some(trailer) = self.trailer else {
            return Ok(false);
        };
        let mut flags = [0u8; 4];
        if self.file.read_at(0, &mut flags)? != flags.len() || flags[3] & FLAG_HEADER_CRC != 0 {
            return Ok(false);
        }
        if let Some(backing) = &self.file.backing {
            backing.prefetch(0, trailer.compressed_len);
        }
        // On several cores, the stream in chunks (module `parallel_inflate`), recording
        // checkpoints as it goes; files it does not serve fall through to one core, if they
        // are small enough that losing the first pass's checkpoints costs little.
        let threads = rayon::current_num_threads();
        let read = |at: u64, buf: &mut [u8]| self.file.read_at(at, buf);
        if let Some(boundaries) = super::parallel_inflate::inflate_member_in_parallel(
            &read,
            trailer.compressed_len,
            out,
            threads,
            self.span,
        )? {
            self.inflated.fetch_add(out.len() as u64, Ordering::Relaxed);
            self.adopt_boundaries(&boundaries, out)?;
            return Ok(true);
        }
        if trailer.compressed_len > ONE_CALL_MAX_COMPRESSED {
            return Ok(false);
        }
        #[cfg(feature = "isal")]
        {
            // Streamed from the file a MiB at a time: no copy of the compressed bytes is held.
            let inflated =
                super::isal::inflate_member_into(|at, buf| self.file.read_at(at, buf), out)?;
            if inflated {
                self.inflated.fetch_add(out.len() as u64, Ordering::Relaxed);
            }
            Ok(inflated)
        }
        #[cfg(not(feature = "isal"))]
        self.inflate_in_one_libdeflate_call(trailer.compressed_len, out)
    }

    /// Makes the block boundaries a parallel whole read passed (`out`: the whole member, its
    /// CRC-32 checked) the complete checkpoint index, so that later partial reads never run
    /// a first pass. The first [`WINDOWS_DEFLATED_LATER`] windows are copied raw and deflated
    /// on rayon's pool after the read returns, as the first pass does; the rest are deflated
    /// from `out` now, on every core, so that no raw copy of them all is held beside the
    /// output (27 MB for the 885 MB float64 run).
    fn adopt_boundaries(
        &self,
        boundaries: &[super::parallel_inflate::Boundary],
        out: &[u8],
    ) -> Result<()> {
        use rayon::prelude::*;
        let checkpoints: Vec<Arc<Checkpoint>> = boundaries
            .par_iter()
            .enumerate()
            .filter_map(|(i, b)| {
                let at = usize::try_from(b.out).ok()?;
                let window = match at {
                    0 => None,
                    _ => {
                        let raw = out.get(at.saturating_sub(WINDOW_SIZE)..at)?;
                        Some(match i <= WINDOWS_DEFLATED_LATER {
                            true => StoredWindow::raw(raw),
                            false => StoredWindow::deflated(raw),
                        })
                    }
                };
                Some(Arc::new(Checkpoint {
                    out: b.out,
                    bit: b.bit,
                    window,
                }))
            })
            .collect();
        if checkpoints.first().is_none_or(|c| c.out != 0) {
            return Ok(()); // never: the member's start is always the first boundary
        }
        for checkpoint in checkpoints.iter().take(WINDOWS_DEFLATED_LATER + 1) {
            checkpoint.compress_window_later();
        }
        // Under the first pass's lock, so that none runs while the index is replaced; the
        // bytes of every span are the same whichever checkpoint a cached span or a parked
        // stream started from.
        let mut builder = self.lock_builder()?;
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = checkpoints;
        let total = out.len() as u64;
        let _ = self.total.set(total);
        self.covered.store(total, Ordering::Release);
        *builder = None;
        Ok(())
    }

    /// [`GzipSource::inflate_in_one_call`] with libdeflate, which needs all of the
    /// `compressed_len` bytes of the file in memory (the engine without the `isal` feature;
    /// tests compare it with ISA-L's).
    #[cfg(any(not(feature = "isal"), test))]
    fn inflate_in_one_libdeflate_call(&self, compressed_len: u64, out: &mut [u8]) -> Result<bool> {
        // The file's own size, at most ONE_CALL_MAX_COMPRESSED: no header value sizes this.
        let Ok(len) = usize::try_from(compressed_len) else {
            return Ok(false);
        };
        let mut input = vec![0u8; len];
        if self.file.read_at(0, &mut input)? != len {
            return Ok(false);
        }
        let inflated = DECOMPRESSOR.with(|d| d.borrow_mut().gzip_decompress(&input, out));
        match inflated {
            Ok(n) if n == out.len() => {
                self.inflated.fetch_add(n as u64, Ordering::Relaxed);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// A large read of an indexed range: each span between two checkpoints inflates from
    /// its own checkpoint, straight into its part of `buf`, on rayon's pool (both cores for a
    /// second full read, or a file whose index was loaded from disk).
    fn read_spans_in_parallel(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset + buf.len() as u64;
        let mut pieces: Vec<(Arc<Checkpoint>, u64, u64, &mut [u8])> = Vec::new();
        let (mut at, mut rest) = (offset, buf);
        while !rest.is_empty() {
            let (checkpoint, span_end) = self.checkpoint_at(at)?;
            let n = usize::try_from(span_end.min(end).saturating_sub(at))
                .unwrap_or(usize::MAX)
                .clamp(1, rest.len());
            let (piece, tail) = rest.split_at_mut(n);
            pieces.push((checkpoint, span_end, at, piece));
            rest = tail;
            at += n as u64;
        }
        use rayon::prelude::*;
        pieces
            .into_par_iter()
            .try_for_each(|(checkpoint, span_end, at, piece)| {
                self.inflate_in_span(&checkpoint, span_end, at, piece)
            })
    }

    /// Reads `buf` at `offset`, inside the span from `checkpoint` to `span_end`: from a
    /// parked stream that stopped between the two when there is one, else from the
    /// checkpoint. A read that stops before `span_end` parks its stream for the next.
    fn inflate_in_span(
        &self,
        checkpoint: &Checkpoint,
        span_end: u64,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<()> {
        let stream = match self.parked.take(checkpoint.out, offset) {
            Some(stream) => stream,
            None => Stream::resume(&self.file, checkpoint)?,
        };
        let stream = self.inflate_with(stream, checkpoint, offset, buf, false)?;
        if stream.out < span_end && stream.at != Where::End {
            self.parked.park(stream);
        }
        Ok(())
    }

    /// Reads `buf` at `offset` (at or after `checkpoint`) by inflating from `checkpoint`.
    /// With `one_member`, reaching the end of the checkpoint's member first is an error.
    fn inflate_from(
        &self,
        checkpoint: &Checkpoint,
        offset: u64,
        buf: &mut [u8],
        one_member: bool,
    ) -> Result<()> {
        let stream = Stream::resume(&self.file, checkpoint)?;
        self.inflate_with(stream, checkpoint, offset, buf, one_member)
            .map(drop)
    }

    /// [`inflate_from`](Self::inflate_from) with `stream`, which starts from `checkpoint` or
    /// from a later point no further than `offset`; gives the stream back where it stopped.
    fn inflate_with(
        &self,
        mut stream: Stream,
        checkpoint: &Checkpoint,
        offset: u64,
        buf: &mut [u8],
        one_member: bool,
    ) -> Result<Stream> {
        let end = offset + buf.len() as u64;
        let short = || {
            Error::format(format!(
                "the gzip member at compressed byte {} ends before the size its member index \
                 entry gives; did the file change?",
                (checkpoint.bit / 8).saturating_sub(MEMBER_HEADER_LEN as u64)
            ))
            .offset(checkpoint.bit / 8)
            .with_path(&self.file.path)
        };
        let changed = || {
            Error::format(format!(
                "the gzip stream ended before byte {end}, where it did not end when indexed; \
                 did the file change?"
            ))
        };
        let mut skip = offset - stream.out;
        if skip > 0 {
            let mut scratch =
                vec![0u8; usize::try_from(skip).unwrap_or(SKIP_CHUNK).min(SKIP_CHUNK)];
            while skip > 0 {
                let room = usize::try_from(skip)
                    .unwrap_or(usize::MAX)
                    .min(scratch.len());
                match stream.step(&self.file, &mut scratch[..room], zlib::Flush::None)? {
                    Step::Data { produced, .. } => {
                        self.inflated.fetch_add(produced as u64, Ordering::Relaxed);
                        skip -= produced as u64;
                    }
                    Step::Member { .. } if one_member => return Err(short()),
                    Step::Member { .. } => {}
                    Step::End => return Err(changed().with_path(&self.file.path)),
                }
            }
        }
        let mut filled = 0;
        while filled < buf.len() {
            match stream.step(&self.file, &mut buf[filled..], zlib::Flush::None)? {
                Step::Data { produced, .. } => {
                    self.inflated.fetch_add(produced as u64, Ordering::Relaxed);
                    filled += produced;
                }
                Step::Member { .. } if one_member => return Err(short()),
                Step::Member { .. } => {}
                Step::End => return Err(changed().with_path(&self.file.path)),
            }
        }
        Ok(stream)
    }

    /// A read through the member index: each member the read touches is decompressed on
    /// its own, in parallel when there are several.
    fn read_members(&self, members: &MemberIndex, offset: u64, buf: &mut [u8]) -> Result<()> {
        let total = members.total_size();
        if offset
            .checked_add(buf.len() as u64)
            .is_none_or(|end| end > total)
        {
            return Err(past_end(Some(&self.file.path), offset, buf.len(), total));
        }
        if buf.is_empty() {
            return Ok(());
        }
        let list = members.members();
        let mut i = members.member_at(offset).unwrap_or(list.len());
        let mut pieces: Vec<(&MemberEntry, u64, &mut [u8])> = Vec::new();
        let (mut at, mut rest) = (offset, buf);
        while !rest.is_empty() {
            let Some(m) = list.get(i) else {
                // Unreachable: the members' sizes add up to `total`.
                return Err(past_end(Some(&self.file.path), offset, rest.len(), total));
            };
            let skip = at - m.out;
            let n = usize::try_from(u64::from(m.size) - skip)
                .unwrap_or(usize::MAX)
                .min(rest.len());
            let (part, tail) = rest.split_at_mut(n);
            pieces.push((m, skip, part));
            rest = tail;
            at += n as u64;
            i += 1;
        }
        if pieces.len() == 1 {
            let (m, skip, part) = pieces.swap_remove(0);
            self.read_member(m, skip, part)
        } else {
            use rayon::prelude::*;
            let Some(backing) = &self.file.backing else {
                return pieces
                    .into_par_iter()
                    .try_for_each(|(m, skip, part)| self.read_member(m, skip, part));
            };
            // The members' compressed bytes are one run: a remote object fetches it in
            // batches of PREFETCH_BATCH bytes, each at once (a few concurrent requests, in
            // the background), the next batch while a batch's members are inflated.
            let mut batches: Vec<Vec<(&MemberEntry, u64, &mut [u8])>> = Vec::new();
            for piece in pieces {
                let start = batches.last().and_then(|b| b.first()).map(|p| p.0.offset);
                match (batches.last_mut(), start) {
                    (Some(batch), Some(start))
                        if piece.0.offset + u64::from(piece.0.len) - start <= PREFETCH_BATCH =>
                    {
                        batch.push(piece)
                    }
                    _ => batches.push(vec![piece]),
                }
            }
            let compressed_span = |batch: &[(&MemberEntry, u64, &mut [u8])]| {
                let (first, last) = (batch[0].0, batch[batch.len() - 1].0);
                (first.offset, last.offset + u64::from(last.len))
            };
            if let Some(batch) = batches.first() {
                let (start, end) = compressed_span(batch);
                backing.prefetch(start, end);
            }
            for k in 0..batches.len() {
                if let Some(next) = batches.get(k + 1) {
                    let (start, end) = compressed_span(next);
                    backing.prefetch(start, end);
                }
                std::mem::take(&mut batches[k])
                    .into_par_iter()
                    .try_for_each(|(m, skip, part)| self.read_member(m, skip, part))?;
            }
            Ok(())
        }
    }

    /// Fills `part` with member `m`'s decompressed bytes from `skip` on, after checking
    /// the member's header against its index entry.
    fn read_member(&self, m: &MemberEntry, skip: u64, part: &mut [u8]) -> Result<()> {
        let mismatch = || {
            Error::format(format!(
                "the gzip member at byte {} does not match the file's member index (a \
                 member of {} bytes holding {}); did the file change?",
                m.offset, m.len, m.size
            ))
            .offset(m.offset)
            .with_path(&self.file.path)
        };
        let whole = skip == 0 && part.len() as u64 == u64::from(m.size);
        let wanted_to = skip + part.len() as u64;
        let to_member_end = wanted_to == u64::from(m.size);
        if !whole
            && !to_member_end
            && (wanted_to <= MEMBER_PREFIX_READ || u64::from(m.size) > MAX_CACHED_SPAN)
        {
            // A header, or little of a member too large to keep: stream from its start to
            // the last byte wanted. (A read that reaches the member's end takes the path
            // below, which checks the member's CRC32 and ISIZE.)
            let mut header = [0u8; MEMBER_HEADER_LEN];
            if self.file.read_at(m.offset, &mut header)? != header.len()
                || !member_header_matches(&header, m)
            {
                return Err(mismatch());
            }
            return self.inflate_from(&Checkpoint::member_start(m), m.out + skip, part, true);
        }
        if !whole && let Some(span) = self.spans.get(m.out, m.out + wanted_to) {
            part.copy_from_slice(&span.bytes[skip as usize..wanted_to as usize]);
            return Ok(());
        }
        // The whole member in one piece. Its length was checked against the file's when the
        // index was read, so this allocates no more than the file holds.
        let mut packed = vec![0u8; m.len as usize];
        if self.file.read_at(m.offset, &mut packed)? != packed.len()
            || !member_header_matches(&packed, m)
        {
            return Err(mismatch());
        }
        let corrupt = || {
            self.file.corrupt(
                format!(
                    "the gzip member at byte {} is corrupt (bad deflate data, CRC32 or ISIZE)",
                    m.offset
                ),
                m.offset,
            )
        };
        let size = m.size as usize;
        let inflate = |out: &mut [u8]| match DECOMPRESSOR
            .with(|d| d.borrow_mut().gzip_decompress(&packed, out))
        {
            Ok(n) if n == size => {
                self.inflated.fetch_add(n as u64, Ordering::Relaxed);
                Ok(())
            }
            Ok(_) | Err(libdeflater::DecompressionError::InsufficientSpace) => Err(mismatch()),
            Err(libdeflater::DecompressionError::BadData) => Err(corrupt()),
        };
        if whole {
            // Straight into the caller's buffer.
            return inflate(part);
        }
        // Part of a member of bounded size: the whole member (its CRC32 checked) into the
        // span cache, for the next read of the same member too.
        let mut bytes = vec![0u8; size];
        inflate(&mut bytes)?;
        part.copy_from_slice(&bytes[skip as usize..wanted_to as usize]);
        self.spans.insert(m.out, Arc::new(bytes));
        Ok(())
    }
}

/// Spans (between checkpoints, or whole members) up to this size are inflated whole into the
/// span cache when a read wants less than half of one; larger ones are read from their
/// checkpoint up to the last byte wanted.
const MAX_CACHED_SPAN: u64 = 4 << 20;

/// Bytes of recently inflated spans a source keeps by default: 32 default spans.
///
/// Measured on the 30-key workload of issue 13 (a 20 MB int16 64×64×40×60 run written by
/// nibabel, keys such as `[i, j, ...]` that touch every volume, best of 3 on one image, as
/// the matrix's `keys` row reads them: `benches/matrix.py --only "random keys"`): no cache
/// 8.9 s (nibabel 1.46 s); 16 MiB 0.46 s, because a key sweeping more spans than the cache
/// holds evicts each span before the next key comes back to it; 32 MiB 0.003 s, the whole
/// run held. The cost is memory only while a source does
/// small reads: a full read goes around the cache.
pub const DEFAULT_SPAN_CACHE_BYTES: usize = 32 << 20;

/// The largest compressed file a whole read inflates in one go on one core: libdeflate needs
/// all of the compressed bytes in memory at once, on top of the output, and larger files
/// keep the checkpoints of a first pass (see [one-call whole reads](self#whole-reads-in-one-call)).
/// The parallel read has no cap: it records checkpoints itself.
pub const ONE_CALL_MAX_COMPRESSED: u64 = 64 << 20;

/// Whether a whole read of a file of `compressed_len` bytes goes in one call on `threads`
/// threads: up to [`ONE_CALL_MAX_COMPRESSED`] on any, and larger files where the parallel
/// read (which records checkpoints as it goes) may serve them.
fn one_call_fits(compressed_len: u64, threads: usize) -> bool {
    compressed_len <= ONE_CALL_MAX_COMPRESSED
        || super::parallel_inflate::may_serve(compressed_len, threads)
}

/// Windows of a parallel whole read's checkpoints deflated after the read returns (1 MiB
/// raw meanwhile), the rest before: the 64 MB float32 anatomical's whole read took
/// 0.060–0.067 s deflating its 64 windows first and 0.055 s keeping them raw (0.050 s
/// recording none); the float64 run's 844 raw windows would hold 27 MB more than nibabel's
/// whole read needs, where its peak is within 2–3 MiB of nibabel's.
const WINDOWS_DEFLATED_LATER: usize = 32;

/// The most bytes before its data (the image header, extensions) a one-call whole read
/// inflates into the room its caller gives it.
const ONE_CALL_MAX_ROOM: u64 = 1 << 20;

/// The FHCRC bit of a gzip header's FLG byte: the first pass checks a header CRC16, which
/// libdeflate skips unchecked; such files take the first pass, so every path judges the same
/// files damaged.
const FLAG_HEADER_CRC: u8 = 0x02;

/// A read that ends within this many bytes of a member's start streams the member up to it
/// (a header read inflates the header, not the member).
const MEMBER_PREFIX_READ: u64 = 64 * 1024;

thread_local! {
    /// One libdeflate decompressor per thread, for whole members.
    static DECOMPRESSOR: std::cell::RefCell<libdeflater::Decompressor> =
        std::cell::RefCell::new(libdeflater::Decompressor::new());
}

/// The member index at the end of `file`, if it has a valid one.
fn probe_member_index(file: &Compressed) -> Result<Option<MemberIndex>> {
    let Some(index) = MemberIndex::read_with(file.len()?, |offset, buf| file.read_at(offset, buf))?
    else {
        return Ok(None);
    };
    // The tail could belong to other data; the first member's header must agree too.
    if let Some(first) = index.members().first() {
        let mut header = [0u8; MEMBER_HEADER_LEN];
        if file.read_at(0, &mut header)? != header.len() || !member_header_matches(&header, first) {
            return Err(Error::format(
                "the file ends with a neurovox gzip member index, but its first member does \
                 not match it",
            )
            .offset(0));
        }
    }
    Ok(Some(index))
}

impl Source for GzipSource {
    /// The decompressed size. The first call finishes the first pass (and so the index).
    fn len(&self) -> Result<u64> {
        if let Some(f) = self.failure.get() {
            return Err(f.error(&self.file.path));
        }
        if let Some(&total) = self.total.get() {
            return Ok(total);
        }
        let _session = self.file.session();
        let mut guard = self.lock_builder()?;
        let builder = Builder::get(&mut guard, &self.file.path)?;
        builder.advance(self, u64::MAX, None)?;
        Ok(builder.stream.out)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let _session = self.file.session();
        if let Some(members) = &self.members {
            return self.read_members(members, offset, buf);
        }
        if let Some(f) = self.failure.get().filter(|f| f.damaged) {
            return Err(f.error(&self.file.path));
        }
        let end = offset.saturating_add(buf.len() as u64);
        if let Some(&total) = self.total.get().filter(|&&t| end > t) {
            return Err(past_end(Some(&self.file.path), offset, buf.len(), total));
        }
        // The whole stream from its first byte (the image file of a pair) needs no room.
        if offset == 0 && self.one_call_room(0, end) == Some(0) && self.inflate_in_one_call(buf)? {
            return Ok(());
        }
        // Bytes [offset, indexed_end) come from the index; the first pass fills the rest.
        let mut indexed_end = end;
        if end > self.covered.load(Ordering::Acquire) {
            let mut guard = self.lock_builder()?;
            let builder = Builder::get(&mut guard, &self.file.path)?;
            let start = builder.stream.out;
            if start < end {
                builder.advance(self, end, Some((offset, &mut *buf)))?;
                builder.settle(self)?;
                if builder.stream.out < end {
                    let total = builder.stream.out;
                    return Err(past_end(Some(&self.file.path), offset, buf.len(), total));
                }
                indexed_end = start.clamp(offset, end);
            }
        }
        let n = usize::try_from(indexed_end - offset).unwrap_or(usize::MAX);
        self.read_indexed(offset, &mut buf[..n])?;
        if self.index_origin.is_some() {
            self.check_stream(offset, buf)?;
        }
        Ok(())
    }

    fn inflated_bytes(&self) -> u64 {
        self.inflated.load(Ordering::Relaxed)
    }

    /// With a member index, or where the checkpoint index covers the range: each thread's
    /// reads then inflate from their own checkpoints (or parked streams), where otherwise
    /// they would wait on the first pass.
    fn parallel_reads(&self, _offset: u64, end: u64) -> bool {
        self.failure.get().is_none()
            && (self.members.is_some() || self.covered.load(Ordering::Acquire) >= end)
    }

    /// Over a remote object with a member index: the compressed bytes of the members that
    /// hold `[offset, end)`, asked of the object at once. (Without a member index the
    /// compressed bytes a range needs are known only once a first pass reaches it.)
    fn prefetch(&self, offset: u64, end: u64) {
        let (Some(backing), Some(members)) = (&self.file.backing, &self.members) else {
            return;
        };
        let list = members.members();
        let end = end.min(members.total_size());
        let Some(first) = members.member_at(offset).filter(|_| offset < end) else {
            return;
        };
        let last = members
            .member_at(end - 1)
            .unwrap_or(list.len().saturating_sub(1));
        if let (Some(a), Some(b)) = (list.get(first), list.get(last)) {
            backing.prefetch(a.offset, b.offset + u64::from(b.len));
        }
    }

    /// `offset` for a whole read of a file no first pass has indexed that far (see
    /// [one-call whole reads](self#whole-reads-in-one-call)); 0 otherwise.
    fn room_for_read(&self, offset: u64, end: u64) -> usize {
        self.one_call_room(offset, end).unwrap_or(0)
    }

    fn read_at_with_room(&self, offset: u64, buf: &mut [u8], room: usize) -> Result<()> {
        if room > buf.len() {
            return Err(Error::usage(
                "the room before a read is longer than its buffer",
            ));
        }
        let end = offset.saturating_add((buf.len() - room) as u64);
        if self.one_call_room(offset, end) == Some(room) {
            let _session = self.file.session();
            if self.inflate_in_one_call(buf)? {
                return Ok(());
            }
        }
        self.read_at(offset, &mut buf[room..])
    }

    fn len_hint(&self) -> Option<u64> {
        self.total.get().copied()
    }

    /// The length when it is known; before, the trailer rule of `TrailerClaim`.
    fn may_hold(&self, end: u64) -> bool {
        match self.total.get() {
            Some(&total) => total >= end,
            None => self.trailer.is_some_and(|t| t.allows(end)),
        }
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.file.path)
    }

    fn identity(&self) -> Option<crate::io::file_identity::FileIdentity> {
        self.file.identity
    }

    fn remote_fingerprint(&self) -> Option<crate::io::RemoteFingerprint> {
        self.file.backing.as_ref()?.remote_fingerprint()
    }

    fn expect_data_end(&self, end: u64) {
        self.data_end.store(end, Ordering::Relaxed);
    }
}

impl fmt::Debug for GzipSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GzipSource")
            .field("path", &self.file.path)
            .field("span", &self.span)
            .field("index", &self.index_stats())
            .field("inflated", &self.inflated_bytes())
            .field(
                "member_index",
                &self.members.as_ref().map(|m| m.members().len()),
            )
            .field("member_index_error", &self.member_index_error)
            .finish()
    }
}

/// Where a source looks for a persisted index of its bytes (beside the cache directory,
/// which every lookup tries).
enum IndexLookup<'a> {
    /// A local file's sidecar (`scan.nii.gz.nvgzidx`).
    Files,
    /// A sidecar some other source holds (an object next to a remote one), opened only if
    /// asked for; `None` where there is none.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    Source(&'a dyn Fn() -> Option<Arc<dyn Source>>),
}

/// An index file larger than any index of its gzip file can be.
fn too_large() -> Error {
    Error::format("gzip index file: larger than any index of this file")
}

/// The compressed file, read with positioned reads (no shared cursor).
///
/// Kept open for the source's life, or (nibabel's `keep_file_open=False`) open only while
/// a read is in progress: within the [`Compressed::session`]s of concurrent reads, the first
/// compressed byte any of them needs opens the file, and the last session to end closes it,
/// so an idle source holds no descriptor. Each open checks the path still names the file the
/// source was made for.
struct Compressed {
    path: PathBuf,
    /// The file's identity; `None` for compressed bytes read from another source.
    identity: Option<crate::io::file_identity::FileIdentity>,
    /// The compressed bytes, when they come from a source rather than the file at `path`
    /// (a remote object): reads go there, and nothing is opened.
    backing: Option<Arc<dyn Source>>,
    keep_open: bool,
    /// The open file and how many reads are using it (always ≥ 1 while kept open).
    open: Mutex<(Option<Arc<File>>, usize)>,
}

/// A read's use of the compressed file; dropping it may close the file.
struct Session<'a> {
    file: &'a Compressed,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let mut open = self.file.open.lock().unwrap_or_else(|e| e.into_inner());
        open.1 = open.1.saturating_sub(1);
        self.file.close_if_idle(&mut open);
    }
}

impl Compressed {
    /// The file at `path`, kept open ([`GzipSource::closing_between_reads`] changes that).
    fn new(path: &Path) -> Result<Self> {
        let file = crate::io::open::open_regular(path)?;
        let identity = crate::io::file_identity::FileIdentity::of_file(&file, path)?;
        Ok(Compressed {
            path: path.to_path_buf(),
            identity: Some(identity),
            backing: None,
            keep_open: true,
            open: Mutex::new((Some(Arc::new(file)), 1)),
        })
    }

    /// Keeps the file open, once a read of this session opens it, until the returned
    /// session is dropped. Opening waits for the first compressed byte a read needs: reads
    /// served from the span cache or the index alone open nothing.
    fn session(&self) -> Session<'_> {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).1 += 1;
        Session { file: self }
    }

    /// Closes the file unless it is kept open or a read is using it.
    fn release(&self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        self.close_if_idle(&mut open);
    }

    /// The rule of [`Compressed::release`], for a caller already holding the lock.
    fn close_if_idle(&self, open: &mut (Option<Arc<File>>, usize)) {
        if open.1 == 0 && !self.keep_open {
            open.0 = None;
        }
    }

    /// The compressed bytes of `backing`, named `name` in messages.
    fn over(backing: Arc<dyn Source>, name: &Path) -> Self {
        Compressed {
            path: name.to_path_buf(),
            identity: None,
            backing: Some(backing),
            keep_open: true,
            open: Mutex::new((None, 1)),
        }
    }

    fn reopen(&self) -> Result<File> {
        if self.backing.is_some() {
            return Err(
                Error::unsupported("these gzip bytes are not a local file").with_path(&self.path)
            );
        }
        let file = crate::io::open::open_regular(&self.path)?;
        if let Some(identity) = &self.identity {
            identity.check(&file, &self.path)?;
        }
        Ok(file)
    }

    /// The compressed length.
    fn len(&self) -> Result<u64> {
        match &self.backing {
            Some(source) => source.len(),
            None => Ok(self
                .handle()?
                .metadata()
                .map_err(|e| Error::io(e).with_path(&self.path))?
                .len()),
        }
    }

    /// The open file, opened now if no read has opened it yet (outside any session — index
    /// file checks, say — for the caller's use only).
    fn handle(&self) -> Result<Arc<File>> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = &open.0 {
            return Ok(Arc::clone(file));
        }
        let file = Arc::new(self.reopen()?);
        // Inside a session, the reads after this one share the descriptor.
        if open.1 > 0 {
            open.0 = Some(Arc::clone(&file));
        }
        Ok(file)
    }

    /// What ties an index file to these bytes (two reads of at most 64 KiB).
    fn fingerprint(&self) -> Result<super::index_file::GzipFingerprint> {
        let len = self.len()?;
        super::index_file::GzipFingerprint::of_bytes(len, |at, buf| {
            self.read_at(at, buf).and_then(|n| {
                if n == buf.len() {
                    Ok(())
                } else {
                    Err(Error::truncated(
                        "the gzip file ended while it was fingerprinted",
                    ))
                }
            })
        })
        .map_err(|e| e.with_path(&self.path))
    }

    /// Passes the first pass's guess of where its reads end to a source that reads ahead
    /// ([`Source::expect_sequential_end`]); a file needs none.
    fn expect_sequential_end(&self, end: u64) {
        if let Some(source) = &self.backing {
            source.expect_sequential_end(end);
        }
    }

    /// Reads up to `buf.len()` bytes at `offset`; fewer only at the end of the file.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        use std::os::unix::fs::FileExt;
        if let Some(source) = &self.backing {
            let len = source.len()?;
            let n = usize::try_from(len.saturating_sub(offset))
                .unwrap_or(usize::MAX)
                .min(buf.len());
            source.read_at(offset, &mut buf[..n])?;
            return Ok(n);
        }
        let file = self.handle()?;
        let mut n = 0;
        while n < buf.len() {
            match file.read_at(&mut buf[n..], offset + n as u64) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(e).with_path(&self.path)),
            }
        }
        Ok(n)
    }

    fn corrupt(&self, message: impl Into<String>, offset: u64) -> Error {
        Error::format(message.into())
            .offset(offset)
            .with_path(&self.path)
    }

    /// [`Self::corrupt`] for a file that ends too early.
    fn cut_short(&self, message: impl Into<String>, offset: u64) -> Error {
        Error::truncated(message.into())
            .offset(offset)
            .with_path(&self.path)
    }
}

/// A window of the compressed file held in memory.
struct Input {
    buf: Box<[u8]>,
    /// File offset of `buf[0]`.
    start: u64,
    /// Valid bytes in `buf`.
    len: usize,
    /// Next unconsumed byte.
    pos: usize,
    /// Bytes the next fill asks for: [`FIRST_INPUT_FILL`], doubling up to [`INPUT_CHUNK`].
    next_fill: usize,
}

/// The first read of compressed bytes a stream makes. A header read needs a few hundred
/// bytes of input; asking 128 KiB first would cost a remote source a request of its own.
const FIRST_INPUT_FILL: usize = 4096;

impl Input {
    fn new(at: u64) -> Self {
        Input {
            buf: vec![0u8; INPUT_CHUNK].into_boxed_slice(),
            start: at,
            len: 0,
            pos: 0,
            next_fill: FIRST_INPUT_FILL,
        }
    }

    /// File offset of the next unconsumed byte.
    fn offset(&self) -> u64 {
        self.start + self.pos as u64
    }

    fn seek(&mut self, offset: u64) {
        if offset >= self.start && offset <= self.start + self.len as u64 {
            self.pos = (offset - self.start) as usize;
        } else {
            self.start = offset;
            self.len = 0;
            self.pos = 0;
        }
    }

    /// Makes sure unconsumed bytes are buffered; false at the end of the file.
    fn fill(&mut self, file: &Compressed) -> Result<bool> {
        if self.pos < self.len {
            return Ok(true);
        }
        let at = self.offset();
        let want = self.next_fill.min(self.buf.len());
        self.next_fill = (self.next_fill * 2).min(INPUT_CHUNK);
        self.len = file.read_at(at, &mut self.buf[..want])?;
        self.start = at;
        self.pos = 0;
        Ok(self.len > 0)
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.pos..self.len]
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
    }

    /// The next byte, or `None` at the end of the file.
    fn byte(&mut self, file: &Compressed) -> Result<Option<u8>> {
        if !self.fill(file)? {
            return Ok(None);
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(Some(b))
    }
}

/// Reads gzip member headers (RFC 1952 §2.3), hashing what it reads for FHCRC.
struct HeaderReader<'a> {
    input: &'a mut Input,
    file: &'a Compressed,
    crc: crc32fast::Hasher,
    start: u64,
}

impl HeaderReader<'_> {
    fn byte(&mut self) -> Result<u8> {
        match self.input.byte(self.file)? {
            Some(b) => {
                self.crc.update(&[b]);
                Ok(b)
            }
            None => Err(self.file.cut_short(
                format!(
                    "the file ends inside the gzip member header that starts at byte {}; \
                     is it truncated?",
                    self.start
                ),
                self.input.offset(),
            )),
        }
    }

    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }

    fn skip_zero_terminated(&mut self) -> Result<()> {
        while self.byte()? != 0 {}
        Ok(())
    }
}

/// Parses the member header at the input's position. Before every member but the first, zero
/// padding is skipped and the end of the file is the end of the stream: returns false there.
fn read_member_header(input: &mut Input, file: &Compressed, first: bool) -> Result<bool> {
    // FTEXT is a hint; bits 5-7 are reserved and must be zero.
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    let id1 = loop {
        match input.byte(file)? {
            None if first => {
                return Err(file.corrupt("the gzip file is empty after its magic bytes", 0));
            }
            None => return Ok(false),
            Some(0) if !first => {}
            Some(b) => break b,
        }
    };
    let start = input.offset() - 1;
    let mut h = HeaderReader {
        input,
        file,
        crc: crc32fast::Hasher::new(),
        start,
    };
    h.crc.update(&[id1]);
    let id2 = h.byte()?;
    if [id1, id2] != [0x1f, 0x8b] {
        return Err(file.corrupt(
            format!(
                "bytes after the gzip member that ends at byte {start} are not another gzip \
                 member (they start {id1:02x} {id2:02x}, not 1f 8b)"
            ),
            start,
        ));
    }
    let method = h.byte()?;
    if method != 8 {
        return Err(file.corrupt(
            format!("gzip compression method {method} is not deflate (8)"),
            start + 2,
        ));
    }
    let flags = h.byte()?;
    if flags & 0xe0 != 0 {
        return Err(file.corrupt(
            format!("gzip header flags {flags:#04x} set reserved bits"),
            start + 3,
        ));
    }
    for _ in 0..6 {
        h.byte()?; // MTIME, XFL, OS
    }
    if flags & FEXTRA != 0 {
        for _ in 0..h.u16()? {
            h.byte()?;
        }
    }
    if flags & FNAME != 0 {
        h.skip_zero_terminated()?;
    }
    if flags & FCOMMENT != 0 {
        h.skip_zero_terminated()?;
    }
    if flags & FHCRC != 0 {
        let want = h.crc.clone().finalize() as u16;
        let at = h.input.offset();
        let got = h.u16()?;
        if got != want {
            return Err(file.corrupt(
                format!("gzip header CRC16 is {got:#06x}, but the header hashes to {want:#06x}"),
                at,
            ));
        }
    }
    Ok(true)
}

/// What one [`Stream::step`] did.
enum Step {
    /// A member header was read; its deflate data starts at this file offset.
    Member { data_start: u64 },
    /// `produced` bytes were written to the output; `boundary` is the compressed bit offset
    /// if the inflater stopped at a deflate block boundary (with `Flush::Block`).
    Data {
        produced: usize,
        boundary: Option<u64>,
    },
    /// The last member is done.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    /// Before a member header (`first`: the file's first).
    Header { first: bool },
    /// Inside a member's deflate data.
    Body,
    /// After the last member.
    End,
}

/// A walk through the decompressed stream, across members, from the start of the file or
/// from a checkpoint.
struct Stream {
    input: Input,
    z: zlib::Inflater,
    /// Decompressed offset of the next byte produced.
    out: u64,
    at: Where,
    /// CRC32 and size of the current member's output, when verifying (the first pass).
    check: Option<(crc32fast::Hasher, u32)>,
    verify: bool,
    stalls: u8,
    /// The last error was the file ending early (not data that fails a check).
    cut_short: bool,
}

impl Stream {
    /// The first pass: from the start of the file, verifying trailers.
    fn from_start() -> Result<Self> {
        Ok(Stream {
            input: Input::new(0),
            z: zlib::Inflater::new().map_err(zlib_failure)?,
            out: 0,
            at: Where::Header { first: true },
            check: None,
            verify: true,
            stalls: 0,
            cut_short: false,
        })
    }

    /// A read's walk from `checkpoint` (trailers are skipped: the first pass checked them).
    fn resume(file: &Compressed, checkpoint: &Checkpoint) -> Result<Self> {
        let mut z = zlib::Inflater::new().map_err(|e| zlib_failure(e).with_path(&file.path))?;
        let mut input = Input::new(checkpoint.bit / 8);
        let bits = (checkpoint.bit % 8) as u8;
        if bits != 0 {
            let Some(byte) = input.byte(file)? else {
                return Err(file.corrupt(
                    "the file ends before an indexed checkpoint; did it change?",
                    checkpoint.bit / 8,
                ));
            };
            z.prime(8 - bits, byte >> bits)
                .map_err(|e| zlib_failure(e).with_path(&file.path))?;
        }
        if let Some(window) = &checkpoint.window {
            let dictionary = window.inflate().map_err(|e| e.with_path(&file.path))?;
            z.set_dictionary(&dictionary)
                .map_err(|e| zlib_failure(e).with_path(&file.path))?;
        }
        Ok(Stream {
            input,
            z,
            out: checkpoint.out,
            at: Where::Body,
            check: None,
            verify: false,
            stalls: 0,
            cut_short: false,
        })
    }

    /// Decompresses into `out` (non-empty), or crosses a member header or the end.
    fn step(&mut self, file: &Compressed, out: &mut [u8], flush: zlib::Flush) -> Result<Step> {
        match self.at {
            Where::End => return Ok(Step::End),
            Where::Header { first } => {
                if !read_member_header(&mut self.input, file, first)? {
                    self.at = Where::End;
                    return Ok(Step::End);
                }
                self.z
                    .reset()
                    .map_err(|e| zlib_failure(e).with_path(&file.path))?;
                if self.verify {
                    self.check = Some((crc32fast::Hasher::new(), 0));
                }
                self.at = Where::Body;
                return Ok(Step::Member {
                    data_start: self.input.offset(),
                });
            }
            Where::Body => {}
        }
        let at_eof = !self.input.fill(file)?;
        let r = self.z.inflate(self.input.available(), out, flush);
        self.input.consume(r.consumed);
        self.out += r.produced as u64;
        if let Some((crc, size)) = &mut self.check {
            crc.update(&out[..r.produced]);
            *size = size.wrapping_add(r.produced as u32);
        }
        // zlib-rs may read several bytes ahead: the low six bits of `data_type` count the
        // bits it holds but has not used.
        let bit = zlib::bit_position(self.input.offset(), r.data_type);
        match r.code {
            zlib::Z_STREAM_END => {
                self.finish_member(file, bit.div_ceil(8))?;
                Ok(Step::Data {
                    produced: r.produced,
                    boundary: None,
                })
            }
            zlib::Z_OK | zlib::Z_BUF_ERROR => {
                if r.consumed == 0 && r.produced == 0 {
                    if at_eof {
                        self.cut_short = true;
                        return Err(file.cut_short(
                            "the file ends inside a gzip member's compressed data; \
                             is it truncated?",
                            self.input.offset(),
                        ));
                    }
                    // zlib always progresses with input and output space; never spin.
                    self.stalls += 1;
                    if self.stalls > 3 {
                        return Err(file
                            .corrupt("the deflate stream makes no progress", self.input.offset()));
                    }
                } else {
                    self.stalls = 0;
                }
                let boundary = zlib::between_blocks(r.data_type).then_some(bit);
                Ok(Step::Data {
                    produced: r.produced,
                    boundary,
                })
            }
            zlib::Z_DATA_ERROR => Err(file.corrupt(
                format!(
                    "corrupt deflate data ({}) near compressed byte {}",
                    self.z.message().unwrap_or_else(|| "invalid data".into()),
                    bit / 8
                ),
                bit / 8,
            )),
            code => Err(zlib_failure(code)
                .offset(self.input.offset())
                .with_path(&file.path)),
        }
    }

    /// Reads (and when verifying, checks) the trailer at `trailer`.
    fn finish_member(&mut self, file: &Compressed, trailer: u64) -> Result<()> {
        self.input.seek(trailer);
        let mut bytes = [0u8; 8];
        for b in &mut bytes {
            let byte = self.input.byte(file)?;
            if byte.is_none() {
                self.cut_short = true;
            }
            *b = byte.ok_or_else(|| {
                file.cut_short(
                    "the file ends inside a gzip member's CRC32/ISIZE trailer; is it truncated?",
                    trailer,
                )
            })?;
        }
        if let Some((crc, size)) = self.check.take() {
            let want_crc = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            let want_size = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
            let got_crc = crc.finalize();
            if got_crc != want_crc {
                return Err(file.corrupt(
                    format!(
                        "gzip member CRC32 mismatch: the trailer says {want_crc:#010x}, the \
                         data hashes to {got_crc:#010x}"
                    ),
                    trailer,
                ));
            }
            if size != want_size {
                return Err(file.corrupt(
                    format!(
                        "gzip member size mismatch: the trailer says {want_size} (mod 2^32), \
                         the member holds {size}"
                    ),
                    trailer + 4,
                ));
            }
        }
        self.at = Where::Header { first: false };
        Ok(())
    }
}

/// The streams of reads that stopped inside a span, at most [`MAX_PARKED_STREAMS`], the
/// oldest dropped first. A stream is taken out to be used, so no two reads share one; the
/// lock is held only to look one up or put one back.
#[derive(Default)]
struct ParkedStreams {
    streams: Mutex<Vec<Stream>>,
}

/// Parked streams a source keeps: one per thread of a read split between two cores, twice
/// over. Each holds its input buffer ([`INPUT_CHUNK`]) and zlib's state (about 40 KiB).
const MAX_PARKED_STREAMS: usize = 4;

impl ParkedStreams {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Stream>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a parked stream stopped exactly at `offset`.
    fn holds(&self, offset: u64) -> bool {
        self.lock().iter().any(|s| s.out == offset)
    }

    /// Takes the parked stream that stopped in `[from, to]` nearest to `to`, if any.
    fn take(&self, from: u64, to: u64) -> Option<Stream> {
        let mut streams = self.lock();
        let i = (0..streams.len())
            .filter(|&i| (from..=to).contains(&streams[i].out))
            .max_by_key(|&i| streams[i].out)?;
        Some(streams.swap_remove(i))
    }

    fn park(&self, stream: Stream) {
        let mut streams = self.lock();
        if streams.len() >= MAX_PARKED_STREAMS {
            streams.remove(0);
        }
        streams.push(stream);
    }
}

impl Checkpoint {
    /// Deflates a raw window on rayon's pool, off the reader's path (a window already
    /// deflated, or none, is left alone).
    fn compress_window_later(self: &Arc<Self>) {
        let checkpoint = Arc::clone(self);
        rayon::spawn(move || {
            if let Some(window) = &checkpoint.window {
                window.compress();
            }
        });
    }

    /// The start of a member's deflate data (a member written by `ParallelGzWriter`).
    fn member_start(m: &MemberEntry) -> Self {
        Checkpoint {
            out: m.out,
            bit: (m.offset + MEMBER_HEADER_LEN as u64) * 8,
            window: None,
        }
    }
}

/// Where a read can start decompressing.
struct Checkpoint {
    /// Decompressed offset.
    out: u64,
    /// Compressed offset in bits of the first bit of the next deflate block.
    bit: u64,
    /// The output before `out` within the member (none at a member start).
    window: Option<StoredWindow>,
}

/// A window kept raw-deflate-compressed.
///
/// The first pass stores it raw and has it compressed on rayon's pool
/// ([`StoredWindow::compress`]): compressing at [`WINDOW_LEVEL`] took ~10 % of a first pass
/// on the 221 MB int16 run (0.15 ms for each of 200 windows), now done on the other core.
struct StoredWindow {
    /// Its length once inflated.
    len: u32,
    stored: RwLock<WindowBytes>,
}

/// A window's bytes as stored: raw, or raw deflate when that is smaller.
struct WindowBytes {
    deflated: bool,
    bytes: Box<[u8]>,
}

impl StoredWindow {
    /// A window kept as given, `deflated` or not (from an index file, or raw).
    fn stored(len: u32, deflated: bool, bytes: Box<[u8]>) -> Self {
        StoredWindow {
            len,
            stored: RwLock::new(WindowBytes { deflated, bytes }),
        }
    }

    fn raw(raw: &[u8]) -> Self {
        Self::stored(raw.len() as u32, false, raw.into())
    }

    /// A window deflated from `raw` now, or kept raw when deflating does not make it
    /// smaller.
    fn deflated(raw: &[u8]) -> Self {
        match deflate_window(raw) {
            Some(bytes) => Self::stored(raw.len() as u32, true, bytes.into_boxed_slice()),
            None => Self::raw(raw),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, WindowBytes> {
        self.stored.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Deflates a raw window in place when that makes it smaller; a window already deflated
    /// is left alone. Never panics (it runs on rayon's pool, where a panic would abort).
    fn compress(&self) {
        let deflated = {
            let window = self.read();
            if window.deflated {
                return;
            }
            let Some(out) = deflate_window(&window.bytes) else {
                return;
            };
            out
        };
        *self.stored.write().unwrap_or_else(|e| e.into_inner()) = WindowBytes {
            deflated: true,
            bytes: deflated.into_boxed_slice(),
        };
    }

    /// Its bytes as stored: whether deflated, and a copy.
    fn to_stored(&self) -> (bool, Vec<u8>) {
        let window = self.read();
        (window.deflated, window.bytes.to_vec())
    }

    fn stored_len(&self) -> usize {
        self.read().bytes.len()
    }

    fn inflate(&self) -> Result<Vec<u8>> {
        let window = self.read();
        super::index_file::window_bytes(self.len, window.deflated, &window.bytes)
    }
}

/// `raw` deflated at [`WINDOW_LEVEL`], when that makes it smaller.
fn deflate_window(raw: &[u8]) -> Option<Vec<u8>> {
    thread_local! {
        static CODEC: std::cell::RefCell<flate2::Compress> = std::cell::RefCell::new(
            flate2::Compress::new(flate2::Compression::new(WINDOW_LEVEL), false),
        );
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 16 + 64);
    let done = CODEC.with(|codec| {
        let mut codec = codec.borrow_mut();
        codec.reset();
        matches!(
            codec.compress_vec(raw, &mut out, flate2::FlushCompress::Finish),
            Ok(flate2::Status::StreamEnd)
        )
    });
    (done && out.len() < raw.len()).then_some(out)
}

/// The CRC32 of a stream read through an index file, kept as the reads arrive (see
/// [`GzipSource::check_stream`]).
struct StreamCheck {
    /// The stream is one member whose trailer can be checked.
    checkable: bool,
    /// The stream bytes hashed so far.
    runs: HashedRuns,
    /// The end was reached and checked.
    done: bool,
}

impl Default for StreamCheck {
    fn default() -> Self {
        StreamCheck {
            checkable: false,
            runs: HashedRuns::new(MIN_HASHED_RUN),
            done: false,
        }
    }
}

/// The shortest read through an index file that starts a run of hashed bytes of its own: the
/// reads of a slab split between threads are longer; those of random keys, mostly shorter.
const MIN_HASHED_RUN: usize = 256 * 1024;

/// A sticky first-pass failure: every later read past it reports it again. When the data
/// failed a check, so do reads of bytes the first pass produced before it: a member's CRC32
/// covers all of its data, and a flipped bit can inflate to wrong but well-formed output long
/// before the inflater notices, so nothing read from a damaged member can be trusted.
struct Failure {
    kind: ErrorKind,
    message: String,
    offset: Option<u64>,
    /// The data failed a check (CRC32, ISIZE, invalid deflate data, a bad header), rather
    /// than the file ending early: bytes read before the failure are refused too. A file
    /// cut short keeps serving what it holds before the cut, as nibabel does: those bytes
    /// are no less trustworthy than any read that ends before a member's trailer.
    damaged: bool,
}

impl Failure {
    fn record(src: &GzipSource, e: &Error, cut_short: bool) {
        let _ = src.failure.set(Failure {
            kind: e.kind(),
            message: e.message().to_string(),
            offset: e.byte_offset(),
            damaged: !cut_short,
        });
    }

    fn error(&self, path: &Path) -> Error {
        let mut e = Error::new(self.kind, self.message.clone());
        if let Some(o) = self.offset {
            e = e.offset(o);
        }
        e.with_path(path)
    }
}

/// The first pass: one stream from the start of the file, paused between reads, that records
/// checkpoints as it goes.
struct Builder {
    stream: Stream,
    scratch: Box<[u8]>,
    dictionary: Box<[u8]>,
    last_checkpoint: Option<u64>,
    /// What was last announced as where the pass will probably stop reading
    /// (`announce_end`).
    announced: AnnouncedEnd,
}

/// A guess of where the first pass stops reading, as told to the compressed source.
#[derive(Debug, Default, Clone, Copy)]
struct AnnouncedEnd {
    /// The output the read that the guess is for wants.
    target: u64,
    /// The compressed offset guessed.
    end: u64,
    /// Whether the guess came from the ratio so far (rather than the bound).
    from_ratio: bool,
}

impl Builder {
    fn get<'a>(slot: &'a mut Option<Builder>, path: &Path) -> Result<&'a mut Builder> {
        if slot.is_none() {
            *slot = Some(Builder {
                stream: Stream::from_start().map_err(|e| e.with_path(path))?,
                scratch: vec![0u8; BUILD_CHUNK].into_boxed_slice(),
                dictionary: vec![0u8; WINDOW_SIZE].into_boxed_slice(),
                last_checkpoint: None,
                announced: AnnouncedEnd::default(),
            });
        }
        slot.as_mut()
            .ok_or_else(|| Error::format("gzip index builder missing").with_path(path))
    }

    /// Runs the first pass until `target` bytes are out or the stream ends, copying what
    /// passes through `[offset, offset + buf.len())` into `buf`.
    fn advance(
        &mut self,
        src: &GzipSource,
        target: u64,
        capture: Option<(u64, &mut [u8])>,
    ) -> Result<()> {
        if let Some(f) = src.failure.get() {
            return Err(f.error(&src.file.path));
        }
        let result = self.advance_inner(src, target, capture);
        if let Err(e) = &result {
            // Every failure sticks: the stream may have stopped between a member's data and
            // its trailer, and must not be resumed from there.
            Failure::record(src, e, self.stream.cut_short);
        }
        result
    }

    /// Tells the compressed source where this pass will probably stop reading to make
    /// `target` bytes for a read from `read_from`. Until a MiB is out, a bound: deflate never
    /// makes data much larger (stored blocks add 5 bytes per 64 KiB), so those bytes end
    /// before about `target` bytes of input. Then a guess: the compressed bytes so far per
    /// byte out, times the bytes still to make, a tenth more and an input chunk to spare,
    /// told again whenever the pass nears the last guess, which is then better. A remote
    /// source reads no further ahead than that: without it, a volume of another tool's
    /// `.nii.gz` read ahead up to 16 MiB past the bytes it needed. A read that starts where
    /// the last one ended is one of a run (a whole image read in pieces, volumes in turn):
    /// its source reads ahead as far as it likes.
    fn announce_end(&mut self, src: &GzipSource, read_from: u64, target: u64) {
        let (out, read) = (self.stream.out, self.stream.input.offset());
        let last = self.announced;
        if target <= out || (last.target == target && last.end == u64::MAX) {
            return;
        }
        if last.target != target && last.target != 0 && read_from == last.target {
            self.announced = AnnouncedEnd {
                target,
                end: u64::MAX,
                from_ratio: false,
            };
            src.file.expect_sequential_end(u64::MAX);
            return;
        }
        let from_ratio = out >= RATIO_SAMPLE;
        let due = last.target != target
            || (from_ratio && !last.from_ratio)
            || (from_ratio && read.saturating_add(ANNOUNCE_AGAIN_WITHIN) >= last.end);
        if !due {
            return;
        }
        let end = if from_ratio {
            let per_byte = read as f64 / out as f64;
            // Saturates (as casts do) for any ratio a hostile stream could make.
            let ahead = ((target - out) as f64 * per_byte * 1.1) as u64;
            read.saturating_add(ahead)
                .saturating_add(INPUT_CHUNK as u64)
        } else {
            target
                .saturating_add(target / 1024)
                .saturating_add(INPUT_CHUNK as u64)
        };
        self.announced = AnnouncedEnd {
            target,
            end,
            from_ratio,
        };
        src.file.expect_sequential_end(end);
    }

    fn advance_inner(
        &mut self,
        src: &GzipSource,
        target: u64,
        mut capture: Option<(u64, &mut [u8])>,
    ) -> Result<()> {
        let read_from = capture
            .as_ref()
            .map_or(self.stream.out, |(offset, _)| *offset);
        while self.stream.out < target {
            let before = self.stream.out;
            let mut room = usize::try_from(target - before)
                .unwrap_or(usize::MAX)
                .min(self.scratch.len());
            // Stopping at every block end costs ~20 % of the pass (zlib-rs leaves its fast
            // loop at each stop); stop only once a checkpoint is due, and until then inflate
            // no further than where it falls due.
            let flush = match self.checkpoint_due_in(src.span) {
                0 => zlib::Flush::Block,
                due => {
                    room = room.min(usize::try_from(due).unwrap_or(usize::MAX));
                    zlib::Flush::None
                }
            };
            // Where the read wants every byte of this step, inflate straight into it rather
            // than into the scratch and copy.
            let direct_from = capture.as_ref().and_then(|(offset, buf)| {
                let from = usize::try_from(before.checked_sub(*offset)?).ok()?;
                (from.checked_add(room)? <= buf.len()).then_some(from)
            });
            let out: &mut [u8] = match (capture.as_mut(), direct_from) {
                (Some((_, buf)), Some(from)) => &mut buf[from..from + room],
                _ => &mut self.scratch[..room],
            };
            let step = self.stream.step(&src.file, out, flush)?;
            match step {
                Step::End => {
                    let _ = src.total.set(self.stream.out);
                    break;
                }
                Step::Member { data_start } => {
                    if self.wants_checkpoint(src.span) {
                        self.push(src, data_start * 8, None);
                    }
                }
                Step::Data { produced, boundary } => {
                    src.inflated.fetch_add(produced as u64, Ordering::Relaxed);
                    self.announce_end(src, read_from, target);
                    if let Some((offset, buf)) = capture.as_mut().filter(|_| direct_from.is_none())
                    {
                        copy_overlap(before, &self.scratch[..produced], *offset, buf);
                    }
                    if let Some(bit) = boundary
                        && self.wants_checkpoint(src.span)
                    {
                        let n = self.stream.z.dictionary(&mut self.dictionary);
                        let window = StoredWindow::raw(&self.dictionary[..n]);
                        self.push(src, bit, Some(window)).compress_window_later();
                    }
                }
            }
            src.covered.store(self.stream.out, Ordering::Release);
        }
        Ok(())
    }

    /// Checks the trailer of the member whose last byte a read has just taken, before the
    /// read returns, when the file's last trailer says the member ends here (its ISIZE
    /// equals what this member has produced, mod 2^32: the end of a single-member file, or
    /// of the last member). Given exactly the room a read wants, zlib stops before the
    /// end-of-block code, so a read that ends where the data ends would otherwise never look
    /// at the trailer; one more step of one byte crosses it, and checks the CRC32 and ISIZE.
    /// (A member that ends elsewhere is checked when a later read goes past its end.)
    ///
    /// When that step finds more data although the trailer says the stream ends here, a
    /// damaged block has most likely made
    /// the stream longer: the first pass goes on to the end of the member, whose size check
    /// then fails, so the read reports the damage instead of returning the wrong bytes it
    /// has inflated. It goes at most as far again as the read's end (a file of several
    /// members whose last ISIZE matches by chance stays cheap; a crafted stream cannot make a
    /// small read inflate without bound). Never reads past the trailer: bytes after the last
    /// member are judged only by a read that wants them.
    fn settle(&mut self, src: &GzipSource) -> Result<()> {
        let end = self.stream.out;
        let member_so_far = self.stream.check.as_ref().map(|(_, size)| *size);
        let claimed_end = src.trailer.is_some_and(|t| Some(t.isize) == member_so_far);
        let data_end = src.data_end.load(Ordering::Relaxed) == end;
        if !claimed_end && !data_end {
            // Not where the file's last trailer says a member ends: nothing to check yet. (A
            // step here on every read cost ~1.3 ms each: 70 ms on a 221 MB run read in
            // 4 MiB pieces.)
            return Ok(());
        }
        // The same where only the reader says its data ends (the last trailer belongs to
        // another member, or zero padding or other bytes follow the member): a member that
        // ends here is checked at once; one that goes on (an MGH footer after the data, or
        // a damaged block that lengthened it) is followed to its end, as far again at most.
        let limit = end.saturating_mul(2).max(end + 1);
        let mut room = 1;
        while self.stream.at == Where::Body && self.stream.out < limit {
            match self
                .stream
                .step(&src.file, &mut self.scratch[..room], zlib::Flush::Block)
            {
                Ok(Step::Data { produced, .. }) => {
                    src.inflated.fetch_add(produced as u64, Ordering::Relaxed);
                    src.covered.store(self.stream.out, Ordering::Release);
                }
                Ok(_) => {}
                Err(e) => {
                    Failure::record(src, &e, self.stream.cut_short);
                    return Err(e);
                }
            }
            room = self.scratch.len();
        }
        Ok(())
    }

    /// Output bytes until the next checkpoint falls due (0: due now, at the next block end).
    fn checkpoint_due_in(&self, span: u64) -> u64 {
        match self.last_checkpoint {
            None => 0,
            Some(last) => (last + span).saturating_sub(self.stream.out),
        }
    }

    fn wants_checkpoint(&self, span: u64) -> bool {
        self.checkpoint_due_in(span) == 0
    }

    fn push(
        &mut self,
        src: &GzipSource,
        bit: u64,
        window: Option<StoredWindow>,
    ) -> Arc<Checkpoint> {
        let out = self.stream.out;
        self.last_checkpoint = Some(out);
        let checkpoint = Arc::new(Checkpoint { out, bit, window });
        src.index
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&checkpoint));
        checkpoint
    }
}

/// Copies the part of `data` (which starts at output offset `at`) that falls in the read
/// `[offset, offset + buf.len())`.
fn copy_overlap(at: u64, data: &[u8], offset: u64, buf: &mut [u8]) {
    let lo = at.max(offset);
    let hi = at
        .saturating_add(data.len() as u64)
        .min(offset.saturating_add(buf.len() as u64));
    if lo < hi {
        buf[(lo - offset) as usize..(hi - offset) as usize]
            .copy_from_slice(&data[(lo - at) as usize..(hi - at) as usize]);
    }
}

fn zlib_failure(code: i32) -> Error {
    if code == zlib::Z_MEM_ERROR {
        Error::io(std::io::Error::new(
            std::io::ErrorKind::OutOfMemory,
            "zlib could not allocate its inflate state",
        ))
    } else {
        Error::format(format!("inflate failed with zlib status {code}"))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::io::Write;

    /// `data` as one gzip member at zlib `level` (flate2), as other tools write it.
    pub(in crate::io::gzip) fn gz(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn sample(n: usize) -> Vec<u8> {
        let mut s = 0x9e37_79b9_u32;
        (0..n)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                ((i / 3) as u8).wrapping_add((s % 7) as u8)
            })
            .collect()
    }

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn an_index_exported_after_reads_has_a_checkpoint_every_span() {
        let data = sample(5 << 20);
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "x.gz", &gz(&data, 6));
        for whole in [false, true] {
            let s = GzipSource::open(&path).unwrap();
            let mut all = vec![0u8; data.len()];
            if whole {
                let room = s.room_for_read(0, data.len() as u64);
                let mut roomy = vec![0u8; room + data.len()];
                s.read_at_with_room(0, &mut roomy, room).unwrap();
                all.copy_from_slice(&roomy[room..]);
            } else {
                s.read_at(0, &mut all).unwrap();
            }
            assert_eq!(all, data);
            let index = s.index_file().unwrap();
            let outs: Vec<u64> = index.checkpoints.iter().map(|c| c.out).collect();
            assert!(
                outs.len() >= 5,
                "whole read {whole}: checkpoints at {outs:?}"
            );
            for pair in outs.windows(2) {
                assert!(pair[1] - pair[0] <= 2 * s.span(), "{outs:?}");
            }
        }
    }

    #[test]
    fn trailer_claims_bound_what_a_read_may_size_by_a_header() {
        // 1000 compressed bytes inflate to at most 1,032,000; ISIZE 5000.
        let t = TrailerClaim {
            compressed_len: 1000,
            isize: 5000,
        };
        assert!(t.allows(5000) && t.allows(1));
        assert!(!t.allows(5001), "more than ISIZE in the same 4 GiB");
        // ISIZE 0x0000_1000 in a file large enough for 4 GiB + 4 KiB.
        let big = TrailerClaim {
            compressed_len: 10_000_000,
            isize: 0x1000,
        };
        assert!(big.allows((1 << 32) + 0x1000));
        assert!(
            !big.allows(0x2000),
            "below 4 GiB the length must reach the claim"
        );
        // A lying ISIZE cannot pass the ratio bound: 100 bytes never inflate to 200 KB.
        let liar = TrailerClaim {
            compressed_len: 100,
            isize: 200_000,
        };
        assert!(!liar.allows(200_000));
        assert!(
            !liar.allows(1),
            "an ISIZE past the ratio bound allows nothing"
        );
    }

    #[test]
    fn a_single_member_file_may_hold_its_isize_before_inflating() {
        let dir = tempfile::tempdir().unwrap();
        let data = sample(300_000);
        let path = write(&dir, "one.gz", &gz(&data, 6));
        let source = GzipSource::open(&path).unwrap();
        assert!(source.may_hold(300_000));
        assert!(!source.may_hold(300_001));
        assert_eq!(source.inflated_bytes(), 0, "nothing inflated to decide");
        // Two members: the last ISIZE counts only the last one, so the claim is refused.
        let mut two = gz(&data[..200_000], 6);
        two.extend(gz(&data[200_000..], 6));
        let source = GzipSource::open(write(&dir, "two.gz", &two)).unwrap();
        assert!(!source.may_hold(300_000));
        assert!(source.may_hold(100_000));
        assert_eq!(source.len().unwrap(), 300_000); // finishes the first pass
        assert!(source.may_hold(300_000), "known once the first pass ended");
        assert!(!source.may_hold(300_001));
    }

    #[test]
    fn source_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<GzipSource>();
    }

    #[test]
    fn open_checks_only_the_magic() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "plain.nii", b"\x5c\x01\0\0 not gzip");
        let e = GzipSource::open(&p).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Format);
        assert!(e.to_string().contains("plain.nii"), "{e}");
        let p = write(&dir, "empty.gz", b"");
        assert_eq!(GzipSource::open(&p).unwrap_err().kind(), ErrorKind::Format);
        // A bad body is not noticed by open, only by the read that reaches it.
        let p = write(
            &dir,
            "magic-only.gz",
            &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff],
        );
        let s = GzipSource::open(&p).unwrap();
        assert_eq!(s.inflated_bytes(), 0);
        assert_eq!(s.index_stats().checkpoints, 0);
        assert_eq!(s.len().unwrap_err().kind(), ErrorKind::Format);
    }

    #[test]
    fn header_flags_are_skipped_and_fhcrc_checked() {
        let data = sample(100_000);
        let plain = gz(&data, 6);
        // Rebuild the header with FEXTRA, FNAME, FCOMMENT and FHCRC.
        let mut header = vec![0x1f, 0x8b, 8, 2 | 4 | 8 | 16, 0, 0, 0, 0, 0, 3];
        header.extend_from_slice(&[3, 0, b'a', b'b', b'c']);
        header.extend_from_slice(b"name.nii\0");
        header.extend_from_slice(b"a comment\0");
        let crc = crc32fast::hash(&header) as u16;
        header.extend_from_slice(&crc.to_le_bytes());
        let mut file = header.clone();
        file.extend_from_slice(&plain[10..]);
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "flags.gz", &file);
        let s = GzipSource::open(&p).unwrap();
        assert_eq!(s.len().unwrap(), data.len() as u64);
        let mut buf = vec![0u8; 1000];
        s.read_at(50_000, &mut buf).unwrap();
        assert_eq!(buf, &data[50_000..51_000]);

        let n = header.len();
        file[n - 1] ^= 0xff;
        let p = write(&dir, "badhcrc.gz", &file);
        let e = GzipSource::open(&p).unwrap().len().unwrap_err();
        assert!(e.message().contains("CRC16"), "{e}");
    }

    #[test]
    fn zero_padding_after_the_last_member_is_allowed_other_bytes_are_not() {
        let data = sample(10_000);
        let mut file = gz(&data, 6);
        file.extend_from_slice(&[0u8; 100]);
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "padded.gz", &file);
        assert_eq!(GzipSource::open(&p).unwrap().len().unwrap(), 10_000);
        file.extend_from_slice(b"junk");
        let p = write(&dir, "junk.gz", &file);
        let e = GzipSource::open(&p).unwrap().len().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Format);
        assert!(e.message().contains("not another gzip member"), "{e}");
    }

    #[test]
    fn empty_members_and_an_empty_stream() {
        let data = sample(5000);
        let mut file = gz(b"", 6);
        file.extend(gz(&data, 1));
        file.extend(gz(b"", 9));
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "empties.gz", &file);
        let s = GzipSource::with_span(&p, 1000).unwrap();
        let mut buf = vec![0u8; 5000];
        s.read_at(0, &mut buf).unwrap();
        assert_eq!(buf, data);
        assert_eq!(s.len().unwrap(), 5000);
        let p = write(&dir, "empty-stream.gz", &gz(b"", 6));
        let s = GzipSource::open(&p).unwrap();
        assert_eq!(s.len().unwrap(), 0);
        s.read_at(0, &mut []).unwrap();
        assert!(s.read_at(0, &mut [0u8]).is_err());
    }

    #[test]
    fn reads_past_the_end_are_format_errors_naming_the_length() {
        let data = sample(20_000);
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "short.gz", &gz(&data, 6));
        let s = GzipSource::open(&p).unwrap();
        let mut buf = [0u8; 10];
        let e = s.read_at(19_995, &mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Format);
        assert!(e.message().contains("ends at byte 20000"), "{e}");
        s.read_at(19_990, &mut buf).unwrap();
        assert_eq!(buf, data[19_990..]);
        assert!(s.read_at(u64::MAX - 3, &mut buf).is_err());
        s.read_at(20_000, &mut []).unwrap();
        assert!(s.read_at(20_001, &mut []).is_err());
    }

    #[test]
    fn checkpoints_sit_at_block_boundaries_with_unaligned_bits() {
        // Level 9 on varied data makes many dynamic blocks, whose ends are rarely
        // byte-aligned: reads from those checkpoints exercise inflatePrime.
        let data = sample(3_000_000);
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "blocks.gz", &gz(&data, 9));
        let s = GzipSource::with_span(&p, 64 * 1024).unwrap();
        assert_eq!(s.len().unwrap(), data.len() as u64);
        let stats = s.index_stats();
        assert!(stats.complete);
        assert!(stats.checkpoints > 20, "{stats:?}");
        let index = s.index.read().unwrap();
        assert!(index.iter().any(|c| c.bit % 8 != 0));
        let cps: Vec<_> = index.iter().map(|c| c.out).collect();
        drop(index);
        // The pass stops at block ends only once a checkpoint is due, so the spacing is the
        // span plus the rest of the block it falls in.
        assert!(cps.windows(2).all(|w| w[1] - w[0] >= 64 * 1024), "{cps:?}");
        assert!(
            cps.len() as u64 >= data.len() as u64 / (2 * 64 * 1024),
            "{cps:?}"
        );
        for out in cps {
            let mut buf = [0u8; 100];
            let at = out.min(data.len() as u64 - 100);
            s.read_at(at, &mut buf).unwrap();
            assert_eq!(buf[..], data[at as usize..at as usize + 100]);
        }
    }

    #[test]
    fn windows_are_compressed_off_the_first_pass_and_before_any_export() {
        let data = sample(3_000_000);
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "windows.gz", &gz(&data, 6));
        let s = GzipSource::with_span(&p, 64 * 1024).unwrap();
        assert_eq!(s.len().unwrap(), data.len() as u64);
        // Straight after the pass, windows may still be raw: reads use either form.
        let mut buf = vec![0u8; 1000];
        for at in (0..data.len() - 1000).step_by(50_000) {
            s.read_at(at as u64, &mut buf).unwrap();
            assert!(buf == data[at..at + 1000], "at {at}");
        }
        let file = s.index_file().unwrap();
        let windows: Vec<_> = file
            .checkpoints
            .iter()
            .filter_map(|c| c.window.as_ref())
            .collect();
        assert!(windows.len() > 20, "{}", windows.len());
        assert!(
            windows
                .iter()
                .all(|(len, deflated, bytes)| *deflated && bytes.len() < *len as usize)
        );
        let stored: usize = windows.iter().map(|(_, _, bytes)| bytes.len()).sum();
        assert_eq!(s.index_stats().window_bytes, stored as u64);
    }

    #[test]
    fn a_read_near_u64_max_on_a_fresh_source_is_an_error() {
        let data = sample(50_000);
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "f.gz", &gz(&data, 6));
        let s = GzipSource::open(&p).unwrap();
        let e = s.read_at(u64::MAX - 3, &mut [0u8; 10]).unwrap_err();
        assert!(e.message().contains("ends at byte 50000"), "{e}");
    }

    #[test]
    fn files_with_a_member_index_skip_the_first_pass() {
        let data = sample(2_500_000);
        let dir = tempfile::tempdir().unwrap();
        let bytes = crate::io::gzip::writer::compress_to_vec(&data, 2);
        let p = write(&dir, "indexed.gz", &bytes);
        let s = GzipSource::open(&p).unwrap();
        assert_eq!(s.member_index().map(|m| m.members().len()), Some(3));
        assert_eq!(s.len_hint(), Some(2_500_000));
        // A header read inflates the header, nothing more, and never starts the first pass.
        let mut header = [0u8; 348];
        s.read_at(0, &mut header).unwrap();
        assert_eq!(header[..], data[..348]);
        assert_eq!(s.inflated_bytes(), 348);
        assert!(s.builder.lock().unwrap().is_none());
        // Checkpoints are the member starts, just after each 26-byte header.
        let index = s.index.read().unwrap();
        let starts: Vec<_> = index
            .iter()
            .map(|c| (c.out, c.bit % 8, c.window.is_none()))
            .collect();
        assert_eq!(
            starts,
            [(0, 0, true), (1 << 20, 0, true), (2 << 20, 0, true)]
        );
        assert_eq!(index[0].bit, 26 * 8);
        drop(index);
        // A read across all three members (in parallel) equals the data.
        let mut buf = vec![0u8; 2_400_000];
        s.read_at(50_000, &mut buf).unwrap();
        assert!(buf == data[50_000..2_450_000]);
    }

    /// Reads `[offset, len)` of `path` on a fresh source, as a full-data read does (the
    /// header first, then the rest).
    fn read_after_header(path: &Path, offset: usize, len: usize) -> Result<Vec<u8>> {
        let s = GzipSource::open(path)?;
        let mut header = vec![0u8; offset];
        s.read_at(0, &mut header)?;
        let mut rest = vec![0u8; len - offset];
        s.read_at(offset as u64, &mut rest)?;
        Ok(rest)
    }

    /// [`read_after_header`] as `np.asarray(dataobj)` reads: the rest through
    /// [`Source::read_at_with_room`], with the room the source asks for.
    fn read_with_room_after_header(path: &Path, offset: usize, len: usize) -> Result<Vec<u8>> {
        let s = GzipSource::open(path)?;
        let mut header = vec![0u8; offset];
        s.read_at(0, &mut header)?;
        let room = s.room_for_read(offset as u64, len as u64);
        let mut buf = vec![0u8; room + len - offset];
        s.read_at_with_room(offset as u64, &mut buf, room)?;
        Ok(buf.split_off(room))
    }

    #[test]
    fn a_whole_read_with_room_inflates_the_file_in_one_call() {
        let data = sample(3_000_000);
        let dir = tempfile::tempdir().unwrap();
        for level in [1, 6] {
            let p = write(&dir, "whole.gz", &gz(&data, level));
            let s = GzipSource::open(&p).unwrap();
            let mut header = [0u8; 352];
            s.read_at(0, &mut header).unwrap();
            let before = s.inflated_bytes();
            let room = s.room_for_read(352, data.len() as u64);
            assert_eq!(room, 352, "level {level}");
            let mut buf = vec![0u8; room + data.len() - 352];
            s.read_at_with_room(352, &mut buf, room).unwrap();
            assert!(buf[room..] == data[352..], "level {level}");
            // One call: the stream once, and no checkpoints beyond the header's first pass.
            assert_eq!(s.inflated_bytes() - before, data.len() as u64);
            assert_eq!(s.index_stats().checkpoints, 1);
            // Random access afterwards runs the first pass as far as it needs.
            let mut late = vec![0u8; 1000];
            s.read_at(2_500_000, &mut late).unwrap();
            assert!(late == data[2_500_000..2_501_000]);
            assert_eq!(
                s.room_for_read(352, 2_400_000),
                0,
                "a read short of the end"
            );
        }
    }

    #[test]
    fn a_whole_read_split_across_cores_leaves_a_complete_index() {
        let data = sample(24_000_000);
        let dir = tempfile::tempdir().unwrap();
        let file = gz(&data, 6);
        assert!(file.len() as u64 >= super::super::parallel_inflate::MIN_PARALLEL_COMPRESSED);
        let p = write(&dir, "large.gz", &file);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            let s = GzipSource::open(&p).unwrap();
            let mut header = [0u8; 352];
            s.read_at(0, &mut header).unwrap();
            let room = s.room_for_read(352, data.len() as u64);
            assert_eq!(room, 352);
            let mut buf = vec![0u8; room + data.len() - 352];
            s.read_at_with_room(352, &mut buf, room).unwrap();
            assert!(buf[room..] == data[352..]);
            // The chunks' block boundaries are the index, a checkpoint per span or so: no
            // first pass runs afterwards.
            let stats = s.index_stats();
            assert!(stats.complete, "{stats:?}");
            assert_eq!(stats.indexed_to, data.len() as u64);
            assert!(stats.checkpoints as u64 >= data.len() as u64 / DEFAULT_SPAN / 2);
            assert!(stats.window_bytes > 0);
            assert_eq!(s.len().unwrap(), data.len() as u64);
            for at in [23_000_000usize, 5_000_000, 17_345_678] {
                let before = s.inflated_bytes();
                let mut late = vec![0u8; 1000];
                s.read_at(at as u64, &mut late).unwrap();
                assert!(late == data[at..at + 1000], "at {at}");
                // From the checkpoint before it: a span and a block at most.
                assert!(s.inflated_bytes() - before <= 2 * DEFAULT_SPAN, "at {at}");
            }
        });
    }

    #[test]
    fn larger_files_are_left_to_the_parallel_read_alone() {
        // On one core a first pass keeps the checkpoints of a large file; on two the parallel
        // read records them itself.
        assert!(one_call_fits(ONE_CALL_MAX_COMPRESSED, 1));
        assert!(!one_call_fits(ONE_CALL_MAX_COMPRESSED + 1, 1));
        assert!(one_call_fits(ONE_CALL_MAX_COMPRESSED + 1, 2));
        assert!(one_call_fits(10 * ONE_CALL_MAX_COMPRESSED, 2));
    }

    #[test]
    fn a_read_of_the_whole_stream_from_byte_zero_is_one_call_without_room() {
        let data = sample(1_000_000);
        let dir = tempfile::tempdir().unwrap();
        let s = GzipSource::open(write(&dir, "image.img.gz", &gz(&data, 1))).unwrap();
        let mut out = vec![0u8; data.len()];
        s.read_at(0, &mut out).unwrap();
        assert!(out == data);
        assert_eq!(s.inflated_bytes(), data.len() as u64);
        assert_eq!(s.index_stats().checkpoints, 0, "no first pass ran");
    }

    #[test]
    fn room_is_not_asked_where_one_call_cannot_serve_the_read() {
        let data = sample(600_000);
        let dir = tempfile::tempdir().unwrap();
        let end = data.len() as u64;
        // Several members: the last ISIZE is not the stream's length.
        let mut multi = gz(&data[..200_000], 6);
        multi.extend(gz(&data[200_000..], 6));
        let s = GzipSource::open(write(&dir, "multi.gz", &multi)).unwrap();
        assert_eq!(s.room_for_read(352, end), 0);
        // neurovox's own members read in parallel; so does a range the index covers.
        let own = crate::io::gzip::writer::compress_to_vec(&data, 2);
        let s = GzipSource::open(write(&dir, "own.gz", &own)).unwrap();
        assert_eq!(s.room_for_read(352, end), 0);
        let s = GzipSource::open(write(&dir, "single.gz", &gz(&data, 6))).unwrap();
        assert_eq!(s.room_for_read(352, end), 352);
        assert_eq!(
            s.room_for_read(2 << 20, end),
            0,
            "more than a header before the data"
        );
        s.len().unwrap();
        assert_eq!(s.room_for_read(352, end), 0, "indexed by a first pass");
        // Room longer than the buffer is the caller's mistake.
        let e = s.read_at_with_room(0, &mut [0u8; 4], 5).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
    }

    #[test]
    fn a_last_isize_that_matches_by_chance_still_reads_the_right_bytes() {
        // Two valid members, the last as long as the read: its ISIZE looks like the whole
        // stream's length, but the first member is shorter than the read, so the one call
        // does not fill it and the first pass reads across both.
        let data = sample(500_000);
        let read_len = 400_000;
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = gz(&data[..100_000], 6);
        bytes.extend(gz(&data[100_000..], 6));
        let p = write(&dir, "chance.gz", &bytes);
        let s = GzipSource::open(&p).unwrap();
        assert_eq!(s.room_for_read(352, read_len as u64), 352);
        let read = read_with_room_after_header(&p, 352, read_len).unwrap();
        assert!(
            read == data[352..read_len],
            "the first pass reads both members"
        );
        // A first member that fills the read: its bytes are the stream's first bytes.
        let mut bytes = gz(&data, 6);
        bytes.extend(gz(b"more after the image", 6));
        let n = bytes.len();
        bytes[n - 4..].copy_from_slice(&(data.len() as u32).to_le_bytes());
        let p = write(&dir, "first.gz", &bytes);
        assert!(read_with_room_after_header(&p, 352, data.len()).unwrap() == data[352..]);
    }

    /// ISA-L streaming from MiB reads (windows of the output small and large) and
    /// libdeflate on the whole file give the same answer for every stream: the bytes, or
    /// "not this path" for a damaged, short, long, truncated or multi-member stream.
    #[cfg(feature = "isal")]
    #[test]
    fn both_whole_stream_engines_agree_on_every_stream() {
        let data = sample(2_500_000);
        let dir = tempfile::tempdir().unwrap();
        let mut named = {
            let mut e = flate2::GzBuilder::new()
                .filename("image.nii")
                .extra(vec![1u8, 2, 3])
                .write(Vec::new(), flate2::Compression::new(6));
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        };
        let mut cases: Vec<(&str, Vec<u8>, usize, bool)> = Vec::new();
        for level in [0, 1, 6, 9] {
            cases.push(("level", gz(&data, level), data.len(), true));
        }
        cases.push(("named", named.clone(), data.len(), true));
        cases.push(("empty", gz(&[], 6), 0, true));
        cases.push((
            "a read shorter than the member",
            gz(&data, 6),
            data.len() - 1,
            false,
        ));
        cases.push((
            "a read longer than the member",
            gz(&data, 6),
            data.len() + 1,
            false,
        ));
        let whole = gz(&data, 6);
        cases.push((
            "truncated",
            whole[..whole.len() - 5].to_vec(),
            data.len(),
            false,
        ));
        let mut crc = whole.clone();
        let n = crc.len();
        crc[n - 8] ^= 1;
        cases.push(("a wrong CRC", crc, data.len(), false));
        let mut size = whole.clone();
        size[n - 4] ^= 1;
        cases.push(("a wrong ISIZE", size, data.len(), false));
        let mut flipped = whole.clone();
        flipped[n / 2] ^= 0x10;
        cases.push(("a flipped bit", flipped, data.len(), false));
        let mut two = gz(&data[..1_000_000], 6);
        two.extend(gz(&data[1_000_000..], 6));
        cases.push(("two members", two, data.len(), false));
        named.truncate(20);
        cases.push(("only a header", named, data.len(), false));
        for (what, bytes, len, fills) in cases {
            let p = write(&dir, "case.gz", &bytes);
            let s = GzipSource::open(&p).unwrap();
            let read = |at: u64, buf: &mut [u8]| s.file.read_at(at, buf);
            let mut libdeflate = vec![0u8; len];
            let by_libdeflate = s
                .inflate_in_one_libdeflate_call(bytes.len() as u64, &mut libdeflate)
                .unwrap();
            for window in [usize::MAX, 100_000, 4_097] {
                let mut isal = vec![0u8; len];
                let by_isal =
                    super::super::isal::inflate_member_in_windows(read, &mut isal, window).unwrap();
                assert_eq!(by_isal, fills, "{what}, windows of {window}");
                assert_eq!(by_libdeflate, fills, "{what}: libdeflate");
                if fills {
                    assert!(
                        isal == data[..len] && libdeflate == isal,
                        "{what}, {window}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_header_crc_is_checked_on_the_one_call_path_too() {
        let data = sample(100_000);
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = gz(&data, 6);
        // Set FHCRC with a wrong CRC16 after the 10-byte header.
        bytes[3] |= FLAG_HEADER_CRC;
        bytes.splice(10..10, [0xde, 0xad]);
        let p = write(&dir, "hcrc.gz", &bytes);
        let Err(e) = read_with_room_after_header(&p, 352, data.len()) else {
            panic!("a wrong header CRC was read");
        };
        assert!(e.to_string().contains("hcrc.gz"), "{e}");
    }

    #[test]
    fn a_flipped_bit_anywhere_fails_a_read_to_the_end_never_returns_other_bytes() {
        let data = sample(300_000);
        let dir = tempfile::tempdir().unwrap();
        // Level 1 as Python's gzip writes for nibabel; several members as pigz writes; and
        // neurovox's own indexed members.
        let single = gz(&data, 1);
        let mut multi = gz(&data[..100_000], 6);
        multi.extend(gz(&data[100_000..], 6));
        let indexed = crate::io::gzip::writer::compress_to_vec(&data, 2);
        for (name, good) in [("single", single), ("multi", multi), ("indexed", indexed)] {
            let mut errors = 0;
            let mut state = 0x2545_f491_u32;
            for pos in (10..good.len()).step_by(good.len() / 150 + 1) {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let mut bad = good.clone();
                bad[pos] ^= 1 << (state % 8);
                let p = write(&dir, "bad.gz", &bad);
                // The ordinary read and the one-call whole read (single members) alike.
                let read = if pos % 2 == 0 {
                    read_after_header(&p, 352, data.len())
                } else {
                    read_with_room_after_header(&p, 352, data.len())
                };
                match read {
                    Ok(rest) => assert!(
                        rest == data[352..],
                        "{name}: a flipped bit at byte {pos} read as different bytes"
                    ),
                    Err(e) => {
                        assert!(
                            matches!(e.kind(), ErrorKind::Format | ErrorKind::Io),
                            "{name}: {e}"
                        );
                        assert!(e.to_string().contains("bad.gz"), "{e}");
                        errors += 1;
                    }
                }
            }
            assert!(errors > 100, "{name}: only {errors} flips were noticed");
        }
    }

    #[test]
    fn a_failed_check_fails_every_later_read_of_the_source() {
        let data = sample(200_000);
        let dir = tempfile::tempdir().unwrap();
        let mut bad = gz(&data, 6);
        let n = bad.len();
        bad[n - 6] ^= 0x10; // the CRC32 in the trailer
        let p = write(&dir, "crc.gz", &bad);
        let s = GzipSource::open(&p).unwrap();
        let mut head = [0u8; 100];
        s.read_at(0, &mut head).unwrap(); // not checkable yet
        let mut all = vec![0u8; data.len()];
        let e = s.read_at(0, &mut all).unwrap_err();
        assert!(e.to_string().contains("CRC32 mismatch"), "{e}");
        // Bytes the first pass produced before it failed are not trusted either.
        let e = s.read_at(0, &mut head).unwrap_err();
        assert!(e.to_string().contains("CRC32 mismatch"), "{e}");
        assert!(s.len().is_err());
    }

    #[test]
    fn a_read_that_stops_short_of_a_stream_longer_than_its_trailer_says_fails() {
        // The trailer of a member that really holds 200,000 bytes, claiming 150,000: a read
        // of the first 150,000 bytes is a read "to the end" by the trailer's word.
        let data = sample(200_000);
        let dir = tempfile::tempdir().unwrap();
        let mut bad = gz(&data, 6);
        let n = bad.len();
        bad[n - 4..].copy_from_slice(&150_000u32.to_le_bytes());
        let p = write(&dir, "long.gz", &bad);
        let e = read_after_header(&p, 352, 150_000).unwrap_err();
        assert!(e.to_string().contains("size mismatch"), "{e}");
        // Where the trailer does not claim the end, a partial read is served unchecked.
        let good = write(&dir, "good.gz", &gz(&data, 6));
        assert!(read_after_header(&good, 352, 150_000).unwrap() == data[352..150_000]);
    }

    #[test]
    fn copy_overlap_clips_both_ways() {
        let mut buf = [0u8; 4];
        copy_overlap(10, &[1, 2, 3, 4, 5, 6], 12, &mut buf);
        assert_eq!(buf, [3, 4, 5, 6]);
        let mut buf = [0u8; 4];
        copy_overlap(10, &[1, 2], 8, &mut buf);
        assert_eq!(buf, [0, 0, 1, 2]);
        let mut buf = [9u8; 2];
        copy_overlap(10, &[1, 2], 20, &mut buf);
        assert_eq!(buf, [9, 9]);
    }
}
