//! Affines, zooms and quaternions: the geometry shared by the header codecs.
//!
//! The functions follow nibabel's (`volumeutils.shape_zoom_affine`, `quaternions.py`,
//! `Nifti1Header.get_qform/set_qform`). nibabel computes quaternion → matrix in numpy's
//! `longdouble` (80-bit on x86-64) and matrix → quaternion with LAPACK's symmetric
//! eigensolver; we compute both in `f64` with closed forms, so derived matrices can differ from
//! nibabel's in the last bits of an `f64` (see docs/compat.md). Stored header fields are exact.

use crate::error::{Error, Result};

/// A 4×4 homogeneous voxel-to-world matrix, row-major.
pub type Affine = [[f64; 4]; 4];

/// A 3×3 matrix, row-major.
pub type Mat3 = [[f64; 3]; 3];

/// The identity affine.
pub const IDENTITY: Affine = [
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
    [0.0, 0.0, 0.0, 1.0],
];

/// nibabel's `shape_zoom_affine`: voxel sizes on the diagonal (x negated if `x_flip`) and the
/// origin at the centre of the volume, `-(shape - 1) / 2 * zooms`.
///
/// Shape and zooms are padded with 1 or truncated to three axes.
///
/// ```
/// use neurovox::format::affine::shape_zoom_affine;
/// let a = shape_zoom_affine(&[3, 5, 7], &[3.0, 2.0, 1.0], true);
/// assert_eq!(a[0], [-3.0, 0.0, 0.0, 3.0]);
/// assert_eq!(a[1], [0.0, 2.0, 0.0, -4.0]);
/// assert_eq!(a[2], [0.0, 0.0, 1.0, -3.0]);
/// ```
pub fn shape_zoom_affine(shape: &[usize], zooms: &[f64], x_flip: bool) -> Affine {
    let lengths: Vec<f64> = shape.iter().map(|&n| n as f64).collect();
    shape_zoom_affine_f64(&lengths, zooms, x_flip)
}

/// [`shape_zoom_affine`] over raw axis lengths, which nibabel passes unchecked (FreeSurfer's
/// `-1` included).
pub(crate) fn shape_zoom_affine_f64(shape: &[f64], zooms: &[f64], x_flip: bool) -> Affine {
    let mut aff = IDENTITY;
    for axis in 0..3 {
        let n = shape.get(axis).copied().unwrap_or(1.0);
        let mut zoom = zooms.get(axis).copied().unwrap_or(1.0);
        if axis == 0 && x_flip {
            zoom = -zoom;
        }
        aff[axis][axis] = zoom;
        aff[axis][3] = -(n - 1.0) / 2.0 * zoom;
    }
    aff
}

/// The length of each of the first three columns of the affine: the voxel sizes.
pub fn voxel_sizes(aff: &Affine) -> [f64; 3] {
    let mut out = [0.0; 3];
    for (col, o) in out.iter_mut().enumerate() {
        *o = (0..3)
            .map(|r| aff[r][col] * aff[r][col])
            .sum::<f64>()
            .sqrt();
    }
    out
}

/// Determinant of a 3×3 matrix.
pub fn det3(m: &Mat3) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

fn transpose(m: &Mat3) -> Mat3 {
    let mut t = [[0.0; 3]; 3];
    for (r, row) in m.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            t[c][r] = *v;
        }
    }
    t
}

fn inverse3(m: &Mat3) -> Option<Mat3> {
    let det = det3(m);
    if det == 0.0 || !det.is_finite() {
        return None;
    }
    let c =
        |r0: usize, c0: usize, r1: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    let adj = [
        [c(1, 1, 2, 2), -c(0, 1, 2, 2), c(0, 1, 1, 2)],
        [-c(1, 0, 2, 2), c(0, 0, 2, 2), -c(0, 0, 1, 2)],
        [c(1, 0, 2, 1), -c(0, 0, 2, 1), c(0, 0, 1, 1)],
    ];
    let mut inv = [[0.0; 3]; 3];
    for r in 0..3 {
        for col in 0..3 {
            inv[r][col] = adj[r][col] / det;
        }
    }
    Some(inv)
}

/// The orthogonal matrix closest to `m` (the orthogonal factor of its polar decomposition),
/// as nibabel's `set_qform` computes with an SVD. Newton's iteration `X ← (X + X⁻ᵀ)/2`
/// converges quadratically to it for any non-singular `m`.
pub fn closest_orthogonal(m: &Mat3) -> Option<Mat3> {
    let mut x = *m;
    for _ in 0..100 {
        let inv_t = transpose(&inverse3(&x)?);
        let mut next = [[0.0; 3]; 3];
        let mut change = 0.0f64;
        for r in 0..3 {
            for c in 0..3 {
                next[r][c] = 0.5 * (x[r][c] + inv_t[r][c]);
                change = change.max((next[r][c] - x[r][c]).abs());
            }
        }
        x = next;
        if change <= 4.0 * f64::EPSILON {
            break;
        }
    }
    Some(x)
}

