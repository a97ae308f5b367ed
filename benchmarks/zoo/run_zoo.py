#!/usr/bin/env python3
"""Model zoo through tsc + tsr, checked against onnxruntime, and optionally timed against it.

Usage: run_zoo.py --tsc PATH --tsr PATH [--cache DIR] [--models bert,gpt2,resnet50,unet]
                  [--tsc-arg ARG]... [--at-minimum] [--bench [--iterations N] [--results FILE]]

Generates the zoo (gen_zoo.py; cached under --cache, keyed by the generator's hash), compiles
each model with `tsc compile`, runs it with `tsr run` on the generator's inputs and compares the
outputs with onnxruntime's (CPU provider, 2 threads): prints max abs and max relative error
(relative to the largest |reference| value) and passes when every element is within
atol + rtol * |ref| with rtol 1e-3 and atol 1e-4 x max|ref|. Last line:
"zoo: N passed, M failed".

With --at-minimum each model is also compiled at its minimum feasible budget (the one tsc names
when refusing a 1-byte budget: weights streamed, activations spilled to storage where needed)
and run; its outputs must be bitwise equal to the unbudgeted plan's.

With --bench it also times both in the same run, same inputs, same thread count: `tsr bench`
(median of --iterations runs after warm-up) and onnxruntime's InferenceSession.run (median of
the same number of runs after warm-up), and rewrites the zoo table in --results (between the
markers "<!-- zoo:begin -->" and "<!-- zoo:end -->").
"""
import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_zoo  # noqa: E402

THREADS = 2


def ensure_models(cache, names):
    key = hashlib.sha256(open(os.path.join(HERE, "gen_zoo.py"), "rb").read()).hexdigest()[:16]
    root = os.path.join(cache, key)
    for n in names:
        if not os.path.exists(os.path.join(root, n, "inputs.npz")):
            print("generating", n, "into", root, flush=True)
            gen_zoo.MODELS[n](root)
    return root


def ort_session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def write_block(path, name, lines, heading=""):
    """Replaces the lines between "<!-- NAME:begin -->" and "<!-- NAME:end -->" in the file at
    path with `lines` (which include both markers), or appends them (after `heading`)."""
    begin, end = "<!-- %s:begin -->" % name, "<!-- %s:end -->" % name
    text = open(path).read() if os.path.exists(path) else ""
    if begin in text:
        pre, rest = text.split(begin, 1)
        text = pre + "\n".join(lines) + rest.split(end, 1)[1]
    else:
        text += "\n" + heading + "\n".join(lines) + "\n"
    open(path, "w").write(text)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd[:3]), p.returncode, (p.stderr or p.stdout).strip()[-1500:]))
    return p


