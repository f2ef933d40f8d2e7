//! Knowing whether an image still matches its file (docs/nibabel-rules.md §19.1, a feature
//! nibabel sketched and never built): what [`crate::Image::is_dirty`] compares, and why.
//!
//! When an image is loaded it keeps a `Snapshot`: the header's binary block and a digest of
//! its extensions (NIfTI) or tags (MGH), the affine, what the data object was (which file, at
//! which offset, with which type and scaling), and a [`FileFingerprint`] of every file the
//! image came from (taken *before* the header is read, so a file rewritten during the load
//! is seen as changed). An image is dirty when any of these differ now:
//!
//! * the header, field by field (bytes compared, so setting a field back to its old value
//!   makes the image clean again, and NaN fields compare equal to themselves);
//! * the extensions or MGH tags, by XXH3-128 digest (no copy of large extensions is kept);
//! * the affine, bit for bit;
//! * the data object replaced (another array, another proxy);
//! * data that was handed out mutably and now holds other values (see below);
//! * any file, by the fingerprint (device, inode, size, mtime, ctime, first 64 KiB);
//! * or the image was marked dirty by hand.
//!
//! Reading never dirties an image. Handing out mutable access to cached or in-memory data
//! (`get_fdata_mut`, `dataobj_mut`) records a digest of that array first; `is_dirty` then
//! digests it again and compares, so data that was only read, or written back to the same
//! values, leaves the image clean. **Cost**: checking a header, affine and files is a few
//! microseconds (one `stat` and one read of ≤ 64 KiB per file: 6.5 µs for a `.nii`); an
//! image whose data was handed out mutably costs one pass over that array in memory per
//! check, and the same once when access is first given (0.08 s for a 1 GiB float64 cache on
//! 2 cores). No data is ever read from disk. Measured by
//! `cargo run --release -p neurovox --example dirty_check_cost`.
//!
//! Images made in memory have no snapshot and are always dirty. An image saved with
//! `to_filename` takes a snapshot of itself and of the files it was just saved to when the
//! file holds its values exactly (same type, unscaled, or its stored bytes copied) in a header
//! of the same layout; when the save cast or scaled the values, or wrote another format, it
//! has none and says why ([`DirtyReason::SavedWithCast`], [`DirtyReason::SavedAsFormat`]).
//! `mark_clean` takes one when the caller knows better.
//!
//! An in-memory array is digested only when it is first handed out mutably after a snapshot
//! (until then nothing can change it: the image's array is copy-on-write), so a snapshot,
//! and with it a save, costs no pass over the data.

use crate::array::dyn_array::DynArray;
use crate::format::Header;
use crate::format::affine::Affine;
use crate::image::dataobj::DataObj;
use crate::image::proxy::ArraySpec;
use crate::io::fingerprint::{FileFingerprint, MAX_HEAD_BYTES};
use std::fmt;
use std::path::{Path, PathBuf};

