//! MINC headers (nibabel's `minc1.py` and `minc2.py`): MINC1 is a netCDF classic file, MINC2
//! an HDF5 file; both hold an `image` variable with one variable per dimension (`xspace`,
//! `yspace`, `zspace`, `time`, …) carrying its `step`, `start` and `direction_cosines`, and
//! `image-min` / `image-max` variables over up to two leading image dimensions that map the
//! stored integers onto real values.
//!
//! What nibabel reads, we read: the shape in the file's dimension order (C order), the stored
//! type (MINC1: the netCDF type and `signtype`, big-endian; MINC2: the HDF5 type with its byte
//! order), voxel sizes `|step|` for every dimension, and an affine from the dimensions whose
//! names end in `space`, taken in file order: column `i` is `direction_cosines × step` and the
//! origin is `cosines · start`. Integer values are clipped to the valid range
//! (`valid_range`; MINC1 also `valid_min`/`valid_max`; else the type's range) and mapped
//! linearly so that range becomes `image-min`..`image-max` of their slice; float values are
//! never scaled.
//!
//! The netCDF and HDF5 structures are read by [`netcdf_reader`] and [`hdf5_reader`] (one
//! author, pure Rust, both maintained). They were chosen over the alternatives for the reasons
//! docs/formats.md ("MINC readers") records with its measurements: they read every MINC file
//! in nibabel's test data to the value, they read through any random-access [`Storage`] (so a
//! `.mnc.gz` is read through our gzip index and nothing is loaded whole), netCDF gives the
//! image variable's file offset (so MINC1 data is read by our own planner, a slice at a time),
//! and in campaigns of corrupted files neither panicked, hung or allocated beyond its caps —
//! where the `netcdf3` crate aborts on allocations a header asks for and the HDF5 C library
//! (through `hdf5-metno`) crashed and hung, and needs a file path rather than a byte source.
//!
//! This module reads the header through a [`Storage`] (a byte range reader); it knows nothing
//! of files. Reading a MINC2 image's values is the HDF5 dataset source's job
//! (`io::Hdf5DatasetSource`); reading a MINC1 image's is the planner's, from the variable's
//! offset ([`MincHeader::data_ranges`]).

use super::affine::Affine;
use super::check_declared_shape;
use super::fields::FieldValue;
use super::geometry::Geometry;
use crate::dtype::{ByteOrder, DataType, StorageDtype};
use crate::error::{Error, Result};
pub use hdf5_reader::storage::{BytesStorage, DynStorage, Storage};

/// The HDF5 path of a MINC2 file's image dataset.
pub const MINC2_IMAGE: &str = "/minc-2.0/image/0/image";
/// The HDF5 group of a MINC2 file's dimension variables.
const MINC2_DIMENSIONS: &str = "/minc-2.0/dimensions";

/// Which MINC a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MincVersion {
    /// MINC1: netCDF classic (`CDF\x01`) or 64-bit offset (`CDF\x02`).
    One,
    /// MINC2: HDF5.
    Two,
}

/// The MINC version a file's first bytes announce: `CDF\x01` or `CDF\x02` (netCDF classic,
/// 64-bit offset), or HDF5's signature.
///
/// ```
/// use neurovox::format::minc::{sniff_version, MincVersion};
/// assert_eq!(sniff_version(b"CDF\x01\0\0\0\0"), Some(MincVersion::One));
/// assert_eq!(sniff_version(b"\x89HDF\r\n\x1a\n"), Some(MincVersion::Two));
/// assert_eq!(sniff_version(b"CDF\x05"), None); // netCDF-5: not a MINC1 container
/// ```
pub fn sniff_version(bytes: &[u8]) -> Option<MincVersion> {
    if bytes.starts_with(b"CDF\x01") || bytes.starts_with(b"CDF\x02") {
        Some(MincVersion::One)
    } else if bytes.starts_with(b"\x89HDF\r\n\x1a\n") {
        Some(MincVersion::Two)
    } else {
        None
    }
}

/// One dimension of the image: its variable's attributes, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct MincDimension {
    /// The dimension's name (`xspace`, `time`, …).
    pub name: String,
    /// Its length.
    pub len: usize,
    /// `step` (the voxel size, signed), if given.
    pub step: Option<f64>,
    /// `start` (the world coordinate of index 0 along the axis), if given.
    pub start: Option<f64>,
    /// `direction_cosines`, if given.
    pub direction_cosines: Option<[f64; 3]>,
    /// `spacing` (`regular__` or `irregular`), if given.
    pub spacing: Option<String>,
}

/// A MINC1 or MINC2 header: the image's dimensions, type and scaling variables.
#[derive(Debug, Clone, PartialEq)]
pub struct MincHeader {
    version: MincVersion,
    dimensions: Vec<MincDimension>,
    geometry: Geometry,
    /// MINC1: where the image variable's bytes are, `(offset, len)` per run.
    data_ranges: Vec<(u64, u64)>,
    valid_range: [f64; 2],
    scale_dims: Vec<String>,
    image_min: Vec<f64>,
    image_max: Vec<f64>,
    /// `image-max - image-min` in float32 (numpy's arithmetic on float32 arrays).
    difference_in_f32: bool,
    attributes: Vec<(String, FieldValue)>,
    warnings: Vec<String>,
}

