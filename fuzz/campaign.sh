#!/usr/bin/env bash
# Runs fuzz campaigns, one target at a time, at low priority, and prints one line per target:
# executions, new corpus size, and whether it crashed. Logs go to fuzz/logs/<target>.log.
#
# Usage: fuzz/campaign.sh SECONDS TARGET...
#
# Release build (optimised, debug assertions and overflow checks on, AddressSanitizer), with
# a 512 MB limit on any single allocation and on the process: an allocation a header asks
# for beyond what the input holds fails the run as a crash (`malloc limit` / `out-of-memory`).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="$1"
shift
mkdir -p fuzz/logs
tmp=/dev/shm
[ -w "$tmp" ] || tmp="${TMPDIR:-/tmp}"
for t in "$@"; do
    rc=0
    # cargo-fuzz's -Zsanitizer flag needs RUSTC_BOOTSTRAP=1 on stable, set outside cargo.
    RUSTC_BOOTSTRAP=1 ASAN_OPTIONS=detect_odr_violation=0 TMPDIR="$tmp" \
        nice -n 10 cargo fuzz run --fuzz-dir fuzz --target-dir "${FUZZ_TARGET_DIR:-$PWD/fuzz/target}" "$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=512 -malloc_limit_mb=512 -timeout=20 \
        -print_final_stats=1 >"fuzz/logs/$t.log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "fuzz/logs/$t.log")
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        echo "$t: ${runs:-?} runs in ${seconds}s, corpus $corpus, no crash"
    else
        echo "$t: ${runs:-?} runs, CRASH (exit $rc): $(ls -t "fuzz/artifacts/$t" 2>/dev/null | head -1)"
    fi
done
