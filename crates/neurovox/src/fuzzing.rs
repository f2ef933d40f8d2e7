//! The bodies of the fuzz targets in `fuzz/fuzz_targets/`, kept in the library so that the
//! crash-regression replay (`tests/fuzz_regressions.rs`) runs exactly the code the fuzzer ran.
//!
//! Every function takes arbitrary bytes and must return without panicking, aborting, hanging
//! or allocating more than the input is worth (the fuzzer runs with a malloc limit); an `Err`
//! from the library is a correct answer and is dropped. The functions only panic where they
//! check a property the library documents (a selection prints as text that parses back to
//! it), so that a broken property is a crash too.
//!
//! Not part of the API: nothing here is stable, and the module is hidden from the docs.

use crate::ByteOrder;
use crate::array::selection::Selection;
use crate::error::Result;
use crate::format::nifti1::parse_extensions;
use crate::format::{Header, ImageFormat, mgh, spm_mat};
use crate::image::dataobj::Caching;
use crate::image::proxy::{ArrayProxy, ArraySpec};
use crate::image::spatial_image::Image;
use crate::io::gzip::index_file::{GzipFingerprint, IndexFile, gzidx};
use crate::io::{GzipSource, MemorySource, Source};
use std::sync::Arc;

/// A few keys every whole-image target reads: a single voxel, a slab along the last axis,
/// a strided and a reversed selection, and a new axis. Each may fail on a shape it does not
/// fit (an Err); none may panic.
const KEYS: [&str; 5] = ["0", "..., -1", "::2, 1:3", "::-1, ..., None", ":, 0, 1"];

/// Reads through a proxy built from a parsed header: a few slices, then everything. The full
/// read is the test that a header's declared size never makes a read allocate before the
/// source is known to hold the bytes.
fn exercise_proxy(proxy: &ArrayProxy) {
    for key in KEYS {
        if let Ok(selection) = key.parse::<Selection>() {
            let _ = proxy.read(&selection);
        }
    }
    let _ = proxy.read(crate::array::Selection::all());
    let _ = proxy.read_raw(crate::array::Selection::all());
}

/// Every accessor of a parsed header, and a round trip through its bytes.
fn exercise_header(header: &Header) {
    let _ = header.fields();
    let _ = header.data_shape();
    let _ = header.data_dtype();
    let _ = header.zooms();
    let _ = header.slope_inter();
    let _ = header.best_affine();
    let _ = header.diagnose();
    let _ = header.data_nbytes();
    let _ = header.data_offset();
    if let Ok(bytes) = header.to_prefix_bytes() {
        let _ = Header::parse(header.format(), &bytes);
    }
    let _ = Header::from_binary_block(header.format(), header.binary_block(), header.byte_order());
    let mut fixed = header.clone();
    let _ = fixed.check_fix();
    let _ = fixed.to_prefix_bytes();
}

/// Parses `bytes` as a header of `format` and, if that works, exercises it.
fn header_of(format: ImageFormat, bytes: &[u8]) {
    let _ = Header::diagnose_bytes(format, bytes);
    if let Ok(header) = Header::parse(format, bytes) {
        exercise_header(&header);
    }
}

/// NIfTI-1 header codec, single file (`n+1`) or pair (`ni1`) by the low bit of the first
/// byte; the rest is the header with any extensions.
pub fn nifti1_header(data: &[u8]) {
    if let Some((format, bytes)) = picked(data, &[ImageFormat::Nifti1, ImageFormat::Nifti1Pair]) {
        header_of(format, bytes);
    }
}

/// The first byte picks one of `formats` (modulo their number); the rest is the input.
fn picked<'a>(data: &'a [u8], formats: &[ImageFormat]) -> Option<(ImageFormat, &'a [u8])> {
    let (&pick, bytes) = data.split_first()?;
    Some((formats[pick as usize % formats.len()], bytes))
}

/// NIfTI-2 header codec, single file or pair by the low bit of the first byte.
pub fn nifti2_header(data: &[u8]) {
    if let Some((format, bytes)) = picked(data, &[ImageFormat::Nifti2, ImageFormat::Nifti2Pair]) {
        header_of(format, bytes);
    }
}

