//! [`RemoteSource`]: a remote object's bytes read at any offset, through a block cache.
//!
//! The object is cached in blocks of [`BLOCK`] bytes, least recently used first out, up to
//! [`RemoteOptions::cache_bytes`]. A read copies the blocks it finds and fetches the missing
//! ones, each run of adjacent missing blocks as one ranged GET (split into requests of at most
//! [`MAX_REQUEST`], fetched at once on scoped threads, at most [`MAX_CONCURRENT`]); blocks
//! that another read or a prefetch is fetching are waited for, never asked twice. Small reads
//! that follow one another (a gzip first pass asks for 128 KiB at a time, which at a cloud's
//! 20 ms per request would otherwise take minutes) announce a window ahead of themselves,
//! fetched in the background while they are inflated: 2 MiB, growing fourfold per window to
//! [`MAX_READ_AHEAD`]. Reads larger than a quarter of the cache go straight into the caller's
//! buffer and keep only their two edge blocks.
//!
//! The object's last [`TAIL`] bytes are held apart: a gzip file's trailer and member index
//! are read there in a few small reads. [`RemoteSource::open_with_tail`] asks for them beside
//! the first request, so a reader of both ends waits one round trip, not two.

use super::object::{RemoteObject, RemoteOptions};
use crate::error::Result;
use crate::io::source::Source;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

/// The cache's block size.
pub const BLOCK: u64 = 16 << 10;
/// The object's last bytes, fetched whole by the first read that wants any of them: the
/// gzip trailer and a neurovox member index are read there in three small reads.
pub const TAIL: u64 = 16 << 10;
/// The largest single range request.
pub const MAX_REQUEST: u64 = 8 << 20;
/// The smallest request a prefetch splits its range into: about two round trips' worth of
/// bytes at a cloud's 50 MB/s per connection (1 MiB made twice the requests of a full read
/// and was no faster in `benches/remote.py`).
pub const MIN_PREFETCH_REQUEST: u64 = 2 << 20;
/// Requests of one read in flight at once.
pub const MAX_CONCURRENT: usize = 8;
/// The largest window sequential reads keep announced ahead of themselves.
pub const MAX_READ_AHEAD: u64 = 16 << 20;
/// The first window sequential reads announce: a few round trips' worth at a cloud's
/// bandwidth, and what a gzip first pass inflates in about 15 ms.
pub const FIRST_READ_AHEAD: u64 = 2 << 20;
/// The largest read that reads ahead (a gzip first pass asks for 128 KiB at a time).
pub const MAX_SEQUENTIAL_READ: u64 = 256 << 10;

/// A remote object's bytes, read at any offset by any number of threads (the module docs
/// say how).
///
/// ```no_run
/// use neurovox::io::{RemoteOptions, RemoteSource, Source};
/// let source = RemoteSource::open("https://example.org/sub-01_bold.nii", RemoteOptions::default())?;
/// let mut header = [0u8; 348];
/// source.read_at(0, &mut header)?; // served by the first request
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug)]
pub struct RemoteSource {
    /// Shared with the threads of [`Source::prefetch`], which outlive the call.
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    object: RemoteObject,
    /// How many bytes the first request brought.
    first_len: u64,
    cache: Mutex<BlockCache>,
    /// Signalled whenever blocks in flight land in the cache or are given up.
    landed: Condvar,
    sequential: Mutex<Sequential>,
    /// The last [`TAIL`] bytes, once fetched.
    tail: Mutex<Option<Arc<[u8]>>>,
}

/// What small reads that follow one another have asked for and announced.
#[derive(Debug)]
struct Sequential {
    /// Where the last read ended.
    end: u64,
    /// The window the reads keep announced ahead of themselves (0: not sequential).
    window: u64,
    /// The end of what was announced.
    announced_to: u64,
    /// Where the reader guesses its sequential reads will stop
    /// ([`Source::expect_sequential_end`]): no window reaches past it until the reads do.
    expected_end: Option<u64>,
}

#[derive(Debug, Default)]
struct BlockCache {
    blocks: HashMap<u64, (Arc<[u8]>, u64)>,
    bytes: usize,
    clock: u64,
    /// Blocks a fetch has claimed and not yet delivered: a read that needs one waits for it
    /// rather than asking the server a second time.
    in_flight: HashSet<u64>,
}

