"""Hugging Face Accelerate's big-model inference under a GPU memory budget.

For each budget, given as a fraction of the weight bytes (1.0, 0.5, 0.25, 0.10), the checkpoint
folder is loaded with

    AutoModelForCausalLM.from_pretrained(dir, device_map="auto",
                                         max_memory={0: budget, "cpu": "100GiB"}, dtype=float16)

so Accelerate places what fits on the GPU and offloads the rest to CPU memory, moving those
weights to the GPU at every forward. One forward (use_cache=False, torch.inference_mode()) of
1 x 512 and 1 x 4096 tokens is timed with CUDA events: 2 warm-ups, then the median of 5 runs
(fewer when one forward takes more than 5 s). A budget that fails, at load or at run time, is
recorded as "failed: reason" and the next one goes on; so is a placement with no module on the
GPU (the model would then run on the CPU, which is not the comparison wanted).

Usage (the checkpoint is written first unless DIR holds this model's; see
llama_model.py):

    python3 benchmarks/peers/accelerate_offload.py [--work /tmp/peers]
        [--fractions 1.0 0.5 0.25 0.10] [--seqs 512 4096]
"""
import argparse
import collections
import sys
import time

import torch

import llama_model
from timing import free_cuda, one_line, time_cuda

SLOW_FORWARD_S = 5.0


def _load(directory, budget_bytes, attn_implementation):
    from transformers import AutoModelForCausalLM
    kwargs = dict(device_map="auto", max_memory={0: budget_bytes, "cpu": "100GiB"})
    if attn_implementation in ("sdpa", "eager"):
        kwargs["attn_implementation"] = attn_implementation
    try:
        return AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float16, **kwargs)
    except TypeError:
        # A transformers version that still calls the argument torch_dtype.
        return AutoModelForCausalLM.from_pretrained(directory, torch_dtype=torch.float16,
                                                    **kwargs)


def _placement(model):
    """({device: module count}, parameter bytes on the GPU, whether it runs on the GPU).

    transformers sets hf_device_map only when it dispatched the model over several devices;
    without it the whole model sits on the device of its parameters."""
    device_map = getattr(model, "hf_device_map", None) or {}
    gpu_bytes = sum(p.numel() * p.element_size() for p in model.parameters()
                    if p.device.type == "cuda")
    if device_map:
        counts = dict(collections.Counter(str(v) for v in device_map.values()))
        runs_on_gpu = any(d not in ("cpu", "disk", "meta") for d in counts)
    else:
        device = str(next(model.parameters()).device)
        counts = {device: "whole model"}
        runs_on_gpu = gpu_bytes > 0
    return counts, gpu_bytes, runs_on_gpu


def _time_model(model, seq, warmup, iters):
    """Figures for one sequence length; fewer runs when one forward is slow."""
    input_ids = llama_model.make_inputs(seq, device="cuda:0")
    with torch.inference_mode():
        def run():
            return model(input_ids=input_ids, use_cache=False).logits
        t0 = time.perf_counter()
        run()
        torch.cuda.synchronize()
        first_s = time.perf_counter() - t0
        if first_s > SLOW_FORWARD_S:
            warmup, iters = 1, min(iters, 2)
        figures = time_cuda(run, max(warmup - 1, 0), iters)  # the first call was a warm-up
    figures["first_forward_s"] = first_s
    return figures


def _load_and_place(directory, budget, attn_implementation, entry, key, verbose):
    t0 = time.perf_counter()
    model = _load(directory, budget, attn_implementation)
    model.eval()
    entry["load_s"] = time.perf_counter() - t0
    counts, gpu_bytes, runs_on_gpu = _placement(model)
    entry["device_map_counts"] = counts
    entry["gpu_param_bytes"] = gpu_bytes
    entry["gpu_allocated_bytes"] = torch.cuda.memory_allocated()
    entry["attn_implementation"] = llama_model.attn_implementation(model)
    if verbose:
        print(f"accelerate budget {key} ({budget / 1e9:.3f} GB): loaded in "
              f"{entry['load_s']:.1f} s; modules per device {counts}; "
              f"GPU parameter bytes {gpu_bytes / 1e9:.3f} GB", flush=True)
    if not runs_on_gpu:
        raise RuntimeError("Accelerate placed no module on the GPU (it would run on the CPU)")
    return model


def measure_budget(directory, fraction, weights, seqs, warmup=2, iters=5,
                   attn_implementation="sdpa", verbose=True):
    budget = int(fraction * weights)
    key = f"{fraction:g}"
    entry = {"fraction": fraction, "budget_bytes": budget}
    try:
        model = _load_and_place(directory, budget, attn_implementation, entry, key, verbose)
    except Exception as exc:
        entry["status"] = "failed: " + one_line(exc)
        print(f"accelerate budget {key}: {entry['status']}", flush=True)
        free_cuda()
        return entry
    entry["status"] = "ok"
    for seq in seqs:
        try:
            figures = _time_model(model, seq, warmup, iters)
            entry[str(seq)] = figures
            if verbose:
                print(f"accelerate budget {key} 1x{seq}: median {figures['median_ms']:.2f} ms "
                      f"(min {figures['min_ms']:.2f}, max {figures['max_ms']:.2f}, "
                      f"{figures['runs']} runs)", flush=True)
        except Exception as exc:
            entry[str(seq)] = "failed: " + one_line(exc)
            print(f"accelerate budget {key} 1x{seq}: {entry[str(seq)]}", flush=True)
        torch.cuda.empty_cache()
    del model
    free_cuda()
    return entry


def measure(directory, weights, fractions, seqs, warmup=2, iters=5,
            attn_implementation="sdpa", verbose=True):
    """Returns {"<fraction>": entry}; each entry has "status": "ok" or "failed: reason"."""
    results = {}
    for f in fractions:
        try:
            results[f"{f:g}"] = measure_budget(directory, f, weights, seqs, warmup, iters,
                                               attn_implementation, verbose)
        except Exception as exc:  # anything measure_budget itself did not expect
            results[f"{f:g}"] = {"fraction": f, "status": "failed: " + one_line(exc)}
            free_cuda()
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/peers", help="checkpoint folder")
    ap.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.5, 0.25, 0.10])
    ap.add_argument("--seqs", type=int, nargs="+", default=[512, 4096])
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    args = ap.parse_args()
    print(f"device: {torch.cuda.get_device_name(0)}", flush=True)
    model = llama_model.build_model()
    weights = llama_model.weight_bytes(model)
    impl = llama_model.attn_implementation(model)
    kept = llama_model.ensure_checkpoint(model, args.work)
    print(f"checkpoint {'kept' if kept else 'written'}: {args.work}", flush=True)
    del model
    free_cuda()
    measure(args.work, weights, args.fractions, args.seqs, args.warmup, args.iters, impl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