/// Analyze 7.5, SPM99 and SPM2 header codecs, picked by the first byte (mod 3).
pub fn analyze_header(data: &[u8]) {
    let flavours = [ImageFormat::Analyze, ImageFormat::Spm99, ImageFormat::Spm2];
    if let Some((format, bytes)) = picked(data, &flavours) {
        header_of(format, bytes);
    }
}

/// MGH header codec (the 284-byte prefix, or a whole file with its footer), and the tag
/// parser run on the same bytes.
pub fn mgh_header(data: &[u8]) {
    header_of(ImageFormat::Mgh, data);
    let tags = mgh::split_tags(data);
    for tag in &tags.tags {
        let _ = tag.name();
    }
    let mut header = mgh::MghHeader::new();
    let _ = header.set_footer_bytes(data);
    let _ = header.footer_offset();
}

/// NIfTI extension records; the first byte picks byte order (bit 0) and whether records run
/// to the end of the bytes, as in a `.hdr` file (bit 1).
pub fn nifti_extensions(data: &[u8]) {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let order = if pick & 1 == 0 {
        ByteOrder::Little
    } else {
        ByteOrder::Big
    };
    if let Ok(extensions) = parse_extensions(bytes, order, pick & 2 != 0, 352) {
        for extension in &extensions {
            let _ = extension.size_on_disk();
        }
    }
}

/// The SPM `.mat` sidecar (MATLAB v4) reader.
pub fn spm_mat(data: &[u8]) {
    if let Ok(affine) = spm_mat::read_mat_affine(data) {
        let _ = spm_mat::read_mat_affine(&spm_mat::mat_file_bytes(&affine));
    }
}

/// A temporary file holding `data`, named `name` in a fresh directory (under `$TMPDIR`:
/// the fuzz scripts point it at `/dev/shm`).
fn temp_file(name: &str, data: &[u8]) -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join(name);
    std::fs::write(&path, data).ok()?;
    Some((dir, path))
}

/// [`GzipSource`] over the bytes as a `.gz` file with a small checkpoint span (so that
/// inputs of a few KiB still make several checkpoints): reads at the start, in the middle,
/// across the end; then the checkpoint index it built, written and read back in our format
/// and in indexed_gzip's.
pub fn gzip_source(data: &[u8]) {
    let Some((_dir, path)) = temp_file("input.gz", data) else {
        return;
    };
    let Ok(source) = GzipSource::with_span_and_cache(&path, 1024, 64 * 1024) else {
        return;
    };
    let mut buf = [0u8; 700];
    let _ = source.read_at(0, &mut buf[..16]);
    let _ = source.read_at(3000, &mut buf);
    let _ = source.read_at(1000, &mut buf);
    if let Ok(len) = source.len() {
        let _ = source.read_at(len.saturating_sub(10), &mut buf[..10]);
        let _ = source.read_at(len.saturating_sub(5), &mut buf[..10]);
    }
    let _ = source.index_stats();
    // A whole read with room before its output, as `np.asarray(dataobj)` of a `.nii.gz` reads
    // it (in one go, with ISA-L or libdeflate, where the trailer's ISIZE says the read covers
    // the stream).
    if let Ok(fresh) = GzipSource::open(&path) {
        let isize = data
            .len()
            .checked_sub(4)
            .and_then(|at| data.get(at..))
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
        let end = isize.min(1 << 22);
        let offset = end.min(352);
        let room = fresh.room_for_read(offset as u64, end as u64);
        let mut whole = vec![0u8; room + end - offset];
        let _ = fresh.read_at_with_room(offset as u64, &mut whole, room);
    }
    if let Ok(index) = source.index_file()
        && let Ok(file) = std::fs::File::open(&path)
        && let Ok(print) = GzipFingerprint::of(&file)
    {
        let _ = IndexFile::from_bytes(&index.to_bytes(), &print);
        if let Ok(exported) = gzidx::export(&index) {
            let _ = gzidx::import(&exported, &print);
        }
    }
}

