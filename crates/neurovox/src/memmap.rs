//! numpy-memmap-like arrays: an n-d array that views a file on disk, loading pages only as
//! they are touched.
//!
//! [`MemmapArray`] follows `numpy.memmap`'s rules (seed 004):
//!
//! | mode | file | writes |
//! |---|---|---|
//! | `r` | must exist and hold `offset + size` bytes | impossible: a Usage error |
//! | `r+` | must exist; grown if shorter than `offset + size` | go to the file (`flush` to force them to disk) |
//! | `w+` | created or truncated, sized to `offset + size` | go to the file |
//! | `c` | must exist and hold `offset + size` bytes | private to this array; the file never changes |
//!
//! The region starts at any byte `offset` (past a header), has a `shape` (by default the rest
//! of the file, 1-D) and an `order` (C or Fortran), and its values may be stored in either
//! byte order: native ones are viewed in place as `ndarray` views, the others are read with a
//! byte swap ([`MemmapArray::to_array`], [`MemmapArray::get`]). A file too short for the
//! array is an error at open time, never a SIGBUS later.
//!
//! This is the memory-mapping path of `ArrayProxy` too: a read-only or copy-on-write view at
//! an offset, of a shape and order, in any byte order.
//!
//! # Memory maps and other processes
//! As with numpy, a mapping reflects the file: another process that writes the file (in
//! modes `r`, `r+`, `w+`) is seen by this one, which is how two programs share memory. A
//! process that *truncates* the file while it is mapped makes later reads fault (SIGBUS), in
//! numpy as here; neurovox's own saves never truncate a file in place (they replace it).

use crate::dtype::ByteOrder;
use crate::element::Element;
use crate::error::{Error, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, IxDyn, ShapeBuilder};
use std::fs::{File, OpenOptions};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// How a file is mapped: numpy's `mode` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapMode {
    /// `r`: read-only.
    Read,
    /// `r+`: read and write an existing file.
    ReadWrite,
    /// `w+`: create or overwrite the file, then read and write it.
    Create,
    /// `c`: copy-on-write; writes stay in memory, the file is never changed.
    CopyOnWrite,
}

impl MapMode {
    /// numpy's spelling: `r`, `r+`, `w+`, `c`.
    pub fn as_str(self) -> &'static str {
        match self {
            MapMode::Read => "r",
            MapMode::ReadWrite => "r+",
            MapMode::Create => "w+",
            MapMode::CopyOnWrite => "c",
        }
    }

    /// True if the array can be written (in every mode but `r`).
    pub fn is_writable(self) -> bool {
        self != MapMode::Read
    }

    /// True if writes reach the file (`r+` and `w+`).
    pub fn writes_through(self) -> bool {
        matches!(self, MapMode::ReadWrite | MapMode::Create)
    }
}

impl FromStr for MapMode {
    type Err = Error;

    /// Parses numpy's mode strings, including its long names (`readonly`, `readwrite`,
    /// `write`, `copyonwrite`).
    ///
    /// ```
    /// use neurovox::memmap::MapMode;
    /// assert_eq!("r+".parse::<MapMode>().unwrap(), MapMode::ReadWrite);
    /// assert!("a".parse::<MapMode>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "r" | "readonly" => Ok(MapMode::Read),
            "r+" | "readwrite" => Ok(MapMode::ReadWrite),
            "w+" | "write" => Ok(MapMode::Create),
            "c" | "copyonwrite" => Ok(MapMode::CopyOnWrite),
            other => Err(Error::usage(format!(
                "mode must be one of 'r', 'r+', 'w+', 'c', not {other:?}"
            ))),
        }
    }
}

/// The memory layout of a multi-dimensional array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    /// Row-major: the last index varies fastest.
    #[default]
    C,
    /// Column-major (Fortran): the first index varies fastest. NIfTI data is stored this way.
    F,
}

/// Where and how to map: numpy.memmap's keyword arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct MemmapOptions {
    /// The mode (numpy's default is `r+`).
    pub mode: MapMode,
    /// Byte offset of the first element.
    pub offset: u64,
    /// The shape; `None` means the rest of the file as a 1-D array.
    pub shape: Option<Vec<usize>>,
    /// C or Fortran order.
    pub order: Order,
    /// Byte order of the values in the file.
    pub byte_order: ByteOrder,
}

