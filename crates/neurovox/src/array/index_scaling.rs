//! Scale factors that change with the position along some axes: `value = raw × slope[i] +
//! inter[i]`, where `i` is the voxel's index on those axes. AFNI scales each sub-brick
//! (`BRICK_FLOAT_FACS`, nibabel's `AFNIArrayProxy`); PAR/REC each slice of each volume, ECAT
//! each frame and MINC each slice do the same (nibabel's `PARRECArrayProxy`,
//! `EcatImageArrayProxy`, `MincImageArrayProxy`).
//!
//! The values come out in float64 (complex128 for complex data) whatever the stored type, as
//! numpy's `raw * factors` with float64 factors gives; a float32 result is that, rounded once.
//! The multiplication is skipped for a slope of 1 and the addition for an intercept of 0, as
//! the proxies that have no intercept never add one. MINC clips the stored values to the
//! valid range first ([`IndexScaling::with_clip`], nibabel's `np.clip` before scaling). Two
//! options follow nibabel's ECAT reader,
//! which multiplies by Python floats: a leading factor applied to every value first
//! (`ecat_calibration_factor`), and float32 data scaled in float32 (numpy's rule for a float32
//! array times a Python float) before it is widened.

use crate::array::dyn_array::DynArray;
use crate::array::selection::Canonical;
use crate::dtype::DataType;
use crate::error::{Error, Result};
use ndarray::{ArrayD, IxDyn, Zip};
use num_complex::Complex;

/// One slope and intercept for each combination of indices on `axes`.
///
/// ```
/// use neurovox::array::{IndexScaling, Selection};
/// use neurovox::{sel, DataType};
/// // A (2, 3) array whose columns are scaled by 1, 10 and 100.
/// let scaling = IndexScaling::along(1, vec![1.0, 10.0, 100.0], vec![0.0; 3])?;
/// let raw = neurovox::array::DynArray::from_array(
///     ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[2, 3]), vec![1i16, 2, 3, 4, 5, 6]).unwrap(),
/// );
/// let canon = Selection::all().canonicalize(&[2, 3])?;
/// let values = scaling.apply(&raw, &canon)?;
/// assert_eq!(values.dtype(), DataType::Float64);
/// assert_eq!(values.get_f64(&[1, 2]), Some(600.0));
/// // Column 2 alone: its factor follows it.
/// let canon = sel![.., 2].canonicalize(&[2, 3])?;
/// let column = raw.view().to_owned(); // the planner would read just that column
/// let part = neurovox::array::slice_array(&column, &canon)?;
/// assert_eq!(scaling.apply(&part, &canon)?.get_f64(&[0]), Some(300.0));
/// # Ok::<(), neurovox::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct IndexScaling {
    axes: Vec<usize>,
    lens: Vec<usize>,
    slopes: Vec<f64>,
    inters: Vec<f64>,
    leading: f64,
    float32_in_float32: bool,
    clip: Option<[f64; 2]>,
}

impl IndexScaling {
    /// Factors for every combination of indices on `axes` (ascending axis numbers, of lengths
    /// `lens`), in C order over those axes: the factor of indices `(i, j)` on two axes is at
    /// `i * lens[1] + j`. No axes: one slope and intercept for every value (MINC's scalar
    /// `image-min` / `image-max`).
    pub fn new(
        axes: Vec<usize>,
        lens: Vec<usize>,
        slopes: Vec<f64>,
        inters: Vec<f64>,
    ) -> Result<IndexScaling> {
        let count = lens
            .iter()
            .try_fold(1usize, |n, &l| n.checked_mul(l))
            .ok_or_else(|| Error::limit("scale factor table overflows"))?;
        let ascending = axes.windows(2).all(|w| w[0] < w[1]);
        if axes.len() != lens.len() || !ascending || slopes.len() != count || inters.len() != count
        {
            return Err(Error::usage(format!(
                "per-index scale factors need ascending axes and one slope and intercept per \
                 index: axes {axes:?} of lengths {lens:?}, {} slopes, {} intercepts",
                slopes.len(),
                inters.len()
            )));
        }
        Ok(IndexScaling {
            axes,
            lens,
            slopes,
            inters,
            leading: 1.0,
            float32_in_float32: false,
            clip: None,
        })
    }

