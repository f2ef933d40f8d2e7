//! Analyze 7.5, SPM99 and SPM2 headers (nibabel's `analyze.py`, `spm99analyze.py`,
//! `spm2analyze.py`; docs/nibabel-rules.md §10–11).
//!
//! All three are the same 348 bytes; SPM99 reads `funused1` as `scl_slope` and `originator`
//! as `origin` (five `i2`), SPM2 also reads `funused2` as `scl_inter`.

use super::affine::{Affine, IDENTITY, shape_zoom_affine_f64};
use super::check::{Problem, first_error};
use super::fields::{Field, FieldKind as K, Layout, RawStruct, peek_i16, peek_i32};
use super::{HeaderCodec, ImageFormat, MAX_NDIM, check_declared_shape};
use crate::dtype::{ByteOrder, CodeMeaning, DataType, StorageDtype};
use crate::error::{Error, Result};

/// Size of an Analyze-family header.
pub const SIZEOF_HDR: usize = 348;

const fn analyze_fields(spm: bool, spm2: bool) -> [Field; 43] {
    [
        Field::new("sizeof_hdr", 0, K::I32, 1),
        Field::new("data_type", 4, K::Bytes, 10),
        Field::new("db_name", 14, K::Bytes, 18),
        Field::new("extents", 32, K::I32, 1),
        Field::new("session_error", 36, K::I16, 1),
        Field::new("regular", 38, K::Bytes, 1),
        Field::new("hkey_un0", 39, K::Bytes, 1),
        Field::new("dim", 40, K::I16, 8),
        Field::new("vox_units", 56, K::Bytes, 4),
        Field::new("cal_units", 60, K::Bytes, 8),
        Field::new("unused1", 68, K::I16, 1),
        Field::new("datatype", 70, K::I16, 1),
        Field::new("bitpix", 72, K::I16, 1),
        Field::new("dim_un0", 74, K::I16, 1),
        Field::new("pixdim", 76, K::F32, 8),
        Field::new("vox_offset", 108, K::F32, 1),
        Field::new(if spm { "scl_slope" } else { "funused1" }, 112, K::F32, 1),
        Field::new(if spm2 { "scl_inter" } else { "funused2" }, 116, K::F32, 1),
        Field::new("funused3", 120, K::F32, 1),
        Field::new("cal_max", 124, K::F32, 1),
        Field::new("cal_min", 128, K::F32, 1),
        Field::new("compressed", 132, K::I32, 1),
        Field::new("verified", 136, K::I32, 1),
        Field::new("glmax", 140, K::I32, 1),
        Field::new("glmin", 144, K::I32, 1),
        Field::new("descrip", 148, K::Bytes, 80),
        Field::new("aux_file", 228, K::Bytes, 24),
        Field::new("orient", 252, K::Bytes, 1),
        if spm {
            Field::new("origin", 253, K::I16, 5)
        } else {
            Field::new("originator", 253, K::Bytes, 10)
        },
        Field::new("generated", 263, K::Bytes, 10),
        Field::new("scannum", 273, K::Bytes, 10),
        Field::new("patient_id", 283, K::Bytes, 10),
        Field::new("exp_date", 293, K::Bytes, 10),
        Field::new("exp_time", 303, K::Bytes, 10),
        Field::new("hist_un0", 313, K::Bytes, 3),
        Field::new("views", 316, K::I32, 1),
        Field::new("vols_added", 320, K::I32, 1),
        Field::new("start_field", 324, K::I32, 1),
        Field::new("field_skip", 328, K::I32, 1),
        Field::new("omax", 332, K::I32, 1),
        Field::new("omin", 336, K::I32, 1),
        Field::new("smax", 340, K::I32, 1),
        Field::new("smin", 344, K::I32, 1),
    ]
}

static ANALYZE_FIELDS: [Field; 43] = analyze_fields(false, false);
static SPM99_FIELDS: [Field; 43] = analyze_fields(true, false);
static SPM2_FIELDS: [Field; 43] = analyze_fields(true, true);

/// The Analyze 7.5 header layout.
pub static ANALYZE_LAYOUT: Layout = Layout {
    name: "Analyze header",
    size: SIZEOF_HDR,
    fields: &ANALYZE_FIELDS,
};
/// The SPM99 Analyze header layout.
pub static SPM99_LAYOUT: Layout = Layout {
    name: "SPM99 Analyze header",
    size: SIZEOF_HDR,
    fields: &SPM99_FIELDS,
};
/// The SPM2 Analyze header layout.
pub static SPM2_LAYOUT: Layout = Layout {
    name: "SPM2 Analyze header",
    size: SIZEOF_HDR,
    fields: &SPM2_FIELDS,
};

