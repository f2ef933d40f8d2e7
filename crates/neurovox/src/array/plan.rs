//! The read planner: from a [`Selection`] to the byte segments of a file, read straight into the
//! caller's buffer.
//!
//! This is nibabel's `fileslice` (`calc_slicedefs`, `optimize_read_slicers`, `optimize_slicer`,
//! `threshold_heuristic`, `slicers2segments`), working on [`Canonical`] selections.
//!
//! # The rules
//!
//! An array of `shape`, `itemsize` bytes per element, starts at byte `offset` of a file, in F
//! (first index fastest) or C order. C order is handled as F order with the axes reversed. The
//! planner walks the axes **fastest first**, keeping the byte `stride` of the current axis
//! (`itemsize`, then times each axis length) and whether every faster axis is read whole
//! (`all_full`). For each axis it decides what to read and what to slice out of what was read:
//!
//! * A slice that is the whole axis is read whole; the whole axis reversed (`::-1`) is read
//!   whole and reversed in memory.
//! * Otherwise, while every faster axis is read whole, a heuristic may read more than needed,
//!   trading a larger read for fewer segments. It says `Full` (read the whole axis), `Contiguous`
//!   (read from the first to the last selected element with step 1) or `Skip` (read only what is
//!   needed). The default heuristic ([`SKIP_THRESHOLD`], 256 bytes, from nibabel's benchmarks):
//!   * an index: `Full` if the bytes skipped, `(dim - 1) * stride`, are at most 256, else `Skip`;
//!   * a slice: `Skip` if one step, `|step| * stride`, is over 256 bytes; else `Full` if the bytes
//!     outside the selected span, `(dim - span) * stride`, are at most 256, else `Contiguous`.
//! * The **slowest** axis is never upgraded to a full read (an index stays an index, a slice
//!   becomes `Contiguous` at most): reading the rest of the file would add bytes without saving
//!   a segment.
//! * Without an upgrade an index selects one position and drops the axis; a slice is read in
//!   ascending order with its step, and reversed in memory if its step was negative.
//!
//! The reads then become segments `(file offset, length)`: while every faster axis is whole, a
//! whole or step-1 axis only moves the start and multiplies the length of the single segment; an
//! index moves every segment; any other axis repeats every segment once per selected position.
//! Segments that touch (the end of one is the start of the next) are merged.
//!
//! If the reads are exactly the selection, the segments are read straight into their places in
//! the caller's buffer. Otherwise they fill one scratch buffer of the *read shape*, and the
//! *post-slicing* (a canonical selection on the read shape, including negative steps) copies the
//! selected elements into the caller's buffer. Both buffers are in the layout's order.
//!
//! # Deliberate differences from nibabel
//!
//! * A `Contiguous` read spans exactly from the first to the last selected element; nibabel
//!   reads up to the slice's stop, up to `step - 1` elements more (`0:10:2` on an axis of 10:
//!   nibabel reads 10 elements, neurovox 9). The heuristic measures the same tight span, so
//!   now and then it keeps a gap that nibabel's longer span hid. Against nibabel 5.4.2's
//!   `calc_slicedefs` on 20,000 random keys that nibabel answers correctly: 19,534 plans were
//!   identical, 15 identical after merging, 450 read fewer bytes in no more segments, and 1
//!   read fewer bytes in more segments.
//! * Touching segments are merged into one read.
//! * A selection of zero elements reads nothing and gives an empty result of the right shape
//!   (nibabel's `array_from_file` gives shape `(0,)` for empty arrays).
//! * nibabel's post-slicing of `:-n-1:-1`-style slices (a negative step with a stop below
//!   `-dim`) on a non-slowest axis selects nothing; here it selects the whole reversed axis, as
//!   numpy does (nibabel 5.4.2: `fileslice` of `(slice(None, -11, -1), 0)` on a (10, 6) F-order
//!   array returns shape `(0,)` instead of `(10,)`).
//!
//! # Why no crate
//!
//! ndarray's slicing (`s![]`, `SliceInfo`) works on arrays already in memory; it cannot say which
//! bytes of a file hold a slice, nor trade extra bytes for fewer reads. HDF5 hyperslabs and zarrs
//! array subsets describe chunked storage formats and have neither negative steps nor new axes.
//! nibabel's rules are a few hundred lines, so they live here, and ndarray takes over once the
//! bytes are in memory.
//!
//! ```
//! use neurovox::io::MemorySource;
//! use neurovox::Order;
//! use neurovox::array::{read_selection_into, DataLayout};
//! use neurovox::sel;
//!
//! // A 4×3 uint8 array in F order: element (i, j) holds 10 * i + j.
//! let bytes: Vec<u8> = (0..3).flat_map(|j| (0..4).map(move |i| 10 * i + j)).collect();
//! let source = MemorySource::new(bytes);
//! let layout = DataLayout::new(vec![4, 3], 1, 0, Order::F);
//! let mut out = [0u8; 4];
//! let shape = read_selection_into(&source, &layout, &sel![..;-1, 2], &mut out)?;
//! assert_eq!((shape, out), (vec![4], [32, 22, 12, 2]));
//! # Ok::<(), neurovox::Error>(())
//! ```

use crate::array::selection::{Canonical, Selection, output_shape_of};
use crate::dtype::Order;
use crate::error::{Error, Result};
use crate::io::Source;

/// Where and how an array's elements lie in a file.
///
/// ```
/// use neurovox::Order;
/// use neurovox::array::DataLayout;
///
/// let layout = DataLayout::new(vec![64, 64, 30], 2, 352, Order::F);
/// assert_eq!(layout.n_bytes()?, 245_760);
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DataLayout {
    /// The array's shape.
    pub shape: Vec<usize>,
    /// Bytes per element (at least 1).
    pub itemsize: usize,
    /// Byte offset of the first element in the source.
    pub offset: u64,
    /// Storage order: F (first index fastest, NIfTI's) or C.
    pub order: Order,
}

impl DataLayout {
    /// A layout from its parts.
    ///
    /// ```
    /// use neurovox::Order;
    /// use neurovox::array::DataLayout;
    /// let layout = DataLayout::new(vec![2, 3], 4, 0, Order::C);
    /// assert_eq!(layout.itemsize, 4);
    /// ```
    pub fn new(shape: Vec<usize>, itemsize: usize, offset: u64, order: Order) -> Self {
        DataLayout {
            shape,
            itemsize,
            offset,
            order,
        }
    }

    /// The array's size in bytes. Errors: itemsize 0 (Usage); a size, or an end offset, that
    /// does not fit in 64 bits or in memory (Limit).
    ///
    /// ```
    /// use neurovox::Order;
    /// use neurovox::array::DataLayout;
    /// assert_eq!(DataLayout::new(vec![10, 6], 4, 7, Order::F).n_bytes()?, 240);
    /// assert!(DataLayout::new(vec![usize::MAX, 2], 1, 0, Order::F).n_bytes().is_err());
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn n_bytes(&self) -> Result<u64> {
        if self.itemsize == 0 {
            return Err(Error::usage("itemsize must be at least 1"));
        }
        let too_big = || {
            Error::limit(format!(
                "an array of shape {:?} with {}-byte elements at offset {} is too large to address",
                self.shape, self.itemsize, self.offset
            ))
        };
        let n = crate::dtype::checked_nbytes(&self.shape, self.itemsize).ok_or_else(too_big)?;
        if self.offset.checked_add(n).is_none() || usize::try_from(n).is_err() {
            return Err(too_big());
        }
        Ok(n)
    }

    /// Axis numbers, fastest-varying first.
    fn fastest_first(&self) -> Vec<usize> {
        let n = self.shape.len();
        match self.order {
            Order::F => (0..n).collect(),
            Order::C => (0..n).rev().collect(),
        }
    }
}

/// nibabel's `SKIP_THRESH`: a gap of at most this many bytes is read and discarded rather than
/// skipped.
///
/// ```
/// assert_eq!(neurovox::internals::SKIP_THRESHOLD, 256);
/// ```
pub const SKIP_THRESHOLD: usize = 256;

/// How to read an array selection: the byte segments, the shape they fill, and the slicing left
/// to do in memory.
///
/// ```
/// use neurovox::Order;
/// use neurovox::array::{plan_read, DataLayout};
/// use neurovox::sel;
///
/// // nibabel's worked example: a 64×64×30 int16 volume at byte 352, one axial slice.
/// let layout = DataLayout::new(vec![64, 64, 30], 2, 352, Order::F);
/// let plan = plan_read(&layout, &sel![.., .., 10].canonicalize(&layout.shape)?)?;
/// assert_eq!(plan.segments(), &[(82_272, 8192)]);
/// assert_eq!(plan.output_shape(), &[64, 64]);
/// assert!(plan.post_slicing().is_none());
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlan {
    segments: Vec<(u64, usize)>,
    read_shape: Vec<usize>,
    post: Option<Vec<Canonical>>,
    output_shape: Vec<usize>,
    itemsize: usize,
    order: Order,
}

