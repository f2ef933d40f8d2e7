#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need (a Python virtual
# environment in .venv with nibabel and numpy as the oracle), writes the oracle fixtures with
# nibabel into target/oracle, then runs rustfmt, clippy and every Rust test.
# `.ci/run` calls this and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/oracle/requirements.txt \
    -r tests/oracle/requirements-python-package.txt

# The Python package (python/neurovox + crates/neurovox-py), installed in development mode:
# maturin builds the extension module (release profile) into the virtual environment.
echo "== building the Python package into $venv"
VIRTUAL_ENV="$PWD/$venv" "$venv/bin/maturin" develop --release --locked --quiet
# From here on the conformance suite must find the package (it skips only while unbuilt).
export NEUROVOX_REQUIRE_PACKAGE=1

export NEUROVOX_ORACLE_DIR="$PWD/target/oracle"
export NEUROVOX_REQUIRE_ORACLE=1
echo "== writing nibabel oracle fixtures to $NEUROVOX_ORACLE_DIR"
"$venv/bin/python" tests/oracle/make_fixtures.py "$NEUROVOX_ORACLE_DIR"
export NEUROVOX_NUMPY_ORACLE_DIR="$PWD/target/numpy-oracle"
"$venv/bin/python" tests/oracle/make_numpy_fixtures.py "$NEUROVOX_NUMPY_ORACLE_DIR"
export NEUROVOX_SELECTION_ORACLE_DIR="$PWD/target/selection-oracle"
"$venv/bin/python" tests/oracle/make_selection_fixtures.py "$NEUROVOX_SELECTION_ORACLE_DIR"
export NEUROVOX_WRITER_ORACLE_DIR="$PWD/target/writer-oracle"
"$venv/bin/python" tests/oracle/make_writer_fixtures.py "$NEUROVOX_WRITER_ORACLE_DIR"

echo "== rustfmt"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== tests"
export NEUROVOX_SAVE_ROUNDTRIP_DIR="$PWD/target/save-roundtrip"
export NEUROVOX_NUMPY_ROUNDTRIP_DIR="$PWD/target/numpy-roundtrip"
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
echo "== fuzz smoke: every fuzz target for a few seconds (fuzz/README.md)"
scripts/fuzz-smoke.sh
echo "== pytest: numpy and nibabel read what neurovox wrote; the Python package against nibabel"
export NEUROVOX_NUMPY_ROUNDTRIP_DIR="$PWD/target/numpy-roundtrip"
"$venv/bin/python" -m pytest -q python/tests
