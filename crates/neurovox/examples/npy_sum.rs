//! Sums a memory-mapped float32 `.npy` file: neurovox's side of `benches/memmap_sum.py`.
//!
//! Usage: `npy_sum FILE [REPEATS]`. Prints one JSON line: the best time of the map + sum
//! over the repeats (opening the map included, process start excluded) and the sum.

use neurovox::numpy::memmap::MapMode;
use neurovox::numpy::npy::load_npy;
use std::time::Instant;

/// Sums in float64 with eight independent accumulators, so the loop is not bound by the
/// latency of one chain of additions (numpy's pairwise summation does the same for speed).
fn sum_f64(values: &[f32]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane += f64::from(*v);
        }
    }
    lanes.iter().sum::<f64>() + rest.iter().map(|&v| f64::from(v)).sum::<f64>()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: npy_sum FILE [REPEATS]")?;
    let repeats: usize = args.next().map_or(Ok(3), |r| r.parse())?;
    let mut best = f64::INFINITY;
    let mut total = 0.0;
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        let data = load_npy::<f32>(&path, Some(MapMode::Read))?;
        total = sum_f64(data.view()?.as_slice().ok_or("not contiguous")?);
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!("{{\"seconds\": {best}, \"sum\": {total}}}");
    Ok(())
}
