//! The only `unsafe` of the gzip reader: a safe wrapper around one raw-deflate `z_stream` of
//! zlib-rs's zlib C API (the streaming inflate whose state the checkpoint index records).
//!
//! Why the C API and not a Rust one: recording a checkpoint needs `inflatePrime` and
//! `inflateSetDictionary` at an arbitrary bit offset, which only zlib's API offers; zlib-rs
//! implements it in Rust behind that API, so no C is compiled.

use libz_rs_sys as z;
use std::ffi::CStr;

/// Deflate's window: how far back a match may reach, and so the dictionary a checkpoint keeps.
pub(super) const WINDOW_SIZE: usize = 32 * 1024;

pub(super) use z::{Z_BUF_ERROR, Z_DATA_ERROR, Z_MEM_ERROR, Z_OK, Z_STREAM_END};

/// How far one [`Inflater::inflate`] call goes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Flush {
    /// As far as input and output allow.
    None,
    /// Also stop at the end of each deflate block (zlib's `Z_BLOCK`).
    Block,
}

/// What one [`Inflater::inflate`] call did.
pub(super) struct Inflated {
    pub consumed: usize,
    pub produced: usize,
    /// zlib's return code.
    pub code: i32,
    /// zlib's `data_type`: unused bits held (low 6 bits), in the last block (64),
    /// at a block boundary (128).
    pub data_type: i32,
}

/// `data_type`'s bit for an inflater stopped at a block's end (with [`Flush::Block`]).
pub(super) const AT_BLOCK_END: i32 = 128;
/// `data_type`'s bit for an inflater inside (or at the end of) the stream's final block.
pub(super) const IN_LAST_BLOCK: i32 = 64;

/// The bit position an inflater has reached: `fed_to` whole bytes of input consumed (zlib-rs
/// may read several bytes ahead), minus the bits its `data_type` says it holds unused.
pub(super) fn bit_position(fed_to: u64, data_type: i32) -> u64 {
    fed_to
        .saturating_mul(8)
        .saturating_sub((data_type & 0x3f) as u64)
}

/// Whether an inflater that returned `data_type` stopped between two blocks: at a block's
/// end, and not the final block's (a resumable point: a checkpoint).
pub(super) fn between_blocks(data_type: i32) -> bool {
    data_type & (AT_BLOCK_END | IN_LAST_BLOCK) == AT_BLOCK_END
}

/// An initialised raw inflate stream (window bits -15), ended on drop.
pub(super) struct Inflater {
    // Boxed: zlib's API does not allow an initialised z_stream to move.
    strm: Box<z::z_stream>,
}

// SAFETY: the z_stream and the inflate state it points to are owned by this value alone
// and have no thread affinity. `next_in`/`next_out` are set only for the duration of one
// `inflate` call (from borrows that outlive it) and nulled afterwards, so no pointer into
// another thread's memory survives a call.
unsafe impl Send for Inflater {}

impl Inflater {
    pub(super) fn new() -> Result<Self, i32> {
        let mut strm = Box::new(z::z_stream::default());
        // SAFETY: `strm` is a default-initialised (allocator set, state null) z_stream
        // that we own; the version string is zlib's own and the size is of the very type
        // passed. A negative window size selects raw deflate with a 32 KiB window.
        let code = unsafe {
            z::inflateInit2_(
                &mut *strm,
                -15,
                z::zlibVersion(),
                std::mem::size_of::<z::z_stream>() as i32,
            )
        };
        if code == Z_OK {
            Ok(Inflater { strm })
        } else {
            Err(code)
        }
    }

    /// Starts over for a new raw deflate stream, keeping the allocation.
    pub(super) fn reset(&mut self) -> Result<(), i32> {
        // SAFETY: the stream was initialised by `new` and is borrowed uniquely.
        match unsafe { z::inflateReset(&mut *self.strm) } {
            Z_OK => Ok(()),
            code => Err(code),
        }
    }

    /// Inserts `bits` (at most 16) low bits of `value` before the next input byte.
    pub(super) fn prime(&mut self, bits: u8, value: u8) -> Result<(), i32> {
        // SAFETY: initialised stream, unique borrow; zlib checks `bits` itself.
        match unsafe { z::inflatePrime(&mut *self.strm, i32::from(bits), i32::from(value)) } {
            Z_OK => Ok(()),
            code => Err(code),
        }
    }

    /// Sets the history a resumed stream's back-references reach into.
    pub(super) fn set_dictionary(&mut self, dictionary: &[u8]) -> Result<(), i32> {
        if dictionary.is_empty() {
            return Ok(());
        }
        let len = u32::try_from(dictionary.len()).map_err(|_| z::Z_STREAM_ERROR)?;
        // SAFETY: initialised stream, unique borrow; `dictionary` is readable for `len`
        // bytes for the duration of the call (zlib copies what it keeps).
        match unsafe { z::inflateSetDictionary(&mut *self.strm, dictionary.as_ptr(), len) } {
            Z_OK => Ok(()),
            code => Err(code),
        }
    }

    /// Copies the current history (at most 32 KiB) into `buf`; returns its length.
    pub(super) fn dictionary(&self, buf: &mut [u8]) -> usize {
        if buf.len() < WINDOW_SIZE {
            return 0;
        }
        let mut len: z::uInt = 0;
        // SAFETY: initialised stream; `buf` is writable for 32 KiB, the most zlib copies;
        // `len` is a valid place for the length.
        let code = unsafe { z::inflateGetDictionary(&*self.strm, buf.as_mut_ptr(), &mut len) };
        if code == Z_OK {
            (len as usize).min(buf.len())
        } else {
            0
        }
    }

    /// Inflates from `input` into `output`.
    pub(super) fn inflate(&mut self, input: &[u8], output: &mut [u8], flush: Flush) -> Inflated {
        let avail_in = input.len().min(u32::MAX as usize);
        let avail_out = output.len().min(u32::MAX as usize);
        self.strm.next_in = input.as_ptr();
        self.strm.avail_in = avail_in as u32;
        self.strm.next_out = output.as_mut_ptr();
        self.strm.avail_out = avail_out as u32;
        let flush = match flush {
            Flush::None => z::Z_NO_FLUSH,
            Flush::Block => z::Z_BLOCK,
        };
        // SAFETY: initialised stream, unique borrow; `next_in` is readable for
        // `avail_in` bytes and `next_out` writable for `avail_out` bytes, both borrowed
        // for the duration of the call.
        let code = unsafe { z::inflate(&mut *self.strm, flush) };
        let consumed = avail_in - self.strm.avail_in as usize;
        let produced = avail_out - self.strm.avail_out as usize;
        self.strm.next_in = std::ptr::null();
        self.strm.avail_in = 0;
        self.strm.next_out = std::ptr::null_mut();
        self.strm.avail_out = 0;
        Inflated {
            consumed,
            produced,
            code,
            data_type: self.strm.data_type,
        }
    }

    /// zlib's message for the last error, if any.
    pub(super) fn message(&self) -> Option<String> {
        if self.strm.msg.is_null() {
            return None;
        }
        // SAFETY: zlib sets `msg` to null or to a static NUL-terminated string.
        Some(
            unsafe { CStr::from_ptr(self.strm.msg) }
                .to_string_lossy()
                .into_owned(),
        )
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        // SAFETY: initialised by `new`, ended exactly once, here.
        unsafe { z::inflateEnd(&mut *self.strm) };
    }
}
