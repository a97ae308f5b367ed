#!/usr/bin/env python3
"""What `tsc compile --weight-quant int8` changes: bundle size, bytes streamed per decoding step,
logit error, and `tsr bench` latency of one decoding step, against f32 weights, in one run.

Usage: run_quant.py --tsc PATH --tsr PATH [--work DIR] [--iterations N] [--results FILE]

Writes a Llama-shaped checkpoint with random F16 weights (hidden 1024, intermediate 2816, 4
layers, 16 heads, 4 key/value heads, vocabulary 8192: 61 M parameters, 244 MB as f32), compiles
decoding-step plans (1 token per step, a key/value cache of 256 tokens) with f32, f16 and int8
matrices, resident and at a budget of 40% of the f32 weight bytes plus the cache (at 25% the f32
plan does not fit: its 33.5 MB embedding and lm_head set the minimum), and times one
step of each with `tsr bench` (median of N runs; same machine, same run). The logit error is
f16's and int8's against f32's on one window of 32 tokens. Last, a 96-token prompt through a
prefill program (`--prefill-tokens 32`) against the same prompt one token per decoding step. With --results, the table replaces the block
between the "int8 weights" markers in that file.
"""
import argparse
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "llm"))
from run_llm import make_checkpoint, run  # noqa: E402  (the checked-in safetensors writer)

CFG = {"model_type": "llama", "hidden_size": 1024, "intermediate_size": 2816, "num_hidden_layers": 4,
       "num_attention_heads": 16, "num_key_value_heads": 4, "vocab_size": 8192, "rms_norm_eps": 1e-5,
       "rope_theta": 10000.0, "tie_word_embeddings": False}
