//! File fingerprints: enough about a file, taken when it was read, to tell later whether it
//! may have changed since — without reading it again.
//!
//! A fingerprint records the device and inode (a file replaced by a save or `mv`), the size,
//! the modification and status-change times in nanoseconds (`touch`, any write; a tool can
//! set the mtime back, but not the ctime), and an XXH3-128 digest of the file's first bytes
//! (the header, for small headers: catches a rewrite within one timestamp tick on file
//! systems with coarse times). A file that did not exist is a fingerprint too, so a sidecar
//! created later (an SPM `.mat`) is seen.
//!
//! Checking costs one `stat` and one read of at most [`MAX_HEAD_BYTES`] bytes per file.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The most bytes of a file's start a fingerprint digests (a NIfTI header with a few
/// extensions, a whole `.hdr` or `.mat` file).
pub const MAX_HEAD_BYTES: u64 = 64 * 1024;

/// What a remote object (at a URL) looked like when it was opened: its size, `ETag` and
/// `Last-Modified`. A later answer that differs means the object was replaced; a pickled
/// proxy of a URL carries it, and the receiver's reads check it.
///
/// ```
/// use neurovox::io::RemoteFingerprint;
/// let print = RemoteFingerprint { size: 352, etag: Some("\"v1\"".into()), last_modified: None };
/// assert_ne!(print, RemoteFingerprint { etag: Some("\"v2\"".into()), ..print.clone() });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteFingerprint {
    /// The object's size in bytes.
    pub size: u64,
    /// Its `ETag`, if the server sent one.
    pub etag: Option<String>,
    /// Its `Last-Modified`, if the server sent one.
    pub last_modified: Option<String>,
}

/// What a file was when it was read; see the module documentation.
///
/// ```
/// use neurovox::io::FileFingerprint;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.hdr");
/// std::fs::write(&path, b"header bytes")?;
/// let print = FileFingerprint::take(&path, 1024)?;
/// assert_eq!(print.change(), None);
/// std::fs::write(&path, b"other bytes!")?; // same size, same inode
/// assert!(print.change().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFingerprint {
    /// The file's path, as it was given.
    pub path: PathBuf,
    /// `None` if the file did not exist (or could not be examined: see `unexamined`).
    pub state: Option<FileState>,
    /// Why the file could not be examined when the fingerprint was taken (no permission…),
    /// if so: every later check then reports that, never "did not exist".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexamined: Option<String>,
}

/// The recorded state of a file that existed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    /// Device number.
    pub device: u64,
    /// Inode number.
    pub inode: u64,
    /// Size in bytes.
    pub len: u64,
    /// Modification time, nanoseconds since the epoch.
    pub modified_ns: i128,
    /// Status-change time, nanoseconds since the epoch.
    pub changed_ns: i128,
    /// How many leading bytes [`FileState::head_digest`] covers.
    pub head_len: u64,
    /// XXH3-128 of the first `head_len` bytes.
    pub head_digest: u128,
}

impl FileFingerprint {
    /// The fingerprint of `path` now, digesting its first `head_bytes` bytes (at most
    /// [`MAX_HEAD_BYTES`], at most the file). A missing file gives a fingerprint of absence;
    /// other failures (no permission) are errors naming the file.
    pub fn take(path: &Path, head_bytes: u64) -> Result<Self> {
        let state = match std::fs::metadata(path) {
            Ok(meta) => {
                let head_len = head_bytes.min(MAX_HEAD_BYTES).min(meta.len());
                let head_digest = digest_head(path, head_len)?;
                Some(FileState::from_metadata(&meta, head_len, head_digest))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(e).with_path(path)),
        };
        Ok(FileFingerprint {
            path: path.to_path_buf(),
            state,
            unexamined: None,
        })
    }

    /// The fingerprint of `path` now, as [`FileFingerprint::take`]; a file that cannot be
    /// examined gives a fingerprint that records why, which every later check reports as a
    /// change (whoever relies on it sees a possibly changed file, never a wrongly clean one).
    pub fn take_or_note(path: &Path, head_bytes: u64) -> Self {
        FileFingerprint::take(path, head_bytes).unwrap_or_else(|e| FileFingerprint {
            path: path.to_path_buf(),
            state: None,
            unexamined: Some(e.to_string()),
        })
    }

