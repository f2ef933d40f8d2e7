//! NIfTI-1 headers, and the rules NIfTI-2 shares with them (nibabel's `nifti1.py`,
//! docs/nibabel-rules.md §12). The NIfTI-2 layout and its extra check live in [`super::nifti2`].
//!
//! A header here is the raw 348-byte (or 540-byte) block plus the extensions that follow it.
//! Single files (`.nii`, magic `n+1`/`n+2`) have a 4-byte extension flag after the block and
//! data at `vox_offset`; pairs (`.hdr` + `.img`, magic `ni1`/`ni2`) keep the header alone.

use super::affine::{
    affine_to_quaternion, fill_positive, has_no_shear, quat_to_mat, Affine, IDENTITY,
};
use super::analyze::{
    analyze_base_affine, analyze_data_shape, analyze_zooms, check_bitpix, check_datatype,
    check_pixdims, check_sizeof_hdr, code_to_dtype, fill_analyze_defaults, guess_byte_order,
    raw_dims, set_analyze_data_shape, set_analyze_zooms, set_code_dtype, validate_vox_offset,
    vox_offset,
};
use super::check::{first_error, Problem};
use super::fields::{peek_i32, Field, FieldKind as K, Layout, RawStruct};
use super::{check_declared_shape, nifti2, HeaderCodec, ImageFormat};
use crate::dtype::{ByteOrder, DataType, StorageDtype};
use crate::error::{Error, Result};

/// The NIfTI-1 header layout (348 bytes).
pub static NIFTI1_LAYOUT: Layout = Layout {
    name: "NIfTI-1 header",
    size: 348,
    fields: &[
        Field::new("sizeof_hdr", 0, K::I32, 1),
        Field::new("data_type", 4, K::Bytes, 10),
        Field::new("db_name", 14, K::Bytes, 18),
        Field::new("extents", 32, K::I32, 1),
        Field::new("session_error", 36, K::I16, 1),
        Field::new("regular", 38, K::Bytes, 1),
        Field::new("dim_info", 39, K::U8, 1),
        Field::new("dim", 40, K::I16, 8),
        Field::new("intent_p1", 56, K::F32, 1),
        Field::new("intent_p2", 60, K::F32, 1),
        Field::new("intent_p3", 64, K::F32, 1),
        Field::new("intent_code", 68, K::I16, 1),
        Field::new("datatype", 70, K::I16, 1),
        Field::new("bitpix", 72, K::I16, 1),
        Field::new("slice_start", 74, K::I16, 1),
        Field::new("pixdim", 76, K::F32, 8),
        Field::new("vox_offset", 108, K::F32, 1),
        Field::new("scl_slope", 112, K::F32, 1),
        Field::new("scl_inter", 116, K::F32, 1),
        Field::new("slice_end", 120, K::I16, 1),
        Field::new("slice_code", 122, K::U8, 1),
        Field::new("xyzt_units", 123, K::U8, 1),
        Field::new("cal_max", 124, K::F32, 1),
        Field::new("cal_min", 128, K::F32, 1),
        Field::new("slice_duration", 132, K::F32, 1),
        Field::new("toffset", 136, K::F32, 1),
        Field::new("glmax", 140, K::I32, 1),
        Field::new("glmin", 144, K::I32, 1),
        Field::new("descrip", 148, K::Bytes, 80),
        Field::new("aux_file", 228, K::Bytes, 24),
        Field::new("qform_code", 252, K::I16, 1),
        Field::new("sform_code", 254, K::I16, 1),
        Field::new("quatern_b", 256, K::F32, 1),
        Field::new("quatern_c", 260, K::F32, 1),
        Field::new("quatern_d", 264, K::F32, 1),
        Field::new("qoffset_x", 268, K::F32, 1),
        Field::new("qoffset_y", 272, K::F32, 1),
        Field::new("qoffset_z", 276, K::F32, 1),
        Field::new("srow_x", 280, K::F32, 4),
        Field::new("srow_y", 296, K::F32, 4),
        Field::new("srow_z", 312, K::F32, 4),
        Field::new("intent_name", 328, K::Bytes, 16),
        Field::new("magic", 344, K::Bytes, 4),
    ],
};

/// NIfTI-1 or NIfTI-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NiftiVersion {
    /// NIfTI-1: 348-byte header, 16-bit dims, 32-bit floats.
    One,
    /// NIfTI-2: 540-byte header, 64-bit dims, 64-bit floats.
    Two,
}

impl NiftiVersion {
    /// The header layout.
    pub fn layout(self) -> &'static Layout {
        match self {
            NiftiVersion::One => &NIFTI1_LAYOUT,
            NiftiVersion::Two => &nifti2::NIFTI2_LAYOUT,
        }
    }

    /// `sizeof_hdr`: 348 or 540.
    pub fn header_size(self) -> usize {
        self.layout().size
    }

    /// The data offset of a single file without extensions: 352 or 544.
    pub fn single_vox_offset(self) -> u64 {
        self.header_size() as u64 + 4
    }

    /// The magic of single files (`n+1`, `n+2`).
    pub fn single_magic(self) -> &'static [u8] {
        match self {
            NiftiVersion::One => b"n+1",
            NiftiVersion::Two => b"n+2",
        }
    }

    /// The magic of pairs (`ni1`, `ni2`).
    pub fn pair_magic(self) -> &'static [u8] {
        match self {
            NiftiVersion::One => b"ni1",
            NiftiVersion::Two => b"ni2",
        }
    }

    /// nibabel's `quaternion_threshold`: three epsilons of the field's float type.
    fn quaternion_threshold(self) -> f64 {
        match self {
            NiftiVersion::One => f64::from(f32::EPSILON) * 3.0,
            NiftiVersion::Two => f64::EPSILON * 3.0,
        }
    }
}

/// One NIfTI header extension: a code and its content, kept byte for byte as in the file
/// (the `esize - 8` bytes after the code, padding included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The extension code (`ecode`): 6 is a comment, 4 AFNI, 2 DICOM, …
    pub code: i32,
    /// The raw bytes after `esize` and `ecode`.
    pub raw: Vec<u8>,
}

impl Extension {
    /// An extension from its content; it is padded to a 16-byte multiple when written.
    ///
    /// ```
    /// use neurovox::format::Extension;
    /// let ext = Extension::new(6, b"a comment".to_vec());
    /// assert_eq!(ext.content(), b"a comment");
    /// assert_eq!(ext.size_on_disk(), 32);
    /// ```
    pub fn new(code: i32, content: Vec<u8>) -> Self {
        Extension { code, raw: content }
    }

    /// The content without trailing NULs, as nibabel's `get_content` returns it.
    pub fn content(&self) -> &[u8] {
        let end = self.raw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        &self.raw[..end]
    }

    /// `esize`: 8 header bytes plus the raw bytes, rounded up to a multiple of 16.
    pub fn size_on_disk(&self) -> usize {
        (self.raw.len() + 8).div_ceil(16) * 16
    }

