#!/usr/bin/python3
"""Hostile ONNX models for tests/unit/test_hostile.c: each one is wrong in
one way an attacker (or a broken exporter) could choose. None passes
onnx.checker, on purpose, so they are written without it.

Run with Debian's python3 (python3-onnx): /usr/bin/python3 make_hostile_models.py
The outputs are committed; each is under a kilobyte. (The 10k-node chain is
built by the test itself.)"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
F = TensorProto.FLOAT


def save(nodes, name, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, producer_name="kiln-hostile", opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    with open(os.path.join(HERE, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())


def vi(name, dims, dtype=F):
    return helper.make_tensor_value_info(name, dtype, dims)


def external(name, location, dims=(2, 3)):
    # An Add with an initializer whose data lives in a file named location.
    t = TensorProto()
    t.name = "w"
    t.data_type = F
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", "24")):
        e = t.external_data.add()
        e.key, e.value = k, v
    save([helper.make_node("Add", ["x", "w"], ["y"], name="add")], name, [vi("x", [2, 3])], [vi("y", [2, 3])], [t])


def raw(name, dims, nbytes):
    t = TensorProto()
    t.name = "w"
    t.data_type = F
    t.dims.extend(dims)
    t.raw_data = bytes(nbytes)
    save([helper.make_node("Add", ["x", "w"], ["y"], name="add")], name, [vi("x", [2, 3])], [vi("y", [2, 3])], [t])


def main():
    # external data outside the model folder
    external("ext_absolute", "/etc/passwd")
    external("ext_dotdot", "../outside.bin")
    external("ext_symlink", "link.bin")  # the test makes link.bin point outside

    # dims whose product overflows int64, in an initializer and in a shape input
    raw("dims_overflow", [1 << 62, 8], 16)
    save([helper.make_node("ConstantOfShape", ["shape"], ["y"], name="cos")], "shape_overflow", [],
         [vi("y", None)], [numpy_helper.from_array(np.array([1 << 40, 1 << 40], dtype=np.int64), "shape")])
    save([helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")], "reshape_overflow",
         [vi("x", [2, 3])], [vi("y", None)],
         [numpy_helper.from_array(np.array([-1, 1 << 62, 1 << 62], dtype=np.int64), "shape")])
    # a huge but representable constant: 10^10 floats
    save([helper.make_node("ConstantOfShape", ["shape"], ["y"], name="cos")], "huge_constant", [],
         [vi("y", None)], [numpy_helper.from_array(np.array([100000, 100000], dtype=np.int64), "shape")])

    # raw_data shorter / longer than dims say
    raw("raw_short", [2, 3], 20)
    raw("raw_long", [2, 3], 28)

    # int64 data into Conv
    save([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], "conv_int64",
         [vi("x", [1, 1, 4, 4], TensorProto.INT64)], [vi("y", None, TensorProto.INT64)],
         [numpy_helper.from_array(np.ones((1, 1, 3, 3), dtype=np.int64), "w")])
    # float and int64 into one Add
    save([helper.make_node("Add", ["x", "w"], ["y"], name="add")], "add_mixed",
         [vi("x", [2, 3])], [vi("y", None)], [numpy_helper.from_array(np.ones((2, 3), dtype=np.int64), "w")])

    # a cycle of two nodes, and a node whose output is its own input
    save([helper.make_node("Relu", ["b"], ["a"], name="n1"), helper.make_node("Neg", ["a"], ["b"], name="n2")],
         "cycle", [vi("x", [2])], [vi("a", [2])])
    save([helper.make_node("Add", ["x", "a"], ["a"], name="self")], "self_loop", [vi("x", [2])], [vi("a", [2])])

    # attributes of the wrong type
    w = numpy_helper.from_array(np.ones((1, 1, 3, 3), dtype=np.float32), "w")
    save([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape="3x3")], "attr_string_for_ints",
         [vi("x", [1, 1, 4, 4])], [vi("y", None)], [w])
    save([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", strides=1.5)], "attr_float_for_ints",
         [vi("x", [1, 1, 4, 4])], [vi("y", None)], [w])
    save([helper.make_node("Transpose", ["x"], ["y"], name="tr", perm=[0, 7])], "attr_bad_perm",
         [vi("x", [2, 3])], [vi("y", None)])
    save([helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=[1, 2])], "attr_ints_for_int",
         [vi("x", [2, 3])], [vi("y", None)])

    # zero-size tensors through elementwise, MatMul, reductions, Concat
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("MatMul", ["r", "w"], ["m"], name="matmul"),
        helper.make_node("ReduceSum", ["m"], ["s"], name="sum", keepdims=1),
        helper.make_node("Concat", ["m", "e"], ["y"], name="concat", axis=0),
    ]
    save(nodes, "zero_size", [vi("x", ["N", 3])], [vi("y", None), vi("s", None)],
         [numpy_helper.from_array(np.ones((3, 4), dtype=np.float32), "w"),
          numpy_helper.from_array(np.zeros((0, 4), dtype=np.float32), "e")])

    # NaN / Inf must flow through (and casting them to integers is defined)
    nodes = [
        helper.make_node("Softmax", ["x"], ["sm"], name="softmax", axis=1),
        helper.make_node("MaxPool", ["x4"], ["mp"], name="maxpool", kernel_shape=[2, 2]),
        helper.make_node("ArgMax", ["x"], ["am"], name="argmax", axis=1),
        helper.make_node("Cast", ["x"], ["ci"], name="cast_int", to=TensorProto.INT32),
        helper.make_node("Cast", ["x"], ["cu"], name="cast_u8", to=TensorProto.UINT8),
        helper.make_node("ReduceMax", ["x"], ["rm"], name="reducemax", axes=[1], keepdims=0),
        helper.make_node("Sqrt", ["x"], ["sq"], name="sqrt"),
        helper.make_node("TopK", ["x", "k"], ["tv", "ti"], name="topk", axis=1),
        helper.make_node("Reshape", ["x", "shape4"], ["x4"], name="to4d"),
    ]
    save(nodes, "nan_inf", [vi("x", [2, 8])],
         [vi(n, None) for n in ("sm", "mp", "am", "ci", "cu", "rm", "sq", "tv", "ti")],
         [numpy_helper.from_array(np.array([3], dtype=np.int64), "k"),
          numpy_helper.from_array(np.array([1, 2, 2, 4], dtype=np.int64), "shape4")])


if __name__ == "__main__":
    main()
