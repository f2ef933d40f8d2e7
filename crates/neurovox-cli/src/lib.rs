//! `neurovox`: look inside neuroimaging files (NIfTI-1, NIfTI-2, Analyze, SPM, MGH/MGZ,
//! plain or compressed) from the terminal, with the neurovox library that reads them the
//! way nibabel does.
//!
//! Subcommands:
//!
//! * `neurovox info FILE...` — one aligned line per file, with nibabel's `nib-ls` columns:
//!   name, format (nibabel's class name), compression, dtype, shape, voxel sizes, scaling,
//!   NIfTI extension count, sform/qform codes, and `sform` when the sform and qform disagree.
//!   Only headers are read. A file that cannot be read is reported on stderr as
//!   `FILE: error`; the other files are still shown and the exit code is 1.
//! * `neurovox info --header FILE...` — every header field with its value, then what is
//!   derived from them (shape, dtype, zooms, data offset, scaling, best affine, NIfTI codes,
//!   units, intent and extensions, the MGH footer) and the problems nibabel's checks find.
//! * `neurovox info --example` — writes four synthetic images (NIfTI-1 `.nii.gz`, NIfTI-2
//!   `.nii`, Analyze `.hdr`/`.img`, MGH `.mgz`) to a new temporary directory and shows them
//!   as `neurovox info` does: a demonstration that needs no data.
//! * `neurovox stats FILE...` — voxel count, NaN count, minimum, maximum, mean and standard
//!   deviation of the scaled (float64) values, one aligned line per file, streaming the data
//!   through the proxy a volume (or a ~64 MiB slab) at a time so memory stays flat; a
//!   progress bar on stderr when it is a terminal. Errors as for `info`.
//! * `neurovox slice FILE KEY -o OUT [--keep-axes]` — reads only the selection `KEY`
//!   (Python syntax: `'...,3'`, `':, 10:11, ::-1'`) and writes it as NIfTI-1 (`.nii`, or
//!   `.nii.gz`), float64 if the source is scaled, else the stored type, with the affine of
//!   the selection; keys that would move time among the spatial axes are refused unless
//!   `--keep-axes` keeps indexed spatial axes with length 1.
//! * `neurovox convert IN OUT [--dtype T] [--level N]` — re-saves an image in the format and
//!   compression of `OUT`'s name, atomically, and prints what it wrote
//!   (`out.mgz: MGH float32 [96, 96, 60] from in.nii`).
//! * `neurovox index FILE... [--cache] [--gzidx IDX | --from-gzidx IDX]` — builds the
//!   random-access index of `.gz` files other tools wrote and stores it next to each
//!   (`FILE.nvgzidx`) or in the per-user cache directory, where every later load finds it;
//!   exports it to, or imports it from, indexed_gzip's format.
//! * `neurovox recompress FILE... [--level N]` — rewrites `.gz` files other tools wrote as
//!   neurovox's indexed gzip, atomically, with the same bytes inside.
//! * `neurovox diff A B [--atol X] [--rtol Y] [--affine-atol Z] [--header-only | --values]
//!   [--all-fields]` — what differs between two images, most important first: a line saying
//!   whether the values are equal (or within the tolerance, with the largest difference and
//!   where), shape, data type and scaling, affine, header fields shared by name, extensions,
//!   and last the formats with a count of the fields only one has (`--all-fields` names
//!   them). `--values` compares only shape, affine and values, so a converted copy passes.
//!   A progress bar on stderr when it is a terminal. Exit status 0 if nothing compared
//!   differs, 1 if something does, 2 if a file cannot be read or the arguments are wrong.
//!
//! The command is this library's [`run`]: the `neurovox` binary calls it, and so does the
//! Python package (`neurovox._neurovox._cli_main`), whose wheel installs the same command as
//! a console script.

mod convert;
mod diff;
mod dump;
mod example;
mod index;
mod info;
mod recompress;
mod shown;
mod slice;
mod stats;
mod table;

