#!/usr/bin/env bash
# The project's test command: notebooks clean and in sync with the library, notebook tests, pytest (incl. end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
# SIMPLEX_SHARED_DATA=none runs every test as on a fresh clone without the shared data folder
if [ -z "${SIMPLEX_SHARED_DATA:-}" ] && [ -d ../shared/data ]; then
  export SIMPLEX_SHARED_DATA="$(cd ../shared/data && pwd)"
fi

echo "== nbdev_clean leaves no diff"
nbdev_clean
git diff --exit-code --stat -- nbs || { echo "nbdev_clean changed notebooks: run it and commit"; exit 1; }
echo "== nbdev_export leaves no diff (library in sync with notebooks)"
nbdev_export
git diff --exit-code --stat -- simplex_train || { echo "simplex_train/*.py is out of sync with nbs/: run nbdev_export"; exit 1; }
echo "== notebook tests"
nbdev_test --n_workers 2
echo "== pytest"
python -m pytest -q -rs "$@"
