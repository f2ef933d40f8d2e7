//! numpy-memmap-like arrays: an n-d array that views a file on disk, loading pages only as
//! they are touched.
//!
//! [`MemmapArray`] follows `numpy.memmap`'s rules (docs/compat.md, "Memory maps"):
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
//! The rules (validation, default shape, growth, mapping) live in [`MemmapBytes`], which knows
//! the element type only by its size: bindings that learn the type at run time (the Python
//! package maps any fixed-size numpy dtype) use it directly, and [`MemmapArray`] is a typed
//! view over one.
//!
//! This is the memory-mapping path of `ArrayProxy` too: a read-only or copy-on-write view at
//! an offset, of a shape and order, in any byte order.
//!
//! # Memory maps and other processes
//! As with numpy, a mapping reflects the file: another process that writes the file (in
//! modes `r`, `r+`, `w+`) is seen by this one, which is how two programs share memory. A
//! process that *truncates* the file while it is mapped makes later reads fault (SIGBUS), in
//! numpy as here; neurovox's own saves never truncate a file in place (they replace it).

use crate::dtype::element::Element;
use crate::dtype::{ByteOrder, Order};
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
    /// use neurovox::numpy::memmap::MapMode;
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

/// An element-agnostic memory map of a file region: numpy.memmap's rules (validation, default
/// shape, growth, modes), with the element type known only by its size in bytes.
///
/// This is where the rules live; [`MemmapArray`] is a typed view over one, and bindings that
/// learn the element type at run time (the Python package, for any numpy dtype) use it
/// directly. The map is a [`memmap2::MmapRaw`]: no Rust reference into it is held, so foreign
/// code may write through [`MemmapBytes::as_mut_ptr`] for as long as the map lives.
///
/// numpy's edge cases are kept: in `r+` and `w+` the file is made at least `offset + size`
/// bytes long and, for an empty array at offset 0, at least 1 byte (numpy maps one byte then);
/// in `r` and `c` an empty array of an empty file is an error ("cannot mmap an empty file").
///
/// ```
/// use neurovox::numpy::memmap::{MapMode, MemmapBytes, MemmapOptions};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("data.bin");
/// std::fs::write(&path, [0u8; 10])?;
/// // 8-byte elements after a 2-byte header: shape (1,) by default.
/// let m = MemmapBytes::open(&path, 8, &MemmapOptions::new(MapMode::Read).offset(2))?;
/// assert_eq!((m.shape(), m.len()), (&[1][..], 8));
/// // r+ grows the file to hold the array, as numpy.memmap does.
/// let g = MemmapBytes::open(&path, 4, &MemmapOptions::new(MapMode::ReadWrite).shape(&[5]))?;
/// assert_eq!(std::fs::metadata(&path)?.len(), 20);
/// assert!(g.as_mut_ptr().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemmapBytes {
    /// `None` for zero-length regions (the OS cannot map zero bytes).
    map: Option<memmap2::MmapRaw>,
    path: PathBuf,
    mode: MapMode,
    offset: u64,
    shape: Vec<usize>,
    itemsize: usize,
    order: Order,
    byte_order: ByteOrder,
}

impl std::fmt::Debug for MemmapBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemmapBytes")
            .field("path", &self.path)
            .field("mode", &self.mode.as_str())
            .field("offset", &self.offset)
            .field("shape", &self.shape)
            .field("itemsize", &self.itemsize)
            .field("order", &self.order)
            .finish()
    }
}

