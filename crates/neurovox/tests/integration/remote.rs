//! Images read from a real HTTP server on loopback (`http_server.rs`): what each load and read
//! asks of the server (requests and bytes counted, never timed), values against the same
//! file read locally, and the faults a network brings (5xx, dropped and short bodies, a
//! replaced object, a server that stalls, 404 and 403).

use crate::http_server::{Fault, RangeSpec, TestServer, parse_range};
use neurovox::array::{Selection, SliceItem};
use neurovox::io::{GzipSource, RemoteOptions, RemoteSource, Source};
use neurovox::{ErrorKind, Image, ImageFormat, load};
use std::time::Duration;

/// A 4-D int16 run with a zero background (compresses as scans do), saved as `name` in
/// `dir` by neurovox; returns the file's bytes.
fn saved_run(dir: &std::path::Path, name: &str, shape: (usize, usize, usize, usize)) -> Vec<u8> {
    let data = ndarray::Array4::from_shape_fn(shape, |(i, j, k, t)| {
        let inside = (i as i64 - shape.0 as i64 / 2).pow(2)
            + (j as i64 - shape.1 as i64 / 2).pow(2)
            < (shape.0 as i64 / 3).pow(2);
        if inside {
            // Signal plus noise: compresses about as much as a scan (2-3x), not 100x.
            let h = ((i * 73_856_093) ^ (j * 19_349_663) ^ (k * 83_492_791) ^ (t * 2_654_435_761))
                .wrapping_mul(0x9E37_79B9)
                >> 7;
            ((i * 7 + j * 13 + k * 29) % 2000) as i16 + (h % 512) as i16 - 300
        } else {
            0
        }
    })
    .into_dyn();
    let affine = [
        [2.0, 0.0, 0.0, -10.0],
        [0.0, 2.0, 0.0, -20.0],
        [0.0, 0.0, 2.5, 5.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let mut img =
        Image::from_array(data, Some(affine), ImageFormat::Nifti1).expect("an array image");
    let path = dir.join(name);
    img.to_filename(&path, Default::default()).expect("saved");
    std::fs::read(&path).expect("read back")
}

/// The same file as stock zlib writes it (one member, as nibabel and most tools do).
fn foreign_gzip(plain: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
    gz.write_all(plain).expect("compressed");
    gz.finish().expect("compressed")
}

fn io_kind(e: &neurovox::Error) -> Option<std::io::ErrorKind> {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind)
}

fn volume(img: &Image, t: usize) -> ndarray::ArrayD<f64> {
    let key = Selection::from(vec![SliceItem::Ellipsis, SliceItem::Index(t as isize)]);
    img.dataobj()
        .read(&key)
        .and_then(|v| v.to_f64())
        .expect("a volume")
}

#[test]
fn a_plain_nii_loads_with_one_request_and_reads_what_the_local_file_holds() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = saved_run(dir.path(), "run.nii", (20, 24, 10, 16));
    let server = TestServer::start();
    server.put("data/run.nii", bytes);
    let remote = load(server.url("data/run.nii")).unwrap();
    assert_eq!(server.requests(), 1, "{:?}", server.log());
    assert!(server.bytes_served() <= 64 << 10);
    let local = load(dir.path().join("run.nii")).unwrap();
    assert_eq!(
        remote.header().data_shape().unwrap(),
        local.header().data_shape().unwrap()
    );
    assert_eq!(remote.affine(), local.affine());
    for t in [0, 7, 15] {
        assert_eq!(volume(&remote, t), volume(&local, t), "volume {t}");
    }
    // A volume already fetched is served from the block cache.
    let before = server.requests();
    volume(&remote, 7);
    assert_eq!(server.requests(), before);
}

