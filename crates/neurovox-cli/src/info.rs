//! `neurovox info FILE...`: one aligned summary line per image, with nibabel's `nib-ls`
//! columns — name, format (nibabel's class name), compression, dtype, shape, voxel sizes,
//! scaling, NIfTI extension count, sform/qform codes, and `sform` when the sform and qform
//! disagree.
//!
//! * `--header`: instead, every header field with its value, then what is derived from them
//!   (shape, dtype, zooms, data offset, scaling, best affine, NIfTI codes, units, intent and
//!   extensions, the MGH footer) and the problems nibabel's checks find (`crate::dump`).
//! * `--example`: writes four synthetic images (NIfTI-1 `.nii.gz`, NIfTI-2 `.nii`, Analyze
//!   `.hdr`/`.img`, MGH `.mgz`) to a new temporary directory and shows them the same way, a
//!   demonstration that needs no data (`crate::example`).
//!
//! Only headers are read (for MGH also the footer after the data), so this is fast on any
//! size of image. A file that cannot be read is reported on stderr as `FILE: error` and the
//! others are still shown; the exit status is then 1.

use crate::dump;
use crate::shown::Target;
use crate::table::{self, Cell};
use neurovox::format::NiftiHeader;
use neurovox::{ByteOrder, Header, HeaderInfo, StorageDtype};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What to print for each image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// One aligned line per image, like `nib-ls`.
    Summary,
    /// Every header field and the values derived from them.
    FullHeader,
}

/// Arguments of `neurovox info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image files (.nii, .nii.gz, .hdr/.img, .mgh, .mgz, .HEAD/.BRIK, .v, .PAR/.REC; also
    /// .bz2/.zst compressed).
    #[arg(value_name = "FILE", required_unless_present = "example")]
    files: Vec<PathBuf>,

    /// Print every header field and the values derived from them, instead of one line.
    #[arg(long)]
    header: bool,

    /// Write four synthetic example images to a new temporary directory and show those.
    #[arg(long, conflicts_with = "files")]
    example: bool,
}

/// Runs `neurovox info`; exit status 0 if every file was read (or every example image
/// written and read) and the report written, else 1.
pub fn run(args: &Args) -> u8 {
    let report = if args.header {
        Report::FullHeader
    } else {
        Report::Summary
    };
    let succeeded = if args.example {
        describe_examples(report)
    } else {
        let targets: Vec<Target> = args.files.iter().map(|f| Target::from_path(f)).collect();
        describe(&targets, report)
    };
    crate::exit_status(succeeded)
}

/// Writes the example images (`crate::example`), prints where, then reports on them.
/// Returns true if everything was written and read back.
fn describe_examples(report: Report) -> bool {
    match crate::example::write_examples() {
        Ok((dir, targets)) => {
            let intro = format!(
                "Wrote {} example images to {} (kept so you can look at them; delete it when done)\n",
                targets.len(),
                dir.display()
            );
            write_stdout(&intro) && describe(&targets, report)
        }
        Err(err) => {
            eprintln!("neurovox: cannot write the example images: {err}");
            false
        }
    }
}

/// Reads every target's header and prints the report to stdout; failures go to stderr.
/// Returns true if every file was read and the report was written.
pub fn describe(targets: &[Target], report: Report) -> bool {
    let mut all_read = true;
    let mut rows = Vec::new();
    let mut dumps = Vec::new();
    for target in targets {
        match neurovox::read_header(&target.path) {
            Ok(info) => match report {
                Report::Summary => rows.push(summary_row(&target.shown, &info)),
                Report::FullHeader => dumps.push(dump::header_dump(&target.shown, &info)),
            },
            Err(err) => {
                let message = failure_message(&target.shown, &target.path, &err);
                eprintln!("{}", crate::shown::text(&message));
                all_read = false;
            }
        }
    }
    let text = match report {
        Report::Summary => table::render(&rows),
        Report::FullHeader => dumps.join("\n"),
    };
    write_stdout(&text) && all_read
}

/// `FILE: error`; the error already names a file, so the name is only prefixed when the
/// error is about another file (the `.hdr` of a given `.img`) or about none.
pub fn failure_message(shown: &str, path: &Path, err: &neurovox::Error) -> String {
    if err.path() == Some(path) {
        err.to_string()
    } else {
        format!("{shown}: {err}")
    }
}

