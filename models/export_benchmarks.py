#!/usr/bin/python3
"""Exports the torchvision benchmark models with PyTorch reference data.

Run with Debian's python3 (python3-torch, python3-torchvision, python3-onnx):

    /usr/bin/python3 models/export_benchmarks.py OUT_DIR [NAME...]

NAME defaults to all of resnet18 resnet50 mobilenet_v2 efficientnet_b0
squeezenet1_1. Writes, per model:

    OUT_DIR/<name>/model.onnx
    OUT_DIR/<name>/test_data_set_0/input_0.pb     1x3x224x224 random input
    OUT_DIR/<name>/test_data_set_0/output_0.pb    PyTorch eval-mode output

Weights are random (weights=None: nothing is downloaded). BatchNorm running
statistics are filled by a few training-mode passes over random batches, so
they are not the trivial mean 0 / var 1. BatchNorm layers are kept as
BatchNormalization nodes (not folded into the convolutions), and the script
checks that their count equals the number of BatchNorm2d modules. The models
are tens of MB, so they are generated on demand and not committed.
"""
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torchvision
from onnx import numpy_helper

SEED = 2024
OPSET = 13
INPUT_SHAPE = (1, 3, 224, 224)
STAT_BATCHES = 3
STAT_BATCH_SIZE = 4

MODELS = {
    "resnet18": torchvision.models.resnet18,
    "resnet50": torchvision.models.resnet50,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
    "efficientnet_b0": torchvision.models.efficientnet_b0,
    "squeezenet1_1": torchvision.models.squeezenet1_1,
}


def populate_batchnorm_stats(model):
    model.train()
    with torch.no_grad():
        for _ in range(STAT_BATCHES):
            model(torch.randn(STAT_BATCH_SIZE, *INPUT_SHAPE[1:]))
    model.eval()


def write_tensor(arr, name, path):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.ascontiguousarray(arr), name).SerializeToString())


def check_batchnorm_nodes(name, graph, expected):
    """Every BatchNorm2d must survive as one inference-form BatchNormalization
    node: the Precise-BN recalibration rewrites exactly these nodes' statistics."""
    bn_nodes = [n for n in graph.node if n.op_type == "BatchNormalization"]
    if len(bn_nodes) != expected:
        raise SystemExit(f"{name}: {len(bn_nodes)} BatchNormalization nodes in the graph, "
                         f"but the model has {expected} BatchNorm2d modules")
    for n in bn_nodes:
        if len(n.output) != 1:
            raise SystemExit(f"{name}: node '{n.name}' (BatchNormalization) has training outputs")
    return len(bn_nodes)


def export_one(out_dir, name):
    started = time.time()
    torch.manual_seed(SEED)
    model = MODELS[name](weights=None)
    bn_modules = sum(1 for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    populate_batchnorm_stats(model)

    x = torch.randn(*INPUT_SHAPE)
    with torch.no_grad():
        y = model(x)

    model_dir = os.path.join(out_dir, name)
    data_dir = os.path.join(model_dir, "test_data_set_0")
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(model_dir, "model.onnx")
    torch.onnx.export(
        model, (x,), path,
        input_names=["input"], output_names=["output"],
        opset_version=OPSET,
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,
    )

    m = onnx.load(path)
    onnx.checker.check_model(m)
    bn_nodes = check_batchnorm_nodes(name, m.graph, bn_modules)
    write_tensor(x.numpy(), m.graph.input[0].name, os.path.join(data_dir, "input_0.pb"))
    write_tensor(y.numpy(), m.graph.output[0].name, os.path.join(data_dir, "output_0.pb"))

    size_mb = os.path.getsize(path) / 1e6
    print(f"{name}: {size_mb:.1f} MB, {len(m.graph.node)} nodes, "
          f"BatchNormalization nodes {bn_nodes} == BatchNorm2d modules {bn_modules}, "
          f"{time.time() - started:.1f} s", flush=True)


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(f"usage: {sys.argv[0]} OUT_DIR [{'|'.join(MODELS)}...]", file=sys.stderr)
        return 2
    out_dir = sys.argv[1]
    names = sys.argv[2:] or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print(f"export_benchmarks: unknown model(s): {' '.join(unknown)}", file=sys.stderr)
        return 2
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        export_one(out_dir, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
