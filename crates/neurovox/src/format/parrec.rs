//! Philips PAR/REC `.PAR` headers (nibabel's `parrec.py`, `PARRECHeader`).
//!
//! A `.PAR` is text in three parts: `#` comment lines (one names the export tool's version,
//! `V4`, `V4.1` or `V4.2`), "general information" lines `.    Key   :   value`, and after
//! another comment block one line per image (a 2-D slice stored in the `.REC`), whose
//! whitespace-separated columns are the version's image definition fields:
//!
//! ```text
//! # CLINICAL TRYOUT             Research image export tool     V4.2
//! .    Max. number of slices/locations    :   9
//! # === IMAGE INFORMATION ===
//!   1   1    1  1 0 2     0  16    62   64   64     0.00000   1.29035 4.28404e-003 ...
//! ```
//!
//! The `.REC` holds the slices in the order of those lines, each `recon resolution` pixels of
//! 8- or 16-bit little-endian unsigned integers. The image's array sorts them into
//! `(x, y, slice, volume)`: by slice number within a volume, volumes in the order the lines
//! first repeat a slice number, or with `strict_sort` by the acquisition fields nibabel names;
//! volumes missing slices (a truncated recording) are dropped. Each slice has its own scaling
//! (`dv`: the console's values, `fp`: floating point), so the values come out per slice.
//!
//! The rules are nibabel's, so a file reads to the same shape, affine, order and values;
//! where nibabel fails or errs we say so in docs/compat.md ("PAR/REC"). The grammar is a few
//! fixed line shapes, matched by hand.

use super::affine::{Affine, matmul};
use super::check_declared_shape;
use super::fields::FieldValue;
use super::geometry::Geometry;
use crate::dtype::{ByteOrder, DataType, StorageDtype};
use crate::error::{Error, Result};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The `.PAR` versions nibabel reads (the export tool's `V4`, `V4.1`, `V4.2`; Philips R11
/// writes `V4.2` with a few general keys spelt differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParrecVersion {
    /// 35 image definition columns.
    V4,
    /// V4 and 5 diffusion columns.
    V4_1,
    /// V4.1 and the ASL `label type`.
    V4_2,
}

impl ParrecVersion {
    /// The version as the `.PAR` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ParrecVersion::V4 => "V4",
            ParrecVersion::V4_1 => "V4.1",
            ParrecVersion::V4_2 => "V4.2",
        }
    }

    /// The version written as `text`.
    pub fn from_name(text: &str) -> Option<ParrecVersion> {
        [ParrecVersion::V4, ParrecVersion::V4_1, ParrecVersion::V4_2]
            .into_iter()
            .find(|v| v.as_str() == text)
    }

    /// The image definition columns of this version, in line order.
    pub fn columns(self) -> &'static [ColumnDef] {
        match self {
            ParrecVersion::V4 => &COLUMNS[..35],
            ParrecVersion::V4_1 => &COLUMNS[..40],
            ParrecVersion::V4_2 => &COLUMNS[..],
        }
    }

    /// The version whose columns are exactly `count` (how a table built elsewhere tells it).
    pub fn with_column_count(count: usize) -> Option<ParrecVersion> {
        [ParrecVersion::V4, ParrecVersion::V4_1, ParrecVersion::V4_2]
            .into_iter()
            .find(|v| v.columns().len() == count)
    }
}

/// Which of the `.PAR`'s two scalings the values take (nibabel's `scaling='dv'|'fp'`): with
/// `PV` the stored value and `RS`, `RI`, `SS` a slice's rescale slope, rescale intercept and
/// scale slope, `DV = PV × RS + RI` and `FP = DV / (RS × SS)`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum ParrecScaling {
    /// The values the scanner console displays (nibabel's default).
    #[default]
    Dv,
    /// Floating point values.
    Fp,
}

impl ParrecScaling {
    /// The method named `dv` or `fp`.
    pub fn from_name(name: &str) -> Option<ParrecScaling> {
        match name {
            "dv" => Some(ParrecScaling::Dv),
            "fp" => Some(ParrecScaling::Fp),
            _ => None,
        }
    }
}

/// nibabel's PAR/REC load keywords.
///
/// ```
/// use neurovox::format::parrec::{ParrecOptions, ParrecScaling};
/// let options = ParrecOptions { scaling: ParrecScaling::Fp, ..ParrecOptions::default() };
/// assert!(!options.permit_truncated && !options.strict_sort);
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct ParrecOptions {
    /// The scaling the image's values take.
    pub scaling: ParrecScaling,
    /// Read a recording whose header shows missing slices or volumes (with a warning)
    /// instead of refusing it; incomplete volumes are dropped.
    pub permit_truncated: bool,
    /// Sort volumes by their acquisition fields (type, dynamic, label, diffusion, phase,
    /// echo) instead of the order the `.PAR` lists them in.
    pub strict_sort: bool,
}

/// Where [`ParrecHeader::affine_from`] puts world coordinate zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AffineOrigin {
    /// The scanner's isocentre (nibabel's default).
    #[default]
    Scanner,
    /// The centre of the field of view.
    Fov,
}

/// The slice orientation of a recording (`slice orientation` 1, 2, 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceOrientation {
    /// Code 1.
    Transverse,
    /// Code 2.
    Sagittal,
    /// Code 3.
    Coronal,
}

impl SliceOrientation {
    /// nibabel's label.
    pub fn label(self) -> &'static str {
        match self {
            SliceOrientation::Transverse => "transverse",
            SliceOrientation::Sagittal => "sagittal",
            SliceOrientation::Coronal => "coronal",
        }
    }

    /// The voxel axes of the acquisition as Philips' (P, S, L) axes (nibabel's
    /// `ACQ_TO_PSL`), found from scans whose orientation is known.
    fn to_psl(self) -> [[f64; 3]; 3] {
        match self {
            SliceOrientation::Transverse => [[0., 1., 0.], [0., 0., 1.], [1., 0., 0.]],
            SliceOrientation::Sagittal => [[1., 0., 0.], [0., -1., 0.], [0., 0., -1.]],
            SliceOrientation::Coronal => [[0., 0., 1.], [0., -1., 0.], [1., 0., 0.]],
        }
    }
}

/// What a column of the image definition table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Integers.
    Int,
    /// Floating point numbers.
    Float,
    /// Words (at most 30 bytes kept, as nibabel's `S30`).
    Text,
}

/// One field of the image definition lines: its name (nibabel's), kind and how many
/// whitespace-separated values it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDef {
    /// nibabel's field name (`'slice number'`, `'recon resolution'`, …).
    pub name: &'static str,
    /// Integer, float or text.
    pub kind: ColumnKind,
    /// Values per line (2 for `recon resolution`, 3 for `image angulation`, …).
    pub width: usize,
}

const fn col(name: &'static str, kind: ColumnKind, width: usize) -> ColumnDef {
    ColumnDef { name, kind, width }
}

use ColumnKind::{Float as F, Int as I, Text as T};

/// nibabel's `image_def_dtds['V4.2']`; V4 uses the first 35, V4.1 the first 40.
static COLUMNS: [ColumnDef; 41] = [
    col("slice number", I, 1),
    col("echo number", I, 1),
    col("dynamic scan number", I, 1),
    col("cardiac phase number", I, 1),
    col("image_type_mr", I, 1),
    col("scanning sequence", I, 1),
    col("index in REC file", I, 1),
    col("image pixel size", I, 1),
    col("scan percentage", I, 1),
    col("recon resolution", I, 2),
    col("rescale intercept", F, 1),
    col("rescale slope", F, 1),
    col("scale slope", F, 1),
    // Written as integers, but some files hold fractions.
    col("window center", F, 1),
    col("window width", F, 1),
    col("image angulation", F, 3),
    col("image offcentre", F, 3),
    col("slice thickness", F, 1),
    col("slice gap", F, 1),
    col("image_display_orientation", I, 1),
    col("slice orientation", I, 1),
    col("fmri_status_indication", I, 1),
    col("image_type_ed_es", I, 1),
    col("pixel spacing", F, 2),
    col("echo_time", F, 1),
    col("dyn_scan_begin_time", F, 1),
    col("trigger_time", F, 1),
    col("diffusion_b_factor", F, 1),
    col("number of averages", I, 1),
    col("image_flip_angle", F, 1),
    col("cardiac frequency", I, 1),
    col("minimum RR-interval", I, 1),
    col("maximum RR-interval", I, 1),
    col("TURBO factor", I, 1),
    col("Inversion delay", F, 1),
    // V4.1
    col("diffusion b value number", I, 1),
    col("gradient orientation number", I, 1),
    col("contrast type", T, 1),
    col("diffusion anisotropy type", T, 1),
    col("diffusion", F, 3),
    // V4.2
    col("label type", I, 1),
];

