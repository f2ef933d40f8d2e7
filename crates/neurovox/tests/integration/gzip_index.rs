//! Persisted gzip indexes (issue 13): an index written by one source is found by the next
//! source over the same file, serves late reads without a first pass (shown by
//! `inflated_bytes`, never by timing) and full reads that still check the CRC32; a stale,
//! truncated, damaged or foreign index is detected and ignored, never trusted.

#![allow(clippy::unwrap_used)]

use neurovox::io::gzip::index_file;
use neurovox::io::{GzipSource, Source};
use std::io::Write;
use std::path::{Path, PathBuf};

const SPAN: u64 = 64 * 1024;

/// int16-like data that compresses as scans do, different for each seed.
fn data(n: usize, seed: u32) -> Vec<u8> {
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            if (i / 4096) % 3 == 0 {
                0
            } else {
                ((i / 7) as u8).wrapping_add((s % 5) as u8)
            }
        })
        .collect()
}

fn gz_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, e.finish().unwrap()).unwrap();
    path
}

fn index(path: &Path) -> PathBuf {
    let sidecar = index_file::sidecar_path(path);
    GzipSource::with_span(path, SPAN)
        .unwrap()
        .write_index(&sidecar)
        .unwrap();
    sidecar
}

/// `len` bytes of [`data`] gzipped as another tool would as `run.nii.gz`, with its index
/// file written beside it: the directory, the file and its uncompressed bytes.
fn indexed_file(len: usize, seed: u32) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let want = data(len, seed);
    let path = gz_file(dir.path(), "run.nii.gz", &want);
    index(&path);
    (dir, path, want)
}

fn read_all(source: &GzipSource, len: usize) -> neurovox::Result<Vec<u8>> {
    // As a proxy reads: the header first, then the data in pieces.
    let mut out = vec![0u8; len];
    source.read_at(0, &mut out[..348])?;
    read_in_pieces(source, &mut out[352..], 352, 300_000)?;
    source.read_at(348, &mut out[348..352])?;
    Ok(out)
}

/// Fills `out` with the bytes from `offset` in consecutive reads of `piece` bytes.
fn read_in_pieces(
    source: &GzipSource,
    out: &mut [u8],
    offset: u64,
    piece: usize,
) -> neurovox::Result<()> {
    let mut at = offset;
    for part in out.chunks_mut(piece) {
        source.read_at(at, part)?;
        at += part.len() as u64;
    }
    Ok(())
}

#[test]
fn a_written_index_is_found_and_serves_late_and_full_reads() {
    let dir = tempfile::tempdir().unwrap();
    let want = data(3_000_000, 1);
    let path = gz_file(dir.path(), "run.nii.gz", &want);
    let sidecar = index(&path);
    assert!(sidecar.ends_with("run.nii.gz.nvgzidx"));

    let source = GzipSource::open(&path).unwrap();
    assert_eq!(source.index_origin(), Some(sidecar.as_path()));
    assert!(source.index_stats().complete);
    assert_eq!(source.len().unwrap(), want.len() as u64);
    // A late read inflates at most its length plus one checkpoint interval.
    let mut late = vec![0u8; 50_000];
    source.read_at(2_900_000, &mut late).unwrap();
    assert!(late == want[2_900_000..2_950_000]);
    assert!(
        source.inflated_bytes() <= 50_000 + SPAN + SPAN / 2,
        "{}",
        source.inflated_bytes()
    );
    // Full reads, on a fresh source, equal the data.
    let source = GzipSource::open(&path).unwrap();
    assert!(read_all(&source, want.len()).unwrap() == want);
    // Reads past the end stay errors.
    assert!(
        source
            .read_at(want.len() as u64 - 1, &mut [0u8; 2])
            .is_err()
    );
}