#[test]
fn a_foreign_nii_gz_header_costs_one_request_and_a_full_read_matches() {
    let dir = tempfile::tempdir().unwrap();
    let plain = saved_run(dir.path(), "run.nii", (32, 32, 12, 30));
    let server = TestServer::start();
    server.put("run.nii.gz", foreign_gzip(&plain));
    let remote = load(server.url("run.nii.gz")).unwrap();
    assert!(server.requests() <= 2, "{:?}", server.log());
    assert!(
        server.bytes_served() <= 64 << 10,
        "{}",
        server.bytes_served()
    );
    let local = load(dir.path().join("run.nii")).unwrap();
    let mut remote = remote;
    let mut local = local;
    let a = remote
        .get_fdata(neurovox::image::Caching::Unchanged)
        .unwrap();
    let b = local
        .get_fdata(neurovox::image::Caching::Unchanged)
        .unwrap();
    assert_eq!(a, b);
    // The first pass asked in growing ranges, not 128 KiB at a time.
    assert!(server.requests() < 12, "{:?}", server.log());
}

#[test]
fn one_volume_of_a_neurovox_nii_gz_fetches_only_its_members_and_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = saved_run(dir.path(), "run.nii.gz", (64, 64, 32, 24));
    let local_path = dir.path().join("run.nii.gz");
    let members = GzipSource::open(&local_path).unwrap();
    let index = members
        .member_index()
        .expect("neurovox writes a member index")
        .clone();
    let file_len = bytes.len() as u64;
    let server = TestServer::start();
    server.put("run.nii.gz", bytes);
    let remote = load(server.url("run.nii.gz")).unwrap();
    let local = load(&local_path).unwrap();
    let first = server.bytes_served();
    assert!(
        server.requests() <= 2 && first <= 64 << 10,
        "{:?}",
        server.log()
    );
    server.reset_counts();
    let t = 17;
    assert_eq!(volume(&remote, t), volume(&local, t));
    // The load's two requests, sent at once, brought both ends (header, trailer and member
    // index): the volume costs one more round trip, one range of members.
    assert_eq!(server.requests(), 1, "{:?}", server.log());
    // The volume's bytes in the stream, and the members that hold them.
    let vol_bytes = 64 * 64 * 32 * 2;
    let start = 352 + t as u64 * vol_bytes;
    let end = start + vol_bytes;
    let spanned: u64 = index
        .members()
        .iter()
        .filter(|m| m.out < end && m.out + u64::from(m.size) > start)
        .map(|m| u64::from(m.len))
        .sum();
    let index_bytes = file_len
        - index
            .members()
            .iter()
            .map(|m| u64::from(m.len))
            .sum::<u64>();
    let served = server.bytes_served();
    assert!(
        served as f64 <= 1.1 * spanned as f64 + index_bytes as f64,
        "served {served} for members of {spanned} bytes (index {index_bytes}, first {first})"
    );
    // Again: the block cache serves it.
    let requests = server.requests();
    assert_eq!(volume(&remote, t), volume(&local, t));
    assert_eq!(server.requests(), requests);
}

#[test]
fn missing_and_forbidden_objects_are_not_found_and_permission_errors_naming_the_url() {
    let server = TestServer::start();
    let url = server.url("nothing/here.nii.gz");
    let e = load(&url).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert_eq!(io_kind(&e), Some(std::io::ErrorKind::NotFound), "{e}");
    assert!(e.to_string().contains(&url), "{e}");
    server.put("forbidden/a.nii", vec![1; 400]);
    let e = load(server.url("forbidden/a.nii")).unwrap_err();
    assert_eq!(
        io_kind(&e),
        Some(std::io::ErrorKind::PermissionDenied),
        "{e}"
    );
    // Not found is not retried: one first request each, and the `.nii.gz`'s suffix request
    // sent beside its first.
    let suffixes = |log: &[(String, String, Option<String>)]| {
        log.iter()
            .filter(|(_, _, range)| range.as_deref().is_some_and(|r| r.starts_with("bytes=-")))
            .count()
    };
    assert_eq!(server.requests(), 3, "{:?}", server.log());
    assert_eq!(suffixes(&server.log()), 1, "{:?}", server.log());
}

