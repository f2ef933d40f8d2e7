//! Pure header codecs: bytes in, typed header out, and back. No I/O here.
//!
//! | format | header type | file(s) | bytes |
//! |---|---|---|---|
//! | Analyze 7.5 | [`AnalyzeHeader`] ([`AnalyzeFlavour::Analyze`]) | `.hdr` + `.img` | 348 |
//! | SPM99 Analyze | [`AnalyzeHeader`] ([`AnalyzeFlavour::Spm99`]) | `.hdr` + `.img` (+ `.mat`) | 348 |
//! | SPM2 Analyze | [`AnalyzeHeader`] ([`AnalyzeFlavour::Spm2`]) | `.hdr` + `.img` (+ `.mat`) | 348 |
//! | NIfTI-1 | [`NiftiHeader`] ([`NiftiVersion::One`]) | `.nii` (`n+1`) or `.hdr` + `.img` (`ni1`) | 348 + extensions |
//! | NIfTI-2 | [`NiftiHeader`] ([`NiftiVersion::Two`]) | `.nii` (`n+2`) or `.hdr` + `.img` (`ni2`) | 540 + extensions |
//! | MGH | [`MghHeader`] | `.mgh`, `.mgz` | 284 + data + footer |
//! | ECAT7 (read only) | [`EcatHeader`] | `.v` | 512-byte blocks: main header, matrix list, subheaders |
//! | AFNI (read only) | [`AfniHeader`] | `.HEAD` + `.BRIK` (`.BRIK.gz`) | text attributes |
//! | PAR/REC (read only) | [`ParrecHeader`] | `.PAR` + `.REC` | text: general information, one line per slice |
//! | MINC1 / MINC2 (read only) | [`MincHeader`] | `.mnc` | netCDF classic / HDF5 variables and attributes |
//!
//! Every header keeps its raw bytes (see [`fields`]), so parsing and serialising are inverse
//! to the byte, fields are reachable by name with [`Header::get`] / [`Header::set`], and the
//! typed accessors ([`Header::data_shape`], [`Header::best_affine`], …) follow nibabel's rules.

pub mod affine;
pub mod afni;
pub mod analyze;
pub mod check;
pub mod ecat;
pub mod fields;
pub mod geometry;
pub mod mgh;
pub mod minc;
pub mod nifti1;
pub mod nifti2;
pub mod parrec;
pub mod spm_mat;

pub use affine::Affine;
pub use afni::AfniHeader;
pub use analyze::{AnalyzeFlavour, AnalyzeHeader};
pub use check::Problem;
pub use ecat::EcatHeader;
pub use fields::FieldValue;
pub use geometry::Geometry;
pub use mgh::MghHeader;
pub use minc::MincHeader;
pub use nifti1::{Extension, NiftiHeader, NiftiVersion};
pub use parrec::ParrecHeader;

use crate::dtype::{ByteOrder, DataType, StorageDtype};
use crate::error::{Error, Result};
use std::fmt;

/// The image formats neurovox reads and writes, named as nibabel names its image classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ImageFormat {
    /// Analyze 7.5 pair (`AnalyzeImage`).
    Analyze,
    /// SPM99 Analyze pair (`Spm99AnalyzeImage`).
    Spm99,
    /// SPM2 Analyze pair (`Spm2AnalyzeImage`).
    Spm2,
    /// NIfTI-1 single file (`Nifti1Image`).
    Nifti1,
    /// NIfTI-1 header/image pair (`Nifti1Pair`).
    Nifti1Pair,
    /// NIfTI-2 single file (`Nifti2Image`).
    Nifti2,
    /// NIfTI-2 header/image pair (`Nifti2Pair`).
    Nifti2Pair,
    /// FreeSurfer MGH (`MGHImage`), `.mgz` when compressed.
    Mgh,
    /// AFNI dataset (`AFNIImage`): a `.HEAD` attribute file and a `.BRIK` of sub-bricks.
    /// Read only, as in nibabel.
    Afni,
    /// ECAT7 PET image (`EcatImage`, `.v`): frames after their subheaders. Read only.
    Ecat,
    /// Philips PAR/REC (`PARRECImage`): a `.PAR` text header and a `.REC` of slices. Read
    /// only.
    Parrec,
    /// MINC1 (`Minc1Image`, `.mnc`): a netCDF classic file. Read only.
    Minc1,
    /// MINC2 (`Minc2Image`, `.mnc`): an HDF5 file. Read only.
    Minc2,
}

