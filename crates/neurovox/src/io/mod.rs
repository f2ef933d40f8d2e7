//! Byte sources: opening files and undoing their compression. Knows nothing of formats.

pub mod open;
pub mod source;

pub use open::{detect_compression, open_decompressed, read_fully, read_up_to, skip, Compression};
pub use source::{FileSource, MemorySource, Source, StreamSource};