/// Which reading of the Analyze header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnalyzeFlavour {
    /// Plain Analyze 7.5: no scaling, no origin.
    Analyze,
    /// SPM99: `scl_slope` and `origin`.
    Spm99,
    /// SPM2: `scl_slope`, `scl_inter` and `origin`.
    Spm2,
}

impl AnalyzeFlavour {
    fn layout(self) -> &'static Layout {
        match self {
            AnalyzeFlavour::Analyze => &ANALYZE_LAYOUT,
            AnalyzeFlavour::Spm99 => &SPM99_LAYOUT,
            AnalyzeFlavour::Spm2 => &SPM2_LAYOUT,
        }
    }
}

/// The datatype codes Analyze knows: the NIfTI codes below 256.
pub(crate) fn analyze_code_meaning(code: i16) -> CodeMeaning {
    match code {
        0 | 1 | 2 | 4 | 8 | 16 | 32 | 64 | 128 | 255 => DataType::from_nifti_code(code),
        _ => CodeMeaning::Unknown,
    }
}

/// nibabel's `guessed_endian` for the Analyze family: `dim[0]` in 1..=7 read natively means
/// native order; 0 means native unless `sizeof_hdr` only makes sense swapped; anything else
/// means swapped.
pub(crate) fn guess_byte_order(
    bytes: &[u8],
    sizeof_hdr: i32,
    dim_offset: usize,
    dim_is_i64: bool,
) -> ByteOrder {
    let native = ByteOrder::NATIVE;
    let dim0 = if dim_is_i64 {
        super::fields::peek_i64(bytes, dim_offset, native).unwrap_or(0)
    } else {
        i64::from(peek_i16(bytes, dim_offset, native).unwrap_or(0))
    };
    match dim0 {
        0 => {
            if peek_i32(bytes, 0, native.swapped()) == Some(sizeof_hdr) {
                native.swapped()
            } else {
                native
            }
        }
        1..=7 => native,
        _ => native.swapped(),
    }
}

/// True if the bytes could be an Analyze-family header: 348 bytes or more with `sizeof_hdr`
/// equal to 348 in either byte order (nibabel's `may_contain_header`).
pub fn may_contain_header(bytes: &[u8]) -> bool {
    bytes.len() >= SIZEOF_HDR
        && (peek_i32(bytes, 0, ByteOrder::Little) == Some(SIZEOF_HDR as i32)
            || peek_i32(bytes, 0, ByteOrder::Big) == Some(SIZEOF_HDR as i32))
}

/// An Analyze 7.5, SPM99 or SPM2 header.
///
/// ```
/// use neurovox::format::{AnalyzeFlavour, AnalyzeHeader};
/// use neurovox::{ByteOrder, DataType};
///
/// let mut hdr = AnalyzeHeader::new(AnalyzeFlavour::Spm99, ByteOrder::Big);
/// hdr.set_data_shape(&[64, 64, 30])?;
/// hdr.set_data_dtype(DataType::Int16)?;
/// let back = AnalyzeHeader::parse(AnalyzeFlavour::Spm99, hdr.to_bytes())?;
/// assert_eq!(back.data_shape()?, vec![64, 64, 30]);
/// assert_eq!(back.data_dtype()?.numpy_str(), ">i2");
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzeHeader {
    raw: RawStruct,
    flavour: AnalyzeFlavour,
}

impl AnalyzeHeader {
    /// nibabel's default header: `dim = [0,1,1,1,1,1,1,1]`, `pixdim` all 1, float32 data;
    /// SPM flavours also `scl_slope = 1`.
    pub fn new(flavour: AnalyzeFlavour, order: ByteOrder) -> Self {
        let mut h = AnalyzeHeader {
            raw: RawStruct::zeroed(flavour.layout(), order),
            flavour,
        };
        h.fill_defaults();
        h
    }

    /// Writes nibabel's Analyze defaults into a zeroed struct (shared with NIfTI-1, whose
    /// defaults extend these).
    fn fill_defaults(&mut self) {
        fill_analyze_defaults(&mut self.raw);
        if self.flavour != AnalyzeFlavour::Analyze {
            let _ = self.raw.set_float("scl_slope", 1.0);
        }
    }

