//! Byte sources: opening files and undoing their compression. Knows nothing of formats.

pub mod gzip;
pub mod open;
pub mod source;

pub use gzip::{GzipIndexStats, GzipSource};
pub use open::{
    decompressing_reader, detect_compression, open_decompressed, read_fully, read_up_to, skip,
    Compression,
};
pub use source::{FileSource, MemorySource, MmapSource, Source, StreamSource};
