"""The layer streamer users write themselves in PyTorch: the strongest simple peer under a budget.

Embeddings, final norm and lm_head stay on the GPU. Each decoder layer's parameters are copied
once into one flat pinned host buffer. Two GPU buffers, each one layer in size, take turns: while
layer i runs on the default stream, layer i+1 is copied host-to-device into the other buffer on a
side stream (non_blocking). CUDA events order the two streams: a layer waits for its copy, and a
copy into a buffer waits until the layer that last read that buffer has finished. Each buffer has
its own GPU "skeleton" decoder layer whose parameters are views into that buffer, so running a
streamed layer is running the skeleton of the buffer it was copied into; the kernels are the same
as eager's.

Budget: with fraction f of the weight bytes, as many whole layers as fit in
f x weights - (embeddings + norm + lm_head) - the streaming buffers stay resident (the first
ones, so that their compute hides the first copy); the rest are streamed every forward. When not
even the fixed part and two buffers fit, every layer is streamed and the GPU footprint exceeds
the budget (reported as within_budget: false). The budget is an accounting limit: the original
model stays on the GPU as the reference, but the streamer never reads its streamed layers.

Usage:

    python3 benchmarks/peers/layer_streamer.py [--fractions 1.0 0.5 0.25 0.10] [--seqs 512 4096]

Timing as eager.py (3 warm-ups, median of 10 runs, CUDA events). Correctness: at 1 x 512 the
logits are compared with the eager model's at every budget (max abs difference; expected 0, as
the same kernels run on the same data).
"""
import argparse
import copy
import sys

import torch

import llama_model
from timing import free_cuda, one_line, time_cuda

CHECK_SEQ = 512


def call_layer(layer, hidden, mask, position_ids, position_embeddings):
    """A transformers decoder layer; recent versions return a tensor, older ones a tuple."""
    out = layer(hidden, attention_mask=mask, position_ids=position_ids,
                position_embeddings=position_embeddings)
    return out[0] if isinstance(out, tuple) else out


def causal_mask(model, hidden):
    """None for sdpa and flash attention (they apply is_causal themselves when no mask is given,
    as the whole model does without padding); an additive mask for eager attention."""
    impl = llama_model.attn_implementation(model)
    if impl != "eager":
        return None
    s = hidden.shape[1]
    full = torch.full((s, s), torch.finfo(hidden.dtype).min, dtype=hidden.dtype,
                      device=hidden.device)
    return full.triu(1)[None, None]


class HostLayers:
    """Every decoder layer's parameters in one flat pinned host buffer per layer."""

    def __init__(self, layers):
        params = list(layers[0].named_parameters())
        self.dtype = params[0][1].dtype
        self.layout = []  # (name, shape, offset, numel), offsets in elements
        offset = 0
        for name, p in params:
            if p.dtype != self.dtype:
                raise RuntimeError(f"mixed parameter dtypes in a layer: {name} is {p.dtype}")
            self.layout.append((name, tuple(p.shape), offset, p.numel()))
            offset += p.numel()
        self.numel = offset
        self.nbytes = offset * torch.empty((), dtype=self.dtype).element_size()
        self.flats = []
        with torch.no_grad():
            for layer in layers:
                flat = torch.empty(self.numel, dtype=self.dtype, pin_memory=True)
                named = list(layer.named_parameters())
                if [(n, tuple(p.shape)) for n, p in named] != \
                        [(n, s) for n, s, _, _ in self.layout]:
                    raise RuntimeError("decoder layers differ in their parameters")
                for (_, p), (_, _, off, n) in zip(named, self.layout):
                    flat[off:off + n].copy_(p.detach().reshape(-1))
                self.flats.append(flat)
        torch.cuda.synchronize()


def plan_residency(n_layers, layer_nbytes, fixed_nbytes, budget_nbytes):
    """(resident layers, streaming buffers, GPU weight bytes, within budget) for a budget.

    Keeps the most whole layers that fit next to the fixed part and the buffers the streamed
    layers need (two, or one when a single layer is streamed, none when none is)."""
    for resident in range(n_layers, -1, -1):
        buffers = min(2, n_layers - resident)
        gpu = fixed_nbytes + (resident + buffers) * layer_nbytes
        if gpu <= budget_nbytes:
            return resident, buffers, gpu, True
    buffers = min(2, n_layers)
    return 0, buffers, fixed_nbytes + buffers * layer_nbytes, False


