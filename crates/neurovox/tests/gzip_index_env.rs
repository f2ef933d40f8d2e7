//! The environment variables of persisted gzip indexes: the cache directory
//! (`NEUROVOX_GZIP_INDEX_DIR`) and the switch that turns lookups off
//! (`NEUROVOX_GZIP_INDEX=off`). One test in its own binary: it sets process-wide variables.

#![allow(clippy::unwrap_used)]

use neurovox::io::gzip::index_file;
use neurovox::io::{GzipSource, Source};
use std::io::Write;

#[test]
fn the_cache_directory_is_searched_and_lookups_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // SAFETY: the only test in this binary, so no other thread reads the environment.
    unsafe { std::env::set_var("NEUROVOX_GZIP_INDEX_DIR", &cache) };
    unsafe { std::env::remove_var("NEUROVOX_GZIP_INDEX") };
    let want: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i / 3 % 251) as u8 ^ (i >> 13) as u8)
        .collect();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(&want).unwrap();
    let path = dir.path().join("readonly.nii.gz");
    std::fs::write(&path, e.finish().unwrap()).unwrap();

    let entry = index_file::cache_path(&path).unwrap();
    assert!(entry.starts_with(&cache));
    std::fs::create_dir_all(&cache).unwrap();
    GzipSource::open(&path)
        .unwrap()
        .write_index(&entry)
        .unwrap();
    assert!(!index_file::sidecar_path(&path).exists());

    let source = GzipSource::open(&path).unwrap();
    assert_eq!(source.index_origin(), Some(entry.as_path()));
    let mut tail = vec![0u8; 1000];
    source.read_at(1_999_000, &mut tail).unwrap();
    assert!(tail == want[1_999_000..]);
    assert!(source.inflated_bytes() < 1_100_000 + 1000);

    unsafe { std::env::set_var("NEUROVOX_GZIP_INDEX", "off") };
    let source = GzipSource::open(&path).unwrap();
    assert_eq!(source.index_origin(), None);
    assert!(!source.index_stats().complete);
    unsafe { std::env::remove_var("NEUROVOX_GZIP_INDEX") };

    // Trimming keeps the newest entries within the cap.
    assert_eq!(index_file::trim_cache(&cache, 0).unwrap(), 1);
    assert!(!entry.exists());
}