/// Writes to stdout; false (with a message unless the reader went away) if that fails.
pub fn write_stdout(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => true,
        Err(err) => {
            if err.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("neurovox: cannot write to stdout: {err}");
            }
            false
        }
    }
}

/// One line of the summary table: nib-ls's columns (file, dtype, shape, zooms, scaling,
/// extensions, `sform` when the sform and qform disagree) with the format and compression
/// after the file name and the NIfTI qform/sform codes before the last column.
///
/// The scaling is the file's `scl_slope`/`scl_inter`. nib-ls reads it from the loaded
/// image's header, where nibabel has already reset it to "unscaled", so nib-ls never
/// shows it; we show what the file says.
pub fn summary_row(shown: &str, info: &HeaderInfo) -> Vec<Cell> {
    let header = &info.header;
    let nifti = match header {
        Header::Nifti(h) => Some(h),
        _ => None,
    };
    vec![
        Cell::left(shown),
        Cell::left(info.format.nibabel_class()),
        Cell::centre(info.compression.label()),
        Cell::centre(
            header
                .data_dtype()
                .map_or_else(|_| "-".to_owned(), numpy_dtype_str),
        ),
        Cell::left(shape_text(header)),
        Cell::left(zooms_text(&header.zooms())),
        scaling_cell(header),
        nifti.map_or_else(Cell::empty, extensions_cell),
        nifti.map_or_else(Cell::empty, |h| Cell::left(xform_codes_text(h))),
        nifti.map_or_else(Cell::empty, sform_marker_cell),
    ]
}

/// numpy's `str(dtype)`, as nib-ls prints it: the type name in the machine's byte order
/// (or for one-byte types), else the type string with its byte order (`>i2`).
pub fn numpy_dtype_str(dtype: StorageDtype) -> String {
    let order_matters = dtype.dtype.component_size() > 1;
    if !order_matters || dtype.order == ByteOrder::NATIVE {
        dtype.dtype.name().to_owned()
    } else {
        dtype.numpy_str()
    }
}

/// `[ 64,  64,  30]`: each length at least three wide, as nib-ls's `%3g`; `[-]` if the
/// header's shape is invalid.
pub fn shape_text(header: &Header) -> String {
    match header.data_shape() {
        Ok(shape) => {
            let parts: Vec<String> = shape.iter().map(|n| format!("{n:>3}")).collect();
            format!("[{}]", parts.join(", "))
        }
        Err(_) => "[-]".to_owned(),
    }
}

/// `2.00x2.00x2.20`: the voxel sizes with two decimals.
pub fn zooms_text(zooms: &[f64]) -> String {
    let parts: Vec<String> = zooms.iter().map(|&z| table::format_fixed(z, 2)).collect();
    parts.join("x")
}

/// `*2+10` when the data is scaled by something other than `*1+0`; empty otherwise.
fn scaling_cell(header: &Header) -> Cell {
    match header.slope_inter() {
        Ok((None, None)) => Cell::empty(),
        Ok((slope, inter)) => {
            let (slope, inter) = (slope.unwrap_or(1.0), inter.unwrap_or(0.0));
            if (slope, inter) == (1.0, 0.0) {
                Cell::empty()
            } else {
                Cell::left(format!(
                    "*{}+{}",
                    table::format_g(slope, 3),
                    table::format_g(inter, 3)
                ))
            }
        }
        Err(_) => Cell::left("!error"),
    }
}

/// `#exts: 2` when the NIfTI header has extensions.
fn extensions_cell(header: &NiftiHeader) -> Cell {
    match header.extensions().len() {
        0 => Cell::empty(),
        n => Cell::left(format!("#exts: {n}")),
    }
}

/// `sform:4 qform:1`, the codes that decide which affine a reader uses.
pub fn xform_codes_text(header: &NiftiHeader) -> String {
    format!(
        "sform:{} qform:{}",
        header.sform_code(),
        header.qform_code()
    )
}

/// nib-ls's last column: `sform` when the image's position depends on which transform a
/// reader prefers, i.e. both codes are set and the matrices differ; `!error` when the qform
/// cannot be built. (nib-ls also marks files whose unused sform or qform differs.)
fn sform_marker_cell(header: &NiftiHeader) -> Cell {
    if header.sform_code() == 0 || header.qform_code() == 0 {
        return Cell::empty();
    }
    match header.qform() {
        Ok(qform) if qform != header.sform() => Cell::centre("sform"),
        Ok(_) => Cell::empty(),
        Err(_) => Cell::centre("!error"),
    }
}
