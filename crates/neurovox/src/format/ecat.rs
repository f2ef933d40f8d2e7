//! ECAT7 PET images (nibabel's `ecat.py`, `EcatHeader`, `EcatSubHeader`).
//!
//! An ECAT7 file is made of 512-byte blocks, numbered from 1: the main header (block 1), a
//! matrix list (block 2, chained to further blocks), and for each frame a one-block subheader
//! followed by the frame's data. A matrix-list row is `(frame id, subheader block, last data
//! block, status)`; rows are stored 31 to a block after a row `(free, next block, previous
//! block, used)`. The byte order is the one in which `sw_version` reads 74 (else big-endian,
//! as nibabel guesses it).
//!
//! Frames are ordered by their ids (invalid ids last), as nibabel's `get_frame_order` does;
//! each frame's values are `raw × ecat_calibration_factor × scale_factor`, two float64
//! multiplications in that order; the data is flipped by `patient_orientation` (all three
//! axes for head- or feet-first neurological codes 1, 3, 5, 7; the last two for the
//! radiological codes 0, 2, 4, 6). Field tables are nibabel's `hdr_dtype` and `subhdr_dtype`.
//!
//! The codec reads blocks through a closure, so it knows nothing of files: the file layer
//! hands it a random-access reader.

use super::affine::Affine;
use super::check::Problem;
use super::fields::{Field, FieldKind as K, Layout, RawStruct};
use super::{HeaderCodec, ImageFormat, declared_nbytes};
use crate::dtype::{ByteOrder, DataType, StorageDtype};
use crate::error::{Error, Result};

/// Bytes in an ECAT block.
pub const BLOCK_SIZE: u64 = 512;

/// The main header (block 1), as nibabel's `hdr_dtype`.
pub static ECAT_MAIN_LAYOUT: Layout = Layout {
    name: "ECAT7 main header",
    size: 512,
    fields: &[
        Field::new("magic_number", 0, K::Bytes, 14),
        Field::new("original_filename", 14, K::Bytes, 32),
        Field::new("sw_version", 46, K::U16, 1),
        Field::new("system_type", 48, K::U16, 1),
        Field::new("file_type", 50, K::U16, 1),
        Field::new("serial_number", 52, K::Bytes, 10),
        Field::new("scan_start_time", 62, K::U32, 1),
        Field::new("isotope_name", 66, K::Bytes, 8),
        Field::new("isotope_halflife", 74, K::F32, 1),
        Field::new("radiopharmaceutical", 78, K::Bytes, 32),
        Field::new("gantry_tilt", 110, K::F32, 1),
        Field::new("gantry_rotation", 114, K::F32, 1),
        Field::new("bed_elevation", 118, K::F32, 1),
        Field::new("intrinsic_tilt", 122, K::F32, 1),
        Field::new("wobble_speed", 126, K::U16, 1),
        Field::new("transm_source_type", 128, K::U16, 1),
        Field::new("distance_scanned", 130, K::F32, 1),
        Field::new("transaxial_fov", 134, K::F32, 1),
        Field::new("angular_compression", 138, K::U16, 1),
        Field::new("coin_samp_mode", 140, K::U16, 1),
        Field::new("axial_samp_mode", 142, K::U16, 1),
        Field::new("ecat_calibration_factor", 144, K::F32, 1),
        Field::new("calibration_unitS", 148, K::U16, 1),
        Field::new("calibration_units_type", 150, K::U16, 1),
        Field::new("compression_code", 152, K::U16, 1),
        Field::new("study_type", 154, K::Bytes, 12),
        Field::new("patient_id", 166, K::Bytes, 16),
        Field::new("patient_name", 182, K::Bytes, 32),
        Field::new("patient_sex", 214, K::Bytes, 1),
        Field::new("patient_dexterity", 215, K::Bytes, 1),
        Field::new("patient_age", 216, K::F32, 1),
        Field::new("patient_height", 220, K::F32, 1),
        Field::new("patient_weight", 224, K::F32, 1),
        Field::new("patient_birth_date", 228, K::U32, 1),
        Field::new("physician_name", 232, K::Bytes, 32),
        Field::new("operator_name", 264, K::Bytes, 32),
        Field::new("study_description", 296, K::Bytes, 32),
        Field::new("acquisition_type", 328, K::U16, 1),
        Field::new("patient_orientation", 330, K::U16, 1),
        Field::new("facility_name", 332, K::Bytes, 20),
        Field::new("num_planes", 352, K::U16, 1),
        Field::new("num_frames", 354, K::U16, 1),
        Field::new("num_gates", 356, K::U16, 1),
        Field::new("num_bed_pos", 358, K::U16, 1),
        Field::new("init_bed_position", 360, K::F32, 1),
        Field::new("bed_position", 364, K::F32, 15),
        Field::new("plane_separation", 424, K::F32, 1),
        Field::new("lwr_sctr_thres", 428, K::U16, 1),
        Field::new("lwr_true_thres", 430, K::U16, 1),
        Field::new("upr_true_thres", 432, K::U16, 1),
        Field::new("user_process_code", 434, K::Bytes, 10),
        Field::new("acquisition_mode", 444, K::U16, 1),
        Field::new("bin_size", 446, K::F32, 1),
        Field::new("branching_fraction", 450, K::F32, 1),
        Field::new("dose_start_time", 454, K::U32, 1),
        Field::new("dosage", 458, K::F32, 1),
        Field::new("well_counter_corr_factor", 462, K::F32, 1),
        Field::new("data_units", 466, K::Bytes, 32),
        Field::new("septa_state", 498, K::U16, 1),
        Field::new("fill", 500, K::Bytes, 12),
    ],
};

