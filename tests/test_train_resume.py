"""Training survives SIGKILL: a run killed mid-training resumes from its last checkpoint and ends where an
uninterrupted run ends. And the train step runs under torchrun with 2 CPU processes (gloo DDP)."""
import os, signal, subprocess, sys, time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from simplex_train.base.config import apply_overrides, load_specialist
from simplex_train.base.runs import RunDir, load_manifest
from simplex_train.base.core import read_json
from simplex_train.inputs.clients import free_port

CLI = str(Path(sys.executable).parent / "simplex-train")


def _spec_file(tmp_path, tiny_model, **over) -> Path:
    spec = apply_overrides(load_specialist("context_protocol"), {
        "base_model": tiny_model, "data.generator_rows": 400, "data.drop_too_long": False, "train.max_train_rows": 96,
        "train.max_steps": 60, "train.batch_size": 4, "train.grad_accum": 1, "train.eval_steps": 5, "train.save_steps": 10,
        "train.learning_rate": 5e-3, "eval.max_val_rows": 8, "eval.max_test_rows": 4, "eval.max_new_tokens": 4, **over})
    path = tmp_path / "resume.yaml"
    path.write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    return path


def _args(spec_file, root, run_id):
    return [CLI, "run", str(spec_file), "--no-notebook", "--no-gguf", "--runs-root", str(root), "--run-id", run_id]


def _final(run_root: Path):
    hist = read_json(run_root / "training_history.json")
    losses = {h["step"]: h["loss"] for h in hist if "loss" in h}
    return losses, load_file(run_root / "adapter" / "adapter_model.safetensors")


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, tiny_model):
    spec_file, root = _spec_file(tmp_path, tiny_model), tmp_path / "runs"
    ref = subprocess.run(_args(spec_file, root, "straight"), capture_output=True, text=True, timeout=900)
    assert ref.returncode == 0, ref.stderr[-3000:]

    proc = subprocess.Popen(_args(spec_file, root, "killed"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = root / "context_protocol" / "killed" / "checkpoints" / "checkpoint-20"
    deadline = time.time() + 600
    while not (ckpt / "trainer_state.json").exists() and proc.poll() is None and time.time() < deadline: time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL); proc.wait()
    killed = root / "context_protocol" / "killed"
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "training_metadata.json").exists(), "the run finished before it was killed"

    resumed = subprocess.run(_args(spec_file, root, "killed") + ["--resume"], capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    meta = read_json(killed / "training_metadata.json")
    assert meta["resumed_from"] and int(meta["resumed_from"].rsplit("-", 1)[1]) >= 20 and meta["steps"] == 60

    (la, wa), (lb, wb) = _final(root / "context_protocol" / "straight"), _final(killed)
    assert sorted(la) == sorted(lb) == list(range(1, 61))
    assert abs(la[60] - lb[60]) < 1e-4, (la[60], lb[60])                 # the same final loss
    assert max(abs(la[s] - lb[s]) for s in la) < 1e-4                    # and the same curve after the resume point
    assert all(torch.allclose(wa[k], wb[k], atol=1e-5) for k in wa)      # and the same adapter
    assert load_manifest(RunDir(killed))["stages"]["report"]["status"] == "done"


def test_two_process_gloo_ddp(tmp_path, tiny_model):
    spec_file, root = _spec_file(tmp_path, tiny_model, **{"train.max_steps": 6}), tmp_path / "runs"
    prep = subprocess.run([CLI, "prepare", str(spec_file), "--runs-root", str(root), "--run-id", "ddp"], capture_output=True, text=True, timeout=600)
    assert prep.returncode == 0, prep.stderr[-3000:]
    run = root / "context_protocol" / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
                          CLI, "train", str(run)], capture_output=True, text=True, timeout=900, env=env)
    assert ddp.returncode == 0, ddp.stdout[-2000:] + ddp.stderr[-4000:]
    meta = read_json(run / "training_metadata.json")
    assert meta["world_size"] == 2 and meta["steps"] == 6 and meta["effective_batch"] == 2 * 4
    assert (run / "adapter" / "adapter_model.safetensors").exists()
    assert "gloo" in (ddp.stdout + ddp.stderr).lower() or meta["device"] == "cpu"
    fin = subprocess.run([CLI, "run", str(spec_file), "--no-notebook", "--no-gguf", "--runs-root", str(root), "--run-id", "ddp"],
                         capture_output=True, text=True, timeout=900)
    assert fin.returncode == 0, fin.stderr[-3000:]
    man = read_json(run / "manifest.json")
    assert man["stages"]["train"]["status"] == "done" and man["stages"]["evaluate"]["status"] == "done"
