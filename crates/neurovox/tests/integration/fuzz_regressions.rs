//! Replays every crash the fuzzers found (`tests/fuzz_regressions/<target>/<file>`) through
//! the very function the fuzz target runs (`neurovox::fuzzing`), so a fixed crash stays
//! fixed under a plain `cargo test`. A replay passes when the call returns: the library may
//! well answer with an error, but it must not panic, and the fuzz bodies drop errors.
//!
//! To add one: copy the fuzzer's `crash-…`/`oom-…` file to the target's directory here,
//! under a name that says what was wrong (fuzz/README.md).

use std::path::Path;

#[test]
fn every_regression_file_replays_without_panicking() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut replayed = 0;
    let mut failed = Vec::new();
    for dir in sorted_entries(&root) {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a UTF-8 directory name")
            .to_owned();
        let (_, body) = neurovox::fuzzing::TARGETS
            .iter()
            .find(|(target, _)| *target == name)
            .unwrap_or_else(|| {
                panic!("{name}: not a fuzz target (see neurovox::fuzzing::TARGETS)")
            });
        for file in sorted_entries(&dir) {
            let data = std::fs::read(&file).expect("a readable regression file");
            // Every file is replayed, so one run lists every regression that came back.
            if std::panic::catch_unwind(|| body(&data)).is_err() {
                failed.push(file.display().to_string());
            }
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no regression files under {}", root.display());
    assert!(failed.is_empty(), "these inputs panic again: {failed:#?}");
}

#[test]
fn every_target_has_a_fuzz_binary() {
    // The fuzz crate's [[bin]] list and TARGETS must agree, or a target would go unfuzzed.
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/Cargo.toml"),
    )
    .expect("fuzz/Cargo.toml");
    for (name, _) in neurovox::fuzzing::TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
    }
}

/// The entries of `dir`, sorted by name (a stable replay order).
fn sorted_entries(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a readable directory entry").path())
        .collect();
    entries.sort();
    entries
}
