//! `save::save_to_bytes` gives, file by file, the bytes `save` writes (what the Python
//! package writes into file objects, `to_stream` and `to_bytes`), and `files::read_header_from`
//! reads headers from any reader as `read_header` reads them from files.

// Helpers shared by the tests unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use neurovox::image::Image;
use neurovox::image::read_header_from;
use neurovox::image::{SaveOptions, save, save_to_bytes};
use neurovox::io::Compression;
use neurovox::{DataType, ImageFormat};

fn image(format: ImageFormat) -> Image {
    let data = ndarray::Array::from_shape_fn((3, 4, 5, 2), |(i, j, k, t)| {
        (i + 3 * j + 12 * k) as f32 * 0.5 + t as f32
    })
    .into_dyn();
    let affine = [
        [2.0, 0.0, 0.0, -3.0],
        [0.0, 2.5, 0.0, 4.0],
        [0.0, 0.0, 3.0, 5.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    Image::from_array(data, Some(affine), format).unwrap()
}

#[test]
fn bytes_are_the_files_save_writes_for_every_format() {
    let dir = tempfile::tempdir().unwrap();
    for format in ImageFormat::WRITABLE {
        // A pair is saved by naming its `.img`.
        let ext = if format.is_pair() {
            ".img"
        } else {
            format.valid_exts()[0]
        };
        let name = &format!("{format}{ext}");
        let img = image(format);
        for dtype in [None, Some(DataType::Int16)] {
            let options = SaveOptions {
                dtype,
                ..Default::default()
            };
            let path = dir.path().join(name);
            let saved = save_to_bytes(&img, format, Compression::None, options);
            let written = save(&img, &path, options);
            let (saved, _outcome) = match (saved, written) {
                (Ok(s), Ok(w)) => (s, w),
                (Err(a), Err(b)) => {
                    // Analyze cannot scale float data into int16: both refuse alike.
                    assert_eq!((a.kind(), a.message()), (b.kind(), b.message()), "{name}");
                    continue;
                }
                (s, w) => panic!("{name}: save_to_bytes {s:?} but save {w:?}"),
            };
            let (header_path, image_path) = neurovox::image::header_and_image_paths(&path);
            assert_eq!(saved.image, std::fs::read(&image_path).unwrap(), "{name}");
            if format.is_pair() {
                let header = saved.header.as_ref().unwrap();
                assert_eq!(*header, std::fs::read(&header_path).unwrap(), "{name}");
                // The header read back from the bytes is the header read from the file.
                let from_reader = read_header_from(&mut &header[..], format).unwrap();
                let from_file = neurovox::image::read_header_as(&path, Some(format)).unwrap();
                assert_eq!(from_reader, from_file.header, "{name}");
            } else {
                assert!(saved.header.is_none());
                let from_reader = read_header_from(&mut &saved.image[..], format).unwrap();
                let from_file = neurovox::image::read_header_as(&path, Some(format)).unwrap();
                assert_eq!(from_reader, from_file.header, "{name}");
            }
            let mat = neurovox::image::mat_path(&image_path);
            match format {
                ImageFormat::Spm99 | ImageFormat::Spm2 => {
                    assert_eq!(
                        saved.mat.as_deref(),
                        Some(&std::fs::read(&mat).unwrap()[..])
                    )
                }
                _ => assert!(saved.mat.is_none() && !mat.exists(), "{name}"),
            }
            // Single files read back from the bytes alone.
            if !format.is_pair() {
                let back = Image::from_bytes(saved.image.clone()).unwrap();
                let expected = neurovox::load(&image_path).unwrap();
                assert_eq!(back.header(), expected.header(), "{name}");
                assert_eq!(
                    back.dataobj().to_array().unwrap().to_f64().unwrap(),
                    expected.dataobj().to_array().unwrap().to_f64().unwrap(),
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn compressed_bytes_decompress_to_the_plain_bytes() {
    let img = image(ImageFormat::Nifti1);
    let plain = save_to_bytes(
        &img,
        ImageFormat::Nifti1,
        Compression::None,
        SaveOptions::default(),
    )
    .unwrap();
    let gz = save_to_bytes(
        &img,
        ImageFormat::Nifti1,
        Compression::Gzip,
        SaveOptions::default(),
    )
    .unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(&gz.image[..]),
        &mut out,
    )
    .unwrap();
    assert_eq!(out, plain.image);
}

#[test]
fn headers_from_readers_fail_as_from_files() {
    // Nothing to read.
    let err = read_header_from(&mut &[][..], ImageFormat::Nifti1).unwrap_err();
    assert_eq!(err.kind(), neurovox::ErrorKind::Format);
    // A NIfTI-1 header cut short.
    let img = image(ImageFormat::Nifti1);
    let saved = save_to_bytes(
        &img,
        ImageFormat::Nifti1,
        Compression::None,
        SaveOptions::default(),
    )
    .unwrap();
    assert!(read_header_from(&mut &saved.image[..100], ImageFormat::Nifti1).is_err());
    // MGH: the footer after the data is read too, so the header equals the file's.
    let mgh = save_to_bytes(
        &image(ImageFormat::Mgh),
        ImageFormat::Mgh,
        Compression::None,
        SaveOptions::default(),
    )
    .unwrap();
    let h = read_header_from(&mut &mgh.image[..], ImageFormat::Mgh).unwrap();
    assert_eq!(&h, Image::from_bytes(mgh.image.clone()).unwrap().header());
}