impl BlockCache {
    fn get(&mut self, block: u64) -> Option<Arc<[u8]>> {
        self.clock += 1;
        let clock = self.clock;
        self.blocks.get_mut(&block).map(|(bytes, used)| {
            *used = clock;
            Arc::clone(bytes)
        })
    }

    fn insert(&mut self, block: u64, bytes: Arc<[u8]>, cap: usize) {
        if bytes.len() > cap {
            return;
        }
        self.clock += 1;
        if let Some((old, _)) = self.blocks.insert(block, (Arc::clone(&bytes), self.clock)) {
            self.bytes -= old.len();
        }
        self.bytes += bytes.len();
        while self.bytes > cap {
            let Some((&oldest, _)) = self.blocks.iter().min_by_key(|(_, (_, used))| *used) else {
                break;
            };
            if let Some((gone, _)) = self.blocks.remove(&oldest) {
                self.bytes -= gone.len();
            }
        }
    }

    /// Claims `block` for a fetch when it is neither cached nor claimed.
    fn claim(&mut self, block: u64) -> bool {
        !self.blocks.contains_key(&block) && self.in_flight.insert(block)
    }
}

/// Blocks claimed by one fetch: released (and waiting readers woken) when dropped, whether
/// the fetch delivered them, failed, or its thread unwound.
struct Claim {
    shared: Arc<Shared>,
    blocks: Vec<u64>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut cache = self.shared.lock_cache();
        for block in &self.blocks {
            cache.in_flight.remove(block);
        }
        drop(cache);
        self.shared.landed.notify_all();
    }
}

/// Runs of adjacent blocks, `[from, to)`, in `blocks` (ascending).
fn runs_of(blocks: &[u64]) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &block in blocks {
        match runs.last_mut() {
            Some(run) if run.1 == block => run.1 = block + 1,
            _ => runs.push((block, block + 1)),
        }
    }
    runs
}

impl RemoteSource {
    /// Opens the object at `url` with one request for its first bytes, which are cached.
    pub fn open(url: &str, options: RemoteOptions) -> Result<Self> {
        Self::open_reading_ends(url, options, false)
    }

    /// Opens the object at `url` as [`open`](Self::open) does, asking for its last 16 KiB at
    /// the same moment as its first bytes: for objects whose readers want both ends (gzip).
    ///
    /// ```no_run
    /// use neurovox::io::{RemoteOptions, RemoteSource, Source};
    /// let source = RemoteSource::open_with_tail("https://example.org/sub-01_bold.nii.gz",
    ///                                           RemoteOptions::default())?;
    /// let mut isize = [0u8; 4];
    /// source.read_at(source.len()? - 4, &mut isize)?; // no further round trip
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn open_with_tail(url: &str, options: RemoteOptions) -> Result<Self> {
        Self::open_reading_ends(url, options, true)
    }

    fn open_reading_ends(url: &str, options: RemoteOptions, with_tail: bool) -> Result<Self> {
        let tail_bytes = if with_tail { TAIL } else { 0 };
        let (object, first, suffix) = RemoteObject::open_with_tail(url, options, tail_bytes)?;
        let size = object.fingerprint().size;
        let tail_start = size.saturating_sub(TAIL);
        let tail: Option<Arc<[u8]>> = if first.len() as u64 == size {
            // The first request brought the whole object.
            Some(first[tail_start as usize..].into())
        } else {
            suffix
                .filter(|(start, _)| *start == tail_start)
                .map(|(_, bytes)| bytes.into())
        };
        let shared = Shared {
            object,
            first_len: first.len() as u64,
            cache: Mutex::new(BlockCache::default()),
            landed: Condvar::new(),
            // A read from the start is taken as sequential: a gzip first pass starts there.
            sequential: Mutex::new(Sequential {
                end: 0,
                window: 0,
                announced_to: 0,
                expected_end: None,
            }),
            tail: Mutex::new(tail),
        };
        let cap = shared.object.options().cache_bytes;
        let mut cache = shared.lock_cache();
        for (i, chunk) in first.chunks(BLOCK as usize).enumerate() {
            let block = i as u64;
            let full = chunk.len() as u64 == BLOCK.min(shared.len_of_block(block));
            if full {
                cache.insert(block, chunk.into(), cap);
            }
        }
        drop(cache);
        Ok(RemoteSource {
            shared: Arc::new(shared),
        })
    }

