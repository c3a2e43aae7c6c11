#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made at run time from files already in
the repository and on the system (nothing big is committed).

usage: make_seeds.py OUTDIR [--max-bytes N]
Writes OUTDIR/<target>/ for model_load, tensor_pb, tensor_npy, recal_data.
"""
import glob
import hashlib
import io
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTDATA = "/usr/share/libonnx-testdata/data"


def put(outdir, data, max_bytes):
    if len(data) > max_bytes:
        return False
    os.makedirs(outdir, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)
    return True


def every(paths, step):
    paths = sorted(paths)
    return paths[::step] if step > 1 else paths


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    max_bytes = 1 << 20
    if "--max-bytes" in sys.argv:
        max_bytes = int(sys.argv[sys.argv.index("--max-bytes") + 1])
    counts = {}

    def add(target, data):
        if put(os.path.join(out, target), data, max_bytes):
            counts[target] = counts.get(target, 0) + 1

    # models: the bundled ones, the test models, a sample of the conformance set
    models = glob.glob(f"{ROOT}/models/*/*.onnx") + glob.glob(f"{ROOT}/tests/data/*.onnx")
    models += glob.glob(f"{ROOT}/tests/data/fusion/*.onnx") + glob.glob(f"{ROOT}/tests/data/hostile/*.onnx")
    models += every(glob.glob(f"{TESTDATA}/node/*/model.onnx"), 8)
    models += every(glob.glob(f"{TESTDATA}/simple/*/model.onnx"), 2)
    for p in models:
        with open(p, "rb") as f:
            data = f.read()
        add("model_load", data)
        add("recal_data", b"\x03" + data)

    # TensorProto files: bundled references and a sample of conformance inputs
    pbs = glob.glob(f"{ROOT}/models/*/test_data_set_0/*.pb")
    pbs += every(glob.glob(f"{TESTDATA}/node/*/test_data_set_0/*.pb"), 12)
    for p in pbs:
        with open(p, "rb") as f:
            data = f.read()
        add("tensor_pb", data)
        add("recal_data", b"\x02" + data)

    # .npy: one per dtype / layout the reader knows, plus the system's samples
    arrays = [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.arange(6, dtype=np.float64).reshape(2, 3),
        np.arange(6, dtype=">f4").reshape(2, 3),
        np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
        np.array(3.5, dtype=np.float32),
        np.zeros((0, 3), dtype=np.float32),
        np.arange(8, dtype=np.int64),
        np.arange(8, dtype=np.uint8).reshape(2, 2, 2),
        np.array([True, False]),
        np.arange(4, dtype=np.float16),
        np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2),
    ]
    for a in arrays:
        for version in ((1, 0), (2, 0)):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, a, version=version)
            add("tensor_npy", buf.getvalue())
            add("recal_data", b"\x00" + buf.getvalue())
    for p in glob.glob("/usr/lib/python3/dist-packages/numpy/lib/tests/data/*.npy"):
        with open(p, "rb") as f:
            add("tensor_npy", f.read())

    # images: tiny PNG / JPEG in the modes the decoder meets
    try:
        from PIL import Image
        rng = np.random.default_rng(0)
        for size, mode in (((4, 3), "RGB"), ((5, 7), "L"), ((3, 3), "RGBA"), ((2, 9), "P")):
            px = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
            img = Image.fromarray(px, "RGB").convert(mode)
            for fmt in ("PNG", "JPEG"):
                if fmt == "JPEG" and mode in ("RGBA", "P"):
                    continue
                buf = io.BytesIO()
                img.save(buf, format=fmt)
                add("recal_data", bytes([0x01 | (2 << 2) | (1 << 6)]) + buf.getvalue())
    except ImportError:
        pass

    for k in sorted(counts):
        print(f"{k}: {counts[k]} seeds")


if __name__ == "__main__":
    main()
