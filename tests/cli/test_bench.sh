#!/bin/bash
# Tests of `kiln bench`: argument errors, input shapes, the text report,
# --json (parsed with /usr/bin/python3) and the --profile table. Small
# models and --iters 3, so it takes about a second; it checks the report's
# form and internal consistency, not speed.
#
# Usage: tests/cli/test_bench.sh BUILD_DIR
# Prints one line per failed check, then "N passed, N failed"; exits 1 if
# any check failed.
set -u

BUILD_DIR=${1:?usage: test_bench.sh BUILD_DIR}
KILN="$BUILD_DIR/kiln"
PY=/usr/bin/python3
SRC=$(cd "$(dirname "$0")/../.." && pwd)
RELU="$SRC/tests/data/relu_chain.onnx" # input x: float32[N,16]
CNN="$SRC/models/tiny_cnn/model.onnx"  # input: float32[1,3,32,32], Conv layers
if [ ! -x "$KILN" ]; then
    echo "test_bench.sh: $KILN is not an executable" >&2
    exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT

passed=0
failed=0
OUT= ERR= RC=

ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "FAILED: $CASE: $*"
    echo "  command: ${LAST_CMD}"
    echo "  exit $RC; stdout: $(head -c 600 <<<"$OUT")"
    echo "  stderr: $(head -c 600 <<<"$ERR")"
}
k() {
    CASE=$1
    shift
    LAST_CMD="kiln $*"
    OUT=$("$KILN" "$@" 2>"$T/stderr")
    RC=$?
    ERR=$(cat "$T/stderr")
    if [ "$RC" -ge 128 ]; then bad "crashed (signal $((RC - 128)))"; fi
}
rc_is() { if [ "$RC" -eq "$1" ]; then ok; else bad "exit status $RC, expected $1"; fi; }
out_has() { if grep -qE -- "$1" <<<"$OUT"; then ok; else bad "stdout lacks /$1/"; fi; }
err_has() { if grep -qE -- "$1" <<<"$ERR"; then ok; else bad "stderr lacks /$1/"; fi; }
out_empty() { if [ -z "$OUT" ]; then ok; else bad "stdout not empty"; fi; }
one_error_line() {
    if [ "$(grep -c . <<<"$ERR")" -eq 1 ] && grep -qE '^kiln: ' <<<"$ERR"; then ok; else
        bad "stderr is not one 'kiln: ' line"
    fi
}
usage_error() {
    rc_is 2
    if [ "$(grep -c . <<<"$ERR")" -eq 2 ] && grep -qE '^kiln: ' <<<"$ERR" && grep -q -- '--help' <<<"$ERR"; then
        ok
    else
        bad "stderr is not an error line plus a --help hint"
    fi
}
# py_check DESCRIPTION SCRIPT: run a python check on $OUT (on stdin).
py_check() {
    CASE=$1
    if "$PY" -c "$2" <<<"$OUT" >"$T/check.out" 2>&1; then ok; else
        bad "python check failed: $(head -c 600 "$T/check.out")"
    fi
}

# A model whose second input dimension is open: bench cannot choose it.
"$PY" - "$T" <<'EOF' || { echo "test_bench.sh: cannot generate models with $PY" >&2; exit 1; }
import sys
import onnx
from onnx import TensorProto, helper
T = sys.argv[1]
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "sym",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "H"])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "H"])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 7
onnx.save(m, f"{T}/open_dim.onnx")
EOF

# ---- command line ----------------------------------------------------------
k "listed in kiln --help" --help
out_has '^  bench +time a model'
k "help" bench --help
rc_is 0
out_has '^Usage: kiln bench MODEL'
out_has '--profile'
k "missing model" bench
usage_error
err_has 'missing MODEL'
k "two models" bench "$RELU" "$RELU"
usage_error
k "unknown option" bench "$RELU" --frobnicate
usage_error
err_has "unknown option '--frobnicate'"
k "zero iterations" bench "$RELU" --iters 0
usage_error
err_has -- '--iters'
k "batch not a number" bench "$RELU" --batch two
usage_error
err_has -- '--batch'
k "batch zero" bench "$RELU" --batch 0
usage_error
k "opt level out of range" bench "$RELU" --opt 4
usage_error
k "negative threads" bench "$RELU" --threads -1
usage_error
k "json takes no value" bench "$RELU" --json=yes
usage_error
k "peak without profile" bench "$RELU" --peak 100
usage_error
err_has -- '--peak needs --profile'
k "peak zero" bench "$RELU" --profile --peak 0
usage_error
k "peak missing value" bench "$RELU" --profile --peak
usage_error

