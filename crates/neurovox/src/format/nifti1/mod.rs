//! NIfTI-1 headers, and the rules NIfTI-2 shares with them (nibabel's `nifti1.py`,
//! docs/nibabel-rules.md §12). The NIfTI-2 layout and its extra check live in [`super::nifti2`].
//!
//! A header here is the raw 348-byte (or 540-byte) block plus the extensions that follow it.
//! Single files (`.nii`, magic `n+1`/`n+2`) have a 4-byte extension flag after the block and
//! data at `vox_offset`; pairs (`.hdr` + `.img`, magic `ni1`/`ni2`) keep the header alone.
//!
//! Split by job: `layout.rs` (the 348 bytes), `extensions.rs`, `codes.rs` (xform, unit,
//! intent and slice-order tables), `checks.rs` (nibabel's checks and fixes); this file holds
//! [`NiftiHeader`] itself — parsing, the shape, type, scaling and geometry accessors.

use super::affine::{
    Affine, IDENTITY, affine_to_quaternion, fill_positive, has_no_shear, quat_to_mat,
};
use super::analyze::{
    analyze_base_affine, analyze_data_shape, analyze_zooms, code_to_dtype, fill_analyze_defaults,
    guess_byte_order, raw_dims, set_analyze_data_shape, set_analyze_zooms, set_code_dtype,
    validate_vox_offset, vox_offset,
};
use super::check::{Problem, first_error};
use super::fields::{Layout, RawStruct};
use super::{HeaderCodec, ImageFormat, check_declared_shape, nifti2};
use crate::dtype::{ByteOrder, DataType, StorageDtype};
use crate::error::{Error, Result};

mod checks;
mod codes;
mod extensions;
mod layout;

