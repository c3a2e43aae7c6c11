#!/bin/bash
# End-to-end tests of the `kiln` command line: every command, option and
# error path, on small models generated here with /usr/bin/python3 + onnx.
#
# Usage: tests/cli/test_cli.sh BUILD_DIR
# Prints one line per failed check, then "N passed, N failed"; exits 1 if
# any check failed.
set -u

BUILD_DIR=${1:?usage: test_cli.sh BUILD_DIR}
KILN="$BUILD_DIR/kiln"
PY=/usr/bin/python3
if [ ! -x "$KILN" ]; then
    echo "test_cli.sh: $KILN is not an executable" >&2
    exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-cli.XXXXXX")
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

# k DESCRIPTION ARGS...: run kiln, capture stdout/stderr/exit status. A
# status >= 128 is a crash, which is never acceptable.
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
out_lacks() { if grep -qE -- "$1" <<<"$OUT"; then bad "stdout has /$1/"; else ok; fi; }
err_has() { if grep -qE -- "$1" <<<"$ERR"; then ok; else bad "stderr lacks /$1/"; fi; }
out_empty() { if [ -z "$OUT" ]; then ok; else bad "stdout not empty"; fi; }
last_line_is() {
    if [ "$(tail -n 1 <<<"$OUT")" = "$1" ]; then ok; else bad "last stdout line is not '$1'"; fi
}
# Failures are one "kiln: ..." line on stderr.
one_error_line() {
    if [ "$(grep -c . <<<"$ERR")" -eq 1 ] && grep -qE '^kiln: ' <<<"$ERR"; then ok; else
        bad "stderr is not one 'kiln: ' line"
    fi
}
# Usage errors: one "kiln: ..." line plus a hint to --help.
usage_error() {
    rc_is 2
    if [ "$(grep -c . <<<"$ERR")" -eq 2 ] && grep -qE '^kiln: ' <<<"$ERR" && grep -q -- '--help' <<<"$ERR"; then
        ok
    else
        bad "stderr is not an error line plus a --help hint"
    fi
}
check() { # check DESCRIPTION COMMAND...: a shell/python condition
    CASE=$1
    shift
    LAST_CMD="$*"
    if "$@" >"$T/check.out" 2>&1; then ok; else
        RC=$?
        OUT=$(cat "$T/check.out")
        ERR=
        bad "condition failed"
    fi
}

# ---- models and data ------------------------------------------------------
"$PY" - "$T" <<'EOF' || { echo "test_cli.sh: cannot generate models with $PY" >&2; exit 1; }
import os, sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

T = sys.argv[1]

def save(graph, path, opsets=(("", 13),)):
    m = helper.make_model(graph, producer_name="kiln-cli-test", producer_version="1.2",
                          opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    m.ir_version = 7
    onnx.save(m, path)

def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)

F = TensorProto.FLOAT
# Relu on a fixed shape
save(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
                       [vi("x", F, [2, 3])], [vi("y", F, [2, 3])]), f"{T}/relu.onnx")
# Add with a symbolic batch dim, a second input and an initializer
w = numpy_helper.from_array(np.array([0.5, -1.0, 2.0, 0.0], dtype=np.float32), "w")
save(helper.make_graph([helper.make_node("Add", ["a", "b"], ["s"]),
                        helper.make_node("Add", ["s", "w"], ["c"])], "add",
                       [vi("a", F, ["batch", 4]), vi("b", F, [1, 4])], [vi("c", F, ["batch", 4])], [w]),
     f"{T}/add.onnx")
# an open non-leading dim
save(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "sym",
                       [vi("x", F, ["N", "H"])], [vi("y", F, ["N", "H"])]), f"{T}/sym.onnx")
# an op kiln cannot have
save(helper.make_graph([helper.make_node("FooBar", ["x"], ["t"], domain="com.example"),
                        helper.make_node("Relu", ["t"], ["y"])], "foobar",
                       [vi("x", F, [2])], [vi("y", F, [2])]), f"{T}/foobar.onnx",
     opsets=(("", 13), ("com.example", 1)))
with open(f"{T}/garbage.onnx", "wb") as f:
    f.write(b"\x08\x07this is not a protobuf model\xff\xff\xff")

x = np.array([[1.5, -2.0, 0.0], [-0.25, 3.0, -7.0]], dtype=np.float32)
np.save(f"{T}/x.npy", x)
with open(f"{T}/x.pb", "wb") as f:
    f.write(numpy_helper.from_array(x, "x").SerializeToString())
