//! keep_file_open with memory mapping (docs/nibabel-rules.md §3): the handle that mapped the
//! file is kept for the proxy's life only when asked. A test binary of its own, apart from
//! `file_handles.rs`, which counts every descriptor of the process.

// Helpers shared by the tests unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use neurovox::format::Header;
use neurovox::image::Image;
use neurovox::image::{MmapMode, ProxyOptions};
use neurovox::{ByteOrder, DataType, ImageFormat, sel};

/// With memory mapping on, `keep_file_open=true` keeps the handle that mapped the file (one
/// descriptor for the proxy's life, as nibabel's kept opener), and `false` keeps none: the
/// map alone holds the pages.
#[test]
fn memory_mapped_proxies_keep_one_handle_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mapped.nii");
    let mut h = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
    h.set_data_shape(&[4, 4, 4]).unwrap();
    h.set_data_dtype(DataType::UInt8).unwrap();
    let mut bytes = h.to_prefix_bytes().unwrap();
    bytes.extend((0..64u32).map(|v| v as u8));
    std::fs::write(&path, bytes).unwrap();
    let target = std::fs::canonicalize(&path).unwrap();
    let to_file = || {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
            .filter(|p| *p == target)
            .count()
    };
    for keep in [false, true] {
        let options = ProxyOptions {
            mmap: MmapMode::CopyOnWrite,
            keep_file_open: Some(keep),
            ..Default::default()
        };
        let img = Image::load_with(&path, options).unwrap();
        for _ in 0..10 {
            let v = img.dataobj().read(&sel![1, 2, 3]).unwrap();
            assert_eq!(v.get_f64(&[]), Some((1 + 2 * 4 + 3 * 16) as f64));
        }
        assert_eq!(to_file(), usize::from(keep), "keep_file_open={keep}");
        drop(img);
        assert_eq!(
            to_file(),
            0,
            "closed with the proxy (keep_file_open={keep})"
        );
    }
}