impl ReadPlan {
    /// The reads, `(file offset, length in bytes)`, in the order they fill the read buffer.
    ///
    /// ```
    /// use neurovox::Order;
    /// use neurovox::array::{plan_read, DataLayout};
    /// use neurovox::sel;
    /// let layout = DataLayout::new(vec![10, 6], 4, 7, Order::F);
    /// let plan = plan_read(&layout, &sel![1, 1..5].canonicalize(&layout.shape)?)?;
    /// assert_eq!(plan.segments(), &[(47, 160)]);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn segments(&self) -> &[(u64, usize)] {
        &self.segments
    }

    /// Total bytes read (the sum of the segment lengths; the read shape's size).
    ///
    /// ```
    /// use neurovox::Order;
    /// use neurovox::array::{plan_read, DataLayout};
    /// use neurovox::sel;
    /// let layout = DataLayout::new(vec![10, 6], 4, 7, Order::F);
    /// let plan = plan_read(&layout, &sel![1, 1..5].canonicalize(&layout.shape)?)?;
    /// assert_eq!(plan.bytes_to_read(), 160); // 40 of them are used
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn bytes_to_read(&self) -> u64 {
        self.segments.iter().map(|&(_, len)| len as u64).sum()
    }

    /// The shape of the result.
    ///
    /// ```
    /// use neurovox::Order;
    /// use neurovox::array::{plan_read, DataLayout};
    /// use neurovox::sel;
    /// let layout = DataLayout::new(vec![10, 6], 4, 7, Order::F);
    /// let plan = plan_read(&layout, &sel![NewAxis, 1, 1..5].canonicalize(&layout.shape)?)?;
    /// assert_eq!(plan.output_shape(), &[1, 4]);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    /// The size of the result in bytes.
    ///
    /// ```
    /// use neurovox::Order;
    /// use neurovox::array::{plan_read, DataLayout};
    /// use neurovox::sel;
    /// let layout = DataLayout::new(vec![10, 6], 4, 7, Order::F);
    /// let plan = plan_read(&layout, &sel![1, 1..5].canonicalize(&layout.shape)?)?;
    /// assert_eq!(plan.output_bytes(), 16);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn output_bytes(&self) -> usize {
        self.output_shape.iter().product::<usize>() * self.itemsize
    }

    /// The shape of what the segments read, in the selection's axis order (1 for each
    /// `NewAxis`, nothing for an axis read at one index).
    ///
    /// ```
    /// use neurovox::Order;
    /// use neurovox::array::{plan_read, DataLayout};
    /// use neurovox::sel;
    /// let layout = DataLayout::new(vec![10, 6], 4, 7, Order::F);
    /// let plan = plan_read(&layout, &sel![1, 1..5].canonicalize(&layout.shape)?)?;
    /// assert_eq!(plan.read_shape(), &[10, 4]);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn read_shape(&self) -> &[usize] {
        &self.read_shape
    }

    /// The slicing applied in memory to the array of [`read_shape`](Self::read_shape), one item
    /// per read axis; `None` when the read is already the result.
    ///
    /// ```
    /// use neurovox::Order;
    /// use neurovox::array::{plan_read, DataLayout};
    /// use neurovox::sel;
    /// use neurovox::array::Canonical;
    /// let layout = DataLayout::new(vec![10, 6], 4, 7, Order::F);
    /// let plan = plan_read(&layout, &sel![1, 1..5].canonicalize(&layout.shape)?)?;
    /// assert_eq!(plan.post_slicing(), Some(&[Canonical::Index(1), Canonical::full(4)][..]));
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn post_slicing(&self) -> Option<&[Canonical]> {
        self.post.as_deref()
    }

    /// Executes the plan: fills `out` (exactly [`output_bytes`](Self::output_bytes) long, else a
    /// Usage error) with the selected elements, in the layout's order. Raw bytes: no byte
    /// swapping, no scaling.
    ///
    /// ```
    /// use neurovox::io::MemorySource;
    /// use neurovox::Order;
    /// use neurovox::array::{plan_read, DataLayout};
    /// use neurovox::sel;
    /// let layout = DataLayout::new(vec![2, 3], 1, 0, Order::C);
    /// let plan = plan_read(&layout, &sel![.., ..;-2].canonicalize(&layout.shape)?)?;
    /// let mut out = [0u8; 4];
    /// plan.read_into(&MemorySource::new(vec![0, 1, 2, 3, 4, 5]), &mut out)?;
    /// assert_eq!(out, [2, 0, 5, 3]);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    ///
    /// A plan with post-slicing reads its span in pieces of at most about [`PIECE_BYTES`]
    /// (whole blocks along the slowest axis of the read), skipping blocks the selection does
    /// not touch there, so the scratch memory stays flat however large the span is.
    pub fn read_into(&self, source: &dyn Source, out: &mut [u8]) -> Result<()> {
        check_out_len(out.len(), self.output_bytes())?;
        match &self.post {
            None => read_segments(source, &self.segments, out),
            Some(post) => self.read_post_sliced(source, post, out),
        }
    }

    /// The room before its output with which [`read_into_with_room`](Self::read_into_with_room)
    /// fills the output faster ([`Source::room_for_read`]): for a plan that is one contiguous
    /// read (a whole image, say) of a source that asks for room; 0 otherwise.
    ///
    /// ```
    /// use neurovox::io::MemorySource;
    /// use neurovox::Order;
    /// use neurovox::array::{plan_read, DataLayout};
    /// use neurovox::array::Selection;
    /// let layout = DataLayout::new(vec![4], 1, 2, Order::F);
    /// let plan = plan_read(&layout, &Selection::all().canonicalize(&layout.shape)?)?;
    /// assert_eq!(plan.room_for_read(&MemorySource::new(vec![0u8; 6])), 0); // memory needs none
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn room_for_read(&self, source: &dyn Source) -> usize {
        match (&self.post, self.segments.as_slice()) {
            (None, &[(offset, len)]) => source.room_for_read(offset, offset + len as u64),
            _ => 0,
        }
    }

    /// [`read_into`](Self::read_into) with `room` bytes of scratch before the output: fills
    /// `buf[room..]` (exactly [`output_bytes`](Self::output_bytes) long) and may overwrite
    /// `buf[..room]`. `room` is what [`room_for_read`](Self::room_for_read) answered (or 0).
    ///
    /// ```
    /// use neurovox::io::MemorySource;
    /// use neurovox::Order;
    /// use neurovox::array::{plan_read, DataLayout};
    /// use neurovox::array::Selection;
    /// let layout = DataLayout::new(vec![3], 1, 2, Order::F);
    /// let plan = plan_read(&layout, &Selection::all().canonicalize(&layout.shape)?)?;
    /// let mut buf = [0u8; 5];
    /// plan.read_into_with_room(&MemorySource::new(vec![9, 9, 1, 2, 3]), &mut buf, 2)?;
    /// assert_eq!(buf[2..], [1, 2, 3]);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn read_into_with_room(
        &self,
        source: &dyn Source,
        buf: &mut [u8],
        room: usize,
    ) -> Result<()> {
        let out_len = buf
            .len()
            .checked_sub(room)
            .ok_or_else(|| Error::usage("the room before a read is longer than its buffer"))?;
        check_out_len(out_len, self.output_bytes())?;
        match (&self.post, self.segments.as_slice()) {
            (None, &[(offset, _)]) if room > 0 => source.read_at_with_room(offset, buf, room),
            _ => self.read_into(source, &mut buf[room..]),
        }
    }

    /// [`read_into`](Self::read_into) for a plan with post-slicing: the read array is cut
    /// into blocks along its slowest axis (the last for F order, the first for C); each
    /// block the selection wants is read (runs of adjacent blocks together, up to
    /// [`PIECE_BYTES`]) and sliced into its part of `out`, which the blocks fill in order.
    fn read_post_sliced(
        &self,
        source: &dyn Source,
        post: &[Canonical],
        out: &mut [u8],
    ) -> Result<()> {
        let Some(slow) = (match self.order {
            Order::F => self.read_shape.len().checked_sub(1),
            Order::C => (!self.read_shape.is_empty()).then_some(0),
        }) else {
            // A 0-d read: one element at most.
            let mut scratch = zeroed(self.itemsize)?;
            read_segments(source, &self.segments, &mut scratch)?;
            return copy_selected(&scratch, &[], self.order, self.itemsize, post, out);
        };
        let block_bytes = self
            .read_shape
            .iter()
            .enumerate()
            .filter(|&(axis, _)| axis != slow)
            .map(|(_, &n)| n)
            .product::<usize>()
            * self.itemsize;
        let blocks: Vec<usize> = match post[slow] {
            Canonical::Index(i) => vec![i],
            Canonical::NewAxis => vec![0],
            Canonical::Slice { start, step, len } => (0..len)
                .map(|k| (start as isize + k as isize * step) as usize)
                .collect(),
        };
        if blocks.is_empty() || out.is_empty() {
            return Ok(());
        }
        let out_block = out.len() / blocks.len();
        let group_max = (PIECE_BYTES / block_bytes.max(1)).clamp(1, blocks.len());
        // Runs of adjacent blocks, each read at once: (first block's index in `blocks`, count).
        let mut groups = Vec::new();
        let mut k = 0;
        while k < blocks.len() {
            let mut run = 1;
            while k + run < blocks.len() && run < group_max && blocks[k + run] == blocks[k] + run {
                run += 1;
            }
            groups.push((k, run));
            k += run;
        }
        let lane = |groups: &[(usize, usize)], out: &mut [u8]| -> Result<()> {
            let mut scratch = zeroed(group_max * block_bytes)?;
            let mut cursor = SegmentCursor::new(&self.segments);
            let mut items = post.to_vec();
            let mut shape = self.read_shape.clone();
            let first = groups.first().map_or(0, |&(k, _)| k);
            for &(k, run) in groups {
                let bytes = &mut scratch[..run * block_bytes];
                cursor.seek(blocks[k] * block_bytes)?;
                cursor.read(source, bytes)?;
                shape[slow] = run;
                items[slow] = match post[slow] {
                    Canonical::Index(_) => Canonical::Index(0),
                    Canonical::NewAxis => Canonical::NewAxis,
                    Canonical::Slice { .. } => Canonical::full(run),
                };
                let dst = out
                    .get_mut((k - first) * out_block..(k - first + run) * out_block)
                    .ok_or_else(|| Error::usage("the read blocks overrun the output buffer"))?;
                copy_selected(bytes, &shape, self.order, self.itemsize, &items, dst)?;
            }
            Ok(())
        };
        let lanes = self.lanes_for(source, groups.len());
        if lanes <= 1 {
            return lane(&groups, out);
        }
        // Contiguous shares of the groups, one per thread: each thread's reads follow one
        // another through its part of the file, as one thread's would through all of it.
        let per_lane = groups.len().div_ceil(lanes);
        let mut shares = Vec::with_capacity(lanes);
        let mut rest = out;
        for share in groups.chunks(per_lane) {
            let blocks_in_share: usize = share.iter().map(|&(_, run)| run).sum();
            let (part, tail) = std::mem::take(&mut rest).split_at_mut(blocks_in_share * out_block);
            shares.push((share, part));
            rest = tail;
        }
        use rayon::prelude::*;
        shares
            .into_par_iter()
            .try_for_each(|(share, part)| lane(share, part))
    }

    /// How many threads a read of `groups` runs of blocks takes: one per thread of rayon's
    /// pool, at most one per run, when the source serves reads from several threads at once
    /// without redoing work ([`Source::parallel_reads`]); else one.
    fn lanes_for(&self, source: &dyn Source, groups: usize) -> usize {
        let span = self
            .segments
            .first()
            .zip(self.segments.last())
            .map(|(&(start, _), &(last, len))| (start, last + len as u64));
        match span {
            Some((start, end)) if groups > 1 && source.parallel_reads(start, end) => {
                rayon::current_num_threads().min(groups)
            }
            _ => 1,
        }
    }

    /// Streams the result's bytes, in order, to `consume(first_byte, bytes)` in pieces of
    /// about `piece` bytes (a whole number of elements; the last piece may be shorter). The
    /// next piece is read while `consume` works on the current one (rayon's `join`), so a
    /// conversion overlaps the read — an inflate, or a copy out of the page cache — and
    /// memory stays at two pieces. Plans with post-slicing are a Usage error: only without
    /// it are the segments, in order, the result.
    ///
    /// ```
    /// use neurovox::io::MemorySource;
    /// use neurovox::Order;
    /// use neurovox::array::{plan_read, DataLayout};
    /// use neurovox::sel;
    /// let layout = DataLayout::new(vec![4, 3], 2, 0, Order::F);
    /// let plan = plan_read(&layout, &sel![.., 1..].canonicalize(&layout.shape)?)?;
    /// let source = MemorySource::new((0u8..24).collect::<Vec<u8>>());
    /// let mut seen = Vec::new();
    /// plan.stream_pieces(&source, 6, |at, bytes| {
    ///     seen.push((at, bytes.to_vec()));
    ///     Ok(())
    /// })?;
    /// assert_eq!(seen[0], (0, vec![8, 9, 10, 11, 12, 13]));
    /// assert_eq!(seen.len(), 3);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn stream_pieces(
        &self,
        source: &dyn Source,
        piece: usize,
        mut consume: impl FnMut(usize, &[u8]) -> Result<()> + Send,
    ) -> Result<()> {
        if self.post.is_some() {
            return Err(Error::usage(
                "stream_pieces needs a plan without post-slicing",
            ));
        }
        let total = self.output_bytes();
        if total == 0 {
            return Ok(());
        }
        let piece = (piece / self.itemsize).max(1) * self.itemsize;
        let mut current = zeroed(piece.min(total))?;
        // A read of one piece never needs the second buffer.
        let mut next = zeroed(if total > piece { piece } else { 0 })?;
        let mut cursor = SegmentCursor::new(&self.segments);
        cursor.read(source, &mut current[..piece.min(total)])?;
        let mut start = 0;
        while start < total {
            let len = piece.min(total - start);
            let next_len = piece.min(total - start - len);
            let (read, used) = rayon::join(
                || cursor.read(source, &mut next[..next_len]),
                || consume(start, &current[..len]),
            );
            used?;
            read?;
            std::mem::swap(&mut current, &mut next);
            start += len;
        }
        Ok(())
    }

    /// Reads the result into the back of `out`'s own memory and converts it in place, front
    /// to back, when `out`'s elements are wider than the stored ones with room to spare:
    /// `convert(bytes, values)` as in [`stream_into`](Self::stream_into), each call on a
    /// batch whose stored bytes lie wholly after the values it writes. `room` is what
    /// [`room_for_read`](Self::room_for_read) answered (the read fills `room` scratch bytes
    /// before the stored bytes too). `Ok(false)`, with nothing read, when `out` has no room
    /// for both, or the plan has post-slicing.
    ///
    /// A whole `.nii.gz` read this way inflates on every core into its one buffer (module
    /// `io::gzip::parallel_inflate`), where a streamed read inflates on one core and
    /// converts on the other. The batches shrink geometrically (each writes up to where the
    /// stored bytes of the next begin), so a few parallel conversions cover the array; the
    /// last few KiB of stored bytes are copied out and converted from the copy.
    ///
    /// ```
    /// use neurovox::io::MemorySource;
    /// use neurovox::Order;
    /// use neurovox::array::{plan_read, DataLayout, Selection};
    /// let layout = DataLayout::new(vec![5], 2, 0, Order::F);
    /// let plan = plan_read(&layout, &Selection::all().canonicalize(&layout.shape)?)?;
    /// let source = MemorySource::new(vec![1u8, 0, 2, 0, 3, 0, 4, 0, 5, 0]);
    /// let mut out = vec![0f64; 5];
    /// let done = plan.read_then_convert_in_place(&source, 0, &mut out, |bytes, values| {
    ///     for (v, b) in values.iter_mut().zip(bytes.chunks_exact(2)) {
    ///         *v = f64::from(i16::from_le_bytes([b[0], b[1]]));
    ///     }
    ///     Ok(())
    /// })?;
    /// assert!(done);
    /// assert_eq!(out, [1.0, 2.0, 3.0, 4.0, 5.0]);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn read_then_convert_in_place<T: bytemuck::Pod>(
        &self,
        source: &dyn Source,
        room: usize,
        out: &mut [T],
        convert: impl Fn(&[u8], &mut [T]) -> Result<()>,
    ) -> Result<bool> {
        /// Stored bytes below which the rest is copied out rather than split further.
        const COPIED_REST: usize = 64 << 10;
        let stored = self.itemsize;
        let wide = std::mem::size_of::<T>();
        let count = out.len();
        let total = self.output_bytes();
        if self.post.is_some() || stored == 0 || count.checked_mul(stored) != Some(total) {
            return Ok(false);
        }
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(out);
        // The stored bytes end where `out` ends; the room lies just before them.
        let Some(stored_at) = bytes.len().checked_sub(total) else {
            return Ok(false);
        };
        if wide <= stored || stored_at < room {
            return Ok(false);
        }
        self.read_into_with_room(source, &mut bytes[stored_at - room..], room)?;
        // Whole elements of `bytes` (which came from `out`, so aligned) as values again.
        fn values<T: bytemuck::Pod>(bytes: &mut [u8]) -> Result<&mut [T]> {
            bytemuck::try_cast_slice_mut(bytes)
                .map_err(|e| Error::usage(format!("converting in place: {e}")))
        }
        let mut done = 0usize;
        while done < count {
            // Values [done, end) are written below `end * wide`, at or before the first of
            // their own stored bytes (at `stored_at + done * stored`).
            let first_stored = stored_at + done * stored;
            let end = (first_stored / wide).min(count);
            if (count - done) * stored <= COPIED_REST || end <= done {
                let rest = bytes[first_stored..].to_vec();
                return convert(&rest, values(&mut bytes[done * wide..])?).map(|()| true);
            }
            let (front, back) = bytes.split_at_mut(end * wide);
            let from = first_stored - end * wide;
            convert(
                &back[from..from + (end - done) * stored],
                values(&mut front[done * wide..])?,
            )?;
            done = end;
        }
        Ok(true)
    }

    /// Reads the result and converts it into `out` piece by piece: `convert(bytes, values)`
    /// gets each piece of about `piece` bytes (whole elements of `itemsize` bytes) and the
    /// part of `out` that holds its elements, one element of `out` per stored element.
    /// Where the source serves reads from several threads at once
    /// ([`Source::parallel_reads`]) the result is cut into contiguous shares, one per thread
    /// of rayon's pool, each read and converted in order by its thread; otherwise as
    /// [`stream_pieces`](Self::stream_pieces), the next piece read while one is converted.
    /// Memory stays at two pieces, or one per thread. Plans with post-slicing are a Usage
    /// error, as for `stream_pieces`.
    ///
    /// ```
    /// use neurovox::io::MemorySource;
    /// use neurovox::Order;
    /// use neurovox::array::{plan_read, DataLayout};
    /// use neurovox::sel;
    /// let layout = DataLayout::new(vec![4, 3], 2, 0, Order::F);
    /// let plan = plan_read(&layout, &sel![.., 1..].canonicalize(&layout.shape)?)?;
    /// let source = MemorySource::new((0u8..24).collect::<Vec<u8>>());
    /// let mut out = vec![0u32; 8];
    /// plan.stream_into(&source, 4, &mut out, |bytes, values| {
    ///     for (v, b) in values.iter_mut().zip(bytes.chunks_exact(2)) {
    ///         *v = u32::from(u16::from_le_bytes([b[0], b[1]]));
    ///     }
    ///     Ok(())
    /// })?;
    /// assert_eq!(out[0], u32::from(u16::from_le_bytes([8, 9])));
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn stream_into<T: Send>(
        &self,
        source: &dyn Source,
        piece: usize,
        out: &mut [T],
        convert: impl Fn(&[u8], &mut [T]) -> Result<()> + Sync,
    ) -> Result<()> {
        if self.post.is_some() {
            return Err(Error::usage(
                "stream_into needs a plan without post-slicing",
            ));
        }
        let itemsize = self.itemsize;
        let total = self.output_bytes();
        if out.len().checked_mul(itemsize) != Some(total) {
            return Err(Error::usage(format!(
                "the output holds {} values, but the read has {}",
                out.len(),
                total / itemsize.max(1)
            )));
        }
        let piece = (piece / itemsize).max(1) * itemsize;
        let lanes = self.lanes_for(source, total.div_ceil(piece));
        if lanes <= 1 {
            return self.stream_pieces(source, piece, |at, bytes| {
                let first = at / itemsize;
                convert(bytes, &mut out[first..first + bytes.len() / itemsize])
            });
        }
        let per_lane = out.len().div_ceil(lanes);
        use rayon::prelude::*;
        out.par_chunks_mut(per_lane)
            .enumerate()
            .try_for_each(|(lane, values)| {
                let start = lane * per_lane * itemsize;
                let end = start + values.len() * itemsize;
                self.read_share(source, start..end, piece, |at, bytes| {
                    let first = (at - start) / itemsize;
                    convert(bytes, &mut values[first..first + bytes.len() / itemsize])?;
                    Ok(true)
                })
            })
    }

    /// Reads bytes `share` of the result in order, in pieces of `piece` bytes, handing each
    /// to `each(first_byte, bytes)` until it returns false: one thread's part of a read
    /// split between threads.
    fn read_share(
        &self,
        source: &dyn Source,
        share: std::ops::Range<usize>,
        piece: usize,
        mut each: impl FnMut(usize, &[u8]) -> Result<bool>,
    ) -> Result<()> {
        if share.is_empty() {
            return Ok(());
        }
        let mut buf = zeroed(piece.min(share.len()))?;
        let mut cursor = SegmentCursor::new(&self.segments);
        cursor.seek(share.start)?;
        cursor.announce_until = share.end;
        let mut at = share.start;
        while at < share.end {
            let bytes = &mut buf[..piece.min(share.end - at)];
            cursor.read(source, bytes)?;
            if !each(at, bytes)? {
                break;
            }
            at += bytes.len();
        }
        Ok(())
    }

    /// Whether `check(first_byte, bytes)` holds for every piece of the result (pieces of
    /// about `piece` bytes, whole elements): a comparison with an array already in memory,
    /// read as [`stream_into`](Self::stream_into) reads — on every thread in contiguous
    /// shares where the source reads in parallel, else in order. Stops reading once a piece
    /// fails. Plans with post-slicing are a Usage error.
    ///
    /// ```
    /// use neurovox::io::MemorySource;
    /// use neurovox::Order;
    /// use neurovox::array::{plan_read, DataLayout, Selection};
    /// let layout = DataLayout::new(vec![8], 1, 0, Order::F);
    /// let plan = plan_read(&layout, &Selection::all().canonicalize(&layout.shape)?)?;
    /// let source = MemorySource::new((0u8..8).collect::<Vec<u8>>());
    /// let expected: Vec<u8> = (0..8).collect();
    /// let same = |at: usize, bytes: &[u8]| Ok(bytes == &expected[at..at + bytes.len()]);
    /// assert!(plan.all_pieces(&source, 3, same)?);
    /// assert!(!plan.all_pieces(&source, 3, |at, _| Ok(at < 6))?);
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn all_pieces(
        &self,
        source: &dyn Source,
        piece: usize,
        check: impl Fn(usize, &[u8]) -> Result<bool> + Sync,
    ) -> Result<bool> {
        let itemsize = self.itemsize;
        let total = self.output_bytes();
        let piece = (piece / itemsize).max(1) * itemsize;
        let lanes = self.lanes_for(source, total.div_ceil(piece));
        if lanes <= 1 || self.post.is_some() {
            let mut all = true;
            self.stream_pieces(source, piece, |at, bytes| {
                if all {
                    all = check(at, bytes)?;
                }
                Ok(())
            })?;
            return Ok(all);
        }
        use std::sync::atomic::{AtomicBool, Ordering};
        let all = AtomicBool::new(true);
        let per_lane = (total / itemsize).div_ceil(lanes) * itemsize;
        use rayon::prelude::*;
        (0..lanes).into_par_iter().try_for_each(|lane| {
            let share = (lane * per_lane).min(total)..((lane + 1) * per_lane).min(total);
            self.read_share(source, share, piece, |at, bytes| {
                if !check(at, bytes)? {
                    all.store(false, Ordering::Relaxed);
                }
                Ok(all.load(Ordering::Relaxed))
            })
        })?;
        Ok(all.load(Ordering::Relaxed))
    }
}

