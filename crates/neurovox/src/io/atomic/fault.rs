//! Fault injection for the save path: the tests of issue 14 make the n-th write, sync, link,
//! journal write or rename of a save fail, or kill the saving process at that moment, and then
//! check that a load still sees the whole old image or the whole new one.
//!
//! Armed by the environment variable `NEUROVOX_TEST_FAULT=<step>:<n>[:kill]` (read once per
//! process, so a child process of a test can be armed without any API), or in-process by
//! [`arm`]. Unarmed, each fault point costs one relaxed atomic load.
//!
//! Why our own and not the `fail` crate: its points exist only in builds with its feature
//! turned on, and the kill tests run the released CLI and Python package as child processes,
//! which must not be a second build of the library.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// A place in a save where a fault can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A write of bytes into a temporary file.
    Write,
    /// The sync of a finished temporary file to disk.
    Sync,
    /// Giving a finished temporary file its staging name.
    Link,
    /// Writing or updating the journal of a multi-file save.
    Journal,
    /// A rename of a finished file over its target.
    Rename,
    /// The sync of a directory after a rename.
    DirSync,
}

impl Step {
    fn parse(name: &str) -> Option<Step> {
        Some(match name {
            "write" => Step::Write,
            "sync" => Step::Sync,
            "link" => Step::Link,
            "journal" => Step::Journal,
            "rename" => Step::Rename,
            "dirsync" => Step::DirSync,
            _ => return None,
        })
    }
}

/// What an armed fault does when its step is reached for the n-th time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The step fails with an I/O error.
    Fail,
    /// The process is killed (SIGKILL) before the step runs.
    Kill,
}

#[derive(Debug, Clone, Copy)]
struct Armed {
    step: Step,
    nth: u64,
    action: Action,
}

static ACTIVE: AtomicBool = AtomicBool::new(false);
static ARMED: Mutex<Option<Armed>> = Mutex::new(None);
static COUNT: AtomicU64 = AtomicU64::new(0);
static FROM_ENV: OnceLock<()> = OnceLock::new();

/// Arms a fault: the `nth` time (from 1) `step` is reached, `action` happens. `None`
/// disarms. Tests only; the process-wide setting affects every thread.
#[doc(hidden)]
pub fn arm(fault: Option<(Step, u64, Action)>) {
    let mut armed = ARMED.lock().unwrap_or_else(|e| e.into_inner());
    *armed = fault.map(|(step, nth, action)| Armed { step, nth, action });
    COUNT.store(0, Ordering::SeqCst);
    ACTIVE.store(armed.is_some(), Ordering::SeqCst);
}

fn arm_from_env() {
    FROM_ENV.get_or_init(|| {
        let Some(spec) = std::env::var_os("NEUROVOX_TEST_FAULT") else {
            return;
        };
        let spec = spec.to_string_lossy();
        let mut parts = spec.split(':');
        let step = parts.next().and_then(Step::parse);
        let nth = parts.next().and_then(|n| n.parse().ok());
        let action = match parts.next() {
            Some("kill") => Action::Kill,
            _ => Action::Fail,
        };
        if let (Some(step), Some(nth)) = (step, nth) {
            arm(Some((step, nth, action)));
        }
    });
}

/// A fault point: Ok unless a fault armed for `step` is due now.
pub(crate) fn point(step: Step) -> std::io::Result<()> {
    arm_from_env();
    if !ACTIVE.load(Ordering::Relaxed) {
        return Ok(());
    }
    let armed = *ARMED.lock().unwrap_or_else(|e| e.into_inner());
    let Some(armed) = armed.filter(|a| a.step == step) else {
        return Ok(());
    };
    if COUNT.fetch_add(1, Ordering::SeqCst) + 1 != armed.nth {
        return Ok(());
    }
    match armed.action {
        Action::Fail => Err(std::io::Error::other(format!(
            "injected fault at {step:?} #{}",
            armed.nth
        ))),
        Action::Kill => {
            // SAFETY: kill(2) on our own process; reads no memory of ours.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            // SIGKILL cannot be caught: this line is never reached.
            std::process::abort()
        }
    }
}