/// Why an image may differ from its file ([`crate::Image::dirty_reasons`]).
#[derive(Debug, Clone, PartialEq)]
pub enum DirtyReason {
    /// The image has no record of matching a file: made in memory, or loaded from bytes.
    NoSnapshot,
    /// The image was saved, but the file holds its values cast or scaled (the file reads
    /// back other values, or values of another type).
    SavedWithCast(crate::array::write_scale::ValueCast),
    /// The image was saved as another format, whose header cannot hold every field of the
    /// image's.
    SavedAsFormat(crate::ImageFormat),
    /// [`crate::Image::mark_dirty`] was called.
    MarkedDirty,
    /// These header fields differ from the loaded header.
    HeaderFields(Vec<&'static str>),
    /// The NIfTI extensions or MGH tags differ.
    Extensions,
    /// The affine differs.
    Affine,
    /// The data object is no longer the one loaded (replaced by an array or another proxy).
    DataObjectReplaced,
    /// Data handed out mutably now holds other values.
    DataModified,
    /// A file changed on disk since the image was read.
    FileChanged {
        /// The file.
        path: PathBuf,
        /// What changed, in words.
        change: String,
    },
}

impl fmt::Display for DirtyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirtyReason::NoSnapshot => f.write_str("the image has no file it is known to match"),
            DirtyReason::SavedWithCast(cast) => write!(
                f,
                "the last save cast the values ({cast}): the file reads back other values \
                 than the image holds; mark_clean() to accept them"
            ),
            DirtyReason::SavedAsFormat(format) => write!(
                f,
                "the last save wrote {}, whose header cannot hold every field of this image's",
                format.label()
            ),
            DirtyReason::MarkedDirty => f.write_str("the image was marked dirty"),
            DirtyReason::HeaderFields(names) => {
                write!(f, "header fields changed: {}", names.join(", "))
            }
            DirtyReason::Extensions => f.write_str("the header extensions changed"),
            DirtyReason::Affine => f.write_str("the affine changed"),
            DirtyReason::DataObjectReplaced => f.write_str("the data object was replaced"),
            DirtyReason::DataModified => f.write_str("the data was modified in memory"),
            DirtyReason::FileChanged { path, change } => {
                write!(f, "{} changed on disk: {change}", path.display())
            }
        }
    }
}

/// What the data object was when the snapshot was taken.
#[derive(Debug, Clone)]
enum DataSnapshot {
    /// A proxy reading this spec from this file.
    Proxy {
        spec: ArraySpec,
        file: Option<PathBuf>,
    },
    /// An array (unchanged until it is handed out mutably: see `Tracking::dataobj_baseline`).
    Array,
}

/// An image's state when it was loaded (or marked clean).
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    header: Header,
    extensions_digest: u128,
    affine: Option<Affine>,
    data: DataSnapshot,
    files: Vec<FileFingerprint>,
}

/// The dirty-tracking state an [`crate::Image`] carries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracking {
    snapshot: Option<Snapshot>,
    /// Why there is no snapshot, when it is not simply [`DirtyReason::NoSnapshot`].
    unmatched: Option<DirtyReason>,
    marked_dirty: bool,
    /// Digest of the in-memory data object when it was first handed out mutably after the
    /// snapshot.
    dataobj_baseline: Option<u128>,
    /// Digest of the float cache when it was first handed out mutably.
    fdata_baseline: Option<u128>,
}

/// The files of an image to fingerprint, with how many leading bytes to digest: the whole
/// header (up to 64 KiB) of the header file, nothing of a separate data file (its size and
/// times suffice), the SPM `.mat` sidecar whether or not it exists.
pub(crate) fn watched_files(
    header_path: &Path,
    image_path: &Path,
    with_mat: bool,
) -> Vec<(PathBuf, u64)> {
    let mut files = vec![(header_path.to_path_buf(), MAX_HEAD_BYTES)];
    if image_path != header_path {
        files.push((image_path.to_path_buf(), 0));
    }
    if with_mat {
        files.push((crate::image::file_map::mat_path(image_path), MAX_HEAD_BYTES));
    }
    files
}

/// Fingerprints of `files` now; a file that cannot be examined leaves a fingerprint saying
/// why, which any later check reports as a change (so the image is dirty, never wrongly
/// clean, and the reason names the real cause).
pub(crate) fn fingerprint_all(files: &[(PathBuf, u64)]) -> Vec<FileFingerprint> {
    files
        .iter()
        .map(|(path, head)| FileFingerprint::take_or_note(path, *head))
        .collect()
}

