"""QLoRA runs for real on CPU through bitsandbytes' CPU backend: the base loads quantized (NF4 or LLM.int8), the
pipeline's trainer fits LoRA on it, and the adapter merges onto the full-precision base, as it does after a GPU run."""
import json

import pytest
import torch

pytest.importorskip("bitsandbytes")

from simplex_train.base.config import parse_specialist
from simplex_train.base.runs import RunDir
from simplex_train.shipping.export import merge_adapter
from simplex_train.modeling.models import load_model
from simplex_train.base.tiny import tiny_model_dir
from simplex_train.learning.training import load_for_training
from simplex_train.learning.sft import train_sft

SPEC = """
name: q
task: {type: classification, labels: [negative, positive]}
data: {path: x.tsv}
prompt: {template: "Review: {text}\\nSentiment:"}
train: {max_steps: 8, batch_size: 4, grad_accum: 1, eval_steps: 4, save_steps: 4, learning_rate: 0.01, quantization: %s}
thresholds: {baseline_target: 0.5, finetuned_target: 0.8}"""

ROWS = [{"prompt": f"Review: {'good' if i % 2 else 'bad'} film\nSentiment:", "response": " positive" if i % 2 else " negative",
         "metadata": {"label": "positive" if i % 2 else "negative"}} for i in range(16)]


@pytest.fixture(scope="module")
def wide_tiny_model(tmp_path_factory) -> str:
    "The tiny model, widened: bitsandbytes' CPU NF4 kernels need every linear layer's sizes to be at least 64."
    return tiny_model_dir(tmp_path_factory.mktemp("wide"), hidden_size=64, intermediate_size=128, num_key_value_heads=2, head_dim=32)


@pytest.mark.parametrize("bits, layer", [("4bit", "Linear4bit"), ("8bit", "Linear8bitLt")])
def test_quantized_base_trains_on_cpu_and_merges_on_the_full_base(tmp_path, wide_tiny_model, bits, layer):
    spec = parse_specialist(SPEC % bits)
    model, tok = load_for_training(wide_tiny_model, spec, "peft")
    assert layer in {type(m).__name__ for m in model.modules()}          # the base really is quantized
    run = RunDir.create("q", tmp_path, bits)
    meta = train_sft(model, tok, spec, run, ROWS, ROWS[:4])
    assert meta["steps"] == 8
    losses = [h["loss"] for h in json.loads((run.root / "training_history.json").read_text()) if "loss" in h]
    assert losses[-1] < losses[0], losses
    merged = load_model(str(merge_adapter(wide_tiny_model, run.adapter, tmp_path / "merged")), torch.float32)
    assert not any("4bit" in type(m).__name__ or "8bit" in type(m).__name__ for m in merged.modules())
    x = torch.tensor([tok(ROWS[1]["prompt"])["input_ids"]])
    assert not torch.allclose(merged(x).logits, load_model(wide_tiny_model, torch.float32)(x).logits, atol=1e-4)   # the adapter is in it
