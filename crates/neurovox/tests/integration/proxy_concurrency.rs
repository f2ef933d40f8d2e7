//! One proxy, many threads; gzip reads that decompress only what they need; memory-mapping
//! modes and their fallbacks.

// Helpers shared by the tests unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use crate::common;
use common::Rng;

use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use neurovox::array::slice_array;
use neurovox::array::{Selection, SliceItem};
use neurovox::format::Header;
use neurovox::image::{DataObj, Image};
use neurovox::image::{MmapMode, ProxyOptions};
use neurovox::io::gzip::DEFAULT_SPAN;
use neurovox::{ByteOrder, DataType, ImageFormat};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes a 4-D int16 NIfTI (values from a hash of the index, so every voxel differs) as
/// `.nii` and `.nii.gz`; returns both paths and the expected array.
fn write_image(dir: &Path, shape: [usize; 4]) -> (PathBuf, PathBuf, ArrayD<i16>) {
    let values = ArrayD::from_shape_fn(IxDyn(&shape).f(), |ix| {
        let h = (ix[0] * 73_856_093)
            ^ (ix[1] * 19_349_663)
            ^ (ix[2] * 83_492_791)
            ^ (ix[3] * 2_654_435_761);
        (h % 65_521) as i16
    });
    let mut h = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
    h.set_data_shape(&shape).unwrap();
    h.set_data_dtype(DataType::Int16).unwrap();
    let mut bytes = h.to_prefix_bytes().unwrap();
    for v in values.t().iter() {
        // values.t() in C order walks the original in Fortran order.
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let nii = dir.join("img.nii");
    std::fs::write(&nii, &bytes).unwrap();
    let gz = dir.join("img.nii.gz");
    // Level 6: zlib-rs at level 1 writes one deflate block for the whole stream, which leaves
    // no block boundary for checkpoints (see io::gzip's module docs); stock zlib, as nibabel
    // and gzip use it, ends blocks every few tens of KiB at every level.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    enc.write_all(&bytes).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    (nii, gz, values)
}

/// A random valid selection: an index, or a slice with a random step, per axis.
fn random_selection(rng: &mut Rng, shape: &[usize]) -> Selection {
    let items = shape
        .iter()
        .map(|&n| {
            if rng.below(3) == 0 {
                SliceItem::Index(
                    rng.below(n) as isize - if rng.below(2) == 0 { n as isize } else { 0 },
                )
            } else {
                let step = [1, 1, 2, 3, -1, -2][rng.below(6)];
                let start = Some(rng.below(n) as isize);
                SliceItem::Slice {
                    start,
                    stop: None,
                    step,
                }
            }
        })
        .collect::<Vec<_>>();
    Selection::from(items)
}

fn check_threads(img: &Image, expected: &ArrayD<i16>, seed: u64) {
    let expected = neurovox::array::DynArray::from_array(expected.clone());
    std::thread::scope(|scope| {
        for thread in 0..16u64 {
            let expected = &expected;
            scope.spawn(move || {
                let mut rng = Rng(seed + thread * 7919 + 1);
                for _ in 0..40 {
                    let sel = random_selection(&mut rng, expected.shape());
                    let want = slice_array(expected, &sel.canonicalize(expected.shape()).unwrap())
                        .unwrap();
                    let got = img.dataobj().read(&sel).unwrap();
                    assert_eq!(got, want, "thread {thread}, selection {sel}");
                }
            });
        }
    });
}

/// 16 threads reading random selections from one proxy get correct data: plain file by
/// positioned reads, a memory map, and gzip through the shared checkpoint index.
#[test]
fn sixteen_threads_read_one_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let (nii, gz, expected) = write_image(dir.path(), [20, 18, 16, 12]);
    for (path, keep_open) in [(&nii, false), (&nii, true), (&gz, false)] {
        let options = ProxyOptions {
            mmap: MmapMode::No,
            keep_file_open: Some(keep_open),
            ..Default::default()
        };
        let img = Image::load_with(path, options).unwrap();
        check_threads(&img, &expected, 17);
    }
    // Threads reading through one memory map.
    let img = Image::load_with(
        &nii,
        ProxyOptions {
            mmap: MmapMode::ReadOnly,
            keep_file_open: None,
            ..Default::default()
        },
    )
    .unwrap();
    let DataObj::Proxy(proxy) = img.dataobj() else {
        unreachable!()
    };
    let map = proxy.memmap().unwrap().expect("an uncompressed file maps");
    let mapped = map.to_dyn_array();
    std::thread::scope(|scope| {
        for t in 0..16 {
            let mapped = &mapped;
            let expected = &expected;
            scope.spawn(move || {
                let v = mapped.get_f64(&[t % 20, t % 18, t % 16, t % 12]).unwrap();
                assert_eq!(v, f64::from(expected[[t % 20, t % 18, t % 16, t % 12]]));
            });
        }
    });
}

