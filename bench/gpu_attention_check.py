"""The quick device check of the CUDA training path (about 3 minutes on an H100), before the full benchmark: which SDPA
backend a packed row gets, what each packed-row attention costs (24 layers forward and backward over 8 rows of random
lengths, N about 5k tokens), whether the varlen and flex kernels match the per-row oracle in bf16 (outputs and q/k/v
gradients, grouped heads, a sliding window shorter than the longest row), whether the fused head kernels match plain
cross-entropy, and how many host syncs one packed training step of a small model makes. Needs only torch and
transformers (TRL, when present, adds its fused head). Usage:

    python bench/gpu_attention_check.py --out bench/gpu_attention_check.json
    python bench/gpu_attention_check.py --device cpu --rows 4 --layers 2 --steps 2     # the dry run the tests make

On CPU the CUDA-only parts (cuDNN, varlen's flash kernel, flex's backward, sync counting) are skipped and say so.
"""
import argparse, inspect, json, math, platform, random, statistics, sys, time, warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from simplex_train.modeling import attention as A
from simplex_train.modeling.loss import ChunkedLogProbFunction, token_logps


class Layer(torch.nn.Module):
    "What an attention function receives as `module`."


def packed(lengths, heads, kv_heads, dim, device, dtype, seed=0):
    "Random q, k, v [1, H, N, D] (needing gradients) and the batch's row boundaries."
    g = torch.Generator(device="cpu").manual_seed(seed)
    n = sum(lengths)
    make = lambda h: torch.randn(1, h, n, dim, generator=g).to(device, dtype).requires_grad_()
    bounds = A.row_boundaries(torch.cat([torch.arange(k) for k in lengths])[None])
    bounds["cu_seq_lens_q"] = bounds["cu_seq_lens_k"] = bounds["cu_seq_lens_q"].to(device)
    return make(heads), make(kv_heads), make(kv_heads), bounds


def naive_per_row(module, q, k, v, mask, scaling=None, sliding_window=None, **kw):
    "The per-row loop as it ran before: SDPA's own backend choice (cuDNN first on Hopper with torch >= 2.10)."
    rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
    lengths = list(kw["row_lengths"])
    outs = [F.scaled_dot_product_attention(a, b, c, is_causal=True, scale=scaling)
            for a, b, c in zip(q.split(lengths, 2), k.split(lengths, 2), v.split(lengths, 2))]
    return torch.cat(outs, 2).transpose(1, 2), None


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def time_attention(fn, lengths_per_step, args, device, dtype):
    "Median and p90 seconds of `layers` attention calls forward + backward per step; the first step excluded."
    times = []
    for step, lengths in enumerate(lengths_per_step):
        q, k, v, b = packed(lengths, args.heads, args.kv_heads, args.dim, device, dtype, seed=step)
        sync(device)
        t = time.perf_counter()
        total = 0
        for _ in range(args.layers):
            total = total + fn(Layer(), q, k, v, None, scaling=args.dim ** -0.5, **b)[0].float().square().mean()
        total.backward()
        sync(device)
        times.append(time.perf_counter() - t)
    kept = sorted(times[1:] or times)
    return {"median_s": round(statistics.median(kept), 4), "p90_s": round(kept[int(0.9 * (len(kept) - 1))], 4)}


def max_gaps(fn, lengths, args, device, dtype, window, grads=True):
    "Largest |difference| with the per-row oracle: output, then the q, k, v gradients."
    q, k, v, b = packed(lengths, args.heads, args.kv_heads, args.dim, device, dtype, seed=99)
    results = []
    for f in (fn, A.segment_sdpa_attention):
        for t in (q, k, v):
            t.grad = None
        inputs = (q, k, v) if grads else (q.detach(), k.detach(), v.detach())
        out = f(Layer(), *inputs, None, scaling=args.dim ** -0.5, sliding_window=window, **b)[0]
        if grads:
            out.float().square().sum().backward()
        results.append([out.detach().float()] + ([t.grad.float() for t in (q, k, v)] if grads else []))
    return [round((a - b).abs().max().item(), 5) for a, b in zip(*results)]


def environment(device):
    out = {"torch": torch.__version__, "device": torch.cuda.get_device_name() if device == "cuda" else platform.processor()
           or platform.machine(), "varlen": A.TORCH_VARLEN is not None}
    if A.TORCH_VARLEN is not None:
        out["varlen_signature"] = str(inspect.signature(A.TORCH_VARLEN))
        out["varlen_features"] = sorted(A.varlen_features(A.TORCH_VARLEN))
    if device == "cuda":
        out["cudnn"] = torch.backends.cudnn.version()
        q = torch.randn(1, 14, 637, 64, device="cuda", dtype=torch.bfloat16)
        choice = torch._fused_sdp_choice(q, q, q, is_causal=True)
        names = {int(b): b.name for b in SDPBackend.__members__.values()} if hasattr(SDPBackend, "__members__") else {}
        out["sdpa_choice_for_a_row"] = names.get(int(choice), str(choice))
        from torch.nn.attention import varlen
        out["varlen_prefers_cudnn"] = bool(getattr(varlen, "_should_use_cudnn", lambda i: False)(0))
    out["trl_head_kernel"] = ChunkedLogProbFunction is not None
    return out


