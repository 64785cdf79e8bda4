"""SFT -> generated pairs -> DPO on a specialist with a verifiable metric, measured on the same test split: the SFT
run's own answers sampled k times per training prompt and scored by the task metric (best = chosen, worst =
rejected), DPO from the SFT adapter against it as the frozen reference, then the task metric of both adapters on the
SFT run's test split with a paired bootstrap. Usage:

    python bench/dpo_pairs_bench.py runs/context_protocol/RUN [--prompts 400] [--k 4] [--lr 5e-5] [--beta 0.1]
"""
import argparse, json, platform, os, time
from pathlib import Path

from simplex_train.base.config import apply_overrides
from simplex_train.base.core import read_jsonl, write_json
from simplex_train.base.device import model_dtype, set_seed
from simplex_train.learning.dpo import train_dpo
from simplex_train.evaluation.evaluate import evaluate_split
from simplex_train.measures.metrics import bootstrap_delta
from simplex_train.modeling.models import load_adapted, load_adapter_weights, load_tokenizer, local_model_path
from simplex_train.base.runs import RunDir
from simplex_train.workflow.trained import pairs_from_run, run_spec
from simplex_train.learning.training import load_for_training

HERE = Path(__file__).resolve()


def dpo_rows(pairs: list[dict], lead: str) -> list[dict]:
    "Generated pairs as DPO rows, the response template's leading space given back to both answers."
    return [{"prompt": p["prompt"], "response": lead + p["chosen"], "rejected": lead + p["rejected"]} for p in pairs]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sft_run")
    ap.add_argument("--prompts", type=int, default=400)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--out", default=str(HERE.parent / "dpo_pairs_results.json"))
    a = ap.parse_args()
    sft = RunDir.existing(a.sft_run)
    spec = run_spec(sft)
    t0 = time.perf_counter()
    made = pairs_from_run(sft.root, "train", a.k, a.temperature, a.prompts)
    pairs_s = time.perf_counter() - t0
    rows = dpo_rows(read_jsonl(made["output"]), " " if spec.prompt.response.startswith(" ") else "")
    n_val = max(len(rows) // 10, 8)
    dspec = apply_overrides(spec, {"train.method": "dpo", "data.rejected_field": "rejected", "dpo.beta": a.beta,
                                   "train.learning_rate": a.lr, "rehearsal.general": 0.0, "rehearsal.earlier": 0.0, "train.epochs": 1,
                                   "train.max_steps": -1, "train.eval_steps": 5, "train.save_steps": 5})
    run = RunDir.create(spec.name + "_dpo", sft.root.parent.parent, sft.root.name)
    path = local_model_path(spec.base_model)
    set_seed(dspec.train.seed)
    model, tok = load_for_training(path, dspec, "peft")
    load_adapter_weights(model, sft.adapter)
    t0 = time.perf_counter()
    meta = train_dpo(model, tok, dspec, run, rows[n_val:], rows[:n_val])
    train_s = time.perf_counter() - t0
    test = read_jsonl(sft.split("test"))
    dtype = model_dtype(spec.train.precision)
    recs = {}
    for name, adapter in (("sft", sft.adapter), ("sft_dpo", run.adapter)):
        m = load_adapted(path, adapter, dtype=dtype)
        recs[name] = evaluate_split(m, load_tokenizer(str(adapter)), spec, test, run, name)
    per = {k: [p["score"] for p in read_jsonl(run.predictions(k))] for k in recs}
    metric = spec.task.metric
    out = {"command": "python bench/dpo_pairs_bench.py " + " ".join(os.sys.argv[1:]),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores", "sft_run": str(sft.root), "pairs": made,
           "pairs_seconds": round(pairs_s, 1), "dpo_train_rows": len(rows) - n_val, "dpo_val_rows": n_val,
           "dpo_seconds": round(train_s, 1), "dpo_steps": meta["steps"], "metric": metric,
           "sft": recs["sft"]["metrics"], "sft_dpo": recs["sft_dpo"]["metrics"],
           "by_stratum": {k: r.get("by_stratum") for k, r in recs.items()},
           "change": bootstrap_delta(per["sft"], per["sft_dpo"])}
    write_json(a.out, out)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
