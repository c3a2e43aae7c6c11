#!/usr/bin/python3
"""Generates the small If/Loop/Scan models tests/unit/test_control.c runs.

Run with /usr/bin/python3 (onnx 1.12) from anywhere; writes next to itself.
Every subgraph here reads values of an enclosing graph by name (outer
scope), which is what the loader's scope binding must get right.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto as T, helper as h, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def save(graph, name, opset):
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)], producer_name="kiln-tests")
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name))


def if_outer():
    """out = c ? (2x)*x : (not c ? max(x + 2x, axis 0) : -x), the else branch through
    a nested If whose then-branch reads z from the main graph and t from the
    else branch (two levels of outer scope)."""
    inner_then = h.make_graph(
        [h.make_node("Add", ["t", "z"], ["tz"]),
         h.make_node("ReduceMax", ["tz"], ["r"], axes=[0], keepdims=1)],
        "inner_then", [], [h.make_tensor_value_info("r", T.FLOAT, [1, 3])])
    inner_else = h.make_graph(
        [h.make_node("Neg", ["t"], ["n"])],
        "inner_else", [], [h.make_tensor_value_info("n", T.FLOAT, [2, 3])])
    then_g = h.make_graph(
        [h.make_node("Mul", ["z", "y"], ["m"])],
        "then", [], [h.make_tensor_value_info("m", T.FLOAT, [2, 3])])
    else_g = h.make_graph(
        [h.make_node("Sub", ["z", "y"], ["t"]),
         h.make_node("Not", ["c"], ["nc"]),
         h.make_node("If", ["nc"], ["e"], then_branch=inner_then, else_branch=inner_else)],
        "else", [], [h.make_tensor_value_info("e", T.FLOAT, ["a", 3])])
    g = h.make_graph(
        [h.make_node("Identity", ["x"], ["y"]),
         h.make_node("Add", ["x", "x"], ["z"]),
         h.make_node("If", ["c"], ["out"], then_branch=then_g, else_branch=else_g)],
        "if_outer",
        [h.make_tensor_value_info("c", T.BOOL, []), h.make_tensor_value_info("x", T.FLOAT, [2, 3])],
        [h.make_tensor_value_info("out", T.FLOAT, ["a", 3])])
    save(g, "if_outer.onnx", 13)


def loop_outer():
    """acc = x; for i < M while sum(acc) < limit: acc += w + i; scans acc.
    w = x*x (main graph) and limit (initializer) are outer-scope reads."""
    body = h.make_graph(
        [h.make_node("Cast", ["i"], ["fi"], to=T.FLOAT),
         h.make_node("Add", ["acc", "w"], ["acc2"]),
         h.make_node("Add", ["acc2", "fi"], ["acc3"]),
         h.make_node("ReduceSum", ["acc3"], ["s"], keepdims=0),
         h.make_node("Less", ["s", "limit"], ["cond_out"]),
         h.make_node("Identity", ["acc3"], ["scan"])],
        "body",
        [h.make_tensor_value_info("i", T.INT64, []), h.make_tensor_value_info("cond_in", T.BOOL, []),
         h.make_tensor_value_info("acc", T.FLOAT, [2])],
        [h.make_tensor_value_info("cond_out", T.BOOL, []), h.make_tensor_value_info("acc3", T.FLOAT, [2]),
         h.make_tensor_value_info("scan", T.FLOAT, [2])])
    g = h.make_graph(
        [h.make_node("Mul", ["x", "x"], ["w"]),
         h.make_node("Loop", ["M", "c0", "x"], ["acc_final", "scans"], body=body)],
        "loop_outer",
        [h.make_tensor_value_info("M", T.INT64, []), h.make_tensor_value_info("x", T.FLOAT, [2])],
        [h.make_tensor_value_info("acc_final", T.FLOAT, [2]), h.make_tensor_value_info("scans", T.FLOAT, ["N", 2])],
        [numpy_helper.from_array(np.array(True), "c0"), numpy_helper.from_array(np.array(100, np.float32), "limit")])
    save(g, "loop_outer.onnx", 13)


def loop_forever():
    """Loop with neither M nor cond: kiln refuses to run it."""
    body = h.make_graph(
        [h.make_node("Identity", ["cond_in"], ["cond_out"]),
         h.make_node("Identity", ["v"], ["v2"])],
        "body",
        [h.make_tensor_value_info("i", T.INT64, []), h.make_tensor_value_info("cond_in", T.BOOL, []),
         h.make_tensor_value_info("v", T.FLOAT, [1])],
        [h.make_tensor_value_info("cond_out", T.BOOL, []), h.make_tensor_value_info("v2", T.FLOAT, [1])])
    g = h.make_graph(
        [h.make_node("Loop", ["", "", "x"], ["y"], body=body)], "loop_forever",
        [h.make_tensor_value_info("x", T.FLOAT, [1])], [h.make_tensor_value_info("y", T.FLOAT, [1])])
    save(g, "loop_forever.onnx", 13)


def scan_axes():
    """State s (2) accumulates xs[t,:] * ys[:, T-1-t] (ys scanned backwards
    along axis 1); each step outputs s + b, b = -init from the main graph,
    stacked along axis 1 in reverse order."""
    body = h.make_graph(
        [h.make_node("Mul", ["xt", "yt"], ["p"]),
         h.make_node("Add", ["s", "p"], ["s2"]),
         h.make_node("Add", ["s2", "b"], ["o"])],
        "body",
        [h.make_tensor_value_info("s", T.FLOAT, [2]), h.make_tensor_value_info("xt", T.FLOAT, [2]),
         h.make_tensor_value_info("yt", T.FLOAT, [2])],
        [h.make_tensor_value_info("s2", T.FLOAT, [2]), h.make_tensor_value_info("o", T.FLOAT, [2])])
    g = h.make_graph(
        [h.make_node("Neg", ["init"], ["b"]),
         h.make_node("Scan", ["init", "xs", "ys"], ["final", "outs"], body=body, num_scan_inputs=2,
                     scan_input_axes=[0, -1], scan_input_directions=[0, 1], scan_output_axes=[-1],
                     scan_output_directions=[1])],
        "scan_axes",
        [h.make_tensor_value_info("init", T.FLOAT, [2]), h.make_tensor_value_info("xs", T.FLOAT, ["T", 2]),
         h.make_tensor_value_info("ys", T.FLOAT, [2, "U"])],
        [h.make_tensor_value_info("final", T.FLOAT, [2]), h.make_tensor_value_info("outs", T.FLOAT, [2, "T"])])
    save(g, "scan_axes.onnx", 11)


if __name__ == "__main__":
    if_outer()
    loop_outer()
    loop_forever()
    scan_axes()