impl Default for MemmapOptions {
    fn default() -> Self {
        MemmapOptions {
            mode: MapMode::ReadWrite,
            offset: 0,
            shape: None,
            order: Order::C,
            byte_order: ByteOrder::NATIVE,
        }
    }
}

impl MemmapOptions {
    /// Options for `mode`, everything else at numpy's defaults.
    pub fn new(mode: MapMode) -> Self {
        MemmapOptions {
            mode,
            ..Self::default()
        }
    }

    /// Sets the byte offset of the first element.
    #[must_use]
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }

    /// Sets the shape.
    #[must_use]
    pub fn shape(mut self, shape: &[usize]) -> Self {
        self.shape = Some(shape.to_vec());
        self
    }

    /// Sets the order.
    #[must_use]
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Sets the byte order of the stored values.
    #[must_use]
    pub fn byte_order(mut self, order: ByteOrder) -> Self {
        self.byte_order = order;
        self
    }
}

enum Mapping {
    /// Zero-size arrays map nothing (the OS cannot map zero bytes).
    Empty,
    ReadOnly(memmap2::Mmap),
    Writable(memmap2::MmapMut),
}

/// An n-d array of `T` viewing a region of a file, as `numpy.memmap` does.
///
/// ```
/// use neurovox::memmap::{MapMode, MemmapArray, MemmapOptions};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("new_file.dat");
/// // Create a write-through map, fill it, flush: the bytes are in the file.
/// let mut q = MemmapArray::<u8>::open(&path, MemmapOptions::new(MapMode::Create).shape(&[2, 5]))?;
/// q.fill(b'A')?;
/// q.flush()?;
/// assert_eq!(std::fs::read(&path)?, b"AAAAAAAAAA");
/// // A copy-on-write map never changes the file.
/// let mut c = MemmapArray::<u8>::open(&path, MemmapOptions::new(MapMode::CopyOnWrite).shape(&[2, 5]))?;
/// c.view_mut()?.index_axis_mut(ndarray::Axis(0), 1).fill(b'B');
/// c.flush()?;
/// assert_eq!(std::fs::read(&path)?, b"AAAAAAAAAA");
/// assert_eq!(c.view()?[[1, 0]], b'B');
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemmapArray<T: Element> {
    mapping: Mapping,
    path: PathBuf,
    mode: MapMode,
    offset: u64,
    shape: Vec<usize>,
    order: Order,
    byte_order: ByteOrder,
    element: PhantomData<T>,
}

impl<T: Element> std::fmt::Debug for MemmapArray<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemmapArray")
            .field("path", &self.path)
            .field("dtype", &T::DTYPE)
            .field("mode", &self.mode.as_str())
            .field("offset", &self.offset)
            .field("shape", &self.shape)
            .field("order", &self.order)
            .field("byte_order", &self.byte_order)
            .finish()
    }
}

/// Bytes needed for `shape` elements of `itemsize` bytes, or a Limit error.
fn region_len(shape: &[usize], itemsize: usize) -> Result<u64> {
    shape
        .iter()
        .try_fold(itemsize as u64, |acc, &n| acc.checked_mul(n as u64))
        .filter(|&n| usize::try_from(n).is_ok())
        .ok_or_else(|| {
            Error::limit(format!(
                "an array of shape {shape:?} does not fit in memory"
            ))
            .field("shape")
        })
}

impl<T: Element> MemmapArray<T> {
    /// Maps `path` as numpy.memmap does (see the module table for each mode's rules).
    ///
    /// Errors: the file is missing (`r`, `r+`, `c`), shorter than `offset + size` in `r` or
    /// `c` (Limit), `shape` missing in `w+` or not derivable from the file length (Usage).
    pub fn open(path: impl AsRef<Path>, options: MemmapOptions) -> Result<Self> {
        let path = path.as_ref();
        Self::open_inner(path, &options).map_err(|e| e.with_path(path))
    }

