//! The array a text header describes (AFNI's `.HEAD`, a `.PAR`): its shape, stored type and
//! voxel sizes, worked out once from the text and then changeable in memory, as nibabel's
//! `SpatialHeader` keeps them beside the header's own fields.

use crate::dtype::{DataType, StorageDtype};

/// Shape, stored type and voxel sizes.
///
/// ```
/// use neurovox::format::Geometry;
/// use neurovox::{ByteOrder, DataType, StorageDtype};
/// let mut g = Geometry::new(vec![4, 5, 6], StorageDtype::new(DataType::Int16, ByteOrder::Big), vec![2.0, 2.0, 3.0]);
/// g.set_data_shape(&[4, 5, 6, 2]);
/// assert_eq!(g.zooms(), [2.0, 2.0, 3.0, 1.0]); // a new axis has size 1
/// g.set_data_dtype(DataType::Float32);
/// assert_eq!(g.data_dtype().order, ByteOrder::Big); // the byte order stays
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    shape: Vec<usize>,
    dtype: StorageDtype,
    zooms: Vec<f64>,
}

impl Geometry {
    /// The geometry of an array of `shape` and `dtype` with voxel sizes `zooms`.
    pub fn new(shape: Vec<usize>, dtype: StorageDtype, zooms: Vec<f64>) -> Geometry {
        Geometry {
            shape,
            dtype,
            zooms,
        }
    }

    /// The data shape.
    pub fn data_shape(&self) -> &[usize] {
        &self.shape
    }

    /// Changes the shape, with one voxel size per axis: those beyond the new axes dropped,
    /// new axes of size 1 (nibabel's `SpatialHeader.set_data_shape`).
    pub fn set_data_shape(&mut self, shape: &[usize]) {
        self.shape = shape.to_vec();
        self.zooms.resize(shape.len(), 1.0);
    }

    /// The stored element type and byte order.
    pub fn data_dtype(&self) -> StorageDtype {
        self.dtype
    }

    /// Changes the element type, keeping the byte order.
    pub fn set_data_dtype(&mut self, dtype: DataType) {
        self.dtype = StorageDtype::new(dtype, self.dtype.order);
    }

    /// The voxel sizes (and time step).
    pub fn zooms(&self) -> &[f64] {
        &self.zooms
    }

    /// Changes the voxel sizes.
    pub fn set_zooms(&mut self, zooms: &[f64]) {
        self.zooms = zooms.to_vec();
    }
}
