//! HDF5 through our sources: [`SourceStorage`] lets the `hdf5-reader` and `netcdf-reader`
//! crates read any [`Source`] (a plain file, a `.mnc.gz` through its gzip index), and
//! [`Hdf5DatasetSource`] presents one HDF5 dataset's elements, decoded (chunks found,
//! inflated, assembled), as one run of bytes in C order, so the array layer reads a MINC2
//! image as it reads any other: planned, in the requested part only.
//!
//! A read of the whole dataset is one `read_raw_bytes_into` (the crate's fastest path); a read
//! of part of it becomes at most `2 × ndim − 1` rectangular hyperslabs, which the crate fills
//! from the chunks they touch (its chunk cache keeps those chunks for the next read). The
//! dataset is found on first read, not before: opening a proxy reads nothing. It knows HDF5,
//! not MINC: the dataset's path comes from the caller.

use crate::dtype::{ByteOrder, DataType, StorageDtype};
use crate::error::{Error, Result};
use crate::io::source::Source;
use hdf5_reader::storage::{Storage, StorageBuffer};
use hdf5_reader::{Dataset, SliceInfo, SliceInfoElem};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A [`Source`] as the `hdf5-reader` crate's [`Storage`] (also what `netcdf-reader` reads).
///
/// ```
/// use hdf5_reader::storage::Storage;
/// use neurovox::io::{MemorySource, SourceStorage};
/// let storage = SourceStorage::new(std::sync::Arc::new(MemorySource::new(vec![1u8, 2, 3])))?;
/// assert_eq!(storage.len(), 3);
/// assert_eq!(&*storage.read_range(1, 2).unwrap(), &[2, 3]);
/// assert!(storage.read_range(2, 2).is_err()); // past the end: an error, never a short read
/// # Ok::<(), neurovox::Error>(())
/// ```
pub struct SourceStorage {
    inner: Arc<dyn Source>,
    len: u64,
}

impl SourceStorage {
    /// The storage of `inner`, whose length is learned once, now.
    pub fn new(inner: Arc<dyn Source>) -> Result<SourceStorage> {
        let len = inner.len()?;
        Ok(SourceStorage { inner, len })
    }
}

impl Storage for SourceStorage {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_range(&self, offset: u64, len: usize) -> hdf5_reader::error::Result<StorageBuffer> {
        // Checked before allocating: a structure that points past the end of the file asks
        // for nothing.
        if offset
            .checked_add(len as u64)
            .is_none_or(|end| end > self.len)
        {
            return Err(hdf5_reader::error::Error::UnexpectedEof {
                offset,
                needed: len as u64,
                available: self.len.saturating_sub(offset),
            });
        }
        let mut bytes = vec![0u8; len];
        self.inner
            .read_at(offset, &mut bytes)
            .map_err(|e| hdf5_reader::error::Error::Io(std::io::Error::other(e.to_string())))?;
        Ok(StorageBuffer::from_vec(bytes))
    }
}

/// The decoded size a read of an HDF5 file of `file_len` bytes may allocate: deflate
/// compresses at most about 1032:1, so no honest dataset decodes to more.
pub fn hdf5_read_cap(file_len: u64) -> usize {
    usize::try_from(file_len.saturating_mul(1032).max(1 << 20)).unwrap_or(usize::MAX)
}

/// The elements of the HDF5 dataset at `dataset_path` in the file `inner` holds, in C order
/// and the dataset's own byte order, as one run of bytes.
pub struct Hdf5DatasetSource {
    inner: Arc<dyn Source>,
    dataset_path: Arc<str>,
    shape: Vec<usize>,
    dtype: StorageDtype,
    len: u64,
    dataset: Mutex<Option<Arc<Dataset>>>,
}

impl fmt::Debug for Hdf5DatasetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hdf5DatasetSource")
            .field("inner", &self.inner)
            .field("dataset_path", &self.dataset_path)
            .field("shape", &self.shape)
            .field("dtype", &self.dtype)
            .finish()
    }
}