use clap::{Args, Parser, Subcommand};
use info::{Report, Target};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

/// Inspect neuroimaging volumes (NIfTI, Analyze, MGH) the way nibabel reads them.
#[derive(Debug, Parser)]
#[command(name = "neurovox", version)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Summarise images, one line each (like nibabel's nib-ls), or dump their headers.
    Info(InfoArgs),
    /// Voxel count, NaN count, min, max, mean and standard deviation of the scaled values.
    Stats(StatsArgs),
    /// Write part of an image (a Python-style key such as '...,3') to a NIfTI-1 file.
    Slice(SliceArgs),
    /// Re-save an image in the format and compression of a new name, optionally as another type.
    Convert(ConvertArgs),
    /// Show what differs between two images, values and affine first (exit status 1 if anything).
    Diff(DiffArgs),
    /// Store the random-access index of .gz files other tools wrote, for every later load.
    Index(IndexArgs),
    /// Rewrite .gz files other tools wrote as neurovox's indexed gzip (same bytes inside).
    Recompress(RecompressArgs),
}

/// Arguments of `neurovox recompress`.
#[derive(Debug, Args)]
struct RecompressArgs {
    /// gzip-compressed files (.nii.gz, .mgz, ...), each replaced atomically.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// gzip level, 0-12 (libdeflate's scale; default 2).
    #[arg(long, value_name = "N")]
    level: Option<u32>,
}

/// Arguments of `neurovox index`.
#[derive(Debug, Args)]
struct IndexArgs {
    /// gzip-compressed files (.nii.gz, .mgz, ...).
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Store the indexes in the per-user cache directory instead of next to the files
    /// (for read-only datasets; NEUROVOX_GZIP_INDEX_DIR names another directory).
    #[arg(long)]
    cache: bool,
    /// Also write the index in indexed_gzip's format (GZIDX) to this file (one FILE only).
    #[arg(long, value_name = "IDX", conflicts_with = "from_gzidx")]
    gzidx: Option<PathBuf>,
    /// Build the index from this indexed_gzip index file instead of a pass over the data
    /// (one FILE only); it is checked by reading the file through it once.
    #[arg(long, value_name = "IDX")]
    from_gzidx: Option<PathBuf>,
}

/// Arguments of `neurovox diff`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 if nothing compared differs, 1 if something does, \
                        2 if a file cannot be read or the arguments are wrong."
)]
struct DiffArgs {
    /// The first image.
    #[arg(value_name = "A")]
    first: PathBuf,
    /// The second image.
    #[arg(value_name = "B")]
    second: PathBuf,
    /// Values within this absolute difference are equal (and affine entries, unless
    /// --affine-atol is given).
    #[arg(long, value_name = "X", default_value_t = 0.0)]
    atol: f64,
    /// Values within this fraction of the second image's value are equal (added to --atol).
    #[arg(long, value_name = "Y", default_value_t = 0.0)]
    rtol: f64,
    /// Affine entries within this absolute difference (mm) are equal [default: --atol].
    #[arg(long, value_name = "Z")]
    affine_atol: Option<f64>,
    /// Compare headers, affines and shapes only, not the values.
    #[arg(long, conflicts_with = "values")]
    header_only: bool,
    /// Compare only what the images show: shape, affine and scaled values (not the data
    /// type, scaling, format or other header fields).
    #[arg(long)]
    values: bool,
    /// Name the header fields only one image has (by default they are counted).
    #[arg(long, conflicts_with = "values")]
    all_fields: bool,
}

/// Arguments of `neurovox convert`.
#[derive(Debug, Args)]
struct ConvertArgs {
    /// The image to read.
    #[arg(value_name = "IN")]
    input: PathBuf,
    /// The file to write; its extension picks the format and compression.
    #[arg(value_name = "OUT")]
    output: PathBuf,
    /// Store the data as this type (e.g. int16, float32); float data to integers is scaled.
    #[arg(long, value_name = "T")]
    dtype: Option<String>,
    /// Compression level for .gz/.bz2/.zst output.
    #[arg(long, value_name = "N")]
    level: Option<u32>,
}

