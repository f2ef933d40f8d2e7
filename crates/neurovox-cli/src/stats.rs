//! `neurovox stats FILE...`: the number of voxels, the NaN count, and the minimum, maximum,
//! mean and standard deviation of each image's values, scaled as `get_fdata()` scales them
//! (float64), one aligned line per file. A file that cannot be read is reported on stderr as
//! `FILE: error`, as by `neurovox info`; the others are still shown and the exit status is 1.
//!
//! The data streams through the proxy a piece at a time, so memory stays flat whatever the
//! size of the image: one volume at a time for 4-D and larger images (the trailing axes
//! walked in file order, first trailing axis fastest), slabs along the last axis for 1- to
//! 3-D images, and any volume larger than [`CHUNK_BYTES`] as float64 cut into slabs along
//! its third axis too. Pieces are read in the order they lie in the file, so a `.nii.gz`
//! is decompressed once, front to back.
//!
//! * NaNs are counted and left out of the other statistics (numpy's `nanmin`, `nanmax`,
//!   `nanmean`, `nanstd`); an image of NaNs only has `nan` for all four.
//! * The standard deviation is the population one (`ddof=0`, numpy's default). Each piece's
//!   mean and sum of squared deviations are computed in two passes over the piece and merged
//!   with Chan et al.'s pairwise update, so the result does not lose precision on large
//!   images with a large mean.
//! * Complex data contributes its real part (as `get_fdata` does); RGB data has no single
//!   value per voxel and is reported as an error.
//!
//! On a terminal a progress bar per image shows the pieces read; with stderr redirected
//! nothing but errors is written there.

use crate::table::{self, Cell};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};
use neurovox::array::DynArray;
use neurovox::array::FactorType;
use neurovox::array::{Selection, SliceItem};
use neurovox::dtype::RealValue;
use neurovox::image::{DataObj, Image};
use neurovox::image::{MmapMode, ProxyOptions};
use neurovox::{Error, Result};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// How much float64 output one read may produce: 64 MiB.
pub const CHUNK_BYTES: usize = 64 << 20;

/// The statistics of one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Every voxel, NaN or not.
    pub voxels: u64,
    /// The NaN voxels.
    pub nans: u64,
    /// The smallest value other than NaN (NaN if there is none).
    pub min: f64,
    /// The largest value other than NaN (NaN if there is none).
    pub max: f64,
    /// The mean of the values other than NaN.
    pub mean: f64,
    /// The sum of squared deviations from the mean (of the values other than NaN).
    m2: f64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            voxels: 0,
            nans: 0,
            min: f64::NAN,
            max: f64::NAN,
            mean: f64::NAN,
            m2: 0.0,
        }
    }
}

impl Stats {
    /// The number of values other than NaN.
    pub fn counted(&self) -> u64 {
        self.voxels - self.nans
    }

    /// The population standard deviation (numpy's `nanstd` with `ddof=0`).
    pub fn std(&self) -> f64 {
        match self.counted() {
            0 => f64::NAN,
            n => (self.m2 / n as f64).sqrt(),
        }
    }

    /// The statistics of `values` (one piece of an image), in two passes.
    pub fn of_values<T: Copy>(values: &[T], to_f64: impl Fn(T) -> f64) -> Stats {
        let mut nans = 0u64;
        let mut min = f64::INFINITY;
        let mut max = f64::NEG_INFINITY;
        let mut sum = 0.0;
        for &raw in values {
            let v = to_f64(raw);
            if v.is_nan() {
                nans += 1;
            } else {
                min = min.min(v);
                max = max.max(v);
                sum += v;
            }
        }
        let voxels = values.len() as u64;
        let counted = voxels - nans;
        if counted == 0 {
            return Stats {
                voxels,
                nans,
                ..Stats::default()
            };
        }
        let mean = sum / counted as f64;
        let m2 = if nans == 0 {
            values
                .iter()
                .map(|&raw| {
                    let d = to_f64(raw) - mean;
                    d * d
                })
                .sum()
        } else {
            values
                .iter()
                .map(|&raw| to_f64(raw))
                .filter(|v| !v.is_nan())
                .map(|v| (v - mean) * (v - mean))
                .sum()
        };
        Stats {
            voxels,
            nans,
            min,
            max,
            mean,
            m2,
        }
    }

