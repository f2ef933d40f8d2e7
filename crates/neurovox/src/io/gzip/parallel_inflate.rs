//! One gzip member inflated on several cores: whole reads of files other tools wrote, which
//! are a single deflate stream with no index (docs/architecture.md, "gzip").
//!
//! A deflate stream can only be resumed at a block boundary and with the 32 KiB of output
//! before it, and neither is known in the middle of a file nobody indexed. The stream is cut
//! into chunks anyway, in the way rapidgzip decodes (see "Why not rapidgzip-core" below):
//!
//! * **One forward worker** inflates from the start, straight into the front of the output,
//!   as the serial reader would; it claims each chunk before its input reaches it.
//! * **Backward workers** claim chunks from the end. Each looks for a dynamic-Huffman block
//!   header at or after its chunk's nominal start ([`find_dynamic_header`]: every header
//!   field and code checked as zlib checks them), then inflates from there twice in
//!   lockstep, once with a window of zero bytes and once with 0xFF bytes. Output the two
//!   agree on came from the chunk itself; where they differ it came from the unknown window.
//!   At the first block boundary after which the last 32 KiB agree, the window is known, and
//!   one inflater goes on alone to the chunk's end (the next chunk's start, found the same
//!   way). A candidate header that does not inflate is skipped for the next one.
//! * Each finished chunk is copied to the **back** of the output as soon as every chunk after
//!   it is placed (its end offset is then known), so a backward worker holds at most its
//!   chunk. The forward worker stops exactly at the first backward chunk's start bit; if its
//!   inflater passes that bit without ending a block there, the guess was not a boundary.
//! * At the end the unresolved start of each backward chunk (the bytes before its window was
//!   known) is inflated again with the real window, now in the output, and the CRC-32 of the
//!   whole output (combined from each part's) and its length are checked against the
//!   member's trailer.
//! * Every worker notes a block boundary (its bit and its output offset) about once per
//!   `span` of output: the forward worker inflates freely up to where one falls due and then
//!   stops at the next block end (`Z_BLOCK`; stopping at every block end costs ~20 % of the
//!   speed), the backward ones stop at every block end anyway. A boundary's position does not
//!   depend on the window, so those found before a chunk's window was known are as good as
//!   any. The caller makes them its checkpoint index (`reader`).
//!
//! Any surprise — no header found, a window that never becomes known, lengths that do not
//! tile the output, a CRC mismatch, the stream ending before the trailer (more members) —
//! returns `false`, and the caller reads the ordinary way, which names damage as every read
//! does. The output is then overwritten: nothing this module wrote is trusted.
//!
//! # Why not rapidgzip-core
//!
//! The crate `rapidgzip-core` implements this algorithm in full (the reader's module docs
//! weighed its 0.3.1 for the checkpoint index). For this one job it was not taken, for
//! reasons read from its documentation, not yet measured side by side: it owns its input
//! (a file it opens, or its own `ReadAt`), where a read here goes through `io::Source`
//! (local maps, remote block caches, the byte counters tests assert); it hands the output out
//! through `Read`/`Write`, one more copy of every byte, where the forward worker here
//! inflates straight into the caller's array; and it brings ~25 kLoC and its own worker
//! runtime beside rayon. What it does better — ISA-L-speed decoders, many cores, BGZF — is
//! the next step, and measuring it against this module on the benchmark's files comes first.
//!
//! The output is shared by the workers as a two-ended arena ([`TwoEndedOutput`]): the forward
//! worker reserves pieces from the front, backward workers from the back, under one lock, so
//! no byte is handed out twice. That is this module's only `unsafe`.

use super::zlib::{
    AT_BLOCK_END, Flush, IN_LAST_BLOCK, Inflater, WINDOW_SIZE, Z_OK, Z_STREAM_END, between_blocks,
    bit_position,
};
use std::sync::{Condvar, Mutex};

/// The least compressed size worth splitting: below it, finding boundaries and resolving
/// windows cost more than the second core saves.
pub(super) const MIN_PARALLEL_COMPRESSED: u64 = 4 << 20;

/// How far past a chunk's nominal start a header is looked for. Deflate writers end a block
/// every few tens of KiB (zlib every 16 Ki symbols); a longer search means blocks the search
/// cannot recognise (stored or fixed-Huffman), and the chunk is left to the forward worker.
const SEARCH_LIMIT: usize = 512 << 10;

/// How much output a backward chunk may inflate before its window must be known.
const UNRESOLVED_LIMIT: usize = 4 << 20;

/// About how many inflated bytes a chunk holds (see [`ChunkPlan::new`]). Measured with
/// `benches/matrix.py --sides nibabel,py` against 4 MiB: the peak memory of a whole read of
/// the 885 MB float64 run 911 → 904 MiB (nibabel 906), of the int16 run 271 → 264 MiB
/// (nibabel 273), for 0.597 → 0.622 s and 0.149 → 0.168 s.
const CHUNK_OUTPUT: usize = 2 << 20;

/// The least compressed bytes of a chunk: the search and the window cost about a block.
const MIN_CHUNK: u64 = 512 << 10;

/// The forward worker's input piece and output reservation.
const FORWARD_PIECE: usize = 1 << 20;

/// Whether [`inflate_member_in_parallel`] may serve a file of `compressed_len` bytes on
/// `threads` threads (it may still decline the file once it reads it).
pub(super) fn may_serve(compressed_len: u64, threads: usize) -> bool {
    threads >= 2 && compressed_len >= MIN_PARALLEL_COMPRESSED
}

/// A deflate block boundary the workers passed: a read can resume there with the 32 KiB of
/// output before it (the reader's checkpoint index is made of these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Boundary {
    /// Output bytes before it, from the member's start.
    pub(super) out: u64,
    /// Its bit offset in the file.
    pub(super) bit: u64,
}