/// nibabel's `fillpositive`: the unit quaternion `[w, x, y, z]` with `w ≥ 0` whose vector part
/// is `xyz`. `w` is 0 when `|1 - |xyz|²|` is below `|threshold|`; a clearly negative `w²` is a
/// Format error (the vector part is longer than 1).
///
/// ```
/// use neurovox::format::affine::fill_positive;
/// let q = fill_positive([0.0, 0.0, 0.0], 1e-7).unwrap();
/// assert_eq!(q, [1.0, 0.0, 0.0, 0.0]);
/// assert!(fill_positive([1.0, 1.0, 0.0], 1e-7).is_err());
/// ```
pub fn fill_positive(xyz: [f64; 3], threshold: f64) -> Result<[f64; 4]> {
    let w2 = 1.0 - (xyz[0] * xyz[0] + xyz[1] * xyz[1] + xyz[2] * xyz[2]);
    let w = if w2.abs() < threshold.abs() {
        0.0
    } else if w2 < 0.0 || w2.is_nan() {
        return Err(Error::header_value(format!(
            "quaternion w2 should be positive, but is {w2:e}"
        ))
        .field("quatern_b"));
    } else {
        w2.sqrt()
    };
    Ok([w, xyz[0], xyz[1], xyz[2]])
}

/// nibabel's `quat2mat`: the rotation matrix of a (not necessarily unit) quaternion.
pub fn quat_to_mat(q: [f64; 4]) -> Mat3 {
    let [w, x, y, z] = q;
    let nq = w * w + x * x + y * y + z * z;
    if nq < f64::EPSILON {
        return [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    }
    let s = 2.0 / nq;
    let (xs, ys, zs) = (x * s, y * s, z * s);
    let (wx, wy, wz) = (w * xs, w * ys, w * zs);
    let (xx, xy, xz) = (x * xs, x * ys, x * zs);
    let (yy, yz, zz) = (y * ys, y * zs, z * zs);
    [
        [1.0 - (yy + zz), xy - wz, xz + wy],
        [xy + wz, 1.0 - (xx + zz), yz - wx],
        [xz - wy, yz + wx, 1.0 - (xx + yy)],
    ]
}

/// The unit quaternion `[w, x, y, z]` (with `w ≥ 0`) of a rotation matrix, by Shepperd's
/// method: pick the largest of the four squared components so no division is ill-conditioned.
///
/// ```
/// use neurovox::format::affine::{mat_to_quat, quat_to_mat};
/// let half = std::f64::consts::FRAC_1_SQRT_2;
/// let q = [half, 0.0, 0.0, half]; // 90° about z
/// let back = mat_to_quat(&quat_to_mat(q));
/// for (a, b) in back.iter().zip(q) {
///     assert!((a - b).abs() < 1e-15);
/// }
/// ```
pub fn mat_to_quat(m: &Mat3) -> [f64; 4] {
    let trace = m[0][0] + m[1][1] + m[2][2];
    let mut q = if trace >= m[0][0].max(m[1][1]).max(m[2][2]) {
        let s = (1.0 + trace).max(0.0).sqrt() * 2.0;
        [
            0.25 * s,
            (m[2][1] - m[1][2]) / s,
            (m[0][2] - m[2][0]) / s,
            (m[1][0] - m[0][1]) / s,
        ]
    } else if m[0][0] >= m[1][1] && m[0][0] >= m[2][2] {
        let s = (1.0 + m[0][0] - m[1][1] - m[2][2]).max(0.0).sqrt() * 2.0;
        [
            (m[2][1] - m[1][2]) / s,
            0.25 * s,
            (m[0][1] + m[1][0]) / s,
            (m[0][2] + m[2][0]) / s,
        ]
    } else if m[1][1] >= m[2][2] {
        let s = (1.0 + m[1][1] - m[0][0] - m[2][2]).max(0.0).sqrt() * 2.0;
        [
            (m[0][2] - m[2][0]) / s,
            (m[0][1] + m[1][0]) / s,
            0.25 * s,
            (m[1][2] + m[2][1]) / s,
        ]
    } else {
        let s = (1.0 + m[2][2] - m[0][0] - m[1][1]).max(0.0).sqrt() * 2.0;
        [
            (m[1][0] - m[0][1]) / s,
            (m[0][2] + m[2][0]) / s,
            (m[1][2] + m[2][1]) / s,
            0.25 * s,
        ]
    };
    if q[0] < 0.0 {
        q.iter_mut().for_each(|v| *v = -*v);
    }
    q
}

/// Splits the linear part of an affine into the quaternion parameters NIfTI stores:
/// `(quaternion [w,x,y,z], zooms, qfac)`, as nibabel's `set_qform` does (shears stripped by
/// taking the closest orthogonal matrix; a negative determinant gives `qfac = -1`).
/// `None` for a singular matrix.
pub fn affine_to_quaternion(aff: &Affine) -> Option<([f64; 4], [f64; 3], f64)> {
    let zooms = voxel_sizes(aff);
    let mut r = [[0.0; 3]; 3];
    for row in 0..3 {
        for col in 0..3 {
            r[row][col] = aff[row][col] / zooms[col];
        }
    }
    let qfac = if det3(&r) > 0.0 {
        1.0
    } else {
        for row in r.iter_mut() {
            row[2] = -row[2];
        }
        -1.0
    };
    let orthogonal = closest_orthogonal(&r)?;
    Some((mat_to_quat(&orthogonal), zooms, qfac))
}

/// True if the 3×3 linear part of the affine is orthogonal up to column scaling, to numpy's
/// `allclose` tolerance: no shear would be stripped by the quaternion representation.
pub fn has_no_shear(aff: &Affine) -> bool {
    let zooms = voxel_sizes(aff);
    let mut r = [[0.0; 3]; 3];
    for row in 0..3 {
        for col in 0..3 {
            r[row][col] = aff[row][col] / zooms[col];
        }
    }
    if det3(&r) < 0.0 {
        for row in r.iter_mut() {
            row[2] = -row[2];
        }
    }
    match closest_orthogonal(&r) {
        Some(o) => {
            (0..3).all(|i| (0..3).all(|j| (o[i][j] - r[i][j]).abs() <= 1e-8 + 1e-5 * r[i][j].abs()))
        }
        None => false,
    }
}

/// Multiplies two affines.
pub fn matmul(a: &Affine, b: &Affine) -> Affine {
    let mut out = [[0.0; 4]; 4];
    for (r, row) in out.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = (0..4).map(|k| a[r][k] * b[k][c]).sum();
        }
    }
    out
}