/// The fingerprint an index file claims (its own bytes 16..56), so that fuzzed indexes get
/// past the fingerprint check; zeros where the bytes are missing.
fn claimed_fingerprint(bytes: &[u8]) -> GzipFingerprint {
    let field = |from: usize, to: usize| -> u128 {
        let mut b = [0u8; 16];
        if let Some(src) = bytes.get(from..to) {
            b[..to - from].copy_from_slice(src);
        }
        u128::from_le_bytes(b)
    };
    GzipFingerprint {
        len: field(16, 24) as u64,
        head: field(24, 40),
        tail: field(40, 56),
    }
}

/// Our `.nvgzidx` index file reader: once as given (magic, CRC), once with the CRC made to
/// match and the fingerprint the file claims, so that mutations reach the checkpoint checks.
pub fn gzip_index(data: &[u8]) {
    let print = claimed_fingerprint(data);
    let _ = IndexFile::from_bytes(data, &print);
    if data.len() >= 4 {
        let mut fixed = data.to_vec();
        let body = fixed.len() - 4;
        let crc = crc32fast::hash(&fixed[..body]);
        fixed[body..].copy_from_slice(&crc.to_le_bytes());
        if let Ok(index) = IndexFile::from_bytes(&fixed, &print) {
            let again = IndexFile::from_bytes(&index.to_bytes(), &print);
            assert!(
                again.is_ok(),
                "an index we read does not read back: {again:?}"
            );
            let _ = gzidx::export(&index);
        }
    }
}

/// indexed_gzip's GZIDX import, against a file of the compressed size the index claims (its
/// bytes 7..15), so that mutations get past the one check the fingerprint allows.
pub fn gzidx_import(data: &[u8]) {
    let mut len = [0u8; 8];
    if let Some(src) = data.get(7..15) {
        len.copy_from_slice(src);
    }
    let print = GzipFingerprint {
        len: u64::from_le_bytes(len),
        head: 0,
        tail: 0,
    };
    if let Ok(index) = gzidx::import(data, &print) {
        let _ = IndexFile::from_bytes(&index.to_bytes(), &print);
        let _ = gzidx::export(&index);
    }
}

/// numpy `.npy` headers (the literal parser), and a whole `.npy` read from the bytes.
pub fn npy(data: &[u8]) {
    let _ = crate::numpy::npy::npy_header_len(data);
    if let Ok(header) = crate::numpy::npy::parse_npy_header(data) {
        let _ = header.element_count();
        let _ = header.data_len();
    }
    if let Ok(header) = crate::numpy::npy::read_npy_header(&mut &data[..]) {
        let _ = crate::numpy::npy::check_data_len(&header, data.len() as u64);
        let _ = header.dtype.descr();
    }
    let _ = crate::numpy::npy::read_npy_dyn(&mut &data[..]);
}

/// numpy `.npz` archives: the member list, each member's header, and its array.
pub fn npz(data: &[u8]) {
    let Some((_dir, path)) = temp_file("input.npz", data) else {
        return;
    };
    let Ok(archive) = crate::numpy::npz::NpzArchive::open(&path) else {
        return;
    };
    let names: Vec<String> = archive.names().iter().map(|n| n.to_string()).collect();
    for name in names.iter().take(8) {
        let _ = archive.is_npy(name);
        let _ = archive.header(name);
        let _ = archive.load_dyn(name);
        let _ = archive.map_member(name, crate::numpy::memmap::MapMode::Read);
    }
}

/// A small NIfTI-1 image (4 × 5 × 6 int16) that selections are read from.
fn selection_image() -> Option<ArrayProxy> {
    let mut header = Header::new(ImageFormat::Nifti1, ByteOrder::Little);
    header.set_data_shape(&[4, 5, 6]).ok()?;
    header.set_data_dtype(crate::DataType::Int16).ok()?;
    let mut bytes = header.to_prefix_bytes().ok()?;
    bytes.extend((0..120u16).flat_map(|v| v.to_le_bytes()));
    let spec = ArraySpec::from_header(&header).ok()?;
    Some(ArrayProxy::from_source(
        Arc::new(MemorySource::new(bytes)),
        spec,
    ))
}

