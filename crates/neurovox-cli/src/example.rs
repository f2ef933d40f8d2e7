//! `neurovox info --example`: writes four small synthetic images, one per format family,
//! into a fresh temporary directory, which `neurovox info --example` then describes as it
//! describes any file. It needs no input files, so it works on a fresh machine.
//!
//! Every image is made with the library's header codecs (`Header::new`, the setters,
//! `to_prefix_bytes`) followed by data bytes in the header's byte order:
//!
//! | file | format | data |
//! |---|---|---|
//! | `func.nii.gz` | NIfTI-1, gzip | int16, 64×64×30×10, 3 mm, sform code 4 (mni), qform code 1, a comment extension |
//! | `anat_nifti2.nii` | NIfTI-2, big-endian | float32, 32×32×16 |
//! | `mask.hdr` + `mask.img` | Analyze 7.5 | uint8, 40×48×40 |
//! | `brain.mgz` | MGH, gzip | float32, 32×32×32×2, with the 20-byte footer |
//!
//! The directory is kept so the files can be inspected afterwards; its path is printed first.

use crate::shown::Target;
use neurovox::format::{Affine, Extension};
use neurovox::{ByteOrder, DataType, Error, FieldValue, Header, ImageFormat, Result, StorageDtype};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Makes a fresh directory and writes every example into it.
pub fn write_examples() -> Result<(PathBuf, Vec<Target>)> {
    let dir = tempfile::Builder::new()
        .prefix("neurovox-example-")
        .tempdir()
        .map_err(Error::io)?
        .keep();
    let targets = vec![
        write_single_file(&dir, "func.nii.gz", &nifti1_functional()?, Gzip::Yes)?,
        write_single_file(&dir, "anat_nifti2.nii", &nifti2_anatomical()?, Gzip::No)?,
        write_pair(&dir, "mask", &analyze_mask()?)?,
        write_single_file(&dir, "brain.mgz", &mgh_brain()?, Gzip::Yes)?,
    ];
    Ok((dir, targets))
}

/// A 4-D int16 NIfTI-1 run: 3 mm voxels, TR 2 s, an MNI-like sform (code 4), the same
/// affine as a scanner qform (code 1), and a comment extension.
fn nifti1_functional() -> Result<Header> {
    let mut header = header_of(
        ImageFormat::Nifti1,
        ByteOrder::Little,
        &[64, 64, 30, 10],
        DataType::Int16,
        &[3.0, 3.0, 3.0, 2.0],
    )?;
    header.set("xyzt_units", FieldValue::Int(NIFTI_UNITS_MM_SEC))?;
    header.set(
        "descrip",
        FieldValue::Bytes(b"neurovox example run".to_vec()),
    )?;
    let affine = scaled_affine([3.0, 3.0, 3.0], [-94.5, -130.5, -72.0]);
    if let Header::Nifti(h) = &mut header {
        h.set_sform(Some(&affine), Some(XFORM_MNI))?;
        h.set_qform(Some(&affine), Some(XFORM_SCANNER), true)?;
        h.extensions_mut().push(Extension::new(
            NIFTI_ECODE_COMMENT,
            b"synthetic data written by neurovox info --example".to_vec(),
        ));
    }
    Ok(header)
}

/// A 3-D float32 NIfTI-2 volume stored big-endian, placed by its qform (code 1).
fn nifti2_anatomical() -> Result<Header> {
    let mut header = header_of(
        ImageFormat::Nifti2,
        ByteOrder::Big,
        &[32, 32, 16],
        DataType::Float32,
        &[2.0, 2.0, 2.5],
    )?;
    header.set("xyzt_units", FieldValue::Int(NIFTI_UNITS_MM))?;
    if let Header::Nifti(h) = &mut header {
        let affine = scaled_affine([2.0, 2.0, 2.5], [-31.0, -31.0, -18.75]);
        h.set_qform(Some(&affine), Some(XFORM_SCANNER), true)?;
    }
    Ok(header)
}

/// A header of `format` and byte order for `dtype` data of `shape` with voxel sizes `zooms`.
fn header_of(
    format: ImageFormat,
    order: ByteOrder,
    shape: &[usize],
    dtype: DataType,
    zooms: &[f64],
) -> Result<Header> {
    let mut header = Header::new(format, order);
    header.set_data_shape(shape)?;
    header.set_data_dtype(dtype)?;
    header.set_zooms(zooms)?;
    Ok(header)
}

/// A 3-D uint8 Analyze 7.5 mask with 4 mm voxels.
fn analyze_mask() -> Result<Header> {
    header_of(
        ImageFormat::Analyze,
        ByteOrder::Little,
        &[40, 48, 40],
        DataType::UInt8,
        &[4.0, 4.0, 4.0],
    )
}

/// A 4-D float32 MGH volume with two frames and TR 2000 ms (stored in the footer).
fn mgh_brain() -> Result<Header> {
    header_of(
        ImageFormat::Mgh,
        ByteOrder::Big,
        &[32, 32, 32, 2],
        DataType::Float32,
        &[1.0, 1.0, 1.0, 2000.0],
    )
}

