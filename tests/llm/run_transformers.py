#!/usr/bin/env python3
"""Greedy `tsr generate` against Hugging Face transformers' greedy `generate`, on the CPU.

Usage: run_transformers.py --tsc PATH --tsr PATH [--work DIR]
(run with the Python of tools/llm_venv.sh: torch, transformers, tokenizers)

For each case, transformers builds a tiny random-weight model (a Llama with grouped-query
attention and tied embeddings saved in F32, a Qwen2 with q/k/v biases saved in BF16, a Mistral
saved in F16, a Llama 3 with llama3 rope scaling) and writes it with save_pretrained: config.json in transformers' own format
(rope_parameters) and model.safetensors. The reference is the saved model loaded back and
computed in float32. Then `tsc compile CHECKPOINT_DIR` makes three plans: a window of prompt +
new tokens, a decoding step of one token with a key/value cache (--max-seq-len), and the same at
a budget of half the weight bytes (the weights stream, the cache stays), and the last two again
with a prefill program (`--prefill-tokens 4`: the prompt goes through 4 tokens per run into the
cache the decoding step then extends). Each must give exactly
the token ids of `model.generate(do_sample=False)`; the window plan's logits are also compared
with the model's (max abs error printed, must be under 1e-3 x max |logit|). The Llama's folder
also holds a tokenizer.json (a byte-level BPE with Llama 3's split and BOS template, trained
here with `tokenizers`) and also gets a plan compiled with `--max-seq-len auto` under a budget
(the report must say the budget cut the config's 2048 tokens, and one token more must not fit);
there the prompt is text, `tsr generate --prompt` must encode it as
transformers' PreTrainedTokenizerFast does and print the text it decodes the ids to.

Weights are drawn with a standard deviation of 0.25 rather than transformers' 0.02 so that the
logits are spread and the greedy choice is not decided by rounding; the smallest gap between the
top two logits along the way is printed. Last line: "transformers: N passed, M failed".
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import tokenizers
import torch
import transformers
from tokenizers import decoders, models, pre_tokenizers, processors, trainers

PROMPT, NEW = 5, 11  # tokens

CASES = [
    ("llama_gqa_f32", torch.float32, transformers.LlamaConfig, transformers.LlamaForCausalLM,
     dict(vocab_size=320, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=8,
          num_key_value_heads=2, tie_word_embeddings=True, rms_norm_eps=1e-5)),
    ("qwen2_bias_bf16", torch.bfloat16, transformers.Qwen2Config, transformers.Qwen2ForCausalLM,
     dict(vocab_size=80, hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
          num_key_value_heads=2, tie_word_embeddings=False, rope_theta=1000000.0)),
    ("mistral_f16", torch.float16, transformers.MistralConfig, transformers.MistralForCausalLM,
     dict(vocab_size=64, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
          num_key_value_heads=1, tie_word_embeddings=False, sliding_window=None)),
    ("llama3_rope_scaling", torch.float32, transformers.LlamaConfig, transformers.LlamaForCausalLM,
     dict(vocab_size=50, hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=4,
          num_key_value_heads=4, tie_word_embeddings=True,
          rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0,
                               high_freq_factor=4.0, original_max_position_embeddings=8))),
]


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd[:2]), p.returncode, (p.stderr or p.stdout).strip()[-1200:]))
    return p


TEXT = ("The quick brown fox jumps over the lazy dog. It's 12:45, and the café serves 3 kinds of tea; "
        "naïve ideas don't last. Numbers like 1234567 and 3.14159 split in threes. ")


def make_tokenizer(path, vocab):
    """A byte-level BPE with Llama 3's split and a BOS template, trained on TEXT."""
    split = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
             r"\s*[\r\n]+|\s+(?!\S)|\s+")
    tok = tokenizers.Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(tokenizers.Regex(split), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([TEXT] * 20, trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=["<|begin_of_text|>", "<|end_of_text|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                                       special_tokens=[("<|begin_of_text|>", bos)])
    tok.save(path)
    return transformers.PreTrainedTokenizerFast(tokenizer_file=path)


def make_model(d, dtype, config_cls, model_cls, kw, seed):
    torch.manual_seed(seed)
    cfg = config_cls(initializer_range=0.25, bos_token_id=None, eos_token_id=None, pad_token_id=None, **kw)
    model = model_cls(cfg).eval()
    with torch.no_grad():  # RMSNorm gains start at 1; move them off so that they matter
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.add_(0.1 * torch.randn_like(p))
    model.to(dtype).save_pretrained(d)
    ref = model_cls.from_pretrained(d, dtype=torch.float32).eval()
    return ref


def greedy(model, prompt, new):
    ids = torch.tensor([prompt])
    with torch.no_grad():
        # The attention mask is given: without it, transformers masks every prompt token equal to
        # the pad id.
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, min_new_tokens=new,
                             do_sample=False,
                             output_scores=True, return_dict_in_generate=True, pad_token_id=0)
    gaps = []
    for s in out.scores:
        top = torch.topk(s[0].float(), 2).values
        gaps.append(float(top[0] - top[1]))
    return [int(t) for t in out.sequences[0, len(prompt):]], min(gaps)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsc", required=True)
    ap.add_argument("--tsr", required=True)
    ap.add_argument("--work", default="/tmp/tensorshunt-transformers")
    a = ap.parse_args()
    torch.set_num_threads(2)
    print("transformers %s, torch %s" % (transformers.__version__, torch.__version__), flush=True)
    rng = np.random.default_rng(7)
    passed = failed = 0
    for i, (name, dtype, config_cls, model_cls, kw) in enumerate(CASES):
        try:
            d = os.path.join(a.work, name)
            model = make_model(d, dtype, config_cls, model_cls, kw, seed=100 + i)
            prompt = [int(t) for t in rng.integers(0, kw["vocab_size"], size=PROMPT)]
            if name == "llama_gqa_f32":  # with a tokenizer: the prompt as text
                hf_tok = make_tokenizer(os.path.join(d, "tokenizer.json"), kw["vocab_size"])
                text_prompt = "The café's fox"
                prompt = hf_tok(text_prompt).input_ids
            want, gap = greedy(model, prompt, NEW)
            total = len(prompt) + NEW
            report = os.path.join(a.work, name + ".json")

            # The window plan: logits of the prompt + generated tokens against the model's.
            window = os.path.join(a.work, name + ".tsplan")
            run([a.tsc, "compile", d, "-o", window, "--shape", "input_ids=1x%d" % total, "--report", report])
            weights = json.load(open(report))["resident_weight_bytes"]
            seq = np.array([prompt + want], dtype=np.int64)
            np.save(os.path.join(a.work, name + "_ids.npy"), seq)
            out = os.path.join(a.work, name + "_out")
            os.makedirs(out, exist_ok=True)
            run([a.tsr, "run", window, "-q", "--input", "input_ids=@" + os.path.join(a.work, name + "_ids.npy"),
                 "--output-dir", out])
            got = np.load(os.path.join(out, "logits.npy")).astype(np.float64)
            with torch.no_grad():
                ref = model(torch.from_numpy(seq)).logits.double().numpy()
            err = float(np.abs(got - ref).max())
            scale = float(np.abs(ref).max())
            print("transformers %-16s %-9s logits max abs err %.3g (max |logit| %.3g); smallest top-2 gap %.3g"
                  % (name, str(dtype).replace("torch.", ""), err, scale, gap), flush=True)
            if err > 1e-3 * scale:
                raise RuntimeError("logits differ from transformers' by %.3g" % err)

            ids_out = os.path.join(a.work, name + "_gen.json")
            plans = [("window of %d" % total, window)]
            kv = os.path.join(a.work, name + "_kv.tsplan")
            run([a.tsc, "compile", d, "-o", kv, "--shape", "input_ids=1x1", "--max-seq-len", str(total),
                 "--report", report])
            plans.append(("key/value cache", kv))
            cache = json.load(open(report))["kv_cache_bytes"]
            half = os.path.join(a.work, name + "_kv_half.tsplan")
            run([a.tsc, "compile", d, "-o", half, "--shape", "input_ids=1x1", "--max-seq-len", str(total),
                 "--vram", str(weights // 2 + cache), "--report", report])
            streamed = json.load(open(report))["streamed_bytes"]["storage"]
            if streamed == 0:
                raise RuntimeError("at half the weight bytes nothing streams")
            plans.append(("cache, half the weights (%d bytes streamed per token)" % streamed, half))
            # A prefill program of 4 tokens per run (the prompt in two runs, the last padded)
            # beside the decoding step, unbudgeted and at half the weight bytes.
            for label, extra in (("prefill program", []), ("prefill program, half the weights",
                                                           ["--vram", str(weights // 2 + cache)])):
                pre = os.path.join(a.work, "%s_prefill%s.tsplan" % (name, "_half" if extra else ""))
                run([a.tsc, "compile", d, "-o", pre, "--shape", "input_ids=1x1", "--max-seq-len", str(total),
                     "--prefill-tokens", "4", "--report", report] + extra)
                r = json.load(open(report))
                if r.get("prefill_tokens") != 4 or (extra and r["prefill_peak_bytes"] > int(extra[1])):
                    raise RuntimeError("%s: report %s" % (label, {k: v for k, v in r.items() if "prefill" in k}))
                plans.append(("%s (peak %d bytes)" % (label, max(r["peak_bytes"], r["prefill_peak_bytes"])), pre))
            if name == "llama_gqa_f32":
                # --max-seq-len auto: the config's max_position_embeddings, cut to what the budget
                # leaves room for; one token more must not fit.
                auto = os.path.join(a.work, name + "_auto.tsplan")
                per_token = cache // total
                budget = weights // 2 + 300 * per_token
                run([a.tsc, "compile", d, "-o", auto, "--shape", "input_ids=1x1", "--max-seq-len", "auto",
                     "--vram", str(budget), "--report", report])
                r = json.load(open(report))
                tokens = r["kv_cache_tokens"]
                if not (r["kv_cache_tokens_config"] == model.config.max_position_embeddings > tokens >= total
                        and r["kv_cache_tokens_capped_by_budget"] and r["peak_bytes"] <= budget):
                    raise RuntimeError("--max-seq-len auto at %d bytes: report %s" % (
                        budget, {k: v for k, v in r.items() if k.startswith("kv") or k == "peak_bytes"}))
                p = subprocess.run([a.tsc, "compile", d, "-o", auto + ".more", "--shape", "input_ids=1x1",
                                    "--max-seq-len", str(tokens + 1), "--vram", str(budget)], capture_output=True)
                if p.returncode != 4:
                    raise RuntimeError("--max-seq-len auto chose %d tokens, but %d fit too" % (tokens, tokens + 1))
                plans.append(("--max-seq-len auto at %d bytes: %d of the config's %d tokens" % (
                    budget, tokens, model.config.max_position_embeddings), auto))
            for label, plan in plans:
                run([a.tsr, "generate", plan, "--prompt-ids", ",".join(map(str, prompt)),
                     "--max-new-tokens", str(NEW), "--ids-out", ids_out])
                got_ids = json.load(open(ids_out))
                if got_ids != want:
                    raise RuntimeError("%s: tsr generate gave %s, transformers %s" % (label, got_ids, want))
                print("transformers %-16s greedy, %s: %s, the same as transformers" % (name, label, got_ids),
                      flush=True)
                if name == "llama_gqa_f32":
                    # The prompt as text, through the tokenizer the bundle carries; the text printed
                    # must be transformers' decoding of the same ids.
                    p = run([a.tsr, "generate", plan, "--prompt", text_prompt, "--max-new-tokens", str(NEW),
                             "--ids-out", ids_out])
                    want_text = hf_tok.decode(want, skip_special_tokens=True)
                    if json.load(open(ids_out)) != want or p.stdout != want_text + "\n":
                        raise RuntimeError("%s: tsr generate --prompt %r gave %r (ids %s); transformers %r (ids %s)" % (
                            label, text_prompt, p.stdout, json.load(open(ids_out)), want_text, want))
                    print("transformers %-16s --prompt %r (%d tokens with the BOS): %r, the same text" % (
                        name, text_prompt, len(prompt), want_text), flush=True)
            print("PASS transformers", name, flush=True)
            passed += 1
        except Exception as e:  # noqa: BLE001 - report every case
            print("FAIL transformers %s: %s" % (name, e), flush=True)
            failed += 1
    print("transformers: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
