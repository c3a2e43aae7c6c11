#!/usr/bin/python3
"""Regenerates the small models the fusion-pass tests load (tests/unit/test_passes.c).

Each model is a pattern the optimizer should fold, or one of the cases that
must block folding. Run with Debian's python3: /usr/bin/python3 make_fusion_models.py"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fusion")
rng = np.random.default_rng(7)


def f32(*shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def bn_inits(prefix, c):
    return [numpy_helper.from_array(f32(c, lo=0.5, hi=1.5), prefix + "_scale"),
            numpy_helper.from_array(f32(c), prefix + "_bias"),
            numpy_helper.from_array(f32(c, lo=-0.5, hi=0.5), prefix + "_mean"),
            numpy_helper.from_array(f32(c, lo=0.2, hi=2.0), prefix + "_var")]


def bn(prefix, x, y, **attrs):
    return helper.make_node("BatchNormalization", [x, prefix + "_scale", prefix + "_bias", prefix + "_mean",
                                                   prefix + "_var"], [y], name=prefix, epsilon=1e-3, **attrs)


def save(name, nodes, inputs, outputs, inits, opset=13):
    g = helper.make_graph(nodes, name, inputs, outputs, inits)
    m = helper.make_model(g, producer_name="kiln-tests", opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    os.makedirs(HERE, exist_ok=True)
    onnx.save(m, os.path.join(HERE, name + ".onnx"))


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def conv_bn(name, group, cin, cout, bias=True):
    inits = [numpy_helper.from_array(f32(cout, cin // group, 3, 3), "w")] + bn_inits("bn", cout)
    ins = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(f32(cout), "b"))
        ins.append("b")
    nodes = [helper.make_node("Conv", ins, ["c"], name="conv", group=group, pads=[1, 1, 1, 1]),
             bn("bn", "c", "y")]
    save(name, nodes, [vi("x", [2, cin, 7, 6])], [vi("y", [2, cout, 7, 6])], inits)


def convtranspose_bn(name, group, cin, cout):
    inits = [numpy_helper.from_array(f32(cin, cout // group, 3, 3), "w"),
             numpy_helper.from_array(f32(cout), "b")] + bn_inits("bn", cout)
    nodes = [helper.make_node("ConvTranspose", ["x", "w", "b"], ["c"], name="deconv", group=group,
                              strides=[2, 2]),
             bn("bn", "c", "y")]
    save(name, nodes, [vi("x", [1, cin, 4, 5])], [vi("y", [1, cout, 9, 11])], inits)


def gemm_bn(name, trans_b, with_c):
    w = f32(6, 5) if trans_b else f32(5, 6)
    inits = [numpy_helper.from_array(w, "w")] + bn_inits("bn", 6)
    ins = ["x", "w"]
    if with_c:
        inits.append(numpy_helper.from_array(f32(6), "c0"))
        ins.append("c0")
    nodes = [helper.make_node("Gemm", ins, ["g"], name="fc", transB=trans_b, alpha=0.7, beta=1.3),
             bn("bn", "g", "y")]
    save(name, nodes, [vi("x", [3, 5])], [vi("y", [3, 6])], inits)


def matmul_add_bn():
    inits = [numpy_helper.from_array(f32(5, 6), "w"), numpy_helper.from_array(f32(6), "b")] + bn_inits("bn", 6)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
             helper.make_node("Add", ["m", "b"], ["a"], name="bias"),
             bn("bn", "a", "y")]
    save("matmul_add_bn", nodes, [vi("x", [3, 5])], [vi("y", [3, 6])], inits)


def blocked_cases():
    # The conv output is read twice: folding would change the second reader.
    inits = [numpy_helper.from_array(f32(4, 3, 3, 3), "w")] + bn_inits("bn", 4)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             bn("bn", "c", "y"), helper.make_node("Relu", ["c"], ["z"], name="relu")]
    save("block_two_consumers", nodes, [vi("x", [1, 3, 5, 5])], [vi("y", [1, 4, 5, 5]), vi("z", [1, 4, 5, 5])],
         inits)
    # The conv output is itself a graph output.
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]), bn("bn", "c", "y")]
    save("block_graph_output", nodes, [vi("x", [1, 3, 5, 5])], [vi("y", [1, 4, 5, 5]), vi("c", [1, 4, 5, 5])],
         inits)
    # The weight comes from the caller, not an initializer.
    nodes = [helper.make_node("Conv", ["x", "wx"], ["c"], name="conv", pads=[1, 1, 1, 1]), bn("bn", "c", "y")]
    save("block_runtime_weight", nodes, [vi("x", [1, 3, 5, 5]), vi("wx", [4, 3, 3, 3])], [vi("y", [1, 4, 5, 5])],
         bn_inits("bn", 4))
    # Two convs share one weight; each gets its own BN. Folding must copy.
    inits2 = [numpy_helper.from_array(f32(4, 3, 3, 3), "w")] + bn_inits("bn1", 4) + bn_inits("bn2", 4)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c1"], name="conv1", pads=[1, 1, 1, 1]), bn("bn1", "c1", "y1"),
             helper.make_node("Conv", ["x", "w"], ["c2"], name="conv2", pads=[1, 1, 1, 1]), bn("bn2", "c2", "y2")]
    save("shared_weight", nodes, [vi("x", [1, 3, 5, 5])], [vi("y1", [1, 4, 5, 5]), vi("y2", [1, 4, 5, 5])], inits2)
    # BN in training mode (opset 14) keeps its batch statistics.
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             bn("bn", "c", "y", training_mode=1)]
    save("block_training_bn", nodes, [vi("x", [2, 3, 5, 5])], [vi("y", [2, 4, 5, 5])], inits, opset=14)


def epilogues():
    # ResNet block tail: Conv -> BN -> Add(residual) -> Relu
    inits = [numpy_helper.from_array(f32(4, 4, 3, 3), "w")] + bn_inits("bn", 4)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]), bn("bn", "c", "b"),
             helper.make_node("Add", ["b", "x"], ["a"], name="add"), helper.make_node("Relu", ["a"], ["y"])]
    save("residual_relu", nodes, [vi("x", [1, 4, 6, 6])], [vi("y", [1, 4, 6, 6])], inits)
    # Conv -> Clip(0, 6) (ReLU6), Conv -> HardSwish, Conv -> x*sigmoid(x)
    w = [numpy_helper.from_array(f32(5, 3, 1, 1), "w"), numpy_helper.from_array(f32(5), "b"),
         numpy_helper.from_array(np.array(0.0, np.float32), "lo"), numpy_helper.from_array(np.array(6.0, np.float32), "hi")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv"),
             helper.make_node("Clip", ["c", "lo", "hi"], ["y"], name="relu6")]
    save("conv_relu6", nodes, [vi("x", [1, 3, 4, 4])], [vi("y", [1, 5, 4, 4])], w)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv"),
             helper.make_node("HardSwish", ["c"], ["y"], name="hswish")]
    save("conv_hardswish", nodes, [vi("x", [1, 3, 4, 4])], [vi("y", [1, 5, 4, 4])], w[:2], opset=14)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv"),
             helper.make_node("Sigmoid", ["c"], ["s"], name="sig"),
             helper.make_node("Mul", ["c", "s"], ["y"], name="mul")]
    save("conv_silu", nodes, [vi("x", [1, 3, 4, 4])], [vi("y", [1, 5, 4, 4])], w[:2])
    # Add whose other operand broadcasts ([5,1,1]): still correct after fusion.
    w2 = w[:2] + [numpy_helper.from_array(f32(5, 1, 1), "r")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv"),
             helper.make_node("Add", ["c", "r"], ["a"], name="add"),
             helper.make_node("LeakyRelu", ["a"], ["y"], name="leaky", alpha=0.1)]
    save("conv_add_broadcast_leaky", nodes, [vi("x", [1, 3, 4, 4])], [vi("y", [1, 5, 4, 4])], w2)


def weight_cases():
    # The conv weight is also a graph output: the fold must copy it, not
    # rescale the one the caller reads.
    inits = [numpy_helper.from_array(f32(4, 3, 3, 3), "w")] + bn_inits("bn", 4)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]), bn("bn", "c", "y")]
    save("weight_graph_output", nodes, [vi("x", [1, 3, 5, 5])], [vi("y", [1, 4, 5, 5]), vi("w", [4, 3, 3, 3])],
         inits)


if __name__ == "__main__":
    conv_bn("conv_bn", 1, 3, 4)
    conv_bn("conv_bn_nobias_group2", 2, 4, 6, bias=False)
    conv_bn("conv_bn_depthwise", 5, 5, 5)
    convtranspose_bn("convtranspose_bn", 1, 3, 4)
    convtranspose_bn("convtranspose_bn_group2", 2, 4, 6)
    convtranspose_bn("convtranspose_bn_depthwise", 4, 4, 4)
    gemm_bn("gemm_bn", 0, False)
    gemm_bn("gemm_transb_c_bn", 1, True)
    matmul_add_bn()
    blocked_cases()
    epilogues()
    weight_cases()
