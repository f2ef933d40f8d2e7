//! The only `unsafe` of the gzip writer: one raw-deflate call of ISA-L's igzip
//! (`isal_deflate_stateless`) through the `isal-sys` bindings, behind the `isal` feature.
//!
//! Why ISA-L: at level 2 it compresses this project's data 4–5× faster than libdeflate at
//! its level 2, and the output stays at or below the size of nibabel's gzip level 1.
//! Measured on the benchmark's data (`benches/matrix.py`), one thread, 1 MiB members, sizes
//! against one zlib level-1 stream as nibabel writes it:
//!
//! | data | zlib 1 (nibabel) | libdeflate 2 | ISA-L 1 | **ISA-L 2** | ISA-L 3 |
//! |---|--:|--:|--:|--:|--:|
//! | int16 fMRI run, 221 MB | 137 MB/s | 202 MB/s, −1.8 % | 799 MB/s, −0.2 % | **727 MB/s, −1.2 %** | 241 MB/s, −1.5 % |
//! | float32 anatomical, 67 MB | 100 MB/s | 196 MB/s, −2.7 % | 1085 MB/s, −0.4 % | **999 MB/s, −1.1 %** | 247 MB/s, −2.1 % |
//! | uint8 labels, 17 MB | 659 MB/s | 379 MB/s, −5.8 % | 4071 MB/s, −1.3 % | **4019 MB/s, −1.3 %** | 276 MB/s, +21 % |
//! | float64 run, 111 MB | 131 MB/s | 204 MB/s, −2.2 % | 953 MB/s, −0.3 % | **912 MB/s, −2.2 %** | 242 MB/s, −2.0 % |
//! | float64 run scaled to int16, 111 MB | 120 MB/s | 177 MB/s, −0.7 % | 913 MB/s, +0.2 % | **879 MB/s, ±0.0 %** | 244 MB/s, +0.2 % |
//!
//! Level 1 is a little faster but can be larger than nibabel's output; level 3 is slower
//! than libdeflate. zlib-ng's fast level (368 MB/s) was 30 % larger. The crate `isal-rs`
//! wraps the same library but offers no level 2, so this calls `isal-sys` directly.
//!
//! The library is the system's (Debian: `libisal-dev`), linked as a shared library: building
//! ISA-L from source needs nasm and autotools and took ~40 s per build profile. Its
//! `igzip_lib.h` of version 2.30 lays out `isal_zstream` exactly as the bindings (2.31) do.
//!
//! Any result but success (the output buffer too small for incompressible data, a level the
//! CPU does not support) returns `None`, and the writer compresses that member with
//! libdeflate instead, so a member is always written.

use super::writer::ISAL_MAX_LEVEL as MAX_LEVEL;
use isal_sys::igzip_lib as isal;
use std::cell::RefCell;

/// One thread's compression state: the stream and the level's working memory. Boxed so
/// that the pointers ISA-L keeps into them stay valid.
struct Deflater {
    stream: Box<isal::isal_zstream>,
    level_buf: Vec<u8>,
}

thread_local! {
    static DEFLATER: RefCell<Option<Deflater>> = const { RefCell::new(None) };
}

/// A stream of all zero bytes on the heap (`Box::new_zeroed` needs Rust 1.92; the MSRV is
/// 1.88).
fn zeroed_stream() -> Box<isal::isal_zstream> {
    let layout = std::alloc::Layout::new::<isal::isal_zstream>();
    // SAFETY: the layout is not zero-sized; isal_zstream is a C struct of integers, arrays
    // and raw pointers, for which all zero bytes are a valid value (ISA-L's init writes over
    // it); the pointer comes from the global allocator with this type's layout, as
    // Box::from_raw requires.
    unsafe {
        let p = std::alloc::alloc_zeroed(layout).cast::<isal::isal_zstream>();
        if p.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Box::from_raw(p)
    }
}

