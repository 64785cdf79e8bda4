"""DPO on a GPU: TRL's DPOTrainer with its defaults, Unsloth's documented DPO recipe (PatchDPOTrainer + TRL), and our
DPO step (`dpo_trainer`, the frozen reference's log-probabilities computed once) with the PEFT and the Unsloth
backends. Same model (the Qwen2.5-0.5B architecture built from its config, random bf16 weights: no hub needed), pairs,
LoRA, batch, learning rate and beta; each trainer in its own process, so peak memory is its own.

It also checks that a padding-free batch (rows packed into one sequence, as our trainer feeds them) gives each row
the log-probability it gets alone, per backend: the largest difference per answer token, with and without
our segment attention (`simplex_train.learning.dpo.packing_gap`). A backend that lets packed rows attend to
each other shows a large difference.

    python bench/gpu_dpo_bench.py [--arch qwen2.5-0.5b] [--pairs 256] [--batch 8] [--out FILE]
    python bench/gpu_dpo_bench.py --arch tiny --device cpu --pairs 8 --batch 4 --trainers trl,ours    # a smoke run
"""
import argparse, json, os, platform, random, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
from gpu_train_bench import TARGETS, build_model_dir  # noqa: E402

WORDS = "the a model answer question river stone light data value memory house green small quick slow open".split()


def synthetic_pairs(n: int, seed: int = 0) -> list[dict]:
    "Text pairs of random words: a prompt of 60-150 words, two answers of 15-45 words (HH-RLHF-like lengths)."
    rng = random.Random(seed)
    words = lambda lo, hi: " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))
    return [{"prompt": words(60, 150), "response": words(15, 45), "rejected": words(15, 45)} for _ in range(n)]


def _spec(cfg: dict):
    from simplex_train.base.config import apply_overrides, load_specialist
    steps = cfg["pairs"] // cfg["batch"]
    return apply_overrides(load_specialist("harmless_dpo"), {
        "train.batch_size": cfg["batch"], "train.grad_accum": 1, "train.max_steps": steps, "train.eval_steps": steps,
        "train.save_steps": steps, "train.warmup_ratio": 0.0, "train.learning_rate": 5e-6, "train.max_seq_len": 1024,
        "lora.r": 16, "lora.alpha": 32, "lora.target_modules": TARGETS})


def packing_gap(model, pairs: list[dict], segment: bool) -> float:
    "The library's packed-vs-alone check (nats per answer token), with or without our packed-row attention."
    from contextlib import nullcontext
    from simplex_train.modeling.attention import segment_attention
    from simplex_train.learning.dpo import packing_gap as gap
    with segment_attention(model) if segment else nullcontext():
        return round(gap(model, pairs), 4)


