//! A save killed half-way (SIGKILL of the saving process) leaves the original file intact and
//! no temporary file behind: the data goes to an unnamed file (`O_TMPFILE`) that only gets a
//! name when it is complete.

// Helpers shared by the tests unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

const TARGET_VAR: &str = "NEUROVOX_KILLED_SAVE_TARGET";

#[test]
fn a_killed_save_leaves_the_original_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("image.nii");
    std::fs::write(&target, b"the original bytes").unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_saves_slowly", "--ignored", "--quiet"])
        .env(TARGET_VAR, &target)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the child is writing (its marker file appears), then kill it.
    let marker = dir.path().join("writing");
    for _ in 0..500 {
        if marker.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(marker.exists(), "the child never started writing");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"the original bytes");
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["image.nii", "writing"],
        "no temporary file left behind"
    );
}

/// The saving process of the test above: writes half a file, then hangs until killed.
#[test]
#[ignore = "run as the child process of a_killed_save_leaves_the_original_and_no_temporary"]
fn child_saves_slowly() {
    let target = PathBuf::from(std::env::var_os(TARGET_VAR).expect("run by the parent test"));
    let marker = target.with_file_name("writing");
    let _ = neurovox::io::atomic::write_atomically(&target, |w| {
        w.write_all(&vec![0xAB; 1 << 20])?;
        w.flush()?;
        std::fs::write(&marker, b"")?;
        std::thread::sleep(Duration::from_secs(60));
        Ok(())
    });
}