np.save(f"{T}/x_wrong_shape.npy", np.zeros((3, 2), dtype=np.float32))
np.save(f"{T}/x_wrong_dtype.npy", np.zeros((2, 3), dtype=np.int64))
np.save(f"{T}/a.npy", np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], dtype=np.float32))
np.save(f"{T}/b.npy", np.array([[0, 0, 0, 10]], dtype=np.float32))

# ---- conformance folders ----
def write_case(folder, model_src, sets):
    os.makedirs(folder)
    os.link(model_src, f"{folder}/model.onnx")
    for k, (ins, outs) in enumerate(sets):
        d = f"{folder}/test_data_set_{k}"
        os.makedirs(d)
        for i, (name, arr) in enumerate(ins):
            with open(f"{d}/input_{i}.pb", "wb") as f:
                f.write(numpy_helper.from_array(arr, name).SerializeToString())
        for j, (name, arr) in enumerate(outs):
            with open(f"{d}/output_{j}.pb", "wb") as f:
                f.write(numpy_helper.from_array(arr, name).SerializeToString())

relu = lambda v: np.maximum(v, 0).astype(np.float32)
x2 = (np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5)
suite = f"{T}/suite"
write_case(f"{suite}/test_relu_pass", f"{T}/relu.onnx",
           [([("x", x)], [("y", relu(x))]), ([("x", x2)], [("y", relu(x2))])])
bad = relu(x).copy()
bad[1, 1] = 3.03  # 1% off: fails at rtol 1e-3, passes at 1e-1
write_case(f"{suite}/test_relu_tampered", f"{T}/relu.onnx", [([("x", x)], [("y", bad)])])
write_case(f"{suite}/test_foobar_skip", f"{T}/foobar.onnx",
           [([("x", np.ones(2, np.float32))], [("y", np.ones(2, np.float32))])])

other = f"{T}/other"
write_case(f"{other}/test_relu_dtype", f"{T}/relu.onnx", [([("x", x)], [("y", relu(x).astype(np.float64))])])
write_case(f"{other}/test_relu_shape", f"{T}/relu.onnx", [([("x", x)], [("y", relu(x).reshape(3, 2))])])
write_case(f"{other}/test_relu_outputs", f"{T}/relu.onnx", [([("x", x)], [("y", relu(x)), ("z", relu(x))])])
inf, nan = np.inf, np.nan
a = np.array([[nan, inf, -inf, 1.0]], dtype=np.float32)
b = np.zeros((1, 4), dtype=np.float32)
c = a + b + np.array([0.5, -1.0, 2.0, 0.0], dtype=np.float32)
write_case(f"{other}/test_add_nan_inf", f"{T}/add.onnx", [([("a", a), ("b", b)], [("c", c)])])
c_bad = c.copy()
c_bad[0, 1] = -inf
write_case(f"{other}/test_add_inf_sign", f"{T}/add.onnx", [([("a", a), ("b", b)], [("c", c_bad)])])
write_case(f"{other}/test_add_missing_input", f"{T}/add.onnx", [([("a", a)], [("c", c)])])
# A SequenceProto where a tensor is expected
write_case(f"{other}/test_relu_sequence", f"{T}/relu.onnx", [([("x", x)], [("y", relu(x))])])
seq = onnx.SequenceProto(name="x", elem_type=onnx.SequenceProto.TENSOR,
                         tensor_values=[numpy_helper.from_array(x, "t0")])
with open(f"{other}/test_relu_sequence/test_data_set_0/input_0.pb", "wb") as f:
    f.write(seq.SerializeToString())
os.makedirs(f"{T}/empty_dir")
os.makedirs(f"{T}/no_data/test_nodata")
os.link(f"{T}/relu.onnx", f"{T}/no_data/test_nodata/model.onnx")
EOF

# ---- top level ------------------------------------------------------------
k "no arguments"
usage_error
k "unknown command" frobnicate
usage_error
err_has "unknown command 'frobnicate'"
k "unknown top-level option" --frobnicate
usage_error
k "--help" --help
rc_is 0
out_has '^Usage: kiln'
out_has 'info'
out_has 'run'
out_has 'conformance'
out_has '^  ops +list the operators'
k "--version" --version
rc_is 0
out_has '^kiln [0-9]+\.[0-9]+\.[0-9]+'