def worker(cfg: dict) -> dict:
    import torch
    from datasets import Dataset
    kind, device, path = cfg["trainer"], cfg["device"], cfg["model"]
    if kind == "dpo-unsloth":
        from unsloth import FastLanguageModel, PatchDPOTrainer  # it patches TRL on import, so it goes first
        PatchDPOTrainer()
    from simplex_train.base.core import read_jsonl
    from simplex_train.base.device import set_seed
    from simplex_train.modeling.models import load_tokenizer, peft_lora_config
    rows, spec = read_jsonl(cfg["rows_file"]), _spec(cfg)
    steps, extra = cfg["pairs"] // cfg["batch"], {}
    set_seed(0)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    if device == "cuda": torch.cuda.reset_peak_memory_stats()
    if kind in ("dpo-trl", "dpo-unsloth"):
        from trl import DPOConfig, DPOTrainer
        ds = Dataset.from_list([{"prompt": r["prompt"], "chosen": r["response"], "rejected": r["rejected"]} for r in rows])
        args = DPOConfig(output_dir=f"/tmp/gpu_dpo_bench/{kind}", per_device_train_batch_size=cfg["batch"], max_steps=steps,
                         beta=spec.dpo.beta, learning_rate=spec.train.learning_rate, report_to=[], logging_steps=1,
                         save_strategy="no", use_cpu=device == "cpu")
        if kind == "dpo-trl":
            from transformers import AutoModelForCausalLM
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if device == "cuda" else torch.float32).to(device)
            trainer = DPOTrainer(model=model, args=args, train_dataset=ds, processing_class=load_tokenizer(path),
                                 peft_config=peft_lora_config(spec.lora))
        else:
            model, tok = FastLanguageModel.from_pretrained(model_name=path, max_seq_length=1024, dtype=None, load_in_4bit=False)
            model = FastLanguageModel.get_peft_model(model, r=16, lora_alpha=32, lora_dropout=0.0, target_modules=TARGETS,
                                                     use_gradient_checkpointing="unsloth", random_state=0)
            trainer = DPOTrainer(model=model, ref_model=None, args=args, train_dataset=ds, processing_class=tok)
        sync(); t = time.perf_counter()
        trainer.train()
        reference_s = 0.0
    else:
        from contextlib import nullcontext
        from simplex_train.learning.dpo import dpo_trainer, encode_pair, pair_dataset, reference_logps
        from simplex_train.modeling.attention import segment_attention
        from simplex_train.learning.training import load_for_training
        backend = "unsloth" if kind == "dpo-ours-unsloth" else "peft"
        model, tok = load_for_training(path, spec, backend)
        pairs = [encode_pair(tok, r, spec.train.max_seq_len) for r in rows]
        extra = {"packing_gap_segment": packing_gap(model, pairs[:4], True),
                 "packing_gap_plain": packing_gap(model, pairs[:4], False)}
        sync(); t = time.perf_counter()
        ref = reference_logps(model, pairs, cfg["batch"])
        sync(); reference_s = time.perf_counter() - t
        trainer = dpo_trainer(model, tok, spec, Path(f"/tmp/gpu_dpo_bench/{kind}"), pair_dataset(pairs, ref))
        with segment_attention(model) if backend == "peft" else nullcontext():
            trainer.train()
    sync(); seconds = time.perf_counter() - t
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    out = {"trainer": kind, "steps": steps, "batch": cfg["batch"], "seconds": round(seconds, 2),
           "reference_seconds": round(reference_s, 2), "steps_per_s": round(steps / seconds, 3),
           "first_loss": round(losses[0], 4), "last_loss": round(losses[-1], 4),
           "gradient_checkpointing": bool(getattr(trainer.args, "gradient_checkpointing", False)), **extra,
           "versions": {m: __import__(m).__version__ for m in ("torch", "transformers", "trl", "peft")}}
    if "unsloth" in kind: out["versions"]["unsloth"] = __import__("unsloth").__version__
    if device == "cuda": out["peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    else:
        import resource; out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="qwen2.5-0.5b", choices=["qwen2.5-0.5b", "qwen2.5-1.5b", "tiny"])
    ap.add_argument("--trainers", default="dpo-trl,dpo-unsloth,dpo-ours,dpo-ours-unsloth")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--pairs", type=int, default=256); ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--out", default="bench/gpu_dpo_results.json")
    ap.add_argument("--worker", default=None)
    a = ap.parse_args()
    if a.worker:
        print("RESULT " + json.dumps(worker(json.loads(a.worker))), flush=True); return
    import importlib.util
    from simplex_train.base.core import write_jsonl
    have_unsloth = importlib.util.find_spec("unsloth") is not None and a.device == "cuda"
    trainers = [t for t in a.trainers.split(",") if have_unsloth or "unsloth" not in t]
    model_dir = build_model_dir(a.arch, Path(f"/tmp/gpu_train_bench/model-{a.arch}"))
    rows_file = "/tmp/gpu_dpo_bench/pairs.jsonl"
    write_jsonl(rows_file, synthetic_pairs(a.pairs))
    import torch
    out = {"command": "python bench/gpu_dpo_bench.py " + " ".join(sys.argv[1:]), "arch": a.arch,
           "device": torch.cuda.get_device_name() if a.device == "cuda" else f"{platform.machine()} CPU, {os.cpu_count()} cores",
           "pairs": a.pairs, "batch": a.batch, "lr": 5e-6, "beta": 0.1, "lora": "r 16, alpha 32, q/k/v/o/gate/up/down",
           "skipped": sorted(set(a.trainers.split(",")) - set(trainers)), "results": {}}
    for kind in trainers:
        cfg = {"trainer": kind, "device": a.device, "model": str(model_dir), "rows_file": rows_file, "pairs": a.pairs,
               "batch": a.batch}
        r = subprocess.run([sys.executable, str(HERE), "--worker", json.dumps(cfg)], capture_output=True, text=True)
        line = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
        out["results"][kind] = json.loads(line[0][7:]) if line else {"error": r.stderr[-3000:]}
        print(kind, out["results"][kind], flush=True)
        write_out(a.out, out)   # after each trainer: a run cut short keeps what it measured
    ok = {k: v for k, v in out["results"].items() if "seconds" in v}
    for ours in ("dpo-ours", "dpo-ours-unsloth"):
        for peer in ("dpo-trl", "dpo-unsloth"):
            if ours in ok and peer in ok: out[f"{ours}_vs_{peer}"] = round(ok[peer]["seconds"] / ok[ours]["seconds"], 2)
    write_out(a.out, out)
    print("wrote", a.out)


def write_out(path: str, out: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
