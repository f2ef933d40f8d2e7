//! FreeSurfer MGH headers (nibabel's `freesurfer/mghformat.py`, docs/nibabel-rules.md §14).
//!
//! An MGH file is a 90-byte big-endian header padded with zeros to byte 284, the data in
//! Fortran order, then a 20-byte footer (TR, flip angle, TE, TI, FOV) and optional tags.
//! Like nibabel, [`MghHeader`] holds header and footer as one 110-byte struct; the file layer
//! reads the footer from [`MghHeader::footer_offset`] and hands it to
//! [`MghHeader::set_footer_bytes`].

use super::affine::{Affine, IDENTITY};
use super::check::{Problem, first_error};
use super::fields::{Field, FieldKind as K, FieldValue, Layout, RawStruct};
use super::{HeaderCodec, ImageFormat, check_declared_shape, declared_nbytes};
use crate::dtype::{ByteOrder, DataType, StorageDtype};
use crate::error::{Error, Result};

/// Where the data starts in every MGH file.
pub const DATA_OFFSET: u64 = 284;

/// Bytes of the header proper (before the padding).
pub const HEADER_SIZE: usize = 90;

/// Bytes of the footer after the data.
pub const FOOTER_SIZE: usize = 20;

/// The header and footer as nibabel holds them (110 bytes, big-endian).
pub static MGH_LAYOUT: Layout = Layout {
    name: "MGH header",
    size: HEADER_SIZE + FOOTER_SIZE,
    fields: &[
        Field::new("version", 0, K::I32, 1),
        Field::new("dims", 4, K::I32, 4),
        Field::new("type", 20, K::I32, 1),
        Field::new("dof", 24, K::I32, 1),
        Field::new("goodRASFlag", 28, K::I16, 1),
        Field::new("delta", 30, K::F32, 3),
        Field::matrix("Mdc", 42, K::F32, 3, 3),
        Field::new("Pxyz_c", 78, K::F32, 3),
        Field::new("tr", 90, K::F32, 1),
        Field::new("flip_angle", 94, K::F32, 1),
        Field::new("te", 98, K::F32, 1),
        Field::new("ti", 102, K::F32, 1),
        Field::new("fov", 106, K::F32, 1),
    ],
};

/// MGH type codes: `(code, type, MRI name)`.
const MGH_TYPES: [(i64, DataType, &str); 5] = [
    (0, DataType::UInt8, "MRI_UCHAR"),
    (1, DataType::Int32, "MRI_INT"),
    (3, DataType::Float32, "MRI_FLOAT"),
    (4, DataType::Int16, "MRI_SHORT"),
    (10, DataType::UInt16, "MRI_USHRT"),
];

/// The default direction cosines (stored transposed, as the file does).
const DEFAULT_MDC: [f64; 9] = [-1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, -1.0, 0.0];

/// FreeSurfer's tag codes (`utils/tags.h`) with their names.
const TAG_NAMES: [(i32, &str); 19] = [
    (1, "OLD_COLORTABLE"),
    (2, "OLD_USEREALRAS"),
    (3, "CMDLINE"),
    (4, "USEREALRAS"),
    (5, "COLORTABLE"),
    (10, "GCAMORPH_GEOM"),
    (11, "GCAMORPH_TYPE"),
    (12, "GCAMORPH_LABELS"),
    (20, "OLD_SURF_GEOM"),
    (21, "SURF_GEOM"),
    (30, "OLD_MGH_XFORM"),
    (31, "MGH_XFORM"),
    (32, "GROUP_AVG_SURFACE_AREA"),
    (33, "AUTO_ALIGN"),
    (40, "SCALAR_DOUBLE"),
    (41, "PEDIR"),
    (42, "MRI_FRAME"),
    (43, "FIELDSTRENGTH"),
    (44, "ORIG_RAS2VOX"),
];

/// Tags with no length field: FreeSurfer knows their size only by decoding them.
const UNSIZED_TAGS: [i32; 4] = [1, 2, 20, 30];

/// One FreeSurfer tag from the optional area after the MGH footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MghTag {
    /// The tag code (3 is the command line, 41 the phase-encode direction, …).
    pub code: i32,
    /// The tag's bytes after its code and 8-byte length.
    pub data: Vec<u8>,
}

impl MghTag {
    /// FreeSurfer's name for the tag (`CMDLINE`), if known.
    pub fn name(&self) -> Option<&'static str> {
        TAG_NAMES
            .iter()
            .find(|(c, _)| *c == self.code)
            .map(|(_, n)| *n)
    }
}

