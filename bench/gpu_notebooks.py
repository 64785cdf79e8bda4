"""Run notebooks' code cells (definitions and the tests under them) as plain Python, one namespace per notebook, on
whatever device the package picks (CUDA where present). For a machine without Jupyter: it needs only the packages the
notebooks import, plus fastcore for their `test_eq`. Prints one line per notebook and exits 1 if any failed.

    python bench/gpu_notebooks.py nbs/08c_heads.ipynb nbs/08d_dpo.ipynb [--out FILE]
"""
import argparse, json, time, traceback
from pathlib import Path


def code_cells(path: Path) -> list[str]:
    "The notebook's code cells, shell and magic lines left out."
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    keep = lambda line: not line.lstrip().startswith(("!", "%"))
    return ["".join(line for line in c["source"] if keep(line)) for c in cells]


def run_notebook(path: Path) -> dict:
    "Execute every code cell in order; the first failure ends the notebook."
    namespace, t0 = {"__name__": "__notebook__"}, time.perf_counter()
    cells = code_cells(path)
    for i, source in enumerate(cells):
        try:
            exec(compile(source, f"{path.name}[cell {i}]", "exec"), namespace)
        except Exception:
            return {"ok": False, "cell": i, "of": len(cells), "error": traceback.format_exc()[-2500:],
                    "seconds": round(time.perf_counter() - t0, 1)}
    return {"ok": True, "cells": len(cells), "seconds": round(time.perf_counter() - t0, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebooks", nargs="+")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    import torch
    out = {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu", "notebooks": {}}
    for nb in a.notebooks:
        out["notebooks"][nb] = r = run_notebook(Path(nb))
        print(nb, "passed" if r["ok"] else f"FAILED at cell {r['cell']}:\n{r['error']}", f"({r['seconds']} s)", flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    raise SystemExit(0 if all(r["ok"] for r in out["notebooks"].values()) else 1)


if __name__ == "__main__":
    main()