    /// Adds the statistics of another piece (Chan, Golub and LeVeque's pairwise update).
    pub fn merge(&mut self, other: &Stats) {
        let (n_a, n_b) = (self.counted() as f64, other.counted() as f64);
        if n_b > 0.0 {
            if n_a == 0.0 {
                self.min = other.min;
                self.max = other.max;
                self.mean = other.mean;
                self.m2 = other.m2;
            } else {
                let n = n_a + n_b;
                let delta = other.mean - self.mean;
                self.mean += delta * (n_b / n);
                self.m2 += other.m2 + delta * delta * (n_a * n_b / n);
                self.min = self.min.min(other.min);
                self.max = self.max.max(other.max);
            }
        }
        self.voxels += other.voxels;
        self.nans += other.nans;
    }

    /// The statistics of a piece read from an image (float values, or the stored type
    /// when the image is not scaled).
    pub fn of_array(array: &DynArray) -> Result<Stats> {
        fn typed<T: Copy>(a: &ndarray::ArcArray<T, ndarray::IxDyn>, f: impl Fn(T) -> f64) -> Stats {
            match a.as_slice_memory_order() {
                Some(values) => Stats::of_values(values, f),
                None => Stats::of_values(&a.iter().copied().collect::<Vec<T>>(), f),
            }
        }
        Ok(
            neurovox::dyn_array_numeric!(array, a => typed(a, RealValue::real_f64),
            colour _ => return Err(Error::unsupported(
                "RGB data has no single value per voxel to take statistics of",
            ))),
        )
    }
}

/// The pieces an image of `shape` is read in, in file order: selections of at most about
/// `chunk_bytes` of float64 output each (at least one 2-D plane), never crossing a volume.
/// Made one at a time as the reader asks: a header can claim 10^18 volumes, and a list of
/// their selections built before the first read would exhaust memory (issue 14); the first
/// read of data that is not there fails instead.
pub fn pieces(shape: &[usize], chunk_bytes: usize) -> Box<dyn Iterator<Item = Selection>> {
    if shape.is_empty() || shape.contains(&0) {
        return Box::new(std::iter::once(Selection::all()));
    }
    let (slab_axis, per_slab) = slabs(shape, chunk_bytes);
    let trailing = shape[slab_axis + 1..].to_vec();
    let volumes = trailing.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    let slab_len = shape[slab_axis];
    Box::new((0..volumes.unwrap_or(usize::MAX)).flat_map(move |volume| {
        // The volume's index on each trailing axis, first axis fastest (Fortran order).
        let mut rest = volume;
        let indices: Vec<SliceItem> = trailing
            .iter()
            .map(|&len| {
                let i = rest % len;
                rest /= len;
                SliceItem::Index(i as isize)
            })
            .collect();
        (0..slab_len).step_by(per_slab).map(move |start| {
            let stop = (start + per_slab).min(slab_len);
            let mut items = vec![SliceItem::full(); slab_axis];
            items.push(SliceItem::slice(
                Some(start as isize),
                Some(stop as isize),
                1,
            ));
            items.extend(indices.iter().copied());
            Selection::new(items)
        })
    }))
}

/// How many selections [`pieces`] makes (saturating: only a progress bar's length).
pub fn piece_count(shape: &[usize], chunk_bytes: usize) -> u64 {
    if shape.is_empty() || shape.contains(&0) {
        return 1;
    }
    let (slab_axis, per_slab) = slabs(shape, chunk_bytes);
    let per_volume = shape[slab_axis].div_ceil(per_slab) as u64;
    shape[slab_axis + 1..]
        .iter()
        .fold(per_volume, |n, &d| n.saturating_mul(d as u64))
}