/// The scratch a read with post-slicing, or a streamed read, holds at once (per piece).
pub const PIECE_BYTES: usize = 4 << 20;

/// How far ahead of its reads, within one segment, a cursor announces the bytes it will read
/// ([`Source::prefetch`]): a remote object fetches them in the background while the pieces
/// before them are converted, rather than one round trip per piece. Two lanes' windows stay
/// within half of a remote object's default block cache.
const PREFETCH_AHEAD: u64 = 16 << 20;

/// Reads the bytes of a plan's segments, concatenated, from any position on.
struct SegmentCursor<'a> {
    segments: &'a [(u64, usize)],
    /// The segment the next byte comes from, and the position within it.
    index: usize,
    within: usize,
    /// Bytes of the concatenation before segment `index`.
    before: usize,
    /// The source offset up to which reads have been announced.
    announced_to: u64,
    /// Where announcements stop, as a position in the concatenation: the end of a thread's
    /// share of a read, past which another thread reads (announcing those bytes again
    /// fetched them twice, once they had left the remote block cache).
    announce_until: usize,
}

impl<'a> SegmentCursor<'a> {
    fn new(segments: &'a [(u64, usize)]) -> Self {
        SegmentCursor {
            segments,
            index: 0,
            within: 0,
            before: 0,
            announced_to: 0,
            announce_until: usize::MAX,
        }
    }

    /// Announces the next [`PREFETCH_AHEAD`] bytes of a segment `[.., segment_end)` to the
    /// source when a read of `[at, at + n)` comes within half of that of what was announced
    /// (so a window is announced about every half window read), and only when the window
    /// holds more than this read.
    fn announce(&mut self, source: &dyn Source, at: u64, n: u64, segment_end: u64) {
        let to = at.saturating_add(PREFETCH_AHEAD).min(segment_end);
        // Nothing to fetch from a source that holds the bytes in memory; a memory map would
        // fault the window in ahead of the copies, which release what they copied in 2 MiB
        // stretches that reach into the window (a sagittal slab of a 221 MB .nii then held
        // 24 MiB more, and took 40 % longer).
        if to <= at + n || source.borrow_at(at, 1).is_some() {
            return;
        }
        // Announced before within this run of reads (a cursor moved elsewhere starts anew).
        let ours = (at..=segment_end).contains(&self.announced_to);
        if ours && (self.announced_to >= to || at + n + PREFETCH_AHEAD / 2 <= self.announced_to) {
            return;
        }
        source.prefetch(if ours { self.announced_to } else { at }, to);
        self.announced_to = to;
    }