    /// The same factors after a leading one that every value is multiplied by first (its
    /// own rounding, then the per-index slope's).
    pub fn with_leading_factor(mut self, leading: f64) -> IndexScaling {
        self.leading = leading;
        self
    }

    /// The same factors, applied to float32 data in float32 arithmetic (then widened).
    pub fn with_float32_arithmetic(mut self) -> IndexScaling {
        self.float32_in_float32 = true;
        self
    }

    /// The same factors, applied to stored values first clipped to `[lo, hi]` (MINC's valid
    /// range).
    ///
    /// ```
    /// use neurovox::array::{IndexScaling, Selection};
    /// let scaling = IndexScaling::along(0, vec![2.0], vec![1.0])?.with_clip(0.0, 10.0);
    /// let raw = neurovox::array::DynArray::from_array(
    ///     ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[1, 3]), vec![-5i16, 4, 50]).unwrap(),
    /// );
    /// let values = scaling.apply(&raw, &Selection::all().canonicalize(&[1, 3])?)?;
    /// assert_eq!(values.get_f64(&[0, 0]), Some(1.0)); // -5 -> 0 -> 0 * 2 + 1
    /// assert_eq!(values.get_f64(&[0, 2]), Some(21.0)); // 50 -> 10 -> 21
    /// # Ok::<(), neurovox::Error>(())
    /// ```
    pub fn with_clip(mut self, lo: f64, hi: f64) -> IndexScaling {
        self.clip = Some([lo, hi]);
        self
    }

    /// One slope and intercept per index along one `axis`.
    pub fn along(axis: usize, slopes: Vec<f64>, inters: Vec<f64>) -> Result<IndexScaling> {
        let len = slopes.len();
        Self::new(vec![axis], vec![len], slopes, inters)
    }

    /// The axes the factors vary along.
    pub fn axes(&self) -> &[usize] {
        &self.axes
    }

    /// The slopes, in C order over [`IndexScaling::axes`].
    pub fn slopes(&self) -> &[f64] {
        &self.slopes
    }

    /// The intercepts, in C order over [`IndexScaling::axes`].
    pub fn inters(&self) -> &[f64] {
        &self.inters
    }

    /// A Usage error unless the factors fit an array of `shape`.
    pub fn check_shape(&self, shape: &[usize]) -> Result<()> {
        let fits = self
            .axes
            .iter()
            .zip(&self.lens)
            .all(|(&a, &l)| shape.get(a) == Some(&l));
        if fits {
            Ok(())
        } else {
            Err(Error::usage(format!(
                "scale factors for axes {:?} of lengths {:?} do not fit shape {shape:?}",
                self.axes, self.lens
            )))
        }
    }

    /// The element type of the scaled values for data stored as `storage`.
    pub fn output_dtype(&self, storage: DataType) -> Result<DataType> {
        match storage {
            DataType::Rgb24 | DataType::Rgba32 => {
                Err(crate::array::dyn_array::colour_has_no_float())
            }
            s if s.is_complex() => Ok(DataType::Complex128),
            _ => Ok(DataType::Float64),
        }
    }