/// The working memory a level needs (ISA-L's `ISAL_DEF_LVLn_DEFAULT`).
fn level_buf_size(level: u32) -> usize {
    (match level {
        0 => isal::ISAL_DEF_LVL0_DEFAULT,
        1 => isal::ISAL_DEF_LVL1_DEFAULT,
        2 => isal::ISAL_DEF_LVL2_DEFAULT,
        _ => isal::ISAL_DEF_LVL3_DEFAULT,
    }) as usize
}

/// Compresses `input` as one complete raw deflate stream into `out` at `level` (0–3), and
/// returns its length; `None` when ISA-L did not succeed (see the module docs).
pub(super) fn deflate(input: &[u8], level: u32, out: &mut [u8]) -> Option<usize> {
    let avail_in = u32::try_from(input.len()).ok()?;
    let avail_out = u32::try_from(out.len()).ok()?;
    if level > MAX_LEVEL {
        return None;
    }
    DEFLATER.with(|slot| {
        let mut slot = slot.borrow_mut();
        let d = slot.get_or_insert_with(|| Deflater {
            stream: zeroed_stream(),
            level_buf: Vec::new(),
        });
        let need = level_buf_size(level);
        if d.level_buf.len() < need {
            d.level_buf.resize(need, 0);
        }
        let s: &mut isal::isal_zstream = &mut d.stream;
        // SAFETY: `s` is a valid, exclusively borrowed stream; init only writes its fields.
        unsafe { isal::isal_deflate_stateless_init(s) };
        s.level = level;
        s.level_buf = d.level_buf.as_mut_ptr();
        s.level_buf_size = need as u32;
        s.gzip_flag = isal::IGZIP_DEFLATE as u16;
        s.end_of_stream = 1;
        s.flush = isal::NO_FLUSH as u16;
        // ISA-L reads the input through a mutable pointer but does not write it.
        s.next_in = input.as_ptr().cast_mut();
        s.avail_in = avail_in;
        s.next_out = out.as_mut_ptr();
        s.avail_out = avail_out;
        // SAFETY: the stream is initialised; next_in/avail_in and next_out/avail_out describe
        // `input` and `out`, which outlive the call, as does the level buffer; ISA-L writes
        // at most avail_out bytes.
        let code = unsafe { isal::isal_deflate_stateless(s) };
        let written = s.total_out as usize;
        // Leave no pointer into the caller's buffers behind.
        s.next_in = std::ptr::null_mut();
        s.next_out = std::ptr::null_mut();
        (code == isal::COMP_OK as i32 && s.avail_in == 0 && written <= out.len()).then_some(written)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn inflate(raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(raw)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn every_level_round_trips_through_an_ordinary_inflater() {
        let data: Vec<u8> = (0..3_000_000u32)
            .map(|i| ((i / 7) % 251) as u8 ^ (i >> 15) as u8)
            .collect();
        for level in 0..=MAX_LEVEL {
            let mut out = vec![0u8; data.len() + data.len() / 8 + 4096];
            let n = deflate(&data, level, &mut out).unwrap();
            assert!(n < data.len() / 4, "level {level}: {n} bytes");
            assert_eq!(inflate(&out[..n]), data, "level {level}");
        }
    }

    #[test]
    fn a_buffer_too_small_is_none_and_an_empty_input_is_a_valid_stream() {
        let noise: Vec<u8> = (0..200_000u64)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
            .collect();
        let mut small = vec![0u8; 1000];
        assert_eq!(deflate(&noise, 2, &mut small), None);
        // The same thread compresses correctly afterwards.
        let mut out = vec![0u8; noise.len() + 4096];
        let n = deflate(&noise, 2, &mut out).unwrap();
        assert_eq!(inflate(&out[..n]), noise);
        let n = deflate(&[], 2, &mut out).unwrap();
        assert!(inflate(&out[..n]).is_empty());
        assert_eq!(deflate(b"x", MAX_LEVEL + 1, &mut out), None);
    }
}
