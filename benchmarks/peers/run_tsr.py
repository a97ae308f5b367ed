"""tsr on the issue-5 Llama, next to the peers: compile with `tsc --target cuda --vram` at
fractions of the weight bytes, check the logits against PyTorch eager, time with `tsr bench`.

On the GPU machine (torch + transformers there; tsc and tsr from a release archive or a build):

    python3 benchmarks/peers/run_tsr.py --tsc TSC --tsr TSR [--work /tmp/tsr5]
        [--seqs 512 4096] [--fractions 1 0.5 0.25 0.1] [--iterations 10] [--json OUT.json]

Steps: builds the model of llama_model.py (fp16, random weights, fixed seed) and saves it as a
checkpoint folder; times PyTorch eager on it (eager.py's method) and keeps its logits; frees
the GPU; then per sequence length and fraction: `tsc compile CHECKPOINT --shape input_ids=1xS
--target cuda --vram BYTES --report` (exit 4 below the plan's minimum is recorded with the
minimum tsc names), `tsr run` once for the logits (max |tsr - eager| over max |eager|, and
the share of positions whose arg-max token agrees), and `tsr bench --iterations N` for the
latency and the prediction. The bound (d) is max(eager compute-only time, streamed bytes /
pinned host-to-device bandwidth measured here with torch). Last lines: one table row per case.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bandwidth  # noqa: E402
import eager  # noqa: E402
import llama_model  # noqa: E402


def sh(cmd, timeout):
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr, time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tsc", required=True)
    ap.add_argument("--tsr", required=True)
    ap.add_argument("--work", default="/tmp/tsr5")
    ap.add_argument("--seqs", type=int, nargs="+", default=[512, 4096])
    ap.add_argument("--fractions", type=float, nargs="+", default=[0, 1.0, 0.5, 0.25, 0.1],
                    help="budgets as fractions of the weight bytes; 0: no --vram (every weight resident)")
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--json")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    ck = os.path.join(args.work, "checkpoint")
    out = {"device": torch.cuda.get_device_name(0), "cases": []}

    model = llama_model.build_model()
    weights = llama_model.weight_bytes(model)
    out["weight_bytes"] = weights
    t0 = time.time()
    llama_model.save_checkpoint(model, ck)
    print(f"checkpoint saved in {time.time() - t0:.1f} s", flush=True)
    out["eager"] = eager.measure(model, args.seqs)
    reference = {}
    for seq in args.seqs:
        ids = llama_model.make_inputs(seq)
        np.save(os.path.join(args.work, f"ids_{seq}.npy"), ids.cpu().numpy().astype(np.int64))
        with torch.inference_mode():
            reference[seq] = eager.forward_logits(model, ids).float().cpu().numpy()
    del model
    torch.cuda.empty_cache()
    bw = bandwidth.measure(gib=1, runs=5, verbose=False)
    pinned = bw.get("pinned_h2d_gbps")
    pinned = pinned if isinstance(pinned, float) else None
    out["bandwidth"] = bw
    print(f"pinned H2D {pinned} GB/s", flush=True)

    for seq in args.seqs:
        ids = os.path.join(args.work, f"ids_{seq}.npy")
        e = out["eager"].get(str(seq))
        compute_ms = e["compute_ms"] if isinstance(e, dict) else None
        eager_ms = e["median_ms"] if isinstance(e, dict) else None
        for f in args.fractions:
            case = {"seq": seq, "fraction": f, "budget_bytes": int(weights * f) if f else None}
            out["cases"].append(case)
            plan = os.path.join(args.work, f"p_{seq}_{f}.tsplan")
            report = os.path.join(args.work, f"r_{seq}_{f}.json")
            budget = ["--vram", str(case["budget_bytes"])] if f else []
            rc, so, se, dt = sh([args.tsc, "compile", ck, "--shape", f"input_ids=1x{seq}", "--target", "cuda",
                                 *budget, "--report", report, "-o", plan], 600)
            case["compile_s"] = round(dt, 1)
            if rc != 0:
                case["tsc"] = f"exit {rc}: " + se.strip().splitlines()[-1] if se.strip() else f"exit {rc}"
                print(f"1x{seq} at {f:g}: {case['tsc']}", flush=True)
                continue
            rep = json.load(open(report))
            case.update({k: rep.get(k) for k in ("peak_bytes", "lower_bound_bytes", "predicted_ms",
                                                  "resident_weight_bytes")})
            odir = os.path.join(args.work, f"o_{seq}_{f}")
            rc, so, se, dt = sh([args.tsr, "run", plan, "--input", f"input_ids=@{ids}", "--output-dir", odir, "-q"], 600)
            if rc != 0:
                case["tsr_run"] = f"exit {rc}: {se.strip()[-300:]}"
                print(f"1x{seq} at {f:g}: tsr run {case['tsr_run']}", flush=True)
                continue
            got = np.load(os.path.join(odir, "logits.npy"))
            ref = reference[seq]
            case["max_abs_err"] = float(np.abs(got - ref).max())
            case["rel_err"] = case["max_abs_err"] / float(np.abs(ref).max())
            case["argmax_agree"] = float((got.argmax(-1) == ref.argmax(-1)).mean())
            bj = os.path.join(args.work, f"b_{seq}_{f}.json")
            rc, so, se, dt = sh([args.tsr, "bench", plan, "--input", f"input_ids=@{ids}", "--iterations",
                                 str(args.iterations), "--json", bj], 600)
            if rc != 0:
                case["tsr_bench"] = f"exit {rc}: {se.strip()[-300:]}"
                continue
            b = json.load(open(bj))
            case["tsr_median_ms"] = b["latency_ms"]["median"]
            case["tsr_min_ms"] = b["latency_ms"]["min"]
            case["streamed_per_run"] = b.get("streamed_bytes_per_run")
            case["load_ms"] = b.get("load_ms")
            streamed = case["streamed_per_run"] or 0
            if compute_ms is not None and pinned:
                # (d) of issue 5: the weight bytes that cannot stay resident under the budget; and
                # the same bound over the bytes this plan streams (its budget also holds activations).
                over = max(0, weights - case["budget_bytes"]) if f else 0
                case["bound_ms"] = max(compute_ms, over / (pinned * 1e9) * 1e3)
                case["plan_bound_ms"] = max(compute_ms, streamed / (pinned * 1e9) * 1e3)
            case["eager_ms"] = eager_ms
            print(f"1x{seq} at {f:g}: tsr {case['tsr_median_ms']:.2f} ms (predicted {case['predicted_ms']}), "
                  f"streamed {streamed / 1e9:.3f} GB, peak {case['peak_bytes']}, rel err {case['rel_err']:.2e}, "
                  f"argmax agree {case['argmax_agree']:.4f}", flush=True)
    if args.json:
        json.dump(out, open(args.json, "w"), indent=1)
    print("seq | fraction | eager ms | tsr ms | predicted ms | bound (d) ms | tsr/(d) | plan bound ms | tsr/plan bound | "
          "tsr/eager | streamed GB | rel err")
    for c in out["cases"]:
        if "tsr_median_ms" not in c:
            print(f"{c['seq']} | {c['fraction']:g} | - | {c.get('tsc') or c.get('tsr_run') or c.get('tsr_bench')}")
            continue
        bound, pb = c.get("bound_ms"), c.get("plan_bound_ms")
        print(f"{c['seq']} | {c['fraction']:g} | {c['eager_ms']:.2f} | {c['tsr_median_ms']:.2f} | "
              f"{c['predicted_ms']:.2f} | {bound:.2f} | {c['tsr_median_ms'] / bound:.2f} | "
              f"{pb:.2f} | {c['tsr_median_ms'] / pb:.2f} | "
              f"{c['tsr_median_ms'] / c['eager_ms']:.2f} | {(c['streamed_per_run'] or 0) / 1e9:.3f} | {c['rel_err']:.1e}")


if __name__ == "__main__":
    main()