    /// The factor tables for the output of a selection (`canonical`, against the array's
    /// shape): arrays with the output's number of axes, of length 1 on every axis the factors
    /// do not vary along, so they broadcast against the values.
    fn tables_for(&self, canonical: &[Canonical]) -> Result<(ArrayD<f64>, ArrayD<f64>)> {
        // For each factor axis: a fixed index, or the output axis it became and its slice.
        enum On {
            Fixed(usize),
            Output {
                axis: usize,
                start: usize,
                step: isize,
            },
        }
        let mut on: Vec<On> = Vec::with_capacity(self.axes.len());
        let mut table_shape = Vec::new();
        let mut source_axis = 0;
        for item in canonical {
            match *item {
                Canonical::NewAxis => table_shape.push(1),
                Canonical::Index(i) => {
                    if self.axes.contains(&source_axis) {
                        on.push(On::Fixed(i));
                    }
                    source_axis += 1;
                }
                Canonical::Slice { start, step, len } => {
                    if self.axes.contains(&source_axis) {
                        on.push(On::Output {
                            axis: table_shape.len(),
                            start,
                            step,
                        });
                        table_shape.push(len);
                    } else {
                        table_shape.push(1);
                    }
                    source_axis += 1;
                }
            }
        }
        if on.len() != self.axes.len() {
            return Err(Error::usage(format!(
                "a selection of {source_axis} axes does not reach the scale factors' axes {:?}",
                self.axes
            )));
        }
        let flat_of = |index: &IxDyn| -> usize {
            on.iter().zip(&self.lens).fold(0usize, |flat, (o, &len)| {
                let i = match *o {
                    On::Fixed(i) => i,
                    On::Output { axis, start, step } => {
                        (start as isize + index[axis] as isize * step) as usize
                    }
                };
                flat * len + i
            })
        };
        let slopes = ArrayD::from_shape_fn(IxDyn(&table_shape), |ix| self.slopes[flat_of(&ix)]);
        let inters = ArrayD::from_shape_fn(IxDyn(&table_shape), |ix| self.inters[flat_of(&ix)]);
        Ok((slopes, inters))
    }

    /// One value in float64: the leading factor, the slope, the intercept, each skipped when
    /// it changes nothing.
    fn scale_f64(&self, v: f64, s: f64, i: f64) -> f64 {
        let mut out = match self.clip {
            // numpy's clip: min(max(v, lo), hi).
            Some([lo, hi]) => v.max(lo).min(hi),
            None => v,
        };
        if self.leading != 1.0 {
            out *= self.leading;
        }
        if s != 1.0 {
            out *= s;
        }
        if i != 0.0 {
            out += i;
        }
        out
    }

    /// One float32 value scaled in float32, then widened.
    fn scale_f32(&self, v: f32, s: f64, i: f64) -> f64 {
        let mut out = match self.clip {
            Some([lo, hi]) => v.max(lo as f32).min(hi as f32),
            None => v,
        };
        if self.leading != 1.0 {
            out *= self.leading as f32;
        }
        if s != 1.0 {
            out *= s as f32;
        }
        if i != 0.0 {
            out += i as f32;
        }
        f64::from(out)
    }

    /// [`IndexScaling::apply`] for real data, each value rounded once into `O` and written
    /// into `out` (the values' shape, any layout): no float64 array in between, so a read
    /// into a caller's buffer holds only the stored values and the result.
    ///
    /// # Errors
    ///
    /// A Usage error for complex or colour data, or an `out` of another shape.
    pub fn apply_into<O: crate::dtype::element::FloatOut>(
        &self,
        raw: &DynArray,
        canonical: &[Canonical],
        mut out: ndarray::ArrayViewMutD<'_, O>,
    ) -> Result<()> {
        let (slopes, inters) = self.tables_for(canonical)?;
        let mismatch = || {
            Error::usage(format!(
                "values of shape {:?} do not match the selection or the output {:?}",
                raw.shape(),
                out.shape()
            ))
        };
        if out.shape() != raw.shape()
            || slopes.broadcast(raw.shape()).is_none()
            || inters.broadcast(raw.shape()).is_none()
        {
            return Err(mismatch());
        }
        if raw.dtype().is_complex() {
            return Err(Error::usage(
                "complex values have no single real value to scale",
            ));
        }
        match raw {
            DynArray::F32(a) if self.float32_in_float32 => {
                by_blocks(&mut out, a, &slopes, &inters, |v: f32, s, i| {
                    O::from_f64(self.scale_f32(v, s, i))
                })
            }
            _ if self.clip.is_some() && self.leading == 1.0 => {
                // MINC: nibabel's clip, then `*= slope`, `+= inter`, always (no skipped
                // step changes a value here), in one branch-free loop per block.
                use crate::dtype::element::RealValue;
                let [lo, hi] = self.clip.unwrap_or([f64::NEG_INFINITY, f64::INFINITY]);
                crate::dyn_array_numeric!(raw, a => by_blocks(&mut out, a, &slopes, &inters, |v, s, i| {
                    O::from_f64(v.real_f64().max(lo).min(hi) * s + i)
                }),
                    colour _ => return Err(crate::array::dyn_array::colour_has_no_float()))
            }
            _ => {
                use crate::dtype::element::RealValue;
                crate::dyn_array_numeric!(raw, a => by_blocks(&mut out, a, &slopes, &inters, |v, s, i| {
                    O::from_f64(self.scale_f64(v.real_f64(), s, i))
                }),
                    colour _ => return Err(crate::array::dyn_array::colour_has_no_float()))
            }
        }
        Ok(())
    }