/// The clip range and per-slice factors that turn a MINC image's stored integers into values.
#[derive(Debug, Clone, PartialEq)]
pub struct MincScaling {
    /// The leading axes the factors vary along (none: one pair for the whole image).
    pub axes: Vec<usize>,
    /// Their lengths.
    pub lens: Vec<usize>,
    /// One slope per combination of indices on `axes`, in C order.
    pub slopes: Vec<f64>,
    /// One intercept per combination of indices on `axes`, in C order.
    pub inters: Vec<f64>,
    /// The valid range stored values are clipped to before scaling.
    pub clip: [f64; 2],
}

fn header_error(message: String, field: &'static str) -> Error {
    Error::header_value(message).field(field)
}

/// A reader's error, named as a MINC problem.
fn container_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::format(format!("{what}: {e}"))
}

/// The first value of a numeric attribute that must hold exactly one (nibabel's
/// `float(dim.step)`).
fn single(values: Option<Vec<f64>>, dim: &str, name: &'static str) -> Result<Option<f64>> {
    match values.as_deref() {
        None => Ok(None),
        Some([v]) => Ok(Some(*v)),
        Some(other) => Err(header_error(
            format!(
                "dimension {dim:?}: attribute {name} has {} values, not 1",
                other.len()
            ),
            name,
        )),
    }
}

fn cosines(values: Option<Vec<f64>>, dim: &str) -> Result<Option<[f64; 3]>> {
    match values.as_deref() {
        None => Ok(None),
        Some(&[a, b, c]) => Ok(Some([a, b, c])),
        Some(other) => Err(header_error(
            format!(
                "dimension {dim:?}: direction_cosines has {} values, not 3",
                other.len()
            ),
            "direction_cosines",
        )),
    }
}

/// The range of an integer type, as numpy's `iinfo`.
fn type_range(dtype: DataType) -> Option<[f64; 2]> {
    Some(match dtype {
        DataType::UInt8 => [0.0, u8::MAX as f64],
        DataType::Int8 => [i8::MIN as f64, i8::MAX as f64],
        DataType::UInt16 => [0.0, u16::MAX as f64],
        DataType::Int16 => [i16::MIN as f64, i16::MAX as f64],
        DataType::UInt32 => [0.0, u32::MAX as f64],
        DataType::Int32 => [i32::MIN as f64, i32::MAX as f64],
        // numpy's iinfo limits as float64, as nibabel's np.asarray(valid_range, float64).
        DataType::UInt64 => [0.0, u64::MAX as f64],
        DataType::Int64 => [i64::MIN as f64, i64::MAX as f64],
        _ => return None,
    })
}

/// The valid range of integer data: the attribute's first two values, which must lie inside
/// the type's range (nibabel's `_get_valid_range`), or the type's range.
fn checked_valid_range(declared: Option<Vec<f64>>, dtype: DataType) -> Result<[f64; 2]> {
    let Some(limits) = type_range(dtype) else {
        return Ok([0.0, 0.0]);
    };
    let Some(values) = declared else {
        return Ok(limits);
    };
    let [lo, hi] = match values[..] {
        [lo, hi, ..] => [lo, hi],
        _ => {
            return Err(header_error(
                format!(
                    "valid_range has {} values; it needs a minimum and a maximum",
                    values.len()
                ),
                "valid_range",
            ));
        }
    };
    if lo < limits[0] || hi > limits[1] {
        return Err(header_error(
            format!(
                "Valid range outside input data type range: [{lo}, {hi}] for {}",
                dtype.name()
            ),
            "valid_range",
        ));
    }
    Ok([lo, hi])
}

impl MincHeader {
    /// Reads the header of a MINC1 or MINC2 file through `storage`, which the file's first
    /// bytes decide between. Reads the netCDF header or the HDF5 objects the image needs and
    /// the `image-min` / `image-max` values, nothing of the image itself.
    ///
    /// # Errors
    ///
    /// A Format error for a file that is neither, or whose structures are broken; a Format
    /// error naming the field for what nibabel refuses (irregular spacing, fewer or more than
    /// three spatial dimensions, scaling variables that do not match the image, a valid range
    /// outside the type's).
    ///
    /// ```
    /// use neurovox::format::minc::{BytesStorage, MincHeader};
    /// let err = MincHeader::read(std::sync::Arc::new(BytesStorage::new(vec![0u8; 16]))).unwrap_err();
    /// assert!(err.to_string().contains("not a MINC file"));
    /// ```
    pub fn read(storage: DynStorage) -> Result<MincHeader> {
        let len = storage.len();
        let magic = storage
            .read_range(0, len.min(8) as usize)
            .map_err(|e| container_error("reading the file's first bytes", e))?;
        match sniff_version(&magic) {
            Some(MincVersion::One) => read_minc1(storage),
            Some(MincVersion::Two) => read_minc2(storage),
            None => Err(Error::format(
                "not a MINC file: no netCDF classic (CDF\\x01, CDF\\x02) or HDF5 signature",
            )),
        }
    }

