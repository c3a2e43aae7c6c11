#!/usr/bin/env bash
# Builds kiln and runs it on a bundled model: describe it, classify its
# reference input, check every bundled model against PyTorch's outputs, show
# the optimizer's work, and re-estimate the model's BatchNorm statistics
# (Precise BN) on a folder of inputs. Outputs go to build/demo/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MODEL_DIR=models/tiny_cnn
KILN=build/kiln

step() { printf '\n==> %s\n' "$*"; }

step "install build dependencies (scripts/install-deps.sh)"
bash scripts/install-deps.sh

step "configure (cmake -S . -B build -DCMAKE_BUILD_TYPE=Release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release

step "build (cmake --build build -j$(nproc))"
cmake --build build -j"$(nproc)"

step "describe the bundled model: $KILN info $MODEL_DIR/model.onnx"
"$KILN" info "$MODEL_DIR/model.onnx"

step "run it on its reference input, top 5 classes: $KILN run $MODEL_DIR/model.onnx --input $MODEL_DIR/test_data_set_0/input_0.pb --top 5"
"$KILN" run "$MODEL_DIR/model.onnx" --input "$MODEL_DIR/test_data_set_0/input_0.pb" --top 5

step "compare every bundled model with its PyTorch reference output: $KILN conformance models/"
"$KILN" conformance models/

OUT=build/demo
mkdir -p "$OUT/data"
step "what the optimizer does to it: $KILN info $MODEL_DIR/model.onnx --optimized --verbose"
"$KILN" info "$MODEL_DIR/model.onnx" --optimized --verbose | sed -n '/^optimized:/,$p'

step "write the optimized model as standard ONNX: $KILN optimize $MODEL_DIR/model.onnx $OUT/tiny_cnn_optimized.onnx"
"$KILN" optimize "$MODEL_DIR/model.onnx" "$OUT/tiny_cnn_optimized.onnx"

# Calibration data for the demo: the bundled reference input (real use
# points --data at a few hundred unlabelled samples of the new domain:
# .npy, tensor files or JPEG/PNG images; see examples/bn_transfer).
cp "$MODEL_DIR/test_data_set_0/input_0.pb" "$OUT/data/sample_0.pb"
step "re-estimate BatchNorm statistics on $OUT/data: $KILN recalibrate $MODEL_DIR/model.onnx --data $OUT/data -o $OUT/tiny_cnn_recalibrated.onnx"
"$KILN" recalibrate "$MODEL_DIR/model.onnx" --data "$OUT/data" -o "$OUT/tiny_cnn_recalibrated.onnx" --batch-size 1

step "demo finished"
