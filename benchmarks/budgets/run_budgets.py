#!/usr/bin/env python3
"""Streaming under a budget on the CPU target, against the bound the links set (issue 4, item 9).

Usage: run_budgets.py --tsc PATH --tsr PATH [--models resnet50,bert,gpt2,unet]
                      [--budgets 100,50,25] [--iterations N] [--profile FILE] [--no-calibrate]
                      [--cache DIR] [--work DIR] [--results FILE]

For every zoo model (benchmarks/zoo, generated or taken from the cache):
  1. the unbudgeted plan (every weight resident) is compiled and timed with `tsr bench`: its
     median is the compute-only time;
  2. for every budget (percent of the model's weight bytes) the plan is compiled with
     `tsc compile --vram B --profile P --report`, timed with `tsr bench` (same iterations), and
     run once more with `tsr run --seed 1`, whose outputs must be bitwise equal to the
     unbudgeted plan's;
  3. the bound is max(compute-only median, streamed bytes / measured O_DIRECT read bandwidth),
     where the bandwidth is what `tsr bench` measured reading the plan's streamed weights alone
     (no compute; io_uring, O_DIRECT), interleaved with its timed runs so both see the same disk;
     printed: measured median / bound, planned peak / lower bound, predicted / measured time,
     the median stall and the share of read time hidden. The bound with the profile's read
     bandwidth instead is printed beside it.

The profile is measured first with `tsc profile probe --cpu-only` unless --profile names one, so
predictions use this machine's GEMM rate and memory bandwidth. Its read bandwidth is then
replaced (unless --no-calibrate) by the sustained bandwidth `tsr bench` measures reading the
first model's 25% plan's streamed weights alone: on a shared virtual disk the probe's short reads
of a fresh scratch file run up to 2x faster than a plan's reads do, and a planner told so streams
more than the disk can carry.
Budgets that do not fit (tsc exit 4) are reported as such. With --results the table between
"<!-- budgets:begin -->" and "<!-- budgets:end -->" in that file is rewritten. Exit status 1
when any budgeted plan's outputs differ from the unbudgeted plan's; the ratios are reported,
not gated (machines are shared and noisy).
"""
import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "zoo"))
import gen_zoo  # noqa: E402
import run_zoo  # noqa: E402
from run_zoo import run  # noqa: E402


def bench(tsr, plan, iterations, out_json):
    run([tsr, "bench", plan, "--seed", "1", "--iterations", str(iterations), "--json", out_json])
    return json.load(open(out_json))


