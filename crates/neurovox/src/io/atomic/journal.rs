//! The journal that makes a multi-file save (a `.hdr`/`.img` pair, an SPM `.mat`) one atomic
//! change: after a failure or a kill at any point, the next load or save sees the whole old
//! set of files or the whole new one, never a header from one save over data from another.
//!
//! The protocol ([`super::FileSet::commit`]):
//!
//! 1. Every new file is written and synced under no name (or a temporary one) first.
//! 2. The journal `.<image file name>.neurovox-save`, next to the image file, is made whole
//!    under no name, locked (`flock`), synced, and only then linked in (so nobody ever reads
//!    half a journal). It is in state **P** (prepared) and lists, for each file, its staging
//!    name and its target.
//! 3. The new files get their staging names; the directories are synced.
//! 4. The state byte becomes **C** (committed), synced: from here the new set *is* the image.
//! 5. Each staging name is renamed over its target; the directories are synced.
//! 6. The journal is removed while still locked.
//!
//! [`finish_interrupted_save`] (called by every load and save of a pair) waits for the lock,
//! so a save in progress is never disturbed; a lock it gets on a journal still linked means
//! the saver died: state P is rolled back (the staging files removed, the old set untouched),
//! state C is rolled forward (the remaining renames done). Either way the journal goes.
//!
//! Written here because no crate does it: the file-transaction crates replace one file, and
//! databases' write-ahead logs are far more than two renames need.

use super::fault::{self, Step};
use crate::error::{Error, Result};
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MAGIC: &str = "neurovox-save 1";
/// How long a load waits for a save in progress to finish its renames (they take
/// milliseconds; a longer wait means a hung saver, reported as such).
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Where the journal of a save of `image_path` lives.
///
/// ```
/// use std::path::Path;
/// let j = neurovox::io::atomic::journal::journal_path(Path::new("/data/sub-01.img"));
/// assert_eq!(j, Path::new("/data/.sub-01.img.neurovox-save"));
/// ```
pub fn journal_path(image_path: &Path) -> PathBuf {
    let name = image_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match image_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    dir.join(format!(".{name}.neurovox-save"))
}

/// A journal held (locked) by the save that wrote it.
#[derive(Debug)]
pub(crate) struct Journal {
    file: File,
    path: PathBuf,
    names: Vec<(PathBuf, PathBuf)>,
}

impl Journal {
    /// Writes, locks and links a journal in state P listing `(staging, target)` pairs. A
    /// journal already there is first finished (another save's, interrupted or running).
    pub(crate) fn begin(path: &Path, names: &[(PathBuf, PathBuf)]) -> Result<Journal> {
        let with_path = |e: Error| e.with_path(path);
        let mut body = format!("P {MAGIC}\n").into_bytes();
        for (staging, target) in names {
            body.extend_from_slice(hex(staging).as_bytes());
            body.push(b'\t');
            body.extend_from_slice(hex(target).as_bytes());
            body.push(b'\n');
        }
        let dir = super::parent_dir(path);
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            finish_at(path)?;
            let (file, temp_name) = new_unlinked(dir).map_err(with_path)?;
            let linked = fault::point(Step::Journal)
                .and_then(|()| (&file).write_all(&body))
                .and_then(|()| file.sync_all())
                .and_then(|()| lock(&file, false))
                .and_then(|()| match &temp_name {
                    None => super::unnamed::link_to(&file, path),
                    Some(temp) => std::fs::hard_link(temp, path),
                });
            if let Some(temp) = &temp_name {
                let _ = std::fs::remove_file(temp);
            }
            match linked {
                Ok(()) => {
                    super::sync_dir(dir)?;
                    return Ok(Journal {
                        file,
                        path: path.to_path_buf(),
                        names: names.to_vec(),
                    });
                }
                // Another save linked its journal first: wait for it, then try again.
                Err(e)
                    if e.kind() == std::io::ErrorKind::AlreadyExists
                        && Instant::now() < deadline =>
                {
                    continue;
                }
                Err(e) => return Err(with_path(Error::io(e))),
            }
        }
    }

    /// Sets the state to C and syncs it: the new set is now the image.
    pub(crate) fn mark_committed(&self) -> Result<()> {
        use std::os::unix::fs::FileExt;
        fault::point(Step::Journal)
            .and_then(|()| self.file.write_all_at(b"C", 0))
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io(e).with_path(&self.path))
    }

    /// Removes the journal (the set is complete).
    pub(crate) fn finish(self) -> Result<()> {
        fault::point(Step::Journal)
            .and_then(|()| std::fs::remove_file(&self.path))
            .map_err(|e| Error::io(e).with_path(&self.path))?;
        super::sync_dir(super::parent_dir(&self.path))
    }

    /// Rolls back a save that failed before its commit: the staging files and the journal
    /// go; the old files were never touched.
    pub(crate) fn abort(self) {
        for (staging, _) in &self.names {
            let _ = std::fs::remove_file(staging);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Finishes a save of `image_path` that was interrupted (see the module documentation), or
/// waits for one in progress; nothing when there is no journal, which costs one `stat`.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// neurovox::io::atomic::journal::finish_interrupted_save(&dir.path().join("a.img"))?;
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn finish_interrupted_save(image_path: &Path) -> Result<()> {
    finish_at(&journal_path(image_path))
}

fn finish_at(path: &Path) -> Result<()> {
    let with_path = |e: Error| e.with_path(path);
    // Read-only: locking needs no more, and a reader without write access to the journal
    // (another user's save) must still be able to wait for it.
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(with_path(Error::io(e))),
    };
    let deadline = Instant::now() + LOCK_WAIT;
    let mut pause = Duration::from_micros(200);
    loop {
        match lock(&file, true) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(with_path(Error::io(std::io::Error::other(
                    "a save of this image has held its journal for more than 10 s; \
                     is the saving process hung?",
                ))));
            }
            Err(e) => return Err(with_path(Error::io(e))),
        }
    }
    // The saver removes its journal before unlocking: a journal with no name left was a
    // save that finished.
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().map_err(|e| with_path(Error::io(e)))?;
    if meta.nlink() == 0 {
        return Ok(());
    }
    let bytes = std::fs::read(path).map_err(|e| with_path(Error::io(e)))?;
    let (committed, names) = parse(&bytes).ok_or_else(|| {
        with_path(Error::format(
            "the journal of an interrupted save is damaged; the files it names were left \
             as they are (remove it by hand once you have checked the image)",
        ))
    })?;
    let mut dirs = Vec::new();
    for (staging, target) in &names {
        let done = if committed {
            std::fs::rename(staging, target)
        } else {
            std::fs::remove_file(staging)
        };
        match done {
            Ok(()) => {}
            // Renamed or removed before the interruption.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(with_path(Error::io(e))),
        }
        let dir = super::parent_dir(target).to_path_buf();
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    for dir in &dirs {
        super::sync_dir(dir)?;
    }
    std::fs::remove_file(path).map_err(|e| with_path(Error::io(e)))?;
    super::sync_dir(super::parent_dir(path))
}

