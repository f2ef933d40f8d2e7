//! neurovox's Rust side of the benchmark matrix (`benches/matrix.py`): performs one image
//! operation, times it inside the process, and prints one JSON line.
//!
//! Usage: `bench_io SPEC`, where SPEC is the JSON object the matrix gives every side, e.g.
//! `{"op": "slice", "repeats": 3, "path": "bold.nii.gz", "key": [null, 48]}`.
//!
//! | `op` | what is timed (best of `repeats`) | nibabel's counterpart |
//! |---|---|---|
//! | `header_many` | `load` of every `.nii`/`.nii.gz` in the directory `dir` (headers only) | `nib.load(p)` for each |
//! | `fdata` | `load(path)` + `get_fdata_as::<T>(Caching::Fill)`, `T` from `dtype` | `nib.load(p).get_fdata(dtype=...)` |
//! | `asarray` | `load(path)` + `dataobj().to_array()` | `np.asarray(nib.load(p).dataobj)` |
//! | `slice` | `load(path)` + `dataobj().read(key)` (a new proxy each time: cold) | `nib.load(p).dataobj[key]` |
//! | `keys` | `load(path)` + `dataobj().read(key)` for each key of `keys` on that one image (`warm_s`: the same keys again) | `[np.asarray(img.dataobj[k]) for k in keys]` |
//! | `volumes_warm` | after an untimed `get_fdata(Caching::Fill)`, `dataobj().read(sel![..., t])` for each `t` of `volumes` | the same reads after `img.get_fdata()` |
//! | `fdata_is_dirty` | `load(path)` + `get_fdata(Caching::Fill)` + `is_dirty()` (`is_dirty_s` reported too) | `get_fdata()` (nibabel has no `is_dirty`) |
//! | `save_array` | `Image::from_dyn_array(arr, affine)` (+ `set_data_dtype(set_dtype)`) + `save(out)`; `arr` read from the `.npy` `npy` untimed | `nib.save(nib.Nifti1Image(arr, affine), out)` |
//! | `convert` | `load(path)` + `save(out)` | `nib.save(nib.load(p), out)` |
//! | `pickle` | `handle()` + JSON + `ImageHandle::open` + `dataobj().read(key)`, the load (and with `fdata_first` a `get_fdata`) untimed | `pickle.loads(pickle.dumps(img)).dataobj[key]` |
//! | `real_many` | `load` + `get_fdata(Caching::Fill)` of every `.nii`/`.nii.gz` in `dir` (each file timed; its sum without NaNs, per file in `extra`, taken between clocks) | `nib.load(p).get_fdata()` for each |
//! | `inflate_limit` | the one-core limit of a whole read: `std::fs::read(path)` + one `libdeflater::Decompressor::gzip_decompress` into a fresh buffer of `total` bytes (a neurovox-written file: one call per member, in order, from its member table read untimed); the result is the `shape` and `dtype` (numpy's `dtype.str`) data after `offset` | an anchor, no counterpart |
//! | `gzip_index` | untimed preparation: builds the checkpoint index of the `.nii.gz` `path` and stores it where loads look (`index_file::cache_path`, so under `$NEUROVOX_GZIP_INDEX_DIR`); a neurovox-written file needs none (`extra.index`: `members`) | `neurovox index` |
//!
//! `key` is a list of items: an integer, `null` for `:`, `"..."` for the ellipsis. The JSON
//! holds the best time in seconds, the result's shape, numpy's name of its dtype and a
//! checksum (the float64 sum of its values, computed after the clock stopped), the process's
//! peak resident memory (VmHWM) in MiB, and `extra` facts (`is_dirty_s`, `pickle_bytes`,
//! `sums`, `index_bytes`). A NaN checksum is written as `null`.
//! Saves report no checksum: the matrix reads every side's output back with nibabel.

use neurovox::array::DynArray;
use neurovox::array::{Selection, SliceItem};
use neurovox::image::{Caching, Image};
use neurovox::io::GzipSource;
use neurovox::io::gzip::MemberIndex;
use neurovox::io::gzip::index_file;
use neurovox::{DataType, ImageFormat, ImageHandle};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Instant;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// What one timed run produced: seconds of the timed part, the result's summary and facts.
struct Outcome {
    seconds: f64,
    shape: Vec<usize>,
    checksum: f64,
    dtype: String,
    extra: serde_json::Map<String, Value>,
}

impl Outcome {
    fn of(seconds: f64, data: &DynArray) -> BoxResult<Outcome> {
        Ok(Outcome {
            seconds,
            shape: data.shape().to_vec(),
            checksum: checksum(data)?,
            dtype: data.dtype().name().to_string(),
            extra: serde_json::Map::new(),
        })
    }

