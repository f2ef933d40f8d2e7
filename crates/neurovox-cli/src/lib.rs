//! `neurovox`: look inside neuroimaging files (NIfTI-1, NIfTI-2, Analyze, SPM, MGH/MGZ,
//! plain or compressed; AFNI and ECAT7 read only) from the terminal, with the neurovox library
//! that reads them the way nibabel does.
//!
//! Subcommands, each a module (`src/NAME.rs`) with its arguments (`Args`, which clap reads,
//! with their help text), its `run` and, in its module docs, what it does:
//!
//! * `info` — `neurovox info FILE...`: one line per file, nibabel's `nib-ls` columns;
//!   `--header` dumps every header field (`dump`), `--example` shows synthetic images
//!   (`example`).
//! * `stats` — `neurovox stats FILE...`: voxel count, NaN count, min, max, mean and standard
//!   deviation of the scaled values, streamed.
//! * `slice` — `neurovox slice FILE KEY -o OUT [--keep-axes]`: writes a selection as NIfTI-1.
//! * `convert` — `neurovox convert IN OUT [--dtype T] [--level N]`: re-saves an image in
//!   the format of `OUT`'s name.
//! * `index` — `neurovox index FILE... [--cache] [--gzidx IDX | --from-gzidx IDX]`: stores
//!   the random-access index of `.gz` files other tools wrote.
//! * `recompress` — `neurovox recompress FILE... [--level N]`: rewrites such files as
//!   neurovox's indexed gzip.
//! * `diff` — `neurovox diff A B [...]`: what differs between two images (exit status 0
//!   same, 1 different, 2 unreadable or wrong arguments).
//!
//! Exit status: 0 on success, 1 when a file could not be read or written, 2 for a usage
//! error (clap's), and `neurovox diff`'s own 0/1/2.
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

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::io::Write;

/// Inspect neuroimaging volumes (NIfTI, Analyze, MGH; AFNI, ECAT7, PAR/REC read) the way nibabel
/// reads them.
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
    Info(info::Args),
    /// Voxel count, NaN count, min, max, mean and standard deviation of the scaled values.
    Stats(stats::Args),
    /// Write part of an image (a Python-style key such as '...,3') to a NIfTI-1 file.
    Slice(slice::Args),
    /// Re-save an image in the format and compression of a new name, optionally as another type.
    Convert(convert::Args),
    /// Show what differs between two images, values and affine first (exit status 1 if anything).
    Diff(diff::Args),
    /// Store the random-access index of .gz files other tools wrote, for every later load.
    Index(index::Args),
    /// Rewrite .gz files other tools wrote as neurovox's indexed gzip (same bytes inside).
    Recompress(recompress::Args),
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
    match cli.command {
        Command::Info(args) => info::run(&args),
        Command::Stats(args) => stats::run(&args),
        Command::Slice(args) => slice::run(&args),
        Command::Convert(args) => convert::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Index(args) => index::run(&args),
        Command::Recompress(args) => recompress::run(&args),
    }
}

/// The exit status of a subcommand that either succeeded (0) or did not (1: a file could not
/// be read or written, said on stderr).
fn exit_status(succeeded: bool) -> u8 {
    if succeeded { 0 } else { 1 }
}