    /// Parses the first 348 bytes, guessing the byte order as nibabel does, and runs the
    /// checks; a problem at level ≥ 40 (unknown datatype) is a Format error, and so is a shape
    /// or data offset no file can hold.
    pub fn parse(flavour: AnalyzeFlavour, bytes: &[u8]) -> Result<Self> {
        let order = guess_byte_order(bytes, SIZEOF_HDR as i32, 40, false);
        let raw = RawStruct::from_bytes(flavour.layout(), bytes, order)?;
        let mut h = AnalyzeHeader { raw, flavour };
        let problems = h.run_checks(true);
        if let Some(err) = first_error(&problems) {
            return Err(err);
        }
        validate_dims(&h.raw)?;
        validate_vox_offset(&h.raw)?;
        Ok(h)
    }

    /// The header as stored, byte order guessed, no checks or fixes applied (for
    /// [`crate::Header::diagnose_bytes`]).
    pub(crate) fn unchecked(flavour: AnalyzeFlavour, bytes: &[u8]) -> Result<Self> {
        let order = guess_byte_order(bytes, SIZEOF_HDR as i32, 40, false);
        Ok(AnalyzeHeader {
            raw: RawStruct::from_bytes(flavour.layout(), bytes, order)?,
            flavour,
        })
    }

    /// Which of the three readings this header uses.
    pub fn flavour(&self) -> AnalyzeFlavour {
        self.flavour
    }

    /// The 348 bytes as they would be written.
    pub fn to_bytes(&self) -> &[u8] {
        self.raw.bytes()
    }

    /// The data shape; see [`crate::Header::data_shape`].
    pub fn data_shape(&self) -> Result<Vec<usize>> {
        analyze_data_shape(&self.raw)
    }

    /// Sets `dim` (and resets `pixdim` past the new axes to 1), as nibabel does.
    pub fn set_data_shape(&mut self, shape: &[usize]) -> Result<()> {
        set_analyze_data_shape(&mut self.raw, shape)
    }

    /// The on-disk type; unknown codes are Format errors, void codes Unsupported.
    pub fn data_dtype(&self) -> Result<StorageDtype> {
        code_to_dtype(&self.raw, analyze_code_meaning)
    }

    /// Sets `datatype` and `bitpix`; types outside the Analyze set are Unsupported.
    pub fn set_data_dtype(&mut self, dtype: DataType) -> Result<()> {
        set_code_dtype(&mut self.raw, dtype, analyze_code_meaning)
    }

    /// SPM's `get_origin_affine` / Analyze's `get_base_affine`.
    pub fn best_affine(&self) -> Result<Affine> {
        match self.flavour {
            AnalyzeFlavour::Analyze => Ok(analyze_base_affine(&self.raw)),
            _ => Ok(self.origin_affine()),
        }
    }

    /// nibabel's `get_origin_affine` (SPM99/SPM2): x-flipped zooms and the `origin` field as
    /// the 1-based voxel at world zero, when it is plausible; else the volume centre.
    fn origin_affine(&self) -> Affine {
        let zooms: Vec<f32> = (1..4)
            .map(|i| self.raw.float_at("pixdim", i) as f32)
            .collect();
        let origin: Vec<i64> = (0..3).map(|i| self.raw.int_at("origin", i)).collect();
        let dims: Vec<i64> = (1..4).map(|i| self.raw.int_at("dim", i)).collect();
        let plausible = origin.iter().any(|&o| o != 0)
            && origin.iter().zip(&dims).all(|(&o, &d)| o > -d && o < d * 2);
        let mut aff = IDENTITY;
        for axis in 0..3 {
            let zoom = if axis == 0 { -zooms[axis] } else { zooms[axis] };
            aff[axis][axis] = f64::from(zoom);
            aff[axis][3] = if plausible {
                // numpy: int16 origin times float32 zooms is float32 arithmetic.
                f64::from(-((origin[axis] - 1) as f32) * zoom)
            } else {
                -((dims[axis] - 1) as f64 / 2.0) * f64::from(zoom)
            };
        }
        aff
    }