/// Inflates the single gzip member of a file of `compressed_len` bytes, read through `read`,
/// into `out`, on `threads` threads. `Some` when `out` holds exactly the member's inflated
/// bytes, CRC-32 and ISIZE checked, with the block boundaries the workers passed at least
/// `span` output bytes apart (the first is the member's start); `None` when this method does
/// not serve the file (see the module docs) — `out` then holds garbage. Errors are the
/// reader's.
pub(super) fn inflate_member_in_parallel(
    read: &(dyn Fn(u64, &mut [u8]) -> crate::Result<usize> + Sync),
    compressed_len: u64,
    out: &mut [u8],
    threads: usize,
    span: u64,
) -> crate::Result<Option<Vec<Boundary>>> {
    if !may_serve(compressed_len, threads) || out.len() < WINDOW_SIZE * 4 {
        return Ok(None);
    }
    let span = usize::try_from(span.max(1)).unwrap_or(usize::MAX);
    let mut head = vec![0u8; 64 << 10];
    let n = read(0, &mut head)?;
    let Some(data_start) = gzip_header_len(&head[..n]) else {
        return Ok(None);
    };
    let mut trailer = [0u8; 8];
    if read(compressed_len - 8, &mut trailer)? != 8 {
        return Ok(None);
    }
    let want_crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let data_end = compressed_len - 8;
    let data_start = data_start as u64;
    let plan = ChunkPlan::new(data_start, data_end, threads, out.len());
    if plan.count < 2 {
        return Ok(None);
    }
    let total = out.len();
    let arena = TwoEndedOutput::new(out);
    let shared = Shared {
        state: Mutex::new(State::new(plan.count)),
        changed: Condvar::new(),
    };
    let result = std::thread::scope(|scope| {
        let backward: Vec<_> = (1..threads)
            .map(|_| {
                scope.spawn(|| {
                    // An error or a panic must not leave the others waiting for this one.
                    let guard = FailOnDrop(&shared);
                    let result = backward_worker(read, &plan, &arena, &shared, span);
                    if result.is_ok() {
                        std::mem::forget(guard);
                    }
                    result
                })
            })
            .collect();
        // Unless the forward worker succeeds, the backward ones are told to stop.
        let guard = FailOnDrop(&shared);
        let forward = forward_worker(read, &plan, &arena, &shared, span);
        if matches!(forward, Ok(Some(_))) {
            std::mem::forget(guard);
        } else {
            drop(guard);
        }
        let mut first_error = None;
        for handle in backward {
            match handle.join() {
                Ok(Err(e)) => first_error = first_error.or(Some(e)),
                Ok(Ok(())) => {}
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        match (forward, first_error) {
            (Err(e), _) | (Ok(_), Some(e)) => Err(e),
            (Ok(f), None) => Ok(f),
        }
    })?;
    let Some(forward) = result else {
        return Ok(None);
    };
    let state = shared.into_state();
    if state.failed {
        return Ok(None);
    }
    Ok(finish(read, arena, forward, state, total, want_crc))
}

/// The byte after a gzip member header at the start of `head`, or `None` when `head` is not
/// one whose fields end within it, or has a header CRC (the ordinary reader checks those).
fn gzip_header_len(head: &[u8]) -> Option<usize> {
    const FTEXT_RESERVED: u8 = 0xe0;
    if head.len() < 10 || head[0] != 0x1f || head[1] != 0x8b || head[2] != 8 {
        return None;
    }
    let flags = head[3];
    if flags & FTEXT_RESERVED != 0 || flags & 0x02 != 0 {
        return None;
    }
    let mut at = 10usize;
    if flags & 0x04 != 0 {
        let len = usize::from(u16::from_le_bytes([*head.get(at)?, *head.get(at + 1)?]));
        at = at.checked_add(2 + len)?;
    }
    for flag in [0x08u8, 0x10] {
        if flags & flag != 0 {
            let nul = head.get(at..)?.iter().position(|&b| b == 0)?;
            at += nul + 1;
        }
    }
    (at < head.len()).then_some(at)
}

/// Where the chunks start: `count` nominal byte offsets, the first the stream's start.
struct ChunkPlan {
    data_start: u64,
    data_end: u64,
    /// Compressed bytes per chunk.
    size: u64,
    count: usize,
    /// The whole output's length: no chunk inflates to more.
    output_len: usize,
}

impl ChunkPlan {
    fn new(data_start: u64, data_end: u64, threads: usize, output_len: usize) -> Self {
        let len = data_end.saturating_sub(data_start);
        // Four chunks per thread at least, so that the workers finish close together; and
        // chunks of about CHUNK_OUTPUT inflated bytes at most, since a backward worker holds
        // its chunk's output until it is placed.
        let wanted = (threads as u64 * 4).max(2);
        let by_output = (len as u128 * CHUNK_OUTPUT as u128 / output_len.max(1) as u128) as u64;
        let size = (len / wanted).min(by_output).max(MIN_CHUNK);
        // The last chunk takes the remainder: a sliver might hold no block start at all.
        let count = (len / size).max(1) as usize;
        ChunkPlan {
            data_start,
            data_end,
            size,
            count,
            output_len,
        }
    }

    /// The byte where chunk `k`'s search for a block header starts.
    fn nominal_start(&self, k: usize) -> u64 {
        (self.data_start + self.size * k as u64).min(self.data_end)
    }
}

/// Who inflates each chunk, and what the backward workers found.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    Free,
    Forward,
    Backward,
}

struct State {
    owner: Vec<Owner>,
    /// Each backward chunk's start bit, once found and announced.
    start_bit: Vec<Option<u64>>,
    /// Backward chunks inflated, in chunk order, once done.
    done: Vec<Option<BackwardChunk>>,
    /// The lowest chunk placed at the back of the output (`count` when none).
    placed_from: usize,
    failed: bool,
}

impl State {
    fn new(count: usize) -> Self {
        let mut owner = vec![Owner::Free; count];
        owner[0] = Owner::Forward;
        State {
            owner,
            start_bit: vec![None; count],
            done: (0..count).map(|_| None).collect(),
            placed_from: count,
            failed: false,
        }
    }
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fail(&self) {
        self.lock().failed = true;
        self.changed.notify_all();
    }

    fn into_state(self) -> State {
        self.state.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

/// Marks the attempt failed (waking every waiting worker) when dropped: armed around each
/// worker, so that one that errs or panics releases the others.
struct FailOnDrop<'a>(&'a Shared);

impl Drop for FailOnDrop<'_> {
    fn drop(&mut self) {
        self.0.fail();
    }
}

/// What a backward worker made of its chunk.
struct BackwardChunk {
    /// The chunk's first bit (a block header), relative to the file.
    start_bit: u64,
    /// The file byte after the compressed bytes of its unresolved part (read again from the
    /// source at the end rather than held: on float data they were 8 MB of a 239 MB file).
    unresolved_input_end: u64,
    /// Output bytes inflated before the window was known.
    unresolved_len: usize,
    /// Output length of the whole chunk.
    len: usize,
    /// The chunk's buffer when it could not be placed yet (the resolved output is at
    /// `unresolved_len..len`), else empty.
    pending: Vec<u8>,
    /// Where the resolved part went in the output (`None` while pending).
    placed_at: Option<usize>,
    /// CRC-32 of the resolved part.
    resolved_crc: crc32fast::Hasher,
    /// Block boundaries in the chunk, `out` counted from the chunk's start (the first is the
    /// start itself).
    boundaries: Vec<Boundary>,
}

/// What the forward worker made of the start.
struct Forward {
    len: usize,
    crc: crc32fast::Hasher,
    /// Block boundaries passed, the stream's start first.
    boundaries: Vec<Boundary>,
    /// The first backward chunk (where the forward worker stopped), `count` if none.
    stopped_at: usize,
}

/// The output shared by the workers: the forward worker takes pieces from the front,
/// backward workers from the back, each piece handed out once.
struct TwoEndedOutput<'a> {
    ptr: *mut u8,
    len: usize,
    ends: Mutex<(usize, usize)>,
    _out: std::marker::PhantomData<&'a mut [u8]>,
}

// SAFETY: the arena hands out disjoint pieces of one exclusively borrowed slice (the cursors
// move only under the lock, front up and back down, never crossing), so sharing it between
// threads shares no byte.
unsafe impl Sync for TwoEndedOutput<'_> {}