/// An image subheader (the block before each frame's data), as nibabel's `subhdr_dtype`.
pub static ECAT_SUBHEADER_LAYOUT: Layout = Layout {
    name: "ECAT7 image subheader",
    size: 510,
    fields: &[
        Field::new("data_type", 0, K::U16, 1),
        Field::new("num_dimensions", 2, K::U16, 1),
        Field::new("x_dimension", 4, K::U16, 1),
        Field::new("y_dimension", 6, K::U16, 1),
        Field::new("z_dimension", 8, K::U16, 1),
        Field::new("x_offset", 10, K::F32, 1),
        Field::new("y_offset", 14, K::F32, 1),
        Field::new("z_offset", 18, K::F32, 1),
        Field::new("recon_zoom", 22, K::F32, 1),
        Field::new("scale_factor", 26, K::F32, 1),
        Field::new("image_min", 30, K::I16, 1),
        Field::new("image_max", 32, K::I16, 1),
        Field::new("x_pixel_size", 34, K::F32, 1),
        Field::new("y_pixel_size", 38, K::F32, 1),
        Field::new("z_pixel_size", 42, K::F32, 1),
        Field::new("frame_duration", 46, K::U32, 1),
        Field::new("frame_start_time", 50, K::U32, 1),
        Field::new("filter_code", 54, K::U16, 1),
        Field::new("x_resolution", 56, K::F32, 1),
        Field::new("y_resolution", 60, K::F32, 1),
        Field::new("z_resolution", 64, K::F32, 1),
        Field::new("num_r_elements", 68, K::F32, 1),
        Field::new("num_angles", 72, K::F32, 1),
        Field::new("z_rotation_angle", 76, K::F32, 1),
        Field::new("decay_corr_fctr", 80, K::F32, 1),
        Field::new("corrections_applied", 84, K::U32, 1),
        Field::new("gate_duration", 88, K::U32, 1),
        Field::new("r_wave_offset", 92, K::U32, 1),
        Field::new("num_accepted_beats", 96, K::U32, 1),
        Field::new("filter_cutoff_frequency", 100, K::F32, 1),
        Field::new("filter_resolution", 104, K::F32, 1),
        Field::new("filter_ramp_slope", 108, K::F32, 1),
        Field::new("filter_order", 112, K::U16, 1),
        Field::new("filter_scatter_fraction", 114, K::F32, 1),
        Field::new("filter_scatter_slope", 118, K::F32, 1),
        Field::new("annotation", 122, K::Bytes, 40),
        Field::new("mt_1_1", 162, K::F32, 1),
        Field::new("mt_1_2", 166, K::F32, 1),
        Field::new("mt_1_3", 170, K::F32, 1),
        Field::new("mt_2_1", 174, K::F32, 1),
        Field::new("mt_2_2", 178, K::F32, 1),
        Field::new("mt_2_3", 182, K::F32, 1),
        Field::new("mt_3_1", 186, K::F32, 1),
        Field::new("mt_3_2", 190, K::F32, 1),
        Field::new("mt_3_3", 194, K::F32, 1),
        Field::new("rfilter_cutoff", 198, K::F32, 1),
        Field::new("rfilter_resolution", 202, K::F32, 1),
        Field::new("rfilter_code", 206, K::U16, 1),
        Field::new("rfilter_order", 208, K::U16, 1),
        Field::new("zfilter_cutoff", 210, K::F32, 1),
        Field::new("zfilter_resolution", 214, K::F32, 1),
        Field::new("zfilter_code", 218, K::U16, 1),
        Field::new("zfilter_order", 220, K::U16, 1),
        Field::new("mt_4_1", 222, K::F32, 1),
        Field::new("mt_4_2", 226, K::F32, 1),
        Field::new("mt_4_3", 230, K::F32, 1),
        Field::new("scatter_type", 234, K::U16, 1),
        Field::new("recon_type", 236, K::U16, 1),
        Field::new("recon_views", 238, K::U16, 1),
        Field::new("fill", 240, K::Bytes, 174),
        Field::new("fill2", 414, K::Bytes, 96),
    ],
};

