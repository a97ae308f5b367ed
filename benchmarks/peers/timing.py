"""GPU timing helpers shared by the peer benchmarks.

Every figure is a median of CUDA-event intervals: the device is synchronised before each run, an
event is recorded, the callable runs, a second event is recorded and waited for. The interval
therefore covers all GPU work the callable queued and any time the host spent issuing it.

Not a script; imported by the others in this folder.
"""
import gc
import statistics
import time

import torch


def time_cuda(fn, warmup, iters):
    """Runs fn `warmup` times untimed, then `iters` times timed; returns a dict of figures in ms."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    gpu_ms = []
    wall_ms = []
    for _ in range(iters):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        start.record()
        fn()
        end.record()
        end.synchronize()
        wall_ms.append((time.perf_counter() - t0) * 1000.0)
        gpu_ms.append(start.elapsed_time(end))
    return {
        "median_ms": statistics.median(gpu_ms),
        "min_ms": min(gpu_ms),
        "max_ms": max(gpu_ms),
        "wall_median_ms": statistics.median(wall_ms),
        "warmup": warmup,
        "runs": iters,
    }


def time_cuda_queued(fn, count):
    """Per-call time of `count` calls queued back to back between one pair of events (ms).

    The host issues call k+1 while the GPU still runs call k, so launch latency is hidden as far
    as the GPU is the bottleneck: this is the steady-state GPU time per call.
    """
    fn()
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(count):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / count


def one_line(exc):
    """An exception as one short line, for 'failed: ...' records."""
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line[:300]


def free_cuda():
    """Returns cached GPU memory after the caller dropped its references."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
