//! Reading and writing whole `.npy` files, memory-mapped or in memory (numpy's `np.load`,
//! `np.save`, `np.load(mmap_mode=...)`).

use super::*;
use crate::dtype::Order;
use crate::dtype::element::Element;
use crate::dtype::{ByteOrder, StorageDtype};
use crate::error::{Error, Result};
use crate::numpy::memmap::{MapMode, MemmapArray, MemmapBytes, MemmapOptions};
use ndarray::{ArrayD, ArrayViewD, IxDyn, ShapeBuilder};
use std::io::{Read, Write};
use std::path::Path;

/// A `.npy` array as [`load_npy`] returns it: memory-mapped for modes `r`, `r+`, `c`, read
/// into memory otherwise.
#[derive(Debug)]
pub enum NpyData<T: Element> {
    /// A memory map of the file's data region.
    Mapped(MemmapArray<T>),
    /// The values read into memory.
    InMemory(ArrayD<T>),
}

impl<T: Element> NpyData<T> {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            NpyData::Mapped(m) => m.shape(),
            NpyData::InMemory(a) => a.shape(),
        }
    }

    /// The values as an owned array in native byte order.
    pub fn to_array(&self) -> ArrayD<T> {
        match self {
            NpyData::Mapped(m) => m.to_array(),
            NpyData::InMemory(a) => a.clone(),
        }
    }

    /// A view without copying (for maps: native byte order and alignment required).
    pub fn view(&self) -> Result<ArrayViewD<'_, T>> {
        match self {
            NpyData::Mapped(m) => m.view(),
            NpyData::InMemory(a) => Ok(a.view()),
        }
    }

    /// True if the values are memory-mapped.
    pub fn is_mapped(&self) -> bool {
        matches!(self, NpyData::Mapped(_))
    }
}

/// Reads exactly the header from the start of a `.npy` stream.
pub fn read_npy_header(reader: &mut dyn Read) -> Result<NpyHeader> {
    let mut bytes = vec![0u8; 12];
    let got = crate::io::read_fully(reader, &mut bytes)?;
    bytes.truncate(got);
    let total = npy_header_len(&bytes)?;
    if total > bytes.len() {
        crate::io::read_up_to(reader, (total - bytes.len()) as u64, &mut bytes)?;
    }
    parse_npy_header(&bytes)
}

/// A Rust type `.npy` values can be read as and written from: every [`Element`] (numpy's
/// numeric types) and `bool` (numpy's `'|b1'`, see [`NpyDtype`]).
///
/// ```
/// use neurovox::numpy::npy::{NpyDtype, NpyElement};
/// use neurovox::ByteOrder;
/// assert_eq!(<bool as NpyElement>::NPY_DTYPE, NpyDtype::Bool);
/// assert!(bool::from_npy_bytes(&[2], ByteOrder::Little)); // nonzero is True, as in numpy
/// assert_eq!(u16::from_npy_bytes(&[1, 2], ByteOrder::Big), 0x0102);
/// ```
pub trait NpyElement:
    bytemuck::NoUninit + std::fmt::Debug + PartialEq + Send + Sync + 'static
{
    /// The dtype arrays of this type are written as (native byte order).
    const NPY_DTYPE: NpyDtype;

    /// A value from its stored bytes (exactly the item size) in byte order `order`.
    fn from_npy_bytes(bytes: &[u8], order: ByteOrder) -> Self;
}

impl<T: Element> NpyElement for T {
    const NPY_DTYPE: NpyDtype = NpyDtype::Number(StorageDtype {
        dtype: T::DTYPE,
        order: ByteOrder::NATIVE,
    });

    fn from_npy_bytes(bytes: &[u8], order: ByteOrder) -> Self {
        let value: T = bytemuck::pod_read_unaligned(bytes);
        if order != ByteOrder::NATIVE && T::DTYPE.component_size() > 1 {
            value.swap_bytes()
        } else {
            value
        }
    }
}

impl NpyElement for bool {
    const NPY_DTYPE: NpyDtype = NpyDtype::Bool;