    fn slope_inter(&self) -> (Option<f64>, Option<f64>) {
        let valid = |s: f64| s.is_finite() && s != 0.0;
        match self.flavour {
            AnalyzeFlavour::Analyze => (None, None),
            AnalyzeFlavour::Spm99 => {
                let slope = self.raw.float("scl_slope");
                if valid(slope) {
                    (Some(slope), None)
                } else {
                    (None, None)
                }
            }
            AnalyzeFlavour::Spm2 => {
                let slope = self.raw.float("scl_slope");
                if valid(slope) {
                    let inter = self.raw.float("scl_inter");
                    return (
                        Some(slope),
                        Some(if inter.is_finite() { inter } else { 0.0 }),
                    );
                }
                // nibabel falls back to the calibration and global ranges; the arithmetic is
                // float32 (cal fields) against int32 (gl fields), promoted to float64.
                let (glmax, glmin) = (self.raw.int("glmax") as f64, self.raw.int("glmin") as f64);
                let (cal_max, cal_min) = (self.raw.float("cal_max"), self.raw.float("cal_min"));
                let unscaled_range = glmax - glmin;
                let scaled_range = cal_max - cal_min;
                if unscaled_range != 0.0 && scaled_range != 0.0 {
                    let slope = scaled_range / unscaled_range;
                    (Some(slope), Some(cal_min - slope * glmin))
                } else {
                    (None, None)
                }
            }
        }
    }

    fn checks(&mut self, fix: bool) -> Vec<Problem> {
        let mut problems = Vec::new();
        problems.extend(check_sizeof_hdr(&mut self.raw, SIZEOF_HDR as i64, fix));
        problems.extend(check_datatype(&self.raw, analyze_code_meaning));
        problems.extend(check_bitpix(&mut self.raw, analyze_code_meaning, fix));
        problems.extend(check_pixdims(&mut self.raw, fix));
        if self.flavour != AnalyzeFlavour::Analyze {
            problems.extend(check_origin(&self.raw, fix));
        }
        problems
    }
}

impl HeaderCodec for AnalyzeHeader {
    fn format(&self) -> ImageFormat {
        match self.flavour {
            AnalyzeFlavour::Analyze => ImageFormat::Analyze,
            AnalyzeFlavour::Spm99 => ImageFormat::Spm99,
            AnalyzeFlavour::Spm2 => ImageFormat::Spm2,
        }
    }
    crate::format::codec_basics!(AnalyzeHeader);
    fn zooms(&self) -> Vec<f64> {
        analyze_zooms(&self.raw)
    }
    fn set_zooms(&mut self, zooms: &[f64]) -> Result<()> {
        set_analyze_zooms(&mut self.raw, zooms)
    }
    fn data_offset(&self) -> u64 {
        vox_offset(&self.raw)
    }
    fn slope_inter(&self) -> Result<(Option<f64>, Option<f64>)> {
        Ok(AnalyzeHeader::slope_inter(self))
    }
    fn best_affine(&self) -> Result<Affine> {
        AnalyzeHeader::best_affine(self)
    }
    fn run_checks(&mut self, fix: bool) -> Vec<Problem> {
        self.checks(fix)
    }
}

// ---- Shared with NIfTI-1/2, whose headers extend Analyze's rules. ----

/// nibabel's Analyze defaults, written into any layout with the same field names.
pub(crate) fn fill_analyze_defaults(raw: &mut RawStruct) {
    let size = raw.layout().size as i64;
    let _ = raw.set_int("sizeof_hdr", size);
    for i in 1..8 {
        let _ = raw.set_int_at("dim", i, 1);
    }
    for i in 0..8 {
        let _ = raw.set_float_at("pixdim", i, 1.0);
    }
    let _ = raw.set_int("datatype", 16);
    let _ = raw.set_int("bitpix", 32);
}

/// `dim[0]`, checked to be a usable axis count.
pub(crate) fn ndim(raw: &RawStruct) -> Result<usize> {
    let n = raw.int_at("dim", 0);
    usize::try_from(n)
        .ok()
        .filter(|&n| n <= MAX_NDIM)
        .ok_or_else(|| {
            Error::header_value(format!("dim[0] = {n} is outside 0..=7"))
                .field("dim")
                .offset(dim_offset(raw))
        })
}

fn dim_offset(raw: &RawStruct) -> u64 {
    raw.layout().field("dim").map_or(0, |f| f.offset as u64)
}

/// The raw `dim[1..=dim[0]]` values.
pub(crate) fn raw_dims(raw: &RawStruct) -> Result<Vec<i64>> {
    let n = ndim(raw)?;
    Ok((1..=n).map(|i| raw.int_at("dim", i)).collect())
}