/// A digest of what a header holds beyond its binary block: NIfTI extensions (codes and
/// bytes), MGH tags, an ECAT7 matrix list and subheaders, or a text header's (AFNI, PAR/REC, MINC)
/// shape, type and voxel sizes (its text never changes; those three can, as in nibabel).
pub(crate) fn extensions_digest(header: &Header) -> u128 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    match header {
        Header::Nifti(n) => {
            for ext in n.extensions() {
                hasher.update(&ext.code.to_le_bytes());
                hasher.update(&(ext.raw.len() as u64).to_le_bytes());
                hasher.update(&ext.raw);
            }
        }
        Header::Mgh(m) => hasher.update(m.tag_bytes()),
        Header::Afni(_) | Header::Parrec(_) | Header::Minc(_) => {
            for n in header.data_shape().unwrap_or_default() {
                hasher.update(&(n as u64).to_le_bytes());
            }
            if let Ok(dtype) = header.data_dtype() {
                hasher.update(dtype.to_string().as_bytes());
            }
            for z in header.zooms() {
                hasher.update(&z.to_le_bytes());
            }
        }
        Header::Ecat(e) => {
            for row in e.mlist() {
                for v in row {
                    hasher.update(&v.to_le_bytes());
                }
            }
            for sub in e.subheaders() {
                hasher.update(sub.bytes());
            }
        }
        Header::Analyze(_) => {}
    }
    hasher.digest128()
}

/// The names of the fields whose bytes differ between two headers of one layout (every
/// field, if the layouts differ).
pub fn changed_fields(old: &Header, new: &Header) -> Vec<&'static str> {
    let layout = new.layout();
    if !std::ptr::eq(old.layout(), layout) || old.byte_order() != new.byte_order() {
        return layout.fields.iter().map(|f| f.name).collect();
    }
    let (a, b) = (old.binary_block(), new.binary_block());
    layout
        .fields
        .iter()
        .filter(|f| {
            let range = f.offset..f.offset + f.byte_len();
            a.get(range.clone()) != b.get(range)
        })
        .map(|f| f.name)
        .collect()
}

fn same_affine(a: &Option<Affine>, b: &Option<Affine>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a
            .iter()
            .flatten()
            .zip(b.iter().flatten())
            .all(|(x, y)| x.to_bits() == y.to_bits()),
        _ => false,
    }
}

impl Snapshot {
    /// The snapshot of an image's parts now, with file fingerprints taken by the caller.
    pub(crate) fn new(
        header: &Header,
        affine: Option<&Affine>,
        dataobj: &DataObj,
        files: Vec<FileFingerprint>,
    ) -> Snapshot {
        let data = match dataobj {
            DataObj::Proxy(p) => DataSnapshot::Proxy {
                spec: p.spec().clone(),
                file: p.file().map(Path::to_path_buf),
            },
            DataObj::Array(_) => DataSnapshot::Array,
        };
        Snapshot {
            header: header.clone(),
            extensions_digest: extensions_digest(header),
            affine: affine.copied(),
            data,
            files,
        }
    }

    /// The fingerprints of the image's files when it was read.
    pub(crate) fn files(&self) -> &[FileFingerprint] {
        &self.files
    }
}

/// An image's parts, borrowed for one check.
pub(crate) struct ImageParts<'a> {
    pub header: &'a Header,
    pub affine: Option<&'a Affine>,
    pub dataobj: &'a DataObj,
    pub fdata_cache: Option<&'a DynArray>,
}

impl Tracking {
    /// A tracker with a snapshot (a freshly loaded image).
    pub(crate) fn with_snapshot(snapshot: Snapshot) -> Tracking {
        Tracking {
            snapshot: Some(snapshot),
            ..Tracking::default()
        }
    }

    /// The snapshot, if the image is known to have matched a file.
    pub(crate) fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// Replaces everything with a new snapshot: the image matches its file now.
    /// `fdata_cache`: `Some(cache)` accepts the float cache as it is now (mark_clean);
    /// `None` keeps its baseline (a save writes the data object, not the cache, so a cache
    /// changed in place before the save still differs from the file).
    pub(crate) fn reset(&mut self, snapshot: Snapshot, fdata_cache: Option<Option<&DynArray>>) {
        self.snapshot = Some(snapshot);
        self.unmatched = None;
        self.marked_dirty = false;
        // A mutable borrow handed out earlier has ended: the array is what the snapshot saw.
        self.dataobj_baseline = None;
        if let (Some(cache), Some(_)) = (fdata_cache, self.fdata_baseline) {
            self.fdata_baseline = cache.map(DynArray::content_digest);
        }
    }