    /// The object it reads.
    pub fn object(&self) -> &RemoteObject {
        &self.shared.object
    }
}

impl Shared {
    fn lock_cache(&self) -> std::sync::MutexGuard<'_, BlockCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn size(&self) -> u64 {
        self.object.fingerprint().size
    }

    fn cap(&self) -> usize {
        self.object.options().cache_bytes
    }

    /// The length of block `block` (the last is shorter).
    fn len_of_block(&self, block: u64) -> u64 {
        let start = block * BLOCK;
        self.size().saturating_sub(start).min(BLOCK)
    }

    /// The object's bytes from `tail_start` (its last [`TAIL`]) to its end, fetched by the
    /// first read that wants them unless the opening brought them.
    fn tail_bytes(&self, tail_start: u64) -> Result<Arc<[u8]>> {
        let mut tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bytes) = &*tail {
            return Ok(Arc::clone(bytes));
        }
        let mut bytes = vec![0u8; (self.size() - tail_start) as usize];
        self.object.fetch(tail_start, &mut bytes)?;
        let bytes: Arc<[u8]> = bytes.into();
        *tail = Some(Arc::clone(&bytes));
        Ok(bytes)
    }

    /// The range a read of `[offset, end)` announces ahead of itself, if any. Only small
    /// reads that follow one another (a gzip first pass) read ahead: larger reads (gzip
    /// members, plain data) are exact, and may run on several threads at once, where bytes
    /// fetched ahead by one would be fetched again by another (their callers announce what
    /// they will read instead). A window is announced when the reads come within half of one
    /// of the end of what was announced, each window four times the last (from
    /// [`FIRST_READ_AHEAD`]).
    fn read_ahead(&self, offset: u64, end: u64) -> Option<(u64, u64)> {
        let mut seq = self.sequential.lock().unwrap_or_else(|e| e.into_inner());
        let sequential = seq.end == offset && end - offset <= MAX_SEQUENTIAL_READ;
        seq.end = end;
        // Reads within the first request's bytes (a header streamed from them) announce
        // nothing: a header-only load asks for no more.
        if !sequential || end <= self.first_len {
            seq.window = 0;
            return None;
        }
        let ours = (end..=end.saturating_add(MAX_READ_AHEAD)).contains(&seq.announced_to);
        if seq.window > 0 && ours && end + seq.window / 2 <= seq.announced_to {
            return None;
        }
        seq.window = if seq.window == 0 {
            FIRST_READ_AHEAD
        } else {
            (seq.window * 4).min(MAX_READ_AHEAD)
        };
        let from = if ours { seq.announced_to } else { end };
        let mut to = end.saturating_add(seq.window).min(self.size());
        match seq.expected_end {
            Some(expected) if expected > end => to = to.min(expected),
            // The reads went past the guess: windows start small again, so that a guess a
            // little short costs a small window, not the largest.
            Some(_) => {
                seq.expected_end = None;
                seq.window = FIRST_READ_AHEAD;
                to = end.saturating_add(FIRST_READ_AHEAD).min(self.size());
            }
            None => {}
        }
        seq.announced_to = to.max(from);
        (from < to).then_some((from, to))
    }

    /// Fetches the runs of blocks `claim` holds, copying what falls in the read at `offset`
    /// into `buf` and caching whole blocks — all of them for a small read, only those at the
    /// read's edges and beyond for a large one (over a quarter of the cache). Ranges are
    /// clipped to the read at its two ends when the read is at least a block (a block
    /// boundary there would fetch up to a block more than asked).
    fn fetch_claimed(&self, claim: &Claim, offset: u64, buf: &mut [u8]) -> Result<()> {
        let size = self.size();
        let end = offset + buf.len() as u64;
        let (first, last) = (offset / BLOCK, (end - 1) / BLOCK);
        let clip = end - offset >= BLOCK;
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for (from, to) in runs_of(&claim.blocks) {
            let lo = if clip {
                (from * BLOCK).max(offset)
            } else {
                from * BLOCK
            };
            let mut hi = (to * BLOCK).min(size);
            if to == last + 1 && clip {
                hi = end;
            }
            split_requests(lo, hi, MAX_REQUEST, &mut ranges);
        }
        let cap = self.cap();
        let large = buf.len() > cap / 4;
        let fetched = fetch_all(&self.object, &ranges);
        let mut cache = self.lock_cache();
        for result in fetched {
            let (start, bytes) = result?;
            copy_block_bytes(start, &bytes, offset, buf);
            let stop = start + bytes.len() as u64;
            for block in start.div_ceil(BLOCK)..stop.div_ceil(BLOCK) {
                let (b_lo, b_hi) = (block * BLOCK, ((block + 1) * BLOCK).min(size));
                if b_hi > stop {
                    break;
                }
                let keep = !large || block <= first + 1 || block + 1 >= last;
                if keep {
                    let bytes = &bytes[(b_lo - start) as usize..(b_hi - start) as usize];
                    cache.insert(block, bytes.into(), cap);
                }
            }
        }
        Ok(())
    }
}