    fn write_to(&self, out: &mut Vec<u8>, order: ByteOrder) {
        let esize = self.size_on_disk();
        let put = |out: &mut Vec<u8>, v: i32| match order {
            ByteOrder::Little => out.extend_from_slice(&v.to_le_bytes()),
            ByteOrder::Big => out.extend_from_slice(&v.to_be_bytes()),
        };
        put(out, esize as i32);
        put(out, self.code);
        out.extend_from_slice(&self.raw);
        out.resize(out.len() + esize - 8 - self.raw.len(), 0);
    }
}

/// Parses the extension records in `bytes` (which start right after the 4-byte flag).
///
/// nibabel's loop: records are read while at least 16 bytes remain (single files) or until
/// the bytes end (pairs). A record whose `esize` is below 8 or runs past the end is a Format
/// error; an `esize` that is not a multiple of 16 is accepted, as nibabel accepts it. Zero
/// padding after the last record ends the list.
pub fn parse_extensions(
    bytes: &[u8],
    order: ByteOrder,
    until_end: bool,
    base_offset: u64,
) -> Result<Vec<Extension>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    loop {
        let remaining = bytes.len() - pos;
        if (!until_end && remaining < 16) || (until_end && remaining == 0) {
            break;
        }
        let at = base_offset + pos as u64;
        let (Some(esize), Some(code)) =
            (peek_i32(bytes, pos, order), peek_i32(bytes, pos + 4, order))
        else {
            return Err(Error::format(
                "failed to read extension header: the header ends inside it",
            )
            .field("extensions")
            .offset(at));
        };
        if esize == 0 && bytes[pos..].iter().all(|&b| b == 0) {
            // Zero padding between the last extension and the data (nibabel misreads it as
            // an extension of size 0 and fails; see docs/compat.md).
            break;
        }
        if esize < 8 {
            return Err(Error::format(format!(
                "extension size {esize} is smaller than its own 8-byte header"
            ))
            .field("extensions")
            .offset(at));
        }
        let esize = esize as usize;
        if esize > remaining {
            return Err(Error::format(format!(
                "extension size {esize} runs past the {remaining} bytes left before the data"
            ))
            .field("extensions")
            .offset(at));
        }
        out.push(Extension {
            code,
            raw: bytes[pos + 8..pos + esize].to_vec(),
        });
        pos += esize;
    }
    Ok(out)
}

/// nibabel's `extension_codes` labels, by code.
const EXTENSION_LABELS: [(i32, &str); 23] = [
    (0, "ignore"),
    (2, "dicom"),
    (4, "afni"),
    (6, "comment"),
    (8, "xcede"),
    (10, "jimdiminfo"),
    (12, "workflow_fwds"),
    (14, "freesurfer"),
    (16, "pypickle"),
    (18, "mind_ident"),
    (20, "b_value"),
    (22, "spherical_direction"),
    (24, "dt_component"),
    (26, "shc_degreeorder"),
    (28, "voxbo"),
    (30, "caret"),
    (32, "cifti"),
    (34, "variable_frame_timing"),
    (36, "unassigned"),
    (38, "eval"),
    (40, "matlab"),
    (42, "quantiphyse"),
    (44, "mrs"),
];

/// The label nibabel gives an extension code (`comment` for 6), or None if unknown.
///
/// ```
/// assert_eq!(neurovox::format::nifti1::extension_label(32), Some("cifti"));
/// assert_eq!(neurovox::format::nifti1::extension_label(7), None);
/// ```
pub fn extension_label(code: i32) -> Option<&'static str> {
    EXTENSION_LABELS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, l)| *l)
}

const XFORM_LABELS: [&str; 6] = [
    "unknown",
    "scanner",
    "aligned",
    "talairach",
    "mni",
    "template",
];

/// The label of a qform/sform code (`aligned`), or None for codes outside 0..=5.
pub fn xform_label(code: i64) -> Option<&'static str> {
    usize::try_from(code)
        .ok()
        .and_then(|c| XFORM_LABELS.get(c).copied())
}

/// nibabel's `unit_codes`.
const UNIT_LABELS: [(i64, &str); 10] = [
    (0, "unknown"),
    (1, "meter"),
    (2, "mm"),
    (3, "micron"),
    (8, "sec"),
    (16, "msec"),
    (24, "usec"),
    (32, "hz"),
    (40, "ppm"),
    (48, "rads"),
];

/// The label of a NIfTI unit code, or None if unknown.
pub fn unit_label(code: i64) -> Option<&'static str> {
    UNIT_LABELS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, l)| *l)
}

/// nibabel's `intent_codes`: code, label, number of parameters.
const INTENTS: &[(i64, &str, usize)] = &[
    (0, "none", 0),
    (2, "correlation", 1),
    (3, "t test", 1),
    (4, "f test", 2),
    (5, "z score", 0),
    (6, "chi2", 1),
    (7, "beta", 2),
    (8, "binomial", 2),
    (9, "gamma", 2),
    (10, "poisson", 1),
    (11, "normal", 2),
    (12, "non central f test", 3),
    (13, "non central chi2", 2),
    (14, "logistic", 2),
    (15, "laplace", 2),
    (16, "uniform", 2),
    (17, "non central t test", 2),
    (18, "weibull", 2),
    (19, "chi", 1),
    (20, "inverse gaussian", 2),
    (21, "extreme value 1", 2),
    (22, "p value", 0),
    (23, "log p value", 0),
    (24, "log10 p value", 0),
    (1001, "estimate", 0),
    (1002, "label", 0),
    (1003, "neuroname", 0),
    (1004, "general matrix", 2),
    (1005, "symmetric matrix", 1),
    (1006, "displacement vector", 0),
    (1007, "vector", 0),
    (1008, "pointset", 0),
    (1009, "triangle", 0),
    (1010, "quaternion", 0),
    (1011, "dimensionless", 0),
    (2001, "time series", 0),
    (2002, "node index", 0),
    (2003, "rgb vector", 0),
    (2004, "rgba vector", 0),
    (2005, "shape", 0),
    (2006, "fnirt disp field", 0),
    (2007, "fnirt cubic spline coef", 0),
    (2008, "fnirt dct coef", 0),
    (2009, "fnirt quad spline coef", 0),
    (2016, "topup cubic spline coef ", 0),
    (2017, "topup quad spline coef", 0),
    (2018, "topup field", 0),
    (3000, "ConnUnknown", 0),
    (3001, "ConnDense", 0),
    (3002, "ConnDenseSeries", 0),
    (3003, "ConnParcels", 0),
    (3004, "ConnParcelSries", 0),
    (3006, "ConnDenseScalar", 0),
    (3007, "ConnDenseLabel", 0),
    (3008, "ConnParcelScalr", 0),
    (3009, "ConnParcelDense", 0),
    (3010, "ConnDenseParcel", 0),
    (3011, "ConnPPSr", 0),
    (3012, "ConnPPSc", 0),
];

/// The intent of a NIfTI image as nibabel's `get_intent` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// The intent label (`t test`), or `unknown code N`.
    pub label: String,
    /// The parameters this intent uses (`intent_p1` …), as many as the code defines.
    pub params: Vec<f64>,
    /// `intent_name`, decoded as Latin-1.
    pub name: String,
}