/// The axis a (non-empty) image is cut along within a volume (the last spatial one), and
/// how many of its positions one piece of at most `chunk_bytes` of float64 holds.
fn slabs(shape: &[usize], chunk_bytes: usize) -> (usize, usize) {
    let slab_axis = shape.len().min(3) - 1;
    let plane_values: usize = shape[..slab_axis].iter().product();
    (slab_axis, (chunk_bytes / 8 / plane_values.max(1)).max(1))
}

/// Reads the image at `path` piece by piece and returns its statistics, with a progress
/// bar named `shown` on stderr if `show_progress`.
pub fn image_stats(path: &Path, shown: &str, show_progress: bool) -> Result<Stats> {
    // Positioned reads through one kept handle rather than a memory map: each piece is
    // copied into its own buffer and dropped, so the resident memory stays at one piece
    // (a map would leave every page read so far resident, if shared).
    let options = ProxyOptions {
        mmap: MmapMode::No,
        keep_file_open: Some(true),
        ..Default::default()
    };
    let img = Image::load_with(path, options)?;
    let shape = img.shape().to_vec();
    let progress = progress_bar(shown, piece_count(&shape, CHUNK_BYTES), show_progress);
    let mut total = Stats::default();
    for piece in pieces(&shape, CHUNK_BYTES) {
        let values = match img.dataobj() {
            // The values `get_fdata()` computes: scale factors applied in float64.
            DataObj::Proxy(proxy) => proxy.read_with(
                &piece,
                neurovox::image::ReadOptions {
                    factors: Some(FactorType::F64),
                },
            )?,
            DataObj::Array(_) => img.dataobj().read(&piece)?,
        };
        let piece_stats = Stats::of_array(&values).map_err(|e| e.with_path(path))?;
        total.merge(&piece_stats);
        progress.inc(1);
    }
    Ok(total)
}

/// Arguments of `neurovox stats`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image files (.nii, .nii.gz, .hdr/.img, .mgh, .mgz, .HEAD/.BRIK, .v, .PAR/.REC; also
    /// .bz2/.zst compressed).
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

/// Computes and prints the statistics of every file, one aligned line each; failures go to
/// stderr as `FILE: error`. Exit status 0 if every file was read and the lines written,
/// else 1.
pub fn run(args: &Args) -> u8 {
    let show_progress = std::io::stderr().is_terminal();
    let mut all_read = true;
    let mut rows = Vec::new();
    for path in &args.files {
        let shown = crate::shown::path(path);
        match image_stats(path, &shown, show_progress) {
            Ok(stats) => rows.push(stats_row(&shown, &stats)),
            Err(err) => {
                let message = crate::info::failure_message(&shown, path, &err);
                eprintln!("{}", crate::shown::text(&message));
                all_read = false;
            }
        }
    }
    crate::exit_status(crate::info::write_stdout(&table::render(&rows)) && all_read)
}

/// A bar on stderr naming the file, or a hidden one when stderr is not a terminal. (A bar
/// still on screen when an error is returned is cleared when it is dropped.)
pub fn progress_bar(shown: &str, pieces: u64, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(pieces), ProgressDrawTarget::stderr())
        .with_finish(ProgressFinish::AndClear);
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {pos}/{len} pieces, {elapsed} (eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(shown.to_owned());
    bar
}

