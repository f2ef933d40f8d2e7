//! `neurovox._neurovox`: the native half of the `neurovox` Python package.
//!
//! Small classes over the Rust core, which the nibabel-shaped Python classes in
//! `python/neurovox` wrap:
//!
//! * [`NativeProxy`] — an [`neurovox::proxy::ArrayProxy`]: reads selections into arrays that
//!   numpy allocates, with the GIL released, and memory maps whole unscaled arrays as
//!   zero-copy numpy views whose `base` keeps the map alive.
//! * [`NativeHeader`] — a [`neurovox::Header`]: fields by name, shape, dtype, zooms,
//!   affines, scaling, extensions.
//! * [`NativeImage`] — a [`neurovox::Image`] loaded from files or built from parts: what the
//!   Python images need for loading, saving and knowing whether they match their files.
//!
//! Errors become the exceptions nibabel raises ([`errors`]).

mod convert;
mod errors;
mod fileobj;
mod header;
mod image;
mod key;
mod mmap;
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
    m.add_class::<proxy::NativeProxy>()?;
    m.add_class::<mmap::MmapOwner>()?;
    m.add_class::<header::NativeHeader>()?;
    m.add_class::<image::NativeImage>()?;
    m.add_function(wrap_pyfunction!(convert::digest, m)?)?;
    m.add_function(wrap_pyfunction!(proxy::set_keep_file_open_default, m)?)?;
    m.add_function(wrap_pyfunction!(image::read_mat_affine, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
