#!/usr/bin/env bash
# On a machine with an NVIDIA GPU (and NVRTC): compiles the e2e models (tests/e2e/gen_models.py)
# with `tsc compile --target cuda` and runs them with `tsr run`, checked against their numpy
# references. Models with steps the CUDA backend lacks are refused by tsc (exit 3) and counted
# apart. Works with a release archive (tools/release_archive.sh) on a machine without Bazel:
#   [PYTHON=python-with-numpy-and-onnx] tests/cuda/run_cuda_e2e.sh TSC TSR WORK_DIR
# Last line: "cuda e2e: N passed, M failed, K refused by tsc".
set -u
tsc=$1 tsr=$2 work=$3
here=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
"${PYTHON:-python3}" -c "import sys; sys.path.insert(0, '$here/tests/e2e'); import gen_models; gen_models.gen('$work/models')" || exit 1
pass=0 fail=0 refused=0
for d in "$work"/models/*/; do
  n=$(basename "$d")
  [ -f "$d/model.onnx" ] || continue
  ls "$d"/out_*.npy >/dev/null 2>&1 || continue  # must-fail models have no reference
  err=$("$tsc" compile "$d/model.onnx" --target cuda -o "$work/$n.tsplan" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 3 ] && echo "$err" | grep -q "is dynamic; fix it with --shape"; then
    continue  # dynamic_batch: the CPU e2e suite covers --shape
  elif [ $rc -eq 3 ] && echo "$err" | grep -q "CUDA target cannot run"; then
    refused=$((refused + 1)); echo "REFUSED $n: $err"; continue
  elif [ $rc -ne 0 ]; then
    fail=$((fail + 1)); echo "FAIL $n: tsc exited $rc: $err"; continue
  fi
  args=()
  for f in "$d"/in_*.npy; do [ -e "$f" ] && b=$(basename "$f" .npy) && args+=(--input "${b#in_}=@$f"); done
  for f in "$d"/out_*.npy; do b=$(basename "$f" .npy); args+=(--expected-output "${b#out_}=@$f"); done
  out=$("$tsr" run "$work/$n.tsplan" -q -v "${args[@]}" 2>&1); rc=$?
  if [ $rc -eq 0 ] && ! echo "$out" | grep -q FAILED; then
    pass=$((pass + 1)); echo "PASS $n"
  else
    fail=$((fail + 1)); echo "FAIL $n: tsr exited $rc"
  fi
  echo "$out" | grep -E "SUCCESS|FAILED|error|kernels for" | sed 's/^/  /'
done
echo "cuda e2e: $pass passed, $fail failed, $refused refused by tsc"
