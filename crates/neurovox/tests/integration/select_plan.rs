//! Selections read through the planner agree with a direct reference implementation.
//!
//! * Thousands of random selections (deterministic seed) over shapes from 0-D to 5-D, item sizes
//!   1 to 16, C and F order and two offsets, each compared element by element with a reference
//!   that maps every output element to its source element directly.
//! * nibabel's `test_fileslice` samples (`slicer_samples` on (15,), (15, 16), (15, 16, 17)).
//! * Plans never read more than the array, and one late volume of a 4-D F-order array reads
//!   exactly that volume.
//! * Bad selections are Usage errors, never panics.

// A panic in a test helper is a failed test.
#![allow(clippy::unwrap_used)]

use neurovox::Order;
use neurovox::array::{DataLayout, output_len, plan_read, read_selection, read_selection_into};
use neurovox::array::{Selection, SliceItem};
use neurovox::io::MemorySource;
use neurovox::{ErrorKind, sel};

/// SplitMix64: a small deterministic generator, so the test needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A value in `lo..=hi`.
    fn range(&mut self, lo: isize, hi: isize) -> isize {
        lo + (self.next() % (hi - lo + 1) as u64) as isize
    }

    fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }

    fn pick<T: Copy>(&mut self, options: &[T]) -> T {
        options[self.below(options.len())]
    }
}

/// The data bytes of an array: a hash of the byte position, so a misplaced element shows.
fn pattern(n_bytes: usize) -> Vec<u8> {
    let mut rng = Rng(0xDA7A);
    (0..n_bytes).map(|_| rng.next() as u8).collect()
}

/// A source holding `offset` filler bytes, then the array's bytes.
fn source_for(layout: &DataLayout) -> (MemorySource, Vec<u8>) {
    let n = layout.shape.iter().product::<usize>() * layout.itemsize;
    let data = pattern(n);
    let mut file = vec![0xEE; layout.offset as usize];
    file.extend_from_slice(&data);
    (MemorySource::new(file), data)
}

/// The positions Python's `range(dim)[start:stop:step]` holds, by walking; `None` for step 0.
fn py_slice(
    start: Option<isize>,
    stop: Option<isize>,
    step: isize,
    dim: usize,
) -> Option<Vec<usize>> {
    if step == 0 {
        return None;
    }
    let n = dim as i128;
    let norm = |v: isize| if v < 0 { v as i128 + n } else { v as i128 };
    let mut out = Vec::new();
    if step > 0 {
        let mut i = start.map_or(0, norm).max(0);
        let end = stop.map_or(n, norm).min(n);
        while i < end {
            out.push(i as usize);
            i += step as i128;
        }
    } else {
        let mut i = start.map_or(n - 1, norm).min(n - 1);
        let end = stop.map_or(-1, norm).max(-1);
        while i > end {
            out.push(i as usize);
            i += step as i128;
        }
    }
    Some(out)
}

/// Why numpy would reject a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Reject {
    TwoEllipses,
    TooMany,
    OutOfRange,
    ZeroStep,
}

/// One output axis of the reference: a new axis, or the source positions along an array axis.
enum OutAxis {
    New,
    Along(usize, Vec<usize>),
}

/// numpy's basic indexing, written directly: the output axes and the fixed position of every
/// dropped array axis.
type Resolved = (Vec<OutAxis>, Vec<Option<usize>>);

fn reference(shape: &[usize], items: &[SliceItem]) -> Result<Resolved, Reject> {
    let n_ell = items.iter().filter(|i| **i == SliceItem::Ellipsis).count();
    if n_ell > 1 {
        return Err(Reject::TwoEllipses);
    }
    let n_real = items.iter().filter(|i| i.is_real()).count();
    if n_real > shape.len() {
        return Err(Reject::TooMany);
    }
    let mut expanded = Vec::new();
    for item in items {
        if *item == SliceItem::Ellipsis {
            expanded.extend(std::iter::repeat_n(SliceItem::full(), shape.len() - n_real));
        } else {
            expanded.push(*item);
        }
    }
    let used = expanded.iter().filter(|i| i.is_real()).count();
    expanded.extend(std::iter::repeat_n(SliceItem::full(), shape.len() - used));

    let mut out = Vec::new();
    let mut fixed = vec![None; shape.len()];
    let mut axis = 0;
    for item in expanded {
        match item {
            SliceItem::NewAxis => out.push(OutAxis::New),
            SliceItem::Index(i) => {
                let dim = shape[axis] as i128;
                let j = if i < 0 { i as i128 + dim } else { i as i128 };
                if j < 0 || j >= dim {
                    return Err(Reject::OutOfRange);
                }
                fixed[axis] = Some(j as usize);
                axis += 1;
            }
            SliceItem::Slice { start, stop, step } => {
                let pos = py_slice(start, stop, step, shape[axis]).ok_or(Reject::ZeroStep)?;
                out.push(OutAxis::Along(axis, pos));
                axis += 1;
            }
            SliceItem::Ellipsis => unreachable!(),
        }
    }
    Ok((out, fixed))
}

