//! Writing files atomically and durably: each file goes into a temporary file in its
//! target's directory, flushed and synced to disk, then renamed over the target, and the
//! directory is synced so the rename survives a power cut. A reader sees the old file or the
//! new one, never half of one, and a failure leaves the old file as it was and no temporary
//! behind (docs/robustness.md, "Faults while saving").
//!
//! * **Unnamed temporaries.** On Linux the temporary file is created without a name
//!   (`O_TMPFILE`): a process killed while writing leaves nothing behind, because an unnamed
//!   file disappears with its last descriptor. Only when the write is complete and synced is
//!   the file given a name (`linkat` through `/proc/self/fd`) and renamed over the target.
//!   Where `O_TMPFILE` or `/proc` is not available, a named temporary file (`tempfile`) is
//!   used, which a *killed* process can leave behind; errors still clean it up.
//! * **What the replaced file was.** The new file gets the replaced file's permission bits,
//!   and its owner and group where the system permits (a `0600` scan stays private). A
//!   symbolic link is written through: its target is replaced and the link kept. A file with
//!   other hard links is refused unless [`HardLinks`] says otherwise, since replacing it
//!   would leave the other names with the old data.
//! * **Several files as one** ([`FileSet`]): a `.hdr`/`.img` pair (and an SPM `.mat`) is
//!   replaced as a set through a journal next to the image file; see [`journal`]. After a
//!   failure or a kill at any point, a load sees the whole old set or the whole new one.
//! * **Fault injection** for the tests of all this: [`fault`].

pub mod fault;
pub mod journal;

use crate::error::{Error, Result};
use fault::Step;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// What a save does when the file it replaces has other hard links (other names for the same
/// file).
///
/// ```
/// use neurovox::io::atomic::HardLinks;
/// assert_eq!(HardLinks::default(), HardLinks::Refuse);
/// assert_eq!(HardLinks::parse("in_place"), Some(HardLinks::InPlace));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HardLinks {
    /// Refuse with an error naming the file (the default): an atomic replace gives this name
    /// a new file and the other names would silently keep the old data.
    #[default]
    Refuse,
    /// Replace this name only; the other names keep the old file.
    Replace,
    /// Write into the shared file in place, as nibabel does: every name sees the new data,
    /// but the write is not atomic (a failure leaves a partly written file).
    InPlace,
}

impl HardLinks {
    /// The policy a name says: `"refuse"`, `"replace"` or `"in_place"`.
    pub fn parse(name: &str) -> Option<HardLinks> {
        match name {
            "refuse" => Some(HardLinks::Refuse),
            "replace" => Some(HardLinks::Replace),
            "in_place" => Some(HardLinks::InPlace),
            _ => None,
        }
    }
}

/// Writes `path` atomically with `write`, which gets a buffered writer on the temporary file.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("out.bin");
/// neurovox::io::atomic::write_atomically(&path, |w| Ok(std::io::Write::write_all(w, b"data")?))?;
/// assert_eq!(std::fs::read(&path)?, b"data");
/// // A failing write leaves the old content and no temporary file.
/// let failed = neurovox::io::atomic::write_atomically(&path, |_| Err(neurovox::Error::usage("stop")));
/// assert!(failed.is_err());
/// assert_eq!(std::fs::read(&path)?, b"data");
/// assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomically<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<Writeback<'_>>) -> Result<()>,
{
    let mut set = FileSet::new(HardLinks::default());
    set.stage(path, write)?;
    set.commit()
}

