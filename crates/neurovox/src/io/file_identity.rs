//! [`FileIdentity`]: which file a path named (device, inode, creation time), so that a
//! header and its data are known to come from one file, and a file replaced since a load is
//! never read under the old file's layout (docs/robustness.md, "Concurrency").

use crate::error::{Error, Result};
use std::fs::File;
use std::path::Path;

/// Which file a path named when a source was made (device, inode and, where the file system
/// records it, the file's creation time): a source that opens its path again later checks it
/// still names the same file, so a file replaced since (a save over the source, another
/// program) is never read with the old file's layout.
///
/// The creation time is what tells a new file apart from an old one whose inode number the
/// file system has reused: a save that replaces a file frees its inode, and the next save can
/// get the same number, so device and inode alone would take a file two saves later for the
/// one a header was read from. Unlike the change time, it stays the same when a file is
/// renamed, linked or has its mode changed.
#[derive(Debug, Clone, Copy)]
pub struct FileIdentity {
    device: u64,
    inode: u64,
    born_ns: Option<i128>,
}

/// Same device and inode, and the same creation time where both know it.
impl PartialEq for FileIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.device == other.device
            && self.inode == other.inode
            && match (self.born_ns, other.born_ns) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

impl Eq for FileIdentity {}

impl FileIdentity {
    /// The identity of the file `path` names now.
    pub fn of(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(e).with_path(path))?;
        Ok(Self::from_metadata(&meta))
    }

    /// The identity of an open file.
    pub fn of_file(file: &File, path: &Path) -> Result<Self> {
        let meta = file.metadata().map_err(|e| Error::io(e).with_path(path))?;
        Ok(Self::from_metadata(&meta))
    }

    /// The identity of a file with this device and inode number (as a fingerprint records
    /// them), its creation time unknown.
    pub fn new(device: u64, inode: u64) -> Self {
        FileIdentity {
            device,
            inode,
            born_ns: None,
        }
    }

    fn from_metadata(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        let born_ns = meta
            .created()
            .ok()
            .map(|t| match t.duration_since(std::time::UNIX_EPOCH) {
                Ok(after) => after.as_nanos() as i128,
                Err(before) => -(before.duration().as_nanos() as i128),
            });
        FileIdentity {
            device: meta.dev(),
            inode: meta.ino(),
            born_ns,
        }
    }

    /// A Stale error unless `file` (just opened from `path`) is the same file.
    pub fn check(&self, file: &File, path: &Path) -> Result<()> {
        if Self::of_file(file, path)? == *self {
            Ok(())
        } else {
            Err(Error::stale(
                "the file was replaced since it was opened; load it again to read the new file",
            )
            .with_path(path))
        }
    }
}
