//! Random access into .gz files through `GzipSource`: reads equal the plain bytes, the index
//! bounds what a read inflates (shown by `inflated_bytes`, never by timing), many threads
//! share one source, and broken files are Format errors.

#![allow(clippy::unwrap_used)]

use neurovox::ErrorKind;
use neurovox::io::{GzipSource, Source};
use std::io::Write;
use std::path::{Path, PathBuf};

const SPAN: u64 = 64 * 1024;

/// xorshift64*: deterministic, no rand crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// An int16 "volume": a smooth field inside an ellipsoid plus a little noise, near-zero
/// background outside (compresses like MRI data). Not `common::scan_like`: the span
/// assertions below were calibrated on exactly these bytes (their generator and constants).
fn volume(n_bytes: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    let mut v = Vec::with_capacity(n_bytes);
    let mut i = 0i64;
    while v.len() < n_bytes {
        let x = (i % 64) - 32;
        let y = (i / 64 % 64) - 32;
        let z = (i / 4096 % 40) - 20;
        let inside = x * x * 4 + y * y * 4 + z * z * 10 < 4000;
        let noise = rng.below(8) as i64;
        let value = if inside {
            600 + 3 * x + 2 * y + 5 * z + (i / 163_840) + noise
        } else {
            noise / 4
        };
        v.extend_from_slice(&(value as i16).to_le_bytes());
        i += 1;
    }
    v.truncate(n_bytes);
    v
}

/// Bytes that barely compress (deflate falls back to stored blocks).
fn noise(n_bytes: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    (0..n_bytes).map(|_| rng.next() as u8).collect()
}

fn gz(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// One gzip member holding `piece` `times` over in one deflate stream. The piece is compressed
/// once (a fresh compressor never refers back before its start, and a sync flush ends it on a
/// byte boundary), so its bytes can be repeated: a 50 MB file costs one 2 MB compression,
/// which matters in debug builds.
fn gz_repeated(piece: &[u8], times: usize, level: u32) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::new(level), false);
    let mut body = Vec::with_capacity(piece.len() + 1024);
    c.compress_vec(piece, &mut body, flate2::FlushCompress::Sync)
        .unwrap();
    assert_eq!(c.total_in(), piece.len() as u64, "compressor output space");
    let mut crc = crc32fast::Hasher::new();
    let mut file = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    for _ in 0..times {
        file.extend_from_slice(&body);
        crc.update(piece);
    }
    file.extend_from_slice(&[3, 0]); // an empty final block with fixed codes
    file.extend_from_slice(&crc.finalize().to_le_bytes());
    file.extend_from_slice(&((piece.len() * times) as u32).to_le_bytes());
    file
}

/// Concatenated members, one per chunk, cycling through `levels`.
fn gz_members(data: &[u8], chunk: usize, levels: &[u32]) -> Vec<u8> {
    data.chunks(chunk)
        .zip(levels.iter().cycle())
        .flat_map(|(c, &level)| gz(c, level))
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// `count` reads of random offsets and lengths (up to `max_len`), each checked against `data`.
fn check_random_reads(source: &GzipSource, data: &[u8], count: usize, max_len: u64, seed: u64) {
    let mut rng = Rng(seed);
    let n = data.len() as u64;
    for _ in 0..count {
        let len = rng.below(max_len + 1).min(n);
        let offset = rng.below(n - len + 1);
        let mut buf = vec![0u8; len as usize];
        source.read_at(offset, &mut buf).unwrap();
        assert!(
            buf == data[offset as usize..(offset + len) as usize],
            "bytes differ at {offset}+{len}"
        );
    }
}

#[test]
fn random_reads_equal_the_plain_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let vol = volume(1_200_000, 1);
    let rnd = noise(400_000, 2);
    // (name, plain data, file bytes, reads). A level-1 member from flate2's zlib-rs backend is
    // (nearly) one deflate block, with next to no boundary for a checkpoint, so reads inflate
    // from its start: those cases get smaller files.
    let (small_vol, small_rnd) = (&vol[..250_000], &rnd[..250_000]);
    let cases: Vec<(&str, &[u8], Vec<u8>, usize)> = vec![
        ("vol-l1.gz", small_vol, gz(small_vol, 1), 150),
        ("vol-l9.gz", &vol, gz(&vol, 9), 600),
        ("rnd-l1.gz", small_rnd, gz(small_rnd, 1), 150),
        ("rnd-l9.gz", &rnd, gz(&rnd, 9), 500),
        (
            "vol-members.gz",
            &vol,
            gz_members(&vol, 150_001, &[1, 9, 6]),
            600,
        ),
        (
            "rnd-members.gz",
            &rnd,
            gz_members(&rnd, 99_999, &[9, 1]),
            600,
        ),
    ];
    for (name, data, file, reads) in cases {
        let path = write(dir.path(), name, &file);
        // Reads on a fresh source build the index as they go ...
        let source = GzipSource::with_span(&path, SPAN).unwrap();
        check_random_reads(&source, data, reads, 20_000, 7);
        // ... and on a complete index they only look it up.
        assert_eq!(source.len().unwrap(), data.len() as u64, "{name}");
        assert!(source.index_stats().complete);
        check_random_reads(&source, data, reads, 50_000, 8);
        // Reading everything in one go, and the very last byte.
        let mut all = vec![0u8; data.len()];
        source.read_at(0, &mut all).unwrap();
        assert!(all == data, "{name}: whole read differs");
        let mut last = [0u8];
        source.read_at(data.len() as u64 - 1, &mut last).unwrap();
        assert_eq!(last[0], data[data.len() - 1]);
    }
}

