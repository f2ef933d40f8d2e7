//! Helpers shared by the integration tests: finding the oracle fixtures that
//! `scripts/test.sh` writes, and a deterministic random generator.

use std::path::{Path, PathBuf};

/// The oracles `scripts/test.sh` writes before the Rust tests run.
#[allow(dead_code)]
pub enum Oracle {
    /// `tests/oracle/make_fixtures.py`: files written by nibabel.
    Nibabel,
    /// `tests/oracle/make_numpy_fixtures.py`: .npy, .npz and memmap files written by numpy.
    Numpy,
    /// `tests/oracle/make_selection_fixtures.py`: random keys with numpy's answers.
    Selection,
    /// `tests/oracle/make_writer_fixtures.py`: nibabel's array writers' scale factors and bytes.
    Writer,
}

impl Oracle {
    fn env_var(&self) -> &'static str {
        match self {
            Oracle::Nibabel => "NEUROVOX_ORACLE_DIR",
            Oracle::Numpy => "NEUROVOX_NUMPY_ORACLE_DIR",
            Oracle::Selection => "NEUROVOX_SELECTION_ORACLE_DIR",
            Oracle::Writer => "NEUROVOX_WRITER_ORACLE_DIR",
        }
    }

    fn default_dir(&self) -> &'static str {
        match self {
            Oracle::Nibabel => "target/oracle",
            Oracle::Numpy => "target/numpy-oracle",
            Oracle::Selection => "target/selection-oracle",
            Oracle::Writer => "target/writer-oracle",
        }
    }
}

/// The workspace root.
#[allow(dead_code)]
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where an oracle's fixtures are looked for: `Ok(dir)` when `dir/manifest.json` exists,
/// else `Err(dir)`, the directory that lacks it (`$VAR`, else under `target/`).
#[allow(dead_code)]
pub fn find_oracle_dir(oracle: &Oracle) -> Result<PathBuf, PathBuf> {
    let dir = std::env::var_os(oracle.env_var())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join(oracle.default_dir()));
    if dir.join("manifest.json").is_file() {
        Ok(dir)
    } else {
        Err(dir)
    }
}

/// Whether `NEUROVOX_REQUIRE_ORACLE=1` (set by `scripts/test.sh`): a missing oracle fails.
#[allow(dead_code)]
pub fn oracle_required() -> bool {
    std::env::var("NEUROVOX_REQUIRE_ORACLE").as_deref() == Ok("1")
}

/// The directory holding an oracle's `manifest.json` (`$VAR`, else under `target/`). Without
/// it the test prints SKIPPED and gets `None` — unless `NEUROVOX_REQUIRE_ORACLE=1` (set by
/// `scripts/test.sh`), which makes a missing oracle a failure, so CI never skips silently.
#[allow(dead_code)]
pub fn oracle_dir(oracle: Oracle) -> Option<PathBuf> {
    let dir = match find_oracle_dir(&oracle) {
        Ok(dir) => return Some(dir),
        Err(dir) => dir,
    };
    assert!(
        !oracle_required(),
        "NEUROVOX_REQUIRE_ORACLE=1 but no manifest.json in {}",
        dir.display()
    );
    eprintln!(
        "SKIPPED: no oracle fixtures in {} (run scripts/test.sh)",
        dir.display()
    );
    None
}

/// The name the test harness gives test `name` of the module whose `module_path!()` is
/// `module_path` (the crate's name dropped): what `--exact` takes when a test re-runs its own
/// binary for one child test.
#[allow(dead_code)]
pub fn test_name(module_path: &str, name: &str) -> String {
    match module_path.split_once("::") {
        Some((_crate, module)) => format!("{module}::{name}"),
        None => name.to_owned(),
    }
}

/// A tiny xorshift generator: deterministic, no dependency.
#[allow(dead_code)]
pub struct Rng(pub u64);

#[allow(dead_code)]
impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// An int16 scan-like series in little-endian bytes: a smooth field inside an ellipsoid plus
/// a little noise, a near-zero background outside — it compresses about as MRI data and the
/// benchmark's synthetic run do.
#[allow(dead_code)]
pub fn scan_like(n_bytes: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    let mut v = Vec::with_capacity(n_bytes + 1);
    let mut i = 0i64;
    while v.len() < n_bytes {
        let (x, y, z) = ((i % 64) - 32, (i / 64 % 64) - 32, (i / 4096 % 40) - 20);
        let inside = x * x * 4 + y * y * 4 + z * z * 10 < 4000;
        let noise = rng.below(16) as i64;
        let value = if inside {
            700 + 3 * x + 2 * y + 5 * z + (i / 163_840) + noise
        } else {
            noise / 5
        };
        v.extend_from_slice(&(value as i16).to_le_bytes());
        i += 1;
    }
    v.truncate(n_bytes);
    v
}

/// Bytes that do not compress (deflate falls back to stored blocks).
#[allow(dead_code)]
pub fn noise(n_bytes: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    (0..n_bytes).map(|_| rng.next() as u8).collect()
}

/// A float from an oracle manifest: a JSON number, or one of the strings the fixture scripts
/// write for non-finite values (`"nan"`, `"inf"`, `"-inf"`).
#[allow(dead_code)]
pub fn json_f64(v: &serde_json::Value) -> f64 {
    match v {
        serde_json::Value::Number(n) => n.as_f64().expect("number"),
        serde_json::Value::String(s) if s == "nan" => f64::NAN,
        serde_json::Value::String(s) if s == "inf" => f64::INFINITY,
        serde_json::Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        other => panic!("not a float: {other}"),
    }
}

/// A JSON list of non-negative integers (a shape).
#[allow(dead_code)]
pub fn json_usizes(v: &serde_json::Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| usize::try_from(x.as_u64().expect("non-negative int")).expect("fits usize"))
        .collect()
}

/// A path from a manifest: absolute as given, else relative to the oracle directory.
#[allow(dead_code)]
pub fn manifest_path(dir: &Path, p: &serde_json::Value) -> PathBuf {
    let p = PathBuf::from(p.as_str().expect("path string"));
    if p.is_absolute() { p } else { dir.join(p) }
}

/// Lower-case hex of bytes, as the fixture scripts write them.
#[allow(dead_code)]
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decompresses a whole (multi-member) gzip stream with flate2: the independent reference
/// for what neurovox writes and reads.
#[allow(dead_code)]
pub fn gunzip(gz: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .read_to_end(&mut out)
        .expect("a whole gzip stream");
    out
}