impl ImageFormat {
    /// Every format: the writable ones, then the read only ones.
    pub const ALL: [ImageFormat; 13] = {
        let mut all = [ImageFormat::Ecat; 13];
        let mut i = 0;
        while i < Self::WRITABLE.len() {
            all[i] = Self::WRITABLE[i];
            i += 1;
        }
        all[i] = ImageFormat::Afni;
        all[i + 2] = ImageFormat::Parrec;
        all[i + 3] = ImageFormat::Minc1;
        all[i + 4] = ImageFormat::Minc2;
        all
    };

    /// The formats neurovox writes (and makes images of in memory): every one but the read
    /// only ones.
    pub const WRITABLE: [ImageFormat; 8] = [
        ImageFormat::Analyze,
        ImageFormat::Spm99,
        ImageFormat::Spm2,
        ImageFormat::Nifti1,
        ImageFormat::Nifti1Pair,
        ImageFormat::Nifti2,
        ImageFormat::Nifti2Pair,
        ImageFormat::Mgh,
    ];

    /// True for the formats neurovox (like nibabel) can write; the others are read only.
    ///
    /// ```
    /// use neurovox::ImageFormat;
    /// assert!(ImageFormat::Mgh.is_writable());
    /// assert!(!ImageFormat::Afni.is_writable());
    /// assert!(ImageFormat::WRITABLE.iter().all(|f| f.is_writable()));
    /// ```
    pub fn is_writable(self) -> bool {
        Self::WRITABLE.contains(&self)
    }

