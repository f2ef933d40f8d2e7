//! Parallel indexed gzip output (`io::gzip_write`): what `ParallelGzWriter` writes is read
//! back byte for byte by flate2, the `gzip` binary, Python's `gzip` module and nibabel (with
//! and without `indexed_gzip`); `GzipSource` reads it through the member index with no first
//! pass (shown by `inflated_bytes`, never by timing); a corrupted or lying index gives the
//! right bytes or a Format error, never wrong bytes.
//!
//! The external readers are found at test time; a test whose reader is missing prints
//! SKIPPED and passes. Python is `$NEUROVOX_PYTHON`, else the workspace's `.venv`, else
//! `/tmp/nvenv`, else `python3`.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::Rng;
use neurovox::io::gzip::{
    DEFAULT_ISAL_LEVEL, DEFAULT_LEVEL, DEFAULT_MEMBER_SIZE, GzCompressor, GzWriteOptions,
    ISAL_MAX_LEVEL, MEMBER_HEADER_LEN, MemberIndex, ParallelGzWriter, TAIL_LEN, compress_to_vec,
};
use neurovox::io::{GzipSource, Source};
use neurovox::{ByteOrder, DataType, ErrorKind, Header, ImageFormat};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

const MIB: usize = 1 << 20;

/// Writes `data` through a `ParallelGzWriter` in uneven pieces.
fn write_parallel(data: &[u8], options: GzWriteOptions) -> Vec<u8> {
    let mut gz = ParallelGzWriter::with_options(Vec::new(), options).unwrap();
    let mut rng = Rng(99);
    let mut rest = data;
    while !rest.is_empty() {
        let n = (rng.below(3 * MIB / 2) + 1).min(rest.len());
        gz.write_all(&rest[..n]).unwrap();
        rest = &rest[n..];
    }
    assert_eq!(gz.total_in(), data.len() as u64);
    gz.finish().unwrap()
}

/// The member index at the end of `gz`.
fn index_of(gz: &[u8]) -> MemberIndex {
    let n = gz.len();
    let len = MemberIndex::parse_tail(&gz[n - TAIL_LEN..], n as u64)
        .unwrap()
        .unwrap();
    MemberIndex::parse(&gz[n - len as usize..], n as u64).unwrap()
}