/// Bytes needed for `shape` elements of `itemsize` bytes, or a Limit error.
fn region_len(shape: &[usize], itemsize: usize) -> Result<u64> {
    crate::dtype::checked_nbytes(shape, itemsize)
        .filter(|&n| usize::try_from(n).is_ok())
        .ok_or_else(|| {
            Error::limit(format!(
                "an array of shape {shape:?} does not fit in memory"
            ))
            .field("shape")
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

/// Checks what can be checked before the file is touched (numpy refuses these before it
/// opens, so a `w+` without a shape never truncates anything).
fn check_options(itemsize: usize, options: &MemmapOptions) -> Result<()> {
    if itemsize == 0 {
        return Err(Error::usage("the data type has no size (itemsize 0)").field("dtype"));
    }
    if options.mode == MapMode::Create && options.shape.is_none() {
        return Err(Error::usage("shape must be given if mode == 'w+'").field("shape"));
    }
    Ok(())
}

impl MemmapBytes {
    /// Maps `path` for elements of `itemsize` bytes, as numpy.memmap does (see the module
    /// table for each mode's rules; the file is opened read-only in `r` and `c`).
    ///
    /// Errors: the file is missing (`r`, `r+`, `c`: Io, NotFound), shorter than
    /// `offset + size` in `r` or `c` (Limit, "mmap length is greater than file size"),
    /// `shape` missing in `w+` or not derivable from the file length, `itemsize` 0 (Usage).
    pub fn open(path: impl AsRef<Path>, itemsize: usize, options: &MemmapOptions) -> Result<Self> {
        let path = path.as_ref();
        let opened = check_options(itemsize, options).and_then(|()| {
            let file = match options.mode {
                MapMode::Read | MapMode::CopyOnWrite => File::open(path)?,
                MapMode::ReadWrite => OpenOptions::new().read(true).write(true).open(path)?,
                MapMode::Create => OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(path)?,
            };
            Self::map_file(&file, path, itemsize, options)
        });
        opened.map_err(|e| e.with_path(path))
    }

    /// As [`MemmapBytes::open`], over a file the caller has already opened (numpy.memmap's
    /// file-object form): `file` must be readable, and writable in `r+` and `w+`. `w+` does
    /// not truncate it here (numpy does not truncate a file object either); it is grown as
    /// needed. `path` names the file in errors and [`MemmapBytes::path`].
    pub fn open_file(
        file: &File,
        path: impl AsRef<Path>,
        itemsize: usize,
        options: &MemmapOptions,
    ) -> Result<Self> {
        let path = path.as_ref();
        check_options(itemsize, options)
            .and_then(|()| Self::map_file(file, path, itemsize, options))
            .map_err(|e| e.with_path(path))
    }

    fn map_file(
        file: &File,
        path: &Path,
        itemsize: usize,
        options: &MemmapOptions,
    ) -> Result<Self> {
        let mode = options.mode;
        let file_len = file.metadata()?.len();
        let shape = match &options.shape {
            Some(shape) => shape.clone(),
            None => vec![elements_after(file_len, options.offset, itemsize)?],
        };
        let len = region_len(&shape, itemsize)?;
        let end = options
            .offset
            .checked_add(len)
            .ok_or_else(|| Error::limit("offset + size overflows 64 bits").field("offset"))?;
        if mode.writes_through() {
            // numpy maps at least one byte, so it makes even an empty file 1 byte long.
            let needed = end.max(1);
            if file_len < needed {
                file.set_len(needed)?;
            }
        } else if end > file_len {
            return Err(Error::limit(format!(
                "mmap length is greater than file size: the file has {file_len} bytes, the array needs {len} bytes at offset {}",
                options.offset
            ))
            .field("shape"));
        } else if len == 0 && file_len == 0 {
            return Err(Error::usage("cannot mmap an empty file").field("shape"));
        }
        let map = if len == 0 {
            None
        } else {
            let mut map_options = memmap2::MmapOptions::new();
            map_options.offset(options.offset).len(len as usize);
            // SAFETY: the file holds at least `offset + len` bytes (checked or grown above).
            // As with numpy.memmap, another process truncating the file while it is mapped
            // would make accesses fault; see the module documentation.
            let map = unsafe {
                match mode {
                    MapMode::Read => map_options.map_raw_read_only(file)?,
                    MapMode::ReadWrite | MapMode::Create => map_options.map_raw(file)?,
                    MapMode::CopyOnWrite => memmap2::MmapRaw::from(map_options.map_copy(file)?),
                }
            };
            Some(map)
        };
        Ok(MemmapBytes {
            map,
            path: path.to_path_buf(),
            mode,
            offset: options.offset,
            shape,
            itemsize,
            order: options.order,
            byte_order: options.byte_order,
        })
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

    /// The array's shape (given, or derived from the file length).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The size of one element in bytes.
    pub fn itemsize(&self) -> usize {
        self.itemsize
    }

    /// C or Fortran order (as given in the options; the bytes do not depend on it).
    pub fn order(&self) -> Order {
        self.order
    }

    /// The byte order of the stored values (as given in the options).
    pub fn byte_order(&self) -> ByteOrder {
        self.byte_order
    }

    /// The mapped length in bytes (shape product × itemsize).
    pub fn len(&self) -> usize {
        self.map.as_ref().map_or(0, memmap2::MmapRaw::len)
    }

    /// True if nothing is mapped (an empty array).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first mapped byte, for foreign code that views the map (numpy). Dangling but
    /// non-null for an empty map.
    pub fn as_ptr(&self) -> *const u8 {
        self.map
            .as_ref()
            .map_or(std::ptr::NonNull::dangling().as_ptr(), |m| m.as_ptr())
    }

    /// The first mapped byte, to write through; `None` in mode `r` (the pages are mapped
    /// read-only and a write would fault). Writes go to the file in `r+`/`w+` and stay in
    /// private pages in `c`.
    pub fn as_mut_ptr(&self) -> Option<*mut u8> {
        if !self.mode.is_writable() {
            return None;
        }
        Some(
            self.map
                .as_ref()
                .map_or(std::ptr::NonNull::dangling().as_ptr(), |m| m.as_mut_ptr()),
        )
    }

    /// The mapped bytes, exactly as in the file (or as written, in mode `c`).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.map {
            // SAFETY: the map covers `len` readable bytes for as long as `self` lives. As for
            // every memory map (memmap2's `Mmap` derefs the same way), another process may
            // change the file's bytes underneath.
            Some(m) => unsafe { std::slice::from_raw_parts(m.as_ptr(), m.len()) },
            None => &[],
        }
    }

    /// The mapped bytes, to write; a Usage error in mode `r`.
    pub fn as_bytes_mut(&mut self) -> Result<&mut [u8]> {
        if !self.mode.is_writable() {
            return Err(Error::usage(
                "the array is mapped read-only (mode 'r'); open it with 'r+', 'w+' or 'c' to write",
            )
            .with_path(&self.path));
        }
        Ok(match &self.map {
            // SAFETY: the map is writable (not mode `r`) and `&mut self` makes this the only
            // Rust access to it for the slice's life.
            Some(m) => unsafe { std::slice::from_raw_parts_mut(m.as_mut_ptr(), m.len()) },
            None => &mut [],
        })
    }

    /// Writes changes to the file and waits for the disk (`r+`, `w+`); nothing to do in `r`
    /// and `c`, whose file never changes.
    pub fn flush(&self) -> Result<()> {
        match (&self.map, self.mode.writes_through()) {
            (Some(m), true) => m.flush().map_err(|e| Error::io(e).with_path(&self.path)),
            _ => Ok(()),
        }
    }

    /// As [`MemmapBytes::flush`], for `len` bytes starting `offset` bytes into the map.
    pub fn flush_range(&self, offset: usize, len: usize) -> Result<()> {
        let in_bounds = offset.checked_add(len).is_some_and(|end| end <= self.len());
        if !in_bounds {
            return Err(Error::usage(format!(
                "range {offset}+{len} is outside the {}-byte array",
                self.len()
            )));
        }
        match (&self.map, self.mode.writes_through()) {
            (Some(m), true) => m
                .flush_range(offset, len)
                .map_err(|e| Error::io(e).with_path(&self.path)),
            _ => Ok(()),
        }
    }
}

/// An n-d array of `T` viewing a region of a file, as `numpy.memmap` does: a typed view over
/// a [`MemmapBytes`], which holds the rules.
///
/// ```
/// use neurovox::numpy::memmap::{MapMode, MemmapArray, MemmapOptions};
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
    raw: MemmapBytes,
    element: PhantomData<T>,
}

impl<T: Element> std::fmt::Debug for MemmapArray<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemmapArray")
            .field("path", &self.raw.path)
            .field("dtype", &T::DTYPE)
            .field("mode", &self.raw.mode.as_str())
            .field("offset", &self.raw.offset)
            .field("shape", &self.raw.shape)
            .field("order", &self.raw.order)
            .field("byte_order", &self.raw.byte_order)
            .finish()
    }
}