/// How a general information value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GeneralKind {
    Text,
    Int,
    Float,
    /// Floats: exactly this many, or any number for `None`.
    Floats(Option<usize>),
    /// Exactly this many integers.
    Ints(usize),
}

use GeneralKind as G;

/// nibabel's `_hdr_key_dict`: the general information keys (matched without regard to
/// case), the short names nibabel's `general_info` uses, and the values' kinds. The last four
/// are other spellings seen in V4.2 and R11 files.
static GENERAL_KEYS: [(&str, &str, GeneralKind); 39] = [
    ("Patient name", "patient_name", G::Text),
    ("Examination name", "exam_name", G::Text),
    ("Protocol name", "protocol_name", G::Text),
    ("Examination date/time", "exam_date", G::Text),
    ("Series Type", "series_type", G::Text),
    ("Acquisition nr", "acq_nr", G::Int),
    ("Reconstruction nr", "recon_nr", G::Int),
    ("Scan Duration [sec]", "scan_duration", G::Float),
    (
        "Max. number of cardiac phases",
        "max_cardiac_phases",
        G::Int,
    ),
    ("Max. number of echoes", "max_echoes", G::Int),
    ("Max. number of slices/locations", "max_slices", G::Int),
    ("Max. number of dynamics", "max_dynamics", G::Int),
    ("Max. number of mixes", "max_mixes", G::Int),
    ("Patient position", "patient_position", G::Text),
    ("Preparation direction", "prep_direction", G::Text),
    ("Technique", "tech", G::Text),
    ("Scan resolution  (x, y)", "scan_resolution", G::Ints(2)),
    ("Scan mode", "scan_mode", G::Text),
    ("Repetition time [ms]", "repetition_time", G::Floats(None)),
    ("FOV (ap,fh,rl) [mm]", "fov", G::Floats(Some(3))),
    ("Water Fat shift [pixels]", "water_fat_shift", G::Float),
    (
        "Angulation midslice(ap,fh,rl)[degr]",
        "angulation",
        G::Floats(Some(3)),
    ),
    (
        "Off Centre midslice(ap,fh,rl) [mm]",
        "off_center",
        G::Floats(Some(3)),
    ),
    (
        "Flow compensation <0=no 1=yes> ?",
        "flow_compensation",
        G::Int,
    ),
    ("Presaturation     <0=no 1=yes> ?", "presaturation", G::Int),
    (
        "Phase encoding velocity [cm/sec]",
        "phase_enc_velocity",
        G::Floats(Some(3)),
    ),
    ("MTC               <0=no 1=yes> ?", "mtc", G::Int),
    ("SPIR              <0=no 1=yes> ?", "spir", G::Int),
    ("EPI factor        <0,1=no EPI>", "epi_factor", G::Int),
    ("Dynamic scan      <0=no 1=yes> ?", "dyn_scan", G::Int),
    ("Diffusion         <0=no 1=yes> ?", "diffusion", G::Int),
    ("Diffusion echo time [ms]", "diffusion_echo_time", G::Float),
    (
        "Max. number of diffusion values",
        "max_diffusion_values",
        G::Int,
    ),
    (
        "Max. number of gradient orients",
        "max_gradient_orient",
        G::Int,
    ),
    (
        "Number of label types   <0=no ASL>",
        "nr_label_types",
        G::Int,
    ),
    ("Series_data_type", "series_type", G::Text),
    ("Patient Position", "patient_position", G::Text),
    ("Repetition time [msec]", "repetition_time", G::Floats(None)),
    (
        "Diffusion echo time [msec]",
        "diffusion_echo_time",
        G::Float,
    ),
];

/// The `.PAR` key a short general information name is read from (its first spelling).
pub fn general_key_of(short: &str) -> Option<&'static str> {
    GENERAL_KEYS
        .iter()
        .find(|(_, s, _)| *s == short)
        .map(|(k, _, _)| *k)
}

/// The values of one image definition column, one row after another (`width` values a row).
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    /// An integer column.
    Ints(Vec<i64>),
    /// A float column.
    Floats(Vec<f64>),
    /// A text column (each word at most 30 bytes).
    Texts(Vec<Vec<u8>>),
}

impl ColumnValues {
    fn len(&self) -> usize {
        match self {
            ColumnValues::Ints(v) => v.len(),
            ColumnValues::Floats(v) => v.len(),
            ColumnValues::Texts(v) => v.len(),
        }
    }

    /// Value `i` as a float (text reads as NaN).
    fn as_f64(&self, i: usize) -> f64 {
        match self {
            ColumnValues::Ints(v) => v[i] as f64,
            ColumnValues::Floats(v) => v[i],
            ColumnValues::Texts(_) => f64::NAN,
        }
    }
}

/// The image definition table: one row per `.REC` slice, one column per field of the
/// version (nibabel's `image_defs` structured array).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDefs {
    version: ParrecVersion,
    rows: usize,
    columns: Vec<ColumnValues>,
}

impl ImageDefs {
    /// A table from its columns, in the version's order, each of `rows × width` values of
    /// the column's kind.
    pub fn from_columns(version: ParrecVersion, columns: Vec<ColumnValues>) -> Result<ImageDefs> {
        let defs = version.columns();
        if columns.len() != defs.len() {
            return Err(Error::usage(format!(
                "PAR/REC {} image definitions have {} columns, not {}",
                version.as_str(),
                defs.len(),
                columns.len()
            )));
        }
        let rows = columns.first().map_or(0, |c| c.len() / defs[0].width);
        for (def, values) in defs.iter().zip(&columns) {
            let kind_ok = matches!(
                (def.kind, values),
                (ColumnKind::Int, ColumnValues::Ints(_))
                    | (ColumnKind::Float, ColumnValues::Floats(_))
                    | (ColumnKind::Text, ColumnValues::Texts(_))
            );
            if !kind_ok || values.len() != rows * def.width {
                return Err(Error::usage(format!(
                    "image definition column {:?} needs {} {:?} values ({rows} rows of {})",
                    def.name,
                    rows * def.width,
                    def.kind,
                    def.width
                ))
                .field(def.name));
            }
        }
        Ok(ImageDefs {
            version,
            rows,
            columns,
        })
    }

    /// The version whose columns the table has.
    pub fn version(&self) -> ParrecVersion {
        self.version
    }

    /// The number of image lines (slices in the `.REC`).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Every column with its definition, in line order.
    pub fn columns(&self) -> impl Iterator<Item = (&'static ColumnDef, &ColumnValues)> {
        self.version.columns().iter().zip(&self.columns)
    }

    /// The column named `name` (nibabel's `get_def`), if the version has it.
    pub fn column(&self, name: &str) -> Option<(&'static ColumnDef, &ColumnValues)> {
        self.columns().find(|(def, _)| def.name == name)
    }

    /// An integer column's values.
    pub fn ints(&self, name: &str) -> Option<&[i64]> {
        match self.column(name) {
            Some((_, ColumnValues::Ints(v))) => Some(v),
            _ => None,
        }
    }

    /// A float column's values.
    pub fn floats(&self, name: &str) -> Option<&[f64]> {
        match self.column(name) {
            Some((_, ColumnValues::Floats(v))) => Some(v),
            _ => None,
        }
    }