#[test]
fn stale_truncated_damaged_and_foreign_indexes_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let first = data(2_000_000, 2);
    let path = gz_file(dir.path(), "a.nii.gz", &first);
    let sidecar = index(&path);
    let good_index = std::fs::read(&sidecar).unwrap();

    let check_ignored = |what: &str, expect: &str, want: &[u8]| {
        let source = GzipSource::open(&path).unwrap();
        assert_eq!(source.index_origin(), None, "{what}");
        let why = source.index_file_error().unwrap_or_default().to_string();
        assert!(why.contains(expect), "{what}: {why}");
        assert!(why.contains("a.nii.gz.nvgzidx"), "{what}: {why}");
        assert!(read_all(&source, want.len()).unwrap() == want, "{what}");
    };
    // Truncated and damaged index files.
    std::fs::write(&sidecar, &good_index[..good_index.len() / 2]).unwrap();
    check_ignored("truncated", "CRC32 mismatch", &first);
    let mut bad = good_index.clone();
    bad[good_index.len() / 3] ^= 0x40;
    std::fs::write(&sidecar, &bad).unwrap();
    check_ignored("damaged", "CRC32 mismatch", &first);
    std::fs::write(&sidecar, b"not an index").unwrap();
    check_ignored("junk", "gzip index file", &first);
    // Another file's index.
    let other = gz_file(dir.path(), "b.nii.gz", &data(2_000_000, 7));
    std::fs::copy(index(&other), &sidecar).unwrap();
    check_ignored("foreign", "fingerprint differs", &first);
    // The file replaced by other data after it was indexed.
    std::fs::write(&sidecar, &good_index).unwrap();
    let second = data(2_000_000, 4);
    gz_file(dir.path(), "a.nii.gz", &second);
    check_ignored("stale", "fingerprint differs", &second);
}

#[test]
fn damaged_data_under_a_valid_index_fails_a_full_read() {
    let (_dir, path, want) = indexed_file(3_000_000, 5);
    // Damage the middle of the compressed data: the fingerprint (length, first and last
    // 64 KiB) still matches, so the index is used.
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    let mut failures = 0;
    for k in 1..8 {
        let at = n * k / 8;
        if at < 70_000 || at + 70_000 > n {
            continue;
        }
        let saved = bytes[at];
        bytes[at] ^= 0x08;
        std::fs::write(&path, &bytes).unwrap();
        let source = GzipSource::open(&path).unwrap();
        assert!(source.index_origin().is_some(), "the index is still used");
        match read_all(&source, want.len()) {
            Ok(got) => assert!(got == want, "a flip at {at} read as other bytes"),
            Err(e) => {
                assert!(e.to_string().contains("run.nii.gz"), "{e}");
                failures += 1;
                // Once it failed, earlier bytes are refused too.
                assert!(source.read_at(0, &mut [0u8; 10]).is_err());
            }
        }
        bytes[at] = saved;
    }
    assert!(failures >= 4, "{failures}");
}

#[test]
fn neurovox_written_files_need_no_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("own.nii.gz");
    std::fs::write(&path, neurovox::io::compress_to_vec(&data(1_000_000, 6), 2)).unwrap();
    let e = GzipSource::open(&path)
        .unwrap()
        .write_index(&index_file::sidecar_path(&path))
        .unwrap_err();
    assert!(e.to_string().contains("own member index"), "{e}");
    assert!(!index_file::sidecar_path(&path).exists());
}

/// The slab `[17, ...]` of a 64×64×32×40 int16 run (every volume, read in pieces of several
/// volumes), as the read planner reads it: its bytes and how many the source inflated.
fn slab_through(source: &GzipSource, threads: usize) -> neurovox::Result<(Vec<u8>, u64)> {
    use neurovox::Order;
    use neurovox::array::{DataLayout, Selection, SliceItem, read_selection};
    let layout = DataLayout::new(SLAB_SHAPE.to_vec(), 2, 352, Order::F);
    let key = Selection::from(vec![SliceItem::Index(17), SliceItem::Ellipsis]);
    let before = source.inflated_bytes();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let (bytes, shape) = pool.install(|| read_selection(source, &layout, &key))?;
    assert_eq!(shape, SLAB_SHAPE[1..]);
    Ok((bytes, source.inflated_bytes() - before))
}