    fn empty(seconds: f64) -> Outcome {
        Outcome {
            seconds,
            shape: Vec::new(),
            checksum: 0.0,
            dtype: String::new(),
            extra: serde_json::Map::new(),
        }
    }
}

fn main() -> BoxResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [spec] = &args[..] else {
        return Err("usage: bench_io SPEC (a JSON object; see the module documentation)".into());
    };
    let spec: Value = serde_json::from_str(spec)?;
    let op = text(&spec, "op")?;
    let repeats = spec["repeats"].as_u64().unwrap_or(1).max(1);
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..repeats {
        let outcome = run_once(op, &spec)?;
        best = best.min(outcome.seconds);
        last = Some(outcome);
    }
    let outcome = last.ok_or("no run")?;
    let report = json!({
        "op": op,
        "seconds": best,
        "shape": outcome.shape,
        "checksum": outcome.checksum,
        "dtype": outcome.dtype,
        "peak_rss_mib": peak_rss_mib(),
        "extra": outcome.extra,
    });
    println!("{report}");
    Ok(())
}

fn text<'a>(spec: &'a Value, name: &str) -> BoxResult<&'a str> {
    spec[name]
        .as_str()
        .ok_or_else(|| format!("the spec has no string {name:?}").into())
}

fn path_of(spec: &Value, name: &str) -> BoxResult<PathBuf> {
    Ok(PathBuf::from(text(spec, name)?))
}

/// The selection a spec's `key` describes: integers, `null` for `:`, `"..."`.
fn selection(spec: &Value) -> BoxResult<Selection> {
    key_of(&spec["key"])
}

