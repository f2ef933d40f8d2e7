//! Fixed-layout binary structs read and written field by field, in either byte order.
//!
//! A header is kept as its raw bytes plus a [`Layout`] (the table of fields: name, offset,
//! type, count), exactly as nibabel keeps a header as a numpy structured array over its binary
//! block. Serialising a header therefore never loses a byte nibabel would keep (unused fields,
//! odd padding), fields are reachable by name for every format through one API, and each
//! format's typed accessors are thin functions over this table.
//!
//! Why not `zerocopy` structs: one generic table serves six layouts and gives by-name access
//! (`header.get("dim")`), which typed structs would need a second, hand-written table for.

use crate::dtype::ByteOrder;
use crate::error::{Error, Result};
use std::fmt;

/// The scalar type of a header field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// `i1`
    I8,
    /// `u1`
    U8,
    /// `i2`
    I16,
    /// `u2`
    U16,
    /// `i4`
    I32,
    /// `u4`
    U32,
    /// `i8`
    I64,
    /// `f4`
    F32,
    /// `f8`
    F64,
    /// A fixed-length byte string (numpy `S`); `count` is its length in bytes.
    Bytes,
}

impl FieldKind {
    /// Bytes per element (1 for `Bytes`, whose length is the field's count).
    pub fn size(self) -> usize {
        match self {
            FieldKind::I8 | FieldKind::U8 | FieldKind::Bytes => 1,
            FieldKind::I16 | FieldKind::U16 => 2,
            FieldKind::I32 | FieldKind::U32 | FieldKind::F32 => 4,
            FieldKind::I64 | FieldKind::F64 => 8,
        }
    }

    /// True for the float kinds.
    pub fn is_float(self) -> bool {
        matches!(self, FieldKind::F32 | FieldKind::F64)
    }
}

/// One field of a [`Layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The field's name, as nibabel spells it.
    pub name: &'static str,
    /// Byte offset from the start of the struct.
    pub offset: usize,
    /// Element type.
    pub kind: FieldKind,
    /// Number of elements; 1 for scalars, the byte length for `Bytes`.
    pub count: usize,
    /// For 2-D array fields (MGH `Mdc`), the number of columns; 0 otherwise.
    pub columns: usize,
}

impl Field {
    /// A field; used to write layout tables.
    pub const fn new(name: &'static str, offset: usize, kind: FieldKind, count: usize) -> Field {
        Field {
            name,
            offset,
            kind,
            count,
            columns: 0,
        }
    }

    /// A 2-D array field stored row-major with `columns` columns.
    pub const fn matrix(
        name: &'static str,
        offset: usize,
        kind: FieldKind,
        rows: usize,
        columns: usize,
    ) -> Field {
        Field {
            name,
            offset,
            kind,
            count: rows * columns,
            columns,
        }
    }

    /// Size of the whole field in bytes.
    pub fn byte_len(&self) -> usize {
        self.kind.size() * self.count
    }

    fn is_array(&self) -> bool {
        self.kind != FieldKind::Bytes && self.count > 1
    }
}

/// The table of fields of one binary struct.
#[derive(Debug)]
pub struct Layout {
    /// A name for messages (`NIfTI-1 header`).
    pub name: &'static str,
    /// Total size in bytes.
    pub size: usize,
    /// The fields in offset order.
    pub fields: &'static [Field],
}

impl Layout {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    fn require(&self, name: &str) -> Result<&'static Field> {
        self.field(name).ok_or_else(|| {
            Error::usage(format!("the {} has no field named `{name}`", self.name))
                .field(name.to_owned())
        })
    }
}

/// The value of a header field, by name, independent of its storage type.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A scalar integer field.
    Int(i64),
    /// A scalar float field (exact: `f4` fields widen without loss).
    Float(f64),
    /// A byte string field, every byte kept (trailing NULs included).
    Bytes(Vec<u8>),
    /// An integer array field.
    Ints(Vec<i64>),
    /// A float array field (row-major for matrices).
    Floats(Vec<f64>),
}

impl FieldValue {
    /// The value as text: byte strings up to the first NUL, lossily decoded.
    pub fn display_string(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Int(v) => write!(f, "{v}"),
            FieldValue::Float(v) => write!(f, "{v}"),
            FieldValue::Bytes(b) => {
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                write!(f, "{:?}", String::from_utf8_lossy(&b[..end]))
            }
            FieldValue::Ints(v) => write!(f, "{v:?}"),
            FieldValue::Floats(v) => write!(f, "{v:?}"),
        }
    }
}