impl<T: Element> MemmapArray<T> {
    /// Maps `path` as numpy.memmap does (see the module table for each mode's rules and
    /// [`MemmapBytes`] for numpy's empty-array edge cases).
    ///
    /// Errors: the file is missing (`r`, `r+`, `c`), shorter than `offset + size` in `r` or
    /// `c` (Limit), `shape` missing in `w+` or not derivable from the file length (Usage).
    pub fn open(path: impl AsRef<Path>, options: MemmapOptions) -> Result<Self> {
        MemmapBytes::open(path, std::mem::size_of::<T>(), &options).map(Self::from_bytes)
    }

    fn from_bytes(raw: MemmapBytes) -> Self {
        MemmapArray {
            raw,
            element: PhantomData,
        }
    }

    /// The untyped map underneath.
    pub fn as_raw(&self) -> &MemmapBytes {
        &self.raw
    }

    /// The untyped map, giving up the element type.
    pub fn into_raw(self) -> MemmapBytes {
        self.raw
    }

    /// The mapped file.
    pub fn path(&self) -> &Path {
        self.raw.path()
    }

    /// The mode it was mapped with.
    pub fn mode(&self) -> MapMode {
        self.raw.mode()
    }

    /// Byte offset of the first element in the file.
    pub fn offset(&self) -> u64 {
        self.raw.offset()
    }