impl<'a> TwoEndedOutput<'a> {
    fn new(out: &'a mut [u8]) -> Self {
        TwoEndedOutput {
            ptr: out.as_mut_ptr(),
            len: out.len(),
            ends: Mutex::new((0, out.len())),
            _out: std::marker::PhantomData,
        }
    }

    fn ends(&self) -> std::sync::MutexGuard<'_, (usize, usize)> {
        self.ends.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next at most `want` free bytes at the front; empty when none.
    #[allow(clippy::mut_from_ref)] // disjoint pieces of the borrowed slice, see the Sync impl
    fn take_front(&self, want: usize) -> &'a mut [u8] {
        let mut ends = self.ends();
        let at = ends.0;
        let n = want.min(ends.1 - at);
        ends.0 += n;
        // SAFETY: [at, at + n) lies within the slice and was free (between the cursors);
        // moving the front cursor past it under the lock hands it out exactly once.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(at), n) }
    }

    /// The `len` free bytes just below the back cursor, with their offset, if that many are
    /// free.
    #[allow(clippy::mut_from_ref)] // disjoint pieces of the borrowed slice, see the Sync impl
    fn take_back(&self, len: usize) -> Option<(usize, &'a mut [u8])> {
        let mut ends = self.ends();
        if len > ends.1 - ends.0 {
            return None;
        }
        ends.1 -= len;
        let at = ends.1;
        // SAFETY: as in take_front, for [at, at + len) below the back cursor.
        Some((at, unsafe {
            std::slice::from_raw_parts_mut(self.ptr.add(at), len)
        }))
    }

    /// The whole output again, once the workers are done.
    fn into_inner(self) -> &'a mut [u8] {
        // SAFETY: every piece handed out was borrowed from `self`'s lifetime by workers that
        // have all been joined; the whole slice is the original exclusive borrow.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

