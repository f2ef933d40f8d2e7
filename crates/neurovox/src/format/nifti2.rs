//! The NIfTI-2 header layout and its one extra rule, the EOL check bytes (nibabel's
//! `nifti2.py`, docs/nibabel-rules.md §13). Everything else is shared with NIfTI-1 in
//! [`super::nifti1::NiftiHeader`].

use super::check::Problem;
use super::fields::{Field, FieldKind as K, FieldValue, Layout, RawStruct, peek_i32};
use crate::dtype::ByteOrder;

/// The NIfTI-2 header layout (540 bytes).
pub static NIFTI2_LAYOUT: Layout = Layout {
    name: "NIfTI-2 header",
    size: 540,
    fields: &[
        Field::new("sizeof_hdr", 0, K::I32, 1),
        Field::new("magic", 4, K::Bytes, 4),
        Field::new("eol_check", 8, K::I8, 4),
        Field::new("datatype", 12, K::I16, 1),
        Field::new("bitpix", 14, K::I16, 1),
        Field::new("dim", 16, K::I64, 8),
        Field::new("intent_p1", 80, K::F64, 1),
        Field::new("intent_p2", 88, K::F64, 1),
        Field::new("intent_p3", 96, K::F64, 1),
        Field::new("pixdim", 104, K::F64, 8),
        Field::new("vox_offset", 168, K::I64, 1),
        Field::new("scl_slope", 176, K::F64, 1),
        Field::new("scl_inter", 184, K::F64, 1),
        Field::new("cal_max", 192, K::F64, 1),
        Field::new("cal_min", 200, K::F64, 1),
        Field::new("slice_duration", 208, K::F64, 1),
        Field::new("toffset", 216, K::F64, 1),
        Field::new("slice_start", 224, K::I64, 1),
        Field::new("slice_end", 232, K::I64, 1),
        Field::new("descrip", 240, K::Bytes, 80),
        Field::new("aux_file", 320, K::Bytes, 24),
        Field::new("qform_code", 344, K::I32, 1),
        Field::new("sform_code", 348, K::I32, 1),
        Field::new("quatern_b", 352, K::F64, 1),
        Field::new("quatern_c", 360, K::F64, 1),
        Field::new("quatern_d", 368, K::F64, 1),
        Field::new("qoffset_x", 376, K::F64, 1),
        Field::new("qoffset_y", 384, K::F64, 1),
        Field::new("qoffset_z", 392, K::F64, 1),
        Field::new("srow_x", 400, K::F64, 4),
        Field::new("srow_y", 432, K::F64, 4),
        Field::new("srow_z", 464, K::F64, 4),
        Field::new("slice_code", 496, K::I32, 1),
        Field::new("xyzt_units", 500, K::I32, 1),
        Field::new("intent_code", 504, K::I32, 1),
        Field::new("intent_name", 508, K::Bytes, 16),
        Field::new("dim_info", 524, K::U8, 1),
        Field::new("unused_str", 525, K::Bytes, 15),
    ],
};

/// The four bytes that reveal end-of-line conversion damage: `\r\n\x1a\n`.
pub const EOL_CHECK: [i64; 4] = [13, 10, 26, 10];

/// Writes the NIfTI-2 defaults beyond NIfTI-1's: the EOL check bytes.
pub(crate) fn fill_defaults(raw: &mut RawStruct) {
    let _ = raw.set("eol_check", FieldValue::Ints(EOL_CHECK.to_vec()));
}

/// nibabel's `_chk_eol_check`: all zero is level 20 (fixed), any other wrong value level 40
/// (fixed, and still an error: the data may be corrupted).
pub(crate) fn check_eol(raw: &mut RawStruct, fix: bool) -> Option<Problem> {
    let eol = raw.ints("eol_check");
    if eol == EOL_CHECK {
        return None;
    }
    if fix {
        fill_defaults(raw);
    }
    if eol.iter().all(|&v| v == 0) {
        return Some(
            Problem::new(20, "eol_check", "EOL check all 0")
                .fixed(fix, "setting EOL check to 13, 10, 26, 10"),
        );
    }
    Some(
        Problem::new(
            40,
            "eol_check",
            "EOL check not 0 or 13, 10, 26, 10; data may be corrupted by EOL conversion",
        )
        .fixed(fix, "setting EOL check to 13, 10, 26, 10"),
    )
}

/// True if the bytes could be a NIfTI-2 header: 540 bytes or more with `sizeof_hdr` 540 in
/// either byte order (nibabel's `may_contain_header`).
pub fn may_contain_header(bytes: &[u8]) -> bool {
    bytes.len() >= 540
        && (peek_i32(bytes, 0, ByteOrder::Little) == Some(540)
            || peek_i32(bytes, 0, ByteOrder::Big) == Some(540))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{NiftiHeader, NiftiVersion};
    use crate::{DataType, ErrorKind};

    fn single_bytes(order: ByteOrder) -> Vec<u8> {
        let mut h = NiftiHeader::new(NiftiVersion::Two, true, order);
        h.set_data_shape(&[2, 3, 4, 5]).unwrap();
        h.set_data_dtype(DataType::Float64).unwrap();
        h.to_prefix_bytes().unwrap()
    }

    #[test]
    fn layout_offsets_from_literal_bytes() {
        let b = single_bytes(ByteOrder::Little);
        assert_eq!(b.len(), 544);
        assert_eq!(&b[0..4], &540i32.to_le_bytes());
        assert_eq!(&b[4..12], b"n+2\0\r\n\x1a\n");
        assert_eq!(&b[12..16], &[64, 0, 64, 0]);
        assert_eq!(&b[16..24], &4i64.to_le_bytes());
        assert_eq!(&b[168..176], &544i64.to_le_bytes());
        let be = single_bytes(ByteOrder::Big);
        assert_eq!(&be[16..24], &4i64.to_be_bytes());
        let h = NiftiHeader::parse(NiftiVersion::Two, true, &be).unwrap();
        assert_eq!(h.data_shape().unwrap(), vec![2, 3, 4, 5]);
        assert_eq!(h.data_dtype().unwrap().numpy_str(), ">f8");
    }

    #[test]
    fn eol_check_levels() {
        let mut b = single_bytes(ByteOrder::Little);
        b[8..12].copy_from_slice(&[0; 4]);
        let h = NiftiHeader::parse(NiftiVersion::Two, true, &b).unwrap();
        assert_eq!(h.to_bytes()[8..12], [13, 10, 26, 10], "level 20 is fixed");
        b[8..12].copy_from_slice(&[13, 10, 26, 13]);
        let e = NiftiHeader::parse(NiftiVersion::Two, true, &b).unwrap_err();
        assert_eq!(
            (e.kind(), e.field_name()),
            (ErrorKind::Format, Some("eol_check"))
        );
        assert!(may_contain_header(&b));
        assert!(!may_contain_header(&b[..539]));
    }
}