/// The tags after an MGH footer, as far as they can be split: each tag is a big-endian `i32`
/// code, an `i64` length and that many bytes. The old length-less tags (codes 1, 2, 20, 30),
/// a truncated tag or a length past the end stop the split; what is left is `unparsed`.
/// nibabel ignores tags entirely, so nothing here ever fails a load.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MghTags {
    /// The tags split off, in file order.
    pub tags: Vec<MghTag>,
    /// Bytes after the last tag that could be split (empty when all were).
    pub unparsed: Vec<u8>,
}

/// Splits the tag area that follows an MGH footer into tags.
///
/// ```
/// use neurovox::format::mgh::split_tags;
/// let mut bytes = 3i32.to_be_bytes().to_vec(); // CMDLINE
/// bytes.extend_from_slice(&5i64.to_be_bytes());
/// bytes.extend_from_slice(b"recon");
/// let tags = split_tags(&bytes);
/// assert_eq!(tags.tags[0].name(), Some("CMDLINE"));
/// assert_eq!(tags.tags[0].data, b"recon");
/// assert!(tags.unparsed.is_empty());
/// ```
pub fn split_tags(bytes: &[u8]) -> MghTags {
    let mut out = MghTags::default();
    let mut pos = 0;
    while pos < bytes.len() {
        let code = bytes
            .get(pos..pos + 4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let len = bytes.get(pos + 4..pos + 12).and_then(|b| {
            let n = i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            usize::try_from(n).ok()
        });
        match (code, len) {
            (Some(0), _) => break,
            (Some(code), Some(len))
                if !UNSIZED_TAGS.contains(&code) && len <= bytes.len() - pos - 12 =>
            {
                out.tags.push(MghTag {
                    code,
                    data: bytes[pos + 12..pos + 12 + len].to_vec(),
                });
                pos += 12 + len;
            }
            _ => break,
        }
    }
    out.unparsed = bytes[pos..].to_vec();
    out
}

/// An MGH header with its footer.
///
/// ```
/// use neurovox::format::MghHeader;
/// use neurovox::DataType;
///
/// let mut hdr = MghHeader::new();
/// hdr.set_data_shape(&[4, 5, 6])?;
/// hdr.set_data_dtype(DataType::Int16)?;
/// let prefix = hdr.prefix_bytes();
/// assert_eq!(prefix.len(), 284);
/// let back = MghHeader::parse(&prefix)?;
/// assert_eq!(back.data_shape()?, vec![4, 5, 6]);
/// assert_eq!(back.footer_offset()?, 284 + 4 * 5 * 6 * 2);
/// assert_eq!(back.best_affine()[0], [-1.0, 0.0, 0.0, 2.0]);
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MghHeader {
    raw: RawStruct,
    /// Everything after the footer, kept byte for byte.
    tags: Vec<u8>,
}

impl Default for MghHeader {
    fn default() -> Self {
        Self::new()
    }
}

impl MghHeader {
    /// nibabel's default: version 1, dims 1, float32, good RAS flag, unit voxels, default
    /// direction cosines.
    pub fn new() -> Self {
        let mut raw = RawStruct::zeroed(&MGH_LAYOUT, ByteOrder::Big);
        let _ = raw.set_int("version", 1);
        let _ = raw.set("dims", FieldValue::Ints(vec![1; 4]));
        let _ = raw.set_int("type", 3);
        let mut h = MghHeader {
            raw,
            tags: Vec::new(),
        };
        h.set_default_geometry();
        h
    }

    fn set_default_geometry(&mut self) {
        let _ = self.raw.set_int("goodRASFlag", 1);
        let _ = self.raw.set("delta", FieldValue::Floats(vec![1.0; 3]));
        let _ = self
            .raw
            .set("Mdc", FieldValue::Floats(DEFAULT_MDC.to_vec()));
        let _ = self.raw.set("Pxyz_c", FieldValue::Floats(vec![0.0; 3]));
    }

    /// Parses the first 90 bytes (and the footer and tags, if `bytes` reaches them; else the
    /// footer is zero, as nibabel pads a short block). A zero `goodRASFlag` gets the default geometry.
    /// Errors: zero or negative dims, an unknown type, a version other than 1.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let header = bytes.get(..HEADER_SIZE).ok_or_else(|| {
            Error::format(format!(
                "MGH header needs {HEADER_SIZE} bytes, got {}",
                bytes.len()
            ))
            .offset(bytes.len() as u64)
        })?;
        let mut block = header.to_vec();
        block.resize(MGH_LAYOUT.size, 0);
        let mut h = MghHeader {
            raw: RawStruct::from_bytes(&MGH_LAYOUT, &block, ByteOrder::Big)?,
            tags: Vec::new(),
        };
        let dims = h.raw.ints("dims");
        if dims.contains(&0) {
            return Err(
                Error::header_value("Dimensions of the data should be non-zero")
                    .field("dims")
                    .offset(4),
            );
        }
        check_declared_shape(&dims, "dims", 4)?;
        h.data_dtype()?;
        if let Ok(offset) = h.footer_offset()
            && let Some(footer) = usize::try_from(offset)
                .ok()
                .and_then(|o| bytes.get(o..o.checked_add(FOOTER_SIZE)?))
        {
            h.set_footer_bytes(footer)?;
            h.tags = bytes[offset as usize + FOOTER_SIZE..].to_vec();
        }
        if h.raw.int("goodRASFlag") == 0 {
            h.set_default_geometry();
        }
        let problems = h.run_checks(true);
        if let Some(err) = first_error(&problems) {
            return Err(err);
        }
        Ok(h)
    }

    /// The 110-byte header-and-footer block as stored, no checks or fixes (for
    /// [`crate::Header::diagnose_bytes`]); a short block is zero-padded as nibabel pads it.
    pub(crate) fn unchecked(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < HEADER_SIZE {
            return Err(Error::format(format!(
                "MGH header needs {HEADER_SIZE} bytes, got {}",
                bytes.len()
            )));
        }
        let mut block = bytes[..bytes.len().min(MGH_LAYOUT.size)].to_vec();
        block.resize(MGH_LAYOUT.size, 0);
        Ok(MghHeader {
            raw: RawStruct::from_bytes(&MGH_LAYOUT, &block, ByteOrder::Big)?,
            tags: Vec::new(),
        })
    }

    /// Sets the footer from its 20 bytes as found after the data.
    pub fn set_footer_bytes(&mut self, footer: &[u8]) -> Result<()> {
        let footer = footer.get(..FOOTER_SIZE).ok_or_else(|| {
            Error::header_value(format!(
                "MGH footer needs {FOOTER_SIZE} bytes, got {}",
                footer.len()
            ))
            .field("tr")
        })?;
        let mut block = self.raw.bytes().to_vec();
        block[HEADER_SIZE..].copy_from_slice(footer);
        self.raw = RawStruct::from_bytes(&MGH_LAYOUT, &block, ByteOrder::Big)?;
        Ok(())
    }

    /// The raw bytes after the footer (FreeSurfer tags), kept as read.
    pub fn tag_bytes(&self) -> &[u8] {
        &self.tags
    }

    /// Sets the bytes that follow the footer.
    pub fn set_tag_bytes(&mut self, tags: Vec<u8>) {
        self.tags = tags;
    }

    /// The tags after the footer, split as far as they can be (see [`split_tags`]).
    pub fn tags(&self) -> MghTags {
        split_tags(&self.tags)
    }

    /// The 284 bytes before the data: the header and zero padding.
    pub fn prefix_bytes(&self) -> Vec<u8> {
        let mut out = self.raw.bytes()[..HEADER_SIZE].to_vec();
        out.resize(DATA_OFFSET as usize, 0);
        out
    }

    /// The 20 footer bytes written after the data.
    pub fn footer_bytes(&self) -> &[u8] {
        &self.raw.bytes()[HEADER_SIZE..]
    }

    /// The byte offset of the footer: 284 plus the data size.
    pub fn footer_offset(&self) -> Result<u64> {
        declared_nbytes(&self.data_shape()?, self.data_dtype()?.dtype)
            .map_err(|e| e.field("dims"))?
            .checked_add(DATA_OFFSET)
            .ok_or_else(|| Error::limit("MGH data size overflows 64 bits").field("dims"))
    }

    /// The data shape: the four dims, without the fourth when it is 1.
    pub fn data_shape(&self) -> Result<Vec<usize>> {
        let mut dims = self.raw.ints("dims");
        if dims[3] == 1 {
            dims.pop();
        }
        check_declared_shape(&dims, "dims", 4)
    }

    /// Sets the dims (at most four) and, as nibabel does, resets the voxel sizes to 1.
    pub fn set_data_shape(&mut self, shape: &[usize]) -> Result<()> {
        if shape.len() > 4 {
            return Err(Error::usage("Shape may be at most 4 dimensional").field("dims"));
        }
        let mut dims = vec![1i64; 4];
        for (d, &n) in dims.iter_mut().zip(shape) {
            *d = i64::try_from(n)
                .ok()
                .filter(|&n| n <= i64::from(i32::MAX))
                .ok_or_else(|| {
                    Error::usage(format!("shape {shape:?} does not fit in MGH dims")).field("dims")
                })?;
        }
        self.raw.set("dims", FieldValue::Ints(dims))?;
        self.raw.set("delta", FieldValue::Floats(vec![1.0; 3]))
    }

    /// The data type (always big-endian).
    pub fn data_dtype(&self) -> Result<StorageDtype> {
        let code = self.raw.int("type");
        MGH_TYPES
            .iter()
            .find(|(c, _, _)| *c == code)
            .map(|(_, t, _)| StorageDtype::new(*t, ByteOrder::Big))
            .ok_or_else(|| {
                Error::header_value(format!("MGH data type code {code} not recognized"))
                    .field("type")
                    .offset(20)
            })
    }

    /// Sets the type; only uint8, int16, uint16, int32 and float32 exist in MGH.
    pub fn set_data_dtype(&mut self, dtype: DataType) -> Result<()> {
        let code = MGH_TYPES
            .iter()
            .find(|(_, t, _)| *t == dtype)
            .map(|(c, _, _)| *c)
            .ok_or_else(|| {
                Error::unsupported(format!("datatype dtype \"{dtype}\" not recognized"))
                    .field("type")
            })?;
        self.raw.set_int("type", code)
    }

    /// The FreeSurfer name of the type (`MRI_SHORT`).
    pub fn mri_type_name(&self) -> Option<&'static str> {
        let code = self.raw.int("type");
        MGH_TYPES
            .iter()
            .find(|(c, _, _)| *c == code)
            .map(|(_, _, n)| *n)
    }

    fn has_frames(&self) -> bool {
        self.raw.int_at("dims", 3) > 1
    }

    /// `delta`, plus TR when there is more than one frame.
    pub fn zooms(&self) -> Vec<f64> {
        let mut z = self.raw.floats("delta");
        if self.has_frames() {
            z.push(self.raw.float("tr"));
        }
        z
    }

    /// Sets `delta` (positive) and, with a fourth value, TR (non-negative).
    pub fn set_zooms(&mut self, zooms: &[f64]) -> Result<()> {
        let ndims = if self.has_frames() { 4 } else { 3 };
        if zooms.len() > ndims {
            return Err(Error::usage(format!("Expecting {ndims} zoom values")).field("delta"));
        }
        if zooms.iter().take(3).any(|&z| z <= 0.0 || z.is_nan()) {
            return Err(Error::usage(format!(
                "Spatial (first three) zooms must be positive; got {zooms:?}"
            ))
            .field("delta"));
        }
        for (i, &z) in zooms.iter().take(3).enumerate() {
            self.raw.set_float_at("delta", i, z)?;
        }
        if let Some(&tr) = zooms.get(3) {
            if tr < 0.0 {
                return Err(Error::usage(format!("TR must be non-negative; got {tr}")).field("tr"));
            }
            self.raw.set_float("tr", tr)?;
        }
        Ok(())
    }

    /// `Mdc.T * delta`, in float32 as nibabel computes it.
    fn mdc_delta(&self) -> [[f32; 3]; 3] {
        let mut m = [[0f32; 3]; 3];
        for (r, row) in m.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                // Mdc is stored transposed: element (c, r) of the field.
                let mdc = self.raw.float_at("Mdc", c * 3 + r) as f32;
                *v = mdc * self.raw.float_at("delta", c) as f32;
            }
        }
        m
    }

    /// nibabel's `get_affine`: `[Mdc.T * delta | Pxyz_c - (Mdc.T * delta) @ dims / 2]`, every
    /// entry a float32 value, as nibabel returns it.
    pub fn best_affine(&self) -> Affine {
        let m = self.mdc_delta();
        let dims: Vec<f64> = (0..3).map(|i| self.raw.int_at("dims", i) as f64).collect();
        let mut aff = IDENTITY;
        for r in 0..3 {
            let centre: f64 = (0..3).map(|c| f64::from(m[r][c]) * dims[c]).sum::<f64>() / 2.0;
            for c in 0..3 {
                aff[r][c] = f64::from(m[r][c]);
            }
            // nibabel's `from_matvec` builds the matrix in the float32 of Mdc: the
            // translation, computed in float64, is rounded to float32 too.
            aff[r][3] = f64::from((self.raw.float_at("Pxyz_c", r) - centre) as f32);
        }
        aff
    }

    /// Stores an affine as nibabel's `MGHImage._affine2header` does: voxel sizes in `delta`,
    /// the normalised columns (transposed) in `Mdc`, and the world position of the volume
    /// centre (`shape / 2`, as FreeSurfer counts it) in `Pxyz_c`.
    ///
    /// Any affine is stored, as nibabel stores it; where nibabel's division leaves `NaN`s
    /// this keeps what reads back as given (docs/compat.md, saving): a column of zeros is
    /// `delta` 0 with a unit direction, and a column too long to square in float64 (a
    /// NIfTI-2 affine of 1e300) is measured without overflow before `delta` rounds it to
    /// float32. NaN stays NaN.
    ///
    /// ```
    /// use neurovox::format::MghHeader;
    /// let mut h = MghHeader::default();
    /// // The third axis has no extent: a zero voxel size.
    /// let flat = [[2.0, 0.0, 0.0, -10.0], [0.0, 2.0, 0.0, 20.0], [0.0, 0.0, 0.0, 5.0], [0.0, 0.0, 0.0, 1.0]];
    /// h.set_affine(&flat)?;
    /// assert_eq!(h.best_affine(), flat);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn set_affine(&mut self, affine: &Affine) -> Result<()> {
        let sizes = mgh_voxel_sizes(affine);
        let dims: Vec<f64> = (0..3)
            .map(|i| self.raw.int_at("dims", i) as f64 / 2.0)
            .collect();
        let mut mdc = Vec::with_capacity(9);
        // The field holds Mdc transposed: row c is column c of the normalised affine.
        for (c, &size) in sizes.iter().enumerate() {
            for r in 0..3 {
                mdc.push(if size == 0.0 {
                    // Any direction times a zero delta is the zero column given.
                    f64::from(u8::from(r == c))
                } else {
                    affine[r][c] / size
                });
            }
        }
        let centre: Vec<f64> = (0..3)
            .map(|r| {
                affine[r][0] * dims[0]
                    + affine[r][1] * dims[1]
                    + affine[r][2] * dims[2]
                    + affine[r][3]
            })
            .collect();
        self.raw.set("delta", FieldValue::Floats(sizes.to_vec()))?;
        self.raw.set("Mdc", FieldValue::Floats(mdc))?;
        self.raw.set("Pxyz_c", FieldValue::Floats(centre))
    }

    /// nibabel's `get_vox2ras_tkr` (FreeSurfer's tkregister space), in float32 precision.
    pub fn vox2ras_tkr(&self) -> Affine {
        let ds: Vec<f32> = (0..3)
            .map(|i| self.raw.float_at("delta", i) as f32)
            .collect();
        let ns: Vec<f32> = (0..3)
            .map(|i| (self.raw.int_at("dims", i) as f64 * f64::from(ds[i]) / 2.0) as f32)
            .collect();
        let f = f64::from;
        [
            [f(-ds[0]), 0.0, 0.0, f(ns[0])],
            [0.0, 0.0, f(ds[2]), f(-ns[2])],
            [0.0, f(-ds[1]), 0.0, f(ns[1])],
            [0.0, 0.0, 0.0, 1.0],
        ]
    }

    fn checks(&mut self, fix: bool) -> Vec<Problem> {
        if self.raw.int("version") == 1 {
            return Vec::new();
        }
        if fix {
            let _ = self.raw.set_int("version", 1);
        }
        vec![Problem::new(40, "version", "Unknown MGH format version")]
    }
}

