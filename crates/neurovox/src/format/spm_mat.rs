//! The `.mat` sidecar of SPM99/SPM2 images: the voxel-to-world affine in a MATLAB v4 file,
//! as nibabel writes it with `scipy.io.savemat(..., format='4')` and reads it back
//! (docs/nibabel-rules.md §11).
//!
//! A v4 file is a list of variables, each a 20-byte header (type, rows, columns, imaginary
//! flag, name length), the NUL-terminated name, and the values column by column. We write
//! nibabel's two variables, `M` (without the x flip) and `mat`, both shifted to MATLAB's
//! 1-based voxel indices, and read `mat` (or `M`) back. MATLAB v5 files (what SPM itself
//! writes) are not read: a Format error says so. No crate reads v4 files without pulling in
//! all of MATLAB's formats, and the codec is 60 lines.

use super::affine::{Affine, IDENTITY, matmul};
use crate::error::{Error, Result};

/// The 4×4 `from_111` / `to_111` shifts between 0-based and MATLAB's 1-based voxels.
fn shift(by: f64) -> Affine {
    let mut t = IDENTITY;
    for row in t.iter_mut().take(3) {
        row[3] = by;
    }
    t
}

fn write_variable(out: &mut Vec<u8>, name: &str, m: &Affine) {
    // type 0: little-endian IEEE doubles, full numeric matrix.
    for v in [0i32, 4, 4, 0, name.len() as i32 + 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    for col in 0..4 {
        for row in m.iter() {
            out.extend_from_slice(&row[col].to_le_bytes());
        }
    }
}

/// The `.mat` bytes nibabel writes for an SPM image with voxel-to-world `affine`.
///
/// ```
/// use neurovox::format::spm_mat::{mat_file_bytes, read_mat_affine};
/// let aff = [[2.0, 0.0, 0.0, -10.0], [0.0, 2.0, 0.0, 5.0], [0.0, 0.0, 2.0, 1.0], [0.0, 0.0, 0.0, 1.0]];
/// let bytes = mat_file_bytes(&aff);
/// assert_eq!(read_mat_affine(&bytes)?, aff);
/// # Ok::<(), neurovox::Error>(())
/// ```
pub fn mat_file_bytes(affine: &Affine) -> Vec<u8> {
    let mut flip = IDENTITY;
    flip[0][0] = -1.0;
    let from_111 = shift(-1.0);
    let m = matmul(&matmul(&flip, affine), &from_111);
    let mat = matmul(affine, &from_111);
    let mut out = Vec::with_capacity(2 * (20 + 4 + 128));
    write_variable(&mut out, "M", &m);
    write_variable(&mut out, "mat", &mat);
    out
}

/// The voxel-to-world affine stored in a v4 `.mat` file: `mat`, else `M` with the x flip,
/// shifted back to 0-based voxels, as nibabel reads it.
pub fn read_mat_affine(bytes: &[u8]) -> Result<Affine> {
    let mut pos = 0;
    let (mut mat, mut m) = (None, None);
    while pos < bytes.len() {
        let int = |at: usize| -> Result<i32> {
            bytes
                .get(at..at + 4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| {
                    Error::format("the .mat file ends inside a variable header").offset(at as u64)
                })
        };
        let (kind, rows, cols, imag, name_len) = (
            int(pos)?,
            int(pos + 4)?,
            int(pos + 8)?,
            int(pos + 12)?,
            int(pos + 16)?,
        );
        if kind != 0 || imag != 0 {
            return Err(Error::format(format!(
                "not a MATLAB v4 little-endian double matrix (type {kind}); v5 .mat files are not read"
            ))
            .offset(pos as u64));
        }
        let (rows, cols, name_len) = (
            usize::try_from(rows),
            usize::try_from(cols),
            usize::try_from(name_len),
        );
        let (Ok(rows), Ok(cols), Ok(name_len)) = (rows, cols, name_len) else {
            return Err(Error::format("negative size in a .mat variable header").offset(pos as u64));
        };
        let name_start = pos + 20;
        let data_start = name_start.saturating_add(name_len);
        let data_len = rows.saturating_mul(cols).saturating_mul(8);
        let data = bytes
            .get(data_start..data_start.saturating_add(data_len))
            .ok_or_else(|| {
                Error::format("the .mat file ends inside a variable").offset(data_start as u64)
            })?;
        let name = &bytes[name_start..data_start];
        let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
        if rows == 4 && cols == 4 {
            let mut a = [[0.0; 4]; 4];
            for (i, chunk) in data.chunks_exact(8).enumerate() {
                let mut b = [0u8; 8];
                b.copy_from_slice(chunk);
                a[i % 4][i / 4] = f64::from_le_bytes(b);
            }
            match name {
                b"mat" => mat = Some(a),
                b"M" => m = Some(a),
                _ => {}
            }
        }
        pos = data_start + data_len;
    }
    let affine = match (mat, m) {
        (Some(mat), _) => mat,
        (None, Some(m)) => {
            let mut flip = IDENTITY;
            flip[0][0] = -1.0;
            matmul(&flip, &m)
        }
        (None, None) => return Err(Error::format("mat file found but no `mat` or `M` in it")),
    };
    Ok(matmul(&affine, &shift(1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_of_the_first_variable() {
        let b = mat_file_bytes(&IDENTITY);
        assert_eq!(
            &b[..20],
            &[0, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0]
        );
        assert_eq!(&b[20..22], b"M\0");
        // M[0][0] = -1 (the x flip), first value of the first column.
        assert_eq!(&b[22..30], &(-1.0f64).to_le_bytes());
        assert_eq!(b.len(), 2 * (20 + 128) + 2 + 4);
    }

    #[test]
    fn m_only_and_bad_files() {
        let aff = [
            [1.0, 0.0, 0.0, 3.0],
            [0.0, 1.0, 0.0, 4.0],
            [0.0, 0.0, 1.0, 5.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let b = mat_file_bytes(&aff);
        let m_only = &b[..20 + 2 + 128];
        assert_eq!(read_mat_affine(m_only).unwrap(), aff);
        assert!(read_mat_affine(&b[..30]).is_err());
        let mut v5 = b.clone();
        v5[0] = 10;
        assert!(read_mat_affine(&v5).is_err());
    }
}