fn save(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

const SIZES: [usize; 7] = [0, 1, MIB - 1, MIB, MIB + 1, 2 * MIB, 5 * MIB + 12_345];

#[test]
fn round_trips_through_flate2_for_every_size_and_thread_setting() {
    for &size in &SIZES {
        for (kind, data) in [
            ("compressible", common::scan_like(size, 1)),
            ("random", common::noise(size, 2)),
        ] {
            let in_memory = compress_to_vec(&data, DEFAULT_LEVEL);
            assert_eq!(crate::common::gunzip(&in_memory), data, "{kind} {size}");
            // The default compressor (ISA-L when built in), and libdeflate as
            // compress_to_vec uses it.
            for options in [
                GzWriteOptions::new(),
                GzWriteOptions::new().level(DEFAULT_LEVEL),
            ] {
                let reference = write_parallel(&data, options.threads(1));
                assert_eq!(crate::common::gunzip(&reference), data, "{kind} {size}");
                for threads in [0, 2, 3] {
                    let gz = write_parallel(&data, options.threads(threads));
                    // Deterministic: the same bytes whatever the threads and write pieces.
                    assert!(gz == reference, "{kind} {size} threads {threads}");
                }
            }
            let reference = in_memory;
            let index = index_of(&reference);
            assert_eq!(index.total_size(), size as u64);
            assert_eq!(index.members().len(), size.div_ceil(DEFAULT_MEMBER_SIZE));
        }
    }
}

#[test]
fn levels_and_member_sizes_round_trip() {
    let data = common::scan_like(3 * MIB + 77, 3);
    for level in [0, 1, 6, 12] {
        for member in [1000, 300_000, 4 * MIB] {
            let gz = write_parallel(
                &data,
                GzWriteOptions::new().level(level).member_size(member),
            );
            assert_eq!(
                crate::common::gunzip(&gz),
                data,
                "level {level} member {member}"
            );
        }
    }
}

/// Writes `data` in the given pieces (the rest in one last write).
fn write_in_pieces(data: &[u8], options: GzWriteOptions, pieces: &[usize]) -> Vec<u8> {
    let mut gz = ParallelGzWriter::with_options(Vec::new(), options).unwrap();
    let mut rest = data;
    for &n in pieces.iter().chain([&usize::MAX]) {
        let n = n.min(rest.len());
        gz.write_all(&rest[..n]).unwrap();
        rest = &rest[n..];
    }
    assert_eq!(gz.total_in(), data.len() as u64);
    gz.finish().unwrap()
}

#[test]
fn large_writes_compressed_from_the_callers_buffer_give_the_same_bytes() {
    // Writes of four or more whole members skip the chunk copies; the file must not change.
    let data = common::scan_like(13 * MIB + 4321, 21);
    for options in [GzWriteOptions::new(), GzWriteOptions::new().level(1)] {
        let reference = write_parallel(&data, options.threads(1));
        assert_eq!(crate::common::gunzip(&reference), data);
        for threads in [0, 2, 3] {
            let options = options.threads(threads);
            for pieces in [
                &[][..],                     // one write of everything
                &[352, 9 * MIB, 100, 5],     // a header, then a large write mid-member
                &[4 * MIB, 4 * MIB, 1, MIB], // writes of exactly four members
                &[MIB - 1, 4 * MIB + 1, 17], // a large write that tops up a chunk first
            ] {
                let gz = write_in_pieces(&data, options, pieces);
                assert!(gz == reference, "threads {threads} pieces {pieces:?}");
            }
        }
    }
}

#[test]
fn every_isal_level_round_trips_or_is_refused_without_the_feature() {
    let data = [
        common::scan_like(3 * MIB + 77, 11),
        common::noise(2 * MIB + 5, 12),
    ];
    for level in 0..=ISAL_MAX_LEVEL {
        let options = GzWriteOptions::new().compressor(GzCompressor::Isal(level));
        if !GzCompressor::isal_available() {
            let e = ParallelGzWriter::with_options(Vec::new(), options).unwrap_err();
            assert!(e.to_string().contains("ISA-L"), "{e}");
            continue;
        }
        for (i, data) in data.iter().enumerate() {
            let gz = write_parallel(data, options);
            assert_eq!(crate::common::gunzip(&gz), *data, "level {level} data {i}");
            let index = index_of(&gz);
            assert_eq!(index.total_size(), data.len() as u64);
            // Noise stays within a few bytes per KiB of its size (stored or nearly so).
            assert!(
                gz.len() < data.len() + data.len() / 100 + 4096,
                "level {level}"
            );
        }
    }
    let e = ParallelGzWriter::with_options(
        Vec::new(),
        GzWriteOptions::new().compressor(GzCompressor::Isal(ISAL_MAX_LEVEL + 1)),
    )
    .unwrap_err();
    assert!(e.to_string().contains("ISA-L"), "{e}");
}

#[test]
fn members_that_compress_poorly_are_no_larger_than_libdeflate_level_1_makes_them() {
    // Six random bits a byte: every member compresses to ~75 %, where ISA-L alone falls
    // behind zlib; the default keeps libdeflate level 1's member there when it is smaller.
    let data: Vec<u8> = common::noise(5 * MIB + 3, 31)
        .iter()
        .map(|b| b & 0x3f)
        .collect();
    let default = write_parallel(&data, GzWriteOptions::new());
    let level1 = write_parallel(&data, GzWriteOptions::new().level(1));
    assert_eq!(crate::common::gunzip(&default), data);
    assert!(
        default.len() <= level1.len(),
        "{} > {}",
        default.len(),
        level1.len()
    );
    assert!(default.len() < data.len() * 4 / 5);
}

#[test]
fn the_default_compressor_is_isal_exactly_when_it_is_built_in() {
    let want = if GzCompressor::isal_available() {
        GzCompressor::Isal(DEFAULT_ISAL_LEVEL)
    } else {
        GzCompressor::Libdeflate(DEFAULT_LEVEL)
    };
    assert_eq!(GzWriteOptions::new().get_compressor(), want);
    assert_eq!(
        GzWriteOptions::new().level(4).get_compressor(),
        GzCompressor::Libdeflate(4)
    );
}

#[test]
fn the_gzip_binary_tests_and_decompresses_it() {
    if Command::new("gzip").arg("--version").output().is_err() {
        eprintln!("SKIPPED: no `gzip` binary on PATH");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, &size) in SIZES.iter().enumerate() {
        let data = if i % 2 == 0 {
            common::scan_like(size, 4)
        } else {
            common::noise(size, 5)
        };
        let path = save(
            &dir,
            &format!("g{i}.gz"),
            &compress_to_vec(&data, DEFAULT_LEVEL),
        );
        let test = Command::new("gzip").arg("-t").arg(&path).output().unwrap();
        assert!(
            test.status.success(),
            "gzip -t {size}: {}",
            String::from_utf8_lossy(&test.stderr)
        );
        let out = Command::new("gzip").arg("-dc").arg(&path).output().unwrap();
        assert!(out.status.success(), "gzip -dc {size}");
        assert!(out.stdout == data, "gzip -dc gave other bytes for {size}");
    }
}

/// A Python that can run `code` (imports included), or `None` (SKIPPED printed).
fn python(needs: &str) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("NEUROVOX_PYTHON") {
        candidates.push(p.into());
    }
    candidates.push(common::workspace_dir().join(".venv/bin/python"));
    candidates.push("/tmp/nvenv/bin/python".into());
    candidates.push("python3".into());
    for p in candidates {
        let ok = Command::new(&p)
            .args(["-c", needs])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(p);
        }
    }
    eprintln!("SKIPPED: no Python that can run `{needs}` (set NEUROVOX_PYTHON)");
    None
}

