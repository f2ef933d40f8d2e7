//! `neurovox slice FILE SPEC -o OUT`: reads one selection of an image through its proxy
//! (only the bytes the selection needs) and writes it as a NIfTI-1 `.nii`, or `.nii.gz`
//! when the output name ends in `.gz`.
//!
//! * The key is Python's (`'...,3'`, `':, 10:11, ::-1'`, `'2:5, ..., None'`), parsed by the
//!   library's `Selection::from_str`.
//! * The data type is what the proxy gives: float64 when the source is scaled (as
//!   `img.dataobj[key]` in nibabel), else the stored type. The output is unscaled, native
//!   byte order, and is written atomically (a temporary file renamed over `OUT`).
//! * **Spatial axes stay spatial.** A NIfTI image's first three axes are its spatial ones;
//!   every later axis (time) has no place in the affine. A key that would put a later input
//!   axis among the output's first three (an index on a spatial axis of a 4-D image:
//!   `':, 10, :'` makes time the third axis) or push a spatial axis past them (a new axis
//!   before the spatial ones: `'None, 2:5'`) is refused, as nibabel's `img.slicer` refuses
//!   it, with a message saying how to write it. With `--keep-axes` (`keep_axes`) an index on
//!   a spatial axis keeps that axis with length 1 (`10` read as `10:11`), so the output stays
//!   in the input's space and the time axis stays fourth with its TR.
//! * The affine: when the key keeps the three spatial axes as ranges (no index, no new axis
//!   among them), nibabel's `img.slicer[key]` rule, via [`neurovox::Image::slicer`]: the
//!   affine moves to the first selected voxel and scales each axis by its step. The other
//!   keys that pass the rule above index a spatial axis and drop it (`':, :, 10'` on a 3-D
//!   image, or `'..., 3'`-like keys on smaller images): the output's first axes take, in
//!   order, the spatial input axes that are still ranges, and the remaining columns of the
//!   affine take the indexed spatial axes in input order, each with its index in the
//!   translation. So `':, :, 10'` on a 3-D image gives a 2-D image whose implicit third axis
//!   (length 1) points along the input's third axis, at slice 10.
//! * The sform holds the affine (code 2, aligned), the qform too (code 0), as nibabel's
//!   `Nifti1Image(data, affine)` stores it. Zooms of the spatial axes come from the affine;
//!   later axes get the source's zoom times the step. `xyzt_units` is copied from a NIfTI
//!   source.

use neurovox::array::DynArray;
use neurovox::array::{Canonical, Selection, SliceItem};
use neurovox::dtype::Element;
use neurovox::format::affine::{self, Affine};
use neurovox::{ByteOrder, Error, Header, ImageFormat, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What was written: the output's shape and data type.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The output shape.
    pub shape: Vec<usize>,
    /// The output data type.
    pub dtype: neurovox::DataType,
    /// The selection as parsed, in Python syntax.
    pub selection: Selection,
}

/// Arguments of `neurovox slice`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image to read from.
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// The selection, as in Python's `img.dataobj[KEY]`: e.g. '...,3' (one volume),
    /// ':, 10:11, ::-1' (a coronal slab, z reversed), '-1' (the last sagittal slice),
    /// '2:5, ..., None' (a new axis after the spatial ones). The three spatial axes stay the
    /// first three of the output: a key that would put time among them (an index on a
    /// spatial axis of a 4-D image) is refused unless --keep-axes.
    #[arg(value_name = "KEY", allow_hyphen_values = true)]
    key: String,

    /// The NIfTI-1 file to write (.nii, or .nii.gz to compress).
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,

    /// Keep an indexed spatial axis with length 1 (an index i read as i:i+1), so that the
    /// output stays in the input's space and its time axis stays fourth.
    #[arg(long)]
    keep_axes: bool,
}

/// Runs `neurovox slice`; prints one line saying what was written, or the error (naming the
/// file it is about) on stderr. Exit status 0 on success, else 1. `keep_axes`: see the
/// module docs.
pub fn run(args: &Args) -> u8 {
    let (input, output) = (args.file.as_path(), args.output.as_path());
    let succeeded = match slice_to_file(input, &args.key, output, args.keep_axes) {
        Ok(written) => {
            let shape: Vec<String> = written.shape.iter().map(ToString::to_string).collect();
            crate::info::write_stdout(&format!(
                "{}: {} [{}] from {}{}\n",
                crate::shown::path(output),
                written.dtype.name(),
                shape.join(", "),
                crate::shown::path(input),
                written.selection
            ))
        }
        Err(err) => {
            let shown = crate::shown::path(input);
            let message = if err.path().is_some() {
                err.to_string()
            } else {
                format!("{shown}: {err}")
            };
            eprintln!("{}", crate::shown::text(&message));
            false
        }
    };
    crate::exit_status(succeeded)
}

