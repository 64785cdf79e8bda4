"""Baseline (untrained) metrics of the embedded model for the catalog's real-data specialists, on each test split
(capped with --max-test for CPU time). Usage:

    SIMPLEX_SHARED_DATA=../shared/data .venv/bin/python bench/baselines.py [--max-test 100] [names...]
"""
import argparse, json, platform, os, time
from pathlib import Path

from simplex_train.base.core import read_json
from simplex_train.workflow.options import RunOptions
from simplex_train.workflow.pipeline import run_pipeline

DEFAULT = ["sentiment", "ag_news", "intent", "ner", "sql", "faq", "summarization", "code_humaneval"]
CAPS = {"sentiment": None, "intent": 100, "code_humaneval": 40}   # SST-2 dev whole; 77-way scoring and 256-token code generation are costly on 2 cores


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", default=DEFAULT)
    ap.add_argument("--max-test", type=int, default=100)
    ap.add_argument("--out", default="bench/baselines.json")
    a = ap.parse_args()
    out = json.loads(Path(a.out).read_text()) if Path(a.out).exists() else {}
    for name in a.names:
        t = time.perf_counter()
        cap = CAPS.get(name, a.max_test)
        run = run_pipeline(RunOptions(specialist=name, runs_root="/tmp/baselines", run_id=name, max_test=cap), ["prepare", "baseline"])
        rec = read_json(run.metrics_file("baseline"))
        out[name] = {"n": rec["n"], "metric": rec["primary_metric"], "value": round(rec["metrics"][rec["primary_metric"]], 4),
                     "metrics": {k: round(v, 4) for k, v in rec["metrics"].items()}, "examples_per_s": rec["examples_per_second"],
                     "seconds_total": round(time.perf_counter() - t, 1),
                     "command": f"simplex-train run {name} --max-test {cap} (stages prepare, baseline)" if cap else f"simplex-train run {name} (stages prepare, baseline)"}
        print(name, out[name], flush=True)
        Path(a.out).write_text(json.dumps({**out, "_machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU"}, indent=2) + "\n")


if __name__ == "__main__":
    main()