    /// A one-value numeric column as floats, row by row.
    fn numbers(&self, name: &str) -> Option<Vec<f64>> {
        let (def, values) = self.column(name)?;
        (def.width == 1 && def.kind != ColumnKind::Text)
            .then(|| (0..self.rows).map(|r| values.as_f64(r)).collect())
    }

    /// The rows' values of column `name`, which must be the same in every row (nibabel's
    /// `_get_unique_image_prop`).
    fn unique(&self, name: &'static str) -> Result<Vec<f64>> {
        let (def, values) = self
            .column(name)
            .ok_or_else(|| Error::format(format!("no {name:?} column")).field(name))?;
        let w = def.width;
        if self.rows == 0 {
            return Err(Error::format("the .PAR lists no images").field(name));
        }
        let first: Vec<f64> = (0..w).map(|i| values.as_f64(i)).collect();
        for r in 1..self.rows {
            // NaN differs from everything, itself included, as numpy's diff says.
            if (0..w).any(|i| values.as_f64(r * w + i) != first[i] || first[i].is_nan()) {
                return Err(Error::format(format!(
                    "Varying {name} in image sequence (row {} differs from row 1). This is \
                     not supported.",
                    r + 1
                ))
                .field(name));
            }
        }
        Ok(first)
    }
}

/// What a `.PAR` says, before any of it is interpreted: its version, general information
/// (nibabel's `general_info`, by short name) and image definitions (nibabel's
/// `parse_PAR_header`).
#[derive(Debug, Clone, PartialEq)]
pub struct ParContents {
    /// The export tool's version.
    pub version: ParrecVersion,
    /// General information by nibabel's short names, in file order (a later line of the
    /// same name replaces an earlier one). Text is [`FieldValue::Bytes`].
    pub general: Vec<(&'static str, FieldValue)>,
    /// The image definition table.
    pub defs: ImageDefs,
    /// General information keys nibabel does not know (kept out of `general`).
    pub unknown_keys: Vec<String>,
}

impl ParContents {
    /// Contents from general information by short name (as nibabel's `general_info` has
    /// them) and a table: each value is coerced to the kind nibabel gives its key (an integer
    /// where a float is expected, say); names nibabel does not know go to `unknown_keys`.
    ///
    /// ```
    /// use neurovox::format::parrec::ParContents;
    /// use neurovox::FieldValue;
    /// let parsed = ParContents::parse(neurovox::fuzzing::par_example(1, 1).as_bytes())?;
    /// let general = vec![("max_slices".to_owned(), FieldValue::Float(1.0))];
    /// let rebuilt = ParContents::new(parsed.version, general, parsed.defs)?;
    /// assert_eq!(rebuilt.general, vec![("max_slices", FieldValue::Int(1))]);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn new(
        version: ParrecVersion,
        general: Vec<(String, FieldValue)>,
        defs: ImageDefs,
    ) -> Result<ParContents> {
        let mut known: Vec<(&'static str, FieldValue)> = Vec::new();
        let mut unknown_keys = Vec::new();
        for (name, value) in general {
            let Some(&(_, short, kind)) = GENERAL_KEYS.iter().find(|(_, s, _)| *s == name) else {
                unknown_keys.push(name);
                continue;
            };
            let bad = || {
                Error::usage(format!(
                    "general_info[{name:?}] = {value} is not a {kind:?} value"
                ))
                .field(short)
            };
            let floats = |v: &FieldValue| match v {
                FieldValue::Floats(f) => Some(f.clone()),
                FieldValue::Ints(i) => Some(i.iter().map(|&x| x as f64).collect()),
                FieldValue::Float(f) => Some(vec![*f]),
                FieldValue::Int(i) => Some(vec![*i as f64]),
                FieldValue::Bytes(_) => None,
            };
            let coerced = match (kind, &value) {
                (G::Text, FieldValue::Bytes(_)) => value.clone(),
                (G::Int, FieldValue::Int(_)) | (G::Float, FieldValue::Float(_)) => value.clone(),
                (G::Int, FieldValue::Float(f)) if f.fract() == 0.0 => FieldValue::Int(*f as i64),
                (G::Float, FieldValue::Int(i)) => FieldValue::Float(*i as f64),
                (G::Floats(n), v) => {
                    let f = floats(v)
                        .filter(|f| n.is_none_or(|n| n == f.len()))
                        .ok_or_else(bad)?;
                    FieldValue::Floats(f)
                }
                (G::Ints(n), v) => {
                    let f =
                        floats(v).filter(|f| f.len() == n && f.iter().all(|x| x.fract() == 0.0));
                    FieldValue::Ints(f.ok_or_else(bad)?.iter().map(|&x| x as i64).collect())
                }
                _ => return Err(bad()),
            };
            match known.iter_mut().find(|(s, _)| *s == short) {
                Some(slot) => slot.1 = coerced,
                None => known.push((short, coerced)),
            }
        }
        Ok(ParContents {
            version,
            general: known,
            defs,
            unknown_keys,
        })
    }

    /// Parses a whole `.PAR` file.
    ///
    /// ```
    /// use neurovox::format::parrec::ParContents;
    /// let par = neurovox::fuzzing::par_example(2, 1);
    /// let contents = ParContents::parse(par.as_bytes())?;
    /// assert_eq!(contents.version.as_str(), "V4.2");
    /// assert_eq!(contents.defs.rows(), 2);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<ParContents> {
        let text = String::from_utf8_lossy(bytes);
        let mut version: Option<String> = None;
        let mut general_lines = Vec::new();
        let mut image_lines = Vec::new();
        #[derive(PartialEq)]
        enum State {
            Top,
            General,
            Comments,
            Images,
        }
        let mut state = State::Top;
        // nibabel's state machine: a line may move the state on and then be read by the next.
        for (number, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            if state == State::Top {
                if !line.starts_with('#') {
                    state = State::General;
                } else if line.contains("image export tool") {
                    version = line.split_whitespace().last().map(str::to_owned);
                }
            }
            if state == State::General {
                if !line.starts_with('.') {
                    state = State::Comments;
                } else {
                    general_lines.push((number + 1, line));
                }
            }
            if state == State::Comments && !line.starts_with('#') {
                state = State::Images;
            }
            if state == State::Images {
                if line.starts_with('#') {
                    break;
                }
                image_lines.push((number + 1, line));
            }
        }
        let version = match version.as_deref() {
            Some(v) => ParrecVersion::from_name(v).ok_or_else(|| {
                Error::unsupported(format!(
                    "PAR/REC version {v:?} is not supported (V4, V4.1 and V4.2 are)"
                ))
                .field("version")
            })?,
            None => {
                return Err(Error::format(
                    "no \"image export tool\" version line: not a PAR file, or not one from \
                     a version neurovox reads",
                )
                .field("version"));
            }
        };
        let (general, unknown_keys) = parse_general(&general_lines)?;
        let defs = parse_image_lines(&image_lines, version)?;
        Ok(ParContents {
            version,
            general,
            defs,
            unknown_keys,
        })
    }
}