/// ECAT7 `data_type` codes: `(code, type)` (VAX types read as their IEEE equivalents, as in
/// nibabel).
const DATA_TYPES: [(i64, DataType); 7] = [
    (1, DataType::UInt8),
    (2, DataType::Int16),
    (3, DataType::Int32),
    (4, DataType::Float32),
    (5, DataType::Float32),
    (6, DataType::Int16),
    (7, DataType::Int32),
];

/// Matrix-list rows read at most: 31 a block, and no more than the frames the header claims
/// (`num_frames` is a u16); a chain looping back on itself stops here too.
const MAX_MLIST_BLOCKS: usize = 65536 / 31 + 2;

/// One matrix-list row: frame id, subheader block (1-based), last data block, status.
pub type MlistRow = [i32; 4];

/// A parsed ECAT7 header: the main header, the matrix list and each frame's subheader.
#[derive(Debug, Clone, PartialEq)]
pub struct EcatHeader {
    raw: RawStruct,
    mlist: Vec<MlistRow>,
    subheaders: Vec<RawStruct>,
}

impl EcatHeader {
    /// Reads a header, asking `block` for the 512 bytes of each 1-based block it needs (a
    /// short block is padded with zeros, as a file ending early reads in nibabel).
    pub fn read(block: &mut dyn FnMut(u64) -> Result<Vec<u8>>) -> Result<EcatHeader> {
        let main = block(1)?;
        if main.len() < ECAT_MAIN_LAYOUT.size {
            return Err(Error::format(format!(
                "an ECAT7 main header is 512 bytes; the file has {}",
                main.len()
            )));
        }
        let order = match super::fields::peek_i16(&main, 46, ByteOrder::Little) {
            Some(74) => ByteOrder::Little,
            _ => ByteOrder::Big,
        };
        let raw = RawStruct::from_bytes(&ECAT_MAIN_LAYOUT, &main[..512], order)?;
        let num_frames = usize::try_from(raw.int("num_frames")).unwrap_or(0);
        let mut mlist = read_mlist(block, order, num_frames)?;
        if mlist.len() > num_frames {
            return Err(Error::header_value(format!(
                "the matrix list has {} frames; num_frames says {num_frames}",
                mlist.len()
            ))
            .field("num_frames"));
        }
        mlist.resize(num_frames, [0; 4]);
        let mut subheaders = Vec::new();
        for row in &mlist {
            if row[1] == 0 {
                break;
            }
            let at = u64::try_from(row[1]).map_err(|_| {
                Error::header_value(format!("subheader block {} is negative", row[1]))
                    .field("mlist")
            })?;
            let mut bytes = block(at)?;
            bytes.resize(BLOCK_SIZE as usize, 0);
            subheaders.push(RawStruct::from_bytes(
                &ECAT_SUBHEADER_LAYOUT,
                &bytes[..ECAT_SUBHEADER_LAYOUT.size],
                order,
            )?);
        }
        Ok(EcatHeader {
            raw,
            mlist,
            subheaders,
        })
    }