    /// nibabel's image class name.
    pub fn nibabel_class(self) -> &'static str {
        match self {
            ImageFormat::Analyze => "AnalyzeImage",
            ImageFormat::Spm99 => "Spm99AnalyzeImage",
            ImageFormat::Spm2 => "Spm2AnalyzeImage",
            ImageFormat::Nifti1 => "Nifti1Image",
            ImageFormat::Nifti1Pair => "Nifti1Pair",
            ImageFormat::Nifti2 => "Nifti2Image",
            ImageFormat::Nifti2Pair => "Nifti2Pair",
            ImageFormat::Mgh => "MGHImage",
            ImageFormat::Afni => "AFNIImage",
            ImageFormat::Ecat => "EcatImage",
            ImageFormat::Parrec => "PARRECImage",
            ImageFormat::Minc1 => "Minc1Image",
            ImageFormat::Minc2 => "Minc2Image",
        }
    }

    /// The format whose nibabel class is called `name`.
    ///
    /// ```
    /// use neurovox::ImageFormat;
    /// assert_eq!(ImageFormat::from_nibabel_class("Nifti1Pair"), Some(ImageFormat::Nifti1Pair));
    /// ```
    pub fn from_nibabel_class(name: &str) -> Option<ImageFormat> {
        Self::ALL.into_iter().find(|f| f.nibabel_class() == name)
    }

    /// True for the formats stored as a `.hdr` + `.img` pair.
    pub fn is_pair(self) -> bool {
        matches!(
            self,
            ImageFormat::Analyze
                | ImageFormat::Spm99
                | ImageFormat::Spm2
                | ImageFormat::Nifti1Pair
                | ImageFormat::Nifti2Pair
        )
    }

    /// nibabel's `valid_exts` for the format's class: the file name endings it saves to
    /// (a pair's header first, MGH's plain form first).
    ///
    /// ```
    /// use neurovox::ImageFormat;
    /// assert_eq!(ImageFormat::Nifti1.valid_exts(), [".nii"]);
    /// assert_eq!(ImageFormat::Spm2.valid_exts(), [".hdr", ".img"]);
    /// assert_eq!(ImageFormat::Mgh.valid_exts(), [".mgh", ".mgz"]);
    /// ```
    pub fn valid_exts(self) -> &'static [&'static str] {
        match self {
            ImageFormat::Nifti1 | ImageFormat::Nifti2 => &[".nii"],
            ImageFormat::Mgh => &[".mgh", ".mgz"],
            ImageFormat::Afni => &[".brik", ".head"],
            ImageFormat::Ecat => &[".v"],
            ImageFormat::Parrec => &[".rec", ".par"],
            ImageFormat::Minc1 | ImageFormat::Minc2 => &[".mnc"],
            _ => &[".hdr", ".img"],
        }
    }

    /// A short human name.
    pub fn label(self) -> &'static str {
        match self {
            ImageFormat::Analyze => "Analyze",
            ImageFormat::Spm99 => "SPM99 Analyze",
            ImageFormat::Spm2 => "SPM2 Analyze",
            ImageFormat::Nifti1 => "NIfTI-1",
            ImageFormat::Nifti1Pair => "NIfTI-1 pair",
            ImageFormat::Nifti2 => "NIfTI-2",
            ImageFormat::Nifti2Pair => "NIfTI-2 pair",
            ImageFormat::Mgh => "MGH",
            ImageFormat::Afni => "AFNI",
            ImageFormat::Ecat => "ECAT7",
            ImageFormat::Parrec => "PAR/REC",
            ImageFormat::Minc1 => "MINC1",
            ImageFormat::Minc2 => "MINC2",
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.nibabel_class())
    }
}

/// Any header neurovox reads, with the operations every format shares.
#[derive(Debug, Clone, PartialEq)]
pub enum Header {
    /// Analyze, SPM99 or SPM2.
    Analyze(AnalyzeHeader),
    /// NIfTI-1 or NIfTI-2, single or pair.
    Nifti(NiftiHeader),
    /// MGH / MGZ.
    Mgh(MghHeader),
    /// AFNI `.HEAD` attributes (read only).
    Afni(AfniHeader),
    /// ECAT7 main header, matrix list and subheaders (read only).
    Ecat(EcatHeader),
    /// PAR/REC `.PAR` general information and image definitions (read only).
    Parrec(ParrecHeader),
    /// MINC1 or MINC2 dimensions, type and scaling variables (read only).
    Minc(MincHeader),
}

/// Dispatches to the binary codecs' [`HeaderCodec`]; the text arm says what a text header
/// (AFNI's attributes, a `.PAR`, MINC's variables) answers instead, through the inherent methods both have.
macro_rules! each_header {
    ($self:expr, $h:ident => $body:expr, $a:ident => $text:expr) => {
        match $self {
            Header::Analyze($h) => $body,
            Header::Nifti($h) => $body,
            Header::Mgh($h) => $body,
            Header::Ecat($h) => $body,
            Header::Afni($a) => $text,
            Header::Parrec($a) => $text,
            Header::Minc($a) => $text,
        }
    };
}

/// The field table of headers without binary fields (AFNI's attributes, `.PAR` text).
static NO_FIELDS: fields::Layout = fields::Layout {
    name: "text header",
    size: 0,
    fields: &[],
};

/// The error for writing a read-only format's header.
fn read_only(format: ImageFormat) -> Error {
    Error::unsupported(format!(
        "{} files are read only in neurovox; save the image as NIfTI",
        format.label()
    ))
}

