#!/usr/bin/env bash
# Install simplex_train and its dev tools into ./.venv on a CPU machine.
# torch is pinned to the CPU build (2.13.0) through constraints.txt, so pip never pulls CUDA packages;
# the `gpu` extra (unsloth) is for CUDA machines only and is not installed here; bitsandbytes (QLoRA) has a CPU backend.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# constraints apply to build environments too (seqeval builds from source; setuptools-scm 9 breaks its build)
export PIP_CONSTRAINT="$PWD/constraints.txt"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q -c constraints.txt torch==2.13.0
.venv/bin/pip install -q -c constraints.txt -e ".[dev]"
echo "installed: $(.venv/bin/python -c 'import simplex_train; print("simplex_train", simplex_train.__version__)')"
# llama.cpp's GGUF converter (from the llama-cpp-python sdist on PyPI). Its quantizer, needed only for K-quants such as
# q4_k_m (not in the default deploy.gguf), is compiled by the first run that asks for one, or here with --quantizer.
.venv/bin/simplex-train install-llama-cpp
if [ "${1:-}" = "--quantizer" ]; then
  .venv/bin/simplex-train install-llama-cpp --quantizer || echo "warning: llama-quantize could not be compiled: q4_k_m exports will be skipped, with the reason in gguf.json"
fi
