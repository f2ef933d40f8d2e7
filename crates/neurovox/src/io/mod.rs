//! Byte sources: opening files and undoing their compression. Knows nothing of formats.

pub mod fingerprint;
pub mod gzip;
pub mod gzip_index;
pub mod gzip_write;
pub mod open;
pub mod recompress;
pub mod source;
pub mod span_cache;

pub use fingerprint::FileFingerprint;
pub use gzip::{GzipIndexStats, GzipSource, DEFAULT_SPAN_CACHE_BYTES};
pub use gzip_write::{compress_to_vec, GzWriteOptions, MemberIndex, ParallelGzWriter};
pub use open::{
    decompressing_reader, detect_compression, open_decompressed, open_decompressed_identified,
    open_regular, read_fully, read_up_to, skip, Compression,
};
pub use source::{FileIdentity, FileSource, MemorySource, MmapSource, Source, StreamSource};