    /// Moves to byte `pos` of the concatenation (forwards or backwards).
    fn seek(&mut self, pos: usize) -> Result<()> {
        while pos < self.before {
            self.index -= 1;
            self.before -= self.segments[self.index].1;
        }
        while let Some(&(_, len)) = self.segments.get(self.index) {
            if pos < self.before + len {
                self.within = pos - self.before;
                return Ok(());
            }
            self.before += len;
            self.index += 1;
        }
        self.within = 0;
        if pos == self.before {
            Ok(())
        } else {
            Err(Error::usage("a read reaches past the plan's segments"))
        }
    }

    /// Fills `buf` with the next bytes of the concatenation.
    fn read(&mut self, source: &dyn Source, mut buf: &mut [u8]) -> Result<()> {
        while !buf.is_empty() {
            let &(offset, len) = self
                .segments
                .get(self.index)
                .ok_or_else(|| Error::usage("a read reaches past the plan's segments"))?;
            let n = (len - self.within).min(buf.len());
            let (head, rest) = std::mem::take(&mut buf).split_at_mut(n);
            let at = offset + self.within as u64;
            // The segment's end, or the share's if it comes first.
            let until = self.announce_until.saturating_sub(self.before).min(len);
            self.announce(source, at, n as u64, offset + until as u64);
            source.read_at(at, head)?;
            self.within += n;
            if self.within == len {
                self.before += len;
                self.index += 1;
                self.within = 0;
            }
            buf = rest;
        }
        Ok(())
    }
}

/// Plans the read of a canonical selection (from [`Selection::canonicalize`] on
/// `layout.shape`) with nibabel's rules and the default heuristic (see the module docs).
///
/// Errors: a selection that does not fit the shape (Usage), a layout too large to address
/// (Limit), itemsize 0 (Usage).
///
/// ```
/// use neurovox::Order;
/// use neurovox::array::{plan_read, DataLayout};
/// use neurovox::sel;
///
/// let layout = DataLayout::new(vec![64, 64, 30], 2, 352, Order::F);
/// let plan = plan_read(&layout, &sel![.., 10, ..].canonicalize(&layout.shape)?)?;
/// assert_eq!(plan.segments().len(), 30);
/// assert_eq!(plan.segments()[1], (352 + 10 * 128 + 8192, 128));
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn plan_read(layout: &DataLayout, selection: &[Canonical]) -> Result<ReadPlan> {
    plan_read_with(layout, selection, &default_heuristic)
}

/// nibabel's default: skip ahead when the gap is over [`SKIP_THRESHOLD`] bytes.
fn default_heuristic(item: &Canonical, dim: usize, stride: u64) -> Action {
    threshold_heuristic(item, dim, stride, SKIP_THRESHOLD as u64)
}

/// [`plan_read`] for a read from `source`, once the source is shown to hold every byte the
/// plan would read. A header can claim any shape: building the segments of a key over a
/// claimed 10^18 volumes reserves memory (and time) in proportion before a byte is read, so
/// the plan's extent is computed first (per axis, no segments) and checked with
/// [`Source::may_hold`]; where the source cannot say (a compressed file of several members),
/// its last byte is read, which inflates no further than the data really goes. Past the end,
/// the source's error names the file and where it ends.
///
/// ```
/// use neurovox::io::MemorySource;
/// use neurovox::Order;
/// use neurovox::array::DataLayout;
/// use neurovox::internals::plan_read_from;
/// use neurovox::sel;
///
/// let source = MemorySource::new(vec![0u8; 4000]);
/// let lying = DataLayout::new(vec![10, 10, 1 << 40], 2, 0, Order::F);
/// let key = sel![.., 0..2].canonicalize(&lying.shape)?;
/// assert!(plan_read_from(&source, &lying, &key).is_err()); // nothing built for 2^40 slabs
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn plan_read_from(
    source: &dyn Source,
    layout: &DataLayout,
    selection: &[Canonical],
) -> Result<ReadPlan> {
    let reads = axis_reads(layout, selection, &default_heuristic)?;
    if let Some(reads) = &reads {
        let end = reads.extent(layout);
        if !source.may_hold(end) {
            source.read_at(end - 1, &mut [0u8])?;
        }
    }
    Ok(plan_from_reads(layout, selection, reads))
}

/// The end (one past the last byte) of what [`plan_read`] would read for `selection`; 0 for an
/// empty selection. Computed per axis, without building segments.
pub fn plan_extent(layout: &DataLayout, selection: &[Canonical]) -> Result<u64> {
    let reads = axis_reads(layout, selection, &default_heuristic)?;
    Ok(reads.map_or(0, |r| r.extent(layout)))
}

/// What each array axis of a plan reads, once the selection is checked and optimised.
struct AxisReads {
    fastest_first: Vec<usize>,
    plans: Vec<AxisPlan>,
}

impl AxisReads {
    /// One past the last byte the reads touch (from the per-axis reads, no segments).
    fn extent(&self, layout: &DataLayout) -> u64 {
        let mut end = layout.offset + layout.itemsize as u64;
        let mut stride = layout.itemsize as u64;
        for &axis in &self.fastest_first {
            let dim = layout.shape[axis];
            let last = match self.plans[axis].0 {
                ReadAxis::Full => dim.saturating_sub(1),
                ReadAxis::Range { start, step, len } => start + step * len.saturating_sub(1),
                ReadAxis::Index(i) => i,
            };
            // Within the array, whose size n_bytes() checked: no overflow.
            end += stride * last as u64;
            stride *= dim as u64;
        }
        end
    }
}

/// Checks `selection` against `layout` and chooses each axis's read; `None` when the
/// selection is empty (nothing is read).
fn axis_reads(
    layout: &DataLayout,
    selection: &[Canonical],
    heuristic: Heuristic<'_>,
) -> Result<Option<AxisReads>> {
    layout.n_bytes()?;
    let axes = validate(selection, &layout.shape)?;
    if output_shape_of(selection).contains(&0) {
        return Ok(None);
    }
    let fastest_first = layout.fastest_first();
    let plans = optimize_axes(
        &axes,
        &layout.shape,
        &fastest_first,
        layout.itemsize,
        heuristic,
    )?;
    Ok(Some(AxisReads {
        fastest_first,
        plans,
    }))
}

/// Reads `selection` of the array `layout` describes from `source` into `out`, which must be
/// exactly [`output_len`] bytes (else a Usage error, before anything is read). The elements are
/// laid out in `layout.order` (F-order output for F layouts, C for C); raw bytes, no byte
/// swapping or scaling. Returns the output shape.
///
/// ```
/// use neurovox::io::MemorySource;
/// use neurovox::Order;
/// use neurovox::array::{output_len, read_selection_into, DataLayout};
/// use neurovox::sel;
///
/// let layout = DataLayout::new(vec![3, 2], 2, 4, Order::C); // 3×2 u16 after 4 header bytes
/// let mut file = vec![0xff; 4];
/// for v in 0u16..6 {
///     file.extend(v.to_le_bytes());
/// }
/// let source = MemorySource::new(file);
/// let selection = sel![-1, ..];
/// let mut out = vec![0u8; output_len(&layout, &selection)?];
/// assert_eq!(read_selection_into(&source, &layout, &selection, &mut out)?, vec![2]);
/// assert_eq!(out, [4, 0, 5, 0]);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn read_selection_into(
    source: &dyn Source,
    layout: &DataLayout,
    selection: &Selection,
    out: &mut [u8],
) -> Result<Vec<usize>> {
    let plan = plan_read_from(source, layout, &selection.canonicalize(&layout.shape)?)?;
    plan.read_into(source, out)?;
    Ok(plan.output_shape)
}

/// Like [`read_selection_into`], into a new buffer: returns the bytes and the output shape.
///
/// ```
/// use neurovox::io::MemorySource;
/// use neurovox::Order;
/// use neurovox::array::{read_selection, DataLayout};
/// use neurovox::sel;
/// let layout = DataLayout::new(vec![2, 2], 1, 0, Order::F);
/// let (bytes, shape) = read_selection(&MemorySource::new(vec![1, 2, 3, 4]), &layout, &sel![1])?;
/// assert_eq!((bytes, shape), (vec![2, 4], vec![2]));
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn read_selection(
    source: &dyn Source,
    layout: &DataLayout,
    selection: &Selection,
) -> Result<(Vec<u8>, Vec<usize>)> {
    let plan = plan_read_from(source, layout, &selection.canonicalize(&layout.shape)?)?;
    let mut out = zeroed(plan.output_bytes())?;
    plan.read_into(source, &mut out)?;
    Ok((out, plan.output_shape))
}

/// The number of bytes the output buffer of [`read_selection_into`] must have.
///
/// ```
/// use neurovox::Order;
/// use neurovox::array::{output_len, DataLayout};
/// use neurovox::sel;
/// let layout = DataLayout::new(vec![64, 64, 30], 2, 352, Order::F);
/// assert_eq!(output_len(&layout, &sel![.., .., 0..4])?, 64 * 64 * 4 * 2);
/// assert_eq!(output_len(&layout, &sel![.., .., 40..])?, 0);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn output_len(layout: &DataLayout, selection: &Selection) -> Result<usize> {
    layout.n_bytes()?;
    let shape = selection.output_shape(&layout.shape)?;
    // The selected elements are no more than the array's, which fit, so this cannot overflow.
    Ok(shape.iter().product::<usize>() * layout.itemsize)
}

/// The heuristic's answer for one axis (nibabel's `'full'`, `'contiguous'` and `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Read the whole axis.
    Full,
    /// Read from the first to the last selected element, step 1.
    Contiguous,
    /// Read only the selected elements.
    Skip,
}

/// A heuristic: the action for one canonical item on an axis of `dim` elements `stride` bytes
/// apart.
type Heuristic<'a> = &'a dyn Fn(&Canonical, usize, u64) -> Action;

/// What to read along one array axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadAxis {
    /// The whole axis.
    Full,
    /// `len` positions from `start`, `step` (> 0) apart.
    Range {
        start: usize,
        step: usize,
        len: usize,
    },
    /// One position; the axis is not in the read shape.
    Index(usize),
}

/// What to read along one axis, and the post-slicing of the read axis (`None` when the axis was
/// read at one index and so is not in the read shape).
type AxisPlan = (ReadAxis, Option<Canonical>);

/// nibabel's `threshold_heuristic` (see the module docs), with spans measured tightly.
fn threshold_heuristic(item: &Canonical, dim: usize, stride: u64, skip_thresh: u64) -> Action {
    match *item {
        Canonical::Index(_) => {
            if (dim as u64 - 1).saturating_mul(stride) <= skip_thresh {
                Action::Full
            } else {
                Action::Skip
            }
        }
        Canonical::Slice { step, len, .. } => {
            if (step.unsigned_abs() as u64).saturating_mul(stride) > skip_thresh {
                return Action::Skip;
            }
            let gap = (dim - span(step, len)) as u64;
            if gap.saturating_mul(stride) <= skip_thresh {
                Action::Full
            } else {
                Action::Contiguous
            }
        }
        Canonical::NewAxis => Action::Skip,
    }
}

/// Elements from the first to the last selected, inclusive, of a non-empty slice.
fn span(step: isize, len: usize) -> usize {
    (len - 1) * step.unsigned_abs() + 1
}

/// The lowest selected position of a non-empty slice.
fn lowest(start: usize, step: isize, len: usize) -> usize {
    if step > 0 {
        start
    } else {
        start - (len - 1) * step.unsigned_abs()
    }
}

/// A read of `len` positions from `start`, `step` apart: `Full` if that is the whole axis.
fn read_range(start: usize, step: usize, len: usize, dim: usize) -> ReadAxis {
    if len == dim && (len <= 1 || (start == 0 && step == 1)) {
        ReadAxis::Full
    } else {
        ReadAxis::Range { start, step, len }
    }
}