/// The Python-syntax selection parser: a key that parses must print as text that parses
/// back to it (documented on `Selection`'s `FromStr`), and is then planned and read against
/// a small image and checked against a few shapes.
pub fn selection(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(selection) = text.parse::<Selection>() else {
        return;
    };
    let printed = selection.to_string();
    let back = printed.parse::<Selection>();
    assert!(
        back.as_ref().is_ok_and(|b| *b == selection),
        "{text:?} parses to {selection:?}, printed {printed:?}, which parses to {back:?}"
    );
    for shape in [
        &[][..],
        &[0][..],
        &[3][..],
        &[4, 5, 6][..],
        &[2, 1, 3, 1, 2][..],
    ] {
        let _ = selection.canonicalize(shape);
        let _ = selection.output_shape(shape);
        let _ = selection.is_full(shape);
    }
    if let Some(proxy) = selection_image() {
        let _ = proxy.read(&selection);
    }
}

/// Exercises a loaded image: header, affine, a few slices, the full data and float data.
fn exercise_image(mut image: Image) {
    exercise_header(image.header());
    let _ = image.affine();
    for key in KEYS {
        if let Ok(selection) = key.parse::<Selection>() {
            let _ = image.dataobj().read(&selection);
            let _ = image.slicer(&selection);
        }
    }
    let _ = image.get_fdata(Caching::Unchanged);
    let _ = image.get_data(Caching::Unchanged);
}

/// A whole single-file image from memory (`Image::from_bytes`): compression detected by
/// content (gzip, bzip2, zstd), format detected (NIfTI-1, NIfTI-2, MGH), header parsed, a
/// proxy over the bytes, slices and full reads.
pub fn image_bytes(data: &[u8]) {
    // Bytes in memory are inflated whole by design; the cap a caller with untrusted bytes
    // sets keeps a bzip2 bomb inside the campaign's memory limit.
    let limits = crate::Limits {
        max_inflated_bytes: 64 << 20,
        ..crate::Limits::default()
    };
    if let Ok(image) = Image::from_bytes_with(data.to_vec(), &limits) {
        exercise_image(image);
    }
}

/// A whole image loaded from a file (`neurovox::load`), the way a user opens one: the first
/// byte picks the file name (`.nii`, `.nii.gz`, `.mgh`, `.mgz`), the rest is the file. This
/// goes through content detection, the gzip source and the memory map where `from_bytes`
/// does not.
pub fn image_file(data: &[u8]) {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let name = ["image.nii", "image.nii.gz", "image.mgh", "image.mgz"][pick as usize % 4];
    let Some((_dir, path)) = temp_file(name, bytes) else {
        return;
    };
    if let Ok(image) = crate::load(&path) {
        exercise_image(image);
    }
    let _ = crate::image::file_map::read_header(&path);
}

/// A two-file image (Analyze, SPM99, SPM2, NIfTI-1 or NIfTI-2 pair) from memory: the first
/// byte picks the format, the next two (little-endian, modulo what is left) where the
/// header file ends and the image file starts. The header is parsed and a proxy built over
/// the image bytes, as a load builds it.
pub fn image_pair(data: &[u8]) {
    let Some((pick, hdr, img)) = split_pair(data) else {
        return;
    };
    let format = [
        ImageFormat::Analyze,
        ImageFormat::Spm99,
        ImageFormat::Spm2,
        ImageFormat::Nifti1Pair,
        ImageFormat::Nifti2Pair,
    ][pick as usize % 5];
    let _ = pair_proxy(format, hdr, img).map(|proxy| exercise_proxy(&proxy));
}

/// The format pick, the header bytes and the image bytes of an `image_pair` input.
fn split_pair(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&pick, rest) = data.split_first()?;
    let split = u16::from_le_bytes([*rest.first()?, *rest.get(1)?]) as usize;
    let rest = &rest[2..];
    let at = if rest.is_empty() {
        0
    } else {
        split % (rest.len() + 1)
    };
    let (hdr, img) = rest.split_at(at);
    Some((pick, hdr, img))
}

fn pair_proxy(format: ImageFormat, hdr: &[u8], img: &[u8]) -> Result<ArrayProxy> {
    let header = Header::parse(format, hdr)?;
    exercise_header(&header);
    let spec = ArraySpec::from_header(&header)?;
    let source: Arc<dyn Source> = Arc::new(MemorySource::new(img.to_vec()));
    Ok(ArrayProxy::from_source(source, spec))
}

