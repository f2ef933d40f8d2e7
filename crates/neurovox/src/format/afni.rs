//! AFNI `.HEAD` attribute files (nibabel's `brikhead.py`, `AFNIHeader`).
//!
//! An AFNI dataset is a text `.HEAD` of attributes and a raw `.BRIK` (often `.BRIK.gz`) of
//! sub-bricks: `DATASET_DIMENSIONS[:DATASET_RANK[0]]` voxels in Fortran order, one sub-brick
//! after the other (`DATASET_RANK[1]` of them), so the array is `(x, y, z, sub-brick)` from
//! byte 0. Each attribute is a block of lines separated from the next by a blank line:
//!
//! ```text
//! type = float-attribute
//! name = BRICK_FLOAT_FACS
//! count = 1
//!    3.883363e-08
//! ```
//!
//! The grammar is nibabel's, so a file reads to the same attributes: a block must hold exactly
//! one `type = (string|integer|float)-attribute` line and one `name = WORD` line; the values are
//! the lines after the third, joined by spaces; a string starts with `'` (dropped) and ends with
//! `~`s (AFNI's NUL, dropped). Where nibabel fails on a file AFNI reads (a blank line at the end,
//! no `BYTEORDER_STRING`, no `IJK_TO_DICOM_REAL`, the complex and 32-bit types), we read it as
//! AFNI's `README.attributes` defines it (docs/compat.md, "AFNI"). The two patterns are matched
//! by hand: a regex crate for two fixed patterns would cost more build than it saves.

use super::affine::Affine;
use super::fields::FieldValue;
use super::geometry::Geometry;
use super::{check_declared_shape, declared_nbytes};
use crate::dtype::{ByteOrder, DataType, StorageDtype};
use crate::error::{Error, Result};

/// AFNI's `BRICK_TYPES` codes (README.attributes): `(code, type)`. nibabel knows 0, 1, 3 and
/// reads 5 as complex128; AFNI's complex is two float32s (docs/compat.md).
const BRICK_TYPES: [(i64, DataType); 6] = [
    (0, DataType::UInt8),
    (1, DataType::Int16),
    (2, DataType::Int32),
    (3, DataType::Float32),
    (4, DataType::Float64),
    (5, DataType::Complex64),
];

/// One parsed `.HEAD`: its attributes in file order, and the data shape, type and voxel sizes
/// they give (which, as in nibabel's `SpatialHeader`, can be changed in memory afterwards).
///
/// ```
/// use neurovox::format::{AfniHeader, FieldValue};
/// use neurovox::DataType;
/// let head = b"type = integer-attribute\nname = DATASET_RANK\ncount = 2\n 3 2\n\n\
/// type = integer-attribute\nname = DATASET_DIMENSIONS\ncount = 3\n 4 5 6\n\n\
/// type = integer-attribute\nname = BRICK_TYPES\ncount = 2\n 1 1\n\n\
/// type = float-attribute\nname = DELTA\ncount = 3\n 2 -2 3\n\n\
/// type = string-attribute\nname = BYTEORDER_STRING\ncount = 10\n'LSB_FIRST~\n";
/// let h = AfniHeader::parse(head)?;
/// assert_eq!(h.geometry().data_shape(), [4, 5, 6, 2]);
/// assert_eq!(h.geometry().data_dtype().dtype, DataType::Int16);
/// assert_eq!(h.geometry().zooms(), [2.0, 2.0, 3.0, 0.0]);
/// assert_eq!(h.attribute("BYTEORDER_STRING"), Some(&FieldValue::Bytes(b"LSB_FIRST".to_vec())));
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AfniHeader {
    attributes: Vec<(String, FieldValue)>,
    geometry: Geometry,
}

impl AfniHeader {
    /// Parses a whole `.HEAD` file.
    pub fn parse(bytes: &[u8]) -> Result<AfniHeader> {
        let attributes = parse_attributes(bytes)?;
        Self::from_attributes(attributes)
    }