fn run_python(python: &Path, script: &str, args: &[&Path]) -> Vec<u8> {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn pythons_gzip_module_decompresses_it() {
    let Some(py) = python("import gzip") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (i, &size) in [0, 1, MIB + 1, 3 * MIB + 5].iter().enumerate() {
        let data = common::scan_like(size, 6 + i as u64);
        let path = save(
            &dir,
            &format!("p{i}.gz"),
            &compress_to_vec(&data, DEFAULT_LEVEL),
        );
        let whole = run_python(
            &py,
            "import gzip, sys; sys.stdout.buffer.write(gzip.decompress(open(sys.argv[1], 'rb').read()))",
            &[&path],
        );
        assert!(whole == data, "gzip.decompress, {size} bytes");
        // Streaming through GzipFile (what nibabel uses without indexed_gzip), with a seek.
        let tail = run_python(
            &py,
            "import gzip, sys\nf = gzip.open(sys.argv[1])\nf.seek(max(0, f.seek(0, 2) - 1000))\nsys.stdout.buffer.write(f.read())",
            &[&path],
        );
        assert!(
            tail == data[size.saturating_sub(1000)..],
            "GzipFile seek, {size} bytes"
        );
    }
}

/// A NIfTI-1 int16 image (header + data) of the given shape with volume-like data.
fn nifti_bytes(shape: &[usize]) -> (Vec<u8>, Vec<u8>) {
    let mut header = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
    header.set_data_shape(shape).unwrap();
    header.set_data_dtype(DataType::Int16).unwrap();
    let mut bytes = header.to_prefix_bytes().unwrap();
    let data = common::scan_like(shape.iter().product::<usize>() * 2, 11);
    bytes.extend_from_slice(&data);
    (bytes, data)
}

const NIBABEL_READ: &str = r#"
import sys, hashlib
import numpy as np, nibabel as nib, nibabel.openers as openers
import nibabel._compression as compression  # where gzip_open looks for indexed_gzip
mode, path = sys.argv[1], sys.argv[2]
if mode == 'indexed_gzip':
    import indexed_gzip
    assert compression.HAVE_INDEXED_GZIP
else:
    compression.HAVE_INDEXED_GZIP = False
with openers.Opener(path) as f:
    kind = type(f.fobj).__name__
assert (kind == 'IndexedGzipFile') == (mode == 'indexed_gzip'), kind
img = nib.load(path)
late = np.asanyarray(img.dataobj[..., -1])   # a late volume first (seeks forward)
full = np.asanyarray(img.dataobj)
assert np.array_equal(late, full[..., -1])
sys.stdout.buffer.write(np.asarray(full, dtype='<i2').tobytes(order='F'))
"#;

#[test]
fn nibabel_reads_it_with_and_without_indexed_gzip() {
    let Some(py) = python("import nibabel, numpy") else {
        return;
    };
    let shape = [40, 36, 20, 12]; // 691 kB of data: a member boundary inside every run
    let (file, data) = nifti_bytes(&shape);
    let dir = tempfile::tempdir().unwrap();
    let gz = write_parallel(&file, GzWriteOptions::new().member_size(100_000));
    let path = save(&dir, "image.nii.gz", &gz);
    let got = run_python(&py, NIBABEL_READ, &[Path::new("gzip"), &path]);
    assert!(got == data, "nibabel (Python gzip) read other values");
    let has_igz = Command::new(&py)
        .args(["-c", "import indexed_gzip"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_igz {
        let got = run_python(&py, NIBABEL_READ, &[Path::new("indexed_gzip"), &path]);
        assert!(got == data, "nibabel (indexed_gzip) read other values");
    } else {
        eprintln!("SKIPPED: indexed_gzip is not installed in {}", py.display());
    }
}

#[test]
fn gzip_source_reads_through_the_index_without_a_first_pass() {
    let data = common::scan_like(9 * MIB + 4321, 21);
    let dir = tempfile::tempdir().unwrap();
    let path = save(&dir, "indexed.gz", &compress_to_vec(&data, DEFAULT_LEVEL));
    let source = GzipSource::open(&path).unwrap();
    let index = source.member_index().expect("the index is used");
    assert_eq!(index.members().len(), 10);
    assert_eq!(source.len_hint(), Some(data.len() as u64));
    assert_eq!(source.len().unwrap(), data.len() as u64);
    assert_eq!(source.inflated_bytes(), 0);
    let stats = source.index_stats();
    assert!(stats.complete && stats.checkpoints == 10 && stats.window_bytes == 0);

    // A late read of one whole member inflates exactly that member.
    let mut buf = vec![0u8; MIB];
    source.read_at(8 * MIB as u64, &mut buf).unwrap();
    assert!(buf == data[8 * MIB..9 * MIB]);
    assert_eq!(source.inflated_bytes(), MIB as u64);

    // A late 1 MiB read across a member boundary inflates the two members it touches whole
    // (checking their CRC32s) and keeps them in the span cache: read again, it inflates
    // nothing.
    let before = source.inflated_bytes();
    let at = 6 * MIB + 300_000;
    source.read_at(at as u64, &mut buf).unwrap();
    assert!(buf == data[at..at + MIB]);
    assert_eq!(source.inflated_bytes() - before, 2 * MIB as u64);
    let before = source.inflated_bytes();
    source.read_at(at as u64, &mut buf).unwrap();
    assert!(buf == data[at..at + MIB]);
    assert_eq!(source.inflated_bytes(), before);

    // A small read near the end inflates up to its last byte only.
    let before = source.inflated_bytes();
    let mut small = [0u8; 100];
    source.read_at(9 * MIB as u64 + 1000, &mut small).unwrap();
    assert_eq!(small[..], data[9 * MIB + 1000..9 * MIB + 1100]);
    assert_eq!(source.inflated_bytes() - before, 1100);

    // Everything at once (members in parallel), and the edges.
    let mut all = vec![0u8; data.len()];
    source.read_at(0, &mut all).unwrap();
    assert!(all == data);
    let mut last = [0u8; 21];
    source.read_at(data.len() as u64 - 21, &mut last).unwrap();
    assert_eq!(last[..], data[data.len() - 21..]);
    source.read_at(data.len() as u64, &mut []).unwrap();
    let e = source
        .read_at(data.len() as u64 - 5, &mut [0u8; 10])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Format);
    assert!(
        e.message()
            .contains(&format!("ends at byte {}", data.len())),
        "{e}"
    );
    assert!(source.read_at(u64::MAX - 2, &mut [0u8; 4]).is_err());
}

#[test]
fn sixteen_threads_read_random_ranges() {
    let data = common::scan_like(12 * MIB + 999, 31);
    let dir = tempfile::tempdir().unwrap();
    let gz = write_parallel(&data, GzWriteOptions::new().member_size(512 * 1024));
    let path = save(&dir, "threads.gz", &gz);
    let source = GzipSource::open(&path).unwrap();
    assert!(source.member_index().is_some());
    std::thread::scope(|s| {
        for t in 0..16u64 {
            let (source, data) = (&source, &data);
            s.spawn(move || {
                let mut rng = Rng(1000 + t);
                for _ in 0..40 {
                    let len = 1 + rng.below(if t % 4 == 0 { 3 * MIB } else { 70_000 });
                    let at = rng.below(data.len() - len + 1);
                    let mut buf = vec![0u8; len];
                    source.read_at(at as u64, &mut buf).unwrap();
                    assert!(buf == data[at..at + len], "thread {t}: {len} bytes at {at}");
                }
            });
        }
    });
}

/// Where the index entries of a single-index-member file start, and how many there are.
fn entries_at(gz: &[u8]) -> (usize, usize) {
    let index = index_of(gz);
    (index.index_offset() as usize + 20, index.members().len())
}

/// Recomputes the footer's CRC32 of the entries after they were edited.
fn fix_crc(gz: &mut [u8], entries: usize, count: usize) {
    let crc = crc32fast::hash(&gz[entries..entries + 8 * count]);
    let n = gz.len();
    gz[n - 10 - 8..n - 10 - 4].copy_from_slice(&crc.to_le_bytes());
}

/// Every read (random and whole) gives the right bytes or a Format error.
fn never_wrong_bytes(source: &GzipSource, data: &[u8]) -> usize {
    let mut errors = 0;
    let mut rng = Rng(77);
    let mut check = |at: usize, len: usize| {
        let mut buf = vec![0u8; len];
        match source.read_at(at as u64, &mut buf) {
            Ok(()) => assert!(buf == data[at..at + len], "wrong bytes at {at} (+{len})"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Format, "{e}");
                errors += 1;
            }
        }
    };
    check(0, data.len());
    for _ in 0..60 {
        let len = 1 + rng.below(2 * MIB);
        check(rng.below(data.len() - len + 1), len);
    }
    errors
}

#[test]
fn a_corrupted_index_is_detected_and_the_file_still_reads() {
    let data = common::scan_like(6 * MIB - 10, 41);
    let good = compress_to_vec(&data, DEFAULT_LEVEL);
    let (entries, count) = entries_at(&good);
    assert_eq!(count, 6);
    let dir = tempfile::tempdir().unwrap();

    // One flipped bit in an entry: the CRC32 catches it, the file is read the ordinary way.
    let mut bad = good.clone();
    bad[entries + 8 + 1] ^= 0x10;
    let path = save(&dir, "flipped.gz", &bad);
    let source = GzipSource::open(&path).unwrap();
    assert!(source.member_index().is_none());
    let why = source.member_index_error().unwrap();
    assert!(why.contains("CRC32") && why.contains("flipped.gz"), "{why}");
    assert_eq!(source.len_hint(), None);
    assert_eq!(never_wrong_bytes(&source, &data), 0);
    assert_eq!(source.len().unwrap(), data.len() as u64);

    // A truncated index (the tail cut off): not ours any more, read the ordinary way,
    // which reports the truncation.
    let path = save(&dir, "cut.gz", &good[..good.len() - 30]);
    let source = GzipSource::open(&path).unwrap();
    assert!(source.member_index().is_none() && source.member_index_error().is_none());
    let mut head = [0u8; 1000];
    source.read_at(0, &mut head).unwrap();
    assert_eq!(head[..], data[..1000]);
    assert_eq!(source.len().unwrap_err().kind(), ErrorKind::Format);

    // Bytes appended after the index: not ours; the ordinary reader rejects the junk.
    let path = save(&dir, "junk.gz", &[&good[..], b"junk"].concat());
    let source = GzipSource::open(&path).unwrap();
    assert!(source.member_index().is_none());
    assert_eq!(source.len().unwrap_err().kind(), ErrorKind::Format);
}

#[test]
fn an_index_that_lies_consistently_gives_format_errors_not_wrong_bytes() {
    let data = common::scan_like(6 * MIB - 10, 43);
    let good = compress_to_vec(&data, DEFAULT_LEVEL);
    let (entries, count) = entries_at(&good);
    let dir = tempfile::tempdir().unwrap();
    let entry = |gz: &[u8], i: usize, field: usize| {
        let at = entries + 8 * i + 4 * field;
        u32::from_le_bytes(gz[at..at + 4].try_into().unwrap())
    };
    let set = |gz: &mut [u8], i: usize, field: usize, v: u32| {
        let at = entries + 8 * i + 4 * field;
        gz[at..at + 4].copy_from_slice(&v.to_le_bytes());
    };

    // Members 2 and 3 trade 1000 uncompressed bytes: sizes still add up, CRC fixed.
    let mut lie = good.clone();
    let (a, b) = (entry(&good, 2, 1), entry(&good, 3, 1));
    set(&mut lie, 2, 1, a - 1000);
    set(&mut lie, 3, 1, b + 1000);
    fix_crc(&mut lie, entries, count);
    let path = save(&dir, "sizes.gz", &lie);
    let source = GzipSource::open(&path).unwrap();
    assert!(
        source.member_index().is_some(),
        "the lie is self-consistent"
    );
    let errors = never_wrong_bytes(&source, &data);
    assert!(errors > 0, "reads of members 2 and 3 must fail");
    // Members the lie does not touch still read.
    let mut buf = vec![0u8; MIB];
    source.read_at(0, &mut buf).unwrap();
    assert!(buf == data[..MIB]);

    // Members 1 and 2 trade compressed lengths: offsets point into the middle of members.
    let mut lie = good.clone();
    let (a, b) = (entry(&good, 1, 0), entry(&good, 2, 0));
    set(&mut lie, 1, 0, a + 4096);
    set(&mut lie, 2, 0, b - 4096);
    fix_crc(&mut lie, entries, count);
    let path = save(&dir, "offsets.gz", &lie);
    let source = GzipSource::open(&path).unwrap();
    assert!(never_wrong_bytes(&source, &data) > 0);

    // The same lie in member 0 is caught when the file is opened (first header checked).
    let mut lie = good.clone();
    let (a, b) = (entry(&good, 0, 1), entry(&good, 1, 1));
    set(&mut lie, 0, 1, a + 1);
    set(&mut lie, 1, 1, b - 1);
    fix_crc(&mut lie, entries, count);
    let path = save(&dir, "first.gz", &lie);
    let source = GzipSource::open(&path).unwrap();
    assert!(source.member_index().is_none());
    assert!(
        source
            .member_index_error()
            .unwrap()
            .contains("first member")
    );
    assert_eq!(never_wrong_bytes(&source, &data), 0);
}

#[test]
fn a_corrupt_member_is_a_format_error_for_reads_that_cover_most_of_it() {
    let data = common::scan_like(4 * MIB, 51);
    let mut gz = compress_to_vec(&data, DEFAULT_LEVEL);
    let index = index_of(&gz);
    let m = index.members()[2];
    // Flip a bit in the CRC32 trailer: the deflate data is intact, the check is not.
    let crc_at = (m.offset + u64::from(m.len) - 8) as usize;
    gz[crc_at] ^= 1;
    let dir = tempfile::tempdir().unwrap();
    let path = save(&dir, "crc.gz", &gz);
    let source = GzipSource::open(&path).unwrap();
    assert!(source.member_index().is_some());
    let mut all = vec![0u8; data.len()];
    let e = source.read_at(0, &mut all).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Format);
    assert!(e.message().contains("corrupt"), "{e}");
    // So is a read of most of that member (decompressed whole, CRC32 checked) ...
    let mut most = vec![0u8; 900_000];
    let e = source.read_at(2 * MIB as u64 + 100, &mut most).unwrap_err();
    assert!(e.message().contains("corrupt"), "{e}");
    // ... while a small read streams to its last byte and never reaches the trailer (its
    // deflate data is intact, so the bytes are right).
    let mut few = vec![0u8; 1000];
    source.read_at(2 * MIB as u64 + 100, &mut few).unwrap();
    assert!(few == data[2 * MIB + 100..2 * MIB + 1100]);
    // The header of a member that does not match its entry is refused before inflating.
    let mut gz2 = compress_to_vec(&data, DEFAULT_LEVEL);
    let at = (index.members()[1].offset + 22) as usize; // the NV subfield's size field
    gz2[at] ^= 1;
    let path = save(&dir, "header.gz", &gz2);
    let source = GzipSource::open(&path).unwrap();
    let mut buf = [0u8; 10];
    let e = source.read_at(MIB as u64 + 5, &mut buf).unwrap_err();
    assert!(e.message().contains("does not match"), "{e}");
    assert_eq!(e.byte_offset(), Some(index.members()[1].offset));
    assert_eq!(MEMBER_HEADER_LEN, 26);
}

#[test]
fn files_from_other_writers_still_use_the_first_pass() {
    let data = common::scan_like(2 * MIB, 61);
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(&data).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = save(&dir, "plain.gz", &e.finish().unwrap());
    let source = GzipSource::open(&path).unwrap();
    assert!(source.member_index().is_none() && source.member_index_error().is_none());
    assert_eq!(source.len_hint(), None);
    let mut buf = vec![0u8; 5000];
    source.read_at(MIB as u64, &mut buf).unwrap();
    assert!(buf == data[MIB..MIB + 5000]);
}