# ---- ops ------------------------------------------------------------------
k "ops --help" ops --help
rc_is 0
out_has '^Usage: kiln ops \[--json\]'
k "ops unknown option" ops --bogus
usage_error
err_has "unknown option '--bogus'"
k "ops positional" ops Conv
usage_error
k "ops --json=1" ops --json=1
usage_error
k "ops" ops
rc_is 0
out_has '^domain +op +opsets +fast +dtypes$'
out_has '^ai\.onnx +Conv +1\+ +fast +float32, float16$'
out_has '^ai\.onnx +Squeeze +1-12 +- +\(upgrade to a newer opset\)$'
out_has '^ai\.onnx +Where +9\+ +- +input 1: float32'
out_has '^ai\.onnx +Shape +1\+ +- +any$'
out_has '^kiln +FusedConv '
k "ops --json" ops --json
rc_is 0
printf '%s\n' "$OUT" >"$T/ops.json"
check "ops --json parses and matches the table" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
ops = d["ops"]
by = {}
for o in ops:
    assert set(o) == {"domain", "name", "since_min", "since_max", "upgrade_only", "fast", "dtype_input", "dtypes"}, o
    by.setdefault((o["domain"], o["name"]), []).append(o)
conv = by[("", "Conv")][0]
assert conv["fast"] and conv["dtypes"] == ["float32", "float16"] and conv["since_max"] == 0, conv
assert by[("", "Shape")][0]["dtypes"] is None
old, new = by[("", "Squeeze")]
assert old["upgrade_only"] and (old["since_min"], old["since_max"]) == (1, 12), old
assert not new["upgrade_only"] and new["since_min"] == 13, new
assert by[("", "Where")][0]["dtype_input"] == 1
assert not by[("", "Add")][0]["fast"]
assert "kiln" in {o["domain"] for o in ops}
assert d["kiln_version"]
' "$T/ops.json"
k "ops text and json list the same descriptors" ops
check "ops: one text line per JSON entry" test "$(($(grep -c . <<<"$OUT") - 1))" -eq "$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["ops"]))' "$T/ops.json")"

# ---- info -----------------------------------------------------------------
k "info --help" info --help
rc_is 0
out_has '^Usage: kiln info MODEL'
k "info without model" info
usage_error
k "info unknown option" info "$T/relu.onnx" --bogus
usage_error
err_has "unknown option '--bogus'"
k "info two models" info "$T/relu.onnx" "$T/add.onnx"
usage_error
k "info --json=1" info "$T/relu.onnx" --json=1
usage_error
k "info missing file" info "$T/nope.onnx"
rc_is 1
one_error_line
err_has 'nope.onnx'
k "info garbage file" info "$T/garbage.onnx"
rc_is 1
one_error_line
k "info directory" info "$T"
rc_is 1
one_error_line

k "info relu" info "$T/relu.onnx"
rc_is 0
out_has '^ir version: 7$'
out_has '^producer: kiln-cli-test 1\.2$'
out_has '^opsets: ai\.onnx 13$'
out_has '^  x: float32\[2,3\]$'
out_has '^  y: float32\[2,3\]$'
out_has '^ +1  Relu$'
out_has '^unsupported ops: none$'

k "info add (symbolic dim, initializer)" info "$T/add.onnx"
rc_is 0
out_has '^  a: float32\[batch,4\]$'
out_has '^  b: float32\[1,4\]$'
out_has '^  c: float32\[batch,4\]$'
out_has '^ +2  Add$'
out_has '^parameters: 4 \(4\), 16 bytes \(16 B\)$'
out_lacks '^  w:'

k "info unsupported op" info "$T/foobar.onnx"
rc_is 0
out_has '^opsets: ai\.onnx 13, com\.example 1$'
out_has 'com\.example\.FooBar  \(unsupported\)'
out_has '^unsupported ops: com\.example\.FooBar$'

k "info --json" info --json "$T/add.onnx"
rc_is 0
check "info --json parses and is right" "$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["ir_version"] == 7, d
assert d["producer_name"] == "kiln-cli-test" and d["producer_version"] == "1.2", d
assert d["opset_imports"] == [{"domain": "", "version": 13}], d
assert d["inputs"] == [{"name": "a", "dtype": "float32", "shape": ["batch", 4]},
                       {"name": "b", "dtype": "float32", "shape": [1, 4]}], d["inputs"]
