#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed inputs: files our own writers make, and the nibabel /
# numpy oracle fixtures when they exist ($NEUROVOX_ORACLE_DIR, default target/oracle of the
# main checkout, written by tests/oracle/make_fixtures.py). The corpus is generated, never
# committed (fuzz/.gitignore): the oracle files are third-party bytes.
#
# Usage: fuzz/seed.sh            (keeps what earlier fuzzing added to the corpus)
#        fuzz/seed.sh --fresh    (starts from the seeds alone)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
oracle="${NEUROVOX_ORACLE_DIR:-$root/target/oracle}"
if [[ ! -d "$oracle" && -d /work/main/target/oracle ]]; then
    oracle=/work/main/target/oracle
fi
if [[ "${1:-}" == "--fresh" ]]; then
    rm -rf "$here/corpus"
fi
# A normal (dev) build of the example: after `cargo test` it only links the example.
cargo build --quiet --locked --manifest-path "$root/Cargo.toml" -p neurovox --example fuzz_seeds
target_dir="${CARGO_TARGET_DIR:-$root/target}"
"$target_dir/debug/examples/fuzz_seeds" "$here/corpus" "$oracle"
