//! `.npz` archives: zip files of `.npy` members, as `numpy.savez` and
//! `numpy.savez_compressed` write them.
//!
//! Members stored without compression are memory-mapped in place, at their offset inside
//! the zip file, so opening one costs no read at all — something numpy itself cannot do
//! (its `load(..., mmap_mode=...)` ignores `mmap_mode` for `.npz` and reads every member
//! into memory). Deflated members are decompressed into memory. zip64 archives work.
//!
//! The zip container is the `zip` crate's; the member data offsets come from its local
//! headers.

use crate::dtype::element::Element;
use crate::error::{Error, Result};
use crate::numpy::memmap::{MapMode, MemmapBytes};
use crate::numpy::npy::{self, NpyData, NpyElement, NpyHeader, NpyWritable};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// One member of an `.npz` archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpzMember {
    /// The array's name (the zip entry name without `.npy`).
    pub name: String,
    /// True if the member is deflated (savez_compressed), false if stored (savez).
    pub compressed: bool,
    /// Byte offset of the member's stored bytes in the archive.
    data_start: u64,
    /// Size of the member's `.npy` bytes once decompressed.
    size: u64,
}

/// An open `.npz` archive: its member list, read from the zip central directory.
///
/// ```
/// use ndarray::array;
/// use neurovox::numpy::memmap::MapMode;
/// use neurovox::numpy::npz::{savez, NpzArchive};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("abfile.npz");
/// let a = array![[1.0, 2.0], [3.0, 4.0]];
/// let b = array![0.5, 1.5];
/// savez(&path, &[("a", &a), ("b", &b)])?;
/// let f = NpzArchive::open(&path)?;
/// assert_eq!(f.names(), ["a", "b"]);
/// let aa = f.load::<f64>("a", Some(MapMode::Read))?; // memory-mapped in place
/// assert_eq!(aa.to_array(), a.into_dyn());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct NpzArchive {
    path: PathBuf,
    members: Vec<NpzMember>,
}

fn read_modes_only() -> Error {
    Error::usage(
        "npz members can be mapped with 'r' or 'c' only: writing would break the archive's checksums",
    )
}

fn zip_error(e: zip::result::ZipError) -> Error {
    match e {
        zip::result::ZipError::Io(io) => Error::io(io),
        other => Error::format(format!("not a readable zip archive: {other}")),
    }
}

