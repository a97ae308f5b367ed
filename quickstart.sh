#!/usr/bin/env bash
# Installs what is missing, builds tsc and tsr, compiles a model under a memory budget and runs it.
#   ./quickstart.sh                          the bundled example (examples/mlp.onnx), checked against numpy
#   ./quickstart.sh MODEL.onnx --vram 3.5G   your model, with seeded random inputs (extra args go to tsc compile)
set -euo pipefail
cd "$(dirname "$0")"

tools/install_deps.sh
echo "== building tsc and tsr"
log=$(mktemp)
if ! bazel build //cli:tsc //cli:tsr >"$log" 2>&1; then
  tail -30 "$log"; rm -f "$log"; exit 1
fi
rm -f "$log"
mkdir -p out

if [ $# -eq 0 ]; then
  echo "== tsc compile examples/mlp.onnx --vram 1M"
  bazel-bin/cli/tsc compile examples/mlp.onnx --vram 1M -o out/mlp.tsplan --report out/mlp.report.json
  echo "== tsr run out/mlp.tsplan"
  bazel-bin/cli/tsr run out/mlp.tsplan --input x=@examples/mlp_x.npy \
    --expected-output y=@examples/mlp_y.npy --expected-output features=@examples/mlp_features.npy \
    --output-dir out/mlp_outputs
else
  model="$1"; shift
  name=$(basename "${model%.*}")
  echo "== tsc compile $model $*"
  bazel-bin/cli/tsc compile "$model" -o "out/$name.tsplan" --report "out/$name.report.json" "$@"
  echo "== tsr run out/$name.tsplan --seed 0"
  bazel-bin/cli/tsr run "out/$name.tsplan" --seed 0 --output-dir "out/${name}_outputs"
fi
