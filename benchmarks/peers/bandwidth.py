"""Copy bandwidths of this machine: host-to-device from pinned and from pageable memory, and
device-to-device.

Each figure is the median of 5 timed copies of 1 GiB (after one untimed copy), timed with CUDA
events, in GB/s (10^9 bytes per second). Device-to-device is bytes copied per second; the memory
traffic is twice that (one read, one write).

Usage:

    python3 benchmarks/peers/bandwidth.py [--gib 1] [--runs 5]
"""
import argparse
import statistics
import sys

import torch

from timing import one_line


def _copy_gbps(dst, src, runs, non_blocking):
    nbytes = src.numel() * src.element_size()
    dst.copy_(src, non_blocking=non_blocking)
    torch.cuda.synchronize()
    rates = []
    for _ in range(runs):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        start.record()
        dst.copy_(src, non_blocking=non_blocking)
        end.record()
        end.synchronize()
        rates.append(nbytes / (start.elapsed_time(end) / 1000.0) / 1e9)
    return statistics.median(rates)


def measure(gib=1, runs=5, verbose=True):
    """Returns {"pinned_h2d_gbps", "pageable_h2d_gbps", "d2d_gbps", "bytes", "runs"}; a figure
    that could not be measured is replaced by "failed: reason"."""
    nbytes = int(gib * (1 << 30))
    out = {"bytes": nbytes, "runs": runs}

    def pinned(dst):
        src = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)
        src.fill_(1)
        return _copy_gbps(dst, src, runs, non_blocking=True)

    def pageable(dst):
        src = torch.ones(nbytes, dtype=torch.uint8)  # written, so every page is mapped
        return _copy_gbps(dst, src, runs, non_blocking=False)

    def device(dst):
        src = torch.ones(nbytes, dtype=torch.uint8, device="cuda")
        return _copy_gbps(dst, src, runs, non_blocking=True)

    for key, label, fn in (("pinned_h2d_gbps", "pinned host -> device", pinned),
                           ("pageable_h2d_gbps", "pageable host -> device", pageable),
                           ("d2d_gbps", "device -> device (bytes copied)", device)):
        try:
            out[key] = fn(torch.empty(nbytes, dtype=torch.uint8, device="cuda"))
            if verbose:
                print(f"bandwidth: {label}: {out[key]:.2f} GB/s", flush=True)
        except Exception as exc:
            out[key] = "failed: " + one_line(exc)
            if verbose:
                print(f"bandwidth: {label}: {out[key]}", flush=True)
        torch.cuda.empty_cache()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gib", type=float, default=1.0, help="size of each copy in GiB")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"device: {torch.cuda.get_device_name(0)}", flush=True)
    measure(args.gib, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