    /// A header of no frames in `order` (what [`crate::Header::new`] gives for ECAT7).
    pub fn empty(order: ByteOrder) -> EcatHeader {
        let mut raw = RawStruct::from_bytes(&ECAT_MAIN_LAYOUT, &[0u8; 512], order)
            .expect("the layout is 512 bytes");
        // nibabel's default_structarr: the magic, version 74 and a calibration factor of 1.
        let _ = raw.set(
            "magic_number",
            super::FieldValue::Bytes(b"MATRIX72".to_vec()),
        );
        let _ = raw.set_int("sw_version", 74);
        let _ = raw.set_float("ecat_calibration_factor", 1.0);
        EcatHeader {
            raw,
            mlist: Vec::new(),
            subheaders: Vec::new(),
        }
    }

    /// Reads a header from a whole file (or its first part) in memory.
    pub fn parse(bytes: &[u8]) -> Result<EcatHeader> {
        Self::read(&mut |n| {
            let start =
                usize::try_from((n.max(1) - 1).saturating_mul(BLOCK_SIZE)).unwrap_or(usize::MAX);
            let end = start.saturating_add(BLOCK_SIZE as usize).min(bytes.len());
            Ok(bytes.get(start..end).unwrap_or(&[]).to_vec())
        })
    }

    /// The matrix list, `num_frames` rows (rows the file lacks are zeros).
    pub fn mlist(&self) -> &[MlistRow] {
        &self.mlist
    }

    /// The subheaders, in matrix-list order (up to the first row without one).
    pub fn subheaders(&self) -> &[RawStruct] {
        &self.subheaders
    }

    /// The main header's fields.
    pub fn main(&self) -> &RawStruct {
        &self.raw
    }

    /// The matrix-list rows of the frames in array order: ids sorted ascending, rows with an
    /// id ≤ 0 left out (nibabel's `get_frame_order`).
    pub fn frame_order(&self) -> Vec<usize> {
        let mut rows: Vec<usize> = (0..self.mlist.len())
            .filter(|&r| self.mlist[r][0] > 0)
            .collect();
        rows.sort_by_key(|&r| self.mlist[r][0]);
        rows
    }

    fn subheader(&self, row: usize) -> Result<&RawStruct> {
        self.subheaders.get(row).ok_or_else(|| {
            Error::header_value(format!(
                "frame {row} of the matrix list has no subheader ({} read)",
                self.subheaders.len()
            ))
            .field("mlist")
        })
    }

    /// The `(x, y, z)` shape of the frame in matrix-list row `row`.
    pub fn frame_shape(&self, row: usize) -> Result<[usize; 3]> {
        let sh = self.subheader(row)?;
        let dims = ["x_dimension", "y_dimension", "z_dimension"].map(|n| sh.int(n));
        super::check_declared_shape(&dims, "x_dimension", 0).map(|s| [s[0], s[1], s[2]])
    }

