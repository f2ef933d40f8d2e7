//! The oracle comparisons: files written by nibabel and numpy, read and written by neurovox,
//! one named trial per fixture case (a `harness = false` target run by libtest-mimic, which
//! takes the usual test-binary arguments).
//!
//! ```text
//! cargo test -p neurovox --test oracle                       # every case
//! cargo test -p neurovox --test oracle -- --list             # their names
//! cargo test -p neurovox --test oracle -- oracle_data::      # one module's cases
//! cargo test -p neurovox --test oracle -- --exact oracle_headers::nifti1-single-uint8-le-none-3d
//! ```
//!
//! Names are `<module>::<case id from the manifest>` (`writer_oracle::f8_pos-|u1-SlopeInter`,
//! `npy_oracle::npy/u1-le-scalar-C.npy`, `selection_oracle::i16_1d_scaled::Gzip`,
//! `oracle_parrec::header::T1.PAR-truncated-strict-fp`,
//! `oracle_minc::minc1-cdf2-f8::Minc1Image`), plus a `<module>::coverage` trial per module for
//! the checks on the manifest as a whole (how many cases it must hold).
//!
//! The fixtures are found as before (`$NEUROVOX_ORACLE_DIR` and friends, else under
//! `target/`). When a module's directory has no `manifest.json` it gets one trial,
//! `<module>::fixtures`, instead of its cases: ignored with the reason, or failed when
//! `NEUROVOX_REQUIRE_ORACLE=1` (set by `scripts/test.sh`), so CI never skips silently.

// Helpers shared by the tests unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod npy_oracle;
mod oracle_data;
mod oracle_headers;
mod oracle_minc;
mod oracle_parrec;
mod selection_oracle;
mod writer_oracle;

use libtest_mimic::{Arguments, Completion, Trial};
use std::path::PathBuf;
use std::sync::Arc;

/// The fixture directory of `oracle`, or, when it has no manifest, the one trial that stands
/// for the module's cases: failed if `NEUROVOX_REQUIRE_ORACLE=1`, else ignored with the reason.
fn fixtures(module: &str, oracle: common::Oracle) -> Result<PathBuf, Vec<Trial>> {
    let missing = match common::find_oracle_dir(&oracle) {
        Ok(dir) => return Ok(dir),
        Err(missing) => missing,
    };
    let name = format!("{module}::fixtures");
    let trial = if common::oracle_required() {
        let message = format!(
            "NEUROVOX_REQUIRE_ORACLE=1 but no manifest.json in {}",
            missing.display()
        );
        Trial::test(name, move || Err(message.into()))
    } else {
        let reason = format!(
            "SKIPPED: no oracle fixtures in {} (run scripts/test.sh)",
            missing.display()
        );
        eprintln!("{module}: {reason}");
        Trial::ignorable_test(name, move || Ok(Completion::ignored_with(reason)))
    };
    Err(vec![trial])
}

/// The fixture directory and manifest of `oracle`, with the first trial, `<module>::coverage`,
/// which runs `coverage` on the manifest as a whole; or the one trial standing for the
/// module's cases when there are no fixtures ([`fixtures`]).
#[allow(clippy::type_complexity)]
fn manifest_and_coverage(
    module: &str,
    oracle: common::Oracle,
    coverage: fn(&serde_json::Value),
) -> Result<(Arc<PathBuf>, Arc<serde_json::Value>, Vec<Trial>), Vec<Trial>> {
    let dir = Arc::new(fixtures(module, oracle)?);
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let manifest: Arc<serde_json::Value> = Arc::new(serde_json::from_str(&text).unwrap());
    let whole = Arc::clone(&manifest);
    let trials = vec![Trial::test(format!("{module}::coverage"), move || {
        coverage(&whole);
        Ok(())
    })];
    Ok((dir, manifest, trials))
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    trials.extend(oracle_headers::trials());
    trials.extend(oracle_data::trials());
    trials.extend(oracle_parrec::trials());
    trials.extend(oracle_minc::trials());
    trials.extend(npy_oracle::trials());
    trials.extend(selection_oracle::trials());
    trials.extend(writer_oracle::trials());
    libtest_mimic::run(&args, trials).exit();
}