const SLAB_SHAPE: [usize; 4] = [64, 64, 32, 40];

fn slab_of(file: &[u8]) -> Vec<u8> {
    file[352..]
        .chunks_exact(2 * SLAB_SHAPE[0])
        .flat_map(|row| [row[34], row[35]])
        .collect()
}

/// A 64×64×32×40 int16 run after a 352-byte header, as [`indexed_file`] writes it.
fn indexed_run(seed: u32) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    indexed_file(352 + SLAB_SHAPE.iter().product::<usize>() * 2, seed)
}

/// Issue 13: a slab touching every volume of a foreign file with a persisted index, split
/// between threads or not, inflates each byte of the stream once, plus at most one
/// checkpoint interval per thread (where a thread's first read starts inside a span).
#[test]
fn a_slab_through_an_index_inflates_each_byte_once_on_any_number_of_threads() {
    let (_dir, path, want) = indexed_run(11);
    let total = want.len();
    for threads in [1, 2, 3] {
        let source = GzipSource::open(&path).unwrap();
        assert!(source.index_origin().is_some());
        let (got, cost) = slab_through(&source, threads).unwrap();
        assert!(got == slab_of(&want), "{threads} threads");
        // One interval for the header's gap that the stream check reads, one per thread.
        let most = total as u64 + (threads as u64 + 1) * (SPAN + SPAN / 2);
        assert!(
            cost <= most,
            "{threads} threads: inflated {cost} bytes of a {total}-byte stream, most {most}"
        );
        // Again: pieces of more than half a span go straight into the output, not into the
        // span cache, so the stream is inflated again, still once.
        let (got, cost) = slab_through(&source, threads).unwrap();
        assert!(got == slab_of(&want));
        assert!(cost <= most, "{threads} threads, again: {cost}");
    }
}

/// The same slab of a damaged file under a valid index, on two threads: the pieces arrive
/// out of order, and their CRC32s are combined until the whole stream is checked (module
/// `gzip::hashed_runs`), so the damage is an error naming the file, never other values.
#[test]
fn a_slab_split_between_threads_still_checks_the_crc_through_an_index() {
    let (_dir, path, want) = indexed_run(12);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    let mut failures = 0;
    for k in 1..8 {
        let at = n * k / 8;
        let saved = bytes[at];
        bytes[at] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        let source = GzipSource::open(&path).unwrap();
        assert!(source.index_origin().is_some(), "the index is still used");
        match slab_through(&source, 2) {
            Ok((got, _)) => assert!(got == slab_of(&want), "a flip at {at} read as other bytes"),
            Err(e) => {
                assert!(e.to_string().contains("run.nii.gz"), "{e}");
                failures += 1;
            }
        }
        bytes[at] = saved;
    }
    assert!(failures >= 5, "{failures}");
}

/// Reads that follow one another through a file with a persisted index, each ending inside
/// a span (as a slab's pieces or a streamed conversion's do), continue the stream the last
/// one stopped (a parked stream) rather than inflating the span's start again: the stream
/// is inflated once, plus the one span the header read puts in the span cache.
#[test]
fn sequential_reads_through_an_index_continue_one_another() {
    let (_dir, path, want) = indexed_file(3_000_000, 13);
    for piece in [50_000usize, 100_000, 170_001] {
        let source = GzipSource::open(&path).unwrap();
        let got = read_all_in(&source, want.len(), piece).unwrap();
        assert!(got == want, "pieces of {piece}");
        let most = want.len() as u64 + SPAN + SPAN / 2;
        assert!(
            source.inflated_bytes() <= most,
            "pieces of {piece}: inflated {}, most {most}",
            source.inflated_bytes()
        );
    }
}

fn read_all_in(source: &GzipSource, len: usize, piece: usize) -> neurovox::Result<Vec<u8>> {
    let mut out = vec![0u8; len];
    source.read_at(0, &mut out[..352])?;
    read_in_pieces(source, &mut out[352..], 352, piece)?;
    Ok(out)
}
