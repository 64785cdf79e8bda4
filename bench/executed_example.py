"""The executed example the docs site shows: the workbook run headless on the embedded model in quick mode
(`local_test`), outputs kept, written to nbs/workbooks/examples/context_protocol_quick.ipynb.

    python bench/executed_example.py        # about 5 minutes on a 2-core CPU
"""
import argparse, os
from pathlib import Path

import nbformat

from simplex_train.options import RunOptions
from simplex_train.workbook import run_workbook

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "nbs" / "workbooks" / "examples" / "context_protocol_quick.ipynb"
TITLE = """# Example: a quick context-protocol run, executed

The workbook [Run a specialist](../run_specialist.md) as it ran headless on the embedded model (Gemma 3 270M) on a
2-core CPU, in quick mode (`local_test`: 32 training rows, 3 steps, no GGUF), with every output kept: what a person sees
after each stage. Three steps teach the model nothing yet, so the gate says FAIL; a real run is the same notebook with
`local_test = False`. Made by `python bench/executed_example.py`."""


def main() -> Path:
    os.chdir(ROOT)  # run folders under runs/ (git-ignored), named relative to the checkout in the outputs
    run = run_workbook(RunOptions(specialist="context_protocol", local_test=True, run_id="example", force=True))
    nb = nbformat.read(run.notebook, as_version=4)
    title = next(c for c in nb.cells if c.cell_type == "markdown")
    title.source = TITLE
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nb.metadata.pop("papermill", None)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, OUT)
    return OUT


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    print(main())