    /// The scaled values of `raw`, the stored values of the selection `canonical` (resolved
    /// against the array's shape), in [`IndexScaling::output_dtype`] and `raw`'s layout.
    pub fn apply(&self, raw: &DynArray, canonical: &[Canonical]) -> Result<DynArray> {
        let (slopes, inters) = self.tables_for(canonical)?;
        let mismatch = || {
            Error::usage(format!(
                "values of shape {:?} do not match the selection",
                raw.shape()
            ))
        };
        let slopes = slopes.broadcast(raw.shape()).ok_or_else(mismatch)?;
        let inters = inters.broadcast(raw.shape()).ok_or_else(mismatch)?;
        let leading = self.leading;
        let scale = |v: f64, s: f64, i: f64| self.scale_f64(v, s, i);
        let complex = |a: ArrayD<Complex<f64>>| {
            let mut a = a;
            Zip::from(&mut a)
                .and(&slopes)
                .and(&inters)
                .for_each(|v, &s, &i| {
                    let im = if leading != 1.0 { v.im * leading } else { v.im };
                    *v = Complex::new(scale(v.re, s, i), if s != 1.0 { im * s } else { im })
                });
            DynArray::from_array(a)
        };
        Ok(match raw {
            DynArray::C64(a) => complex(a.mapv(|v| Complex::new(f64::from(v.re), f64::from(v.im)))),
            DynArray::C128(a) => complex(a.to_owned()),
            _ => {
                // In the values' own layout, so blocks of one factor stay contiguous.
                use ndarray::ShapeBuilder;
                let fortran =
                    raw.ndim() > 1 && crate::dyn_array_apply!(raw, a => a.t().is_standard_layout());
                let shape = IxDyn(raw.shape()).set_f(fortran);
                let mut values = ArrayD::<f64>::from_shape_vec(
                    shape,
                    crate::array::dyn_array::zeroed_values(raw.len())?,
                )
                .map_err(|_| mismatch())?;
                self.apply_into(raw, canonical, values.view_mut())?;
                DynArray::from_array(values)
            }
        })
    }
}

/// Elements at or above which a block is converted on all cores.
const PARALLEL_MIN: usize = 1 << 18;

