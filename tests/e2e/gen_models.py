#!/usr/bin/python3
"""Generates the end-to-end models and their numpy references into a folder.

Each case is a folder NAME/ with model.onnx, inputs as in_<input>.npy and expected outputs as
out_<output>.npy; cases whose expected outcome is an error have no outputs (run_e2e.py knows
them by name). Deterministic: seeded weights, so reruns give identical files.
Run with Debian's python3 (python3-onnx, python3-numpy).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
import make_example  # noqa: E402

F32 = TensorProto.FLOAT


def save(root, name, model, inputs, outputs, **save_kwargs):
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(d, "model.onnx"), **save_kwargs)
    for k, v in inputs.items():
        np.save(os.path.join(d, "in_%s.npy" % k), v)
    for k, v in outputs.items():
        np.save(os.path.join(d, "out_%s.npy" % k), v.astype(np.float32))


def model(nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m


def vi(name, shape, t=F32):
    return helper.make_tensor_value_info(name, t, shape)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def gen(root):
    rng = np.random.default_rng(7)
    r = lambda *s: rng.standard_normal(s).astype(np.float32)

    # The quickstart example.
    m, w = make_example.build(np.random.default_rng(20261122))
    x = r(4, 16)
    y, feats = make_example.reference(x, w)
    save(root, "mlp", m, {"x": x}, {"y": y, "features": feats})

    # A long elementwise chain with broadcasting (one fused kernel), every unary op.
    b, c = r(4), r(3, 1)
    nodes = [
        helper.make_node("Add", ["x", "b"], ["t0"]),
        helper.make_node("Mul", ["t0", "c"], ["t1"]),
        helper.make_node("Tanh", ["t1"], ["t2"]),
        helper.make_node("Sigmoid", ["t2"], ["t3"]),
        helper.make_node("Abs", ["t1"], ["a"]),
        helper.make_node("Sqrt", ["a"], ["sq"]),
        helper.make_node("Add", ["sq", "one"], ["sq1"]),
        helper.make_node("Log", ["sq1"], ["lg"]),
        helper.make_node("Exp", ["t3"], ["ex"]),
        helper.make_node("Neg", ["ex"], ["ng"]),
        helper.make_node("Relu", ["ng"], ["rl"]),
        helper.make_node("Sub", ["lg", "ng"], ["s"]),
        helper.make_node("Div", ["s", "c"], ["y"]),
    ]
    one = np.array([1.0], dtype=np.float32)
    x = r(2, 3, 4)
    t1 = (x + b) * c
    ng = -np.exp(sigmoid(np.tanh(t1)))
    yv = (np.log(np.sqrt(np.abs(t1)) + 1) - ng) / c
    inits = [numpy_helper.from_array(a, n) for a, n in [(b, "b"), (c, "c"), (one, "one")]]
    save(root, "elementwise_chain",
         model(nodes, [vi("x", [2, 3, 4])], [vi("y", [2, 3, 4])], inits),
         {"x": x}, {"y": yv})

    # Gemm variants: transposes, alpha/beta, C as a row, a column and a scalar.
    a, bm = r(5, 3), r(4, 5)
    c_row, c_col, c_sc = r(1, 4), r(3, 1), r(1)
    nodes = [
        helper.make_node("Gemm", ["a", "bm", "c_row"], ["y1"], transA=1, transB=1, alpha=0.5, beta=2.0),
        helper.make_node("Gemm", ["a", "bm", "c_col"], ["y2"], transA=1, transB=1),
        helper.make_node("Gemm", ["y1", "w", "c_sc"], ["y3"], beta=0.0),
        helper.make_node("Gemm", ["y2", "w"], ["y4"]),
    ]
    w = r(4, 6)
    y1 = 0.5 * (a.T @ bm.T) + 2.0 * c_row
    y2 = a.T @ bm.T + c_col
    inits = [numpy_helper.from_array(v, n) for v, n in [(c_row, "c_row"), (c_col, "c_col"), (c_sc, "c_sc"), (w, "w")]]
    save(root, "gemm_variants",
         model(nodes, [vi("a", [5, 3]), vi("bm", [4, 5])], [vi("y3", [3, 6]), vi("y4", [3, 6])], inits),
         {"a": a, "bm": bm}, {"y3": y1 @ w, "y4": y2 @ w})

    # One-row products (run as matrix-vector products): MatMul on a plain and on a transposed
    # weight (folded into trans_b), Gemm with transB, alpha, beta and a row C, Gemm with transA.
    x, xt = r(1, 300), r(300, 1)
    w1, w2, w3, c3 = r(300, 200), r(150, 200), r(130, 150), r(1, 130)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["y1"]),
             helper.make_node("Transpose", ["w2"], ["w2t"], perm=[1, 0]),
             helper.make_node("MatMul", ["y1", "w2t"], ["y2"]),
             helper.make_node("Gemm", ["y2", "w3", "c3"], ["y3"], transB=1, alpha=0.5, beta=2.0),
             helper.make_node("Gemm", ["xt", "w1"], ["y4"], transA=1)]
    y2 = (x @ w1) @ w2.T
    save(root, "gemv",
         model(nodes, [vi("x", [1, 300]), vi("xt", [300, 1])], [vi("y3", [1, 130]), vi("y4", [1, 200])],
               [numpy_helper.from_array(v, n) for v, n in [(w1, "w1"), (w2, "w2"), (w3, "w3"), (c3, "c3")]]),
         {"x": x, "xt": xt}, {"y3": 0.5 * (y2 @ w3.T) + 2.0 * c3, "y4": xt.T @ w1})

    # MatMul: batch broadcasting and 1-D promotion.
    p, q, v = r(2, 1, 3, 4), r(3, 4, 5), r(5)
    nodes = [helper.make_node("MatMul", ["p", "q"], ["pq"]),
             helper.make_node("MatMul", ["pq", "v"], ["y"]),
             helper.make_node("MatMul", ["v", "qt"], ["z"])]
    qt = r(5, 2)
    save(root, "matmul_batched",
         model(nodes, [vi("p", [2, 1, 3, 4]), vi("q", [3, 4, 5])], [vi("y", [2, 3, 3]), vi("z", [2])],
               [numpy_helper.from_array(v, "v"), numpy_helper.from_array(qt, "qt")]),
         {"p": p, "q": q}, {"y": (p @ q) @ v, "z": v @ qt})

    # Softmax: opset 11 flattens at the axis; opset 13 works along it.
    x = r(2, 3, 4)
    e = np.exp(x.reshape(2, 12) - x.reshape(2, 12).max(1, keepdims=True))
    legacy = (e / e.sum(1, keepdims=True)).reshape(2, 3, 4)
    save(root, "softmax_opset11",
         model([helper.make_node("Softmax", ["x"], ["y"], axis=1)], [vi("x", [2, 3, 4])], [vi("y", [2, 3, 4])], opset=11),
         {"x": x}, {"y": legacy})
    e = np.exp(x - x.max(1, keepdims=True))
    save(root, "softmax_axis1_opset13",
         model([helper.make_node("Softmax", ["x"], ["y"], axis=1)], [vi("x", [2, 3, 4])], [vi("y", [2, 3, 4])]),
         {"x": x}, {"y": e / e.sum(1, keepdims=True)})

    # Transpose (default and explicit perm) around reshapes with 0 and -1.
    x = r(2, 3, 4, 5)
    shape = numpy_helper.from_array(np.array([0, -1, 5], dtype=np.int64), "shape")
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("Reshape", ["t", "shape"], ["rs"]),
             helper.make_node("Transpose", ["rs"], ["y"])]
    yv = x.transpose(0, 2, 3, 1).reshape(2, -1, 5).transpose()  # Fortran-ordered: np.save writes it so
    save(root, "transpose_reshape",
         model(nodes, [vi("x", [2, 3, 4, 5])], [vi("y", [5, 12, 2])], [shape]), {"x": x}, {"y": yv})

    # A dynamic batch dimension, fixed at compile time with --shape x=3x8.
    w = r(8, 2)
    x = r(3, 8)
    save(root, "dynamic_batch",
         model([helper.make_node("MatMul", ["x", "w"], ["y"])], [vi("x", ["batch", 8])], [vi("y", ["batch", 2])],
               [numpy_helper.from_array(w, "w")]),
         {"x": x}, {"y": x @ w})

    # Weights as ONNX external data in the model's folder.
    w1, w2 = r(64, 64), r(64, 64)
    x = r(2, 64)
    m = model([helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["hr"]),
               helper.make_node("MatMul", ["hr", "w2"], ["y"])],
              [vi("x", [2, 64])], [vi("y", [2, 64])],
              [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    save(root, "external_data", m, {"x": x}, {"y": np.maximum(x @ w1, 0) @ w2},
         save_as_external_data=True, location="weights.bin", size_threshold=0)

    # A plan whose arena (2 x 256 GiB) no machine here has: tsr must refuse it at load, exit 4.
    save(root, "huge_activation",
         model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [1 << 36])], [vi("y", [1 << 36])]), {}, {})

    # Output names that try to leave --output-dir.
    x = r(2, 3)
    save(root, "escaping_output_names",
         model([helper.make_node("Relu", ["x"], ["../../escaped"]), helper.make_node("Neg", ["x"], ["/abs"])],
               [vi("x", [2, 3])], [vi("../../escaped", [2, 3]), vi("/abs", [2, 3])]),
         {"x": x}, {})

    # A long skip connection idle across the widest part: below its minimum the planner spills
    # it (long_skip_spill) or, when Relu's input x is still live at the end, recomputes it
    # (long_skip_remat).
    for name, remat in (("long_skip_spill", False), ("long_skip_remat", True)):
        x, w1, w2 = r(1, 256), r(256, 1024), r(1024, 256)
        nodes = [helper.make_node("Relu", ["x"], ["skip"]),
                 helper.make_node("Neg", ["skip"], ["s2"]),
                 helper.make_node("MatMul", ["s2", "w1"], ["wide"]),
                 helper.make_node("Tanh", ["wide"], ["wide2"]),
                 helper.make_node("MatMul", ["wide2", "w2"], ["narrow"]),
                 helper.make_node("Add", ["narrow", "skip"], ["sum" if remat else "y"])]
        skip = np.maximum(x, 0)
        yv = np.tanh(-skip @ w1) @ w2 + skip
        if remat:
            nodes.append(helper.make_node("Add", ["sum", "x"], ["y"]))
            yv = yv + x
        save(root, name,
             model(nodes, [vi("x", [1, 256])], [vi("y", [1, 256])],
                   [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")]),
             {"x": x}, {"y": yv})

    # Must-fail models.
    m = model([helper.make_node("GlobalLpPool", ["x"], ["c"], name="lp_a"),
               helper.make_node("GlobalLpPool", ["c"], ["d"], name="lp_b"),
               helper.make_node("LpNormalization", ["d"], ["y"], name="lpn")],
              [vi("x", [1, 1, 5, 5])], [vi("y", [1, 1, 1, 1])],
              [numpy_helper.from_array(r(1, 1, 3, 3), "w")])
    save(root, "unsupported_ops", m, {}, {})

    m = model([helper.make_node("MatMul", ["x", "w"], ["y"])], [vi("x", [2, 64])], [vi("y", [2, 64])],
              [numpy_helper.from_array(r(64, 64), "w")])
    d = os.path.join(root, "escaping_external_data")
    os.makedirs(d, exist_ok=True)
    onnx.save(m, os.path.join(d, "inner.onnx"), save_as_external_data=True, location="w.bin", size_threshold=0)
    m = onnx.load(os.path.join(d, "inner.onnx"), load_external_data=False)
    for t in m.graph.initializer:
        for kv in t.external_data:
            if kv.key == "location":
                kv.value = "../outside.bin"
    with open(os.path.join(root, "outside.bin"), "wb") as f:
        f.write(b"\0" * 64 * 64 * 4)
    onnx.save(m, os.path.join(d, "model.onnx"))


if __name__ == "__main__":
    gen(sys.argv[1])