/// Files replaced together: each is written and synced by [`FileSet::stage`], and
/// [`FileSet::commit`] replaces them all. With a journal ([`FileSet::with_journal`]) a
/// failure or kill during the commit leaves a record from which the next load or save
/// completes the set; without one each file is replaced atomically on its own. Dropping an
/// uncommitted set removes what it staged.
///
/// ```
/// use neurovox::io::atomic::{FileSet, HardLinks};
/// use std::io::Write;
/// let dir = tempfile::tempdir()?;
/// let (hdr, img) = (dir.path().join("a.hdr"), dir.path().join("a.img"));
/// let mut set = FileSet::with_journal(&img, HardLinks::default());
/// set.stage(&hdr, |w| Ok(w.write_all(b"header")?))?;
/// set.stage(&img, |w| Ok(w.write_all(b"data")?))?;
/// set.commit()?;
/// assert_eq!(std::fs::read(&hdr)?, b"header");
/// assert_eq!(std::fs::read_dir(dir.path())?.count(), 2, "no journal or temporary left");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileSet {
    hard_links: HardLinks,
    journal: Option<PathBuf>,
    staged: Vec<Staged>,
}

/// One finished file waiting for its rename.
#[derive(Debug)]
struct Staged {
    temp: Temp,
    /// The file to replace: the path given, with symbolic links followed.
    target: PathBuf,
    /// The path as given (errors name it).
    given: PathBuf,
}

#[derive(Debug)]
enum Temp {
    /// An `O_TMPFILE` file, named only at commit.
    Unnamed(File),
    /// A named temporary file (removed if dropped uncommitted).
    Named(tempfile::NamedTempFile),
    /// Already written into the target itself ([`HardLinks::InPlace`]).
    InPlace,
}

impl FileSet {
    /// A set whose files are each replaced atomically on their own.
    pub fn new(hard_links: HardLinks) -> Self {
        FileSet {
            hard_links,
            journal: None,
            staged: Vec::new(),
        }
    }

    /// A set replaced as a whole, journalled next to `image_path` (see [`journal`]).
    pub fn with_journal(image_path: &Path, hard_links: HardLinks) -> Self {
        FileSet {
            hard_links,
            journal: Some(journal::journal_path(image_path)),
            staged: Vec::new(),
        }
    }

    /// Writes the new content of `path` with `write` into a temporary file beside it (beside
    /// the file a symbolic link names), with the replaced file's permissions, and syncs it.
    pub fn stage<F>(&mut self, path: &Path, write: F) -> Result<()>
    where
        F: FnOnce(&mut BufWriter<Writeback<'_>>) -> Result<()>,
    {
        let with_path = |e: Error| e.with_path(path);
        let target = resolve_links(path).map_err(with_path)?;
        let existing = match std::fs::metadata(&target) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(with_path(Error::io(e))),
        };
        if let Some(meta) = &existing {
            if !meta.is_file() {
                return Err(with_path(Error::usage(
                    "is not a regular file; neurovox saves only to regular files",
                )));
            }
            if links_of(meta) > 1 {
                match self.hard_links {
                    HardLinks::Refuse => {
                        return Err(with_path(Error::usage(format!(
                            "is one of {} hard links to the same file: replacing it would leave \
                             the other names with the old data. Save with hard_links=\"replace\" \
                             to replace this name only, or \"in_place\" to write into the shared \
                             file as nibabel does (not atomic)",
                            links_of(meta)
                        ))));
                    }
                    HardLinks::InPlace => {
                        let file = std::fs::OpenOptions::new()
                            .write(true)
                            .truncate(true)
                            .open(&target)
                            .map_err(|e| with_path(Error::io(e)))?;
                        fill(&file, write).map_err(with_path)?;
                        self.staged.push(Staged {
                            temp: Temp::InPlace,
                            target,
                            given: path.to_path_buf(),
                        });
                        return Ok(());
                    }
                    HardLinks::Replace => {}
                }
            }
        }
        let dir = parent_dir(&target);
        // The replaced file's mode and owner, then the contents, into the temporary file.
        let prepare = |file: &File| -> Result<()> {
            if let Some(meta) = &existing {
                keep_attributes(file, meta).map_err(with_path)?;
            }
            fill(file, write).map_err(with_path)
        };
        let temp = match unnamed::create_in(dir) {
            Some(file) => {
                prepare(&file)?;
                Temp::Unnamed(file)
            }
            None => {
                use std::os::unix::fs::PermissionsExt;
                let named = tempfile::Builder::new()
                    .prefix(".neurovox-")
                    .suffix(".tmp")
                    .permissions(std::fs::Permissions::from_mode(0o666))
                    .tempfile_in(dir)
                    .map_err(|e| with_path(Error::io(e)))?;
                prepare(named.as_file())?;
                Temp::Named(named)
            }
        };
        self.staged.push(Staged {
            temp,
            target,
            given: path.to_path_buf(),
        });
        Ok(())
    }

