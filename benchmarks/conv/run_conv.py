#!/usr/bin/env python3
"""Single convolutions of the zoo CNNs' shapes: tsr's direct kernel, tsr's im2col + OpenBLAS path
and onnxruntime, timed in the same run (issue 3, item 4).

Usage: run_conv.py --tsc PATH --tsr PATH [--iterations N] [--rounds R] [--work DIR]
                   [--results FILE]

Each shape becomes a one-node ONNX model (random weights, onnx.helper). tsc compiles it once;
`tsr bench` runs the plan with the direct kernel (default on CPUs with AVX-512F) and with
TSR_CONV=im2col, and onnxruntime (CPU provider, 2 threads) runs the model; the three alternate
for --rounds rounds of --iterations runs each. Printed per shape: the smallest median and the
smallest minimum over the rounds (this VM is shared: minima move least), in ms, and GFLOP/s of
the best minimum. With --results, rewrites the table between "<!-- conv:begin -->" and
"<!-- conv:end -->". The outputs are checked elsewhere (conv_direct_test, the zoo and the
conformance suite); this script only times.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "zoo"))
import run_zoo  # noqa: E402

# name: (in channels, out channels, kernel, stride, pad, image side). From ResNet-50 (stem, 3x3
# blocks, 1x1 projections) and the U-Net (32 channels at 256x256).
SHAPES = {
    "resnet stem 7x7/2": (3, 64, 7, 2, 3, 224),
    "3x3 64 @56": (64, 64, 3, 1, 1, 56),
    "3x3/2 128 @56": (128, 128, 3, 2, 1, 56),
    "3x3 128 @28": (128, 128, 3, 1, 1, 28),
    "3x3 256 @14": (256, 256, 3, 1, 1, 14),
    "3x3 512 @7": (512, 512, 3, 1, 1, 7),
    "1x1 64->256 @56": (64, 256, 1, 1, 0, 56),
    "1x1 256->64 @56": (256, 64, 1, 1, 0, 56),
    "1x1 1024->256 @14": (1024, 256, 1, 1, 0, 14),
    "1x1 512->2048 @7": (512, 2048, 1, 1, 0, 7),
    "1x1 2048->512 @7": (2048, 512, 1, 1, 0, 7),
    "unet 3x3 32 @256": (32, 32, 3, 1, 1, 256),
    "unet 3x3 64->32 @256": (64, 32, 3, 1, 1, 256),
}


def make_model(path, ci, co, k, s, p, hw, rng):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = (rng.standard_normal((co, ci, k, k)) * 0.05).astype(np.float32)
    b = rng.standard_normal(co).astype(np.float32)
    out = (hw + 2 * p - k) // s + 1
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[k, k], strides=[s, s], pads=[p] * 4)
    graph = helper.make_graph(
        [node], "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, ci, hw, hw])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, co, out, out])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # onnxruntime 1.23 reads IR versions up to 11
    onnx.save(model, path)
    return 2.0 * co * out * out * ci * k * k


def tsr_bench(tsr, plan, iterations, mode):
    """(median, min) latency in ms of `tsr bench`, with TSR_CONV=im2col for mode "im2col"."""
    env = {k: v for k, v in os.environ.items() if k != "TSR_CONV"}
    if mode == "im2col":
        env["TSR_CONV"] = "im2col"
    out = plan + ".bench.json"
    p = subprocess.run([tsr, "bench", plan, "--iterations", str(iterations), "--warmup", "3", "--seed", "1",
                        "--json", out], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError("tsr bench exited %d: %s" % (p.returncode, p.stderr.strip()[-1000:]))
    lat = json.load(open(out))["latency_ms"]
    return lat["median"], lat["min"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsc", required=True)
    ap.add_argument("--tsr", required=True)
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", default="/tmp/tensorshunt-conv")
    ap.add_argument("--results")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    for name, (ci, co, k, s, p, hw) in SHAPES.items():
        stem = os.path.join(a.work, "".join(c if c.isalnum() else "_" for c in name))
        flops = make_model(stem + ".onnx", ci, co, k, s, p, hw, rng)
        run_zoo.run([a.tsc, "compile", stem + ".onnx", "-o", stem + ".tsplan"])
        sess = run_zoo.ort_session(stem + ".onnx")
        x = rng.standard_normal((1, ci, hw, hw)).astype(np.float32)
        best = {"direct": [1e9, 1e9], "im2col": [1e9, 1e9], "ort": [1e9, 1e9]}
        for _ in range(a.rounds):
            for mode in ("direct", "im2col"):
                med, low = tsr_bench(a.tsr, stem + ".tsplan", a.iterations, mode)
                best[mode] = [min(best[mode][0], med), min(best[mode][1], low)]
            for _ in range(3):
                sess.run(None, {"x": x})
            times = []
            for _ in range(a.iterations):
                t = time.perf_counter()
                sess.run(None, {"x": x})
                times.append((time.perf_counter() - t) * 1e3)
            best["ort"] = [min(best["ort"][0], statistics.median(times)), min(best["ort"][1], min(times))]
        row = (name, flops, best)
        rows.append(row)
        print("conv %-22s tsr %.3f/%.3f  im2col %.3f/%.3f  onnxruntime %.3f/%.3f ms (median/min)  "
              "tsr/ort %.2f (min %.2f)" % (name, best["direct"][0], best["direct"][1], best["im2col"][0],
                                              best["im2col"][1], best["ort"][0], best["ort"][1],
                                              best["direct"][0] / best["ort"][0], best["direct"][1] / best["ort"][1]),
              flush=True)
    if a.results:
        import onnxruntime as ort
        lines = ["<!-- conv:begin -->",
                 "Measured by `python benchmarks/conv/run_conv.py --tsc bazel-out/k8-opt/bin/cli/tsc --tsr "
                 "bazel-out/k8-opt/bin/cli/tsr --iterations %d --rounds %d --results benchmarks/RESULTS.md` (one run; "
                 "%d threads each; onnxruntime %s; per cell the smallest median / smallest minimum over the rounds, ms). "
                 "The tsr column is the default (the direct kernel where it applies, on weights tsc blocked by "
                 "16 output channels where it prefers the blocked kernel), the next one im2col + OpenBLAS for every "
                 "convolution."
                 % (a.iterations, a.rounds, run_zoo.THREADS, ort.__version__),
                 "",
                 "| convolution | tsr | tsr, TSR_CONV=im2col | onnxruntime | tsr / ort (median, min) | tsr GFLOP/s (min) |",
                 "|---|---|---|---|---|---|"]
        for name, flops, best in rows:
            lines.append("| %s | %.3f / %.3f | %.3f / %.3f | %.3f / %.3f | %.2f, %.2f | %.0f |" % (
                name, best["direct"][0], best["direct"][1], best["im2col"][0], best["im2col"][1], best["ort"][0],
                best["ort"][1], best["direct"][0] / best["ort"][0], best["direct"][1] / best["ort"][1],
                flops / best["direct"][1] / 1e6))
        lines.append("<!-- conv:end -->")
        run_zoo.write_block(a.results, "conv", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