fn quick() -> RemoteOptions {
    RemoteOptions {
        timeout: Duration::from_millis(500),
        retries: 3,
        backoff: Duration::from_millis(10),
        ..RemoteOptions::default()
    }
}

/// `data` served as `blob`, and a source over it opened with [`quick`] options (one request).
fn served_blob(data: Vec<u8>) -> (TestServer, RemoteSource) {
    let server = TestServer::start();
    server.put("blob", data);
    let source = RemoteSource::open(&server.url("blob"), quick()).expect("the blob opens");
    (server, source)
}

#[test]
fn transient_failures_are_retried_and_give_the_right_bytes() {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (server, source) = served_blob(data.clone());
    for (fault, at) in [
        (Fault::Status(500), 100_000u64),
        (Fault::Status(503), 150_000),
        (Fault::DropMidBody, 200_000),
        (Fault::ShortBody, 250_000),
    ] {
        server.fail_next(fault);
        let mut buf = vec![0u8; 20_000];
        source.read_at(at, &mut buf).unwrap();
        assert!(buf == data[at as usize..at as usize + 20_000], "{fault:?}");
    }
    // Every fault cost one extra request.
    assert_eq!(server.requests(), 1 + 4 * 2, "{:?}", server.log());
}

#[test]
fn reads_that_race_a_prefetch_wait_for_it_and_each_byte_is_fetched_once() {
    let data: Vec<u8> = (0..3_200_000u32).map(|i| (i % 251) as u8).collect();
    let (server, source) = served_blob(data.clone());
    let (from, to) = (100_000usize, 3_000_000usize);
    source.prefetch(from as u64, to as u64);
    // Two threads read the range in pieces at once, before the prefetch can have landed.
    std::thread::scope(|scope| {
        for lane in 0..2 {
            let (source, data) = (&source, &data);
            scope.spawn(move || {
                let half = (to - from) / 2;
                let (lo, hi) = (from + lane * half, from + (lane + 1) * half);
                let mut at = lo;
                while at < hi {
                    // Pieces larger than a first pass's (which would read ahead), the last
                    // too: 1,450,000 bytes per lane are 5 pieces of 290,000.
                    let mut buf = vec![0u8; (hi - at).min(290_000)];
                    source.read_at(at as u64, &mut buf).unwrap();
                    assert!(buf == data[at..at + buf.len()], "bytes at {at}");
                    at += buf.len();
                }
            });
        }
    });
    // The first request and the prefetch's requests (of 2 MiB, sent at once); no byte
    // asked twice.
    let log = server.log();
    let mut ranges: Vec<(usize, usize)> = log
        .iter()
        .filter_map(
            |(_, _, range)| match parse_range(range.as_deref()?, data.len()) {
                RangeSpec::Bytes(first, last) => Some((first, last)),
                _ => None,
            },
        )
        .collect();
    ranges.sort();
    assert_eq!(ranges.len(), log.len(), "{log:?}");
    assert!(ranges.windows(2).all(|w| w[0].1 < w[1].0), "{log:?}");
    assert_eq!(server.requests(), 1 + 2, "{log:?}");
    assert!(
        server.bytes_served() <= (48 << 10) + (to - from) as u64 + (32 << 10),
        "{}",
        server.bytes_served()
    );
}

#[test]
fn a_prefetch_that_fails_leaves_its_blocks_to_the_reads() {
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 241) as u8).collect();
    let (server, source) = served_blob(data.clone());
    // Fatal, so not retried by the prefetch: its blocks are given up, unfetched.
    server.fail_next(Fault::Status(404));
    source.prefetch(200_000, 900_000);
    let mut buf = vec![0u8; 500_000];
    source.read_at(300_000, &mut buf).unwrap();
    assert!(buf == data[300_000..800_000]);
    assert_eq!(server.requests(), 3, "{:?}", server.log());
}

