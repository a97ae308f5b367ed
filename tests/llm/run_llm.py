#!/usr/bin/env python3
"""Llama-family checkpoints through `tsc compile CHECKPOINT_DIR` + `tsr run`, against numpy.

Usage: run_llm.py --tsc PATH --tsr PATH [--work DIR]

Writes tiny random-weight Hugging Face checkpoint folders (config.json + model.safetensors, the
format written here by hand: 8-byte header length, JSON header, raw little-endian data) for a
Llama with grouped-query attention and tied embeddings (F32), a Qwen2 with q/k/v biases (F16),
a Mistral (BF16, untied) and a Llama 3 with llama3 rope scaling; compiles each with
`--shape input_ids=1xS`, runs it on random token ids and compares the logits with a numpy
forward pass written from the architecture's definition (float64, weights as stored). Passes
when every logit is within 1e-4 x max|logit| + 1e-3 x |logit|, and when `tsr generate` (greedy,
4 prompt tokens, the rest of the window generated) gives the same token ids as greedy decoding
with the reference, both with the window plan and with decoding-step plans that keep a key/value
cache (`--max-seq-len`; 1 and 3 tokens per step, and at half the weight bytes). Also compiles one checkpoint at a budget of half its weight bytes and
requires bitwise-equal logits. With `--weight-quant int8`, each checkpoint's logits must match
the numpy forward pass of the weights as quantized and dequantized (same tolerance), and their
error against the f32 logits is printed (what int8 costs); likewise with f16 (bf16 for the F16
checkpoint) matrices; the first checkpoint also decodes
greedily from a streamed int8 cache plan, the same ids as the reference's on those weights.
Last line:
"llm: N passed, M failed".
"""
import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np

S = 12  # tokens


def write_safetensors(path, tensors):
    """tensors: name -> (dtype string, numpy array of the stored bits)."""
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        dtype, arr = tensors[name]
        data = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


def to_bf16_bits(x):
    bits = x.astype(np.float32).view(np.uint32)
    rounded = bits + 0x7FFF + ((bits >> 16) & 1)  # round to nearest even
    return (rounded >> 16).astype(np.uint16)


