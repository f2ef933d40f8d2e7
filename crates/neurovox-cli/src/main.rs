//! The `neurovox` binary: the command lives in the library ([`neurovox_cli::run`]) so that the
//! Python package can run the same command from its console script.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(neurovox_cli::run(std::env::args_os()))
}