/// `get_data_shape`: `(0,)` for `dim[0] = 0`, else `dim[1..=dim[0]]`, every axis positive.
pub(crate) fn analyze_data_shape(raw: &RawStruct) -> Result<Vec<usize>> {
    let dims = raw_dims(raw)?;
    if dims.is_empty() {
        return Ok(vec![0]);
    }
    check_declared_shape(&dims, "dim", dim_offset(raw))
}

/// Checks on load that the header declares a real shape: `dim[0]` in 1..=7, every axis
/// positive, the product within 64 bits.
pub(crate) fn validate_dims(raw: &RawStruct) -> Result<()> {
    let dims = raw_dims(raw)?;
    if dims.is_empty() {
        return Err(
            Error::header_value("dim[0] = 0: the header declares no axes")
                .field("dim")
                .offset(dim_offset(raw)),
        );
    }
    check_declared_shape(&dims, "dim", dim_offset(raw)).map(|_| ())
}

/// Checks on load that `vox_offset` is a finite, non-negative byte offset.
pub(crate) fn validate_vox_offset(raw: &RawStruct) -> Result<()> {
    let v = raw.float("vox_offset");
    if !v.is_finite() || v < 0.0 || v >= 2f64.powi(63) {
        let offset = raw
            .layout()
            .field("vox_offset")
            .map_or(0, |f| f.offset as u64);
        return Err(
            Error::header_value(format!("vox_offset {v} is not a byte offset"))
                .field("vox_offset")
                .offset(offset),
        );
    }
    Ok(())
}

/// `int(vox_offset)`; validated on load, so negative or NaN values only appear in headers
/// edited in memory, where they read as 0.
pub(crate) fn vox_offset(raw: &RawStruct) -> u64 {
    let v = raw.float("vox_offset");
    if v.is_finite() && v > 0.0 {
        v as u64
    } else {
        0
    }
}

pub(crate) fn set_analyze_data_shape(raw: &mut RawStruct, shape: &[usize]) -> Result<()> {
    let doesnt_fit = || {
        Error::usage(format!("shape {shape:?} does not fit in dim datatype"))
            .field("dim")
            .offset(dim_offset(raw))
    };
    if shape.len() > MAX_NDIM {
        return Err(doesnt_fit());
    }
    let mut candidate = raw.clone();
    for i in 1..8 {
        candidate.set_int_at("dim", i, 1)?;
    }
    candidate.set_int_at("dim", 0, shape.len() as i64)?;
    for (i, &n) in shape.iter().enumerate() {
        let n = i64::try_from(n).map_err(|_| doesnt_fit())?;
        candidate
            .set_int_at("dim", i + 1, n)
            .map_err(|_| doesnt_fit())?;
    }
    for i in shape.len() + 1..8 {
        candidate.set_float_at("pixdim", i, 1.0)?;
    }
    *raw = candidate;
    Ok(())
}

/// `get_zooms`: `pixdim[1..=dim[0]]`, or `[1.0]` when `dim[0]` is 0.
pub(crate) fn analyze_zooms(raw: &RawStruct) -> Vec<f64> {
    let n = raw.int_at("dim", 0).clamp(0, MAX_NDIM as i64) as usize;
    if n == 0 {
        return vec![1.0];
    }
    (1..=n).map(|i| raw.float_at("pixdim", i)).collect()
}

pub(crate) fn set_analyze_zooms(raw: &mut RawStruct, zooms: &[f64]) -> Result<()> {
    let n = ndim(raw)?;
    if zooms.len() != n {
        return Err(
            Error::usage(format!("Expecting {n} zoom values for ndim {n}")).field("pixdim"),
        );
    }
    if zooms.iter().any(|&z| z < 0.0 || z.is_nan()) {
        return Err(Error::usage("zooms must be positive").field("pixdim"));
    }
    for (i, &z) in zooms.iter().enumerate() {
        raw.set_float_at("pixdim", i + 1, z)?;
    }
    Ok(())
}

/// `get_base_affine`: nibabel's centred, x-flipped affine from `dim` and `pixdim`.
pub(crate) fn analyze_base_affine(raw: &RawStruct) -> Affine {
    let n = raw.int_at("dim", 0).clamp(0, MAX_NDIM as i64) as usize;
    let lengths: Vec<f64> = (1..=n.min(3))
        .map(|i| raw.int_at("dim", i) as f64)
        .collect();
    let zooms: Vec<f64> = (1..=n.min(3)).map(|i| raw.float_at("pixdim", i)).collect();
    shape_zoom_affine_f64(&lengths, &zooms, true)
}