/// An AFNI dataset from memory: the first byte is unused (kept so inputs share
/// `image_pair`'s layout), the next two (little-endian, modulo what is left) where the
/// `.HEAD` text ends and the `.BRIK` bytes start. The attributes are parsed and a proxy
/// built over the data, as a load builds it.
pub fn afni_dataset(data: &[u8]) {
    let Some((_, head, brik)) = split_pair(data) else {
        return;
    };
    let _ = pair_proxy(ImageFormat::Afni, head, brik).map(|proxy| exercise_proxy(&proxy));
    if let Ok(afni) = crate::format::AfniHeader::parse(head) {
        let _ = afni.data_scaling();
        let _ = afni.volume_labels();
        let _ = afni.space();
        let _ = afni.affine();
    }
}

/// A PAR/REC recording from memory: bits 0, 1 and 2 of the first byte ask for
/// `permit_truncated`, `strict_sort` and `fp` scaling; the next two (little-endian, modulo
/// what is left) say where the `.PAR` text ends and the `.REC` bytes start. The `.PAR` is
/// parsed under those options, every derived value asked for, a proxy built over the slices
/// as a load builds it, and the recording converted as `parrec2nii` converts it.
pub fn parrec_recording(data: &[u8]) {
    use crate::format::parrec::{AffineOrigin, ParrecHeader, ParrecOptions, ParrecScaling};
    let Some((pick, par, rec)) = split_pair(data) else {
        return;
    };
    let options = ParrecOptions {
        permit_truncated: pick & 1 != 0,
        strict_sort: pick & 2 != 0,
        scaling: if pick & 4 != 0 {
            ParrecScaling::Fp
        } else {
            ParrecScaling::Dv
        },
    };
    let Ok(header) = ParrecHeader::parse_with(par, options) else {
        return;
    };
    let _ = header.affine_from(AffineOrigin::Fov);
    let _ = header.volume_labels();
    let _ = header.bvals_bvecs();
    let _ = header.data_scaling(ParrecScaling::Fp);
    let _ = header.slice_ranges();
    let _ = header.rec_nbytes();
    let _ = header.nifti_descrip();
    let header = Header::Parrec(header);
    exercise_header(&header);
    let Ok(spec) = ArraySpec::from_header(&header) else {
        return;
    };
    let source: Arc<dyn Source> = Arc::new(MemorySource::new(rec.to_vec()));
    let proxy = ArrayProxy::from_source(source, spec);
    exercise_proxy(&proxy);
    let affine = header.best_affine().ok();
    let dataobj = crate::image::DataObj::Proxy(proxy);
    if let Ok(image) =
        crate::image::Image::from_dataobj(dataobj, affine, Some(&header), ImageFormat::Parrec)
    {
        let _ = crate::image::parrec_to_nifti(&image, &Default::default());
    }
}

/// An ECAT7 file from memory: the header (main header, matrix list, subheaders, each block
/// read where the matrix list points) and a proxy over the frames, as a load builds it.
pub fn ecat_image(data: &[u8]) {
    let Ok(header) = crate::format::EcatHeader::parse(data) else {
        return;
    };
    let _ = header.frame_order();
    let _ = header.frame_scale_factors();
    let _ = header.flipped_axes();
    let header = Header::Ecat(header);
    exercise_header(&header);
    if let Ok(spec) = ArraySpec::from_header(&header) {
        let source: Arc<dyn Source> = Arc::new(MemorySource::new(data.to_vec()));
        exercise_proxy(&ArrayProxy::from_source(source, spec));
    }
}

