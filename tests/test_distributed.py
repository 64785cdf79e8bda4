"""Training in two processes through the standard launchers, on CPU (gloo): DDP and FSDP2 through `accelerate
launch` with the recipes in recipes/accelerate/cpu/. Each trains the same rows as one process with a batch twice as
large (the same effective batch), and the losses must agree."""
import subprocess, sys
from pathlib import Path

import pytest
import yaml

from simplex_train.base.config import apply_overrides, load_specialist
from simplex_train.base.core import read_json

CLI = str(Path(sys.executable).parent / "simplex-train")
RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "accelerate" / "cpu"
STEPS = 4


def _prepared(tmp_path: Path, tiny_model: str, batch: int, run_id: str) -> Path:
    spec = apply_overrides(load_specialist("context_protocol"), {
        "base_model": tiny_model, "data.generator_rows": 400, "data.drop_too_long": False, "train.max_train_rows": 96,
        "train.max_steps": STEPS, "train.batch_size": batch, "train.grad_accum": 1, "train.eval_steps": 2,
        "train.learning_rate": 5e-3, "eval.max_val_rows": 8, "eval.max_test_rows": 4, "rehearsal.general": 0.0})
    spec_file = tmp_path / f"{run_id}.yaml"
    spec_file.write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    r = subprocess.run([CLI, "prepare", str(spec_file), "--runs-root", str(tmp_path), "--run-id", run_id],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return tmp_path / "context_protocol" / run_id


def _losses(run: Path) -> list[float]:
    return [h["loss"] for h in read_json(run / "training_history.json") if "loss" in h]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, tiny_model) -> list[float]:
    "The reference: one process, batch 8."
    run = _prepared(tmp_path_factory.mktemp("one"), tiny_model, 8, "one")
    r = subprocess.run([CLI, "train", str(run)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return _losses(run)


@pytest.mark.parametrize("recipe", ["ddp", "fsdp2"])
def test_two_processes_match_one(tmp_path, tiny_model, one_process, recipe):
    run = _prepared(tmp_path, tiny_model, 4, recipe)
    r = subprocess.run([CLI, "train", str(run), "--launcher", "accelerate", "--config", str(RECIPES / f"{recipe}.yaml")],
                       capture_output=True, text=True, timeout=900, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    meta = read_json(run / "training_metadata.json")
    assert meta["world_size"] == 2 and meta["steps"] == STEPS and meta["effective_batch"] == 8
    two = _losses(run)
    assert len(two) == len(one_process) == STEPS
    assert all(abs(a - b) <= 1e-3 * max(abs(b), 1) for a, b in zip(two, one_process)), (recipe, two, one_process)
    assert (run / "adapter" / "adapter_model.safetensors").exists()
