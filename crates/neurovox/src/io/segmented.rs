//! [`SegmentedSource`]: byte ranges of another source presented as one run of bytes.
//!
//! Some formats store one array in pieces: an ECAT7 file keeps each frame after its own
//! 512-byte subheader, in the order of its matrix list. The array layer reads an array as one
//! run of bytes; this source gives it that run, mapping each offset to its piece of the file.
//! It knows nothing of the format that chose the ranges.

use crate::error::{Error, Result};
use crate::io::file_identity::FileIdentity;
use crate::io::source::Source;
use std::path::Path;
use std::sync::Arc;

/// The ranges `(offset, len)` of `inner`, one after the other, as one source.
///
/// ```
/// use neurovox::io::{MemorySource, SegmentedSource, Source};
/// use std::sync::Arc;
/// let file = Arc::new(MemorySource::new((0u8..20).collect::<Vec<_>>()));
/// let frames = SegmentedSource::new(file, vec![(10, 3), (2, 4)])?;
/// assert_eq!(frames.len()?, 7);
/// let mut buf = [0u8; 5];
/// frames.read_at(1, &mut buf)?;
/// assert_eq!(buf, [11, 12, 2, 3, 4]);
/// assert!(frames.read_at(5, &mut buf).is_err());
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug)]
pub struct SegmentedSource {
    inner: Arc<dyn Source>,
    /// `(start in the joined bytes, offset in inner, len)`, in order.
    pieces: Vec<(u64, u64, u64)>,
    len: u64,
}

impl SegmentedSource {
    /// A source of the bytes of `ranges` of `inner`, in the order given. Ranges may be in any
    /// order and may overlap; a total length past `u64` is a Limit error.
    pub fn new(inner: Arc<dyn Source>, ranges: Vec<(u64, u64)>) -> Result<Self> {
        let mut pieces = Vec::with_capacity(ranges.len());
        let mut start = 0u64;
        for (offset, len) in ranges {
            offset
                .checked_add(len)
                .ok_or_else(|| Error::limit("a byte range runs past 2^64"))?;
            pieces.push((start, offset, len));
            start = start
                .checked_add(len)
                .ok_or_else(|| Error::limit("the byte ranges add up past 2^64"))?;
        }
        Ok(SegmentedSource {
            inner,
            pieces,
            len: start,
        })
    }

    /// The index of the piece holding joined byte `at` (`at` < len).
    fn piece_of(&self, at: u64) -> usize {
        self.pieces
            .partition_point(|&(start, _, _)| start <= at)
            .saturating_sub(1)
    }

    /// The inner source's spans `(from, to)` that joined bytes `[offset, end)` cover, one
    /// per piece, in order.
    fn inner_spans(&self, offset: u64, end: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        let end = end.min(self.len);
        let first = if offset < end {
            self.piece_of(offset)
        } else {
            self.pieces.len()
        };
        self.pieces[first..]
            .iter()
            .take_while(move |&&(start, _, _)| start < end)
            .filter_map(move |&(start, inner_offset, len)| {
                let (lo, hi) = (offset.max(start) - start, (end - start).min(len));
                (lo < hi).then_some((inner_offset + lo, inner_offset + hi))
            })
    }
}

impl Source for SegmentedSource {
    fn len(&self) -> Result<u64> {
        Ok(self.len)
    }

    fn len_hint(&self) -> Option<u64> {
        Some(self.len)
    }

