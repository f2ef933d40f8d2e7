//! Helpers shared by the CLI's end-to-end tests: running the built `neurovox` binary and
//! reading what it printed.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `neurovox` with `args`, with temporary files going under `tmp`.
pub fn neurovox(args: &[&str], tmp: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neurovox"))
        .args(args)
        .env("TMPDIR", tmp)
        .output()
        .expect("the neurovox binary runs")
}

/// What the command printed on stdout.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What the command printed on stderr.
#[allow(dead_code)]
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