/// `xyzt_units` for millimetres and seconds (`NIFTI_UNITS_MM | NIFTI_UNITS_SEC`).
const NIFTI_UNITS_MM_SEC: i64 = 2 | 8;
/// `xyzt_units` for millimetres.
const NIFTI_UNITS_MM: i64 = 2;
/// `NIFTI_XFORM_SCANNER_ANAT`.
const XFORM_SCANNER: i64 = 1;
/// `NIFTI_XFORM_MNI_152`.
const XFORM_MNI: i64 = 4;
/// `NIFTI_ECODE_COMMENT`.
const NIFTI_ECODE_COMMENT: i32 = 6;

/// An axis-aligned affine: voxel sizes on the diagonal, `origin` as the translation.
fn scaled_affine(voxel_sizes: [f64; 3], origin: [f64; 3]) -> Affine {
    let mut affine = [[0.0; 4]; 4];
    for axis in 0..3 {
        affine[axis][axis] = voxel_sizes[axis];
        affine[axis][3] = origin[axis];
    }
    affine[3][3] = 1.0;
    affine
}

/// Whether a file is gzip-compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gzip {
    Yes,
    No,
}

/// Writes a single-file image (NIfTI `.nii`, MGH): header prefix, data, and for MGH the
/// footer.
fn write_single_file(dir: &Path, name: &str, header: &Header, gzip: Gzip) -> Result<Target> {
    let path = dir.join(name);
    let prefix = header.to_prefix_bytes()?;
    let data = synthetic_data(header)?;
    let footer: &[u8] = match header {
        Header::Mgh(h) => h.footer_bytes(),
        _ => &[],
    };
    write_file(&path, &[&prefix, &data, footer], gzip)?;
    Ok(Target {
        shown: name.to_owned(),
        path,
    })
}

/// Writes a `.hdr` + `.img` pair named `stem`; the target is the `.hdr`.
fn write_pair(dir: &Path, stem: &str, header: &Header) -> Result<Target> {
    let header_name = format!("{stem}.hdr");
    let header_path = dir.join(&header_name);
    write_file(&header_path, &[&header.to_prefix_bytes()?], Gzip::No)?;
    write_file(
        &dir.join(format!("{stem}.img")),
        &[&synthetic_data(header)?],
        Gzip::No,
    )?;
    Ok(Target {
        shown: header_name,
        path: header_path,
    })
}

/// Writes `parts` one after the other to a new file, gzip-compressed if asked.
fn write_file(path: &Path, parts: &[&[u8]], gzip: Gzip) -> Result<()> {
    let write = || -> std::io::Result<()> {
        let file = File::create(path)?;
        match gzip {
            Gzip::Yes => {
                let mut encoder = neurovox::io::ParallelGzWriter::new(file);
                for part in parts {
                    encoder.write_all(part)?;
                }
                encoder.finish()?.sync_all()
            }
            Gzip::No => {
                let mut file = file;
                for part in parts {
                    file.write_all(part)?;
                }
                file.sync_all()
            }
        }
    };
    write().map_err(|err| Error::io(err).with_path(path))
}

/// The image's data bytes: a bright ball in the middle of each volume, fading to zero at
/// the edges and a little brighter in each later volume, stored in the header's dtype and
/// byte order, first axis fastest (as every format here stores it).
fn synthetic_data(header: &Header) -> Result<Vec<u8>> {
    let shape = header.data_shape()?;
    let dtype = header.data_dtype()?;
    let nbytes = usize::try_from(header.data_nbytes()?)
        .map_err(|_| Error::limit("example image too large for memory"))?;
    let mut out = Vec::with_capacity(nbytes);
    let count: usize = shape.iter().product();
    for index in 0..count {
        push_value(&mut out, ball_intensity(index, &shape), dtype)?;
    }
    Ok(out)
}

/// The pattern's value at a flat (first-axis-fastest) index: 0 … 1 in space, plus 0.05 per
/// volume along the fourth axis.
fn ball_intensity(index: usize, shape: &[usize]) -> f64 {
    let mut rest = index;
    let mut squared_radius = 0.0;
    for &length in shape.iter().take(3) {
        let coordinate = rest % length;
        rest /= length;
        let half = length as f64 / 2.0;
        let offset = (coordinate as f64 + 0.5 - half) / half;
        squared_radius += offset * offset;
    }
    let volume = rest as f64;
    (1.0 - squared_radius.sqrt()).max(0.0) + 0.05 * volume
}

/// Appends one value in `dtype`: uint8 and int16 scaled to a useful range, float32 as is.
fn push_value(out: &mut Vec<u8>, value: f64, dtype: StorageDtype) -> Result<()> {
    let big = dtype.order == ByteOrder::Big;
    match dtype.dtype {
        DataType::UInt8 => out.push((value * 200.0).round().clamp(0.0, 255.0) as u8),
        DataType::Int16 => {
            let v = (value * 1000.0).round() as i16;
            out.extend_from_slice(&if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            });
        }
        DataType::Float32 => {
            let v = value as f32;
            out.extend_from_slice(&if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            });
        }
        other => {
            return Err(Error::unsupported(format!(
                "the example pattern has no encoding for {other}"
            )));
        }
    }
    Ok(())
}