/// A NIfTI-1 or NIfTI-2 header, single-file or pair, with its extensions.
///
/// ```
/// use neurovox::format::{NiftiHeader, NiftiVersion};
/// use neurovox::{ByteOrder, DataType};
///
/// let mut hdr = NiftiHeader::new(NiftiVersion::One, true, ByteOrder::Little);
/// hdr.set_data_shape(&[4, 5, 6])?;
/// hdr.set_data_dtype(DataType::Int16)?;
/// hdr.set_sform(Some(&[[2.0, 0.0, 0.0, -4.0], [0.0, 2.0, 0.0, -5.0], [0.0, 0.0, 2.0, -6.0], [0.0, 0.0, 0.0, 1.0]]), None)?;
/// let bytes = hdr.to_prefix_bytes()?;
/// assert_eq!(bytes.len(), 352);
/// let back = NiftiHeader::parse(NiftiVersion::One, true, &bytes)?;
/// assert_eq!(back.data_offset(), 352);
/// assert_eq!(back.sform_code(), 2);
/// assert_eq!(back.best_affine()?[0], [2.0, 0.0, 0.0, -4.0]);
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NiftiHeader {
    raw: RawStruct,
    version: NiftiVersion,
    single: bool,
    extensions: Vec<Extension>,
}

impl NiftiHeader {
    /// nibabel's default header: Analyze defaults, `scl_slope = 1`, the magic for single files
    /// or pairs, and for NIfTI-2 the EOL check bytes.
    pub fn new(version: NiftiVersion, single: bool, order: ByteOrder) -> Self {
        let mut raw = RawStruct::zeroed(version.layout(), order);
        fill_analyze_defaults(&mut raw);
        let _ = raw.set_float("scl_slope", 1.0);
        let magic = if single {
            version.single_magic()
        } else {
            version.pair_magic()
        };
        let _ = raw.set("magic", super::FieldValue::Bytes(magic.to_vec()));
        if version == NiftiVersion::Two {
            nifti2::fill_defaults(&mut raw);
        }
        NiftiHeader {
            raw,
            version,
            single,
            extensions: Vec::new(),
        }
    }

    /// Parses a header from the start of a single file (the bytes up to at least `vox_offset`
    /// hold the extensions) or from a whole `.hdr` file (`single = false`), guessing the byte
    /// order, running nibabel's checks and fixes, and validating what the data read depends
    /// on: the shape, and for single files a `vox_offset` past the header.
    pub fn parse(version: NiftiVersion, single: bool, bytes: &[u8]) -> Result<Self> {
        let size = version.header_size();
        let dim_offset = if version == NiftiVersion::One { 40 } else { 16 };
        let order = guess_byte_order(bytes, size as i32, dim_offset, version == NiftiVersion::Two);
        let raw = RawStruct::from_bytes(version.layout(), bytes, order)?;
        let mut h = NiftiHeader {
            raw,
            version,
            single,
            extensions: Vec::new(),
        };
        let problems = h.run_checks(true);
        if let Some(err) = first_error(&problems) {
            return Err(err);
        }
        h.validate_dims()?;
        validate_vox_offset(&h.raw)?;
        let vox = h.data_offset();
        if single && vox < version.single_vox_offset() {
            return Err(Error::format(format!(
                "vox_offset {vox} points inside the {}-byte header of a single file",
                version.single_vox_offset()
            ))
            .field("vox_offset"));
        }
        h.extensions = h.parse_trailing_extensions(bytes)?;
        Ok(h)
    }

    /// The header block as stored, byte order guessed, no checks, fixes or extensions (for
    /// [`crate::Header::diagnose_bytes`]).
    pub(crate) fn unchecked(version: NiftiVersion, single: bool, bytes: &[u8]) -> Result<Self> {
        let dim_offset = if version == NiftiVersion::One { 40 } else { 16 };
        let order = guess_byte_order(
            bytes,
            version.header_size() as i32,
            dim_offset,
            version == NiftiVersion::Two,
        );
        Ok(NiftiHeader {
            raw: RawStruct::from_bytes(version.layout(), bytes, order)?,
            version,
            single,
            extensions: Vec::new(),
        })
    }

    fn parse_trailing_extensions(&self, bytes: &[u8]) -> Result<Vec<Extension>> {
        let size = self.version.header_size();
        let flag = bytes.get(size..size + 4);
        match flag {
            None | Some([0, ..]) => return Ok(Vec::new()),
            Some(_) => {}
        }
        let start = size + 4;
        if !self.single {
            return parse_extensions(&bytes[start..], self.raw.byte_order(), true, start as u64);
        }
        let end = usize::try_from(self.data_offset()).unwrap_or(usize::MAX);
        let region = bytes.get(start..end).ok_or_else(|| {
            Error::format(format!(
                "the extensions end at vox_offset {end}, but only {} header bytes were given",
                bytes.len()
            ))
            .field("vox_offset")
        })?;
        parse_extensions(region, self.raw.byte_order(), false, start as u64)
    }

    /// NIfTI-1 or NIfTI-2.
    pub fn version(&self) -> NiftiVersion {
        self.version
    }

    /// True for a single-file header (`.nii`), false for a pair (`.hdr` + `.img`).
    pub fn is_single(&self) -> bool {
        self.single
    }

    /// The extensions, in file order.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// The extensions, to add or remove some.
    pub fn extensions_mut(&mut self) -> &mut Vec<Extension> {
        &mut self.extensions
    }

    /// The raw header block.
    pub fn to_bytes(&self) -> &[u8] {
        self.raw.bytes()
    }

    /// The magic, without trailing NULs.
    pub fn magic(&self) -> &[u8] {
        let m = self.raw.raw("magic");
        let end = m.iter().position(|&b| b == 0).unwrap_or(m.len());
        &m[..end]
    }

    /// What nibabel's `write_to` writes: the block, then for single files (or when there are
    /// extensions) the 4-byte flag and the extensions. A single file's `vox_offset` of 0 is
    /// set to the smallest that fits; a smaller non-zero one is a Usage error. Any gap up to
    /// `vox_offset` is the data writer's to fill with zeros, as nibabel's `seek_tell` does.
    pub fn to_prefix_bytes(&self) -> Result<Vec<u8>> {
        let mut raw = self.raw.clone();
        if self.single {
            let min = self.version.single_vox_offset()
                + self
                    .extensions
                    .iter()
                    .map(|e| e.size_on_disk() as u64)
                    .sum::<u64>();
            let vox = raw.float("vox_offset");
            if vox == 0.0 {
                raw.set_float("vox_offset", min as f64)?;
            } else if vox < min as f64 {
                return Err(Error::usage(format!(
                    "vox offset set to {vox}, but need at least {min}"
                ))
                .field("vox_offset"));
            }
        }
        let mut out = raw.bytes().to_vec();
        if self.extensions.is_empty() {
            if self.single {
                out.extend_from_slice(&[0; 4]);
            }
            return Ok(out);
        }
        out.extend_from_slice(&[1, 0, 0, 0]);
        for ext in &self.extensions {
            ext.write_to(&mut out, raw.byte_order());
        }
        Ok(out)
    }

