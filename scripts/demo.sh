#!/usr/bin/env bash
# Builds kiln and runs it on a bundled model: describe it, classify its
# reference input, and check every bundled model against PyTorch's outputs.
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

step "demo finished"
