//! `neurovox index FILE... [--cache] [--gzidx IDX | --from-gzidx IDX]`: builds the
//! checkpoint index of each gzip file written by another tool and stores it where every later
//! load finds it: a sidecar `FILE.nvgzidx` next to the file, or with `--cache` the per-user
//! cache directory (for datasets that are read-only), which is then trimmed to its size cap.
//! Loads in any later process then read any part of the file without a first pass, and whole
//! reads on every core (`neurovox::io::gzip` says where loads look and how a changed
//! file is told).
//!
//! `--gzidx IDX` also writes the index in indexed_gzip's format, for `IndexedGzipFile(...,
//! index_file=IDX)`; `--from-gzidx IDX` takes an index indexed_gzip exported instead of a pass
//! over the data. indexed_gzip records only the compressed size of its file, so an imported
//! index is checked by reading the whole file through it (every window used, the CRC32
//! compared) before it is stored.
//!
//! A URL (`https://`, `s3://`) is indexed by one pass over its object: with `--cache` into the
//! cache directory, where later loads of that URL look; without, into `NAME.nvgzidx` here, to
//! be put next to the object (`URL.nvgzidx`), where every reader of the URL looks.
//!
//! One line per file: where its index went, its checkpoints and size; or why not (a file
//! written by neurovox carries its own member index and is skipped with a note).

use neurovox::io::gzip::index_file::{self, GzipFingerprint, gzidx};
use neurovox::io::{GzipSource, Source};
use std::path::{Path, PathBuf};

/// Arguments of `neurovox index`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// gzip-compressed files (.nii.gz, .mgz, ...), or their URLs.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Store the indexes in the per-user cache directory instead of next to the files
    /// (for read-only datasets; NEUROVOX_GZIP_INDEX_DIR names another directory).
    #[arg(long)]
    cache: bool,
    /// Also write the index in indexed_gzip's format (GZIDX) to this file (one FILE only).
    #[arg(long, value_name = "IDX", conflicts_with = "from_gzidx")]
    gzidx: Option<PathBuf>,
    /// Build the index from this indexed_gzip index file instead of a pass over the data
    /// (one FILE only); it is checked by reading the file through it once.
    #[arg(long, value_name = "IDX")]
    from_gzidx: Option<PathBuf>,
}

/// Indexes every file; exit status 0 if all were indexed (or need no index), else 1.
pub fn run(args: &Args) -> u8 {
    crate::exit_status(index_all(args))
}

/// Indexes every file; true if all were indexed (or need no index).
fn index_all(args: &Args) -> bool {
    if (args.gzidx.is_some() || args.from_gzidx.is_some()) && args.files.len() != 1 {
        eprintln!("--gzidx and --from-gzidx take exactly one FILE");
        return false;
    }
    let mut ok = true;
    for file in &args.files {
        match index(file, args) {
            Ok(line) => println!("{line}"),
            Err(message) => {
                eprintln!("{}", crate::shown::text(&message));
                ok = false;
            }
        }
    }
    if args.cache
        && let Some(dir) = index_file::cache_dir()
        && let Err(e) = index_file::trim_cache(&dir, index_file::cache_cap())
    {
        eprintln!("{}", crate::shown::text(&e.to_string()));
        ok = false;
    }
    ok
}

fn shown(path: &Path) -> String {
    crate::shown::path(path)
}

fn destination(file: &Path, cache: bool) -> Result<PathBuf, String> {
    let url = file.to_str().filter(|s| neurovox::io::is_url(s));
    if !cache {
        return Ok(match url {
            // A URL's sidecar is written here, to be put next to the object
            // (URL.nvgzidx), where every reader of it looks.
            Some(url) => {
                let name = url.split(['?', '#']).next().unwrap_or(url);
                index_file::sidecar_path(Path::new(name.rsplit('/').next().unwrap_or(name)))
            }
            None => index_file::sidecar_path(file),
        });
    }
    let dir = index_file::cache_dir().ok_or_else(|| {
        format!(
            "{}: no cache directory (set NEUROVOX_GZIP_INDEX_DIR)",
            shown(file)
        )
    })?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", shown(&dir)))?;
    index_file::cache_path(file)
        .ok_or_else(|| format!("{}: cannot name its cache entry", shown(file)))
}