impl Source for RemoteSource {
    fn len(&self) -> Result<u64> {
        Ok(self.shared.size())
    }

    fn remote_fingerprint(&self) -> Option<crate::io::RemoteFingerprint> {
        Some(self.shared.object.fingerprint().clone())
    }

    fn len_hint(&self) -> Option<u64> {
        Some(self.shared.size())
    }

    /// Copies the blocks the cache holds, fetches those no one is fetching (claiming them,
    /// so that other readers wait for them), and waits for those a prefetch or another read
    /// is fetching — fetching them itself if that fetch gives them up.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let shared = &*self.shared;
        if buf.is_empty() {
            return Ok(());
        }
        let size = shared.size();
        let Some(end) = offset.checked_add(buf.len() as u64).filter(|&e| e <= size) else {
            return Err(crate::io::source::past_end(
                self.path(),
                offset,
                buf.len(),
                size,
            ));
        };
        let tail_start = size.saturating_sub(TAIL);
        if offset >= tail_start && end - offset < BLOCK {
            let bytes = shared.tail_bytes(tail_start)?;
            copy_block_bytes(tail_start, &bytes, offset, buf);
            return Ok(());
        }
        if let Some((from, to)) = shared.read_ahead(offset, end) {
            self.prefetch(from, to);
        }
        let mut waiting: Vec<u64> = ((offset / BLOCK)..=((end - 1) / BLOCK)).collect();
        loop {
            let mut claim = Claim {
                shared: Arc::clone(&self.shared),
                blocks: Vec::new(),
            };
            {
                let mut cache = shared.lock_cache();
                loop {
                    waiting.retain(|&block| {
                        if let Some(bytes) = cache.get(block) {
                            copy_block(block, &bytes, offset, buf);
                            false
                        } else if cache.claim(block) {
                            claim.blocks.push(block);
                            false
                        } else {
                            true
                        }
                    });
                    if waiting.is_empty() || !claim.blocks.is_empty() {
                        break;
                    }
                    cache = shared.landed.wait(cache).unwrap_or_else(|e| e.into_inner());
                }
            }
            if !claim.blocks.is_empty() {
                shared.fetch_claimed(&claim, offset, buf)?;
            }
            drop(claim);
            if waiting.is_empty() {
                return Ok(());
            }
        }
    }

    /// Reads go to the server on threads of their own; rayon's lanes would only add waits.
    fn parallel_reads(&self, _offset: u64, _end: u64) -> bool {
        false
    }

    /// Read-ahead windows stop at `end` until the reads pass it (`Shared::read_ahead`).
    fn expect_sequential_end(&self, end: u64) {
        let mut seq = self
            .shared
            .sequential
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        seq.expected_end = Some(end);
    }

    /// Starts fetching the blocks of `[offset, end)` that are neither cached nor being
    /// fetched, on a thread of its own, in up to 8 requests at once (each of 2 to 8 MiB), and
    /// returns: reads of those blocks wait for them. A range over half the cache is left to
    /// the reads (it would evict itself).
    fn prefetch(&self, offset: u64, end: u64) {
        let shared = &self.shared;
        let end = end.min(shared.size());
        if offset >= end || (end - offset) as usize > shared.cap() / 2 {
            return;
        }
        let blocks: Vec<u64> = {
            let mut cache = shared.lock_cache();
            ((offset / BLOCK)..=((end - 1) / BLOCK))
                .filter(|&block| cache.claim(block))
                .collect()
        };
        if blocks.is_empty() {
            return;
        }
        // Blocks land when their request's whole answer has: smaller requests, all at once,
        // let the reads that wait for the first blocks start sooner.
        let claimed = blocks.len() as u64 * BLOCK;
        let request = (claimed / MAX_CONCURRENT as u64).clamp(MIN_PREFETCH_REQUEST, MAX_REQUEST);
        let mut ranges = Vec::new();
        for (from, to) in runs_of(&blocks) {
            split_requests(
                from * BLOCK,
                (to * BLOCK).min(shared.size()),
                request,
                &mut ranges,
            );
        }
        // Made before the thread, so that a thread the system refuses still releases the
        // blocks (to the reads) when the closure holding it is dropped unrun.
        let claim = Claim {
            shared: Arc::clone(shared),
            blocks,
        };
        let fetch = {
            let shared = Arc::clone(shared);
            move || {
                // A failed fetch is left to the reads, which retry and report it.
                let fetched = fetch_all(&shared.object, &ranges);
                let cap = shared.cap();
                let mut cache = shared.lock_cache();
                for (start, bytes) in fetched.into_iter().flatten() {
                    for (i, chunk) in bytes.chunks(BLOCK as usize).enumerate() {
                        cache.insert(start / BLOCK + i as u64, chunk.into(), cap);
                    }
                }
                drop(cache);
                drop(claim);
            }
        };
        let _ = std::thread::Builder::new()
            .name("neurovox-prefetch".into())
            .spawn(fetch);
    }

    fn path(&self) -> Option<&Path> {
        Some(Path::new(self.shared.object.location().as_str()))
    }
}