/// Reads `len` bytes at `at` (fewer at the file's end).
fn read_range(
    read: &(dyn Fn(u64, &mut [u8]) -> crate::Result<usize> + Sync),
    at: u64,
    len: usize,
) -> crate::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let n = read(at + filled as u64, &mut buf[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Prepares `inflater` to start at bit `bit` of `data` (whose first byte is `data_at` in the
/// file) with `window` as history; returns the index of the first whole byte to feed.
fn start_at(
    inflater: &mut Inflater,
    data: &[u8],
    data_at: u64,
    bit: u64,
    window: &[u8],
) -> Option<usize> {
    inflater.reset().ok()?;
    let byte = usize::try_from(bit / 8 - data_at).ok()?;
    let shift = (bit % 8) as u8;
    let mut next = byte;
    if shift != 0 {
        inflater.prime(8 - shift, *data.get(byte)? >> shift).ok()?;
        next += 1;
    }
    inflater.set_dictionary(window).ok()?;
    Some(next)
}

/// Inflates from the start of the stream into the front of the output until it reaches the
/// first chunk a backward worker owns (or the stream's end). `None` when the stream does not
/// behave (an error, no room, a backward chunk's start that is not a block boundary).
fn forward_worker(
    read: &(dyn Fn(u64, &mut [u8]) -> crate::Result<usize> + Sync),
    plan: &ChunkPlan,
    arena: &TwoEndedOutput<'_>,
    shared: &Shared,
    span: usize,
) -> crate::Result<Option<Forward>> {
    let mut inflater = match Inflater::new() {
        Ok(i) => i,
        Err(_) => return Ok(None),
    };
    let mut crc = crc32fast::Hasher::new();
    let mut len = 0usize;
    // Stopping at every block end costs ~20 % of the speed (zlib-rs leaves its fast loop at
    // each stop), so the inflater runs freely up to where a boundary falls due, then stops
    // at the next block end.
    let mut record = Recorder::starting_at(span, plan.data_start * 8);
    let mut input = Vec::new();
    let mut input_at = plan.data_start;
    let mut used = 0usize;
    let mut piece: &mut [u8] = &mut [];
    // The chunk whose start the input may not pass until it is claimed, and the bit where
    // the forward worker must stop once a backward worker owns the next chunk.
    let mut next_chunk = 1usize;
    let mut stop_bit: Option<u64> = None;
    let mut stopped_at = plan.count;
    // Whether the last read of input found none left (to tell a stall from a full output).
    let mut exhausted = false;
    loop {
        if used == input.len() {
            // How far the input may go: up to the next unclaimed chunk's nominal start.
            let mut limit = plan.data_end;
            while stop_bit.is_none() && next_chunk < plan.count {
                let nominal = plan.nominal_start(next_chunk);
                if input_at < nominal {
                    limit = nominal;
                    break;
                }
                let mut state = shared.lock();
                if state.failed {
                    return Ok(None);
                }
                if state.owner[next_chunk] == Owner::Free {
                    state.owner[next_chunk] = Owner::Forward;
                    next_chunk += 1;
                    continue;
                }
                // A backward worker owns it. Stop at its start bit if it has found one;
                // otherwise take the chunk over rather than wait for a search.
                let k = next_chunk;
                match state.start_bit[k] {
                    Some(bit) => {
                        stop_bit = Some(bit);
                        stopped_at = k;
                    }
                    None => {
                        state.owner[k] = Owner::Forward;
                        next_chunk += 1;
                    }
                }
            }
            if let Some(bit) = stop_bit {
                limit = bit.div_ceil(8);
            }
            let want = usize::try_from(limit.saturating_sub(input_at))
                .unwrap_or(usize::MAX)
                .min(FORWARD_PIECE);
            input = read_range(read, input_at, want)?;
            input_at += input.len() as u64;
            used = 0;
            exhausted = input.is_empty();
        }
        if piece.is_empty() {
            // None left is fine if the stream's end code is all that remains; zlib then
            // says so on a call with no room (else it makes no progress, checked below).
            piece = arena.take_front(FORWARD_PIECE);
        }
        let due = record.due_in(len);
        let (flush, room) = if stop_bit.is_some() || due == 0 {
            (Flush::Block, piece.len())
        } else {
            (Flush::None, piece.len().min(due))
        };
        let r = inflater.inflate(&input[used..], &mut piece[..room], flush);
        if r.code != Z_STREAM_END && r.consumed == 0 && r.produced == 0 {
            if piece.is_empty() {
                return Ok(None); // more output than the read's length
            }
            if exhausted && stop_bit.is_none() {
                return Ok(None); // the input ended without the stream's last block
            }
        }
        used += r.consumed;
        let (written, rest) = std::mem::take(&mut piece).split_at_mut(r.produced);
        crc.update(written);
        len += r.produced;
        piece = rest;
        if r.code == Z_STREAM_END {
            // The whole stream, with no backward chunk: it must end where the trailer starts.
            let fed_to = input_at - (input.len() - used) as u64;
            let end = bit_position(fed_to, r.data_type).div_ceil(8);
            return Ok(
                (end == plan.data_end && stop_bit.is_none()).then_some(Forward {
                    len,
                    crc,
                    boundaries: record.boundaries,
                    stopped_at,
                }),
            );
        }
        if r.code != Z_OK && !(r.code == super::zlib::Z_BUF_ERROR && r.produced == 0) {
            return Ok(None);
        }
        let fed_to = input_at - (input.len() - used) as u64;
        if let Some(bit) = stop_bit {
            let at = bit_position(fed_to, r.data_type);
            if r.data_type & AT_BLOCK_END != 0 && at == bit {
                return Ok(Some(Forward {
                    len,
                    crc,
                    boundaries: record.boundaries,
                    stopped_at,
                }));
            }
            if at > bit || (used == input.len() && input_at >= bit.div_ceil(8) && r.produced == 0) {
                return Ok(None); // passed the start bit inside a block: not a boundary
            }
        }
        record.passed(len, fed_to, r.data_type);
    }
}

/// Claims chunks from the end and inflates them until none is left for it.
fn backward_worker(
    read: &(dyn Fn(u64, &mut [u8]) -> crate::Result<usize> + Sync),
    plan: &ChunkPlan,
    arena: &TwoEndedOutput<'_>,
    shared: &Shared,
    span: usize,
) -> crate::Result<()> {
    let mut temp = Vec::new();
    loop {
        let k = {
            let mut state = shared.lock();
            if state.failed {
                return Ok(());
            }
            let Some(k) = (1..plan.count)
                .rev()
                .find(|&k| state.owner[k] == Owner::Free)
            else {
                return Ok(());
            };
            // Only a chunk above everything the forward worker owns.
            if state.owner[k..].contains(&Owner::Forward) {
                return Ok(());
            }
            state.owner[k] = Owner::Backward;
            k
        };
        // The end bit: the next chunk's start (found by whoever claimed it), or the stream's
        // end for the last chunk.
        let end_bit = if k + 1 == plan.count {
            None
        } else {
            let mut state = shared.lock();
            loop {
                if state.failed {
                    return Ok(());
                }
                if let Some(bit) = state.start_bit[k + 1] {
                    break Some(bit);
                }
                if state.owner[k + 1] == Owner::Forward {
                    // The next chunk was given up: this one cannot end at a known bit.
                    state.owner[k] = Owner::Forward;
                    drop(state);
                    shared.changed.notify_all();
                    return Ok(());
                }
                state = shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner());
            }
        };
        match inflate_backward_chunk(read, plan, k, end_bit, shared, span, &mut temp)? {
            Some(chunk) => place(arena, shared, k, chunk, &mut temp),
            None => {
                let mut state = shared.lock();
                if state.start_bit[k].is_some() {
                    // The forward worker, or the chunk below, may already rely on this start:
                    // the attempt cannot finish.
                    state.failed = true;
                } else {
                    // Never announced: the chunk simply becomes the forward worker's.
                    state.owner[k] = Owner::Forward;
                }
                drop(state);
                shared.changed.notify_all();
                return Ok(()); // this file's blocks are not what the search finds; stop here
            }
        }
    }
}

/// Puts chunk `k` at the back of the output once every later chunk is placed, or keeps its
/// bytes pending when the forward worker holds that room (resolved at the end).
fn place(
    arena: &TwoEndedOutput<'_>,
    shared: &Shared,
    k: usize,
    mut chunk: BackwardChunk,
    temp: &mut Vec<u8>,
) {
    let mut state = shared.lock();
    // Later chunks are claimed first; with several backward workers one may finish early.
    while state.placed_from != k + 1 && !state.failed {
        let later_done = (k + 1..state.placed_from).all(|j| state.done[j].is_some());
        if later_done {
            break;
        }
        state = shared
            .changed
            .wait(state)
            .unwrap_or_else(|p| p.into_inner());
    }
    if state.failed {
        return;
    }
    // With every later chunk placed the back cursor is where this one ends. The whole
    // chunk's room is taken: its resolved bytes now, its unresolved start at the end.
    let room = if state.placed_from == k + 1 {
        arena.take_back(chunk.len)
    } else {
        None
    };
    match room {
        Some((at, room)) => {
            room[chunk.unresolved_len..].copy_from_slice(&temp[chunk.unresolved_len..chunk.len]);
            chunk.placed_at = Some(at);
            state.placed_from = k;
        }
        // Only where the two ends meet: the chunk keeps its buffer until the end.
        None => chunk.pending = std::mem::take(temp),
    }
    state.done[k] = Some(chunk);
    drop(state);
    shared.changed.notify_all();
}

/// Finds chunk `k`'s first block header and inflates the chunk into `temp` (its first
/// `unresolved_len` bytes with a guessed window). `None` when no header is found, the window
/// never becomes known, or the chunk does not end exactly at `end_bit` (or at the stream's
/// end before the trailer, for the last chunk).
#[allow(clippy::too_many_arguments)]
fn inflate_backward_chunk(
    read: &(dyn Fn(u64, &mut [u8]) -> crate::Result<usize> + Sync),
    plan: &ChunkPlan,
    k: usize,
    end_bit: Option<u64>,
    shared: &Shared,
    span: usize,
    temp: &mut Vec<u8>,
) -> crate::Result<Option<BackwardChunk>> {
    let from = plan.nominal_start(k);
    let to = match end_bit {
        Some(bit) => bit.div_ceil(8),
        None => plan.data_end,
    };
    if to <= from {
        return Ok(None);
    }
    let data = read_range(read, from, usize::try_from(to - from).unwrap_or(usize::MAX))?;
    let (Ok(mut a), Ok(mut b)) = (Inflater::new(), Inflater::new()) else {
        return Ok(None);
    };
    let zeros = vec![0u8; WINDOW_SIZE];
    let ones = vec![0xffu8; WINDOW_SIZE];
    let search_end = (data.len().min(SEARCH_LIMIT) as u64) * 8;
    let mut candidate = 0u64;
    let mut b_out = Vec::new();
    // Find a header that inflates, and inflate until the window is known.
    let (start_bit, unresolved, mut record) = loop {
        let Some(bit) = find_dynamic_header(&data, candidate, search_end) else {
            return Ok(None);
        };
        candidate = bit + 1;
        let file_bit = from * 8 + bit;
        if end_bit.is_some_and(|e| file_bit >= e) {
            return Ok(None);
        }
        let mut record = Recorder::starting_at(span, file_bit);
        let mut guesses = Guesses {
            zeros: &zeros,
            ones: &ones,
            b_out: &mut b_out,
        };
        match resolve_window(
            &mut a,
            &mut b,
            &data,
            from,
            file_bit,
            &mut guesses,
            temp,
            &mut record,
        ) {
            Ok(unresolved) => break (file_bit, unresolved, record),
            Err(Rejected::WindowUnknown) => return Ok(None),
            Err(Rejected::NotABlock) => {}
        }
        if shared.lock().failed {
            return Ok(None);
        }
    };
    {
        let mut state = shared.lock();
        if state.owner[k] != Owner::Backward {
            return Ok(None); // the forward worker got here first and took the chunk
        }
        state.start_bit[k] = Some(start_bit);
    }
    shared.changed.notify_all();
    let Unresolved {
        len: unresolved_len,
        produced,
        next_byte,
        ended,
        data_type,
    } = unresolved;
    let in_last_block = data_type & IN_LAST_BLOCK != 0;
    let unresolved_input_end = from + next_byte as u64;
    let mut used = next_byte;
    let mut len = produced;
    // Where the chunk must end: at `end_bit` after a non-final block, or for the last chunk
    // at the stream's end, where the trailer starts.
    let ends_here = |used: usize, data_type: i32, stream_end: bool| -> Option<bool> {
        let at = bit_position(from + used as u64, data_type);
        match end_bit {
            Some(end) if stream_end || at > end => None,
            Some(end) => Some(data_type & AT_BLOCK_END != 0 && at == end),
            None if stream_end => (at.div_ceil(8) == plan.data_end).then_some(true),
            None => Some(false),
        }
    };
    let mut finished = ends_here(used, data_type, ended);
    if finished == Some(true) && in_last_block && end_bit.is_some() {
        finished = None;
    }
    // Decoder `a` holds the real window now: go on alone to the end.
    while finished == Some(false) {
        if len > plan.output_len {
            return Ok(None); // more than the whole read: never hold more than the output
        }
        if temp.len() < len + FORWARD_PIECE {
            temp.resize(len + FORWARD_PIECE, 0);
        }
        let r = a.inflate(&data[used..], &mut temp[len..], Flush::Block);
        used += r.consumed;
        len += r.produced;
        let stream_end = r.code == Z_STREAM_END;
        if !stream_end && r.code != Z_OK && r.code != super::zlib::Z_BUF_ERROR {
            return Ok(None);
        }
        record.passed(len, from + used as u64, r.data_type);
        finished = ends_here(used, r.data_type, stream_end);
        if finished == Some(false) && used == data.len() && r.produced == 0 && r.consumed == 0 {
            return Ok(None);
        }
        if finished == Some(true) && r.data_type & IN_LAST_BLOCK != 0 && end_bit.is_some() {
            return Ok(None); // the final block ended before the next chunk's start
        }
    }
    if finished.is_none() {
        return Ok(None);
    }
    let mut resolved_crc = crc32fast::Hasher::new();
    resolved_crc.update(&temp[unresolved_len..len]);
    Ok(Some(BackwardChunk {
        start_bit,
        unresolved_input_end,
        unresolved_len,
        len,
        pending: Vec::new(),
        placed_at: None,
        resolved_crc,
        boundaries: record.boundaries,
    }))
}

/// The two guessed windows a backward chunk starts with, and the second decoder's output.
struct Guesses<'a> {
    zeros: &'a [u8],
    ones: &'a [u8],
    b_out: &'a mut Vec<u8>,
}

/// The block boundaries one worker passes in its part, kept at least `span` output bytes
/// apart, `out` counted from the part's start.
struct Recorder {
    span: usize,
    boundaries: Vec<Boundary>,
}

impl Recorder {
    /// A part that starts at `bit` (itself a boundary).
    fn starting_at(span: usize, bit: u64) -> Self {
        Recorder {
            span,
            boundaries: vec![Boundary { out: 0, bit }],
        }
    }

    /// Output bytes, from `len` into the part, until the next boundary is due (0: at the
    /// next block end).
    fn due_in(&self, len: usize) -> usize {
        let last = self.boundaries.last().map_or(0, |b| b.out as usize);
        (last + self.span).saturating_sub(len)
    }

    /// Notes where an inflater stands after a call that left it `len` bytes into the part
    /// with its input consumed up to the file byte `fed_to`.
    fn passed(&mut self, len: usize, fed_to: u64, data_type: i32) {
        if between_blocks(data_type) && self.due_in(len) == 0 {
            self.boundaries.push(Boundary {
                out: len as u64,
                bit: bit_position(fed_to, data_type),
            });
        }
    }
}

/// Why [`resolve_window`] gave up at a bit.
enum Rejected {
    /// The bits do not inflate as a block: the search goes on to its next candidate.
    NotABlock,
    /// They inflate, but the window stays unknown to the chunk's end or the limit: a later
    /// candidate would fare no better, so the chunk is given up.
    WindowUnknown,
}

/// Where a backward chunk's window became known.
struct Unresolved {
    /// Output bytes that may depend on the window (all before the last 32 KiB).
    len: usize,
    /// Output bytes inflated so far.
    produced: usize,
    /// Whether the stream's final block ended there.
    ended: bool,
    /// zlib's `data_type` there (unused bits, block end, final block).
    data_type: i32,
    /// The next input byte (in `data`) decoder `a` has not consumed.
    next_byte: usize,
}

/// Inflates from `bit` with both guessed windows until, at a block's end, the last 32 KiB
/// of output agree; `a`'s output goes to `temp`. Rejected when the bit is not a block that
/// inflates, or the window stays unknown for [`UNRESOLVED_LIMIT`] bytes.
#[allow(clippy::too_many_arguments)]
fn resolve_window(
    a: &mut Inflater,
    b: &mut Inflater,
    data: &[u8],
    data_at: u64,
    bit: u64,
    guesses: &mut Guesses<'_>,
    temp: &mut Vec<u8>,
    record: &mut Recorder,
) -> Result<Unresolved, Rejected> {
    let next = start_at(a, data, data_at, bit, guesses.zeros).ok_or(Rejected::NotABlock)?;
    let next_b = start_at(b, data, data_at, bit, guesses.ones).ok_or(Rejected::NotABlock)?;
    let b_out = &mut *guesses.b_out;
    debug_assert_eq!(next, next_b);
    let mut used = next;
    let mut len = 0usize;
    // The end of the last output byte the two disagree on.
    let mut last_difference = 0usize;
    const STEP: usize = 256 << 10;
    // `b`'s output is only compared with `a`'s, a call at a time.
    b_out.resize(STEP, 0);
    loop {
        if temp.len() < len + STEP {
            temp.resize(len + STEP, 0);
        }
        let ra = a.inflate(&data[used..], &mut temp[len..len + STEP], Flush::Block);
        let rb = b.inflate(&data[used..], &mut b_out[..], Flush::Block);
        if ra.code != rb.code
            || ra.consumed != rb.consumed
            || ra.produced != rb.produced
            || ra.data_type != rb.data_type
        {
            return Err(Rejected::NotABlock);
        }
        if ra.code == super::zlib::Z_BUF_ERROR {
            return Err(Rejected::WindowUnknown); // the chunk's bytes ran out first
        }
        if ra.code != Z_OK && ra.code != Z_STREAM_END {
            return Err(Rejected::NotABlock);
        }
        if let Some(i) = temp[len..len + ra.produced]
            .iter()
            .zip(&b_out[..ra.produced])
            .rposition(|(x, y)| x != y)
        {
            last_difference = len + i + 1;
        }
        used += ra.consumed;
        len += ra.produced;
        record.passed(len, data_at + used as u64, ra.data_type);
        let ended = ra.code == Z_STREAM_END;
        // Bytes the two agree on do not depend on the window: at the stream's end they are
        // final however recent the last difference.
        if ended || (ra.data_type & AT_BLOCK_END != 0 && len >= last_difference + WINDOW_SIZE) {
            return Ok(Unresolved {
                len: last_difference,
                produced: len,
                next_byte: used,
                ended,
                data_type: ra.data_type,
            });
        }
        if len > UNRESOLVED_LIMIT || (used == data.len() && ra.produced == 0) {
            return Err(Rejected::WindowUnknown);
        }
    }
}

/// Places what is pending, inflates each backward chunk's unresolved start with its real
/// window (on every core: each window is the last 32 KiB of the chunk before, resolved
/// already), and checks the length and CRC-32 of the whole. The block boundaries of every
/// part, in order, when all is well.
fn finish(
    read: &(dyn Fn(u64, &mut [u8]) -> crate::Result<usize> + Sync),
    arena: TwoEndedOutput<'_>,
    forward: Forward,
    mut state: State,
    total: usize,
    want_crc: u32,
) -> Option<Vec<Boundary>> {
    use rayon::prelude::*;
    let out = arena.into_inner();
    let mut boundaries = forward.boundaries;
    // Each backward chunk with its offset; pending bytes copied into place.
    let mut chunks = Vec::new();
    let mut at = forward.len;
    for k in forward.stopped_at..state.done.len() {
        let mut chunk = state.done[k].take()?;
        if at.checked_add(chunk.len).is_none_or(|end| end > total)
            || chunk.placed_at.is_some_and(|placed| placed != at)
        {
            return None;
        }
        // A chunk's last boundary may be the next chunk's start, found by both.
        for b in &chunk.boundaries {
            let b = Boundary {
                out: (at as u64) + b.out,
                bit: b.bit,
            };
            if boundaries.last().is_none_or(|last| last.out < b.out) {
                boundaries.push(b);
            }
        }
        if chunk.placed_at.is_none() {
            let resolved = chunk.unresolved_len..chunk.len;
            out[at + chunk.unresolved_len..at + chunk.len]
                .copy_from_slice(chunk.pending.get(resolved)?);
            chunk.pending = Vec::new(); // a chunk's output: not held while the rest finishes
        }
        let len = chunk.len;
        chunks.push((at, chunk));
        at += len;
    }
    if at != total {
        return None;
    }
    // Each unresolved region is split off `out` with the window before it (the last 32 KiB
    // of the part before, final by now) and inflated again on rayon's pool, with no copy of
    // the windows. A window that reaches back into an earlier unresolved region (a chunk
    // shorter than a window past its own unresolved start) waits, and is done in order
    // after the others.
    let mut resolved: Vec<Option<crc32fast::Hasher>> = vec![None; chunks.len()];
    let mut deferred = Vec::new();
    {
        let mut jobs = Vec::with_capacity(chunks.len());
        let mut rest: &mut [u8] = &mut *out;
        let mut consumed = 0usize;
        for (i, (at, chunk)) in chunks.iter().enumerate() {
            let window_start = at.saturating_sub(WINDOW_SIZE);
            let tail = std::mem::take(&mut rest);
            if window_start < consumed {
                deferred.push(i);
                let (_, tail) = tail.split_at_mut(at + chunk.unresolved_len - consumed);
                rest = tail;
            } else {
                let (_, tail) = tail.split_at_mut(window_start - consumed);
                let (window, tail) = tail.split_at_mut(at - window_start);
                let (region, tail) = tail.split_at_mut(chunk.unresolved_len);
                jobs.push((i, &*window, region));
                rest = tail;
            }
            consumed = at + chunk.unresolved_len;
        }
        let done: Vec<(usize, Option<crc32fast::Hasher>)> = jobs
            .into_par_iter()
            .map(|(i, window, region)| {
                (i, reinflate_unresolved(read, &chunks[i].1, window, region))
            })
            .collect();
        for (i, crc) in done {
            resolved[i] = crc;
        }
    }
    for i in deferred {
        let (at, chunk) = &chunks[i];
        let window = out[at.saturating_sub(WINDOW_SIZE)..*at].to_vec();
        let region = &mut out[*at..at + chunk.unresolved_len];
        resolved[i] = reinflate_unresolved(read, chunk, &window, region);
    }
    let mut crc = forward.crc;
    for (unresolved, (_, chunk)) in resolved.into_iter().zip(&chunks) {
        crc.combine(&unresolved?);
        crc.combine(&chunk.resolved_crc);
    }
    (crc.finalize() == want_crc).then_some(boundaries)
}

/// Inflates `chunk`'s unresolved start again, with its real `window`, into `region`; the
/// region's CRC-32, or `None` when the bytes do not come out the same length.
fn reinflate_unresolved(
    read: &(dyn Fn(u64, &mut [u8]) -> crate::Result<usize> + Sync),
    chunk: &BackwardChunk,
    window: &[u8],
    region: &mut [u8],
) -> Option<crc32fast::Hasher> {
    let mut crc = crc32fast::Hasher::new();
    if region.is_empty() {
        return Some(crc);
    }
    let mut inflater = Inflater::new().ok()?;
    let first = chunk.start_bit / 8;
    let len = usize::try_from(chunk.unresolved_input_end.checked_sub(first)?).ok()?;
    // A read that fails here is reported by the ordinary read the caller falls back to.
    let input = read_range(read, first, len).ok()?;
    let next = start_at(&mut inflater, &input, first, chunk.start_bit, window)?;
    let r = inflater.inflate(&input[next..], region, Flush::None);
    let fine = r.code == Z_OK || r.code == Z_STREAM_END || r.code == super::zlib::Z_BUF_ERROR;
    if !fine || r.produced != region.len() {
        return None;
    }
    crc.update(region);
    Some(crc)
}

/// The first bit in `[from, to)` of `data` where a non-final dynamic-Huffman deflate block
/// header begins whose code lengths zlib would accept (complete codes; a single distance
/// code or none), or `None`.
fn find_dynamic_header(data: &[u8], from: u64, to: u64) -> Option<u64> {
    (from..to).find(|&bit| dynamic_header_ok(data, bit))
}

/// Reads bits LSB-first, as deflate packs them.
struct BitReader<'a> {
    data: &'a [u8],
    bit: u64,
}

