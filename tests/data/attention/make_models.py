#!/usr/bin/python3
"""Generates the FlexAttention model tests/unit/test_flex_attention.c runs.

Run with /usr/bin/python3 (onnx 1.12) from anywhere; writes next to itself.
onnx 1.12 does not know the ai.onnx.preview domain, so the model is not
passed through its checker.

flex_mods.onnx: Y = FlexAttention(Q, K, V) with
  score_mod: scores + bias   (bias [L, S] is a graph input: outer scope)
  prob_mod:  probs * 2       (a constant inside the subgraph)
Q [1, 2, 3, 4], K [1, 1, 5, 4], V [1, 1, 5, 2] (two query heads share one
KV head).
"""
import os

import numpy as np
import onnx
from onnx import TensorProto as T, helper as h, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def flex_mods():
    scores = h.make_tensor_value_info("scores", T.FLOAT, ["B", "H", "L", "S"])
    scores_out = h.make_tensor_value_info("scores_out", T.FLOAT, ["B", "H", "L", "S"])
    score_mod = h.make_graph([h.make_node("Add", ["scores", "bias"], ["scores_out"])], "score_mod",
                             [scores], [scores_out])
    probs = h.make_tensor_value_info("probs", T.FLOAT, ["B", "H", "L", "S"])
    probs_out = h.make_tensor_value_info("probs_out", T.FLOAT, ["B", "H", "L", "S"])
    prob_mod = h.make_graph([h.make_node("Mul", ["probs", "two"], ["probs_out"])], "prob_mod", [probs], [probs_out],
                            initializer=[numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")])
    node = h.make_node("FlexAttention", ["Q", "K", "V"], ["Y"], domain="ai.onnx.preview", score_mod=score_mod,
                       prob_mod=prob_mod)
    graph = h.make_graph(
        [node], "flex_mods",
        [h.make_tensor_value_info("Q", T.FLOAT, [1, 2, 3, 4]), h.make_tensor_value_info("K", T.FLOAT, [1, 1, 5, 4]),
         h.make_tensor_value_info("V", T.FLOAT, [1, 1, 5, 2]), h.make_tensor_value_info("bias", T.FLOAT, [3, 5])],
        [h.make_tensor_value_info("Y", T.FLOAT, [1, 2, 3, 2])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 26), h.make_opsetid("ai.onnx.preview", 1)],
                         producer_name="kiln-tests")
    model.ir_version = 8
    onnx.save(model, os.path.join(HERE, "flex_mods.onnx"))


if __name__ == "__main__":
    flex_mods()
