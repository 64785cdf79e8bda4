"""LoRA training speed and memory on a GPU: TRL's SFTTrainer with its defaults (padded) and with padding-free
batches, Unsloth standalone (its own recipe), and our pipeline (`load_for_training` + `SlicedLossSFTTrainer`, as
`train_sft` runs it: gradient checkpointing `auto`, and forced on), with the PEFT and the Unsloth backends, on the
Qwen2.5-0.5B, Qwen2.5-1.5B and Gemma 3 270M architectures built from their configs with random weights (no hub
needed). Same rows in the same order, LoRA, batch and learning rate for every trainer; each runs in its own process,
so peak memory is its own. Rows are log-uniform 64-1,024 tokens, responses 10-30 % of a row; the default batch of 48
rows is about 16k real tokens a step. Usage:

    python bench/gpu_train_bench.py --arch qwen2.5-0.5b qwen2.5-1.5b gemma3-270m [--steps 30] [--out FILE]
    python bench/gpu_train_bench.py --arch tiny --device cpu --steps 3 --warmup 1 --batch 4    # a smoke run on CPU

Each step is timed between CUDA-synchronised marks at its start and end; the first `--warmup` steps are excluded
(cuDNN plans, compilation, allocator growth); s/step is reported as the median and p90. Tokens are counted from the
collated batches themselves (real tokens: the attention mask where there is one), not from the trainer's counter.
Peak memory: allocated and reserved. MFU = model FLOPs / step time / the bf16 matmul peak measured in the same run;
model FLOPs of a step's rows: 4 x body parameters x tokens (forward, plus the backward to the activations; the base is
frozen; recompute not counted) + 4 x vocab x hidden x response tokens + causal attention 6 x layers x heads x
head_dim x sum of squared row lengths.
"""
import argparse, json, math, os, platform, random, statistics, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).resolve()
ARCHS = {   # the published configs (hidden, intermediate, layers, heads, kv heads); Qwen2.5: vocab 151,936, tied embeddings
    "qwen2.5-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2),
    "qwen2.5-1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2),
    # Gemma 3 270M, the embedded model: vocab 262,144, head_dim 256, sliding window 512 on 5 of every 6 layers
    "gemma3-270m": dict(hidden_size=640, intermediate_size=2048, num_hidden_layers=18, num_attention_heads=4, num_key_value_heads=1,
                        head_dim=256, sliding_window=512, vocab_size=262144, query_pre_attn_scalar=256, final_logit_softcapping=None),
}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def build_model_dir(arch: str, out: Path) -> Path:
    "A random-weight Qwen2 model (bf16) and a small tokenizer saved to `out`."
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, Qwen2Config, Qwen2ForCausalLM
    from simplex_train.base.tiny import tiny_tokenizer
    if (out / "config.json").exists(): return out
    tok = tiny_tokenizer()
    ids = dict(pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"   # random weights are made on the GPU: the CPU is slow at it
    if arch.startswith("gemma3"):
        cfg, cls = Gemma3TextConfig(max_position_embeddings=32768, tie_word_embeddings=True, **ids, **ARCHS[arch]), Gemma3ForCausalLM
    else:
        vocab = 151936 if arch != "tiny" else 1024
        cfg = Qwen2Config(vocab_size=vocab, max_position_embeddings=32768, rope_theta=1e6, rms_norm_eps=1e-6, tie_word_embeddings=True,
                          **ids, **ARCHS[arch])
        cls = Qwen2ForCausalLM
    with torch.device(device):
        model = cls(cfg).to(torch.bfloat16)
    model.save_pretrained(out); tok.save_pretrained(out)
    return out


def synthetic_rows(n: int, vocab: int, seq_len: int, seed: int = 0) -> list[dict]:
    "Rows of random token ids, log-uniform 64-`seq_len` tokens long (1/16 of it at least), a response of 10-30 % of each."
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        length = int(math.exp(rng.uniform(math.log(max(seq_len // 16, 8)), math.log(seq_len))))
        r = max(1, int(length * rng.uniform(0.1, 0.3)))
        rows.append({"prompt_ids": [rng.randrange(4, vocab) for _ in range(length - r)],
                     "completion_ids": [rng.randrange(4, vocab) for _ in range(r)]})
    return rows


def measured_bf16_peak(device: str) -> float:
    "FLOP/s of a large bf16 matrix product on `device`."
    import torch
    n = 8192 if device == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16); b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for _ in range(3): a @ b
    sync(); t = time.perf_counter(); k = 20 if device == "cuda" else 5
    for _ in range(k): a @ b
    sync()
    return 2 * n ** 3 * k / (time.perf_counter() - t)


class TokenCounter:
    "Wraps a data collator and counts the real tokens of every batch it makes (attention mask, else every position)."
    def __init__(self, collate):
        self.collate, self.tokens = collate, 0
    def __call__(self, examples):
        batch = self.collate(examples)
        mask = batch.get("attention_mask")
        self.tokens += int(mask.sum()) if mask is not None else int(batch["input_ids"].numel())
        return batch


def step_timer(device: str, counter: TokenCounter):
    "A TrainerCallback timing each optimizer step between synchronised marks, and the tokens collated for it."
    import torch
    from transformers import TrainerCallback
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    class StepTimer(TrainerCallback):
        def __init__(self): self.steps, self.start, self.tokens = [], 0.0, 0
        def on_train_begin(self, args, state, control, **kw):
            if device == "cuda": torch.cuda.reset_peak_memory_stats()
        def on_step_begin(self, args, state, control, **kw):
            sync(); self.start = time.perf_counter()
        def on_step_end(self, args, state, control, **kw):
            sync()
            self.steps.append((time.perf_counter() - self.start, counter.tokens - self.tokens))
            self.tokens = counter.tokens
    return StepTimer()


def common_args(cfg: dict) -> dict:
    return dict(output_dir=f"/tmp/gpu_train_bench/{cfg['trainer']}", per_device_train_batch_size=cfg["batch"], max_steps=cfg["steps"],
                learning_rate=2e-4, report_to=[], logging_steps=10, save_strategy="no", include_num_input_tokens_seen="non_padding",
                use_cpu=cfg["device"] == "cpu", seed=42, data_seed=42, max_grad_norm=1.0)


def worker(cfg: dict) -> dict:
    import torch
    from datasets import Dataset
    kind, device, path = cfg["trainer"], cfg["device"], cfg["model"]
    if kind == "unsloth": import unsloth  # noqa: F401  (it patches transformers/TRL on import, so it goes first)
    from trl import SFTConfig, SFTTrainer
    rows = [json.loads(l) for l in open(cfg["rows_file"])]
    if kind in ("trl", "trl-padfree", "unsloth"):
        ds = Dataset.from_list([{"input_ids": r["prompt_ids"] + r["completion_ids"],
                                 "completion_mask": [0] * len(r["prompt_ids"]) + [1] * len(r["completion_ids"])} for r in rows])
        args = SFTConfig(**common_args(cfg), max_length=cfg["seq_len"], padding_free=kind == "trl-padfree")
        if kind != "unsloth":
            from peft import LoraConfig
            from transformers import AutoModelForCausalLM, AutoTokenizer
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if device == "cuda" else torch.float32).to(device)
            trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=AutoTokenizer.from_pretrained(path),
                                 peft_config=LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=TARGETS, task_type="CAUSAL_LM"))
        else:
            from unsloth import FastLanguageModel
            model, tok = FastLanguageModel.from_pretrained(model_name=path, max_seq_length=cfg["seq_len"], dtype=None, load_in_4bit=False)
            model = FastLanguageModel.get_peft_model(model, r=16, lora_alpha=32, lora_dropout=0.0, target_modules=TARGETS,
                                                     use_gradient_checkpointing="unsloth", random_state=0)
            trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
        ctx, attention = None, "transformers' " + str(model.config._attn_implementation)
    else:
        from contextlib import nullcontext
        from simplex_train.modeling.attention import segment_attention
        from simplex_train.base.config import apply_overrides, load_specialist
        from simplex_train.learning.sft import sliced_trainer
        from simplex_train.learning.training import load_for_training
        backend = "unsloth" if kind == "ours-unsloth" else "peft"
        spec = apply_overrides(load_specialist("context_protocol"), {
            "train.batch_size": cfg["batch"], "train.grad_accum": 1, "train.max_steps": cfg["steps"], "train.learning_rate": 2e-4,
            "train.warmup_ratio": 0.0, "train.max_seq_len": cfg["seq_len"], "lora.r": 16, "lora.alpha": 32, "lora.target_modules": TARGETS,
            "train.gradient_checkpointing": True if kind == "ours-gc" else None, "train.seed": 42})
        model, tok = load_for_training(path, spec, backend)
        ds = Dataset.from_list([{"input_ids": r["prompt_ids"] + r["completion_ids"] + [tok.eos_token_id],   # encoded as sft_dataset does
                                 "labels": [-100] * len(r["prompt_ids"]) + r["completion_ids"] + [tok.eos_token_id]} for r in rows])
        trainer = sliced_trainer(model, tok, spec, Path(common_args(cfg)["output_dir"]), ds)
        ctx = segment_attention(model) if backend == "peft" else nullcontext("unsloth")
    counter = TokenCounter(trainer.data_collator)
    trainer.data_collator = counter
    timer = step_timer(device, counter)
    trainer.add_callback(timer)
    from contextlib import nullcontext
    prof = nullcontext()
    if cfg.get("profile"):
        from torch.profiler import ProfilerActivity, profile
        prof = profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else []))
    with prof, ctx or nullcontext() as chosen:
        attention = chosen or attention
        trainer.train()
    if cfg.get("profile"):
        for key in ("self_cpu_time_total", "self_device_time_total" if device == "cuda" else "cpu_time_total"):
            print(f"PROFILE {kind} by {key}\n" + prof.key_averages().table(sort_by=key, row_limit=18, max_name_column_width=60),
                  file=sys.stderr, flush=True)
    measured = timer.steps[cfg["warmup"]:]
    seconds = sorted(t for t, _ in measured)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    out = {"trainer": kind, "steps": len(timer.steps), "measured_steps": len(measured), "attention": attention,
           "tokens_per_s": round(sum(n for _, n in measured) / sum(seconds), 1),
           "tokens_per_step": round(statistics.mean(n for _, n in measured)),
           "s_per_step_median": round(statistics.median(seconds), 4), "s_per_step_p90": round(seconds[int(0.9 * (len(seconds) - 1))], 4),
           "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
           "gradient_checkpointing": bool(trainer.args.gradient_checkpointing), "padding_free": bool(getattr(trainer.args, "padding_free", False)),
           "versions": {m: __import__(m).__version__ for m in ("torch", "transformers", "trl", "peft")}}
    if kind in ("unsloth", "ours-unsloth"): out["versions"]["unsloth"] = __import__("unsloth").__version__
    if device == "cuda":
        out["peak_allocated_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        out["peak_reserved_gib"] = round(torch.cuda.max_memory_reserved() / 2**30, 2)
    else:
        import resource; out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def flops_per_token(model_dir: Path, rows: list[dict]) -> float:
    """Model FLOPs per real token over `rows`: 4 x body parameters, plus the output head (4 x vocab x hidden) at the share
    of tokens that are responses, plus causal attention (6 x layers x heads x head_dim x row length^2, per token)."""
    cfg = json.loads((model_dir / "config.json").read_text())
    h, i, L, a, kv = (cfg[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads"))
    d = cfg.get("head_dim") or h // a
    body = L * (h * a * d + 2 * h * kv * d + a * d * h + 3 * h * i)
    lengths = [len(r["prompt_ids"]) + len(r["completion_ids"]) for r in rows]
    resp = sum(len(r["completion_ids"]) for r in rows) / sum(lengths)
    attention = 6 * L * a * d * sum(n * n for n in lengths) / sum(lengths)
    return 4 * body + 4 * cfg["vocab_size"] * h * resp + attention


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", nargs="+", default=["qwen2.5-0.5b", "qwen2.5-1.5b"], choices=list(ARCHS))
    ap.add_argument("--trainers", default="trl,trl-padfree,unsloth,ours,ours-gc,ours-unsloth",
                    help="comma-separated; those whose packages are missing are skipped")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--steps", type=int, default=30); ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--batch", type=int, default=48); ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--rows", type=int, default=None, help="default: steps x batch")
    ap.add_argument("--out", default="bench/gpu_train_results.json")
    ap.add_argument("--profile", action="store_true", help="print torch.profiler's top operators for each trainer")
    ap.add_argument("--worker", default=None)
    a = ap.parse_args()
    if a.worker:
        print("RESULT " + json.dumps(worker(json.loads(a.worker))), flush=True); return
    import importlib.util, torch
    have = {"trl": True, "trl-padfree": True, "ours": True, "ours-gc": True,
            "unsloth": importlib.util.find_spec("unsloth") is not None and a.device == "cuda"}
    have["ours-unsloth"] = have["unsloth"]
    trainers = [t for t in a.trainers.split(",") if have.get(t)]
    device_name = torch.cuda.get_device_name() if a.device == "cuda" else f"{platform.machine()} CPU, {os.cpu_count()} cores"
    out = {"command": "python bench/gpu_train_bench.py " + " ".join(sys.argv[1:]), "device": device_name,
           "bf16_peak_tflops": round(measured_bf16_peak(a.device) / 1e12, 1), "batch": a.batch, "seq_len": a.seq_len,
           "rows": "log-uniform 1/16 to 1 x seq_len tokens, responses 10-30 %; the same rows in the same order for every trainer",
           "lora": "r 16, alpha 32, dropout 0, q/k/v/o/gate/up/down", "skipped": sorted(set(a.trainers.split(",")) - set(trainers)),
           "results": {}}
    print("device", device_name, "bf16 peak", out["bf16_peak_tflops"], "TFLOP/s", flush=True)
    for arch in a.arch:
        model_dir = build_model_dir(arch, Path(f"/tmp/gpu_train_bench/model-{arch}"))
        vocab = json.loads((model_dir / "config.json").read_text())["vocab_size"]
        rows = synthetic_rows(a.rows or a.steps * a.batch, vocab, a.seq_len)
        rows_file = Path(f"/tmp/gpu_train_bench/rows-{arch}.jsonl"); rows_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
        fpt, res = flops_per_token(model_dir, rows), {}
        for kind in trainers:
            cfg = {"trainer": kind, "device": a.device, "model": str(model_dir), "rows_file": str(rows_file), "batch": a.batch,
                   "steps": a.steps, "warmup": a.warmup, "seq_len": a.seq_len, "profile": a.profile}
            r = subprocess.run([sys.executable, str(HERE), "--worker", json.dumps(cfg)], capture_output=True, text=True)
            if a.profile: print("\n".join(l for l in r.stderr.split("PROFILE ")[1:]), flush=True)
            line = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
            if not line:
                res[kind] = {"error": r.stderr[-2000:]}; print(arch, kind, "FAILED", r.stderr[-2000:], flush=True); continue
            res[kind] = json.loads(line[0][7:])
            res[kind]["mfu"] = round(res[kind]["tokens_per_s"] * fpt / (out["bf16_peak_tflops"] * 1e12), 4)
            print(arch, kind, res[kind], flush=True)
            out["results"][arch] = res
            Path(a.out).parent.mkdir(parents=True, exist_ok=True)
            Path(a.out).write_text(json.dumps(out, indent=2) + "\n")   # after each trainer: a cut-short run keeps it
        ok = {k: v for k, v in res.items() if "tokens_per_s" in v}
        for ours in ("ours", "ours-gc", "ours-unsloth"):
            for peer in ("trl", "trl-padfree", "unsloth"):
                if ours in ok and peer in ok: res[f"{ours}_vs_{peer}"] = round(ok[ours]["tokens_per_s"] / ok[peer]["tokens_per_s"], 2)
        out["results"][arch] = res
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    print("wrote", a.out)


if __name__ == "__main__":
    main()