/// A binary struct: raw bytes, their byte order and the layout that names them.
///
/// ```
/// use neurovox::format::fields::{Field, FieldKind, FieldValue, Layout, RawStruct};
/// use neurovox::ByteOrder;
///
/// static LAYOUT: Layout = Layout {
///     name: "example",
///     size: 6,
///     fields: &[
///         Field::new("count", 0, FieldKind::I16, 1),
///         Field::new("scale", 2, FieldKind::F32, 1),
///     ],
/// };
/// let mut s = RawStruct::zeroed(&LAYOUT, ByteOrder::Big);
/// s.set("count", FieldValue::Int(258)).unwrap();
/// assert_eq!(&s.bytes()[..2], &[1, 2]);
/// assert_eq!(s.get("count").unwrap(), FieldValue::Int(258));
/// ```
#[derive(Clone)]
pub struct RawStruct {
    layout: &'static Layout,
    bytes: Vec<u8>,
    order: ByteOrder,
}

impl PartialEq for RawStruct {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.layout, other.layout)
            && self.order == other.order
            && self.bytes == other.bytes
    }
}

impl fmt::Debug for RawStruct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(self.layout.name);
        for field in self.layout.fields {
            match self.get(field.name) {
                Ok(v) => d.field(field.name, &v),
                Err(_) => d.field(field.name, &"?"),
            };
        }
        d.field("byte_order", &self.order).finish()
    }
}

impl RawStruct {
    /// An all-zero struct.
    pub fn zeroed(layout: &'static Layout, order: ByteOrder) -> Self {
        RawStruct {
            layout,
            bytes: vec![0; layout.size],
            order,
        }
    }

    /// Wraps the first `layout.size` bytes of `bytes`; a shorter input is a Format error.
    pub fn from_bytes(layout: &'static Layout, bytes: &[u8], order: ByteOrder) -> Result<Self> {
        let block = bytes.get(..layout.size).ok_or_else(|| {
            Error::format(format!(
                "{} needs {} bytes, got {}",
                layout.name,
                layout.size,
                bytes.len()
            ))
            .offset(bytes.len() as u64)
        })?;
        Ok(RawStruct {
            layout,
            bytes: block.to_vec(),
            order,
        })
    }

