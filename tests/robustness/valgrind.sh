#!/usr/bin/env bash
# valgrind memcheck on the CLI of a normal (Release) build: `kiln run` on the
# bundled models, `kiln conformance` on a sample of the ONNX node tests,
# `kiln optimize`. Any memcheck error or definite / indirect leak fails.
#
# usage: tests/robustness/valgrind.sh BUILD_DIR LOG_DIR
set -uo pipefail
BUILD="${1:?usage: valgrind.sh BUILD_DIR LOG_DIR}"
LOGS="${2:?usage: valgrind.sh BUILD_DIR LOG_DIR}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KILN="$BUILD/kiln"
NODE=/usr/share/libonnx-testdata/data/node
mkdir -p "$LOGS"
command -v valgrind >/dev/null || { echo "valgrind: not installed"; exit 1; }

work="$(mktemp -d /tmp/kiln-valgrind-XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/sample"
for t in test_conv_with_strides_padding test_gemm_all_attributes test_maxpool_2d_pads test_softmax_axis_1 \
    test_lstm_defaults test_resize_upsample_scales_linear test_nonzero_example test_einsum_batch_matmul \
    test_gather_0 test_reduce_mean_default_axes_keepdims_random test_batchnorm_example test_topk; do
    [ -d "$NODE/$t" ] && ln -s "$NODE/$t" "$work/sample/$t"
done

VG=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --track-origins=yes)
failed=0
check() {
    local name="$1"
    shift
    local log="$LOGS/valgrind-$name.log"
    "${VG[@]}" "$@" >"$log" 2>&1
    local rc=$?
    if [ "$rc" -eq 99 ] || grep -qE '^==[0-9]+== (Invalid|Conditional|Use of unini|Mismatched|Syscall param)' "$log"; then
        grep -E -A 15 '^==[0-9]+== ' "$log" | head -n 40
        echo "valgrind $name: REPORTS (log: $log)"
        failed=1
    elif [ "$rc" -ne 0 ]; then
        tail -n 5 "$log"
        echo "valgrind $name: kiln failed with status $rc (log: $log)"
        failed=1
    else
        echo "valgrind $name: clean"
    fi
}
for m in tiny_cnn tiny_mobilenet; do
    check "run-$m" "$KILN" run "$ROOT/models/$m/model.onnx" --input "$ROOT/models/$m/test_data_set_0/input_0.pb"
done
check conformance-sample "$KILN" conformance "$work/sample"
check conformance-bundled "$KILN" conformance "$ROOT/models"
check optimize-tiny_cnn "$KILN" optimize "$ROOT/models/tiny_cnn/model.onnx" "$work/opt.onnx"
exit "$failed"
