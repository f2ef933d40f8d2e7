//! `neurovox convert IN OUT [--dtype T] [--level N]`: re-saves an image in the format and
//! compression its new name asks for (`.nii`, `.nii.gz`, `.hdr`/`.img`, `.mgh`, `.mgz`, with
//! `.bz2`/`.zst`), optionally as another stored type, through the library's atomic save.
//!
//! A PAR/REC recording converted to NIfTI (`.nii`, `.nii.gz`) is written as nibabel's
//! `parrec2nii` writes it ([`neurovox::image::parrec_to_nifti`]), with its options
//! (`--scaling`, `--permit-truncated`, `--strict-sort`, `--origin`, `--minmax`,
//! `--keep-trace`, `--store-header`, `--bvs`, `--volume-info`, `--dwell-time`); the files it
//! writes beside the image take the output's name without `.nii`/`.nii.gz`.
//! A spinner on stderr shows the work is going on when stderr is a terminal; on success one
//! line on stdout says what was written, as `neurovox slice` does:
//! `out.mgz: MGH float32 [96, 96, 60] from in.nii`.

use neurovox::format::parrec::{AffineOrigin, ParrecOptions, ParrecScaling};
use neurovox::image::{LoadOptions, ParrecToNifti, SaveOptions, parrec_to_nifti, save};
use neurovox::{DataType, ImageFormat};
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
    #[command(flatten)]
    parrec: ParrecArgs,
}

/// `parrec2nii`'s options, for PAR/REC input.
#[derive(Debug, Default, clap::Args)]
pub struct ParrecArgs {
    /// PAR/REC: the values' scaling: `dv` (the console's values), `fp` (floating point) or
    /// `off` (the stored values).
    #[arg(long, value_name = "S", value_parser = ["dv", "fp", "off"], help_heading = "PAR/REC input")]
    scaling: Option<String>,
    /// PAR/REC: convert a recording whose header shows missing slices or volumes (its
    /// complete volumes).
    #[arg(long, help_heading = "PAR/REC input")]
    permit_truncated: bool,
    /// PAR/REC: sort volumes by their acquisition fields, not the .PAR's order.
    #[arg(long, help_heading = "PAR/REC input")]
    strict_sort: bool,
    /// PAR/REC: world zero at the scanner's isocentre or the centre of the field of view.
    #[arg(long, value_name = "O", value_parser = ["scanner", "fov"], help_heading = "PAR/REC input")]
    origin: Option<String>,
    /// PAR/REC: cal_min and cal_max to store, each a number or `parse` (from the values).
    #[arg(long, num_args = 2, value_names = ["MIN", "MAX"], help_heading = "PAR/REC input")]
    minmax: Vec<String>,
    /// PAR/REC: keep Philips' diagnostic DTI trace volumes.
    #[arg(long, help_heading = "PAR/REC input")]
    keep_trace: bool,
    /// PAR/REC: keep the whole .PAR in a NIfTI comment extension.
    #[arg(long, help_heading = "PAR/REC input")]
    store_header: bool,
    /// PAR/REC: write the b values and vectors beside the image (OUT.bvals, OUT.bvecs).
    #[arg(long, help_heading = "PAR/REC input")]
    bvs: bool,
    /// PAR/REC: write the labels that change between volumes (OUT.ordering.csv).
    #[arg(long, help_heading = "PAR/REC input")]
    volume_info: bool,
    /// PAR/REC: write the EPI dwell time (OUT.dwell_time); needs --field-strength.
    #[arg(long, requires = "field_strength", help_heading = "PAR/REC input")]
    dwell_time: bool,
    /// PAR/REC: the magnet's field strength in tesla, for --dwell-time.
    #[arg(long, value_name = "T", help_heading = "PAR/REC input")]
    field_strength: Option<f64>,
}

impl ParrecArgs {
    /// True when any PAR/REC option was given.
    fn any(&self) -> bool {
        self.scaling.is_some()
            || self.permit_truncated
            || self.strict_sort
            || self.origin.is_some()
            || !self.minmax.is_empty()
            || self.keep_trace
            || self.store_header
            || self.bvs
            || self.volume_info
            || self.dwell_time
    }