/// A new file in `dir` not yet visible under the journal's name: unnamed where possible,
/// else under a temporary name (returned, for the caller to remove once linked).
fn new_unlinked(dir: &Path) -> Result<(File, Option<PathBuf>)> {
    if let Some(file) = super::unnamed::create_in(dir) {
        return Ok((file, None));
    }
    let temp = super::staging_name(dir);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(Error::io)?;
    Ok((file, Some(temp)))
}

fn lock(file: &File, nonblocking: bool) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let flags = libc::LOCK_EX | if nonblocking { libc::LOCK_NB } else { 0 };
    // SAFETY: flock on a descriptor open for the borrow of `file`; reads no memory of ours.
    if unsafe { libc::flock(file.as_raw_fd(), flags) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn hex(path: &Path) -> String {
    path.as_os_str()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn unhex(text: &[u8]) -> Option<PathBuf> {
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = text
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect();
    Some(PathBuf::from(std::ffi::OsString::from_vec(bytes?)))
}

/// The state (true for C) and the `(staging, target)` pairs of a journal's bytes.
fn parse(bytes: &[u8]) -> Option<(bool, Vec<(PathBuf, PathBuf)>)> {
    let mut lines = bytes.split(|&b| b == b'\n');
    let first = lines.next()?;
    let committed = match first.first()? {
        b'C' => true,
        b'P' => false,
        _ => return None,
    };
    if first.get(2..)? != MAGIC.as_bytes() {
        return None;
    }
    let mut names = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let tab = line.iter().position(|&b| b == b'\t')?;
        names.push((unhex(&line[..tab])?, unhex(&line[tab + 1..])?));
    }
    (!names.is_empty()).then_some((committed, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_bytes_round_trip_and_damage_is_refused() {
        let names = vec![
            (PathBuf::from("/d/.s1"), PathBuf::from("/d/a\nb.hdr")),
            (PathBuf::from("/d/.s2"), PathBuf::from("/d/a\nb.img")),
        ];
        let mut body = format!("C {MAGIC}\n").into_bytes();
        for (s, t) in &names {
            body.extend(format!("{}\t{}\n", hex(s), hex(t)).bytes());
        }
        assert_eq!(parse(&body), Some((true, names)));
        assert_eq!(parse(b""), None);
        assert_eq!(parse(format!("X {MAGIC}\nab\tcd\n").as_bytes()), None);
        assert_eq!(parse(format!("P {MAGIC}\n").as_bytes()), None);
        assert_eq!(parse(format!("P {MAGIC}\nzz\tcd\n").as_bytes()), None);
    }
}