def at_minimum(a, n, model, in_args, ref_dir, names):
    """The plan at its minimum feasible budget (weights streamed, activations spilled where the
    planner had to) gives the unbudgeted plan's outputs bit for bit."""
    p = subprocess.run([a.tsc, "compile", model, "-o", os.path.join(a.work, n + "_min.tsplan"), "--vram", "1"]
                       + a.tsc_arg, capture_output=True, text=True)
    m = re.search(r"the minimum feasible budget is (\d+) bytes", p.stderr)
    if p.returncode != 4 or not m:
        raise RuntimeError("expected tsc to refuse a 1-byte budget with its minimum: " + p.stderr.strip()[-500:])
    plan, report = os.path.join(a.work, n + "_min.tsplan"), os.path.join(a.work, n + "_min.json")
    run([a.tsc, "compile", model, "-o", plan, "--vram", m.group(1), "--report", report] + a.tsc_arg)
    r = json.load(open(report))
    out_dir = os.path.join(a.work, n + "_min_out")
    os.makedirs(out_dir, exist_ok=True)
    run([a.tsr, "run", plan, "-q", "--output-dir", out_dir] + in_args)
    for name in names:
        got = open(os.path.join(out_dir, name + ".npy"), "rb").read()
        if got != open(os.path.join(ref_dir, name + ".npy"), "rb").read():
            raise RuntimeError("at its minimum budget (%s bytes) output %s differs from the unbudgeted plan's"
                               % (m.group(1), name))
    print("zoo %-9s at its minimum budget %s bytes: peak %d, %d bytes streamed, %d activations spilled "
          "(%d bytes); outputs bitwise equal" % (n, m.group(1), r["peak_bytes"], sum(r["streamed_bytes"].values()),
                                                  r["spilled_activations"], r["spilled_bytes"]), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsc", required=True)
    ap.add_argument("--tsr", required=True)
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/tensorshunt/zoo"))
    ap.add_argument("--work", default="/tmp/tensorshunt-zoo")
    ap.add_argument("--models", default=",".join(gen_zoo.MODELS))
    ap.add_argument("--tsc-arg", action="append", default=[],
                    help="extra argument for tsc compile, repeatable (e.g. --tsc-arg=--target --tsc-arg=cuda)")
    ap.add_argument("--at-minimum", action="store_true",
                    help="also run each model at its minimum feasible budget; outputs must be bitwise equal")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--results", default=os.path.join(HERE, "..", "RESULTS.md"))
    a = ap.parse_args()
    names = a.models.split(",")
    root = ensure_models(a.cache, names)
    os.makedirs(a.work, exist_ok=True)
    passed = failed = 0
    rows = []
    for n in names:
        model = os.path.join(root, n, "model.onnx")
        plan = os.path.join(a.work, n + ".tsplan")
        feeds = dict(np.load(os.path.join(root, n, "inputs.npz")))
        in_args = []
        for k, v in feeds.items():
            f = os.path.join(a.work, "%s_%s.npy" % (n, k))
            np.save(f, v)
            in_args += ["--input", "%s=@%s" % (k, f)]
        try:
            t0 = time.time()
            run([a.tsc, "compile", model, "-o", plan] + a.tsc_arg)
            compile_s = time.time() - t0
            out_dir = os.path.join(a.work, n + "_out")
            os.makedirs(out_dir, exist_ok=True)
            run([a.tsr, "run", plan, "-q", "--output-dir", out_dir] + in_args)
            sess = ort_session(model)
            ref_names = [o.name for o in sess.get_outputs()]
            refs = sess.run(None, feeds)
            ok = True
            for name, ref in zip(ref_names, refs):
                got = np.load(os.path.join(out_dir, name + ".npy"))
                if got.shape != ref.shape:
                    raise RuntimeError("output %s has shape %s, onnxruntime's %s" % (name, got.shape, ref.shape))
                scale = float(np.abs(ref).max()) or 1.0
                err = np.abs(got.astype(np.float64) - ref.astype(np.float64))
                within = err <= 1e-4 * scale + 1e-3 * np.abs(ref)
                ok &= bool(within.all())
                print("zoo %-9s %-18s max abs err %.3g, max rel err %.3g (of max |ref| %.3g), %d/%d elements within tolerance; compile %.1f s"
                      % (n, name, err.max(), err.max() / scale, scale, int(within.sum()), within.size, compile_s), flush=True)
            if not ok:
                raise RuntimeError("outputs differ from onnxruntime's beyond tolerance")
            if a.at_minimum:
                at_minimum(a, n, model, in_args, out_dir, ref_names)
            if a.bench:
                bj = os.path.join(a.work, n + "_bench.json")
                bench_cmd = [a.tsr, "bench", plan, "--iterations", str(a.iterations), "--warmup", "2", "--json", bj] + in_args
                run(bench_cmd)
                ours = json.load(open(bj))["latency_ms"]["median"]
                for _ in range(2):
                    sess.run(None, feeds)
                times = []
                for _ in range(a.iterations):
                    t = time.perf_counter()
                    sess.run(None, feeds)
                    times.append((time.perf_counter() - t) * 1e3)
                theirs = statistics.median(times)
                rows.append((n, ours, theirs, ours / theirs))
                print("bench %-9s tsr median %.2f ms, onnxruntime median %.2f ms, ratio %.2f" % (n, ours, theirs, ours / theirs), flush=True)
            print("PASS zoo", n)
            passed += 1
        except Exception as e:  # noqa: BLE001 - report every model
            print("FAIL zoo %s: %s" % (n, e))
            failed += 1
    if a.bench and rows:
        import onnxruntime as ort
        table = ["<!-- zoo:begin -->",
                 "Measured by `python benchmarks/zoo/run_zoo.py --tsc bazel-out/k8-opt/bin/cli/tsc --tsr bazel-out/k8-opt/bin/cli/tsr --bench --iterations %d`"
                 " (one run; %d threads each; onnxruntime %s, CPU provider; median latency)." % (a.iterations, THREADS, ort.__version__),
                 "", "| model | tsr median (ms) | onnxruntime median (ms) | ratio (tsr / ort) |", "|---|---|---|---|"]
        for n, ours, theirs, r in rows:
            table.append("| %s | %.2f | %.2f | %.2f |" % (n, ours, theirs, r))
        table.append("<!-- zoo:end -->")
        write_block(a.results, "zoo", table, "## Model zoo against onnxruntime (issue 3)\n\n")
    print("zoo: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