/// A MINC1 (netCDF) or MINC2 (HDF5) file: `MincHeader::read` (the netCDF header or the HDF5
/// superblock, object headers, B-trees and heaps it follows, the scaling variables), the
/// affine and scaling, `ArraySpec::from_header`, and reads of the image: MINC1 bytes at the
/// variable's offset, MINC2 chunks found and inflated by `Hdf5DatasetSource`.
pub fn minc_file(data: &[u8]) {
    let storage = crate::format::minc::BytesStorage::new(data.to_vec());
    let Ok(header) = crate::format::MincHeader::read(Arc::new(storage)) else {
        return;
    };
    let _ = header.affine();
    let _ = header.data_scaling();
    let header = Header::Minc(header);
    exercise_header(&header);
    if let Ok(spec) = ArraySpec::from_header(&header) {
        let source: Arc<dyn Source> = Arc::new(MemorySource::new(data.to_vec()));
        exercise_proxy(&ArrayProxy::from_source(source, spec));
    }
}

/// An ECAT7 file of two 2×2×2 int16 frames (values 0..8 and 10..18, scale factors 0.5 and
/// 1.5, calibration 2) for seeds and tests: two frames with ids `ids` (stored order), written block by block:
/// main header, one matrix-list block, then each frame's subheader and data block.
pub fn ecat_two_frames(order: ByteOrder, ids: [i32; 2], orientation: i64) -> Vec<u8> {
    let mut main = crate::format::EcatHeader::empty(order).main().clone();
    main.set("num_frames", crate::format::FieldValue::Int(2))
        .expect("the fields exist and the values fit");
    main.set(
        "patient_orientation",
        crate::format::FieldValue::Int(orientation),
    )
    .expect("the fields exist and the values fit");
    main.set(
        "ecat_calibration_factor",
        crate::format::FieldValue::Float(2.0),
    )
    .expect("the fields exist and the values fit");
    let mut file = main.bytes().to_vec();
    let int = |v: i32| match order {
        ByteOrder::Big => v.to_be_bytes(),
        ByteOrder::Little => v.to_le_bytes(),
    };
    let mut mlist = Vec::new();
    for row in [[29, 2, 0, 2], [ids[0], 3, 4, 1], [ids[1], 5, 6, 1]] {
        row.iter().for_each(|&v| mlist.extend_from_slice(&int(v)));
    }
    mlist.resize(512, 0);
    file.extend_from_slice(&mlist);
    for frame in 0..2i16 {
        let mut sub = crate::format::fields::RawStruct::from_bytes(
            &crate::format::ecat::ECAT_SUBHEADER_LAYOUT,
            &[0; 510],
            order,
        )
        .expect("the fields exist and the values fit");
        for (name, value) in [
            ("data_type", crate::format::FieldValue::Int(6)),
            ("x_dimension", crate::format::FieldValue::Int(2)),
            ("y_dimension", crate::format::FieldValue::Int(2)),
            ("z_dimension", crate::format::FieldValue::Int(2)),
            (
                "scale_factor",
                crate::format::FieldValue::Float(0.5 + f64::from(frame)),
            ),
            ("x_pixel_size", crate::format::FieldValue::Float(0.25)),
            ("y_pixel_size", crate::format::FieldValue::Float(0.25)),
            ("z_pixel_size", crate::format::FieldValue::Float(0.5)),
            ("x_offset", crate::format::FieldValue::Float(1.0)),
        ] {
            sub.set(name, value)
                .expect("the fields exist and the values fit");
        }
        let mut block = sub.bytes().to_vec();
        block.resize(512, 0);
        file.extend_from_slice(&block);
        let mut data = Vec::new();
        for v in 0..8i16 {
            let v = v + 10 * frame;
            data.extend_from_slice(&match order {
                ByteOrder::Big => v.to_be_bytes(),
                ByteOrder::Little => v.to_le_bytes(),
            });
        }
        data.resize(512, 0);
        file.extend_from_slice(&data);
    }
    file
}

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target by name, as the regression replay finds them by directory name.
pub const TARGETS: [(&str, Target); 19] = [
    ("nifti1_header", nifti1_header),
    ("nifti2_header", nifti2_header),
    ("analyze_header", analyze_header),
    ("mgh_header", mgh_header),
    ("afni_dataset", afni_dataset),
    ("ecat_image", ecat_image),
    ("parrec_recording", parrec_recording),
    ("minc_file", minc_file),
    ("nifti_extensions", nifti_extensions),
    ("spm_mat", spm_mat),
    ("gzip_source", gzip_source),
    ("gzip_index", gzip_index),
    ("gzidx_import", gzidx_import),
    ("npy", npy),
    ("npz", npz),
    ("selection", selection),
    ("image_bytes", image_bytes),
    ("image_file", image_file),
    ("image_pair", image_pair),
];

