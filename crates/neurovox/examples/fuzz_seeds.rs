//! Writes the seed corpora of the fuzz targets (`fuzz/seed.sh` runs it).
//!
//! Usage: `fuzz_seeds CORPUS_DIR [ORACLE_DIR]`. Fills `CORPUS_DIR/<target>/` with inputs in
//! the shape each target in `neurovox::fuzzing` takes (selector bytes included): files made
//! by our own writers, and, when `ORACLE_DIR` exists, the fixtures nibabel and numpy wrote
//! there (`tests/oracle/make_fixtures.py`). Nothing it writes is committed: the oracle
//! fixtures are third-party bytes, and everything here is cheap to make again.
//!
//! Seeds are small on purpose (at most [`MAX_SEED`] bytes): libFuzzer mutates short inputs
//! many times faster, and a header that declares more data than the seed holds is exactly
//! the case the targets exist to test.

use neurovox::format::{Extension, FieldValue};
use neurovox::image::Image;
use neurovox::io::GzipSource;
use neurovox::io::gzip::gzidx;
use neurovox::{ByteOrder, DataType, Header, ImageFormat, SaveOptions};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The largest seed kept: bigger oracle files are skipped.
const MAX_SEED: usize = 64 * 1024;
/// Oracle fixtures kept per target, spread evenly over the sorted list, so the smoke run
/// starts in seconds; the writer's own seeds are always kept.
const MAX_ORACLE_PER_TARGET: usize = 120;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Seeds per target, in memory until written.
#[derive(Default)]
struct Corpus {
    own: BTreeMap<&'static str, Vec<(String, Vec<u8>)>>,
    oracle: BTreeMap<&'static str, Vec<(String, Vec<u8>)>>,
}

impl Corpus {
    fn own(&mut self, target: &'static str, name: impl Into<String>, bytes: Vec<u8>) {
        self.own
            .entry(target)
            .or_default()
            .push((name.into(), bytes));
    }

    fn oracle(&mut self, target: &'static str, name: impl Into<String>, bytes: Vec<u8>) {
        if bytes.len() <= MAX_SEED {
            self.oracle
                .entry(target)
                .or_default()
                .push((name.into(), bytes));
        }
    }

    fn write(self, dir: &Path) -> Result<()> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (target, seeds) in self.own {
            let out = dir.join(target);
            std::fs::create_dir_all(&out)?;
            for (name, bytes) in seeds {
                std::fs::write(out.join(format!("own-{name}")), bytes)?;
                *counts.entry(target).or_default() += 1;
            }
        }
        for (target, mut seeds) in self.oracle {
            let out = dir.join(target);
            std::fs::create_dir_all(&out)?;
            seeds.sort_by(|a, b| a.0.cmp(&b.0));
            let step = seeds.len().div_ceil(MAX_ORACLE_PER_TARGET).max(1);
            for (name, bytes) in seeds.into_iter().step_by(step) {
                std::fs::write(out.join(format!("oracle-{name}")), bytes)?;
                *counts.entry(target).or_default() += 1;
            }
        }
        for (target, n) in counts {
            println!("{target}: {n} seeds");
        }
        Ok(())
    }
}

fn with_pick(pick: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![pick];
    out.extend_from_slice(bytes);
    out
}

/// The input of `image_pair`: format pick, split point, header bytes, image bytes.
fn pair_input(pick: u8, hdr: &[u8], img: &[u8]) -> Vec<u8> {
    let mut out = vec![pick];
    out.extend_from_slice(&(hdr.len() as u16).to_le_bytes());
    out.extend_from_slice(hdr);
    out.extend_from_slice(img);
    out
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(bytes)?;
    Ok(gz.finish()?)
}

/// Our index files (`.nvgzidx` and GZIDX) of a gzip file that has no member index.
fn index_seeds(corpus: &mut Corpus, name: &str, gz: &[u8], tmp: &Path) -> Result<()> {
    let path = tmp.join(format!("{name}.gz"));
    std::fs::write(&path, gz)?;
    let source = GzipSource::with_span_and_cache(&path, 1024, 0)?;
    let index = source.index_file()?;
    corpus.own("gzip_index", name, index.to_bytes());
    corpus.own("gzidx_import", name, gzidx::export(&index)?);
    Ok(())
}

