//! neurovox's side of `benches/bench_vs_nibabel.py`: performs one image operation, times it
//! inside the process, and prints one JSON line.
//!
//! Usage: `bench_io OPERATION REPEATS PATH [OUT]` (OUT only for `save`)
//!
//! | operation | what is timed (best of REPEATS) | nibabel's counterpart |
//! |---|---|---|
//! | `header_many` | `load` of every `*.nii.gz` in the directory PATH (headers only) | `nib.load(p)` for each |
//! | `full_load` | `load(PATH)` + `dataobj().to_array()` | `np.asanyarray(nib.load(p).dataobj)` |
//! | `fdata_f64` | `load(PATH)` + `get_fdata(Caching::Fill)` | `nib.load(p).get_fdata()` |
//! | `fdata_f32` | `load(PATH)` + `get_fdata_as::<f32>(Caching::Fill)` | `get_fdata(dtype=np.float32)` |
//! | `volume_cold` | `load(PATH)` + `dataobj().read(sel![..., 100])` (a new proxy and gzip index each time) | `nib.load(p).dataobj[..., 100]` |
//! | `volume_warm` | a second `dataobj().read(sel![..., 100])` on the same proxy (the first, untimed) | the same, second read |
//! | `slab` | `load(PATH)` + `dataobj().read(sel![48])` (a sagittal slab) | `nib.load(p).dataobj[48]` |
//! | `volume_late` | `load(PATH)` + `dataobj().read(sel![..., 170])` (cold) | `nib.load(p).dataobj[..., 170]` |
//! | `save` | `save::save(&img, OUT, Default::default())`, `img` loaded from PATH untimed | `nib.save(img, out)` |
//!
//! The volume indices (100, 170) and the slab index (48) are clamped to the image so the
//! small image of `--quick` works too. `save` writes OUT's format and compression (`.nii.gz`:
//! indexed gzip members on all cores); after the timed runs and after the peak memory was
//! taken, it reads OUT back for the checksum and reports OUT's size in `bytes`. The JSON holds the best time in seconds, the result's
//! shape and a checksum (the float64 sum of the result's values, computed after the timed
//! part) for the script to compare with nibabel's, and the process's peak resident memory
//! (VmHWM) in MiB.

use neurovox::array::DynArray;
use neurovox::image::Caching;
use neurovox::select::{Selection, SliceItem};
use std::path::{Path, PathBuf};
use std::time::Instant;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// What one timed run produced: its shape and checksum.
struct Outcome {
    shape: Vec<usize>,
    checksum: f64,
}

fn main() -> BoxResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (operation, repeats, path, out) = match &args[..] {
        [operation, repeats, path] => (operation, repeats, path, None),
        [operation, repeats, path, out] => (operation, repeats, path, Some(Path::new(out))),
        _ => return Err("usage: bench_io OPERATION REPEATS PATH [OUT]".into()),
    };
    let repeats: usize = repeats.parse()?;
    let path = Path::new(path);
    let mut best = f64::INFINITY;
    let mut outcome = None;
    for _ in 0..repeats.max(1) {
        let (seconds, result) = if operation == "save" {
            save_once(path, out.ok_or("save needs OUT")?)?
        } else {
            run_once(operation, path)?
        };
        best = best.min(seconds);
        outcome = Some(result);
    }
    let mut outcome = outcome.ok_or("no run")?;
    let peak = peak_rss_mib();
    let mut bytes = String::new();
    if let (true, Some(out)) = (operation == "save", out) {
        // Read the output back, after the peak memory was taken.
        outcome = outcome_of(&neurovox::load(out)?.dataobj().to_array()?)?;
        bytes = format!(", \"bytes\": {}", std::fs::metadata(out)?.len());
    }
    let shape: Vec<String> = outcome.shape.iter().map(ToString::to_string).collect();
    println!(
        "{{\"operation\": \"{operation}\", \"seconds\": {best:e}, \"shape\": [{}], \"checksum\": {:e}, \"peak_rss_mib\": {peak}{bytes}}}",
        shape.join(", "),
        outcome.checksum,
    );
    Ok(())
}

/// The process's peak resident memory in MiB (VmHWM; Linux), or -1 where unknown.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
        })
        .map_or(-1.0, |kib| kib / 1024.0)
}

/// Saves the image at `path` to `out` once (the load untimed); the outcome is empty, the
/// checksum is taken by reading `out` back afterwards.
fn save_once(path: &Path, out: &Path) -> BoxResult<(f64, Outcome)> {
    let img = neurovox::load(path)?;
    let start = Instant::now();
    neurovox::save::save(&img, out, Default::default())?;
    let seconds = start.elapsed().as_secs_f64();
    let outcome = Outcome {
        shape: Vec::new(),
        checksum: 0.0,
    };
    Ok((seconds, outcome))
}

