#!/usr/bin/python3
"""End-to-end checks of `kiln recalibrate` against PyTorch and NumPy.

    /usr/bin/python3 tests/recal/test_recal_torch.py path/to/kiln

A small torch model (Conv-BN-ReLU blocks, a residual add, BatchNorm1d after a
Linear on 2-D input and BatchNorm1d on 3-D input) is exported with its BN
nodes kept; kiln recalibrates it on shifted data and the results are checked:
  - --variance torch equals torch.optim.swa_utils.update_bn (momentum=None);
  - pooled (train) and exact modes equal independent float64 NumPy
    computations over BN inputs captured with forward hooks;
  - the output differs from the input only in the BN mean/var initializers
    (metadata, doc strings, opsets, unknown fields survive);
  - the input file is untouched, overwriting it needs --in-place;
  - --emit-stats on two shards + --merge equals one run over all the data;
  - models without BN nodes, or with a shared statistic, are refused.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import helper, numpy_helper

RTOL = 1e-5
BATCH = 32
N_SAMPLES = 200  # 6 full batches and one of 8
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(8)
        self.c3 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.b3 = nn.BatchNorm2d(8)
        self.c4 = nn.Conv2d(8, 12, 3, stride=2, padding=1)
        self.b4 = nn.BatchNorm2d(12)
        self.fc1 = nn.Linear(12, 24)
        self.b5 = nn.BatchNorm1d(24)        # after Linear, 2-D input
        self.b6 = nn.BatchNorm1d(6)         # 3-D input [N, 6, 4]
        self.fc2 = nn.Linear(24, 5)

    def forward(self, x):
        x = F.relu(self.b1(self.c1(x)))
        y = F.relu(self.b2(self.c2(x)))
        y = self.b3(self.c3(y))
        x = F.relu(x + y)                   # residual
        x = F.relu(self.b4(self.c4(x)))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        x = F.relu(self.b5(self.fc1(x)))
        x = self.b6(x.reshape(-1, 6, 4)).reshape(-1, 24)
        return self.fc2(x)


def bn_modules(model):
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def make_model():
    torch.manual_seed(0)
    model = Net()
    # Give the stored statistics something to be wrong about: a few
    # training-mode passes on source-domain data.
    model.train()
    with torch.no_grad():
        for _ in range(5):
            model(torch.randn(16, 3, 12, 12))
    model.eval()
    return model


def export(model, path):
    torch.onnx.export(model, torch.randn(1, 3, 12, 12), path, input_names=["x"], output_names=["y"],
                      opset_version=13, training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    m = onnx.load(path)
    m.doc_string = "recalibration test model"
    m.model_version = 7
    helper.set_model_props(m, {"author": "kiln tests", "purpose": "recal"})
    data = m.SerializeToString()
    # An unknown field (number 999, length-delimited) must survive too.
    marker = b"kiln-unknown-field-marker"
    data += bytes([0xBA, 0x3E, len(marker)]) + marker  # tag (999 << 3 | 2) as varint
    with open(path, "wb") as f:
        f.write(data)
    return marker


def bn_stat_names(m):
    """BN node name -> (mean initializer, var initializer), graph order."""
    out = {}
    for n in m.graph.node:
        if n.op_type == "BatchNormalization":
            out[n.name] = (n.input[3], n.input[4])
    return out


def inits(m):
    return {t.name: t for t in m.graph.initializer}


def run(kiln, *args, expect=0):
    p = subprocess.run([kiln, "recalibrate", *args], capture_output=True, text=True)
    if p.returncode != expect:
        print(p.stdout, p.stderr, file=sys.stderr)
    return p


def kiln_stats(path, model_onnx):
    """BN stats of a kiln output model in the order of the torch modules."""
    m = onnx.load(path)
    ini = inits(m)
    names = bn_stat_names(m)
    # Export order of BN nodes follows the forward order = module order here.
    return [(numpy_helper.to_array(ini[a]).astype(np.float64), numpy_helper.to_array(ini[b]).astype(np.float64))
            for a, b in names.values()]


def batches(data):
    return [torch.from_numpy(data[i:i + BATCH]) for i in range(0, len(data), BATCH)]


def torch_update_bn(model, data):
    import copy
    m = copy.deepcopy(model)
    torch.optim.swa_utils.update_bn(batches(data), m)
    return [(b.running_mean.double().numpy(), b.running_var.double().numpy()) for b in bn_modules(m)]


def capture_inputs(model, data, train):
    """Per BN module, the list of its float64 input batches."""
    import copy
    m = copy.deepcopy(model)
    mods = bn_modules(m)
    seen = [[] for _ in mods]
    hooks = [mod.register_forward_hook(lambda mod, inp, out, i=i: seen[i].append(inp[0].detach().double().numpy()))
             for i, mod in enumerate(mods)]
    if train:
        m.train()
        for mod in mods:
            mod.momentum = None
            mod.reset_running_stats()
    else:
        m.eval()
    with torch.no_grad():
        for b in batches(data):
            m(b)
    for h in hooks:
        h.remove()
    return seen


def channel_stats(xs):
    """Population mean and biased variance per channel over all batches."""
    flat = np.concatenate([np.moveaxis(x, 1, 0).reshape(x.shape[1], -1) for x in xs], axis=1)
    return flat.mean(axis=1), flat.var(axis=1)


def numpy_pooled(model, data):
    return [channel_stats(xs) for xs in capture_inputs(model, data, train=True)]


def numpy_exact(model, data):
    import copy
    m = copy.deepcopy(model)
    out = []
    mods = bn_modules(m)
    for i in range(len(mods)):
        xs = capture_inputs(m, data, train=False)[i]
        mean, var = channel_stats(xs)
        mods[i].running_mean.copy_(torch.from_numpy(mean))
        mods[i].running_var.copy_(torch.from_numpy(var))
        out.append((mean, var))
    return out


def close(got, want, rtol=RTOL, atol=1e-6):
    worst = 0.0
    ok = True
    for (gm, gv), (wm, wv) in zip(got, want):
        for g, w in ((gm, wm), (gv, wv)):
            err = np.abs(g - w) / (np.abs(w) + atol / rtol)
            worst = max(worst, float(err.max()))
            ok &= bool(np.allclose(g, w, rtol=rtol, atol=atol))
    return ok and len(got) == len(want), worst


def only_stats_differ(a_path, b_path):
    a, b = onnx.load(a_path), onnx.load(b_path)
    stats = {n for pair in bn_stat_names(a).values() for n in pair}
    if [n.SerializeToString() for n in a.graph.node] != [n.SerializeToString() for n in b.graph.node]:
        return "nodes differ"
    for field in ("ir_version", "producer_name", "producer_version", "domain", "model_version", "doc_string"):
        if getattr(a, field) != getattr(b, field):
            return field + " differs"
    if [o.SerializeToString() for o in a.opset_import] != [o.SerializeToString() for o in b.opset_import]:
        return "opsets differ"
    if [p.SerializeToString() for p in a.metadata_props] != [p.SerializeToString() for p in b.metadata_props]:
        return "metadata differs"
    for f in ("input", "output", "value_info"):
        if [v.SerializeToString() for v in getattr(a.graph, f)] != [v.SerializeToString() for v in getattr(b.graph, f)]:
            return "graph " + f + " differs"
    if a.graph.name != b.graph.name or a.graph.doc_string != b.graph.doc_string:
        return "graph name/doc differs"
    ia, ib = inits(a), inits(b)
    if list(ia) != list(ib):
        return "initializer list differs"
    changed = 0
    for name, t in ia.items():
        u = ib[name]
        if t.data_type != u.data_type or list(t.dims) != list(u.dims):
            return "initializer %s dtype/dims differ" % name
        same = np.array_equal(numpy_helper.to_array(t), numpy_helper.to_array(u))
        if name not in stats and not same:
            return "initializer %s changed" % name
        changed += name in stats and not same
    if changed != len(stats):
        return "only %d of %d statistics changed" % (changed, len(stats))
    return None


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    kiln = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="kiln_recal_")
    try:
        model = make_model()
        src = os.path.join(tmp, "model.onnx")
        marker = export(model, src)
        digest = sha(src)
        rng = np.random.RandomState(1)
        # Target domain: shifted and rescaled intensities.
        data = (rng.randn(N_SAMPLES, 3, 12, 12) * 1.7 + 0.6).astype(np.float32)
        npy = os.path.join(tmp, "data.npy")
        np.save(npy, data)

        # --variance torch vs torch.optim.swa_utils.update_bn
        out = os.path.join(tmp, "torch.onnx")
        p = run(kiln, src, "--data", npy, "-o", out, "--batch-size", str(BATCH), "--variance", "torch")
        check(p.returncode == 0, "train --variance torch runs")
        ok, worst = close(kiln_stats(out, src), torch_update_bn(model, data))
        check(ok, "--variance torch matches torch update_bn (worst rel err %.2e)" % worst)

        # train pooled vs NumPy
        out_p = os.path.join(tmp, "pooled.onnx")
        rep = os.path.join(tmp, "report.json")
        p = run(kiln, src, "--data", npy, "-o", out_p, "--batch-size", str(BATCH), "--report", rep, "--threads", "2")
        check(p.returncode == 0, "train pooled runs")
        ok, worst = close(kiln_stats(out_p, src), numpy_pooled(model, data))
        check(ok, "train pooled matches NumPy (worst rel err %.2e)" % worst)
        with open(rep) as f:
            report = json.load(f)
        check(len(report["layers"]) == 6 and report["samples"] == N_SAMPLES, "report lists 6 layers, 200 samples")
        check("BatchNormalization" in p.stdout and "var ratio" in p.stdout, "summary table printed")

        # thread count does not change the result
        out_1 = os.path.join(tmp, "pooled1.onnx")
        run(kiln, src, "--data", npy, "-o", out_1, "--batch-size", str(BATCH), "--threads", "1")
        check(sha(out_1) == sha(out_p), "1 thread and 2 threads give identical bytes")

        # exact vs NumPy, independent of the batch size
        out_e = os.path.join(tmp, "exact.onnx")
        p = run(kiln, src, "--data", npy, "-o", out_e, "--batch-size", "50", "--mode", "exact")
        check(p.returncode == 0, "exact runs")
        ok, worst = close(kiln_stats(out_e, src), numpy_exact(model, data))
        check(ok, "exact matches NumPy (worst rel err %.2e)" % worst)
        out_e2 = os.path.join(tmp, "exact2.onnx")
        run(kiln, src, "--data", npy, "-o", out_e2, "--batch-size", "7", "--mode", "exact")
        ok, worst = close(kiln_stats(out_e2, src), kiln_stats(out_e, src), rtol=1e-5)
        check(ok, "exact with batch 7 equals batch 50 (worst rel err %.2e)" % worst)

        # everything else survives
        for path in (out, out_p, out_e):
            why = only_stats_differ(src, path)
            check(why is None, "%s differs only in BN statistics%s" % (os.path.basename(path),
                                                                       "" if why is None else ": " + why))
        with open(out_p, "rb") as f:
            check(marker in f.read(), "unknown field survives")
        check(sha(src) == digest, "input model untouched")

        # overwriting the input
        p = run(kiln, src, "--data", npy, "-o", src, expect=2)
        check(p.returncode == 2 and "in-place" in p.stderr and sha(src) == digest,
              "refuses to overwrite the input without --in-place")
        copy = os.path.join(tmp, "copy.onnx")
        shutil.copy(src, copy)
        p = run(kiln, copy, "--data", npy, "-o", copy, "--in-place", "--batch-size", str(BATCH))
        check(p.returncode == 0 and sha(copy) == sha(out_p), "--in-place rewrites the model")

        # sharding: two shards at a batch boundary, then merge
        for variance in ("pooled", "torch"):
            np.save(os.path.join(tmp, "s1.npy"), data[:96])
            np.save(os.path.join(tmp, "s2.npy"), data[96:])
            parts = []
            for s in ("s1", "s2"):
                part = os.path.join(tmp, s + ".kstats")
                p = run(kiln, src, "--data", os.path.join(tmp, s + ".npy"), "--emit-stats", part, "--batch-size",
                        str(BATCH), "--variance", variance)
                check(p.returncode == 0, "emit-stats %s (%s)" % (s, variance))
                parts.append(part)
            merged = os.path.join(tmp, "merged.onnx")
            p = run(kiln, src, "--merge", parts[0], "--merge", parts[1], "-o", merged, "--variance", variance)
            check(p.returncode == 0, "merge runs (%s)" % variance)
            ref = out_p if variance == "pooled" else out
            ok, worst = close(kiln_stats(merged, src), kiln_stats(ref, src), rtol=1e-6, atol=1e-7)
            check(ok, "merged shards equal one run (%s, worst rel err %.2e)" % (variance, worst))
        p = run(kiln, src, "--merge", parts[0], "-o", os.path.join(tmp, "x.onnx"), "--variance", "pooled",
                expect=1)
        check(p.returncode == 1 and "variance" in p.stderr, "merge refuses a different variance mode")
        with open(parts[0], "rb") as f:
            blob = f.read()
        bad = os.path.join(tmp, "bad.kstats")
        with open(bad, "wb") as f:
            f.write(blob[:len(blob) // 2])
        p = run(kiln, src, "--merge", bad, "-o", os.path.join(tmp, "x.onnx"), "--variance", "torch", expect=1)
        check(p.returncode == 1 and ("kstats" in p.stderr.lower() or "checksum" in p.stderr), "truncated .kstats refused")

        # refusals
        folded = os.path.join(tmp, "folded.onnx")
        torch.onnx.export(model, torch.randn(1, 3, 12, 12), folded, input_names=["x"], opset_version=13,
                          training=torch.onnx.TrainingMode.EVAL)
        has_bn = any(n.op_type == "BatchNormalization" for n in onnx.load(folded).graph.node)
        if has_bn:  # this torch keeps BN: remove them by hand
            m = onnx.load(folded)
            keep = [n for n in m.graph.node if n.op_type != "BatchNormalization"]
            for n in m.graph.node:
                if n.op_type == "BatchNormalization":
                    for k in keep:
                        k.input[:] = [n.input[0] if i == n.output[0] else i for i in k.input]
            del m.graph.node[:]
            m.graph.node.extend(keep)
            onnx.save(m, folded)
        p = run(kiln, folded, "--data", npy, "-o", os.path.join(tmp, "x.onnx"), expect=1)
        check(p.returncode == 1 and "no BatchNormalization" in p.stderr, "model without BN refused")

        shared = make_shared_model(os.path.join(tmp, "shared.onnx"))
        sdata = os.path.join(tmp, "sdata.npy")
        np.save(sdata, rng.randn(8, 2, 3).astype(np.float32))
        p = run(kiln, shared, "--data", sdata, "-o", os.path.join(tmp, "x.onnx"), expect=1)
        check(p.returncode == 1 and "shared" in p.stderr, "shared BN statistics refused")
        check(not os.path.exists(os.path.join(tmp, "x.onnx")), "no partial output after errors")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


def make_shared_model(path):
    c = 2
    ones = numpy_helper.from_array(np.ones(c, np.float32), "ones")
    zeros = numpy_helper.from_array(np.zeros(c, np.float32), "zeros")
    mean = numpy_helper.from_array(np.zeros(c, np.float32), "mean")
    var = numpy_helper.from_array(np.ones(c, np.float32), "var")
    var2 = numpy_helper.from_array(np.ones(c, np.float32), "var2")
    nodes = [helper.make_node("BatchNormalization", ["x", "ones", "zeros", "mean", "var"], ["h"], name="bn1"),
             helper.make_node("BatchNormalization", ["h", "ones", "zeros", "mean", "var2"], ["y"], name="bn2")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", c, 3])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", c, 3])],
                          [ones, zeros, mean, var, var2])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


if __name__ == "__main__":
    sys.exit(main())