    /// The data shape, with FreeSurfer's two NIfTI-1 hacks: `dim[1:4] = (-1, 1, 1)` means the
    /// first axis length is in `glmin`, and `(27307, 1, 6)` is the ico7 surface `(163842, 1, 1)`.
    pub fn data_shape(&self) -> Result<Vec<usize>> {
        if let Some(dims) = self.freesurfer_dims()? {
            return check_declared_shape(&dims, "dim", self.dim_offset());
        }
        analyze_data_shape(&self.raw)
    }

    /// The dims after FreeSurfer's substitutions, when one applies (NIfTI-1 only).
    fn freesurfer_dims(&self) -> Result<Option<Vec<i64>>> {
        if self.version != NiftiVersion::One {
            return Ok(None);
        }
        let mut dims = raw_dims(&self.raw)?;
        if dims.len() < 3 {
            return Ok(None);
        }
        match dims[..3] {
            [-1, 1, 1] => {
                let glmin = self.raw.int("glmin");
                if glmin == 0 {
                    return Err(Error::format(
                        "-1 in dim[1] but 0 in glmin; inconsistent freesurfer type header?",
                    )
                    .field("glmin"));
                }
                dims[0] = glmin;
                Ok(Some(dims))
            }
            [27307, 1, 6] => {
                dims[..3].copy_from_slice(&[163_842, 1, 1]);
                Ok(Some(dims))
            }
            _ => Ok(None),
        }
    }

    fn dim_offset(&self) -> u64 {
        self.raw
            .layout()
            .field("dim")
            .map_or(0, |f| f.offset as u64)
    }

    fn validate_dims(&self) -> Result<()> {
        if self.raw.int_at("dim", 0) == 0 {
            return Err(Error::format("dim[0] = 0: the header declares no axes")
                .field("dim")
                .offset(self.dim_offset()));
        }
        self.data_shape().map(|_| ())
    }

    /// Sets `dim`, applying FreeSurfer's hacks for NIfTI-1 as nibabel does (vectors longer
    /// than 32767 store `-1` in `dim[1]` and the length in `glmin`).
    pub fn set_data_shape(&mut self, shape: &[usize]) -> Result<()> {
        if self.version == NiftiVersion::One && shape.len() >= 3 {
            if shape[..3] == [163_842, 1, 1] {
                let mut s = vec![27_307, 1, 6];
                s.extend_from_slice(&shape[3..]);
                return set_analyze_data_shape(&mut self.raw, &s);
            }
            if shape[1..3] == [1, 1] && shape[0] > i16::MAX as usize {
                let len = i64::try_from(shape[0]).unwrap_or(i64::MAX);
                self.raw.set_int("glmin", len).map_err(|_| {
                    Error::usage(format!("shape[0] {len} does not fit in glmax datatype"))
                        .field("glmin")
                })?;
                let mut s: Vec<i64> = vec![-1, 1, 1];
                s.extend(shape[3..].iter().map(|&n| n as i64));
                return self.set_dims_raw(&s);
            }
        }
        set_analyze_data_shape(&mut self.raw, shape)
    }

    fn set_dims_raw(&mut self, dims: &[i64]) -> Result<()> {
        for i in 1..8 {
            self.raw.set_int_at("dim", i, 1)?;
        }
        self.raw.set_int_at("dim", 0, dims.len() as i64)?;
        for (i, &d) in dims.iter().enumerate() {
            self.raw.set_int_at("dim", i + 1, d)?;
        }
        for i in dims.len() + 1..8 {
            self.raw.set_float_at("pixdim", i, 1.0)?;
        }
        Ok(())
    }

    /// The on-disk type. Every NIfTI code is a type; 0, 1 and 255 are Unsupported.
    pub fn data_dtype(&self) -> Result<StorageDtype> {
        code_to_dtype(&self.raw, DataType::from_nifti_code)
    }

    /// Sets `datatype` and `bitpix`.
    pub fn set_data_dtype(&mut self, dtype: DataType) -> Result<()> {
        set_code_dtype(&mut self.raw, dtype, DataType::from_nifti_code)
    }

    /// `int(vox_offset)`.
    pub fn data_offset(&self) -> u64 {
        vox_offset(&self.raw)
    }

    /// Sets `vox_offset` (0 means "the smallest that fits", filled in when written).
    pub fn set_data_offset(&mut self, offset: u64) -> Result<()> {
        self.raw.set_float("vox_offset", offset as f64)
    }

    /// nibabel's `get_slope_inter`: `(None, None)` when the slope is 0 or not finite (the data
    /// is unscaled); a valid slope with a non-finite intercept is a Format error.
    pub fn slope_inter(&self) -> Result<(Option<f64>, Option<f64>)> {
        let slope = self.raw.float("scl_slope");
        let inter = self.raw.float("scl_inter");
        if slope == 0.0 || !slope.is_finite() {
            return Ok((None, None));
        }
        if !inter.is_finite() {
            return Err(Error::format(format!(
                "Valid slope but invalid intercept {}",
                py_float(inter)
            ))
            .field("scl_inter"));
        }
        Ok((Some(slope), Some(inter)))
    }

    /// nibabel's `set_slope_inter`: `None` stores NaN ("compute on save"); a slope of 0 or
    /// ±inf, an infinite intercept, or only one of the two NaN is a Usage error.
    pub fn set_slope_inter(&mut self, slope: Option<f64>, inter: Option<f64>) -> Result<()> {
        let slope = slope.unwrap_or(f64::NAN);
        let inter = inter.unwrap_or(f64::NAN);
        if slope == 0.0 || slope.is_infinite() {
            return Err(Error::usage("Slope cannot be 0 or infinite").field("scl_slope"));
        }
        if inter.is_infinite() {
            return Err(Error::usage("Intercept cannot be infinite").field("scl_inter"));
        }
        if slope.is_nan() != inter.is_nan() {
            return Err(
                Error::usage("None or both of slope, inter should be nan").field("scl_slope")
            );
        }
        self.raw.set_float("scl_slope", slope)?;
        self.raw.set_float("scl_inter", inter)
    }

    /// `qform_code`.
    pub fn qform_code(&self) -> i64 {
        self.raw.int("qform_code")
    }

    /// `sform_code`.
    pub fn sform_code(&self) -> i64 {
        self.raw.int("sform_code")
    }

    /// The quaternion `[w, x, y, z]` of the qform, `w` filled in from `quatern_b/c/d`.
    pub fn qform_quaternion(&self) -> Result<[f64; 4]> {
        let bcd = [
            self.raw.float("quatern_b"),
            self.raw.float("quatern_c"),
            self.raw.float("quatern_d"),
        ];
        fill_positive(bcd, self.version.quaternion_threshold())
    }

