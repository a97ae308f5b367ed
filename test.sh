#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. unit tests (Bazel, -c opt)              5. mutated inputs of every kind through the binaries
#   2. end-to-end suite through tsc and tsr    6. the unit tests again under --config=asan
#   3. ONNX node-test conformance (core ops)   7. determinism across build configurations
#   4. model zoo and torch.onnx exports vs ORT 8. fuzz targets, a few seconds each
# FUZZ_SECONDS (default 5) and HARDENING_COUNT (mutants per kind, default 50) set the lengths.
# Last line: "N passed, M failed", the sum over the steps (each prints its own count).
set -uo pipefail
cd "$(dirname "$0")"
FUZZ_SECONDS=${FUZZ_SECONDS:-5}

tools/install_deps.sh || { echo "0 passed, 1 failed"; exit 1; }
total_pass=0
total_fail=0
add() { total_pass=$((total_pass + $1)); total_fail=$((total_fail + $2)); }

# Runs a step's command, shows the lines matching SHOW (or, with a leading "!", all lines not
# matching the rest), and adds the counts of its summary line
# "PREFIX: N passed, M failed" (a missing summary line counts as one failure).
step() {
  local prefix=$1 show=$2; shift 2
  local log; log=$(mktemp)
  if [ "${show#!}" != "$show" ]; then
    "$@" 2>&1 | tee "$log" | grep -vE "${show#!}" || true
  else
    "$@" 2>&1 | tee "$log" | grep -E "$show" || true
  fi
  local line; line=$(grep -E "^$prefix: [0-9]+ passed, [0-9]+ failed" "$log" | tail -1)
  rm -f "$log"
  if [ -z "$line" ]; then add 0 1; return; fi
  add "$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')" "$(echo "$line" | sed -E 's/.* ([0-9]+) failed/\1/')"
}

# Runs `bazel test` with the given flags and counts test cases from the JUnit XML it writes.
unit_tests() {
  local label=$1; shift
  bazel test //... --test_output=errors --keep_going --nocache_test_results "$@" 2>&1 | grep -E "^(//|ERROR|FAIL|Executed)" || true
  local rc=${PIPESTATUS[0]}
  read -r p f < <(/usr/bin/python3 - <<'PY'
import glob, os, sys, xml.etree.ElementTree as ET
p = f = 0
for x in glob.glob(os.path.join(os.path.realpath("bazel-testlogs"), "**", "test.xml"), recursive=True):
    try:
        root = ET.parse(x).getroot()
    except ET.ParseError:
        f += 1
        continue
    for tc in root.iter("testcase"):
        if tc.find("failure") is not None or tc.find("error") is not None:
            f += 1
        elif tc.get("result", "completed") != "suppressed" and tc.find("skipped") is None:
            p += 1
print(p, f)
PY
)
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # a target failed to build or crashed
  echo "$label: $p passed, $f failed (bazel exit $rc)"
  add "$p" "$f"
}

echo "== 1. unit tests (bazel test //..., -c opt)"
unit_tests "unit tests"
opt_bin=$(realpath bazel-out/k8-opt/bin/cli)

echo "== 2. end-to-end (tests/e2e/run_e2e.py)"
step e2e "!^PASS" /usr/bin/python3 tests/e2e/run_e2e.py --tsc "$opt_bin/tsc" --tsr "$opt_bin/tsr" \
  --work "${TMPDIR:-/tmp}/tensorshunt-e2e"

echo "== 3. conformance: ONNX backend node tests whose ops are all in the core set (tests/e2e/run_node_tests.py)"
step "node tests" "^(FAIL|ONNX node tests)" /usr/bin/python3 tests/e2e/run_node_tests.py \
  --tsc "$opt_bin/tsc" --tsr "$opt_bin/tsr" --work "${TMPDIR:-/tmp}/tensorshunt-node"

echo "== 4. model zoo and torch.onnx exports against onnxruntime; zoo plan peaks against their baselines (benchmarks/zoo/run_zoo.py, tests/real/run_real.py, benchmarks/peaks/check_peaks.py)"
if zoo_python=$(tools/zoo_venv.sh); then
  step zoo "^(zoo|FAIL|PASS)" "$zoo_python" benchmarks/zoo/run_zoo.py --tsc "$opt_bin/tsc" --tsr "$opt_bin/tsr" --at-minimum
  step "real models" "^(real models|FAIL)" "$zoo_python" tests/real/run_real.py \
    --tsc "$opt_bin/tsc" --tsr "$opt_bin/tsr" --work "${TMPDIR:-/tmp}/tensorshunt-real"
  step peaks "^(peaks|FAIL)" "$zoo_python" benchmarks/peaks/check_peaks.py --tsc "$opt_bin/tsc" \
    --work "${TMPDIR:-/tmp}/tensorshunt-peaks"
else
  echo "zoo: 0 passed, 1 failed (could not set up onnxruntime from PyPI)"; add 0 1
fi
echo "   Llama-family checkpoints (tests/llm/run_llm.py: tiny random checkpoints against numpy)"
step llm "^(llm|FAIL)" /usr/bin/python3 tests/llm/run_llm.py --tsc "$opt_bin/tsc" --tsr "$opt_bin/tsr" \
  --work "${TMPDIR:-/tmp}/tensorshunt-llm"
echo "   against Hugging Face transformers' greedy generate and the tokenizers library (tests/llm/run_transformers.py, run_tokenizers.py)"
if llm_python=$(tools/llm_venv.sh); then
  step transformers "^(transformers|FAIL)" "$llm_python" tests/llm/run_transformers.py --tsc "$opt_bin/tsc" \
    --tsr "$opt_bin/tsr" --work "${TMPDIR:-/tmp}/tensorshunt-transformers"
  step tokenizers "^(tokenizers|FAIL)" "$llm_python" tests/llm/run_tokenizers.py --tsr "$opt_bin/tsr" \
    --work "${TMPDIR:-/tmp}/tensorshunt-tokenizers"
else
  echo "transformers: 0 passed, 1 failed (could not set up torch and transformers from PyPI)"; add 0 1
fi

echo "== 5. hostile inputs through the binaries (tests/hardening/mutation_table.py)"
step hardening "^(\||FAIL|hardening)" /usr/bin/python3 tests/hardening/mutation_table.py \
  --tsc "$opt_bin/tsc" --tsr "$opt_bin/tsr" --count "${HARDENING_COUNT:-50}"

echo "== 6. unit tests under AddressSanitizer + UBSan (--config=asan)"
unit_tests "asan unit tests" --config=asan

echo "== 7. determinism: the -c opt and the asan (-c dbg) builds of tsc write identical bundles"
asan_bin=$(realpath bazel-out/k8-dbg/bin/cli)
det_dir=$(mktemp -d)
if "$opt_bin/tsc" compile examples/mlp.onnx --vram 1M -o "$det_dir/opt.tsplan" >/dev/null &&
   "$asan_bin/tsc" compile examples/mlp.onnx --vram 1M -o "$det_dir/asan.tsplan" >/dev/null &&
   cmp -s "$det_dir/opt.tsplan" "$det_dir/asan.tsplan"; then
  echo "determinism: 1 passed, 0 failed"; add 1 0
else
  echo "determinism: 0 passed, 1 failed (bundles differ or a compile failed)"; add 0 1
fi
rm -rf "$det_dir"

echo "== 8. fuzz targets (tests/fuzz/run_fuzz.sh, ${FUZZ_SECONDS}s each)"
step fuzz "^fuzz|ERROR|SUMMARY|error|undefined reference" tests/fuzz/run_fuzz.sh "$FUZZ_SECONDS" "$opt_bin/tsc"

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
