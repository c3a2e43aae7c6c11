#!/usr/bin/python3
"""Regenerates the small bundled models and their PyTorch reference data.

Run with Debian's python3 (python3-torch, python3-onnx):

    /usr/bin/python3 models/make_small_models.py [OUT_DIR]

OUT_DIR defaults to the folder holding this script. Each model is written in
the ONNX backend-test layout that `kiln conformance` reads:

    OUT_DIR/<name>/model.onnx
    OUT_DIR/<name>/test_data_set_0/input_0.pb
    OUT_DIR/<name>/test_data_set_0/output_0.pb

The reference outputs are computed by PyTorch in eval mode. BatchNorm layers
are exported as BatchNormalization nodes (not folded into the convolutions)
with statistics gathered from random training batches, so a runtime that
fuses or evaluates them wrongly produces visibly wrong outputs.
"""
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 1234
MAX_BYTES = 1 << 20


# ---------------------------------------------------------------- models

def conv_bn(cin, cout, k=3, stride=1, groups=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    )


class TinyCNN(nn.Module):
    """Conv-BN-ReLU stem, MaxPool, one residual block, downsampling, GAP, Gemm."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = conv_bn(3, 16)
        self.block_a = conv_bn(16, 16)
        self.block_b = conv_bn(16, 16)
        self.down = conv_bn(16, 32, stride=2)
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = F.max_pool2d(x, 2)
        y = F.relu(self.block_a(x))
        y = self.block_b(y)
        x = F.relu(x + y)
        x = F.relu(self.down(x))
        x = F.adaptive_avg_pool2d(x, 1)
        x = torch.flatten(x, 1)
        return self.fc(x)


class SqueezeExcite(nn.Module):
    def __init__(self, channels, reduced):
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = F.relu(self.reduce(s))
        s = torch.sigmoid(self.expand(s))
        return x * s


class DepthwiseSeparable(nn.Module):
    def __init__(self, cin, cout, stride, se):
        super().__init__()
        self.dw = conv_bn(cin, cin, 3, stride=stride, groups=cin)
        self.pw = conv_bn(cin, cout, 1)
        self.se = SqueezeExcite(cout, max(cout // 4, 4)) if se else nn.Identity()

    def forward(self, x):
        x = F.relu6(self.dw(x))
        x = F.hardswish(self.pw(x))
        return self.se(x)


class TinyMobileNet(nn.Module):
    """Depthwise-separable blocks with ReLU6 (Clip), HardSwish and squeeze-excite."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = conv_bn(3, 16, stride=2)
        self.blocks = nn.Sequential(
            DepthwiseSeparable(16, 24, stride=1, se=True),
            DepthwiseSeparable(24, 32, stride=2, se=True),
            DepthwiseSeparable(32, 48, stride=2, se=False),
        )
        self.fc = nn.Linear(48, classes)

    def forward(self, x):
        x = F.relu6(self.stem(x))
        x = self.blocks(x)
        x = F.adaptive_avg_pool2d(x, 1)
        x = torch.flatten(x, 1)
        return self.fc(x)


class TinyMLPLayerNorm(nn.Module):
    """Transformer-style MLP on [batch, tokens, features]: MatMul, LayerNorm, GELU, Softmax."""

    def __init__(self, features=32, hidden=64, classes=10):
        super().__init__()
        self.fc1 = nn.Linear(features, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = F.gelu(self.norm(self.fc1(x)))
        return torch.softmax(self.fc2(x), dim=-1)


class ReshapeChain(nn.Module):
    """x.view(x.size(0), -1) with a dynamic batch: the exported graph computes the
    target shape at run time (Shape -> Gather -> Unsqueeze -> Concat -> Reshape)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x):
        n = x.size(0)
        x = F.relu(self.conv(x))
        x = x.view(n, -1)
        x = self.fc(x)
        return x.view(n, 2, -1)


class TinyBlocks(nn.Module):
    """What kiln's blocked layout (pass "nchwc") must get right, on an odd-sized
    batch of 2: an RGB stem read as NCHW, channel counts that are not whole
    blocks of 16 (24, 20), a depthwise conv with stride 2, a dilated conv,
    MaxPool with ceil_mode, a squeeze/expand pair concatenated on channels, a
    residual block, squeeze-excitation, AveragePool without its padding, and
    a conv map as the graph output."""

    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 24)
        self.dw = conv_bn(24, 24, 3, stride=2, groups=24)
        self.dilated = nn.Conv2d(24, 24, 3, padding=2, dilation=2)
        self.squeeze = nn.Conv2d(24, 16, 1)
        self.expand1 = nn.Conv2d(16, 32, 1)
        self.expand3 = nn.Conv2d(16, 32, 3, padding=1)
        self.res_a = conv_bn(64, 64)
        self.res_b = conv_bn(64, 64)
        self.se = SqueezeExcite(64, 16)
        self.head = nn.Conv2d(64, 20, 3, stride=2)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = F.relu6(self.dw(x))
        x = F.relu(self.dilated(x))
        x = F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)
        s = F.relu(self.squeeze(x))
        x = torch.cat([F.relu(self.expand1(s)), F.relu(self.expand3(s))], 1)
        y = self.res_b(F.relu(self.res_a(x)))
        x = F.relu(x + y)
        x = self.se(x)
        x = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        return self.head(x)


# ---------------------------------------------------------------- helpers

def randomize_batchnorm(model, input_shape, batches=8):
    """Gives every BatchNorm non-trivial affine parameters and running statistics:
    random gamma/beta, then a few training-mode passes over shifted, scaled random
    data, so mean != 0 and var != 1 everywhere."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(8, *input_shape[1:]) * 1.5 + 0.3)
    model.eval()
    return len(bns)


def export(model, example, path, opset, dynamic_batch):
    dynamic_axes = {"input": {0: "batch"}, "output": {0: "batch"}} if dynamic_batch else None
    torch.onnx.export(
        model, example, path,
        input_names=["input"], output_names=["output"],
        opset_version=opset,
        dynamic_axes=dynamic_axes,
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,
    )


def check_batchnorm_nodes(graph, expected):
    """The export must keep every BatchNorm as a BatchNormalization node in
    inference form: one output (no running-stat outputs) and, from opset 14 on,
    training_mode absent or 0."""
    bn_nodes = [n for n in graph.node if n.op_type == "BatchNormalization"]
    if len(bn_nodes) != expected:
        raise SystemExit(f"{graph.name}: {len(bn_nodes)} BatchNormalization nodes, expected {expected}")
    for n in bn_nodes:
        if len(n.output) != 1:
            raise SystemExit(f"node '{n.name}': BatchNormalization has {len(n.output)} outputs (training form)")
        for a in n.attribute:
            if a.name == "training_mode" and a.i != 0:
                raise SystemExit(f"node '{n.name}': BatchNormalization has training_mode={a.i}")
    return len(bn_nodes)


def write_tensor(arr, name, path):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.ascontiguousarray(arr), name).SerializeToString())


