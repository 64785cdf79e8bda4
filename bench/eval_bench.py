"""Evaluation speed: label scoring vs generate-and-parse on SST-2 dev with the embedded model, and batched vs
one-by-one generation, measured in the same run. Usage:

    SIMPLEX_SHARED_DATA=../shared/data .venv/bin/python bench/eval_bench.py [--n 872] [--n-single 48]
"""
import argparse, json, os, platform, tempfile, time
from pathlib import Path

from simplex_train.config import apply_overrides, load_specialist
from simplex_train.core import RunDir, read_jsonl, set_seed
from simplex_train.data import prepare_data
from simplex_train.evaluate import compute_metrics, predict_rows
from simplex_train.models import load_model, load_tokenizer, local_model_path
from simplex_train.predict import generate


def timed(fn):
    t = time.perf_counter(); out = fn(); return out, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=872)
    ap.add_argument("--n-single", type=int, default=48)
    ap.add_argument("--out", default="bench/eval_results.json")
    a = ap.parse_args()
    torch_threads = os.cpu_count()
    set_seed(0)
    spec = apply_overrides(load_specialist("sentiment"), {"eval.max_test_rows": a.n})
    with tempfile.TemporaryDirectory() as d:
        run = RunDir.create("bench", d, "r")
        prepare_data(spec, run, Path(os.environ["SIMPLEX_SHARED_DATA"]) / "sst2")
        rows = read_jsonl(run.split("test"))
    path = local_model_path("embedded")
    tok, model = load_tokenizer(path), load_model(path)
    res = {}
    for method, extra in (("label_scoring", {}), ("generate", {"eval.max_new_tokens": 3, "eval.batch_size": 16})):
        s = apply_overrides(spec, {"eval.method": method, **extra})
        (preds, raw), secs = timed(lambda: predict_rows(model, tok, s, rows, progress=False))
        m = compute_metrics(s, rows, preds)["metrics"]
        res[method] = {"n": len(rows), "seconds": round(secs, 2), "examples_per_s": round(len(rows) / secs, 2),
                       "accuracy": round(m["accuracy"], 4), "parse_failures": m["parse_failures"]}
        print(method, res[method], flush=True)
    prompts = [r["prompt"] for r in rows[: a.n_single]]
    batched, tb = timed(lambda: generate(model, tok, prompts, 3, ["\n"], 16, False))
    single, ts = timed(lambda: [generate(model, tok, [p], 3, ["\n"], 1, False)[0] for p in prompts])
    res["generation_batched_vs_single"] = {"n": len(prompts), "batched_s": round(tb, 2), "single_s": round(ts, 2),
                                           "speedup": round(ts / tb, 2), "same_outputs": batched == single}
    res["ratio_label_scoring_vs_generate"] = round(res["label_scoring"]["examples_per_s"] / res["generate"]["examples_per_s"], 2)
    rec = {"command": "SIMPLEX_SHARED_DATA=../shared/data .venv/bin/python bench/eval_bench.py", "machine":
           f"{platform.machine()}, {torch_threads} cores, no GPU", "results": res}
    print(json.dumps(rec, indent=1))
    Path(a.out).write_text(json.dumps(rec, indent=2) + "\n")


if __name__ == "__main__":
    main()