/// The column lengths of an affine's 3x3 part as nibabel's `voxel_sizes` computes them,
/// except that a finite column too long to square in float64 is measured by `hypot` instead
/// of overflowing to infinity.
fn mgh_voxel_sizes(affine: &Affine) -> [f64; 3] {
    let mut sizes = super::affine::voxel_sizes(affine);
    for (c, size) in sizes.iter_mut().enumerate() {
        if size.is_infinite() && (0..3).all(|r| affine[r][c].is_finite()) {
            *size = affine[0][c].hypot(affine[1][c]).hypot(affine[2][c]);
        }
    }
    sizes
}

impl HeaderCodec for MghHeader {
    fn format(&self) -> ImageFormat {
        ImageFormat::Mgh
    }
    crate::format::codec_basics!(MghHeader);
    fn zooms(&self) -> Vec<f64> {
        MghHeader::zooms(self)
    }
    fn set_zooms(&mut self, zooms: &[f64]) -> Result<()> {
        MghHeader::set_zooms(self, zooms)
    }
    fn data_offset(&self) -> u64 {
        DATA_OFFSET
    }
    fn slope_inter(&self) -> Result<(Option<f64>, Option<f64>)> {
        Ok((None, None))
    }
    fn best_affine(&self) -> Result<Affine> {
        Ok(MghHeader::best_affine(self))
    }
    fn run_checks(&mut self, fix: bool) -> Vec<Problem> {
        self.checks(fix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn every_affine_is_stored_and_zero_columns_read_back_as_given() {
        let mut h = MghHeader::default();
        h.set_data_shape(&[4, 5, 6]).unwrap();
        // A zero column (nibabel stores NaN there) reads back as the zero column.
        let flat = [
            [0.0, 0.0, 3.0, 7.0],
            [2.0, 0.0, 0.0, -1.0],
            [0.0, 0.0, 0.0, 4.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        h.set_affine(&flat).unwrap();
        assert_eq!(h.best_affine(), flat);
        assert_eq!(h.raw.float_at("delta", 1), 0.0);
        // A NIfTI-2 affine beyond float32: measured without overflow, stored as infinity.
        let huge = [
            [1e300, 0.0, 0.0, 0.0],
            [0.0, 1e300, 0.0, 0.0],
            [0.0, 0.0, 1e300, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        assert_eq!(mgh_voxel_sizes(&huge), [1e300; 3]);
        h.set_affine(&huge).unwrap();
        assert_eq!(h.raw.float_at("delta", 0) as f32, f32::INFINITY);
        assert_eq!(h.raw.float_at("Mdc", 0), 1.0);
        // NaN stays NaN, in the columns it touches.
        let mut nan = IDENTITY;
        nan[0][0] = f64::NAN;
        h.set_affine(&nan).unwrap();
        assert!(h.raw.float_at("delta", 0).is_nan());
        assert_eq!(h.raw.float_at("delta", 1), 1.0);
        // The bytes of each still parse.
        assert!(MghHeader::parse(&h.prefix_bytes()).is_ok());
    }

    /// version 1, dims (2, 3, 4, 1), int16, good RAS, delta 1, default Mdc, centre 0.
    fn literal_header() -> Vec<u8> {
        let mut b = vec![0u8; 284];
        b[0..4].copy_from_slice(&1i32.to_be_bytes());
        for (i, d) in [2i32, 3, 4, 1].iter().enumerate() {
            b[4 + 4 * i..8 + 4 * i].copy_from_slice(&d.to_be_bytes());
        }
        b[20..24].copy_from_slice(&4i32.to_be_bytes());
        b[28..30].copy_from_slice(&1i16.to_be_bytes());
        for i in 0..3 {
            b[30 + 4 * i..34 + 4 * i].copy_from_slice(&1f32.to_be_bytes());
        }
        for (i, v) in DEFAULT_MDC.iter().enumerate() {
            b[42 + 4 * i..46 + 4 * i].copy_from_slice(&(*v as f32).to_be_bytes());
        }
        b
    }

    #[test]
    fn parses_literal_bytes_and_matches_nibabels_default_affine() {
        let b = literal_header();
        let h = MghHeader::parse(&b).unwrap();
        assert_eq!(h.data_shape().unwrap(), vec![2, 3, 4]);
        assert_eq!(h.data_dtype().unwrap().numpy_str(), ">i2");
        assert_eq!(h.prefix_bytes(), b);
        assert_eq!(h.footer_offset().unwrap(), 284 + 48);
        // nibabel: the default header's affine is [[-1,0,0,.5],[0,0,-1,.5],[0,1,0,-.5]] for
        // dims (1,1,1); for (2,3,4) the centre moves by dims/2.
        let aff = h.best_affine();
        assert_eq!(aff[0], [-1.0, 0.0, 0.0, 1.0]);
        assert_eq!(aff[1], [0.0, 0.0, -1.0, 2.0]);
        assert_eq!(aff[2], [0.0, 1.0, 0.0, -1.5]);
        let d = MghHeader::new().best_affine();
        assert_eq!(d[0], [-1.0, 0.0, 0.0, 0.5]);
        assert_eq!(d[2], [0.0, 1.0, 0.0, -0.5]);
    }

    #[test]
    fn footer_is_read_when_present() {
        let mut b = literal_header();
        b.resize(284 + 48, 0);
        b.extend_from_slice(&2.5f32.to_be_bytes());
        b.extend_from_slice(&[0; 16]);
        let mut h = MghHeader::parse(&b).unwrap();
        assert_eq!(h.raw.float("tr"), 2.5);
        assert_eq!(h.zooms(), vec![1.0, 1.0, 1.0]);
        h.raw.set_int_at("dims", 3, 5).unwrap();
        assert_eq!(h.zooms(), vec![1.0, 1.0, 1.0, 2.5]);
        assert_eq!(h.footer_bytes()[..4], 2.5f32.to_be_bytes());
    }

    #[test]
    fn malformed_mgh_headers() {
        let mut b = literal_header();
        b[8..12].copy_from_slice(&0i32.to_be_bytes());
        let e = MghHeader::parse(&b).unwrap_err();
        assert_eq!(
            (e.kind(), e.field_name()),
            (ErrorKind::Format, Some("dims"))
        );
        let mut b = literal_header();
        b[8..12].copy_from_slice(&(-3i32).to_be_bytes());
        assert_eq!(MghHeader::parse(&b).unwrap_err().field_name(), Some("dims"));
        let mut b = literal_header();
        b[20..24].copy_from_slice(&7i32.to_be_bytes());
        assert_eq!(MghHeader::parse(&b).unwrap_err().field_name(), Some("type"));
        let mut b = literal_header();
        b[0..4].copy_from_slice(&2i32.to_be_bytes());
        let e = MghHeader::parse(&b).unwrap_err();
        assert_eq!(
            (e.field_name(), e.message()),
            (Some("version"), "Unknown MGH format version")
        );
        assert_eq!(
            MghHeader::parse(&b[..50]).unwrap_err().kind(),
            ErrorKind::Format
        );
        let mut b = literal_header();
        for i in 0..4 {
            b[4 + 4 * i..8 + 4 * i].copy_from_slice(&i32::MAX.to_be_bytes());
        }
        assert_eq!(MghHeader::parse(&b).unwrap_err().kind(), ErrorKind::Limit);
    }

    #[test]
    fn tags_split_until_an_unsized_or_truncated_tag() {
        let tag = |code: i32, data: &[u8]| {
            let mut b = code.to_be_bytes().to_vec();
            b.extend_from_slice(&(data.len() as i64).to_be_bytes());
            b.extend_from_slice(data);
            b
        };
        let mut bytes = tag(3, b"mri_convert a b");
        bytes.extend(tag(41, b"LR"));
        bytes.extend(2i32.to_be_bytes()); // OLD_USEREALRAS: no length
        bytes.extend(1i32.to_be_bytes());
        let tags = split_tags(&bytes);
        assert_eq!(tags.tags.len(), 2);
        assert_eq!(
            (tags.tags[1].name(), tags.tags[1].data.as_slice()),
            (Some("PEDIR"), &b"LR"[..])
        );
        assert_eq!(tags.unparsed, [0, 0, 0, 2, 0, 0, 0, 1]);
        // A length past the end keeps everything from that tag on.
        let mut bad = tag(3, b"x");
        bad[11] = 200;
        assert_eq!(split_tags(&bad).unparsed, bad);
        let mut huge = tag(3, b"x");
        huge[4] = 0x80;
        assert!(split_tags(&huge).tags.is_empty());
        assert!(split_tags(&[0, 0, 0]).tags.is_empty());
        // Code 0 ends the list.
        assert!(split_tags(&tag(0, b"zz")).tags.is_empty());
    }

    #[test]
    fn bad_ras_flag_gets_default_geometry() {
        let mut b = literal_header();
        b[28..30].copy_from_slice(&0i16.to_be_bytes());
        b[30..34].copy_from_slice(&7f32.to_be_bytes());
        let h = MghHeader::parse(&b).unwrap();
        assert_eq!(h.raw.floats("delta"), vec![1.0; 3]);
        assert_eq!(h.raw.int("goodRASFlag"), 1);
    }

    #[test]
    fn setters_follow_nibabel() {
        let mut h = MghHeader::new();
        h.set_data_shape(&[2, 3, 4, 5]).unwrap();
        h.set_zooms(&[2.0, 2.0, 2.0, 1.5]).unwrap();
        assert_eq!(h.zooms(), vec![2.0, 2.0, 2.0, 1.5]);
        h.set_data_shape(&[2, 3, 4, 5]).unwrap();
        assert_eq!(
            h.zooms(),
            vec![1.0, 1.0, 1.0, 1.5],
            "set_data_shape resets delta"
        );
        assert!(h.set_data_shape(&[1; 5]).is_err());
        assert!(h.set_zooms(&[0.0, 1.0, 1.0]).is_err());
        assert!(h.set_data_dtype(DataType::Float64).is_err());
        h.set_data_dtype(DataType::UInt16).unwrap();
        assert_eq!(h.mri_type_name(), Some("MRI_USHRT"));
    }

    // -- hand-annotated bytes (not from our writer) -----------------------------------------

    /// An MGH header written out field by field: `(offset, bytes)` over the 284 zero bytes
    /// before the data, every value big-endian. 2×3×4 float32, voxels 2×3×4 mm, the default
    /// direction cosines, centre (10, 20, 30).
    const MGH_LITERAL: &[(usize, &[u8])] = &[
        (0, &[0, 0, 0, 1]),              // version: int32 1
        (4, &[0, 0, 0, 2]),              // dims[0] (width): int32 2
        (8, &[0, 0, 0, 3]),              // dims[1] (height): int32 3
        (12, &[0, 0, 0, 4]),             // dims[2] (depth): int32 4
        (16, &[0, 0, 0, 1]),             // dims[3] (nframes): int32 1
        (20, &[0, 0, 0, 3]),             // type: int32 3 = MRI_FLOAT
        (24, &[0, 0, 0, 0]),             // dof: int32 0
        (28, &[0, 1]),                   // goodRASFlag: int16 1
        (30, &[0x40, 0x00, 0x00, 0x00]), // delta[0] (x spacing): float32 2.0
        (34, &[0x40, 0x40, 0x00, 0x00]), // delta[1]: float32 3.0
        (38, &[0x40, 0x80, 0x00, 0x00]), // delta[2]: float32 4.0
        // Mdc: 3×3 float32, the direction cosines stored transposed (one column per row).
        (42, &[0xbf, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), // x_r x_a x_s: -1 0 0
        (54, &[0, 0, 0, 0, 0, 0, 0, 0, 0x3f, 0x80, 0, 0]), // y_r y_a y_s: 0 0 1
        (66, &[0, 0, 0, 0, 0xbf, 0x80, 0, 0, 0, 0, 0, 0]), // z_r z_a z_s: 0 -1 0
        (78, &[0x41, 0x20, 0x00, 0x00]),                   // Pxyz_c[0] (c_r): float32 10.0
        (82, &[0x41, 0xa0, 0x00, 0x00]),                   // Pxyz_c[1] (c_a): float32 20.0
        (86, &[0x41, 0xf0, 0x00, 0x00]),                   // Pxyz_c[2] (c_s): float32 30.0
                                                           // 90..284: unused, zero; the data starts at 284
    ];

    fn mgh_literal() -> Vec<u8> {
        let mut bytes = vec![0u8; DATA_OFFSET as usize];
        for (offset, value) in MGH_LITERAL {
            bytes[*offset..*offset + value.len()].copy_from_slice(value);
        }
        bytes
    }

    /// What nibabel 5.4 reads from [`MGH_LITERAL`] (`MGHHeader.from_fileobj`): shape (2, 3, 4),
    /// dtype `>f4`, zooms (2, 3, 4), data offset 284, footer at 284 + 24 × 4, no scaling, and
    /// the affines `get_affine()` and `get_vox2ras_tkr()`.
    #[test]
    fn a_hand_written_mgh_header_reads_as_nibabel_reads_it() {
        let bytes = mgh_literal();
        let h = MghHeader::parse(&bytes).unwrap();
        assert_eq!(h.data_shape().unwrap(), [2, 3, 4]);
        let dtype = h.data_dtype().unwrap();
        assert_eq!(dtype.dtype, DataType::Float32);
        assert_eq!(dtype.order, ByteOrder::Big);
        assert_eq!(dtype.numpy_str(), ">f4");
        assert_eq!(h.mri_type_name(), Some("MRI_FLOAT"));
        assert_eq!(h.zooms(), [2.0, 3.0, 4.0]);
        assert_eq!(h.footer_offset().unwrap(), 284 + 2 * 3 * 4 * 4);
        assert_eq!(
            h.best_affine(),
            [
                [-2.0, 0.0, 0.0, 12.0],
                [0.0, 0.0, -4.0, 28.0],
                [0.0, 3.0, 0.0, 25.5],
                [0.0, 0.0, 0.0, 1.0],
            ]
        );
        assert_eq!(
            h.vox2ras_tkr(),
            [
                [-2.0, 0.0, 0.0, 2.0],
                [0.0, 0.0, 4.0, -8.0],
                [0.0, -3.0, 0.0, 4.5],
                [0.0, 0.0, 0.0, 1.0],
            ]
        );

        // The same through the format-independent entry point.
        let h = crate::format::Header::parse(ImageFormat::Mgh, &bytes).unwrap();
        assert_eq!(h.byte_order(), ByteOrder::Big);
        assert_eq!(h.data_shape().unwrap(), [2, 3, 4]);
        assert_eq!(h.data_dtype().unwrap().numpy_str(), ">f4");
        assert_eq!(h.zooms(), [2.0, 3.0, 4.0]);
        assert_eq!(h.data_offset(), 284);
        assert_eq!(h.slope_inter().unwrap(), (None, None));
        assert_eq!(h.get("goodRASFlag").unwrap(), FieldValue::Int(1));
        assert_eq!(
            h.get("Pxyz_c").unwrap(),
            FieldValue::Floats(vec![10.0, 20.0, 30.0])
        );
    }
}