    /// The stored type of the frame in matrix-list row `row`.
    pub fn frame_dtype(&self, row: usize) -> Result<StorageDtype> {
        let code = self.subheader(row)?.int("data_type");
        let dtype = DATA_TYPES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(_, t)| t)
            .ok_or_else(|| {
                Error::header_value(format!("data_type {code} is not an ECAT7 type (1 to 7)"))
                    .field("data_type")
            })?;
        Ok(StorageDtype::new(dtype, self.raw.byte_order()))
    }

    /// Voxel sizes of the frame in row `row`: `x_pixel_size × 10` … in float32 (cm to mm),
    /// and 1 for time.
    pub fn frame_zooms(&self, row: usize) -> Result<[f64; 4]> {
        let sh = self.subheader(row)?;
        let z = |n: &str| f64::from(sh.float(n) as f32 * 10.0f32);
        Ok([z("x_pixel_size"), z("y_pixel_size"), z("z_pixel_size"), 1.0])
    }

    /// The affine of the frame in row `row` (nibabel's `get_frame_affine`): the voxel sizes
    /// on the diagonal, the volume's centre at the subheader's offsets.
    pub fn frame_affine(&self, row: usize) -> Result<Affine> {
        let sh = self.subheader(row)?;
        let zooms = self.frame_zooms(row)?;
        let dims = self.frame_shape(row)?;
        let offsets = ["x_offset", "y_offset", "z_offset"].map(|n| f64::from(sh.float(n) as f32));
        let mut a = [[0.0; 4]; 4];
        for axis in 0..3 {
            a[axis][axis] = zooms[axis];
            a[axis][3] = -((dims[axis] as f64 - 1.0) / 2.0) * zooms[axis] + offsets[axis];
        }
        a[3][3] = 1.0;
        Ok(a)
    }

    /// Each frame's scale factor (`scale_factor`) in array order.
    pub fn frame_scale_factors(&self) -> Result<Vec<f64>> {
        self.frame_order()
            .into_iter()
            .map(|r| Ok(f64::from(self.subheader(r)?.float("scale_factor") as f32)))
            .collect()
    }

    /// The calibration factor every frame is multiplied by first.
    pub fn calibration_factor(&self) -> f64 {
        f64::from(self.raw.float("ecat_calibration_factor") as f32)
    }

    /// The axes `patient_orientation` flips: all three for the neurological codes (1, 3, 5,
    /// 7), y and z for the radiological ones (0, 2, 4, 6), none otherwise.
    pub fn flipped_axes(&self) -> Vec<usize> {
        match self.raw.int("patient_orientation") {
            1 | 3 | 5 | 7 => vec![0, 1, 2],
            0 | 2 | 4 | 6 => vec![1, 2],
            _ => Vec::new(),
        }
    }

    /// The byte ranges `(offset, len)` of the frames' data in array order: each frame starts
    /// in the block after its subheader.
    pub fn frame_ranges(&self) -> Result<Vec<(u64, u64)>> {
        let dtype = self.data_dtype()?;
        let shape = self.data_shape()?;
        let nbytes = declared_nbytes(&shape[..3], dtype.dtype)?;
        self.frame_order()
            .into_iter()
            .map(|r| {
                if self.frame_shape(r)? != [shape[0], shape[1], shape[2]]
                    || self.frame_dtype(r)? != dtype
                {
                    return Err(Error::unsupported(format!(
                        "frame {r} has another shape or type than the first: the frames \
                         cannot be one array"
                    ))
                    .field("x_dimension"));
                }
                let block = u64::try_from(self.mlist[r][1]).unwrap_or(0);
                let offset = block
                    .checked_mul(BLOCK_SIZE)
                    .filter(|o| o.checked_add(nbytes).is_some())
                    .ok_or_else(|| {
                        Error::limit("a frame's block number overflows").field("mlist")
                    })?;
                Ok((offset, nbytes))
            })
            .collect()
    }

    /// The array shape: the first frame's `(x, y, z)` and the number of frames.
    pub fn data_shape(&self) -> Result<Vec<usize>> {
        let [x, y, z] = self.frame_shape(0)?;
        Ok(vec![x, y, z, self.frame_order().len()])
    }

    /// The first frame's stored type (nibabel's `img.get_data_dtype(0)`).
    pub fn data_dtype(&self) -> Result<StorageDtype> {
        self.frame_dtype(0)
    }
}