/// Reads `spec` of the image at `input` and writes it to `output`; with `keep_axes`, an
/// index on a spatial axis keeps that axis with length 1.
pub fn slice_to_file(input: &Path, spec: &str, output: &Path, keep_axes: bool) -> Result<Written> {
    let gzip = output_is_gzip(output)?;
    let asked: Selection = spec.parse()?;
    let img = neurovox::load(input)?;
    let selection = if keep_axes {
        keep_spatial_axes(&asked, img.shape())?
    } else {
        asked.clone()
    };
    let canonical = selection.canonicalize(img.shape())?;
    if let Some(problem) = misplaced_axis(&canonical, img.ndim(), keep_axes) {
        return Err(Error::usage(format!("the selection {asked} {problem}")));
    }
    let out_shape = selection.output_shape(img.shape())?;
    if out_shape.is_empty() {
        return Err(Error::usage(format!(
            "the selection {selection} gives a single value; a NIfTI image needs at least one \
             axis (write an index i as i:i+1 to keep its axis)"
        )));
    }
    if out_shape.contains(&0) {
        return Err(Error::usage(format!(
            "the selection {selection} is empty (shape {out_shape:?})"
        )));
    }
    let source_affine = img.affine().copied().unwrap_or(affine::IDENTITY);
    // Read-only formats make no in-memory images of their own (nibabel's ECAT has no
    // slicer): their part is read and placed directly, with the affine the slicer would give.
    let (data, out_affine) = if keeps_spatial_ranges(&canonical) && img.format().is_writable() {
        let part = img.slicer(&selection)?;
        let affine = part.affine().copied().unwrap_or(affine::IDENTITY);
        (part.dataobj().to_array()?, affine)
    } else {
        (
            img.dataobj().read(&selection)?,
            selection_affine(&source_affine, &canonical),
        )
    };
    let mut header = Header::new(ImageFormat::Nifti1, ByteOrder::NATIVE);
    header.set_data_shape(data.shape())?;
    header.set_data_dtype(data.dtype())?;
    header.store_affine(&out_affine)?;
    let source_zooms = img.header().zooms();
    let mut zooms = header.zooms();
    for (out_axis, source) in output_axis_sources(&canonical).iter().enumerate().skip(3) {
        if let (Some(zoom), Some((axis, step))) = (zooms.get_mut(out_axis), source) {
            *zoom = source_zooms.get(*axis).copied().unwrap_or(1.0) * step.unsigned_abs() as f64;
        }
    }
    header.set_zooms(&zooms)?;
    if img.header().format().label().starts_with("NIfTI")
        && let Ok(units) = img.header().get("xyzt_units")
    {
        header.set("xyzt_units", units)?;
    }
    write_nifti(output, &header, &data, gzip)?;
    Ok(Written {
        shape: data.shape().to_vec(),
        dtype: data.dtype(),
        selection: asked,
    })
}

/// The selection with every index on a spatial axis (the first three) made a range of
/// length 1, so that the axis stays: `':, 10, ::-1'` reads as `':, 10:11, ::-1'`.
pub fn keep_spatial_axes(selection: &Selection, shape: &[usize]) -> Result<Selection> {
    let mut axis = 0;
    let mut items = Vec::new();
    for item in selection.canonicalize(shape)? {
        items.push(match item {
            Canonical::NewAxis => SliceItem::NewAxis,
            Canonical::Index(i) if axis < 3 => SliceItem::Slice {
                start: Some(i as isize),
                stop: Some(i as isize + 1),
                step: 1,
            },
            Canonical::Index(i) => SliceItem::Index(i as isize),
            Canonical::Slice { start, step, len } => {
                // Python's stop for these elements; below 0 it must be "to the start" (a
                // negative stop would count from the end).
                let stop = start as isize + step * len as isize;
                SliceItem::Slice {
                    start: Some(start as isize),
                    stop: (stop >= 0).then_some(stop),
                    step,
                }
            }
        });
        if !matches!(item, Canonical::NewAxis) {
            axis += 1;
        }
    }
    Ok(Selection::new(items))
}