def build(out_dir, name, model, input_shape, opset, dynamic_batch=False, required_ops=()):
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    bn_modules = randomize_batchnorm(model, input_shape)
    model.eval()

    x = torch.randn(*input_shape)
    with torch.no_grad():
        y = model(x)

    model_dir = os.path.join(out_dir, name)
    data_dir = os.path.join(model_dir, "test_data_set_0")
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(model_dir, "model.onnx")
    export(model, (x,), path, opset, dynamic_batch)

    m = onnx.load(path)
    onnx.checker.check_model(m)
    m.graph.name = name
    bn_nodes = check_batchnorm_nodes(m.graph, bn_modules)
    ops = sorted({n.op_type for n in m.graph.node})
    missing = [op for op in required_ops if op not in ops]
    if missing:
        raise SystemExit(f"{name}: exported graph lacks {missing}; has {ops}")
    onnx.save(m, path)

    write_tensor(x.numpy(), m.graph.input[0].name, os.path.join(data_dir, "input_0.pb"))
    write_tensor(y.numpy(), m.graph.output[0].name, os.path.join(data_dir, "output_0.pb"))

    size = os.path.getsize(path)
    if size >= MAX_BYTES:
        raise SystemExit(f"{name}: model.onnx is {size} bytes, must stay under {MAX_BYTES}")
    print(f"{name}: opset {opset}, {size} bytes, {len(m.graph.node)} nodes, "
          f"{bn_nodes} BatchNormalization, input {list(input_shape)} -> output {list(y.shape)}")
    print(f"  ops: {' '.join(ops)}")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else HERE
    torch.manual_seed(SEED)
    build(out_dir, "tiny_cnn", TinyCNN(), (1, 3, 32, 32), opset=13,
          required_ops=("Conv", "BatchNormalization", "Relu", "MaxPool", "Add",
                        "GlobalAveragePool", "Flatten", "Gemm"))
    # Opset 14 is the first with a HardSwish operator; at 13 PyTorch would
    # decompose it into HardSigmoid + Mul.
    build(out_dir, "tiny_mobilenet", TinyMobileNet(), (1, 3, 32, 32), opset=14,
          required_ops=("Conv", "BatchNormalization", "Clip", "HardSwish",
                        "GlobalAveragePool", "Sigmoid", "Mul", "Gemm"))
    # LayerNormalization is an ONNX operator from opset 17.
    build(out_dir, "tiny_mlp_ln", TinyMLPLayerNorm(), (2, 8, 32), opset=17,
          required_ops=("MatMul", "LayerNormalization", "Erf", "Softmax"))
    build(out_dir, "tiny_blocks", TinyBlocks(), (2, 3, 33, 33), opset=13,
          required_ops=("Conv", "BatchNormalization", "Relu", "Clip", "MaxPool", "Concat", "Add",
                        "GlobalAveragePool", "Sigmoid", "Mul", "AveragePool"))
    build(out_dir, "reshape_chain", ReshapeChain(), (2, 3, 8, 8), opset=13, dynamic_batch=True,
          required_ops=("Shape", "Gather", "Unsqueeze", "Concat", "Reshape"))


if __name__ == "__main__":
    main()
