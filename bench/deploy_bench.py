"""GGUF export and served check of a fine-tuned run: for each GGUF type, its size and conversion time, then the test
split through a real llama.cpp server (HTTP, one request at a time) vs the PyTorch metric on the same rows. Usage:

    .venv/bin/python bench/deploy_bench.py RUN_DIR [--specialist sentiment] [--max-rows N]

RUN_DIR must hold a finished run with a merged model (e.g. `simplex-train run sentiment`).
"""
import argparse, json, os, platform, time
from pathlib import Path

from simplex_train.base.config import apply_overrides, load_specialist
from simplex_train.base.runs import RunDir
from simplex_train.base.core import read_json
from simplex_train.shipping.deploy import deploy_check
from simplex_train.shipping.gguf import export_gguf
from simplex_train.modeling.models import local_model_path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--specialist", default="sentiment")
    ap.add_argument("--max-rows", type=int, default=None, help="default: the whole test split")
    ap.add_argument("--out", default="bench/deploy_results.json")
    a = ap.parse_args()
    run = RunDir(Path(a.run_dir))
    spec = apply_overrides(load_specialist(a.specialist), {"deploy.max_rows": a.max_rows or 10**9})   # default: every test row
    t = time.perf_counter()
    info = export_gguf(run, spec, local_model_path(spec.base_model))
    export_s = time.perf_counter() - t
    out = {"run": str(run.root), "export_seconds_all": round(export_s, 1), "skipped": info["skipped"], "types": {},
           "pytorch_full_test": read_json(run.metrics_file("finetuned"))["metrics"][spec.task.metric]}
    for q, f in info["files"].items():
        c = deploy_check(run, spec, progress=False, gguf_type=q, write=(q == spec.deploy.serve))
        out["types"][q] = {"mb": round(f["bytes"] / 1e6, 1), "n": c["n"], "served": round(c["served"], 4), "pytorch": round(c["pytorch"], 4),
                           "difference": round(c["difference"], 4), "agreement": round(c["agreement"], 4),
                           "p50_s": round(c["latency_s"]["p50"], 3), "p95_s": round(c["latency_s"]["p95"], 3), "ok": c["ok"]}
        print(q, out["types"][q], flush=True)
    out["adapter_gguf_mb"] = round(info["adapter"]["bytes"] / 1e6, 2)
    out["command"] = f"python bench/deploy_bench.py {a.run_dir} --specialist {a.specialist}" + (f" --max-rows {a.max_rows}" if a.max_rows else "")
    out["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, no GPU"
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