fn index(file: &Path, args: &Args) -> Result<String, String> {
    let source = neurovox::io::open_gzip(file).map_err(|e| e.to_string())?;
    if source.member_index().is_some() {
        return Ok(format!(
            "{}: written by neurovox, indexed by its own members (nothing to do)",
            shown(file)
        ));
    }
    let to = destination(file, args.cache)?;
    let is_url = file.to_str().is_some_and(neurovox::io::is_url);
    if is_url && args.from_gzidx.is_some() {
        return Err(format!(
            "{}: --from-gzidx takes a local file (an index is checked by reading its file)",
            shown(file)
        ));
    }
    let index = if let Some(from) = args.from_gzidx.as_deref() {
        drop(source);
        import(file, from, &to)?;
        GzipSource::open(file).and_then(|s| s.index_file())
    } else {
        // The source holds the complete index once it is written: no need to read it back.
        source.write_index(&to).and_then(|()| source.index_file())
    }
    .map_err(|e| e.to_string())?;
    if let Some(out) = args.gzidx.as_deref() {
        let bytes = gzidx::export(&index).map_err(|e| e.to_string())?;
        neurovox::io::atomic::write_atomically(out, |w| {
            std::io::Write::write_all(w, &bytes).map_err(neurovox::Error::io)
        })
        .map_err(|e| e.to_string())?;
    }
    let bytes = std::fs::metadata(&to).map(|m| m.len()).unwrap_or(0);
    Ok(format!(
        "{}: {} checkpoints over {} bytes, index {} bytes -> {}{}",
        shown(file),
        index.checkpoints.len(),
        index.total,
        bytes,
        shown(&to),
        args.gzidx
            .as_deref()
            .map(|g| format!(" (and indexed_gzip's format -> {})", shown(g)))
            .unwrap_or_default()
    ))
}

/// Converts an indexed_gzip index, stores it at `to`, and reads the whole file through it;
/// on any failure the stored index is removed again.
fn import(file: &Path, from: &Path, to: &Path) -> Result<(), String> {
    let bytes = std::fs::read(from).map_err(|e| format!("{}: {e}", shown(from)))?;
    let file_handle = std::fs::File::open(file).map_err(|e| format!("{}: {e}", shown(file)))?;
    let fingerprint =
        GzipFingerprint::of(&file_handle).map_err(|e| format!("{}: {e}", shown(file)))?;
    let index = gzidx::import(&bytes, &fingerprint).map_err(|e| format!("{}: {e}", shown(from)))?;
    neurovox::io::atomic::write_atomically(to, |w| {
        std::io::Write::write_all(w, &index.to_bytes()).map_err(neurovox::Error::io)
    })
    .map_err(|e| e.to_string())?;
    let check = || -> neurovox::Result<()> {
        let through = GzipSource::open(file)?;
        if through.index_origin() != Some(to) {
            return Err(neurovox::Error::format(format!(
                "the imported index was not taken: {}",
                through.index_file_error().unwrap_or("?")
            )));
        }
        let total = through.len()?;
        let mut buf = vec![0u8; 4 << 20];
        let mut at = 0u64;
        while at < total {
            let n = (total - at).min(buf.len() as u64) as usize;
            through.read_at(at, &mut buf[..n])?;
            at += n as u64;
        }
        Ok(())
    };
    check().map_err(|e| {
        let _ = std::fs::remove_file(to);
        format!(
            "{}: the index from {} does not fit this file: {e}",
            shown(file),
            shown(from)
        )
    })
}