/// Why the selection cannot be written with right positions, if it cannot: an input axis
/// after the spatial ones would land among the output's first three axes, or a spatial axis
/// kept as a range would land after them (see the module docs).
pub fn misplaced_axis(canonical: &[Canonical], ndim: usize, keep_axes: bool) -> Option<String> {
    let (mut in_axis, mut out_axis) = (0, 0);
    for item in canonical {
        match *item {
            Canonical::NewAxis => out_axis += 1,
            Canonical::Index(_) => in_axis += 1,
            Canonical::Slice { .. } => {
                if in_axis >= 3 && out_axis < 3 {
                    let name = if in_axis == 3 { "time, " } else { "" };
                    let remedy = if keep_axes {
                        "keep every spatial axis as a range (e.g. 10:11 for 10)"
                    } else {
                        "keep an indexed spatial axis with --keep-axes (10 read as 10:11), or \
                         write the range yourself"
                    };
                    return Some(format!(
                        "would make input axis {in_axis} ({name}not spatial) output axis \
                         {out_axis}, one of the three spatial axes, so its voxels would get \
                         wrong positions; {remedy}"
                    ));
                }
                if in_axis < 3.min(ndim) && out_axis >= 3 {
                    return Some(format!(
                        "would move spatial input axis {in_axis} to output axis {out_axis}, \
                         after the three spatial axes, so its voxels would get wrong \
                         positions; put a new axis (None) after the spatial axes, e.g. \
                         '..., None'"
                    ));
                }
                in_axis += 1;
                out_axis += 1;
            }
        }
    }
    None
}

/// True for `.nii.gz`, false for `.nii`; a Usage error naming the file for anything else.
fn output_is_gzip(output: &Path) -> Result<bool> {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.ends_with(".nii.gz") {
        Ok(true)
    } else if name.ends_with(".nii") {
        Ok(false)
    } else {
        Err(
            Error::usage("the output must be a NIfTI-1 file named .nii or .nii.gz")
                .with_path(output),
        )
    }
}

/// True when the selection keeps the three spatial axes (or all axes of a smaller image) as
/// ranges with no new axis among them: the keys nibabel's `img.slicer` accepts.
pub fn keeps_spatial_ranges(canonical: &[Canonical]) -> bool {
    let mut axis = 0;
    for item in canonical {
        if axis >= 3 {
            break;
        }
        match item {
            Canonical::Slice { .. } => axis += 1,
            Canonical::Index(_) | Canonical::NewAxis => return false,
        }
    }
    true
}

/// For each output axis, the input axis it comes from and the step (`None` for a new axis).
fn output_axis_sources(canonical: &[Canonical]) -> Vec<Option<(usize, isize)>> {
    let mut out = Vec::new();
    let mut axis = 0;
    for item in canonical {
        match *item {
            Canonical::NewAxis => out.push(None),
            Canonical::Index(_) => axis += 1,
            Canonical::Slice { step, .. } => {
                out.push(Some((axis, step)));
                axis += 1;
            }
        }
    }
    out
}

/// The affine of a selection's output: `affine` times the transform from output voxel
/// coordinates to input voxel coordinates (see the module docs for which output column
/// each spatial input axis takes). Equal to `img.slicer`'s affine whenever that applies.
pub fn selection_affine(affine: &Affine, canonical: &[Canonical]) -> Affine {
    let mut columns: [Option<(usize, f64)>; 3] = [None; 3];
    let mut translation = [0.0f64; 3];
    let mut unplaced: Vec<(usize, f64)> = Vec::new();
    let mut in_axis = 0;
    let mut out_axis = 0;
    for item in canonical {
        match *item {
            Canonical::NewAxis => out_axis += 1,
            Canonical::Index(i) => {
                if in_axis < 3 {
                    translation[in_axis] = i as f64;
                    unplaced.push((in_axis, 1.0));
                }
                in_axis += 1;
            }
            Canonical::Slice { start, step, .. } => {
                if in_axis < 3 {
                    translation[in_axis] = start as f64;
                    if out_axis < 3 {
                        columns[out_axis] = Some((in_axis, step as f64));
                    } else {
                        unplaced.push((in_axis, step as f64));
                    }
                }
                in_axis += 1;
                out_axis += 1;
            }
        }
    }
    // An image with fewer than three axes has the missing ones at index 0.
    unplaced.extend((in_axis..3).map(|axis| (axis, 1.0)));
    let mut spare = unplaced.into_iter();
    let mut transform = [[0.0f64; 4]; 4];
    for column in 0..3 {
        if let Some((axis, step)) = columns[column].or_else(|| spare.next()) {
            transform[axis][column] = step;
        }
    }
    for axis in 0..3 {
        transform[axis][3] = translation[axis];
    }
    transform[3][3] = 1.0;
    affine::matmul(affine, &transform)
}

