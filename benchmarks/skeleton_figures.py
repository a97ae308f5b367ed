#!/usr/bin/python3
"""Figures of the walking skeleton, measured on this machine: bundle size, plan peak against its
lower bound, compile time and tsr run time (load + JIT + run), as medians of N runs.

Usage: benchmarks/skeleton_figures.py [--runs N]   (after `bazel build //cli:tsc //cli:tsr`)
Prints a Markdown table; paste it into benchmarks/RESULTS.md with the command.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import gen_models  # noqa: E402

TSC = os.path.join(ROOT, "bazel-bin", "cli", "tsc")
TSR = os.path.join(ROOT, "bazel-bin", "cli", "tsr")
SHAPES = {"dynamic_batch": ["--shape", "x=3x8"]}


def timed(args, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ts-figures-")
    gen_models.gen(work)
    print("| model | weights | bundle | arena peak | lower bound | peak/bound | I/O staging | tsc compile ms | tsr run ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in sorted(os.listdir(work)):
        model = os.path.join(work, name, "model.onnx")
        if not os.path.isfile(model) or name in ("unsupported_ops", "escaping_external_data", "huge_activation"):
            continue
        plan, report = os.path.join(work, name + ".tsplan"), os.path.join(work, name + ".json")
        compile_args = [TSC, "compile", model, "-o", plan, "--report", report] + SHAPES.get(name, [])
        compile_ms = timed(compile_args, a.runs)
        r = json.load(open(report))
        run_ms = timed([TSR, "run", plan, "--seed", "1", "-q"], a.runs)
        print("| %s | %d | %d | %d | %d | %.3f | %d | %.1f | %.1f |" % (
            name, r["resident_weight_bytes"], r["bundle_bytes"], r["peak_bytes"], r["lower_bound_bytes"],
            r["peak_over_lower_bound"], r["runtime_overhead_bytes"], compile_ms, run_ms))


if __name__ == "__main__":
    main()