#[test]
fn a_failure_that_persists_is_an_error_after_the_retries() {
    let (server, source) = served_blob(vec![5u8; 200_000]);
    for _ in 0..4 {
        server.fail_next(Fault::Status(500));
    }
    let mut buf = vec![0u8; 1000];
    let e = source.read_at(150_000, &mut buf).unwrap_err();
    assert!(
        e.to_string().contains("500") && e.to_string().contains("4 attempts"),
        "{e}"
    );
    assert!(e.to_string().contains(&server.url("blob")), "{e}");
}

#[test]
fn a_replaced_object_is_stale_never_mixed() {
    let (server, source) = served_blob(vec![1u8; 300_000]);
    server.put("blob", vec![2u8; 300_000]);
    let mut buf = vec![0u8; 1000];
    // The first 64 KiB came with the first request and are still the old object's.
    source.read_at(0, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 1));
    let e = source.read_at(200_000, &mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Stale, "{e}");
    // A truncated replacement is stale too.
    let source = RemoteSource::open(&server.url("blob"), quick()).unwrap();
    server.put("blob", vec![2u8; 100_000]);
    assert_eq!(
        source.read_at(200_000, &mut buf).unwrap_err().kind(),
        ErrorKind::Stale
    );
}

#[test]
fn a_server_that_stalls_times_out_with_an_error() {
    let server = TestServer::start();
    server.put("blob", vec![3u8; 200_000]);
    let options = RemoteOptions {
        timeout: Duration::from_millis(150),
        retries: 1,
        backoff: Duration::from_millis(10),
        ..RemoteOptions::default()
    };
    let source = RemoteSource::open(&server.url("blob"), options).unwrap();
    server.fail_next(Fault::Stall(Duration::from_millis(600)));
    server.fail_next(Fault::Stall(Duration::from_millis(600)));
    let mut buf = vec![0u8; 1000];
    let e = source.read_at(100_000, &mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.to_string().contains("2 attempts"), "{e}");
}

/// Every file in `dir`, served under its own name.
fn serve_dir(server: &TestServer, dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).expect("a directory") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("a name");
        server.put(name, std::fs::read(&path).expect("readable"));
    }
}

#[test]
fn every_format_neurovox_writes_reads_from_a_url_as_from_its_file() {
    let data = ndarray::Array4::<i16>::from_shape_fn((5, 4, 3, 2), |(i, j, k, t)| {
        (i * 100 + j * 10 + k) as i16 - 7 * t as i16
    })
    .into_dyn();
    let affine = [
        [-2.0, 0.0, 0.0, 10.0],
        [0.0, 2.0, 0.0, -20.0],
        [0.0, 0.0, 2.5, 5.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let cases = [
        (ImageFormat::Nifti1, "a.nii"),
        (ImageFormat::Nifti1, "a.nii.gz"),
        (ImageFormat::Nifti1, "a.nii.bz2"),
        (ImageFormat::Nifti1, "a.nii.zst"),
        (ImageFormat::Nifti2, "a.nii.gz"),
        (ImageFormat::Nifti1Pair, "a.hdr"),
        (ImageFormat::Nifti1Pair, "a.img.gz"),
        (ImageFormat::Nifti2Pair, "A.HDR"),
        (ImageFormat::Analyze, "a.img"),
        (ImageFormat::Spm2, "a.img"),
        (ImageFormat::Mgh, "a.mgh"),
        (ImageFormat::Mgh, "a.mgz"),
    ];
    for (format, name) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut img = Image::from_array(data.clone(), Some(affine), format).unwrap();
        let local = dir.path().join(name);
        img.to_filename(&local, Default::default()).unwrap();
        let server = TestServer::start();
        serve_dir(&server, dir.path());
        let mut remote = load(server.url(name)).unwrap_or_else(|e| panic!("{name} {format}: {e}"));
        let mut from_file = load(&local).unwrap();
        let what = format!("{name} as {format}");
        assert_eq!(remote.format(), from_file.format(), "{what}");
        assert_eq!(remote.header(), from_file.header(), "{what}");
        assert_eq!(remote.affine(), from_file.affine(), "{what}");
        assert_eq!(
            remote.get_fdata(Default::default()).unwrap(),
            from_file.get_fdata(Default::default()).unwrap(),
            "{what}"
        );
        assert!(remote.file_map().header.is_none(), "{what}: no local files");
    }
}

#[test]
fn a_pair_at_a_url_finds_its_sibling_and_names_it_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let data =
        ndarray::Array3::<u8>::from_shape_fn((4, 3, 2), |(i, j, k)| (i + j * 4 + k * 12) as u8)
            .into_dyn();
    let mut img = Image::from_array(data.clone(), None, ImageFormat::Nifti1Pair).unwrap();
    img.to_filename(dir.path().join("pair.hdr"), Default::default())
        .unwrap();
    let server = TestServer::start();
    serve_dir(&server, dir.path());
    // Given either file, the other is found next to it.
    for given in ["pair.img", "pair.hdr"] {
        let img = load(server.url(given)).unwrap();
        let read = img.dataobj().to_array().unwrap();
        assert_eq!(read.get_f64(&[3, 2, 1]), Some(23.0), "{given}");
    }
    server.put(
        "lonely.hdr",
        std::fs::read(dir.path().join("pair.hdr")).unwrap(),
    );
    // The header loads; the missing .img is reported, naming its URL, when the data is read
    // (as for local files: nibabel reads lazily too).
    let e = load(server.url("lonely.hdr"))
        .and_then(|img| img.dataobj().to_array().map(|_| ()))
        .unwrap_err();
    assert_eq!(io_kind(&e), Some(std::io::ErrorKind::NotFound), "{e}");
    assert!(e.to_string().contains("lonely.img"), "{e}");
}