/// nibabel's `optimize_slicer`: what to read along one axis (`item` is an index or a slice),
/// and what to slice out of it afterwards.
fn optimize_axis(
    item: Canonical,
    dim: usize,
    all_full: bool,
    is_slowest: bool,
    stride: u64,
    heuristic: Heuristic<'_>,
) -> Result<AxisPlan> {
    if item.is_whole_axis(dim) {
        return Ok((ReadAxis::Full, Some(Canonical::full(dim))));
    }
    if item
        == (Canonical::Slice {
            start: dim.saturating_sub(1),
            step: -1,
            len: dim,
        })
    {
        return Ok((ReadAxis::Full, Some(item)));
    }
    let action = if all_full {
        heuristic(&item, dim, stride)
    } else {
        Action::Skip
    };
    match item {
        Canonical::Index(i) => optimize_index(i, action, is_slowest),
        Canonical::Slice { start, step, len } => {
            Ok(optimize_slice(start, step, len, dim, action, is_slowest))
        }
        Canonical::NewAxis => Err(Error::usage("a new axis has no array axis to read")),
    }
}

/// [`optimize_axis`] for an index.
fn optimize_index(i: usize, action: Action, is_slowest: bool) -> Result<AxisPlan> {
    match action {
        Action::Contiguous => Err(Error::usage("an index cannot be read contiguously")),
        Action::Full if !is_slowest => Ok((ReadAxis::Full, Some(Canonical::Index(i)))),
        _ => Ok((ReadAxis::Index(i), None)),
    }
}

/// [`optimize_axis`] for a non-empty slice that is not the whole axis.
fn optimize_slice(
    start: usize,
    step: isize,
    len: usize,
    dim: usize,
    action: Action,
    is_slowest: bool,
) -> AxisPlan {
    let item = Canonical::Slice { start, step, len };
    let low = lowest(start, step, len);
    let action = match action {
        Action::Full if is_slowest => Action::Contiguous,
        other => other,
    };
    match action {
        Action::Full => (ReadAxis::Full, Some(item)),
        Action::Contiguous if step.unsigned_abs() != 1 => {
            let n = span(step, len);
            let first = if step > 0 { 0 } else { n - 1 };
            let post = Canonical::Slice {
                start: first,
                step,
                len,
            };
            (read_range(low, 1, n, dim), Some(post))
        }
        _ => {
            let read = read_range(low, step.unsigned_abs(), len, dim);
            let post = if step > 0 {
                Canonical::full(len)
            } else {
                Canonical::Slice {
                    start: len - 1,
                    step: -1,
                    len,
                }
            };
            (read, Some(post))
        }
    }
}

/// nibabel's `optimize_read_slicers`: one [`AxisPlan`] per array axis (`axes[k]` is the index
/// or slice for axis `k`), walking `fastest_first`.
fn optimize_axes(
    axes: &[Canonical],
    shape: &[usize],
    fastest_first: &[usize],
    itemsize: usize,
    heuristic: Heuristic<'_>,
) -> Result<Vec<AxisPlan>> {
    let mut plans = vec![(ReadAxis::Full, None); axes.len()];
    let mut stride = itemsize as u64;
    let mut all_full = true;
    for (rank, &axis) in fastest_first.iter().enumerate() {
        let is_slowest = rank + 1 == fastest_first.len();
        let plan = optimize_axis(
            axes[axis],
            shape[axis],
            all_full,
            is_slowest,
            stride,
            heuristic,
        )?;
        all_full &= plan.0 == ReadAxis::Full;
        plans[axis] = plan;
        stride *= shape[axis] as u64;
    }
    Ok(plans)
}

/// Appends a segment, merging it into the last one when they touch.
fn push_segment(segments: &mut Vec<(u64, usize)>, (offset, len): (u64, usize)) {
    if let Some(last) = segments.last_mut()
        && last.0 + last.1 as u64 == offset
    {
        last.1 += len;
        return;
    }
    segments.push((offset, len));
}

/// Repeats every segment once per position `start + k * step`, `k < len`, of an axis with
/// byte `stride`.
fn repeat_segments(
    segments: &[(u64, usize)],
    stride: u64,
    (start, step, len): (usize, usize, usize),
) -> Vec<(u64, usize)> {
    let mut out = Vec::with_capacity(segments.len().saturating_mul(len));
    for k in 0..len {
        let shift = stride * (start + k * step) as u64;
        for &(offset, n) in segments {
            push_segment(&mut out, (offset + shift, n));
        }
    }
    out
}

/// nibabel's `slicers2segments`: the byte segments of `reads` (one per array axis), walking
/// `fastest_first`.
fn build_segments(
    layout: &DataLayout,
    reads: &[ReadAxis],
    fastest_first: &[usize],
) -> Vec<(u64, usize)> {
    let mut segments = vec![(layout.offset, layout.itemsize)];
    let mut stride = layout.itemsize as u64;
    let mut all_full = true;
    for &axis in fastest_first {
        let dim = layout.shape[axis];
        let (start, step, len) = match reads[axis] {
            ReadAxis::Full => (0, 1, dim),
            ReadAxis::Range { start, step, len } => (start, step, len),
            ReadAxis::Index(i) => (i, 1, 1),
        };
        let is_index = matches!(reads[axis], ReadAxis::Index(_));
        if all_full && !is_index && (step == 1 || len == 1) {
            segments[0].0 += stride * start as u64;
            segments[0].1 *= len;
        } else if is_index {
            segments
                .iter_mut()
                .for_each(|s| s.0 += stride * start as u64);
        } else {
            segments = repeat_segments(&segments, stride, (start, step, len));
        }
        all_full &= reads[axis] == ReadAxis::Full;
        stride *= dim as u64;
    }
    segments
}

/// Checks that `selection` fits `shape`: one index or slice per axis, all positions inside.
fn validate(selection: &[Canonical], shape: &[usize]) -> Result<Vec<Canonical>> {
    let axes: Vec<Canonical> = selection
        .iter()
        .copied()
        .filter(|c| *c != Canonical::NewAxis)
        .collect();
    if axes.len() != shape.len() {
        return Err(Error::usage(format!(
            "the selection has {} array axes, the array has {}",
            axes.len(),
            shape.len()
        )));
    }
    for (axis, (item, &dim)) in axes.iter().zip(shape).enumerate() {
        let fits = match *item {
            Canonical::Index(i) => i < dim,
            Canonical::Slice { start, step, len } => {
                let last = start as i128 + (len as i128 - 1) * step as i128;
                len == 0 || (start < dim && (0..dim as i128).contains(&last))
            }
            Canonical::NewAxis => true,
        };
        if !fits {
            return Err(Error::usage(format!(
                "{item:?} does not fit axis {axis} with size {dim}"
            )));
        }
    }
    Ok(axes)
}

/// [`plan_read`] with a chosen heuristic.
fn plan_read_with(
    layout: &DataLayout,
    selection: &[Canonical],
    heuristic: Heuristic<'_>,
) -> Result<ReadPlan> {
    let reads = axis_reads(layout, selection, heuristic)?;
    Ok(plan_from_reads(layout, selection, reads))
}

/// The plan of `selection` whose axis reads are `reads` (`None`: an empty selection).
fn plan_from_reads(
    layout: &DataLayout,
    selection: &[Canonical],
    reads: Option<AxisReads>,
) -> ReadPlan {
    let output_shape = output_shape_of(selection);
    let mut plan = ReadPlan {
        segments: Vec::new(),
        read_shape: output_shape.clone(),
        post: None,
        output_shape,
        itemsize: layout.itemsize,
        order: layout.order,
    };
    let Some(AxisReads {
        fastest_first,
        plans,
    }) = reads
    else {
        return plan;
    };
    let axis_reads: Vec<ReadAxis> = plans.iter().map(|p| p.0).collect();
    plan.segments = build_segments(layout, &axis_reads, &fastest_first);
    let (read_shape, post) = read_shape_and_post(selection, &layout.shape, &plans);
    plan.read_shape = read_shape;
    plan.post = post;
    plan
}

/// The read shape and the post-slicing, in the selection's axis order (a `NewAxis` reads as a
/// length-1 axis kept whole); no post-slicing when it keeps everything.
fn read_shape_and_post(
    selection: &[Canonical],
    shape: &[usize],
    plans: &[AxisPlan],
) -> (Vec<usize>, Option<Vec<Canonical>>) {
    let mut read_shape = Vec::with_capacity(selection.len());
    let mut post = Vec::with_capacity(selection.len());
    let mut axis = 0;
    for item in selection {
        if *item == Canonical::NewAxis {
            read_shape.push(1);
            post.push(Canonical::full(1));
            continue;
        }
        let (read, post_item) = plans[axis];
        match read {
            ReadAxis::Full => read_shape.push(shape[axis]),
            ReadAxis::Range { len, .. } => read_shape.push(len),
            ReadAxis::Index(_) => {}
        }
        post.extend(post_item);
        axis += 1;
    }
    let identity = post
        .iter()
        .zip(&read_shape)
        .all(|(p, &d)| *p == Canonical::full(d));
    (read_shape, (!identity).then_some(post))
}

/// A usage error unless the output buffer has the expected length.
fn check_out_len(got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "the output buffer has {got} bytes, but the selection needs {want}"
        )))
    }
}

/// A zeroed buffer of `n` bytes, or a Limit error if memory runs out.
fn zeroed(n: usize) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| Error::limit(format!("cannot allocate {n} bytes for a read")))?;
    v.resize(n, 0);
    Ok(v)
}

/// Reads `segments` one after another into `buf`, which they must fill exactly.
fn read_segments(source: &dyn Source, segments: &[(u64, usize)], buf: &mut [u8]) -> Result<()> {
    let mut pos = 0usize;
    for &(offset, len) in segments {
        let dst = buf
            .get_mut(pos..pos + len)
            .ok_or_else(|| Error::usage("the read segments overrun the buffer"))?;
        source.read_at(offset, dst)?;
        pos += len;
    }
    check_out_len(buf.len(), pos)
}

/// Copies the elements of `src` (an array of `shape` in `order`) that `items` (one index or
/// slice per axis) select into `dst`, contiguous in `order`.
fn copy_selected(
    src: &[u8],
    shape: &[usize],
    order: Order,
    itemsize: usize,
    items: &[Canonical],
    dst: &mut [u8],
) -> Result<()> {
    let strides = element_strides(shape, order);
    let mut base = 0isize;
    let mut dims = Vec::with_capacity(items.len());
    for (item, &stride) in items.iter().zip(&strides) {
        match *item {
            Canonical::Index(i) => base += i as isize * stride,
            Canonical::Slice { start, step, len } => {
                base += start as isize * stride;
                dims.push((len, step * stride));
            }
            Canonical::NewAxis => dims.push((1, 0)),
        }
    }
    if order == Order::C {
        dims.reverse();
    }
    copy_strided(src, dst, itemsize, base, &dims)
}

/// Element strides of an array of `shape` stored contiguously in `order`.
fn element_strides(shape: &[usize], order: Order) -> Vec<isize> {
    let mut strides = vec![0isize; shape.len()];
    let mut acc = 1isize;
    let axes: Vec<usize> = match order {
        Order::F => (0..shape.len()).collect(),
        Order::C => (0..shape.len()).rev().collect(),
    };
    for axis in axes {
        strides[axis] = acc;
        acc *= shape[axis] as isize;
    }
    strides
}

/// Copies the elements at `base + Σ k_d * stride_d` (element units; `dims` are
/// `(len, stride)`, fastest first) from `src` into `dst`, contiguous.
fn copy_strided(
    src: &[u8],
    dst: &mut [u8],
    itemsize: usize,
    base: isize,
    dims: &[(usize, isize)],
) -> Result<()> {
    if dst.is_empty() {
        return Ok(());
    }
    let (inner, outer) = match dims.split_first() {
        Some((&inner, outer)) => (inner, outer),
        None => ((1, 0), &[][..]),
    };
    let run = inner.0 * itemsize;
    let mut idx = vec![0usize; outer.len()];
    let mut pos = base;
    for chunk in dst.chunks_exact_mut(run) {
        copy_run(src, chunk, itemsize, pos, inner.1)?;
        for (d, &(len, stride)) in outer.iter().enumerate() {
            idx[d] += 1;
            pos += stride;
            if idx[d] < len {
                break;
            }
            idx[d] = 0;
            pos -= stride * len as isize;
        }
    }
    Ok(())
}