    /// How the file differs from this fingerprint now (`None`: no sign of change), in words
    /// ("its size changed from 352 to 400 bytes").
    pub fn change(&self) -> Option<String> {
        if let Some(why) = &self.unexamined {
            return Some(format!("it could not be examined when it was read ({why})"));
        }
        let now = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return self
                    .state
                    .as_ref()
                    .map(|_| "it no longer exists".to_owned());
            }
            Err(e) => return Some(format!("it cannot be examined ({e})")),
        };
        let Some(was) = &self.state else {
            return Some("it did not exist then and exists now".to_owned());
        };
        let now_state = FileState::from_metadata(&now, was.head_len, 0);
        if (now_state.device, now_state.inode) != (was.device, was.inode) {
            return Some("it was replaced by another file".to_owned());
        }
        if now_state.len != was.len {
            return Some(format!(
                "its size changed from {} to {} bytes",
                was.len, now_state.len
            ));
        }
        if now_state.modified_ns != was.modified_ns {
            return Some("its modification time changed".to_owned());
        }
        if now_state.changed_ns != was.changed_ns {
            return Some("its status-change time changed".to_owned());
        }
        match digest_head(&self.path, was.head_len) {
            Ok(d) if d == was.head_digest => None,
            Ok(_) => Some(format!("its first {} bytes changed", was.head_len)),
            Err(e) => Some(format!("it cannot be read ({e})")),
        }
    }

    /// Ok if the file shows no change; else a Stale error naming it and saying what changed.
    pub fn check(&self) -> Result<()> {
        match self.change() {
            None => Ok(()),
            Some(what) => {
                Err(Error::stale(format!("since it was read, {what}")).with_path(&self.path))
            }
        }
    }
}

impl FileState {
    fn from_metadata(meta: &std::fs::Metadata, head_len: u64, head_digest: u128) -> Self {
        use std::os::unix::fs::MetadataExt;
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        FileState {
            device: meta.dev(),
            inode: meta.ino(),
            len: meta.len(),
            modified_ns: ns(meta.mtime(), meta.mtime_nsec()),
            changed_ns: ns(meta.ctime(), meta.ctime_nsec()),
            head_len,
            head_digest,
        }
    }
}

fn digest_head(path: &Path, len: u64) -> Result<u128> {
    use std::io::Read;
    let file = super::open_regular(path)?;
    let mut head = Vec::with_capacity(len as usize);
    file.take(len)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(e).with_path(path))?;
    Ok(xxhash_rust::xxh3::xxh3_128(&head))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn absence_is_a_fingerprint_and_creation_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.mat");
        let print = FileFingerprint::take(&path, 100).unwrap();
        assert_eq!(print.state, None);
        assert_eq!(print.change(), None);
        std::fs::write(&path, b"m").unwrap();
        assert!(print.change().unwrap().contains("did not exist"));
    }

    #[test]
    fn a_file_that_cannot_be_examined_says_so_not_that_it_was_absent() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let path = file.join("under-a-file.nii"); // stat fails with ENOTDIR, not NotFound
        assert!(FileFingerprint::take(&path, 352).is_err());
        let print = FileFingerprint::take_or_note(&path, 352);
        assert_eq!(print.state, None);
        let change = print.change().unwrap();
        assert!(change.contains("could not be examined"), "{change}");
        assert!(!change.contains("did not exist"), "{change}");
        // The reason survives serialisation; fingerprints without one read as before.
        let json = serde_json::to_string(&print).unwrap();
        let back: FileFingerprint = serde_json::from_str(&json).unwrap();
        assert_eq!(back, print);
        let old = r#"{"path":"/nonexistent/a.nii","state":null}"#;
        let old: FileFingerprint = serde_json::from_str(old).unwrap();
        assert_eq!(old.unexamined, None);
        assert_eq!(old.change(), None);
    }

    #[test]
    fn each_kind_of_change_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.nii");
        std::fs::write(&path, vec![1u8; 400]).unwrap();
        let print = FileFingerprint::take(&path, 352).unwrap();
        assert_eq!(print.state.as_ref().unwrap().head_len, 352);
        std::fs::write(&path, vec![1u8; 401]).unwrap();
        assert!(
            print
                .change()
                .unwrap()
                .contains("size changed from 400 to 401")
        );

        let print = FileFingerprint::take(&path, 352).unwrap();
        let other = dir.path().join("y.nii");
        std::fs::write(&other, vec![1u8; 401]).unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert!(print.change().unwrap().contains("replaced"));

        let print = FileFingerprint::take(&path, 352).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(print.change().unwrap().contains("no longer exists"));
        assert_eq!(print.check().unwrap_err().kind(), crate::ErrorKind::Stale);
    }

    #[test]
    fn restored_mtime_is_still_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.hdr");
        std::fs::write(&path, vec![0u8; 348]).unwrap();
        let print = FileFingerprint::take(&path, 348).unwrap();
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::fs::write(&path, vec![7u8; 348]).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(mtime).unwrap();
        let change = print.change().unwrap();
        assert!(change.contains("status-change") || change.contains("bytes changed"));
    }

    #[test]
    fn serde_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.nii");
        std::fs::write(&path, b"abc").unwrap();
        let print = FileFingerprint::take(&path, 10).unwrap();
        let json = serde_json::to_string(&print).unwrap();
        let back: FileFingerprint = serde_json::from_str(&json).unwrap();
        assert_eq!(back, print);
        assert_eq!(back.change(), None);
    }
}