    /// A Rust bool must be 0 or 1, so a byte numpy would keep as is (it views the data) is
    /// read the way numpy's truth tests read it: nonzero is true.
    fn from_npy_bytes(bytes: &[u8], _order: ByteOrder) -> Self {
        bytes.iter().any(|&b| b != 0)
    }
}

/// Checks that the file's element type is the one asked for (in either byte order).
pub(super) fn check_element<T: NpyElement>(header: &NpyHeader) -> Result<()> {
    let same = match (header.dtype, T::NPY_DTYPE) {
        (NpyDtype::Number(file), NpyDtype::Number(asked)) => file.dtype == asked.dtype,
        (file, asked) => file == asked,
    };
    if same {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "the array holds {}, not {}",
            header.dtype.type_name(),
            T::NPY_DTYPE.type_name()
        ))
        .field("descr"))
    }
}

pub(super) fn order_of(header: &NpyHeader) -> Order {
    if header.fortran_order {
        Order::F
    } else {
        Order::C
    }
}

/// Reads a whole `.npy` stream (header and data) into memory, in native byte order. `T` must
/// be the file's element type (a Usage error otherwise); `bool` reads numpy's bool arrays.
///
/// ```
/// use neurovox::numpy::npy::{read_npy, write_npy};
/// let mask = ndarray::array![[true, false], [false, true]];
/// let mut bytes = Vec::new();
/// write_npy(&mut bytes, &mask)?;
/// assert_eq!(read_npy::<bool>(&mut bytes.as_slice())?, mask.into_dyn());
/// assert!(read_npy::<u8>(&mut bytes.as_slice()).is_err());
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn read_npy<T: NpyElement>(reader: &mut dyn Read) -> Result<ArrayD<T>> {
    let header = read_npy_header(reader)?;
    read_npy_data(&header, reader)
}

/// Reads a whole `.npy` stream of whatever element type its header declares (what numpy's
/// `load` does without knowing the type beforehand).
///
/// ```
/// use neurovox::numpy::npy::{read_npy_dyn, write_npy};
/// let mut bytes = Vec::new();
/// write_npy(&mut bytes, &ndarray::array![1u16, 2, 3])?;
/// let values = read_npy_dyn(&mut bytes.as_slice())?;
/// assert_eq!(values.dtype(), neurovox::DataType::UInt16);
/// assert_eq!(values.get_f64(&[2]), Some(3.0));
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn read_npy_dyn(reader: &mut dyn Read) -> Result<crate::array::dyn_array::DynArray> {
    use crate::array::dyn_array::DynArray;
    let header = read_npy_header(reader)?;
    let dtype = match header.dtype {
        NpyDtype::Number(dtype) => dtype.dtype,
        NpyDtype::Bool => {
            return Err(Error::unsupported(
                "bool arrays have no DynArray type; read them with read_npy::<bool>",
            )
            .field("descr"));
        }
    };
    Ok(crate::dtype::with_dtype!(numeric: dtype,
        T => DynArray::from_array(read_npy_data::<T>(&header, reader)?),
        other => {
            return Err(
                Error::unsupported(format!("{other} arrays are not read from .npy")).field("descr"),
            )
        }
    ))
}

/// Bytes read and converted at a time by [`read_npy_data`]: the values grow as the stream
/// arrives, so a whole read holds the result and one piece, never every raw byte beside the
/// values (which doubled the peak memory of reading an array).
const READ_PIECE_BYTES: usize = 1 << 20;