/// Arguments of `neurovox stats`.
#[derive(Debug, Args)]
struct StatsArgs {
    /// Image files (.nii, .nii.gz, .hdr/.img, .mgh, .mgz, also .bz2/.zst compressed).
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

/// Arguments of `neurovox slice`.
#[derive(Debug, Args)]
struct SliceArgs {
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

/// Arguments of `neurovox info`.
#[derive(Debug, Args)]
struct InfoArgs {
    /// Image files (.nii, .nii.gz, .hdr/.img, .mgh, .mgz, also .bz2/.zst compressed).
    #[arg(value_name = "FILE", required_unless_present = "example")]
    files: Vec<PathBuf>,

    /// Print every header field and the values derived from them, instead of one line.
    #[arg(long)]
    header: bool,

    /// Write four synthetic example images to a new temporary directory and show those.
    #[arg(long, conflicts_with = "files")]
    example: bool,
}

/// Runs the `neurovox` command with these arguments and returns its exit status.
///
/// `args` are what `std::env::args_os()` gives: the program name (shown in usage messages),
/// then the arguments. The status is 0 on success, 1 when a file could not be read or
/// written, 2 for a usage error (clap prints it with the usage; `--help` and `--version`
/// print to stdout and return 0), and `neurovox diff`'s own 0/1/2. It never exits the
/// process itself, so a host such as the Python interpreter decides how to exit.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let status = run_parsed(args);
    // Rust flushes its stdout buffer only when a Rust `main` returns; inside the Python
    // interpreter none does, so a last line without a newline would be lost.
    let _ = std::io::stdout().flush();
    status
}

/// Parses `args` as `Cli::parse` does, without its `process::exit`, and runs the subcommand.
fn run_parsed<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // What clap's `Error::exit` does before exiting: help and version go to stdout
            // with status 0, usage errors to stderr with status 2. A closed pipe is ignored.
            let _ = err.print();
            return u8::try_from(err.exit_code()).unwrap_or(2);
        }
    };
    let succeeded = match cli.command {
        Command::Info(args) => run_info(&args),
        Command::Stats(args) => stats::run(&args.files),
        Command::Index(args) => index::run(
            &args.files,
            &index::Options {
                cache: args.cache,
                gzidx: args.gzidx.as_deref(),
                from_gzidx: args.from_gzidx.as_deref(),
            },
        ),
        Command::Recompress(args) => recompress::run(&args.files, args.level),
        Command::Slice(args) => slice::run(&args.file, &args.key, &args.output, args.keep_axes),
        Command::Convert(args) => {
            convert::run(&args.input, &args.output, args.dtype.as_deref(), args.level)
        }
        Command::Diff(args) => {
            let scope = match (args.header_only, args.values) {
                (true, _) => diff::Scope::HeaderOnly,
                (false, true) => diff::Scope::ValuesOnly,
                (false, false) => diff::Scope::Everything,
            };
            let options = diff::Options {
                values: diff::Tolerance {
                    atol: args.atol,
                    rtol: args.rtol,
                },
                affine: diff::Tolerance {
                    atol: args.affine_atol.unwrap_or(args.atol),
                    rtol: args.rtol,
                },
                scope,
                all_fields: args.all_fields,
            };
            return diff::run(&args.first, &args.second, &options);
        }
    };
    if succeeded {
        0
    } else {
        1
    }
}

/// Runs `neurovox info`; true if every file was read.
fn run_info(args: &InfoArgs) -> bool {
    let report = if args.header {
        Report::FullHeader
    } else {
        Report::Summary
    };
    if args.example {
        example::run(report)
    } else {
        let targets: Vec<Target> = args.files.iter().map(|f| Target::from_path(f)).collect();
        info::run(&targets, report)
    }
}
