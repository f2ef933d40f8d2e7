//! gzip at the machine's limit: random access into any gzip file, an index that outlives the
//! process, and a writer whose files every gzip reader reads and neurovox reads in parallel.
//!
//! * [`reader`] — [`GzipSource`]: a zran-style checkpoint index built lazily by one streaming
//!   pass, shared by every read and thread; member-indexed files read directly; whole reads in
//!   one go (ISA-L streaming, or one libdeflate call without the `isal` feature).
//! * `zlib` (private) — the one raw-inflate FFI wrapper the checkpoints need (zlib-rs's C API).
//! * [`span_cache`] — the decompressed spans recent reads made, shared by threads.
//! * [`hashed_runs`] — the CRC-32 of a stream read in pieces in any order, checked through an
//!   index file.
//! * [`index_file`] — the `.nvgzidx` file that keeps a checkpoint index between processes,
//!   and where loads look for one.
//! * [`member_index`] — the layout of neurovox's indexed gzip (docs/formats.md), read and
//!   written by both sides.
//! * `parallel_inflate` (private) — one gzip member inflated in chunks on every core,
//!   for whole reads of files other tools wrote (no index to split them by), recording the
//!   block boundaries it passes as the reader's checkpoint index.
//! * [`writer`] — [`ParallelGzWriter`]: independent ~1 MiB members compressed on all cores.
//! * `isal` (private, `isal` feature) — the FFI calls to ISA-L: the compressor the writer
//!   uses by default, and the streaming inflater of whole reads.
//! * [`recompress`] — rewriting another tool's gzip as neurovox's indexed gzip.

pub mod hashed_runs;
pub mod index_file;
#[cfg(feature = "isal")]
mod isal;
pub mod member_index;
mod parallel_inflate;
pub mod reader;
pub mod recompress;
pub mod span_cache;
pub mod writer;
mod zlib;

pub use index_file::{
    GzipFingerprint, IndexFile, StoredCheckpoint, cache_dir, cache_path, gzidx, sidecar_path,
};
pub use member_index::{MEMBER_HEADER_LEN, MemberEntry, MemberIndex, TAIL_LEN};
pub use reader::{
    DEFAULT_SPAN, DEFAULT_SPAN_CACHE_BYTES, GzipIndexStats, GzipSource, ONE_CALL_MAX_COMPRESSED,
};
pub use recompress::{RecompressReport, recompress_file};
pub use writer::{
    DEFAULT_ISAL_LEVEL, DEFAULT_LEVEL, DEFAULT_MEMBER_SIZE, GzCompressor, GzWriteOptions,
    ISAL_MAX_LEVEL, MAX_LEVEL, MAX_MEMBER_SIZE, ParallelGzWriter, Producer, compress_to_vec,
};