impl BitReader<'_> {
    /// The next `n` (at most 32) bits, or `None` past the data's end.
    fn take(&mut self, n: u32) -> Option<u32> {
        let byte = usize::try_from(self.bit / 8).ok()?;
        let shift = (self.bit % 8) as u32;
        if (self.bit + u64::from(n)).div_ceil(8) > self.data.len() as u64 {
            return None;
        }
        let mut word = [0u8; 8];
        let avail = (self.data.len() - byte).min(8);
        word[..avail].copy_from_slice(&self.data[byte..byte + avail]);
        let value = (u64::from_le_bytes(word) >> shift) & ((1u64 << n) - 1);
        self.bit += u64::from(n);
        Some(value as u32)
    }
}

/// The order in which a dynamic header lists the code-length code's lengths (RFC 1951 3.2.7).
const CODE_LENGTH_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// How a set of code lengths fills the code space: `Some(true)` complete, `Some(false)`
/// incomplete, `None` over-subscribed.
fn kraft(lengths: &[u8]) -> Option<bool> {
    let mut used = 0u32;
    for &l in lengths {
        if l > 0 {
            used += 1 << (15 - u32::from(l));
        }
    }
    match used.cmp(&(1 << 15)) {
        std::cmp::Ordering::Less => Some(false),
        std::cmp::Ordering::Equal => Some(true),
        std::cmp::Ordering::Greater => None,
    }
}