fn out_len_of(axis: &OutAxis) -> usize {
    match axis {
        OutAxis::New => 1,
        OutAxis::Along(_, pos) => pos.len(),
    }
}

/// The linear position of multi-index `idx` in an array of `shape` stored in `order`.
fn linear(idx: &[usize], shape: &[usize], order: Order) -> usize {
    let axes: Vec<usize> = match order {
        Order::F => (0..shape.len()).collect(),
        Order::C => (0..shape.len()).rev().collect(),
    };
    let mut lin = 0;
    let mut stride = 1;
    for k in axes {
        lin += idx[k] * stride;
        stride *= shape[k];
    }
    lin
}

/// The multi-index of linear position `lin` in an array of `shape` stored in `order`.
fn unravel(mut lin: usize, shape: &[usize], order: Order) -> Vec<usize> {
    let axes: Vec<usize> = match order {
        Order::F => (0..shape.len()).collect(),
        Order::C => (0..shape.len()).rev().collect(),
    };
    let mut idx = vec![0; shape.len()];
    for k in axes {
        idx[k] = lin % shape[k];
        lin /= shape[k];
    }
    idx
}

/// The expected output shape and bytes, element by element.
fn expected(layout: &DataLayout, data: &[u8], resolved: &Resolved) -> (Vec<usize>, Vec<u8>) {
    let (axes, fixed) = resolved;
    let out_shape: Vec<usize> = axes.iter().map(out_len_of).collect();
    let n: usize = out_shape.iter().product();
    let size = layout.itemsize;
    let mut bytes = Vec::with_capacity(n * size);
    for lin in 0..n {
        let out_idx = unravel(lin, &out_shape, layout.order);
        let mut src_idx: Vec<usize> = fixed.iter().map(|f| f.unwrap_or(0)).collect();
        for (axis, &k) in axes.iter().zip(&out_idx) {
            if let OutAxis::Along(a, pos) = axis {
                src_idx[*a] = pos[k];
            }
        }
        let at = linear(&src_idx, &layout.shape, layout.order) * size;
        bytes.extend_from_slice(&data[at..at + size]);
    }
    (out_shape, bytes)
}

/// True if the resolved key is the whole array as it is.
fn is_identity(shape: &[usize], resolved: &Resolved) -> bool {
    let (axes, fixed) = resolved;
    fixed.iter().all(Option::is_none)
        && axes.len() == shape.len()
        && axes.iter().enumerate().all(|(k, a)| match a {
            OutAxis::Along(axis, pos) => *axis == k && pos.iter().copied().eq(0..shape[k]),
            OutAxis::New => false,
        })
}

/// Reads `items` from a source over `layout` and checks everything against the reference.
/// Returns the rejection, if the key is invalid.
fn check_case(
    layout: &DataLayout,
    (source, data): &(MemorySource, Vec<u8>),
    items: &[SliceItem],
) -> Result<(), Reject> {
    let selection = Selection::new(items.to_vec());
    let ctx = || {
        format!(
            "{selection} on {:?} {:?} itemsize {}",
            layout.shape, layout.order, layout.itemsize
        )
    };
    let resolved = match reference(&layout.shape, items) {
        Ok(r) => r,
        Err(why) => {
            check_rejected(layout, source, &selection, &ctx());
            return Err(why);
        }
    };
    let (want_shape, want_bytes) = expected(layout, data, &resolved);
    let n = output_len(layout, &selection).unwrap();
    assert_eq!(n, want_bytes.len(), "{}", ctx());
    let mut out = vec![0u8; n];
    let shape = read_selection_into(source, layout, &selection, &mut out).unwrap();
    assert_eq!(shape, want_shape, "{}", ctx());
    assert!(out == want_bytes, "wrong bytes for {}", ctx());
    assert_eq!(
        selection.output_shape(&layout.shape).unwrap(),
        want_shape,
        "{}",
        ctx()
    );
    let full = selection.is_full(&layout.shape).unwrap();
    assert_eq!(full, is_identity(&layout.shape, &resolved), "{}", ctx());
    check_plan(layout, &selection, &ctx());
    let mut wrong = vec![0u8; n + 1];
    let e = read_selection_into(source, layout, &selection, &mut wrong).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage, "{}", ctx());
    Ok(())
}

