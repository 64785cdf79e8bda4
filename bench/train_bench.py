"""CPU training speed: our train step vs TRL's SFTTrainer with its default settings, same model (the embedded
Gemma 3 270M), same data (SST-2 train rows, one pass), same LoRA config, same batch size, learning rate and steps.
Each trainer runs in its own process, so peak RSS is its own. Usage:

    SIMPLEX_SHARED_DATA=../shared/data .venv/bin/python bench/train_bench.py [--rows 48] [--batch 8] [--specialist NAME]

Without the shared data (or with --specialist context_protocol) it uses the generated context-protocol rows.
"""
import argparse, json, os, platform, resource, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).resolve()


def rows_for_bench(n: int, name: str | None) -> tuple[str, list[dict]]:
    from simplex_train.base.core import read_jsonl
    from simplex_train.workflow.options import RunOptions
    from simplex_train.workflow.pipeline import run_pipeline
    name = name or ("sentiment" if os.environ.get("SIMPLEX_SHARED_DATA") else "context_protocol")
    run = run_pipeline(RunOptions(specialist=name, runs_root="/tmp/train_bench", run_id=f"data-{name}", max_train=n, gguf=False, force=True), ["prepare"])
    return name, read_jsonl(run.split("train"))[:n]


def worker(kind: str, name: str, rows_file: str, batch: int, quantization: str = "none") -> dict:
    import torch
    from datasets import Dataset
    from simplex_train.base.config import apply_overrides, load_specialist
    from simplex_train.base.core import read_jsonl
    from simplex_train.base.device import set_seed
    from simplex_train.modeling.models import load_tokenizer, local_model_path, peft_lora_config
    from simplex_train.inputs.prompts import encode_example
    torch.set_num_threads(os.cpu_count())
    rows = read_jsonl(rows_file)
    steps = len(rows) // batch
    spec = apply_overrides(load_specialist(name), {"train.batch_size": batch, "train.grad_accum": 1, "train.max_steps": steps,
                                                    "train.eval_steps": steps, "train.save_steps": steps, "train.warmup_ratio": 0.0,
                                                    "train.quantization": quantization if kind == "ours" else "none"})
    path = local_model_path("embedded")
    tok = load_tokenizer(path)
    set_seed(0)
    out_dir = f"/tmp/train_bench/{kind}"
    if kind == "trl":
        from trl import SFTConfig, SFTTrainer
        ds = Dataset.from_list([{"prompt": r["prompt"], "completion": r["response"]} for r in rows])
        args = SFTConfig(output_dir=out_dir, per_device_train_batch_size=batch, max_steps=steps, learning_rate=spec.train.learning_rate,
                         max_length=spec.train.max_seq_len, use_cpu=True, report_to=[], logging_steps=1, save_strategy="no")
        trainer = SFTTrainer(model=path, args=args, train_dataset=ds, processing_class=tok,   # TRL loads it: float32
                             peft_config=peft_lora_config(spec.lora))
    else:
        from simplex_train.learning.sft import sft_dataset, sliced_trainer
        from simplex_train.learning.training import load_for_training
        model, _ = load_for_training(path, spec, "peft")     # the pipeline's loader: the run's dtype, LoRA attached
        trainer = sliced_trainer(model, tok, spec, Path(out_dir), sft_dataset(tok, rows, spec.train.max_seq_len))   # the pipeline's trainer
        args = trainer.args
    tokens = sum(len(encode_example(tok, r["prompt"], r["response"], spec.train.max_seq_len)["input_ids"]) for r in rows[: steps * batch])
    from contextlib import nullcontext
    from simplex_train.modeling.attention import segment_attention
    t = time.perf_counter()
    with segment_attention(trainer.model) if kind == "ours" else nullcontext():   # as train_sft does
        trainer.train()
    seconds = time.perf_counter() - t
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"trainer": kind, "steps": steps, "tokens": tokens, "seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 1),
            "s_per_step": round(seconds / steps, 2), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "first_loss": losses[0], "last_loss": losses[-1], "gradient_checkpointing": bool(args.gradient_checkpointing),
            "bf16_autocast": bool(args.bf16), "base_dtype": str(next(trainer.model.parameters()).dtype).replace("torch.", ""),
            "lora_dropout": spec.lora.dropout, "padding_free": bool(args.padding_free), "quantization": spec.train.quantization}


