#!/usr/bin/env bash
# The GPU checks of the training issue, on a lent CUDA machine that has torch, transformers 5.17 and peft but no
# trl / unsloth / datasets and no internet. Wheels travel in three parts (each call may carry 64 MiB).
#   here:        bash bench/gpu_run.sh fetch                 # downloads .whl/{a,b,c} (Python 3.12 wheels)
#   on the GPU:  bash bench/gpu_run.sh quick                 # first, no wheels: attention backends, numerics, syncs (~3 min)
#                bash bench/gpu_run.sh install a             # carry .whl/a; repeat with b, c (carry .whl/b, .whl/c)
#                bash bench/gpu_run.sh check pinned|main [ARCH...]   # the SFT bench under one version set (one arch a call)
#                bash bench/gpu_run.sh all                   # after a and b, carrying .whl/c: DPO, notebooks, SFT
# "pinned" is Unsloth's set (the machine's transformers 5.17.0, trl 1.15.0, unsloth); "main" adds transformers
# 5.23.0 and trl 1.16.0 on top (PEFT+TRL backend, since Unsloth refuses transformers > 5.17).
set -euo pipefail
cd "$(dirname "$0")/.."
PIPDL="--no-deps --only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
  --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
A="trl==1.15.0 datasets==4.8.5 dill multiprocess pydantic pydantic-core annotated-types typing-inspection ftfy wcwidth
   sqlglot fastcore tyro cut_cross_entropy msgspec hf_transfer json5 nest-asyncio structlog docstring-parser shtab typeguard"
B="bitsandbytes"
C="unsloth==2026.10.9 unsloth_zoo==2026.10.9 torchao"
NEW="transformers==5.23.0 trl==1.16.0"
case "${1:-}" in
  quick)   # torch, transformers and peft are in the image: nothing to install
    mkdir -p "${OUT:-/tmp/out}"
    PYTHONUNBUFFERED=1 timeout 400 python3 bench/gpu_attention_check.py --out "${OUT:-/tmp/out}/gpu_attention_check.json" ;;
  fetch)
    for part in a b c new; do
      mkdir -p .whl/$part; var=$(echo $part | tr a-z A-Z)
      for p in ${!var}; do python3 -m pip download -q $PIPDL -d .whl/$part "$p"; done
    done
    du -sh .whl/* ;;
  install)
    dir=.site; [ "$2" = new ] && dir=.site-new
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $dir .whl/$2/*.whl ;;
  check)
    export PYTHONPATH="$PWD:$PWD/.site"; [ "$2" = main ] && export PYTHONPATH="$PWD/.site-new:$PYTHONPATH"
    python3 -c "import torch, transformers, trl, peft; print(torch.__version__, transformers.__version__, trl.__version__, peft.__version__, torch.cuda.get_device_name())"
    mkdir -p "${OUT:-/tmp/out}"
    trainers=trl,trl-padfree,ours,ours-gc; [ "$2" = pinned ] && trainers=$trainers,unsloth,ours-unsloth
    archs="${*:3}"; archs="${archs:-qwen2.5-0.5b}"
    PYTHONUNBUFFERED=1 python3 bench/gpu_train_bench.py --arch $archs --trainers $trainers \
      --out "${OUT:-/tmp/out}/gpu_train_results_$2_${archs// /_}.json" ;;
  all)   # after `install a` and `install b`: part c, then DPO, the notebooks' tests and the SFT bench on CUDA
    bash "$0" install c
    export PYTHONPATH="$PWD:$PWD/.site" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 UNSLOTH_DISABLE_STATISTICS=1; o="${OUT:-/tmp/out}"; mkdir -p "$o"
    timeout 240 python3 bench/gpu_dpo_bench.py --out "$o/gpu_dpo_results.json" 2>&1 | tail -c 6000 || true
    timeout 150 python3 bench/gpu_notebooks.py nbs/06a_loss.ipynb nbs/08_training.ipynb nbs/08a_sft.ipynb \
      nbs/08c_heads.ipynb nbs/08d_dpo.ipynb --out "$o/gpu_notebooks.json" 2>&1 | grep -E -A30 "passed|FAILED" | tail -c 6000 || true
    timeout 200 python3 bench/gpu_train_bench.py --arch qwen2.5-0.5b --trainers trl,ours,ours-unsloth --out "$o/gpu_train_results.json" \
      2>&1 | tail -c 4000 || true ;;
  *) sed -n 2,9p "$0"; exit 2 ;;
esac