impl Hdf5DatasetSource {
    /// The dataset at `dataset_path` of the HDF5 file `inner`, which must have `shape` and
    /// `dtype` (what the header said when the file was loaded; checked on first read).
    pub fn new(
        inner: Arc<dyn Source>,
        dataset_path: Arc<str>,
        shape: Vec<usize>,
        dtype: StorageDtype,
    ) -> Result<Hdf5DatasetSource> {
        let len = crate::dtype::checked_nbytes(&shape, dtype.dtype.itemsize())
            .ok_or_else(|| Error::limit(format!("an HDF5 dataset of shape {shape:?} overflows")))?;
        Ok(Hdf5DatasetSource {
            inner,
            dataset_path,
            shape,
            dtype,
            len,
            dataset: Mutex::new(None),
        })
    }

    /// The dataset, found on the first call.
    fn dataset(&self) -> Result<Arc<Dataset>> {
        let mut slot = self
            .dataset
            .lock()
            .map_err(|_| Error::format("an earlier HDF5 read panicked"))?;
        if let Some(dataset) = slot.as_ref() {
            return Ok(Arc::clone(dataset));
        }
        let storage = SourceStorage::new(Arc::clone(&self.inner))?;
        let cap = hdf5_read_cap(storage.len());
        let options = hdf5_reader::OpenOptions::default()
            .with_max_read_bytes(cap)
            .with_max_chunk_bytes(cap.min(hdf5_reader::DEFAULT_MAX_CHUNK_BYTES));
        let file = hdf5_reader::Hdf5File::from_storage_with_options(Arc::new(storage), options)
            .map_err(|e| self.error(e))?;
        let dataset = file
            .dataset(&self.dataset_path)
            .map_err(|e| self.error(e))?;
        let shape: Vec<u64> = self.shape.iter().map(|&n| n as u64).collect();
        if dataset.shape() != shape.as_slice() || !self.stored_as(dataset.dtype()) {
            return Err(Error::format(format!(
                "the dataset {} has shape {:?} and type {:?}, not the {:?} of {} it had when \
                 the image was loaded",
                self.dataset_path,
                dataset.shape(),
                dataset.dtype(),
                self.shape,
                self.dtype
            )));
        }
        let dataset = Arc::new(dataset);
        *slot = Some(Arc::clone(&dataset));
        Ok(dataset)
    }

    /// Whether an HDF5 type is this source's element type and byte order.
    fn stored_as(&self, datatype: &hdf5_reader::Datatype) -> bool {
        use hdf5_reader::Datatype as D;
        let dtype = self.dtype.dtype;
        let big = |o: &hdf5_reader::ByteOrder| matches!(o, hdf5_reader::ByteOrder::BigEndian);
        let order_matches =
            |o| dtype.itemsize() == 1 || big(o) == (self.dtype.order == ByteOrder::Big);
        match datatype {
            D::FixedPoint {
                size,
                signed,
                byte_order,
            } => {
                dtype.is_integer()
                    && usize::from(*size) == dtype.itemsize()
                    && *signed
                        == matches!(
                            dtype,
                            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
                        )
                    && order_matches(byte_order)
            }
            D::FloatingPoint { size, byte_order } => {
                dtype.is_float()
                    && usize::from(*size) == dtype.itemsize()
                    && order_matches(byte_order)
            }
            _ => false,
        }
    }

    fn error(&self, e: hdf5_reader::error::Error) -> Error {
        let error = Error::format(format!("HDF5 dataset {}: {e}", self.dataset_path));
        match self.inner.path() {
            Some(path) => error.with_path(path),
            None => error,
        }
    }

    /// Elements `[first, end)` (C order) into `out`, one hyperslab at a time.
    fn read_elements(&self, dataset: &Dataset, first: u64, end: u64, out: &mut [u8]) -> Result<()> {
        let mut at = 0usize;
        for slab in c_order_boxes(first, end, &self.shape) {
            let selection = SliceInfo {
                selections: slab
                    .iter()
                    .map(|&(start, stop)| SliceInfoElem::Slice {
                        start,
                        end: stop,
                        step: 1,
                    })
                    .collect(),
            };
            let count: u64 = slab.iter().map(|(a, b)| b - a).product();
            let nbytes = count as usize * self.dtype.dtype.itemsize();
            let dest = out
                .get_mut(at..at + nbytes)
                .ok_or_else(|| Error::usage("an HDF5 hyperslab larger than its buffer"))?;
            self.read_slab(dataset, &selection, dest)?;
            at += nbytes;
        }
        Ok(())
    }