/// Every entry point gives a Usage error for a key numpy rejects.
fn check_rejected(layout: &DataLayout, source: &MemorySource, selection: &Selection, ctx: &str) {
    let kinds = [
        selection
            .canonicalize(&layout.shape)
            .map(|_| ())
            .unwrap_err()
            .kind(),
        selection
            .output_shape(&layout.shape)
            .map(|_| ())
            .unwrap_err()
            .kind(),
        selection
            .is_full(&layout.shape)
            .map(|_| ())
            .unwrap_err()
            .kind(),
        output_len(layout, selection)
            .map(|_| ())
            .unwrap_err()
            .kind(),
        read_selection_into(source, layout, selection, &mut [])
            .map(|_| ())
            .unwrap_err()
            .kind(),
    ];
    assert!(
        kinds.iter().all(|k| *k == ErrorKind::Usage),
        "{ctx}: {kinds:?}"
    );
}

/// The plan reads inside the array, no more than the array, and at least the output.
fn check_plan(layout: &DataLayout, selection: &Selection, ctx: &str) {
    let plan = plan_read(layout, &selection.canonicalize(&layout.shape).unwrap()).unwrap();
    let total = layout.n_bytes().unwrap();
    assert!(
        plan.bytes_to_read() <= total,
        "{ctx}: reads {} of {total}",
        plan.bytes_to_read()
    );
    let out_bytes = plan.output_bytes() as u64;
    assert!(plan.bytes_to_read() >= out_bytes, "{ctx}");
    if out_bytes == 0 {
        assert!(plan.segments().is_empty(), "{ctx}");
        return;
    }
    let read_elems: usize = plan.read_shape().iter().product();
    assert_eq!(
        plan.bytes_to_read(),
        (read_elems * layout.itemsize) as u64,
        "{ctx}"
    );
    for &(off, len) in plan.segments() {
        assert!(
            len > 0 && off >= layout.offset && off + len as u64 <= layout.offset + total,
            "{ctx}"
        );
    }
    // Segments are merged when they touch.
    for w in plan.segments().windows(2) {
        assert_ne!(w[0].0 + w[0].1 as u64, w[1].0, "{ctx}: unmerged segments");
    }
}

/// A random index for an axis of `dim`, sometimes out of range.
fn random_index(rng: &mut Rng, dim: usize) -> SliceItem {
    let d = dim as isize;
    if dim == 0 || rng.percent(5) {
        let bad = [d, d + 1, -d - 1, -d - 7, isize::MAX, isize::MIN];
        return SliceItem::Index(rng.pick(&bad));
    }
    SliceItem::Index(rng.range(-d, d - 1))
}

/// A random slice bound for an axis of `dim`: omitted, inside, beyond either end, or extreme.
fn random_bound(rng: &mut Rng, dim: usize) -> Option<isize> {
    let d = dim as isize;
    if rng.percent(30) {
        return None;
    }
    if rng.percent(3) {
        return Some(rng.pick(&[isize::MIN, isize::MAX]));
    }
    Some(rng.range(-d - 3, d + 3))
}

/// A random slice for an axis of `dim`: steps of both signs, small and larger than the axis.
fn random_slice(rng: &mut Rng, dim: usize) -> SliceItem {
    let d = dim as isize;
    let steps = [1, 1, 1, 1, 2, 3, -1, -1, -1, -2, -3, d + 1, -(d + 1)];
    let step = if rng.percent(1) { 0 } else { rng.pick(&steps) };
    SliceItem::slice(random_bound(rng, dim), random_bound(rng, dim), step)
}