impl Header {
    /// A default header of a format, as nibabel's `header_class()` makes it (MGH is always
    /// big-endian and ignores `order`).
    ///
    /// ```
    /// use neurovox::{ByteOrder, Header, ImageFormat};
    /// let h = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
    /// assert_eq!(h.data_shape().unwrap(), vec![0]);
    /// assert_eq!(h.get("magic").unwrap().to_string(), "\"n+1\"");
    /// ```
    pub fn new(format: ImageFormat, order: ByteOrder) -> Header {
        match format {
            ImageFormat::Analyze => {
                Header::Analyze(AnalyzeHeader::new(AnalyzeFlavour::Analyze, order))
            }
            ImageFormat::Spm99 => Header::Analyze(AnalyzeHeader::new(AnalyzeFlavour::Spm99, order)),
            ImageFormat::Spm2 => Header::Analyze(AnalyzeHeader::new(AnalyzeFlavour::Spm2, order)),
            ImageFormat::Nifti1 => Header::Nifti(NiftiHeader::new(NiftiVersion::One, true, order)),
            ImageFormat::Nifti1Pair => {
                Header::Nifti(NiftiHeader::new(NiftiVersion::One, false, order))
            }
            ImageFormat::Nifti2 => Header::Nifti(NiftiHeader::new(NiftiVersion::Two, true, order)),
            ImageFormat::Nifti2Pair => {
                Header::Nifti(NiftiHeader::new(NiftiVersion::Two, false, order))
            }
            ImageFormat::Mgh => Header::Mgh(MghHeader::new()),
            ImageFormat::Afni => Header::Afni(AfniHeader::empty(order)),
            ImageFormat::Ecat => Header::Ecat(EcatHeader::empty(order)),
            ImageFormat::Parrec => Header::Parrec(ParrecHeader::empty()),
            ImageFormat::Minc1 => Header::Minc(MincHeader::empty(minc::MincVersion::One, order)),
            ImageFormat::Minc2 => Header::Minc(MincHeader::empty(minc::MincVersion::Two, order)),
        }
    }

    /// Parses the start of a header file as `format`, running nibabel's checks and fixes;
    /// a problem at level ≥ 40 is a Format error naming the field. For NIfTI, `bytes` may
    /// hold the extensions too (everything before the data, or the whole `.hdr` file).
    pub fn parse(format: ImageFormat, bytes: &[u8]) -> Result<Header> {
        Self::decode(format, bytes, true)
    }

    /// The header of `format` in `bytes`: with `checked`, refused on a problem at the error
    /// level ([`Header::parse`]); without, as it is ([`Header::diagnose_bytes`]).
    fn decode(format: ImageFormat, bytes: &[u8], checked: bool) -> Result<Header> {
        let analyze = |flavour| match checked {
            true => AnalyzeHeader::parse(flavour, bytes),
            false => AnalyzeHeader::unchecked(flavour, bytes),
        };
        let nifti = |version, single| match checked {
            true => NiftiHeader::parse(version, single, bytes),
            false => NiftiHeader::unchecked(version, single, bytes),
        };
        Ok(match format {
            ImageFormat::Analyze => Header::Analyze(analyze(AnalyzeFlavour::Analyze)?),
            ImageFormat::Spm99 => Header::Analyze(analyze(AnalyzeFlavour::Spm99)?),
            ImageFormat::Spm2 => Header::Analyze(analyze(AnalyzeFlavour::Spm2)?),
            ImageFormat::Nifti1 | ImageFormat::Nifti1Pair => {
                Header::Nifti(nifti(NiftiVersion::One, format == ImageFormat::Nifti1)?)
            }
            ImageFormat::Nifti2 | ImageFormat::Nifti2Pair => {
                Header::Nifti(nifti(NiftiVersion::Two, format == ImageFormat::Nifti2)?)
            }
            ImageFormat::Mgh if checked => Header::Mgh(MghHeader::parse(bytes)?),
            ImageFormat::Mgh => Header::Mgh(MghHeader::unchecked(bytes)?),
            ImageFormat::Afni => Header::Afni(AfniHeader::parse(bytes)?),
            ImageFormat::Ecat => Header::Ecat(EcatHeader::parse(bytes)?),
            ImageFormat::Parrec => Header::Parrec(ParrecHeader::parse(bytes)?),
            ImageFormat::Minc1 | ImageFormat::Minc2 => {
                let storage = minc::BytesStorage::new(bytes.to_vec());
                let header = MincHeader::read(std::sync::Arc::new(storage))?;
                if header.format() != format {
                    return Err(Error::format(format!(
                        "the file is {}, not {}",
                        header.format().label(),
                        format.label()
                    )));
                }
                Header::Minc(header)
            }
        })
    }