assert d["outputs"] == [{"name": "c", "dtype": "float32", "shape": ["batch", 4]}], d["outputs"]
assert d["ops"] == [{"domain": "", "op_type": "Add", "count": 2, "supported": True}], d["ops"]
assert d["parameter_count"] == 4 and d["parameter_bytes"] == 16, d
assert d["unsupported_ops"] == [], d
' "$OUT"
k "info --json unsupported" info "$T/foobar.onnx" --json
rc_is 0
check "info --json lists unsupported ops" "$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
assert {"domain": "com.example", "op_type": "FooBar"} in d["unsupported_ops"], d
' "$OUT"

# ---- run: argument errors ---------------------------------------------------
k "run --help" run --help
rc_is 0
out_has '^Usage: kiln run MODEL'
out_has '--dim NAME=VALUE'
k "run without model" run
usage_error
k "run unknown option" run "$T/relu.onnx" --bogus
usage_error
k "run --input without value" run "$T/relu.onnx" --input
usage_error
k "run --top 0" run "$T/relu.onnx" --random --top 0
usage_error
k "run --top x" run "$T/relu.onnx" --random --top x
usage_error
k "run --threads abc" run "$T/relu.onnx" --random --threads abc
usage_error
k "run --isa bogus" run "$T/relu.onnx" --random --isa bogus
usage_error
err_has "--isa: 'bogus' is not one of auto, generic, avx2, avx512"
k "run --isa generic" run "$T/relu.onnx" --random --isa generic
rc_is 0
k "run --seed without --random" run "$T/relu.onnx" --input "$T/x.npy" --seed 3
usage_error
k "run --dim without --random" run "$T/add.onnx" --dim batch=2
usage_error
k "run --dim without =" run "$T/add.onnx" --random --dim batch
usage_error
k "run --dim negative" run "$T/add.onnx" --random --dim batch=-1
usage_error
k "run --dim not a number" run "$T/add.onnx" --random --dim batch=two
usage_error
k "run --dim twice" run "$T/add.onnx" --random --dim batch=2 --dim batch=3
usage_error

# ---- run: model and input errors -------------------------------------------
k "run missing model" run "$T/nope.onnx" --random
rc_is 1
one_error_line
k "run garbage model" run "$T/garbage.onnx" --random
rc_is 1
one_error_line
k "run unsupported op" run "$T/foobar.onnx" --random
rc_is 1
one_error_line
err_has 'FooBar'
k "run missing input" run "$T/relu.onnx"
rc_is 1
one_error_line
err_has "input 'x'"
k "run one of two inputs missing" run "$T/add.onnx" --input a="$T/a.npy"
rc_is 1
one_error_line
err_has "input 'b'"
k "run wrong input name" run "$T/relu.onnx" --input nope="$T/x.npy"
rc_is 1
one_error_line
err_has "'nope'"
k "run input given twice" run "$T/relu.onnx" --input x="$T/x.npy" --input x="$T/x.pb"
rc_is 1
one_error_line
k "run too many bare inputs" run "$T/relu.onnx" --input "$T/x.npy" --input "$T/x.pb"
rc_is 1
one_error_line
k "run missing input file" run "$T/relu.onnx" --input x="$T/missing.npy"
rc_is 1
one_error_line
err_has "input 'x'"
k "run garbage input file" run "$T/relu.onnx" --input x="$T/garbage.onnx"
rc_is 1
one_error_line
k "run input wrong shape" run "$T/relu.onnx" --input x="$T/x_wrong_shape.npy"
rc_is 1
one_error_line
k "run input wrong dtype" run "$T/relu.onnx" --input x="$T/x_wrong_dtype.npy"
rc_is 1
one_error_line
k "run --dim unknown name" run "$T/add.onnx" --random --dim nosuch=3
rc_is 1
one_error_line
err_has 'nosuch'
k "run --random open inner dim" run "$T/sym.onnx" --random
rc_is 1
one_error_line
err_has "input 'x'"
err_has "'H'"

