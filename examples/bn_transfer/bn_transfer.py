#!/usr/bin/python3
"""BatchNorm transfer demo: stale statistics vs `kiln recalibrate`.

    /usr/bin/python3 examples/bn_transfer/bn_transfer.py path/to/kiln [OUT_DIR]

1. Train a small CNN (Conv-BN-ReLU x3, GAP, Linear) with PyTorch on
   scikit-learn's bundled 8x8 digits (the source domain: intensities in
   [0, 1]).
2. Export it to ONNX with its BatchNormalization nodes kept.
3. Build a target domain: the same kind of digits seen by a different
   "sensor" -- low contrast and a brighter background (x' = 0.35 x + 0.45,
   plus Gaussian sensor noise of standard deviation 0.03).
4. Evaluate with kiln on held-out target images: accuracy with the stale
   source statistics, then after `kiln recalibrate` on 300 *unlabelled*
   target images (train mode and exact mode).

Everything runs offline in a few seconds; the numbers are printed and
written to OUT_DIR/results.txt (default: this folder).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits

SEED = 0


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)
        self.c2, self.b2 = nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32)
        self.c3, self.b3 = nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.b1(self.c1(x)))
        x = F.max_pool2d(F.relu(self.b2(self.c2(x))), 2)
        x = F.relu(self.b3(self.c3(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def to_target(x, rng):
    """The shifted domain: low contrast, bright background, noise."""
    return (0.35 * x + 0.45 + rng.normal(0, 0.03, x.shape)).astype(np.float32)


def kiln_accuracy(kiln, model, x, y, tmp):
    inp = os.path.join(tmp, "eval_x.npy")
    np.save(inp, x)
    out_dir = os.path.join(tmp, "out")
    subprocess.run([kiln, "run", model, "--input", "x=" + inp, "--output-dir", out_dir, "--quiet"], check=True)
    logits = np.load(os.path.join(out_dir, "logits.npy"))
    return float((logits.argmax(1) == y).mean())


def main():
    kiln = os.path.abspath(sys.argv[1])
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
    torch.manual_seed(SEED)
    rng = np.random.RandomState(SEED)
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    train_x, train_y = x[:1200], y[:1200]
    calib_x = to_target(x[1200:1500], rng)          # unlabelled target samples
    test_x, test_y = x[1500:], y[1500:]
    test_target = to_target(test_x, rng)

    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(15):
        model.train()
        perm = torch.randperm(len(train_x))
        for i in range(0, len(train_x), 64):
            idx = perm[i:i + 64]
            loss = F.cross_entropy(model(torch.from_numpy(train_x[idx.numpy()])), torch.from_numpy(train_y[idx.numpy()]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()

    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = os.path.join(tmp, "digits_cnn.onnx")
        torch.onnx.export(model, torch.zeros(1, 1, 8, 8), onnx_path, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}}, opset_version=13,
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
        calib = os.path.join(tmp, "calib.npy")
        np.save(calib, calib_x)
        results = [("source test set, source statistics", kiln_accuracy(kiln, onnx_path, test_x, test_y, tmp)),
                   ("target test set, stale source statistics",
                    kiln_accuracy(kiln, onnx_path, test_target, test_y, tmp))]
        for mode in ("train", "exact"):
            recal = os.path.join(tmp, "digits_cnn_%s.onnx" % mode)
            subprocess.run([kiln, "recalibrate", onnx_path, "--data", calib, "-o", recal, "--mode", mode,
                            "--batch-size", "32", "--quiet"], check=True)
            results.append(("target test set, recalibrated (--mode %s, 300 unlabelled samples)" % mode,
                            kiln_accuracy(kiln, recal, test_target, test_y, tmp)))
    lines = ["%-68s %5.1f%%" % (what, 100 * acc) for what, acc in results]
    text = "\n".join(lines) + "\n(%d test images; digits from scikit-learn, CNN trained with PyTorch, run by kiln)\n" % len(test_y)
    print(text, end="")
    with open(os.path.join(out_dir, "results.txt"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
