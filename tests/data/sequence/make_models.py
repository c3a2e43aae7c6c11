#!/usr/bin/python3
"""Generates the small sequence/optional models tests/unit/test_sequence.c
runs end to end (loader, planner, public API).

Run with /usr/bin/python3 (onnx 1.12) from anywhere; writes next to itself.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto as T, helper as h, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
FSEQ = h.make_sequence_type_proto(h.make_tensor_type_proto(T.FLOAT, None))


def save(graph, name, opset):
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)], producer_name="kiln-tests")
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name))


def split_seq():
    """x [3,4] -> seq = SplitToSequence(x, [1,3], axis 1); outputs the
    sequence, its length, its last item and the items concatenated again
    (Relu in between, so a tensor op follows a sequence op)."""
    split = h.make_tensor("split", T.INT64, [2], [1, 3])
    last = h.make_tensor("last", T.INT64, [], [-1])
    g = h.make_graph(
        [h.make_node("SplitToSequence", ["x", "split"], ["seq"], axis=1),
         h.make_node("SequenceLength", ["seq"], ["len"]),
         h.make_node("SequenceAt", ["seq", "last"], ["at"]),
         h.make_node("Relu", ["at"], ["relu"]),
         h.make_node("ConcatFromSequence", ["seq"], ["cat"], axis=1)],
        "split_seq",
        [h.make_tensor_value_info("x", T.FLOAT, [3, 4])],
        [h.make_value_info("seq", FSEQ),
         h.make_tensor_value_info("len", T.INT64, []),
         h.make_tensor_value_info("relu", T.FLOAT, [3, 3]),
         h.make_tensor_value_info("cat", T.FLOAT, [3, 4])],
        initializer=[split, last])
    save(g, "split_seq.onnx", 13)


def seq_in():
    """s (a sequence input) -> y = SequenceAt(s, pos); t = Relu(s) is not
    here: a tensor op on a sequence is tested with a model of its own."""
    g = h.make_graph(
        [h.make_node("SequenceAt", ["s", "pos"], ["y"])],
        "seq_in",
        [h.make_value_info("s", FSEQ), h.make_tensor_value_info("pos", T.INT64, [])],
        [h.make_tensor_value_info("y", T.FLOAT, [None])])
    save(g, "seq_in.onnx", 13)


def seq_map():
    """ys, shapes = SequenceMap(s, k, t): ys[i] = s[i] + t[i] + k * w, where
    the body reads w = k * k from the main graph (outer scope), and
    shapes[i] = Shape(s[i])."""
    body = h.make_graph(
        [h.make_node("Mul", ["in1", "w"], ["kw"]),
         h.make_node("Add", ["in0", "in2"], ["a"]),
         h.make_node("Add", ["a", "kw"], ["out0"]),
         h.make_node("Shape", ["in0"], ["out1"])],
        "body",
        [h.make_tensor_value_info("in0", T.FLOAT, ["n"]), h.make_tensor_value_info("in1", T.FLOAT, [1]),
         h.make_tensor_value_info("in2", T.FLOAT, ["n"])],
        [h.make_tensor_value_info("out0", T.FLOAT, ["n"]), h.make_tensor_value_info("out1", T.INT64, [1])])
    g = h.make_graph(
        [h.make_node("Mul", ["k", "k"], ["w"]),
         h.make_node("SequenceMap", ["s", "k", "t"], ["ys", "shapes"], body=body)],
        "seq_map",
        [h.make_value_info("s", FSEQ), h.make_tensor_value_info("k", T.FLOAT, [1]), h.make_value_info("t", FSEQ)],
        [h.make_value_info("ys", FSEQ),
         h.make_value_info("shapes", h.make_sequence_type_proto(h.make_tensor_type_proto(T.INT64, None)))])
    save(g, "seq_map.onnx", 17)


def relu_on_seq():
    """A hostile model: Relu reading a sequence (declared without a type so
    the loader cannot refuse it early)."""
    g = h.make_graph(
        [h.make_node("SequenceConstruct", ["x"], ["s"]),
         h.make_node("Relu", ["s"], ["y"])],
        "relu_on_seq",
        [h.make_tensor_value_info("x", T.FLOAT, [2])],
        [h.make_tensor_value_info("y", T.FLOAT, [2])])
    model = h.make_model(g, opset_imports=[h.make_opsetid("", 13)], producer_name="kiln-tests")
    onnx.save(model, os.path.join(HERE, "relu_on_seq.onnx"))  # not checker-valid on purpose


def value_files():
    """A SequenceProto of two int64 tensors and an OptionalProto holding a
    sequence of one float tensor, for kiln_value_read_file."""
    seq = numpy_helper.from_list([np.array([1, 2, 3], np.int64), np.array([[4], [5]], np.int64)], "s")
    with open(os.path.join(HERE, "seq_int64.pb"), "wb") as f:
        f.write(seq.SerializeToString())
    opt = onnx.OptionalProto(name="o", elem_type=onnx.OptionalProto.SEQUENCE)
    opt.sequence_value.CopyFrom(numpy_helper.from_list([np.array([0.5, -1.5], np.float32)]))
    with open(os.path.join(HERE, "opt_seq.pb"), "wb") as f:
        f.write(opt.SerializeToString())


if __name__ == "__main__":
    value_files()
    split_seq()
    seq_in()
    seq_map()
    relu_on_seq()