/// numpy's `allclose(a, b, equal_nan=True)` (rtol 1e-5, atol 1e-8) for affines: a header
/// holding an affine with NaN entries matches that affine.
pub fn allclose(a: &Affine, b: &Affine) -> bool {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .all(|(x, y)| (x - y).abs() <= 1e-8 + 1e-5 * y.abs() || (x.is_nan() && y.is_nan()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotation_z(deg: f64) -> Mat3 {
        let (s, c) = deg.to_radians().sin_cos();
        [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    }

    #[test]
    fn quaternion_round_trip_every_branch() {
        // Rotations whose largest quaternion component is w, x, y and z in turn.
        for q in [
            [0.9, 0.1, 0.3, 0.3],
            [0.1, 0.9, 0.3, 0.3],
            [0.1, 0.3, 0.9, 0.3],
            [0.1, 0.3, 0.3, 0.9],
        ] {
            let n = q.iter().map(|v| v * v).sum::<f64>().sqrt();
            let q = q.map(|v| v / n);
            let back = mat_to_quat(&quat_to_mat(q));
            for (a, b) in back.iter().zip(q) {
                assert!((a - b).abs() < 1e-14, "{back:?} vs {q:?}");
            }
        }
    }

    #[test]
    fn closest_orthogonal_removes_shear_and_keeps_rotations() {
        let r = rotation_z(30.0);
        let o = closest_orthogonal(&r).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                assert!((o[i][j] - r[i][j]).abs() < 1e-15);
            }
        }
        let sheared = [[1.0, 0.2, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        let o = closest_orthogonal(&sheared).unwrap();
        let oot = (0..3)
            .map(|i| {
                (0..3)
                    .map(|j| (0..3).map(|k| o[i][k] * o[j][k]).sum::<f64>())
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>();
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((oot[i][j] - want).abs() < 1e-14);
            }
        }
        assert!(closest_orthogonal(&[[0.0; 3]; 3]).is_none());
    }

    #[test]
    fn left_handed_affine_gives_negative_qfac() {
        let aff = [
            [-2.0, 0.0, 0.0, 10.0],
            [0.0, 3.0, 0.0, -5.0],
            [0.0, 0.0, 4.0, 1.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let (q, zooms, qfac) = affine_to_quaternion(&aff).unwrap();
        assert_eq!(zooms, [2.0, 3.0, 4.0]);
        assert_eq!(qfac, -1.0);
        // diag(-1, 1, -1) is a 180° rotation about y.
        assert!((q[2].abs() - 1.0).abs() < 1e-15 && q[0].abs() < 1e-15);
        assert!(has_no_shear(&aff));
    }

    #[test]
    fn fill_positive_threshold_zeroes_tiny_w() {
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let q = fill_positive([s, s, 0.0], 1e-6).unwrap();
        assert_eq!(q[0], 0.0);
    }
}