/// Images of every format, dtype family and a few shapes, written by our own writer.
fn own_images(corpus: &mut Corpus, tmp: &Path) -> Result<()> {
    let shapes: [&[usize]; 4] = [&[3], &[4, 3], &[3, 4, 2], &[2, 3, 2, 2]];
    let dtypes = [
        DataType::UInt8,
        DataType::Int16,
        DataType::Float32,
        DataType::Float64,
        DataType::Complex64,
        DataType::Rgb24,
    ];
    for format in ImageFormat::WRITABLE {
        for (s, shape) in shapes.iter().enumerate() {
            for dtype in dtypes {
                for order in [ByteOrder::Little, ByteOrder::Big] {
                    let mut header = Header::new(format, order);
                    if header.set_data_shape(shape).is_err()
                        || header.set_data_dtype(dtype).is_err()
                    {
                        continue; // not every format stores every type
                    }
                    let Ok(prefix) = header.to_prefix_bytes() else {
                        continue;
                    };
                    let Ok(nbytes) = header.data_nbytes() else {
                        continue;
                    };
                    let data: Vec<u8> = (0..nbytes).map(|i| (i * 37 % 251) as u8).collect();
                    let name = format!("{}-{dtype:?}-{order:?}-{s}", format.nibabel_class());
                    let block = header.binary_block().to_vec();
                    match format {
                        ImageFormat::Nifti1 | ImageFormat::Nifti1Pair => {
                            corpus.own(
                                "nifti1_header",
                                &name,
                                with_pick(u8::from(format.is_pair()), &prefix),
                            );
                        }
                        ImageFormat::Nifti2 | ImageFormat::Nifti2Pair => {
                            corpus.own(
                                "nifti2_header",
                                &name,
                                with_pick(u8::from(format.is_pair()), &prefix),
                            );
                        }
                        ImageFormat::Analyze => {
                            corpus.own("analyze_header", &name, with_pick(0, &block))
                        }
                        ImageFormat::Spm99 => {
                            corpus.own("analyze_header", &name, with_pick(1, &block))
                        }
                        ImageFormat::Spm2 => {
                            corpus.own("analyze_header", &name, with_pick(2, &block))
                        }
                        ImageFormat::Mgh => corpus.own("mgh_header", &name, prefix.clone()),
                        // Read only: no header of ours to write (their seeds are made apart).
                        ImageFormat::Afni
                        | ImageFormat::Ecat
                        | ImageFormat::Parrec
                        | ImageFormat::Minc1
                        | ImageFormat::Minc2 => {}
                    }
                    if format.valid_exts()[0] == ".hdr" {
                        let pick = match format {
                            ImageFormat::Analyze => 0,
                            ImageFormat::Spm99 => 1,
                            ImageFormat::Spm2 => 2,
                            ImageFormat::Nifti1Pair => 3,
                            _ => 4,
                        };
                        corpus.own("image_pair", &name, pair_input(pick, &prefix, &data));
                        continue;
                    }
                    let mut whole = prefix;
                    whole.extend_from_slice(&data);
                    corpus.own("image_bytes", &name, whole.clone());
                    let pick = if format == ImageFormat::Mgh { 2 } else { 0 };
                    corpus.own("image_file", &name, with_pick(pick, &whole));
                    if s == 2 {
                        // One compressed copy per dtype: gzip by flate2 (no member index) for
                        // the gzip targets, and by our own writer (with one) via a save.
                        let gz = gzip(&whole)?;
                        corpus.own("image_bytes", format!("{name}.gz"), gz.clone());
                        corpus.own("image_file", format!("{name}.gz"), with_pick(pick + 1, &gz));
                        corpus.own("gzip_source", format!("{name}.flate2"), gz.clone());
                        index_seeds(corpus, &name, &gz, tmp)?;
                        let data = ndarray::Array::from_shape_fn((3, 4, 2), |(i, j, k)| {
                            (i * 8 + j * 2 + k) as f32
                        })
                        .into_dyn();
                        let mut image = Image::from_array(data, None, format)?;
                        let suffix = if format == ImageFormat::Mgh {
                            "mgz"
                        } else {
                            "nii.gz"
                        };
                        let path = tmp.join(format!("{name}.{suffix}"));
                        image.to_filename(&path, SaveOptions::default())?;
                        let saved = std::fs::read(&path)?;
                        corpus.own("gzip_source", format!("{name}.neurovox"), saved.clone());
                        corpus.own(
                            "image_file",
                            format!("{name}.neurovox"),
                            with_pick(pick + 1, &saved),
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

/// NIfTI extensions and MGH tags.
fn own_extensions(corpus: &mut Corpus) -> Result<()> {
    for order in [ByteOrder::Little, ByteOrder::Big] {
        let mut header = Header::new(ImageFormat::Nifti1, order);
        header.set_data_shape(&[2, 2])?;
        if let Header::Nifti(nifti) = &mut header {
            nifti
                .extensions_mut()
                .push(Extension::new(6, b"a comment".to_vec()));
            nifti.extensions_mut().push(Extension::new(32, vec![7; 40]));
        }
        header.set("descrip", FieldValue::Bytes(b"with extensions".to_vec()))?;
        let prefix = header.to_prefix_bytes()?;
        let pick = u8::from(order == ByteOrder::Big);
        corpus.own(
            "nifti1_header",
            format!("ext-{order:?}"),
            with_pick(0, &prefix),
        );
        // Records start after the 348-byte header and the 4-byte flag.
        let records = &prefix[352..];
        corpus.own(
            "nifti_extensions",
            format!("single-{order:?}"),
            with_pick(pick, records),
        );
        corpus.own(
            "nifti_extensions",
            format!("pair-{order:?}"),
            with_pick(pick | 2, records),
        );
        let mut image = prefix;
        image.extend_from_slice(&[1, 2, 3, 4]);
        corpus.own("image_bytes", format!("ext-{order:?}"), image);
    }
    let mut tags = Vec::new();
    for (code, data) in [
        (3i32, &b"mri_convert in.nii out.mgz"[..]),
        (1, b"xform.lta"),
    ] {
        tags.extend_from_slice(&code.to_be_bytes());
        tags.extend_from_slice(&(data.len() as i64).to_be_bytes());
        tags.extend_from_slice(data);
    }
    let mut header = Header::new(ImageFormat::Mgh, ByteOrder::Big);
    header.set_data_shape(&[2, 2, 1])?;
    if let Header::Mgh(mgh) = &mut header {
        mgh.set_tag_bytes(tags.clone());
    }
    let mut whole = header.to_prefix_bytes()?;
    whole.extend_from_slice(&[0; 16]);
    if let Header::Mgh(mgh) = &header {
        whole.extend_from_slice(mgh.footer_bytes());
        whole.extend_from_slice(mgh.tag_bytes());
    }
    corpus.own("mgh_header", "tags-only", tags);
    corpus.own("mgh_header", "with-tags", whole.clone());
    corpus.own("image_bytes", "mgh-with-tags", whole);
    Ok(())
}

/// `.npy` and `.npz` files from our writers.
fn own_numpy(corpus: &mut Corpus, tmp: &Path) -> Result<()> {
    let mut npy = Vec::new();
    neurovox::numpy::npy::write_npy(&mut npy, &ndarray::array![[1i16, 2, 3], [4, 5, 6]])?;
    corpus.own("npy", "i16-2x3", npy);
    let mut npy = Vec::new();
    neurovox::numpy::npy::write_npy(&mut npy, &ndarray::array![1.5f64, -2.0])?;
    corpus.own("npy", "f64-2", npy);
    let a = ndarray::array![[1u8, 2], [3, 4]];
    let b = ndarray::array![0.5f32, 1.5, 2.5];
    for (name, compressed) in [("stored", false), ("deflated", true)] {
        let path = tmp.join(format!("{name}.npz"));
        let arrays: [(&str, &dyn neurovox::numpy::npy::NpyWritable); 2] = [("a", &a), ("b", &b)];
        if compressed {
            neurovox::numpy::npz::savez_compressed(&path, &arrays)?;
        } else {
            neurovox::numpy::npz::savez(&path, &arrays)?;
        }
        corpus.own("npz", name, std::fs::read(&path)?);
    }
    Ok(())
}

/// Selections as people write them.
fn own_selections(corpus: &mut Corpus) {
    let keys = [
        "",
        "()",
        "0",
        "-1",
        ":",
        "::2",
        "1:3",
        "-1::-1",
        "::-2, None",
        "..., 0",
        "(3,)",
        "0, :, 1:5:2",
        "None, ..., None",
        "Ellipsis",
        "newaxis, 1",
        ":, ::0",
        "1:None:None",
        "2, 3, 4",
        "-100:100",
        "...,...",
    ];
    for (i, key) in keys.iter().enumerate() {
        corpus.own("selection", format!("key-{i}"), key.as_bytes().to_vec());
    }
}

/// The `.mat` sidecar and the image it belongs to.
fn own_mat(corpus: &mut Corpus) {
    let affine = [
        [2.0, 0.0, 0.0, -10.0],
        [0.0, 2.0, 0.0, -12.0],
        [0.0, 0.0, 3.0, 5.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    corpus.own(
        "spm_mat",
        "affine",
        neurovox::format::spm_mat::mat_file_bytes(&affine),
    );
}

/// AFNI datasets (no writer of ours makes them): a `.HEAD` of every `BRICK_TYPES` code, both
/// byte orders, with and without per-sub-brick factors and a stored matrix, each followed by
/// its `.BRIK` bytes (the `afni_dataset` input: a pick byte, the split, the head, the data).
fn own_afni(corpus: &mut Corpus) {
    let attr = |kind: &str, name: &str, values: &str| {
        let count = values.split_whitespace().count();
        format!("type = {kind}-attribute\nname = {name}\ncount = {count}\n {values}\n")
    };
    for (code, itemsize) in [(0u8, 1usize), (1, 2), (2, 4), (3, 4), (4, 8), (5, 8)] {
        for (order, facs, matrix) in [
            ("LSB_FIRST", Some("0.5 0 2"), true),
            ("MSB_FIRST", None, false),
        ] {
            let mut head = [
                attr("integer", "DATASET_RANK", "3 3 0 0 0 0 0 0"),
                attr("integer", "DATASET_DIMENSIONS", "2 3 4 0 0"),
                attr("integer", "BRICK_TYPES", &format!("{code} {code} {code}")),
                attr("float", "DELTA", "2 -2.5 3"),
                attr("float", "ORIGIN", "10 20.5 -30"),
                attr("integer", "ORIENT_SPECIFIC", "0 3 4"),
                attr("float", "TAXIS_FLOATS", "0 2.5 0 0 0"),
                "type = string-attribute\nname = BRICK_LABS\ncount = 9\n'a~b~c~\n".to_owned(),
                format!(
                    "type = string-attribute\nname = BYTEORDER_STRING\ncount = 10\n'{order}~\n"
                ),
            ]
            .join("\n");
            if let Some(facs) = facs {
                head.push('\n');
                head.push_str(&attr("float", "BRICK_FLOAT_FACS", facs));
            }
            if matrix {
                head.push('\n');
                head.push_str(&attr(
                    "float",
                    "IJK_TO_DICOM_REAL",
                    "2 0 0 10 0 -2.5 0 20.5 0 0 3 -30",
                ));
            }
            let data: Vec<u8> = (0..2 * 3 * 4 * 3 * itemsize)
                .map(|i| (i * 37 % 251) as u8)
                .collect();
            let split = u16::try_from(head.len()).unwrap_or(u16::MAX).to_le_bytes();
            let mut input = vec![0, split[0], split[1]];
            input.extend_from_slice(head.as_bytes());
            input.extend_from_slice(&data);
            corpus.own("afni_dataset", format!("afni-type{code}-{order}"), input);
        }
    }
}

/// ECAT7 files (no writer of ours makes them): two int16 frames of 2×2×2 in either byte order,
/// stored in and out of id order, with and without an orientation flip.
fn own_ecat(corpus: &mut Corpus) -> Result<()> {
    for order in [ByteOrder::Big, ByteOrder::Little] {
        for (orientation, ids) in [(8i64, [1i32, 2]), (3, [2, 1])] {
            corpus.own(
                "ecat_image",
                format!("ecat-{order:?}-orient{orientation}"),
                neurovox::fuzzing::ecat_two_frames(order, ids, orientation),
            );
        }
    }
    Ok(())
}

/// PAR/REC recordings: one and several volumes, the lines in file order and reversed (so
/// the slices are read in pieces), under every combination of the load options.
fn own_parrec(corpus: &mut Corpus) {
    for (slices, volumes) in [(3usize, 2usize), (2, 1), (1, 3)] {
        let par = neurovox::fuzzing::par_example(slices, volumes);
        let rec = neurovox::fuzzing::par_rec_example(slices, volumes);
        let (head, lines) = par.split_at(par.find("\n\n").map_or(par.len(), |i| i + 2));
        let mut reversed: Vec<&str> = lines.lines().collect();
        let tail = reversed.pop().unwrap_or_default();
        reversed.reverse();
        let reversed = format!("{head}{}\n{tail}\n", reversed.join("\n"));
        for (order, text) in [("file", &par), ("reversed", &reversed)] {
            for pick in [0u8, 3, 4] {
                let split = u16::try_from(text.len()).unwrap_or(u16::MAX).to_le_bytes();
                let mut input = vec![pick, split[0], split[1]];
                input.extend_from_slice(text.as_bytes());
                input.extend_from_slice(&rec);
                corpus.own(
                    "parrec_recording",
                    format!("par-{slices}x{volumes}-{order}-{pick}"),
                    input,
                );
            }
        }
    }
}

/// The oracle fixtures, by what the bytes are (detected the way loads detect them).
fn oracle(corpus: &mut Corpus, dir: &Path) -> Result<()> {
    let mut files: Vec<PathBuf> = Vec::new();
    for sub in ["matrix", "arrays", "minc", ""] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if bytes.len() > MAX_SEED {
            continue;
        }
        let plain = if bytes.starts_with(&[0x1f, 0x8b]) {
            corpus.oracle("gzip_source", name.clone(), bytes.clone());
            let mut out = Vec::new();
            let mut gz = flate2::read::MultiGzDecoder::new(&bytes[..]);
            if std::io::Read::read_to_end(&mut gz, &mut out).is_err() {
                continue;
            }
            out
        } else {
            bytes.clone()
        };
        if name.ends_with(".npy") {
            corpus.oracle("npy", name, plain);
            continue;
        }
        if name.ends_with(".npz") {
            corpus.oracle("npz", name, plain);
            continue;
        }
        if name.ends_with(".mat") {
            corpus.oracle("spm_mat", name, plain);
            continue;
        }
        let is_pair_header = name.contains(".hdr");
        let format = neurovox::image::detect_format(&plain, None);
        match format {
            Some(f @ (ImageFormat::Nifti1 | ImageFormat::Nifti1Pair)) => {
                corpus.oracle(
                    "nifti1_header",
                    name.clone(),
                    with_pick(u8::from(f.is_pair()), &plain),
                );
                if plain.len() > 352 {
                    corpus.oracle(
                        "nifti_extensions",
                        name.clone(),
                        with_pick(u8::from(f.is_pair()) << 1, &plain[352..]),
                    );
                }
            }
            Some(f @ (ImageFormat::Nifti2 | ImageFormat::Nifti2Pair)) => {
                corpus.oracle(
                    "nifti2_header",
                    name.clone(),
                    with_pick(u8::from(f.is_pair()), &plain),
                );
            }
            Some(ImageFormat::Mgh) => corpus.oracle("mgh_header", name.clone(), plain.clone()),
            Some(ImageFormat::Ecat) => corpus.oracle("ecat_image", name.clone(), plain.clone()),
            Some(ImageFormat::Parrec) => {
                // The whole .PAR, no slices: the split points past the end.
                let split = u16::try_from(plain.len()).unwrap_or(u16::MAX).to_le_bytes();
                let mut input = vec![0, split[0], split[1]];
                input.extend_from_slice(&plain);
                corpus.oracle("parrec_recording", name.clone(), input);
            }
            Some(ImageFormat::Minc1 | ImageFormat::Minc2) => {
                corpus.oracle("minc_file", name.clone(), plain.clone())
            }
            Some(ImageFormat::Afni) => {
                // The whole .HEAD, no data: the split points past the end.
                let split = u16::try_from(plain.len()).unwrap_or(u16::MAX).to_le_bytes();
                let mut input = vec![0, split[0], split[1]];
                input.extend_from_slice(&plain);
                corpus.oracle("afni_dataset", name.clone(), input);
            }
            Some(ImageFormat::Analyze | ImageFormat::Spm99 | ImageFormat::Spm2) | None => {
                if is_pair_header {
                    let pick = if name.starts_with("spm99") {
                        1
                    } else if name.starts_with("spm2") {
                        2
                    } else {
                        0
                    };
                    corpus.oracle("analyze_header", name.clone(), with_pick(pick, &plain));
                }
            }
        }
        if is_pair_header {
            // Its image file is the sibling `.img` (compressed alike).
            let img_name = name.replacen(".hdr", ".img", 1);
            let img_path = path.with_file_name(&img_name);
            if let Ok(img) = std::fs::read(&img_path) {
                let img = if img.starts_with(&[0x1f, 0x8b]) {
                    let mut out = Vec::new();
                    let mut gz = flate2::read::MultiGzDecoder::new(&img[..]);
                    if std::io::Read::read_to_end(&mut gz, &mut out).is_err() {
                        continue;
                    }
                    out
                } else {
                    img
                };
                let pick = match format {
                    Some(ImageFormat::Nifti1Pair) => 3,
                    Some(ImageFormat::Nifti2Pair) => 4,
                    _ if name.starts_with("spm99") => 1,
                    _ if name.starts_with("spm2") => 2,
                    _ => 0,
                };
                corpus.oracle("image_pair", name.clone(), pair_input(pick, &plain, &img));
            }
        } else if matches!(
            format,
            Some(ImageFormat::Nifti1 | ImageFormat::Nifti2 | ImageFormat::Mgh)
        ) {
            corpus.oracle("image_bytes", name.clone(), bytes.clone());
            let gz = u8::from(bytes.starts_with(&[0x1f, 0x8b]));
            let pick = if format == Some(ImageFormat::Mgh) {
                2
            } else {
                0
            } + gz;
            corpus.oracle("image_file", name, with_pick(pick, &bytes));
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: fuzz_seeds CORPUS_DIR [ORACLE_DIR]")?,
    );
    let oracle_dir = args.next().map(PathBuf::from);
    let tmp = tempfile::tempdir()?;
    let mut corpus = Corpus::default();
    own_images(&mut corpus, tmp.path())?;
    own_extensions(&mut corpus)?;
    own_numpy(&mut corpus, tmp.path())?;
    own_selections(&mut corpus);
    own_mat(&mut corpus);
    own_afni(&mut corpus);
    own_ecat(&mut corpus)?;
    own_parrec(&mut corpus);
    match &oracle_dir {
        Some(dir) if dir.is_dir() => oracle(&mut corpus, dir)?,
        Some(dir) => println!(
            "no oracle fixtures at {} (seeds from our writer only)",
            dir.display()
        ),
        None => {}
    }
    corpus.write(&out)
}