use codes::{INTENTS, SLICE_ORDERS, resolve_xform_code, slice_acquisition_order};
pub use codes::{Intent, unit_label, xform_label};
pub use extensions::{Extension, extension_label, parse_extensions};
pub use layout::NIFTI1_LAYOUT;

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
            return Err(Error::header_value(format!(
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
            Error::header_value(format!(
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
                    return Err(Error::header_value(
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
            return Err(
                Error::header_value("dim[0] = 0: the header declares no axes")
                    .field("dim")
                    .offset(self.dim_offset()),
            );
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
            return Err(Error::header_value(format!(
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
            return Err(Error::header_value("pixdims[1,2,3] should be positive").field("pixdim"));
        }
        let qfac = self.raw.float_at("pixdim", 0);
        if qfac != 1.0 && qfac != -1.0 {
            return Err(Error::header_value("qfac (pixdim[0]) should be 1 or -1").field("pixdim"));
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
                Error::header_value("Slice dimension not set in header dim_info").field("dim_info"),
            );
        };
        let shape = self.data_shape()?;
        let slice_len = *shape.get(usize::from(slice_axis)).ok_or_else(|| {
            Error::header_value(format!(
                "Slice dimension index ({slice_axis}) outside shape tuple ({shape:?})"
            ))
            .field("dim_info")
        })? as i64;
        let duration = self.raw.float("slice_duration");
        let label = self.slice_code_label();
        if label == "unknown" {
            return Err(Error::header_value(
                "Cannot get slice times when slice code is \"unknown\"",
            )
            .field("slice_code"));
        }
        let start = self.raw.int("slice_start");
        let mut end = self.raw.int("slice_end");
        if start < 0 {
            return Err(Error::header_value("slice_start should be >= 0").field("slice_start"));
        }
        if end == 0 {
            end = slice_len - 1;
        }
        let n_timed = end - start + 1;
        if n_timed < 1 {
            return Err(Error::header_value("slice_end should be > slice_start").field("slice_end"));
        }
        if end >= slice_len {
            // nibabel returns more times than slices here; a header cannot time slices it lacks.
            return Err(Error::header_value(format!(
                "slice_end {end} is past the {slice_len} slices"
            ))
            .field("slice_end"));
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
}

/// Python's `repr` of a float as nibabel's messages print it (`nan`, `inf`, `1.5`).
fn py_float(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{v:?}")
    }
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
    crate::format::codec_basics!(NiftiHeader);
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
        assert_eq!(checks::py_bytes_repr(b"ab\x01"), "'ab\\x01'");
    }

    // -- hand-annotated bytes (not from our writer) -----------------------------------------

    /// A little-endian NIfTI-1 single-file header written out field by field: `(offset,
    /// bytes)` over zeros, each value spelled out as the bytes a C `nifti_1_header` holds.
    /// 2×3×4 int16, voxels 2×3×4 mm, TR 1 s, slope 2 and intercept -1.5, an sform (code 1)
    /// and no qform, `vox_offset` 352, no extensions.
    const NIFTI1_LITERAL: &[(usize, &[u8])] = &[
        (0, &[0x5c, 0x01, 0x00, 0x00]), // sizeof_hdr: int32 348
        // data_type[10] @4, db_name[18] @14, extents @32, session_error @36, regular @38,
        // dim_info @39: zero
        (40, &[3, 0, 2, 0, 3, 0, 4, 0]), // dim[0..4]: int16 3 (ndim), 2, 3, 4
        (48, &[1, 0, 1, 0, 1, 0, 1, 0]), // dim[4..8]: int16 1, 1, 1, 1
        // intent_p1..p3 @56..68, intent_code @68: zero
        (70, &[4, 0]),  // datatype: int16 4 = DT_INT16
        (72, &[16, 0]), // bitpix: int16 16
        // slice_start @74: zero
        (76, &[0x00, 0x00, 0x80, 0x3f]), // pixdim[0] (qfac): float32 1.0
        (80, &[0x00, 0x00, 0x00, 0x40]), // pixdim[1]: float32 2.0
        (84, &[0x00, 0x00, 0x40, 0x40]), // pixdim[2]: float32 3.0
        (88, &[0x00, 0x00, 0x80, 0x40]), // pixdim[3]: float32 4.0
        (92, &[0x00, 0x00, 0x80, 0x3f]), // pixdim[4]: float32 1.0
        (96, &[0x00, 0x00, 0x80, 0x3f]), // pixdim[5]: float32 1.0
        (100, &[0x00, 0x00, 0x80, 0x3f]), // pixdim[6]: float32 1.0
        (104, &[0x00, 0x00, 0x80, 0x3f]), // pixdim[7]: float32 1.0
        (108, &[0x00, 0x00, 0xb0, 0x43]), // vox_offset: float32 352.0
        (112, &[0x00, 0x00, 0x00, 0x40]), // scl_slope: float32 2.0
        (116, &[0x00, 0x00, 0xc0, 0xbf]), // scl_inter: float32 -1.5
        // slice_end @120, slice_code @122: zero
        (123, &[0x0a]), // xyzt_units: 2 (NIFTI_UNITS_MM) | 8 (NIFTI_UNITS_SEC)
        // cal_max @124, cal_min @128, slice_duration @132, toffset @136, glmax @140,
        // glmin @144: zero
        (148, b"hand made"), // descrip[80]: the text, NUL-padded
        // aux_file[24] @228, qform_code @252: zero
        (254, &[1, 0]), // sform_code: int16 1 = NIFTI_XFORM_SCANNER_ANAT
        // quatern_b..d @256..268, qoffset_x..z @268..280: zero
        (
            280,
            &[0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0xc1],
        ), // srow_x: 2 0 0 -10
        (
            296,
            &[0, 0, 0, 0, 0, 0, 0x40, 0x40, 0, 0, 0, 0, 0, 0, 0xa0, 0xc1],
        ), // srow_y: 0 3 0 -20
        (
            312,
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x40, 0, 0, 0xf0, 0xc1],
        ), // srow_z: 0 0 4 -30
        // intent_name[16] @328: zero
        (344, b"n+1\0"),      // magic: single file
        (348, &[0, 0, 0, 0]), // extension flag (after the 348-byte header): no extensions
    ];

    fn nifti1_literal() -> Vec<u8> {
        let mut bytes = vec![0u8; 352];
        for (offset, value) in NIFTI1_LITERAL {
            bytes[*offset..*offset + value.len()].copy_from_slice(value);
        }
        bytes
    }

    /// What nibabel 5.4 reads from [`NIFTI1_LITERAL`] (`Nifti1Header.from_fileobj`): shape
    /// (2, 3, 4), dtype `<i2`, zooms (2, 3, 4), data offset 352, slope/inter (2.0, -1.5),
    /// units ('mm', 'sec'), the sform as best affine.
    #[test]
    fn a_hand_written_nifti1_header_reads_as_nibabel_reads_it() {
        let bytes = nifti1_literal();
        let h = NiftiHeader::parse(NiftiVersion::One, true, &bytes).unwrap();
        assert_eq!(h.data_shape().unwrap(), [2, 3, 4]);
        let dtype = h.data_dtype().unwrap();
        assert_eq!(dtype.dtype, DataType::Int16);
        assert_eq!(dtype.order, ByteOrder::Little);
        assert_eq!(dtype.numpy_str(), "<i2");
        assert_eq!(h.data_offset(), 352);
        assert_eq!(h.slope_inter().unwrap(), (Some(2.0), Some(-1.5)));
        assert_eq!(h.xyzt_units(), ("mm".to_string(), "sec".to_string()));
        assert_eq!((h.qform_code(), h.sform_code()), (0, 1));
        let sform = [
            [2.0, 0.0, 0.0, -10.0],
            [0.0, 3.0, 0.0, -20.0],
            [0.0, 0.0, 4.0, -30.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        assert_eq!(h.sform(), sform);
        assert_eq!(h.best_affine().unwrap(), sform);
        assert!(h.extensions().is_empty());

        // The same through the format-independent entry point.
        let h = crate::format::Header::parse(crate::ImageFormat::Nifti1, &bytes).unwrap();
        assert_eq!(h.byte_order(), ByteOrder::Little);
        assert_eq!(h.data_shape().unwrap(), [2, 3, 4]);
        assert_eq!(h.data_dtype().unwrap().numpy_str(), "<i2");
        assert_eq!(h.zooms(), [2.0, 3.0, 4.0]);
        assert_eq!(h.data_offset(), 352);
        assert_eq!(h.slope_inter().unwrap(), (Some(2.0), Some(-1.5)));
        assert_eq!(h.best_affine().unwrap(), sform);
        let mut descrip = b"hand made".to_vec();
        descrip.resize(80, 0); // the field as stored: nibabel's S80 view drops the NULs
        assert_eq!(h.get("descrip").unwrap(), FieldValue::Bytes(descrip));
        assert_eq!(h.get("bitpix").unwrap(), FieldValue::Int(16));
    }
}
