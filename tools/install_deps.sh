#!/usr/bin/env bash
# Installs the Debian 12 packages TensorShunt builds and tests with. Idempotent: when every
# package is present it only checks, in well under a second.
set -euo pipefail

PACKAGES=(
  g++ bazel-bootstrap bazel-platforms bazel-rules-java       # compiler, Bazel 4 (offline)
  libonnx-dev libprotobuf-dev                                # ONNX protos
  llvm-19-dev libzstd-dev zlib1g-dev                         # LLVM ORC JIT, codegen
  liburing-dev libcli11-dev nlohmann-json3-dev libxxhash-dev # runtime I/O, CLI, reports, checksums
  libyaml-cpp-dev                                            # hardware profiles
  libopenblas-dev                                            # CPU matrix products
  libgtest-dev                                               # unit tests
  clang-14 libclang-rt-14-dev                                # libFuzzer targets (tests/fuzz)
  python3 python3-onnx python3-numpy                         # model generators, e2e references
  python3-venv python3-pip                                   # the zoo's venv (onnxruntime, PyPI)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install_deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
