#!/usr/bin/env python3
"""Models exported by torch.onnx from transformers' and torchvision's own code, through tsc + tsr,
checked against onnxruntime.

Usage: run_real.py --tsc PATH --tsr PATH [--work DIR] [--filter SUBSTR] [--seq N]

tests/real/models holds graphs that export_real.py wrote on a machine with torch (both exporters:
TorchScript "_ts" and dynamo "_dynamo"), without their large weights. For each, this script draws
the missing weights from the statistics recorded in the manifest (normal with the recorded mean
and std, clipped to the recorded range; convolution kernels He-normal; seeded), compiles with `tsc compile --shape` fixing every
dynamic dimension (batch 1; sequence --seq for the text models; 224x224 images as exported), runs
`tsr run` on random inputs (token ids in range, an attention mask with padding at the end) and
compares with onnxruntime on the same files: max abs error, and a pass when every element is
within atol + rtol * |ref| with rtol 1e-3 and atol 1e-4 x max|ref| (the zoo's tolerance).
Then the planner on a model no one on the team made: each model is compiled again under budgets
of 50% and 25% of its weight bytes (a budget that does not fit is replaced by the minimum
feasible one tsc names, so every model runs streamed at least once), run on the same inputs,
and its outputs must be bitwise equal to the unbudgeted plan's.
Last line: "real models: N passed, M failed".
"""
import re
import argparse
import glob
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "models")


def write_weights(manifest, path, seed):
    rng = np.random.default_rng(seed)
    buf = bytearray(manifest["weights_bytes"])
    for t in manifest["tensors"]:
        n = int(np.prod(t["dims"])) if t["dims"] else 1
        if len(t["dims"]) == 4:
            # Convolution kernels: He-normal over the true fan-in. torchvision initialises by
            # fan-out, which for depthwise layers shrinks activations to ~1e-14 by the logits
            # and would leave little to compare.
            a = rng.normal(0.0, np.sqrt(2.0 / max(1, int(np.prod(t["dims"][1:])))), n)
        elif t["std"] == 0.0:
            a = np.full(n, t["mean"])
        else:
            a = np.clip(rng.normal(t["mean"], t["std"], n), t["min"], t["max"])
        raw = a.astype(np.dtype(t["dtype"])).tobytes()
        if len(raw) != t["length"]:
            raise RuntimeError("manifest of %s: %s holds %d bytes, expected %d"
                               % (manifest["name"], t["name"], len(raw), t["length"]))
        buf[t["offset"]:t["offset"] + len(raw)] = raw
    with open(path, "wb") as f:
        f.write(buf)


def randomize_zero_matrices(model, rng):
    """Gives all-zero inline float matrices random values; returns whether any changed.

    torchvision's ViT initialises its classifier to zeros, which would make every output zero
    and the comparison empty. Only the values change, never the graph."""
    changed = False
    for init in model.graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or len(init.dims) < 2 or \
                init.data_location == onnx.TensorProto.EXTERNAL:
            continue
        arr = numpy_helper.to_array(init)
        if arr.size and not arr.any():
            init.CopyFrom(numpy_helper.from_array(
                rng.normal(0.0, 0.05, arr.shape).astype(np.float32), init.name))
            changed = True
    return changed


def concrete_shape(value_info, dims_by_name, fixed):
    """The shape of a graph input with every symbolic or unknown dimension made concrete."""
    out = []
    for i, d in enumerate(value_info.type.tensor_type.shape.dim):
        if d.HasField("dim_value"):
            out.append(d.dim_value)
        else:
            out.append(fixed[i])
    return out