/// Appends `[lo, hi)` to `ranges` as requests of at most `most` bytes.
fn split_requests(lo: u64, hi: u64, most: u64, ranges: &mut Vec<(u64, u64)>) {
    let mut at = lo;
    while at < hi {
        let next = (at + most).min(hi);
        ranges.push((at, next));
        at = next;
    }
}

/// Copies the part of block `block` (its bytes `bytes`) that falls in the read at `offset`.
fn copy_block(block: u64, bytes: &[u8], offset: u64, buf: &mut [u8]) {
    copy_block_bytes(block * BLOCK, bytes, offset, buf);
}

/// Copies the part of `bytes` (the object's bytes from `start`) that falls in the read at
/// `offset`.
fn copy_block_bytes(start: u64, bytes: &[u8], offset: u64, buf: &mut [u8]) {
    let lo = start.max(offset);
    let hi = (start + bytes.len() as u64).min(offset + buf.len() as u64);
    if lo < hi {
        buf[(lo - offset) as usize..(hi - offset) as usize]
            .copy_from_slice(&bytes[(lo - start) as usize..(hi - start) as usize]);
    }
}

/// Fetches each byte range `[start, stop)`, at most [`MAX_CONCURRENT`] at once.
fn fetch_all(object: &RemoteObject, ranges: &[(u64, u64)]) -> Vec<Result<(u64, Vec<u8>)>> {
    let fetch = |&(start, stop): &(u64, u64)| -> Result<(u64, Vec<u8>)> {
        let len = usize::try_from(stop - start)
            .map_err(|_| crate::Error::limit("a range request does not fit in memory"))?;
        let mut bytes = vec![0u8; len];
        object.fetch(start, &mut bytes)?;
        Ok((start, bytes))
    };
    if ranges.len() == 1 {
        return ranges.iter().map(fetch).collect();
    }
    let mut results = Vec::with_capacity(ranges.len());
    for group in ranges.chunks(MAX_CONCURRENT) {
        std::thread::scope(|scope| {
            let handles: Vec<_> = group
                .iter()
                .map(|range| scope.spawn(move || fetch(range)))
                .collect();
            for handle in handles {
                results.push(handle.join().unwrap_or_else(|_| {
                    Err(crate::Error::new(
                        crate::ErrorKind::Io,
                        "a thread fetching a range panicked",
                    ))
                }));
            }
        });
    }
    results
}
