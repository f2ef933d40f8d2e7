//! Measures whole-stream inflate of one `.nii.gz` by each engine neurovox could use:
//! the checkpointing first pass (`GzipSource`), flate2 streaming (zlib-rs), and libdeflate
//! one-shot into memory. Usage: `inflate_engines FILE [repeats]`.
use neurovox::io::{GzipSource, Source};
use std::io::Read;
use std::time::Instant;

type Outcome = Result<(), Box<dyn std::error::Error>>;

/// The best time of `repeats` runs of `f`.
fn best(repeats: usize, mut f: impl FnMut() -> Outcome) -> Result<f64, Box<dyn std::error::Error>> {
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).ok_or("usage: inflate_engines FILE [repeats]")?;
    let repeats: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let compressed = std::fs::read(path)?;
    let n = compressed.len();
    let trailer = compressed
        .get(n.saturating_sub(4)..)
        .ok_or("not a gzip file")?;
    let isize = u32::from_le_bytes(trailer.try_into()?) as usize;
    let mut out = vec![0u8; isize];
    out.iter_mut().step_by(4096).for_each(|b| *b = 1);

    let t = best(repeats, || {
        let src = GzipSource::open(path)?;
        let mut at = 0u64;
        for piece in out.chunks_mut(4 << 20) {
            src.read_at(at, piece)?;
            at += piece.len() as u64;
        }
        Ok(())
    })?;
    println!("GzipSource first pass, 4 MiB pieces: {t:.3} s");
    let indexed = GzipSource::open(path)?;
    indexed.len()?;
    let t = best(repeats, || {
        let mut at = 0u64;
        for piece in out.chunks_mut(4 << 20) {
            indexed.read_at(at, piece)?;
            at += piece.len() as u64;
        }
        Ok(())
    })?;
    println!("GzipSource indexed, 4 MiB pieces:   {t:.3} s (spans in parallel)");
    let t = best(repeats, || Ok(indexed.read_at(0, &mut out)?))?;
    println!("GzipSource indexed, one read:       {t:.3} s (spans in parallel)");
    let t = best(repeats, || {
        let mut d = flate2::read::MultiGzDecoder::new(&compressed[..]);
        d.read_exact(&mut out)?;
        Ok(())
    })?;
    println!("flate2 (zlib-rs) streaming:         {t:.3} s");
    let t = best(repeats, || {
        let mut d = libdeflater::Decompressor::new();
        d.gzip_decompress(&compressed, &mut out)?;
        Ok(())
    })?;
    println!("libdeflate one-shot:                {t:.3} s");
    // The one-core limit as a reader meets it: the file read into fresh memory, inflated
    // into a fresh (not yet faulted) output.
    let t = best(repeats, || {
        let input = std::fs::read(path)?;
        let mut fresh = vec![0u8; isize];
        libdeflater::Decompressor::new().gzip_decompress(&input, &mut fresh)?;
        std::hint::black_box(&fresh);
        Ok(())
    })?;
    println!("libdeflate, file read, fresh output: {t:.3} s (the one-core limit)");
    let t = best(repeats, || {
        let src = GzipSource::open(path)?;
        let mut fresh = vec![0u8; isize];
        src.read_at(0, &mut fresh)?;
        std::hint::black_box(&fresh);
        Ok(())
    })?;
    println!("GzipSource first read, fresh output: {t:.3} s");
    Ok(())
}