/// Copies `dst.len() / itemsize` elements starting at element `pos`, `stride` elements apart.
fn copy_run(src: &[u8], dst: &mut [u8], itemsize: usize, pos: isize, stride: isize) -> Result<()> {
    let out_of_range = || Error::usage("post-slicing reaches outside the read buffer");
    let start = usize::try_from(pos).map_err(|_| out_of_range())? * itemsize;
    if stride == 1 {
        let bytes = src.get(start..start + dst.len()).ok_or_else(out_of_range)?;
        dst.copy_from_slice(bytes);
        return Ok(());
    }
    for (k, d) in dst.chunks_exact_mut(itemsize).enumerate() {
        let at = pos + k as isize * stride;
        let at = usize::try_from(at).map_err(|_| out_of_range())? * itemsize;
        d.copy_from_slice(src.get(at..at + itemsize).ok_or_else(out_of_range)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemorySource;
    use crate::sel;

    type Plan = AxisPlan;

    fn always(_: &Canonical, _: usize, _: u64) -> Action {
        Action::Full
    }
    fn partial(_: &Canonical, _: usize, _: u64) -> Action {
        Action::Contiguous
    }
    fn never(_: &Canonical, _: usize, _: u64) -> Action {
        Action::Skip
    }

    fn cs(start: usize, step: isize, len: usize) -> Canonical {
        Canonical::Slice { start, step, len }
    }
    /// A Python slice `start:stop:step` (nibabel's tests are written in these).
    fn py(start: Option<isize>, stop: Option<isize>, step: isize) -> Selection {
        crate::array::selection::SliceItem::slice(start, stop, step).into()
    }
    fn full(n: usize) -> Canonical {
        Canonical::full(n)
    }
    fn range(start: usize, step: usize, len: usize) -> ReadAxis {
        ReadAxis::Range { start, step, len }
    }
    /// The canonical form of one item on an axis of length `dim`.
    fn canon1(s: Selection, dim: usize) -> Canonical {
        s.canonicalize(&[dim]).unwrap()[0]
    }
    fn opt(
        s: Selection,
        dim: usize,
        all_full: bool,
        is_slowest: bool,
        stride: u64,
        h: Heuristic<'_>,
    ) -> Plan {
        optimize_axis(canon1(s, dim), dim, all_full, is_slowest, stride, h).unwrap()
    }
    fn f_layout(shape: &[usize], itemsize: usize, offset: u64) -> DataLayout {
        DataLayout::new(shape.to_vec(), itemsize, offset, Order::F)
    }
    fn plan_with(layout: &DataLayout, s: Selection, h: Heuristic<'_>) -> ReadPlan {
        plan_read_with(layout, &s.canonicalize(&layout.shape).unwrap(), h).unwrap()
    }
    fn plan(layout: &DataLayout, s: Selection) -> ReadPlan {
        plan_read(layout, &s.canonicalize(&layout.shape).unwrap()).unwrap()
    }
    fn thresh(s: Selection, dim: usize, stride: u64, t: u64) -> Action {
        threshold_heuristic(&canon1(s, dim), dim, stride, t)
    }

    // test_fileslice.test_threshold_heuristic
    #[test]
    fn threshold_heuristic_cases() {
        assert_eq!(thresh(sel![1], 9, 1, 8), Action::Full);
        assert_eq!(thresh(sel![1], 9, 1, 7), Action::Skip);
        assert_eq!(thresh(sel![1], 9, 2, 16), Action::Full);
        assert_eq!(thresh(sel![1], 9, 2, 15), Action::Skip);
        assert_eq!(thresh(sel![0..9], 9, 2, 2), Action::Full);
        assert_eq!(thresh(sel![0..9], 9, 2, 1), Action::Skip);
        assert_eq!(thresh(sel![0..9;2], 9, 2, 3), Action::Skip);
        assert_eq!(thresh(py(Some(9), None, -1), 9, 2, 2), Action::Full);
        assert_eq!(thresh(sel![2..9], 9, 2, 2), Action::Contiguous);
        assert_eq!(thresh(sel![2..9], 9, 2, 1), Action::Skip);
        assert_eq!(thresh(sel![2..9], 9, 2, 4), Action::Full);
        assert_eq!(thresh(sel![2..9], 9, 2, 3), Action::Contiguous);
    }

    // test_fileslice.test_optimize_slicer
    #[test]
    fn optimize_slicer_cases() {
        let heuristics: [Heuristic<'_>; 3] = [&always, &never, &partial];
        for all_full in [true, false] {
            for h in heuristics {
                for is_slowest in [true, false] {
                    for s in [sel![..], sel![..10], sel![0..10], sel![0..10;1]] {
                        let got = opt(s, 10, all_full, is_slowest, 4, h);
                        assert_eq!(got, (ReadAxis::Full, Some(full(10))));
                    }
                    let got = opt(sel![..;-1], 10, all_full, is_slowest, 4, h);
                    assert_eq!(got, (ReadAxis::Full, Some(cs(9, -1, 10))));
                }
            }
        }
        let o = |s, all_full, slowest, h| opt(s, 10, all_full, slowest, 4, h);
        // Contiguous stays contiguous unless the heuristic upgrades it to full.
        assert_eq!(
            o(sel![..9], false, false, &always),
            (range(0, 1, 9), Some(full(9)))
        );
        assert_eq!(
            o(sel![..9], true, false, &always),
            (ReadAxis::Full, Some(cs(0, 1, 9)))
        );
        // ... which it never does on the slowest axis.
        assert_eq!(
            o(sel![..9], true, true, &always),
            (range(0, 1, 9), Some(full(9)))
        );
        assert_eq!(
            o(sel![..9], true, false, &never),
            (range(0, 1, 9), Some(full(9)))
        );
        assert_eq!(
            o(sel![1..10], true, false, &never),
            (range(1, 1, 9), Some(full(9)))
        );
        // Reversed contiguous.
        let rev9 = Some(cs(8, -1, 9));
        assert_eq!(
            o(py(Some(8), None, -1), false, false, &never),
            (range(0, 1, 9), rev9)
        );
        assert_eq!(
            o(py(Some(8), None, -1), true, false, &always),
            (ReadAxis::Full, Some(cs(8, -1, 9)))
        );
        assert_eq!(
            o(py(Some(9), Some(0), -1), false, false, &never),
            (range(1, 1, 9), rev9)
        );
        // Non-contiguous.
        let five = Some(full(5));
        assert_eq!(
            o(sel![0..10;2], false, false, &never),
            (range(0, 2, 5), five)
        );
        assert_eq!(
            o(sel![0..10;2], true, false, &never),
            (range(0, 2, 5), five)
        );
        assert_eq!(
            o(sel![0..10;2], true, false, &always),
            (ReadAxis::Full, Some(cs(0, 2, 5)))
        );
        assert_eq!(
            o(sel![0..10;2], false, false, &always),
            (range(0, 2, 5), five)
        );
        // Non-contiguous, reversed: read ascending, reverse in memory.
        let rev5 = Some(cs(4, -1, 5));
        assert_eq!(
            o(py(Some(10), None, -2), false, false, &never),
            (range(1, 2, 5), rev5)
        );
        assert_eq!(
            o(py(Some(10), None, -2), true, false, &always),
            (ReadAxis::Full, Some(cs(9, -2, 5)))
        );
        // Short non-contiguous.
        assert_eq!(
            o(sel![2..8;2], false, false, &never),
            (range(2, 2, 3), Some(full(3)))
        );
        // With a contiguous read. nibabel reads 2..8 (6 elements); the tight span is 2..=6.
        assert_eq!(
            o(sel![2..8;2], true, false, &partial),
            (range(2, 1, 5), Some(cs(0, 2, 3)))
        );
        // The slowest axis is upgraded to contiguous at most. nibabel reads 0..10 here; the
        // tight span is 0..=8.
        assert_eq!(
            o(sel![0..10;2], true, true, &always),
            (range(0, 1, 9), Some(cs(0, 2, 5)))
        );
        assert_eq!(
            o(sel![..9], true, true, &always),
            (range(0, 1, 9), Some(full(9)))
        );
        // Negative step with a contiguous read: post-slice from the end.
        assert_eq!(
            o(py(Some(8), Some(1), -3), true, false, &partial),
            (range(2, 1, 7), Some(cs(6, -3, 3)))
        );
        // Integers.
        assert_eq!(o(sel![0], true, false, &never), (ReadAxis::Index(0), None));
        assert_eq!(o(sel![-1], true, false, &never), (ReadAxis::Index(9), None));
        let contiguous_int = optimize_axis(Canonical::Index(0), 10, true, false, 4, &partial);
        assert!(contiguous_int.is_err());
        let full_int = (ReadAxis::Full, Some(Canonical::Index(0)));
        assert_eq!(o(sel![0], true, false, &always), full_int);
        assert_eq!(o(sel![0], true, true, &always), (ReadAxis::Index(0), None));
    }

    fn optimize_read(s: Selection, shape: &[usize], h: Heuristic<'_>) -> Vec<Plan> {
        let axes = s.canonicalize(shape).unwrap();
        let ff: Vec<usize> = (0..shape.len()).collect();
        optimize_axes(&axes, shape, &ff, 4, h).unwrap()
    }

    // test_fileslice.test_optimize_read_slicers
    #[test]
    fn optimize_read_slicers_cases() {
        let fl = ReadAxis::Full;
        let r = |s, shape: &[usize], h| optimize_read(s, shape, h);
        assert_eq!(r(sel![1], &[10], &never), vec![(ReadAxis::Index(1), None)]);
        assert_eq!(r(sel![..], &[10], &never), vec![(fl, Some(full(10)))]);
        assert_eq!(
            r(sel![..9], &[10], &never),
            vec![(range(0, 1, 9), Some(full(9)))]
        );
        assert_eq!(
            r(sel![..9], &[10], &always),
            vec![(range(0, 1, 9), Some(full(9)))]
        );
        assert_eq!(
            r(sel![0..9;2], &[10], &never),
            vec![(range(0, 2, 5), Some(full(5)))]
        );
        assert_eq!(
            r(sel![0..9;2], &[10], &always),
            vec![(range(0, 1, 9), Some(cs(0, 2, 5)))]
        );
        assert_eq!(r(sel![1], &[10], &always), vec![(ReadAxis::Index(1), None)]);
        // 2-D.
        let s = &[10, 6];
        let whole = (fl, Some(full(10)));
        let whole6 = (fl, Some(full(6)));
        assert_eq!(r(sel![.., ..], s, &never), vec![whole, whole6]);
        assert_eq!(
            r(sel![.., 1], s, &never),
            vec![whole, (ReadAxis::Index(1), None)]
        );
        assert_eq!(
            r(sel![1, ..], s, &never),
            vec![(ReadAxis::Index(1), None), whole6]
        );
        assert_eq!(
            r(sel![..9, ..], s, &never),
            vec![(range(0, 1, 9), Some(full(9))), whole6]
        );
        assert_eq!(
            r(sel![..9, ..], s, &always),
            vec![(fl, Some(cs(0, 1, 9))), whole6]
        );
        assert_eq!(
            r(sel![.., ..5], s, &always),
            vec![whole, (range(0, 1, 5), Some(full(5)))]
        );
        assert_eq!(
            r(sel![0..9;3, ..], s, &never),
            vec![(range(0, 3, 3), Some(full(3))), whole6]
        );
        assert_eq!(
            r(sel![0..9;3, ..], s, &always),
            vec![(fl, Some(cs(0, 3, 3))), whole6]
        );
        // nibabel reads 0..9 here; the tight span of 0, 3, 6 is 0..=6.
        let got = r(sel![0..9;3, ..], s, &partial);
        assert_eq!(got, vec![(range(0, 1, 7), Some(cs(0, 3, 3))), whole6]);
        let got = r(sel![.., 0..5;2], s, &never);
        assert_eq!(got, vec![whole, (range(0, 2, 3), Some(full(3)))]);
        let got = r(sel![.., 0..5;2], s, &always);
        assert_eq!(got, vec![whole, (range(0, 1, 5), Some(cs(0, 2, 3)))]);
        assert_eq!(
            r(sel![.., 1], s, &always),
            vec![whole, (ReadAxis::Index(1), None)]
        );
        // The gap threshold in 3-D.
        let depends0 = |c: &Canonical, d: usize, st: u64| threshold_heuristic(c, d, st, 10 * 4 - 1);
        let depends1 = |c: &Canonical, d: usize, st: u64| threshold_heuristic(c, d, st, 10 * 4);
        let s3 = &[10, 6, 2];
        let whole2 = (fl, Some(full(2)));
        let got = r(sel![..9, .., ..], s3, &depends0);
        assert_eq!(got, vec![(fl, Some(cs(0, 1, 9))), whole6, whole2]);
        let got = r(sel![.., ..5, ..], s3, &depends0);
        assert_eq!(got, vec![whole, (range(0, 1, 5), Some(full(5))), whole2]);
        let got = r(sel![.., ..5, ..], s3, &depends1);
        assert_eq!(got, vec![whole, (fl, Some(cs(0, 1, 5))), whole2]);
        let got = r(sel![1, 2, 3], &[2, 3, 4], &always);
        let want = vec![
            (fl, Some(Canonical::Index(1))),
            (fl, Some(Canonical::Index(2))),
            (ReadAxis::Index(3), None),
        ];
        assert_eq!(got, want);
    }

    fn segs(
        reads: &[ReadAxis],
        shape: &[usize],
        offset: u64,
        itemsize: usize,
    ) -> Vec<(u64, usize)> {
        let ff: Vec<usize> = (0..shape.len()).collect();
        build_segments(&f_layout(shape, itemsize, offset), reads, &ff)
    }

    // test_fileslice.test_slicers2segments
    #[test]
    fn slicers2segments_cases() {
        use ReadAxis::{Full, Index};
        assert_eq!(segs(&[Index(0)], &[10], 7, 4), vec![(7, 4)]);
        assert_eq!(
            segs(&[Index(0), Index(1)], &[10, 6], 7, 4),
            vec![(7 + 10 * 4, 4)]
        );
        let got = segs(&[Index(0), Index(1), Index(2)], &[10, 6, 4], 7, 4);
        assert_eq!(got, vec![(7 + 10 * 4 + 10 * 6 * 2 * 4, 4)]);
        assert_eq!(segs(&[Full], &[10], 7, 4), vec![(7, 10 * 4)]);
        let want: Vec<(u64, usize)> = (0..6).map(|i| (7 + 10 * 4 * i, 4)).collect();
        assert_eq!(segs(&[Index(0), Full], &[10, 6], 7, 4), want);
        assert_eq!(segs(&[Full, Index(0)], &[10, 6], 7, 4), vec![(7, 10 * 4)]);
        assert_eq!(segs(&[Full, Full], &[10, 6], 7, 4), vec![(7, 10 * 6 * 4)]);
        let got = segs(&[Full, Full, Index(2)], &[10, 6, 4], 7, 4);
        assert_eq!(got, vec![(7 + 10 * 6 * 2 * 4, 10 * 6 * 4)]);
        // Touching segments merge: a full axis after an index on a length-1 axis.
        assert_eq!(segs(&[Index(0), Full], &[1, 6], 0, 4), vec![(0, 24)]);
    }

    // test_fileslice.test_calc_slicedefs
    #[test]
    fn calc_slicedefs_cases() {
        let check = |layout: &DataLayout,
                     s: Selection,
                     h: Heuristic<'_>,
                     want_segs: &[(u64, usize)],
                     read_shape: &[usize],
                     post: Option<Vec<Canonical>>| {
            let p = plan_with(layout, s, h);
            assert_eq!(p.segments(), want_segs);
            assert_eq!(p.read_shape(), read_shape);
            assert_eq!(p.post_slicing(), post.as_deref());
        };
        let l10 = f_layout(&[10], 4, 7);
        check(&l10, sel![1], &never, &[(11, 4)], &[], None);
        check(&l10, sel![..], &never, &[(7, 40)], &[10], None);
        check(&l10, sel![..9], &never, &[(7, 36)], &[9], None);
        check(&l10, sel![1..9], &never, &[(11, 32)], &[8], None);
        let f = f_layout(&[10, 6], 4, 7);
        let c = DataLayout::new(vec![10, 6], 4, 7, Order::C);
        let six: Vec<(u64, usize)> = (0..6).map(|k| (7 + 40 * k, 4)).collect();
        check(&f, sel![0], &never, &six, &[6], None);
        check(&c, sel![0], &never, &[(7, 24)], &[6], None);
        let four = [(51, 4), (91, 4), (131, 4), (171, 4)];
        check(&f, sel![1, 1..5], &never, &four, &[4], None);
        check(&c, sel![1, 1..5], &never, &[(7 + 7 * 4, 16)], &[4], None);
        check(&f, sel![.., 1..5], &never, &[(47, 160)], &[10, 4], None);
        let post = Some(vec![Canonical::Index(1), full(6)]);
        check(&f, sel![1, ..], &always, &[(7, 240)], &[10, 6], post);
        check(&f, sel![.., 1], &always, &[(47, 40)], &[10], None);
    }

    // docs/nibabel-rules.md §5, worked example A.
    #[test]
    fn worked_example_a() {
        let f = f_layout(&[10, 6], 4, 7);
        let p = plan(&f, sel![1, 1..5]);
        assert_eq!(p.segments(), &[(47, 160)]);
        assert_eq!(p.read_shape(), &[10, 4]);
        assert_eq!(p.post_slicing(), Some(&[Canonical::Index(1), full(4)][..]));
        assert_eq!(p.output_shape(), &[4]);
        let p = plan_with(&f, sel![1, 1..5], &never);
        assert_eq!(p.segments(), &[(51, 4), (91, 4), (131, 4), (171, 4)]);
        assert_eq!((p.read_shape(), p.post_slicing()), (&[4][..], None));
        let c = DataLayout::new(vec![10, 6], 4, 7, Order::C);
        assert_eq!(plan_with(&c, sel![1, 1..5], &never).segments(), &[(35, 16)]);
    }

    // docs/nibabel-rules.md §5, worked example B.
    #[test]
    fn worked_example_b() {
        let vol = f_layout(&[64, 64, 30], 2, 352);
        let p = plan(&vol, sel![.., 10, ..]);
        let want: Vec<(u64, usize)> = (0..30).map(|z| (352 + 10 * 128 + z * 8192, 128)).collect();
        assert_eq!(p.segments(), want);
        assert_eq!(
            &p.segments()[..3],
            &[(1632, 128), (9824, 128), (18016, 128)]
        );
        assert_eq!((p.read_shape(), p.post_slicing()), (&[64, 30][..], None));

        let p = plan(&vol, sel![.., .., 10]);
        assert_eq!(p.segments(), &[(82272, 8192)]);
        assert_eq!((p.read_shape(), p.post_slicing()), (&[64, 64][..], None));

        let p = plan(&vol, sel![10, .., ..]);
        assert_eq!(p.segments(), &[(352, 245760)]);
        assert_eq!(p.read_shape(), &[64, 64, 30]);
        let post = [Canonical::Index(10), full(64), full(30)];
        assert_eq!(p.post_slicing(), Some(&post[..]));
        assert_eq!(p.output_shape(), &[64, 30]);

        let p = plan(&vol, sel![..;2, 5..20, 3]);
        assert_eq!(p.segments(), &[(25568, 1920)]);
        assert_eq!(p.read_shape(), &[64, 15]);
        assert_eq!(p.post_slicing(), Some(&[cs(0, 2, 32), full(15)][..]));
    }

    #[test]
    fn new_axes_are_length_one_read_axes() {
        let f = f_layout(&[10, 6], 4, 7);
        let p = plan(&f, sel![NewAxis, 1, NewAxis, 1..5, NewAxis]);
        assert_eq!(p.segments(), &[(47, 160)]);
        assert_eq!(p.read_shape(), &[1, 10, 1, 4, 1]);
        let post = [full(1), Canonical::Index(1), full(1), full(4), full(1)];
        assert_eq!(p.post_slicing(), Some(&post[..]));
        assert_eq!(p.output_shape(), &[1, 1, 4, 1]);
    }

    #[test]
    fn zero_size_and_zero_dim() {
        let f = f_layout(&[10, 6], 4, 7);
        let p = plan(&f, sel![.., 3..3]);
        assert!(p.segments().is_empty());
        assert_eq!(p.output_shape(), &[10, 0]);
        let src = MemorySource::new(vec![9u8; 3]);
        let mut out = [];
        p.read_into(&src, &mut out).unwrap();
        let empty = f_layout(&[0, 3], 8, 0);
        let (bytes, shape) = read_selection(&src, &empty, &Selection::all()).unwrap();
        assert_eq!((bytes.len(), shape), (0, vec![0, 3]));
        let scalar = f_layout(&[], 2, 1);
        let (bytes, shape) = read_selection(&src, &scalar, &sel![NewAxis]).unwrap();
        assert_eq!((bytes, shape), (vec![9, 9], vec![1]));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let f = f_layout(&[10, 6], 4, 7);
        let src = MemorySource::new(vec![0u8; 247]);
        let mut out = [0u8; 3];
        let e = read_selection_into(&src, &f, &sel![0, 0], &mut out).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Usage);
        assert_eq!(
            e.message(),
            "the output buffer has 3 bytes, but the selection needs 4"
        );
        assert!(plan_read(&f, &[Canonical::Index(10), full(6)]).is_err());
        assert!(plan_read(&f, &[cs(8, 2, 2), full(6)]).is_err());
        assert!(plan_read(&f, &[cs(1, -2, 2), full(6)]).is_err());
        assert!(plan_read(&f, &[full(10)]).is_err());
        assert!(plan_read(&f_layout(&[10], 0, 0), &[full(10)]).is_err());
        // A source shorter than the layout: the source's error.
        let short = MemorySource::new(vec![0u8; 100]);
        let e = read_selection(&short, &f, &sel![.., 5]).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Format);
    }

    /// nibabel's `_slices_for_len`, for a length > 1.
    fn slices_for_len(l: isize) -> Vec<crate::array::selection::SliceItem> {
        use crate::array::selection::SliceItem as S;
        vec![
            S::Index(0),
            S::Index(l / 2),
            S::Index(l - 1),
            S::Index(-1),
            S::full(),
            S::slice(None, Some(l - 1), 1),
            S::Index(-2),
            S::slice(Some(1), Some(l - 1), 1),
            S::slice(Some(1), Some(l - 1), 2),
            S::slice(Some(l - 1), Some(1), -1),
            S::slice(Some(l - 1), Some(1), -2),
        ]
    }

    /// A heuristic that reads slices contiguously and indices alone (an index cannot be read
    /// contiguously).
    fn partial_slices(item: &Canonical, _: usize, _: u64) -> Action {
        match item {
            Canonical::Slice { .. } => Action::Contiguous,
            _ => Action::Skip,
        }
    }

    // test_fileslice.test_fileslice_heuristic: every heuristic gives the same result.
    #[test]
    fn every_heuristic_reads_the_same() {
        let shape = [5usize, 6, 7];
        let n: usize = shape.iter().product::<usize>() * 2;
        let src = MemorySource::new((0..n).map(|i| (i * 7 % 251) as u8).collect::<Vec<_>>());
        let heuristics: [Heuristic<'_>; 4] = [&always, &never, &partial_slices, &|c, d, st| {
            threshold_heuristic(c, d, st, 8)
        }];
        for order in [Order::F, Order::C] {
            let layout = DataLayout::new(shape.to_vec(), 2, 0, order);
            for a in slices_for_len(5) {
                for b in slices_for_len(6) {
                    for c in slices_for_len(7) {
                        let key = Selection::new(vec![a, b, c]).canonicalize(&shape).unwrap();
                        let want = plan_read(&layout, &key).unwrap();
                        // The extent, computed without segments, is where they end.
                        let end = want.segments().iter().map(|&(o, l)| o + l as u64).max();
                        assert_eq!(plan_extent(&layout, &key).unwrap(), end.unwrap_or(0));
                        let mut want_bytes = vec![0; want.output_bytes()];
                        want.read_into(&src, &mut want_bytes).unwrap();
                        for h in heuristics {
                            let p = plan_read_with(&layout, &key, h).unwrap();
                            let mut got = vec![0; p.output_bytes()];
                            p.read_into(&src, &mut got).unwrap();
                            assert_eq!(
                                (p.output_shape(), &got),
                                (want.output_shape(), &want_bytes)
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn reads_in_both_orders() {
        // 3×4 u8, element (i, j) = 10 i + j.
        let f_bytes: Vec<u8> = (0..4)
            .flat_map(|j| (0..3).map(move |i| 10 * i + j))
            .collect();
        let c_bytes: Vec<u8> = (0..3)
            .flat_map(|i| (0..4).map(move |j| 10 * i + j))
            .collect();
        let s = sel![..;-1, 1..;2];
        let f = read_selection(&MemorySource::new(f_bytes), &f_layout(&[3, 4], 1, 0), &s).unwrap();
        assert_eq!(f, (vec![21, 11, 1, 23, 13, 3], vec![3, 2]));
        let c_layout = DataLayout::new(vec![3, 4], 1, 0, Order::C);
        let c = read_selection(&MemorySource::new(c_bytes), &c_layout, &s).unwrap();
        assert_eq!(c, (vec![21, 23, 11, 13, 1, 3], vec![3, 2]));
    }

    /// Post-sliced reads of spans larger than one piece: read in runs of blocks (and block
    /// by block for steps other than 1, backwards too), they give what slicing the whole
    /// array in memory gives, in both orders.
    #[test]
    fn streamed_conversions_on_any_number_of_threads_equal_a_plain_read() {
        // 10 MB of u16 in F order; keys whose plans have no post-slicing, read in pieces of
        // 1 MiB, converted to u32 on one, two and three threads.
        let shape = [64usize, 64, 40, 32];
        let n: usize = shape.iter().product();
        let bytes: Vec<u8> = (0..n)
            .flat_map(|i| ((i * 7 % 65_521) as u16).to_le_bytes())
            .collect();
        let source = MemorySource::new(bytes);
        let layout = DataLayout::new(shape.to_vec(), 2, 0, Order::F);
        for selection in [
            sel![.., .., .., ..],
            sel![.., .., .., 3..29],
            sel![.., .., 7, ..],
        ] {
            let plan = plan_read(&layout, &selection.canonicalize(&shape).unwrap()).unwrap();
            assert!(plan.post_slicing().is_none());
            let mut plain = vec![0u8; plan.output_bytes()];
            plan.read_into(&source, &mut plain).unwrap();
            let want: Vec<u32> = plain
                .chunks_exact(2)
                .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])) + 1)
                .collect();
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut out = vec![0u32; want.len()];
                pool.install(|| {
                    plan.stream_into(&source, 1 << 20, &mut out, |bytes, values| {
                        assert_eq!(bytes.len(), values.len() * 2);
                        for (v, b) in values.iter_mut().zip(bytes.chunks_exact(2)) {
                            *v = u32::from(u16::from_le_bytes([b[0], b[1]])) + 1;
                        }
                        Ok(())
                    })
                })
                .unwrap();
                assert!(out == want, "{threads} threads");
            }
            let mut short = vec![0u32; want.len() - 1];
            assert!(
                plan.stream_into(&source, 1 << 20, &mut short, |_, _| Ok(()))
                    .is_err()
            );
        }
    }

    #[test]
    fn all_pieces_finds_a_difference_anywhere_on_any_number_of_threads() {
        let n = 10 << 20;
        let bytes: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
        let source = MemorySource::new(bytes.clone());
        let layout = DataLayout::new(vec![n / 4], 4, 0, Order::F);
        let plan = plan_read(&layout, &sel![..].canonicalize(&layout.shape).unwrap()).unwrap();
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for changed in [None, Some(0), Some(n / 2 + 3), Some(n - 1)] {
                let mut expected = bytes.clone();
                if let Some(i) = changed {
                    expected[i] ^= 1;
                }
                let same = pool
                    .install(|| {
                        plan.all_pieces(&source, 1 << 20, |at, got| {
                            assert_eq!(at % 4, 0);
                            Ok(got == &expected[at..at + got.len()])
                        })
                    })
                    .unwrap();
                assert_eq!(same, changed.is_none(), "{threads} threads, {changed:?}");
            }
        }
    }

    #[test]
    fn post_sliced_reads_in_pieces_equal_slicing_the_whole_array() {
        use ndarray::{ArrayD, IxDyn, ShapeBuilder, s};
        // 64×64×40×30 u16 = 9.8 MB: blocks of 320 KiB along the slow axis, 12 to a piece.
        let shape = [64usize, 64, 40, 30];
        let n: usize = shape.iter().product();
        let values: Vec<u16> = (0..n).map(|i| (i * 7 % 65_521) as u16).collect();
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let source = MemorySource::new(bytes);
        for order in [Order::F, Order::C] {
            let whole =
                ArrayD::from_shape_vec(IxDyn(&shape).set_f(order == Order::F), values.clone())
                    .unwrap();
            let layout = DataLayout::new(shape.to_vec(), 2, 0, order);
            let cases = [
                (
                    sel![..;3, 5, .., ..],
                    whole.slice(s![..;3, 5, .., ..]).to_owned().into_dyn(),
                ),
                (
                    sel![.., .., .., ..;-2],
                    whole.slice(s![.., .., .., ..;-2]).to_owned().into_dyn(),
                ),
                (
                    sel![1, .., 3..17, 4..29;5],
                    whole.slice(s![1, .., 3..17, 4..29;5]).to_owned().into_dyn(),
                ),
                (
                    sel![..;-1, 2, 7, ..],
                    whole.slice(s![..;-1, 2, 7, ..]).to_owned().into_dyn(),
                ),
                (
                    sel![.., ..;2, 1..;4, 3],
                    whole.slice(s![.., ..;2, 1..;4, 3]).to_owned().into_dyn(),
                ),
            ];
            // One thread, and the pieces split between two and three (`lanes_for`).
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut post_sliced = 0;
                for (k, (selection, want)) in cases.iter().enumerate() {
                    let plan =
                        plan_read(&layout, &selection.canonicalize(&shape).unwrap()).unwrap();
                    let mut out = vec![0u8; plan.output_bytes()];
                    pool.install(|| plan.read_into(&source, &mut out)).unwrap();
                    let got: Vec<u16> = out
                        .chunks_exact(2)
                        .map(|b| u16::from_le_bytes([b[0], b[1]]))
                        .collect();
                    assert_eq!(plan.output_shape(), want.shape(), "case {k}, {order:?}");
                    if plan.post_slicing().is_some() {
                        post_sliced += 1;
                    }
                    let want: Vec<u16> = match order {
                        Order::F => want.t().iter().copied().collect(),
                        Order::C => want.iter().copied().collect(),
                    };
                    assert_eq!(got, want, "case {k}, {order:?}, {threads} threads");
                }
                assert!(
                    post_sliced >= 3,
                    "{order:?}: only {post_sliced} cases read a span"
                );
            }
        }
    }
}

