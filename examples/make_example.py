#!/usr/bin/python3
"""Writes examples/mlp.onnx, its input and its numpy reference output.

A small MLP that touches every op of the walking skeleton: MatMul, Gemm, Add, Sub, Mul, Div,
Relu, Sigmoid, Tanh, Softmax, Reshape, Transpose, Constant, Identity. Weights are seeded
random, so the files are reproducible. Run with Debian's python3 (python3-onnx, python3-numpy).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(rng):
    w1 = rng.standard_normal((16, 32)).astype(np.float32) * 0.3
    b1 = rng.standard_normal((32,)).astype(np.float32) * 0.1
    w2 = rng.standard_normal((24, 32)).astype(np.float32) * 0.3
    b2 = rng.standard_normal((24,)).astype(np.float32) * 0.1
    w3 = rng.standard_normal((24, 10)).astype(np.float32) * 0.3
    inits = [numpy_helper.from_array(a, n) for a, n in
             [(w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"), (w3, "w3")]]
    const = lambda name, arr: helper.make_node(
        "Constant", [], [name], value=numpy_helper.from_array(arr, name + "_value"))
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h1"], name="fc1"),
        helper.make_node("Add", ["h1", "b1"], ["h1b"], name="fc1_bias"),
        helper.make_node("Relu", ["h1b"], ["a1"], name="relu1"),
        helper.make_node("Gemm", ["a1", "w2", "b2"], ["h2"], name="fc2", transB=1),
        helper.make_node("Tanh", ["h2"], ["t"], name="tanh"),
        helper.make_node("Sigmoid", ["h2"], ["s"], name="sigmoid"),
        helper.make_node("Mul", ["t", "s"], ["ts"], name="gate"),
        const("two", np.array(2.0, dtype=np.float32)),
        helper.make_node("Div", ["ts", "two"], ["half"], name="halve"),
        helper.make_node("Sub", ["half", "h2"], ["features"], name="residual"),
        const("shape3", np.array([4, 4, 6], dtype=np.int64)),
        helper.make_node("Reshape", ["features", "shape3"], ["r3"], name="to3d"),
        helper.make_node("Transpose", ["r3"], ["tr"], name="swap", perm=[0, 2, 1]),
        const("shape2", np.array([4, -1], dtype=np.int64)),
        helper.make_node("Reshape", ["tr", "shape2"], ["r2"], name="to2d"),
        helper.make_node("Identity", ["r2"], ["r2i"], name="same"),
        helper.make_node("MatMul", ["r2i", "w3"], ["logits"], name="head"),
        helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "tensorshunt_example_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 10]),
         helper.make_tensor_value_info("features", TensorProto.FLOAT, [4, 24])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="tensorshunt-examples")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, (w1, b1, w2, b2, w3)


def reference(x, w):
    w1, b1, w2, b2, w3 = w
    a1 = np.maximum(x @ w1 + b1, 0)
    h2 = a1 @ w2.T + b2
    features = np.tanh(h2) * (1 / (1 + np.exp(-h2))) / np.float32(2) - h2
    r2 = features.reshape(4, 4, 6).transpose(0, 2, 1).reshape(4, -1)
    logits = r2 @ w3
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32), features.astype(np.float32)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(20261122)
    model, weights = build(rng)
    x = rng.standard_normal((4, 16)).astype(np.float32)
    y, features = reference(x, weights)
    onnx.save(model, os.path.join(out, "mlp.onnx"))
    np.save(os.path.join(out, "mlp_x.npy"), x)
    np.save(os.path.join(out, "mlp_y.npy"), y)
    np.save(os.path.join(out, "mlp_features.npy"), features)


if __name__ == "__main__":
    main()
