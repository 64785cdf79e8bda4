"""The executed example the docs site shows: the workbook run headless on the embedded model, small enough to finish
in minutes on a CPU and large enough to DEPLOY, outputs kept, written to
nbs/workbooks/examples/context_protocol_quick.ipynb.

    python bench/executed_example.py        # the time it took, and on which CPU, is in the notebook's title cell
"""
import argparse, os, platform, shutil, time
from pathlib import Path

import nbformat

from simplex_train.workflow.options import RunOptions
from simplex_train.workflow.workbook import run_workbook

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "nbs" / "workbooks" / "examples" / "context_protocol_quick.ipynb"
SIZE = {"gguf": False}   # the main job, without the GGUF export and its served check
TITLE = """# Example: the context-protocol run, executed
<!-- nbdev reads the next line: this page is a record, not a notebook test
- skip_exec: true
-->

The workbook [Run a specialist](../run_specialist.md) as it ran headless on the embedded model (Gemma 3 270M), with
every output kept: what a person sees after each stage. The specialist's own run (1,296 training rows and 130
rehearsal rows, 90 steps, 160 test rows) without the GGUF export and its served check: {took} on {cpu}. Smaller runs
were tried for a quicker page and gated REVIEW: 800 rows forgot more (general-text perplexity +33 %), and 80 test rows
leave 16 per case type, where one wrong answer moves a stratum by 6 points. Made by
`python bench/executed_example.py`."""


def _cpu() -> str:
    "The CPU's model name and core count, as a reader would compare it with theirs."
    names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
             if line.startswith("model name")] if Path("/proc/cpuinfo").exists() else [platform.processor()]
    return f"{os.cpu_count()} cores of an {names[0] if names else 'unknown CPU'}"


WIDGET = "application/vnd.jupyter.widget-view+json"


def tidy(nb) -> None:
    "Leave out papermill's bookkeeping and any widget (saved without its frontend, a widget is an empty placeholder)."
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET not in o.get("data", {})]
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)


def main() -> Path:
    os.chdir(ROOT)  # run folders under runs/ (git-ignored), named relative to the checkout in the outputs
    shutil.rmtree(ROOT / "runs" / "context_protocol" / "example", ignore_errors=True)   # a run of its own, from nothing
    t0 = time.perf_counter()
    run = run_workbook(RunOptions(specialist="context_protocol", run_id="example", force=True, **SIZE))
    took = f"{(time.perf_counter() - t0) / 60:.0f} minutes"
    nb = nbformat.read(run.notebook, as_version=4)
    title = next(c for c in nb.cells if c.cell_type == "markdown")
    title.source = TITLE.format(took=took, cpu=_cpu())
    tidy(nb)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, OUT)
    return OUT


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    print(main())
