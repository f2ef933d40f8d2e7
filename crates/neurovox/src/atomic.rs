//! Writing a file atomically: into a temporary file in the target's directory, flushed and
//! synced to disk, then renamed over the target. A reader sees the old file or the new one,
//! never half of one, and a failure leaves the old file as it was and no temporary behind.
//!
//! On Linux the temporary file is created without a name (`O_TMPFILE`): a process killed
//! while writing leaves nothing behind, because an unnamed file disappears with its last
//! descriptor. Only when the write is complete and synced is the file given a name
//! (`linkat` through `/proc/self/fd`) and renamed over the target, microseconds later.
//! Where `O_TMPFILE` is not available (other systems, some file systems) a named temporary
//! file (`tempfile`) is used, which a *killed* process can leave behind; errors still clean
//! it up.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes `path` atomically with `write`, which gets a buffered writer on the temporary file.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("out.bin");
/// neurovox::atomic::write_atomically(&path, |w| Ok(std::io::Write::write_all(w, b"data")?))?;
/// assert_eq!(std::fs::read(&path)?, b"data");
/// // A failing write leaves the old content and no temporary file.
/// let failed = neurovox::atomic::write_atomically(&path, |_| Err(neurovox::Error::usage("stop")));
/// assert!(failed.is_err());
/// assert_eq!(std::fs::read(&path)?, b"data");
/// assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomically<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<Writeback<'_>>) -> Result<()>,
{
    let with_path = |e: Error| e.with_path(path);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match unnamed::create_in(dir) {
        Some(file) => {
            fill(&file, write).map_err(with_path)?;
            unnamed::link_over(&file, dir, path).map_err(with_path)
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix(".neurovox-")
                .suffix(".tmp")
                .tempfile_in(dir)
                .map_err(|e| with_path(Error::io(e)))?;
            fill(temp.as_file(), write).map_err(with_path)?;
            temp.persist(path)
                .map_err(|e| with_path(Error::io(e.error)))?;
            Ok(())
        }
    }
}

/// The temporary file as [`write_atomically`]'s callback writes it: every
/// [`WRITEBACK_STEP`] bytes, the kernel is asked to start writing what came so far to disk
/// (`sync_file_range` with `SYNC_FILE_RANGE_WRITE`, which does not wait). The disk then works
/// while the caller converts or compresses the next bytes, and the final sync finds most of
/// the file already written, instead of the whole file at once. Elsewhere than on Linux it
/// is a plain file writer.
#[derive(Debug)]
pub struct Writeback<'a> {
    file: &'a File,
    /// The file position (the end of what was written, unless a writer seeked back).
    written: u64,
    /// Where the next writeback request starts.
    started: u64,
}

/// Bytes written between two requests to start writeback.
pub const WRITEBACK_STEP: u64 = 8 << 20;

impl Write for Writeback<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = (&mut &*self.file).write(buf)?;
        self.written += n as u64;
        if self.written >= self.started + WRITEBACK_STEP {
            start_writeback(self.file, self.started, self.written - self.started);
            self.started = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        (&mut &*self.file).flush()
    }
}

/// Writers that patch what they wrote (zip archives) seek; writeback then restarts from
/// the lowest position written since.
impl std::io::Seek for Writeback<'_> {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let position = (&mut &*self.file).seek(to)?;
        self.written = position;
        self.started = self.started.min(position);
        Ok(position)
    }
}

/// Asks the kernel to start writing `len` bytes of `file` at `offset` to disk. Advisory: an
/// error here changes nothing, since the final `sync_all` reports any failure to write.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: the descriptor is open for the borrow of `file`; the call reads no memory of
    // ours and only schedules I/O of the file's own pages.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

/// Writes through a buffer, flushes, and syncs the data to disk.
fn fill<F>(file: &File, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<Writeback<'_>>) -> Result<()>,
{
    let mut writer = BufWriter::new(Writeback {
        file,
        written: 0,
        started: 0,
    });
    write(&mut writer)?;
    writer.flush().map_err(Error::io)?;
    drop(writer);
    file.sync_all().map_err(Error::io)
}

/// A name next to the target for the instant between giving the file a name and renaming it.
fn staging_name(dir: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".neurovox-{}-{n}.tmp", std::process::id()))
}

#[cfg(target_os = "linux")]
mod unnamed {
    use super::{staging_name, Error, File, Path, Result};
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;

    /// An unnamed file in `dir`, or None where the system or file system cannot make one.
    pub(super) fn create_in(dir: &Path) -> Option<File> {
        std::fs::OpenOptions::new()
            .write(true)
            .read(true)
            .custom_flags(libc::O_TMPFILE)
            .mode(0o666)
            .open(dir)
            .ok()
    }

    /// Names the finished file and renames it over `target`.
    pub(super) fn link_over(file: &File, dir: &Path, target: &Path) -> Result<()> {
        let staging = staging_name(dir);
        let from = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .map_err(|_| Error::usage("bad descriptor path"))?;
        let to = CString::new(staging.as_os_str().as_bytes())
            .map_err(|_| Error::usage("the file name contains a NUL byte"))?;
        // SAFETY: both are valid NUL-terminated paths; linkat reads them and touches no
        // memory of ours.
        let linked = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
        if linked != 0 {
            return Err(Error::io(std::io::Error::last_os_error()));
        }
        std::fs::rename(&staging, target).map_err(|e| {
            let _ = std::fs::remove_file(&staging);
            Error::io(e)
        })
    }
}

#[cfg(not(target_os = "linux"))]
mod unnamed {
    use super::{File, Path, Result};

    pub(super) fn create_in(_dir: &Path) -> Option<File> {
        None
    }

    pub(super) fn link_over(_file: &File, _dir: &Path, _target: &Path) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        std::fs::write(&path, b"old").unwrap();
        write_atomically(&path, |w| Ok(w.write_all(b"new content")?)).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new content");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let e =
            write_atomically(&dir.path().join("missing-dir").join("x"), |_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("missing-dir"), "{e}");
    }
}
