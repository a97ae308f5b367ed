#!/usr/bin/python3
"""Feeds mutated inputs of every kind tsc and tsr accept through the real binaries and counts
the outcomes: each documented exit code, crashes (killed by a signal), hangs (past --timeout),
and non-zero exits whose stderr is not exactly one line. Prints a Markdown table and, last,
"hardening: N passed, M failed" where a failure is a crash, a hang, an undocumented exit code,
exit 70 (an internal error is a bug), or a multi-line error.

Usage: mutation_table.py --tsc PATH --tsr PATH [--count N] [--seed S] [--timeout SEC]
"""
import argparse
import collections
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import gen_models  # noqa: E402

DOCUMENTED = {0, 1, 2, 3, 4, 5}


def mutate(data, rng):
    """A random structural mutation of a byte string that really changes it."""
    for _ in range(100):
        out = mutate_once(data, rng)
        if out != data:
            return out
    return data + b"\x00"


def mutate_once(data, rng):
    b = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0 and b:                              # flip 1-8 random bits
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif kind == 1:                                  # truncate
        del b[rng.randrange(len(b) + 1):]
    elif kind == 2:                                  # insert random bytes
        pos = rng.randrange(len(b) + 1)
        b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif kind == 3 and b:                            # delete a run
        pos = rng.randrange(len(b))
        del b[pos:pos + rng.randint(1, 64)]
    elif kind == 4 and len(b) > 8:                   # overwrite with an extreme integer
        pos = rng.randrange(len(b) - 8)
        b[pos:pos + 8] = rng.choice([b"\xff" * 8, b"\x00" * 8, b"\x7f" + b"\xff" * 7, b"\x00\x00\x00\x80" * 2])
    else:                                            # duplicate a chunk
        if b:
            pos = rng.randrange(len(b))
            b[pos:pos] = b[pos:pos + rng.randint(1, 256)]
    return bytes(b)


HOSTILE_STRINGS = ["", "-1", "0", "1e309", "nan", "inf", "99999999999999999999G", "1.5.5G", "3.5X", "x=",
                   "=1x2", "x=0x3", "x=1x-3", "x=" + "9" * 40, "x=3x8xf32=", "x=2x2xf99=1 2 3 4", "f32=",
                   "x=1xf32=1e999", "x=4611686018427387904x4xf32=1", "\x00", "x=\xff\xfe", "é=1xf32=1",
                   "x=2xi64=1,,2", "x=2xbool=2 3", "x=1xf16=70000"]


