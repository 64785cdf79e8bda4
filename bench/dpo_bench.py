"""CPU DPO speed: our DPO step vs TRL's DPOTrainer with its default settings, same model (the embedded Gemma 3 270M),
same pairs (HH-RLHF harmless pairs, or generated context-protocol pairs without the shared data), same LoRA config,
batch size, learning rate, beta and steps. Each trainer runs in its own process, so peak RSS is its own. Ours includes
the one pass that computes the frozen reference's log-probabilities (TRL's default computes them at every step).

    SIMPLEX_SHARED_DATA=../shared/data .venv/bin/python bench/dpo_bench.py [--pairs 32] [--batch 4]
"""
import argparse, json, os, platform, resource, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).resolve()


def pairs_for_bench(n: int) -> tuple[str, list[dict]]:
    "Prepared preference rows {prompt, response, rejected}: HH-RLHF when present, else context-protocol pairs."
    from simplex_train.base.core import read_jsonl
    from simplex_train.workflow.options import RunOptions
    from simplex_train.workflow.pipeline import run_pipeline
    name = "harmless_dpo" if os.environ.get("SIMPLEX_SHARED_DATA") else "context_protocol"
    run = run_pipeline(RunOptions(specialist=name, runs_root="/tmp/dpo_bench", run_id=f"data-{name}", max_train=n,
                                  gguf=False, force=True), ["prepare"])
    rows = read_jsonl(run.split("train"))[:n]
    if name != "harmless_dpo":   # a wrong answer from another row as the rejected one
        rows = [{**r, "rejected": rows[(i + 1) % len(rows)]["response"]} for i, r in enumerate(rows)]
    return name, rows


def worker(kind: str, rows_file: str, batch: int) -> dict:
    import torch
    from datasets import Dataset
    from simplex_train.base.config import apply_overrides, load_specialist
    from simplex_train.base.core import read_jsonl
    from simplex_train.base.device import set_seed
    from simplex_train.modeling.models import load_tokenizer, local_model_path, peft_lora_config
    torch.set_num_threads(os.cpu_count())
    rows = read_jsonl(rows_file)
    steps = len(rows) // batch
    spec = apply_overrides(load_specialist("harmless_dpo"), {
        "train.batch_size": batch, "train.grad_accum": 1, "train.max_steps": steps, "train.eval_steps": steps,
        "train.save_steps": steps, "train.warmup_ratio": 0.0})
    path, out_dir = local_model_path("embedded"), f"/tmp/dpo_bench/{kind}"
    tok = load_tokenizer(path)
    set_seed(0)
    t = time.perf_counter()
    if kind == "trl":
        from trl import DPOConfig, DPOTrainer
        ds = Dataset.from_list([{"prompt": r["prompt"], "chosen": r["response"], "rejected": r["rejected"]} for r in rows])
        args = DPOConfig(output_dir=out_dir, per_device_train_batch_size=batch, max_steps=steps, beta=spec.dpo.beta,
                         learning_rate=spec.train.learning_rate, use_cpu=True, report_to=[], logging_steps=1,
                         save_strategy="no")
        trainer = DPOTrainer(model=path, args=args, train_dataset=ds, processing_class=tok,   # TRL loads it: float32
                             peft_config=peft_lora_config(spec.lora))
        reference_s = 0.0
        t = time.perf_counter()
        trainer.train()
    else:
        from simplex_train.learning.dpo import dpo_trainer, encode_pair, pair_dataset, reference_logps
        from simplex_train.modeling.attention import segment_attention
        from simplex_train.learning.training import load_for_training
        model, _ = load_for_training(path, spec, "peft")     # the pipeline's loader: the run's dtype, LoRA attached
        pairs = [encode_pair(tok, r, spec.train.max_seq_len) for r in rows]
        t = time.perf_counter()
        ref = reference_logps(model, pairs, batch)
        reference_s = time.perf_counter() - t
        trainer = dpo_trainer(model, tok, spec, Path(out_dir), pair_dataset(pairs, ref))   # the pipeline's trainer
        with segment_attention(model):
            trainer.train()
    seconds = time.perf_counter() - t
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"kind": kind, "steps": steps, "batch": batch, "seconds": round(seconds, 1),
            "reference_seconds": round(reference_s, 1), "steps_per_s": round(steps / seconds, 4),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "first_loss": round(losses[0], 4), "last_loss": round(losses[-1], 4),
            "dtype": str(next(trainer.model.parameters()).dtype),
            "gradient_checkpointing": bool(getattr(trainer.args, "gradient_checkpointing", False))}


def run_worker(kind: str, rows_file: str, batch: int) -> dict:
    r = subprocess.run([sys.executable, str(HERE), "--worker", kind, "--rows-file", rows_file, "--batch", str(batch)],
                       capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{kind} worker failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=32)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--worker")
    ap.add_argument("--rows-file")
    ap.add_argument("--out", default=str(HERE.parent / "dpo_results.json"))
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker, a.rows_file, a.batch)))
        return
    from simplex_train.base.core import write_jsonl
    name, rows = pairs_for_bench(a.pairs)
    rows_file = "/tmp/dpo_bench/pairs.jsonl"
    write_jsonl(rows_file, rows)
    results = {kind: run_worker(kind, rows_file, a.batch) for kind in ("ours", "trl")}
    ours, trl = results["ours"], results["trl"]
    out = {"command": "python bench/dpo_bench.py " + " ".join(sys.argv[1:]), "data": name, "pairs": len(rows),
           "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", **results,
           "throughput_ratio": round(trl["seconds"] / ours["seconds"], 2),
           "memory_ratio": round(trl["peak_rss_mb"] / ours["peak_rss_mb"], 2)}
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