    /// A header of `format` whose fields are exactly `block` (a [`Header::binary_block`] in
    /// byte order `order`), with no checks and no fixes: how a header travels byte for byte
    /// to another process (the Python package pickles headers this way). NIfTI extensions
    /// and MGH tags are not in the block; set them afterwards. A block of another length
    /// is a Format error.
    ///
    /// ```
    /// use neurovox::{ByteOrder, Header, ImageFormat};
    /// let mut header = Header::new(ImageFormat::Nifti1, ByteOrder::Big);
    /// header.set("descrip", neurovox::format::FieldValue::Bytes(b"travels".to_vec()))?;
    /// let copy = Header::from_binary_block(ImageFormat::Nifti1, header.binary_block(), ByteOrder::Big)?;
    /// assert_eq!(copy, header);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn from_binary_block(
        format: ImageFormat,
        block: &[u8],
        order: ByteOrder,
    ) -> Result<Header> {
        if !format.is_writable() {
            return Err(read_only(format));
        }
        let mut header = Header::new(format, order);
        let layout = header.layout();
        if block.len() != layout.size {
            return Err(Error::format(format!(
                "a {} header block needs {} bytes, got {}",
                format.nibabel_class(),
                layout.size,
                block.len()
            )));
        }
        // MGH is big-endian whatever `order` says; the new header knows its own order.
        let raw = fields::RawStruct::from_bytes(layout, block, header.byte_order())?;
        each_header!(&mut header, h => *HeaderCodec::raw_mut(h) = raw, _a => {});
        Ok(header)
    }

    /// The format this header belongs to.
    pub fn format(&self) -> ImageFormat {
        each_header!(self, h => HeaderCodec::format(h), a => a.format())
    }

    /// Byte order of the header (and of the data it describes).
    pub fn byte_order(&self) -> ByteOrder {
        each_header!(self, h => HeaderCodec::raw(h).byte_order(), a => a.geometry().data_dtype().order)
    }

    /// The table of fields (names, offsets, types) behind [`Header::get`] and
    /// [`Header::fields`], e.g. to tell float32 fields from float64 ones when printing.
    pub fn layout(&self) -> &'static fields::Layout {
        each_header!(self, h => HeaderCodec::raw(h).layout(), _a => &NO_FIELDS)
    }

    /// The raw header block (348 / 540 bytes; MGH: the 90-byte header and 20-byte footer).
    pub fn binary_block(&self) -> &[u8] {
        each_header!(self, h => HeaderCodec::raw(h).bytes(), _a => &[])
    }

    /// A field's value by nibabel's field name.
    pub fn get(&self, name: &str) -> Result<FieldValue> {
        each_header!(self, h => HeaderCodec::raw(h).get(name), a => a.attribute(name).cloned().ok_or_else(|| {
            Error::usage(format!("no attribute {name:?} in this {} header", a.format().label()))
                .field(name.to_owned())
        }))
    }

    /// Sets a field by name, with no further checks: the caller owns consistency, as with
    /// nibabel's `hdr['field'] = value`.
    pub fn set(&mut self, name: &str, value: FieldValue) -> Result<()> {
        each_header!(self, h => HeaderCodec::raw_mut(h).set(name, value), a => Err(read_only(a.format())))
    }

    /// Every field and its value, in layout order.
    pub fn fields(&self) -> Vec<(&'static str, FieldValue)> {
        each_header!(self, h => HeaderCodec::raw(h).values(), _a => Vec::new())
    }

    /// The data shape (nibabel's `get_data_shape`).
    pub fn data_shape(&self) -> Result<Vec<usize>> {
        each_header!(self, h => HeaderCodec::data_shape(h), a => Ok(a.geometry().data_shape().to_vec()))
    }

    /// Sets the data shape (nibabel's `set_data_shape`).
    pub fn set_data_shape(&mut self, shape: &[usize]) -> Result<()> {
        each_header!(self, h => HeaderCodec::set_data_shape(h, shape), a => {
            a.geometry_mut().set_data_shape(shape);
            Ok(())
        })
    }

    /// The on-disk data type with its byte order.
    pub fn data_dtype(&self) -> Result<StorageDtype> {
        each_header!(self, h => HeaderCodec::data_dtype(h), a => Ok(a.geometry().data_dtype()))
    }

    /// Sets the on-disk data type; Unsupported if the format cannot store it.
    pub fn set_data_dtype(&mut self, dtype: DataType) -> Result<()> {
        each_header!(self, h => HeaderCodec::set_data_dtype(h, dtype), a => {
            a.geometry_mut().set_data_dtype(dtype);
            Ok(())
        })
    }

    /// Voxel sizes (and time step) for each axis (nibabel's `get_zooms`).
    pub fn zooms(&self) -> Vec<f64> {
        each_header!(self, h => HeaderCodec::zooms(h), a => a.geometry().zooms().to_vec())
    }

    /// Sets the voxel sizes (nibabel's `set_zooms`).
    pub fn set_zooms(&mut self, zooms: &[f64]) -> Result<()> {
        each_header!(self, h => HeaderCodec::set_zooms(h, zooms), a => {
            a.geometry_mut().set_zooms(zooms);
            Ok(())
        })
    }

    /// Byte offset of the data in the image file.
    pub fn data_offset(&self) -> u64 {
        each_header!(self, h => HeaderCodec::data_offset(h), _a => 0)
    }

    /// The scaling `(slope, intercept)` nibabel's `get_slope_inter` returns: `None` means
    /// "no scaling" (read as 1 and 0).
    pub fn slope_inter(&self) -> Result<(Option<f64>, Option<f64>)> {
        each_header!(self, h => HeaderCodec::slope_inter(h), _a => Ok((None, None)))
    }

    /// The voxel-to-world affine nibabel chooses (`get_best_affine`).
    pub fn best_affine(&self) -> Result<Affine> {
        each_header!(self, h => HeaderCodec::best_affine(h), a => a.affine())
    }

    /// Runs the format's checks without fixing (nibabel's `diagnose_binaryblock`).
    pub fn diagnose(&self) -> Vec<Problem> {
        let mut copy = self.clone();
        each_header!(&mut copy, h => HeaderCodec::run_checks(h, false), _a => Vec::new())
    }

    /// Stores an affine in the header fields the format has for it, as nibabel's image
    /// `_affine2header` does when an image is made or saved with an affine that differs from
    /// the header's: NIfTI sets the sform (code 2, aligned) and the qform parameters (code 0);
    /// MGH sets `delta`, `Mdc` and `Pxyz_c`; Analyze can only keep the voxel sizes.
    ///
    /// ```
    /// use neurovox::{ByteOrder, Header, ImageFormat};
    /// let aff = [[2.0, 0.0, 0.0, -10.0], [0.0, 3.0, 0.0, 20.0], [0.0, 0.0, 4.0, 5.0], [0.0, 0.0, 0.0, 1.0]];
    /// let mut hdr = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
    /// hdr.set_data_shape(&[10, 10, 10])?;
    /// hdr.store_affine(&aff)?;
    /// assert_eq!(hdr.best_affine()?, aff);
    /// assert_eq!(hdr.zooms(), vec![2.0, 3.0, 4.0]);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn store_affine(&mut self, affine: &Affine) -> Result<()> {
        match self {
            Header::Nifti(h) => {
                h.set_sform(Some(affine), Some(2))?;
                // With code 0 ("unknown") the qform is informative only. An affine it cannot
                // hold (a singular or NaN 3x3 part, which the sform keeps as it is) leaves it
                // unset instead of failing the save; nibabel raises (docs/compat.md).
                match h.set_qform(Some(affine), Some(0), true) {
                    Err(e) if e.kind() == crate::ErrorKind::Usage => {
                        self.set("qform_code", crate::FieldValue::Int(0))
                    }
                    other => other,
                }
            }
            Header::Mgh(h) => h.set_affine(affine),
            // nibabel's SpatialImage._affine2header: the voxel sizes are all they keep.
            Header::Ecat(_) => Err(read_only(ImageFormat::Ecat)),
            Header::Analyze(_) | Header::Afni(_) | Header::Parrec(_) | Header::Minc(_) => {
                let sizes = affine::voxel_sizes(affine);
                let mut zooms = self.zooms();
                for (z, v) in zooms.iter_mut().zip(sizes) {
                    *z = v;
                }
                self.set_zooms(&zooms)
            }
        }
    }

    /// Runs the format's checks on raw header bytes as stored, before any fix, as nibabel's
    /// `diagnose_binaryblock` does (parsing fixes what it can, so [`Header::diagnose`] on a
    /// parsed header only sees what the fixes left).
    ///
    /// ```
    /// use neurovox::{ByteOrder, Header, ImageFormat};
    /// let mut bytes = Header::new(ImageFormat::Nifti1, ByteOrder::Little).to_prefix_bytes().unwrap();
    /// bytes[0] = 0; // sizeof_hdr 348 -> 256
    /// let problems = Header::diagnose_bytes(ImageFormat::Nifti1, &bytes).unwrap();
    /// assert_eq!(problems[0].to_string(), "sizeof_hdr should be 348");
    /// ```
    pub fn diagnose_bytes(format: ImageFormat, bytes: &[u8]) -> Result<Vec<Problem>> {
        let mut header = Self::decode(format, bytes, false)?;
        Ok(each_header!(&mut header, h => HeaderCodec::run_checks(h, false), _a => Vec::new()))
    }

    /// Runs the checks and applies nibabel's fixes in place; returns every problem found.
    pub fn check_fix(&mut self) -> Vec<Problem> {
        each_header!(self, h => HeaderCodec::run_checks(h, true), _a => Vec::new())
    }

    /// The header bytes nibabel writes: the header block, and for NIfTI the extension flag
    /// and extensions (single files always have the 4-byte flag); the data follows at
    /// [`Header::data_offset`], after zeros if there is a gap. For MGH, the 284 bytes before
    /// the data (the footer is written after the data).
    pub fn to_prefix_bytes(&self) -> Result<Vec<u8>> {
        match self {
            Header::Analyze(h) => Ok(h.to_bytes().to_vec()),
            Header::Nifti(h) => h.to_prefix_bytes(),
            Header::Mgh(h) => Ok(h.prefix_bytes()),
            Header::Afni(_) => Err(read_only(ImageFormat::Afni)),
            Header::Ecat(_) => Err(read_only(ImageFormat::Ecat)),
            Header::Parrec(_) => Err(read_only(ImageFormat::Parrec)),
            Header::Minc(h) => Err(read_only(h.format())),
        }
    }

    /// The number of data bytes the header declares (shape × item size), checked for overflow.
    pub fn data_nbytes(&self) -> Result<u64> {
        declared_nbytes(&self.data_shape()?, self.data_dtype()?.dtype)
    }
}

