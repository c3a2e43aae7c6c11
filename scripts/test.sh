#!/usr/bin/env bash
# kiln's full check: build, unit tests, the bundled models against their
# PyTorch references, then the ONNX conformance suites. Exits non-zero if
# anything fails. CI (.ci/run) runs the default set; --long adds the slow
# checks (exporting the torchvision benchmark models and running them).
set -uo pipefail

usage() {
    cat <<'USAGE'
usage: scripts/test.sh [--long]
  --long   also export the torchvision benchmark models (models/export_benchmarks.py)
           into the build folder and compare kiln with PyTorch on them
Environment: KILN_BUILD_DIR (default: build) is the CMake build folder.
  KILN_ROBUSTNESS=0 skips the sanitizer / valgrind / kill -9 / fuzzing steps;
  KILN_FUZZ_SECONDS (default 45) is the fuzzing time per target;
  KILN_ASAN_BUILD_DIR, KILN_FUZZ_BUILD_DIR (build-asan, build-fuzz) their folders.
USAGE
}

long=0
for arg in "$@"; do
    case "$arg" in
        --long) long=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "test.sh: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

BUILD="${KILN_BUILD_DIR:-build}"
KILN="$BUILD/kiln"
LOGS="$BUILD/test-logs"
# Debian's interpreter has python3-torch/onnx; a `python3` earlier in PATH
# (pyenv, venv) may not.
PYTHON=/usr/bin/python3
TESTDATA=/usr/share/libonnx-testdata/data
BACKEND_NODE="$ROOT/../shared/onnx-backend-tests/node"
# A hung suite must not eat the whole CI budget (90 minutes on 2 cores).
SUITE_TIMEOUT=${KILN_SUITE_TIMEOUT:-1200}

step() { printf '\n==> %s\n' "$*"; }
die() { echo "test.sh: $*" >&2; exit 1; }

problems=()
total_pass=0 total_fail=0 total_skip=0
suite_lines=()

# run_suite NAME PATH [kiln conformance options...]
# Runs one conformance suite, keeps its full log, prints its failures and its
# totals, and adds them to the grand total.
run_suite() {
    local name="$1" path="$2"
    shift 2
    local log="$LOGS/conformance-$name.log"
    step "conformance: $name ($path) $*"
    local start=$SECONDS rc=0
    timeout "$SUITE_TIMEOUT" "$KILN" conformance "$path" "$@" >"$log" 2>&1 || rc=$?
    local secs=$((SECONDS - start))
    grep -E '^FAIL ' "$log" | head -n 50 || true
    local nfail_lines
    nfail_lines=$(grep -cE '^FAIL ' "$log" || true)
    if [ "$nfail_lines" -gt 50 ]; then
        echo "... $((nfail_lines - 50)) more FAIL lines in $log"
    fi
    local summary
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1 || true)
    if [ -z "$summary" ]; then
        echo "no summary line from kiln conformance (exit status $rc); last lines of $log:"
        tail -n 20 "$log"
        [ "$rc" -eq 124 ] && echo "(timed out after ${SUITE_TIMEOUT}s)"
        problems+=("conformance $name: no result (exit status $rc)")
        suite_lines+=("$(printf '%-26s no result (exit status %d)' "$name" "$rc")")
        return
    fi
    local p f s
    read -r p _ f _ s _ <<<"${summary//,/}"
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    total_skip=$((total_skip + s))
    echo "$name: $summary (${secs}s; log: $log)"
    suite_lines+=("$(printf '%-26s %s' "$name" "$summary")")
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
        problems+=("conformance $name: $f failed, $s skipped, exit status $rc")
    fi
}

started=$SECONDS

step "install dependencies (scripts/install-deps.sh --test)"
bash scripts/install-deps.sh --test || die "installing dependencies failed"

step "configure (cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=Release)"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release || die "cmake configure failed"

step "build (cmake --build $BUILD -j$(nproc))"
cmake --build "$BUILD" -j"$(nproc)" || die "build failed"
mkdir -p "$LOGS"

step "unit tests (ctest --test-dir $BUILD --output-on-failure -j2)"
if ! ctest --test-dir "$BUILD" --output-on-failure -j2; then
    problems+=("ctest")
fi

# Races: the library and the concurrency stress test only, built with clang
# and ThreadSanitizer in their own folder (a few minutes on 2 cores).
TSAN_BUILD="${KILN_TSAN_BUILD_DIR:-build-tsan}"
step "ThreadSanitizer: test_stress ($TSAN_BUILD, clang)"
if cmake -S . -B "$TSAN_BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release -DKILN_SANITIZE_THREAD=ON \
        -DKILN_BUILD_EXAMPLES=OFF >"$LOGS/tsan-build.log" 2>&1 &&
    cmake --build "$TSAN_BUILD" -j"$(nproc)" --target test_stress >>"$LOGS/tsan-build.log" 2>&1; then
    if TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" KILN_SOURCE_DIR="$ROOT" \
        "$TSAN_BUILD/tests/test_stress" >"$LOGS/tsan-stress.log" 2>&1; then
        grep -E 'threads x' "$LOGS/tsan-stress.log" || true
        echo "ThreadSanitizer: no reports"
    else
        grep -A 30 -m 1 'WARNING: ThreadSanitizer' "$LOGS/tsan-stress.log" || tail -n 30 "$LOGS/tsan-stress.log"
        problems+=("ThreadSanitizer stress test (log: $LOGS/tsan-stress.log)")
    fi
