//! `neurovox._neurovox`: the native half of the `neurovox` Python package.
//!
//! Small classes over the Rust core, which the nibabel-shaped Python classes in
//! `python/neurovox` wrap:
//!
//! * [`NativeProxy`] — an [`neurovox::image::ArrayProxy`]: reads selections into arrays that
//!   numpy allocates, with the GIL released, and memory maps whole unscaled arrays as
//!   zero-copy numpy views whose `base` keeps the map alive.
//! * [`NativeHeader`] — a [`neurovox::Header`]: fields by name, shape, dtype, zooms,
//!   affines, scaling, extensions.
//! * [`NativeImage`] — a [`neurovox::Image`] loaded from files or built from parts: what the
//!   Python images need for loading, saving and knowing whether they match their files.
//!
//! * [`npy`] — numpy.memmap, `.npy` and `.npz` for `neurovox.memmap`, `load_npy`/`save_npy`,
//!   `load_npz`/`savez`: maps as genuine `numpy.memmap` instances over core maps
//!   ([`mmap::MmapOwner`] is their `base`), in-memory reads filled with the GIL released.
//! * [`cli`] — the `neurovox` command (`_cli_main`), for the package's console script.
//!
//! Errors become the exceptions nibabel raises ([`errors`]; numpy's for the [`npy`] functions).

mod cli;
mod convert;
mod errors;
mod fileobj;
mod header;
mod image;
mod key;
mod mmap;
mod npy;
mod parrec;
mod proxy;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _neurovox(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ImageFileError", py.get_type::<errors::ImageFileError>())?;
    m.add("HeaderDataError", py.get_type::<errors::HeaderDataError>())?;
    m.add("HeaderTypeError", py.get_type::<errors::HeaderTypeError>())?;
    m.add("StaleFileError", py.get_type::<errors::StaleFileError>())?;
    m.add("WriterError", py.get_type::<errors::WriterError>())?;
    m.add("ImageLimitError", errors::limit_error_type(py)?)?;
    m.add("ImageTruncatedError", errors::truncated_error_type(py)?)?;
    m.add_class::<proxy::NativeProxy>()?;
    m.add_class::<proxy::NativeSpec>()?;
    m.add_class::<mmap::MmapOwner>()?;
    m.add_class::<header::NativeHeader>()?;
    m.add_class::<image::NativeImage>()?;
    m.add_class::<npy::NativeNpz>()?;
    m.add_function(wrap_pyfunction!(npy::memmap_native, m)?)?;
    m.add_function(wrap_pyfunction!(npy::load_npy_native, m)?)?;
    m.add_function(wrap_pyfunction!(npy::load_npy_fileobj, m)?)?;
    m.add_function(wrap_pyfunction!(npy::save_npy_native, m)?)?;
    m.add_function(wrap_pyfunction!(npy::save_npy_fileobj, m)?)?;
    m.add_function(wrap_pyfunction!(npy::savez_native, m)?)?;
    m.add_function(wrap_pyfunction!(convert::digest, m)?)?;
    m.add_function(wrap_pyfunction!(proxy::set_keep_file_open_default, m)?)?;
    m.add_function(wrap_pyfunction!(image::read_mat_affine, m)?)?;
    m.add_function(wrap_pyfunction!(image::slicer_transform, m)?)?;
    m.add_function(wrap_pyfunction!(cli::cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(parrec::parse_par, m)?)?;
    m.add_function(wrap_pyfunction!(parrec::parrec_contents, m)?)?;
    m.add_function(wrap_pyfunction!(parrec::parrec_header, m)?)?;
    m.add_function(wrap_pyfunction!(parrec::parrec_info, m)?)?;
    m.add_function(wrap_pyfunction!(parrec::parrec_affine, m)?)?;
    m.add_function(wrap_pyfunction!(parrec::parrec_scaling, m)?)?;
    m.add_function(wrap_pyfunction!(parrec::parrec_volume_labels, m)?)?;
    m.add_function(wrap_pyfunction!(parrec::parrec_bvals_bvecs, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
