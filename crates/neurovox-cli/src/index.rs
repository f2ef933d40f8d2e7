//! `neurovox index FILE... [--cache]`: builds the checkpoint index of each gzip file written
//! by another tool and stores it where every later load finds it: a sidecar
//! `FILE.nvgzidx` next to the file, or with `--cache` the per-user cache directory (for
//! datasets that are read-only), which is then trimmed to its size cap. Loads in any later
//! process then read any part of the file without a first pass, and whole reads on every
//! core (`neurovox::io::gzip_index` says where loads look and how a changed file is told).
//!
//! One line per file: where its index went, its checkpoints and size; or why not (a file
//! written by neurovox carries its own member index and is skipped with a note).

use neurovox::io::{gzip_index, GzipSource, Source};
use std::path::Path;

/// Indexes every file; true if all were indexed (or need no index).
pub fn run(files: &[impl AsRef<Path>], cache: bool) -> bool {
    let mut ok = true;
    for file in files {
        let file = file.as_ref();
        match index(file, cache) {
            Ok(line) => println!("{line}"),
            Err(message) => {
                eprintln!("{message}");
                ok = false;
            }
        }
    }
    if cache {
        if let Some(dir) = gzip_index::cache_dir() {
            if let Err(e) = gzip_index::trim_cache(&dir, gzip_index::cache_cap()) {
                eprintln!("{e}");
                ok = false;
            }
        }
    }
    ok
}

fn index(file: &Path, cache: bool) -> Result<String, String> {
    let shown = file.display().to_string().escape_debug().to_string();
    let source = GzipSource::open(file).map_err(|e| e.to_string())?;
    if source.member_index().is_some() {
        return Ok(format!(
            "{shown}: written by neurovox, indexed by its own members (nothing to do)"
        ));
    }
    let to = if cache {
        let dir = gzip_index::cache_dir()
            .ok_or_else(|| format!("{shown}: no cache directory (set NEUROVOX_GZIP_INDEX_DIR)"))?;
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        gzip_index::cache_path(file)
            .ok_or_else(|| format!("{shown}: cannot name its cache entry"))?
    } else {
        gzip_index::sidecar_path(file)
    };
    source.write_index(&to).map_err(|e| e.to_string())?;
    let stats = source.index_stats();
    let bytes = std::fs::metadata(&to).map(|m| m.len()).unwrap_or(0);
    Ok(format!(
        "{shown}: {} checkpoints over {} bytes, index {} bytes -> {}",
        stats.checkpoints,
        source.len().map_err(|e| e.to_string())?,
        bytes,
        to.display().to_string().escape_debug()
    ))
}