/// The data of a `.npy` stream whose header has been read.
pub(super) fn read_npy_data<T: NpyElement>(
    header: &NpyHeader,
    reader: &mut dyn Read,
) -> Result<ArrayD<T>> {
    check_element::<T>(header)?;
    let size = header.dtype.itemsize();
    let declared = header
        .shape
        .iter()
        .try_fold(size, |bytes, &n| bytes.checked_mul(n))
        .ok_or_else(|| Error::header_value("the shape's byte count overflows").field("shape"))?;
    let order = header.dtype.byte_order();
    let piece_len = (READ_PIECE_BYTES / size).max(1) * size;
    // Never allocate from the header alone: the values grow with the bytes that are there.
    let mut values: Vec<T> = Vec::new();
    let mut piece = Vec::with_capacity(piece_len.min(declared));
    let mut read = 0usize;
    while read < declared {
        piece.clear();
        let want = (declared - read).min(piece_len);
        let got = crate::io::read_up_to(reader, want as u64, &mut piece)?;
        read += got;
        values.extend(
            piece
                .chunks_exact(size)
                .map(|c| T::from_npy_bytes(c, order)),
        );
        if got < want {
            break;
        }
    }
    if read != declared {
        return Err(Error::header_value(format!(
            "the header declares {declared} data bytes, the file has {read}"
        ))
        .field("shape"));
    }
    values.shrink_to_fit();
    let shape = IxDyn(&header.shape).set_f(header.fortran_order);
    ArrayD::from_shape_vec(shape, values)
        .map_err(|e| Error::header_value(e.to_string()).field("shape"))
}

/// Memory-maps the data of an array whose header is known, at `data_offset` in `path`.
pub(crate) fn map_npy_data<T: Element>(
    path: &Path,
    header: &NpyHeader,
    data_offset: u64,
    mode: MapMode,
) -> Result<MemmapArray<T>> {
    check_element::<T>(header).map_err(|e| e.with_path(path))?;
    MemmapArray::open(path, map_options(header, data_offset, mode))
}

/// The map of an array's data, as `numpy.lib.format.open_memmap` asks numpy.memmap for it.
pub(super) fn map_options(header: &NpyHeader, data_offset: u64, mode: MapMode) -> MemmapOptions {
    MemmapOptions::new(mode)
        .offset(data_offset)
        .shape(&header.shape)
        .order(order_of(header))
        .byte_order(header.dtype.byte_order())
}

/// Memory-maps the data region of an array whose header is known, as untyped bytes.
pub(crate) fn map_npy_bytes(
    path: &Path,
    header: &NpyHeader,
    data_offset: u64,
    mode: MapMode,
) -> Result<MemmapBytes> {
    let itemsize = header.dtype.itemsize();
    MemmapBytes::open(path, itemsize, &map_options(header, data_offset, mode))
}

/// Memory-maps a `.npy` file's data, whatever its element type: the header, and the map of
/// the data after it (what `numpy.load(path, mmap_mode=...)` gives, for callers that learn the
/// type at run time). Modes `r`, `r+`, `c`; `w+` is a Usage error (see [`load_npy`]).
///
/// ```
/// use neurovox::numpy::memmap::MapMode;
/// use neurovox::numpy::npy::{map_npy, save_npy};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.npy");
/// save_npy(&path, &ndarray::array![[1i16, 2], [3, 4]])?;
/// let (header, map) = map_npy(&path, MapMode::Read)?;
/// assert_eq!((header.shape.as_slice(), map.offset(), map.len()), (&[2, 2][..], 128, 8));
/// assert_eq!(&map.as_bytes()[6..], &4i16.to_le_bytes());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn map_npy(path: impl AsRef<Path>, mode: MapMode) -> Result<(NpyHeader, MemmapBytes)> {
    let path = path.as_ref();
    let with_path = |e: Error| e.with_path(path);
    if mode == MapMode::Create {
        return Err(with_path(w_plus_error()));
    }
    let mut file =
        std::io::BufReader::new(std::fs::File::open(path).map_err(|e| with_path(Error::io(e)))?);
    let header = read_npy_header(&mut file).map_err(with_path)?;
    let map = map_npy_bytes(path, &header, header.data_offset as u64, mode)?;
    Ok((header, map))
}