    /// The array's shape.
    pub fn shape(&self) -> &[usize] {
        self.raw.shape()
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.raw.shape.len()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.raw.shape.iter().product()
    }

    /// True if the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// C or Fortran order.
    pub fn order(&self) -> Order {
        self.raw.order
    }

    /// The byte order of the stored values.
    pub fn byte_order(&self) -> ByteOrder {
        self.raw.byte_order
    }

    /// True if the stored bytes are the values as this machine reads them.
    pub fn is_native(&self) -> bool {
        self.raw.byte_order == ByteOrder::NATIVE || T::DTYPE.component_size() == 1
    }

    /// The mapped bytes, exactly as in the file (or as written, in mode `c`).
    pub fn as_bytes(&self) -> &[u8] {
        self.raw.as_bytes()
    }

    /// The mapped bytes, to write; a Usage error in mode `r`.
    pub fn as_bytes_mut(&mut self) -> Result<&mut [u8]> {
        self.raw.as_bytes_mut()
    }

    fn not_viewable(&self, why: &str) -> Error {
        Error::usage(format!("{why}: read the values with to_array() or get()"))
            .with_path(&self.raw.path)
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
                self.raw.offset,
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
            self.raw.offset,
            T::DTYPE
        ));
        let bytes = self.as_bytes_mut()?;
        if bytes.is_empty() {
            return Ok(&mut []);
        }
        bytemuck::try_cast_slice_mut(bytes).map_err(|_| misaligned)
    }

    fn ndarray_shape(&self) -> ndarray::Shape<IxDyn> {
        IxDyn(&self.raw.shape).set_f(self.raw.order == Order::F)
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
                if swap { v.swap_bytes() } else { v }
            })
            .collect();
        // The shape and the number of values agree by construction.
        ArrayD::from_shape_vec(self.ndarray_shape(), values)
            .unwrap_or_else(|_| ArrayD::from_elem(IxDyn(&[0]), T::zeroed()))
    }

    /// The byte position of an element, or a Usage error for a wrong index.
    fn byte_position(&self, index: &[usize]) -> Result<usize> {
        if index.len() != self.raw.shape.len() {
            return Err(Error::usage(format!(
                "index {index:?} has {} axes, the array has {}",
                index.len(),
                self.raw.shape.len()
            )));
        }
        if let Some(axis) = index.iter().zip(&self.raw.shape).position(|(i, n)| i >= n) {
            return Err(Error::usage(format!(
                "index {} is out of bounds for axis {axis} with size {}",
                index[axis], self.raw.shape[axis]
            )));
        }
        let axes: Box<dyn Iterator<Item = (&usize, &usize)>> = match self.raw.order {
            Order::C => Box::new(index.iter().zip(&self.raw.shape).rev()),
            Order::F => Box::new(index.iter().zip(&self.raw.shape)),
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
        self.raw.flush()
    }

    /// As [`MemmapArray::flush`], for `len` bytes starting `offset` bytes into the array.
    pub fn flush_range(&self, offset: usize, len: usize) -> Result<()> {
        self.raw.flush_range(offset, len)
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

    #[test]
    fn bytes_maps_follow_numpys_empty_and_w_plus_rules() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.dat");
        std::fs::write(&p, b"keep").unwrap();
        // w+ without a shape is refused before the file is opened, so nothing is truncated.
        let e = MemmapBytes::open(&p, 1, &MemmapOptions::new(MapMode::Create)).unwrap_err();
        assert_eq!(e.field_name(), Some("shape"));
        assert_eq!(std::fs::read(&p).unwrap(), b"keep");
        // itemsize 0 is a Usage error.
        let e = MemmapBytes::open(&p, 0, &MemmapOptions::new(MapMode::Read)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        // An empty array in an empty file: an error in r and c, a 1-byte file in r+ and w+.
        let empty = dir.path().join("empty.dat");
        std::fs::write(&empty, b"").unwrap();
        for mode in [MapMode::Read, MapMode::CopyOnWrite] {
            let e = MemmapBytes::open(&empty, 4, &MemmapOptions::new(mode)).unwrap_err();
            assert!(e.to_string().contains("cannot mmap an empty file"), "{e}");
        }
        let m = MemmapBytes::open(&empty, 4, &MemmapOptions::new(MapMode::ReadWrite)).unwrap();
        assert_eq!((m.shape(), m.len()), (&[0][..], 0));
        assert_eq!(std::fs::metadata(&empty).unwrap().len(), 1);
        let created = dir.path().join("w.dat");
        MemmapBytes::open(&created, 8, &options(MapMode::Create, &[0])).unwrap();
        assert_eq!(std::fs::metadata(&created).unwrap().len(), 1);
        // An empty array at the end of a non-empty file is fine in r.
        let m = MemmapBytes::open(&p, 2, &options(MapMode::Read, &[0]).offset(4)).unwrap();
        assert!(m.is_empty() && m.as_mut_ptr().is_none() && !m.as_ptr().is_null());
        // Too short in r: numpy's message.
        let e = MemmapBytes::open(&p, 2, &options(MapMode::Read, &[3])).unwrap_err();
        assert!(
            e.to_string()
                .contains("mmap length is greater than file size")
        );
        assert!(e.to_string().contains("b.dat"));
    }

    #[test]
    fn bytes_maps_over_an_open_file_grow_without_truncating() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.dat");
        std::fs::write(&p, [1u8, 2, 3, 4]).unwrap();
        let file = OpenOptions::new().read(true).write(true).open(&p).unwrap();
        let mut m = MemmapBytes::open_file(&file, &p, 2, &options(MapMode::Create, &[3])).unwrap();
        assert_eq!(m.as_bytes(), &[1, 2, 3, 4, 0, 0]);
        m.as_bytes_mut().unwrap()[5] = 9;
        m.flush().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), [1, 2, 3, 4, 0, 9]);
        let read_only = File::open(&p).unwrap();
        let mut r =
            MemmapBytes::open_file(&read_only, &p, 1, &MemmapOptions::new(MapMode::Read)).unwrap();
        assert_eq!(r.shape(), &[6]);
        assert!(r.as_bytes_mut().is_err());
        assert!(r.flush_range(0, 7).is_err());
        assert!(r.flush_range(0, 6).is_ok());
    }
}