def unsloth_worker(cfg: dict) -> dict:
    """Unsloth's own recipe (FastLanguageModel + get_peft_model + TRL SFTTrainer defaults), run by an interpreter that
    has Unsloth and its pinned transformers/TRL (--unsloth-python). No simplex_train import: Unsloth goes first."""
    import unsloth  # noqa: F401  (patches transformers/TRL/PEFT on import)
    from unsloth import FastLanguageModel
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer
    torch.set_num_threads(os.cpu_count()); torch.manual_seed(0)
    rows = [json.loads(l) for l in open(cfg["rows_file"])]
    steps = len(rows) // cfg["batch"]
    model, tok = FastLanguageModel.from_pretrained(model_name=cfg["model"], max_seq_length=cfg["max_seq_len"], dtype=None, load_in_4bit=False)
    model = FastLanguageModel.get_peft_model(model, r=cfg["r"], lora_alpha=cfg["alpha"], lora_dropout=cfg["dropout"], random_state=0,
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    ds = Dataset.from_list([{"prompt": r["prompt"], "completion": r["response"]} for r in rows])
    args = SFTConfig(output_dir="/tmp/train_bench/unsloth", per_device_train_batch_size=cfg["batch"], max_steps=steps,
                     learning_rate=cfg["lr"], max_length=cfg["max_seq_len"], report_to=[], logging_steps=1, save_strategy="no")
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
    t = time.perf_counter(); trainer.train(); seconds = time.perf_counter() - t
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"trainer": "unsloth", "steps": steps, "seconds": round(seconds, 2), "s_per_step": round(seconds / steps, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), "first_loss": losses[0], "last_loss": losses[-1],
            "base_dtype": str(next(model.parameters()).dtype).replace("torch.", ""), "unsloth": unsloth.__version__,
            "transformers": __import__("transformers").__version__, "trl": __import__("trl").__version__}


def run_unsloth(python: str, rows_file: str, name: str, batch: int) -> dict:
    from simplex_train.base.config import load_specialist
    from simplex_train.modeling.models import local_model_path
    spec = load_specialist(name)
    cfg = {"rows_file": rows_file, "batch": batch, "model": local_model_path("embedded"), "max_seq_len": spec.train.max_seq_len,
           "r": spec.lora.r, "alpha": spec.lora.alpha,   # the config sets both from complexity when the YAML omits them
           "dropout": spec.lora.dropout, "lr": spec.train.learning_rate}
    r = subprocess.run([python, str(HERE), "--unsloth-worker", json.dumps(cfg)], capture_output=True, text=True)
    line = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    if not line: raise SystemExit(f"unsloth failed:\n{r.stderr[-3000:]}")
    return json.loads(line[0][7:])


def run_worker(kind: str, name: str, rows_file: str, batch: int, quantization: str = "none") -> dict:
    "One timed training run in a fresh process (so its peak RSS is its own)."
    r = subprocess.run([sys.executable, str(HERE), "--worker", kind, "--name", name, "--rows-file", rows_file, "--batch", str(batch),
                        "--quantization", quantization],
                       capture_output=True, text=True)
    line = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    if not line: raise SystemExit(f"{kind} failed:\n{r.stderr[-3000:]}")
    return json.loads(line[0][7:])


def run_tree_worker(tree: str, name: str, rows_file: str, batch: int) -> dict:
    "Our trainer from another checkout of the project (its own bench worker, its own package), on the same rows."
    env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve())}
    r = subprocess.run([sys.executable, str(Path(tree) / "bench" / "train_bench.py"), "--worker", "ours", "--name", name,
                        "--rows-file", rows_file, "--batch", str(batch)], capture_output=True, text=True, env=env)
    line = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    if not line: raise SystemExit(f"the trainer of {tree} failed:\n{r.stderr[-3000:]}")
    return json.loads(line[0][7:])


