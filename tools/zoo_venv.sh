#!/usr/bin/env bash
# Prints the path of a Python with onnxruntime, onnx and numpy from PyPI (the model zoo's
# reference and exporter), creating the venv on first use under ~/.cache/tensorshunt.
set -euo pipefail
venv=${TS_ZOO_VENV:-$HOME/.cache/tensorshunt/zoo-venv}
if ! "$venv/bin/python" -c "import onnxruntime, onnx, numpy" 2>/dev/null; then
  /usr/bin/python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check "onnxruntime==1.23.2" "onnx==1.19.1" "numpy<2.4" >&2
fi
echo "$venv/bin/python"
