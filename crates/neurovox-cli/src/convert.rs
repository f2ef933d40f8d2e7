//! `neurovox convert IN OUT [--dtype T] [--level N]`: re-saves an image in the format and
//! compression its new name asks for (`.nii`, `.nii.gz`, `.hdr`/`.img`, `.mgh`, `.mgz`, with
//! `.bz2`/`.zst`), optionally as another stored type, through the library's atomic save.
//! A spinner on stderr shows the work is going on when stderr is a terminal.

use neurovox::save::{save, SaveOptions};
use neurovox::DataType;
use std::io::IsTerminal;
use std::path::Path;

/// Converts `input` to `output`; prints the error naming the file and returns false on failure.
pub fn run(input: &Path, output: &Path, dtype: Option<&str>, level: Option<u32>) -> bool {
    match convert(input, output, dtype, level) {
        Ok(()) => true,
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
) -> Result<(), String> {
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
    result.map(|_outcome| ())
}
