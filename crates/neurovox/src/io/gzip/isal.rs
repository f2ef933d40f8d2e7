//! ISA-L's igzip through the `isal-sys` bindings, behind the `isal` feature: the only
//! `unsafe` of the gzip writer (one raw-deflate call, `isal_deflate`), and the streaming
//! inflater of whole reads (`isal_inflate`, [`inflate_member_into`]; see the reader's
//! "Whole reads in one call").
//!
//! Why ISA-L: at level 2 it compresses this project's data 4–5× faster than libdeflate at
//! its level 2, at about the size of nibabel's gzip level 1. On data that compresses poorly
//! it can be a little larger: the float64 run saved as int16 is 0.038 % larger than
//! nibabel's file (73,145,771 against 73,117,756 bytes), the float32 anatomical 0.042 %
//! smaller, the int16 run 1.19 % smaller. Until 2026-12-07 the writer also compressed such
//! members (over 30 % of their size) with libdeflate level 1 and kept the smaller, which
//! made every file smaller than nibabel's but cost more than the ISA-L pass itself: those
//! two saves took 0.852 and 0.141 s with it and 0.515 and 0.060 s without (nibabel 2.7 and
//! 0.62 s; `benches/matrix.py --only 'to .nii.gz'`).
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
//! than libdeflate. The stream API (`isal_deflate`, one call with the whole member) is used
//! rather than the one-shot `isal_deflate_stateless`: on the anatomical above the one-shot
//! call's output was 1.2 % larger (19.69 against 19.45 MB, above nibabel's 19.66) at the
//! same level and working memory. zlib-ng's fast level (368 MB/s) was 30 % larger. The
//! crate `isal-rs` wraps the same library but offers no level 2, so this calls `isal-sys`
//! directly.
//!
//! The library is the system's (Debian: `libisal-dev`), linked as a shared library: building
//! ISA-L from source needs nasm and autotools and took ~40 s per build profile. Its
//! `igzip_lib.h` of version 2.30 lays out `isal_zstream` and `inflate_state` exactly as the
//! bindings (2.31) do (sizes 82,384 and 87,368 bytes; `block_state`, `crc_flag` and
//! `tmp_out_buffer` at the same offsets, checked with a C program against the header).
//!
//! Any result of `isal_deflate` but success (the output bound too small for incompressible
//! data, a level the CPU does not support) returns false, and the writer compresses that
//! member with libdeflate instead, so a member is always written. Any result of
//! `isal_inflate` but a member that fills the read exactly returns false, and the reader
//! reads the ordinary way, which names the damage.

use isal_sys::igzip_lib as isal;
use std::cell::RefCell;

/// ISA-L's highest level (the writer's public `ISAL_MAX_LEVEL` is the same number).
const MAX_LEVEL: u32 = isal::ISAL_DEF_MAX_LEVEL;

/// One thread's compression state: the stream and the level's working memory. Boxed so
/// that the pointers ISA-L keeps into them stay valid.
struct Deflater {
    stream: Box<isal::isal_zstream>,
    level_buf: Vec<u8>,
}

thread_local! {
    static DEFLATER: RefCell<Option<Deflater>> = const { RefCell::new(None) };
}

