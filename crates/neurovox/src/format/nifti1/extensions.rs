//! NIfTI header extensions: the blocks after the header of a single file (or after the
//! header in a `.hdr`), each a size, a code and raw content (nibabel's `Nifti1Extension`,
//! `Nifti1Extensions.from_fileobj`; docs/nibabel-rules.md §12).

use crate::dtype::ByteOrder;
use crate::error::{Error, Result};
use crate::format::fields::peek_i32;

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

    pub(super) fn write_to(&self, out: &mut Vec<u8>, order: ByteOrder) {
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
            return Err(Error::header_value(
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
            return Err(Error::header_value(format!(
                "extension size {esize} is smaller than its own 8-byte header"
            ))
            .field("extensions")
            .offset(at));
        }
        let esize = esize as usize;
        if esize > remaining {
            return Err(Error::header_value(format!(
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
