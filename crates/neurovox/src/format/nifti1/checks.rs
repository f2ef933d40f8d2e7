//! The NIfTI checks and fixes in nibabel's order (`Nifti1Header._get_checks`:
//! sizeof_hdr, datatype, bitpix, pixdims, qfac, magic, offset, qform and sform codes),
//! with nibabel's problem levels and messages (docs/nibabel-rules.md §17).

use super::codes::xform_label;
use super::{NiftiHeader, NiftiVersion};
use crate::dtype::DataType;
use crate::format::analyze::{check_bitpix, check_datatype, check_pixdims, check_sizeof_hdr};
use crate::format::check::Problem;
use crate::format::nifti2;

impl NiftiHeader {
    pub(super) fn checks(&mut self, fix: bool) -> Vec<Problem> {
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

/// Python's `{:g}` for the values a vox_offset can take.
pub(super) fn py_general(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e6 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Python's `repr(bytes.decode('latin1'))`: single-quoted, with escapes for non-printables.
pub(super) fn py_bytes_repr(bytes: &[u8]) -> String {
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
