//! Writing a file atomically: into a temporary file in the target's directory, flushed and
//! synced to disk, then renamed over the target. A reader sees the old file or the new one,
//! never half of one, and a failure leaves the old file as it was and no temporary behind.

use crate::error::{Error, Result};
use std::io::{BufWriter, Write};
use std::path::Path;

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
    F: FnOnce(&mut BufWriter<&std::fs::File>) -> Result<()>,
{
    let with_path = |e: Error| e.with_path(path);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".neurovox-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| with_path(Error::io(e)))?;
    {
        let mut writer = BufWriter::new(temp.as_file());
        write(&mut writer).map_err(with_path)?;
        writer.flush().map_err(|e| with_path(Error::io(e)))?;
    }
    temp.as_file()
        .sync_all()
        .map_err(|e| with_path(Error::io(e)))?;
    temp.persist(path)
        .map_err(|e| with_path(Error::io(e.error)))?;
    Ok(())
}