/// A value of all zero bytes on the heap, for ISA-L's C structs (`Box::new_zeroed` needs
/// Rust 1.92; the MSRV is 1.88).
///
/// # Safety
///
/// All zero bytes must be a valid `T` (a C struct of integers, arrays and raw pointers, as
/// `isal_zstream` and `inflate_state` are: ISA-L's init functions write over them), and `T`
/// must not be zero-sized.
unsafe fn zeroed_box<T>() -> Box<T> {
    let layout = std::alloc::Layout::new::<T>();
    // SAFETY: the caller promises a non-zero-sized T for which zero bytes are valid; the
    // pointer comes from the global allocator with T's layout, as Box::from_raw requires.
    unsafe {
        let p = std::alloc::alloc_zeroed(layout).cast::<T>();
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

/// Appends `input`, compressed as one complete raw deflate stream at `level` (0–3), to
/// `out`, in at most `max_len` bytes; false (and `out` as it was) when ISA-L did not succeed
/// (see the module docs). The bytes go into `out`'s spare capacity without zeroing it
/// first: ISA-L only writes there, and the pages of a large bound it does not reach are
/// never touched (a member of a zero-background scan is a fraction of its bound).
pub(super) fn deflate_append(input: &[u8], level: u32, out: &mut Vec<u8>, max_len: usize) -> bool {
    let (Ok(avail_in), Ok(avail_out)) = (u32::try_from(input.len()), u32::try_from(max_len)) else {
        return false;
    };
    if level > MAX_LEVEL {
        return false;
    }
    out.reserve(max_len);
    DEFLATER.with(|slot| {
        let mut slot = slot.borrow_mut();
        let d = slot.get_or_insert_with(|| Deflater {
            // SAFETY: isal_zstream is a C struct of integers, arrays and raw pointers.
            stream: unsafe { zeroed_box() },
            level_buf: Vec::new(),
        });
        let need = level_buf_size(level);
        if d.level_buf.len() < need {
            d.level_buf.resize(need, 0);
        }
        let s: &mut isal::isal_zstream = &mut d.stream;
        // SAFETY: `s` is a valid, exclusively borrowed stream; init only writes its fields.
        unsafe { isal::isal_deflate_init(s) };
        s.level = level;
        s.level_buf = d.level_buf.as_mut_ptr();
        s.level_buf_size = need as u32;
        s.gzip_flag = isal::IGZIP_DEFLATE as u16;
        s.end_of_stream = 1;
        s.flush = isal::NO_FLUSH as u16;
        // ISA-L reads the input through a mutable pointer but does not write it.
        s.next_in = input.as_ptr().cast_mut();
        s.avail_in = avail_in;
        s.next_out = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
        s.avail_out = avail_out;
        // SAFETY: the stream is initialised; next_in/avail_in describe `input`, and
        // next_out/avail_out the first `max_len` bytes of `out`'s spare capacity (reserved
        // above), all of which, and the level buffer, outlive the call; ISA-L writes at most
        // avail_out bytes there and reads none of them.
        let code = unsafe { isal::isal_deflate(s) };
        let written = s.total_out as usize;
        // Leave no pointer into the caller's buffers behind.
        s.next_in = std::ptr::null_mut();
        s.next_out = std::ptr::null_mut();
        // With end_of_stream set, one call consumes everything and ends the stream unless
        // the output ran out first (then the stream is unfinished: refused).
        let ok = code == isal::COMP_OK as i32
            && s.avail_in == 0
            && s.internal_state.state == isal::isal_zstate_state_ZSTATE_END
            && written <= max_len;
        if ok {
            // SAFETY: ISA-L initialised `written` bytes of the spare capacity (within the
            // reserved `max_len`), right after the current length.
            unsafe { out.set_len(out.len() + written) };
        }
        ok
    })
}

/// How much of the compressed stream [`inflate_member_into`] reads at a time.
const INFLATE_READ: usize = 1 << 20;

/// A decompression state on the heap, initialised by ISA-L.
fn new_inflate_state() -> Box<isal::inflate_state> {
    // SAFETY: inflate_state is a C struct of integers, arrays and raw pointers.
    let mut state: Box<isal::inflate_state> = unsafe { zeroed_box() };
    // SAFETY: a valid, exclusively borrowed state; init only writes its fields.
    unsafe { isal::isal_inflate_init(&mut *state) };
    state
}

/// Inflates the first gzip member of a compressed stream into `out`, reading the stream
/// through `read(offset, buf)` (which returns how many bytes it read, fewer only at the end)
/// [`INFLATE_READ`] bytes at a time, so the compressed bytes are never all in memory.
/// ISA-L parses the member's header and checks its CRC-32 and ISIZE. `Ok(true)` when the
/// member's data fill `out` exactly and check; `Ok(false)` for anything else (damaged data, a
/// member shorter or longer than `out`, a stream that ends early): the caller then reads the
/// ordinary way, which names what is wrong. Errors are `read`'s own.
pub(super) fn inflate_member_into(
    read: impl FnMut(u64, &mut [u8]) -> crate::Result<usize>,
    out: &mut [u8],
) -> crate::Result<bool> {
    inflate_member_in_windows(read, out, u32::MAX as usize)
}

/// [`inflate_member_into`], handing ISA-L (which counts in u32) the output in windows of at
/// most `max_window` bytes of the one buffer (contiguous, so back-references reach the
/// bytes before a window); tests make windows small to cross many.
pub(super) fn inflate_member_in_windows(
    mut read: impl FnMut(u64, &mut [u8]) -> crate::Result<usize>,
    out: &mut [u8],
    max_window: usize,
) -> crate::Result<bool> {
    let mut state = new_inflate_state();
    state.crc_flag = isal::ISAL_GZIP;
    let mut input = vec![0u8; INFLATE_READ];
    let mut at = 0u64;
    let max_window = max_window.clamp(1, u32::MAX as usize);
    let mut produced = 0usize;
    state.next_out = out.as_mut_ptr();
    state.avail_out = 0;
    let finished = loop {
        if state.block_state == isal::isal_block_state_ISAL_BLOCK_FINISH {
            break true;
        }
        if state.avail_out == 0 && produced < out.len() {
            let window = (out.len() - produced).min(max_window);
            // `produced` bytes of `out` are written; the window is the next part of it.
            state.next_out = out[produced..].as_mut_ptr();
            state.avail_out = window as u32;
        }
        if state.avail_in == 0 {
            let n = read(at, &mut input)?;
            if n == 0 {
                break false; // the stream ended inside the member
            }
            at += n as u64;
            state.next_in = input.as_mut_ptr();
            state.avail_in = n as u32;
        }
        let (avail_in, avail_out) = (state.avail_in, state.avail_out);
        // SAFETY: next_in/avail_in describe initialised bytes of `input`, and
        // next_out/avail_out a part of `out` no other reference uses during the call; both
        // outlive it, and ISA-L writes only within avail_out. It reads input through a
        // mutable pointer but does not write it.
        let code = unsafe { isal::isal_inflate(&mut *state) };
        let written = (avail_out - state.avail_out) as usize;
        produced += written;
        if code != isal::ISAL_DECOMP_OK as i32 {
            break false;
        }
        if state.block_state != isal::isal_block_state_ISAL_BLOCK_FINISH
            && state.avail_in == avail_in
            && written == 0
        {
            // No progress: the output is full and the member goes on (it is longer than
            // `out`), or ISA-L is stuck; either way not a read this path serves.
            break false;
        }
    };
    // Leave no pointer into the caller's buffers behind.
    state.next_in = std::ptr::null_mut();
    state.next_out = std::ptr::null_mut();
    Ok(finished && produced == out.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_writers_maximum_level_is_the_librarys() {
        assert_eq!(MAX_LEVEL, crate::io::gzip::ISAL_MAX_LEVEL);
    }

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
            let mut out = b"head".to_vec();
            assert!(deflate_append(&data, level, &mut out, data.len() + 4096));
            assert_eq!(&out[..4], b"head");
            assert!(
                out.len() < data.len() / 4,
                "level {level}: {} bytes",
                out.len()
            );
            assert_eq!(inflate(&out[4..]), data, "level {level}");
        }
    }

    #[test]
    fn a_member_compresses_alike_whatever_the_thread_compressed_before() {
        // A scan-like member (zero background around noise) and an unlike one; the thread's
        // stream and working memory are reused between them.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let scan: Vec<u8> = (0..1_500_000usize)
            .map(|i| {
                if (i / 4096) % 3 == 0 {
                    0
                } else {
                    (noise() % 90) as u8
                }
            })
            .collect();
        let other: Vec<u8> = (0..700_000usize).map(|_| noise() as u8).collect();
        let compress = |data: &[u8], level: u32| {
            let mut out = Vec::new();
            // Incompressible bytes grow by up to an eighth under a level's Huffman codes.
            let bound = data.len() * 2 + 4096;
            assert!(
                deflate_append(data, level, &mut out, bound),
                "level {level}"
            );
            out
        };
        for level in 0..=MAX_LEVEL {
            let first = compress(&scan, level);
            compress(&other, level);
            compress(&scan[..scan.len() / 3], level);
            assert!(
                compress(&scan, level) == first,
                "level {level}, same thread"
            );
            let scan = scan.clone();
            let fresh = std::thread::spawn(move || compress(&scan, level))
                .join()
                .unwrap();
            assert!(fresh == first, "level {level}, a fresh thread");
        }
    }

    #[test]
    fn a_bound_too_small_leaves_the_buffer_and_an_empty_input_is_a_valid_stream() {
        let noise: Vec<u8> = (0..200_000u64)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
            .collect();
        let mut out = b"kept".to_vec();
        assert!(!deflate_append(&noise, 2, &mut out, 1000));
        assert_eq!(out, b"kept");
        // The same thread compresses correctly afterwards.
        out.clear();
        assert!(deflate_append(&noise, 2, &mut out, noise.len() + 4096));
        assert_eq!(inflate(&out), noise);
        out.clear();
        assert!(deflate_append(&[], 2, &mut out, 4096));
        assert!(inflate(&out).is_empty());
        assert!(!deflate_append(b"x", MAX_LEVEL + 1, &mut out, 4096));
    }
}