#[cfg(test)]
mod share_tests {
    use super::*;
    use crate::Order;
    use std::sync::Mutex;

    /// A remote-like source: reads on several threads, nothing to borrow, and a record of
    /// what it is told to prefetch.
    #[derive(Debug)]
    struct Announced {
        len: u64,
        prefetched: Mutex<Vec<(u64, u64)>>,
    }

    impl Source for Announced {
        fn len(&self) -> Result<u64> {
            Ok(self.len)
        }
        fn read_at(&self, _offset: u64, buf: &mut [u8]) -> Result<()> {
            buf.fill(7);
            Ok(())
        }
        fn parallel_reads(&self, _offset: u64, _end: u64) -> bool {
            true
        }
        fn prefetch(&self, offset: u64, end: u64) {
            self.prefetched.lock().unwrap().push((offset, end));
        }
    }

    #[test]
    fn each_threads_share_announces_only_its_own_bytes() {
        // 48 MiB after a 352-byte header, read by two threads: 24 MiB each.
        let n = 48 << 20;
        let layout = DataLayout::new(vec![n], 1, 352, Order::F);
        let plan = plan_read(
            &layout,
            &Selection::all().canonicalize(&layout.shape).unwrap(),
        )
        .unwrap();
        let source = Announced {
            len: 352 + n as u64,
            prefetched: Mutex::new(Vec::new()),
        };
        let mut out = vec![0u8; n];
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            plan.stream_into(&source, PIECE_BYTES, &mut out, |bytes, values| {
                values.copy_from_slice(bytes);
                Ok(())
            })
        })
        .unwrap();
        assert!(out.iter().all(|&v| v == 7));
        // Every byte is announced once: a thread announces none of the other's share.
        let mut prefetched = source.prefetched.into_inner().unwrap();
        prefetched.sort_unstable();
        for pair in prefetched.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "{pair:?} overlap: {prefetched:?}");
        }
        let announced: u64 = prefetched.iter().map(|(from, to)| to - from).sum();
        assert_eq!(announced, n as u64, "{prefetched:?}");
    }
}

