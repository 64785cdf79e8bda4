"""Heads on real data, on the embedded model (Gemma 3 270M), CPU:

- `--part ellipse`: the `essay_scorer` specialist (a six-dimension regression head) on ELLIPSE: test MAE and MCRMSE
  against the training mean, per dimension, training time and scoring speed.
- `--part banking77`: the `intent` specialist two ways on the same rows: its generative recipe (SFT, evaluated by
  label scoring) and a classification head (`train.method: head`): accuracy, test examples/s, training seconds.
- `--part conll`: the `ner` specialist two ways on the same rows: generation (SFT, the entity list written out) and
  a token-classification head (a tag per word): entity F1 on CoNLL's validation split, examples/s, training seconds.

    SIMPLEX_SHARED_DATA=../shared/data python bench/heads_bench.py --part ellipse --runs-root /tmp/heads
    SIMPLEX_SHARED_DATA=../shared/data python bench/heads_bench.py --part banking77 --max-train 1000 --max-test 300
    SIMPLEX_SHARED_DATA=../shared/data python bench/heads_bench.py --part conll --max-train 1000 --max-test 300

Results are merged into bench/heads_results.json (one entry per part), with the machine and the command.
"""
import argparse, json, sys, time
from pathlib import Path

from simplex_train.core import read_json, write_json
from simplex_train.device import describe_machine
from simplex_train.options import RunOptions
from simplex_train.pipeline import run_pipeline

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
    opts = RunOptions(specialist="essay_scorer", runs_root=args.runs_root, run_id="bench", gguf=False)
    return _summary(run_pipeline(opts))


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
    p.add_argument("--part", choices=["ellipse", "banking77", "conll"], required=True)
    p.add_argument("--runs-root", default="/tmp/heads_bench")
    p.add_argument("--max-train", type=int, default=1000)
    p.add_argument("--max-test", type=int, default=300)
    p.add_argument("--methods", default="head,sft", help="which sides of a comparison to run (results merge)")
    args = p.parse_args()
    parts = {"ellipse": ellipse, "banking77": lambda a: both_methods("intent", a),
             "conll": lambda a: both_methods("ner", a)}
    result = parts[args.part](args)
    results = read_json(OUT) if OUT.exists() else {}
    before = results.get(args.part, {}) if args.part != "ellipse" else {}
    results[args.part] = {**before, "command": "python " + " ".join(sys.argv), "machine": describe_machine(), **result}
    write_json(OUT, results)
    print(json.dumps(results[args.part], indent=1))


if __name__ == "__main__":
    main()