    /// The layout naming the bytes.
    pub fn layout(&self) -> &'static Layout {
        self.layout
    }

    /// The raw bytes, as they would be written.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The byte order of the multi-byte fields.
    pub fn byte_order(&self) -> ByteOrder {
        self.order
    }

    /// The same values in the other byte order (every numeric field is swapped).
    #[must_use]
    pub fn byteswapped(&self) -> Self {
        let mut out = self.clone();
        out.order = self.order.swapped();
        for field in self.layout.fields {
            let size = field.kind.size();
            if size == 1 {
                continue;
            }
            for i in 0..field.count {
                let start = field.offset + i * size;
                out.bytes[start..start + size].reverse();
            }
        }
        out
    }

    fn element_bytes(&self, field: &Field, index: usize) -> &[u8] {
        let size = field.kind.size();
        let start = field.offset + index * size;
        &self.bytes[start..start + size]
    }

    fn element_bytes_mut(&mut self, field: &Field, index: usize) -> &mut [u8] {
        let size = field.kind.size();
        let start = field.offset + index * size;
        &mut self.bytes[start..start + size]
    }

    fn array<const N: usize>(&self, field: &Field, index: usize) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(self.element_bytes(field, index));
        if self.order != ByteOrder::Little {
            out.reverse();
        }
        out
    }

    fn read_int(&self, field: &Field, index: usize) -> i64 {
        match field.kind {
            FieldKind::I8 => i64::from(self.array::<1>(field, index)[0] as i8),
            FieldKind::U8 => i64::from(self.array::<1>(field, index)[0]),
            FieldKind::I16 => i64::from(i16::from_le_bytes(self.array(field, index))),
            FieldKind::U16 => i64::from(u16::from_le_bytes(self.array(field, index))),
            FieldKind::I32 => i64::from(i32::from_le_bytes(self.array(field, index))),
            FieldKind::U32 => i64::from(u32::from_le_bytes(self.array(field, index))),
            FieldKind::I64 => i64::from_le_bytes(self.array(field, index)),
            FieldKind::F32 | FieldKind::F64 | FieldKind::Bytes => 0,
        }
    }

    fn read_float(&self, field: &Field, index: usize) -> f64 {
        match field.kind {
            FieldKind::F32 => f64::from(f32::from_le_bytes(self.array(field, index))),
            FieldKind::F64 => f64::from_le_bytes(self.array(field, index)),
            _ => self.read_int(field, index) as f64,
        }
    }

    fn write_le(&mut self, field: &Field, index: usize, le: &[u8]) {
        let order = self.order;
        let dest = self.element_bytes_mut(field, index);
        dest.copy_from_slice(le);
        if order != ByteOrder::Little {
            dest.reverse();
        }
    }

    fn write_int(&mut self, field: &Field, index: usize, value: i64) -> Result<()> {
        let out_of_range = || {
            Error::usage(format!(
                "{value} does not fit field `{}` ({:?})",
                field.name, field.kind
            ))
            .field(field.name)
            .offset(field.offset as u64)
        };
        match field.kind {
            FieldKind::I8 => {
                let v = i8::try_from(value).map_err(|_| out_of_range())?;
                self.write_le(field, index, &v.to_le_bytes());
            }
            FieldKind::U8 => {
                let v = u8::try_from(value).map_err(|_| out_of_range())?;
                self.write_le(field, index, &[v]);
            }
            FieldKind::I16 => {
                let v = i16::try_from(value).map_err(|_| out_of_range())?;
                self.write_le(field, index, &v.to_le_bytes());
            }
            FieldKind::I32 => {
                let v = i32::try_from(value).map_err(|_| out_of_range())?;
                self.write_le(field, index, &v.to_le_bytes());
            }
            FieldKind::U16 => {
                let v = u16::try_from(value).map_err(|_| out_of_range())?;
                self.write_le(field, index, &v.to_le_bytes());
            }
            FieldKind::U32 => {
                let v = u32::try_from(value).map_err(|_| out_of_range())?;
                self.write_le(field, index, &v.to_le_bytes());
            }
            FieldKind::I64 => self.write_le(field, index, &value.to_le_bytes()),
            FieldKind::F32 | FieldKind::F64 => self.write_float(field, index, value as f64),
            FieldKind::Bytes => return Err(out_of_range()),
        }
        Ok(())
    }

    /// Stores a float: `f4` fields round to nearest as numpy's assignment does.
    fn write_float(&mut self, field: &Field, index: usize, value: f64) {
        match field.kind {
            FieldKind::F32 => self.write_le(field, index, &(value as f32).to_le_bytes()),
            FieldKind::F64 => self.write_le(field, index, &value.to_le_bytes()),
            _ => {}
        }
    }

    /// A field's value by name.
    pub fn get(&self, name: &str) -> Result<FieldValue> {
        let field = self.layout.require(name)?;
        Ok(self.value_of(field))
    }

    fn value_of(&self, field: &Field) -> FieldValue {
        match field.kind {
            FieldKind::Bytes => {
                FieldValue::Bytes(self.bytes[field.offset..field.offset + field.count].to_vec())
            }
            k if k.is_float() && field.is_array() => FieldValue::Floats(
                (0..field.count)
                    .map(|i| self.read_float(field, i))
                    .collect(),
            ),
            k if k.is_float() => FieldValue::Float(self.read_float(field, 0)),
            _ if field.is_array() => {
                FieldValue::Ints((0..field.count).map(|i| self.read_int(field, i)).collect())
            }
            _ => FieldValue::Int(self.read_int(field, 0)),
        }
    }

    /// Every field with its value, in layout order.
    pub fn values(&self) -> Vec<(&'static str, FieldValue)> {
        self.layout
            .fields
            .iter()
            .map(|f| (f.name, self.value_of(f)))
            .collect()
    }

    /// Sets a field by name. Integers convert to float fields and integral floats to integer
    /// fields; a value out of the field's range, an array of the wrong length or a byte string
    /// longer than the field is a Usage error. Shorter byte strings are NUL-padded.
    pub fn set(&mut self, name: &str, value: FieldValue) -> Result<()> {
        let field = self.layout.require(name)?;
        let wrong = |what: &str| {
            Error::usage(format!("cannot set field `{name}` to {what}"))
                .field(field.name)
                .offset(field.offset as u64)
        };
        match (field.kind, value) {
            (FieldKind::Bytes, FieldValue::Bytes(b)) => {
                if b.len() > field.count {
                    return Err(wrong(&format!(
                        "{} bytes: it holds {}",
                        b.len(),
                        field.count
                    )));
                }
                let dest = &mut self.bytes[field.offset..field.offset + field.count];
                dest.fill(0);
                dest[..b.len()].copy_from_slice(&b);
            }
            (FieldKind::Bytes, _) => return Err(wrong("a number: it is a byte string")),
            (_, FieldValue::Bytes(_)) => return Err(wrong("a byte string: it is numeric")),
            (_, FieldValue::Int(v)) if !field.is_array() => self.write_int(field, 0, v)?,
            (_, FieldValue::Float(v)) if !field.is_array() => self.set_scalar_float(field, 0, v)?,
            (_, FieldValue::Ints(vs)) if vs.len() == field.count && field.is_array() => {
                for (i, v) in vs.into_iter().enumerate() {
                    self.write_int(field, i, v)?;
                }
            }
            (_, FieldValue::Floats(vs)) if vs.len() == field.count && field.is_array() => {
                for (i, v) in vs.into_iter().enumerate() {
                    self.set_scalar_float(field, i, v)?;
                }
            }
            (_, v) => {
                return Err(wrong(&format!(
                    "{v}: it holds {} value(s) of {:?}",
                    field.count, field.kind
                )));
            }
        }
        Ok(())
    }

    fn set_scalar_float(&mut self, field: &Field, index: usize, value: f64) -> Result<()> {
        if field.kind.is_float() {
            self.write_float(field, index, value);
            Ok(())
        } else if value.fract() == 0.0 && value.is_finite() {
            self.write_int(field, index, value as i64)
        } else {
            Err(Error::usage(format!(
                "field `{}` holds integers, not {value}",
                field.name
            ))
            .field(field.name))
        }
    }

    /// Reads integer element `index` of a field known to exist (layout constants).
    pub(crate) fn int_at(&self, name: &str, index: usize) -> i64 {
        self.layout
            .field(name)
            .filter(|f| index < f.count)
            .map_or(0, |f| self.read_int(f, index))
    }

    /// Reads float element `index` of a field known to exist (layout constants).
    pub(crate) fn float_at(&self, name: &str, index: usize) -> f64 {
        self.layout
            .field(name)
            .filter(|f| index < f.count)
            .map_or(0.0, |f| self.read_float(f, index))
    }

    /// Scalar integer field.
    pub(crate) fn int(&self, name: &str) -> i64 {
        self.int_at(name, 0)
    }

    /// Scalar float field.
    pub(crate) fn float(&self, name: &str) -> f64 {
        self.float_at(name, 0)
    }

    /// All elements of a numeric array field as f64.
    pub(crate) fn floats(&self, name: &str) -> Vec<f64> {
        self.layout.field(name).map_or_else(Vec::new, |f| {
            (0..f.count).map(|i| self.read_float(f, i)).collect()
        })
    }

    /// All elements of an integer array field.
    pub(crate) fn ints(&self, name: &str) -> Vec<i64> {
        self.layout.field(name).map_or_else(Vec::new, |f| {
            (0..f.count).map(|i| self.read_int(f, i)).collect()
        })
    }

    /// Raw bytes of a byte-string field.
    pub(crate) fn raw(&self, name: &str) -> &[u8] {
        self.layout
            .field(name)
            .map_or(&[][..], |f| &self.bytes[f.offset..f.offset + f.byte_len()])
    }

    /// Writes integer element `index` of a layout field; errors if it does not fit.
    pub(crate) fn set_int_at(&mut self, name: &str, index: usize, value: i64) -> Result<()> {
        let field = self.layout.require(name)?;
        if index >= field.count {
            return Err(
                Error::usage(format!("index {index} past field `{name}`")).field(field.name)
            );
        }
        self.write_int(field, index, value)
    }

    /// Writes float element `index` of a layout field.
    pub(crate) fn set_float_at(&mut self, name: &str, index: usize, value: f64) -> Result<()> {
        let field = self.layout.require(name)?;
        if index >= field.count {
            return Err(
                Error::usage(format!("index {index} past field `{name}`")).field(field.name)
            );
        }
        self.set_scalar_float(field, index, value)
    }

    /// Writes a scalar integer layout field.
    pub(crate) fn set_int(&mut self, name: &str, value: i64) -> Result<()> {
        self.set_int_at(name, 0, value)
    }

    /// Writes a scalar float layout field.
    pub(crate) fn set_float(&mut self, name: &str, value: f64) -> Result<()> {
        self.set_float_at(name, 0, value)
    }
}