    /// Forgets the snapshot; `why` is the reason [`Tracking::reasons`] then gives (else
    /// [`DirtyReason::NoSnapshot`]).
    pub(crate) fn forget(&mut self, why: Option<DirtyReason>) {
        *self = Tracking {
            unmatched: why,
            ..Tracking::default()
        };
    }

    /// Records [`crate::Image::mark_dirty`].
    pub(crate) fn mark_dirty(&mut self) {
        self.marked_dirty = true;
    }

    /// The in-memory data object is about to be handed out mutably: digest it the first time
    /// after a snapshot (without one the image is dirty whatever the array holds).
    pub(crate) fn expose_dataobj(&mut self, array: &DynArray) {
        if self.snapshot.is_some() && self.dataobj_baseline.is_none() {
            self.dataobj_baseline = Some(array.content_digest());
        }
    }

    /// The float cache is about to be handed out mutably: digest it the first time.
    pub(crate) fn expose_fdata(&mut self, cache: &DynArray) {
        if self.fdata_baseline.is_none() {
            self.fdata_baseline = Some(cache.content_digest());
        }
    }

    /// True if the float cache was handed out mutably (it may differ from the data object).
    pub(crate) fn fdata_exposed(&self) -> bool {
        self.fdata_baseline.is_some()
    }

    /// The float cache was replaced or dropped: what was handed out is gone with it.
    pub(crate) fn fdata_replaced(&mut self) {
        self.fdata_baseline = None;
    }

    /// Why the image may differ from its file; with `first_only`, stops at the first reason,
    /// checking the cheap parts first.
    pub(crate) fn reasons(&self, parts: &ImageParts<'_>, first_only: bool) -> Vec<DirtyReason> {
        let mut reasons = Vec::new();
        let Some(snap) = &self.snapshot else {
            return vec![self.unmatched.clone().unwrap_or(DirtyReason::NoSnapshot)];
        };
        let push = |reason: DirtyReason, reasons: &mut Vec<DirtyReason>| {
            reasons.push(reason);
            first_only
        };
        if self.marked_dirty && push(DirtyReason::MarkedDirty, &mut reasons) {
            return reasons;
        }
        let fields = changed_fields(&snap.header, parts.header);
        if !fields.is_empty() && push(DirtyReason::HeaderFields(fields), &mut reasons) {
            return reasons;
        }
        if extensions_digest(parts.header) != snap.extensions_digest
            && push(DirtyReason::Extensions, &mut reasons)
        {
            return reasons;
        }
        if !same_affine(&snap.affine, &parts.affine.copied())
            && push(DirtyReason::Affine, &mut reasons)
        {
            return reasons;
        }
        let data_reason = match (&snap.data, parts.dataobj) {
            (DataSnapshot::Proxy { spec, file }, DataObj::Proxy(p)) => (p.spec() != spec
                || p.file() != file.as_deref())
            .then_some(DirtyReason::DataObjectReplaced),
            (DataSnapshot::Array, DataObj::Array(a)) => self
                .dataobj_baseline
                .is_some_and(|baseline| a.content_digest() != baseline)
                .then_some(DirtyReason::DataModified),
            _ => Some(DirtyReason::DataObjectReplaced),
        };
        if let Some(reason) = data_reason
            && push(reason, &mut reasons)
        {
            return reasons;
        }
        if let (Some(baseline), Some(cache)) = (self.fdata_baseline, parts.fdata_cache)
            && cache.content_digest() != baseline
            && push(DirtyReason::DataModified, &mut reasons)
        {
            return reasons;
        }
        for print in &snap.files {
            if let Some(change) = print.change() {
                let reason = DirtyReason::FileChanged {
                    path: print.path.clone(),
                    change,
                };
                if push(reason, &mut reasons) {
                    return reasons;
                }
            }
        }
        reasons
    }
}
