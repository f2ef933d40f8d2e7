#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need (ISA-L from the system's
# packages, a Python virtual environment in .venv with nibabel and numpy as the oracle),
# writes the oracle fixtures with nibabel into target/oracle, then runs rustfmt, clippy and
# every Rust test.
# `.ci/run` calls this and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv

# What the run needs that it cannot install itself (README, Quick start): each missing piece
# is named with the command that installs it, before anything is built.
missing=()
if ! command -v cargo >/dev/null || ! command -v rustc >/dev/null; then
    missing+=("Rust >= 1.88 (cargo, rustc): install rustup from https://rustup.rs, then: rustup default stable")
else
    rust_version=$(rustc --version | awk '{print $2}')
    IFS=. read -r rust_major rust_minor _ <<<"$rust_version"
    if [ "${rust_major:-0}" -lt 1 ] || { [ "$rust_major" -eq 1 ] && [ "${rust_minor:-0}" -lt 88 ]; }; then
        missing+=("Rust >= 1.88 (this rustc is $rust_version): rustup update stable")
    fi
    cargo fmt --version >/dev/null 2>&1 || missing+=("rustfmt: rustup component add rustfmt")
    cargo clippy --version >/dev/null 2>&1 || missing+=("clippy: rustup component add clippy")
fi
command -v cc >/dev/null || missing+=("a C compiler, cc (libdeflate and zstd are C): apt-get install build-essential")
# ISA-L, the system's libisal: the command and the Python package compress .nii.gz with it
# (crates/neurovox/src/io/gzip/isal.rs). Installed here when this runs as root with apt-get.
isal_links() {
    printf 'int main(void) { return 0; }\n' | cc -x c - -lisal -o /dev/null 2>/dev/null
}
if command -v cc >/dev/null && ! isal_links; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing ISA-L (libisal-dev) with apt-get"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libisal-dev >/dev/null
    fi
    isal_links || missing+=("ISA-L, the system's libisal: apt-get install libisal-dev")
fi
if ! command -v python3 >/dev/null; then
    missing+=("python3 >= 3.10 with venv: apt-get install python3 python3-venv")
elif ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    missing+=("python3 >= 3.10 (this is $(python3 --version 2>&1 || true))")
elif [ ! -x "$venv/bin/python" ] && ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    missing+=("python3's venv module: apt-get install python3-venv")
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "scripts/test.sh: missing prerequisites:" >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/oracle/requirements.txt \
    -r tests/oracle/requirements-python-package.txt

# The Python package (python/neurovox + crates/neurovox-py, with the `neurovox` command),
# installed in development mode: maturin builds the extension module (release profile) into
# the virtual environment. Not --quiet: cargo's progress shows during the long first build.
echo "== building the Python package into $venv (release; about 4 minutes on 2 cores from scratch)"
build_start=$SECONDS
VIRTUAL_ENV="$PWD/$venv" "$venv/bin/maturin" develop --release --locked
echo "== Python package built in $((SECONDS - build_start)) s"
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

echo "== module graph: no import cycles, no layer using one built on it (docs/architecture.md)"
"$venv/bin/python" scripts/module_cycles.py
echo "== rustfmt"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== tests"
export NEUROVOX_SAVE_ROUNDTRIP_DIR="$PWD/target/save-roundtrip"
export NEUROVOX_NUMPY_ROUNDTRIP_DIR="$PWD/target/numpy-roundtrip"
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
echo "== rustdoc: the core's docs build without a broken link"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked -p neurovox
echo "== fuzz smoke: every fuzz target for a few seconds (fuzz/README.md)"
scripts/fuzz-smoke.sh
echo "== pytest: numpy and nibabel read what neurovox wrote; the Python package against nibabel"
export NEUROVOX_NUMPY_ROUNDTRIP_DIR="$PWD/target/numpy-roundtrip"
# On every core (pytest-xdist): 4 min 45 s on one, 2 min 48 s on two.
"$venv/bin/python" -m pytest -q -n auto python/tests