    /// The load options.
    fn load_options(&self) -> LoadOptions {
        LoadOptions {
            parrec: ParrecOptions {
                scaling: match self.scaling.as_deref() {
                    Some("fp") => ParrecScaling::Fp,
                    _ => ParrecScaling::Dv,
                },
                permit_truncated: self.permit_truncated,
                strict_sort: self.strict_sort,
            },
            ..LoadOptions::default()
        }
    }
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

/// True for a `.nii` name (compressed or not).
fn is_nifti_name(path: &Path) -> bool {
    let (_, ext, _) = neurovox::image::split_name(&path.to_string_lossy());
    ext.eq_ignore_ascii_case(".nii")
}

/// `OUT` without `.nii` and a compression suffix: the stem of the files written beside it.
fn side_file_stem(output: &Path) -> String {
    let (stem, _, _) = neurovox::image::split_name(&output.to_string_lossy());
    stem
}

/// nibabel's `parrec2nii` for one recording: the NIfTI image, then the files beside it.
fn parrec2nii(
    image: &neurovox::Image,
    output: &Path,
    args: &ParrecArgs,
    options: SaveOptions,
) -> Result<(), String> {
    let number = |text: &str| -> Result<Option<f64>, String> {
        match text {
            "parse" => Ok(None),
            _ => text
                .parse()
                .map(Some)
                .map_err(|_| format!("--minmax takes numbers or 'parse', not {text:?}")),
        }
    };
    let minmax = match args.minmax.as_slice() {
        [min, max] => [number(min)?, number(max)?],
        _ => [None, None],
    };
    let store_header = match args.store_header {
        true => {
            let par = image.file_map().header.clone().unwrap_or_default();
            Some(std::fs::read(&par).map_err(|e| format!("{}: {e}", crate::shown::path(&par)))?)
        }
        false => None,
    };
    let conversion = ParrecToNifti {
        scaling_off: args.scaling.as_deref() == Some("off"),
        origin: match args.origin.as_deref() {
            Some("fov") => AffineOrigin::Fov,
            _ => AffineOrigin::Scanner,
        },
        minmax,
        keep_trace: args.keep_trace,
        store_header,
    };
    let converted = parrec_to_nifti(image, &conversion).map_err(|e| e.to_string())?;
    converted.save(output, options).map_err(|e| e.to_string())?;
    let stem = side_file_stem(output);
    let write = |suffix: &str, text: String| {
        let path = format!("{stem}{suffix}");
        std::fs::write(&path, text).map_err(|e| format!("{path}: {e}"))
    };
    let repr = crate::table::format_float::<f64>;
    if args.bvs {
        if let Some(bvals) = &converted.bvals {
            let line: String = bvals.iter().map(|&v| format!("{} ", repr(v))).collect();
            write(".bvals", format!("{line}\n"))?;
        }
        if let Some(bvecs) = &converted.bvecs {
            let mut text = String::new();
            for axis in 0..3 {
                text.extend(bvecs.iter().map(|b| format!("{} ", repr(b[axis]))));
                text.push('\n');
            }
            write(".bvecs", text)?;
        }
    }
    if args.volume_info && !converted.volume_labels.is_empty() {
        let names: Vec<&str> = converted.volume_labels.iter().map(|(n, _)| *n).collect();
        let mut text = format!("{}\r\n", names.join(","));
        let volumes = converted.volume_labels[0].1.len();
        for v in 0..volumes {
            let row: Vec<String> = converted
                .volume_labels
                .iter()
                .map(|(_, values)| values.get(v).map_or(String::new(), ToString::to_string))
                .collect();
            text.push_str(&format!("{}\r\n", row.join(",")));
        }
        write(".ordering.csv", text)?;
    }
    if args.dwell_time {
        let par = match image.header() {
            neurovox::Header::Parrec(p) => p,
            _ => return Ok(()),
        };
        let get = |name| par.attribute(name).cloned();
        let shift = match get("water_fat_shift") {
            Some(neurovox::FieldValue::Float(v)) => Some(v),
            _ => None,
        };
        let etl = match get("epi_factor") {
            Some(neurovox::FieldValue::Int(v)) => Some(v),
            _ => None,
        };
        let tesla = args.field_strength.unwrap_or(3.0);
        // nibabel writes nothing when the recording is not EPI.
        if let Some(t) = shift
            .zip(etl)
            .and_then(|(s, e)| neurovox::image::parrec_dwell_time(s, e, tesla))
        {
            write(".dwell_time", format!("{}\n", repr(t)))?;
        }
    }
    Ok(())
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
    let succeeded = match convert(input, output, args) {
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

fn convert(input: &Path, output: &Path, args: &Args) -> Result<Written, String> {
    let (dtype, level) = (args.dtype, args.level);
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
    let image =
        neurovox::Image::load_with(input, args.parrec.load_options()).map_err(|e| e.to_string())?;
    let is_par = image.format() == ImageFormat::Parrec;
    if args.parrec.any() && !is_par {
        return Err(format!(
            "{}: the PAR/REC options apply to PAR/REC input, not {}",
            crate::shown::path(input),
            image.format().label()
        ));
    }
    let options = SaveOptions {
        dtype,
        level,
        ..Default::default()
    };
    let result = if is_par && is_nifti_name(output) {
        parrec2nii(&image, output, &args.parrec, options)
    } else {
        save(&image, output, options)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
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