#[test]
fn extensions_past_the_first_request_are_read_in_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let data =
        ndarray::Array3::<i16>::from_shape_fn((6, 5, 4), |(i, j, k)| (i * 20 + j * 4 + k) as i16)
            .into_dyn();
    let mut img = Image::from_array(data, None, ImageFormat::Nifti1).unwrap();
    let comment: Vec<u8> = (0..150_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let neurovox::Header::Nifti(n) = img.header_mut() else {
        panic!("a NIfTI header");
    };
    n.extensions_mut()
        .push(neurovox::format::nifti1::Extension {
            code: 6,
            raw: comment.clone(),
        });
    img.to_filename(dir.path().join("ext.nii.gz"), Default::default())
        .unwrap();
    let server = TestServer::start();
    server.put(
        "ext.nii.gz",
        std::fs::read(dir.path().join("ext.nii.gz")).unwrap(),
    );
    let remote = load(server.url("ext.nii.gz")).unwrap();
    let local = load(dir.path().join("ext.nii.gz")).unwrap();
    let (neurovox::Header::Nifti(r), neurovox::Header::Nifti(l)) =
        (remote.header(), local.header())
    else {
        panic!("NIfTI headers");
    };
    assert_eq!(r.extensions(), l.extensions());
    assert!(r.extensions()[0].raw.starts_with(&comment));
    assert_eq!(volume(&remote, 3), volume(&local, 3));
}

