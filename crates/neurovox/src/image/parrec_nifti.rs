//! A PAR/REC recording as the NIfTI-1 image nibabel's `parrec2nii` writes (its
//! `cmdline/parrec2nii.py`, `proc_file`): the stored values with the one slope and intercept
//! every slice shares, or float64 values when the slices' factors differ; the voxel axes turned
//! to the closest of LAS+; Philips' diagnostic DTI trace volumes dropped; `cal_min`/`cal_max`
//! from the values; sform and qform both the affine, code 1 (scanner). Also what it writes
//! beside the image: b values and vectors (turned with the axes), the labels that change
//! between volumes, and the EPI dwell time.
//!
//! Like `parrec2nii`, the conversion holds the whole array in memory: the reorientation is a
//! transpose of every axis.

use crate::array::{DynArray, FactorType, Scaling};
use crate::dtype::{ByteOrder, StorageDtype};
use crate::error::{Error, Result};
use crate::format::affine::{Affine, matmul};
use crate::format::parrec::{AffineOrigin, ParrecHeader};
use crate::format::{FieldValue, Header, ImageFormat, NiftiHeader, NiftiVersion};
use crate::image::DataObj;
use crate::image::proxy::{ArrayProxy, ArraySpec};
use crate::image::save::{SaveData, SaveOptions, SaveOutcome, SaveParts, save_parts};
use crate::image::spatial_image::Image;
use ndarray::{ArcArray, Axis, IxDyn};
use std::path::Path;
use std::sync::Arc;

/// `parrec2nii`'s options (the `scaling`, `permit_truncated` and `strict_sort` ones are load
/// options: [`crate::format::parrec::ParrecOptions`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParrecToNifti {
    /// `--scaling off`: keep the stored values with slope 1 and intercept 0, whatever the
    /// load's scaling.
    pub scaling_off: bool,
    /// `--origin`: the isocentre (default) or the FOV centre at world zero.
    pub origin: AffineOrigin,
    /// `--minmax`: `cal_min` and `cal_max`, or `None` to take them from the values.
    pub minmax: [Option<f64>; 2],
    /// `--keep-trace`: keep Philips' diagnostic DTI trace volumes.
    pub keep_trace: bool,
    /// `--store-header`: the `.PAR`'s bytes, to keep in a NIfTI comment extension (code 6).
    pub store_header: Option<Vec<u8>>,
}

