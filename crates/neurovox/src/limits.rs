//! [`Limits`]: every cap on what a file may make neurovox read or hold beyond its voxel data.
//!
//! Voxel data needs no cap of its own: a read allocates only what the selection asks for and
//! only as the file shows it holds those bytes (docs/robustness.md, "Hostile input"). What a
//! header *points to* — extensions up to `vox_offset`, a pair's header file, MGH tags after
//! the data, an SPM `.mat` sidecar — is read whole into memory, so a corrupt or hostile value
//! there is bounded here. A load past a limit is a [`crate::ErrorKind::Limit`] error naming
//! the file and the field.
//!
//! The limits travel with the load options ([`crate::image::ProxyOptions::limits`]), so an
//! [`crate::ImageHandle`] reopens an image under the limits it was loaded with. `.npy` headers
//! keep numpy's own cap (`max_header_size`, 10,000 bytes), which is part of numpy's format.

/// Caps on what a file may make a load read into memory, with defaults that no real image
/// comes near.
///
/// ```
/// use neurovox::image::ProxyOptions;
/// use neurovox::Limits;
///
/// let strict = ProxyOptions {
///     limits: Limits { max_header_bytes: 64 << 10, ..Limits::default() },
///     ..ProxyOptions::default()
/// };
/// assert_eq!(strict.limits.max_mgh_tag_bytes, Limits::default().max_mgh_tag_bytes);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Bytes of header a load reads before the data: a single NIfTI file's header and
    /// extensions up to `vox_offset`, or a pair's whole header file. Past it, a Limit error
    /// naming `vox_offset` (a guard against a corrupt offset making a load read a
    /// multi-gigabyte compressed file as "header"). Default 256 MiB.
    pub max_header_bytes: u64,
    /// Bytes of FreeSurfer tags read after an MGH footer; the rest is not read (tags hold
    /// command lines, file names and small tables, nothing near this). Default 16 MiB.
    pub max_mgh_tag_bytes: u64,
    /// Bytes of an SPM99/SPM2 `.mat` sidecar read (a MATLAB v4 file of one 4×4 matrix, a few
    /// hundred bytes); a longer file is read this far. Default 1 MiB.
    pub max_mat_bytes: u64,
    /// Bytes a compressed image held in memory may inflate to
    /// ([`crate::Image::from_bytes_with`]); past it, a Limit error. Files are read lazily and
    /// need no such cap; bytes in memory are inflated whole, and only as far as their header
    /// says the image reaches. Default: no cap beyond that (`u64::MAX`) — set one when the
    /// bytes come from someone else.
    pub max_inflated_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 256 << 20,
            max_mgh_tag_bytes: 16 << 20,
            max_mat_bytes: 1 << 20,
            max_inflated_bytes: u64::MAX,
        }
    }
}