    /// One hyperslab's elements, in the dataset's byte order.
    fn read_slab(&self, dataset: &Dataset, selection: &SliceInfo, dest: &mut [u8]) -> Result<()> {
        let big = self.dtype.order == ByteOrder::Big;
        macro_rules! slab {
            ($t:ty) => {{
                // The chunks a slab touches are inflated on every core.
                let values = dataset
                    .read_slice_parallel::<$t>(selection)
                    .map_err(|e| self.error(e))?;
                let size = std::mem::size_of::<$t>();
                if values.len() * size != dest.len() {
                    return Err(Error::format(format!(
                        "HDF5 dataset {}: a hyperslab gave {} values where {} were asked for",
                        self.dataset_path,
                        values.len(),
                        dest.len() / size
                    )));
                }
                if let Some(native) = values.as_slice() {
                    // One copy, then a swap in place where the dtype's order is not ours:
                    // element by element through the array's iterator was a fifth of a
                    // volume's read.
                    dest.copy_from_slice(bytemuck::cast_slice(native));
                    if big != cfg!(target_endian = "big") {
                        dest.chunks_exact_mut(size).for_each(<[u8]>::reverse);
                    }
                } else {
                    for (v, d) in values.iter().zip(dest.chunks_exact_mut(size)) {
                        d.copy_from_slice(&if big {
                            v.to_be_bytes()
                        } else {
                            v.to_le_bytes()
                        });
                    }
                }
            }};
        }
        match self.dtype.dtype {
            DataType::UInt8 => slab!(u8),
            DataType::Int8 => slab!(i8),
            DataType::UInt16 => slab!(u16),
            DataType::Int16 => slab!(i16),
            DataType::UInt32 => slab!(u32),
            DataType::Int32 => slab!(i32),
            DataType::UInt64 => slab!(u64),
            DataType::Int64 => slab!(i64),
            DataType::Float32 => slab!(f32),
            DataType::Float64 => slab!(f64),
            other => {
                return Err(Error::unsupported(format!(
                    "HDF5 datasets of {} are not read",
                    other.name()
                )));
            }
        }
        Ok(())
    }
}

impl Source for Hdf5DatasetSource {
    fn len(&self) -> Result<u64> {
        Ok(self.len)
    }

    fn len_hint(&self) -> Option<u64> {
        Some(self.len)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= self.len)
            .ok_or_else(|| {
                crate::io::source::past_end(self.inner.path(), offset, buf.len(), self.len)
            })?;
        if buf.is_empty() {
            return Ok(());
        }
        let dataset = self.dataset()?;
        if offset == 0 && end == self.len {
            return dataset.read_raw_bytes_into(buf).map_err(|e| self.error(e));
        }
        // Whole elements around the bytes asked for.
        let size = self.dtype.dtype.itemsize() as u64;
        let (first, last) = (offset / size, end.div_ceil(size));
        let skip = (offset - first * size) as usize;
        if skip == 0 && end == last * size {
            return self.read_elements(&dataset, first, last, buf);
        }
        let mut whole = vec![0u8; ((last - first) * size) as usize];
        self.read_elements(&dataset, first, last, &mut whole)?;
        buf.copy_from_slice(&whole[skip..skip + buf.len()]);
        Ok(())
    }

    fn path(&self) -> Option<&Path> {
        self.inner.path()
    }

    fn identity(&self) -> Option<crate::io::FileIdentity> {
        self.inner.identity()
    }

    /// One hyperslab read (h5py's `dataset[key]`): the crate finds and inflates each chunk
    /// the box touches once, where a run-by-run read of a strided selection would look them
    /// up again for every run.
    fn read_box(&self, strided_box: &[(u64, u64, u64)]) -> Option<Result<Vec<u8>>> {
        Some(self.read_strided_box(strided_box))
    }

    fn remote_fingerprint(&self) -> Option<crate::io::RemoteFingerprint> {
        self.inner.remote_fingerprint()
    }
}

