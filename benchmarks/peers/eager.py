"""PyTorch eager with the whole model resident on the GPU: the no-offload reference.

One forward pass (use_cache=False, torch.inference_mode()) of batch 1 x 512 and 1 x 4096
tokens, timed with CUDA events: 3 warm-ups, then the median of 10 runs. Also printed is the
compute-only time: the per-forward time of 10 forwards queued back to back, where host launch
latency hides behind GPU work; no weight moves, so this is the compute term of the bound
max(compute, streamed bytes / link bandwidth) that run_peers.py reports.

Usage:

    python3 benchmarks/peers/eager.py [--seqs 512 4096] [--warmup 3] [--iters 10]
"""
import argparse
import sys

import torch

import llama_model
from timing import one_line, time_cuda, time_cuda_queued


def forward_logits(model, input_ids):
    return model(input_ids=input_ids, use_cache=False).logits


def measure(model, seqs, warmup=3, iters=10, queued=10, verbose=True):
    """Returns {str(seq): figures or "failed: reason"}."""
    results = {}
    for seq in seqs:
        try:
            input_ids = llama_model.make_inputs(seq)
            with torch.inference_mode():
                def run():
                    return forward_logits(model, input_ids)
                figures = time_cuda(run, warmup, iters)
                figures["compute_ms"] = time_cuda_queued(run, queued)
            figures["compute_queued"] = queued
            results[str(seq)] = figures
            if verbose:
                print(f"eager 1x{seq}: median {figures['median_ms']:.2f} ms "
                      f"(min {figures['min_ms']:.2f}, max {figures['max_ms']:.2f}, "
                      f"wall {figures['wall_median_ms']:.2f}); "
                      f"compute-only {figures['compute_ms']:.2f} ms", flush=True)
        except Exception as exc:
            results[str(seq)] = "failed: " + one_line(exc)
            if verbose:
                print(f"eager 1x{seq}: {results[str(seq)]}", flush=True)
        torch.cuda.empty_cache()
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seqs", type=int, nargs="+", default=[512, 4096])
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args()
    print(f"device: {torch.cuda.get_device_name(0)}", flush=True)
    model = llama_model.build_model()
    measure(model, args.seqs, args.warmup, args.iters)
    return 0


if __name__ == "__main__":
    sys.exit(main())
