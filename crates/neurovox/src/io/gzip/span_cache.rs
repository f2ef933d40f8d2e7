//! A small least-recently-used cache of decompressed spans, shared by the threads reading
//! one compressed source.
//!
//! A key such as `dataobj[38, 62, ...]` on a 4-D `.nii.gz` is thousands of tiny segments, one
//! per slice of every volume. Served one by one, each segment inflates again from the
//! checkpoint before it, so a key costs about one checkpoint span per segment (issue 13: ten
//! times nibabel's time). Keeping the last few spans whole makes every segment after the
//! first in a span a copy: a key then inflates each span it touches once, and the next key
//! over the same spans inflates nothing.
//!
//! Entries are whole spans between two checkpoints (or whole gzip members), shared as
//! `Arc<Vec<u8>>` so a reader copies out of one while another thread replaces it; the lock is
//! held only to look up, insert and evict, never while inflating. Two threads that miss the
//! same span at once both inflate it and the second insert wins: rare, and cheaper than
//! making one wait on the other's lock.
//!
//! Why no crate: the cache holds at most a few dozen entries bounded by bytes, not by count
//! (`lru` and `schnellru` count entries; `quick_cache` weighs them but brings sharding and
//! its own eviction policy for millions of keys). A scan of a `VecDeque` is the whole
//! algorithm here.
//!
//! # Example
//!
//! ```
//! use neurovox::io::gzip::span_cache::SpanCache;
//! use std::sync::Arc;
//!
//! let cache = SpanCache::new(8 << 20);
//! cache.insert(1 << 20, Arc::new(vec![7u8; 1 << 20]));
//! let span = cache.get(1 << 20, 1_500_000).expect("inside the cached span");
//! assert_eq!(span.start, 1 << 20);
//! assert_eq!(span.bytes[500_000 - 1], 7);
//! assert!(cache.get(0, 10).is_none());
//! ```

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// One cached span: the decompressed bytes from `start` on.
#[derive(Debug, Clone)]
pub struct CachedSpan {
    /// Decompressed offset of `bytes[0]`.
    pub start: u64,
    /// The span's bytes.
    pub bytes: Arc<Vec<u8>>,
}

impl CachedSpan {
    /// The decompressed offset just past the span.
    pub fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }
}

/// Spans keyed by their start, evicted least recently used first once their bytes exceed
/// the capacity.
#[derive(Debug)]
pub struct SpanCache {
    capacity: usize,
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// Most recently used last.
    spans: VecDeque<CachedSpan>,
    bytes: usize,
}

impl SpanCache {
    /// An empty cache holding at most `capacity` bytes of spans.
    pub fn new(capacity: usize) -> Self {
        SpanCache {
            capacity,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// The most bytes the cache holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes held now.
    pub fn held_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// The span starting at `start` if it reaches at least to `end`; marks it used.
    pub fn get(&self, start: u64, end: u64) -> Option<CachedSpan> {
        let mut entries = self.lock();
        let i = entries
            .spans
            .iter()
            .position(|s| s.start == start && s.end() >= end)?;
        let span = entries.spans.remove(i)?;
        entries.spans.push_back(span.clone());
        Some(span)
    }

    /// Keeps `bytes` as the span at `start` (replacing a shorter one there), evicting the
    /// least recently used spans beyond the capacity. A span larger than the whole capacity
    /// is not kept.
    pub fn insert(&self, start: u64, bytes: Arc<Vec<u8>>) {
        if bytes.len() > self.capacity {
            return;
        }
        let mut entries = self.lock();
        if let Some(i) = entries.spans.iter().position(|s| s.start == start)
            && let Some(old) = entries.spans.remove(i)
        {
            entries.bytes -= old.bytes.len();
        }
        entries.bytes += bytes.len();
        entries.spans.push_back(CachedSpan { start, bytes });
        while entries.bytes > self.capacity {
            match entries.spans.pop_front() {
                Some(old) => entries.bytes -= old.bytes.len(),
                None => break,
            }
        }
    }

    /// Drops every span.
    pub fn clear(&self) {
        let mut entries = self.lock();
        entries.spans.clear();
        entries.bytes = 0;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The entries are consistent between statements: a panic elsewhere cannot leave
        // them half-updated, so a poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(n: usize, v: u8) -> Arc<Vec<u8>> {
        Arc::new(vec![v; n])
    }

    #[test]
    fn least_recently_used_spans_go_first_and_bytes_stay_bounded() {
        let cache = SpanCache::new(300);
        cache.insert(0, span(100, 0));
        cache.insert(100, span(100, 1));
        cache.insert(200, span(100, 2));
        assert!(cache.get(0, 50).is_some()); // 0 is now the most recent
        cache.insert(300, span(100, 3)); // evicts 100
        assert!(cache.get(100, 150).is_none());
        assert_eq!(cache.get(0, 100).map(|s| s.bytes[0]), Some(0));
        assert_eq!(cache.get(300, 400).map(|s| s.bytes[0]), Some(3));
        assert_eq!(cache.held_bytes(), 300);
    }

    #[test]
    fn a_shorter_span_is_replaced_and_never_serves_past_its_end() {
        let cache = SpanCache::new(1000);
        cache.insert(0, span(100, 1));
        assert!(cache.get(0, 150).is_none());
        cache.insert(0, span(200, 2));
        assert_eq!(cache.get(0, 150).map(|s| s.bytes[0]), Some(2));
        assert_eq!(cache.held_bytes(), 200);
    }

    #[test]
    fn spans_larger_than_the_cache_are_not_kept() {
        let cache = SpanCache::new(100);
        cache.insert(0, span(101, 1));
        assert_eq!(cache.held_bytes(), 0);
        cache.clear();
        assert!(cache.get(0, 1).is_none());
    }
}
