"""Llama-family checkpoints on the GPU against the CPU target, in two halves.

  prepare (no GPU needed): python3 tests/cuda/llm_gpu.py prepare --tsc TSC --tsr TSR DIR
      writes tiny random checkpoints (tests/llm/run_llm.py's: F16 with grouped-query attention,
      BF16, F32), compiles each for the CPU and runs it for reference logits.
  check (on the GPU machine): python3 tests/cuda/llm_gpu.py check --tsc TSC --tsr TSR DIR
      compiles CUDA plans without a budget and at about 60% and 35% of the weight bytes
      (weights streamed), runs each; passes when its logits are within 2e-2 x max|logit| of the CPU's
      (f16/bf16 products round the activations to the weights' type; f32 within 1e-4) and the
      streamed plans' logits equal the unbudgeted plan's bit for bit.
Last line: "llm gpu: N passed, M failed".
"""
import argparse
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CFG = {"model_type": "llama", "hidden_size": 128, "intermediate_size": 352, "vocab_size": 500,
       "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 3, "rms_norm_eps": 1e-5,
       "max_position_embeddings": 256, "tie_word_embeddings": False}
SEQ = 24
TOL = {"F16": 2e-2, "BF16": 4e-2, "F32": 1e-4}


def prepare(a):
    sys.path.insert(0, os.path.join(HERE, "..", "llm"))
    import run_llm
    rng = np.random.default_rng(7)
    ids = rng.integers(0, CFG["vocab_size"], size=(1, SEQ)).astype(np.int64)
    os.makedirs(a.dir, exist_ok=True)
    np.save(os.path.join(a.dir, "ids.npy"), ids)
    for dtype in ("F16", "BF16", "F32"):
        ck = os.path.join(a.dir, "ck_" + dtype)
        run_llm.make_checkpoint(ck, CFG, dtype, rng)
        weights = os.path.getsize(os.path.join(ck, "model.safetensors"))
        cpu = os.path.join(a.dir, dtype + "_cpu.tsplan")
        subprocess.run([a.tsc, "compile", ck, "--shape", "input_ids=1x%d" % SEQ, "-o", cpu], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([a.tsr, "run", cpu, "--input", "input_ids=@" + os.path.join(a.dir, "ids.npy"),
                        "--output-dir", os.path.join(a.dir, dtype + "_cpu"), "-q"], check=True)
        os.remove(cpu)


def compile_cases(a, work):
    cases = []
    for dtype in ("F16", "BF16", "F32"):
        ck = os.path.join(a.dir, "ck_" + dtype)
        weights = os.path.getsize(os.path.join(ck, "model.safetensors"))
        for label, frac in (("full", None), ("60", 0.6), ("35", 0.35)):
            plan = os.path.join(work, "%s_%s.tsplan" % (dtype, label))
            cmd = [a.tsc, "compile", ck, "--shape", "input_ids=1x%d" % SEQ, "--target", "cuda", "-o", plan]
            if frac:
                cmd += ["--vram", str(int(weights * frac))]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                cases.append({"dtype": dtype, "label": label, "error": p.stderr.strip()})
                continue
            cases.append({"dtype": dtype, "label": label, "plan": plan, "streamed": "streamed from pinned" in p.stdout})
    return cases


def check(a):
    work = "/tmp/llm_gpu"
    os.makedirs(work, exist_ok=True)
    cases = compile_cases(a, work)
    ids = os.path.join(a.dir, "ids.npy")
    passed = failed = 0
    full = {}
    for c in cases:
        if "error" in c:
            failed += 1
            print("FAIL %s %s: tsc: %s" % (c["dtype"], c["label"], c["error"]))
            continue
        out = c["plan"] + ".out"
        p = subprocess.run([a.tsr, "run", c["plan"], "--input", "input_ids=@" + ids,
                            "--output-dir", out, "-q"], capture_output=True, text=True)
        name = "%s %s" % (c["dtype"], c["label"])
        if p.returncode != 0:
            failed += 1
            print("FAIL %s: tsr exited %d: %s" % (name, p.returncode, p.stderr.strip()[-400:]))
            continue
        got = np.load(os.path.join(out, "logits.npy"))
        ref = np.load(os.path.join(a.dir, c["dtype"] + "_cpu", "logits.npy"))
        err = float(np.abs(got - ref).max() / np.abs(ref).max())
        ok = bool(np.isfinite(got).all()) and err <= TOL[c["dtype"]]
        note = "error vs CPU %.2e of max|logit| (limit %.0e)" % (err, TOL[c["dtype"]])
        if c["label"] == "full":
            full[c["dtype"]] = got
        elif c["dtype"] in full:
            same = np.array_equal(got.view(np.uint32), full[c["dtype"]].view(np.uint32))
            ok = ok and same
            note += ", %s the unbudgeted plan's bits%s" % ("equal to" if same else "NOT equal to",
                                                           " (weights streamed)" if c["streamed"] else "")
        passed += ok
        failed += not ok
        print("%s %s: %s" % ("PASS" if ok else "FAIL", name, note))
    print("llm gpu: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["prepare", "check"])
    ap.add_argument("--tsc")
    ap.add_argument("--tsr", required=True)
    ap.add_argument("dir")
    a = ap.parse_args()
    return prepare(a) if a.mode == "prepare" else check(a)


if __name__ == "__main__":
    sys.exit(main() or 0)