# ---- run: real runs ---------------------------------------------------------
k "run relu from .npy" run "$T/relu.onnx" --input x="$T/x.npy"
rc_is 0
out_has "^output 'y': float32\[2,3\]$"
out_has '^  min 0  max 3  mean 0\.75$'
out_has '^  values: 1\.5 0 0 0 3 0$'
out_has '^run time: [0-9.]+ ms'
k "run relu bare .pb input" run "$T/relu.onnx" --input "$T/x.pb"
rc_is 0
out_has '^  values: 1\.5 0 0 0 3 0$'
k "run --input=NAME=FILE form" run "$T/relu.onnx" --input=x="$T/x.npy"
rc_is 0
k "run bare input fills first unbound" run "$T/add.onnx" --input b="$T/b.npy" --input "$T/a.npy" --top 2
rc_is 0
out_has "^output 'c': float32\[3,4\]$"
# row 0: a+b+w = [1.5, 1, 5, 14]
out_has '^  top-2 row 0: 3 \(14\), 2 \(5\)$'
out_has '^  top-2 row 2: 3 \(22\), 2 \(13\)$'
k "run --top larger than the row" run "$T/relu.onnx" --input x="$T/x.npy" --top 10
rc_is 0
out_has '^  top-3 row 1: 1 \(3\), 0 \(0\), 2 \(0\)$'
k "run --random default batch 1" run "$T/add.onnx" --random
rc_is 0
out_has "^output 'c': float32\[1,4\]$"
k "run --random --dim" run "$T/add.onnx" --random --dim batch=5
rc_is 0
out_has "^output 'c': float32\[5,4\]$"
k "run --random --dim for inner dim" run "$T/sym.onnx" --random --dim H=7
rc_is 0
out_has "^output 'y': float32\[1,7\]$"
k "run --quiet" run "$T/relu.onnx" --input x="$T/x.npy" --quiet
rc_is 0
out_empty
k "run --threads 1" run "$T/relu.onnx" --input x="$T/x.npy" --threads 1
rc_is 0

# random data: in range, deterministic per seed
k "run --random --seed 5 (a)" run "$T/sym.onnx" --random --seed 5 --dim N=64 --dim H=64 --output-dir "$T/r5a" --quiet
rc_is 0
k "run --random --seed 5 (b)" run "$T/sym.onnx" --random --seed 5 --dim N=64 --dim H=64 --output-dir "$T/r5b" --quiet
rc_is 0
k "run --random --seed 6" run "$T/sym.onnx" --random --seed 6 --dim N=64 --dim H=64 --output-dir "$T/r6" --quiet
rc_is 0
check "same seed, same data" cmp "$T/r5a/y.npy" "$T/r5b/y.npy"
check "other seed, other data" bash -c "! cmp -s '$T/r5a/y.npy' '$T/r6/y.npy'"
check "random floats in [0,1) after Relu, about half zero" "$PY" -c '
import numpy as np, sys
y = np.load(sys.argv[1])
assert y.shape == (64, 64), y.shape
assert y.min() == 0 and y.max() < 1, (y.min(), y.max())
z = (y == 0).mean()
assert 0.4 < z < 0.6, z
' "$T/r5a/y.npy"

# --output-dir: created (nested), .pb and .npy agree with numpy
k "run --output-dir" run "$T/add.onnx" --input a="$T/a.npy" --input b="$T/b.npy" --output-dir "$T/out/nested"
rc_is 0
out_has "^wrote 1 output to "
check "outputs written and correct" "$PY" -c '
import numpy as np, onnx, sys
from onnx import numpy_helper
T = sys.argv[1]
a, b = np.load(f"{T}/a.npy"), np.load(f"{T}/b.npy")
want = a + b + np.array([0.5, -1.0, 2.0, 0.0], dtype=np.float32)
got_npy = np.load(f"{T}/out/nested/c.npy")
t = onnx.TensorProto()
t.ParseFromString(open(f"{T}/out/nested/c.pb", "rb").read())
assert t.name == "c", t.name
got_pb = numpy_helper.to_array(t)
for g in (got_npy, got_pb):
    assert g.dtype == np.float32 and g.shape == want.shape, (g.dtype, g.shape)
    np.testing.assert_allclose(g, want, rtol=1e-6)
' "$T"
k "run reading back its own output" run "$T/relu.onnx" --input x="$T/x.npy" --output-dir "$T/o1" --quiet
rc_is 0
k "run on the written output" run "$T/relu.onnx" --input "$T/o1/y.pb"
rc_is 0
out_has '^  values: 1\.5 0 0 0 3 0$'
cp "$T/x.pb" "$T/o1/y.pb"
sum_before=$(md5sum <"$T/o1/y.pb")
k "run refuses to overwrite an input" run "$T/relu.onnx" --input x="$T/o1/y.pb" --output-dir "$T/o1"
rc_is 1
one_error_line
err_has 'overwrite'
check "input file unchanged" test "$(md5sum <"$T/o1/y.pb")" = "$sum_before"
: >"$T/not_a_dir"
k "run --output-dir onto a file" run "$T/relu.onnx" --input x="$T/x.npy" --output-dir "$T/not_a_dir"
rc_is 1
one_error_line