/// The general information lines as short names and values.
#[allow(clippy::type_complexity)]
fn parse_general(
    lines: &[(usize, &str)],
) -> Result<(Vec<(&'static str, FieldValue)>, Vec<String>)> {
    let mut general: Vec<(&'static str, FieldValue)> = Vec::new();
    let mut unknown = Vec::new();
    for &(number, line) in lines {
        // `.   Key   :   value`: a leading character, spaces, the key up to the first colon.
        let mut chars = line.chars();
        chars.next();
        let rest = chars.as_str();
        let colon = rest
            .find(':')
            .filter(|_| rest.starts_with(char::is_whitespace));
        let Some(colon) = colon else {
            return Err(Error::format(format!(
                "line {number} is not a \". key : value\" line: {line:?}"
            ))
            .field("general information"));
        };
        let key = rest[..colon].trim();
        let value = rest[colon + 1..].trim_start();
        let Some(&(_, short, kind)) = GENERAL_KEYS
            .iter()
            .find(|(k, _, _)| k.eq_ignore_ascii_case(key))
        else {
            unknown.push(key.to_owned());
            continue;
        };
        let bad = |what: &str| {
            Error::format(format!("{key} (line {number}): {value:?} is not {what}"))
                .field(general_key_of(short).unwrap_or(short))
        };
        let parsed = match kind {
            G::Text => FieldValue::Bytes(value.as_bytes().to_vec()),
            G::Int => FieldValue::Int(parse_int(value).ok_or_else(|| bad("an integer"))?),
            G::Float => FieldValue::Float(parse_float(value).ok_or_else(|| bad("a number"))?),
            G::Floats(count) => {
                let values: Vec<f64> = value
                    .split_whitespace()
                    .map(parse_float)
                    .collect::<Option<_>>()
                    .ok_or_else(|| bad("a list of numbers"))?;
                if count.is_some_and(|n| n != values.len()) {
                    return Err(bad(&format!("{} numbers", count.unwrap_or(0))));
                }
                FieldValue::Floats(values)
            }
            G::Ints(count) => {
                let values: Vec<i64> = value
                    .split_whitespace()
                    .map(parse_int)
                    .collect::<Option<_>>()
                    .filter(|v: &Vec<i64>| v.len() == count)
                    .ok_or_else(|| bad(&format!("{count} integers")))?;
                FieldValue::Ints(values)
            }
        };
        match general.iter_mut().find(|(s, _)| *s == short) {
            Some(slot) => slot.1 = parsed,
            None => general.push((short, parsed)),
        }
    }
    Ok((general, unknown))
}

/// An integer as Python's `int()` reads one (sign, digits).
fn parse_int(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

/// A float as Python's `float()` reads one (`nan` and `inf` included).
fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim();
    t.parse()
        .ok()
        .or_else(|| match t.to_ascii_lowercase().as_str() {
            "infinity" | "+infinity" => Some(f64::INFINITY),
            "-infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        })
}

/// The image lines as the version's columns.
fn parse_image_lines(lines: &[(usize, &str)], version: ParrecVersion) -> Result<ImageDefs> {
    let defs = version.columns();
    let mut columns: Vec<ColumnValues> = defs
        .iter()
        .map(|d| match d.kind {
            ColumnKind::Int => ColumnValues::Ints(Vec::with_capacity(lines.len() * d.width)),
            ColumnKind::Float => ColumnValues::Floats(Vec::with_capacity(lines.len() * d.width)),
            ColumnKind::Text => ColumnValues::Texts(Vec::with_capacity(lines.len())),
        })
        .collect();
    for &(number, line) in lines {
        let mut items = line.split_whitespace();
        for (def, values) in defs.iter().zip(columns.iter_mut()) {
            for _ in 0..def.width {
                let item = items.next().ok_or_else(|| {
                    Error::format(format!(
                        "image line {number} ends before its {:?} value ({} columns in {})",
                        def.name,
                        defs.iter().map(|d| d.width).sum::<usize>(),
                        version.as_str()
                    ))
                    .field(def.name)
                })?;
                let bad = |what| {
                    Error::format(format!(
                        "image line {number}: {:?} value {item:?} is not {what}",
                        def.name
                    ))
                    .field(def.name)
                };
                match values {
                    ColumnValues::Ints(v) => {
                        v.push(parse_int(item).ok_or_else(|| bad("an integer"))?)
                    }
                    ColumnValues::Floats(v) => {
                        v.push(parse_float(item).ok_or_else(|| bad("a number"))?)
                    }
                    ColumnValues::Texts(v) => {
                        v.push(item.as_bytes()[..item.len().min(30)].to_vec())
                    }
                }
            }
        }
    }
    ImageDefs::from_columns(version, columns)
}

/// The volume number of each slice: how many times its slice number came before it
/// (nibabel's `vol_numbers`).
///
/// ```
/// assert_eq!(neurovox::format::parrec::vol_numbers(&[1, 2, 1, 2, 1]), vec![0, 0, 1, 1, 2]);
/// ```
pub fn vol_numbers(slice_nos: &[i64]) -> Vec<usize> {
    let mut seen: HashMap<i64, usize> = HashMap::new();
    slice_nos
        .iter()
        .map(|s| {
            let count = seen.entry(*s).or_insert(0);
            *count += 1;
            *count - 1
        })
        .collect()
}

/// For each slice, whether its volume has every slice number from 1 to `max_slices` (nibabel's
/// `vol_is_full`); a slice number outside that range is an error.
///
/// ```
/// use neurovox::format::parrec::vol_is_full;
/// assert_eq!(vol_is_full(&[1, 2, 1], 2)?, vec![true, true, false]);
/// assert!(vol_is_full(&[3], 2).is_err());
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn vol_is_full(slice_nos: &[i64], max_slices: i64) -> Result<Vec<bool>> {
    if let Some(bad) = slice_nos.iter().find(|&&s| s < 1 || s > max_slices) {
        return Err(Error::format(format!(
            "slice number {bad} is outside the inclusive range 1 to {max_slices}"
        ))
        .field("slice number"));
    }
    let vols = vol_numbers(slice_nos);
    // Within a volume a slice number occurs once, so counting its slices counts distinct ones.
    let mut counts: HashMap<usize, i64> = HashMap::new();
    for v in &vols {
        *counts.entry(*v).or_insert(0) += 1;
    }
    Ok(vols.iter().map(|v| counts[v] == max_slices).collect())
}

/// A parsed `.PAR` under load options: nibabel's `PARRECHeader`, with the shape, type,
/// voxel sizes and slice order its rules give (the shape, type and sizes can be changed in
/// memory afterwards, as nibabel's `SpatialHeader` allows).
///
/// ```
/// use neurovox::format::parrec::{ParrecHeader, ParrecOptions};
/// let par = neurovox::fuzzing::par_example(3, 2); // 3 slices, 2 volumes
/// let header = ParrecHeader::parse_with(par.as_bytes(), ParrecOptions::default())?;
/// assert_eq!(header.geometry().data_shape(), [4, 3, 3, 2]);
/// assert_eq!(header.sorted_slice_indices(), &[0, 1, 2, 3, 4, 5]);
/// assert_eq!(header.geometry().data_dtype().dtype, neurovox::DataType::UInt16);
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ParrecHeader {
    /// Shared by the header's copies: a load, its image and its bindings each hold one, and a
    /// recording's table can run to megabytes.
    contents: Arc<ParContents>,
    options: ParrecOptions,
    sorted: Vec<usize>,
    geometry: Geometry,
    warnings: Vec<String>,
}

impl ParrecHeader {
    /// Parses a `.PAR` with nibabel's default options.
    pub fn parse(bytes: &[u8]) -> Result<ParrecHeader> {
        Self::parse_with(bytes, ParrecOptions::default())
    }

    /// Parses a `.PAR` under `options`.
    pub fn parse_with(bytes: &[u8], options: ParrecOptions) -> Result<ParrecHeader> {
        Self::from_contents(ParContents::parse(bytes)?, options)
    }

    /// The header of parsed contents (nibabel's `PARRECHeader(info, image_defs, …)`): checks
    /// for a truncated recording (an error unless `permit_truncated`, then a warning), and
    /// works out the type, shape, voxel sizes and slice order.
    pub fn from_contents(contents: ParContents, options: ParrecOptions) -> Result<ParrecHeader> {
        Self::from_shared(Arc::new(contents), options)
    }

    fn from_shared(contents: Arc<ParContents>, options: ParrecOptions) -> Result<ParrecHeader> {
        let mut header = ParrecHeader {
            contents,
            options,
            sorted: Vec::new(),
            geometry: Geometry::new(
                Vec::new(),
                StorageDtype::new(DataType::UInt16, ByteOrder::Little),
                Vec::new(),
            ),
            warnings: Vec::new(),
        };
        for key in &header.contents.unknown_keys {
            header.warnings.push(format!(
                "general information {key:?} is not a key nibabel knows; it was skipped"
            ));
        }
        header.check_truncation()?;
        let bits = header.contents.defs.unique("image pixel size")?[0];
        let dtype = match bits as i64 {
            8 if bits == 8.0 => StorageDtype::new(DataType::UInt8, ByteOrder::Little),
            16 if bits == 16.0 => StorageDtype::new(DataType::UInt16, ByteOrder::Little),
            _ => {
                return Err(Error::unsupported(format!(
                    "Only 8- and 16-bit data supported (not {bits})"
                ))
                .field("image pixel size"));
            }
        };
        let shape = header.declared_shape()?;
        let zooms = header.declared_zooms(shape.len())?;
        header.geometry = Geometry::new(shape, dtype, zooms);
        let n_used: usize = header.geometry.data_shape()[2..].iter().product();
        let mut order = match options.strict_sort {
            false => header.lax_sort_order()?,
            true => header.strict_sort_order()?,
        };
        if order.len() < n_used {
            return Err(Error::format(format!(
                "the .PAR lists {} images, fewer than the {n_used} slices of its shape {:?}",
                order.len(),
                header.geometry.data_shape()
            ))
            .field("slice number"));
        }
        order.truncate(n_used);
        header.sorted = order;
        Ok(header)
    }

    /// A header of no images describing an empty uint16 array: what [`crate::Header::new`]
    /// gives for PAR/REC, to be filled by `set_data_*` when an image is made in memory.
    pub fn empty() -> ParrecHeader {
        let version = ParrecVersion::V4_2;
        let columns = version
            .columns()
            .iter()
            .map(|d| match d.kind {
                ColumnKind::Int => ColumnValues::Ints(Vec::new()),
                ColumnKind::Float => ColumnValues::Floats(Vec::new()),
                ColumnKind::Text => ColumnValues::Texts(Vec::new()),
            })
            .collect();
        ParrecHeader {
            contents: Arc::new(ParContents {
                version,
                general: Vec::new(),
                defs: ImageDefs {
                    version,
                    rows: 0,
                    columns,
                },
                unknown_keys: Vec::new(),
            }),
            options: ParrecOptions::default(),
            sorted: Vec::new(),
            geometry: Geometry::new(
                vec![0],
                StorageDtype::new(DataType::UInt16, ByteOrder::Little),
                vec![1.0],
            ),
            warnings: Vec::new(),
        }
    }

    /// The load options the header was made under.
    pub fn options(&self) -> ParrecOptions {
        self.options
    }

    /// The same header under other options (shape and order worked out again).
    pub fn with_options(&self, options: ParrecOptions) -> Result<ParrecHeader> {
        Self::from_shared(Arc::clone(&self.contents), options)
    }

    /// What the `.PAR` holds, as parsed.
    pub fn contents(&self) -> &ParContents {
        &self.contents
    }

    /// The export tool's version.
    pub fn version(&self) -> ParrecVersion {
        self.contents.version
    }

    /// The image definition table.
    pub fn image_defs(&self) -> &ImageDefs {
        &self.contents.defs
    }

    /// Warnings nibabel gives for this header: an inconsistent header read with
    /// `permit_truncated`, several repetition times, keys skipped.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// A general information value by nibabel's short name (`"max_slices"`, `"angulation"`).
    pub fn attribute(&self, short: &str) -> Option<&FieldValue> {
        self.contents
            .general
            .iter()
            .find(|(s, _)| *s == short)
            .map(|(_, v)| v)
    }

    /// An integer general value that a rule needs: its absence is an error naming the key.
    fn general_int(&self, short: &'static str) -> Result<i64> {
        match self.attribute(short) {
            Some(FieldValue::Int(v)) => Ok(*v),
            _ => Err(missing_general(short)),
        }
    }

    /// A float-list general value that a rule needs.
    fn general_floats(&self, short: &'static str) -> Result<&[f64]> {
        match self.attribute(short) {
            Some(FieldValue::Floats(v)) => Ok(v),
            _ => Err(missing_general(short)),
        }
    }

    /// A text general value, empty if absent.
    fn general_text(&self, short: &str) -> String {
        match self.attribute(short) {
            Some(FieldValue::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    }

    /// nibabel's `_truncation_checks`: the counts of slices, echoes, dynamics, b values and
    /// gradient orientations the general information promises, and no partial volume.
    fn check_truncation(&mut self) -> Result<()> {
        let defs = &self.contents.defs;
        let mut problems = Vec::new();
        for (column, short, what) in [
            ("slice number", "max_slices", "slice"),
            ("echo number", "max_echoes", "echo"),
            ("dynamic scan number", "max_dynamics", "dynamic scan"),
            (
                "diffusion b value number",
                "max_diffusion_values",
                "diffusion b value",
            ),
            (
                "gradient orientation number",
                "max_gradient_orient",
                "gradient orientation",
            ),
        ] {
            let Some(FieldValue::Int(expected)) = self.attribute(short) else {
                continue;
            };
            // V4 files have no diffusion columns to count; nibabel fails on such a key.
            let Some(values) = defs.ints(column) else {
                continue;
            };
            let have = values.iter().collect::<HashSet<_>>().len();
            if have as i64 != *expected {
                problems.push(format!(
                    "Header inconsistency: Found {have} {what} values, but expected {expected}"
                ));
            }
        }
        let max_slices = self.general_int("max_slices")?;
        let slice_nos = defs.ints("slice number").unwrap_or(&[]);
        if vol_is_full(slice_nos, max_slices)?.contains(&false) {
            problems.push("Found one or more partial volume(s)".to_owned());
        }
        for problem in problems {
            if !self.options.permit_truncated {
                return Err(Error::format(format!(
                    "{problem} (load with permit_truncated to read the complete volumes)"
                ))
                .field("max_slices"));
            }
            self.warnings.push(problem);
        }
        Ok(())
    }

    /// The number of distinct slice numbers and of complete volumes.
    fn slices_and_volumes(&self) -> Result<(usize, usize)> {
        let slice_nos = self.contents.defs.ints("slice number").unwrap_or(&[]);
        let n_slices = slice_nos.iter().collect::<HashSet<_>>().len();
        let vols = vol_numbers(slice_nos);
        let full = vol_is_full(slice_nos, self.general_int("max_slices")?)?;
        let n_vols = vols
            .iter()
            .zip(&full)
            .filter(|(_, f)| **f)
            .map(|(v, _)| v)
            .collect::<HashSet<_>>()
            .len();
        Ok((n_slices, n_vols))
    }

    /// `(x, y, slices[, volumes])`.
    fn declared_shape(&self) -> Result<Vec<usize>> {
        let inplane = self.contents.defs.unique("recon resolution")?;
        let (n_slices, n_vols) = self.slices_and_volumes()?;
        let mut dims = vec![inplane[0] as i64, inplane[1] as i64, n_slices as i64];
        if n_vols > 1 {
            dims.push(n_vols as i64);
        }
        check_declared_shape(&dims, "recon resolution", 0)
    }

    /// Pixel spacing, slice thickness + gap, and for a dynamic scan the repetition time in
    /// seconds (nibabel's `_calc_zooms`).
    fn declared_zooms(&mut self, ndim: usize) -> Result<Vec<f64>> {
        let defs = &self.contents.defs;
        let gap = defs.unique("slice gap")?[0];
        let spacing = defs.unique("pixel spacing")?;
        let thickness = defs.unique("slice thickness")?[0];
        let mut zooms = vec![spacing[0], spacing[1], thickness + gap];
        if ndim > 3 {
            let mut step = 1.0;
            if self.general_int("dyn_scan")? != 0 {
                let trs = self.general_floats("repetition_time")?;
                let (first, several) = (trs.first().copied(), trs.len() > 1);
                if several {
                    self.warnings
                        .push("multiple TRs found in .PAR file".to_owned());
                }
                step = first.ok_or_else(|| missing_general("repetition_time"))? / 1000.0;
            }
            zooms.push(step);
        }
        Ok(zooms)
    }

    /// Sorted by volume (complete volumes first, in the order the `.PAR` repeats slice
    /// numbers) and slice number (nibabel's `_lax_sort_order`).
    fn lax_sort_order(&self) -> Result<Vec<usize>> {
        let slice_nos = self.contents.defs.ints("slice number").unwrap_or(&[]);
        let vols = vol_numbers(slice_nos);
        let full = vol_is_full(slice_nos, self.general_int("max_slices")?)?;
        let mut order: Vec<usize> = (0..slice_nos.len()).collect();
        order.sort_by_key(|&i| (!full[i], vols[i], slice_nos[i]));
        Ok(order)
    }

    /// Sorted by image type, dynamic, ASL label, diffusion b value and direction, cardiac
    /// phase, echo and slice, then complete volumes first (nibabel's `_strict_sort_order`).
    fn strict_sort_order(&self) -> Result<Vec<usize>> {
        let defs = &self.contents.defs;
        let column = |name: &str| defs.numbers(name);
        let need = |name: &'static str| {
            column(name).ok_or_else(|| Error::format(format!("no {name:?} column")).field(name))
        };
        // Slowest first.
        let mut keys: Vec<Vec<f64>> = vec![need("image_type_mr")?, need("dynamic scan number")?];
        if let Some(labels) = column("label type") {
            keys.push(labels);
        }
        if self.general_int("diffusion")? != 0 {
            if let Some(bvals) =
                column("diffusion b value number").or_else(|| column("diffusion_b_factor"))
            {
                keys.push(bvals);
            }
            if let Some(bvecs) = column("gradient orientation number") {
                keys.push(bvecs);
            }
        }
        keys.push(need("cardiac phase number")?);
        keys.push(need("echo number")?);
        keys.push(need("slice number")?);
        let mut order: Vec<usize> = (0..defs.rows()).collect();
        order.sort_by(|&a, &b| {
            keys.iter()
                .map(|k| numpy_order(k[a], k[b]))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
        let slice_nos = defs.ints("slice number").unwrap_or(&[]);
        let sorted_slices: Vec<i64> = order.iter().map(|&i| slice_nos[i]).collect();
        let vols = vol_numbers(&sorted_slices);
        let full = vol_is_full(&sorted_slices, self.general_int("max_slices")?)?;
        // Complete volumes first, so trimming drops the partial ones; nibabel sorts partial
        // volumes first here and keeps them instead (docs/compat.md, PAR/REC).
        let mut second: Vec<usize> = (0..order.len()).collect();
        second.sort_by_key(|&i| (!full[i], vols[i]));
        Ok(second.into_iter().map(|i| order[i]).collect())
    }

    /// The `.REC` slice (line of the `.PAR`) at each slice position of the array, volume by
    /// volume (nibabel's `get_sorted_slice_indices`).
    pub fn sorted_slice_indices(&self) -> &[usize] {
        &self.sorted
    }

    /// The `.REC` array's shape: the in-plane size and every listed slice.
    pub fn rec_shape(&self) -> Result<[usize; 3]> {
        let inplane = self.contents.defs.unique("recon resolution")?;
        Ok([
            inplane[0] as usize,
            inplane[1] as usize,
            self.contents.defs.rows(),
        ])
    }

    /// Bytes of one stored slice, checked for overflow.
    fn slice_bytes(&self) -> Result<u64> {
        let [x, y, _] = self.rec_shape()?;
        (x as u64)
            .checked_mul(y as u64)
            .and_then(|n| n.checked_mul(self.geometry.data_dtype().dtype.itemsize() as u64))
            .ok_or_else(|| {
                Error::limit("a slice's size overflows 64 bits").field("recon resolution")
            })
    }

    /// The bytes of the `.REC` the listed slices take (all of them, used or not).
    pub fn rec_nbytes(&self) -> Result<u64> {
        self.slice_bytes()?
            .checked_mul(self.contents.defs.rows() as u64)
            .ok_or_else(|| {
                Error::limit("the .REC size overflows 64 bits").field("recon resolution")
            })
    }

    /// True when the array's slices are the `.REC`'s first ones in file order.
    pub fn is_in_file_order(&self) -> bool {
        self.sorted.iter().enumerate().all(|(i, &s)| i == s)
    }

    /// The `.REC` byte ranges `(offset, len)` of the array's slices in array order, slices
    /// next to each other in the file joined into one range.
    pub fn slice_ranges(&self) -> Result<Vec<(u64, u64)>> {
        let size = self.slice_bytes()?;
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for &index in &self.sorted {
            let start = (index as u64)
                .checked_mul(size)
                .ok_or_else(|| Error::limit("a slice offset overflows 64 bits"))?;
            match ranges.last_mut() {
                Some((offset, len)) if *offset + *len == start => *len += size,
                _ => ranges.push((start, size)),
            }
        }
        Ok(ranges)
    }

    /// Each array slice's slope and intercept under `method`, in array order (slice fastest,
    /// then volume): nibabel's `get_data_scaling`, flattened.
    pub fn data_scaling(&self, method: ParrecScaling) -> Result<(Vec<f64>, Vec<f64>)> {
        let defs = &self.contents.defs;
        let get = |name: &'static str| {
            defs.floats(name)
                .ok_or_else(|| Error::format(format!("no {name:?} column")).field(name))
        };
        let (rs, ri, ss) = (
            get("rescale slope")?,
            get("rescale intercept")?,
            get("scale slope")?,
        );
        Ok(self
            .sorted
            .iter()
            .map(|&r| match method {
                ParrecScaling::Dv => (rs[r], ri[r]),
                ParrecScaling::Fp => (1.0 / ss[r], ri[r] / (rs[r] * ss[r])),
            })
            .unzip())
    }

    /// The recording's slice orientation.
    pub fn slice_orientation(&self) -> Result<SliceOrientation> {
        let code = self.contents.defs.unique("slice orientation")?[0];
        match code as i64 {
            1 => Ok(SliceOrientation::Transverse),
            2 => Ok(SliceOrientation::Sagittal),
            3 => Ok(SliceOrientation::Coronal),
            _ => Err(Error::format(format!("Unknown slice orientation ({code})"))
                .field("slice orientation")),
        }
    }

    /// The affine to scanner (RAS) coordinates with the isocentre at zero.
    pub fn affine(&self) -> Result<Affine> {
        self.affine_from(AffineOrigin::Scanner)
    }

    /// The affine to RAS coordinates (nibabel's `get_affine(origin)`): centre the voxel grid,
    /// scale by the voxel sizes, permute to Philips' (P, S, L) axes, rotate by the midslice
    /// angulations (about L, then P, then S, the order that reproduces the scanner's own
    /// NIfTI exports), move the origin to the isocentre unless `origin` is the FOV centre,
    /// and turn PSL into RAS. Only the general information's angulation and off-centre are
    /// used, as in nibabel.
    pub fn affine_from(&self, origin: AffineOrigin) -> Result<Affine> {
        let permute = self.slice_orientation()?.to_psl();
        let angles = self.general_floats("angulation")?;
        let [ap, fh, rl] =
            [angles[0], angles[1], angles[2]].map(|d| d * (std::f64::consts::PI / 180.0));
        let rot = mat3_mul(
            &mat3_mul(&rotation(2, rl), &rotation(0, ap)),
            &rotation(1, fh),
        );
        let (shape, zooms) = (self.geometry.data_shape(), self.geometry.zooms());
        if shape.len() < 3 || zooms.len() < 3 {
            return Err(Error::usage(format!(
                "a PAR/REC affine needs 3 axes and voxel sizes, not shape {shape:?}"
            )));
        }
        let mut to_center = identity();
        let mut zoomer = identity();
        for axis in 0..3 {
            to_center[axis][3] = -(shape[axis] as f64 - 1.0) / 2.0;
            zoomer[axis][axis] = zooms[axis];
        }
        let mut psl = matmul(
            &matmul(&matmul(&embed(&rot), &embed(&permute)), &zoomer),
            &to_center,
        );
        if origin == AffineOrigin::Scanner {
            let offset = self.general_floats("off_center")?;
            for axis in 0..3 {
                psl[axis][3] += offset[axis];
            }
        }
        let psl_to_ras = embed(&[[0., 0., -1.], [-1., 0., 0.], [0., 1., 0.]]);
        Ok(matmul(&psl_to_ras, &psl))
    }

    /// The labels that change from volume to volume, each with its value per volume (from
    /// slice 1 of each), in nibabel's order (`get_volume_labels`).
    pub fn volume_labels(&self) -> Vec<(&'static str, Vec<i64>)> {
        let defs = &self.contents.defs;
        let slice_nos = defs.ints("slice number").unwrap_or(&[]);
        [
            "cardiac phase number",
            "echo number",
            "label type",
            "image_type_mr",
            "dynamic scan number",
            "scanning sequence",
            "gradient orientation number",
            "diffusion b value number",
        ]
        .into_iter()
        .filter_map(|name| {
            let (def, _) = defs.column(name)?;
            let values = defs.ints(name)?;
            (values.iter().collect::<HashSet<_>>().len() > 1).then(|| {
                let per_volume = self
                    .sorted
                    .iter()
                    .filter(|&&r| slice_nos[r] == 1)
                    .map(|&r| values[r])
                    .collect();
                (def.name, per_volume)
            })
        })
        .collect()
    }

    /// The b values and b vectors of a diffusion recording, one per volume, the vectors turned
    /// into the voxel axes (nibabel's `get_bvals_bvecs`): `None` for a recording without
    /// diffusion, or with one volume; no vectors in a V4 file. Values that change within a
    /// volume are an error.
    #[allow(clippy::type_complexity)]
    pub fn bvals_bvecs(&self) -> Result<(Option<Vec<f64>>, Option<Vec<[f64; 3]>>)> {
        let shape = self.geometry.data_shape();
        if self.general_int("diffusion")? == 0 || shape.len() != 4 {
            return Ok((None, None));
        }
        let (n_slices, n_vols) = (shape[2], shape[3]);
        if self.sorted.len() < n_slices * n_vols {
            return Err(Error::usage(format!(
                "the shape {shape:?} has more slices than the recording's {}",
                self.sorted.len()
            )));
        }
        let defs = &self.contents.defs;
        let factors = defs
            .floats("diffusion_b_factor")
            .ok_or_else(|| missing_column("diffusion_b_factor"))?;
        let at = |v: usize, z: usize| self.sorted[z + n_slices * v];
        let mut bvals = Vec::with_capacity(n_vols);
        for v in 0..n_vols {
            let first = factors[at(v, 0)];
            if (1..n_slices).any(|z| factors[at(v, z)] != first) {
                return Err(
                    Error::format(format!("the b value changes within volume {v}"))
                        .field("diffusion_b_factor"),
                );
            }
            bvals.push(first);
        }
        let Some(vectors) = defs.floats("diffusion") else {
            return Ok((Some(bvals), None));
        };
        let permute = self.slice_orientation()?.to_psl();
        let mut bvecs = Vec::with_capacity(n_vols);
        for v in 0..n_vols {
            let row = |z: usize| {
                let r = at(v, z);
                [vectors[3 * r], vectors[3 * r + 1], vectors[3 * r + 2]]
            };
            let first = row(0);
            if (1..n_slices).any(|z| row(z) != first) {
                return Err(Error::format(format!(
                    "the diffusion direction changes within volume {v}"
                ))
                .field("diffusion"));
            }
            // The permutation's inverse is its transpose; `+ 0.0` makes a -0.0 product 0.0,
            // as nibabel's apply_affine adds its (zero) translation.
            bvecs.push(std::array::from_fn(|i| {
                (0..3).map(|j| permute[j][i] * first[j]).sum::<f64>() + 0.0
            }));
        }
        Ok((Some(bvals), Some(bvecs)))
    }

    /// The NIfTI `descrip` a conversion writes (nibabel's `as_analyze_map`): exam name,
    /// patient name, exam date without spaces and protocol, joined by `;`, cut to 80 bytes.
    pub fn nifti_descrip(&self) -> Vec<u8> {
        let text = format!(
            "{};{};{};{}",
            self.general_text("exam_name"),
            self.general_text("patient_name"),
            self.general_text("exam_date").replace(' ', ""),
            self.general_text("protocol_name"),
        );
        let mut bytes = text.into_bytes();
        bytes.truncate(80);
        bytes
    }

    /// The NIfTI `xyzt_units` a conversion writes: millimetres, and seconds for a recording
    /// of more than one dynamic.
    pub fn nifti_xyzt_units(&self) -> i64 {
        let dynamic = matches!(self.attribute("max_dynamics"), Some(FieldValue::Int(n)) if *n > 1);
        if dynamic { 2 + 8 } else { 2 }
    }

    /// The shape `(x, y, slices[, volumes])`, stored type (uint8 or uint16, little-endian)
    /// and voxel sizes (for a 4-D image the time step: seconds, or 1).
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The geometry, to change in memory (as nibabel's `set_data_shape` and friends do).
    pub fn geometry_mut(&mut self) -> &mut Geometry {
        &mut self.geometry
    }

    /// The format.
    pub fn format(&self) -> crate::ImageFormat {
        crate::ImageFormat::Parrec
    }
}

/// numpy's sort order for floats: NaN after everything, `-0.0` equal to `0.0`.
fn numpy_order(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b)
        .unwrap_or_else(|| a.is_nan().cmp(&b.is_nan()))
}

fn missing_general(short: &'static str) -> Error {
    let key = general_key_of(short).unwrap_or(short);
    Error::format(format!(
        "the .PAR has no usable {key:?} general information line"
    ))
    .field(key)
}

fn missing_column(name: &'static str) -> Error {
    Error::format(format!("no {name:?} column")).field(name)
}

type Mat3 = [[f64; 3]; 3];

fn mat3_mul(a: &Mat3, b: &Mat3) -> Mat3 {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

/// A rotation by `angle` about `axis` (0 x, 1 y, 2 z), counter-clockwise looking from the
/// positive end (nibabel's `euler2mat` with one angle).
fn rotation(axis: usize, angle: f64) -> Mat3 {
    if angle == 0.0 {
        return embed3();
    }
    let (s, c) = angle.sin_cos();
    match axis {
        0 => [[1., 0., 0.], [0., c, -s], [0., s, c]],
        1 => [[c, 0., s], [0., 1., 0.], [-s, 0., c]],
        _ => [[c, -s, 0.], [s, c, 0.], [0., 0., 1.]],
    }
}

fn embed3() -> Mat3 {
    [[1., 0., 0.], [0., 1., 0.], [0., 0., 1.]]
}

fn identity() -> Affine {
    embed(&embed3())
}

fn embed(m: &Mat3) -> Affine {
    let mut a = [[0.0; 4]; 4];
    for i in 0..3 {
        a[i][..3].copy_from_slice(&m[i]);
    }
    a[3][3] = 1.0;
    a
}

/// Whether `bytes` look like the start of a `.PAR` file (its first line, nibabel's
/// `DATA DESCRIPTION FILE` banner).
pub fn looks_like_par(bytes: &[u8]) -> bool {
    let start = &bytes[..bytes.len().min(200)];
    let text = String::from_utf8_lossy(start);
    text.trim_start()
        .starts_with("# === DATA DESCRIPTION FILE ===")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two slices of a 2x2 V4 recording, written by hand (not through any writer of ours).
    const V4_PAR: &str = "\
# === DATA DESCRIPTION FILE ======================================================
# CLINICAL TRYOUT             Research image export tool     V4
# === GENERAL INFORMATION ========================================================
.    Patient name                       :   phantom
.    Examination name                   :   exam one
.    Protocol name                      :   EPI
.    Examination date/time              :   2014.02.14 / 09:00:57
.    Max. number of echoes              :   1
.    Max. number of slices/locations    :   2
.    Max. number of dynamics            :   1
.    Scan resolution  (x, y)            :   2  2
.    Repetition time [msec]             :   2000.000
.    Angulation midslice(ap,fh,rl)[degr]:   0.000  0.000  0.000
.    Off Centre midslice(ap,fh,rl) [mm] :   1.000  2.000  3.000
.    Dynamic scan      <0=no 1=yes> ?   :   0
.    Diffusion         <0=no 1=yes> ?   :   0
#
# === IMAGE INFORMATION ==========================================================
#  sl ec  dyn ph ty    idx pix scan% rec size                (re)scale              window        angulation              offcentre        thick   gap   info      spacing     echo     dtime   ttime    diff  avg  flip    freq   RR-int  turbo delay b grad cont anis         diffusion       L.ty

 2 1 1 1 0 2 1 16 100 2 2 0.0 2.0 0.5 100 200 0.0 0.0 0.0 0.0 0.0 0.0 4.0 1.0 0 1 0 2 1.5 1.5 30.0 0.0 0.0 0.0 1 90.0 0 0 0 1 0.0
 1 1 1 1 0 2 0 16 100 2 2 1.0 4.0 0.25 100 200 0.0 0.0 0.0 0.0 0.0 0.0 4.0 1.0 0 1 0 2 1.5 1.5 30.0 0.0 0.0 0.0 1 90.0 0 0 0 1 0.0

# === END OF DATA DESCRIPTION FILE ===============================================
";

    #[test]
    fn reads_the_general_information_by_short_name() {
        let h = ParrecHeader::parse(V4_PAR.as_bytes()).unwrap();
        assert_eq!(h.version(), ParrecVersion::V4);
        assert_eq!(
            h.attribute("patient_name"),
            Some(&FieldValue::Bytes(b"phantom".to_vec()))
        );
        assert_eq!(
            h.attribute("exam_date"),
            Some(&FieldValue::Bytes(b"2014.02.14 / 09:00:57".to_vec()))
        );
        assert_eq!(h.attribute("max_slices"), Some(&FieldValue::Int(2)));
        assert_eq!(
            h.attribute("scan_resolution"),
            Some(&FieldValue::Ints(vec![2, 2]))
        );
        // The "[msec]" spelling reads into the same name.
        assert_eq!(
            h.attribute("repetition_time"),
            Some(&FieldValue::Floats(vec![2000.0]))
        );
        assert_eq!(
            h.nifti_descrip(),
            b"exam one;phantom;2014.02.14/09:00:57;EPI".to_vec()
        );
        assert_eq!(h.nifti_xyzt_units(), 2);
    }

    #[test]
    fn sorts_slices_by_number_and_scales_each() {
        let h = ParrecHeader::parse(V4_PAR.as_bytes()).unwrap();
        assert_eq!(h.geometry().data_shape(), [2, 2, 2]);
        assert_eq!(h.geometry().zooms(), [1.5, 1.5, 5.0]);
        // Line 2 holds slice 1.
        assert_eq!(h.sorted_slice_indices(), &[1, 0]);
        assert!(!h.is_in_file_order());
        assert_eq!(h.slice_ranges().unwrap(), vec![(8, 8), (0, 8)]);
        assert_eq!(
            h.data_scaling(ParrecScaling::Dv).unwrap(),
            (vec![4.0, 2.0], vec![1.0, 0.0])
        );
        // FP = DV / (RS * SS): slope 1/SS, intercept RI/(RS*SS).
        assert_eq!(
            h.data_scaling(ParrecScaling::Fp).unwrap(),
            (vec![4.0, 2.0], vec![1.0, 0.0])
        );
    }

    #[test]
    fn affine_centres_the_grid_and_moves_to_the_isocentre() {
        let h = ParrecHeader::parse(V4_PAR.as_bytes()).unwrap();
        let fov = h.affine_from(AffineOrigin::Fov).unwrap();
        let scanner = h.affine().unwrap();
        // Transverse: i -> L, j -> P, k -> S; then L = -R, P = -A.
        assert_eq!([fov[0][0], fov[1][1], fov[2][2]], [-1.5, -1.5, 5.0]);
        // Centre voxel (0.5, 0.5, 0.5) maps to the FOV centre.
        let centre: Vec<f64> = (0..3)
            .map(|r| fov[r][0] * 0.5 + fov[r][1] * 0.5 + fov[r][2] * 0.5 + fov[r][3])
            .collect();
        assert!(centre.iter().all(|c| c.abs() < 1e-12), "{centre:?}");
        // Off-centre (ap, fh, rl) = (1, 2, 3) in PSL is (-3, -1, 2) in RAS.
        assert_eq!(
            [
                scanner[0][3] - fov[0][3],
                scanner[1][3] - fov[1][3],
                scanner[2][3] - fov[2][3]
            ],
            [-3.0, -1.0, 2.0]
        );
    }

    #[test]
    fn refuses_what_nibabel_refuses_with_the_field_named() {
        let e = ParrecHeader::parse(V4_PAR.replace(" 16 100", " 32 100").as_bytes()).unwrap_err();
        assert_eq!(e.field_name(), Some("image pixel size"));
        let e = ParrecHeader::parse(V4_PAR.replace("V4\n", "V9\n").as_bytes()).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Unsupported);
        let e = ParrecHeader::parse(
            V4_PAR
                .replace("1 90.0 0 0 0 1 0.0\n\n", "1 90.0\n\n")
                .as_bytes(),
        )
        .unwrap_err();
        assert_eq!(e.field_name(), Some("cardiac frequency"));
        let e = ParrecHeader::parse(V4_PAR.replace(":   2\n", ":   3\n").as_bytes()).unwrap_err();
        assert!(
            e.to_string()
                .contains("Found 2 slice values, but expected 3"),
            "{e}"
        );
        let e = ParrecHeader::parse(V4_PAR.replace(" 2 2 0.0", " 2 3 0.0").as_bytes()).unwrap_err();
        assert_eq!(e.field_name(), Some("recon resolution"));
        let e = ParrecHeader::parse(b"# nothing\n").unwrap_err();
        assert_eq!(e.field_name(), Some("version"));
    }

    #[test]
    fn truncated_recordings_read_their_complete_volumes_when_permitted() {
        // Three lines: slices 1, 2 of volume 0 and slice 1 of volume 1.
        let par = V4_PAR.replace(
            "\n\n# === END",
            "\n 1 1 2 1 0 2 2 16 100 2 2 1.0 4.0 0.25 100 200 0.0 0.0 0.0 0.0 0.0 0.0 4.0 1.0 0 1 0 2 1.5 1.5 30.0 0.0 0.0 0.0 1 90.0 0 0 0 1 0.0\n\n# === END",
        );
        assert!(ParrecHeader::parse(par.as_bytes()).is_err());
        for strict_sort in [false, true] {
            let options = ParrecOptions {
                permit_truncated: true,
                strict_sort,
                ..Default::default()
            };
            let h = ParrecHeader::parse_with(par.as_bytes(), options).unwrap();
            assert_eq!(h.geometry().data_shape(), [2, 2, 2]);
            assert_eq!(
                h.sorted_slice_indices(),
                &[1, 0],
                "strict_sort {strict_sort}"
            );
            assert!(h.warnings().iter().any(|w| w.contains("partial volume")));
        }
    }

    #[test]
    fn vol_numbers_count_repeats() {
        assert_eq!(vol_numbers(&[1, 2, 3, 1, 2, 3]), vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(
            vol_is_full(&[1, 2, 3, 1, 2], 3).unwrap(),
            vec![true, true, true, false, false]
        );
    }

    #[test]
    fn rotations_follow_the_right_hand_rule() {
        let r = rotation(2, std::f64::consts::FRAC_PI_2);
        assert!((r[1][0] - 1.0).abs() < 1e-15 && (r[0][1] + 1.0).abs() < 1e-15);
    }
}
