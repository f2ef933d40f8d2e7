//! Damaged `.nii.gz` files never read as other values, also when bytes follow the damaged
//! member (zero padding, an empty member, neurovox's index members): the mutation test of
//! issue 14 found full reads that returned wrong values there, because the member's checksum
//! was only looked at when the file's last trailer said the member ended.

// Helpers shared by the tests unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use neurovox::image::Caching;
use neurovox::{ByteOrder, DataType, Header, ImageFormat};
use std::io::Write;

/// A NIfTI-1 int16 image of pseudo-random values, as plain bytes, and its values.
fn nifti(shape: &[usize]) -> (Vec<u8>, Vec<f64>) {
    let mut header = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
    header.set_data_shape(shape).unwrap();
    header.set_data_dtype(DataType::Int16).unwrap();
    let mut bytes = header.to_prefix_bytes().unwrap();
    let count: usize = shape.iter().product();
    let values: Vec<i16> = (0..count)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 20) as i16)
        .collect();
    for v in &values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    (bytes, values.iter().map(|&v| f64::from(v)).collect())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Flips bits all through the deflate data of `file` followed by `tail`; a full read must
/// fail or give the right values. Returns how many flips failed.
fn flips_never_read_as_other_values(file: &[u8], tail: &[u8], values: &[f64]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.nii.gz");
    let mut failed = 0;
    let body = 10..file.len() - 8;
    let step = (body.len() / 60).max(1);
    for (n, pos) in body.step_by(step).enumerate() {
        let mut bad = file.to_vec();
        bad[pos] ^= 1 << (n % 8);
        bad.extend_from_slice(tail);
        std::fs::write(&path, &bad).unwrap();
        let read = neurovox::load(&path).and_then(|mut img| img.get_fdata(Caching::Unchanged));
        match read {
            // File order is Fortran order: the transpose's logical order.
            Ok(data) => assert!(
                data.t().iter().copied().eq(values.iter().copied()),
                "a flip at byte {pos} (tail {tail:?}) read as other values"
            ),
            Err(e) => {
                assert!(e.to_string().contains("d.nii.gz"), "{e}");
                failed += 1;
            }
        }
    }
    failed
}

#[test]
fn a_damaged_member_followed_by_other_bytes_is_an_error() {
    let (plain, values) = nifti(&[8, 8, 8]);
    let file = gzip(&plain);
    // Zero padding, an empty gzip member, and nothing at all (the control).
    let empty_member = gzip(&[]);
    for tail in [&[0u8; 8][..], &empty_member[..], &[][..]] {
        let failed = flips_never_read_as_other_values(&file, tail, &values);
        assert!(
            failed >= 40,
            "only {failed} flips failed with tail {tail:?}"
        );
    }
}

#[test]
fn a_damaged_small_member_of_a_neurovox_file_is_an_error() {
    // neurovox's own files: a member smaller than the 64 KiB read through the streamed
    // path, then the member index.
    let (plain, values) = nifti(&[16, 16, 16]);
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("own.nii.gz");
    let img = neurovox::Image::from_bytes(plain).unwrap();
    neurovox::image::save(&img, &saved, Default::default()).unwrap();
    let file = std::fs::read(&saved).unwrap();
    let failed = flips_never_read_as_other_values(&file, &[], &values);
    assert!(failed >= 30, "only {failed} flips failed");
}
