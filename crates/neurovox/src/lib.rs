//! neurovox reads and writes neuroimaging volumes — NIfTI-1, NIfTI-2, Analyze 7.5, SPM99,
//! SPM2 and MGH/MGZ, plain or compressed — with the semantics of nibabel's image layer.
//!
//! The crate is layered so each behaviour has one home:
//!
//! * [`format`] — pure header codecs: bytes in, typed header out, and back. No I/O.
//! * [`io`] — byte sources and compression detection. Knows nothing of formats.
//! * [`files`] — file names, extensions and format detection: which files make an image,
//!   and reading just enough of them to parse the header.
//! * [`memmap`] — numpy-memmap-like arrays over files, in modes `r`, `r+`, `w+` and `c`;
//!   [`npy`] and [`npz`] — numpy's files, memory-mapped where they can be.
//!
//! ```
//! use neurovox::{ByteOrder, DataType, Header, ImageFormat};
//!
//! let mut hdr = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
//! hdr.set_data_shape(&[64, 64, 30, 100])?;
//! hdr.set_data_dtype(DataType::Int16)?;
//! let bytes = hdr.to_prefix_bytes()?;
//! let back = Header::parse(ImageFormat::Nifti1, &bytes)?;
//! assert_eq!(back.data_shape()?, vec![64, 64, 30, 100]);
//! assert_eq!(back.data_offset(), 352);
//! # Ok::<(), neurovox::Error>(())
//! ```

pub mod array;
pub mod atomic;
pub mod dtype;
pub mod element;
pub mod error;
pub mod files;
pub mod format;
// The fuzz targets' bodies, shared with the crash-regression replay test (see the module).
#[doc(hidden)]
pub mod fuzzing;
pub mod handle;
pub mod image;
pub mod io;
pub mod memmap;
pub mod npy;
pub mod npz;
pub mod plan;
pub mod proxy;
pub mod save;
pub mod scale;
pub mod select;
pub mod tracking;
pub mod write_scale;

pub use dtype::{ByteOrder, CodeMeaning, DataType, StorageDtype};
pub use error::{Error, ErrorKind, Result};
pub use files::{read_header, HeaderInfo};
pub use format::{FieldValue, Header, ImageFormat};
pub use handle::ImageHandle;
pub use image::{load, Image};
pub use save::{save, SaveOptions};
pub use tracking::DirtyReason;