# ---- failures --------------------------------------------------------------
k "missing file" bench "$T/nope.onnx" --iters 3
rc_is 1
one_error_line
out_empty
k "open non-batch dimension" bench "$T/open_dim.onnx" --iters 3
rc_is 1
one_error_line
err_has "input 'x': dimension 1 'H' is open"
k "fixed batch dimension vs --batch" bench "$CNN" --batch 4 --iters 3
rc_is 1
one_error_line
err_has "first dimension is fixed at 1, so --batch 4"

# ---- text report -----------------------------------------------------------
k "text report" bench "$RELU" --batch 3 --warmup 1 --iters 3 --threads 1
rc_is 0
out_has "^input 'x': float32\[3,16\]$"
out_has '^threads: 1  opt level: 2  warmup: 1  iters: 3$'
out_has '^load: [0-9.]+ ms model \+ [0-9.]+ ms plan = [0-9.]+ ms \(first run [0-9.]+ ms\)$'
out_has '^latency: median [0-9.]+ ms  min [0-9.]+ ms  p90 [0-9.]+ ms'
out_has '^throughput: [0-9.]+ samples/s \(batch 3\)$'
out_has '^peak RSS: [0-9.]+ [KMG]iB'
k "fixed batch equal to --batch is fine" bench "$CNN" --batch 1 --iters 3 --warmup 0
rc_is 0

# ---- json ------------------------------------------------------------------
k "json" bench "$RELU" --batch 5 --warmup 2 --iters 4 --threads 1 --opt 1 --json
rc_is 0
py_check "json fields" '
import json, sys
d = json.loads(sys.stdin.read())
for f in ("median_ms", "min_ms", "p90_ms", "load_ms", "peak_rss_bytes", "model_load_ms", "plan_ms",
          "first_run_ms", "throughput_per_s", "mean_ms", "arena_bytes"):
    assert isinstance(d[f], (int, float)) and d[f] >= 0, f
assert d["runtime"] == "kiln" and d["batch"] == 5 and d["threads"] == 1, d
assert d["iters"] == 4 and d["warmup"] == 2 and d["opt_level"] == 1, d
assert 0 < d["min_ms"] <= d["median_ms"] <= d["p90_ms"], d
assert abs(d["load_ms"] - d["model_load_ms"] - d["plan_ms"]) < 1e-3, d
assert abs(d["throughput_per_s"] - 5e3 / d["median_ms"]) < 1e-3 * d["throughput_per_s"], d
assert d["peak_rss_bytes"] > 1 << 20, d
assert "profile" not in d
'

# ---- profile ---------------------------------------------------------------
k "profile table" bench "$CNN" --iters 3 --warmup 1 --threads 1 --profile --peak 100
rc_is 0
out_has '^peak: 100.0 GFLOP/s = 1 thread x 100.0 \(--peak\)$'
out_has '^ +# +node +op +ms/run +%total +GFLOP/s +%peak$'
out_has '^ +1  \S.* +[0-9]+\.[0-9]{3} +[0-9.]+%'
out_has 'Conv +[0-9.]+ +[0-9.]+% +[0-9.]+ +[0-9.]+%$'
out_has '^ +sum of nodes +[0-9.]+ +100.0%$'
out_has '^by op type:$'
py_check "profile rows sorted by time, percentages add up" '
import re, sys
rows = [l for l in sys.stdin.read().splitlines() if re.match(r"^ +[0-9]+  ", l)]
assert len(rows) >= 3, rows
ms = [float(re.search(r"([0-9]+\.[0-9]{3}) +[0-9.]+%", l).group(1)) for l in rows]
assert ms == sorted(ms, reverse=True), ms
pct = [float(re.search(r"([0-9.]+)%", l).group(1)) for l in rows]
assert abs(sum(pct) - 100) < 0.1 * len(rows) + 0.5, sum(pct)
'
k "profile with measured peak" bench "$RELU" --iters 3 --warmup 0 --threads 1 --profile
rc_is 0
out_has '^peak: ([0-9.]+ GFLOP/s = 1 thread x [0-9.]+ \(measured, (avx512f|avx2\+fma)\)|unknown)'
out_has '^ +[0-9]+  .*Relu +[0-9.]+ +[0-9.]+% +- +-$'
k "profile json" bench "$CNN" --iters 3 --warmup 0 --threads 1 --profile --peak 50 --json
rc_is 0
py_check "profile json" '
import json, sys
d = json.loads(sys.stdin.read())
p = d["profile"]
assert d["peak_gflops"] == 50 and d["peak_source"] == "given", d
assert len(p) >= 3
assert [e["ms_per_run"] for e in p] == sorted((e["ms_per_run"] for e in p), reverse=True)
convs = [e for e in p if "Conv" in e["op"]]
assert convs and all(e["flops"] > 0 and e["gflops"] > 0 and "percent_of_peak" in e for e in convs), convs
assert all(e["flops"] == 0 for e in p if e["op"] in ("Relu", "MaxPool")), p
'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