/// The axis lengths that the `n_real` index/slice items will most likely meet, given the
/// Ellipsis (if any) after `before` of them.
fn target_dims(shape: &[usize], n_real: usize, ellipsis_at: Option<usize>) -> Vec<usize> {
    let ndim = shape.len();
    (0..n_real)
        .map(|k| {
            let axis = match ellipsis_at {
                Some(p) if k >= p => (ndim + k).checked_sub(n_real),
                _ => Some(k),
            };
            axis.and_then(|a| shape.get(a).copied()).unwrap_or(3)
        })
        .collect()
}

/// A random key for `shape`: indices, slices, maybe an Ellipsis (rarely two), new axes,
/// rarely one index too many.
fn random_key(rng: &mut Rng, shape: &[usize]) -> Vec<SliceItem> {
    let ndim = shape.len();
    let n_real = if rng.percent(3) {
        ndim + 1
    } else {
        rng.below(ndim + 1)
    };
    let ellipsis_at = rng.percent(35).then(|| rng.below(n_real + 1));
    let mut items: Vec<SliceItem> = target_dims(shape, n_real, ellipsis_at)
        .into_iter()
        .map(|d| {
            if rng.percent(35) {
                random_index(rng, d)
            } else {
                random_slice(rng, d)
            }
        })
        .collect();
    if let Some(p) = ellipsis_at {
        items.insert(p, SliceItem::Ellipsis);
        if rng.percent(4) {
            let q = rng.below(items.len() + 1);
            items.insert(q, SliceItem::Ellipsis);
        }
    }
    for _ in 0..3 {
        if rng.percent(15) {
            let q = rng.below(items.len() + 1);
            items.insert(q, SliceItem::NewAxis);
        }
    }
    items
}

const SHAPES: &[&[usize]] = &[
    &[],
    &[7],
    &[1],
    &[0],
    &[40],
    &[5, 1],
    &[4, 3],
    &[1, 6],
    &[17, 33],
    &[3, 0, 2],
    &[3, 4, 5],
    &[2, 1, 3],
    &[6, 5, 4],
    &[40, 3, 4],
    &[4, 3, 2, 3],
    &[1, 1, 1, 1],
    &[2, 3, 1, 2, 3],
    &[1, 4, 1, 3, 1],
];

#[test]
fn random_selections_match_the_reference() {
    const CASES: usize = 6000;
    let mut rng = Rng(20_240_611);
    let mut valid = 0;
    let mut rejected = std::collections::HashMap::new();
    for _ in 0..CASES {
        let shape = rng.pick(SHAPES).to_vec();
        let itemsize = rng.pick(&[1, 2, 4, 8, 16]);
        let order = rng.pick(&[Order::C, Order::F]);
        let offset = rng.pick(&[0, 352]);
        let layout = DataLayout::new(shape.clone(), itemsize, offset, order);
        let key = random_key(&mut rng, &shape);
        match check_case(&layout, &source_for(&layout), &key) {
            Ok(()) => valid += 1,
            Err(why) => *rejected.entry(why).or_insert(0) += 1,
        }
    }
    assert!(valid >= 2000, "only {valid} valid selections");
    for why in [
        Reject::TwoEllipses,
        Reject::TooMany,
        Reject::OutOfRange,
        Reject::ZeroStep,
    ] {
        assert!(
            rejected.get(&why).copied().unwrap_or(0) > 0,
            "no {why:?} case: {rejected:?}"
        );
    }
    println!("{valid} valid selections, rejected: {rejected:?}");
}

/// nibabel's `_slices_for_len`.
fn slices_for_len(l: usize) -> Vec<SliceItem> {
    let li = l as isize;
    let mut v = vec![
        SliceItem::Index(0),
        SliceItem::Index(li / 2),
        SliceItem::Index(li - 1),
        SliceItem::Index(-1),
        SliceItem::full(),
        SliceItem::slice(None, Some(li - 1), 1),
    ];
    if l > 1 {
        v.extend([
            SliceItem::Index(-2),
            SliceItem::slice(Some(1), Some(li - 1), 1),
            SliceItem::slice(Some(1), Some(li - 1), 2),
            SliceItem::slice(Some(li - 1), Some(1), -1),
            SliceItem::slice(Some(li - 1), Some(1), -2),
        ]);
    }
    v
}

