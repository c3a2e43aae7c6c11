#!/usr/bin/python3
"""A ~50 MB model for the kill -9 test: Conv with a 512x512x7x7 weight
(51 MB of float32) followed by BatchNormalization, so both `kiln optimize`
(folds the BN into the weight and rewrites it) and `kiln recalibrate`
(re-estimates the BN statistics) write a file as large as the model.

usage: make_big_model.py OUT_DIR   (writes big.onnx and data.npy)"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

C = 512


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((C, C, 7, 7)) * 0.01).astype(np.float32)
    inits = [
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(np.ones(C, np.float32), "scale"),
        numpy_helper.from_array(np.zeros(C, np.float32), "bias"),
        numpy_helper.from_array(np.zeros(C, np.float32), "mean"),
        numpy_helper.from_array(np.ones(C, np.float32), "var"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[3, 3, 3, 3]),
        helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["y"], name="bn"),
    ]
    g = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", C, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", C, 4, 4])], inits)
    m = helper.make_model(g, producer_name="kiln-tests", opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, os.path.join(out, "big.onnx"))
    np.save(os.path.join(out, "data.npy"), rng.standard_normal((2, C, 4, 4)).astype(np.float32))


if __name__ == "__main__":
    main()
