//! keep_file_open semantics without handle leaks (docs/nibabel-rules.md §3): with `false`
//! every read opens and closes the file, with `true` one handle lives as long as the proxy,
//! and the process-wide default applies when the option is `None`. Alone in its own test
//! binary, so no other test opens files while the descriptors are counted.

// Helpers shared by the tests unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use neurovox::format::Header;
use neurovox::image::{DataObj, Image};
use neurovox::image::{MmapMode, ProxyOptions, set_keep_file_open_default};
use neurovox::{ByteOrder, DataType, ImageFormat, sel};

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn keep_file_open_true_false_and_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("img.nii");
    let mut h = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
    h.set_data_shape(&[4, 4, 4, 3]).unwrap();
    h.set_data_dtype(DataType::UInt8).unwrap();
    let mut bytes = h.to_prefix_bytes().unwrap();
    bytes.extend((0..192u32).map(|v| v as u8));
    std::fs::write(&path, bytes).unwrap();

    let baseline = open_descriptors();
    let options = |keep| ProxyOptions {
        mmap: MmapMode::No,
        keep_file_open: keep,
        ..Default::default()
    };

    let img = Image::load_with(&path, options(Some(false))).unwrap();
    for _ in 0..50 {
        img.dataobj().read(&sel![.., .., .., 1]).unwrap();
    }
    assert_eq!(
        open_descriptors(),
        baseline,
        "keep_file_open=false keeps no handle between reads"
    );
    drop(img);

    let img = Image::load_with(&path, options(Some(true))).unwrap();
    let DataObj::Proxy(p) = img.dataobj() else {
        unreachable!()
    };
    assert!(p.keeps_file_open());
    for _ in 0..50 {
        img.dataobj().read(&sel![0, .., .., ..]).unwrap();
    }
    assert_eq!(
        open_descriptors(),
        baseline + 1,
        "one handle for the proxy's life"
    );
    let clone = img.clone();
    assert_eq!(open_descriptors(), baseline + 1, "clones share the handle");
    drop(img);
    drop(clone);
    assert_eq!(open_descriptors(), baseline, "closed with the last proxy");

    set_keep_file_open_default(true);
    let img = Image::load_with(&path, options(None)).unwrap();
    let DataObj::Proxy(p) = img.dataobj() else {
        unreachable!()
    };
    assert!(p.keeps_file_open(), "None follows the process-wide default");
    set_keep_file_open_default(false);
    drop(img);
    assert_eq!(open_descriptors(), baseline);
}