/// A V4.2 `.PAR` of `n_slices` 4×3 uint16 transverse slices in each of `n_vols` dynamics, for
/// seeds and tests: listed volume by volume, line `k` with rescale slope `1 + k`, rescale
/// intercept `k` and scale slope 0.5, 2 mm pixels, 3 mm slices and a 1 mm gap, a TR of 2 s,
/// a 10° angulation about AP. Its `.REC` is `4 × 3 × 2` bytes per line
/// ([`par_rec_example`]).
pub fn par_example(n_slices: usize, n_vols: usize) -> String {
    let mut par = String::from(
        "# === DATA DESCRIPTION FILE ======================================================\n\
         #\n\
         # CLINICAL TRYOUT             Research image export tool     V4.2\n\
         #\n\
         # === GENERAL INFORMATION ========================================================\n\
         #\n",
    );
    let general = [
        ("Patient name", "neurovox".to_owned()),
        ("Examination name", "example".to_owned()),
        ("Protocol name", "EPI fake".to_owned()),
        ("Examination date/time", "2026.12.06 / 16:00:00".to_owned()),
        ("Series Type", "Image   MRSERIES".to_owned()),
        ("Max. number of cardiac phases", "1".to_owned()),
        ("Max. number of echoes", "1".to_owned()),
        ("Max. number of slices/locations", n_slices.to_string()),
        ("Max. number of dynamics", n_vols.to_string()),
        ("Scan resolution  (x, y)", "4  3".to_owned()),
        ("Repetition time [ms]", "2000.000".to_owned()),
        ("FOV (ap,fh,rl) [mm]", "8.000  9.000  6.000".to_owned()),
        ("Water Fat shift [pixels]", "11.050".to_owned()),
        (
            "Angulation midslice(ap,fh,rl)[degr]",
            "10.000  0.000  0.000".to_owned(),
        ),
        (
            "Off Centre midslice(ap,fh,rl) [mm]",
            "2.500  30.000  -16.000".to_owned(),
        ),
        ("EPI factor        <0,1=no EPI>", "39".to_owned()),
        (
            "Dynamic scan      <0=no 1=yes> ?",
            u8::from(n_vols > 1).to_string(),
        ),
        ("Diffusion         <0=no 1=yes> ?", "0".to_owned()),
        ("Max. number of diffusion values", "1".to_owned()),
        ("Max. number of gradient orients", "1".to_owned()),
        ("Number of label types   <0=no ASL>", "0".to_owned()),
    ];
    for (key, value) in general {
        par.push_str(&format!(".    {key:<35}:   {value}\n"));
    }
    par.push_str(
        "#\n# === IMAGE INFORMATION ==========================================================\n\
         #  sl ec  dyn ph ty    idx pix scan% rec size ...\n\n",
    );
    let mut line = 0usize;
    for vol in 0..n_vols {
        for slice in 0..n_slices {
            par.push_str(&format!(
                "{} 1 {} 1 0 2 {line} 16 100 4 3 {line}.0 {}.0 0.5 100 200 10.0 0.0 0.0 2.5 30.0 \
                 -16.0 3.0 1.0 0 1 0 2 2.0 2.0 30.0 0.0 0.0 0.0 1 90.0 0 0 0 39 0.0 1 1 0 0 \
                 0.0 0.0 0.0 1\n",
                slice + 1,
                vol + 1,
                1 + line,
            ));
            line += 1;
        }
    }
    par.push_str(
        "\n# === END OF DATA DESCRIPTION FILE ===============================================\n",
    );
    par
}

/// The `.REC` of [`par_example`]: value `k` (uint16, little-endian) at element `k`.
pub fn par_rec_example(n_slices: usize, n_vols: usize) -> Vec<u8> {
    (0..(4 * 3 * n_slices * n_vols) as u16)
        .flat_map(u16::to_le_bytes)
        .collect()
}
