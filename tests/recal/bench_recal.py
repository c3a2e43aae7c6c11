#!/usr/bin/python3
"""Recalibration speed: kiln recalibration vs kiln inference vs PyTorch update_bn.

    /usr/bin/python3 tests/recal/bench_recal.py path/to/bench_recal [--size 112] [--batch 16] [--repeats 8] [--threads 2]

Exports torchvision's ResNet-18 (random weights, BN kept, open batch), writes
one batch of random data, runs bench_recal (kiln inference with BN kept and
folded, kiln recalibration) and times torch.optim.swa_utils.update_bn over
the same batch repeated, with the same thread count.
"""
import argparse
import os
import subprocess
import tempfile
import time

import numpy as np
import torch
import torchvision

ap = argparse.ArgumentParser()
ap.add_argument("bench")
ap.add_argument("--size", type=int, default=112)
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--repeats", type=int, default=8)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()

torch.manual_seed(0)
torch.set_num_threads(a.threads)
model = torchvision.models.resnet18(num_classes=1000).eval()
# Distinct statistics per layer (untrained all-zero means would be shared by
# the exporter through Identity nodes, which recalibration refuses).
for m in model.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.running_mean.uniform_(-0.1, 0.1)
        m.running_var.uniform_(0.5, 1.5)
x = torch.randn(a.batch, 3, a.size, a.size)
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "resnet18.onnx")
    torch.onnx.export(model, x[:1], path, input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}},
                      opset_version=13, training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    npy = os.path.join(tmp, "batch.npy")
    np.save(npy, x.numpy())
    subprocess.run([os.path.abspath(a.bench), path, npy, str(a.repeats), str(a.threads)], check=True)
loader = [x] * a.repeats
torch.optim.swa_utils.update_bn([x], model)  # warm-up
t0 = time.perf_counter()
torch.optim.swa_utils.update_bn(loader, model)
dt = time.perf_counter() - t0
with torch.no_grad():
    model.eval()
    model(x)
    t1 = time.perf_counter()
    for _ in range(a.repeats):
        model(x)
    di = time.perf_counter() - t1
print("torch %s update_bn:                %9.1f samples/s (%d threads)" % (torch.__version__, a.repeats * a.batch / dt, a.threads))
print("torch eval inference:              %9.1f samples/s" % (a.repeats * a.batch / di))
print("ResNet-18, %dx%d input" % (a.size, a.size))