/// The matrix list: rows from block 2, following the chain; empty when the first block's
/// counts do not add up to 31 (as nibabel reads it).
fn read_mlist(
    block: &mut dyn FnMut(u64) -> Result<Vec<u8>>,
    order: ByteOrder,
    num_frames: usize,
) -> Result<Vec<MlistRow>> {
    let mut rows = Vec::new();
    let mut next = 2u64;
    for _ in 0..MAX_MLIST_BLOCKS {
        let mut bytes = block(next)?;
        bytes.resize(BLOCK_SIZE as usize, 0);
        let int = |k: usize| super::fields::peek_i32(&bytes, 4 * k, order).unwrap_or(0);
        let (unused, next_block, used) = (int(0), int(1), int(3));
        if unused.checked_add(used) != Some(31) || !(0..=31).contains(&used) {
            return Ok(rows);
        }
        for r in 1..=used as usize {
            rows.push([int(4 * r), int(4 * r + 1), int(4 * r + 2), int(4 * r + 3)]);
        }
        if rows.len() > num_frames || next_block <= 2 {
            return Ok(rows);
        }
        next = next_block as u64;
    }
    Ok(rows)
}

impl HeaderCodec for EcatHeader {
    fn format(&self) -> ImageFormat {
        ImageFormat::Ecat
    }
    fn raw(&self) -> &RawStruct {
        &self.raw
    }
    fn raw_mut(&mut self) -> &mut RawStruct {
        &mut self.raw
    }
    fn data_shape(&self) -> Result<Vec<usize>> {
        EcatHeader::data_shape(self)
    }
    fn set_data_shape(&mut self, _shape: &[usize]) -> Result<()> {
        Err(read_only())
    }
    fn data_dtype(&self) -> Result<StorageDtype> {
        EcatHeader::data_dtype(self)
    }
    fn set_data_dtype(&mut self, _dtype: DataType) -> Result<()> {
        Err(read_only())
    }
    fn zooms(&self) -> Vec<f64> {
        self.frame_zooms(0).map(|z| z.to_vec()).unwrap_or_default()
    }
    fn set_zooms(&mut self, _zooms: &[f64]) -> Result<()> {
        Err(read_only())
    }
    fn data_offset(&self) -> u64 {
        self.frame_ranges()
            .ok()
            .and_then(|r| r.first().map(|&(o, _)| o))
            .unwrap_or(0)
    }
    fn slope_inter(&self) -> Result<(Option<f64>, Option<f64>)> {
        Ok((None, None))
    }
    fn best_affine(&self) -> Result<Affine> {
        self.frame_affine(0)
    }
    fn run_checks(&mut self, _fix: bool) -> Vec<Problem> {
        Vec::new()
    }
}

