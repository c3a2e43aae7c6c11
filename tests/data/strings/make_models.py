#!/usr/bin/python3
"""Generates the string data-movement model tests/unit/test_string_move.c runs.

Run with /usr/bin/python3 (onnx 1.12) from anywhere; writes next to itself.

string_move.onnx: words (string [N]), idx (int64 [K]), flag (bool []) ->
  picked = Gather(words, idx)                 run time
  pairs  = Reshape(picked, [-1, 2])           run time
  suffix = Constant(value_strings=["end", ""])
  tail   = Reshape(suffix, [1, 2])            both folded at load
  joined = Concat(pairs, tail, axis=-2)       [K/2 + 1, 2]
  out    = Identity(joined)
  chosen = If(flag, then: Identity(joined), else: Transpose(joined))
"""
import os

import numpy as np
import onnx
from onnx import TensorProto as T, helper as h, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def string_move():
    shape = numpy_helper.from_array(np.array([-1, 2], dtype=np.int64), "pair_shape")
    tail_shape = numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "tail_shape")
    then_g = h.make_graph([h.make_node("Identity", ["joined"], ["t_out"])], "then", [],
                          [h.make_tensor_value_info("t_out", T.STRING, ["a", "b"])])
    else_g = h.make_graph([h.make_node("Transpose", ["joined"], ["e_out"], perm=[1, 0])], "else", [],
                          [h.make_tensor_value_info("e_out", T.STRING, ["a", "b"])])
    g = h.make_graph(
        [h.make_node("Constant", [], ["suffix"], value_strings=["end", ""]),
         h.make_node("Gather", ["words", "idx"], ["picked"], axis=0),
         h.make_node("Reshape", ["picked", "pair_shape"], ["pairs"]),
         h.make_node("Reshape", ["suffix", "tail_shape"], ["tail"]),
         h.make_node("Concat", ["pairs", "tail"], ["joined"], axis=-2),
         h.make_node("Identity", ["joined"], ["out"]),
         h.make_node("If", ["flag"], ["chosen"], then_branch=then_g, else_branch=else_g)],
        "string_move",
        [h.make_tensor_value_info("words", T.STRING, ["n"]),
         h.make_tensor_value_info("idx", T.INT64, ["k"]),
         h.make_tensor_value_info("flag", T.BOOL, [])],
        [h.make_tensor_value_info("out", T.STRING, ["r", 2]),
         h.make_tensor_value_info("chosen", T.STRING, ["a", "b"])],
        [shape, tail_shape])
    model = h.make_model(g, opset_imports=[h.make_opsetid("", 13)], producer_name="kiln-tests")
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, "string_move.onnx"))


if __name__ == "__main__":
    string_move()