/// nibabel's `slicer_samples`: products of `slices_for_len` over the leading axes, then keys
/// with new axes and ellipses.
fn slicer_samples(shape: &[usize]) -> Vec<Vec<SliceItem>> {
    let mut out = Vec::new();
    let mut products: Vec<Vec<SliceItem>> = vec![vec![]];
    for &dim in shape {
        products = products
            .iter()
            .flat_map(|p| {
                slices_for_len(dim).into_iter().map(move |s| {
                    let mut q = p.clone();
                    q.push(s);
                    q
                })
            })
            .collect();
        out.extend(products.iter().cloned());
    }
    use SliceItem::{Ellipsis as E, Index as I, NewAxis as N};
    let sn = SliceItem::full();
    out.push(vec![N]);
    out.extend([
        vec![N, I(0)],
        vec![I(0), N],
        vec![E, I(-1)],
        vec![I(-1), E],
        vec![N, E],
        vec![E, N],
        vec![E, N, N],
    ]);
    if shape.len() > 1 {
        out.extend([vec![I(0), N, sn], vec![E, I(-1), N], vec![I(0), E, N]]);
    }
    if shape.len() > 2 {
        out.push(vec![sn, I(0), I(-1), N]);
    }
    out
}

// test_fileslice.test_fileslice: every sample, F and C, offsets 0 and 20, int64 elements.
#[test]
fn nibabel_fileslice_samples() {
    let mut n = 0;
    for shape in [&[15][..], &[15, 16], &[15, 16, 17]] {
        for order in [Order::F, Order::C] {
            for offset in [0, 20] {
                let layout = DataLayout::new(shape.to_vec(), 8, offset, order);
                let source = source_for(&layout);
                for key in slicer_samples(shape) {
                    check_case(&layout, &source, &key).unwrap();
                    n += 1;
                }
            }
        }
    }
    // 1-D: 11 + 8, 2-D: 11 + 121 + 11, 3-D: 11 + 121 + 1331 + 12; × 2 orders × 2 offsets.
    assert_eq!(n, 4 * (3 * 11 + 2 * 121 + 1331 + 3 * 8 + 2 * 3 + 1));
}

#[test]
fn one_late_volume_reads_only_that_volume() {
    let layout = DataLayout::new(vec![64, 64, 30, 20], 2, 352, Order::F);
    let vol = 64 * 64 * 30 * 2;
    for t in [5usize, 12, 18, 19] {
        let ti = t as isize;
        let back = ti - 20;
        for s in [
            sel![.., .., .., t],
            sel![..., ti],
            sel![..., back],
            sel![..., t..t + 1],
            sel![.., .., .., ti..=ti],
        ] {
            let plan = plan_read(&layout, &s.canonicalize(&layout.shape).unwrap()).unwrap();
            assert_eq!(plan.segments(), &[(352 + (t * vol) as u64, vol)], "{s}");
            assert_eq!(plan.bytes_to_read(), vol as u64);
            assert!(plan.post_slicing().is_none());
        }
    }
    // A run of volumes is one segment too.
    let plan = plan_read(
        &layout,
        &sel![..., 15..18].canonicalize(&layout.shape).unwrap(),
    )
    .unwrap();
    assert_eq!(plan.segments(), &[(352 + (15 * vol) as u64, 3 * vol)]);
    // Read through a source: a small 4-D array, its last volume.
    let small = DataLayout::new(vec![8, 7, 5, 12], 4, 352, Order::F);
    let (source, data) = source_for(&small);
    let vol = 8 * 7 * 5 * 4;
    let (bytes, shape) = read_selection(&source, &small, &sel![..., -1]).unwrap();
    assert_eq!(shape, vec![8, 7, 5]);
    assert_eq!(bytes, &data[11 * vol..]);
    let plan = plan_read(&small, &sel![..., -1].canonicalize(&small.shape).unwrap()).unwrap();
    assert_eq!(plan.segments(), &[(352 + 11 * vol as u64, vol)]);
}

