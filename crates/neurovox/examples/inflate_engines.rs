//! Measures whole-stream inflate of one `.nii.gz` by each engine neurovox could use:
//! the checkpointing first pass (`GzipSource`), flate2 streaming (zlib-rs), libdeflate
//! one-shot into memory, and (with `--features isal`) ISA-L streaming from 1 MiB reads.
//! Usage: `inflate_engines FILE [repeats]`.
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
    #[cfg(feature = "isal")]
    {
        let t = best(repeats, || {
            let mut fresh = vec![0u8; isize];
            isal_stream(path, &mut fresh, 1 << 20)?;
            std::hint::black_box(&fresh);
            Ok(())
        })?;
        println!("ISA-L streaming, 1 MiB reads, fresh: {t:.3} s");
        let t = best(repeats, || isal_stream(path, &mut out, 1 << 20))?;
        println!("ISA-L streaming, 1 MiB reads, warm:  {t:.3} s");
    }
    Ok(())
}

/// ISA-L's streaming inflate (`isal_inflate`, gzip wrapper and CRC checked by ISA-L) of the
/// file read in `chunk`-byte pieces into `out`, which must be exactly the stream's length: the
/// engine a whole read could use without holding the compressed file in memory.
#[cfg(feature = "isal")]
fn isal_stream(path: &str, out: &mut [u8], chunk: usize) -> Outcome {
    use isal_sys::igzip_lib as isal;
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path)?;
    let layout = std::alloc::Layout::new::<isal::inflate_state>();
    // SAFETY: the layout is not zero-sized; inflate_state is a C struct of integers, arrays
    // and raw pointers, for which all zero bytes are valid (isal_inflate_init writes over
    // it); a null pointer is refused before Box::from_raw takes the allocation.
    let mut state: Box<isal::inflate_state> = unsafe {
        let p = std::alloc::alloc_zeroed(layout).cast::<isal::inflate_state>();
        if p.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Box::from_raw(p)
    };
    // SAFETY: a valid, exclusively borrowed state.
    unsafe { isal::isal_inflate_init(&mut *state) };
    state.crc_flag = isal::ISAL_GZIP;
    let mut input = vec![0u8; chunk];
    let mut at = 0u64;
    state.next_out = out.as_mut_ptr();
    state.avail_out = u32::try_from(out.len())?;
    loop {
        let n = file.read_at(&mut input, at)?;
        at += n as u64;
        state.next_in = input.as_mut_ptr();
        state.avail_in = u32::try_from(n)?;
        // SAFETY: next_in/avail_in describe `input` and next_out/avail_out the rest of
        // `out`, both alive and unaliased for the call; ISA-L writes only within avail_out.
        let code = unsafe { isal::isal_inflate(&mut *state) };
        if code != isal::ISAL_DECOMP_OK as i32 {
            return Err(format!("isal_inflate returned {code}").into());
        }
        if state.block_state == isal::isal_block_state_ISAL_BLOCK_FINISH || n == 0 {
            break;
        }
    }
    if state.total_out as usize != out.len() {
        return Err(format!("ISA-L gave {} of {} bytes", state.total_out, out.len()).into());
    }
    Ok(())
}