    /// A header from attributes already parsed (nibabel's `AFNIHeader(info)`): a later
    /// attribute of the same name replaces an earlier one, as in nibabel's `info` dict.
    pub fn from_attributes(attributes: Vec<(String, FieldValue)>) -> Result<AfniHeader> {
        let mut header = AfniHeader {
            attributes,
            geometry: Geometry::new(
                Vec::new(),
                StorageDtype::new(DataType::UInt8, ByteOrder::NATIVE),
                Vec::new(),
            ),
        };
        let dtype = header.stored_dtype()?;
        let shape = header.declared_shape()?;
        let zooms = header.declared_zooms()?;
        header.geometry = Geometry::new(shape, dtype, zooms);
        Ok(header)
    }

    /// A header with no attributes describing an empty array (shape `[0]`, uint8 in `order`):
    /// what [`crate::Header::new`] gives for AFNI, to be filled by `set_data_*` when an image
    /// is made in memory.
    pub fn empty(order: ByteOrder) -> AfniHeader {
        AfniHeader {
            attributes: Vec::new(),
            geometry: Geometry::new(
                vec![0],
                StorageDtype::new(DataType::UInt8, order),
                vec![1.0],
            ),
        }
    }

    /// Every attribute in file order (duplicates included).
    pub fn attributes(&self) -> &[(String, FieldValue)] {
        &self.attributes
    }

