//! `neurovox recompress FILE... [--level N]`: rewrites `.gz` files other tools wrote as
//! neurovox's indexed gzip (`neurovox::io::gzip`), atomically, keeping every
//! decompressed byte; any gzip reader still reads them. One line per file: sizes before and
//! after, or why not.

use neurovox::io::gzip::recompress_file;
use std::path::Path;

/// Recompresses every file; true if all succeeded.
pub fn run(files: &[impl AsRef<Path>], level: Option<u32>) -> bool {
    let mut ok = true;
    for file in files {
        let file = file.as_ref();
        let shown = crate::shown::path(file);
        match recompress_file(file, level) {
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
    ok
}
