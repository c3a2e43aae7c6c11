#!/usr/bin/env bash
# Runs every libFuzzer target of a KILN_FUZZ build: first its committed
# regression inputs (tests/fuzz/regressions/<target>/, each must pass), then
# fuzzing for a bounded time from seeds made by make_seeds.py. Two targets
# run at once (CI has 2 cores). Prints executions per target; exits non-zero
# on any crash, leak, timeout or failing regression input. Crash inputs are
# kept in BUILD/fuzz-artifacts/<target>/.
#
# usage: tests/fuzz/run_fuzz.sh BUILD_DIR [SECONDS_PER_TARGET]
set -uo pipefail

BUILD="${1:?usage: run_fuzz.sh BUILD_DIR [SECONDS_PER_TARGET]}"
SECS="${2:-45}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON=/usr/bin/python3
TARGETS=(model_load tensor_pb tensor_npy recal_data)
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

seeds="$BUILD/fuzz-seeds"
rm -rf "$seeds"
"$PYTHON" "$HERE/make_seeds.py" "$seeds" --max-bytes 262144 || exit 1

failed=()
# regressions: every committed reproducer must now run clean
for t in "${TARGETS[@]}"; do
    bin="$BUILD/fuzz/fuzz_$t"
    [ -x "$bin" ] || { failed+=("$t: $bin missing"); continue; }
    reg="$HERE/regressions/$t"
    n=$(find "$reg" -type f 2>/dev/null | wc -l)
    [ "$n" -eq 0 ] && continue
    log="$BUILD/fuzz-logs/regressions-$t.log"
    mkdir -p "$(dirname "$log")"
    if "$bin" -runs=0 -rss_limit_mb=2048 -timeout=30 "$reg" >"$log" 2>&1; then
        echo "fuzz $t: $n regression inputs pass"
    else
        tail -n 30 "$log"
        failed+=("$t: regression inputs ($log)")
    fi
done

fuzz_one() {
    local t="$1" bin="$BUILD/fuzz/fuzz_$1"
    local work="$BUILD/fuzz-work/$t" art="$BUILD/fuzz-artifacts/$t/" log="$BUILD/fuzz-logs/$t.log"
    mkdir -p "$work" "$art" "$(dirname "$log")"
    "$bin" -max_total_time="$SECS" -print_final_stats=1 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -timeout=20 -max_len=262144 -artifact_prefix="$art" "$work" "$seeds/$t" >"$log" 2>&1
    echo $? >"$log.rc"
}

started=$SECONDS
running=0
for t in "${TARGETS[@]}"; do
    [ -x "$BUILD/fuzz/fuzz_$t" ] || continue
    fuzz_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge 2 ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

total=0
for t in "${TARGETS[@]}"; do
    log="$BUILD/fuzz-logs/$t.log"
    [ -f "$log" ] || continue
    execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | awk '{print $2}' | tail -n 1)
    rc=$(cat "$log.rc")
    total=$((total + ${execs:-0}))
    if [ "$rc" -ne 0 ]; then
        grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -n 10
        failed+=("$t: fuzzer exit status $rc ($log)")
        echo "fuzz $t: FAILED after ${execs:-?} executions"
    else
        echo "fuzz $t: ${execs:-?} executions in ${SECS}s, no findings"
    fi
done
echo "fuzz: $total executions in $((SECONDS - started))s wall"
if [ "${#failed[@]}" -ne 0 ]; then
    printf 'fuzz FAILED: %s\n' "${failed[@]}"
    exit 1
fi