    /// Replaces every staged file. With a journal, a failure after the journal says
    /// "commit" is reported as such, and the next load or save of the image completes it.
    pub fn commit(self) -> Result<()> {
        let FileSet {
            journal, staged, ..
        } = self;
        let renamed: Vec<Staged> = staged
            .into_iter()
            .filter(|s| !matches!(s.temp, Temp::InPlace))
            .collect();
        match journal {
            Some(journal) if renamed.len() > 1 => commit_journalled(&journal, renamed),
            _ => {
                for one in &renamed {
                    let staging = name_staged(one).map_err(|e| e.with_path(&one.given))?;
                    rename_over(&staging, &one.target).map_err(|e| e.with_path(&one.given))?;
                    sync_dir(parent_dir(&one.target)).map_err(|e| e.with_path(&one.given))?;
                }
                Ok(())
            }
        }
    }
}

/// The journalled commit: see [`journal`] for the protocol and its recovery.
fn commit_journalled(journal_path: &Path, staged: Vec<Staged>) -> Result<()> {
    let names: Vec<(PathBuf, PathBuf)> = staged
        .iter()
        .map(|s| (staging_path_for(s), s.target.clone()))
        .collect();
    let record = journal::Journal::begin(journal_path, &names)?;
    let dirs = distinct_dirs(names.iter().map(|(_, target)| target.as_path()));
    let mut prepared = Ok(());
    for (one, (staging, _)) in staged.iter().zip(&names) {
        prepared = name_staged_as(one, staging).map_err(|e| e.with_path(&one.given));
        if prepared.is_err() {
            break;
        }
    }
    // The staging names now belong to the journal: a named temporary must no longer delete
    // itself when dropped (the journal's abort or recovery removes it).
    for one in staged {
        if let Temp::Named(named) = one.temp {
            let _ = named.into_temp_path().keep();
        }
    }
    let committed = prepared
        .and_then(|()| {
            dirs.iter()
                .try_for_each(|dir| sync_dir(dir).map_err(|e| e.with_path(journal_path)))
        })
        .and_then(|()| record.mark_committed());
    if let Err(e) = committed {
        record.abort();
        return Err(e);
    }
    // From here the new set is the image: a failure below is completed by the next load.
    let interrupted = |e: Error| {
        Error::io(std::io::Error::other(format!(
            "the save was interrupted after the new files were complete ({e}); the next \
             load or save of this image completes it"
        )))
        .with_path(journal_path)
    };
    for (staging, target) in &names {
        fault::point(Step::Rename)
            .and_then(|()| std::fs::rename(staging, target))
            .map_err(|e| interrupted(Error::io(e)))?;
    }
    for dir in &dirs {
        sync_dir(dir).map_err(interrupted)?;
    }
    record.finish().map_err(interrupted)
}

/// Where a staged file is named before its rename.
fn staging_path_for(staged: &Staged) -> PathBuf {
    match &staged.temp {
        Temp::Named(named) => named.path().to_path_buf(),
        _ => staging_name(parent_dir(&staged.target)),
    }
}

/// Gives a staged file a name in its target's directory and returns it.
fn name_staged(staged: &Staged) -> Result<PathBuf> {
    let staging = staging_path_for(staged);
    name_staged_as(staged, &staging)?;
    Ok(staging)
}

