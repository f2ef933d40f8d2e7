//! A proxy whose file is replaced on disk (a save over the source, another program) never
//! returns the new file's bytes read with the old file's layout: it reads the old content
//! through the handle or map it holds, or reports a Stale error.

// Helpers shared by the tests unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use neurovox::format::Header;
use neurovox::image::{MmapMode, ProxyOptions};
use neurovox::{ByteOrder, DataType, ErrorKind, Image, ImageFormat};
use std::path::Path;

fn nifti_bytes(shape: &[usize], dtype: DataType, fill: u8) -> Vec<u8> {
    let mut h = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
    h.set_data_shape(shape).unwrap();
    h.set_data_dtype(dtype).unwrap();
    let mut bytes = h.to_prefix_bytes().unwrap();
    let n: usize = shape.iter().product::<usize>() * dtype.itemsize();
    bytes.resize(bytes.len() + n, fill);
    bytes
}

/// Replaces `path` the way an atomic save does: a new file renamed over it.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn replaced_files_give_old_data_or_a_stale_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("img.nii");
    let cases = [
        ("pread, handle per read", MmapMode::No, Some(false), false),
        ("pread, kept handle", MmapMode::No, Some(true), false),
        (
            "map made before the replace",
            MmapMode::CopyOnWrite,
            None,
            true,
        ),
        (
            "map made after the replace",
            MmapMode::ReadOnly,
            None,
            false,
        ),
    ];
    for (what, mmap, keep, read_first) in cases {
        std::fs::write(&path, nifti_bytes(&[4, 4, 4], DataType::UInt8, 7)).unwrap();
        let img = Image::load_with(
            &path,
            ProxyOptions {
                mmap,
                keep_file_open: keep,
                ..Default::default()
            },
        )
        .unwrap();
        if read_first {
            img.dataobj().to_array().unwrap();
        }
        // A different file under the same name: another type and shape, other values.
        replace(&path, &nifti_bytes(&[2, 2, 2], DataType::Int16, 9));
        match img.dataobj().to_array() {
            Ok(data) => {
                assert_eq!(data.shape(), &[4, 4, 4], "{what}");
                assert_eq!(
                    data.get_f64(&[3, 3, 3]),
                    Some(7.0),
                    "{what}: the old content"
                );
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Stale, "{what}: {e}");
                assert!(e.to_string().contains("img.nii"), "{what}: {e}");
            }
        }
        // Loading again reads the new file.
        let fresh = neurovox::load(&path).unwrap();
        assert_eq!(fresh.shape(), &[2, 2, 2]);
        assert_eq!(
            fresh.dataobj().to_array().unwrap().get_f64(&[1, 1, 1]),
            Some(f64::from(0x0909i16))
        );
    }
}
