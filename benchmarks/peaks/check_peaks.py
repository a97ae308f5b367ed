#!/usr/bin/env python3
"""The project's own CI gate on plan memory peaks (issue 4, item 7).

For every zoo model (benchmarks/zoo, generated or taken from the cache) and every budget of 100%,
50% and 25% of its weight bytes, compiles with `tsc compile --vram BUDGET --report` and checks the
report against the baseline in benchmarks/peaks/MODEL_PCT.json with
`tsc plan-diff BASELINE CURRENT --max-increase 0`: a plan whose peak grew fails, and so does
one whose peak is more than 1.02x its lower bound. A budget the
baseline records as not fitting (tsc exit 4) must still not fit, or the run says to update.

  check_peaks.py --tsc PATH [--cache DIR] [--update]

--update rewrites the baselines from the current tsc (commit them with the change that moved
them, and say why). Last line: "peaks: N passed, M failed".
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "zoo"))
import gen_zoo  # noqa: E402
import run_zoo  # noqa: E402

BUDGETS = (100, 50, 25)
# Issue 4, item 9: every plan's peak within this factor of its lower bound (the most bytes it
# keeps live at one step), so packing loses at most 2%.
MAX_PACKING = 1.02
# Fields that describe the plan, not the run or the machine: what the baseline keeps.
KEEP = ("budget_bytes", "peak_bytes", "runtime_overhead_bytes", "total_bytes", "lower_bound_bytes",
        "peak_step", "peak_node", "resident_weight_bytes", "streamed_bytes", "steps")


def compile_report(tsc, model, work, name, budget=None):
    report = os.path.join(work, name + ".json")
    cmd = [tsc, "compile", model, "-o", os.path.join(work, name + ".tsplan"), "--report", report]
    if budget is not None:
        cmd += ["--vram", str(budget)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode == 4:
        return None, p.stderr.strip()
    if p.returncode != 0:
        raise RuntimeError("tsc exited %d: %s" % (p.returncode, p.stderr.strip()[-500:]))
    full = json.load(open(report))
    kept = {k: full[k] for k in KEEP if k in full}
    json.dump(kept, open(report, "w"), indent=1, sort_keys=True)
    return report, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsc", required=True)
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/tensorshunt/zoo"))
    ap.add_argument("--work", default="/tmp/tensorshunt-peaks")
    ap.add_argument("--update", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    names = list(gen_zoo.MODELS)
    root = run_zoo.ensure_models(a.cache, names)
    passed = failed = 0
    for n in names:
        model = os.path.join(root, n, "model.onnx")
        report, _ = compile_report(a.tsc, model, a.work, n + "_unbudgeted")
        weights = json.load(open(report))["resident_weight_bytes"]
        for pct in BUDGETS:
            budget = weights * pct // 100
            name = "%s_%d" % (n, pct)
            base = os.path.join(HERE, name + ".json")
            current, refusal = compile_report(a.tsc, model, a.work, name, budget)
            if a.update:
                doc = json.load(open(current)) if current else {"budget_bytes": budget, "does_not_fit": refusal}
                json.dump(doc, open(base, "w"), indent=1, sort_keys=True)
                open(base, "a").write("\n")
                print("updated %s" % name)
                passed += 1
                continue
            if not os.path.exists(base):
                print("FAIL %s: no baseline %s; create it with --update" % (name, base))
                failed += 1
                continue
            baseline = json.load(open(base))
            if "does_not_fit" in baseline:
                if current is None:
                    print("PASS %s: still does not fit (%d bytes)" % (name, budget))
                    passed += 1
                else:
                    peak = json.load(open(current))["peak_bytes"]
                    print("FAIL %s: now fits with peak %d; update the baseline with --update" % (name, peak))
                    failed += 1
                continue
            if current is None:
                print("FAIL %s: no longer fits %d bytes: %s" % (name, budget, refusal))
                failed += 1
                continue
            p = subprocess.run([a.tsc, "plan-diff", base, current, "--max-increase", "0"],
                               capture_output=True, text=True)
            doc = json.load(open(current))
            packing = doc["peak_bytes"] / doc["lower_bound_bytes"]
            if p.returncode == 0 and packing > MAX_PACKING:
                print("FAIL %s: peak %d bytes is %.4fx the lower bound %d (at most %.2fx)"
                      % (name, doc["peak_bytes"], packing, doc["lower_bound_bytes"], MAX_PACKING))
                failed += 1
            elif p.returncode == 0:
                print("PASS %s: peak %d bytes at budget %d, %.4fx the lower bound"
                      % (name, doc["peak_bytes"], budget, packing))
                passed += 1
            else:
                print("FAIL %s: %s" % (name, (p.stdout + p.stderr).strip().replace("\n", " | ")))
                failed += 1
    print("peaks: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