/// One key: a list of items (an integer, `null` for `:`, `"..."`).
fn key_of(key: &Value) -> BoxResult<Selection> {
    let items = key.as_array().ok_or("the spec has no key")?;
    let items = items
        .iter()
        .map(|item| match item {
            Value::Null => Ok(SliceItem::full()),
            Value::String(s) if s == "..." => Ok(SliceItem::Ellipsis),
            Value::Number(n) => n
                .as_i64()
                .map(|i| SliceItem::Index(i as isize))
                .ok_or_else(|| format!("bad index {n}")),
            other => Err(format!("bad key item {other}")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Selection::new(items))
}

fn volume(t: i64) -> Selection {
    Selection::new(vec![SliceItem::Ellipsis, SliceItem::Index(t as isize)])
}

/// The affine every save gives its array image (the matrix's `AFFINE`).
const AFFINE: [[f64; 4]; 4] = [
    [-2.5, 0.0, 0.0, 118.75],
    [0.0, 2.5, 0.0, -118.75],
    [0.0, 0.0, 2.5, -73.75],
    [0.0, 0.0, 0.0, 1.0],
];

/// Runs the operation once.
fn run_once(op: &str, spec: &Value) -> BoxResult<Outcome> {
    Ok(match op {
        "header_many" => {
            let files = image_files(&path_of(spec, "dir")?)?;
            let start = Instant::now();
            let mut voxels = 0usize;
            for file in &files {
                voxels += neurovox::load(file)?.shape().iter().product::<usize>();
            }
            let seconds = start.elapsed().as_secs_f64();
            Outcome {
                shape: vec![files.len()],
                checksum: voxels as f64,
                dtype: "header".into(),
                ..Outcome::empty(seconds)
            }
        }
        "fdata" => {
            let path = path_of(spec, "path")?;
            let start = Instant::now();
            let mut img = neurovox::load(&path)?;
            let data = if text(spec, "dtype")? == "float32" {
                DynArray::F32(img.get_fdata_as::<f32>(Caching::Fill)?)
            } else {
                DynArray::F64(img.get_fdata(Caching::Fill)?)
            };
            Outcome::of(start.elapsed().as_secs_f64(), &data)?
        }
        "asarray" => {
            let path = path_of(spec, "path")?;
            let start = Instant::now();
            let data = neurovox::load(&path)?.dataobj().to_array()?;
            Outcome::of(start.elapsed().as_secs_f64(), &data)?
        }
        "slice" => {
            let path = path_of(spec, "path")?;
            let key = selection(spec)?;
            let start = Instant::now();
            let data = neurovox::load(&path)?.dataobj().read(&key)?;
            Outcome::of(start.elapsed().as_secs_f64(), &data)?
        }
        "keys" => {
            let keys = spec["keys"]
                .as_array()
                .ok_or("the spec has no keys")?
                .iter()
                .map(key_of)
                .collect::<BoxResult<Vec<_>>>()?;
            let img = neurovox::load(path_of(spec, "path")?)?;
            let mut rounds = Vec::new();
            let mut read = Vec::with_capacity(keys.len());
            for _ in 0..2 {
                let start = Instant::now();
                read.clear();
                for key in &keys {
                    read.push(img.dataobj().read(key)?);
                }
                rounds.push(start.elapsed().as_secs_f64());
            }
            let mut outcome = Outcome::of(rounds[0], read.first().ok_or("no keys")?)?;
            outcome.checksum = read.iter().map(checksum).sum::<BoxResult<f64>>()?;
            outcome.shape = vec![read.len()];
            outcome.extra.insert("warm_s".into(), json!(rounds[1]));
            outcome
        }
        "volumes_warm" => {
            let mut img = neurovox::load(path_of(spec, "path")?)?;
            img.get_fdata(Caching::Fill)?;
            let volumes: Vec<i64> = spec["volumes"]
                .as_array()
                .ok_or("the spec has no volumes")?
                .iter()
                .filter_map(Value::as_i64)
                .collect();
            let start = Instant::now();
            let mut read = Vec::with_capacity(volumes.len());
            for &t in &volumes {
                read.push(img.dataobj().read(&volume(t))?);
            }
            let seconds = start.elapsed().as_secs_f64();
            let mut outcome = Outcome::of(seconds, read.first().ok_or("no volumes")?)?;
            outcome.checksum = read.iter().map(checksum).sum::<BoxResult<f64>>()?;
            outcome.shape.insert(0, read.len());
            outcome
        }
        "fdata_is_dirty" => {
            let path = path_of(spec, "path")?;
            let start = Instant::now();
            let mut img = neurovox::load(&path)?;
            let data = img.get_fdata(Caching::Fill)?;
            let asked = Instant::now();
            let dirty = img.is_dirty();
            let end = Instant::now();
            let mut outcome = Outcome::of((end - start).as_secs_f64(), &DynArray::F64(data))?;
            outcome
                .extra
                .insert("is_dirty_s".into(), json!((end - asked).as_secs_f64()));
            outcome.extra.insert("is_dirty".into(), json!(dirty));
            outcome
        }
        "save_array" => {
            let npy = path_of(spec, "npy")?;
            let out = path_of(spec, "out")?;
            let data = neurovox::numpy::npy::read_npy_dyn(&mut std::io::BufReader::new(
                std::fs::File::open(&npy)?,
            ))?;
            let set_dtype = match spec["set_dtype"].as_str() {
                Some(name) => Some(DataType::from_name(name).ok_or("unknown set_dtype")?),
                None => None,
            };
            let start = Instant::now();
            // The clone shares the array's memory (an ArcArray), as numpy's image does.
            let mut img =
                Image::from_dyn_array(data.clone(), Some(AFFINE), None, ImageFormat::Nifti1)?;
            if let Some(dtype) = set_dtype {
                img.header_mut().set_data_dtype(dtype)?;
            }
            neurovox::save(&img, &out, Default::default())?;
            Outcome::empty(start.elapsed().as_secs_f64())
        }
        "convert" => {
            let path = path_of(spec, "path")?;
            let out = path_of(spec, "out")?;
            let start = Instant::now();
            let img = neurovox::load(&path)?;
            neurovox::save(&img, &out, Default::default())?;
            Outcome::empty(start.elapsed().as_secs_f64())
        }
        "pickle" => {
            let mut img = neurovox::load(path_of(spec, "path")?)?;
            if spec["fdata_first"].as_bool().unwrap_or(false) {
                img.get_fdata(Caching::Fill)?;
            }
            let key = selection(spec)?;
            let start = Instant::now();
            let bytes = serde_json::to_string(&img.handle()?)?;
            let back: ImageHandle = serde_json::from_str(&bytes)?;
            let data = back.open()?.dataobj().read(&key)?;
            let mut outcome = Outcome::of(start.elapsed().as_secs_f64(), &data)?;
            outcome
                .extra
                .insert("pickle_bytes".into(), json!(bytes.len()));
            outcome
        }
        "real_many" => {
            // Each file's load and get_fdata are timed; its sum (NaNs left out) is taken
            // between the clocks. The sums per file go in `extra`.
            let files = image_files(&path_of(spec, "dir")?)?;
            let mut seconds = 0.0;
            let mut sums = serde_json::Map::new();
            let mut checksum = 0.0;
            for file in &files {
                let start = Instant::now();
                let data = neurovox::load(file)?.get_fdata(Caching::Fill)?;
                seconds += start.elapsed().as_secs_f64();
                let sum: f64 = data.iter().filter(|v| !v.is_nan()).sum();
                checksum += sum;
                let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
                sums.insert(name.unwrap_or_default(), json!(sum));
            }
            let mut outcome = Outcome {
                shape: vec![files.len()],
                checksum,
                dtype: "float64".into(),
                ..Outcome::empty(seconds)
            };
            outcome.extra.insert("sums".into(), Value::Object(sums));
            outcome
        }
        "inflate_limit" => {
            let path = path_of(spec, "path")?;
            let total = usize::try_from(spec["total"].as_u64().ok_or("the spec has no total")?)?;
            let offset = usize::try_from(spec["offset"].as_u64().ok_or("the spec has no offset")?)?;
            // A neurovox-written file is many members: libdeflate inflates one per call, so
            // their places are taken from the file's member table first (untimed, 2 reads).
            let members = MemberIndex::open(&path)?;
            let start = Instant::now();
            let input = std::fs::read(&path)?;
            let mut out = vec![0u8; total];
            let mut inflater = libdeflater::Decompressor::new();
            let inflated = match &members {
                None => inflater.gzip_decompress(&input, &mut out)?,
                Some(index) => {
                    let mut inflated = 0;
                    for m in index.members() {
                        let from = usize::try_from(m.offset)?;
                        let to = usize::try_from(m.out)?;
                        let src = input
                            .get(from..from + m.len as usize)
                            .ok_or("a member lies past the end of the file")?;
                        let dst = out
                            .get_mut(to..to + m.size as usize)
                            .ok_or("a member lies past the expected data")?;
                        inflated += inflater.gzip_decompress(src, dst)?;
                    }
                    inflated
                }
            };
            let seconds = start.elapsed().as_secs_f64();
            if inflated != total {
                return Err(format!("inflated {inflated} bytes, expected {total}").into());
            }
            let (checksum, dtype) = raw_sum(&out[offset.min(total)..], text(spec, "dtype")?)?;
            let shape = spec["shape"]
                .as_array()
                .ok_or("the spec has no shape")?
                .iter()
                .map(|n| n.as_u64().map(|n| n as usize).ok_or("bad shape"))
                .collect::<Result<Vec<_>, _>>()?;
            Outcome {
                shape,
                checksum,
                dtype: dtype.into(),
                ..Outcome::empty(seconds)
            }
        }
        "gzip_index" => {
            let path = path_of(spec, "path")?;
            let start = Instant::now();
            let source = GzipSource::open(&path)?;
            if source.member_index().is_some() {
                let mut outcome = Outcome::empty(start.elapsed().as_secs_f64());
                outcome.extra.insert("index".into(), json!("members"));
                outcome
            } else {
                let to = index_file::cache_path(&path).ok_or("no index cache directory")?;
                if let Some(dir) = to.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                source.write_index(&to)?;
                let mut outcome = Outcome::empty(start.elapsed().as_secs_f64());
                outcome
                    .extra
                    .insert("index_bytes".into(), json!(std::fs::metadata(&to)?.len()));
                outcome
            }
        }
        other => return Err(format!("unknown operation {other}").into()),
    })
}

/// The float64 sum of raw little-endian values of numpy's `dtype.str` (`<i2`, `|u1`, ...),
/// and numpy's name of that type; in place, so it adds no copy to the peak memory.
fn raw_sum(bytes: &[u8], dtype: &str) -> BoxResult<(f64, &'static str)> {
    fn sum<const N: usize>(bytes: &[u8], value: impl Fn([u8; N]) -> f64) -> f64 {
        bytes
            .chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                value(a)
            })
            .sum()
    }
    Ok(match dtype {
        "|u1" => (sum(bytes, |[b]| f64::from(b)), "uint8"),
        "|i1" => (sum(bytes, |a| f64::from(i8::from_le_bytes(a))), "int8"),
        "<i2" => (sum(bytes, |a| f64::from(i16::from_le_bytes(a))), "int16"),
        "<u2" => (sum(bytes, |a| f64::from(u16::from_le_bytes(a))), "uint16"),
        "<i4" => (sum(bytes, |a| f64::from(i32::from_le_bytes(a))), "int32"),
        "<f4" => (sum(bytes, |a| f64::from(f32::from_le_bytes(a))), "float32"),
        "<f8" => (sum(bytes, f64::from_le_bytes), "float64"),
        other => return Err(format!("inflate_limit: no sum for dtype {other}").into()),
    })
}

/// The `.nii` and `.nii.gz` files of a directory, sorted by name.
fn image_files(dir: &Path) -> BoxResult<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| {
        let name = p.to_string_lossy();
        name.ends_with(".nii.gz") || name.ends_with(".nii")
    });
    files.sort();
    Ok(files)
}

/// The float64 sum of an array's values (in place for the types the matrix produces, so the
/// checksum adds no copy to the peak memory).
fn checksum(data: &DynArray) -> BoxResult<f64> {
    Ok(match data {
        DynArray::F64(a) => a.sum(),
        DynArray::F32(a) => a.iter().map(|&v| f64::from(v)).sum(),
        DynArray::I16(a) => a.iter().map(|&v| f64::from(v)).sum(),
        DynArray::U8(a) => a.iter().map(|&v| f64::from(v)).sum(),
        other => other.to_f64()?.sum(),
    })
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