    /// The value of attribute `name` (the last one, if it appears twice). Strings are
    /// [`FieldValue::Bytes`] without the leading `'` and the trailing `~`s; one number is a
    /// scalar, more are a list, as nibabel's `info` dict has them.
    pub fn attribute(&self, name: &str) -> Option<&FieldValue> {
        self.attributes
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The format.
    pub fn format(&self) -> crate::ImageFormat {
        crate::ImageFormat::Afni
    }

    /// The shape (the spatial dimensions and the number of sub-bricks), stored type and voxel
    /// sizes (`|DELTA|`, and the time step `TAXIS_FLOATS[1]`, 0 without one).
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The geometry, to change in memory (as nibabel's `set_data_shape` and friends do).
    pub fn geometry_mut(&mut self) -> &mut Geometry {
        &mut self.geometry
    }

    /// The voxel-to-RAS affine: `IJK_TO_DICOM_REAL` (else `IJK_TO_DICOM`, else built from
    /// `ORIENT_SPECIFIC`, `ORIGIN` and `DELTA` as AFNI does) with its first two rows negated,
    /// AFNI's DICOM order (LPS) turned into RAS.
    pub fn affine(&self) -> Result<Affine> {
        let dicom = match ["IJK_TO_DICOM_REAL", "IJK_TO_DICOM"]
            .into_iter()
            .find_map(|name| self.attribute(name).map(|v| (name, v)))
        {
            Some((name, value)) => {
                let v = floats(value, name)?;
                if v.len() < 12 {
                    return Err(Error::header_value(format!(
                        "{name} has {} values; an affine needs 12",
                        v.len()
                    ))
                    .field(name));
                }
                let mut m = [[0.0; 4]; 3];
                for (k, x) in v.iter().take(12).enumerate() {
                    m[k / 4][k % 4] = *x;
                }
                m
            }
            None => self.affine_from_orientation()?,
        };
        Ok([
            dicom[0].map(|x| -x),
            dicom[1].map(|x| -x),
            dicom[2],
            [0.0, 0.0, 0.0, 1.0],
        ])
    }

    /// AFNI's own rule when no matrix is stored: axis `i` runs along DICOM axis
    /// `ORIENT_SPECIFIC[i] / 2`, from `ORIGIN[i]` in steps of `DELTA[i]` (signed).
    fn affine_from_orientation(&self) -> Result<[[f64; 4]; 3]> {
        let need = |name: &'static str| {
            let v = self.attribute(name).ok_or_else(|| {
                Error::header_value(format!(
                    "no IJK_TO_DICOM_REAL, and no {name} to build the affine from"
                ))
                .field("IJK_TO_DICOM_REAL")
            })?;
            Ok::<_, Error>((name, v))
        };
        let (_, orient) = need("ORIENT_SPECIFIC")?;
        let orient = ints(orient, "ORIENT_SPECIFIC")?;
        let origin = floats(need("ORIGIN")?.1, "ORIGIN")?;
        let delta = floats(need("DELTA")?.1, "DELTA")?;
        let mut m = [[0.0; 4]; 3];
        let mut used = [false; 3];
        for axis in 0..3 {
            let (Some(&code), Some(&o), Some(&d)) =
                (orient.get(axis), origin.get(axis), delta.get(axis))
            else {
                return Err(Error::header_value(
                    "ORIENT_SPECIFIC, ORIGIN and DELTA need 3 values each",
                )
                .field("ORIENT_SPECIFIC"));
            };
            let row = match code {
                0..=5 => (code / 2) as usize,
                _ => {
                    return Err(Error::header_value(format!(
                        "ORIENT_SPECIFIC[{axis}] = {code}: AFNI's codes are 0 to 5"
                    ))
                    .field("ORIENT_SPECIFIC"));
                }
            };
            if std::mem::replace(&mut used[row], true) {
                return Err(Error::header_value(format!(
                    "ORIENT_SPECIFIC {orient:?} names one direction twice"
                ))
                .field("ORIENT_SPECIFIC"));
            }
            m[row][axis] = d;
            m[row][3] = o;
        }
        Ok(m)
    }

    /// One factor per sub-brick (`BRICK_FLOAT_FACS`, a zero meaning 1), or `None` when there
    /// are none or all are zero: nibabel's `get_data_scaling`.
    pub fn data_scaling(&self) -> Result<Option<Vec<f64>>> {
        let Some(value) = self.attribute("BRICK_FLOAT_FACS") else {
            return Ok(None);
        };
        let facs = floats(value, "BRICK_FLOAT_FACS")?;
        if facs.iter().all(|&f| f == 0.0) {
            return Ok(None);
        }
        let bricks = self.geometry.data_shape().last().copied().unwrap_or(1);
        if facs.len() > bricks {
            return Err(Error::header_value(format!(
                "BRICK_FLOAT_FACS has {} factors for {bricks} sub-bricks",
                facs.len()
            ))
            .field("BRICK_FLOAT_FACS"));
        }
        let mut scale = vec![1.0; bricks];
        for (s, &f) in scale.iter_mut().zip(&facs) {
            if f != 0.0 {
                *s = f;
            }
        }
        Ok(Some(scale))
    }

    /// The sub-brick labels (`BRICK_LABS` split at `~`), nibabel's `get_volume_labels`.
    pub fn volume_labels(&self) -> Option<Vec<String>> {
        match self.attribute("BRICK_LABS")? {
            FieldValue::Bytes(b) => Some(
                String::from_utf8_lossy(b)
                    .split('~')
                    .map(str::to_owned)
                    .collect(),
            ),
            other => Some(vec![other.to_string()]),
        }
    }

    /// The template space (`TEMPLATE_SPACE`: `ORIG`, `TLRC`, `MNI`, …; empty without one),
    /// nibabel's `get_space`.
    pub fn space(&self) -> String {
        match self.attribute("TEMPLATE_SPACE") {
            Some(FieldValue::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    }

    /// The number of data bytes the `.BRIK` must hold.
    pub fn data_nbytes(&self) -> Result<u64> {
        declared_nbytes(self.geometry.data_shape(), self.geometry.data_dtype().dtype)
    }

    fn stored_dtype(&self) -> Result<StorageDtype> {
        let value = self.attribute("BRICK_TYPES").ok_or_else(|| {
            Error::header_value("no BRICK_TYPES attribute: the data type is unknown")
                .field("BRICK_TYPES")
        })?;
        let codes = ints(value, "BRICK_TYPES")?;
        let Some(&first) = codes.first() else {
            return Err(Error::header_value("BRICK_TYPES is empty").field("BRICK_TYPES"));
        };
        if codes.iter().any(|&c| c != first) {
            return Err(Error::unsupported(format!(
                "BRICK_TYPES {codes:?}: sub-bricks of different data types cannot be one array"
            ))
            .field("BRICK_TYPES"));
        }
        let dtype = BRICK_TYPES
            .iter()
            .find(|(code, _)| *code == first)
            .map(|&(_, t)| t)
            .ok_or_else(|| {
                Error::unsupported(format!(
                    "BRICK_TYPES {first}: not a data type AFNI datasets store as an array \
                     (0 byte, 1 short, 2 int, 3 float, 4 double, 5 complex)"
                ))
                .field("BRICK_TYPES")
            })?;
        let order = match self.attribute("BYTEORDER_STRING") {
            Some(FieldValue::Bytes(b)) if b == b"LSB_FIRST" => ByteOrder::Little,
            Some(FieldValue::Bytes(b)) if b == b"MSB_FIRST" => ByteOrder::Big,
            _ => ByteOrder::NATIVE,
        };
        Ok(StorageDtype::new(dtype, order))
    }

    fn declared_shape(&self) -> Result<Vec<usize>> {
        let rank = self.attribute("DATASET_RANK").ok_or_else(|| {
            Error::header_value("no DATASET_RANK attribute").field("DATASET_RANK")
        })?;
        let rank = ints(rank, "DATASET_RANK")?;
        let dims = self.attribute("DATASET_DIMENSIONS").ok_or_else(|| {
            Error::header_value("no DATASET_DIMENSIONS attribute").field("DATASET_DIMENSIONS")
        })?;
        let dims = ints(dims, "DATASET_DIMENSIONS")?;
        let (Some(&spatial), Some(&bricks)) = (rank.first(), rank.get(1)) else {
            return Err(Error::header_value(format!(
                "DATASET_RANK {rank:?} needs two values: spatial axes and sub-bricks"
            ))
            .field("DATASET_RANK"));
        };
        let spatial = usize::try_from(spatial)
            .ok()
            .filter(|&n| (1..=3).contains(&n) && n <= dims.len())
            .ok_or_else(|| {
                Error::header_value(format!(
                    "DATASET_RANK[0] = {spatial}: needs 1 to 3 spatial axes, and \
                     DATASET_DIMENSIONS has {} values",
                    dims.len()
                ))
                .field("DATASET_RANK")
            })?;
        if bricks <= 0 {
            return Err(Error::header_value(format!(
                "DATASET_RANK[1] = {bricks}: a dataset has at least one sub-brick"
            ))
            .field("DATASET_RANK"));
        }
        let mut declared = dims[..spatial].to_vec();
        declared.push(bricks);
        check_declared_shape(&declared, "DATASET_DIMENSIONS", 0)
    }

    fn declared_zooms(&self) -> Result<Vec<f64>> {
        let delta = self
            .attribute("DELTA")
            .ok_or_else(|| Error::header_value("no DELTA attribute").field("DELTA"))?;
        let mut zooms: Vec<f64> = floats(delta, "DELTA")?.iter().map(|d| d.abs()).collect();
        let step = match self.attribute("TAXIS_FLOATS") {
            Some(v) => floats(v, "TAXIS_FLOATS")?.get(1).copied().unwrap_or(0.0),
            None => 0.0,
        };
        zooms.push(step);
        Ok(zooms)
    }
}

/// The numbers of a numeric attribute.
fn floats(value: &FieldValue, name: &'static str) -> Result<Vec<f64>> {
    match value {
        FieldValue::Float(v) => Ok(vec![*v]),
        FieldValue::Floats(v) => Ok(v.clone()),
        FieldValue::Int(v) => Ok(vec![*v as f64]),
        FieldValue::Ints(v) => Ok(v.iter().map(|&i| i as f64).collect()),
        FieldValue::Bytes(_) => Err(Error::header_value(format!(
            "{name} is a string attribute; it should hold numbers"
        ))
        .field(name)),
    }
}

/// The integers of an integer attribute.
fn ints(value: &FieldValue, name: &'static str) -> Result<Vec<i64>> {
    match value {
        FieldValue::Int(v) => Ok(vec![*v]),
        FieldValue::Ints(v) => Ok(v.clone()),
        _ => Err(Error::header_value(format!("{name} should be an integer attribute")).field(name)),
    }
}

/// Splits a `.HEAD` file into its attributes, in file order.
pub fn parse_attributes(bytes: &[u8]) -> Result<Vec<(String, FieldValue)>> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::format(format!(
            "not an AFNI .HEAD file: byte {} is not UTF-8 text",
            e.valid_up_to()
        ))
        .offset(e.valid_up_to() as u64)
    })?;
    // Python's text mode, which nibabel reads with, turns every line ending into '\n'.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut attributes = Vec::new();
    let mut offset = 0u64;
    for block in text.split("\n\n") {
        // nibabel fails on an empty block (a file ending in a blank line); AFNI skips it.
        if !block.trim().is_empty() {
            attributes.push(parse_attribute(block).map_err(|e| e.offset(offset))?);
        }
        offset += block.len() as u64 + 2;
    }
    Ok(attributes)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum AttributeType {
    String,
    Integer,
    Float,
}

/// One attribute block (nibabel's `_unpack_var`).
fn parse_attribute(block: &str) -> Result<(String, FieldValue)> {
    let shown = || block.chars().take(120).collect::<String>();
    let types = matches_of(block, "type", |rest| {
        [
            ("string", AttributeType::String),
            ("integer", AttributeType::Integer),
            ("float", AttributeType::Float),
        ]
        .into_iter()
        .find_map(|(word, t)| {
            let after = rest.strip_prefix(word)?.strip_prefix("-attribute")?;
            ends_line(after).then_some(t)
        })
    });
    let [kind] = types[..] else {
        return Err(Error::header_value(format!(
            "an attribute needs one 'type = string|integer|float-attribute' line: {:?}",
            shown()
        ))
        .field("type"));
    };
    let names = matches_of(block, "name", |rest| {
        let word_end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (word_end > 0 && ends_line(&rest[word_end..])).then(|| rest[..word_end].to_owned())
    });
    let [name] = &names[..] else {
        return Err(Error::header_value(format!(
            "an attribute needs one 'name = WORD' line: {:?}",
            shown()
        ))
        .field("name"));
    };
    let values = block.trim().lines().skip(3).collect::<Vec<_>>().join(" ");
    // Each whitespace-separated token parsed as the attribute's number type.
    fn numbers<T: std::str::FromStr>(values: &str, name: &str) -> Result<Vec<T>> {
        values
            .split_whitespace()
            .map(|t| {
                t.parse::<T>().map_err(|_| {
                    Error::header_value(format!(
                        "attribute {name}: {t:?} is not a number of its type"
                    ))
                    .field(name.to_owned())
                })
            })
            .collect()
    }
    let value = match kind {
        AttributeType::String => {
            let text = values.replacen('\'', "", 1);
            FieldValue::Bytes(text.trim_end_matches('~').as_bytes().to_vec())
        }
        // One number is a scalar, more a list, as nibabel's `info` has them.
        AttributeType::Integer => match numbers::<i64>(&values, name)?[..] {
            [one] => FieldValue::Int(one),
            ref v => FieldValue::Ints(v.to_vec()),
        },
        AttributeType::Float => match numbers::<f64>(&values, name)?[..] {
            [one] => FieldValue::Float(one),
            ref v => FieldValue::Floats(v.to_vec()),
        },
    };
    Ok((name.clone(), value))
}

/// Every match of `key \s* = \s* <tail>` in `text`, where `tail` reads what follows the `=`
/// and its spaces (the two patterns of nibabel's `TYPE_RE` and `NAME_RE`).
fn matches_of<T>(text: &str, key: &str, tail: impl Fn(&str) -> Option<T>) -> Vec<T> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(key) {
        let start = from + at;
        from = start + key.len();
        let rest = text[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        if let Some(t) = tail(rest.trim_start()) {
            found.push(t);
        }
    }
    found
}

/// True when `rest` starts with white space that holds a line break (`\s*\n`).
fn ends_line(rest: &str) -> bool {
    rest.chars()
        .take_while(|c| c.is_whitespace())
        .any(|c| c == '\n')
}

/// Whether `bytes` look like the start of an AFNI `.HEAD` file: an attribute block first.
pub fn looks_like_head(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]);
    let first = text.trim_start();
    first.starts_with("type") && first.contains("-attribute")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\ntype = string-attribute\nname = TYPESTRING\ncount = 15\n'3DIM_HEAD_ANAT~\n\n\
type = integer-attribute\nname = ORIENT_SPECIFIC\ncount = 3\n 1 2 4\n\n\
type  = float-attribute\nname  = ORIGIN\ncount = 3\n             66             87            -54\n\n\
type  = float-attribute\nname  = DELTA\ncount = 3\n             -3             -3              3\n\n\
type  = float-attribute\nname  = IJK_TO_DICOM_REAL\ncount = 12\n             -3              0              0             66              0\n             -3              0             87              0              0\n              3            -54\n\n\
type = integer-attribute\nname = DATASET_RANK\ncount = 8\n 3 1 0 0 0\n 0 0 0\n\n\
type = integer-attribute\nname = DATASET_DIMENSIONS\ncount = 5\n 47 54 43 0 0\n\n\
type = integer-attribute\nname = BRICK_TYPES\ncount = 1\n 1\n\n\
type  = float-attribute\nname  = BRICK_FLOAT_FACS\ncount = 1\n   3.883363e-08\n\n\
type = string-attribute\nname = BRICK_LABS\ncount = 3\n'#0~\n\n\
type = string-attribute\nname = TEMPLATE_SPACE\ncount = 5\n'TLRC~\n\n\
type = string-attribute\nname = BYTEORDER_STRING\ncount = 10\n'MSB_FIRST~\n";

    #[test]
    fn a_head_file_gives_nibabels_values() {
        let h = AfniHeader::parse(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(h.geometry().data_shape(), [47, 54, 43, 1]);
        assert_eq!(
            h.geometry().data_dtype(),
            StorageDtype::new(DataType::Int16, ByteOrder::Big)
        );
        assert_eq!(h.geometry().zooms(), [3.0, 3.0, 3.0, 0.0]);
        assert_eq!(
            h.affine().unwrap(),
            [
                [3.0, -0.0, -0.0, -66.0],
                [-0.0, 3.0, -0.0, -87.0],
                [0.0, 0.0, 3.0, -54.0],
                [0.0, 0.0, 0.0, 1.0]
            ]
        );
        assert_eq!(h.data_scaling().unwrap(), Some(vec![3.883363e-08]));
        assert_eq!(h.volume_labels(), Some(vec!["#0".to_owned()]));
        assert_eq!(h.space(), "TLRC");
        assert_eq!(
            h.attribute("DATASET_RANK"),
            Some(&FieldValue::Ints(vec![3, 1, 0, 0, 0, 0, 0, 0]))
        );
        assert_eq!(h.attribute("BRICK_TYPES"), Some(&FieldValue::Int(1)));
        assert_eq!(h.attributes().len(), 12);
        let mut three = h.clone();
        three.geometry_mut().set_data_shape(&[47, 54, 43]);
        assert_eq!(three.geometry().zooms(), [3.0, 3.0, 3.0]);
        three.geometry_mut().set_data_shape(&[47, 54, 43, 1, 1]);
        assert_eq!(three.geometry().zooms(), [3.0, 3.0, 3.0, 1.0, 1.0]);
    }

    #[test]
    fn without_a_matrix_the_affine_comes_from_orientation_origin_and_delta() {
        let mut h = AfniHeader::parse(EXAMPLE.as_bytes()).unwrap();
        let stored = h.affine().unwrap();
        h.attributes.retain(|(n, _)| n != "IJK_TO_DICOM_REAL");
        assert_eq!(h.affine().unwrap(), stored);
        h.attributes.retain(|(n, _)| n != "ORIGIN");
        let e = h.affine().unwrap_err();
        assert_eq!(e.field_name(), Some("IJK_TO_DICOM_REAL"));
    }

    #[test]
    fn zero_factors_mean_one_and_all_zero_means_unscaled() {
        let with = |facs: &str, bricks: usize| {
            let text = format!(
                "type = integer-attribute\nname = DATASET_RANK\ncount = 2\n 3 {bricks}\n\n\
type = integer-attribute\nname = DATASET_DIMENSIONS\ncount = 3\n 2 2 2\n\n\
type = integer-attribute\nname = BRICK_TYPES\ncount = 1\n 3\n\n\
type = float-attribute\nname = DELTA\ncount = 3\n 1 1 1\n\n\
type = float-attribute\nname = BRICK_FLOAT_FACS\ncount = 3\n {facs}\n\n"
            );
            AfniHeader::parse(text.as_bytes()).unwrap().data_scaling()
        };
        assert_eq!(with("0 2 0", 3).unwrap(), Some(vec![1.0, 2.0, 1.0]));
        assert_eq!(with("0 0 0", 3).unwrap(), None);
        assert_eq!(with("2", 3).unwrap(), Some(vec![2.0, 1.0, 1.0]));
        let e = with("1 2 3", 2).unwrap_err();
        assert_eq!(e.field_name(), Some("BRICK_FLOAT_FACS"));
    }

    #[test]
    fn malformed_attributes_are_header_errors_naming_what_is_wrong() {
        let cases: [(&str, &str); 6] = [
            ("type = integer-attribute\nname = X\ncount = 1\n LSB\n", "X"),
            ("type = integer-attribute\ncount = 1\n 1\n", "name"),
            ("name = X\ncount = 1\n 1\n", "type"),
            (
                "type = float-attribute\ntype = float-attribute\nname = X\ncount = 1\n 1\n",
                "type",
            ),
            (
                "type = integer-attribute\nname = X\ncount = 1\n 99999999999999999999\n",
                "X",
            ),
            (
                "type = float-attribute\nname = X-Y\ncount = 1\n 1\n",
                "name",
            ),
        ];
        for (text, field) in cases {
            let e = parse_attributes(text.as_bytes()).unwrap_err();
            assert_eq!(e.field_name(), Some(field), "{text:?}: {e}");
        }
        let e = parse_attributes(b"type = string-attribute\nname = X\n\xff\n").unwrap_err();
        assert!(e.to_string().contains("UTF-8"), "{e}");
    }

    #[test]
    fn required_attributes_and_their_values_are_checked() {
        let base = |rank: &str, dims: &str, types: &str| {
            format!(
                "type = integer-attribute\nname = DATASET_RANK\ncount = 2\n {rank}\n\n\
type = integer-attribute\nname = DATASET_DIMENSIONS\ncount = 3\n {dims}\n\n\
type = integer-attribute\nname = BRICK_TYPES\ncount = 1\n {types}\n\n\
type = float-attribute\nname = DELTA\ncount = 3\n 1 1 1\n"
            )
        };
        let field = |text: String| AfniHeader::parse(text.as_bytes()).unwrap_err();
        let cases = [
            ("3 1", "2 2 2", "1 3 5", "BRICK_TYPES"),
            ("3 1", "2 2 2", "6", "BRICK_TYPES"),
            ("4 1", "2 2 2", "1", "DATASET_RANK"),
            ("3", "2 2 2", "1", "DATASET_RANK"),
            ("3 0", "2 2 2", "1", "DATASET_RANK"),
            ("3 1", "2 -2 2", "1", "DATASET_DIMENSIONS"),
        ];
        for (rank, dims, types, name) in cases {
            let e = field(base(rank, dims, types));
            assert_eq!(e.field_name(), Some(name), "{rank} / {dims} / {types}: {e}");
        }
        let huge = field(base(
            "3 9223372036854775807",
            "9223372036854775807 2 2",
            "4",
        ));
        assert_eq!(huge.kind(), crate::ErrorKind::Limit);
        let ok = AfniHeader::parse(base("2 3", "5 6 0", "5").as_bytes()).unwrap();
        assert_eq!(ok.geometry().data_shape(), [5, 6, 3]);
        assert_eq!(ok.geometry().data_dtype().dtype, DataType::Complex64);
        // No BYTEORDER_STRING: the machine's order, as AFNI reads it.
        assert_eq!(ok.geometry().data_dtype().order, ByteOrder::NATIVE);
    }

    #[test]
    fn heads_are_told_from_other_files() {
        assert!(looks_like_head(EXAMPLE.as_bytes()));
        assert!(!looks_like_head(b"\x5c\x01\x00\x00"));
        assert!(!looks_like_head(b""));
    }
}