#[test]
fn a_late_read_inflates_at_most_about_one_span_once_indexed() {
    // The key property: with the index built, reading a late region again inflates less than
    // two checkpoint spans, not the file up to it.
    let dir = tempfile::tempdir().unwrap();
    let span = 256 * 1024;
    let data = volume(3_000_000, 3);
    for (name, file) in [
        ("one-member.gz", gz(&data, 6)),
        ("members.gz", gz_members(&data, 700_000, &[6, 9])),
    ] {
        let path = write(dir.path(), name, &file);
        let source = GzipSource::with_span(&path, span).unwrap();
        let (offset, len) = (2_600_000u64, 40_000usize);
        let want = &data[offset as usize..offset as usize + len];
        let mut buf = vec![0u8; len];

        source.read_at(offset, &mut buf).unwrap();
        assert!(buf == want);
        let first = source.inflated_bytes();
        let stats = source.index_stats();
        // The first read built the index up to its end, and no more than a span beyond.
        assert!(stats.indexed_to >= offset + len as u64, "{name}: {stats:?}");
        assert!(
            stats.indexed_to <= offset + len as u64 + span,
            "{name}: {stats:?}"
        );
        assert!(
            first <= offset + len as u64 + span,
            "{name}: first read inflated {first}"
        );
        assert!(!stats.complete);
        assert!(stats.checkpoints >= 8, "{name}: {stats:?}");

        buf.fill(0);
        source.read_at(offset, &mut buf).unwrap();
        assert!(buf == want);
        let second = source.inflated_bytes() - first;
        assert!(second >= len as u64);
        assert!(
            second < 2 * span,
            "{name}: the second read inflated {second} bytes, a span is {span}"
        );
        // From the start it would have been the whole prefix.
        assert!(second * 10 < offset, "{name}: {second}");
    }
}

#[test]
fn a_header_read_does_not_inflate_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let block = volume(2_000_000, 4);
    let file = gz_repeated(&block, 25, 6);
    // The construction is a valid gzip file, by flate2's reading of a small one.
    assert!(
        crate::common::gunzip(&gz_repeated(&block[..100_000], 3, 6)) == block[..100_000].repeat(3)
    );
    let path = write(dir.path(), "big.nii.gz", &file);
    let source = GzipSource::open(&path).unwrap();
    assert_eq!(source.inflated_bytes(), 0, "open inflates nothing");
    let mut header = [0u8; 352];
    source.read_at(0, &mut header).unwrap();
    assert_eq!(header[..], block[..352]);
    let inflated = source.inflated_bytes();
    assert!(
        inflated <= neurovox::io::gzip::DEFAULT_SPAN + 352,
        "a 352-byte header read inflated {inflated} bytes of a 50 MB file"
    );
    // A second small read just after the header continues from where the first pass paused.
    let mut more = [0u8; 1000];
    source.read_at(352, &mut more).unwrap();
    assert_eq!(more[..], block[352..1352]);
    assert!(source.inflated_bytes() - inflated <= 1000 + neurovox::io::gzip::DEFAULT_SPAN);
}