class LayerStreamer:
    """Runs the model's forward with layers [n_resident, n_layers) streamed from host memory."""

    def __init__(self, model, host, n_resident):
        self.model = model
        self.host = host
        layers = model.model.layers
        self.resident = [layers[i] for i in range(n_resident)]
        self.streamed = list(range(n_resident, len(layers)))
        n_buffers = min(2, len(self.streamed))
        self.buffers = []
        self.skeletons = []
        with torch.no_grad():
            for _ in range(n_buffers):
                buf = torch.empty(host.numel, dtype=host.dtype, device="cuda")
                skeleton = copy.deepcopy(layers[0])
                for (name, p), (lname, shape, off, n) in zip(skeleton.named_parameters(),
                                                             host.layout):
                    if name != lname:
                        raise RuntimeError(f"skeleton parameter {name} is not {lname}")
                    p.data = buf[off:off + n].view(shape)  # the deep copy's storage is freed
                self.buffers.append(buf)
                self.skeletons.append(skeleton)
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        self.side = torch.cuda.Stream()
        self.copied = [torch.cuda.Event() for _ in self.buffers]
        self.released = [torch.cuda.Event() for _ in self.buffers]

    def _issue_copy(self, k):
        """Queues the copy of the k-th streamed layer into buffer k % 2 on the side stream."""
        b = k % len(self.buffers)
        with torch.cuda.stream(self.side):
            self.side.wait_event(self.released[b])  # the layer that last read buffer b is done
            self.buffers[b].copy_(self.host.flats[self.streamed[k]], non_blocking=True)
            self.copied[b].record(self.side)

    def forward(self, input_ids):
        """Logits [1, seq, vocab], as model(input_ids).logits."""
        inner = self.model.model
        if self.streamed:
            self._issue_copy(0)  # overlaps the embeddings and the resident layers
        hidden = inner.embed_tokens(input_ids)
        seq = input_ids.shape[1]
        position_ids = torch.arange(seq, device=hidden.device).unsqueeze(0)
        position_embeddings = inner.rotary_emb(hidden, position_ids)
        mask = causal_mask(self.model, hidden)
        for layer in self.resident:
            hidden = call_layer(layer, hidden, mask, position_ids, position_embeddings)
        compute = torch.cuda.current_stream()
        for k in range(len(self.streamed)):
            if k + 1 < len(self.streamed):
                self._issue_copy(k + 1)  # overlaps layer k
            b = k % len(self.buffers)
            compute.wait_event(self.copied[b])
            hidden = call_layer(self.skeletons[b], hidden, mask, position_ids,
                                position_embeddings)
            self.released[b].record(compute)
        hidden = inner.norm(hidden)
        return self.model.lm_head(hidden)


def _time_streamer(streamer, seq, warmup, iters):
    input_ids = llama_model.make_inputs(seq)
    with torch.inference_mode():
        return time_cuda(lambda: streamer.forward(input_ids), warmup, iters)


def reference_logits(model, seq=CHECK_SEQ):
    with torch.inference_mode():
        return model(input_ids=llama_model.make_inputs(seq), use_cache=False).logits


def measure(model, fractions, seqs, warmup=3, iters=10, reference=None, verbose=True):
    """Returns {"<fraction>": {plan, "check_max_abs_diff", "<seq>": figures}}; failures
    are recorded as "failed: reason" and the next measurement goes on ("setup" when the
    pinned copies or the reference could not be made)."""
    n_layers = len(model.model.layers)
    weights = llama_model.weight_bytes(model)
    layer_nbytes = llama_model.layer_bytes(model)
    fixed = llama_model.fixed_bytes(model)
    results = {}
    try:
        if reference is None:
            reference = reference_logits(model)
        host = HostLayers(model.model.layers)
    except Exception as exc:
        results["setup"] = "failed: " + one_line(exc)
        print(f"streamer: setup {results['setup']}", flush=True)
        return results
    for f in fractions:
        key = f"{f:g}"
        budget = int(f * weights)
        resident, buffers, gpu, within = plan_residency(n_layers, layer_nbytes, fixed, budget)
        entry = {
            "fraction": f,
            "budget_bytes": budget,
            "resident_layers": resident,
            "streamed_layers": n_layers - resident,
            "streamed_bytes_per_forward": (n_layers - resident) * layer_nbytes,
            "buffers": buffers,
            "gpu_weight_bytes": gpu,
            "within_budget": within,
        }
        results[key] = entry
        if verbose:
            print(f"streamer budget {key} ({budget / 1e9:.3f} GB): {resident} layers resident, "
                  f"{n_layers - resident} streamed, GPU weights {gpu / 1e9:.3f} GB"
                  f"{'' if within else ' (over budget: fixed part + 2 buffers do not fit)'}",
                  flush=True)
        streamer = None
        try:
            streamer = LayerStreamer(model, host, resident)
            with torch.inference_mode():
                got = streamer.forward(llama_model.make_inputs(CHECK_SEQ))
                diff = (got.float() - reference.float()).abs().max().item()
            entry["check_max_abs_diff"] = diff
            if verbose:
                print(f"streamer budget {key}: 1x{CHECK_SEQ} logits vs eager: "
                      f"max abs diff {diff:.3g} (max |logit| "
                      f"{reference.float().abs().max().item():.3g})", flush=True)
            del got
        except Exception as exc:
            entry["check_max_abs_diff"] = "failed: " + one_line(exc)
            print(f"streamer budget {key}: check {entry['check_max_abs_diff']}", flush=True)
        if streamer is None:
            continue
        for seq in seqs:
            try:
                figures = _time_streamer(streamer, seq, warmup, iters)
                entry[str(seq)] = figures
                if verbose:
                    print(f"streamer budget {key} 1x{seq}: median {figures['median_ms']:.2f} ms "
                          f"(min {figures['min_ms']:.2f}, max {figures['max_ms']:.2f})",
                          flush=True)
            except Exception as exc:
                entry[str(seq)] = "failed: " + one_line(exc)
                print(f"streamer budget {key} 1x{seq}: {entry[str(seq)]}", flush=True)
            torch.cuda.empty_cache()
        del streamer
        free_cuda()
    del host
    free_cuda()
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.5, 0.25, 0.10])
    ap.add_argument("--seqs", type=int, nargs="+", default=[512, 4096])
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args()
    print(f"device: {torch.cuda.get_device_name(0)}", flush=True)
    model = llama_model.build_model()
    measure(model, args.fractions, args.seqs, args.warmup, args.iters)
    return 0


if __name__ == "__main__":
    sys.exit(main())