CACHE = 256
BEGIN, END = "<!-- int8 weights: begin -->", "<!-- int8 weights: end -->"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsc", required=True)
    ap.add_argument("--tsr", required=True)
    ap.add_argument("--work", default="/tmp/tensorshunt-quant")
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--results")
    a = ap.parse_args()
    d = os.path.join(a.work, "ckpt")
    if not os.path.exists(os.path.join(d, "config.json")):
        make_checkpoint(d, CFG, "F16", np.random.default_rng(1))
    rows = []
    kv = 2 * CFG["num_hidden_layers"] * CFG["num_key_value_heads"] * CACHE * \
        (CFG["hidden_size"] // CFG["num_attention_heads"]) * 4
    f32_weights = None
    for quant in ("f32", "f16", "int8"):
        for budget in ("resident", "40%"):
            name = "%s_%s" % (quant, budget.replace("%", ""))
            plan, report = os.path.join(a.work, name + ".tsplan"), os.path.join(a.work, name + ".json")
            cmd = [a.tsc, "compile", d, "-o", plan, "--shape", "input_ids=1x1", "--max-seq-len", str(CACHE),
                   "--weight-quant", quant, "--report", report]
            if budget != "resident":
                cmd += ["--vram", str(f32_weights * 4 // 10 + kv)]
            run(cmd)
            r = json.load(open(report))
            if quant == "f32" and budget == "resident":
                f32_weights = r["resident_weight_bytes"] - kv
            bj = os.path.join(a.work, name + "_bench.json")
            run([a.tsr, "bench", plan, "--iterations", str(a.iterations), "--json", bj])
            b = json.load(open(bj))
            rows.append({"plan": name, "weights": quant, "budget": budget, "bundle": os.path.getsize(plan),
                         "peak": r["peak_bytes"], "streamed": r["streamed_bytes"]["storage"],
                         "median_ms": b["latency_ms"]["median"], "cmd": " ".join(cmd[1:])})
    # Logit error on a 32-token window.
    ids = np.random.default_rng(2).integers(0, CFG["vocab_size"], size=(1, 32)).astype(np.int64)
    np.save(os.path.join(a.work, "ids.npy"), ids)
    logits = {}
    for quant in ("f32", "f16", "int8"):
        plan = os.path.join(a.work, "window_%s.tsplan" % quant)
        run([a.tsc, "compile", d, "-o", plan, "--shape", "input_ids=1x32", "--weight-quant", quant])
        out = os.path.join(a.work, "out_" + quant)
        os.makedirs(out, exist_ok=True)
        run([a.tsr, "run", plan, "-q", "--input", "input_ids=@" + os.path.join(a.work, "ids.npy"), "--output-dir", out])
        logits[quant] = np.load(os.path.join(out, "logits.npy")).astype(np.float64)
    scale = np.abs(logits["f32"]).max()

    base = {(r["budget"]): r["median_ms"] for r in rows if r["weights"] == "f32"}
    lines = ["| weights | budget | bundle | peak | streamed per step | step median | vs f32 at that budget |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %s | %.1f MB | %.1f MB | %.1f MB | %.2f ms | %.2fx |" % (
            r["weights"], r["budget"], r["bundle"] / 1e6, r["peak"] / 1e6,
            r["streamed"] / 1e6, r["median_ms"], r["median_ms"] / base[r["budget"]]))
    lines.append("")
    # Prefill: a 96-token prompt through a prefill program of 32 tokens per run, against the same
    # prompt one token per decoding step (--no-prefill), f16 matrices, resident; median of 3.
    pre_plan = os.path.join(a.work, "prefill.tsplan")
    pre_cmd = [a.tsc, "compile", d, "-o", pre_plan, "--shape", "input_ids=1x1", "--max-seq-len", str(CACHE),
               "--prefill-tokens", "32", "--weight-quant", "f16"]
    run(pre_cmd)
    prompt = ",".join(str(t) for t in np.random.default_rng(3).integers(0, CFG["vocab_size"], size=96))
    rates = {}
    for mode in ("prefill program", "decoding step"):
        got = []
        for _ in range(3):
            p = run([a.tsr, "generate", pre_plan, "--prompt-ids", prompt, "--max-new-tokens", "4", "--print-ids"]
                    + ([] if mode == "prefill program" else ["--no-prefill"]))
            m = re.search(r"prefill of (\d+) prompt tokens ([0-9.]+) ms", p.stderr)
            got.append(float(m.group(2)))
        rates[mode] = sorted(got)[1]
    for quant in ("f16", "int8"):
        err = np.abs(logits[quant] - logits["f32"]).max()
        agree = float((logits[quant][0].argmax(-1) == logits["f32"][0].argmax(-1)).mean())
        lines.append("Logits of a 32-token window, %s against f32: max abs error %.3g (%.2f%% of max |logit| %.3g), "
                     "top-1 agreement %.0f%%." % (quant, err, 100 * err / scale, scale, 100 * agree))
    lines.append("")
    lines.append("Prompt of 96 tokens (f16, resident): %.1f ms through the prefill program (32 tokens per run), "
                 "%.1f ms one token per decoding step: %.1fx faster (`tsc %s`, then `tsr generate PLAN "
                 "--prompt-ids ... --max-new-tokens 4 [--no-prefill]`, median of 3)." % (
                     rates["prefill program"], rates["decoding step"], rates["decoding step"] / rates["prefill program"],
                     " ".join(pre_cmd[1:])))
    lines.append("")
    lines.append("Commands (from the checkpoint folder's parent): " + "; ".join("`tsc %s`" % r["cmd"] for r in rows[:2])
                 + "; the other rows add `--weight-quant f16` or `int8`; each plan timed with `tsr bench PLAN --iterations %d`."
                 % a.iterations)
    table = "\n".join(lines)
    print(table)
    if a.results:
        text = open(a.results).read()
        block = "%s\n%s\n%s" % (BEGIN, table, END)
        if BEGIN in text:
            text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
        else:
            text += "\n" + block + "\n"
        open(a.results, "w").write(text)


if __name__ == "__main__":
    main()