impl NpzArchive {
    /// Reads the member list of the archive at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::open_inner(path).map_err(|e| e.with_path(path))
    }

    fn open_inner(path: &Path) -> Result<Self> {
        let mut zip = zip::ZipArchive::new(BufReader::new(File::open(path)?)).map_err(zip_error)?;
        let mut members = Vec::with_capacity(zip.len());
        for index in 0..zip.len() {
            let entry = zip.by_index_raw(index).map_err(zip_error)?;
            let full_name = entry.name().map_err(zip_error)?.into_owned();
            let compressed = match entry.compression() {
                zip::CompressionMethod::Stored => false,
                zip::CompressionMethod::Deflated => true,
                other => {
                    return Err(Error::unsupported(format!(
                        "member {full_name:?} uses {other:?} compression; numpy writes stored or deflated members"
                    )));
                }
            };
            let data_start = entry.data_start().ok_or_else(|| {
                Error::format(format!("member {full_name:?} has no readable local header"))
            })?;
            let name = full_name
                .strip_suffix(".npy")
                .unwrap_or(&full_name)
                .to_owned();
            members.push(NpzMember {
                name,
                compressed,
                data_start,
                size: entry.size(),
            });
        }
        Ok(NpzArchive {
            path: path.to_path_buf(),
            members,
        })
    }

    /// The archive's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The member names, in archive order (numpy's `NpzFile.files`).
    pub fn names(&self) -> Vec<&str> {
        self.members.iter().map(|m| m.name.as_str()).collect()
    }

    /// The members with their storage.
    pub fn members(&self) -> &[NpzMember] {
        &self.members
    }

    fn member(&self, name: &str) -> Result<&NpzMember> {
        self.members.iter().find(|m| m.name == name).ok_or_else(|| {
            Error::usage(format!(
                "{name:?} is not a member (members: {:?})",
                self.names()
            ))
            .with_path(&self.path)
        })
    }

    /// The `.npy` header of a member.
    pub fn header(&self, name: &str) -> Result<NpyHeader> {
        let member = self.member(name)?;
        let mut reader = self.member_reader(member)?;
        npy::read_npy_header(&mut reader).map_err(|e| e.with_path(&self.path))
    }

    /// A member's array. With `mmap_mode` `r` or `c`, a member stored without compression is
    /// memory-mapped in place; otherwise (or for deflated members) it is read into memory.
    /// `r+` and `w+` are Usage errors: writing inside an archive would corrupt its CRC.
    pub fn load<T: Element>(&self, name: &str, mmap_mode: Option<MapMode>) -> Result<NpyData<T>> {
        let member = self.member(name)?;
        let with_path = |e: Error| e.with_path(&self.path);
        match mmap_mode {
            Some(MapMode::ReadWrite | MapMode::Create) => return Err(with_path(read_modes_only())),
            Some(mode) if !member.compressed => {
                let mut reader = self.member_reader(member)?;
                let header = npy::read_npy_header(&mut reader).map_err(with_path)?;
                let data_offset = member.data_start + header.data_offset as u64;
                return npy::map_npy_data(&self.path, &header, data_offset, mode)
                    .map(NpyData::Mapped);
            }
            _ => {}
        }
        let mut reader = self.member_reader(member)?;
        npy::read_npy(&mut reader)
            .map(NpyData::InMemory)
            .map_err(with_path)
    }

    /// A member's array read into memory as `T`: any [`NpyElement`], so also `bool` members,
    /// which [`NpzArchive::load`] cannot map (a Usage error if `T` is not the member's type).
    ///
    /// ```
    /// use neurovox::numpy::npz::{savez_compressed, NpzArchive};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("run.npz");
    /// let mask = ndarray::array![[true, false], [false, true]];
    /// savez_compressed(&path, &[("bold", &ndarray::array![0.5f32, 1.5]), ("mask", &mask)])?;
    /// assert_eq!(NpzArchive::open(&path)?.read::<bool>("mask")?, mask.into_dyn());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read<T: NpyElement>(&self, name: &str) -> Result<ndarray::ArrayD<T>> {
        let member = self.member(name)?;
        let mut reader = self.member_reader(member)?;
        npy::read_npy(&mut reader).map_err(|e| e.with_path(&self.path))
    }

    /// True if the member holds `.npy` bytes (starts with the `.npy` magic); numpy's
    /// `NpzFile` returns other members' raw bytes ([`NpzArchive::read_member_bytes`]).
    pub fn is_npy(&self, name: &str) -> Result<bool> {
        let member = self.member(name)?;
        let mut reader = self.member_reader(member)?;
        let mut magic = [0u8; npy::MAGIC.len()];
        let got =
            crate::io::read_fully(&mut reader, &mut magic).map_err(|e| e.with_path(&self.path))?;
        Ok(got == magic.len() && &magic == npy::MAGIC)
    }

    /// A member's bytes, decompressed (for members that are not `.npy` arrays).
    pub fn read_member_bytes(&self, name: &str) -> Result<Vec<u8>> {
        let member = self.member(name)?;
        let mut reader = self.member_reader(member)?;
        let mut out = Vec::new();
        crate::io::read_up_to(&mut reader, member.size, &mut out)
            .map_err(|e| e.with_path(&self.path))?;
        Ok(out)
    }

    /// A member's `.npy` header and a reader positioned at its data (decompressing deflated
    /// members), for callers that read the data into a buffer of their own with
    /// [`npy::read_npy_data_into`].
    ///
    /// ```
    /// use neurovox::numpy::npz::{savez_compressed, NpzArchive};
    /// use neurovox::numpy::npy::read_npy_data_into;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("c.npz");
    /// savez_compressed(&path, &[("x", &ndarray::array![1u8, 2, 3])])?;
    /// let (header, mut data) = NpzArchive::open(&path)?.open_member("x")?;
    /// let mut out = [0u8; 3];
    /// read_npy_data_into(&mut data, &header, &mut out)?;
    /// assert_eq!(out, [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_member(&self, name: &str) -> Result<(NpyHeader, Box<dyn Read + Send>)> {
        let member = self.member(name)?;
        let mut reader = self.member_reader(member)?;
        let header = npy::read_npy_header(&mut reader).map_err(|e| e.with_path(&self.path))?;
        // Never let a caller allocate for more data than the member holds.
        let available = member.size.saturating_sub(header.data_offset as u64);
        npy::check_data_len(&header, available).map_err(|e| e.with_path(&self.path))?;
        Ok((header, reader))
    }

    /// A member's header and data as an untyped memory map inside the archive (modes `r`
    /// and `c`), or `None` if the member is deflated and must be read instead. `r+` and
    /// `w+` are Usage errors, as for [`NpzArchive::load`].
    ///
    /// ```
    /// use neurovox::numpy::memmap::MapMode;
    /// use neurovox::numpy::npz::{savez, NpzArchive};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("s.npz");
    /// savez(&path, &[("b", &ndarray::array![0.5f64, 1.5])])?;
    /// let (header, map) = NpzArchive::open(&path)?.map_member("b", MapMode::Read)?.expect("stored");
    /// assert_eq!((header.shape, map.path()), (vec![2], path.as_path()));
    /// assert_eq!(&map.as_bytes()[8..], &1.5f64.to_le_bytes());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map_member(
        &self,
        name: &str,
        mode: MapMode,
    ) -> Result<Option<(NpyHeader, MemmapBytes)>> {
        let member = self.member(name)?;
        if mode.writes_through() {
            return Err(read_modes_only().with_path(&self.path));
        }
        if member.compressed {
            return Ok(None);
        }
        let mut reader = self.member_reader(member)?;
        let header = npy::read_npy_header(&mut reader).map_err(|e| e.with_path(&self.path))?;
        let data_offset = member.data_start + header.data_offset as u64;
        let map = npy::map_npy_bytes(&self.path, &header, data_offset, mode)?;
        Ok(Some((header, map)))
    }

    /// A member's array, of whatever element type it holds, read into memory.
    pub fn load_dyn(&self, name: &str) -> Result<crate::array::dyn_array::DynArray> {
        let member = self.member(name)?;
        let mut reader = self.member_reader(member)?;
        npy::read_npy_dyn(&mut reader).map_err(|e| e.with_path(&self.path))
    }

    /// A reader of a member's `.npy` bytes (decompressing deflated members), bounded by the
    /// member's declared size.
    fn member_reader(&self, member: &NpzMember) -> Result<Box<dyn Read + Send>> {
        use std::io::{Seek, SeekFrom};
        let mut file = File::open(&self.path).map_err(|e| Error::io(e).with_path(&self.path))?;
        file.seek(SeekFrom::Start(member.data_start))
            .map_err(|e| Error::io(e).with_path(&self.path))?;
        let file = BufReader::new(file);
        Ok(if member.compressed {
            Box::new(flate2::read::DeflateDecoder::new(file).take(member.size))
        } else {
            Box::new(file.take(member.size))
        })
    }
}

