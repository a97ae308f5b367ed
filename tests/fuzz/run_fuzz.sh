#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, AddressSanitizer + UBSan) and runs each for SECONDS on
# a corpus seeded from real files: the e2e models, bundles compiled from them by TSC, their
# .npy/.pb inputs, and the checked-in seeds/. Last line: "fuzz: N passed, M failed".
#   tests/fuzz/run_fuzz.sh SECONDS TSC [TARGET...]
# Crashing inputs are kept in out/fuzz/artifacts/. Build products go to out/fuzz/.
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:?seconds per target}
tsc=$(realpath "${2:?path to tsc}")
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(onnx_import tsplan tsplan_resealed tensor_files args ir_text safetensors profile tokenizer)

out=out/fuzz
mkdir -p "$out/obj" "$out/artifacts"
CXX=${CXX:-clang++-14}
FLAGS=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -I. -DONNX_ML=1 -DONNX_NAMESPACE=onnx)
LIBS=(-lonnx_proto -lprotobuf -lxxhash -lyaml-cpp -lopenblas -lpthread)
# Every library source of the parsers' components (new files are picked up), plus the runtime's
# tensor readers and the CLI value parsers; none of LLVM or the executor.
SOURCES=()
for src in ir/*.cc frontend/*.cc passes/*.cc planfmt/*.cc runtime/ops/*.cc; do
  case $src in *_test.cc) ;; *) SOURCES+=("$src") ;; esac
done
SOURCES+=(runtime/tensor_io.cc runtime/tensor_values.cc runtime/tokenizer.cc runtime/unicode.cc cli/args.cc "$out/shipped_profiles.cc")

# The shipped hardware profiles, embedded as Bazel does it (rewritten only when they change).
bash examples/profiles/embed_profiles.sh examples/profiles/*.yaml > "$out/shipped_profiles.cc.new"
cmp -s "$out/shipped_profiles.cc.new" "$out/shipped_profiles.cc" 2>/dev/null ||
  mv "$out/shipped_profiles.cc.new" "$out/shipped_profiles.cc"
rm -f "$out/shipped_profiles.cc.new"

# Objects are rebuilt when their source or any header changed since the last build.
newest_header=$(find ir frontend passes planfmt runtime cli -name '*.h' -newer "$out/.built" 2>/dev/null | head -1)
objs=()
for src in "${SOURCES[@]}"; do objs+=("$out/obj/${src//\//_}.o"); done
pids=()
for src in "${SOURCES[@]}"; do
  obj="$out/obj/${src//\//_}.o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$newest_header" ] || [ ! -f "$out/.built" ]; then
    "$CXX" "${FLAGS[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj" || { echo "fuzz: build of $src failed"; echo "fuzz: 0 passed, 1 failed"; exit 1; } &
    pids+=($!)
    if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}" || { echo "fuzz: 0 passed, 1 failed"; exit 1; }; pids=("${pids[@]:1}"); fi
  fi
done
for p in "${pids[@]}"; do wait "$p" || { echo "fuzz: 0 passed, 1 failed"; exit 1; }; done
touch "$out/.built"
for t in "${targets[@]}"; do
  if [ ! -f "$out/fuzz_$t" ] || [ "tests/fuzz/fuzz_$t.cc" -nt "$out/fuzz_$t" ] || [ "$out/.built" -nt "$out/fuzz_$t" ]; then
    "$CXX" "${FLAGS[@]}" -fsanitize=fuzzer "tests/fuzz/fuzz_$t.cc" "${objs[@]}" "${LIBS[@]}" -o "$out/fuzz_$t" \
      || { echo "fuzz: link of $t failed"; echo "fuzz: 0 passed, 1 failed"; exit 1; }
  fi
done

# Seeds from real files.
seeds=$out/seeds
if [ ! -d "$seeds/onnx_import" ]; then
  rm -rf "$seeds" "$out/models"
  mkdir -p "$seeds"/{onnx_import,tsplan,tensor_files}
  /usr/bin/python3 tests/e2e/gen_models.py "$out/models" >/dev/null
  for m in "$out"/models/*/model.onnx; do
    name=$(basename "$(dirname "$m")")
    cp "$m" "$seeds/onnx_import/$name.onnx"
    "$tsc" compile "$m" -o "$seeds/tsplan/$name.tsplan" --shape x=3x8 >/dev/null 2>&1 ||
      "$tsc" compile "$m" -o "$seeds/tsplan/$name.tsplan" >/dev/null 2>&1 || true
    for f in "$(dirname "$m")"/*.npy; do [ -f "$f" ] && cp "$f" "$seeds/tensor_files/${name}_$(basename "$f")"; done
  done
  /usr/bin/python3 - "$seeds/tensor_files" <<'PY'
import sys, numpy as np
from onnx import numpy_helper
for i, a in enumerate([np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2, 3], dtype=np.int64)]):
    open("%s/t%d.pb" % (sys.argv[1], i), "wb").write(numpy_helper.from_array(a, "t").SerializeToString())
PY
fi

passed=0; failed=0
for t in "${targets[@]}"; do
  corpus=$(mktemp -d)
  case $t in
    onnx_import|tsplan|tensor_files) cp "$seeds/$t"/* "$corpus"/ ;;
    tsplan_resealed) cp "$seeds/tsplan"/* "$corpus"/ ;;
    *) cp tests/fuzz/seeds/"$t"/* "$corpus"/ ;;
  esac
  # Inputs that once crashed a target stay in its corpus for good.
  [ -d "tests/fuzz/regressions/$t" ] && cp tests/fuzz/regressions/"$t"/* "$corpus"/
  log=$(mktemp)
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 "$out/fuzz_$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" \
    "$corpus" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "fuzz $t: ${seconds}s, ${execs:-?} executions, ${cov:-cov ?}, corpus $(ls "$corpus" | wc -l) inputs, no crash"
    passed=$((passed + 1))
  else
    echo "fuzz $t: FAILED (exit $rc); crashing input in $out/artifacts/; log:"
    grep -E "ERROR|SUMMARY|==[0-9]+==|#0|#1|#2|#3" "$log" | head -20
    failed=$((failed + 1))
  fi
  rm -rf "$corpus" "$log"
done
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