# ---- conformance ------------------------------------------------------------
k "conformance --help" conformance --help
rc_is 0
out_has '^Usage: kiln conformance PATH'
out_has 'Per-op tolerances'
k "conformance without PATH" conformance
usage_error
k "conformance bad --rtol" conformance "$T/suite" --rtol -1
usage_error
k "conformance bad --atol" conformance "$T/suite" --atol abc
usage_error
k "conformance unknown option" conformance "$T/suite" --bogus
usage_error
k "conformance missing PATH" conformance "$T/nope"
rc_is 1
one_error_line
k "conformance folder without tests" conformance "$T/empty_dir"
rc_is 1
one_error_line

k "conformance passing test" conformance "$T/suite/test_relu_pass"
rc_is 0
out_has '^PASS test_relu_pass$'
last_line_is "1 passed, 0 failed, 0 skipped"
k "conformance --isa avx2" conformance --isa avx2 "$T/suite/test_relu_pass"
rc_is 0
last_line_is "1 passed, 0 failed, 0 skipped"
k "conformance --isa without value" conformance "$T/suite/test_relu_pass" --isa
usage_error
k "conformance trailing slash" conformance "$T/suite/test_relu_pass/"
rc_is 0
out_has '^PASS test_relu_pass$'
k "conformance --verbose" conformance --verbose "$T/suite/test_relu_pass"
rc_is 0
out_has 'rtol 0\.001, atol 1e-07'
last_line_is "1 passed, 0 failed, 0 skipped"

k "conformance tampered output" conformance "$T/suite/test_relu_tampered"
rc_is 1
out_has "^FAIL test_relu_tampered: output 'y' element 4 \[1,1\]: got 3, expected 3\.03"
last_line_is "0 passed, 1 failed, 0 skipped"
k "conformance --rtol loosens" conformance "$T/suite/test_relu_tampered" --rtol 0.1
rc_is 0
last_line_is "1 passed, 0 failed, 0 skipped"
k "conformance --atol loosens" conformance "$T/suite/test_relu_tampered" --atol 0.05
rc_is 0

k "conformance unsupported op" conformance "$T/suite/test_foobar_skip"
rc_is 1
out_has '^SKIP test_foobar_skip: .*FooBar'
last_line_is "0 passed, 0 failed, 1 skipped"
k "conformance --allow-skip" conformance "$T/suite/test_foobar_skip" --allow-skip
rc_is 0
last_line_is "0 passed, 0 failed, 1 skipped"

k "conformance suite" conformance "$T/suite" --allow-skip
rc_is 1
check "suite: one line per test, sorted by name, then the summary" test "$(sed -E 's/^(PASS|FAIL|SKIP) ([^:]*).*/\1 \2/' <<<"$OUT")" = "SKIP test_foobar_skip
PASS test_relu_pass
FAIL test_relu_tampered
1 passed, 1 failed, 1 skipped"
k "conformance several PATHs" conformance "$T/suite/test_relu_pass" "$T/suite/test_foobar_skip"
rc_is 1
last_line_is "1 passed, 0 failed, 1 skipped"

k "conformance dtype mismatch" conformance "$T/other/test_relu_dtype"
rc_is 1
out_has '^FAIL test_relu_dtype: .*dtype'
k "conformance shape mismatch" conformance "$T/other/test_relu_shape"
rc_is 1
out_has '^FAIL test_relu_shape: .*shape.*\[2,3\].*\[3,2\]'
k "conformance output count mismatch" conformance "$T/other/test_relu_outputs"
rc_is 1
out_has '^FAIL test_relu_outputs: .*2 output'
k "conformance NaN equals NaN, inf exact" conformance "$T/other/test_add_nan_inf"
rc_is 0
out_has '^PASS test_add_nan_inf$'
k "conformance inf sign" conformance "$T/other/test_add_inf_sign"
rc_is 1
out_has "^FAIL test_add_inf_sign: output 'c' element 1 .*got inf, expected -inf"
k "conformance input count mismatch" conformance "$T/other/test_add_missing_input"
rc_is 1
out_has '^FAIL test_add_missing_input: .*1 input'
k "conformance sequence input" conformance "$T/other/test_relu_sequence"
rc_is 1
out_has '^FAIL test_relu_sequence: input_0.pb: not a valid TensorProto for the model.s tensor'
k "conformance no data sets" conformance "$T/no_data"
rc_is 1
out_has '^FAIL test_nodata: no test_data_set_'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