impl Hdf5DatasetSource {
    fn read_strided_box(&self, strided_box: &[(u64, u64, u64)]) -> Result<Vec<u8>> {
        let fits = strided_box.len() == self.shape.len()
            && strided_box
                .iter()
                .zip(&self.shape)
                .all(|(&(start, count, step), &len)| {
                    step >= 1
                        && count.checked_sub(1).is_none_or(|c| {
                            c.checked_mul(step)
                                .and_then(|span| span.checked_add(start))
                                .is_some_and(|last| last < len as u64)
                        })
                });
        if !fits {
            return Err(Error::usage(format!(
                "the box {strided_box:?} does not fit the HDF5 dataset's shape {:?}",
                self.shape
            )));
        }
        let count: u64 = strided_box.iter().map(|b| b.1).product();
        let nbytes = usize::try_from(count)
            .ok()
            .and_then(|n| n.checked_mul(self.dtype.dtype.itemsize()))
            .ok_or_else(|| Error::limit("an HDF5 box larger than memory"))?;
        let mut out = vec![0u8; nbytes];
        if count == 0 {
            return Ok(out);
        }
        let whole = strided_box
            .iter()
            .zip(&self.shape)
            .all(|(&(start, count, step), &len)| start == 0 && step == 1 && count == len as u64);
        if whole {
            self.read_at(0, &mut out)?;
            return Ok(out);
        }
        let dataset = self.dataset()?;
        let selection = SliceInfo {
            selections: strided_box
                .iter()
                .map(|&(start, count, step)| SliceInfoElem::Slice {
                    start,
                    end: start + (count - 1) * step + 1,
                    step,
                })
                .collect(),
        };
        self.read_slab(&dataset, &selection, &mut out)?;
        Ok(out)
    }
}

/// The hyperslabs `[(start, end)]` per axis that cover elements `[first, end)` of an array
/// of `shape` in C order, in order: at most `2 × ndim − 1` of them, each a box whose own C
/// order continues the previous one's.
///
/// ```
/// use neurovox::io::hdf5_dataset::c_order_boxes;
/// // Elements 3..17 of a 4 × 5 array: the rest of row 0, rows 1-2, the start of row 3.
/// assert_eq!(
///     c_order_boxes(3, 17, &[4, 5]),
///     vec![vec![(0, 1), (3, 5)], vec![(1, 3), (0, 5)], vec![(3, 4), (0, 2)]]
/// );
/// assert_eq!(c_order_boxes(0, 20, &[4, 5]), vec![vec![(0, 4), (0, 5)]]);
/// ```
pub fn c_order_boxes(first: u64, end: u64, shape: &[usize]) -> Vec<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    boxes_into(first, end, shape, &mut Vec::new(), &mut out);
    out
}

fn boxes_into(
    first: u64,
    end: u64,
    shape: &[usize],
    prefix: &mut Vec<(u64, u64)>,
    out: &mut Vec<Vec<(u64, u64)>>,
) {
    if first >= end {
        return;
    }
    let Some((&len0, rest)) = shape.split_first() else {
        out.push(prefix.clone());
        return;
    };
    let inner: u64 = rest.iter().map(|&n| n as u64).product();
    let full = |prefix: &Vec<(u64, u64)>, rows: (u64, u64)| {
        let mut slab = prefix.clone();
        slab.push(rows);
        slab.extend(rest.iter().map(|&n| (0, n as u64)));
        slab
    };
    let (mut i0, r0) = (first / inner, first % inner);
    let (i1, r1) = (end / inner, end % inner);
    if i0 == i1 {
        prefix.push((i0, i0 + 1));
        boxes_into(r0, r1, rest, prefix, out);
        prefix.pop();
        return;
    }
    if r0 != 0 {
        prefix.push((i0, i0 + 1));
        boxes_into(r0, inner, rest, prefix, out);
        prefix.pop();
        i0 += 1;
    }
    if i1 > i0 {
        out.push(full(prefix, (i0, i1.min(len0 as u64))));
    }
    if r1 != 0 {
        prefix.push((i1, i1 + 1));
        boxes_into(0, r1, rest, prefix, out);
        prefix.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_cover_any_range_in_order() {
        let shape = [3usize, 4, 5];
        let total = 60u64;
        for first in 0..total {
            for end in first + 1..=total {
                let boxes = c_order_boxes(first, end, &shape);
                assert!(boxes.len() <= 5, "{first}..{end}: {boxes:?}");
                let mut flat = Vec::new();
                for b in &boxes {
                    for i in b[0].0..b[0].1 {
                        for j in b[1].0..b[1].1 {
                            for k in b[2].0..b[2].1 {
                                flat.push(i * 20 + j * 5 + k);
                            }
                        }
                    }
                }
                assert_eq!(flat, (first..end).collect::<Vec<_>>(), "{first}..{end}");
            }
        }
    }
}