/// Writes a single-file NIfTI-1: the header's prefix, zeros up to its data offset, then the
/// data in Fortran order and native byte order; gzip-compressed (neurovox's indexed
/// members, [`neurovox::io::ParallelGzWriter`]) if asked.
/// Atomic: a temporary file in the output's directory renamed over it.
fn write_nifti(path: &Path, header: &Header, data: &DynArray, gzip: bool) -> Result<()> {
    let prefix = header.to_prefix_bytes()?;
    let gap = usize::try_from(header.data_offset())
        .unwrap_or(0)
        .saturating_sub(prefix.len());
    neurovox::io::atomic::write_atomically(path, |file| {
        let write_all = |out: &mut dyn Write| -> std::io::Result<()> {
            out.write_all(&prefix)?;
            out.write_all(&vec![0u8; gap])?;
            neurovox::dyn_array_apply!(data, a => write_fortran_order(a, out))
        };
        if gzip {
            // neurovox's own .nii.gz layout (docs/formats.md): members compressed on all
            // cores, and an index for random access when the slice is read back.
            let mut encoder = neurovox::io::ParallelGzWriter::new(file);
            write_all(&mut encoder).map_err(Error::io)?;
            encoder.finish().map_err(Error::io)?;
        } else {
            write_all(file).map_err(Error::io)?;
        }
        Ok(())
    })
}