    /// An empty header of `version` with data of byte order `order` (nibabel's
    /// `Minc1Header()`, native order), for images made in memory.
    pub fn empty(version: MincVersion, order: ByteOrder) -> MincHeader {
        MincHeader {
            version,
            dimensions: Vec::new(),
            geometry: Geometry::new(
                vec![0],
                StorageDtype::new(DataType::Float32, order),
                vec![1.0],
            ),
            data_ranges: Vec::new(),
            valid_range: [0.0, 0.0],
            scale_dims: Vec::new(),
            image_min: Vec::new(),
            image_max: Vec::new(),
            difference_in_f32: false,
            attributes: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn build(
        version: MincVersion,
        dimensions: Vec<MincDimension>,
        dtype: StorageDtype,
        valid_range: [f64; 2],
        scaling: ScaleVariables,
        attributes: Vec<(String, FieldValue)>,
        warnings: Vec<String>,
    ) -> Result<MincHeader> {
        let (scale_dims, image_min, image_max) = scaling;
        let shape: Vec<usize> = dimensions.iter().map(|d| d.len).collect();
        let zooms = dimensions
            .iter()
            .map(|d| d.step.map_or(1.0, f64::abs))
            .collect();
        let header = MincHeader {
            version,
            geometry: Geometry::new(shape.clone(), dtype, zooms),
            dimensions,
            data_ranges: Vec::new(),
            valid_range,
            scale_dims,
            image_min,
            image_max,
            difference_in_f32: false,
            attributes,
            warnings,
        };
        // Refused at load what nibabel refuses when it makes the image.
        let affine = header.affine()?;
        header.check_scaling()?;
        // nibabel's image takes the first three voxel sizes from the affine's columns
        // (SpatialImage._affine2header), so a time axis first reports a spatial size.
        let mut header = header;
        let mut zooms = header.geometry.zooms().to_vec();
        for (z, v) in zooms.iter_mut().zip(super::affine::voxel_sizes(&affine)) {
            *z = v;
        }
        header.geometry.set_zooms(&zooms);
        Ok(header)
    }

    /// MINC1 or MINC2.
    pub fn version(&self) -> MincVersion {
        self.version
    }

    /// nibabel's image format for this header.
    pub fn format(&self) -> crate::ImageFormat {
        match self.version {
            MincVersion::One => crate::ImageFormat::Minc1,
            MincVersion::Two => crate::ImageFormat::Minc2,
        }
    }

    /// The image's dimensions in file order.
    pub fn dimensions(&self) -> &[MincDimension] {
        &self.dimensions
    }

    /// Shape, stored type and voxel sizes.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Shape, stored type and voxel sizes, to change in memory.
    pub fn geometry_mut(&mut self) -> &mut Geometry {
        &mut self.geometry
    }

    /// MINC1: the image's bytes in the file, `(offset, len)` per run (one run, or one per
    /// record of a record variable). Empty for MINC2, whose values the HDF5 dataset gives.
    pub fn data_ranges(&self) -> &[(u64, u64)] {
        &self.data_ranges
    }

    /// The valid range integers are clipped to (the type's range when the file gives none).
    pub fn valid_range(&self) -> [f64; 2] {
        self.valid_range
    }

    /// The dimensions `image-min` and `image-max` vary along (the first 0, 1 or 2 of the
    /// image's).
    pub fn scale_dims(&self) -> &[String] {
        &self.scale_dims
    }

    /// `image-min`, in C order over [`MincHeader::scale_dims`].
    pub fn image_min(&self) -> &[f64] {
        &self.image_min
    }

    /// `image-max`, in C order over [`MincHeader::scale_dims`].
    pub fn image_max(&self) -> &[f64] {
        &self.image_max
    }

    /// What the reading noticed and nibabel warns of (a dimension's unknown `spacing`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The image variable's attributes and the header's summary values, by name, for
    /// printing: `dimorder`, `valid_range`, `signtype`, `image-min`, `image-max`, and each
    /// dimension's `<name>:step`, `<name>:start`, `<name>:direction_cosines`.
    pub fn attributes(&self) -> &[(String, FieldValue)] {
        &self.attributes
    }

    /// One of [`MincHeader::attributes`] by name.
    pub fn attribute(&self, name: &str) -> Option<&FieldValue> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The voxel-to-world affine nibabel's `Minc1File.get_affine` gives: from the spatial
    /// dimensions (names ending in `space`) in file order; a Format error unless there are
    /// exactly three. A header made in memory (no dimensions) has the base affine of its
    /// shape and voxel sizes, as nibabel's `SpatialHeader`.
    ///
    /// ```
    /// use neurovox::format::MincHeader;
    /// use neurovox::format::minc::MincVersion;
    /// let mut header = MincHeader::empty(MincVersion::One, neurovox::ByteOrder::NATIVE);
    /// header.geometry_mut().set_data_shape(&[3, 3, 3]);
    /// assert_eq!(header.affine()?[0], [-1.0, 0.0, 0.0, 1.0]);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn affine(&self) -> Result<Affine> {
        if self.dimensions.is_empty() {
            return Ok(super::affine::shape_zoom_affine(
                self.geometry.data_shape(),
                self.geometry.zooms(),
                true,
            ));
        }
        let spatial: Vec<&MincDimension> = self
            .dimensions
            .iter()
            .filter(|d| d.name.ends_with("space"))
            .collect();
        if spatial.len() != 3 {
            return Err(Error::format(format!(
                "Image does not have 3 spatial dimensions (it has {}: {:?})",
                spatial.len(),
                spatial.iter().map(|d| &d.name).collect::<Vec<_>>()
            ))
            .field("dimorder"));
        }
        let mut affine = crate::format::affine::IDENTITY;
        for (i, dim) in spatial.iter().enumerate() {
            let cosines = match dim.direction_cosines {
                Some(c) => c,
                None => match dim.name.as_str() {
                    "xspace" => [1.0, 0.0, 0.0],
                    "yspace" => [0.0, 1.0, 0.0],
                    "zspace" => [0.0, 0.0, 1.0],
                    other => {
                        return Err(header_error(
                            format!(
                                "dimension {other:?} has no direction_cosines and no default \
                                 (only xspace, yspace and zspace have one)"
                            ),
                            "direction_cosines",
                        ));
                    }
                },
            };
            let (step, start) = (dim.step.unwrap_or(1.0), dim.start.unwrap_or(0.0));
            // Column i: the cosines scaled by the step; the origin: rot_mat · starts.
            for (row, c) in cosines.iter().enumerate() {
                affine[row][i] = c * step;
                affine[row][3] += c * start;
            }
        }
        Ok(affine)
    }

    /// nibabel's checks of `image-min` / `image-max` against the image (made when data is
    /// read there, at load here: docs/compat.md, "MINC").
    fn check_scaling(&self) -> Result<()> {
        if !self.geometry.data_dtype().dtype.is_integer() {
            return Ok(());
        }
        let n = self.scale_dims.len();
        if n > 2 {
            return Err(Error::format(format!(
                "More than two scaling dimensions: image-min and image-max vary along {:?}",
                self.scale_dims
            ))
            .field("image-max"));
        }
        let leading: Vec<&str> = self.dimensions[..n.min(self.dimensions.len())]
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        if n > self.dimensions.len() || self.scale_dims != leading {
            return Err(Error::format(format!(
                "image-max and image dimensions do not match: {:?} is not the start of {:?}",
                self.scale_dims,
                self.dimensions.iter().map(|d| &d.name).collect::<Vec<_>>()
            ))
            .field("image-max"));
        }
        let count: usize = self.dimensions[..n].iter().map(|d| d.len).product();
        if self.image_min.len() != count || self.image_max.len() != count {
            return Err(Error::format(format!(
                "image-min and image-max hold {} and {} values where their dimensions {:?} \
                 need {count}",
                self.image_min.len(),
                self.image_max.len(),
                self.scale_dims
            ))
            .field("image-max"));
        }
        Ok(())
    }

    /// The clip range and factors that give integer data its values (nibabel's
    /// `Minc1File._normalize`): `slope = (max - min) / (valid_max - valid_min)` and
    /// `inter = min - valid_min × slope` per entry of `image-min` / `image-max` (the
    /// difference in float32 when both are stored as float32 arrays, as numpy takes it).
    /// `None` for float data, which is never scaled.
    pub fn data_scaling(&self) -> Result<Option<MincScaling>> {
        if !self.geometry.data_dtype().dtype.is_integer() {
            return Ok(None);
        }
        self.check_scaling()?;
        let [dmin, dmax] = self.valid_range;
        let (slopes, inters) = self
            .image_min
            .iter()
            .zip(&self.image_max)
            .map(|(&imin, &imax)| {
                let range = match self.difference_in_f32 {
                    true => f64::from(imax as f32 - imin as f32),
                    false => imax - imin,
                };
                let slope = range / (dmax - dmin);
                (slope, imin - dmin * slope)
            })
            .unzip();
        let n = self.scale_dims.len();
        Ok(Some(MincScaling {
            axes: (0..n).collect(),
            lens: self.dimensions[..n].iter().map(|d| d.len).collect(),
            slopes,
            inters,
            clip: self.valid_range,
        }))
    }

    /// The number of bytes the image needs.
    fn image_nbytes(&self) -> Result<u64> {
        super::declared_nbytes(self.geometry.data_shape(), self.geometry.data_dtype().dtype)
    }
}

/// The `image-min` / `image-max` pair: their dimension names and values.
type ScaleVariables = (Vec<String>, Vec<f64>, Vec<f64>);

/// The number of values of a variable of these dimension lengths (which the file sets, so
/// their product may overflow: then `u64::MAX`, more than any image holds).
fn saturating_count(mut lens: impl Iterator<Item = u64>) -> u64 {
    lens.try_fold(1u64, u64::checked_mul).unwrap_or(u64::MAX)
}

/// Whether a scaling variable's values are needed (integer data only: nibabel never reads
/// them for float data), after nibabel's checks of its dimensions; its values may number at
/// most one per slice of the image's first two dimensions, which bounds what is read.
fn checked_scale_variable(
    name: &'static str,
    names: &[String],
    count: u64,
    image_dims: &[i64],
    dtype: DataType,
) -> Result<bool> {
    if !dtype.is_integer() {
        return Ok(false);
    }
    if names.len() > 2 {
        return Err(Error::format(format!(
            "More than two scaling dimensions: {name} varies along {names:?}"
        ))
        .field(name));
    }
    let limit: u64 = image_dims.iter().take(2).map(|&d| d as u64).product();
    if count > limit {
        return Err(Error::format(format!(
            "{name} holds {count} values; a MINC scaling variable has at most one per slice \
             of the image's first two dimensions ({limit})"
        ))
        .field(name));
    }
    Ok(true)
}

/// `image-min` and `image-max` as one [`ScaleVariables`] (their dimensions must agree for
/// integer data), and whether their difference is taken in float32 (both stored as float32
/// arrays: numpy subtracts them in their own type).
fn matched_scale_variables(
    mut vars: Vec<(Vec<String>, Vec<f64>, bool)>,
    dtype: DataType,
) -> Result<(ScaleVariables, bool)> {
    let (max_dims, image_max, max_f32) = vars.pop().unwrap_or_default();
    let (min_dims, image_min, min_f32) = vars.pop().unwrap_or_default();
    if dtype.is_integer() && max_dims != min_dims {
        return Err(Error::format(format!(
            "\"image-max\" and \"image-min\" do not have the same dimensions: {max_dims:?} and \
             {min_dims:?}"
        ))
        .field("image-max"));
    }
    Ok(((max_dims, image_min, image_max), min_f32 && max_f32))
}

fn read_minc1(storage: DynStorage) -> Result<MincHeader> {
    use netcdf_reader::{NcFile, NcType};
    let file_len = storage.len();
    let file = NcFile::from_storage(storage).map_err(|e| container_error("netCDF header", e))?;
    let variables = file
        .variables()
        .map_err(|e| container_error("netCDF variables", e))?;
    let image = file.variable("image").map_err(|_| {
        Error::format("a MINC1 file needs an 'image' variable; this netCDF file has none")
            .field("image")
    })?;
    let attr_f64 = |var: &netcdf_reader::NcVariable, name: &str| {
        var.attribute(name).and_then(|a| a.value.as_f64_vec())
    };
    let attr_text = |var: &netcdf_reader::NcVariable, name: &str| {
        var.attribute(name).and_then(|a| a.value.as_string())
    };

    let signtype = attr_text(image, "signtype");
    let integer = |unsigned: DataType, signed: DataType| match signtype.as_deref() {
        Some("unsigned") => Ok(unsigned),
        Some("signed__") => Ok(signed),
        other => Err(header_error(
            format!("the integer image needs signtype 'unsigned' or 'signed__', not {other:?}"),
            "signtype",
        )),
    };
    let dtype = match image.dtype() {
        NcType::Byte => integer(DataType::UInt8, DataType::Int8)?,
        NcType::Short => integer(DataType::UInt16, DataType::Int16)?,
        NcType::Int => integer(DataType::UInt32, DataType::Int32)?,
        NcType::Float => DataType::Float32,
        NcType::Double => DataType::Float64,
        other => {
            return Err(Error::unsupported(format!(
                "MINC1 images of netCDF type {other:?} are not supported (nibabel reads bytes, \
                 shorts, ints, floats and doubles)"
            ))
            .field("image"));
        }
    };

    let mut dimensions = Vec::new();
    let mut attributes = Vec::new();
    let dims: Vec<i64> = image
        .dimensions()
        .iter()
        .map(|d| i64::try_from(d.size).unwrap_or(i64::MAX))
        .collect();
    let shape = check_declared_shape(&dims, "image", 0)?;
    for (dim, len) in image.dimensions().iter().zip(shape) {
        let name = dim.name.clone();
        let var = file.variable(&name).map_err(|_| {
            header_error(
                format!("the image's dimension {name:?} has no variable of its own"),
                "dimensions",
            )
        })?;
        let spacing = attr_text(var, "spacing");
        if spacing.as_deref() != Some("regular__") {
            return Err(header_error(
                format!(
                    "Irregular spacing not supported: dimension {name:?} has spacing {spacing:?}"
                ),
                "spacing",
            ));
        }
        dimensions.push(MincDimension {
            step: single(attr_f64(var, "step"), &name, "step")?,
            start: single(attr_f64(var, "start"), &name, "start")?,
            direction_cosines: cosines(attr_f64(var, "direction_cosines"), &name)?,
            spacing,
            len,
            name,
        });
    }
    if let Some(s) = &signtype {
        attributes.push(("signtype".to_owned(), FieldValue::Bytes(s.clone().into())));
    }
    let declared_range = attr_f64(image, "valid_range").or_else(|| {
        let lo = attr_f64(image, "valid_min")?;
        let hi = attr_f64(image, "valid_max")?;
        Some(vec![*lo.first()?, *hi.first()?])
    });
    let valid_range = if dtype.is_integer() {
        checked_valid_range(declared_range, dtype)?
    } else {
        [0.0, 0.0]
    };

    let mut scale_vars = Vec::new();
    for name in ["image-min", "image-max"] {
        let var = file.variable(name).map_err(|_| {
            Error::format(format!("the MINC1 file has no {name:?} variable")).field(name)
        })?;
        let names: Vec<String> = var.dimensions().iter().map(|d| d.name.clone()).collect();
        let count = saturating_count(var.dimensions().iter().map(|d| d.size));
        // nibabel reads a scalar as a Python float, an array with its own type.
        let in_f32 = var.dtype() == &NcType::Float && !names.is_empty();
        let values = match checked_scale_variable(name, &names, count, &dims, dtype)? {
            false => Vec::new(),
            true => file
                .read_variable_as_f64(name)
                .map_err(|e| container_error(&format!("reading {name}"), e).field(name))?
                .iter()
                .copied()
                .collect(),
        };
        scale_vars.push((names, values, in_f32));
    }
    let (scaling, difference_in_f32) = matched_scale_variables(scale_vars, dtype)?;
    attributes.push(("dimorder".to_owned(), dimorder_value(&dimensions)));
    let mut header = MincHeader::build(
        MincVersion::One,
        dimensions,
        StorageDtype::new(dtype, ByteOrder::Big),
        valid_range,
        scaling,
        attributes,
        Vec::new(),
    )?;
    header.difference_in_f32 = difference_in_f32;
    header.data_ranges = minc1_ranges(&file, variables, image, header.image_nbytes()?, file_len)?;
    header.add_summary_attributes();
    Ok(header)
}

/// Where a MINC1 image variable's bytes lie: one run from its offset, or one run per record
/// when it is a record variable whose records interleave with other record variables'.
fn minc1_ranges(
    file: &netcdf_reader::NcFile,
    variables: &[netcdf_reader::NcVariable],
    image: &netcdf_reader::NcVariable,
    nbytes: u64,
    file_len: u64,
) -> Result<Vec<(u64, u64)>> {
    let past_end = |offset: u64, len: u64| {
        Error::limit(format!(
            "the image's {len} bytes at offset {offset} run past the end of the {file_len}-byte \
             file"
        ))
        .field("image")
    };
    let offset = image.data_offset;
    if !image.is_record_var {
        if offset.checked_add(nbytes).is_none_or(|end| end > file_len) {
            return Err(past_end(offset, nbytes));
        }
        return Ok(vec![(offset, nbytes)]);
    }
    let stride = netcdf_reader::classic::data::compute_record_stride(variables)
        .map_err(|e| container_error("netCDF record layout", e))?;
    let record = image.record_size;
    let records = file.as_classic().map_or(0, |c| c.numrecs());
    if record == 0 || records.checked_mul(record) != Some(nbytes) {
        return Err(Error::format(format!(
            "the record variable 'image' has {records} records of {record} bytes, not the \
             {nbytes} bytes of its shape"
        ))
        .field("image"));
    }
    if stride == record {
        if offset.checked_add(nbytes).is_none_or(|end| end > file_len) {
            return Err(past_end(offset, nbytes));
        }
        return Ok(vec![(offset, nbytes)]);
    }
    // Each record must be inside the file, so the count is bounded by the file's length.
    let last = (records - 1)
        .checked_mul(stride)
        .and_then(|o| o.checked_add(offset))
        .and_then(|o| o.checked_add(record));
    if last.is_none_or(|end| end > file_len) {
        return Err(past_end(offset, nbytes));
    }
    Ok((0..records)
        .map(|r| (offset + r * stride, record))
        .collect())
}

/// The dimension names joined by commas, as MINC2's `dimorder` attribute spells them.
fn dimorder_value(dimensions: &[MincDimension]) -> FieldValue {
    let names: Vec<&str> = dimensions.iter().map(|d| d.name.as_str()).collect();
    FieldValue::Bytes(names.join(",").into_bytes())
}

impl MincHeader {
    /// Adds the values a reader prints: the valid range, the scaling variables and every
    /// dimension's attributes.
    fn add_summary_attributes(&mut self) {
        if self.geometry.data_dtype().dtype.is_integer() {
            self.attributes.push((
                "valid_range".to_owned(),
                FieldValue::Floats(self.valid_range.to_vec()),
            ));
        }
        self.attributes.push((
            "image-min".to_owned(),
            FieldValue::Floats(self.image_min.clone()),
        ));
        self.attributes.push((
            "image-max".to_owned(),
            FieldValue::Floats(self.image_max.clone()),
        ));
        for dim in &self.dimensions {
            let name = &dim.name;
            if let Some(step) = dim.step {
                self.attributes
                    .push((format!("{name}:step"), FieldValue::Float(step)));
            }
            if let Some(start) = dim.start {
                self.attributes
                    .push((format!("{name}:start"), FieldValue::Float(start)));
            }
            if let Some(c) = dim.direction_cosines {
                self.attributes.push((
                    format!("{name}:direction_cosines"),
                    FieldValue::Floats(c.to_vec()),
                ));
            }
        }
    }
}

/// Values of an HDF5 attribute as float64, whatever numeric type it is stored in.
fn h5_attr_f64(attr: &hdf5_reader::Attribute) -> Option<Vec<f64>> {
    macro_rules! as_f64 {
        ($($t:ty),*) => {
            $(if let Ok(v) = attr.read_1d::<$t>() {
                return Some(v.into_iter().map(|x| x as f64).collect());
            })*
        };
    }
    as_f64!(f64, f32, i64, u64, i32, u32, i16, u16, i8, u8);
    attr.read_as_f64().ok().map(|v| vec![v])
}

/// The stored type of a MINC2 dataset.
fn h5_dtype(datatype: &hdf5_reader::Datatype, what: &str) -> Result<StorageDtype> {
    use hdf5_reader::Datatype as D;
    let order = |o: &hdf5_reader::ByteOrder| match o {
        hdf5_reader::ByteOrder::BigEndian => ByteOrder::Big,
        hdf5_reader::ByteOrder::LittleEndian => ByteOrder::Little,
    };
    let (dtype, byte_order) = match datatype {
        D::FixedPoint {
            size,
            signed,
            byte_order,
        } => (
            match (size, signed) {
                (1, false) => DataType::UInt8,
                (1, true) => DataType::Int8,
                (2, false) => DataType::UInt16,
                (2, true) => DataType::Int16,
                (4, false) => DataType::UInt32,
                (4, true) => DataType::Int32,
                (8, false) => DataType::UInt64,
                (8, true) => DataType::Int64,
                _ => return Err(unsupported_h5(datatype, what)),
            },
            order(byte_order),
        ),
        D::FloatingPoint { size, byte_order } => (
            match size {
                4 => DataType::Float32,
                8 => DataType::Float64,
                _ => return Err(unsupported_h5(datatype, what)),
            },
            order(byte_order),
        ),
        _ => return Err(unsupported_h5(datatype, what)),
    };
    Ok(StorageDtype::new(dtype, byte_order))
}

fn unsupported_h5(datatype: &hdf5_reader::Datatype, what: &str) -> Error {
    Error::unsupported(format!(
        "the MINC2 {what} is stored as {datatype:?}; only integers and floats are supported"
    ))
    .field("image")
}

/// A MINC2 variable's dimension names: its `dimorder` attribute, cut to its rank (nibabel's
/// `Minc2File._get_dimensions`); none without one.
fn h5_dimorder(dataset: &hdf5_reader::Dataset) -> Vec<String> {
    match dataset.attribute("dimorder").and_then(|a| a.read_string()) {
        Ok(text) => text
            .trim_end_matches('\0')
            .split(',')
            .take(dataset.ndim())
            .map(str::to_owned)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Every value of a small MINC2 dataset (`image-min`, `image-max`) as float64.
fn h5_values(dataset: &hdf5_reader::Dataset, name: &'static str) -> Result<Vec<f64>> {
    let read =
        |e: hdf5_reader::error::Error| container_error(&format!("reading {name}"), e).field(name);
    macro_rules! values {
        ($t:ty) => {
            dataset
                .read_array::<$t>()
                .map_err(read)?
                .iter()
                .map(|&x| x as f64)
                .collect()
        };
    }
    Ok(match h5_dtype(dataset.dtype(), name)?.dtype {
        DataType::UInt8 => values!(u8),
        DataType::Int8 => values!(i8),
        DataType::UInt16 => values!(u16),
        DataType::Int16 => values!(i16),
        DataType::UInt32 => values!(u32),
        DataType::Int32 => values!(i32),
        DataType::UInt64 => values!(u64),
        DataType::Int64 => values!(i64),
        DataType::Float32 => values!(f32),
        _ => values!(f64),
    })
}

/// The options of the header's HDF5 open: reads and chunks no larger than `max_bytes`, so a
/// structure cannot make a read allocate more than the file's data could need, and a small
/// chunk cache (the header reads only `image-min` / `image-max`; the image's reads have their
/// own open, `io::Hdf5DatasetSource`, with the same caps).
fn hdf5_open_options(max_bytes: u64) -> hdf5_reader::OpenOptions {
    let cap = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    hdf5_reader::OpenOptions::default()
        .with_max_read_bytes(cap)
        .with_max_chunk_bytes(cap.min(hdf5_reader::DEFAULT_MAX_CHUNK_BYTES))
        .with_chunk_cache_bytes(1 << 20)
}

/// The largest decoded size a MINC2 read may allocate for a file of `file_len` bytes: HDF5's
/// deflate compresses at most about 1032:1, so no honest dataset decodes to more
/// (`io::hdf5_dataset::hdf5_read_cap` is the same cap for the image's reads).
fn hdf5_read_cap(file_len: u64) -> u64 {
    file_len.saturating_mul(1032).max(1 << 20)
}

fn read_minc2(storage: DynStorage) -> Result<MincHeader> {
    let file_len = storage.len();
    let cap = hdf5_read_cap(file_len);
    let file = hdf5_reader::Hdf5File::from_storage_with_options(storage, hdf5_open_options(cap))
        .map_err(|e| container_error("HDF5 structure", e))?;
    let image = file.dataset(MINC2_IMAGE).map_err(|e| {
        Error::format(format!(
            "a MINC2 file needs the dataset {MINC2_IMAGE}, which this HDF5 file lacks ({e})"
        ))
        .field("image")
    })?;
    let dtype = h5_dtype(image.dtype(), "image")?;
    let dims: Vec<i64> = image
        .shape()
        .iter()
        .map(|&d| i64::try_from(d).unwrap_or(i64::MAX))
        .collect();
    let shape = check_declared_shape(&dims, "image", 0)?;
    let names = h5_dimorder(&image);
    let mut dimensions = Vec::new();
    let mut warnings = Vec::new();
    let mut attributes = Vec::new();
    for (i, len) in shape.iter().copied().enumerate() {
        // Without dimorder there are no dimension variables (and so no affine, below).
        let Some(name) = names.get(i) else {
            dimensions.push(MincDimension {
                name: String::new(),
                len,
                step: None,
                start: None,
                direction_cosines: None,
                spacing: None,
            });
            continue;
        };
        let var = file
            .dataset(&format!("{MINC2_DIMENSIONS}/{name}"))
            .map_err(|_| {
                header_error(
                    format!("the image's dimension {name:?} has no {MINC2_DIMENSIONS}/{name}"),
                    "dimensions",
                )
            })?;
        let attr = |n: &str| var.attribute(n).ok().as_ref().and_then(h5_attr_f64);
        let spacing = var
            .attribute("spacing")
            .and_then(|a| a.read_string())
            .ok()
            .map(|s| s.trim_end_matches('\0').to_owned());
        match spacing.as_deref() {
            None | Some("regular__") => {}
            Some("irregular") => {
                return Err(header_error(
                    format!("Irregular spacing not supported: dimension {name:?}"),
                    "spacing",
                ));
            }
            Some(other) => warnings.push(format!(
                "Invalid spacing declaration: b'{other}'; assuming regular"
            )),
        }
        dimensions.push(MincDimension {
            step: single(attr("step"), name, "step")?,
            start: single(attr("start"), name, "start")?,
            direction_cosines: cosines(attr("direction_cosines"), name)?,
            spacing,
            len,
            name: name.clone(),
        });
    }
    let valid_range = if dtype.dtype.is_integer() {
        let declared = image
            .attribute("valid_range")
            .ok()
            .as_ref()
            .and_then(h5_attr_f64);
        checked_valid_range(declared, dtype.dtype)?
    } else {
        [0.0, 0.0]
    };

    let mut scale_vars = Vec::new();
    for name in ["image-min", "image-max"] {
        let var = file
            .dataset(&format!("/minc-2.0/image/0/{name}"))
            .map_err(|_| {
                Error::format(format!("the MINC2 file has no {name:?} dataset")).field(name)
            })?;
        let names = h5_dimorder(&var);
        let count = saturating_count(var.shape().iter().copied());
        if names.is_empty() && count != 1 && dtype.dtype.is_integer() {
            return Err(Error::format(format!(
                "{name} has shape {:?} but no dimorder naming the image dimensions it varies \
                 along",
                var.shape()
            ))
            .field(name));
        }
        let in_f32 = matches!(
            var.dtype(),
            hdf5_reader::Datatype::FloatingPoint { size: 4, .. }
        );
        let values = match checked_scale_variable(name, &names, count, &dims, dtype.dtype)? {
            false => Vec::new(),
            true => h5_values(&var, name)?,
        };
        scale_vars.push((names, values, in_f32));
    }
    let (scaling, difference_in_f32) = matched_scale_variables(scale_vars, dtype.dtype)?;
    attributes.push(("dimorder".to_owned(), dimorder_value(&dimensions)));
    let mut header = MincHeader::build(
        MincVersion::Two,
        dimensions,
        dtype,
        valid_range,
        scaling,
        attributes,
        warnings,
    )?;
    header.difference_in_f32 = difference_in_f32;
    // Chunks never written read as the fill value, so the file's size does not bound the
    // image's; deflate's largest ratio does for any honest file.
    let nbytes = header.image_nbytes()?;
    if nbytes > cap {
        return Err(Error::limit(format!(
            "the image declares {nbytes} bytes of data, more than a {file_len}-byte HDF5 \
             file holds even compressed (deflate at most 1032:1)"
        ))
        .field("image"));
    }
    header.add_summary_attributes();
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ranges_follow_nibabel() {
        assert_eq!(
            checked_valid_range(None, DataType::Int16).unwrap(),
            [-32768.0, 32767.0]
        );
        assert_eq!(
            checked_valid_range(Some(vec![0.0, 4095.0]), DataType::UInt16).unwrap(),
            [0.0, 4095.0]
        );
        let err = checked_valid_range(Some(vec![-1.0, 10.0]), DataType::UInt8).unwrap_err();
        assert_eq!(err.field_name(), Some("valid_range"));
        assert!(checked_valid_range(Some(vec![1.0]), DataType::UInt8).is_err());
    }

    #[test]
    fn garbage_is_not_a_minc_file() {
        let read = |b: &[u8]| MincHeader::read(std::sync::Arc::new(BytesStorage::new(b.to_vec())));
        let err = read(b"CDF\x05xxxx").unwrap_err();
        assert!(err.to_string().contains("not a MINC file"), "{err}");
        assert!(read(b"CDF\x01").is_err());
        assert!(read(b"\x89HDF\r\n\x1a\n").is_err());
    }
}