/// What `parrec2nii` makes of a recording: the NIfTI-1 image and what it writes beside it.
#[derive(Debug)]
pub struct ParrecNifti {
    /// The NIfTI-1 header (shape, type, scaling, affine codes, `cal_min`/`cal_max`,
    /// `descrip`, `xyzt_units`, the `.PAR` in an extension if asked).
    pub header: Header,
    /// The affine after the reorientation.
    pub affine: Affine,
    /// The values to store (the stored ones, or float64 when scaled here), reoriented.
    pub data: DynArray,
    /// The b value of each volume kept, if a diffusion recording has them.
    pub bvals: Option<Vec<f64>>,
    /// The b vector of each volume kept, in the reoriented voxel axes.
    pub bvecs: Option<Vec<[f64; 3]>>,
    /// The labels that change between volumes (of every volume, trace volumes included, as
    /// `parrec2nii --volume-info` writes them).
    pub volume_labels: Vec<(&'static str, Vec<i64>)>,
    /// The trace volumes dropped.
    pub dropped_trace_volumes: usize,
}

/// The EPI dwell time in seconds from the water-fat shift (pixels), the echo train length
/// and the field strength (tesla), as nibabel's `calculate_dwell_time`: `None` when the
/// echo train length is below 1 or the field strength negative.
///
/// ```
/// let t = neurovox::image::parrec_dwell_time(11.05, 39, 3.0).unwrap();
/// assert!((t - 0.024172).abs() < 1e-6);
/// assert_eq!(neurovox::image::parrec_dwell_time(11.05, 0, 3.0), None);
/// ```
pub fn parrec_dwell_time(water_fat_shift: f64, echo_train_length: i64, tesla: f64) -> Option<f64> {
    /// MHz/T for the hydrogen nucleus, and the water-fat shift in ppm (nibabel's `mriutils`).
    const GYROMAGNETIC_RATIO: f64 = 42.576;
    const PROTON_WATER_FAT_SHIFT: f64 = 3.4;
    if tesla < 0.0 || echo_train_length <= 0 {
        return None;
    }
    let etl = echo_train_length as f64;
    Some(
        (etl - 1.0) * water_fat_shift
            / (GYROMAGNETIC_RATIO * PROTON_WATER_FAT_SHIFT * tesla * (etl + 1.0)),
    )
}

/// The recording `image` (loaded from a `.PAR`, with the scaling, truncation and sorting
/// options of its load) as `parrec2nii` converts it.
pub fn parrec_to_nifti(image: &Image, options: &ParrecToNifti) -> Result<ParrecNifti> {
    let par = match image.header() {
        Header::Parrec(p) => p,
        other => {
            return Err(Error::usage(format!(
                "a PAR/REC conversion needs a PAR/REC image, not {}",
                other.format()
            )));
        }
    };
    let proxy = match image.dataobj() {
        DataObj::Proxy(p) => p,
        DataObj::Array(_) => {
            return Err(Error::usage(
                "a PAR/REC conversion reads the recording's .REC: load it from its files",
            ));
        }
    };
    let mut affine = par.affine_from(options.origin)?;
    let (slopes, inters) = par.data_scaling(par.options().scaling)?;
    let uniform = |v: &[f64]| {
        v.windows(2)
            .all(|w| w[0] == w[1] || (w[0].is_nan() && w[1].is_nan()))
    };
    // nibabel's three cases: no scaling, one factor pair for every slice, or float64 values.
    let (mut data, slope, inter) = if options.scaling_off {
        (proxy.read_raw(..)?, 1.0, 0.0)
    } else if uniform(&slopes) && uniform(&inters) {
        let first = |v: &[f64]| v.first().copied().unwrap_or(f64::NAN);
        (proxy.read_raw(..)?, first(&slopes), first(&inters))
    } else {
        (proxy.read(..)?, 1.0, 0.0)
    };

    // To LAS+: the orientation of the affine with x flipped, against RAS+.
    let mut flipped_x = affine;
    for cell in &mut flipped_x[0] {
        *cell = -*cell;
    }
    let ornt = io_orientation(&flipped_x)?;
    let mut turn = [[0.0; 3]; 3];
    if ornt != [(0, false), (1, false), (2, false)] {
        let t_aff = inv_ornt_aff(&ornt, data.shape());
        affine = matmul(&affine, &t_aff);
        data = apply_orientation(&data, &ornt)?;
        // The rotation part of inv(t_aff), a signed permutation: its inverse is its transpose.
        for (r, row) in turn.iter_mut().enumerate() {
            for (c, cell) in row.iter_mut().enumerate() {
                *cell = t_aff[c][r];
            }
        }
    } else {
        turn = [[1., 0., 0.], [0., 1., 0.], [0., 0., 1.]];
    }

    let (mut bvals, mut bvecs) = par.bvals_bvecs()?;
    let mut dropped = 0;
    if let (false, Some(vals), Some(vecs)) = (options.keep_trace, &bvals, &bvecs) {
        // A b value without a direction: the scanner's trace image, not a measurement.
        let keep: Vec<usize> = (0..vals.len())
            .filter(|&v| !(vals[v] != 0.0 && vecs[v].iter().all(|&c| c == 0.0)))
            .collect();
        dropped = vals.len() - keep.len();
        if dropped > 0 {
            data = select_volumes(&data, &keep)?;
            bvals = Some(keep.iter().map(|&v| vals[v]).collect());
            bvecs = Some(keep.iter().map(|&v| vecs[v]).collect());
        }
    }
    let bvecs = bvecs.map(|vecs| {
        vecs.iter()
            // `+ 0.0`: nibabel's apply_affine adds a zero translation, so no -0.0 is left.
            .map(|b| std::array::from_fn(|i| (0..3).map(|j| turn[i][j] * b[j]).sum::<f64>() + 0.0))
            .collect()
    });

    let header = nifti_header(par, &data, &affine, slope, inter, options)?;
    Ok(ParrecNifti {
        header,
        affine,
        data,
        bvals,
        bvecs,
        volume_labels: par.volume_labels(),
        dropped_trace_volumes: dropped,
    })
}

impl ParrecNifti {
    /// Writes the image (atomically) to `path`, a `.nii` or `.nii.gz` name: the values as
    /// they are, with the header's slope and intercept.
    pub fn save(&self, path: impl AsRef<Path>, options: SaveOptions) -> Result<SaveOutcome> {
        let (slope, inter) = self.header.slope_inter()?;
        let stored = self.header.data_dtype()?;
        // The values are already in Fortran order (the reorientation made them so), served to
        // the save as they lie: no second copy of the recording.
        let source = FortranArraySource(fortran_order(&self.data)?);
        let mut spec = ArraySpec::unscaled(
            self.data.shape().to_vec(),
            StorageDtype::new(self.data.dtype(), ByteOrder::NATIVE),
        );
        spec.scaling = Scaling::from_header_values(slope, inter, FactorType::F64);
        let proxy = ArrayProxy::from_source(Arc::new(source), spec);
        let mut header = self.header.clone();
        header.set_data_dtype(stored.dtype)?;
        let parts = SaveParts {
            header: &header,
            affine: Some(&self.affine),
            format: ImageFormat::Nifti1,
            data: SaveData::Proxy(&proxy),
        };
        save_parts(&parts, path, options)
    }
}

/// An array's values in Fortran order and native byte order as a byte source.
#[derive(Debug)]
struct FortranArraySource(DynArray);

impl FortranArraySource {
    fn bytes(&self) -> &[u8] {
        self.0.view().fortran_bytes().unwrap_or(&[])
    }
}

impl crate::io::Source for FortranArraySource {
    fn len(&self) -> Result<u64> {
        Ok(self.bytes().len() as u64)
    }

