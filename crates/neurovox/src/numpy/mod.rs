//! numpy's own files and arrays: memory maps like `numpy.memmap`, `.npy` files and `.npz`
//! archives, read and written byte for byte as numpy does.
//!
//! * [`memmap`] — [`MemmapArray`](memmap::MemmapArray): an n-d array viewing a file, in
//!   modes `r`, `r+`, `w+`, `c`.
//! * [`npy`] — the `.npy` header codec, its Python-literal parser, and `.npy` file I/O.
//! * [`npz`] — `.npz` archives as `numpy.savez` and `numpy.savez_compressed` write them.
//!
//! This layer uses [`crate::dtype`], [`crate::array`] and [`crate::io`]; images use its
//! memory maps for `mmap=True` proxies.

pub mod memmap;
pub mod npy;
pub mod npz;