#[test]
fn a_foreign_nii_gz_with_an_index_next_to_it_reads_a_late_volume_without_a_first_pass() {
    let dir = tempfile::tempdir().unwrap();
    let plain = saved_run(dir.path(), "run.nii", (48, 48, 24, 40));
    // As nibabel (Python's zlib, level 6) writes it: blocks of some KiB, where checkpoints go.
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(&plain).expect("compressed");
        e.finish().expect("compressed")
    };
    let gz_len = gz.len() as u64;
    let local = dir.path().join("run.nii.gz");
    std::fs::write(&local, &gz).unwrap();
    // The index `neurovox index` would write, made by one pass over the local copy.
    let indexed = GzipSource::open(&local).unwrap();
    let mut all = vec![0u8; indexed.len().unwrap() as usize];
    indexed.read_at(0, &mut all).unwrap();
    let sidecar = dir.path().join("run.nii.gz.nvgzidx");
    indexed.write_index(&sidecar).unwrap();
    let expected = volume(&load(dir.path().join("run.nii")).unwrap(), 38);
    let late_volume_costs = |with_index: bool| {
        let server = TestServer::start();
        server.put("run.nii.gz", gz.clone());
        if with_index {
            server.put("run.nii.gz.nvgzidx", std::fs::read(&sidecar).unwrap());
        }
        let img = load(server.url("run.nii.gz")).unwrap();
        let header_requests = server.requests();
        assert!(header_requests <= 2, "{:?}", server.log());
        assert_eq!(volume(&img, 38), expected);
        (server.bytes_served(), server.log())
    };
    let (without, _) = late_volume_costs(false);
    let (with, log) = late_volume_costs(true);
    // Without an index a late volume needs the whole stream before it; with one, the index,
    // the two 64 KiB edges that tie it to the object, and the compressed bytes from the
    // checkpoint before the volume (a span is a quarter of this small file).
    assert!(without >= gz_len * 9 / 10, "{without} of {gz_len}");
    let index_len = std::fs::metadata(&sidecar).unwrap().len();
    assert!(
        with <= index_len + gz_len / 4 + (192 << 10),
        "{with} bytes with an index of {index_len}, file {gz_len}: {log:?}"
    );
}

#[test]
fn an_index_that_is_not_the_objects_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let plain = saved_run(dir.path(), "run.nii", (24, 24, 12, 10));
    let other = saved_run(dir.path(), "other.nii", (24, 24, 12, 11));
    let other_gz = dir.path().join("other.nii.gz");
    std::fs::write(&other_gz, foreign_gzip(&other)).unwrap();
    let source = GzipSource::open(&other_gz).unwrap();
    let mut all = vec![0u8; source.len().unwrap() as usize];
    source.read_at(0, &mut all).unwrap();
    let wrong = dir.path().join("wrong.nvgzidx");
    source.write_index(&wrong).unwrap();
    let server = TestServer::start();
    server.put("run.nii.gz", foreign_gzip(&plain));
    server.put("run.nii.gz.nvgzidx", std::fs::read(&wrong).unwrap());
    let img = load(server.url("run.nii.gz")).unwrap();
    let expected = load(dir.path().join("run.nii")).unwrap();
    assert_eq!(volume(&img, 9), volume(&expected, 9));
}

#[test]
fn a_full_read_of_a_neurovox_nii_gz_fetches_each_byte_once_in_a_few_requests() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = saved_run(dir.path(), "run.nii.gz", (64, 64, 32, 24));
    let file_len = bytes.len() as u64;
    let server = TestServer::start();
    server.put("run.nii.gz", bytes);
    let mut remote = load(server.url("run.nii.gz")).unwrap();
    let mut local = load(dir.path().join("run.nii.gz")).unwrap();
    let caching = neurovox::image::Caching::Unchanged;
    assert_eq!(
        remote.get_fdata(caching).unwrap(),
        local.get_fdata(caching).unwrap()
    );
    // The members' bytes are fetched at once (prefetch), not one request per member, and
    // no byte twice (reads on several threads do not read ahead into each other's ranges),
    // but for the member where two threads' pieces of the read meet, which each fetches.
    let served = server.bytes_served();
    let largest_member = {
        let source = GzipSource::open(dir.path().join("run.nii.gz")).unwrap();
        let index = source.member_index().expect("a member index").clone();
        index
            .members()
            .iter()
            .map(|m| m.len as u64)
            .max()
            .unwrap_or(0)
    };
    assert!(
        served <= file_len + 2 * largest_member + (64 << 10),
        "{served} bytes for a {file_len}-byte file: {:?}",
        server.log()
    );
    assert!(server.requests() <= 6, "{:?}", server.log());
}