/// Opens a `.npy` file to read it into a buffer of the caller's: the header, and a reader
/// positioned at the data. The file is checked to hold all the data the header declares
/// before anything is allocated for it (a Format error otherwise, numpy's "Failed to read all
/// data").
///
/// ```
/// use neurovox::numpy::npy::{open_npy, read_npy_data_into, save_npy};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.npy");
/// save_npy(&path, &ndarray::array![1.5f32, 2.5])?;
/// let (header, mut data) = open_npy(&path)?;
/// let mut out = vec![0u8; header.data_len()? as usize];
/// read_npy_data_into(&mut data, &header, &mut out)?;
/// assert_eq!(&out[4..], &2.5f32.to_ne_bytes());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open_npy(path: impl AsRef<Path>) -> Result<(NpyHeader, std::io::BufReader<std::fs::File>)> {
    let path = path.as_ref();
    let opened = (|| {
        let file = std::fs::File::open(path)?;
        let file_len = file.metadata()?.len();
        let mut reader = std::io::BufReader::new(file);
        let header = read_npy_header(&mut reader)?;
        check_data_len(&header, file_len.saturating_sub(header.data_offset as u64))?;
        Ok((header, reader))
    })();
    opened.map_err(|e: Error| e.with_path(path))
}

/// A Format error if fewer than the header's data bytes are `available`: check a stream
/// before allocating what its header declares.
///
/// ```
/// use neurovox::numpy::npy::{check_data_len, parse_npy_header, write_npy};
/// let mut bytes = Vec::new();
/// write_npy(&mut bytes, &ndarray::array![1u32, 2])?;
/// let header = parse_npy_header(&bytes)?;
/// assert!(check_data_len(&header, 8).is_ok());
/// assert!(check_data_len(&header, 7).is_err());
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn check_data_len(header: &NpyHeader, available: u64) -> Result<()> {
    let expected = header.data_len()?;
    if available < expected {
        return Err(Error::header_value(format!(
            "Failed to read all data: the header declares {expected} data bytes, the file has {available}"
        ))
        .field("shape"));
    }
    Ok(())
}

pub(super) fn w_plus_error() -> Error {
    Error::usage("mmap_mode 'w+' would overwrite the file; use 'r', 'r+' or 'c'")
}

/// Reads the data of a `.npy` stream whose header has been read into `out`, byte for byte
/// as stored (the header's byte order and memory order): `out` must be exactly
/// [`NpyHeader::data_len`] bytes. A stream shorter than that is a Format error (numpy's
/// "Failed to read all data").
///
/// ```
/// use neurovox::numpy::npy::{read_npy_data_into, read_npy_header, write_npy};
/// let mut bytes = Vec::new();
/// write_npy(&mut bytes, &ndarray::array![7u8, 8, 9])?;
/// let mut stream = bytes.as_slice();
/// let header = read_npy_header(&mut stream)?;
/// let mut data = vec![0u8; header.data_len()? as usize];
/// read_npy_data_into(&mut stream, &header, &mut data)?;
/// assert_eq!(data, [7, 8, 9]);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn read_npy_data_into(reader: &mut dyn Read, header: &NpyHeader, out: &mut [u8]) -> Result<()> {
    let expected = header.data_len()?;
    if out.len() as u64 != expected {
        return Err(Error::usage(format!(
            "the buffer has {} bytes, the array {expected}",
            out.len()
        )));
    }
    let got = crate::io::read_fully(reader, out)?;
    if got != out.len() {
        return Err(Error::header_value(format!(
            "Failed to read all data: the header declares {expected} data bytes, the file has {got}"
        ))
        .field("shape"));
    }
    Ok(())
}

/// numpy's `load` for `.npy` files: with `mmap_mode` `r`, `r+` or `c` the data is
/// memory-mapped (nothing is read until touched), otherwise read into memory. `w+` is a
/// Usage error, as in numpy (it would destroy the file).
///
/// `T` is an [`Element`], which `bool` cannot be (a map may hold any byte): bool files are
/// read with [`read_npy`]`::<bool>`, or mapped as bytes with [`map_npy`].
///
/// ```
/// use ndarray::array;
/// use neurovox::numpy::memmap::MapMode;
/// use neurovox::numpy::npy::{load_npy, save_npy};
/// let dir = tempfile::tempdir()?;
/// let fname = dir.path().join("afile.npy");
/// save_npy(&fname, &array![[1.0, 2.0], [3.0, 4.0]])?;
/// let aa = load_npy::<f64>(&fname, Some(MapMode::Read))?;
/// assert!(aa.is_mapped());
/// assert_eq!(aa.view()?[[1, 0]], 3.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_npy<T: Element>(
    path: impl AsRef<Path>,
    mmap_mode: Option<MapMode>,
) -> Result<NpyData<T>> {
    let path = path.as_ref();
    let with_path = |e: Error| e.with_path(path);
    let mut file =
        std::io::BufReader::new(std::fs::File::open(path).map_err(|e| with_path(Error::io(e)))?);
    match mmap_mode {
        None => read_npy(&mut file)
            .map(NpyData::InMemory)
            .map_err(with_path),
        Some(MapMode::Create) => Err(with_path(w_plus_error())),
        Some(mode) => {
            let header = read_npy_header(&mut file).map_err(with_path)?;
            map_npy_data(path, &header, header.data_offset as u64, mode).map(NpyData::Mapped)
        }
    }
}

