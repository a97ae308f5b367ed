"""The Llama-shaped benchmark model used by every peer measurement.

A transformers LlamaForCausalLM with random weights (normal(0, 0.02), RMSNorm weights 1, fixed
seed), built directly on the GPU in float16: hidden 4096, MLP 11008, 8 decoder layers, 32 heads
(no GQA), vocabulary 32000, untied lm_head. Weights come to 3,762,429,952 bytes (3.76 GB).
Nothing is downloaded.

Usage as a script (prints the weight count; with --save writes the checkpoint folder that
accelerate_offload.py loads):

    python3 benchmarks/peers/llama_model.py [--save /tmp/peers]

As a module: build_model(), save_checkpoint(model, dir), make_inputs(seq_len), weight_bytes().
"""
import argparse
import glob
import os
import sys

import torch

# No network on the benchmark machine: never let transformers or the hub client try it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

SEED = 1234
INPUT_SEED = 4321
CONFIG = dict(
    hidden_size=4096,
    intermediate_size=11008,
    num_hidden_layers=8,
    num_attention_heads=32,
    num_key_value_heads=32,
    vocab_size=32000,
    max_position_embeddings=4096,
    tie_word_embeddings=False,
)


def make_config(attn_implementation):
    from transformers import LlamaConfig
    # "dtype" is the transformers >= 4.56 name of the former "torch_dtype"; an older version
    # just keeps it as an extra attribute. The model is built in float16 either way.
    return LlamaConfig(**CONFIG, dtype="float16", attn_implementation=attn_implementation)


def _construct(attn_implementation):
    from transformers import LlamaForCausalLM
    config = make_config(attn_implementation)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float16)
    try:
        # Built on the GPU so that transformers' own initialisation runs there, not on the CPU.
        with torch.device("cuda"):
            return LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)


@torch.no_grad()
def init_weights(model, seed=SEED):
    """normal(0, 0.02) for matrices, 1 for the RMSNorm weights (the only 1-D parameters)."""
    gen = torch.Generator(device="cuda")
    gen.manual_seed(seed)
    for _, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
        if p.dim() == 1:
            p.fill_(1.0)
        else:
            p.normal_(0.0, 0.02, generator=gen)


def build_model(verbose=True):
    """The benchmark model on cuda:0, float16, eval mode, no gradients. sdpa, else eager."""
    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA device: the peer benchmarks need a GPU")
    model = None
    errors = []
    for impl in ("sdpa", "eager"):
        try:
            model = _construct(impl)
            break
        except Exception as exc:  # refused attention implementation: try the next one
            errors.append(f"{impl}: {type(exc).__name__}: {exc}")
            model = None
            torch.cuda.empty_cache()
    if model is None:
        raise RuntimeError("could not build the model: " + " | ".join(errors))
    for p in model.parameters():
        if p.dtype != torch.float16:  # nothing expected; buffers (rotary inv_freq) stay float32
            p.data = p.data.to(torch.float16)
    init_weights(model)
    model.eval()
    model.requires_grad_(False)
    torch.cuda.synchronize()
    if verbose:
        print(f"model: attn_implementation={attn_implementation(model)}, "
              f"weight bytes {weight_bytes(model):,} "
              f"({weight_bytes(model) / 1e9:.3f} GB), "
              f"{len(model.model.layers)} layers of {layer_bytes(model):,} bytes", flush=True)
    return model


def attn_implementation(model):
    return getattr(model.config, "_attn_implementation", None) or "unknown"


def weight_bytes(model):
    """Bytes of all parameters (buffers such as the rotary inv_freq are not weights)."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


def layer_bytes(model):
    """Bytes of one decoder layer (all layers have the same shape)."""
    layer = model.model.layers[0]
    return sum(p.numel() * p.element_size() for p in layer.parameters())


def fixed_bytes(model):
    """Bytes outside the decoder layers: embeddings, final norm, lm_head."""
    layers = sum(p.numel() * p.element_size()
                 for layer in model.model.layers for p in layer.parameters())
    return weight_bytes(model) - layers


def make_inputs(seq_len, device="cuda", vocab_size=CONFIG["vocab_size"]):
    """input_ids of shape [1, seq_len], the same for a given seq_len on every run."""
    gen = torch.Generator()
    gen.manual_seed(INPUT_SEED + seq_len)
    ids = torch.randint(0, vocab_size, (1, seq_len), generator=gen, dtype=torch.long)
    return ids.to(device)


def save_checkpoint(model, directory):
    """Writes the model as a transformers folder (config.json + safetensors) for from_pretrained."""
    os.makedirs(directory, exist_ok=True)
    for old in glob.glob(os.path.join(directory, "*.safetensors*")):
        os.remove(old)  # a stale shard index or shard would be loaded with the new ones
    try:
        model.save_pretrained(directory, safe_serialization=True)
    except TypeError:
        # A transformers version that always writes safetensors and dropped the argument.
        model.save_pretrained(directory)
    files = glob.glob(os.path.join(directory, "*.safetensors"))
    if not files:
        raise RuntimeError(f"save_pretrained wrote no .safetensors file in {directory}")
    return sum(os.path.getsize(f) for f in files)


def ensure_checkpoint(model, directory):
    """Writes the checkpoint unless `directory` already holds this model's (same config, seed,
    weight bytes; recorded in peers_model.json). Returns True when an existing one was kept."""
    import json
    marker_path = os.path.join(directory, "peers_model.json")
    marker = {"config": CONFIG, "seed": SEED, "weight_bytes": weight_bytes(model)}
    try:
        with open(marker_path) as f:
            if json.load(f) == marker and glob.glob(os.path.join(directory, "*.safetensors")):
                return True
    except (OSError, ValueError):
        pass
    if os.path.exists(marker_path):
        os.remove(marker_path)
    save_checkpoint(model, directory)
    with open(marker_path, "w") as f:
        json.dump(marker, f)
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--save", metavar="DIR", help="also write the checkpoint folder here")
    args = ap.parse_args()
    model = build_model()
    print(f"weight bytes: {weight_bytes(model)}", flush=True)
    print(f"fixed (embeddings, norm, lm_head) bytes: {fixed_bytes(model)}", flush=True)
    if args.save:
        size = save_checkpoint(model, args.save)
        print(f"checkpoint: {args.save} ({size:,} bytes of safetensors)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
