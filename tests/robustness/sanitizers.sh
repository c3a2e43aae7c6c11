#!/usr/bin/env bash
# The whole ctest suite (unit tests incl. the allocation-failure sweep and
# hostile models, CLI tests, bundled models) built with AddressSanitizer +
# UndefinedBehaviorSanitizer (KILN_SANITIZE) in its own folder. Any report
# stops the offending test (halt_on_error) and LeakSanitizer fails a test
# that leaks.
#
# usage: tests/robustness/sanitizers.sh ASAN_BUILD_DIR LOG_DIR [C_COMPILER]
set -uo pipefail
BUILD="${1:?usage: sanitizers.sh ASAN_BUILD_DIR LOG_DIR [C_COMPILER]}"
LOGS="${2:?usage: sanitizers.sh ASAN_BUILD_DIR LOG_DIR [C_COMPILER]}"
CC_ARG=()
[ -n "${3:-}" ] && CC_ARG=(-DCMAKE_C_COMPILER="$3")
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mkdir -p "$LOGS"

if ! { cmake -S "$ROOT" -B "$BUILD" "${CC_ARG[@]}" -DCMAKE_BUILD_TYPE=Debug -DKILN_SANITIZE=ON &&
    cmake --build "$BUILD" -j"$(nproc)"; } >"$LOGS/asan-build.log" 2>&1; then
    tail -n 30 "$LOGS/asan-build.log"
    echo "sanitizers: build failed (log: $LOGS/asan-build.log)"
    exit 1
fi
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# install_consumer links an uninstrumented program against the installed
# library, which cannot load an ASan build (runtime not first); it is not a
# check of kiln's memory safety. test_faults runs on its own so its sweep
# counts are printed.
ok=1
ctest --test-dir "$BUILD" --output-on-failure -j2 -E '^(install_consumer|test_faults)$' >"$LOGS/asan-ctest.log" 2>&1 ||
    ok=0
if KILN_SOURCE_DIR="$ROOT" "$BUILD/tests/test_faults" >"$LOGS/asan-faults.log" 2>&1; then
    grep -hE 'allocation failures injected' "$LOGS/asan-faults.log"
else
    grep -E -A 25 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|ERROR|FAILED' "$LOGS/asan-faults.log" | head -n 60
    echo "sanitizers: allocation-failure sweep FAILED (log: $LOGS/asan-faults.log)"
    exit 1
fi
if [ "$ok" = 1 ]; then
    grep -E 'tests passed|Total Test time' "$LOGS/asan-ctest.log"
    echo "sanitizers: no ASan / UBSan / LSan reports"
else
    grep -E -A 25 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$LOGS/asan-ctest.log" | head -n 80
    grep -E 'tests passed|\*\*\*Failed|Failed  ' "$LOGS/asan-ctest.log"
    echo "sanitizers: FAILED (log: $LOGS/asan-ctest.log)"
    exit 1
fi