#[test]
fn sixteen_threads_read_one_source_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = volume(2_000_000, 5);
    for (name, file) in [
        ("one.gz", gz(&data, 6)),
        ("many.gz", gz_members(&data, 300_000, &[9, 6, 2])),
    ] {
        let path = write(dir.path(), name, &file);
        // Fresh: the threads race to build the index while others read indexed ranges.
        let source = GzipSource::with_span(&path, SPAN).unwrap();
        std::thread::scope(|s| {
            for t in 0..16u64 {
                let (source, data) = (&source, &data);
                s.spawn(move || check_random_reads(source, data, 40, 50_000, 100 + t));
            }
        });
        assert_eq!(source.len().unwrap(), data.len() as u64);
    }
}

fn assert_format_error(result: neurovox::Result<impl std::fmt::Debug>, path: &Path, what: &str) {
    let e = result.expect_err(what);
    assert_eq!(e.kind(), ErrorKind::Format, "{what}: {e}");
    assert_eq!(e.path(), Some(path), "{what}: {e}");
    assert!(e.byte_offset().is_some(), "{what}: no offset in {e}");
}

#[test]
fn broken_files_are_format_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = volume(1_000_000, 6);
    let good = gz(&data, 6);
    let n = good.len();

    // Truncated inside the deflate data: early reads still work, late reads and len fail.
    let path = write(dir.path(), "cut.gz", &good[..n / 2]);
    let source = GzipSource::with_span(&path, SPAN).unwrap();
    let mut buf = vec![0u8; 1000];
    source.read_at(0, &mut buf).unwrap();
    assert_format_error(
        source.read_at(900_000, &mut buf),
        &path,
        "late read of a cut file",
    );
    assert_format_error(source.len(), &path, "len of a cut file");
    // The failure is remembered, and reads before it still work.
    assert_format_error(source.read_at(990_000, &mut buf), &path, "again");
    source.read_at(1000, &mut buf).unwrap();
    assert!(buf == data[1000..2000]);

    // Truncated inside the trailer, and right after the header.
    for (name, cut) in [
        ("cut-trailer.gz", n - 3),
        ("cut-header.gz", 10),
        ("cut-7.gz", 7),
    ] {
        let path = write(dir.path(), name, &good[..cut]);
        assert_format_error(GzipSource::open(&path).unwrap().len(), &path, name);
    }

    // Wrong CRC32 and wrong ISIZE in the trailer.
    let mut bad = good.clone();
    bad[n - 8] ^= 1;
    let path = write(dir.path(), "crc.gz", &bad);
    assert_format_error(GzipSource::open(&path).unwrap().len(), &path, "CRC");
    let e = GzipSource::open(&path).unwrap().len().unwrap_err();
    assert!(e.message().contains("CRC32"), "{e}");
    assert_eq!(e.byte_offset(), Some(n as u64 - 8));
    let mut bad = good.clone();
    bad[n - 2] ^= 1;
    let path = write(dir.path(), "isize.gz", &bad);
    assert_format_error(GzipSource::open(&path).unwrap().len(), &path, "ISIZE");

    // A corrupt byte in the middle: the deflate decoder or, at the latest, the member's CRC
    // catches it (a read that stops inside the member may get unverified bytes first).
    let mut bad = good.clone();
    bad[n / 2] ^= 0x5a;
    let path = write(dir.path(), "middle.gz", &bad);
    let source = GzipSource::open(&path).unwrap();
    assert_format_error(source.len(), &path, "corrupt middle");

    // A bad second member.
    let mut bad = good.clone();
    bad.extend_from_slice(&gz(&data[..1000], 6)[..12]);
    bad[n + 2] = 7;
    let path = write(dir.path(), "member2.gz", &bad);
    assert_format_error(
        GzipSource::open(&path).unwrap().len(),
        &path,
        "second member method",
    );

    // Not gzip at all.
    let path = write(dir.path(), "plain.nii", &data[..1000]);
    assert_format_error(GzipSource::open(&path), &path, "not gzip");
}