/// `out[k] = f(values[k], slopes[k], inters[k])` where `slopes` and `inters` are the factor
/// tables (length 1 on the axes they do not vary along): one factor pair at a time over the
/// block of the output it covers. A block whose values are laid out as its output (the usual
/// case: an AFNI sub-brick, an ECAT frame read forwards) is one tight loop over two slices,
/// on all cores when large; other blocks go row by row ([`by_lanes`]).
fn by_blocks<T: Copy + Sync, O: Send>(
    out: &mut ndarray::ArrayViewMutD<'_, O>,
    values: &ndarray::ArcArray<T, IxDyn>,
    slopes: &ArrayD<f64>,
    inters: &ArrayD<f64>,
    f: impl Fn(T, f64, f64) -> O + Sync,
) {
    let table_axes: Vec<usize> = (0..slopes.ndim())
        .filter(|&a| slopes.shape()[a] > 1)
        .collect();
    match table_axes[..] {
        // One factor pair for everything (a selection of one sub-brick or frame).
        [] => {
            let (Some(&s), Some(&i)) = (slopes.iter().next(), inters.iter().next()) else {
                return;
            };
            one_block(out.view_mut(), values.view(), s, i, &f);
        }
        [axis] => {
            for k in 0..slopes.shape()[axis] {
                let mut index = vec![0usize; slopes.ndim()];
                index[axis] = k;
                let (s, i) = (slopes[IxDyn(&index)], inters[IxDyn(&index)]);
                let block = out.index_axis_mut(ndarray::Axis(axis), k);
                one_block(block, values.index_axis(ndarray::Axis(axis), k), s, i, &f);
            }
        }
        // Several factor axes (MINC's time and slice, PAR/REC's slice and volume): one block
        // per combination of their indices, each a tight loop when laid out as the output.
        _ => {
            let lens: Vec<usize> = table_axes.iter().map(|&a| slopes.shape()[a]).collect();
            let combos: usize = lens.iter().product();
            let mut index = vec![0usize; slopes.ndim()];
            for combo in 0..combos {
                let mut rest = combo;
                for (&axis, &len) in table_axes.iter().zip(&lens).rev() {
                    index[axis] = rest % len;
                    rest /= len;
                }
                let (s, i) = (slopes[IxDyn(&index)], inters[IxDyn(&index)]);
                // Highest axis first, so the lower axis numbers still name the same axes.
                let mut block = out.view_mut();
                let mut from = values.view();
                for &axis in table_axes.iter().rev() {
                    block = block.index_axis_move(ndarray::Axis(axis), index[axis]);
                    from = from.index_axis_move(ndarray::Axis(axis), index[axis]);
                }
                one_block(block, from, s, i, &f);
            }
        }
    }
}

/// `out = f(values, s, i)` for one factor pair: one tight loop over two slices (on all cores
/// when large) when the values are laid out as the output, else row by row.
fn one_block<T: Copy + Sync, O: Send>(
    mut block: ndarray::ArrayViewMutD<'_, O>,
    from: ndarray::ArrayViewD<'_, T>,
    s: f64,
    i: f64,
    f: &(impl Fn(T, f64, f64) -> O + Sync),
) {
    use rayon::prelude::*;
    let same_layout = block.strides() == from.strides();
    match (
        block.as_slice_memory_order_mut(),
        from.as_slice_memory_order(),
    ) {
        (Some(o), Some(v)) if same_layout => {
            if o.len() >= PARALLEL_MIN {
                o.par_chunks_mut(1 << 14)
                    .zip(v.par_chunks(1 << 14))
                    .for_each(|(o, v)| o.iter_mut().zip(v).for_each(|(o, &v)| *o = f(v, s, i)));
            } else {
                o.iter_mut().zip(v).for_each(|(o, &v)| *o = f(v, s, i));
            }
        }
        _ => {
            // The one factor pair seen as arrays of the block's shape (no allocation).
            let (s_one, i_one) = (ndarray::arr0(s).into_dyn(), ndarray::arr0(i).into_dyn());
            if let (Some(s_all), Some(i_all)) =
                (s_one.broadcast(from.shape()), i_one.broadcast(from.shape()))
            {
                by_lanes(&mut block, &from, &s_all, &i_all, f);
            }
        }
    }
}