    /// The qform affine (whatever `qform_code` says), as nibabel's `get_qform` builds it.
    /// Negative voxel sizes or a `qfac` other than ±1 are Format errors.
    pub fn qform(&self) -> Result<Affine> {
        let r = quat_to_mat(self.qform_quaternion()?);
        let mut vox: Vec<f64> = (1..4).map(|i| self.raw.float_at("pixdim", i)).collect();
        if vox.iter().any(|&v| v < 0.0) {
            return Err(Error::format("pixdims[1,2,3] should be positive").field("pixdim"));
        }
        let qfac = self.raw.float_at("pixdim", 0);
        if qfac != 1.0 && qfac != -1.0 {
            return Err(Error::format("qfac (pixdim[0]) should be 1 or -1").field("pixdim"));
        }
        vox[2] *= qfac;
        let mut out = IDENTITY;
        for row in 0..3 {
            for col in 0..3 {
                out[row][col] = r[row][col] * vox[col];
            }
        }
        out[0][3] = self.raw.float("qoffset_x");
        out[1][3] = self.raw.float("qoffset_y");
        out[2][3] = self.raw.float("qoffset_z");
        Ok(out)
    }

    /// The sform affine from `srow_x/y/z` (whatever `sform_code` says).
    pub fn sform(&self) -> Affine {
        let mut out = IDENTITY;
        for (row, name) in ["srow_x", "srow_y", "srow_z"].iter().enumerate() {
            for col in 0..4 {
                out[row][col] = self.raw.float_at(name, col);
            }
        }
        out
    }

    /// nibabel's `set_qform`: stores the affine as quaternion, voxel sizes, `qfac` and
    /// offsets (shears stripped unless `strip_shears` is false, which makes them a Usage
    /// error). `code = None` keeps a non-zero old code, else uses 2 (aligned); with no affine
    /// it sets the code to 0 and leaves the parameters.
    pub fn set_qform(
        &mut self,
        affine: Option<&Affine>,
        code: Option<i64>,
        strip_shears: bool,
    ) -> Result<()> {
        let code = resolve_xform_code(self.qform_code(), affine.is_some(), code, "qform_code")?;
        let Some(aff) = affine else {
            return self.raw.set_int("qform_code", 0);
        };
        if !strip_shears && !has_no_shear(aff) {
            return Err(
                Error::usage("Shears in affine and `strip_shears` is False").field("qform_code")
            );
        }
        let (quat, zooms, qfac) = affine_to_quaternion(aff).ok_or_else(|| {
            Error::usage("Could not decompose affine: its 3x3 part is singular").field("qform_code")
        })?;
        self.raw.set_int("qform_code", code)?;
        self.raw.set_float("qoffset_x", aff[0][3])?;
        self.raw.set_float("qoffset_y", aff[1][3])?;
        self.raw.set_float("qoffset_z", aff[2][3])?;
        self.raw.set_float_at("pixdim", 0, qfac)?;
        for (i, z) in zooms.iter().enumerate() {
            self.raw.set_float_at("pixdim", i + 1, *z)?;
        }
        self.raw.set_float("quatern_b", quat[1])?;
        self.raw.set_float("quatern_c", quat[2])?;
        self.raw.set_float("quatern_d", quat[3])
    }

    /// nibabel's `set_sform`: stores the first three rows; code defaults as for
    /// [`NiftiHeader::set_qform`].
    pub fn set_sform(&mut self, affine: Option<&Affine>, code: Option<i64>) -> Result<()> {
        let code = resolve_xform_code(self.sform_code(), affine.is_some(), code, "sform_code")?;
        self.raw.set_int("sform_code", code)?;
        if let Some(aff) = affine {
            for (row, name) in ["srow_x", "srow_y", "srow_z"].iter().enumerate() {
                for col in 0..4 {
                    self.raw.set_float_at(name, col, aff[row][col])?;
                }
            }
        }
        Ok(())
    }

    /// nibabel's `get_best_affine`: the sform if `sform_code ≠ 0`, else the qform if
    /// `qform_code ≠ 0`, else the Analyze-style base affine.
    pub fn best_affine(&self) -> Result<Affine> {
        if self.sform_code() != 0 {
            Ok(self.sform())
        } else if self.qform_code() != 0 {
            self.qform()
        } else {
            Ok(analyze_base_affine(&self.raw))
        }
    }

    /// The centred, x-flipped affine from `dim` and `pixdim` (nibabel's `get_base_affine`).
    pub fn base_affine(&self) -> Affine {
        analyze_base_affine(&self.raw)
    }

    /// `(spatial, temporal)` unit labels from `xyzt_units` (`("mm", "sec")`); codes nibabel
    /// does not know give `unknown code N`.
    pub fn xyzt_units(&self) -> (String, String) {
        let code = self.raw.int("xyzt_units");
        let xyz = code % 8;
        let t = code - xyz;
        let label =
            |c: i64| unit_label(c).map_or_else(|| format!("unknown code {c}"), str::to_owned);
        (label(xyz), label(t))
    }

    /// `(freq, phase, slice)` axes from `dim_info`, each `None` when unset.
    pub fn dim_info(&self) -> [Option<u8>; 3] {
        let info = self.raw.int("dim_info") as u8;
        let axis = |bits: u8| if bits == 0 { None } else { Some(bits - 1) };
        [axis(info & 3), axis((info >> 2) & 3), axis((info >> 4) & 3)]
    }

