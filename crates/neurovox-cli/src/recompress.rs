//! `neurovox recompress FILE... [--level N]`: rewrites `.gz` files other tools wrote as
//! neurovox's indexed gzip (`neurovox::io::gzip`), atomically, keeping every
//! decompressed byte; any gzip reader still reads them. One line per file: sizes before and
//! after, or why not.

use neurovox::io::gzip::recompress_file;
use std::path::PathBuf;

/// Arguments of `neurovox recompress`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// gzip-compressed files (.nii.gz, .mgz, ...), each replaced atomically.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// gzip level, 0-12 (libdeflate's scale; default: ISA-L's level 2, or libdeflate's 2 without it).
    #[arg(long, value_name = "N")]
    level: Option<u32>,
}

/// Recompresses every file; exit status 0 if all succeeded, else 1.
pub fn run(args: &Args) -> u8 {
    let mut ok = true;
    for file in &args.files {
        let shown = crate::shown::path(file);
        match recompress_file(file, args.level) {
            Ok(r) if !r.rewritten => {
                println!(
                    "{shown}: already neurovox's indexed gzip ({} bytes), left as it is",
                    r.before
                )
            }
            Ok(r) => println!(
                "{shown}: {} -> {} bytes ({} decompressed), indexed members",
                r.before, r.after, r.decompressed
            ),
            Err(e) => {
                eprintln!("{}", crate::shown::text(&e.to_string()));
                ok = false;
            }
        }
    }
    crate::exit_status(ok)
}
