//! numpy's own files and arrays: memory maps like `numpy.memmap`, `.npy` files and `.npz`
//! archives, read and written byte for byte as numpy does.
//!
//! * [`memmap`] — [`MemmapArray`]: an n-d array viewing a file, in modes `r`, `r+`, `w+`, `c`.
//! * [`npy`] — the `.npy` header codec, its Python-literal parser, and `.npy` file I/O.
//! * [`npz`] — `.npz` archives as `numpy.savez` and `numpy.savez_compressed` write them.
//!
//! This layer uses [`crate::dtype`], [`crate::array`] and [`crate::io`]; images use its
//! memory maps for `mmap=True` proxies.

pub mod memmap;
pub mod npy;
pub mod npz;

pub use memmap::{MapMode, MemmapArray, MemmapBytes, MemmapOptions};
pub use npy::{
    check_data_len, descr_to_dtype, dtype_to_descr, load_npy, map_npy, npy_header_bytes,
    npy_header_bytes_versioned, npy_header_len, open_npy, parse_npy_header, read_npy,
    read_npy_data_into, read_npy_dyn, read_npy_header, save_npy, write_npy, NpyData, NpyDtype,
    NpyElement, NpyHeader, NpyWritable,
};
pub use npz::{savez, savez_compressed, NpzArchive, NpzMember};
