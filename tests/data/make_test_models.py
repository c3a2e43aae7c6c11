#!/usr/bin/python3
"""Regenerates the tiny ONNX models the runtime unit tests load.

Run with Debian's python3 (python3-onnx): /usr/bin/python3 make_test_models.py
The outputs are committed; they are a few hundred bytes each."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def save(graph, name, opset=13):
    model = helper.make_model(graph, producer_name="kiln-tests",
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name))


def relu_chain():
    # 12 alternating Relu/Neg nodes on [N,16]: a planner that reuses buffers
    # by liveness needs only two activation buffers.
    nodes, prev = [], "x"
    for i in range(12):
        out = "y" if i == 11 else f"t{i}"
        nodes.append(helper.make_node("Relu" if i % 2 == 0 else "Neg", [prev], [out], name=f"n{i}"))
        prev = out
    g = helper.make_graph(nodes, "relu_chain",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 16])])
    save(g, "relu_chain.onnx")


def shape_chain():
    # PyTorch's x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze -> Concat -> Reshape
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
    ]
    inits = [numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"),
             numpy_helper.from_array(np.array([0], dtype=np.int64), "axes0"),
             numpy_helper.from_array(np.array([-1], dtype=np.int64), "minus1")]
    g = helper.make_graph(nodes, "shape_chain",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 12])], inits)
    save(g, "shape_chain.onnx")


def add_const():
    # Initializer stored in float_data (typed field), an Identity on the way,
    # a Dropout (removed at load), and a second output read from the middle.
    w = helper.make_tensor("w", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    nodes = [
        helper.make_node("Add", ["x", "w"], ["a"]),
        helper.make_node("Identity", ["a"], ["b"]),
        helper.make_node("Dropout", ["b"], ["c"]),
        helper.make_node("Mul", ["c", "w"], ["y"]),
        helper.make_node("Identity", ["a"], ["a_out"]),
    ]
    g = helper.make_graph(nodes, "add_const",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3]),
                           helper.make_tensor_value_info("a_out", TensorProto.FLOAT, [2, 3])], [w])
    save(g, "add_const.onnx")


def two_inputs():
    nodes = [helper.make_node("Add", ["a", "b"], ["c"])]
    g = helper.make_graph(nodes, "two_inputs",
                          [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 4]),
                           helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("c", TensorProto.FLOAT, ["N", 4])])
    save(g, "two_inputs.onnx")


def nonzero():
    # Output shape depends on the data: a dynamic step, then a static op after it.
    nodes = [helper.make_node("NonZero", ["x"], ["nz"]),
             helper.make_node("Neg", ["nz"], ["y"])]
    g = helper.make_graph(nodes, "nonzero",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TensorProto.INT64, [1, None])])
    save(g, "nonzero.onnx")


def concat_slices():
    # Concat whose inputs' producers can write into the output in place (the
    # planner's slices): a, b and e are read only by a Concat, at 64-byte
    # aligned offsets when N = 1; c is a graph output too, x a graph input,
    # f starts 12 bytes in. With N > 1 the slices are strided, which Relu,
    # Neg and Exp do not write: everything is copied.
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("Neg", ["x"], ["b"]),
             helper.make_node("Sigmoid", ["x"], ["c"]),
             helper.make_node("Concat", ["a", "b", "x", "c"], ["y"], axis=1),
             helper.make_node("Exp", ["v"], ["e"]),
             helper.make_node("Abs", ["v"], ["f"]),
             helper.make_node("Concat", ["e", "f"], ["z"], axis=1)]
    g = helper.make_graph(nodes, "concat_slices",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 4]),
                           helper.make_tensor_value_info("v", TensorProto.FLOAT, ["N", 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 16, 4]),
                           helper.make_tensor_value_info("c", TensorProto.FLOAT, ["N", 4, 4]),
                           helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 6])])
    save(g, "concat_slices.onnx")


def unsupported():
    nodes = [helper.make_node("FooBar", ["x"], ["t"], domain="com.example"),
             helper.make_node("Relu", ["t"], ["u"]),
             helper.make_node("BazQux", ["u"], ["y"], domain="com.example")]
    g = helper.make_graph(nodes, "unsupported",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(g, producer_name="kiln-tests",
                              opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)])
    model.ir_version = 7
    onnx.save(model, os.path.join(HERE, "unsupported.onnx"))


if __name__ == "__main__":
    relu_chain()
    shape_chain()
    add_const()
    two_inputs()
    nonzero()
    concat_slices()
    unsupported()