    /// The intent, as nibabel's `get_intent()` reports it.
    pub fn intent(&self) -> Intent {
        let code = self.raw.int("intent_code");
        let known = INTENTS.iter().find(|(c, _, _)| *c == code);
        let (label, n) = match known {
            Some((_, l, n)) => ((*l).to_owned(), *n),
            None => (format!("unknown code {code}"), 0),
        };
        let params = (1..=n)
            .map(|i| self.raw.float(&format!("intent_p{i}")))
            .collect();
        let name_bytes = self.raw.raw("intent_name");
        let end = name_bytes
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |i| i + 1);
        Intent {
            label,
            params,
            name: name_bytes[..end].iter().map(|&b| char::from(b)).collect(),
        }
    }

    /// The label of `slice_code` (`sequential increasing`, …), or `<unknown code N>`.
    pub fn slice_code_label(&self) -> String {
        let code = self.raw.int("slice_code");
        usize::try_from(code)
            .ok()
            .and_then(|c| SLICE_ORDERS.get(c))
            .map_or_else(|| format!("<unknown code {code}>"), |l| (*l).to_owned())
    }

    /// nibabel's `get_slice_times`: the acquisition time of each slice along the `dim_info`
    /// slice axis, in file order, `None` for the padding slices outside
    /// `slice_start..=slice_end`. Errors (Format, naming the field) as nibabel's.
    ///
    /// ```
    /// use neurovox::{ByteOrder, FieldValue, Header, ImageFormat};
    /// let mut h = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
    /// h.set_data_shape(&[1, 1, 4])?;
    /// h.set("dim_info", FieldValue::Int(3 << 4))?; // slice axis 2
    /// h.set("slice_duration", FieldValue::Float(0.5))?;
    /// h.set("slice_code", FieldValue::Int(3))?; // alternating increasing
    /// let Header::Nifti(n) = &h else { unreachable!() };
    /// assert_eq!(n.slice_times()?, vec![Some(0.0), Some(1.0), Some(0.5), Some(1.5)]);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn slice_times(&self) -> Result<Vec<Option<f64>>> {
        let Some(slice_axis) = self.dim_info()[2] else {
            return Err(
                Error::format("Slice dimension not set in header dim_info").field("dim_info")
            );
        };
        let shape = self.data_shape()?;
        let slice_len = *shape.get(usize::from(slice_axis)).ok_or_else(|| {
            Error::format(format!(
                "Slice dimension index ({slice_axis}) outside shape tuple ({shape:?})"
            ))
            .field("dim_info")
        })? as i64;
        let duration = self.raw.float("slice_duration");
        let label = self.slice_code_label();
        if label == "unknown" {
            return Err(
                Error::format("Cannot get slice times when slice code is \"unknown\"")
                    .field("slice_code"),
            );
        }
        let start = self.raw.int("slice_start");
        let mut end = self.raw.int("slice_end");
        if start < 0 {
            return Err(Error::format("slice_start should be >= 0").field("slice_start"));
        }
        if end == 0 {
            end = slice_len - 1;
        }
        let n_timed = end - start + 1;
        if n_timed < 1 {
            return Err(Error::format("slice_end should be > slice_start").field("slice_end"));
        }
        if end >= slice_len {
            // nibabel returns more times than slices here; a header cannot time slices it lacks.
            return Err(
                Error::format(format!("slice_end {end} is past the {slice_len} slices"))
                    .field("slice_end"),
            );
        }
        let order = slice_acquisition_order(&label, n_timed as usize)?;
        // `order[k]` is the k-th slice acquired: its time is k * duration.
        let mut times = vec![0.0; order.len()];
        for (k, &slice) in order.iter().enumerate() {
            times[slice] = k as f64 * duration;
        }
        let mut out = vec![None; start as usize];
        out.extend(times.into_iter().map(Some));
        out.extend(std::iter::repeat_n(None, (slice_len - end - 1) as usize));
        Ok(out)
    }

    fn checks(&mut self, fix: bool) -> Vec<Problem> {
        let mut problems = Vec::new();
        problems.extend(check_sizeof_hdr(
            &mut self.raw,
            self.version.header_size() as i64,
            fix,
        ));
        problems.extend(check_datatype(&self.raw, DataType::from_nifti_code));
        problems.extend(check_bitpix(&mut self.raw, DataType::from_nifti_code, fix));
        problems.extend(check_pixdims(&mut self.raw, fix));
        problems.extend(self.check_qfac(fix));
        problems.extend(self.check_magic(fix));
        problems.extend(self.check_offset(fix));
        problems.extend(self.check_xform_code("qform_code", fix));
        problems.extend(self.check_xform_code("sform_code", fix));
        if self.version == NiftiVersion::Two {
            problems.extend(nifti2::check_eol(&mut self.raw, fix));
        }
        problems
    }

    fn check_qfac(&mut self, fix: bool) -> Option<Problem> {
        let qfac = self.raw.float_at("pixdim", 0);
        if qfac == 1.0 || qfac == -1.0 {
            return None;
        }
        if fix {
            let _ = self.raw.set_float_at("pixdim", 0, 1.0);
        }
        Some(
            Problem::new(20, "pixdim", "pixdim[0] (qfac) should be 1 (default) or -1")
                .fixed(fix, "setting qfac to 1"),
        )
    }

    fn check_magic(&self, fix: bool) -> Option<Problem> {
        let magic = self.magic();
        if magic == self.version.single_magic() || magic == self.version.pair_magic() {
            return None;
        }
        Some(
            Problem::new(
                45,
                "magic",
                format!("magic string {} is not valid", py_bytes_repr(magic)),
            )
            .fixed(fix, "leaving as is, but future errors are likely"),
        )
    }

    fn check_offset(&mut self, fix: bool) -> Option<Problem> {
        let offset = self.raw.float("vox_offset");
        if offset == 0.0 {
            return None;
        }
        let min = self.version.single_vox_offset() as f64;
        if self.magic() == self.version.single_magic() && offset < min {
            if fix {
                let _ = self.raw.set_float("vox_offset", min);
            }
            return Some(
                Problem::new(
                    40,
                    "vox_offset",
                    format!(
                        "vox offset {} too low for single file nifti{}",
                        offset as i64,
                        self.version_number()
                    ),
                )
                .fixed(fix, format!("setting to minimum value of {min}")),
            );
        }
        if offset % 16.0 == 0.0 {
            return None;
        }
        Some(
            Problem::new(
                30,
                "vox_offset",
                format!(
                    "vox offset (={}) not divisible by 16, not SPM compatible",
                    py_general(offset)
                ),
            )
            .fixed(fix, "leaving at current value"),
        )
    }

    fn check_xform_code(&mut self, field: &'static str, fix: bool) -> Option<Problem> {
        let code = self.raw.int(field);
        if xform_label(code).is_some() {
            return None;
        }
        if fix {
            let _ = self.raw.set_int(field, 0);
        }
        Some(
            Problem::new(30, field, format!("{field} {code} not valid")).fixed(fix, "setting to 0"),
        )
    }

    fn version_number(&self) -> u8 {
        match self.version {
            NiftiVersion::One => 1,
            NiftiVersion::Two => 2,
        }
    }
}

/// nibabel's `slice_order_codes` labels, by code.
const SLICE_ORDERS: [&str; 7] = [
    "unknown",
    "sequential increasing",
    "sequential decreasing",
    "alternating increasing",
    "alternating decreasing",
    "alternating increasing 2",
    "alternating decreasing 2",
];

/// The slices in the order they were acquired, for a slice-order label (nibabel's
/// `_slice_time_order` before its `argsort`).
fn slice_acquisition_order(label: &str, n: usize) -> Result<Vec<usize>> {
    let up = |from: usize| (from..n).step_by(2);
    let down = |from: usize| (0..n).rev().skip(from).step_by(2);
    let order: Vec<usize> = match label {
        "sequential increasing" => (0..n).collect(),
        "sequential decreasing" => (0..n).rev().collect(),
        "alternating increasing" => up(0).chain(up(1)).collect(),
        "alternating decreasing" => down(0).chain(down(1)).collect(),
        "alternating increasing 2" => up(1).chain(up(0)).collect(),
        "alternating decreasing 2" => down(1).chain(down(0)).collect(),
        other => {
            return Err(
                Error::format(format!("We do not handle slice ordering \"{other}\""))
                    .field("slice_code"),
            )
        }
    };
    Ok(order)
}

/// nibabel's code defaulting for `set_qform` / `set_sform`.
fn resolve_xform_code(
    old: i64,
    has_affine: bool,
    code: Option<i64>,
    field: &'static str,
) -> Result<i64> {
    match code {
        Some(c) if xform_label(c).is_some() => Ok(c),
        Some(c) => {
            Err(Error::usage(format!("{field} {c} is not a NIfTI xform code (0..=5)")).field(field))
        }
        None if !has_affine => Ok(0),
        None if old == 0 => Ok(2),
        None => Ok(old),
    }
}

/// Python's `repr` of a float as nibabel's messages print it (`nan`, `inf`, `1.5`).
fn py_float(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{v:?}")
    }
}