/// An array that can be written as `.npy` (any `ndarray` of an [`NpyElement`] type: numpy's
/// numeric types and `bool`); lets [`crate::numpy::npz::savez`] take arrays of different types
/// together.
///
/// ```
/// use ndarray::ShapeBuilder;
/// use neurovox::numpy::npy::{NpyDtype, NpyWritable};
/// let mask = ndarray::Array3::<bool>::from_elem((2, 3, 4).f(), true);
/// assert_eq!((mask.npy_dtype(), mask.npy_fortran_order()), (NpyDtype::Bool, true));
/// ```
pub trait NpyWritable {
    /// The element type and byte order to write.
    fn npy_dtype(&self) -> NpyDtype;
    /// The shape.
    fn npy_shape(&self) -> Vec<usize>;
    /// True to write in Fortran order (the array is Fortran-contiguous and not C-contiguous).
    fn npy_fortran_order(&self) -> bool;
    /// Writes the values in that order.
    fn write_values(&self, out: &mut dyn Write) -> Result<()>;
}

impl<T, S, D> NpyWritable for ndarray::ArrayBase<S, D>
where
    T: NpyElement,
    S: ndarray::Data<Elem = T>,
    D: ndarray::Dimension,
{
    fn npy_dtype(&self) -> NpyDtype {
        T::NPY_DTYPE
    }

    fn npy_shape(&self) -> Vec<usize> {
        self.shape().to_vec()
    }

    fn npy_fortran_order(&self) -> bool {
        self.ndim() > 1 && !self.is_standard_layout() && self.t().is_standard_layout()
    }

    fn write_values(&self, out: &mut dyn Write) -> Result<()> {
        let view = if self.npy_fortran_order() {
            self.t()
        } else {
            self.view()
        };
        if let Some(slice) = view.as_slice() {
            return out
                .write_all(bytemuck::cast_slice(slice))
                .map_err(Error::io);
        }
        for v in view.iter() {
            out.write_all(bytemuck::bytes_of(v)).map_err(Error::io)?;
        }
        Ok(())
    }
}

/// Writes one array as a `.npy` stream, header as numpy writes it.
pub fn write_npy(out: &mut dyn Write, array: &dyn NpyWritable) -> Result<()> {
    let header = npy_header_bytes(
        array.npy_dtype(),
        array.npy_fortran_order(),
        &array.npy_shape(),
    )?;
    out.write_all(&header).map_err(Error::io)?;
    array.write_values(out)
}

/// numpy's `save`: writes the array to `path` as `.npy` (atomically: a reader never sees half
/// a file, and a failed save leaves the old file).
///
/// ```
/// use neurovox::numpy::npy::{load_npy, read_npy, save_npy};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("mask.npy");
/// let mask = ndarray::array![[true, false, true], [false, false, true]];
/// save_npy(&path, &mask)?; // descr '|b1', as np.save writes it
/// let back = read_npy::<bool>(&mut std::fs::File::open(&path)?)?;
/// assert_eq!(back, mask.into_dyn());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn save_npy(path: impl AsRef<Path>, array: &dyn NpyWritable) -> Result<()> {
    crate::io::atomic::write_atomically(path.as_ref(), |w| write_npy(w, array))
}