#[test]
fn random_damage_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let data = volume(300_000, 7);
    let good = gz_members(&data, 100_000, &[6, 1, 9]);
    let mut rng = Rng(11);
    for round in 0..60 {
        let mut bad = good.clone();
        match round % 3 {
            0 => {
                let i = rng.below(bad.len() as u64) as usize;
                bad[i] ^= 1 << rng.below(8);
            }
            1 => {
                for _ in 0..8 {
                    let i = rng.below(bad.len() as u64) as usize;
                    bad[i] = rng.next() as u8;
                }
            }
            _ => bad.truncate(rng.below(bad.len() as u64) as usize + 2),
        }
        let path = write(dir.path(), "damaged.gz", &bad);
        let Ok(source) = GzipSource::with_span(&path, 16 * 1024) else {
            continue;
        };
        let mut buf = vec![0u8; 5000];
        for _ in 0..5 {
            let offset = rng.below(data.len() as u64 - 5000);
            if let Err(e) = source.read_at(offset, &mut buf) {
                assert_eq!(e.kind(), ErrorKind::Format, "round {round}: {e}");
            }
        }
        match source.len() {
            Ok(len) => assert!(len <= data.len() as u64, "round {round}"),
            Err(e) => assert_eq!(e.kind(), ErrorKind::Format, "round {round}: {e}"),
        }
    }
}

/// Issue 13: a key touching every volume of a 4-D `.nii.gz` (thousands of tiny segments)
/// inflates each span it touches once, not once per segment, even when the span cache holds
/// fewer spans than the key touches; a second key over the same spans inflates nothing when
/// they fit the cache.
#[test]
fn a_key_touching_every_volume_inflates_each_span_once() {
    use neurovox::Order;
    use neurovox::array::{DataLayout, read_selection};
    use neurovox::array::{Selection, SliceItem};
    let shape = [40usize, 36, 20, 30];
    let n_bytes = shape.iter().product::<usize>() * 2;
    let data = volume(n_bytes, 41);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "run.gz", &gz(&data, 6));
    let layout = DataLayout::new(shape.to_vec(), 2, 0, Order::F);
    // Every (k, t): one 2-byte segment per slice of every volume.
    let key = Selection::from(vec![
        SliceItem::Index(17),
        SliceItem::Index(9),
        SliceItem::Ellipsis,
    ]);
    let expected: Vec<u8> = (0..shape[3])
        .flat_map(|t| (0..shape[2]).map(move |k| (k, t)))
        .flat_map(|(k, t)| {
            let i = 2 * (17 + shape[0] * (9 + shape[1] * (k + shape[2] * t)));
            [data[i], data[i + 1]]
        })
        .collect();
    let first = 2 * (17 + shape[0] * 9) as u64;
    let last = (n_bytes - 2 * shape[0] * shape[1] + 2 * (17 + shape[0] * 9)) as u64;

    // A cache of 4 spans, far fewer than the ~13 the key sweeps.
    for cache in [4 * SPAN as usize, neurovox::io::DEFAULT_SPAN_CACHE_BYTES] {
        let source = GzipSource::with_span_and_cache(&path, SPAN, cache).unwrap();
        assert_eq!(source.len().unwrap(), n_bytes as u64); // the index, built once
        let indexed = source.inflated_bytes();
        let (bytes, out_shape) = read_selection(&source, &layout, &key).unwrap();
        assert_eq!(out_shape, [shape[2], shape[3]]);
        assert!(bytes == expected);
        let cost = source.inflated_bytes() - indexed;
        // The key's span, from the checkpoint before its first byte to the end of the span
        // of its last: at most one span more than first..=last, each byte once.
        let most = last - first + 2 * SPAN + SPAN / 2;
        assert!(
            cost <= most,
            "cache {cache}: the key inflated {cost} bytes, most {most}"
        );
        let again = source.inflated_bytes();
        let (bytes, _) = read_selection(&source, &layout, &key).unwrap();
        assert!(bytes == expected);
        let second = source.inflated_bytes() - again;
        if cache >= n_bytes + SPAN as usize {
            assert_eq!(second, 0, "every span the key touches is still cached");
        } else {
            assert!(second <= most, "cache {cache}: again {second}");
        }
    }
}

/// Many threads doing small reads through one source whose span cache holds only three
/// spans, so spans are inflated, inserted and evicted under contention: every read still
/// equals the plain bytes (a reader copies out of its own `Arc` of a span while others
/// replace the cache's entries), on an indexed source and while the first pass is building.
#[test]
fn threads_share_a_small_span_cache_without_wrong_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = volume(1_500_000, 9);
    let path = write(dir.path(), "shared.gz", &gz(&data, 6));
    for indexed_first in [true, false] {
        let source = GzipSource::with_span_and_cache(&path, SPAN, 3 * SPAN as usize).unwrap();
        if indexed_first {
            source.len().unwrap();
        }
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let (source, data) = (&source, &data);
                s.spawn(move || check_random_reads(source, data, 150, 2_000, 700 + t));
            }
        });
        assert_eq!(source.len().unwrap(), data.len() as u64);
    }
}