/// Runs the operation once; returns the seconds of its timed part and the checksum of its
/// result (computed after the clock stopped).
fn run_once(operation: &str, path: &Path) -> BoxResult<(f64, Outcome)> {
    Ok(match operation {
        "header_many" => {
            let files = nii_gz_files(path)?;
            let start = Instant::now();
            let mut voxels = 0usize;
            for file in &files {
                let img = neurovox::load(file)?;
                voxels += img.shape().iter().product::<usize>();
            }
            let seconds = start.elapsed().as_secs_f64();
            (
                seconds,
                Outcome {
                    shape: vec![files.len()],
                    checksum: voxels as f64,
                },
            )
        }
        "full_load" => {
            let start = Instant::now();
            let data = neurovox::load(path)?.dataobj().to_array()?;
            let seconds = start.elapsed().as_secs_f64();
            (seconds, outcome_of(&data)?)
        }
        "fdata_f64" => {
            let start = Instant::now();
            let mut img = neurovox::load(path)?;
            let data = img.get_fdata(Caching::Fill)?;
            let seconds = start.elapsed().as_secs_f64();
            let checksum = data.sum();
            (
                seconds,
                Outcome {
                    shape: data.shape().to_vec(),
                    checksum,
                },
            )
        }
        "fdata_f32" => {
            let start = Instant::now();
            let mut img = neurovox::load(path)?;
            let data = img.get_fdata_as::<f32>(Caching::Fill)?;
            let seconds = start.elapsed().as_secs_f64();
            let checksum = data.iter().map(|&v| f64::from(v)).sum();
            (
                seconds,
                Outcome {
                    shape: data.shape().to_vec(),
                    checksum,
                },
            )
        }
        "volume_cold" => {
            let start = Instant::now();
            let img = neurovox::load(path)?;
            let data = img.dataobj().read(&volume_key(img.shape()))?;
            let seconds = start.elapsed().as_secs_f64();
            (seconds, outcome_of(&data)?)
        }
        "volume_late" => {
            let start = Instant::now();
            let img = neurovox::load(path)?;
            let volumes = img.shape().last().copied().unwrap_or(1);
            let t = 170.min(volumes.saturating_sub(1));
            let key = Selection::new(vec![SliceItem::Ellipsis, SliceItem::Index(t as isize)]);
            let data = img.dataobj().read(&key)?;
            let seconds = start.elapsed().as_secs_f64();
            (seconds, outcome_of(&data)?)
        }
        "volume_warm" => {
            let img = neurovox::load(path)?;
            let key = volume_key(img.shape());
            img.dataobj().read(&key)?;
            let start = Instant::now();
            let data = img.dataobj().read(&key)?;
            let seconds = start.elapsed().as_secs_f64();
            (seconds, outcome_of(&data)?)
        }
        "slab" => {
            let start = Instant::now();
            let img = neurovox::load(path)?;
            let x = (img.shape().first().copied().unwrap_or(1) / 2).min(48);
            let data = img
                .dataobj()
                .read(&Selection::new(vec![SliceItem::Index(x as isize)]))?;
            let seconds = start.elapsed().as_secs_f64();
            (seconds, outcome_of(&data)?)
        }
        other => return Err(format!("unknown operation {other}").into()),
    })
}

/// `[..., t]` with `t` = 100, or the middle volume of a shorter run.
fn volume_key(shape: &[usize]) -> Selection {
    let volumes = shape.last().copied().unwrap_or(1);
    let t = if volumes > 100 { 100 } else { volumes / 2 };
    Selection::new(vec![SliceItem::Ellipsis, SliceItem::Index(t as isize)])
}

/// The `*.nii.gz` files of a directory, sorted.
fn nii_gz_files(dir: &Path) -> BoxResult<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.to_string_lossy().ends_with(".nii.gz"));
    files.sort();
    Ok(files)
}

/// The shape and float64 sum of an array (summed in place for the types the benchmark
/// produces, so the checksum adds no copy to the peak memory).
fn outcome_of(data: &DynArray) -> BoxResult<Outcome> {
    let checksum = match data {
        DynArray::F64(a) => a.sum(),
        DynArray::F32(a) => a.iter().map(|&v| f64::from(v)).sum(),
        DynArray::I16(a) => a.iter().map(|&v| f64::from(v)).sum(),
        other => other.to_f64()?.sum(),
    };
    Ok(Outcome {
        shape: data.shape().to_vec(),
        checksum,
    })
}
