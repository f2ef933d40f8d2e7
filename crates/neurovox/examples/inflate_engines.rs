//! Measures whole-stream inflate of one `.nii.gz` by each engine neurovox could use:
//! the checkpointing first pass (`GzipSource`), flate2 streaming (zlib-rs), and libdeflate
//! one-shot into memory. Usage: `inflate_engines FILE [repeats]`.
use neurovox::io::{GzipSource, Source};
use std::io::Read;
use std::time::Instant;

fn best<F: FnMut() -> u64>(repeats: usize, mut f: F) -> (f64, u64) {
    let mut best = f64::INFINITY;
    let mut out = 0;
    for _ in 0..repeats {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = &args[1];
    let repeats: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let compressed = std::fs::read(path)?;
    let n = compressed.len();
    let isize = u32::from_le_bytes(compressed[n - 4..].try_into()?) as usize;
    let mut out = vec![0u8; isize];
    out.iter_mut().step_by(4096).for_each(|b| *b = 1);

    let (t, _) = best(repeats, || {
        let src = GzipSource::open(path).unwrap();
        let mut at = 0u64;
        for piece in out.chunks_mut(4 << 20) {
            src.read_at(at, piece).unwrap();
            at += piece.len() as u64;
        }
        at
    });
    println!("GzipSource first pass, 4 MiB pieces: {t:.3} s");
    let (t, _) = best(repeats, || {
        let mut d = flate2::read::MultiGzDecoder::new(&compressed[..]);
        d.read_exact(&mut out).unwrap();
        0
    });
    println!("flate2 (zlib-rs) streaming:         {t:.3} s");
    let (t, _) = best(repeats, || {
        let mut d = libdeflater::Decompressor::new();
        d.gzip_decompress(&compressed, &mut out).unwrap() as u64
    });
    println!("libdeflate one-shot:                {t:.3} s");
    Ok(())
}
