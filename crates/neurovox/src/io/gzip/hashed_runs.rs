//! The CRC-32 of a stream read in pieces, in any order: runs of bytes already hashed, merged
//! as the reads between them arrive, until one run covers the whole stream.
//!
//! A gzip file read through an index file has no first pass in this process to check the
//! member's CRC-32 (module [`reader`](super::reader), "Integrity"). A full read hashes what it
//! reads and checks the sum at the end; a large read split between threads (the lanes of
//! `ReadPlan::read_into`) delivers its pieces out of order, so the sum is kept per run of
//! adjacent bytes and runs are joined with CRC-32's combine operation, which needs no bytes
//! again. Bytes are hashed once: where a read overlaps bytes already hashed, only the new
//! ones are added.
//!
//! Why no crate: `crc32fast` gives the hash and its `combine`; what is left is the
//! bookkeeping of a few disjoint ranges.
//!
//! # Example
//!
//! ```
//! use neurovox::io::gzip::hashed_runs::HashedRuns;
//!
//! let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
//! let mut runs = HashedRuns::new(0);
//! runs.add(6_000, &data[6_000..]); // the second half first, as another thread may
//! runs.add(0, &data[..6_000]);
//! assert_eq!(runs.crc_of_whole(10_000), Some(crc32fast::hash(&data)));
//! ```

/// One run: bytes `[start, end)` and their CRC-32 so far.
#[derive(Clone)]
struct Run {
    start: u64,
    end: u64,
    crc: crc32fast::Hasher,
}

/// Disjoint runs of hashed stream bytes, in order (see the [module docs](self)).
#[derive(Clone)]
pub struct HashedRuns {
    runs: Vec<Run>,
    /// A read touching no run starts a new one only when it is at least this long (reads
    /// from the stream's start always do): the small reads of random keys would otherwise
    /// fill the list with runs that never meet.
    min_new_run: usize,
}

/// Runs kept at most; a read that would start one more is not hashed.
pub const MAX_RUNS: usize = 16;

impl HashedRuns {
    /// No bytes hashed yet. Reads touching no run start one when at least `min_new_run`
    /// bytes long, or when they start at byte 0.
    ///
    /// ```
    /// use neurovox::io::gzip::hashed_runs::HashedRuns;
    /// let mut runs = HashedRuns::new(1000);
    /// runs.add(500, &[1u8; 10]); // too short to start a run
    /// assert_eq!(runs.gap_start(600), 0);
    /// ```
    pub fn new(min_new_run: usize) -> Self {
        HashedRuns {
            runs: Vec::new(),
            min_new_run,
        }
    }

    /// Where the unhashed bytes just before `offset` begin: `offset` itself when a run holds
    /// or ends at it, else the end of the last run before it, or the stream's start. A reader
    /// that wants a short gap closed reads `[gap_start, offset)` and adds it.
    ///
    /// ```
    /// use neurovox::io::gzip::hashed_runs::HashedRuns;
    /// let mut runs = HashedRuns::new(0);
    /// runs.add(0, &[0u8; 100]);
    /// assert_eq!(runs.gap_start(400), 100);
    /// assert_eq!(runs.gap_start(50), 50);
    /// ```
    pub fn gap_start(&self, offset: u64) -> u64 {
        if self
            .runs
            .iter()
            .any(|r| r.start <= offset && offset <= r.end)
        {
            return offset;
        }
        self.runs
            .iter()
            .rev()
            .find(|r| r.end <= offset)
            .map_or(0, |r| r.end)
    }

    /// Hashes the bytes of `bytes` (the stream's bytes from `offset`) that no run holds yet,
    /// and joins runs that now meet.
    pub fn add(&mut self, offset: u64, bytes: &[u8]) {
        self.add_hashed(offset, bytes, None);
    }

    /// [`add`](Self::add) with `crc`, when given, the CRC-32 of all of `bytes` (from
    /// [`crc_of`], hashed on every core before a lock was taken): used as it is when none
    /// of the bytes were hashed before, the usual case. Other bytes are hashed on the
    /// calling thread.
    ///
    /// ```
    /// use neurovox::io::gzip::hashed_runs::{HashedRuns, crc_of};
    /// let data = vec![7u8; 5000];
    /// let mut runs = HashedRuns::new(0);
    /// runs.add_hashed(0, &data, Some(crc_of(&data)));
    /// assert_eq!(runs.crc_of_whole(5000), Some(crc32fast::hash(&data)));
    /// ```
    pub fn add_hashed(&mut self, offset: u64, bytes: &[u8], crc: Option<crc32fast::Hasher>) {
        let end = offset + bytes.len() as u64;
        // The holes of [offset, end) between existing runs, each hashed on its own.
        let mut holes = Vec::new();
        let mut at = offset;
        for r in &self.runs {
            if r.end <= at || r.start >= end {
                if r.start >= end {
                    break;
                }
                continue;
            }
            if r.start > at {
                holes.push((at, r.start));
            }
            at = at.max(r.end);
        }
        if at < end {
            holes.push((at, end));
        }
        let whole_read_is_one_hole = holes == [(offset, end)];
        let mut given = crc.filter(|_| whole_read_is_one_hole);
        for (start, stop) in holes {
            let touches = self.runs.iter().any(|r| r.end == start || r.start == stop);
            let long = (stop - start) as usize >= self.min_new_run || start == 0;
            if !touches && (!long || self.runs.len() >= MAX_RUNS) {
                continue;
            }
            // Hashed on this thread: a caller may hold a lock here (see `crc_of`).
            let crc = given.take().unwrap_or_else(|| {
                let mut crc = crc32fast::Hasher::new();
                crc.update(&bytes[(start - offset) as usize..(stop - offset) as usize]);
                crc
            });
            let i = self.runs.partition_point(|r| r.start < start);
            self.runs.insert(
                i,
                Run {
                    start,
                    end: stop,
                    crc,
                },
            );
        }
        self.join_touching();
    }