/// Python's `{:g}` for the values a vox_offset can take.
fn py_general(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e6 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Python's `repr(bytes.decode('latin1'))`: single-quoted, with escapes for non-printables.
fn py_bytes_repr(bytes: &[u8]) -> String {
    let mut s = String::from("'");
    for &b in bytes {
        match b {
            b'\'' => s.push_str("\\'"),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(char::from(b)),
            0xa1..=0xac | 0xae..=0xff => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('\'');
    s
}

impl HeaderCodec for NiftiHeader {
    fn format(&self) -> ImageFormat {
        match (self.version, self.single) {
            (NiftiVersion::One, true) => ImageFormat::Nifti1,
            (NiftiVersion::One, false) => ImageFormat::Nifti1Pair,
            (NiftiVersion::Two, true) => ImageFormat::Nifti2,
            (NiftiVersion::Two, false) => ImageFormat::Nifti2Pair,
        }
    }
    fn raw(&self) -> &RawStruct {
        &self.raw
    }
    fn raw_mut(&mut self) -> &mut RawStruct {
        &mut self.raw
    }
    fn data_shape(&self) -> Result<Vec<usize>> {
        NiftiHeader::data_shape(self)
    }
    fn set_data_shape(&mut self, shape: &[usize]) -> Result<()> {
        NiftiHeader::set_data_shape(self, shape)
    }
    fn data_dtype(&self) -> Result<StorageDtype> {
        NiftiHeader::data_dtype(self)
    }
    fn set_data_dtype(&mut self, dtype: DataType) -> Result<()> {
        NiftiHeader::set_data_dtype(self, dtype)
    }
    fn zooms(&self) -> Vec<f64> {
        analyze_zooms(&self.raw)
    }
    fn set_zooms(&mut self, zooms: &[f64]) -> Result<()> {
        set_analyze_zooms(&mut self.raw, zooms)
    }
    fn data_offset(&self) -> u64 {
        NiftiHeader::data_offset(self)
    }
    fn slope_inter(&self) -> Result<(Option<f64>, Option<f64>)> {
        NiftiHeader::slope_inter(self)
    }
    fn best_affine(&self) -> Result<Affine> {
        NiftiHeader::best_affine(self)
    }
    fn run_checks(&mut self, fix: bool) -> Vec<Problem> {
        self.checks(fix)
    }
}

/// True if the bytes could be a NIfTI-1 header: 348 bytes or more with magic `ni1` or `n+1`
/// (nibabel's `may_contain_header`: the magic alone decides).
pub fn may_contain_header(bytes: &[u8]) -> bool {
    bytes.len() >= 348 && matches!(&bytes[344..348], b"ni1\0" | b"n+1\0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, FieldValue};

    /// A little-endian single-file header: 2×3×4 int16, vox_offset 352, no extensions.
    fn single_bytes() -> Vec<u8> {
        let mut h = NiftiHeader::new(NiftiVersion::One, true, ByteOrder::Little);
        h.set_data_shape(&[2, 3, 4]).unwrap();
        h.set_data_dtype(DataType::Int16).unwrap();
        h.to_prefix_bytes().unwrap()
    }

    #[test]
    fn default_header_bytes_are_nibabels() {
        let b = single_bytes();
        assert_eq!(b.len(), 352);
        assert_eq!(&b[0..4], &348i32.to_le_bytes());
        assert_eq!(&b[40..48], &[3, 0, 2, 0, 3, 0, 4, 0]);
        assert_eq!(&b[70..74], &[4, 0, 16, 0]);
        assert_eq!(&b[108..112], &352f32.to_le_bytes());
        assert_eq!(&b[112..116], &1f32.to_le_bytes(), "scl_slope defaults to 1");
        assert_eq!(&b[344..352], b"n+1\0\0\0\0\0");
    }

    #[test]
    fn extensions_round_trip_byte_for_byte() {
        let mut h = NiftiHeader::parse(NiftiVersion::One, true, &single_bytes()).unwrap();
        h.set_data_offset(0).unwrap();
        h.extensions_mut()
            .push(Extension::new(6, b"hello".to_vec()));
        h.extensions_mut().push(Extension::new(4, vec![b'x'; 20]));
        let bytes = h.to_prefix_bytes().unwrap();
        assert_eq!(bytes.len(), 352 + 16 + 32);
        assert_eq!(&bytes[348..352], &[1, 0, 0, 0]);
        assert_eq!(&bytes[352..360], &[16, 0, 0, 0, 6, 0, 0, 0]);
        let back = NiftiHeader::parse(NiftiVersion::One, true, &bytes).unwrap();
        assert_eq!(back.data_offset(), 400);
        assert_eq!(back.extensions().len(), 2);
        assert_eq!(back.extensions()[0].content(), b"hello");
        assert_eq!(back.extensions()[0].raw.len(), 8, "padding kept");
        assert_eq!(back.to_prefix_bytes().unwrap(), bytes);
    }

    #[test]
    fn zero_padding_after_extensions_is_not_an_extension() {
        let mut h = NiftiHeader::parse(NiftiVersion::One, true, &single_bytes()).unwrap();
        h.extensions_mut().push(Extension::new(6, b"note".to_vec()));
        h.set_data_offset(1024).unwrap();
        let mut bytes = h.to_prefix_bytes().unwrap();
        assert_eq!(bytes.len(), 352 + 16);
        bytes.resize(1024, 0);
        let back = NiftiHeader::parse(NiftiVersion::One, true, &bytes).unwrap();
        assert_eq!(back.extensions().len(), 1);
        assert_eq!(back.to_prefix_bytes().unwrap(), bytes[..368]);
    }

    #[test]
    fn bad_extensions_are_format_errors() {
        let mut b = single_bytes();
        b[108..112].copy_from_slice(&384f32.to_le_bytes());
        b[348] = 1;
        b.extend_from_slice(&4i32.to_le_bytes()); // esize 4 < 8
        b.extend_from_slice(&6i32.to_le_bytes());
        b.resize(384, 0);
        let e = NiftiHeader::parse(NiftiVersion::One, true, &b).unwrap_err();
        assert_eq!(
            (e.kind(), e.field_name(), e.byte_offset()),
            (ErrorKind::Format, Some("extensions"), Some(352))
        );
        b[352..356].copy_from_slice(&64i32.to_le_bytes()); // runs past vox_offset
        let e = NiftiHeader::parse(NiftiVersion::One, true, &b).unwrap_err();
        assert!(e.message().contains("runs past"), "{e}");
        // Header bytes shorter than vox_offset: cannot see the extensions.
        let e = NiftiHeader::parse(NiftiVersion::One, true, &b[..360]).unwrap_err();
        assert_eq!(e.field_name(), Some("vox_offset"));
    }

    /// A named corruption of header bytes, the error kind and field it must give.
    type Case = (&'static str, fn(&mut Vec<u8>), ErrorKind, &'static str);

    #[test]
    fn malformed_nifti_headers() {
        let cases: [Case; 7] = [
            (
                "bad magic",
                |b| b[344..348].copy_from_slice(b"abc\0"),
                ErrorKind::Format,
                "magic",
            ),
            (
                "unknown datatype",
                |b| b[70..72].copy_from_slice(&3i16.to_le_bytes()),
                ErrorKind::Format,
                "datatype",
            ),
            (
                "negative dim",
                |b| b[42..44].copy_from_slice(&(-2i16).to_le_bytes()),
                ErrorKind::Format,
                "dim",
            ),
            (
                "zero dim",
                |b| b[44..46].copy_from_slice(&0i16.to_le_bytes()),
                ErrorKind::Format,
                "dim",
            ),
            (
                "dim[0] = 0",
                |b| b[40..42].copy_from_slice(&0i16.to_le_bytes()),
                ErrorKind::Format,
                "dim",
            ),
            (
                "vox_offset inside the header",
                |b| b[108..112].copy_from_slice(&100f32.to_le_bytes()),
                ErrorKind::Format,
                "vox_offset",
            ),
            (
                "vox_offset zero in a single file",
                |b| b[108..112].copy_from_slice(&0f32.to_le_bytes()),
                ErrorKind::Format,
                "vox_offset",
            ),
        ];
        for (what, corrupt, kind, field) in cases {
            let mut b = single_bytes();
            corrupt(&mut b);
            let e = NiftiHeader::parse(NiftiVersion::One, true, &b).expect_err(what);
            assert_eq!(
                (e.kind(), e.field_name()),
                (kind, Some(field)),
                "{what}: {e}"
            );
        }
        // dim[0] = 9 reads as "swapped" (nibabel's guess); either way it is not a valid header.
        let mut b = single_bytes();
        b[40..42].copy_from_slice(&9i16.to_le_bytes());
        assert!(NiftiHeader::parse(NiftiVersion::One, true, &b).is_err());
    }

    #[test]
    fn dims_whose_product_overflows_are_limit_errors() {
        let mut h = NiftiHeader::new(NiftiVersion::Two, true, ByteOrder::Little);
        h.raw
            .set(
                "dim",
                FieldValue::Ints(vec![3, i64::MAX / 2, 4, 1, 1, 1, 1, 1]),
            )
            .unwrap();
        let bytes = h.to_prefix_bytes().unwrap();
        let e = NiftiHeader::parse(NiftiVersion::Two, true, &bytes).unwrap_err();
        assert_eq!((e.kind(), e.field_name()), (ErrorKind::Limit, Some("dim")));
    }

    #[test]
    fn freesurfer_large_vector_hack() {
        let mut h = NiftiHeader::new(NiftiVersion::One, true, ByteOrder::Little);
        h.set_data_shape(&[163_841, 1, 1, 2]).unwrap();
        assert_eq!(h.raw.ints("dim")[..5], [4, -1, 1, 1, 2]);
        assert_eq!(h.raw.int("glmin"), 163_841);
        assert_eq!(h.data_shape().unwrap(), vec![163_841, 1, 1, 2]);
        h.set_data_shape(&[163_842, 1, 1]).unwrap();
        assert_eq!(h.raw.ints("dim")[..4], [3, 27_307, 1, 6]);
        assert_eq!(h.data_shape().unwrap(), vec![163_842, 1, 1]);
        h.raw
            .set("dim", FieldValue::Ints(vec![3, -1, 1, 1, 1, 1, 1, 1]))
            .unwrap();
        h.raw.set_int("glmin", 0).unwrap();
        assert_eq!(h.data_shape().unwrap_err().field_name(), Some("glmin"));
    }

    #[test]
    fn slope_inter_rules() {
        let mut h = NiftiHeader::new(NiftiVersion::One, true, ByteOrder::Little);
        assert_eq!(h.slope_inter().unwrap(), (Some(1.0), Some(0.0)));
        h.set_slope_inter(None, None).unwrap();
        assert_eq!(h.slope_inter().unwrap(), (None, None));
        assert!(h.set_slope_inter(Some(2.0), None).is_err());
        assert!(h.set_slope_inter(Some(0.0), Some(1.0)).is_err());
        h.raw.set_float("scl_slope", 2.0).unwrap();
        let e = h.slope_inter().unwrap_err();
        assert_eq!(e.message(), "Valid slope but invalid intercept nan");
    }

    #[test]
    fn qform_round_trip_through_header() {
        let (s, c) = 30f64.to_radians().sin_cos();
        let aff = [
            [2.0 * c, -3.0 * s, 0.0, 10.0],
            [2.0 * s, 3.0 * c, 0.0, -20.0],
            [0.0, 0.0, 4.0, 5.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let mut h = NiftiHeader::new(NiftiVersion::Two, true, ByteOrder::Big);
        h.set_data_shape(&[4, 4, 4]).unwrap();
        h.set_qform(Some(&aff), None, true).unwrap();
        assert_eq!(h.qform_code(), 2);
        let back = h.best_affine().unwrap();
        for r in 0..4 {
            for col in 0..4 {
                assert!((back[r][col] - aff[r][col]).abs() < 1e-12, "{back:?}");
            }
        }
        h.set_qform(None, None, true).unwrap();
        assert_eq!(h.qform_code(), 0);
        let sheared = [
            [1.0, 0.5, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        assert!(h.set_qform(Some(&sheared), Some(1), false).is_err());
        assert!(h.set_sform(Some(&sheared), Some(9)).is_err());
    }

    #[test]
    fn labels_for_units_dim_info_and_intent() {
        let mut h = NiftiHeader::new(NiftiVersion::One, true, ByteOrder::Little);
        h.raw.set_int("xyzt_units", 2 + 8).unwrap();
        assert_eq!(h.xyzt_units(), ("mm".to_owned(), "sec".to_owned()));
        h.raw.set_int("dim_info", 1 | (2 << 2) | (3 << 4)).unwrap();
        assert_eq!(h.dim_info(), [Some(0), Some(1), Some(2)]);
        h.raw.set_int("intent_code", 3).unwrap();
        h.raw.set_float("intent_p1", 10.0).unwrap();
        h.raw
            .set("intent_name", FieldValue::Bytes(b"tstat".to_vec()))
            .unwrap();
        let intent = h.intent();
        assert_eq!(
            (intent.label.as_str(), intent.params, intent.name.as_str()),
            ("t test", vec![10.0], "tstat")
        );
    }

    #[test]
    fn check_messages_match_nibabel() {
        let mut b = single_bytes();
        b[76..80].copy_from_slice(&0.5f32.to_le_bytes());
        b[252..254].copy_from_slice(&7i16.to_le_bytes());
        b[108..112].copy_from_slice(&360f32.to_le_bytes());
        let h = crate::Header::Nifti(NiftiHeader {
            raw: RawStruct::from_bytes(&NIFTI1_LAYOUT, &b, ByteOrder::Little).unwrap(),
            version: NiftiVersion::One,
            single: true,
            extensions: Vec::new(),
        });
        let msgs: Vec<String> = h.diagnose().iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            [
                "pixdim[0] (qfac) should be 1 (default) or -1",
                "vox offset (=360) not divisible by 16, not SPM compatible",
                "qform_code 7 not valid"
            ]
        );
        assert_eq!(py_bytes_repr(b"ab\x01"), "'ab\\x01'");
    }
}