class Runner:
    def __init__(self, args, work):
        self.a, self.work = args, work
        self.rows = collections.OrderedDict()
        self.failures = []

    def run(self, kind, cmd, env=None):
        row = self.rows.setdefault(kind, collections.Counter())
        row["tried"] += 1
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=self.a.timeout,
                               env=dict(os.environ, **(env or {})))
        except subprocess.TimeoutExpired:
            row["hang"] += 1
            self.failures.append("%s: hang: %s" % (kind, cmd))
            return
        rc = p.returncode
        if rc < 0:
            row["crash"] += 1
            self.failures.append("%s: killed by signal %d: %s" % (kind, -rc, cmd))
            return
        row["exit %d" % rc if rc in DOCUMENTED or rc == 70 else "undocumented"] += 1
        if rc not in DOCUMENTED:
            self.failures.append("%s: exit %d: %s\n%s" % (kind, rc, cmd, p.stderr.decode(errors="replace")[-500:]))
        elif rc != 0:
            lines = [l for l in p.stderr.decode(errors="replace").splitlines() if l.strip() and "warning" not in l]
            if len(lines) != 1:
                row["multi-line error"] += 1
                self.failures.append("%s: %d-line error: %s\n%s" % (kind, len(lines), cmd, p.stderr[-500:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsc", required=True)
    ap.add_argument("--tsr", required=True)
    ap.add_argument("--count", type=int, default=100, help="mutants per kind")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="ts-hardening-")
    r = Runner(a, work)
    models = os.path.join(work, "models")
    gen_models.gen(models)
    tsc, tsr = os.path.abspath(a.tsc), os.path.abspath(a.tsr)
    mut = os.path.join(work, "m")

    # Sources: every generated model, and bundles compiled from the runnable ones.
    onnx_files = sorted(os.path.join(models, d, "model.onnx") for d in os.listdir(models)
                        if os.path.isfile(os.path.join(models, d, "model.onnx")))
    bundles = []
    for name in ("mlp", "external_data", "elementwise_chain"):
        out = os.path.join(work, name + ".tsplan")
        subprocess.run([tsc, "compile", os.path.join(models, name, "model.onnx"), "-o", out], check=True,
                       capture_output=True)
        bundles.append(out)
    mlp_plan = bundles[0]
    x_npy = os.path.join(models, "mlp", "in_x.npy")
    from onnx import numpy_helper
    import numpy as np
    x_pb = os.path.join(work, "x.pb")
    open(x_pb, "wb").write(numpy_helper.from_array(np.load(x_npy), "x").SerializeToString())

    # Tokenizer files (the fuzz seeds: five tokenizer.json styles, each followed by NUL and a text).
    seed_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "seeds", "tokenizer")
    tokenizer_seeds = [open(os.path.join(seed_dir, f), "rb").read().split(b"\0", 1)
                       for f in sorted(os.listdir(seed_dir))]

    for _ in range(a.count):
        # tokenizer.json files and texts through tsr tokenize (encode, then decode).
        tok, text = rng.choice(tokenizer_seeds)
        open(mut + ".json", "wb").write(mutate(tok, rng))
        r.run("tokenizer.json -> tsr tokenize", [tsr, "tokenize", mut + ".json", "--text", "Hello world, 12 caf\u00e9"])
        open(mut + ".json", "wb").write(tok)
        open(mut + ".txt", "wb").write(mutate(text, rng))
        r.run("text -> tsr tokenize", [tsr, "tokenize", mut + ".json", "--text-file", mut + ".txt"])
        ids = ",".join(str(rng.randrange(0, 480) if rng.random() < 0.97 else rng.randrange(-5, 9999))
                       for _ in range(rng.randrange(1, 30)))
        r.run("ids -> tsr tokenize --decode", [tsr, "tokenize", mut + ".json", "--decode", ids])
        # ONNX models (the mutant sits in the model's folder, so external data is resolved there).
        src = rng.choice(onnx_files)
        dst = os.path.join(os.path.dirname(src), "mutant.onnx")
        open(dst, "wb").write(mutate(open(src, "rb").read(), rng))
        r.run("ONNX model -> tsc compile", [tsc, "compile", dst, "-o", mut + ".tsplan", "--shape", "x=3x8"]
              if "dynamic" in src else [tsc, "compile", dst, "-o", mut + ".tsplan"])
        # Bundles.
        open(mut + ".tsplan", "wb").write(mutate(open(rng.choice(bundles), "rb").read(), rng))
        r.run(".tsplan bundle -> tsr run", [tsr, "run", mut + ".tsplan", "--seed", "1", "-q"])
        # Input files.
        open(mut + ".npy", "wb").write(mutate(open(x_npy, "rb").read(), rng))
        r.run(".npy input -> tsr run", [tsr, "run", mlp_plan, "-q", "--input", "x=@" + mut + ".npy"])
        open(mut + ".pb", "wb").write(mutate(open(x_pb, "rb").read(), rng))
        r.run(".pb input -> tsr run", [tsr, "run", mlp_plan, "-q", "--input", "x=@" + mut + ".pb"])
        # Command-line values.
        s = rng.choice(HOSTILE_STRINGS)
        s = mutate(s.encode(), rng).decode("latin-1") if rng.random() < 0.5 else s
        s = s.replace("\x00", "")  # argv cannot carry NUL
        which = rng.randrange(3)
        if which == 0:
            cmd = [tsc, "compile", onnx_files[0], "-o", mut + ".tsplan", "--vram", s]
        elif which == 1:
            cmd = [tsc, "compile", os.path.join(models, "dynamic_batch", "model.onnx"), "-o", mut + ".tsplan", "--shape", s]
        else:
            cmd = [tsr, "run", mlp_plan, "-q", "--input", s]
        r.run("command-line values", cmd)
        # Injected I/O faults.
        faults = ",".join(rng.sample(["uring_refused", "direct_refused", "short_read_every=%d" % rng.randint(0, 3),
                                      "eagain_every=%d" % rng.randint(0, 3), "eintr_every=%d" % rng.randint(0, 3),
                                      "eio_at=%d" % rng.randint(0, 2)], rng.randint(1, 4)))
        r.run("I/O faults (TSR_FAULTS) -> tsr run", [tsr, "run", rng.choice(bundles), "--seed", "1", "-q"],
              env={"TSR_FAULTS": faults})

    cols = ["tried", "exit 0", "exit 1", "exit 2", "exit 3", "exit 4", "exit 5", "exit 70", "undocumented",
            "crash", "hang", "multi-line error"]
    print("| input kind | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for kind, row in r.rows.items():
        print("| %s | %s |" % (kind, " | ".join(str(row[c]) for c in cols)))
    for f in r.failures[:20]:
        print("FAIL", f)
    shutil.rmtree(work, ignore_errors=True)
    bad = len(r.failures)
    total = sum(row["tried"] for row in r.rows.values())
    print("hardening: %d passed, %d failed" % (total - bad, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