/// Reads a field value straight from bytes in a byte order (used before a header exists, e.g.
/// for endianness detection).
pub(crate) fn peek_i32(bytes: &[u8], offset: usize, order: ByteOrder) -> Option<i32> {
    let b: [u8; 4] = bytes.get(offset..offset + 4)?.try_into().ok()?;
    Some(match order {
        ByteOrder::Little => i32::from_le_bytes(b),
        ByteOrder::Big => i32::from_be_bytes(b),
    })
}

/// As [`peek_i32`] for `i16`.
pub(crate) fn peek_i16(bytes: &[u8], offset: usize, order: ByteOrder) -> Option<i16> {
    let b: [u8; 2] = bytes.get(offset..offset + 2)?.try_into().ok()?;
    Some(match order {
        ByteOrder::Little => i16::from_le_bytes(b),
        ByteOrder::Big => i16::from_be_bytes(b),
    })
}

/// As [`peek_i32`] for `i64`.
pub(crate) fn peek_i64(bytes: &[u8], offset: usize, order: ByteOrder) -> Option<i64> {
    let b: [u8; 8] = bytes.get(offset..offset + 8)?.try_into().ok()?;
    Some(match order {
        ByteOrder::Little => i64::from_le_bytes(b),
        ByteOrder::Big => i64::from_be_bytes(b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    static LAYOUT: Layout = Layout {
        name: "test struct",
        size: 24,
        fields: &[
            Field::new("a", 0, FieldKind::I16, 1),
            Field::new("b", 2, FieldKind::U8, 1),
            Field::new("name", 3, FieldKind::Bytes, 5),
            Field::new("v", 8, FieldKind::F32, 2),
            Field::new("big", 16, FieldKind::I64, 1),
        ],
    };

    #[test]
    fn reads_both_byte_orders_from_literal_bytes() {
        let mut bytes = [0u8; 24];
        bytes[0..2].copy_from_slice(&[0x01, 0x02]);
        bytes[8..12].copy_from_slice(&1.5f32.to_be_bytes());
        let be = RawStruct::from_bytes(&LAYOUT, &bytes, ByteOrder::Big).unwrap();
        assert_eq!(be.get("a").unwrap(), FieldValue::Int(0x0102));
        assert_eq!(be.get("v").unwrap(), FieldValue::Floats(vec![1.5, 0.0]));
        let le = RawStruct::from_bytes(&LAYOUT, &bytes, ByteOrder::Little).unwrap();
        assert_eq!(le.get("a").unwrap(), FieldValue::Int(0x0201));
    }

    #[test]
    fn byteswapped_keeps_values_and_swaps_bytes() {
        let mut s = RawStruct::zeroed(&LAYOUT, ByteOrder::Little);
        s.set("a", FieldValue::Int(-2)).unwrap();
        s.set("big", FieldValue::Int(1 << 40)).unwrap();
        s.set("name", FieldValue::Bytes(b"ab".to_vec())).unwrap();
        let swapped = s.byteswapped();
        assert_eq!(swapped.byte_order(), ByteOrder::Big);
        assert_eq!(swapped.values(), s.values());
        assert_eq!(&swapped.bytes()[0..2], &[0xff, 0xfe]);
        assert_eq!(&swapped.bytes()[3..8], b"ab\0\0\0");
    }

    #[test]
    fn set_rejects_values_that_do_not_fit() {
        let mut s = RawStruct::zeroed(&LAYOUT, ByteOrder::Little);
        assert!(s.set("a", FieldValue::Int(40_000)).is_err());
        assert!(s.set("b", FieldValue::Int(-1)).is_err());
        assert!(
            s.set("name", FieldValue::Bytes(b"toolong".to_vec()))
                .is_err()
        );
        assert!(s.set("v", FieldValue::Floats(vec![1.0])).is_err());
        assert!(s.set("a", FieldValue::Float(1.5)).is_err());
        assert!(s.set("nope", FieldValue::Int(1)).is_err());
        s.set("a", FieldValue::Float(3.0)).unwrap();
        assert_eq!(s.get("a").unwrap(), FieldValue::Int(3));
    }

    #[test]
    fn short_input_is_a_format_error() {
        let err = RawStruct::from_bytes(&LAYOUT, &[0u8; 10], ByteOrder::Little).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Format);
    }

    #[test]
    fn f32_fields_round_like_numpy() {
        let mut s = RawStruct::zeroed(&LAYOUT, ByteOrder::Little);
        s.set("v", FieldValue::Floats(vec![0.1, 1e40])).unwrap();
        assert_eq!(
            s.get("v").unwrap(),
            FieldValue::Floats(vec![f64::from(0.1f32), f64::INFINITY])
        );
    }
}
