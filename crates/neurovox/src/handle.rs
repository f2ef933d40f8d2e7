//! Lightweight image handles for parallel work (seed 002): a clean image becomes a few
//! hundred bytes — its paths, format, load options and file fingerprints, never data — that
//! any thread or process turns back into a proxy image, reading only the header.
//!
//! A handle is only made from an image that matches its file ([`crate::Image::is_dirty`] is
//! false), and opening it checks the files still match the fingerprints: a file changed since
//! gives an [`crate::ErrorKind::Stale`] error rather than other data.

use crate::error::{Error, Result};
use crate::format::ImageFormat;
use crate::image::{Image, LoadOptions};
use crate::io::FileFingerprint;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A serialisable reference to an image file; see the module documentation.
///
/// ```
/// use neurovox::{Image, ImageFormat};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.nii");
/// let data = ndarray::Array::from_shape_fn((4, 5, 6), |(i, j, k)| (i * 30 + j * 6 + k) as i16);
/// let mut img = Image::from_array(data.into_dyn(), None, ImageFormat::Nifti1)?;
/// img.to_filename(&path, Default::default())?;
///
/// let handle = neurovox::load(&path)?.handle()?;            // no data read
/// let json = serde_json::to_string(&handle).unwrap();        // send it anywhere
/// let back: neurovox::ImageHandle = serde_json::from_str(&json).unwrap();
/// let img = back.open()?;                                    // a proxy image again
/// assert_eq!(img.dataobj().read(&neurovox::sel![1, 2, 3])?.get_f64(&[]), Some(45.0));
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageHandle {
    /// The format the image was read as.
    pub format: ImageFormat,
    /// The file with the header.
    pub header_path: PathBuf,
    /// The file with the data (the same as `header_path` for single-file formats).
    pub image_path: PathBuf,
    /// How to load: memory mapping and file handles.
    pub options: LoadOptions,
    /// The image's files as they were when it was read.
    pub files: Vec<FileFingerprint>,
}

impl ImageHandle {
    /// The handle of a clean image; a Usage error saying why otherwise.
    pub(crate) fn of(image: &Image) -> Result<ImageHandle> {
        if let Some(reason) = image.dirty_reasons_first() {
            return Err(Error::usage(format!(
                "no handle for an image that may differ from its file ({reason}); save it and load the saved file"
            )));
        }
        let files = image.file_map();
        let (Some(header_path), Some(image_path), Some(prints)) =
            (&files.header, &files.image, image.fingerprints())
        else {
            return Err(Error::usage("no handle for an image without files"));
        };
        Ok(ImageHandle {
            format: image.format(),
            header_path: header_path.clone(),
            image_path: image_path.clone(),
            options: image.load_options(),
            files: prints.to_vec(),
        })
    }

    /// Ok if every file still matches its fingerprint; else a Stale error naming the file
    /// and what changed.
    pub fn check(&self) -> Result<()> {
        self.files.iter().try_for_each(FileFingerprint::check)
    }

    /// The image again, as a proxy image (only the header is read). A Stale error if any
    /// file changed since the handle was made, checked before and after the header is read.
    pub fn open(&self) -> Result<Image> {
        self.check()?;
        let image = Image::load_as(&self.header_path, Some(self.format), self.options)?;
        if image.file_map().image.as_ref() != Some(&self.image_path) {
            return Err(Error::stale(format!(
                "the image's data file is now {:?}, not {:?}",
                image.file_map().image,
                self.image_path
            ))
            .with_path(&self.header_path));
        }
        // The fingerprints the load took before reading: a file that changed between the
        // check above and the read shows here.
        if let Some(prints) = image.fingerprints() {
            for (now, then) in prints.iter().zip(&self.files) {
                if now != then {
                    return Err(
                        Error::stale("the file changed while the handle was being opened")
                            .with_path(&then.path),
                    );
                }
            }
        }
        Ok(image)
    }
}
