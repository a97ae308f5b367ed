#!/usr/bin/python3
"""Conformance: the ONNX backend node tests through the real command lines.

Usage: run_node_tests.py --tsc PATH --tsr PATH --work DIR [--filter REGEX] [--jobs N]

Generates the node tests from Debian's python3-onnx (offline), selects those whose ops all lie
in the core set (core_ops.txt), and runs each: `tsc compile` (binding with --bind the graph
inputs tsc says must be known at compile time, as it names them), then `tsr run` with the
test's inputs and expected outputs (rtol 1e-3, atol 1e-5; integers exact). Prints one FAIL line
per unexpected result, the split by stage (import, compile, run, numerics), the pass rate, and
"node tests: N passed, M failed". A test listed in node_expected_failures.txt that passes is
a failure, so the list stays true. Exit status 1 if anything failed.
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def generate_node_tests(dest):
    for alias, t in (("float", float), ("int", int), ("bool", bool), ("object", object)):
        if alias not in np.__dict__:
            setattr(np, alias, t)
    import warnings
    warnings.simplefilter("ignore")
    from onnx.backend.test.cmd_tools import generate_data
    if not os.path.isdir(os.path.join(dest, "node")):
        generate_data(argparse.Namespace(output=dest, op_type=None))
    return os.path.join(dest, "node")


def core_ops():
    ops = set()
    for line in open(os.path.join(HERE, "core_ops.txt")):
        if not line.startswith("#"):
            ops.update(line.split())
    return ops


def expected_failures():
    xf = {}
    for line in open(os.path.join(HERE, "node_expected_failures.txt")):
        body = line.split("#", 1)[0].strip()
        if body:
            xf[body.split()[0]] = line.strip()
    return xf


BIND_RE = re.compile(r"depends on graph input (.+?): fix that input's value with --bind")


def run_one(tsc, tsr, root, work, name, model):
    """Returns (stage, detail, bound): stage is 'pass', 'import', 'compile', 'run' or 'numerics'."""
    d = os.path.join(root, name)
    data = os.path.join(d, "test_data_set_0")
    plan = os.path.join(work, name + ".tsplan")
    inits = {i.name for i in model.graph.initializer}
    ins = [i.name for i in model.graph.input if i.name not in inits]
    bound = []
    while True:
        args = [tsc, "compile", os.path.join(d, "model.onnx"), "-o", plan]
        for b in bound:
            args += ["--bind", "%s=@%s/input_%d.pb" % (b, data, ins.index(b))]
        c = subprocess.run(args, capture_output=True, text=True, timeout=300)
        if c.returncode == 0:
            break
        err = c.stderr.strip()
        m = BIND_RE.search(err)
        names = [n.strip() for n in m.group(1).split(",")] if m else []
        new = [n for n in names if n in ins and n not in bound]
        if not new:
            # The importer's messages start with the model path; the passes' with a node.
            msg = err[len("tsc: error: "):] if err.startswith("tsc: error: ") else err
            stage = "import" if msg.startswith(os.path.join(d, "model.onnx")) else "compile"
            return stage, err, bound
        bound += new
    args = [tsr, "run", plan, "-q", "--rtol", "1e-3", "--atol", "1e-5"]
    for k, n in enumerate(ins):
        if n not in bound:
            args += ["--input", "%s=@%s/input_%d.pb" % (n, data, k)]
    for k, o in enumerate(model.graph.output):
        args += ["--expected-output", "%s=@%s/output_%d.pb" % (o.name, data, k)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if r.returncode == 0:
        return "pass", "", bound
    detail = r.stderr.strip() or (r.stdout.strip().splitlines() or [""])[-1]
    return ("numerics" if r.returncode == 1 else "run"), detail, bound


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsc", required=True)
    ap.add_argument("--tsr", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--filter", default="")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--verbose", action="store_true", help="print every result")
    a = ap.parse_args()
    import onnx
    os.makedirs(a.work, exist_ok=True)
    root = generate_node_tests(os.path.join(a.work, "onnx_tests"))
    plans = os.path.join(a.work, "plans")
    os.makedirs(plans, exist_ok=True)
    core = core_ops()
    selected = []
    for name in sorted(os.listdir(root)):
        if a.filter and not re.search(a.filter, name):
            continue
        m = onnx.load(os.path.join(root, name, "model.onnx"))
        if m.graph.node and all(n.op_type in core and n.domain in ("", "ai.onnx") for n in m.graph.node):
            selected.append((name, m))
    xf = expected_failures()
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futs = {pool.submit(run_one, os.path.abspath(a.tsc), os.path.abspath(a.tsr), root, plans, n, m): n
                for n, m in selected}
        for f in concurrent.futures.as_completed(futs):
            name = futs[f]
            try:
                results[name] = f.result()
            except Exception as e:  # noqa: BLE001 - a timeout or crash of the harness is a failure
                results[name] = ("run", "harness: %s" % e, [])
    stages = {"import": 0, "compile": 0, "run": 0, "numerics": 0}
    passed = failed = xfailed = 0
    bound_tests = 0
    for name, _ in selected:
        stage, detail, bound = results[name]
        bound_tests += bool(bound)
        if stage != "pass":
            stages[stage] += 1
        if a.verbose:
            print("%-8s %s %s" % (stage.upper(), name, detail[:300]))
        if name in xf:
            if stage == "pass":
                print("FAIL %s passed but is listed in node_expected_failures.txt: remove it" % name)
                failed += 1
            else:
                xfailed += 1
        elif stage == "pass":
            passed += 1
        else:
            print("FAIL %s [%s] %s" % (name, stage, detail[:400]))
            failed += 1
    total = len(selected)
    ok = total - sum(stages.values())
    print("ONNX node tests with all ops in the core set: %d/%d pass (%.1f%%); not passing: "
          "import %d, compile %d, run %d, numerics %d; %d listed as expected failures; "
          "%d compiled with --bind" % (ok, total, 100.0 * ok / max(total, 1), stages["import"],
                                       stages["compile"], stages["run"], stages["numerics"],
                                       xfailed, bound_tests))
    for name in xf:
        if name not in results and not a.filter:
            print("FAIL %s is listed in node_expected_failures.txt but is not a selected test" % name)
            failed += 1
    print("node tests: %d passed, %d failed" % (passed + xfailed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