    /// Merges each run into the one before it when they meet.
    fn join_touching(&mut self) {
        let mut joined: Vec<Run> = Vec::with_capacity(self.runs.len());
        for run in self.runs.drain(..) {
            match joined.last_mut() {
                Some(last) if last.end == run.start => {
                    last.crc.combine(&run.crc);
                    last.end = run.end;
                }
                _ => joined.push(run),
            }
        }
        self.runs = joined;
    }

    /// The CRC-32 of bytes `[0, total)` once one run holds exactly them; `None` before.
    pub fn crc_of_whole(&self, total: u64) -> Option<u32> {
        match self.runs.as_slice() {
            [run] if run.start == 0 && run.end == total => Some(run.crc.clone().finalize()),
            _ => None,
        }
    }
}

/// The CRC-32 of `bytes`, large ones hashed in 1 MiB pieces on rayon's pool and combined.
/// Call it with no lock held: a rayon thread waiting for its pieces may run another task
/// meanwhile, which could want the same lock.
///
/// ```
/// use neurovox::io::gzip::hashed_runs::crc_of;
/// let data = vec![1u8; 10 << 20];
/// assert_eq!(crc_of(&data).finalize(), crc32fast::hash(&data));
/// ```
pub fn crc_of(bytes: &[u8]) -> crc32fast::Hasher {
    const PIECE: usize = 1 << 20;
    let mut crc = crc32fast::Hasher::new();
    if bytes.len() <= 4 * PIECE {
        crc.update(bytes);
        return crc;
    }
    use rayon::prelude::*;
    let parts: Vec<crc32fast::Hasher> = bytes
        .par_chunks(PIECE)
        .map(|chunk| {
            let mut h = crc32fast::Hasher::new();
            h.update(chunk);
            h
        })
        .collect();
    for part in &parts {
        crc.combine(part);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<u8> {
        (0..n as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect()
    }

    #[test]
    fn pieces_in_any_order_and_overlapping_give_the_crc_of_the_whole() {
        let d = data(100_000);
        let want = crc32fast::hash(&d);
        let orders: [&[(usize, usize)]; 4] = [
            &[(0, 100_000)],
            &[(50_000, 100_000), (0, 50_000)],
            &[
                (10_000, 40_000),
                (70_000, 100_000),
                (0, 20_000),
                (30_000, 80_000),
            ],
            &[(0, 10), (10, 60_000), (5, 70_000), (60_000, 100_000)],
        ];
        for pieces in orders {
            let mut runs = HashedRuns::new(1000);
            for (i, &(a, b)) in pieces.iter().enumerate() {
                runs.add(a as u64, &d[a..b]);
                let last = i + 1 == pieces.len();
                assert_eq!(runs.crc_of_whole(100_000).is_some(), last, "{pieces:?}");
            }
            assert_eq!(runs.crc_of_whole(100_000), Some(want), "{pieces:?}");
        }
    }

    #[test]
    fn short_reads_far_from_every_run_are_not_kept() {
        let d = data(10_000);
        let mut runs = HashedRuns::new(1000);
        runs.add(5_000, &d[5_000..5_100]);
        assert!(runs.runs.is_empty());
        runs.add(5_000, &d[5_000..7_000]);
        assert_eq!(runs.runs.len(), 1);
        runs.add(0, &d[..5_000]);
        runs.add(7_000, &d[7_000..]);
        assert_eq!(runs.crc_of_whole(10_000), Some(crc32fast::hash(&d)));
    }

    #[test]
    fn runs_are_capped() {
        let d = data(100_000);
        let mut runs = HashedRuns::new(10);
        for k in 0..40 {
            let a = 1000 + k * 2000;
            runs.add(a as u64, &d[a..a + 100]);
        }
        assert_eq!(runs.runs.len(), MAX_RUNS);
    }

    #[test]
    fn large_pieces_hashed_in_parallel_give_the_same_sum() {
        let d = data(9 << 20);
        let mut runs = HashedRuns::new(0);
        let late = &d[3 << 20..];
        runs.add_hashed(3 << 20, late, Some(crc_of(late)));
        // A hashed sum that does not fit (the read overlaps a run) is not used.
        runs.add_hashed(0, &d[..4 << 20], Some(crc_of(&d[..4 << 20])));
        assert_eq!(runs.crc_of_whole(9 << 20), Some(crc32fast::hash(&d)));
    }

    #[test]
    fn a_wrong_byte_changes_the_sum() {
        let d = data(50_000);
        let mut bad = d.clone();
        bad[31_337] ^= 4;
        let mut runs = HashedRuns::new(0);
        runs.add(25_000, &bad[25_000..]);
        runs.add(0, &bad[..25_000]);
        assert_ne!(runs.crc_of_whole(50_000), Some(crc32fast::hash(&d)));
    }
}