fn name_staged_as(staged: &Staged, staging: &Path) -> Result<()> {
    fault::point(Step::Link).map_err(Error::io)?;
    match &staged.temp {
        Temp::Unnamed(file) => unnamed::link_to(file, staging).map_err(Error::io),
        // Already named; from here the name must outlive the handle (the commit renames it,
        // or a recovery removes it).
        Temp::Named(_) | Temp::InPlace => Ok(()),
    }
}

/// Renames `staging` over `target`, removing `staging` if the rename fails.
fn rename_over(staging: &Path, target: &Path) -> Result<()> {
    let renamed = fault::point(Step::Rename).and_then(|()| std::fs::rename(staging, target));
    renamed.map_err(|e| {
        let _ = std::fs::remove_file(staging);
        Error::io(e)
    })
}

/// Syncs a directory, so the renames in it survive a power cut. File systems that cannot
/// sync a directory (`EINVAL`) are left as they are.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let synced = fault::point(Step::DirSync)
        .and_then(|()| File::open(dir))
        .and_then(|d| d.sync_all());
    match synced {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
        other => other.map_err(|e| Error::io(e).with_path(dir)),
    }
}

fn distinct_dirs<'a>(paths: impl Iterator<Item = &'a Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for path in paths {
        let dir = parent_dir(path).to_path_buf();
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `path` with symbolic links followed to the file they finally name (which need not exist:
/// a dangling link is written through, creating its target, as `open(..., 'wb')` does).
fn resolve_links(path: &Path) -> Result<PathBuf> {
    // Linux's own limit on links followed in one lookup.
    const MAX_LINKS: usize = 40;
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&current).map_err(Error::io)?;
                current = parent_dir(&current).join(link);
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(Error::io(e)),
        }
    }
    Err(Error::usage(format!(
        "more than {MAX_LINKS} symbolic links in a chain (a loop?)"
    )))
}

fn links_of(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.nlink()
}

/// Gives the new file the replaced file's permission bits, and its owner and group where
/// permitted (only a privileged process may give a file away; a group the user is in is
/// allowed, so the group is tried on its own too).
fn keep_attributes(file: &File, meta: &std::fs::Metadata) -> Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    file.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(Error::io)?;
    let fd = file.as_raw_fd();
    // SAFETY: fchown on a descriptor open for the borrow of `file`; reads no memory of ours.
    let owned = unsafe { libc::fchown(fd, meta.uid(), meta.gid()) };
    if owned != 0 {
        // SAFETY: as above; `u32::MAX` (-1) leaves the owner as it is.
        unsafe { libc::fchown(fd, u32::MAX, meta.gid()) };
    }
    // chown clears set-user-ID and set-group-ID bits: set the mode again once ownership
    // is settled.
    file.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(Error::io)
}

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
    fault::point(Step::Sync)
        .and_then(|()| file.sync_all())
        .map_err(Error::io)
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
        fault::point(Step::Write)?;
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

/// A name next to the target for the moment between giving the file a name and renaming it.
pub(crate) fn staging_name(dir: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".neurovox-{}-{n}.tmp", std::process::id()))
}

#[cfg(target_os = "linux")]
pub(crate) mod unnamed {
    use super::{File, Path};
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    use std::sync::OnceLock;

    /// Whether a descriptor can be named through `/proc/self/fd` (absent in some containers
    /// and chroots: then temporaries are named from the start).
    fn proc_fds() -> bool {
        static PROC: OnceLock<bool> = OnceLock::new();
        *PROC.get_or_init(|| Path::new("/proc/self/fd").is_dir())
    }

