#!/usr/bin/env bash
# `kiln optimize` end to end: for every model folder under MODELS_DIR
# (model.onnx + test_data_set_*), optimize it, validate the result with
# python3-onnx's checker, check the input was not touched and the output is
# never written over the input, and run the optimized model against the
# folder's reference outputs (computed by PyTorch from the unoptimized model).
# usage: check_optimize.sh BUILD_DIR MODELS_DIR [conformance options]
set -u
build=$1
models=$2
shift 2
kiln="$build/kiln"
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
for dir in "$models"/*/; do
    name=$(basename "$dir")
    [ -f "$dir/model.onnx" ] || continue
    before=$(sha256sum "$dir/model.onnx" | cut -d' ' -f1)
    mkdir -p "$tmp/$name"
    if ! "$kiln" optimize "$dir/model.onnx" "$tmp/$name/model.onnx" > "$tmp/$name.log" 2>&1; then
        fail "$name" "kiln optimize: $(tail -1 "$tmp/$name.log")"
        continue
    fi
    if ! "$py" -c "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]))" "$tmp/$name/model.onnx" 2> "$tmp/$name.chk"; then
        fail "$name" "onnx.checker: $(tail -1 "$tmp/$name.chk")"
        continue
    fi
    if [ "$(sha256sum "$dir/model.onnx" | cut -d' ' -f1)" != "$before" ]; then
        fail "$name" "the input model changed"
        continue
    fi
    if "$kiln" optimize "$dir/model.onnx" "$dir/model.onnx" > /dev/null 2>&1; then
        fail "$name" "kiln optimize accepted OUT == IN"
        continue
    fi
    for d in "$dir"/test_data_set_*; do ln -s "$(cd "$d" && pwd)" "$tmp/$name/"; done
    if ! "$kiln" conformance "$tmp/$name" "$@" > "$tmp/$name.conf" 2>&1; then
        fail "$name" "optimized model vs reference: $(grep -m1 FAIL "$tmp/$name.conf")"
        continue
    fi
    echo "PASS $name"
    passed=$((passed + 1))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