#[cfg(test)]
mod in_place_tests {
    use super::*;
    use crate::Order;
    use crate::io::MemorySource;

    trait Wide: bytemuck::Pod + PartialEq + std::fmt::Debug {
        fn of(v: u32) -> Self;
    }
    impl Wide for f64 {
        fn of(v: u32) -> Self {
            f64::from(v)
        }
    }
    impl Wide for f32 {
        fn of(v: u32) -> Self {
            v as f32
        }
    }
    impl Wide for u32 {
        fn of(v: u32) -> Self {
            v
        }
    }

    /// Little-endian unsigned stored values widened to `T`, as a scaling conversion would.
    fn widen<T: Wide>(bytes: &[u8], values: &mut [T], size: usize) {
        assert_eq!(
            bytes.len(),
            values.len() * size,
            "a batch's bytes and values differ"
        );
        for (v, b) in values.iter_mut().zip(bytes.chunks_exact(size)) {
            let mut word = [0u8; 4];
            word[..size].copy_from_slice(b);
            *v = T::of(u32::from_le_bytes(word));
        }
    }

    fn check<T: Wide>(size: usize, count: usize, room: usize) -> bool {
        let offset = 40usize;
        let stored: Vec<u8> = (0..count * size)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
            .collect();
        let mut file = vec![0xeeu8; offset];
        file.extend_from_slice(&stored);
        let layout = DataLayout::new(vec![count], size, offset as u64, Order::F);
        let plan = plan_read(
            &layout,
            &Selection::all().canonicalize(&layout.shape).unwrap(),
        )
        .unwrap();
        let mut out = vec![T::of(0); count];
        let done = plan
            .read_then_convert_in_place(&MemorySource::new(file), room, &mut out, |b, v| {
                widen(b, v, size);
                Ok(())
            })
            .unwrap();
        if done {
            let mut expected = vec![T::of(0); count];
            widen(&stored, &mut expected, size);
            assert_eq!(
                out, expected,
                "{size}-byte values, {count} of them, room {room}"
            );
        }
        done
    }

    #[test]
    fn wider_values_are_converted_in_place_in_every_batch() {
        // Sizes around the copied rest (64 KiB of stored bytes) and the first batch's end.
        for count in [1, 3, 1000, 32 * 1024, 65_537, 300_001, 1 << 20] {
            for room in [0, 352] {
                let fits = |wide: usize, size: usize| count * (wide - size) >= room;
                assert_eq!(check::<f64>(1, count, room), fits(8, 1));
                assert_eq!(check::<f64>(2, count, room), fits(8, 2));
                assert_eq!(check::<f64>(4, count, room), fits(8, 4));
                assert_eq!(check::<f32>(1, count, room), fits(4, 1));
                assert_eq!(check::<f32>(2, count, room), fits(4, 2));
            }
        }
    }

    #[test]
    fn values_no_wider_than_the_stored_ones_are_left_to_other_reads() {
        assert!(!check::<f32>(4, 1000, 0));
        assert!(!check::<u32>(4, 1000, 0));
    }
}
