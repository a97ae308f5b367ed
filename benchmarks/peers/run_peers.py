"""All peer measurements of issue 5 in one process, in order, with the bound each is judged by.

Order: copy bandwidths (bandwidth.py); the model built on the GPU (llama_model.py); PyTorch
eager, all resident (eager.py); the double-buffered layer streamer at budgets 1.0, 0.5, 0.25 and
0.10 of the weight bytes (layer_streamer.py); the checkpoint written to --work and Accelerate's
device_map="auto" offload at the same budgets (accelerate_offload.py). Each at 1 x 512 and
1 x 4096 tokens.

For each budget f and sequence length the bound is

    bound = max(eager compute-only time, (1 - f) x weight bytes / pinned host-to-device GB/s)

the time no runner can beat: the compute, or moving the bytes that cannot stay resident once per
forward, whichever is longer.

Every measurement is wrapped so that a failure is recorded ("failed: reason") and the rest goes
on; the JSON is rewritten after every stage, so a run cut short keeps what it measured. The
Markdown table comes at the end of the output. Iteration counts are sized for the whole run to
finish within about 8 minutes on an H100.

Usage:

    python3 benchmarks/peers/run_peers.py --json $OUT/peers.json
        [--work /tmp/peers] [--quick] [--skip-accelerate]

--quick: sequence 512 only, budgets 1.0 and 0.25, fewer runs (a smoke test).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import torch

import accelerate_offload
import bandwidth
import eager
import layer_streamer
import llama_model
from timing import free_cuda, one_line

T0 = time.perf_counter()


def log(msg):
    print(f"[{time.perf_counter() - T0:6.1f} s] {msg}", flush=True)


def machine():
    info = {"python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "platform": platform.platform()}
    try:
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_memory_bytes"] = torch.cuda.get_device_properties(0).total_memory
    except Exception as exc:
        info["gpu"] = "failed: " + one_line(exc)
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=20)
        info["driver"] = smi.stdout.strip() or "failed: " + smi.stderr.strip()[:200]
    except Exception as exc:
        info["driver"] = "failed: " + one_line(exc)
    for name in ("transformers", "accelerate", "safetensors"):
        try:
            info[name] = __import__(name).__version__
        except Exception as exc:
            info[name] = "failed: " + one_line(exc)
    return info


def write_json(path, results):
    if not path:
        return
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=2, default=str)
    os.replace(tmp, path)


def _ms(entry, seq, field="median_ms"):
    """A timing from a result entry, or None when missing or failed."""
    if not isinstance(entry, dict):
        return None
    figures = entry.get(str(seq))
    if isinstance(figures, dict) and isinstance(figures.get(field), (int, float)):
        return float(figures[field])
    return None


def bounds(results, fractions, seqs):
    """Rows of the comparison, one per (budget, seq)."""
    weights = results.get("model", {}).get("weight_bytes")
    gbps = results.get("bandwidth", {}).get("pinned_h2d_gbps")
    eager_res = results.get("eager", {})
    rows = []
    for f in fractions:
        key = f"{f:g}"
        streamer = results.get("streamer", {}).get(key)
        accel = results.get("accelerate", {}).get(key)
        for seq in seqs:
            compute = eager_res.get(str(seq), {})
            compute = compute.get("compute_ms") if isinstance(compute, dict) else None
            row = {"fraction": f, "seq": seq,
                   "eager_ms": _ms(eager_res, seq),
                   "compute_ms": compute,
                   "streamer_ms": _ms(streamer, seq),
                   "accelerate_ms": _ms(accel, seq),
                   "nonresident_bytes": None, "transfer_ms": None, "bound_ms": None}
            if isinstance(streamer, dict):
                row["streamed_layers"] = streamer.get("streamed_layers")
                row["streamer_within_budget"] = streamer.get("within_budget")
            if isinstance(weights, int):
                row["nonresident_bytes"] = max(0, weights - int(f * weights))
                if row["nonresident_bytes"] == 0:
                    row["transfer_ms"] = 0.0
                elif isinstance(gbps, (int, float)) and gbps > 0:
                    row["transfer_ms"] = row["nonresident_bytes"] / (gbps * 1e9) * 1000.0
            if isinstance(compute, (int, float)) and row["transfer_ms"] is not None:
                row["bound_ms"] = max(compute, row["transfer_ms"])
            for name in ("streamer", "accelerate"):
                t = row[f"{name}_ms"]
                row[f"{name}_over_bound"] = (t / row["bound_ms"]
                                             if t is not None and row["bound_ms"] else None)
            rows.append(row)
    return rows


def _cell(value, fmt="{:.1f}", missing="-"):
    return fmt.format(value) if isinstance(value, (int, float)) else missing


def failures(results):
    """(where, reason) for every "failed: ..." string anywhere in the results."""
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{where}.{k}" if where else str(k))
        elif isinstance(node, str) and node.startswith("failed"):
            found.append((where, node))
    walk(results, "")
    return found


def table(rows):
    lines = [
        "| budget | seq | eager ms | streamer ms | accelerate ms | bound ms "
        "| streamer / bound | accelerate / bound | layers streamed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        streamed = r.get("streamed_layers")
        streamed = "-" if streamed is None else str(streamed)
        if r.get("streamer_within_budget") is False:
            streamed += " (over budget)"
        lines.append(
            f"| {r['fraction']:g} | {r['seq']} | {_cell(r['eager_ms'])} "
            f"| {_cell(r['streamer_ms'])} | {_cell(r['accelerate_ms'])} "
            f"| {_cell(r['bound_ms'])} | {_cell(r['streamer_over_bound'], '{:.2f}')} "
            f"| {_cell(r['accelerate_over_bound'], '{:.2f}')} | {streamed} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write all results here as JSON")
    ap.add_argument("--work", default="/tmp/peers", help="checkpoint folder for Accelerate")
    ap.add_argument("--quick", action="store_true",
                    help="seq 512 only, budgets 1.0 and 0.25, fewer runs")
    ap.add_argument("--skip-accelerate", action="store_true")
    args = ap.parse_args()

    if args.quick:
        fractions, seqs = [1.0, 0.25], [512]
        runs = dict(bw=3, warmup=1, iters=3, queued=5, acc_warmup=1, acc_iters=2)
    else:
        fractions, seqs = [1.0, 0.5, 0.25, 0.10], [512, 4096]
        runs = dict(bw=5, warmup=3, iters=10, queued=10, acc_warmup=2, acc_iters=5)

    results = {"machine": machine(), "options": {"quick": args.quick, "fractions": fractions,
                                                 "seqs": seqs, "runs": runs,
                                                 "skip_accelerate": args.skip_accelerate,
                                                 "work": args.work}}
    log(f"machine: {json.dumps(results['machine'])}")
    write_json(args.json, results)

    log("bandwidth")
    try:
        results["bandwidth"] = bandwidth.measure(1, runs["bw"])
    except Exception as exc:
        results["bandwidth"] = {"status": "failed: " + one_line(exc)}
        log(f"bandwidth: {results['bandwidth']['status']}")
    free_cuda()
    write_json(args.json, results)

    log("building the model")
    model = None
    try:
        model = llama_model.build_model()
        results["model"] = {
            "config": llama_model.CONFIG,
            "weight_bytes": llama_model.weight_bytes(model),
            "layer_bytes": llama_model.layer_bytes(model),
            "fixed_bytes": llama_model.fixed_bytes(model),
            "layers": len(model.model.layers),
            "attn_implementation": llama_model.attn_implementation(model),
            "dtype": str(next(model.parameters()).dtype),
        }
    except Exception as exc:
        results["model"] = {"status": "failed: " + one_line(exc)}
        log(f"model: {results['model']['status']}")
        model = None
        free_cuda()
    write_json(args.json, results)

    if model is not None:
        log("eager, all weights resident")
        try:
            results["eager"] = eager.measure(model, seqs, runs["warmup"], runs["iters"],
                                             runs["queued"])
        except Exception as exc:
            results["eager"] = {"status": "failed: " + one_line(exc)}
            log(f"eager: {results['eager']['status']}")
        write_json(args.json, results)

        log("layer streamer")
        try:
            results["streamer"] = layer_streamer.measure(model, fractions, seqs,
                                                         runs["warmup"], runs["iters"])
        except Exception as exc:
            results["streamer"] = {"status": "failed: " + one_line(exc)}
            log(f"streamer: {results['streamer']['status']}")
        free_cuda()
        write_json(args.json, results)

    if args.skip_accelerate:
        log("accelerate skipped (--skip-accelerate)")
        del model
    elif model is None:
        results["accelerate"] = {"status": "failed: no model to save"}
    else:
        log(f"checkpoint for Accelerate in {args.work}")
        saved = False
        try:
            kept = llama_model.ensure_checkpoint(model, args.work)
            log(f"checkpoint {'kept (same model)' if kept else 'written'}")
            saved = True
        except Exception as exc:
            results["accelerate"] = {"status": "failed: checkpoint: " + one_line(exc)}
            log(f"accelerate: {results['accelerate']['status']}")
        weights = results["model"]["weight_bytes"]
        impl = results["model"]["attn_implementation"]
        del model
        free_cuda()
        if saved:
            log("accelerate device_map='auto' offload")
            results["accelerate"] = accelerate_offload.measure(
                args.work, weights, fractions, seqs, runs["acc_warmup"], runs["acc_iters"], impl)
        free_cuda()
    write_json(args.json, results)

    rows = bounds(results, fractions, seqs)
    results["table"] = rows
    results["total_s"] = time.perf_counter() - T0
    write_json(args.json, results)

    log("done")
    bw = results.get("bandwidth", {})
    print("")
    print("bandwidth GB/s: pinned H2D {}, pageable H2D {}, D2D {}".format(
        _cell(bw.get("pinned_h2d_gbps"), "{:.2f}"), _cell(bw.get("pageable_h2d_gbps"), "{:.2f}"),
        _cell(bw.get("d2d_gbps"), "{:.2f}")))
    m = results.get("model", {})
    print(f"model: {m.get('weight_bytes')} weight bytes, {m.get('layers')} layers of "
          f"{m.get('layer_bytes')} bytes, fixed part {m.get('fixed_bytes')} bytes, "
          f"attention {m.get('attn_implementation')}")
    for where, reason in failures(results):
        print(f"failure: {where}: {reason}")
    if args.json:
        print(f"JSON: {args.json}")
    print("bound = max(eager compute-only, (1 - budget) x weights / pinned H2D bandwidth); "
          "'-' = not measured or failed.")
    print("")
    print(table(rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