/// Shape × item size in bytes; a Limit error on field `dim` if it overflows 64 bits.
pub(crate) fn declared_nbytes(shape: &[usize], dtype: DataType) -> Result<u64> {
    let itemsize = dtype.itemsize();
    crate::dtype::checked_nbytes(shape, itemsize).ok_or_else(|| {
        Error::limit(format!(
            "data size {shape:?} × {itemsize} bytes overflows 64 bits"
        ))
        .field("dim")
    })
}

/// The [`HeaderCodec`] methods every codec answers from its raw bytes and its own inherent
/// methods of the same names.
macro_rules! codec_basics {
    ($t:ty) => {
        fn raw(&self) -> &$crate::format::fields::RawStruct {
            &self.raw
        }
        fn raw_mut(&mut self) -> &mut $crate::format::fields::RawStruct {
            &mut self.raw
        }
        fn data_shape(&self) -> $crate::Result<Vec<usize>> {
            <$t>::data_shape(self)
        }
        fn set_data_shape(&mut self, shape: &[usize]) -> $crate::Result<()> {
            <$t>::set_data_shape(self, shape)
        }
        fn data_dtype(&self) -> $crate::Result<$crate::StorageDtype> {
            <$t>::data_dtype(self)
        }
        fn set_data_dtype(&mut self, dtype: $crate::DataType) -> $crate::Result<()> {
            <$t>::set_data_dtype(self, dtype)
        }
    };
}
pub(crate) use codec_basics;