def from_bf16_bits(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def make_checkpoint(d, cfg, dtype, rng):
    """Random weights; returns name -> float64 array of the values as stored."""
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    NH = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", NH)
    D = cfg.get("head_dim", H // NH)
    bias = cfg.get("attention_bias", cfg["model_type"] == "qwen2")
    shapes = {"model.embed_tokens.weight": (V, H), "model.norm.weight": (H,)}
    if not cfg.get("tie_word_embeddings", False):
        shapes["lm_head.weight"] = (V, H)
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        shapes.update({p + "input_layernorm.weight": (H,), p + "post_attention_layernorm.weight": (H,),
                       p + "self_attn.q_proj.weight": (NH * D, H), p + "self_attn.k_proj.weight": (KV * D, H),
                       p + "self_attn.v_proj.weight": (KV * D, H), p + "self_attn.o_proj.weight": (H, NH * D),
                       p + "mlp.gate_proj.weight": (I, H), p + "mlp.up_proj.weight": (I, H),
                       p + "mlp.down_proj.weight": (H, I)})
        if bias:
            shapes.update({p + "self_attn.q_proj.bias": (NH * D,), p + "self_attn.k_proj.bias": (KV * D,),
                           p + "self_attn.v_proj.bias": (KV * D,)})
    stored, values = {}, {}
    for name, shape in shapes.items():
        if name.endswith("norm.weight"):
            x = 1 + 0.1 * rng.standard_normal(shape)
        else:
            x = rng.standard_normal(shape) / np.sqrt(shape[-1])
        x = x.astype(np.float32)
        if dtype == "F32":
            stored[name], values[name] = ("F32", x), x.astype(np.float64)
        elif dtype == "F16":
            h = x.astype(np.float16)
            stored[name], values[name] = ("F16", h), h.astype(np.float64)
        else:
            b = to_bf16_bits(x)
            stored[name], values[name] = ("BF16", b), from_bf16_bits(b).astype(np.float64)
    os.makedirs(d, exist_ok=True)
    write_safetensors(os.path.join(d, "model.safetensors"), stored)
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=1)
    return values


MATRICES = ("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight", "gate_proj.weight",
            "up_proj.weight", "down_proj.weight", "lm_head.weight")


def quantized(w, how="int8"):
    """The weights as `tsc compile --weight-quant HOW` stores and widens them: int8, each linear
    layer's rows as int8 with scale max|row| / 127 (f32 arithmetic, round half to even, clamp to
    [-127, 127]), times the scale in f32; f16 and bf16, rounded to nearest even."""
    out = dict(w)
    for name, v in w.items():
        if name.endswith(MATRICES) and how == "f16":
            out[name] = v.astype(np.float32).astype(np.float16).astype(np.float64)
        elif name.endswith(MATRICES) and how == "bf16":
            out[name] = from_bf16_bits(to_bf16_bits(v.astype(np.float32))).astype(np.float64)
        elif name.endswith(MATRICES):
            v32 = v.astype(np.float32)
            amax = np.abs(v32).max(axis=1, keepdims=True)
            s = np.where(amax > 0, amax / np.float32(127), np.float32(1)).astype(np.float32)
            q = np.clip(np.rint(v32 / s), -127, 127).astype(np.float32)
            out[name] = (q * s).astype(np.float64)
    return out


def inv_freq(cfg, D):
    theta = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / theta ** (np.arange(0, D, 2, dtype=np.float64) / D)
    rs = cfg.get("rope_scaling")
    if rs:
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        wavelen = 2 * np.pi / inv
        smooth = (old / wavelen - low) / (high - low)
        scaled = np.where(wavelen > old / low, inv / factor, inv)
        mid = (wavelen <= old / low) & (wavelen >= old / high)
        inv = np.where(mid, (1 - smooth) * inv / factor + smooth * inv, scaled)
    return inv


def greedy(cfg, w, prompt, new_tokens):
    """Greedy decoding with the reference forward pass on the exact prefix (no padding)."""
    ids = list(prompt)
    for _ in range(new_tokens):
        logits = reference(cfg, w, np.array(ids))
        ids.append(int(np.argmax(logits[0, -1])))
    return ids[len(prompt):]


def reference(cfg, w, ids):
    """The forward pass as the Llama family defines it, in float64."""
    S = len(ids)
    H, NH = cfg["hidden_size"], cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", NH)
    D = cfg.get("head_dim", H // NH)
    eps = cfg.get("rms_norm_eps", 1e-6)
    bias = cfg.get("attention_bias", cfg["model_type"] == "qwen2")

    def rms(x, g):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g

    pos = np.arange(S, dtype=np.float32)[:, None] * inv_freq(cfg, D).astype(np.float32)[None, :]
    emb = np.concatenate([pos, pos], -1).astype(np.float64)
    cos, sin = np.cos(emb), np.sin(emb)

    def rope(x):  # [heads, S, D]
        x1, x2 = x[..., : D // 2], x[..., D // 2:]
        return x * cos + np.concatenate([-x2, x1], -1) * sin

    h = w["model.embed_tokens.weight"][ids]
    mask = np.triu(np.full((S, S), -np.inf), 1)
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        x = rms(h, w[p + "input_layernorm.weight"])
        q = x @ w[p + "self_attn.q_proj.weight"].T
        k = x @ w[p + "self_attn.k_proj.weight"].T
        v = x @ w[p + "self_attn.v_proj.weight"].T
        if bias:
            q, k, v = q + w[p + "self_attn.q_proj.bias"], k + w[p + "self_attn.k_proj.bias"], v + w[p + "self_attn.v_proj.bias"]
        q = rope(q.reshape(S, NH, D).transpose(1, 0, 2))
        k = rope(k.reshape(S, KV, D).transpose(1, 0, 2))
        v = v.reshape(S, KV, D).transpose(1, 0, 2)
        k, v = np.repeat(k, NH // KV, axis=0), np.repeat(v, NH // KV, axis=0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(D) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        o = (s / s.sum(-1, keepdims=True)) @ v
        h = h + o.transpose(1, 0, 2).reshape(S, NH * D) @ w[p + "self_attn.o_proj.weight"].T
        x = rms(h, w[p + "post_attention_layernorm.weight"])
        g = x @ w[p + "mlp.gate_proj.weight"].T
        u = x @ w[p + "mlp.up_proj.weight"].T
        h = h + (g / (1 + np.exp(-g)) * u) @ w[p + "mlp.down_proj.weight"].T
    h = rms(h, w["model.norm.weight"])
    lm = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return (h @ lm.T)[None]


CASES = [
    ("llama_gqa_f32", "F32", {"model_type": "llama", "hidden_size": 64, "intermediate_size": 160,
                              "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 2,
                              "vocab_size": 96, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                              "tie_word_embeddings": True}),
    ("qwen2_bias_f16", "F16", {"model_type": "qwen2", "hidden_size": 48, "intermediate_size": 96,
                               "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                               "vocab_size": 80, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
                               "tie_word_embeddings": False}),
    ("mistral_bf16", "BF16", {"model_type": "mistral", "hidden_size": 64, "intermediate_size": 128,
                              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1,
                              "vocab_size": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                              "sliding_window": None, "tie_word_embeddings": False}),
    ("llama3_rope_scaling", "F32", {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
                                    "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 4,
                                    "vocab_size": 50, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
                                    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                     "high_freq_factor": 4.0,
                                                     "original_max_position_embeddings": 8},
                                    "tie_word_embeddings": True}),
]


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd[:2]), p.returncode, (p.stderr or p.stdout).strip()[-1200:]))
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsc", required=True)
    ap.add_argument("--tsr", required=True)
    ap.add_argument("--work", default="/tmp/tensorshunt-llm")
    a = ap.parse_args()
    rng = np.random.default_rng(2026)
    passed = failed = 0
    for name, dtype, cfg in CASES:
        try:
            d = os.path.join(a.work, name)
            w = make_checkpoint(d, cfg, dtype, rng)
            ids = rng.integers(0, cfg["vocab_size"], size=(1, S)).astype(np.int64)
            np.save(os.path.join(a.work, name + "_ids.npy"), ids)
            plan, report = os.path.join(a.work, name + ".tsplan"), os.path.join(a.work, name + ".json")
            run([a.tsc, "compile", d, "-o", plan, "--shape", "input_ids=1x%d" % S, "--report", report])
            weights = json.load(open(report))["resident_weight_bytes"]
            out = os.path.join(a.work, name + "_out")
            os.makedirs(out, exist_ok=True)
            run([a.tsr, "run", plan, "-q", "--input", "input_ids=@" + os.path.join(a.work, name + "_ids.npy"),
                 "--output-dir", out])
            got = np.load(os.path.join(out, "logits.npy")).astype(np.float64)
            ref = reference(cfg, w, ids[0])
            if got.shape != ref.shape:
                raise RuntimeError("logits are %s, expected %s" % (got.shape, ref.shape))
            scale = np.abs(ref).max()
            err = np.abs(got - ref)
            ok = bool((err <= 1e-4 * scale + 1e-3 * np.abs(ref)).all())
            print("llm %-20s %-4s max abs err %.3g (max |logit| %.3g)" % (name, dtype, err.max(), scale), flush=True)
            if not ok:
                raise RuntimeError("logits differ from numpy's beyond tolerance")
            # Greedy generation: tsr generate against the reference's greedy loop.
            prompt = [int(t) for t in ids[0, :4]]
            ids_out = os.path.join(a.work, name + "_gen.json")
            run([a.tsr, "generate", plan, "--prompt-ids", ",".join(map(str, prompt)), "--max-new-tokens",
                 str(S - len(prompt)), "--ids-out", ids_out])
            got_ids, want_ids = json.load(open(ids_out)), greedy(cfg, w, prompt, S - len(prompt))
            if got_ids != want_ids:
                raise RuntimeError("tsr generate gave %s, the reference's greedy decoding %s" % (got_ids, want_ids))
            print("llm %-20s greedy: %s (same as the reference)" % (name, got_ids), flush=True)
            # The same with a decoding-step plan and its key/value cache (1 token per step, and 3
            # for the first case), and for the first case at half its weight bytes: weights stream,
            # the cache stays.
            variants = [(1, None)] + ([(3, None), (1, "half")] if name == "llama_gqa_f32" else [])
            for tokens, budget in variants:
                kv_plan = os.path.join(a.work, "%s_kv%d.tsplan" % (name, tokens))
                cmd = [a.tsc, "compile", d, "-o", kv_plan, "--shape", "input_ids=1x%d" % tokens,
                       "--max-seq-len", str(S), "--report", report]
                if budget:
                    # The model's weights only: the caches must stay, so they come on top.
                    cache = 2 * cfg["num_hidden_layers"] * cfg.get("num_key_value_heads", cfg["num_attention_heads"]) \
                        * S * cfg.get("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"]) * 4
                    cmd += ["--vram", str(weights // 2 + cache)]
                run(cmd)
                r = json.load(open(report))
                streamed = r["streamed_bytes"]["storage"]
                kv = cfg.get("num_key_value_heads", cfg["num_attention_heads"])
                hd = cfg.get("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
                want_cache = 2 * cfg["num_hidden_layers"] * kv * S * hd * 4
                if r.get("kv_cache_tokens") != S or r.get("kv_cache_bytes") != want_cache:
                    raise RuntimeError("report says a cache of %s tokens, %s bytes; expected %d, %d" % (
                        r.get("kv_cache_tokens"), r.get("kv_cache_bytes"), S, want_cache))
                run([a.tsr, "generate", kv_plan, "--prompt-ids", ",".join(map(str, prompt)), "--max-new-tokens",
                     str(S - len(prompt)), "--ids-out", ids_out])
                if json.load(open(ids_out)) != want_ids:
                    raise RuntimeError("with a key/value cache (%d tokens per step%s) tsr generate gave %s, the "
                                       "reference %s" % (tokens, ", half budget" if budget else "",
                                                         json.load(open(ids_out)), want_ids))
                print("llm %-20s greedy with a key/value cache, %d token(s) per step%s: the same ids" % (
                    name, tokens, ", %d bytes streamed per step" % streamed if budget else ""), flush=True)
            if name == "llama_gqa_f32":
                half = os.path.join(a.work, name + "_half.tsplan")
                run([a.tsc, "compile", d, "-o", half, "--shape", "input_ids=1x%d" % S, "--vram", str(weights // 2),
                     "--report", report])
                r = json.load(open(report))
                out2 = out + "_half"
                os.makedirs(out2, exist_ok=True)
                run([a.tsr, "run", half, "-q", "--input", "input_ids=@" + os.path.join(a.work, name + "_ids.npy"),
                     "--output-dir", out2])
                if open(os.path.join(out2, "logits.npy"), "rb").read() != open(os.path.join(out, "logits.npy"), "rb").read():
                    raise RuntimeError("at half the weight bytes the logits differ from the unbudgeted plan's")
                print("llm %-20s at %d bytes (half the weights): %d bytes streamed per run, logits bitwise equal"
                      % (name, weights // 2, r["streamed_bytes"]["storage"]), flush=True)
            # int8 weights: the program must compute the forward pass of the dequantized weights
            # (tight tolerance); their error against the f32 logits is what quantization costs.
            q8 = os.path.join(a.work, name + "_int8.tsplan")
            run([a.tsc, "compile", d, "-o", q8, "--shape", "input_ids=1x%d" % S, "--weight-quant", "int8",
                 "--report", report])
            q8_weights = json.load(open(report))["resident_weight_bytes"]
            out3 = out + "_int8"
            os.makedirs(out3, exist_ok=True)
            run([a.tsr, "run", q8, "-q", "--input", "input_ids=@" + os.path.join(a.work, name + "_ids.npy"),
                 "--output-dir", out3])
            got8 = np.load(os.path.join(out3, "logits.npy")).astype(np.float64)
            wq = quantized(w)
            ref8 = reference(cfg, wq, ids[0])
            err8 = np.abs(got8 - ref8)
            if not (err8 <= 1e-4 * np.abs(ref8).max() + 1e-3 * np.abs(ref8)).all():
                raise RuntimeError("int8 logits differ from numpy's with the dequantized weights by %.3g" % err8.max())
            qerr = np.abs(got8 - ref).max()
            agree = float((got8[0].argmax(-1) == ref[0].argmax(-1)).mean())
            print("llm %-20s int8 weights: %d bytes (default plan: %d); logits vs the default plan: max abs err %.3g (%.2f%% of "
                  "max |logit|), top-1 agreement %.0f%%; vs the dequantized reference %.3g"
                  % (name, q8_weights, weights, qerr, 100 * qerr / scale, 100 * agree, err8.max()), flush=True)
            # f16 or bf16 matrices (the other of the two where the checkpoint has one of them).
            how = "bf16" if dtype == "F16" else "f16"
            half = os.path.join(a.work, "%s_%s.tsplan" % (name, how))
            run([a.tsc, "compile", d, "-o", half, "--shape", "input_ids=1x%d" % S, "--weight-quant", how,
                 "--report", report])
            half_weights = json.load(open(report))["resident_weight_bytes"]
            out4 = out + "_" + how
            os.makedirs(out4, exist_ok=True)
            run([a.tsr, "run", half, "-q", "--input", "input_ids=@" + os.path.join(a.work, name + "_ids.npy"),
                 "--output-dir", out4])
            got16 = np.load(os.path.join(out4, "logits.npy")).astype(np.float64)
            ref16 = reference(cfg, quantized(w, how), ids[0])
            err16 = np.abs(got16 - ref16)
            if not (err16 <= 1e-4 * np.abs(ref16).max() + 1e-3 * np.abs(ref16)).all():
                raise RuntimeError("%s logits differ from numpy's with the rounded weights by %.3g" % (how, err16.max()))
            print("llm %-20s %s matrices: %d bytes; logits vs the f32 model: max abs err %.3g; vs the rounded "
                  "reference %.3g" % (name, how, half_weights, np.abs(got16 - ref).max(), err16.max()), flush=True)
            if name == "llama_gqa_f32":
                # Greedy decoding with int8 weights streamed (a cache plan at half the int8 bytes)
                # against the reference's greedy loop on the dequantized weights.
                kv_cache = 2 * cfg["num_hidden_layers"] * cfg["num_key_value_heads"] * S * \
                    (cfg["hidden_size"] // cfg["num_attention_heads"]) * 4
                q8_kv = os.path.join(a.work, name + "_int8_kv.tsplan")
                cmd = [a.tsc, "compile", d, "-o", q8_kv, "--shape", "input_ids=1x1", "--max-seq-len", str(S),
                       "--weight-quant", "int8", "--report", report]
                # Half the int8 bytes plus the cache, or the minimum feasible budget where the f32
                # copies dequantized on the way do not leave room for that.
                p = subprocess.run(cmd + ["--vram", "1"], capture_output=True, text=True)
                least = re.search(r"minimum feasible budget is (\d+) bytes", p.stderr)
                if p.returncode != 4 or not least:
                    raise RuntimeError("tsc at --vram 1 did not state the minimum budget: %s" % p.stderr.strip())
                run(cmd + ["--vram", str(max(q8_weights // 2 + kv_cache, int(least.group(1))))])
                streamed8 = json.load(open(report))["streamed_bytes"]["storage"]
                run([a.tsr, "generate", q8_kv, "--prompt-ids", ",".join(map(str, prompt)), "--max-new-tokens",
                     str(S - len(prompt)), "--ids-out", ids_out])
                want8 = greedy(cfg, wq, prompt, S - len(prompt))
                if json.load(open(ids_out)) != want8:
                    raise RuntimeError("int8, streamed: tsr generate gave %s, the reference %s" % (
                        json.load(open(ids_out)), want8))
                if streamed8 == 0:
                    raise RuntimeError("int8 at half its weight bytes streams nothing")
                print("llm %-20s int8, half budget, %d bytes streamed per step: greedy %s (the reference's)"
                      % (name, streamed8, want8), flush=True)
            print("PASS llm", name, flush=True)
            passed += 1
        except Exception as e:  # noqa: BLE001 - report every case
            print("FAIL llm %s: %s" % (name, e), flush=True)
            failed += 1
    print("llm: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