/// The type a datatype code stands for, under a format's code table.
pub(crate) fn code_to_dtype(
    raw: &RawStruct,
    meaning: fn(i16) -> CodeMeaning,
) -> Result<StorageDtype> {
    let code = raw.int("datatype");
    let field_offset = raw
        .layout()
        .field("datatype")
        .map_or(0, |f| f.offset as u64);
    let code16 = i16::try_from(code).unwrap_or(i16::MIN);
    match meaning(code16) {
        CodeMeaning::Type(t) => Ok(StorageDtype::new(t, raw.byte_order())),
        CodeMeaning::KnownUnsupported => Err(Error::unsupported(format!(
            "data code {code} not supported"
        ))
        .field("datatype")
        .offset(field_offset)),
        CodeMeaning::Unknown => Err(Error::header_value(format!(
            "data code {code} not recognized"
        ))
        .field("datatype")
        .offset(field_offset)),
    }
}

pub(crate) fn set_code_dtype(
    raw: &mut RawStruct,
    dtype: DataType,
    meaning: fn(i16) -> CodeMeaning,
) -> Result<()> {
    let code = dtype.nifti_code();
    if meaning(code) != CodeMeaning::Type(dtype) {
        return Err(Error::unsupported(format!(
            "data dtype \"{dtype}\" not supported by the {}",
            raw.layout().name
        ))
        .field("datatype"));
    }
    raw.set_int("datatype", i64::from(code))?;
    raw.set_int("bitpix", (dtype.itemsize() * 8) as i64)
}

// ---- Checks (nibabel's `_chk_*`, same messages and levels). ----

pub(crate) fn check_sizeof_hdr(raw: &mut RawStruct, expected: i64, fix: bool) -> Option<Problem> {
    if raw.int("sizeof_hdr") == expected {
        return None;
    }
    if fix {
        let _ = raw.set_int("sizeof_hdr", expected);
    }
    Some(
        Problem::new(30, "sizeof_hdr", format!("sizeof_hdr should be {expected}"))
            .fixed(fix, format!("set sizeof_hdr to {expected}")),
    )
}

pub(crate) fn check_datatype(raw: &RawStruct, meaning: fn(i16) -> CodeMeaning) -> Option<Problem> {
    let code = raw.int("datatype");
    let message = match meaning(i16::try_from(code).unwrap_or(i16::MIN)) {
        CodeMeaning::Type(_) => return None,
        CodeMeaning::KnownUnsupported => format!("data code {code} not supported"),
        CodeMeaning::Unknown => format!("data code {code} not recognized"),
    };
    Some(Problem::new(40, "datatype", message))
}

pub(crate) fn check_bitpix(
    raw: &mut RawStruct,
    meaning: fn(i16) -> CodeMeaning,
    fix: bool,
) -> Option<Problem> {
    let code = raw.int("datatype");
    let bitpix = match meaning(i16::try_from(code).unwrap_or(i16::MIN)) {
        CodeMeaning::Type(t) => (t.itemsize() * 8) as i64,
        // nibabel's void dtypes have itemsize 0.
        CodeMeaning::KnownUnsupported => 0,
        CodeMeaning::Unknown => {
            return Some(
                Problem::new(10, "bitpix", "no valid datatype to fix bitpix")
                    .fixed(fix, "no way to fix bitpix"),
            );
        }
    };
    if raw.int("bitpix") == bitpix {
        return None;
    }
    if fix {
        let _ = raw.set_int("bitpix", bitpix);
    }
    Some(
        Problem::new(10, "bitpix", "bitpix does not match datatype")
            .fixed(fix, "setting bitpix to match datatype"),
    )
}

pub(crate) fn check_pixdims(raw: &mut RawStruct, fix: bool) -> Option<Problem> {
    let spatial: Vec<f64> = (1..4).map(|i| raw.float_at("pixdim", i)).collect();
    let zero = spatial.contains(&0.0);
    let negative = spatial.iter().any(|&z| z < 0.0);
    if !zero && !negative {
        return None;
    }
    let mut problems = Vec::new();
    let mut fixes = Vec::new();
    let mut level = 0;
    if zero {
        level = 30;
        problems.push("pixdim[1,2,3] should be non-zero");
        fixes.push("setting 0 dims to 1");
    }
    if negative {
        level = 35;
        problems.push("pixdim[1,2,3] should be positive");
        fixes.push("setting to abs of pixdim values");
    }
    if fix {
        for (i, z) in spatial.iter().enumerate() {
            let fixed = if *z == 0.0 { 1.0 } else { z.abs() };
            let _ = raw.set_float_at("pixdim", i + 1, fixed);
        }
    }
    Some(Problem::new(level, "pixdim", problems.join(" and ")).fixed(fix, fixes.join(" and ")))
}