/// What every header codec provides; [`Header`] dispatches to it.
pub(crate) trait HeaderCodec {
    fn format(&self) -> ImageFormat;
    fn raw(&self) -> &fields::RawStruct;
    fn raw_mut(&mut self) -> &mut fields::RawStruct;
    fn data_shape(&self) -> Result<Vec<usize>>;
    fn set_data_shape(&mut self, shape: &[usize]) -> Result<()>;
    fn data_dtype(&self) -> Result<StorageDtype>;
    fn set_data_dtype(&mut self, dtype: DataType) -> Result<()>;
    fn zooms(&self) -> Vec<f64>;
    fn set_zooms(&mut self, zooms: &[f64]) -> Result<()>;
    fn data_offset(&self) -> u64;
    fn slope_inter(&self) -> Result<(Option<f64>, Option<f64>)>;
    fn best_affine(&self) -> Result<Affine>;
    fn run_checks(&mut self, fix: bool) -> Vec<Problem>;
}

/// The largest number of axes any format stores.
pub const MAX_NDIM: usize = 7;

/// Validates a declared shape before anything is sized from it: every axis positive and
/// the element count within `u64`. Shared by all codecs so every format rejects the same
/// malformed dims the same way.
pub(crate) fn check_declared_shape(
    dims: &[i64],
    field: &'static str,
    offset: u64,
) -> Result<Vec<usize>> {
    let mut shape = Vec::with_capacity(dims.len());
    let mut count: u64 = 1;
    for (axis, &d) in dims.iter().enumerate() {
        if d <= 0 {
            return Err(Error::header_value(format!(
                "{field}[{}] = {d}: every axis length must be positive",
                axis + 1
            ))
            .field(field)
            .offset(offset));
        }
        let n = usize::try_from(d).map_err(|_| {
            Error::limit(format!(
                "{field}[{}] = {d} does not fit this machine's address space",
                axis + 1
            ))
            .field(field)
            .offset(offset)
        })?;
        count = count
            .checked_mul(d as u64)
            .filter(|&c| c <= i64::MAX as u64)
            .ok_or_else(|| {
                Error::limit(format!("the product of {field} {dims:?} overflows 63 bits"))
                    .field(field)
                    .offset(offset)
            })?;
        shape.push(n);
    }
    Ok(shape)
}