/// `FILE  voxels N  NaN N  min X  max X  mean X  std X`: labels left, numbers right-aligned.
/// The minimum and maximum print as Python prints the float64 (shortest digits that read
/// back exactly), the mean and standard deviation with ten significant digits.
pub fn stats_row(shown: &str, stats: &Stats) -> Vec<Cell> {
    vec![
        Cell::left(shown),
        Cell::left("voxels"),
        Cell::right(stats.voxels.to_string()),
        Cell::left("NaN"),
        Cell::right(stats.nans.to_string()),
        Cell::left("min"),
        Cell::right(table::format_float(stats.min)),
        Cell::left("max"),
        Cell::right(table::format_float(stats.max)),
        Cell::left("mean"),
        Cell::right(table::format_g(stats.mean, 10)),
        Cell::left("std"),
        Cell::right(table::format_g(stats.std(), 10)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(values: &[f64]) -> (f64, f64, f64, f64) {
        let kept: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        let n = kept.len() as f64;
        let mean = kept.iter().sum::<f64>() / n;
        let var = kept.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let min = kept.iter().copied().fold(f64::INFINITY, f64::min);
        let max = kept.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (min, max, mean, var.sqrt())
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn merged_pieces_equal_one_pass() {
        let values: Vec<f64> = (0..1000)
            .map(|i| {
                if i % 97 == 0 {
                    f64::NAN
                } else {
                    1e6 + f64::from(i).sin() * 3.0
                }
            })
            .collect();
        let (min, max, mean, std) = naive(&values);
        for cut in [1, 7, 100, 999, 1000] {
            let mut total = Stats::default();
            for piece in values.chunks(cut) {
                total.merge(&Stats::of_values(piece, |v| v));
            }
            assert_eq!(total.voxels, 1000);
            assert_eq!(total.nans, 11);
            assert_eq!((total.min, total.max), (min, max));
            assert!(close(total.mean, mean), "{} {mean}", total.mean);
            assert!(close(total.std(), std), "{} {std}", total.std());
        }
    }

    #[test]
    fn all_nan_and_empty_pieces() {
        let mut total = Stats::default();
        total.merge(&Stats::of_values(&[f64::NAN, f64::NAN], |v| v));
        total.merge(&Stats::of_values::<f64>(&[], |v| v));
        assert_eq!((total.voxels, total.nans), (2, 2));
        assert!(total.min.is_nan() && total.mean.is_nan() && total.std().is_nan());
        total.merge(&Stats::of_values(&[2i16, 4], f64::from));
        assert_eq!(
            (total.min, total.max, total.mean, total.std()),
            (2.0, 4.0, 3.0, 1.0)
        );
    }

    #[test]
    fn pieces_follow_volumes_then_slabs() {
        let shown: Vec<String> = pieces(&[2, 3, 4, 2], CHUNK_BYTES)
            .map(|s| s.to_string())
            .collect();
        assert_eq!(shown, ["(:, :, 0:4, 0)", "(:, :, 0:4, 1)"]);
        // 3-D: slabs of at most chunk_bytes of float64 along the last axis.
        let shown: Vec<String> = pieces(&[2, 2, 5], 2 * 2 * 8 * 2)
            .map(|s| s.to_string())
            .collect();
        assert_eq!(shown, ["(:, :, 0:2)", "(:, :, 2:4)", "(:, :, 4:5)"]);
        // Five axes: the fourth fastest.
        let shown: Vec<String> = pieces(&[1, 1, 1, 2, 2], CHUNK_BYTES)
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            shown,
            [
                "(:, :, 0:1, 0, 0)",
                "(:, :, 0:1, 1, 0)",
                "(:, :, 0:1, 0, 1)",
                "(:, :, 0:1, 1, 1)"
            ]
        );
        assert_eq!(pieces(&[7], 8).count(), 7);
        assert_eq!(piece_count(&[7], 8), 7);
        assert_eq!(piece_count(&[2, 2, 5], 2 * 2 * 8 * 2), 3);
        assert_eq!(piece_count(&[2, 3, 4, 2], CHUNK_BYTES), 2);
        assert_eq!(
            piece_count(&[2, 2, 2, usize::MAX, 4], CHUNK_BYTES),
            u64::MAX
        );
        assert_eq!(pieces(&[2, 2, 2, 1 << 60], CHUNK_BYTES).take(3).count(), 3);
        assert_eq!(
            pieces(&[], CHUNK_BYTES).collect::<Vec<_>>(),
            vec![Selection::all()]
        );
        assert_eq!(
            pieces(&[3, 0, 2], CHUNK_BYTES).collect::<Vec<_>>(),
            vec![Selection::all()]
        );
    }
}