fn dynamic_header_ok(data: &[u8], bit: u64) -> bool {
    dynamic_header(data, bit).is_some()
}

fn dynamic_header(data: &[u8], bit: u64) -> Option<()> {
    // Most positions fail on the first 17 bits: check them from one word first.
    let byte = usize::try_from(bit / 8).ok()?;
    if let Some(bytes) = data.get(byte..byte + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(bytes);
        let w = u64::from_le_bytes(word) >> (bit % 8);
        if w & 0b111 != 0b100 || (w >> 3) & 0x1f > 29 || (w >> 8) & 0x1f > 29 {
            return None;
        }
        // Then on the code-length code, which must fill its code space exactly.
        let at = bit + 17;
        let byte = usize::try_from(at / 8).ok()?;
        if let Some(bytes) = data.get(byte..byte + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(bytes);
            let lengths = u64::from_le_bytes(word) >> (at % 8);
            let hclen = ((w >> 13) & 0xf) as u32 + 4;
            let space: u32 = (0..hclen)
                .map(|i| ((lengths >> (3 * i)) & 0b111) as u32)
                .filter(|&l| l > 0)
                .map(|l| 1 << (7 - l))
                .sum();
            if space != 1 << 7 {
                return None;
            }
        }
    }
    let mut r = BitReader { data, bit };
    // BFINAL 0, BTYPE 2 (dynamic): the first three bits read 0b100.
    if r.take(3)? != 0b100 {
        return None;
    }
    let hlit = r.take(5)? as usize + 257;
    let hdist = r.take(5)? as usize + 1;
    if hlit > 286 || hdist > 30 {
        return None;
    }
    let hclen = r.take(4)? as usize + 4;
    let mut code_lengths = [0u8; 19];
    for &symbol in &CODE_LENGTH_ORDER[..hclen] {
        code_lengths[symbol] = r.take(3)? as u8;
    }
    // zlib refuses an incomplete code-length code.
    if !kraft(&code_lengths)? {
        return None;
    }
    let table = CanonicalTable::new(&code_lengths);
    let mut lengths = [0u8; 286 + 30];
    let total = hlit + hdist;
    let mut n = 0;
    while n < total {
        let symbol = table.decode(&mut r)?;
        match symbol {
            0..=15 => {
                lengths[n] = symbol as u8;
                n += 1;
            }
            16 => {
                let previous = *lengths.get(n.checked_sub(1)?)?;
                let repeat = 3 + r.take(2)? as usize;
                lengths.get_mut(n..n + repeat)?.fill(previous);
                n += repeat;
            }
            17 | 18 => {
                let repeat = if symbol == 17 {
                    3 + r.take(3)? as usize
                } else {
                    11 + r.take(7)? as usize
                };
                lengths.get_mut(n..n + repeat)?.fill(0);
                n += repeat;
            }
            _ => return None,
        }
    }
    if n != total {
        return None;
    }
    let (literal, distance) = lengths[..total].split_at(hlit);
    if literal[256] == 0 {
        return None; // no end-of-block code
    }
    let single = |l: &[u8]| l.iter().filter(|&&x| x > 0).count() == 1 && l.contains(&1);
    match kraft(literal)? {
        true => {}
        false if single(literal) => {}
        false => return None,
    }
    match kraft(distance)? {
        true => {}
        false if single(distance) || distance.iter().all(|&x| x == 0) => {}
        false => return None,
    }
    Some(())
}

