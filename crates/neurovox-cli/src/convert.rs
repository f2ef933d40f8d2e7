//! `neurovox convert IN OUT [--dtype T] [--level N]`: re-saves an image in the format and
//! compression its new name asks for (`.nii`, `.nii.gz`, `.hdr`/`.img`, `.mgh`, `.mgz`, with
//! `.bz2`/`.zst`), optionally as another stored type, through the library's atomic save.
//! A spinner on stderr shows the work is going on when stderr is a terminal; on success one
//! line on stdout says what was written, as `neurovox slice` does:
//! `out.mgz: MGH float32 [96, 96, 60] from in.nii`.

use neurovox::image::{save, SaveOptions};
use neurovox::DataType;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Arguments of `neurovox convert`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image to read.
    #[arg(value_name = "IN")]
    input: PathBuf,
    /// The file to write; its extension picks the format and compression.
    #[arg(value_name = "OUT")]
    output: PathBuf,
    /// Store the data as this type (e.g. int16, float32); float data to integers is scaled.
    #[arg(long, value_name = "T", value_parser = parse_dtype)]
    dtype: Option<DataType>,
    /// Compression level for .gz/.bz2/.zst output.
    #[arg(long, value_name = "N")]
    level: Option<u32>,
}

/// `--dtype`'s value parser: the names `DataType::from_name` accepts (numpy names, NIfTI
/// strings, numpy codes, `rgb`/`rgba`, any case). A name it does not know is a usage error
/// (exit status 2) that lists the accepted names.
fn parse_dtype(name: &str) -> Result<DataType, String> {
    DataType::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = DataType::ALL.iter().map(|t| t.name()).collect();
        format!(
            "unknown data type; accepted: {} (any case), or the NIfTI name \
             (NIFTI_TYPE_INT16), numpy code (i2, f4, u1) or rgb/rgba",
            names.join(", ")
        )
    })
}

/// What the written file holds, as read back from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The format's short name (`MGH`, `NIfTI-1`).
    pub format: &'static str,
    /// The stored data type.
    pub dtype: DataType,
    /// The data shape.
    pub shape: Vec<usize>,
}

/// Converts `IN` to `OUT` and prints one line saying what was written; prints the error
/// naming the file on failure. Exit status 0 on success, else 1.
pub fn run(args: &Args) -> u8 {
    let (input, output) = (args.input.as_path(), args.output.as_path());
    let succeeded = match convert(input, output, args.dtype, args.level) {
        Ok(written) => {
            let shape: Vec<String> = written.shape.iter().map(ToString::to_string).collect();
            crate::info::write_stdout(&format!(
                "{}: {} {} [{}] from {}\n",
                crate::shown::path(output),
                written.format,
                written.dtype.name(),
                shape.join(", "),
                crate::shown::path(input)
            ))
        }
        Err(message) => {
            eprintln!("{}", crate::shown::text(&message));
            false
        }
    };
    crate::exit_status(succeeded)
}

fn convert(
    input: &Path,
    output: &Path,
    dtype: Option<DataType>,
    level: Option<u32>,
) -> Result<Written, String> {
    let spinner = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(format!(
            "converting {} → {}",
            crate::shown::path(input),
            crate::shown::path(output)
        ));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let image = neurovox::load(input).map_err(|e| e.to_string())?;
    let result = save(
        &image,
        output,
        SaveOptions {
            dtype,
            level,
            ..Default::default()
        },
    )
    .map_err(|e| e.to_string());
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    result?;
    // Read back rather than predicted: the format may store another type than asked
    // (MGH has no int64), and the line should say what a later reader will find.
    let written = neurovox::load(output).map_err(|e| format!("written, but not readable: {e}"))?;
    let header = written.header();
    let stored = header.data_dtype().map_err(|e| e.to_string())?;
    Ok(Written {
        format: header.format().label(),
        dtype: stored.dtype,
        shape: written.shape().to_vec(),
    })
}