#[test]
fn bad_keys_are_usage_errors() {
    let layout = DataLayout::new(vec![2, 3, 4], 2, 0, Order::F);
    let (source, _) = source_for(&layout);
    let cases = [
        (sel![2], "index 2 is out of bounds for axis 0 with size 2"),
        (sel![-3], "index -3 is out of bounds for axis 0 with size 2"),
        (sel![-5], "index -5 is out of bounds for axis 0 with size 2"),
        (
            sel![0, 0, -9],
            "index -9 is out of bounds for axis 2 with size 4",
        ),
        (sel![..;0], "slice step cannot be zero"),
        (
            sel![0, 0, 0, 0],
            "too many indices for array: array is 3-dimensional, but 4 were indexed",
        ),
        (
            sel![..., ...],
            "More than one Ellipsis in slicing expression",
        ),
    ];
    for (s, msg) in cases {
        let e = read_selection(&source, &layout, &s).unwrap_err();
        assert_eq!((e.kind(), e.message()), (ErrorKind::Usage, msg), "{s}");
    }
    // An empty slice is fine: shape (0, 3, 4), like numpy and nibabel.
    let (bytes, shape) = read_selection(&source, &layout, &sel![1..1]).unwrap();
    assert_eq!((bytes.len(), shape), (0, vec![0, 3, 4]));
}

#[test]
fn conversions_and_macro_agree() {
    assert_eq!(Selection::from(2usize), sel![2]);
    assert_eq!(Selection::from(-2isize), sel![-2]);
    assert_eq!(Selection::from(1..3), sel![1..3]);
    assert_eq!(Selection::from(1usize..), sel![1..]);
    assert_eq!(Selection::from(..3isize), sel![..3]);
    assert_eq!(Selection::from(..), sel![..]);
    assert_eq!(Selection::from(0..=2), sel![0..3]);
    assert_eq!(Selection::from(vec![SliceItem::Ellipsis]), sel![...]);
    assert_eq!(Selection::all().output_shape(&[2, 3]).unwrap(), vec![2, 3]);
    assert_eq!(
        sel![...].canonicalize(&[2, 3]).unwrap(),
        Selection::all().canonicalize(&[2, 3]).unwrap()
    );
}

/// A random element of ndarray's `s![]` for an axis of `dim`, with bounds ndarray accepts.
fn random_ndarray_elem(rng: &mut Rng, dim: usize) -> ndarray::SliceInfoElem {
    let d = dim as isize;
    if rng.percent(30) {
        return ndarray::SliceInfoElem::Index(rng.range(-d, d - 1));
    }
    let end = (!rng.percent(30)).then(|| rng.range(-d, d));
    let step = rng.pick(&[1, 1, 2, 3, -1, -1, -2, -3]);
    ndarray::SliceInfoElem::Slice {
        start: rng.range(-d, d),
        end,
        step,
    }
}

// ndarray is a second oracle: its `s![]` semantics, converted, read from a file.
#[test]
fn ndarray_slices_match_ndarray() {
    use ndarray::{ArrayD, IxDyn, ShapeBuilder, SliceInfo, SliceInfoElem};
    let mut rng = Rng(77);
    let shapes: &[&[usize]] = &[&[9], &[4, 7], &[3, 1, 5], &[5, 4, 3, 2], &[2, 3, 1, 2, 3]];
    for case in 0..1500 {
        let shape = rng.pick(shapes);
        let order = if case % 2 == 0 { Order::C } else { Order::F };
        let n: usize = shape.iter().product();
        let values: Vec<u16> = (0..n as u16).map(|v| v.wrapping_mul(40_503)).collect();
        let arr = match order {
            Order::C => ArrayD::from_shape_vec(IxDyn(shape), values).unwrap(),
            Order::F => ArrayD::from_shape_vec(IxDyn(shape).f(), values).unwrap(),
        };
        let mut file = vec![0u8; 352];
        file.extend(
            arr.as_slice_memory_order()
                .unwrap()
                .iter()
                .flat_map(|v| v.to_le_bytes()),
        );
        let mut elems: Vec<SliceInfoElem> = shape
            .iter()
            .map(|&d| random_ndarray_elem(&mut rng, d))
            .collect();
        if rng.percent(20) {
            let at = rng.below(elems.len() + 1);
            elems.insert(at, SliceInfoElem::NewAxis);
        }
        let info = SliceInfo::<_, IxDyn, IxDyn>::try_from(elems).unwrap();
        let view = arr.slice(&info);
        let want: Vec<u16> = match order {
            Order::C => view.iter().copied().collect(),
            Order::F => view.t().iter().copied().collect(),
        };
        let layout = DataLayout::new(shape.to_vec(), 2, 352, order);
        let selection = Selection::from(&info);
        let (bytes, out_shape) =
            read_selection(&MemorySource::new(file), &layout, &selection).unwrap();
        assert_eq!(out_shape, view.shape(), "{selection}");
        let got: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(got, want, "{selection} on {shape:?} {order:?}");
    }
}
