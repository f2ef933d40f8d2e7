//! The image layer: nibabel's image objects over the layers below — a data object (an array
//! in memory or an [`ArrayProxy`] on disk), a header, an affine and the files they came from.
//!
//! * `file_map.rs` — which files make an image (`.nii`, `.hdr`/`.img`, `.mat`, `.mgz`), which
//!   format they hold, and reading just enough of them to parse the header.
//! * `proxy.rs` — [`ArrayProxy`]: an array that stays on disk and reads only the bytes a slice
//!   needs (nibabel's `arrayproxy.py`).
//! * `dataobj.rs` — [`DataObj`]: an array in memory or a proxy on disk.
//! * `spatial_image.rs` — [`Image`], [`load`] and nibabel's caching rules (nibabel's
//!   `spatialimages.py` and `dataobj_images.py`).
//! * `tracking.rs` — whether an image still matches its file (`is_dirty`).
//! * `save.rs` — saving any image to any format, atomically.
//! * `handle.rs` — [`ImageHandle`]: a few hundred bytes that turn back into the image anywhere.
//! * `url_load.rs` — [`load`] of an `http(s)://` or `s3://` URL (the `remote` feature).
//! * `parrec_nifti.rs` — a PAR/REC recording as the NIfTI-1 image nibabel's `parrec2nii`
//!   writes ([`parrec_to_nifti`]).
//!
//! It uses every layer below ([`crate::format`], [`crate::io`], [`crate::array`],
//! [`crate::numpy`]) and is used by none of them.

pub(crate) mod dataobj;
pub(crate) mod file_map;
pub(crate) mod handle;
pub(crate) mod parrec_nifti;
pub(crate) mod proxy;
pub(crate) mod save;
pub(crate) mod spatial_image;
pub(crate) mod tracking;
pub(crate) mod url_load;

pub use dataobj::{Caching, DataObj, FloatElement};
pub use file_map::{
    ExtensionKind, HeaderInfo, detect_format, extension_kind, header_and_image_paths, mat_path,
    read_header, read_header_as, read_header_from, read_header_limited, split_name,
};
pub use handle::ImageHandle;
pub use parrec_nifti::{ParrecNifti, ParrecToNifti, parrec_dwell_time, parrec_to_nifti};
pub use proxy::{
    ArrayProxy, ArraySpec, DynMemmap, MmapMode, ProxyOptions, ReadOptions, keep_file_open_default,
    set_keep_file_open_default,
};
pub use save::{ImageFiles, SaveOptions, SaveOutcome, SavedBytes, save, save_to_bytes, save_view};
pub use spatial_image::{FileMap, Image, LoadOptions, load, slicer_transform};
pub use tracking::{DirtyReason, changed_fields};