    fn open_inner(path: &Path, options: &MemmapOptions) -> Result<Self> {
        let itemsize = std::mem::size_of::<T>();
        let mode = options.mode;
        let file = match mode {
            MapMode::Read | MapMode::CopyOnWrite => File::open(path)?,
            MapMode::ReadWrite => OpenOptions::new().read(true).write(true).open(path)?,
            MapMode::Create => OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)?,
        };
        let file_len = file.metadata()?.len();
        let shape = match &options.shape {
            Some(shape) => shape.clone(),
            None if mode == MapMode::Create => {
                return Err(Error::usage("shape must be given in mode 'w+'").field("shape"));
            }
            None => vec![Self::elements_after(file_len, options.offset, itemsize)?],
        };
        let len = region_len(&shape, itemsize)?;
        let end = options
            .offset
            .checked_add(len)
            .ok_or_else(|| Error::limit("offset + size overflows 64 bits").field("offset"))?;
        if end > file_len {
            if mode.writes_through() {
                file.set_len(end)?;
            } else {
                return Err(Error::limit(format!(
                    "the file has {file_len} bytes, the array needs {len} bytes at offset {}",
                    options.offset
                ))
                .field("shape"));
            }
        }
        let mapping = Self::map(&file, mode, options.offset, len as usize)?;
        Ok(MemmapArray {
            mapping,
            path: path.to_path_buf(),
            mode,
            offset: options.offset,
            shape,
            order: options.order,
            byte_order: options.byte_order,
            element: PhantomData,
        })
    }

    /// The default shape: every whole element after `offset`.
    fn elements_after(file_len: u64, offset: u64, itemsize: usize) -> Result<usize> {
        let available = file_len.checked_sub(offset).ok_or_else(|| {
            Error::limit(format!(
                "offset {offset} is past the end of the {file_len}-byte file"
            ))
            .field("offset")
        })?;
        if available % itemsize as u64 != 0 {
            return Err(Error::usage(format!(
                "Size of available data ({available} bytes) is not a multiple of the data-type size ({itemsize}); give a shape"
            ))
            .field("shape"));
        }
        usize::try_from(available / itemsize as u64)
            .map_err(|_| Error::limit("the file is larger than the address space").field("shape"))
    }

    fn map(file: &File, mode: MapMode, offset: u64, len: usize) -> Result<Mapping> {
        if len == 0 {
            return Ok(Mapping::Empty);
        }
        let mut options = memmap2::MmapOptions::new();
        options.offset(offset).len(len);
        // SAFETY: the file holds at least `offset + len` bytes (checked or grown by the
        // caller). As with numpy.memmap, another process truncating the file while it is
        // mapped would make accesses fault; see the module documentation.
        let mapping = unsafe {
            match mode {
                MapMode::Read => Mapping::ReadOnly(options.map(file)?),
                MapMode::ReadWrite | MapMode::Create => Mapping::Writable(options.map_mut(file)?),
                MapMode::CopyOnWrite => Mapping::Writable(options.map_copy(file)?),
            }
        };
        Ok(mapping)
    }

    /// The mapped file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The mode it was mapped with.
    pub fn mode(&self) -> MapMode {
        self.mode
    }

    /// Byte offset of the first element in the file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The array's shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True if the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// C or Fortran order.
    pub fn order(&self) -> Order {
        self.order
    }

    /// The byte order of the stored values.
    pub fn byte_order(&self) -> ByteOrder {
        self.byte_order
    }

    /// True if the stored bytes are the values as this machine reads them.
    pub fn is_native(&self) -> bool {
        self.byte_order == ByteOrder::NATIVE || T::DTYPE.component_size() == 1
    }

    /// The mapped bytes, exactly as in the file (or as written, in mode `c`).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.mapping {
            Mapping::Empty => &[],
            Mapping::ReadOnly(m) => m,
            Mapping::Writable(m) => m,
        }
    }

    /// The mapped bytes, to write; a Usage error in mode `r`.
    pub fn as_bytes_mut(&mut self) -> Result<&mut [u8]> {
        if let Mapping::ReadOnly(_) = self.mapping {
            return Err(self.read_only_error());
        }
        match &mut self.mapping {
            Mapping::Writable(m) => Ok(m),
            _ => Ok(&mut []),
        }
    }

    fn read_only_error(&self) -> Error {
        Error::usage(
            "the array is mapped read-only (mode 'r'); open it with 'r+', 'w+' or 'c' to write",
        )
        .with_path(&self.path)
    }

    fn not_viewable(&self, why: &str) -> Error {
        Error::usage(format!("{why}: read the values with to_array() or get()"))
            .with_path(&self.path)
    }

    /// The elements in storage order, in place; a Usage error if they are not in native byte
    /// order or not aligned for `T` in memory (then use [`MemmapArray::to_array`]).
    pub fn as_slice(&self) -> Result<&[T]> {
        if !self.is_native() {
            return Err(self.not_viewable("the values are stored in the other byte order"));
        }
        if self.as_bytes().is_empty() {
            return Ok(&[]);
        }
        bytemuck::try_cast_slice(self.as_bytes()).map_err(|_| {
            self.not_viewable(&format!(
                "offset {} does not align {}",
                self.offset,
                T::DTYPE
            ))
        })
    }

    /// As [`MemmapArray::as_slice`], to write; also a Usage error in mode `r`.
    pub fn as_slice_mut(&mut self) -> Result<&mut [T]> {
        if !self.is_native() {
            return Err(self.not_viewable("the values are stored in the other byte order"));
        }
        let misaligned = self.not_viewable(&format!(
            "offset {} does not align {}",
            self.offset,
            T::DTYPE
        ));
        let bytes = self.as_bytes_mut()?;
        if bytes.is_empty() {
            return Ok(&mut []);
        }
        bytemuck::try_cast_slice_mut(bytes).map_err(|_| misaligned)
    }

    fn ndarray_shape(&self) -> ndarray::Shape<IxDyn> {
        IxDyn(&self.shape).set_f(self.order == Order::F)
    }

    /// An `ndarray` view of the mapped values, without copying (native byte order and
    /// alignment required, as for [`MemmapArray::as_slice`]).
    pub fn view(&self) -> Result<ArrayViewD<'_, T>> {
        let shape = self.ndarray_shape();
        let slice = self.as_slice()?;
        ArrayViewD::from_shape(shape, slice).map_err(|e| Error::usage(e.to_string()))
    }

    /// A mutable `ndarray` view: writes go to the file in `r+`/`w+`, stay private in `c`.
    pub fn view_mut(&mut self) -> Result<ArrayViewMutD<'_, T>> {
        let shape = self.ndarray_shape();
        let slice = self.as_slice_mut()?;
        ArrayViewMutD::from_shape(shape, slice).map_err(|e| Error::usage(e.to_string()))
    }

    /// The values as an owned array in native byte order, whatever the stored order or
    /// alignment (one copy).
    pub fn to_array(&self) -> ArrayD<T> {
        let size = std::mem::size_of::<T>();
        let swap = !self.is_native();
        let values: Vec<T> = self
            .as_bytes()
            .chunks_exact(size)
            .map(|chunk| {
                let v: T = bytemuck::pod_read_unaligned(chunk);
                if swap {
                    v.swap_bytes()
                } else {
                    v
                }
            })
            .collect();
        // The shape and the number of values agree by construction.
        ArrayD::from_shape_vec(self.ndarray_shape(), values)
            .unwrap_or_else(|_| ArrayD::from_elem(IxDyn(&[0]), T::zeroed()))
    }

    /// The byte position of an element, or a Usage error for a wrong index.
    fn byte_position(&self, index: &[usize]) -> Result<usize> {
        if index.len() != self.shape.len() {
            return Err(Error::usage(format!(
                "index {index:?} has {} axes, the array has {}",
                index.len(),
                self.shape.len()
            )));
        }
        if let Some(axis) = index.iter().zip(&self.shape).position(|(i, n)| i >= n) {
            return Err(Error::usage(format!(
                "index {} is out of bounds for axis {axis} with size {}",
                index[axis], self.shape[axis]
            )));
        }
        let axes: Box<dyn Iterator<Item = (&usize, &usize)>> = match self.order {
            Order::C => Box::new(index.iter().zip(&self.shape).rev()),
            Order::F => Box::new(index.iter().zip(&self.shape)),
        };
        let mut stride = 1;
        let mut linear = 0;
        for (i, n) in axes {
            linear += i * stride;
            stride *= n;
        }
        Ok(linear * std::mem::size_of::<T>())
    }

    /// One value, read with a byte swap if needed.
    pub fn get(&self, index: &[usize]) -> Result<T> {
        let at = self.byte_position(index)?;
        let v: T =
            bytemuck::pod_read_unaligned(&self.as_bytes()[at..at + std::mem::size_of::<T>()]);
        Ok(if self.is_native() { v } else { v.swap_bytes() })
    }

    /// Writes one value (byte-swapped if the array stores the other order).
    pub fn set(&mut self, index: &[usize], value: T) -> Result<()> {
        let at = self.byte_position(index)?;
        let stored = if self.is_native() {
            value
        } else {
            value.swap_bytes()
        };
        let size = std::mem::size_of::<T>();
        self.as_bytes_mut()?[at..at + size].copy_from_slice(bytemuck::bytes_of(&stored));
        Ok(())
    }

    /// Sets every element to `value`.
    pub fn fill(&mut self, value: T) -> Result<()> {
        let stored = if self.is_native() {
            value
        } else {
            value.swap_bytes()
        };
        let pattern = bytemuck::bytes_of(&stored).to_vec();
        for chunk in self.as_bytes_mut()?.chunks_exact_mut(pattern.len()) {
            chunk.copy_from_slice(&pattern);
        }
        Ok(())
    }

    /// Writes changes to the file and waits for the disk (`r+`, `w+`); nothing to do in `r`
    /// and `c`, whose file never changes.
    pub fn flush(&self) -> Result<()> {
        match (&self.mapping, self.mode.writes_through()) {
            (Mapping::Writable(m), true) => {
                m.flush().map_err(|e| Error::io(e).with_path(&self.path))
            }
            _ => Ok(()),
        }
    }

    /// As [`MemmapArray::flush`], for `len` bytes starting `offset` bytes into the array.
    pub fn flush_range(&self, offset: usize, len: usize) -> Result<()> {
        let in_bounds = offset
            .checked_add(len)
            .is_some_and(|end| end <= self.as_bytes().len());
        if !in_bounds {
            return Err(Error::usage(format!(
                "range {offset}+{len} is outside the {}-byte array",
                self.as_bytes().len()
            )));
        }
        match (&self.mapping, self.mode.writes_through()) {
            (Mapping::Writable(m), true) => m
                .flush_range(offset, len)
                .map_err(|e| Error::io(e).with_path(&self.path)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn options(mode: MapMode, shape: &[usize]) -> MemmapOptions {
        MemmapOptions::new(mode).shape(shape)
    }

    #[test]
    fn create_sizes_the_file_and_writes_through() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.dat");
        let mut a =
            MemmapArray::<u16>::open(&p, options(MapMode::Create, &[3, 4]).offset(10)).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 10 + 24);
        a.view_mut().unwrap()[[2, 3]] = 0x0102;
        a.flush().unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[10 + 22..], &0x0102u16.to_ne_bytes());
    }

    #[test]
    fn read_mode_rejects_writes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.dat");
        std::fs::write(&p, [1u8; 8]).unwrap();
        let mut r = MemmapArray::<u8>::open(&p, MemmapOptions::new(MapMode::Read)).unwrap();
        assert_eq!(r.shape(), &[8]);
        assert_eq!(r.view_mut().unwrap_err().kind(), ErrorKind::Usage);
        assert_eq!(r.set(&[0], 2).unwrap_err().kind(), ErrorKind::Usage);
        assert_eq!(r.fill(0).unwrap_err().kind(), ErrorKind::Usage);
        assert!(r.flush().is_ok());
    }

    #[test]
    fn short_files_are_errors_in_read_modes_and_grow_in_write_modes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.dat");
        std::fs::write(&p, [0u8; 10]).unwrap();
        for mode in [MapMode::Read, MapMode::CopyOnWrite] {
            let e = MemmapArray::<f32>::open(&p, options(mode, &[3]).offset(4)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
            assert!(e.to_string().contains("s.dat"));
        }
        let e =
            MemmapArray::<u8>::open(&p, MemmapOptions::new(MapMode::Read).offset(11)).unwrap_err();
        assert_eq!(
            (e.kind(), e.field_name()),
            (ErrorKind::Limit, Some("offset"))
        );
        let e = MemmapArray::<u32>::open(&p, MemmapOptions::new(MapMode::Read)).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::Usage,
            "10 bytes are not whole u32s: {e}"
        );
        let grown =
            MemmapArray::<f32>::open(&p, options(MapMode::ReadWrite, &[3]).offset(40)).unwrap();
        assert_eq!(grown.to_array().as_slice().unwrap(), &[0.0; 3]);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 52);
        let e = MemmapArray::<f32>::open(
            dir.path().join("missing"),
            MemmapOptions::new(MapMode::Read),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        let e =
            MemmapArray::<f32>::open(dir.path().join("new"), MemmapOptions::new(MapMode::Create))
                .unwrap_err();
        assert_eq!(
            (e.kind(), e.field_name()),
            (ErrorKind::Usage, Some("shape"))
        );
    }

    #[test]
    fn fortran_order_and_other_byte_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.dat");
        // A 2x3 int16 array, Fortran order, big-endian: values 10*row + col.
        let mut bytes = Vec::new();
        for col in 0..3i16 {
            for row in 0..2i16 {
                bytes.extend_from_slice(&(10 * row + col).to_be_bytes());
            }
        }
        std::fs::write(&p, &bytes).unwrap();
        let opts = options(MapMode::Read, &[2, 3])
            .order(Order::F)
            .byte_order(ByteOrder::Big);
        let a = MemmapArray::<i16>::open(&p, opts).unwrap();
        assert_eq!(a.get(&[1, 2]).unwrap(), 12);
        let arr = a.to_array();
        assert_eq!(arr[[1, 0]], 10);
        assert_eq!(arr[[0, 2]], 2);
        if ByteOrder::NATIVE == ByteOrder::Little {
            assert_eq!(a.view().unwrap_err().kind(), ErrorKind::Usage);
        }
        assert!(a.get(&[2, 0]).is_err());
        assert!(a.get(&[0]).is_err());

        let mut c = MemmapArray::<i16>::open(
            &p,
            options(MapMode::CopyOnWrite, &[2, 3])
                .order(Order::F)
                .byte_order(ByteOrder::Big),
        )
        .unwrap();
        c.set(&[0, 0], -7).unwrap();
        assert_eq!(c.get(&[0, 0]).unwrap(), -7);
        assert_eq!(
            std::fs::read(&p).unwrap(),
            bytes,
            "copy-on-write never touches the file"
        );
    }

    #[test]
    fn misaligned_offsets_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.dat");
        let mut bytes = vec![0u8; 3];
        for v in [1.5f64, -2.25] {
            bytes.extend_from_slice(&v.to_ne_bytes());
        }
        std::fs::write(&p, &bytes).unwrap();
        let a = MemmapArray::<f64>::open(&p, options(MapMode::Read, &[2]).offset(3)).unwrap();
        assert_eq!(a.to_array().as_slice().unwrap(), &[1.5, -2.25]);
        assert_eq!(a.get(&[1]).unwrap(), -2.25);
        assert_eq!(a.view().unwrap_err().kind(), ErrorKind::Usage);
    }

    #[test]
    fn empty_arrays_map_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.dat");
        let a = MemmapArray::<f32>::open(&p, options(MapMode::Create, &[0, 4])).unwrap();
        assert!(a.is_empty());
        assert_eq!(a.view().unwrap().shape(), &[0, 4]);
        assert!(a.flush().is_ok());
        assert!(a.flush_range(0, 1).is_err());
    }
}
