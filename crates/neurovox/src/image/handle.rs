//! Lightweight image handles for parallel work (docs/nibabel-rules.md §19.3): a clean image
//! becomes a few hundred bytes — its paths, format, load options and file fingerprints, never
//! data — that any thread or process turns back into a proxy image, reading only the header.
//!
//! A handle is only made from an image that matches its file ([`crate::Image::is_dirty`] is
//! false), and opening it checks the files still match the fingerprints: a file changed since
//! gives an [`crate::ErrorKind::Stale`] error rather than other data. Paths are stored
//! absolute, so a handle opens the same files from any working directory, and a handle
//! without a fingerprint of each of its files (crafted or damaged) is refused.
//!
//! A handle is data: its JSON form (serde) is safe to accept from anyone, unlike a Python
//! pickle, whose loading can run any code (docs/robustness.md).

use crate::error::{Error, Result};
use crate::format::ImageFormat;
use crate::image::spatial_image::{Image, LoadOptions};
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
        let absolute = |p: &PathBuf| std::path::absolute(p).map_err(|e| Error::io(e).with_path(p));
        let mut files = prints.to_vec();
        for print in &mut files {
            print.path = absolute(&print.path)?;
        }
        Ok(ImageHandle {
            format: image.format(),
            header_path: absolute(header_path)?,
            image_path: absolute(image_path)?,
            options: image.load_options(),
            files,
        })
    }

    /// Ok if every file still matches its fingerprint; else a Stale error naming the file
    /// and what changed. A handle that lacks a fingerprint of its header or image file is a
    /// Usage error: without one, a changed file could not be told apart.
    pub fn check(&self) -> Result<()> {
        for needed in [&self.header_path, &self.image_path] {
            let printed = self
                .files
                .iter()
                .any(|f| &f.path == needed && f.state.is_some());
            if !printed {
                return Err(Error::usage(
                    "the image handle has no fingerprint of this file, so a changed file could \
                     not be detected; it was not made by neurovox (or was altered) and is refused",
                )
                .with_path(needed));
            }
        }
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
impl Image {
    /// A small serialisable handle to this image's files (paths, format, load options,
    /// fingerprints; never data) that any thread or process opens as a proxy image again
    /// ([`crate::ImageHandle`]). A Usage error saying why if the image is dirty.
    pub fn handle(&self) -> Result<crate::ImageHandle> {
        crate::ImageHandle::of(self)
    }
}