    fn len_hint(&self) -> Option<u64> {
        Some(self.bytes().len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        crate::io::source::copy_from(self.bytes(), None, offset, buf)
    }
}

/// nibabel's `Nifti1Image(data, affine, par_header)` as `parrec2nii` then sets it up.
fn nifti_header(
    par: &ParrecHeader,
    data: &DynArray,
    affine: &Affine,
    slope: f64,
    inter: f64,
    options: &ParrecToNifti,
) -> Result<Header> {
    let nifti = NiftiHeader::new(NiftiVersion::One, true, ByteOrder::NATIVE);
    let mut header = Header::Nifti(nifti);
    // from_header: type, shape, voxel sizes (the time step included) and as_analyze_map.
    let geometry = par.geometry();
    header.set_data_dtype(geometry.data_dtype().dtype)?;
    header.set_data_shape(geometry.data_shape())?;
    header.set_zooms(geometry.zooms())?;
    header.set("descrip", FieldValue::Bytes(par.nifti_descrip()))?;
    header.set("xyzt_units", FieldValue::Int(par.nifti_xyzt_units()))?;
    header.set_data_shape(data.shape())?;
    if let Header::Nifti(n) = &mut header {
        n.set_sform(Some(affine), Some(1))?;
        n.set_qform(Some(affine), Some(1), true)?;
        n.set_data_dtype(data.dtype())?;
        n.set_slope_inter(Some(slope), Some(inter))?;
        if let Some(bytes) = &options.store_header {
            // NIfTI's "comment" extension code.
            n.extensions_mut().push(crate::format::Extension {
                code: 6,
                raw: bytes.clone(),
            });
        }
    }
    let range = value_range(data)?;
    let [min, max] = options.minmax;
    let cal_min = min.unwrap_or(range.0 * slope + inter);
    let cal_max = max.unwrap_or(range.1 * slope + inter);
    header.set("cal_min", FieldValue::Float(cal_min))?;
    header.set("cal_max", FieldValue::Float(cal_max))?;
    Ok(header)
}

/// The smallest and largest value (numpy's `min`/`max`: NaN if any value is NaN), in one
/// pass over the values as they are (no float64 copy of a whole recording).
fn value_range(data: &DynArray) -> Result<(f64, f64)> {
    fn range<T: Copy + Into<f64>>(values: impl Iterator<Item = T>) -> Option<(f64, f64)> {
        let mut range: Option<(f64, f64)> = None;
        for v in values {
            let v: f64 = v.into();
            if v.is_nan() {
                return Some((f64::NAN, f64::NAN));
            }
            range = Some(match range {
                None => (v, v),
                Some((lo, hi)) => (lo.min(v), hi.max(v)),
            });
        }
        range
    }
    // In memory order: a contiguous slice, not an n-d iterator (several times faster).
    fn values<T: Copy + Into<f64>>(a: &ArcArray<T, IxDyn>) -> Option<(f64, f64)> {
        match a.as_slice_memory_order() {
            Some(slice) => range(slice.iter().copied()),
            None => range(a.iter().copied()),
        }
    }
    let found = match data {
        DynArray::U8(a) => values(a),
        DynArray::U16(a) => values(a),
        DynArray::F64(a) => values(a),
        other => range(other.to_f64()?.iter().copied()),
    };
    found.ok_or_else(|| Error::usage("no values to take a range of"))
}

/// For each voxel axis, the world axis it runs along most and whether it runs backwards
/// (nibabel's `io_orientation`): the affine's directions made orthogonal (its polar
/// decomposition), then world axes claimed greedily, voxel axis by voxel axis.
fn io_orientation(affine: &Affine) -> Result<[(usize, bool); 3]> {
    let mut directions = [[0.0; 3]; 3];
    for c in 0..3 {
        let norm = (0..3)
            .map(|r| affine[r][c] * affine[r][c])
            .sum::<f64>()
            .sqrt();
        let norm = if norm == 0.0 { 1.0 } else { norm };
        for r in 0..3 {
            directions[r][c] = affine[r][c] / norm;
        }
    }
    let mut rotation = crate::format::affine::closest_orthogonal(&directions).ok_or_else(|| {
        Error::header_value("the affine has no orientation: its axes are not independent")
            .field("angulation")
    })?;
    let mut ornt = [(0, false); 3];
    for (in_axis, slot) in ornt.iter_mut().enumerate() {
        let column: Vec<f64> = (0..3).map(|r| rotation[r][in_axis]).collect();
        // The first largest, as numpy's argmax picks it.
        let mut out_axis = 0;
        for r in 1..3 {
            if column[r].abs() > column[out_axis].abs() {
                out_axis = r;
            }
        }
        // A column left with nothing (or NaN) has no world axis: nibabel's NaN orientation,
        // which it cannot invert either.
        if column[out_axis].is_nan() || column[out_axis].abs() <= 1e-8 {
            return Err(Error::header_value(
                "the affine has no orientation: a voxel axis runs along no world axis",
            )
            .field("angulation"));
        }
        *slot = (out_axis, column[out_axis] < 0.0);
        rotation[out_axis] = [0.0; 3];
    }
    Ok(ornt)
}

/// The affine that undoes `ornt`'s flips and transpose for an array of `shape` (nibabel's
/// `inv_ornt_aff`).
fn inv_ornt_aff(ornt: &[(usize, bool); 3], shape: &[usize]) -> Affine {
    let mut undo_reorder = [[0.0; 4]; 4];
    for (i, &(axis, _)) in ornt.iter().enumerate() {
        undo_reorder[i][axis] = 1.0;
    }
    undo_reorder[3][3] = 1.0;
    let mut undo_flip = [[0.0; 4]; 4];
    for (i, &(_, flip)) in ornt.iter().enumerate() {
        let sign = if flip { -1.0 } else { 1.0 };
        let centre = -(shape.get(i).copied().unwrap_or(1) as f64 - 1.0) / 2.0;
        undo_flip[i][i] = sign;
        undo_flip[i][3] = sign * centre - centre;
    }
    undo_flip[3][3] = 1.0;
    matmul(&undo_flip, &undo_reorder)
}

/// Applies a typed function to the array of whatever element type a PAR/REC conversion
/// holds (the `.REC`'s uint8/uint16, or float64 values).
macro_rules! on_parrec_types {
    ($data:expr, $a:ident => $body:expr) => {
        match $data {
            DynArray::U8($a) => DynArray::from_array($body),
            DynArray::U16($a) => DynArray::from_array($body),
            DynArray::F64($a) => DynArray::from_array($body),
            other => {
                return Err(Error::usage(format!(
                    "a PAR/REC conversion holds uint8, uint16 or float64 values, not {}",
                    other.dtype()
                )))
            }
        }
    };
}

/// nibabel's `apply_orientation`: flip the axes `ornt` says, then transpose them.
fn apply_orientation(data: &DynArray, ornt: &[(usize, bool); 3]) -> Result<DynArray> {
    if data.ndim() < 3 {
        return Err(Error::usage(format!(
            "a PAR/REC conversion needs 3 or 4 axes, not {:?}",
            data.shape()
        )));
    }
    fn turned<T: Clone>(a: &ArcArray<T, IxDyn>, ornt: &[(usize, bool); 3]) -> ndarray::ArrayD<T> {
        let mut view = a.view();
        for (axis, &(_, flip)) in ornt.iter().enumerate() {
            if flip {
                view.invert_axis(Axis(axis));
            }
        }
        let mut order: Vec<usize> = (0..view.ndim()).collect();
        // argsort of the target axes: axis i of the result is the input axis sent to i.
        for (input, &(target, _)) in ornt.iter().enumerate() {
            order[target] = input;
        }
        // One copy, straight into Fortran order (what the save writes), through a view of
        // fixed rank: ndarray's n-d iterator is several times slower than a 3-d or 4-d one.
        let turned = view.permuted_axes(order);
        fn fortran<T: Clone, D: ndarray::Dimension>(
            v: ndarray::ArrayView<'_, T, D>,
        ) -> ndarray::ArrayD<T> {
            v.t()
                .as_standard_layout()
                .into_owned()
                .reversed_axes()
                .into_dyn()
        }
        match turned.ndim() {
            3 => fortran(
                turned
                    .into_dimensionality::<ndarray::Ix3>()
                    .expect("3 axes"),
            ),
            4 => fortran(
                turned
                    .into_dimensionality::<ndarray::Ix4>()
                    .expect("4 axes"),
            ),
            _ => fortran(turned),
        }
    }
    Ok(on_parrec_types!(data, a => turned(a, ornt)))
}

/// The volumes `keep` of a 4-D array.
fn select_volumes(data: &DynArray, keep: &[usize]) -> Result<DynArray> {
    let volumes = data.shape().get(3).copied().unwrap_or(0);
    if data.ndim() != 4 || keep.iter().any(|&v| v >= volumes) {
        return Err(Error::usage(format!(
            "volumes {keep:?} are not all in an array of shape {:?}",
            data.shape()
        )));
    }
    Ok(on_parrec_types!(data, a => a.select(Axis(3), keep)))
}

/// The same values laid out in Fortran order (the array itself when it already is).
fn fortran_order(data: &DynArray) -> Result<DynArray> {
    if data.view().fortran_bytes().is_some() {
        return Ok(data.clone()); // shares the buffer
    }
    fn fortran<T: Clone>(a: &ArcArray<T, IxDyn>) -> ndarray::ArrayD<T> {
        a.t().as_standard_layout().into_owned().reversed_axes()
    }
    Ok(on_parrec_types!(data, a => fortran(a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_orientation_finds_the_closest_axes() {
        let las = [
            [-2.0, 0.0, 0.0, 0.0],
            [0.0, 2.0, 0.0, 0.0],
            [0.0, 0.0, 2.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        assert_eq!(
            io_orientation(&las).unwrap(),
            [(0, true), (1, false), (2, false)]
        );
        // i runs along -y, j along z, k along x (slightly rotated).
        let turned = [
            [0.0, 0.1, 3.0, 0.0],
            [-2.0, 0.0, 0.1, 0.0],
            [0.0, 2.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        assert_eq!(
            io_orientation(&turned).unwrap(),
            [(1, true), (2, false), (0, false)]
        );
    }

    #[test]
    fn inverse_orientation_maps_back_to_the_original_voxels() {
        // One flipped axis of length 4: voxel 0 of the result is voxel 3 of the input.
        let t = inv_ornt_aff(&[(0, true), (1, false), (2, false)], &[4, 2, 2]);
        assert_eq!(t[0][0], -1.0);
        assert_eq!(t[0][3], 3.0);
    }
}