/// A canonical Huffman code of at most 7-bit codes (the code-length code), decoded by table.
struct CanonicalTable {
    /// (symbol, length) for every 7-bit lookahead, bit-reversed as deflate reads them.
    entries: [(u8, u8); 128],
}

impl CanonicalTable {
    fn new(lengths: &[u8; 19]) -> Self {
        let mut count = [0u16; 8];
        for &l in lengths {
            count[usize::from(l)] += 1;
        }
        count[0] = 0;
        let mut next = [0u16; 8];
        let mut code = 0u16;
        for bits in 1..8 {
            code = (code + count[bits - 1]) << 1;
            next[bits] = code;
        }
        let mut entries = [(0u8, 0u8); 128];
        for (symbol, &l) in lengths.iter().enumerate() {
            if l == 0 {
                continue;
            }
            let c = next[usize::from(l)];
            next[usize::from(l)] += 1;
            let reversed = (c.reverse_bits() >> (16 - u16::from(l))) as usize;
            let mut fill = reversed;
            while fill < 128 {
                entries[fill] = (symbol as u8, l);
                fill += 1 << l;
            }
        }
        CanonicalTable { entries }
    }

    fn decode(&self, r: &mut BitReader<'_>) -> Option<u32> {
        // Peek up to 7 bits (fewer at the very end of the data).
        let saved = r.bit;
        let available = ((r.data.len() as u64 * 8).saturating_sub(saved)).min(7) as u32;
        let peek = r.take(available)?;
        let (symbol, len) = self.entries[peek as usize];
        if len == 0 || u32::from(len) > available {
            return None;
        }
        r.bit = saved + u64::from(len);
        Some(u32::from(symbol))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::gzip::reader::tests::gz as gzip;

    /// A zero-background scan-like signal: smooth values inside, zeros around.
    fn scan_like(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed;
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = out.len();
            let inside = (i / 4096) % 3 != 0;
            let v: i16 = if inside {
                ((i as f64 / 50.0).sin() * 800.0) as i16 + ((state >> 40) % 64) as i16
            } else {
                0
            };
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.truncate(len);
        out
    }

    /// The output and the block boundaries, `span` apart, when the file is served.
    fn parallel_with_boundaries(
        file: &[u8],
        len: usize,
        threads: usize,
        span: u64,
    ) -> Option<(Vec<u8>, Vec<Boundary>)> {
        let read = |at: u64, buf: &mut [u8]| -> crate::Result<usize> {
            let at = (at as usize).min(file.len());
            let n = buf.len().min(file.len() - at);
            buf[..n].copy_from_slice(&file[at..at + n]);
            Ok(n)
        };
        let mut out = vec![0u8; len];
        inflate_member_in_parallel(&read, file.len() as u64, &mut out, threads, span)
            .unwrap()
            .map(|boundaries| (out, boundaries))
    }

    fn parallel(file: &[u8], len: usize, threads: usize) -> Option<Vec<u8>> {
        parallel_with_boundaries(file, len, threads, 1 << 20).map(|(out, _)| out)
    }

    /// Inflates `want` bytes from `b` with the window before it in `data`, as the reader
    /// resumes from a checkpoint.
    fn resume(file: &[u8], data: &[u8], b: Boundary, want: usize) -> Vec<u8> {
        let mut inflater = Inflater::new().unwrap();
        let at = b.out as usize;
        let window = &data[at.saturating_sub(WINDOW_SIZE)..at];
        let next = start_at(&mut inflater, file, 0, b.bit, window).unwrap();
        let mut got = vec![0u8; want];
        let r = inflater.inflate(&file[next..], &mut got, Flush::None);
        assert!(
            r.code == Z_OK || r.code == Z_STREAM_END,
            "zlib status {}",
            r.code
        );
        got.truncate(r.produced);
        got
    }

    #[test]
    fn a_stream_split_over_threads_inflates_to_the_same_bytes() {
        for (seed, level) in [(1u64, 1u32), (2, 6), (3, 9)] {
            let data = scan_like(24 << 20, seed);
            let file = gzip(&data, level);
            for threads in [2, 3, 4] {
                let got = parallel(&file, data.len(), threads)
                    .unwrap_or_else(|| panic!("level {level}, {threads} threads: not served"));
                assert!(
                    got == data,
                    "level {level}, {threads} threads: bytes differ"
                );
            }
        }
    }

    #[test]
    fn every_boundary_recorded_resumes_to_the_same_bytes() {
        let span = 1u64 << 20;
        for (seed, level) in [(4u64, 6u32), (5, 9)] {
            let data = scan_like(24 << 20, seed);
            let file = gzip(&data, level);
            for threads in [2, 4] {
                let (got, boundaries) = parallel_with_boundaries(&file, data.len(), threads, span)
                    .unwrap_or_else(|| panic!("level {level}, {threads} threads: not served"));
                assert!(got == data);
                let what = format!("level {level}, {threads} threads");
                assert_eq!(boundaries[0], Boundary { out: 0, bit: 80 }, "{what}");
                for pair in boundaries.windows(2) {
                    assert!(pair[0].out < pair[1].out, "{what}: out of order");
                    // zlib ends a block every 16 Ki symbols: a span never goes much past its
                    // due point, whichever worker inflated it.
                    assert!(pair[1].out - pair[0].out <= span + (256 << 10), "{what}");
                }
                let last = boundaries.last().unwrap().out;
                assert!(
                    last + span + (256 << 10) >= data.len() as u64,
                    "{what}: {last}"
                );
                for &b in &boundaries {
                    let at = b.out as usize;
                    let want = (data.len() - at).min(64 << 10);
                    let resumed = resume(&file, &data, b, want);
                    assert!(resumed == data[at..at + want], "{what}: boundary {b:?}");
                }
            }
        }
    }

    #[test]
    fn damage_is_never_different_bytes() {
        let data = scan_like(16 << 20, 7);
        let file = gzip(&data, 6);
        // A flipped bit in the middle, a wrong CRC, a wrong length: never `true` with other
        // bytes than the data's.
        let mut flipped = file.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x10;
        let mut bad_crc = file.clone();
        let crc_at = bad_crc.len() - 8;
        bad_crc[crc_at] ^= 1;
        for damaged in [flipped, bad_crc] {
            assert!(parallel(&damaged, data.len(), 2).is_none());
        }
        assert!(parallel(&file, data.len() - 1, 2).is_none());
        assert!(parallel(&file, data.len() + 1, 2).is_none());
    }

    #[test]
    fn flipped_bits_and_cut_files_never_panic_or_read_as_other_bytes() {
        let data = scan_like(10 << 20, 13);
        let file = gzip(&data, 6);
        let mut state = 99u64;
        let mut next = |below: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize % below
        };
        // Three backward workers too: one that fails after announcing its start must not
        // leave the others waiting (a hang here is that bug).
        for threads in [2, 4] {
            for _ in 0..30 {
                let mut damaged = file.clone();
                let at = next(damaged.len());
                damaged[at] ^= 1 << next(8);
                if let Some(got) = parallel(&damaged, data.len(), threads) {
                    assert!(got == data, "a flip at byte {at} read as other bytes");
                }
            }
        }
        for _ in 0..10 {
            let cut = &file[..next(file.len())];
            if let Some(got) = parallel(cut, data.len(), 2) {
                assert!(
                    got == data,
                    "a file cut at {} read as other bytes",
                    cut.len()
                );
            }
        }
        // Garbage after a valid header: every search and guess fails, nothing is served.
        let mut garbage = file[..10].to_vec();
        garbage.extend((0..(6 << 20)).map(|_| next(256) as u8));
        assert!(parallel(&garbage, data.len(), 3).is_none());
    }