    /// An unnamed file in `dir`, or None where the system, the file system or a missing
    /// `/proc` rules one out.
    pub(crate) fn create_in(dir: &Path) -> Option<File> {
        if !proc_fds() {
            return None;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .read(true)
            .custom_flags(libc::O_TMPFILE)
            .mode(0o666)
            .open(dir)
            .ok()
    }

    /// Gives the unnamed `file` the name `to` (which must not exist).
    pub(crate) fn link_to(file: &File, to: &Path) -> std::io::Result<()> {
        let nul = |_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a NUL byte in a path");
        let from = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(nul)?;
        let to = CString::new(to.as_os_str().as_bytes()).map_err(nul)?;
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
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) mod unnamed {
    use super::{File, Path};

    pub(crate) fn create_in(_dir: &Path) -> Option<File> {
        None
    }

    pub(crate) fn link_to(_file: &File, _to: &Path) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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

    #[test]
    fn keeps_the_mode_of_the_replaced_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("private.nii");
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomically(&path, |w| Ok(w.write_all(b"new")?)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn keeps_the_owner_and_group_where_permitted() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("theirs.nii");
        std::fs::write(&path, b"old").unwrap();
        // SAFETY: geteuid reads no memory of ours.
        let root = unsafe { libc::geteuid() } == 0;
        let (uid, gid) = if root {
            std::os::unix::fs::chown(&path, Some(1234), Some(5678)).unwrap();
            (1234, 5678)
        } else {
            let meta = std::fs::metadata(&path).unwrap();
            (meta.uid(), meta.gid())
        };
        write_atomically(&path, |w| Ok(w.write_all(b"new")?)).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    }

    #[test]
    fn writes_through_symbolic_links() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("sub").join("real.nii");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.nii");
        std::os::unix::fs::symlink("sub/real.nii", &link).unwrap();
        write_atomically(&link, |w| Ok(w.write_all(b"new")?)).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        // A dangling link creates its target.
        let dangling = dir.path().join("dangling.nii");
        std::os::unix::fs::symlink("sub/new.nii", &dangling).unwrap();
        write_atomically(&dangling, |w| Ok(w.write_all(b"made")?)).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("sub/new.nii")).unwrap(),
            b"made"
        );
        // A loop is an error naming the file, not a hang.
        let a = dir.path().join("a.nii");
        std::os::unix::fs::symlink("b.nii", &a).unwrap();
        std::os::unix::fs::symlink("a.nii", dir.path().join("b.nii")).unwrap();
        let e = write_atomically(&a, |_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("a.nii"), "{e}");
    }

    #[test]
    fn hard_links_are_refused_replaced_or_written_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.nii");
        let other = dir.path().join("b.nii");
        std::fs::write(&path, b"old").unwrap();
        std::fs::hard_link(&path, &other).unwrap();
        let e = write_atomically(&path, |w| Ok(w.write_all(b"new")?)).unwrap_err();
        assert!(e.to_string().contains("hard links"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");

        let mut set = FileSet::new(HardLinks::InPlace);
        set.stage(&path, |w| Ok(w.write_all(b"shared")?)).unwrap();
        set.commit().unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"shared");

        let mut set = FileSet::new(HardLinks::Replace);
        set.stage(&path, |w| Ok(w.write_all(b"mine")?)).unwrap();
        set.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"mine");
        assert_eq!(std::fs::read(&other).unwrap(), b"shared");
    }

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = write_atomically(dir.path(), |_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn named_temporaries_when_unnamed_ones_are_unavailable() {
        // The path taken without /proc or O_TMPFILE: a named temporary, renamed, new files
        // made with the usual mode (0666 less the umask), not tempfile's private 0600.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.nii");
        let named = tempfile::Builder::new()
            .prefix(".neurovox-")
            .suffix(".tmp")
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(dir.path())
            .unwrap();
        fill(named.as_file(), |w| Ok(w.write_all(b"data")?)).unwrap();
        let staged = Staged {
            temp: Temp::Named(named),
            target: path.clone(),
            given: path.clone(),
        };
        let staging = name_staged(&staged).unwrap();
        rename_over(&staging, &path).unwrap();
        drop(staged);
        assert_eq!(std::fs::read(&path).unwrap(), b"data");
        // SAFETY: umask only reads and sets the process mask; set back at once.
        let mask = unsafe {
            let m = libc::umask(0o022);
            libc::umask(m);
            m
        };
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !(mask as u32));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
