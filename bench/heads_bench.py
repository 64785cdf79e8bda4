"""Heads on real data, on the embedded model (Gemma 3 270M), CPU:

- `--part ellipse`: the `essay_scorer` specialist (a six-dimension regression head) on ELLIPSE: test MAE and MCRMSE
  against the training mean, per dimension, training time and scoring speed.
- `--part ellipse_json`: the comparison for the head: a generative scorer (SFT, the six scores written as one JSON
  object) on the same ELLIPSE split (the essay_scorer's, the essays cut to the same 256 tokens), and the training
  mean as a predictor, all scored the same way (MAE and RMSE per dimension; MCRMSE).
- `--part banking77`: the `intent` specialist two ways on the same rows: its generative recipe (SFT, evaluated by
  label scoring) and a classification head (`train.method: head`): accuracy, test examples/s, training seconds.
- `--part conll`: the `ner` specialist two ways on the same rows: generation (SFT, the entity list written out) and
  a token-classification head (a tag per word): entity F1 on CoNLL's validation split, examples/s, training seconds.

    SIMPLEX_SHARED_DATA=../shared/data python bench/heads_bench.py --part ellipse --runs-root /tmp/heads  # 1,000 essays
    SIMPLEX_SHARED_DATA=../shared/data python bench/heads_bench.py --part ellipse --max-train 4000 --key ellipse_all_train
    SIMPLEX_SHARED_DATA=../shared/data python bench/heads_bench.py --part ellipse_json --runs-root /tmp/heads_json
    SIMPLEX_SHARED_DATA=../shared/data python bench/heads_bench.py --part ellipse_json --max-train 4000 \
        --runs-root /tmp/heads_json_all --key ellipse_json_all_train  # every training essay, as the head's run above
    SIMPLEX_SHARED_DATA=../shared/data python bench/heads_bench.py --part banking77 --max-train 1000 --max-test 300
    SIMPLEX_SHARED_DATA=../shared/data python bench/heads_bench.py --part conll --max-train 1000 --max-test 300

Results are merged into bench/heads_results.json (one entry per part), with the machine and the command.
"""
import argparse, json, sys, time
from pathlib import Path

from simplex_train.base.core import read_json, write_json
from simplex_train.base.device import describe_machine
from simplex_train.workflow.options import RunOptions
from simplex_train.workflow.pipeline import run_pipeline

OUT = Path(__file__).with_name("heads_results.json")


def _stage_seconds(run) -> dict:
    return {k: v.get("seconds") for k, v in read_json(run.manifest)["stages"].items()}


def _summary(run) -> dict:
    tuned = read_json(run.metrics_file("finetuned"))
    out = {"run": str(run.root), "finetuned": tuned["metrics"], "test_rows": tuned["n"],
           "test_examples_per_second": tuned["examples_per_second"], "stage_seconds": _stage_seconds(run)}
    if run.gate.exists():  # the comparison runs train and evaluate only: both methods on the same rows
        out.update(gate=read_json(run.gate)["decision"], baseline=read_json(run.metrics_file("baseline"))["metrics"])
    for key in ("per_dimension", "by_tier", "overfitting"):
        if key in tuned:
            out[key] = tuned[key]
    if run.training_metadata.exists():
        meta = read_json(run.training_metadata)
        out["train"] = {k: meta.get(k) for k in ("train_rows", "steps", "seconds", "best_metric")}
    return out


def ellipse(args) -> dict:
    opts = RunOptions(specialist="essay_scorer", runs_root=args.runs_root, run_id="bench", gguf=False,
                      max_train=args.max_train)  # fmt: skip
    t0 = time.perf_counter()
    run = run_pipeline(opts)
    return {**_summary(run), "wall_seconds": round(time.perf_counter() - t0, 1)}


JSON_SCORER = """name: essay_scorer_json
description: Scores an English learner's essay as JSON (six dimensions, 1-5); the generative side of the comparison.
task: {{type: generation, metric: mae, dimensions: {dims}, scale: [1, 5]}}
data: {{root: {root}, splits: {{train: train.jsonl, val: val.jsonl, test: test.jsonl}}, text_field: text,
        json_fields: {dims}, label_field_required: false, metadata_fields: [text_id]}}
prompt: {{template: "Essay:\\n{{text}}\\nScores:", response: " {{label}}"}}
base_model: embedded
lora: {{r: 16, alpha: 32, target_modules: all-linear}}
train: {{method: sft, learning_rate: 3.0e-4, epochs: 1, batch_size: 8, grad_accum: 2, max_seq_len: 340,
         eval_steps: 25, best_by: eval_loss}}
eval: {{batch_size: 16, max_new_tokens: 64, stop: ["\\n"], max_val_rows: 120, max_test_rows: 400}}
thresholds: {{baseline_target: 0.55, finetuned_target: 0.45, review_band: 0.05, max_general_ppl_increase: null}}
"""


def _cut_rows(rows: list[dict], tok, dims: list[str], max_tokens: int) -> list[dict]:
    "The essay_scorer's split rows as JSON-scorer rows: the essay cut to the head's token window, the six scores."
    out = []
    for r in rows:
        essay = r["prompt"].split("Essay:\n", 1)[1]
        ids = tok(essay, add_special_tokens=False)["input_ids"][:max_tokens]
        scores = dict(zip(dims, r["metadata"]["scores"]))
        out.append({"text": tok.decode(ids), "text_id": r["metadata"].get("text_id"), **scores,
                    "label": json.dumps(scores)})  # fmt: skip
    return out


