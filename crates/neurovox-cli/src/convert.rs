//! `neurovox convert IN OUT [--dtype T] [--level N]`: re-saves an image in the format and
//! compression its new name asks for (`.nii`, `.nii.gz`, `.hdr`/`.img`, `.mgh`, `.mgz`, with
//! `.bz2`/`.zst`), optionally as another stored type, through the library's atomic save.
//! A spinner on stderr shows the work is going on when stderr is a terminal; on success one
//! line on stdout says what was written, as `neurovox slice` does:
//! `out.mgz: MGH float32 [96, 96, 60] from in.nii`.

use neurovox::image::{save, SaveOptions};
use neurovox::DataType;
use std::io::IsTerminal;
use std::path::Path;

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

/// Converts `input` to `output` and prints one line saying what was written; prints the
/// error naming the file and returns false on failure.
pub fn run(input: &Path, output: &Path, dtype: Option<&str>, level: Option<u32>) -> bool {
    match convert(input, output, dtype, level) {
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
    }
}

fn convert(
    input: &Path,
    output: &Path,
    dtype: Option<&str>,
    level: Option<u32>,
) -> Result<Written, String> {
    let dtype = match dtype {
        None => None,
        Some(name) => {
            Some(DataType::from_name(name).ok_or_else(|| format!("unknown data type {name:?}"))?)
        }
    };
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
