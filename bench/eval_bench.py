"""Evaluation speed on SST-2 dev, measured in one run: label scoring vs generate-and-parse (batched, and one prompt
at a time as a hand-written notebook does it), for the embedded base model and, with --finetuned, a fine-tuned
sentiment run's merged model (which writes label words, so both methods reach comparable accuracy). Usage:

    SIMPLEX_SHARED_DATA=../shared/data .venv/bin/python bench/eval_bench.py [--n 872] [--n-single 48] \
        [--finetuned runs/sentiment/sst2-a]
"""
import argparse, json, os, platform, tempfile, time
from pathlib import Path

import torch

from simplex_train.base.config import apply_overrides, load_specialist
from simplex_train.base.runs import RunDir
from simplex_train.base.core import read_jsonl
from simplex_train.base.device import set_seed
from simplex_train.inputs.data import prepare_data
from simplex_train.labels.tasks import compute_metrics
from simplex_train.modeling.predict import predict_rows
from simplex_train.modeling.models import load_model, load_tokenizer, local_model_path
from simplex_train.base.device import model_dtype

GENERATE = {"eval.method": "generate", "eval.max_new_tokens": 3, "eval.stop": ["\n"]}


def timed(fn):
    t = time.perf_counter(); out = fn(); return out, time.perf_counter() - t


def measure(model, tok, spec, rows, overrides: dict) -> dict:
    s = apply_overrides(spec, overrides)
    (preds, _), secs = timed(lambda: predict_rows(model, tok, s, rows, progress=False))
    m = compute_metrics(s, rows, preds)["metrics"]
    return {"n": len(rows), "seconds": round(secs, 2), "examples_per_s": round(len(rows) / secs, 2),
            "accuracy": round(m["accuracy"], 4), "parse_failures": m["parse_failures"]}


def bench_model(path: str, spec, rows, n_single: int, dtype) -> dict:
    tok, model = load_tokenizer(path), load_model(path, dtype)
    res = {"dtype": str(dtype).replace("torch.", "")}
    res["label_scoring"] = measure(model, tok, spec, rows, {"eval.method": "label_scoring"})
    print(path, "label_scoring", res["label_scoring"], flush=True)
    res["generate_batched"] = measure(model, tok, spec, rows, {**GENERATE, "eval.batch_size": 16})
    print(path, "generate_batched", res["generate_batched"], flush=True)
    res["generate_one_by_one"] = measure(model, tok, spec, rows[:n_single], {**GENERATE, "eval.batch_size": 1})
    print(path, "generate_one_by_one", res["generate_one_by_one"], flush=True)
    ls = res["label_scoring"]["examples_per_s"]
    res["ratio_vs_generate_batched"] = round(ls / res["generate_batched"]["examples_per_s"], 2)
    res["ratio_vs_generate_one_by_one"] = round(ls / res["generate_one_by_one"]["examples_per_s"], 2)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=872)
    ap.add_argument("--n-single", type=int, default=48)
    ap.add_argument("--finetuned", default=None, help="a sentiment run folder with merged/ (its fine-tuned model)")
    ap.add_argument("--out", default="bench/eval_results.json")
    a = ap.parse_args()
    set_seed(0)
    spec = apply_overrides(load_specialist("sentiment"), {"eval.max_test_rows": a.n})
    with tempfile.TemporaryDirectory() as d:
        run = RunDir.create("bench", d, "r")
        prepare_data(spec, run, Path(os.environ["SIMPLEX_SHARED_DATA"]) / "sst2")
        rows = read_jsonl(run.split("test"))
    base, dtype = local_model_path("embedded"), model_dtype("auto", "cpu")
    res = {"base": bench_model(base, spec, rows, a.n_single, dtype)}
    tok, fp32 = load_tokenizer(base), load_model(base, torch.float32)
    res["base"]["label_scoring_float32"] = measure(fp32, tok, spec, rows, {"eval.method": "label_scoring"})
    print("label_scoring float32", res["base"]["label_scoring_float32"], flush=True)
    del fp32
    if a.finetuned: res["finetuned"] = bench_model(str(Path(a.finetuned) / "merged"), spec, rows, a.n_single, dtype)
    cmd = "SIMPLEX_SHARED_DATA=../shared/data .venv/bin/python bench/eval_bench.py" + (f" --finetuned {a.finetuned}" if a.finetuned else "")
    rec = {"command": cmd, "machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU, torch {torch.__version__}", "results": res}
    print(json.dumps(rec, indent=1))
    Path(a.out).write_text(json.dumps(rec, indent=2) + "\n")


if __name__ == "__main__":
    main()
