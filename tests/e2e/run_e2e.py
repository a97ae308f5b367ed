#!/usr/bin/python3
"""End-to-end tests through the real command lines: tsc compile + tsr run.

Usage: run_e2e.py --tsc PATH --tsr PATH --work DIR
Generates the models (gen_models.py), runs every case (the ONNX backend node tests have their
own runner, run_node_tests.py), prints PASS/FAIL lines and ends with
"e2e: N passed, M failed". Exit status 1 if anything failed.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_models  # noqa: E402

RESULTS = []


def case(fn):
    RESULTS.append(fn)
    return fn


class Ctx:
    def __init__(self, tsc, tsr, work):
        self.tsc, self.tsr, self.work = tsc, tsr, work
        self.models = os.path.join(work, "models")

    def run(self, *args, expect=0, contains=()):
        p = subprocess.run(list(args), capture_output=True, text=True, timeout=300)
        out = p.stdout + p.stderr
        if p.returncode != expect:
            raise AssertionError("%s exited %d, expected %d:\n%s" % (" ".join(args[:3]), p.returncode, expect, out[-2000:]))
        for c in contains:
            if c not in out:
                raise AssertionError("output of %s lacks %r:\n%s" % (" ".join(args[:3]), c, out[-2000:]))
        if expect != 0:
            errs = [l for l in p.stderr.splitlines() if l.strip()]
            if len(errs) != 1:
                raise AssertionError("expected a one-line error, got %d lines:\n%s" % (len(errs), p.stderr))
        return p

    def compile(self, name, *extra, expect=0, contains=(), out=None):
        out = out or os.path.join(self.work, name + ".tsplan")
        self.run(self.tsc, "compile", os.path.join(self.models, name, "model.onnx"), "-o", out, *extra,
                 expect=expect, contains=contains)
        return out

    def io_args(self, name):
        d = os.path.join(self.models, name)
        args = []
        for f in sorted(os.listdir(d)):
            if f.startswith("in_"):
                args += ["--input", "%s=@%s" % (f[3:-4], os.path.join(d, f))]
            elif f.startswith("out_"):
                args += ["--expected-output", "%s=@%s" % (f[4:-4], os.path.join(d, f))]
        return args


POSITIVE = {
    "mlp": [], "elementwise_chain": [], "gemm_variants": [], "gemv": [], "matmul_batched": [],
    "softmax_opset11": [], "softmax_axis1_opset13": [], "transpose_reshape": [],
    "dynamic_batch": ["--shape", "x=3x8"], "external_data": [],
    "long_skip_spill": [], "long_skip_remat": [],
}


def make_positive(name, extra):
    def check(ctx):
        plan = ctx.compile(name, "--vram", "64M", *extra)
        p = ctx.run(ctx.tsr, "run", plan, *ctx.io_args(name), contains=("[SUCCESS]",))
        if "[FAILED]" in p.stdout:
            raise AssertionError(p.stdout)
    check.__name__ = "matches_numpy_" + name
    return case(check)


for _n, _e in POSITIVE.items():
    make_positive(_n, _e)


@case
def identical_bundles_from_two_compiles(ctx):
    a = ctx.compile("mlp", "--vram", "1M", out=os.path.join(ctx.work, "det_a.tsplan"))
    b = ctx.compile("mlp", "--vram", "1M", out=os.path.join(ctx.work, "det_b.tsplan"))
    if open(a, "rb").read() != open(b, "rb").read():
        raise AssertionError("two compiles of mlp differ")


def minimum_budget(ctx, name):
    p = subprocess.run([ctx.tsc, "compile", os.path.join(ctx.models, name, "model.onnx"), "-o",
                        os.path.join(ctx.work, "min.tsplan"), "--vram", "1"], capture_output=True, text=True)
    if p.returncode != 4:
        raise AssertionError("--vram 1 exited %d, expected 4:\n%s" % (p.returncode, p.stderr))
    key = "the minimum feasible budget is "
    return int(p.stderr[p.stderr.index(key) + len(key):].split()[0])


@case
def report_fields_and_budget_at_the_minimum(ctx):
    import json
    rep = os.path.join(ctx.work, "mlp_report.json")
    ctx.compile("mlp", "--report", rep)
    r = json.load(open(rep))
    for key in ("budget_bytes", "peak_bytes", "lower_bound_bytes", "peak_step", "peak_node", "resident_weight_bytes",
                "streamed_bytes", "total_bytes", "predicted_ms", "predicted_hidden_fraction"):
        if key not in r:
            raise AssertionError("report lacks " + key)
    minimum = minimum_budget(ctx, "mlp")
    if minimum >= r["total_bytes"]:
        raise AssertionError("the minimum %d is not below the unbudgeted total %d" % (minimum, r["total_bytes"]))
    ctx.compile("mlp", "--vram", str(minimum), "--report", rep)
    if json.load(open(rep))["total_bytes"] > minimum:
        raise AssertionError("plan at the minimum exceeds it")
    ctx.compile("mlp", "--vram", str(minimum - 1), expect=4, contains=("minimum feasible budget is %d" % minimum, "step"))


@case
def streamed_plans_give_bitwise_identical_outputs(ctx):
    import json
    for name in ("external_data", "mlp", "gemm_variants"):
        full = ctx.compile(name, out=os.path.join(ctx.work, name + "_full.tsplan"))
        ref_dir = os.path.join(ctx.work, name + "_full_out")
        shutil.rmtree(ref_dir, ignore_errors=True)
        inputs = []
        args = ctx.io_args(name)
        for i in range(0, len(args), 2):
            if args[i] == "--input":
                inputs += args[i:i + 2]
        ctx.run(ctx.tsr, "run", full, "-q", "--output-dir", ref_dir, *inputs)
        minimum = minimum_budget(ctx, name)
        rep = os.path.join(ctx.work, name + "_budget.json")
        streamed_any = False
        for budget in sorted({minimum, minimum + 4096, minimum + 65536}):
            plan = ctx.compile(name, "--vram", str(budget), "--report", rep, out=os.path.join(ctx.work, name + "_b.tsplan"))
            r = json.load(open(rep))
            if r["total_bytes"] > budget:
                raise AssertionError("%s: total %d over budget %d" % (name, r["total_bytes"], budget))
            streamed_any |= r["streamed_bytes"]["storage"] > 0
            out_dir = os.path.join(ctx.work, name + "_b_out")
            shutil.rmtree(out_dir, ignore_errors=True)
            p = ctx.run(ctx.tsr, "run", plan, "-q", "-v", "--output-dir", out_dir, *inputs)
            for f in sorted(os.listdir(ref_dir)):
                if open(os.path.join(ref_dir, f), "rb").read() != open(os.path.join(out_dir, f), "rb").read():
                    raise AssertionError("%s at --vram %d: %s differs from the unbudgeted plan's" % (name, budget, f))
            if r["streamed_bytes"]["storage"] > 0 and "streamed 0 bytes" in p.stderr:
                raise AssertionError("%s: plan streams but tsr read nothing:\n%s" % (name, p.stderr))
        if not streamed_any:
            raise AssertionError(name + ": no budget made the plan stream")


@case
def below_the_unspilled_minimum_activations_are_spilled_or_recomputed(ctx):
    import json
    for name, key in (("long_skip_spill", "spilled_activations"), ("long_skip_remat", "recomputed_activations")):
        full = ctx.compile(name, out=os.path.join(ctx.work, name + "_full.tsplan"))
        inputs = [a for pair in zip(ctx.io_args(name)[::2], ctx.io_args(name)[1::2]) if pair[0] == "--input" for a in pair]
        ref_dir = os.path.join(ctx.work, name + "_full_out")
        shutil.rmtree(ref_dir, ignore_errors=True)
        ctx.run(ctx.tsr, "run", full, "-q", "--output-dir", ref_dir, *inputs)
        minimum = minimum_budget(ctx, name)
        rep = os.path.join(ctx.work, name + "_min.json")
        plan = ctx.compile(name, "--vram", str(minimum), "--report", rep, out=os.path.join(ctx.work, name + "_min.tsplan"))
        r = json.load(open(rep))
        if r[key] < 1 or r["total_bytes"] > minimum:
            raise AssertionError("%s at its minimum %d: %s %d, total %d" % (name, minimum, key, r[key], r["total_bytes"]))
        out_dir = os.path.join(ctx.work, name + "_min_out")
        shutil.rmtree(out_dir, ignore_errors=True)
        ctx.run(ctx.tsr, "run", plan, "-q", "--output-dir", out_dir, *inputs)
        for f in sorted(os.listdir(ref_dir)):
            if open(os.path.join(ref_dir, f), "rb").read() != open(os.path.join(out_dir, f), "rb").read():
                raise AssertionError("%s at its minimum: %s differs from the unbudgeted plan's" % (name, f))
        # Without either, that budget is refused.
        ctx.compile(name, "--vram", str(minimum), "--no-spill", "--no-remat", expect=4,
                    contains=("minimum feasible",))


@case
def max_peak_gate_and_plan_diff(ctx):
    import json
    base, grown = os.path.join(ctx.work, "gate_base.json"), os.path.join(ctx.work, "gate_grown.json")
    ctx.compile("mlp", "--report", base)
    peak = json.load(open(base))["peak_bytes"]
    ctx.compile("mlp", "--max-peak", str(peak))
    ctx.compile("mlp", "--max-peak", str(peak - 1), expect=1, contains=("exceeds --max-peak",))
    ctx.run(ctx.tsc, "plan-diff", base, base, contains=("no change",))
    r = json.load(open(base))
    r["peak_bytes"] = int(peak * 1.05)
    json.dump(r, open(grown, "w"))
    ctx.run(ctx.tsc, "plan-diff", base, grown, "--max-increase", "10", contains=("peak_bytes",))
    ctx.run(ctx.tsc, "plan-diff", base, grown, "--max-increase", "1", expect=1, contains=("grew by",))
    ctx.run(ctx.tsc, "plan-diff", base, os.path.join(ctx.models, "mlp", "in_x.npy"), expect=3)
    ctx.run(ctx.tsc, "plan-diff", base, os.path.join(ctx.work, "missing.json"), expect=5)


@case
def bench_summary_and_json(ctx):
    import json
    plan = ctx.compile("external_data", "--vram", str(minimum_budget(ctx, "external_data")))
    out = os.path.join(ctx.work, "bench.json")
    ctx.run(ctx.tsr, "bench", plan, "--iterations", "5", "--json", out, contains=("latency", "p99", "predicted"))
    j = json.load(open(out))
    for k in ("min", "median", "mean", "p90", "p99"):
        if not j["latency_ms"][k] > 0:
            raise AssertionError("latency_ms.%s is %r" % (k, j["latency_ms"][k]))
    if j["streamed_bytes_per_run"] != 2 * 64 * 64 * 4:
        raise AssertionError("streamed %r bytes per run, expected both weights" % j["streamed_bytes_per_run"])
    ctx.run(ctx.tsr, "bench", plan, "--iterations", "0", expect=2)
    # --profile: time per step kind and per step, every compute step listed, slowest first.
    ctx.run(ctx.tsr, "bench", plan, "--iterations", "3", "--profile", "--json", out,
            contains=("profile", "slowest steps", "builtin"))
    prof = json.load(open(out))["profile"]
    steps = prof["steps_slowest_first"]
    times = [s["median_ms"] for s in steps]
    if not steps or times != sorted(times, reverse=True) or min(times) < 0:
        raise AssertionError("profile steps %r" % steps)
    if not prof["category_median_ms"].get("builtin", 0) > 0 or any(not s["category"] for s in steps):
        raise AssertionError("profile categories %r" % prof)


@case
def cuda_target_compiles_here_and_needs_a_gpu_to_run(ctx):
    # NVRTC needs no GPU: the plan is written here. Without a GPU tsr refuses it in one line
    # (exit 3); with one (a lent GPU machine) it must match the reference.
    if not os.path.exists("/usr/local/cuda/lib64/libnvrtc.so.13") and not os.environ.get("TSC_NVRTC"):
        ctx.compile("mlp", "--target", "cuda", expect=5, contains=("NVRTC not found",))
        return
    plan = ctx.compile("mlp", "--target", "cuda", out=os.path.join(ctx.work, "mlp_cuda.tsplan"))
    ctx.run(ctx.tsr, "inspect", plan, contains=("cuda: sm_90 cubin", "PTX fallback", "target             cuda"))
    p = subprocess.run([ctx.tsr, "run", plan, "-q"] + ctx.io_args("mlp"), capture_output=True, text=True, timeout=300)
    if p.returncode == 3:
        if "needs an NVIDIA GPU" not in p.stderr or len(p.stderr.strip().splitlines()) != 1:
            raise AssertionError("expected a one-line 'needs an NVIDIA GPU' error:\n" + p.stderr)
    elif p.returncode != 0 or "[SUCCESS]" not in p.stdout:
        raise AssertionError("tsr run on the GPU exited %d:\n%s%s" % (p.returncode, p.stdout, p.stderr))
    # Steps the CUDA backend lacks are refused at compile time, all named in one line.
    ctx.compile("matmul_batched", "--target", "cuda", expect=3, contains=("MatMul with broadcast batch dims",))
    ctx.compile("mlp", "--target", "tpu", expect=2, contains=("the targets are cpu and cuda",))
    ctx.compile("mlp", "--target", "cuda", "--profile", "cpu-host", expect=2, contains=("pass --target cpu",))


@case
def kernel_object_cache(ctx):
    import json
    import shutil
    cache = os.path.join(ctx.work, "kernel_cache")
    shutil.rmtree(cache, ignore_errors=True)
    plan = ctx.compile("mlp")
    run = (ctx.tsr, "run", plan, "-v", "-q", "--cache-dir", cache) + tuple(ctx.io_args("mlp"))
    ctx.run(*run, contains=("object cache: miss", "[SUCCESS]"))
    if len(os.listdir(cache)) != 1:
        raise AssertionError("expected one cached object, found %r" % os.listdir(cache))
    ctx.run(*run, contains=("object cache: hit", "[SUCCESS]"))
    ctx.run(*(run + ("--no-cache",)), contains=("object cache: off", "[SUCCESS]"))
    # A cache file with a flipped byte is ignored and rewritten.
    f = os.path.join(cache, os.listdir(cache)[0])
    data = bytearray(open(f, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(f, "wb").write(bytes(data))
    ctx.run(*run, contains=("object cache: miss", "[SUCCESS]"))
    ctx.run(*run, contains=("object cache: hit",))
    out = os.path.join(ctx.work, "bench_cache.json")
    ctx.run(ctx.tsr, "bench", plan, "--iterations", "2", "--cache-dir", cache, "--json", out,
            contains=("first", "cached"))
    load = json.load(open(out))["load_ms"]
    if load["first"]["cache"] != "miss" or load["cached"]["cache"] != "hit":
        raise AssertionError("bench load_ms: %r" % load)
    if not load["cached"]["jit"] < load["first"]["jit"]:
        raise AssertionError("the cached load did not compile less: %r" % load)


@case
def profile_probe_writes_a_usable_profile(ctx):
    out = os.path.join(ctx.work, "probed.yaml")
    # --cpu-only: on a machine with a GPU the probe would write a cuda profile, which
    # `tsc compile` cannot use yet.
    ctx.run(ctx.tsc, "profile", "probe", "-o", out, "--dir", ctx.work, "--quick", "--cpu-only",
            contains=("read bandwidth at queue depth 32", "wrote"))
    if [f for f in os.listdir(ctx.work) if f.startswith("tsc-probe-")]:
        raise AssertionError("the probe left its scratch file behind")
    ctx.compile("mlp", "--profile", out, "--vram", "1M", contains=("predicted",))
    ctx.run(ctx.tsc, "profile", "probe", "-o", out, "--dir", "/nonexistent-dir", "--quick", expect=5)
    ctx.run(ctx.tsc, "profile", "probe", "-o", out, "--io-size", "1.5M", "--quick", expect=2)


@case
def inspect_safetensors_checkpoint(ctx):
    import json
    import struct
    d = os.path.join(ctx.work, "ckpt")
    os.makedirs(d, exist_ok=True)
    a = np.arange(6, dtype=np.float32).tobytes()
    b = np.arange(4, dtype=np.int64).tobytes()
    header = {"model.embed": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, len(a)]},
              "model.ids": {"dtype": "I64", "shape": [4], "data_offsets": [len(a), len(a) + len(b)]},
              "__metadata__": {"format": "pt"}}
    h = json.dumps(header).encode()
    open(os.path.join(d, "model.safetensors"), "wb").write(struct.pack("<Q", len(h)) + h + a + b)
    ctx.run(ctx.tsc, "inspect", d, contains=("2 tensors in 1 file", "model.embed", "I64", "format: pt"))
    open(os.path.join(d, "model.safetensors"), "wb").write(struct.pack("<Q", len(h)) + h + a)
    ctx.run(ctx.tsc, "inspect", d, expect=3)
    ctx.run(ctx.tsc, "inspect", ctx.work, expect=3)  # a folder with no checkpoint


@case
def trace_has_compute_and_storage_tracks(ctx):
    import json
    plan = ctx.compile("external_data", "--vram", str(minimum_budget(ctx, "external_data")))
    out = os.path.join(ctx.work, "trace.json")
    ctx.run(ctx.tsr, "run", plan, "--seed", "1", "-q", "--trace", out)
    ev = json.load(open(out))["traceEvents"]
    reads = [e for e in ev if e["ph"] == "X" and e["tid"] == 2]
    kernels = [e for e in ev if e["ph"] == "X" and e["tid"] == 1 and e["cat"] in ("kernel", "builtin")]
    if len(reads) != 2 or len(kernels) != 3 or not any(e["ph"] == "C" for e in ev):
        raise AssertionError("trace lacks events: %d reads, %d kernels" % (len(reads), len(kernels)))
    # The second weight's read starts after the first kernel ends: it runs under the next step.
    first_end = min(k["ts"] + k["dur"] for k in kernels)
    if not max(r["ts"] for r in reads) >= first_end - 1:
        raise AssertionError("the second read started before the first kernel finished")


@case
def hardware_profiles(ctx):
    import json
    rep = os.path.join(ctx.work, "profile.json")
    plan = ctx.compile("mlp", "--profile", "cpu-host", "--report", rep)
    if json.load(open(rep))["budget_bytes"] != 16 << 30:
        raise AssertionError("cpu-host's 16 GiB is not the default budget")
    ctx.run(ctx.tsr, "inspect", plan, contains=("profile            cpu-host", "profile_hash"))
    ctx.compile("mlp", "--profile", "h100-pcie5", expect=2, contains=("describes a cuda machine but the target is cpu; pass --target cuda",))
    ctx.compile("mlp", "--profile", "no-such-gpu", expect=2, contains=("shipped profiles",))
    bad = os.path.join(ctx.work, "bad_profile.yaml")
    open(bad, "w").write("name: x\ntarget: cpu\ndevice_memory: 1GiB\ncompute: {fp32_tflops: 1}\n"
                         "device_memory_bandwith_gbps: 10\n")
    ctx.compile("mlp", "--profile", bad, expect=3, contains=("device_memory_bandwith_gbps",))


@case
def bad_sizes_are_usage_errors(ctx):
    for bad in ("3.5X", "-1G", "", "1.5.2G"):
        ctx.compile("mlp", "--vram", bad, expect=2)


@case
def unsupported_ops_all_listed_at_once(ctx):
    ctx.compile("unsupported_ops", expect=3, contains=("2 unsupported operators", "GlobalLpPool (2 nodes, first 'lp_a')", "LpNormalization (1 node"))


@case
def external_data_outside_model_folder_refused(ctx):
    ctx.compile("escaping_external_data", expect=3, contains=("'..' is not allowed",))


@case
def dynamic_dim_needs_shape(ctx):
    ctx.compile("dynamic_batch", expect=3, contains=("--shape x=",))
    ctx.compile("dynamic_batch", "--shape", "x=3x9", expect=2, contains=("model fixes it at 8",))
    ctx.compile("dynamic_batch", "--shape", "nope=3x8", expect=2, contains=("no graph input named 'nope'",))


@case
def truncated_bundles_exit_3(ctx):
    plan = ctx.compile("mlp")
    data = open(plan, "rb").read()
    bad = os.path.join(ctx.work, "trunc.tsplan")
    lengths = sorted(set([0, 1, 7, 8, 63, 64, 65] + [k * 4096 + d for k in range(len(data) // 4096 + 1) for d in (-1, 0, 1)]
                         + random.Random(1).sample(range(len(data)), 60)))
    for n in lengths:
        if n < 0 or n >= len(data):
            continue
        open(bad, "wb").write(data[:n])
        ctx.run(ctx.tsr, "run", bad, "--seed", "1", expect=3)


@case
def corrupted_bundles_exit_3(ctx):
    plan = ctx.compile("mlp")
    data = bytearray(open(plan, "rb").read())
    bad = os.path.join(ctx.work, "flip.tsplan")
    rng = random.Random(2)
    positions = sorted(set(list(range(0, 96)) + rng.sample(range(len(data)), 250)))
    for pos in positions:
        mutated = bytearray(data)
        mutated[pos] ^= 1 << rng.randrange(8)
        open(bad, "wb").write(mutated)
        ctx.run(ctx.tsr, "run", bad, "--seed", "1", expect=3)


@case
def text_mode_mangling_is_named(ctx):
    plan = ctx.compile("mlp")
    bad = os.path.join(ctx.work, "mangled.tsplan")
    open(bad, "wb").write(open(plan, "rb").read().replace(b"\r\n", b"\n"))
    ctx.run(ctx.tsr, "run", bad, expect=3, contains=("text-mode",))


@case
def input_errors_are_usage_errors(ctx):
    plan = ctx.compile("dynamic_batch", "--shape", "x=3x8")
    ctx.run(ctx.tsr, "run", plan, expect=2, contains=("input 'x'", "missing"))
    ctx.run(ctx.tsr, "run", plan, "--input", "x=2x8xf32=" + " ".join(["1"] * 16), expect=2, contains=("expected f32[3,8]",))
    ctx.run(ctx.tsr, "run", plan, "--input", "x=3x8xf32=1 2", expect=2)
    ctx.run(ctx.tsr, "run", plan, "--seed", "3", "--input", "zz=f32=1", expect=2, contains=("no such input",))
    ctx.run(ctx.tsr, "run", plan, "--input", "x=@/nonexistent.npy", expect=5)


@case
def inline_and_tensorproto_inputs(ctx):
    from onnx import numpy_helper
    d = os.path.join(ctx.models, "dynamic_batch")
    x = np.load(os.path.join(d, "in_x.npy"))
    plan = ctx.compile("dynamic_batch", "--shape", "x=3x8")
    pb = os.path.join(ctx.work, "x.pb")
    open(pb, "wb").write(numpy_helper.from_array(x, "x").SerializeToString())
    expected = "y=@" + os.path.join(d, "out_y.npy")
    ctx.run(ctx.tsr, "run", plan, "--input", "x=@" + pb, "--expected-output", expected, contains=("[SUCCESS]",))
    inline = "x=3x8xf32=" + " ".join(repr(float(v)) for v in x.ravel())
    ctx.run(ctx.tsr, "run", plan, "--input", inline, "--expected-output", expected, contains=("[SUCCESS]",))


@case
def mismatch_exits_1_with_worst_element(ctx):
    d = os.path.join(ctx.models, "mlp")
    plan = ctx.compile("mlp")
    ctx.run(ctx.tsr, "run", plan, "--input", "x=@" + os.path.join(d, "in_x.npy"),
            "--expected-output", "features=@" + os.path.join(d, "out_y.npy"), expect=1, contains=("[FAILED]",))


@case
def output_dir_writes_npy(ctx):
    d = os.path.join(ctx.models, "mlp")
    plan = ctx.compile("mlp")
    out = os.path.join(ctx.work, "outs")
    shutil.rmtree(out, ignore_errors=True)
    ctx.run(ctx.tsr, "run", plan, "--input", "x=@" + os.path.join(d, "in_x.npy"), "--output-dir", out)
    for name in ("y", "features"):
        got, want = np.load(os.path.join(out, name + ".npy")), np.load(os.path.join(d, "out_%s.npy" % name))
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-3, atol=1e-5):
            raise AssertionError(name + ".npy differs from the reference")


@case
def random_inputs_with_seed(ctx):
    plan = ctx.compile("mlp")
    a = ctx.run(ctx.tsr, "run", plan, "--seed", "5").stdout
    b = ctx.run(ctx.tsr, "run", plan, "--seed", "5").stdout
    if a != b:
        raise AssertionError("same seed, different outputs")


@case
def bad_files_exit_with_documented_codes(ctx):
    ctx.run(ctx.tsr, "run", os.path.join(ctx.work, "nonexistent.tsplan"), expect=5)
    ctx.run(ctx.tsr, "run", os.path.join(ctx.models, "mlp", "model.onnx"), expect=3, contains=("not a TensorShunt bundle",))
    ctx.run(ctx.tsc, "compile", os.path.join(ctx.models, "mlp", "in_x.npy"), "-o", os.path.join(ctx.work, "x.tsplan"),
            expect=3, contains=("not a valid ONNX model",))
    ctx.run(ctx.tsc, "compile", ctx.models, expect=3)
    ctx.run(ctx.tsc, "compile", expect=2)
    ctx.run(ctx.tsr, "frobnicate", expect=2)


@case
def help_and_inspect(ctx):
    ctx.run(ctx.tsc, "--help", contains=("Exit codes",))
    ctx.run(ctx.tsc, "compile", "--help", contains=("--vram", "Exit codes"))
    ctx.run(ctx.tsr, "run", "--help", contains=("--expected-output", "Exit codes"))
    plan = ctx.compile("mlp")
    ctx.run(ctx.tsr, "inspect", plan, "--buffers", contains=("section weights", "memory: arena", "kernel ts_k"))
    ctx.run(ctx.tsc, "inspect", os.path.join(ctx.models, "mlp", "model.onnx"), "--ir", contains=("tsir 1", "Gemm"))


@case
def inspect_timeline_svg(ctx):
    import json
    import xml.etree.ElementTree as ET
    rep = os.path.join(ctx.work, "timeline_report.json")
    plan = ctx.compile("external_data", "--vram", str(minimum_budget(ctx, "external_data")), "--report", rep,
                       out=os.path.join(ctx.work, "timeline <&>.tsplan"))
    svg = os.path.join(ctx.work, "timeline.svg")
    ctx.run(ctx.tsc, "inspect", plan, "--timeline", svg, contains=("tsc: wrote",))
    root = ET.parse(svg).getroot()
    if root.tag != "{http://www.w3.org/2000/svg}svg":
        raise AssertionError("the root element is %s" % root.tag)
    r = json.load(open(rep))
    text = " ".join(root.itertext())
    for want in ("(%d bytes) (the compile report's peak_bytes)" % r["peak_bytes"],
                 "(%d bytes) (the compile report's total_bytes)" % r["total_bytes"],
                 "Peak step %d," % r["peak_step"], "timeline <&>.tsplan", "Streamed weights: read from the bundle",
                 "Resident weights: none in this plan"):
        if want not in text:
            raise AssertionError("the SVG lacks %r" % want)
    ids = {e.get("id") for e in root.iter()}
    # At the minimum budget every weight streams: there is no resident band.
    for want in ("streamed-weights", "activations", "io-staging", "planned-peak", "peak-step", "legend"):
        if want not in ids:
            raise AssertionError("the SVG has no element %r" % want)
    # Without --timeline a bundle is still refused; --timeline needs a bundle; a bad bundle is exit 3.
    ctx.run(ctx.tsc, "inspect", plan, expect=2, contains=("is a bundle",))
    ctx.run(ctx.tsc, "inspect", os.path.join(ctx.models, "mlp", "model.onnx"), "--timeline", svg, expect=2,
            contains=("not a .tsplan bundle",))
    cut = os.path.join(ctx.work, "timeline_cut.tsplan")
    open(cut, "wb").write(open(plan, "rb").read()[:4096])
    ctx.run(ctx.tsc, "inspect", cut, "--timeline", svg, expect=3, contains=("truncated",))


@case
def plan_larger_than_host_memory_exits_4_before_allocating(ctx):
    plan = ctx.compile("huge_activation")
    ctx.run(ctx.tsr, "run", plan, "--seed", "1", expect=4, contains=("MemAvailable",))


@case
def output_names_cannot_leave_output_dir(ctx):
    d = os.path.join(ctx.models, "escaping_output_names")
    plan = ctx.compile("escaping_output_names")
    base = os.path.join(ctx.work, "jail")
    out = os.path.join(base, "a", "b")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(os.path.dirname(out))
    ctx.run(ctx.tsr, "run", plan, "--input", "x=@" + os.path.join(d, "in_x.npy"), "--output-dir", out)
    written = sorted(os.listdir(out))
    if written != ["______escaped.npy", "_abs.npy"]:
        raise AssertionError("unexpected files in --output-dir: %s" % written)
    outside = [os.path.join(dp, f) for dp, _, fs in os.walk(base) for f in fs if not dp.startswith(out)]
    if outside or os.path.exists("/abs.npy"):
        raise AssertionError("files written outside --output-dir: %s" % outside)


def run_with_faults(ctx, faults, expect=0, contains=()):
    d = os.path.join(ctx.models, "external_data")
    plan = ctx.compile("external_data")
    env = dict(os.environ, TSR_FAULTS=faults)
    p = subprocess.run([ctx.tsr, "run", plan, *ctx.io_args("external_data")], capture_output=True, text=True,
                       env=env, timeout=120)
    out = p.stdout + p.stderr
    if p.returncode != expect:
        raise AssertionError("TSR_FAULTS=%s: exit %d, expected %d:\n%s" % (faults, p.returncode, expect, out))
    for c in contains:
        if c not in out:
            raise AssertionError("TSR_FAULTS=%s: output lacks %r:\n%s" % (faults, c, out))
    return p


@case
def injected_io_faults(ctx):
    # Retryable faults: the weights still arrive intact and the outputs match.
    run_with_faults(ctx, "short_read_every=1,eagain_every=2,eintr_every=3", contains=("[SUCCESS]",))
    # io_uring refused (as under seccomp): pread with one warning line.
    p = run_with_faults(ctx, "uring_refused", contains=("[SUCCESS]", "io_uring unavailable"))
    if len([l for l in p.stderr.splitlines() if "warning" in l]) != 1:
        raise AssertionError("expected exactly one warning line:\n" + p.stderr)
    run_with_faults(ctx, "direct_refused", contains=("[SUCCESS]",))
    # A hard read error: exit 5 with the file and offset, on one line.
    p = run_with_faults(ctx, "eio_at=0", expect=5, contains=("Input/output error",))
    if len(p.stderr.strip().splitlines()) != 1:
        raise AssertionError("expected a one-line error:\n" + p.stderr)
    run_with_faults(ctx, "eio_at=0,uring_refused", expect=5)
    run_with_faults(ctx, "frobnicate=1", expect=2, contains=("unknown fault",))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsc", required=True)
    ap.add_argument("--tsr", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    ctx = Ctx(os.path.abspath(a.tsc), os.path.abspath(a.tsr), a.work)
    gen_models.gen(ctx.models)
    passed = failed = 0
    for fn in RESULTS:
        try:
            fn(ctx)
            print("PASS", fn.__name__)
            passed += 1
        except Exception as e:  # noqa: BLE001 - report every case
            print("FAIL", fn.__name__ + ":", str(e).strip() if isinstance(e, AssertionError) else traceback.format_exc())
            failed += 1
    print("e2e: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
