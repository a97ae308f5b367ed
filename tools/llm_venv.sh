#!/usr/bin/env bash
# Prints the path of a Python with torch, transformers and tokenizers from PyPI (the reference
# that tests/llm/run_transformers.py and run_tokenizers.py check tsc and tsr against), creating
# the venv on first use under ~/.cache/tensorshunt. PyPI's torch wheel is the CUDA build: its
# NVIDIA libraries come along (about 5.6 GB installed) and it runs on the CPU without a GPU.
set -euo pipefail
venv=${TS_LLM_VENV:-$HOME/.cache/tensorshunt/llm-venv}
if ! "$venv/bin/python" -c "import torch, transformers, tokenizers, numpy" 2>/dev/null; then
  /usr/bin/python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check "torch==2.15.0" "transformers==5.23.0" \
    "tokenizers==0.23.3" "numpy==2.4.6" >&2
fi
echo "$venv/bin/python"