/// `out[k] = f(values[k], slopes[k], inters[k])` over arrays of one shape, walked one lane
/// (a row along `out`'s fastest axis) at a time: a tight loop per row whatever the strides of
/// `values` (reversed axes, another layout), where an element-wise `Zip` over mixed strides
/// would index every element.
fn by_lanes<T: Copy, O>(
    out: &mut ndarray::ArrayViewMutD<'_, O>,
    values: &ndarray::ArrayViewD<'_, T>,
    slopes: &ndarray::ArrayViewD<'_, f64>,
    inters: &ndarray::ArrayViewD<'_, f64>,
    f: impl Fn(T, f64, f64) -> O,
) {
    if out.ndim() == 0 {
        Zip::from(out)
            .and(values)
            .and(slopes)
            .and(inters)
            .for_each(|o, &v, &s, &i| *o = f(v, s, i));
        return;
    }
    let fortran = out.ndim() > 1 && out.t().is_standard_layout();
    let axis = ndarray::Axis(if fortran { 0 } else { out.ndim() - 1 });
    Zip::from(out.lanes_mut(axis))
        .and(values.lanes(axis))
        .and(slopes.lanes(axis))
        .and(inters.lanes(axis))
        .for_each(|mut o, v, s, i| {
            for (((o, &v), &s), &i) in o.iter_mut().zip(v).zip(s).zip(i) {
                *o = f(v, s, i);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::{Selection, SliceItem, slice_array};
    use crate::sel;

    /// A (2, 3, 4) array of 0..24 (C order) with factors along axes 1 and 2.
    fn fixture() -> (DynArray, IndexScaling) {
        let raw = DynArray::from_array(
            ArrayD::from_shape_vec(IxDyn(&[2, 3, 4]), (0..24).map(|v| v as u8).collect()).unwrap(),
        );
        let slopes: Vec<f64> = (0..12).map(|k| 1.0 + k as f64).collect();
        let inters: Vec<f64> = (0..12).map(|k| -(k as f64)).collect();
        let scaling = IndexScaling::new(vec![1, 2], vec![3, 4], slopes, inters).unwrap();
        (raw, scaling)
    }

    /// numpy's answer: every element scaled by its own (j, k) factors, then selected.
    fn expected(raw: &DynArray, scaling: &IndexScaling, sel: &Selection) -> DynArray {
        let all = raw.to_f64().unwrap();
        let scaled = ArrayD::from_shape_fn(all.raw_dim(), |ix| {
            let f = ix[1] * 4 + ix[2];
            all[&ix] * scaling.slopes[f] + scaling.inters[f]
        });
        let canon = sel.canonicalize(raw.shape()).unwrap();
        slice_array(&DynArray::from_array(scaled), &canon).unwrap()
    }

    #[test]
    fn factors_follow_every_kind_of_selection() {
        let (raw, scaling) = fixture();
        let selections = [
            Selection::all(),
            sel![1, .., ..],
            sel![.., 2, ..],
            sel![.., .., 3],
            sel![.., 1.., ..;2],
            sel![0, ..;-1, 1..3],
            Selection::new(vec![
                SliceItem::NewAxis,
                SliceItem::Index(1),
                SliceItem::Ellipsis,
                SliceItem::NewAxis,
            ]),
        ];
        for sel in selections {
            let canon = sel.canonicalize(raw.shape()).unwrap();
            let part = slice_array(&raw, &canon).unwrap();
            let got = scaling.apply(&part, &canon).unwrap();
            let want = expected(&raw, &scaling, &sel);
            assert_eq!(got.shape(), want.shape(), "{sel:?}");
            assert_eq!(got.to_f64().unwrap(), want.to_f64().unwrap(), "{sel:?}");
        }
    }

    #[test]
    fn complex_values_scale_both_parts_and_add_to_the_real_one() {
        let raw = DynArray::from_array(
            ArrayD::from_shape_vec(IxDyn(&[2]), vec![Complex::new(1.0f32, 2.0); 2]).unwrap(),
        );
        let scaling = IndexScaling::along(0, vec![2.0, 3.0], vec![1.0, 0.0]).unwrap();
        let canon = Selection::all().canonicalize(&[2]).unwrap();
        let got = scaling.apply(&raw, &canon).unwrap();
        let got = got.typed::<Complex<f64>>().unwrap();
        assert_eq!(got[[0]], Complex::new(3.0, 4.0));
        assert_eq!(got[[1]], Complex::new(3.0, 6.0));
    }

    #[test]
    fn a_leading_factor_comes_first_and_float32_can_stay_float32() {
        let raw =
            DynArray::from_array(ArrayD::from_shape_vec(IxDyn(&[2]), vec![0.1f32, 3.0]).unwrap());
        let canon = Selection::all().canonicalize(&[2]).unwrap();
        let (lead, s) = (2.5e7f64, 1.0e-3f64);
        let base = IndexScaling::along(0, vec![s, 1.0], vec![0.0; 2])
            .unwrap()
            .with_leading_factor(lead);
        let wide = base.apply(&raw, &canon).unwrap().to_f64().unwrap();
        assert_eq!(wide[[0]], f64::from(0.1f32) * lead * s);
        let narrow = base
            .clone()
            .with_float32_arithmetic()
            .apply(&raw, &canon)
            .unwrap()
            .to_f64()
            .unwrap();
        assert_eq!(narrow[[0]], f64::from(0.1f32 * lead as f32 * s as f32));
        assert_eq!(narrow[[1]], f64::from(3.0f32 * lead as f32));
        assert_ne!(wide[[0]], narrow[[0]]);
    }

    #[test]
    fn scaling_into_a_buffer_gives_the_values_apply_gives_in_either_layout() {
        let (raw, scaling) = fixture();
        for sel in [Selection::all(), sel![.., 1.., ..;2], sel![1, .., 3]] {
            let canon = sel.canonicalize(raw.shape()).unwrap();
            let part = slice_array(&raw, &canon).unwrap();
            let want = scaling.apply(&part, &canon).unwrap().to_f64().unwrap();
            for fortran in [false, true] {
                use ndarray::ShapeBuilder;
                let mut buf = vec![0f64; part.len()];
                let shape = IxDyn(part.shape()).set_f(fortran);
                let view = ndarray::ArrayViewMutD::from_shape(shape.clone(), &mut buf).unwrap();
                scaling.apply_into(&part, &canon, view).unwrap();
                let got = ndarray::ArrayViewD::from_shape(shape, &buf).unwrap();
                assert_eq!(got, want.view(), "{sel:?} fortran {fortran}");
            }
            let mut narrow = vec![0f32; part.len()];
            let view = ndarray::ArrayViewMutD::from_shape(part.shape(), &mut narrow).unwrap();
            scaling.apply_into(&part, &canon, view).unwrap();
            assert!(narrow.iter().zip(want.iter()).all(|(a, b)| *a == *b as f32));
        }
        let complex = DynArray::from_array(
            ArrayD::from_shape_vec(IxDyn(&[1]), vec![Complex::new(1.0f32, 1.0)]).unwrap(),
        );
        let canon = Selection::all().canonicalize(&[1]).unwrap();
        let one = IndexScaling::along(0, vec![2.0], vec![0.0]).unwrap();
        let mut buf = [0f64; 1];
        let view = ndarray::ArrayViewMutD::from_shape(IxDyn(&[1]), &mut buf[..]).unwrap();
        assert!(one.apply_into(&complex, &canon, view).is_err());
    }

    #[test]
    fn tables_that_do_not_fit_are_refused() {
        assert!(IndexScaling::new(vec![2, 1], vec![2, 2], vec![1.0; 4], vec![0.0; 4]).is_err());
        assert!(IndexScaling::new(vec![0], vec![3], vec![1.0; 2], vec![0.0; 2]).is_err());
        let s = IndexScaling::along(3, vec![1.0; 5], vec![0.0; 5]).unwrap();
        assert!(s.check_shape(&[2, 2, 2, 5]).is_ok());
        assert!(s.check_shape(&[2, 2, 2, 4]).is_err());
        assert!(s.check_shape(&[2, 2, 2]).is_err());
    }
}