/// Reading one late volume of a .nii.gz twice: the second read decompresses less than two
/// checkpoint spans, shown by the source's counter of inflated bytes (not by timing).
#[test]
fn second_read_of_a_late_volume_inflates_little() {
    let dir = tempfile::tempdir().unwrap();
    // 96×96×40×30 int16: 22 MB decompressed, many spans.
    let (_, gz, expected) = write_image(dir.path(), [96, 96, 40, 30]);
    let img = neurovox::load(&gz).unwrap();
    let DataObj::Proxy(proxy) = img.dataobj() else {
        unreachable!()
    };
    let late = Selection::from(vec![SliceItem::Ellipsis, SliceItem::Index(27)]);
    let first = proxy.read(&late).unwrap();
    let after_first = proxy.source().inflated_bytes();
    let second = proxy.read(&late).unwrap();
    let second_cost = proxy.source().inflated_bytes() - after_first;
    assert_eq!(first, second);
    let want = slice_array(
        &neurovox::array::DynArray::from_array(expected),
        &late.canonicalize(&[96, 96, 40, 30]).unwrap(),
    )
    .unwrap();
    assert_eq!(first, want);
    let volume_bytes = 96 * 96 * 40 * 2;
    assert!(
        second_cost < volume_bytes + 2 * DEFAULT_SPAN,
        "second read inflated {second_cost} bytes for a {volume_bytes}-byte volume (span {DEFAULT_SPAN})"
    );
    // The first read indexed the file only as far as the volume it needed.
    let end_of_volume = 352 + 28 * volume_bytes;
    assert!(
        after_first <= end_of_volume + DEFAULT_SPAN,
        "first read inflated {after_first}, volume ends at {end_of_volume}"
    );
}

/// nibabel's mmap modes: True/'c' map copy-on-write, 'r' read-only, False never; compressed
/// files silently read instead.
#[test]
fn mmap_modes_and_their_fallbacks() {
    let dir = tempfile::tempdir().unwrap();
    let (nii, gz, expected) = write_image(dir.path(), [6, 5, 4, 3]);
    let load = |path: &Path, mmap| {
        Image::load_with(
            path,
            ProxyOptions {
                mmap,
                keep_file_open: None,
                ..Default::default()
            },
        )
        .unwrap()
    };
    for (mode, want) in [
        (
            MmapMode::CopyOnWrite,
            Some(neurovox::numpy::memmap::MapMode::CopyOnWrite),
        ),
        (
            MmapMode::ReadOnly,
            Some(neurovox::numpy::memmap::MapMode::Read),
        ),
        (MmapMode::No, None),
    ] {
        let img = load(&nii, mode);
        let DataObj::Proxy(p) = img.dataobj() else {
            unreachable!()
        };
        let map = p.memmap().unwrap();
        match (map, want) {
            (Some(neurovox::image::DynMemmap::I16(m)), Some(w)) => {
                assert_eq!(m.mode(), w);
                assert_eq!(m.to_array(), expected.clone());
            }
            (None, None) => {}
            (m, w) => panic!("mode {mode:?}: got {m:?}, wanted {w:?}"),
        }
    }
    let img = load(&gz, MmapMode::CopyOnWrite);
    let DataObj::Proxy(p) = img.dataobj() else {
        unreachable!()
    };
    assert!(
        p.memmap().unwrap().is_none(),
        "gzip cannot be mapped: read instead"
    );
    assert_eq!(
        p.read(neurovox::array::Selection::all()).unwrap(),
        neurovox::array::DynArray::from_array(expected)
    );
}