/// The array's elements, first axis fastest, as native-order bytes.
fn write_fortran_order<T: Element>(
    array: &ndarray::ArcArray<T, ndarray::IxDyn>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let reversed = array.t();
    match reversed.as_slice() {
        // An array in Fortran layout already: its buffer in order.
        Some(values) => out.write_all(bytemuck::cast_slice(values)),
        None => {
            for value in reversed.iter() {
                out.write_all(bytemuck::bytes_of(value))?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neurovox::sel;

    const AFFINE: Affine = [
        [-2.0, 0.1, 0.0, 90.0],
        [0.0, 2.0, 0.3, -126.0],
        [0.2, 0.0, 2.5, -72.0],
        [0.0, 0.0, 0.0, 1.0],
    ];

    /// The world position of an input voxel.
    fn world(affine: &Affine, voxel: [f64; 3]) -> [f64; 3] {
        let mut out = [0.0; 3];
        for row in 0..3 {
            out[row] = affine[row][3] + (0..3).map(|c| affine[row][c] * voxel[c]).sum::<f64>();
        }
        out
    }

    fn close(a: [f64; 3], b: [f64; 3]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
    }

    #[test]
    fn ranges_match_the_slicer_rule() {
        let shape = [10, 12, 8, 5];
        for key in [
            sel![..., 3],
            sel![2..8;2, ..;-1, 1..],
            sel![.., .., .., 1..4, NewAxis],
        ] {
            let canonical = key.canonicalize(&shape).expect("valid");
            assert!(keeps_spatial_ranges(&canonical), "{key}");
            let img = neurovox::Image::from_array(
                ndarray::ArrayD::<u8>::zeros(ndarray::IxDyn(&shape)),
                Some(AFFINE),
                ImageFormat::Nifti1,
            )
            .expect("image");
            let sliced = img.slicer(&key).expect("slicer");
            let expected = sliced.affine().copied().expect("affine");
            let ours = selection_affine(&AFFINE, &canonical);
            for (a, b) in ours.iter().flatten().zip(expected.iter().flatten()) {
                assert!((a - b).abs() < 1e-12, "{key}: {ours:?} vs {expected:?}");
            }
        }
    }

    #[test]
    fn indexed_spatial_axes_keep_every_voxel_in_place() {
        let shape = [10, 12, 8];
        // (key, output voxel, input voxel it is)
        let cases: [(Selection, [f64; 3], [f64; 3]); 4] = [
            (sel![.., .., 5], [3.0, 4.0, 0.0], [3.0, 4.0, 5.0]),
            (sel![7, ..;-2], [0.0, 0.0, 0.0], [7.0, 11.0, 0.0]),
            (sel![7, ..;-2], [2.0, 3.0, 0.0], [7.0, 7.0, 3.0]),
            (sel![.., .., NewAxis, 4], [2.0, 3.0, 0.0], [2.0, 3.0, 4.0]),
        ];
        for (key, out_voxel, in_voxel) in cases {
            let canonical = key.canonicalize(&shape).expect("valid");
            assert!(!keeps_spatial_ranges(&canonical), "{key}");
            assert_eq!(
                misplaced_axis(&canonical, shape.len(), false),
                None,
                "{key}"
            );
            let out_affine = selection_affine(&AFFINE, &canonical);
            assert!(
                close(world(&out_affine, out_voxel), world(&AFFINE, in_voxel)),
                "{key}: {out_voxel:?} should be input {in_voxel:?}"
            );
            // Still invertible: no column is lost.
            let m = [
                [out_affine[0][0], out_affine[0][1], out_affine[0][2]],
                [out_affine[1][0], out_affine[1][1], out_affine[1][2]],
                [out_affine[2][0], out_affine[2][1], out_affine[2][2]],
            ];
            assert!(affine::det3(&m).abs() > 1e-6, "{key}");
        }
    }

    #[test]
    fn keys_that_would_misplace_an_axis_are_named() {
        let four = [10, 12, 8, 5];
        // Time among the spatial axes.
        for key in [sel![.., 10, ..;-1], sel![-1], sel![.., .., 3]] {
            let canonical = key.canonicalize(&four).expect("valid");
            let problem = misplaced_axis(&canonical, 4, false).expect("refused");
            assert!(problem.contains("input axis 3 (time"), "{key}: {problem}");
            assert!(problem.contains("--keep-axes"), "{problem}");
            let kept = keep_spatial_axes(&key, &four).expect("valid");
            let canonical = kept.canonicalize(&four).expect("valid");
            assert_eq!(misplaced_axis(&canonical, 4, true), None, "{kept}");
            assert!(keeps_spatial_ranges(&canonical), "{kept}");
            assert_eq!(kept.output_shape(&four).expect("shape").len(), 4, "{kept}");
        }
        // A spatial axis pushed past the first three by a new axis.
        let key = sel![NewAxis, 2..5];
        let canonical = key.canonicalize(&[10, 12, 8]).expect("valid");
        let problem = misplaced_axis(&canonical, 3, false).expect("refused");
        assert!(
            problem.contains("spatial input axis 2 to output axis 3"),
            "{problem}"
        );
        // Fine: ranges only, a dropped spatial axis of a 3-D image, new axes after.
        for key in [sel![..., 3], sel![2..5, .., .., NewAxis], sel![.., .., 4]] {
            let canonical = key.canonicalize(&[10, 12, 8]).expect("valid");
            assert_eq!(misplaced_axis(&canonical, 3, false), None, "{key}");
        }
    }

    #[test]
    fn keeping_axes_reads_the_same_elements() {
        let shape = [10, 12, 8, 5];
        for key in [sel![.., 10, ..;-1], sel![-1, ..;-3], sel![3, 2..5, 7, 1]] {
            let kept = keep_spatial_axes(&key, &shape).expect("valid");
            let a = key.canonicalize(&shape).expect("valid");
            let b = kept.canonicalize(&shape).expect("valid");
            for (x, y) in a.iter().zip(&b) {
                match (x, y) {
                    (Canonical::Index(i), Canonical::Slice { start, len: 1, .. }) => {
                        assert_eq!(i, start, "{key} -> {kept}")
                    }
                    _ => assert_eq!(x, y, "{key} -> {kept}"),
                }
            }
        }
    }

    #[test]
    fn output_axes_know_their_source() {
        let canonical = sel![1, NewAxis, .., ..;-2, 0]
            .canonicalize(&[3, 4, 5, 6, 7])
            .expect("valid");
        assert_eq!(
            output_axis_sources(&canonical),
            vec![None, Some((1, 1)), Some((2, -2)), Some((4, 1))]
        );
    }

    #[test]
    fn only_nii_and_nii_gz_outputs() {
        assert_eq!(output_is_gzip(Path::new("a/b.nii")).ok(), Some(false));
        assert_eq!(output_is_gzip(Path::new("b.NII.GZ")).ok(), Some(true));
        let err = output_is_gzip(Path::new("out.img")).expect_err("not NIfTI");
        assert_eq!(err.path(), Some(Path::new("out.img")));
    }
}
