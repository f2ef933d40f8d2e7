//! The `neurovox` command inside the extension module, for the Python package's console
//! script (`python/neurovox/_cli.py`): the wheel then carries the command, and one
//! `pip install` gives both the package and the command.

use pyo3::prelude::*;
use std::ffi::OsString;
use std::panic::{self, AssertUnwindSafe};

/// The exit status of a Rust program whose `main` panicked; the binary's, kept here.
const PANIC_STATUS: u8 = 101;

/// Runs the `neurovox` command ([`neurovox_cli::run`]) with `argv` (the program name first,
/// as in `sys.argv`) and returns its exit status.
///
/// The GIL is released while it runs (its own threads never need it). A panic is reported on
/// stderr by the panic hook, as in the binary, and gives the binary's status 101 rather than a
/// Python exception, so the console script exits as the binary would.
#[pyfunction]
#[pyo3(name = "_cli_main")]
pub fn cli_main(py: Python<'_>, argv: Vec<OsString>) -> u8 {
    py.detach(|| {
        panic::catch_unwind(AssertUnwindSafe(|| neurovox_cli::run(argv))).unwrap_or(PANIC_STATUS)
    })
}