fn check_origin(raw: &RawStruct, fix: bool) -> Option<Problem> {
    let origin: Vec<i64> = (0..3).map(|i| raw.int_at("origin", i)).collect();
    let dims: Vec<i64> = (1..4).map(|i| raw.int_at("dim", i)).collect();
    let plausible = origin.iter().zip(&dims).all(|(&o, &d)| o > -d && o < d * 2);
    if origin.iter().all(|&o| o == 0) || plausible {
        return None;
    }
    Some(
        Problem::new(20, "origin", "very large origin values relative to dims")
            .fixed(fix, "leaving as set, ignoring for affine"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    /// A minimal little-endian Analyze header: 348, dim [3, 2, 3, 4], int16, pixdim 1.
    fn header_bytes() -> Vec<u8> {
        let mut b = vec![0u8; SIZEOF_HDR];
        b[0..4].copy_from_slice(&348i32.to_le_bytes());
        for (i, d) in [3i16, 2, 3, 4, 1, 1, 1, 1].iter().enumerate() {
            b[40 + 2 * i..42 + 2 * i].copy_from_slice(&d.to_le_bytes());
        }
        b[70..72].copy_from_slice(&4i16.to_le_bytes());
        b[72..74].copy_from_slice(&16i16.to_le_bytes());
        for i in 0..8 {
            b[76 + 4 * i..80 + 4 * i].copy_from_slice(&1f32.to_le_bytes());
        }
        b
    }

    fn be(mut b: Vec<u8>) -> Vec<u8> {
        let raw = RawStruct::from_bytes(&ANALYZE_LAYOUT, &b, ByteOrder::Little).unwrap();
        b.copy_from_slice(raw.byteswapped().bytes());
        b
    }

    #[test]
    fn parses_literal_bytes_in_both_orders() {
        for (bytes, order) in [
            (header_bytes(), ByteOrder::Little),
            (be(header_bytes()), ByteOrder::Big),
        ] {
            let h = AnalyzeHeader::parse(AnalyzeFlavour::Analyze, &bytes).unwrap();
            assert_eq!(h.raw.byte_order(), order);
            assert_eq!(h.data_shape().unwrap(), vec![2, 3, 4]);
            assert_eq!(
                h.data_dtype().unwrap(),
                StorageDtype::new(DataType::Int16, order)
            );
            assert_eq!(h.to_bytes(), &bytes[..]);
        }
    }

    #[test]
    fn default_matches_nibabel() {
        let h = AnalyzeHeader::new(AnalyzeFlavour::Analyze, ByteOrder::Little);
        assert_eq!(h.data_shape().unwrap(), vec![0]);
        assert_eq!(analyze_zooms(&h.raw), vec![1.0]);
        assert_eq!(h.data_dtype().unwrap().dtype, DataType::Float32);
        assert_eq!(h.slope_inter(), (None, None));
        let spm = AnalyzeHeader::new(AnalyzeFlavour::Spm99, ByteOrder::Little);
        assert_eq!(spm.slope_inter(), (Some(1.0), None));
    }

    #[test]
    fn malformed_headers_are_clear_errors() {
        let mut b = header_bytes();
        b[70..72].copy_from_slice(&3i16.to_le_bytes());
        let e = AnalyzeHeader::parse(AnalyzeFlavour::Analyze, &b).unwrap_err();
        assert_eq!(
            (e.kind(), e.field_name()),
            (ErrorKind::Format, Some("datatype"))
        );
        assert_eq!(e.message(), "data code 3 not recognized");

        let mut b = header_bytes();
        b[44..46].copy_from_slice(&0i16.to_le_bytes());
        let e = AnalyzeHeader::parse(AnalyzeFlavour::Analyze, &b).unwrap_err();
        assert_eq!((e.kind(), e.field_name()), (ErrorKind::Format, Some("dim")));

        let mut b = header_bytes();
        b[108..112].copy_from_slice(&(-4f32).to_le_bytes());
        let e = AnalyzeHeader::parse(AnalyzeFlavour::Analyze, &b).unwrap_err();
        assert_eq!(e.field_name(), Some("vox_offset"));

        let e = AnalyzeHeader::parse(AnalyzeFlavour::Analyze, &header_bytes()[..100]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Format);

        let mut b = header_bytes();
        b[70..72].copy_from_slice(&255i16.to_le_bytes());
        let e = AnalyzeHeader::parse(AnalyzeFlavour::Analyze, &b).unwrap_err();
        assert_eq!(e.message(), "data code 255 not supported");
    }

    #[test]
    fn checks_fix_with_nibabel_messages() {
        let mut b = header_bytes();
        b[0..4].copy_from_slice(&350i32.to_le_bytes());
        b[72..74].copy_from_slice(&8i16.to_le_bytes());
        b[80..84].copy_from_slice(&0f32.to_le_bytes());
        b[84..88].copy_from_slice(&(-2f32).to_le_bytes());
        // dim[0] = 3 identifies the byte order even though sizeof_hdr is wrong.
        let mut h = AnalyzeHeader::parse(AnalyzeFlavour::Analyze, &b).unwrap();
        assert!(h.checks(false).is_empty(), "parse fixed everything");
        let raw = RawStruct::from_bytes(&ANALYZE_LAYOUT, &b, ByteOrder::Little).unwrap();
        let mut unfixed = AnalyzeHeader {
            raw,
            flavour: AnalyzeFlavour::Analyze,
        };
        let msgs: Vec<String> = unfixed
            .checks(false)
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            msgs,
            [
                "sizeof_hdr should be 348",
                "bitpix does not match datatype",
                "pixdim[1,2,3] should be non-zero and pixdim[1,2,3] should be positive"
            ]
        );
        assert_eq!(analyze_zooms(&h.raw), vec![1.0, 2.0, 1.0]);
        h.set_zooms(&[1.0, 2.0, 3.0]).unwrap();
        assert!(h.set_zooms(&[1.0]).is_err());
    }

    #[test]
    fn spm_origin_affine_uses_plausible_origin() {
        let mut h = AnalyzeHeader::new(AnalyzeFlavour::Spm99, ByteOrder::Little);
        h.set_data_shape(&[10, 20, 30]).unwrap();
        h.set_zooms(&[2.0, 3.0, 4.0]).unwrap();
        let centre = h.best_affine().unwrap();
        assert_eq!(centre[0], [-2.0, 0.0, 0.0, 9.0]);
        h.raw
            .set("origin", crate::FieldValue::Ints(vec![5, 6, 7, 0, 0]))
            .unwrap();
        let aff = h.best_affine().unwrap();
        assert_eq!([aff[0][3], aff[1][3], aff[2][3]], [8.0, -15.0, -24.0]);
        h.raw
            .set("origin", crate::FieldValue::Ints(vec![500, 6, 7, 0, 0]))
            .unwrap();
        assert_eq!(h.best_affine().unwrap(), centre);
        assert_eq!(h.checks(false)[0].level, 20);
    }

    #[test]
    fn spm2_scaling_falls_back_to_calibration_ranges() {
        let mut h = AnalyzeHeader::new(AnalyzeFlavour::Spm2, ByteOrder::Little);
        h.raw.set_float("scl_slope", 2.0).unwrap();
        h.raw.set_float("scl_inter", f64::NAN).unwrap();
        assert_eq!(h.slope_inter(), (Some(2.0), Some(0.0)));
        h.raw.set_float("scl_slope", 0.0).unwrap();
        assert_eq!(h.slope_inter(), (None, None));
        h.raw.set_int("glmax", 10).unwrap();
        h.raw.set_float("cal_max", 5.0).unwrap();
        assert_eq!(h.slope_inter(), (Some(0.5), Some(0.0)));
    }

    #[test]
    fn set_data_shape_rejects_what_does_not_fit() {
        let mut h = AnalyzeHeader::new(AnalyzeFlavour::Analyze, ByteOrder::Little);
        assert!(h.set_data_shape(&[40_000]).is_err());
        assert!(h.set_data_shape(&[1; 8]).is_err());
        assert_eq!(
            h.data_shape().unwrap(),
            vec![0],
            "a failed set leaves the header as it was"
        );
        assert!(h.set_data_dtype(DataType::Int8).is_err());
    }
}
