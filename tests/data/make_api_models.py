#!/usr/bin/python3
"""Regenerates the models of the public-API tests (tests/unit/test_api.c).

Run with Debian's python3 (python3-onnx): /usr/bin/python3 make_api_models.py
The outputs are committed; they are small."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def model(graph, opsets):
    m = helper.make_model(graph, producer_name="kiln-tests",
                          opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    m.ir_version = 7
    return m


def custom_scale2x():
    # com.example:Scale2x comes from the test plugin (tests/plugin/myops.c):
    # y = relu(2 * x), its attribute-free form.
    nodes = [helper.make_node("Scale2x", ["x"], ["s"], name="scale", domain="com.example"),
             helper.make_node("Relu", ["s"], ["y"], name="relu")]
    g = helper.make_graph(nodes, "custom_scale2x",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    onnx.save(model(g, [("", 13), ("com.example", 1)]), os.path.join(HERE, "custom_scale2x.onnx"))


def custom_offset():
    # com.test:Offset is registered in-process by test_api: y = x + offset,
    # then kiln's own Neg; offset is an attribute the op reads.
    nodes = [helper.make_node("Offset", ["x"], ["t"], name="offset", domain="com.test", offset=0.25),
             helper.make_node("Neg", ["t"], ["y"], name="neg")]
    g = helper.make_graph(nodes, "custom_offset",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])])
    onnx.save(model(g, [("", 13), ("com.test", 2)]), os.path.join(HERE, "custom_offset.onnx"))


def long_chain(n=1500):
    # Many cheap nodes on a 1 MiB tensor: a run takes long enough to be
    # interrupted between steps (cancellation test).
    nodes, prev = [], "x"
    for i in range(n):
        out = "y" if i == n - 1 else f"t{i}"
        nodes.append(helper.make_node("Relu" if i % 2 == 0 else "Neg", [prev], [out], name=f"n{i}"))
        prev = out
    g = helper.make_graph(nodes, "long_chain",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 65536])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 65536])])
    m = model(g, [("", 13)])
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(HERE, "long_chain.onnx"))


def external_data():
    # y = x + w with w (64 floats) in external_data/weights.bin.
    w = numpy_helper.from_array(np.arange(64, dtype=np.float32).reshape(4, 16) / 8, "w")
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"], name="add")], "external_data",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 16])], initializer=[w])
    m = model(g, [("", 13)])
    onnx.checker.check_model(m)
    folder = os.path.join(HERE, "external_data")
    os.makedirs(folder, exist_ok=True)
    onnx.save_model(m, os.path.join(folder, "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)


if __name__ == "__main__":
    custom_scale2x()
    custom_offset()
    long_chain()
    external_data()