fn read_only() -> Error {
    Error::unsupported(
        "ECAT7 frames are described by their subheaders, which neurovox reads but does not write",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_frames(order: ByteOrder, ids: [i32; 2], orientation: i64) -> Vec<u8> {
        crate::fuzzing::ecat_two_frames(order, ids, orientation)
    }

    #[test]
    fn frames_are_found_ordered_scaled_and_placed() {
        for order in [ByteOrder::Big, ByteOrder::Little] {
            let h = EcatHeader::parse(&two_frames(order, [2, 1], 8)).unwrap();
            assert_eq!(h.main().byte_order(), order);
            assert_eq!(h.mlist(), &[[2, 3, 4, 1], [1, 5, 6, 1]]);
            // Array frame 0 is id 1: the second frame stored.
            assert_eq!(h.frame_order(), vec![1, 0]);
            assert_eq!(h.data_shape().unwrap(), vec![2, 2, 2, 2]);
            assert_eq!(
                h.frame_ranges().unwrap(),
                vec![(5 * 512, 16), (3 * 512, 16)]
            );
            assert_eq!(h.frame_scale_factors().unwrap(), vec![1.5, 0.5]);
            assert_eq!(h.calibration_factor(), 2.0);
            assert_eq!(h.frame_zooms(0).unwrap(), [2.5, 2.5, 5.0, 1.0]);
            let a = h.frame_affine(0).unwrap();
            assert_eq!((a[0][0], a[0][3], a[2][3]), (2.5, -1.25 + 1.0, -2.5));
            assert!(h.flipped_axes().is_empty());
        }
        let h = EcatHeader::parse(&two_frames(ByteOrder::Big, [1, 2], 3)).unwrap();
        assert_eq!(h.flipped_axes(), vec![0, 1, 2]);
        let h = EcatHeader::parse(&two_frames(ByteOrder::Big, [1, 2], 2)).unwrap();
        assert_eq!(h.flipped_axes(), vec![1, 2]);
    }

    #[test]
    fn values_are_calibrated_scaled_and_flipped_through_the_proxy() {
        use crate::image::{ArrayProxy, ArraySpec};
        let file = two_frames(ByteOrder::Big, [2, 1], 3);
        let header = crate::Header::Ecat(EcatHeader::parse(&file).unwrap());
        let spec = ArraySpec::from_header(&header).unwrap();
        let source = std::sync::Arc::new(crate::io::MemorySource::new(file));
        let proxy = ArrayProxy::from_source(source, spec);
        let values = proxy.read(crate::array::Selection::all()).unwrap();
        // Voxel (0,0,0) of array frame 0 (stored second: raw 10..17, factor 1.5) is the
        // stored voxel (1,1,1) = raw 17, after all three axes flip.
        assert_eq!(values.get_f64(&[0, 0, 0, 0]), Some(17.0 * 2.0 * 1.5));
        assert_eq!(values.get_f64(&[1, 1, 1, 1]), Some(0.0));
        assert_eq!(values.get_f64(&[1, 0, 0, 1]), Some(6.0 * 2.0 * 0.5));
        let slab = proxy.read(crate::sel![.., 0, .., 1]).unwrap();
        assert_eq!(slab.get_f64(&[0, 0]), Some(7.0 * 2.0 * 0.5));
    }

    #[test]
    fn damaged_matrix_lists_and_subheaders_are_errors_naming_the_field() {
        let good = two_frames(ByteOrder::Big, [1, 2], 8);
        // num_frames 1 with two rows listed.
        let mut bad = good.clone();
        bad[354..356].copy_from_slice(&1u16.to_be_bytes());
        let e = EcatHeader::parse(&bad).unwrap_err();
        assert_eq!(e.field_name(), Some("num_frames"));
        // An unknown data type.
        let mut bad = good.clone();
        bad[2 * 512..2 * 512 + 2].copy_from_slice(&99u16.to_be_bytes());
        let h = EcatHeader::parse(&bad).unwrap();
        assert_eq!(h.data_dtype().unwrap_err().field_name(), Some("data_type"));
        // A matrix list whose counts do not add up reads as empty: no frames.
        let mut bad = good.clone();
        bad[512..516].copy_from_slice(&5i32.to_be_bytes());
        let h = EcatHeader::parse(&bad).unwrap();
        assert!(h.subheaders().is_empty());
        assert!(h.data_shape().is_err());
        // A chain that points back at itself stops.
        let mut bad = good.clone();
        bad[516..520].copy_from_slice(&2i32.to_be_bytes());
        assert!(EcatHeader::parse(&bad).is_ok());
        // Not an image neurovox takes from bytes in memory.
        assert!(crate::Image::from_bytes(good).is_err());
    }
}
