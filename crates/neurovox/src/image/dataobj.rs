//! An image's data object and the float types its data is read as: [`DataObj`] is an array in
//! memory or an [`ArrayProxy`] on disk (nibabel's `dataobj`, `is_proxy`), [`Caching`] is
//! `get_fdata`'s `caching` argument, and [`FloatElement`] the float types `get_fdata` gives.
//!
//! Apart from [`crate::image::spatial_image`] so that what compares an image with its file
//! ([`crate::image::tracking`]) can see the data object without depending on `Image`.

use crate::array::dyn_array::{DynArray, DynElement, slice_array};
use crate::array::read_scale::FactorType;
use crate::array::selection::Selection;
use crate::error::{Error, Result};
use crate::image::proxy::ArrayProxy;

/// An image's data: an array in memory, or a proxy that reads from disk.
#[derive(Debug, Clone)]
pub enum DataObj {
    /// An array in memory (an "array image").
    Array(DynArray),
    /// An array on disk (a "proxy image").
    Proxy(ArrayProxy),
}

impl DataObj {
    /// The data shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            DataObj::Array(a) => a.shape(),
            DataObj::Proxy(p) => p.shape(),
        }
    }

    /// True for proxies (nibabel's `is_proxy`).
    pub fn is_proxy(&self) -> bool {
        matches!(self, DataObj::Proxy(_))
    }

    /// All values as the data object gives them (nibabel's `np.asanyarray(dataobj)`): the
    /// array itself, or a full read of the proxy, scaled.
    pub fn to_array(&self) -> Result<DynArray> {
        match self {
            DataObj::Array(a) => Ok(a.clone()),
            DataObj::Proxy(p) => p.read(crate::array::Selection::all()),
        }
    }

    /// The values of a selection.
    pub fn read(&self, selection: &Selection) -> Result<DynArray> {
        match self {
            DataObj::Array(a) => slice_array(a, &selection.canonicalize(a.shape())?),
            DataObj::Proxy(p) => p.read(selection),
        }
    }
}

/// The `caching` argument of [`Image::get_fdata`](crate::image::Image::get_fdata) and
/// [`Image::get_data`](crate::image::Image::get_data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Caching {
    /// Keep what is read in the image's cache (nibabel's default, `'fill'`).
    #[default]
    Fill,
    /// Never fill the cache (`'unchanged'`); a full cache is still used.
    Unchanged,
}

impl std::str::FromStr for Caching {
    type Err = Error;

    /// `"fill"` or `"unchanged"`, anything else a Usage error with nibabel's message.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fill" => Ok(Caching::Fill),
            "unchanged" => Ok(Caching::Unchanged),
            _ => Err(Error::usage(
                "caching value should be \"fill\" or \"unchanged\"",
            )),
        }
    }
}

/// The float types [`Image::get_fdata`](crate::image::Image::get_fdata) returns: `f32` and `f64`.
pub trait FloatElement: DynElement + crate::dtype::FloatOut {
    /// The scale-factor precision this type asks for.
    const FACTOR: FactorType;
}

impl FloatElement for f64 {
    const FACTOR: FactorType = FactorType::F64;
}

impl FloatElement for f32 {
    const FACTOR: FactorType = FactorType::F32;
}