def make_inputs(model, manifest, seq, rng):
    feeds = {}
    for vi in model.graph.input:
        name = vi.name
        if name not in manifest["inputs"]:
            continue  # an initializer listed as an input (old exporters)
        exported = manifest["inputs"][name]["shape"]
        if name in ("input_ids", "attention_mask", "token_type_ids"):
            shape = concrete_shape(vi, None, [1, seq])
        else:
            shape = concrete_shape(vi, None, [1] + exported[1:])
        if name == "input_ids":
            feeds[name] = rng.integers(0, 1000, size=shape, dtype=np.int64)
        elif name == "attention_mask":
            m = np.ones(shape, dtype=np.int64)
            m[:, -max(1, seq // 8):] = 0  # padding at the end
            feeds[name] = m
        elif name == "token_type_ids":
            t = np.zeros(shape, dtype=np.int64)
            t[:, seq // 2:] = 1
            feeds[name] = t
        else:
            feeds[name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def ort_session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd[:2]), p.returncode,
                                                 (p.stderr or p.stdout).strip()[-1200:]))
    return p


def check(name, a, work, rng):
    manifest = json.load(open(os.path.join(MODELS, name + ".json")))
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    # The graph names its external data by a path relative to itself: copy it beside the weights.
    model_path = os.path.join(d, name + ".onnx")
    with open(os.path.join(MODELS, name + ".onnx"), "rb") as src, open(model_path, "wb") as dst:
        dst.write(src.read())
    write_weights(manifest, os.path.join(d, manifest["weights_file"]), seed=1234)
    model = onnx.load(model_path, load_external_data=False)
    if randomize_zero_matrices(model, np.random.default_rng(99)):
        onnx.save(model, model_path)
    feeds = make_inputs(model, manifest, a.seq, rng)
    shape_args, in_args = [], []
    for k, v in feeds.items():
        shape_args += ["--shape", "%s=%s" % (k, "x".join(str(s) for s in v.shape))]
        f = os.path.join(d, k + ".npy")
        np.save(f, v)
        in_args += ["--input", "%s=@%s" % (k, f)]
    plan = os.path.join(d, name + ".tsplan")
    report = os.path.join(d, name + ".json")
    t0 = time.time()
    run([a.tsc, "compile", model_path, "-o", plan, "--report", report] + shape_args)
    compile_s = time.time() - t0
    out_dir = os.path.join(d, "out")
    os.makedirs(out_dir, exist_ok=True)
    run([a.tsr, "run", plan, "-q", "--output-dir", out_dir] + in_args)
    sess = ort_session(model_path)
    ok = True
    for o, ref in zip(sess.get_outputs(), sess.run(None, feeds)):
        got = np.load(os.path.join(out_dir, o.name + ".npy"))
        if got.shape != ref.shape:
            raise RuntimeError("output %s has shape %s, onnxruntime's %s" % (o.name, got.shape, ref.shape))
        scale = float(np.abs(ref).max()) or 1.0
        err = np.abs(got.astype(np.float64) - ref.astype(np.float64))
        within = err <= 1e-4 * scale + 1e-3 * np.abs(ref)
        ok &= bool(within.all())
        print("real %-30s %-8s max abs err %.3g (max |ref| %.3g), %d/%d within tolerance; "
              "%s, %d nodes, compile %.1f s"
              % (name, o.name, err.max(), scale, int(within.sum()), within.size,
                 manifest["exporter"], len(model.graph.node), compile_s), flush=True)
    if not ok:
        raise RuntimeError("outputs differ from onnxruntime's beyond tolerance")
    check_budgets(name, a, d, model_path, shape_args, in_args, out_dir,
                  json.load(open(report))["resident_weight_bytes"])


def check_budgets(name, a, d, model_path, shape_args, in_args, ref_dir, weight_bytes):
    """Streamed plans of the model give the unbudgeted plan's outputs, bit for bit."""
    refs = sorted(f for f in os.listdir(ref_dir) if f.endswith(".npy"))
    streamed_once = False
    for pct in (50, 25):
        budget = weight_bytes * pct // 100
        plan = os.path.join(d, "%s_%d.tsplan" % (name, pct))
        report = os.path.join(d, "%s_%d.json" % (name, pct))
        cmd = [a.tsc, "compile", model_path, "-o", plan, "--report", report] + shape_args
        p = subprocess.run(cmd + ["--vram", str(budget)], capture_output=True, text=True)
        label = "%d%%" % pct
        if p.returncode == 4:
            m = re.search(r"the minimum feasible budget is (\d+) bytes", p.stderr)
            if not m:
                raise RuntimeError("tsc exit 4 without a minimum: " + p.stderr.strip()[-500:])
            budget = int(m.group(1))
            label = "%d%% does not fit; its minimum" % pct
            run(cmd + ["--vram", str(budget)])
        elif p.returncode != 0:
            raise RuntimeError("tsc exited %d: %s" % (p.returncode, p.stderr.strip()[-1200:]))
        r = json.load(open(report))
        out_dir = os.path.join(d, "out_%d" % pct)
        os.makedirs(out_dir, exist_ok=True)
        run([a.tsr, "run", plan, "-q", "--output-dir", out_dir] + in_args)
        for f in refs:
            if open(os.path.join(out_dir, f), "rb").read() != open(os.path.join(ref_dir, f), "rb").read():
                raise RuntimeError("at %s (%d bytes) output %s differs from the unbudgeted plan's" % (label, budget, f))
        streamed_once |= r["streamed_bytes"]["storage"] > 0
        print("real %-30s budget %s (%d bytes): peak %d, %d bytes streamed per run, %d activations "
              "spilled, outputs bitwise equal" % (name, label, budget, r["peak_bytes"],
                                                   r["streamed_bytes"]["storage"], r["spilled_activations"]),
              flush=True)
    if not streamed_once:
        raise RuntimeError("no budget made the plan stream a weight")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsc", required=True)
    ap.add_argument("--tsr", required=True)
    ap.add_argument("--work", default="/tmp/tensorshunt-real")
    ap.add_argument("--filter", default="")
    ap.add_argument("--seq", type=int, default=32)
    a = ap.parse_args()
    names = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(MODELS, "*.onnx")))
    names = [n for n in names if a.filter in n]
    rng = np.random.default_rng(7)
    passed = failed = 0
    for n in names:
        try:
            check(n, a, a.work, rng)
            print("PASS real", n, flush=True)
            passed += 1
        except Exception as e:  # noqa: BLE001 - report every model
            print("FAIL real %s: %s" % (n, e), flush=True)
            failed += 1
    print("real models: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