else
    tail -n 30 "$LOGS/tsan-build.log"
    problems+=("ThreadSanitizer build (log: $LOGS/tsan-build.log)")
fi

# Bundled models must all pass: no --allow-skip, so a skip fails too.
run_suite bundled-models models/

for suite in node pytorch-converted pytorch-operator simple; do
    if [ -d "$TESTDATA/$suite" ]; then
        run_suite "debian-$suite" "$TESTDATA/$suite" --allow-skip --known tests/conformance/known_deviations.txt
    else
        problems+=("missing $TESTDATA/$suite (package libonnx-testdata)")
    fi
done
# The PyTorch-converted Conv/Pool models again with conv chains in the
# blocked layout whatever the CPU (level 3: portable kernels without AVX-512).
if [ -d "$TESTDATA/pytorch-converted" ]; then
    run_suite debian-pytorch-converted-blocked "$TESTDATA/pytorch-converted" --opt 3 --allow-skip \
        --known tests/conformance/known_deviations.txt
fi

if [ -d "$BACKEND_NODE" ]; then
    run_suite onnx-backend-node "$BACKEND_NODE" --allow-skip
else
    step "conformance: onnx-backend-node skipped: $BACKEND_NODE does not exist"
fi

# Hostile input and faults (docs/security.md): the suite under ASan + UBSan,
# valgrind on the CLI, kill -9 during writes, libFuzzer. KILN_ROBUSTNESS=0
# skips them (about 8 minutes on 2 cores).
if [ "${KILN_ROBUSTNESS:-1}" = 1 ]; then
    ASAN_BUILD="${KILN_ASAN_BUILD_DIR:-build-asan}"
    step "AddressSanitizer + UBSan + LeakSanitizer: ctest ($ASAN_BUILD, Debug, KILN_SANITIZE=ON)"
    bash tests/robustness/sanitizers.sh "$ASAN_BUILD" "$LOGS" || problems+=("ASan/UBSan ctest (log: $LOGS/asan-ctest.log)")
    step "valgrind memcheck: kiln run / conformance / optimize"
    bash tests/robustness/valgrind.sh "$BUILD" "$LOGS" || problems+=("valgrind memcheck (logs: $LOGS/valgrind-*.log)")
    step "kill -9 during kiln optimize / recalibrate writes"
    bash tests/robustness/kill_writes.sh "$BUILD" 8 || problems+=("kill -9 during writes")
    FUZZ_BUILD="${KILN_FUZZ_BUILD_DIR:-build-fuzz}"
    if command -v clang >/dev/null 2>&1; then
        step "libFuzzer: regressions + ${KILN_FUZZ_SECONDS:-45}s per target ($FUZZ_BUILD, clang)"
        if { cmake -S . -B "$FUZZ_BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_FUZZ=ON \
                -DKILN_BUILD_TESTS=OFF && cmake --build "$FUZZ_BUILD" -j"$(nproc)"; } >"$LOGS/fuzz-build.log" 2>&1; then
            bash tests/fuzz/run_fuzz.sh "$FUZZ_BUILD" "${KILN_FUZZ_SECONDS:-45}" ||
                problems+=("fuzzing (logs: $FUZZ_BUILD/fuzz-logs, inputs: $FUZZ_BUILD/fuzz-artifacts)")
        else
            tail -n 30 "$LOGS/fuzz-build.log"
            problems+=("fuzz build (log: $LOGS/fuzz-build.log)")
        fi
    else
        step "libFuzzer skipped: clang is not installed"
        problems+=("fuzzing: clang missing")
    fi
fi

if [ "$long" = 1 ]; then
    bench_dir="$BUILD/bench-models"
    step "export the benchmark models ($PYTHON models/export_benchmarks.py $bench_dir)"
    if "$PYTHON" models/export_benchmarks.py "$bench_dir" 2>"$LOGS/export-benchmarks.stderr"; then
        # Deep networks accumulate float rounding differently from PyTorch;
        # outputs are O(0.1), so 1e-4 absolute is still a tight check.
        run_suite benchmark-models "$bench_dir" --atol 1e-4
        step "optimizer on the benchmark models (level 0 vs 2; kiln optimize + onnx.checker)"
        if ! KILN_BENCH_MODELS="$bench_dir" "$BUILD/tests/test_passes" >"$LOGS/passes-bench.log" 2>&1; then
            tail -n 20 "$LOGS/passes-bench.log"
            problems+=("optimizer on the benchmark models")
        fi
        grep "worst" "$LOGS/passes-bench.log" || true
        if ! bash tests/optimize/check_optimize.sh "$BUILD" "$bench_dir" --atol 1e-4; then
            problems+=("kiln optimize on the benchmark models")
        fi
    else
        tail -n 20 "$LOGS/export-benchmarks.stderr"
        problems+=("exporting the benchmark models")
    fi
fi

step "summary ($((SECONDS - started))s)"
for line in "${suite_lines[@]}"; do
    echo "  $line"
done
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
if [ "${#problems[@]}" -ne 0 ]; then
    echo "FAILED:"
    printf '  %s\n' "${problems[@]}"
    exit 1
fi
echo "all checks passed"