/// Writes arrays to an uncompressed `.npz` (numpy's `savez`): members `NAME.npy`, stored, in
/// zip64 form as numpy writes them, so neurovox can memory-map them in place. The archive is
/// written atomically (see [`crate::io::atomic`]).
pub fn savez(path: impl AsRef<Path>, arrays: &[(&str, &dyn NpyWritable)]) -> Result<()> {
    write_npz(path.as_ref(), arrays, zip::CompressionMethod::Stored)
}

/// Writes arrays to a deflated `.npz` (numpy's `savez_compressed`).
pub fn savez_compressed(path: impl AsRef<Path>, arrays: &[(&str, &dyn NpyWritable)]) -> Result<()> {
    write_npz(path.as_ref(), arrays, zip::CompressionMethod::Deflated)
}

fn write_npz(
    path: &Path,
    arrays: &[(&str, &dyn NpyWritable)],
    method: zip::CompressionMethod,
) -> Result<()> {
    crate::io::atomic::write_atomically(path, |out| {
        let mut zip = zip::ZipWriter::new(out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .large_file(true);
        for (name, array) in arrays {
            zip.start_file(format!("{name}.npy"), options)
                .map_err(zip_error)?;
            npy::write_npy(&mut zip, *array)?;
        }
        zip.finish().map_err(zip_error)?;
        Ok(())
    })
}
