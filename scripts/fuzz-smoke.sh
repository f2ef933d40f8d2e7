#!/usr/bin/env bash
# Fuzz smoke test: builds every fuzz target and runs each for a few seconds on its seed
# corpus, so a target that no longer builds, or an input near the seeds that crashes, fails
# the test run. The long campaigns are separate (fuzz/README.md); crashes they find are kept
# in crates/neurovox/tests/fuzz_regressions/ and replayed by `cargo test`.
#
# Usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]   (default 3; $FUZZ_SMOKE_SECONDS too)
# 3 s a target keeps the whole test command under 20 minutes on 2 cores from a cold build;
# the dev build mostly replays the seeds in that time (the campaigns do the searching).
#
# Built with the dev profile (debug assertions, no optimisation): a cold build takes about
# half the time of a release one on two cores, and a rebuild after an edit of the library
# about half a minute instead of five. The campaigns use release builds.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-${FUZZ_SMOKE_SECONDS:-3}}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

echo "== fuzz smoke: seeding fuzz/corpus"
fuzz/seed.sh >/dev/null

echo "== fuzz smoke: building the targets (dev profile, AddressSanitizer)"
# cargo-fuzz passes -Zsanitizer=address; stable rustc accepts it with RUSTC_BOOTSTRAP=1,
# which must be set here, outside cargo (fuzz/README.md says why ASan and not --sanitizer none).
# Its own target directory whatever CARGO_TARGET_DIR says: sanitizer builds must not mix with
# the normal ones, and the binaries are run from there below.
fuzz_target="${FUZZ_TARGET_DIR:-$PWD/fuzz/target}"
RUSTC_BOOTSTRAP=1 cargo fuzz build --fuzz-dir fuzz --dev --target-dir "$fuzz_target"

bin="$fuzz_target/x86_64-unknown-linux-gnu/debug"
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^neurovox-fuzz$')
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The gzip, npz and image_file targets write their input to a temporary file: keep those
# in memory when /dev/shm is there.
tmp=/dev/shm
[ -w "$tmp" ] || tmp="${TMPDIR:-/tmp}"
failed=()
for t in $targets; do
    mkdir -p "$scratch/$t" "$scratch/artifacts/$t"
    # New inputs go to the scratch corpus (first directory); the seeds are only read.
    if ASAN_OPTIONS=detect_odr_violation=0 TMPDIR="$tmp" "$bin/$t" \
        "$scratch/$t" "fuzz/corpus/$t" \
        -max_total_time="$seconds" -rss_limit_mb=512 -malloc_limit_mb=512 -timeout=20 \
        -artifact_prefix="$scratch/artifacts/$t/" -print_final_stats=1 \
        >"$scratch/$t.log" 2>&1; then
        echo "$t: $(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$t.log") runs, no crash"
    else
        echo "$t: CRASH"
        tail -40 "$scratch/$t.log"
        mkdir -p fuzz/artifacts/"$t"
        cp "$scratch/artifacts/$t/"* fuzz/artifacts/"$t"/ 2>/dev/null || true
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz smoke: crashes in ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
    exit 1
fi
echo "fuzz smoke: every target ran ${seconds}s without a crash"