def median_run(runs: list[dict]) -> dict:
    "The run with the median tokens/s (the lower middle one for an even count)."
    return sorted(runs, key=lambda r: r["tokens_per_s"])[(len(runs) - 1) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=48)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--specialist", default=None, help="sentiment (SST-2, short rows) or context_protocol (generated, ~127 tokens)")
    ap.add_argument("--worker", default=None)
    ap.add_argument("--unsloth-python", default=None, help="a Python with unsloth installed: adds Unsloth's CPU fallback")
    ap.add_argument("--unsloth-worker", default=None)
    ap.add_argument("--name"); ap.add_argument("--rows-file")
    ap.add_argument("--out", default="bench/train_results.json")
    ap.add_argument("--repeats", type=int, default=1, help="runs per trainer, interleaved; the median run is reported")
    ap.add_argument("--quantization", default="none", choices=["none", "4bit", "8bit"], help="our trainer on a bitsandbytes-quantized base (QLoRA)")
    ap.add_argument("--baseline-tree", default=None,
                    help="another checkout (git worktree add /tmp/before REV): its trainer runs interleaved too")
    a = ap.parse_args()
    if a.unsloth_worker:
        print("RESULT " + json.dumps(unsloth_worker(json.loads(a.unsloth_worker))), flush=True); return
    if a.worker:
        print("RESULT " + json.dumps(worker(a.worker, a.name, a.rows_file, a.batch, a.quantization)), flush=True); return
    from simplex_train.base.core import write_jsonl
    name, rows = rows_for_bench(a.rows, a.specialist)
    rows_file = "/tmp/train_bench/rows.jsonl"; write_jsonl(rows_file, rows)
    out = {"data": f"{name}: {len(rows)} train rows, one pass", "batch": a.batch, "model": "embedded Gemma 3 270M (CPU)",
           "lora": "the specialist's (r 16, alpha 32, all-linear), the same for both", "results": {}}
    runs = {"trl": [], "ours": [], "unsloth": [], "ours_baseline_tree": []}
    for i in range(a.repeats):   # interleaved, so that drift on a shared machine falls on every trainer alike
        for kind in ("trl", "ours"):
            runs[kind].append(run_worker(kind, name, rows_file, a.batch, a.quantization)); print(kind, i, runs[kind][-1], flush=True)
        if a.baseline_tree:
            runs["ours_baseline_tree"].append(run_tree_worker(a.baseline_tree, name, rows_file, a.batch))
            print("ours (baseline tree)", i, runs["ours_baseline_tree"][-1], flush=True)
        if a.unsloth_python:
            u = run_unsloth(a.unsloth_python, rows_file, name, a.batch)
            u["tokens"] = runs["ours"][-1]["tokens"]; u["tokens_per_s"] = round(u["tokens"] / u["seconds"], 1)
            runs["unsloth"].append(u); print("unsloth", i, u, flush=True)
    for kind, rs in runs.items():
        if rs: out["results"][kind] = {**median_run(rs), "tokens_per_s_runs": [r["tokens_per_s"] for r in rs]}
    t, o = out["results"]["trl"], out["results"]["ours"]
    out["speedup_tokens_per_s"] = round(o["tokens_per_s"] / t["tokens_per_s"], 2)
    if a.unsloth_python: out["speedup_vs_unsloth_cpu"] = round(o["tokens_per_s"] / out["results"]["unsloth"]["tokens_per_s"], 2)
    out["peak_rss_ratio"] = round(o["peak_rss_mb"] / t["peak_rss_mb"], 2)
    if a.baseline_tree:
        b = out["results"]["ours_baseline_tree"]
        out["baseline_tree"] = subprocess.run(["git", "-C", a.baseline_tree, "rev-parse", "--short", "HEAD"],
                                              capture_output=True, text=True).stdout.strip()
        out["speedup_vs_baseline_tree"] = round(o["tokens_per_s"] / b["tokens_per_s"], 2)
        out["same_losses_as_baseline_tree"] = (o["first_loss"], o["last_loss"]) == (b["first_loss"], b["last_loss"])
    out["command"] = (f"SIMPLEX_SHARED_DATA=../shared/data python bench/train_bench.py --rows {a.rows} --batch {a.batch} --specialist {name} --repeats {a.repeats}"
                      + (f" --quantization {a.quantization}" if a.quantization != "none" else "") + f" --out {a.out}"
                      + (" --unsloth-python UNSLOTH_VENV/bin/python" if a.unsloth_python else "")
                      + (" --baseline-tree BEFORE_CHECKOUT" if a.baseline_tree else ""))
    bf16 = __import__("simplex_train.base.device", fromlist=["x"]).cpu_has_native_bf16()
    out["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, {'AVX512-BF16/AMX' if bf16 else 'AVX2'}, no GPU; torch {__import__('torch').__version__}, trl {__import__('trl').__version__}"
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    print("speedup", out["speedup_tokens_per_s"], "rss ratio", out["peak_rss_ratio"])


if __name__ == "__main__":
    main()
