//! neurovox reads and writes neuroimaging volumes — NIfTI-1, NIfTI-2, Analyze 7.5, SPM99,
//! SPM2 and MGH/MGZ, plain or compressed; it reads AFNI BRIK/HEAD and ECAT7 — with the
//! semantics of nibabel's image layer.
//!
//! # Layers
//!
//! Each behaviour has one home, and each layer uses only the layers before it in this list
//! (checked by `scripts/module_cycles.py` in the test command; docs/architecture.md draws
//! the layers and how a read and a save flow through them):
//!
//! | layer | what it is | what it never does |
//! |---|---|---|
//! | [`error`], [`limits`] | [`Error`]: kind, reason, message, and the file, field and offset it concerns; [`Limits`] | — |
//! | [`dtype`] | data types, byte order, array order, Rust element types | know of files |
//! | [`format`](mod@format) | pure header codecs: bytes in, typed header out, and back | any I/O |
//! | [`io`] | byte sources, compression by content, gzip, fingerprints, atomic writes | know of formats |
//! | [`array`](mod@array) | selections, read planning, read and write scaling, [`array::DynArray`] | open files |
//! | [`numpy`] | numpy's memmaps, `.npy` and `.npz` files | know of images |
//! | [`image`] | [`Image`], [`image::ArrayProxy`], file maps, `is_dirty`, handles, saves | — |
//!
//! The crate root re-exports what most programs need ([`load`], [`Image`], [`save()`],
//! [`Header`], the data types and the error); [`prelude`] brings those into scope at once.
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
pub mod dtype;
pub mod error;
pub mod format;
// The fuzz targets' bodies, shared with the crash-regression replay test (see the module).
#[doc(hidden)]
pub mod fuzzing;
pub mod image;
pub mod io;
pub mod limits;
pub mod numpy;

pub use dtype::{ByteOrder, CodeMeaning, DataType, Order, StorageDtype};
pub use error::{Error, ErrorKind, ErrorReason, Result};
pub use format::{FieldValue, Header, ImageFormat};
pub use image::{
    DirtyReason, HeaderInfo, Image, ImageHandle, SaveOptions, load, read_header, save,
};
pub use limits::Limits;

/// What most programs need, in one `use`.
///
/// ```
/// use neurovox::prelude::*;
///
/// let data = ndarray::Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i + j + k) as f32);
/// let mut img = Image::from_array(data.into_dyn(), None, ImageFormat::Nifti1)?;
/// let values = img.get_fdata(Caching::Fill)?;
/// assert_eq!(values[[1, 2, 3]], 6.0);
/// let part = img.dataobj().read(&sel![.., 1, ..])?;
/// assert_eq!(part.shape(), &[2, 4]);
/// # Ok::<(), Error>(())
/// ```
pub mod prelude {
    pub use crate::array::{DynArray, Selection, SliceItem};
    pub use crate::image::{ArrayProxy, Caching, DataObj, LoadOptions, SaveOptions};
    pub use crate::{
        ByteOrder, DataType, Error, ErrorKind, Header, Image, ImageFormat, Result, StorageDtype,
        load, save, sel,
    };
}

/// The crate's own machinery that its Python bindings, CLI, tests and benchmarks reach into:
/// the byte-level work behind reads and saves, exposed so the bindings can run it on numpy's
/// buffers without a copy. Not API: anything here may change in any release.
#[doc(hidden)]
pub mod internals {
    pub use crate::array::dyn_array::digest_memory;
    pub use crate::array::plan::{PIECE_BYTES, SKIP_THRESHOLD, plan_read_from};
    pub use crate::array::read_scale::{
        FloatOut, apply_scaling, decode_raw, decode_raw_with, decode_raw_with_room, decode_scaled,
        scale_bytes_into, scale_into,
    };
    pub use crate::array::write_scale::{
        DataRange, Extreme, WriteScaling, WriterKind, choose_scaling, choose_scaling_for_range,
        choose_scaling_for_view, finite_range, unscaled_by_type,
    };
    pub use crate::array::write_values::{write_values, write_view, write_view_into};
    pub use crate::image::save::{FilePart, SaveData, SaveParts, save_parts};
    pub use num_complex::Complex;
}