    fn may_hold(&self, end: u64) -> bool {
        end <= self.len
            && self
                .pieces
                .iter()
                .all(|&(_, offset, len)| self.inner.may_hold(offset + len))
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&end| end <= self.len)
            .ok_or_else(|| crate::io::source::past_end(self.path(), offset, buf.len(), self.len))?;
        let mut at = offset;
        let mut filled = 0usize;
        let mut piece = self.piece_of(at);
        while at < end {
            let (start, inner_offset, len) = self.pieces[piece];
            let within = at - start;
            let take = (len - within).min(end - at) as usize;
            self.inner
                .read_at(inner_offset + within, &mut buf[filled..filled + take])?;
            filled += take;
            at += take as u64;
            piece += 1;
        }
        Ok(())
    }

    fn borrow_at(&self, offset: u64, len: usize) -> Option<&[u8]> {
        // Borrowed only from within one piece.
        let (start, inner_offset, piece_len) = *self.pieces.get(self.piece_of(offset))?;
        let within = offset.checked_sub(start)?;
        if within + len as u64 > piece_len {
            return None;
        }
        self.inner.borrow_at(inner_offset + within, len)
    }

    /// Releases in the inner source the part of each piece that the span covers.
    fn release(&self, offset: u64, len: usize) {
        for (from, to) in self.inner_spans(offset, offset.saturating_add(len as u64)) {
            self.inner
                .release(from, usize::try_from(to - from).unwrap_or(usize::MAX));
        }
    }

    /// Announces to the inner source the part of each piece that `[offset, end)` covers.
    fn prefetch(&self, offset: u64, end: u64) {
        for (from, to) in self.inner_spans(offset, end) {
            self.inner.prefetch(from, to);
        }
    }

    fn inflated_bytes(&self) -> u64 {
        self.inner.inflated_bytes()
    }

    fn path(&self) -> Option<&Path> {
        self.inner.path()
    }

    fn identity(&self) -> Option<FileIdentity> {
        self.inner.identity()
    }

    fn remote_fingerprint(&self) -> Option<crate::io::RemoteFingerprint> {
        self.inner.remote_fingerprint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemorySource;

    /// Memory that notes the ranges announced to it.
    #[derive(Debug, Default)]
    struct Announced(std::sync::Mutex<Vec<(u64, u64)>>);

    impl Source for Announced {
        fn len(&self) -> Result<u64> {
            Ok(100)
        }
        fn read_at(&self, _offset: u64, _buf: &mut [u8]) -> Result<()> {
            Ok(())
        }
        fn prefetch(&self, offset: u64, end: u64) {
            self.0.lock().unwrap().push((offset, end));
        }
    }

    #[test]
    fn a_prefetch_is_announced_piece_by_piece_in_the_inner_source() {
        let inner = Arc::new(Announced::default());
        let s =
            SegmentedSource::new(inner.clone(), vec![(90, 5), (0, 0), (10, 2), (50, 10)]).unwrap();
        // Joined bytes 3..14: the last 2 of the first piece, the second whole, 7 of the third.
        s.prefetch(3, 14);
        s.prefetch(16, 40); // clipped to the end: the last byte
        s.prefetch(17, 20); // nothing left
        assert_eq!(
            *inner.0.lock().unwrap(),
            vec![(93, 95), (10, 12), (50, 57), (59, 60)]
        );
    }

    #[test]
    fn reads_cross_pieces_and_empty_pieces_and_stop_at_the_end() {
        let file: Arc<dyn Source> = Arc::new(MemorySource::new((0u8..100).collect::<Vec<_>>()));
        let s = SegmentedSource::new(file, vec![(90, 5), (0, 0), (10, 2), (50, 10)]).unwrap();
        assert_eq!(s.len().unwrap(), 17);
        let mut all = [0u8; 17];
        s.read_at(0, &mut all).unwrap();
        assert_eq!(
            all,
            [
                90, 91, 92, 93, 94, 10, 11, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59
            ]
        );
        for start in 0..17 {
            for n in 0..=17 - start {
                let mut part = vec![0u8; n];
                s.read_at(start as u64, &mut part).unwrap();
                assert_eq!(part, all[start..start + n], "{start}+{n}");
            }
        }
        assert!(s.read_at(16, &mut [0u8; 2]).is_err());
        assert_eq!(s.borrow_at(7, 3), Some(&[50u8, 51, 52][..]));
        assert_eq!(s.borrow_at(4, 2), None);
        assert!(s.may_hold(17) && !s.may_hold(18));
    }

    #[test]
    fn pieces_past_the_inner_end_fail_when_read() {
        let file: Arc<dyn Source> = Arc::new(MemorySource::new(vec![0u8; 10]));
        let s = SegmentedSource::new(file, vec![(0, 4), (8, 4)]).unwrap();
        assert!(!s.may_hold(8));
        assert!(s.read_at(0, &mut [0u8; 4]).is_ok());
        assert!(s.read_at(4, &mut [0u8; 4]).is_err());
        assert!(
            SegmentedSource::new(Arc::new(MemorySource::new(vec![])), vec![(u64::MAX, 2)]).is_err()
        );
    }
}