def head_kernels(device, dtype):
    "Fused and chunked heads against plain cross-entropy (Gemma-like soft cap), with time and peak memory on CUDA."
    g = torch.Generator().manual_seed(0)
    n, h, vocab = (2048, 640, 262144) if device == "cuda" else (64, 32, 1000)
    head = torch.nn.Linear(h, vocab, bias=False).to(device, dtype).requires_grad_(False)
    hidden = torch.randn(n, h, generator=g).to(device, dtype).requires_grad_()
    targets = torch.randint(0, vocab, (n,), generator=g).to(device)
    out, ref = {}, None
    for kernel in ("sliced", "chunked", "trl"):
        if kernel == "trl" and ChunkedLogProbFunction is None:
            continue
        hidden.grad = None
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        sync(device)
        t = time.perf_counter()
        logps = token_logps(hidden, head, targets, 30.0, kernel)
        logps.sum().backward()
        sync(device)
        row = {"seconds": round(time.perf_counter() - t, 4)}
        if device == "cuda":
            row["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
        got = (logps.detach().float(), hidden.grad.float())
        ref = ref or got
        row["max_gap_logp"], row["max_gap_grad"] = [round((a - b).abs().max().item(), 5) for a, b in zip(got, ref)]
        out[kernel] = row
    return out


def sync_count(device, dtype):
    "Host syncs during one packed forward + backward of a small Qwen2 with LoRA (torch's sync debug mode)."
    if device != "cuda":
        return "skipped: CUDA only"
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from simplex_train.modeling.loss import response_positions, sliced_causal_lm_loss
    cfg = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=4,
                      num_attention_heads=14, num_key_value_heads=2, attn_implementation="sdpa")
    model = get_peft_model(Qwen2ForCausalLM(cfg).to(device, dtype), LoraConfig(r=16, target_modules=["q_proj", "v_proj"]))
    lengths = [300, 700, 450, 900]
    pos = torch.cat([torch.arange(k) for k in lengths])[None]
    labels = torch.randint(0, 1000, pos.shape)
    labels[pos < 200] = -100
    batch = {"input_ids": torch.randint(0, 1000, pos.shape), "labels": labels, "position_ids": pos,
             **A.row_boundaries(pos), **response_positions(labels, pos)}
    batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
    counts = {}
    for kind in ("per_row", "varlen", "flex"):
        if kind == "varlen" and A.TORCH_VARLEN is None:
            continue
        with A.segment_attention(model, kind):
            sliced_causal_lm_loss(model, attention_mask=None, **batch).backward()  # warm-up (flex compiles here)
            sync(device)
            torch.cuda.set_sync_debug_mode("warn")
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                sliced_causal_lm_loss(model, attention_mask=None, **batch).backward()
            torch.cuda.set_sync_debug_mode(0)
        counts[kind] = len([w for w in seen if "synchroniz" in str(w.message).lower()])
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--rows", type=int, default=8); ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--heads", type=int, default=14); ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--out", default="bench/gpu_attention_check.json")
    args = ap.parse_args()
    device = args.device
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    rng = random.Random(0)
    longest = 64 if device == "cpu" else 2048
    steps = [[int(log_uniform(rng, 16, longest)) for _ in range(args.rows)] for _ in range(args.steps)]
    result = {"command": "python bench/gpu_attention_check.py " + " ".join(sys.argv[1:]), "environment": environment(device),
              "shape": {"rows": args.rows, "layers": args.layers, "heads": args.heads, "kv_heads": args.kv_heads,
                        "dim": args.dim, "tokens_per_step": [sum(s) for s in steps]}}
    print(json.dumps(result["environment"]), flush=True)
    kinds = {"per_row_sdpa_default": naive_per_row, "per_row_no_cudnn": A.segment_sdpa_attention}
    if device == "cuda":
        if A.TORCH_VARLEN is not None:
            kinds["varlen"] = A.varlen_attention
        kinds["flex"] = A.flex_packed_attention
    timings = {name: time_attention(fn, steps, args, device, dtype) for name, fn in kinds.items()}
    timings["per_row_default_same_lengths"] = time_attention(naive_per_row, [steps[0]] * len(steps), args, device, dtype)
    result["attention_seconds_per_step"] = timings
    print(json.dumps(timings), flush=True)
    lengths = steps[0]
    window = max(lengths) // 2   # shorter than the longest row
    gaps = {}
    saved = A.KERNELS["varlen"]
    candidates = {"varlen": A.TORCH_VARLEN if device == "cuda" else A.reference_varlen, "flex": None}
    for name, kernel in candidates.items():
        if name == "varlen" and kernel is None:
            continue
        A.KERNELS["varlen"] = kernel or saved
        fn = A.varlen_attention if name == "varlen" else A.flex_packed_attention
        grads = device == "cuda" or name != "flex"     # no flex backward on CPU
        gaps[name] = {f"window_{w}": max_gaps(fn, lengths, args, device, dtype, w, grads) for w in (None, window)}
    A.KERNELS["varlen"] = saved
    result["max_gap_vs_per_row"] = gaps
    result["head_kernels"] = head_kernels(device, dtype)
    result["host_syncs_per_packed_step"] = sync_count(device, dtype)
    print(json.dumps({k: result[k] for k in ("max_gap_vs_per_row", "head_kernels", "host_syncs_per_packed_step")}),
          flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("wrote", args.out)


def log_uniform(rng, low, high):
    "Log-uniform between `low` and `high`."
    return math.exp(rng.uniform(math.log(low), math.log(high)))


if __name__ == "__main__":
    main()
