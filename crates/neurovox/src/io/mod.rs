//! The I/O layer: bytes from files and back, knowing nothing of formats.
//!
//! * [`source`] — [`Source`]: a file's (decompressed) bytes, read at any offset by any number
//!   of threads (plain files, memory maps, memory, streams).
//! * [`open`] — opening a path, refusing what is not a regular file, and recognising its
//!   compression by content.
//! * `opener` — where one load's files come from: paths, or objects at URLs opened once
//!   each for the load, as streams or random-access sources.
//! * [`file_identity`] — which file a path named, so a replaced file is never read as the old.
//! * [`fingerprint`] — what a file looked like when it was read, to tell later whether it
//!   changed.
//! * [`gzip`] — random access into gzip (checkpoint index, persisted index files), neurovox's
//!   indexed gzip writer, and recompression.
//! * [`segmented`] — [`SegmentedSource`]: byte ranges of a source read as one run (arrays
//!   a format stores in pieces, ECAT frames).
//! * [`hdf5_dataset`] — HDF5 through a source: [`SourceStorage`] for the HDF5 and netCDF
//!   readers, [`Hdf5DatasetSource`] for one dataset's decoded elements read as one run
//!   (MINC2 images).
//! * [`atomic`] — writing files atomically and durably, one file or a set of them.
//! * `remote` (the `remote` feature) — objects at `http(s)://` and `s3://` URLs read with
//!   range requests through a block cache: `RemoteSource`.
//!
//! Nothing here parses a header or knows what a voxel is; the layers above ([`crate::image`])
//! decide what to read.

pub mod atomic;
pub mod file_identity;
pub mod fingerprint;
pub mod gzip;
pub mod hdf5_dataset;
pub mod open;
pub(crate) mod opener;
pub mod random_access;
#[cfg(feature = "remote")]
pub mod remote;
pub mod segmented;
pub mod source;

pub use file_identity::FileIdentity;
pub use fingerprint::{FileFingerprint, RemoteFingerprint};
pub use gzip::{
    DEFAULT_SPAN_CACHE_BYTES, GzWriteOptions, GzipIndexStats, GzipSource, MemberIndex,
    ParallelGzWriter, compress_to_vec,
};
pub use hdf5_dataset::{Hdf5DatasetSource, SourceStorage};
pub use open::{
    Compression, decompressing_reader, detect_compression, is_url, open_decompressed,
    open_decompressed_identified, open_regular, read_fully, read_up_to, skip,
};
pub use opener::open_gzip;
pub use random_access::{SourceOptions, file_compression, random_access_source};
#[cfg(feature = "remote")]
pub use remote::{RemoteLocation, RemoteObject, RemoteOptions, RemoteSource};
pub use segmented::SegmentedSource;
pub use source::{FileSource, MemorySource, MmapSource, Source, SourceReader, StreamSource};