def _mean_predictor(train: list[dict], test: list[dict], dims: list[str]) -> dict:
    "Each dimension's training mean as the prediction for every test essay: MAE and RMSE per dimension."
    import numpy as np

    mean = np.array([[r[d] for d in dims] for r in train]).mean(0)
    err = np.abs(np.array([[r[d] for d in dims] for r in test]) - mean)
    mae, rmse = err.mean(0), np.sqrt((err**2).mean(0))
    return {"mae": float(mae.mean()), "mcrmse": float(rmse.mean()),
            "per_dimension": {d: {"mae": float(a), "rmse": float(b)} for d, a, b in zip(dims, mae, rmse)}}


def ellipse_json(args) -> dict:
    "The generative JSON scorer and the training mean on the essay_scorer's own split (same rows, same window)."
    from simplex_train.base.config import load_specialist
    from simplex_train.base.core import read_jsonl, write_jsonl
    from simplex_train.modeling.models import load_tokenizer, local_model_path

    head = load_specialist("essay_scorer")
    dims = head.task.dimensions
    split_run = run_pipeline(RunOptions(specialist="essay_scorer", runs_root=args.runs_root, run_id="split",
                                        gguf=False, max_train=args.max_train), ["prepare"])  # fmt: skip
    tok = load_tokenizer(local_model_path("embedded"))
    root = Path(args.runs_root) / "ellipse_json_data"
    root.mkdir(parents=True, exist_ok=True)
    rows = {s: _cut_rows(read_jsonl(split_run.split(s)), tok, dims, head.train.max_seq_len) for s in ("train", "val", "test")}
    for s, rs in rows.items():
        write_jsonl(root / f"{s}.jsonl", rs)
    spec = root / "essay_scorer_json.yaml"
    spec.write_text(JSON_SCORER.format(dims="[" + ", ".join(dims) + "]", root=root))
    t0 = time.perf_counter()
    opts = RunOptions(specialist=str(spec), runs_root=args.runs_root, run_id="bench", gguf=False, export_merged=False)
    run = run_pipeline(opts, ["prepare", "train", "evaluate"])
    tuned = read_json(run.metrics_file("finetuned"))["metrics"]
    generative = {"mae": tuned["mae"], "mcrmse": tuned["rmse"], "parse_failures": tuned["parse_failures"],
                  "per_dimension": {d: {"mae": tuned[f"mae_{d}"], "rmse": tuned[f"rmse_{d}"]} for d in dims}}  # fmt: skip
    return {"split": {s: len(r) for s, r in rows.items()}, "split_sha256": read_json(split_run.data_manifest)["splits"],
            "generative_json": {**generative, **_summary(run), "wall_seconds": round(time.perf_counter() - t0, 1)},
            "training_mean": _mean_predictor(rows["train"], rows["test"], dims)}  # fmt: skip


HEAD_LR = 1.0e-3  # a head trained in full from zero learns faster than LoRA's 2e-4 allows (0.555 vs 0.37, 600 rows)


def both_methods(specialist: str, args) -> dict:
    "The specialist trained and evaluated with a head and with its generative recipe, on the same rows."
    out = {}
    for method in args.methods.split(","):
        # the generative side picks its checkpoint by validation loss: label scoring 77 labels at every validation
        # would cost more than the training itself on a CPU
        lr = {"train.learning_rate": HEAD_LR} if method == "head" else {"train.best_by": "eval_loss"}
        opts = RunOptions(specialist=specialist, runs_root=f"{args.runs_root}/{method}", run_id="bench", gguf=False,
                          export_merged=False, max_train=args.max_train, max_test=args.max_test,
                          overrides={"train.method": method, **lr})  # fmt: skip
        t0 = time.perf_counter()
        first = ["prepare", "baseline"] if method == "head" else ["prepare"]  # a head's baseline is instant
        run = run_pipeline(opts, first + ["train", "evaluate"])
        out[method] = {**_summary(run), "wall_seconds": round(time.perf_counter() - t0, 1)}
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--part", choices=["ellipse", "ellipse_json", "banking77", "conll"], required=True)
    p.add_argument("--runs-root", default="/tmp/heads_bench")
    p.add_argument("--max-train", type=int, default=1000)
    p.add_argument("--max-test", type=int, default=300)
    p.add_argument("--methods", default="head,sft", help="which sides of a comparison to run (results merge)")
    p.add_argument("--key", default=None, help="the entry of heads_results.json to write (default: the part)")
    args = p.parse_args()
    parts = {"ellipse": ellipse, "ellipse_json": ellipse_json, "banking77": lambda a: both_methods("intent", a),
             "conll": lambda a: both_methods("ner", a)}
    result = parts[args.part](args)
    results, key = read_json(OUT) if OUT.exists() else {}, args.key or args.part
    before = results.get(key, {}) if args.part not in ("ellipse", "ellipse_json") else {}
    results[key] = {**before, "command": "python " + " ".join(sys.argv), "machine": describe_machine(), **result}
    write_json(OUT, results)
    print(json.dumps(results[key], indent=1))


if __name__ == "__main__":
    main()