    #[test]
    fn more_members_and_one_thread_are_not_served() {
        let data = scan_like(12 << 20, 9);
        let mut file = gzip(&data[..6 << 20], 6);
        file.extend(gzip(&data[6 << 20..], 6));
        assert!(parallel(&file, data.len(), 2).is_none());
        assert!(parallel(&gzip(&data, 6), data.len(), 1).is_none());
    }

    #[test]
    fn incompressible_data_falls_back_or_matches() {
        // Stored blocks: no dynamic header to find. Either not served or the same bytes.
        let mut state = 5u64;
        let data: Vec<u8> = (0..(12 << 20))
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                (state >> 56) as u8
            })
            .collect();
        for level in [0, 6] {
            let file = gzip(&data, level);
            if let Some(got) = parallel(&file, data.len(), 2) {
                assert!(got == data);
            }
        }
    }

    #[test]
    fn header_search_finds_the_real_block_starts() {
        // Every block start zlib writes at level 6 that the search reaches is one it finds:
        // decode with Z_BLOCK to list the real boundaries, then search from just before each.
        let data = scan_like(2 << 20, 11);
        let file = gzip(&data, 6);
        let start = gzip_header_len(&file).unwrap();
        let deflate = &file[start..file.len() - 8];
        let mut inflater = Inflater::new().unwrap();
        let mut out = vec![0u8; data.len() + 1];
        let (mut used, mut produced) = (0usize, 0usize);
        let mut boundaries = Vec::new();
        loop {
            let r = inflater.inflate(&deflate[used..], &mut out[produced..], Flush::Block);
            used += r.consumed;
            produced += r.produced;
            if r.code == Z_STREAM_END {
                break;
            }
            assert_eq!(r.code, Z_OK);
            if between_blocks(r.data_type) {
                boundaries.push(bit_position(used as u64, r.data_type));
            }
        }
        assert!(boundaries.len() > 10, "{} blocks", boundaries.len());
        let mut found = 0;
        for pair in boundaries.windows(2) {
            let (previous, bit) = (pair[0], pair[1]);
            let dynamic = BitReader { data: deflate, bit }.take(3) == Some(0b100);
            if !dynamic {
                continue; // stored, fixed or final: not what the search looks for
            }
            let hit = find_dynamic_header(deflate, previous + 1, bit + 1);
            // The search may stop early at a false candidate; it must never skip a real one.
            assert!(hit.is_some_and(|h| h <= bit), "block at bit {bit} missed");
            if hit == Some(bit) {
                found += 1;
            }
        }
        assert!(found > 0);
    }

    #[test]
    fn gzip_headers_with_fields_are_measured() {
        let mut head = vec![0x1f, 0x8b, 8, 0x0c, 0, 0, 0, 0, 0, 3];
        head.extend([2, 0, b'x', b'y']); // FEXTRA of 2 bytes
        head.extend(b"name\0");
        head.push(0xaa);
        assert_eq!(gzip_header_len(&head), Some(19));
        head[3] |= 0x02; // FHCRC: not this path's
        assert_eq!(gzip_header_len(&head), None);
        assert_eq!(
            gzip_header_len(&[0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3, b'a']),
            None
        );
    }
}