def outputs(tsr, plan, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    run([tsr, "run", plan, "--seed", "1", "--output-dir", out_dir])
    return {f: np.load(os.path.join(out_dir, f)) for f in sorted(os.listdir(out_dir)) if f.endswith(".npy")}


def calibrate(a, root, name, profile):
    """The sustained read bandwidth this disk gives a streamed plan: `tsr bench` of the model
    at 25% of its weight bytes (or the minimum budget), reads alone, median of 5 passes."""
    model = os.path.join(root, name, "model.onnx")
    report = os.path.join(a.work, "calibrate_full.json")
    run([a.tsc, "compile", model, "-o", os.path.join(a.work, "calibrate_full.tsplan"), "--report", report])
    budget = json.load(open(report))["resident_weight_bytes"] // 4
    plan = os.path.join(a.work, "calibrate.tsplan")
    cmd = [a.tsc, "compile", model, "-o", plan, "--profile", profile]
    p = subprocess.run(cmd + ["--vram", str(budget)], capture_output=True, text=True)
    if p.returncode == 4:
        m = re.search(r"the minimum feasible budget is (\d+) bytes", p.stderr)
        if not m:
            raise RuntimeError("tsc exit 4 without a minimum: " + p.stderr.strip()[-500:])
        run(cmd + ["--vram", m.group(1)])
    elif p.returncode != 0:
        raise RuntimeError("tsc exited %d: %s" % (p.returncode, p.stderr.strip()[-1500:]))
    b = bench(a.tsr, plan, 5, os.path.join(a.work, "calibrate_bench.json"))
    if not b.get("reads_alone_gbps"):
        raise RuntimeError("the calibration plan streams nothing; pass --no-calibrate or --profile")
    return b["reads_alone_gbps"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsc", required=True)
    ap.add_argument("--tsr", required=True)
    ap.add_argument("--models", default="resnet50,bert,gpt2,unet")
    ap.add_argument("--budgets", default="100,50,25")
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--profile")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/tensorshunt/zoo"))
    ap.add_argument("--work", default="/tmp/tensorshunt-budgets")
    ap.add_argument("--results")
    ap.add_argument("--no-calibrate", action="store_true",
                    help="keep the probe's read bandwidth in the profile")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    names = a.models.split(",")
    for n in names:
        if n not in gen_zoo.MODELS:
            sys.exit("unknown model %r; choose from %s" % (n, ", ".join(gen_zoo.MODELS)))
    budgets = [int(b) for b in a.budgets.split(",")]
    root = run_zoo.ensure_models(a.cache, names)

    profile = a.profile
    if not profile:
        profile = os.path.join(a.work, "host.yaml")
        print("probing this machine into", profile, flush=True)
        run([a.tsc, "profile", "probe", "--cpu-only", "-o", profile])
    gbps = None
    for line in open(profile):
        s = line.strip()
        if s.startswith("read_bandwidth_gbps:"):
            gbps = float(s.split(":", 1)[1])
    if not gbps:
        sys.exit("%s has no nvme.read_bandwidth_gbps: probe it with `tsc profile probe`" % profile)
    print("O_DIRECT read bandwidth %.2f GB/s (%s)" % (gbps, profile), flush=True)
    probed_gbps = gbps
    if not a.profile and not a.no_calibrate:
        gbps = calibrate(a, root, names[0], profile)
        text = open(profile).read()
        text = re.sub(r"(read_bandwidth_gbps:\s*)[0-9.eE+-]+", lambda m: m.group(1) + repr(gbps), text, count=1)
        open(profile, "w").write(text)
        print("sustained read bandwidth %.2f GB/s (the probe's median was %.2f): the profile now says %.2f"
              % (gbps, probed_gbps, gbps), flush=True)
    read_bw = gbps * 1e9

    rows, mismatches = [], 0
    for n in names:
        model = os.path.join(root, n, "model.onnx")
        full_plan = os.path.join(a.work, n + "_full.tsplan")
        full_report = os.path.join(a.work, n + "_full.json")
        run([a.tsc, "compile", model, "-o", full_plan, "--profile", profile, "--report", full_report])
        # The weight bytes as benchmarks/peaks counts them: what the unbudgeted plan keeps resident.
        w = json.load(open(full_report))["resident_weight_bytes"]
        full = bench(a.tsr, full_plan, a.iterations, os.path.join(a.work, n + "_full_bench.json"))
        compute = full["latency_ms"]["median"]
        ref = outputs(a.tsr, full_plan, os.path.join(a.work, n + "_full_out"))
        print("%s: %d weight bytes; unbudgeted median %.2f ms" % (n, w, compute), flush=True)
        for pct in budgets:
            budget = w * pct // 100
            tag = "%s_%d" % (n, pct)
            plan = os.path.join(a.work, tag + ".tsplan")
            report = os.path.join(a.work, tag + ".json")
            p = subprocess.run([a.tsc, "compile", model, "-o", plan, "--profile", profile,
                                "--vram", str(budget), "--report", report],
                               capture_output=True, text=True)
            if p.returncode == 4:
                print("  %3d%%: does not fit: %s" % (pct, p.stderr.strip()[-300:]), flush=True)
                rows.append({"model": n, "pct": pct, "budget": budget, "fits": False})
                continue
            if p.returncode != 0:
                raise RuntimeError("tsc exited %d: %s" % (p.returncode, p.stderr.strip()[-1500:]))
            r = json.load(open(report))
            b = bench(a.tsr, plan, a.iterations, os.path.join(a.work, tag + "_bench.json"))
            got = outputs(a.tsr, plan, os.path.join(a.work, tag + "_out"))
            same = sorted(got) == sorted(ref) and all(
                got[k].dtype == ref[k].dtype and got[k].shape == ref[k].shape and
                got[k].tobytes() == ref[k].tobytes() for k in ref)
            mismatches += not same
            streamed = r["streamed_bytes"]["storage"]
            alone_gbps = b.get("reads_alone_gbps") or gbps
            bound = max(compute, streamed / (alone_gbps * 1e9) * 1e3)
            probe_bound = max(compute, streamed / read_bw * 1e3)
            median = b["latency_ms"]["median"]
            row = {"model": n, "pct": pct, "budget": budget, "fits": True, "median": median,
                   "compute": compute, "streamed": streamed, "bound": bound, "alone_gbps": alone_gbps,
                   "probe_bound": probe_bound,
                   "ratio": median / bound, "peak_over_lb": r["peak_bytes"] / r["lower_bound_bytes"],
                   "predicted": r.get("predicted_ms"), "stall": b["stall_ms"]["median"],
                   "hidden": b.get("hidden_fraction_median"), "bitwise": same}
            row["pred_over_meas"] = row["predicted"] / median if row["predicted"] else None
            rows.append(row)
            print("  %3d%%: median %.2f ms, bound %.2f ms (reads alone %.2f GB/s; with the probe's "
                  "bandwidth %.2f ms), ratio %.2f; peak/lb %.3f; predicted/measured "
                  "%.2f; stall %.2f ms; hidden %.0f%%; outputs %s" % (
                      pct, median, bound, alone_gbps, probe_bound, row["ratio"], row["peak_over_lb"],
                      row["pred_over_meas"] or 0,
                      row["stall"], 100 * (row["hidden"] or 0), "bitwise equal" if same else "DIFFER"),
                  flush=True)

    if a.results:
        cmd = ("python3 benchmarks/budgets/run_budgets.py --tsc %s --tsr %s --models %s --budgets %s "
               "--iterations %d" % (a.tsc, a.tsr, a.models, a.budgets, a.iterations))
        cmd += (" --profile " + a.profile) if a.profile else ""
        cmd += " --no-calibrate" if a.no_calibrate else ""
        if a.profile:
            where = "plans and predictions on the profile %s (read bandwidth %.2f GB/s)" % (a.profile, gbps)
        elif a.no_calibrate:
            where = ("plans and predictions on the profile `tsc profile probe --cpu-only` measured in the "
                     "same run (read bandwidth %.2f GB/s)" % gbps)
        else:
            where = ("plans and predictions on the profile `tsc profile probe --cpu-only` measured in the "
                     "same run, its read bandwidth %.2f GB/s replaced by the %.2f GB/s sustained in the "
                     "calibration" % (probed_gbps, gbps))
        lines = ["<!-- budgets:begin -->",
                 "Measured by `%s` (one run; medians of %d iterations; %s). "
                 "Bound: max(compute-only, streamed bytes / the plan's streamed reads timed alone by "
                 "`tsr bench`)." % (cmd, a.iterations, where), "",
                 "| model | budget | median (ms) | compute-only (ms) | streamed (MB) | reads alone (GB/s) | "
                 "bound (ms) | median / bound | peak / lower bound | predicted / measured | stall (ms) | "
                 "hidden | outputs |",
                 "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if not r["fits"]:
                lines.append("| %s | %d%% (%d B) | does not fit | | | | | | | | | | |" % (r["model"], r["pct"], r["budget"]))
                continue
            lines.append("| %s | %d%% | %.2f | %.2f | %.1f | %.2f | %.2f | %.2f | %.3f | %s | %.2f | %.0f%% | %s |" % (
                r["model"], r["pct"], r["median"], r["compute"], r["streamed"] / 1e6, r["alone_gbps"], r["bound"], r["ratio"],
                r["peak_over_lb"], "%.2f" % r["pred_over_meas"] if r["pred_over_meas"] else "-", r["stall"],
                100 * (r["hidden"] or 0), "bitwise equal" if r["bitwise"] else "DIFFER"))
        lines.append("<!-- budgets:end -->")
        text = open(a.results).read()
        begin, end = text.find("<!-- budgets:begin -->"), text.find("<!-- budgets:end -->")
        block = "\n".join(lines)
        if begin >= 0 and end > begin:
            text = text[:begin] + block + text[end + len("<!-- budgets:end -->"):]
        else:
            text = text.rstrip("\n") + "\n\n## Streaming under a budget against the bound (issue 4, item 9)\n\n" + block + "\n"
        open(a.results, "w").write(text)
        print("wrote", a.results)
    print("budgets: %d plans, %d with outputs different from the unbudgeted plan" % (
        sum(1 for r in rows if r["fits"]), mismatches))
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
