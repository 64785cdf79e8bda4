"Two runs with the same seed give identical split hashes and identical metrics (tiny model, CPU)."
from simplex_train.base.runs import load_manifest
from simplex_train.base.core import read_json
from simplex_train.workflow.options import RunOptions
from simplex_train.workflow.pipeline import run_pipeline


def _run(tmp_path, tiny_model, run_id, seed=42):
    opts = RunOptions(specialist="context_protocol", runs_root=str(tmp_path), run_id=run_id, base_model=tiny_model,
                      max_train=48, max_test=10, max_steps=3, seed=seed, export_merged=False)
    return run_pipeline(opts)


def test_same_seed_same_run(tmp_path, tiny_model):
    a, b = _run(tmp_path, tiny_model, "a"), _run(tmp_path, tiny_model, "b")
    assert load_manifest(a)["data_hashes"] == load_manifest(b)["data_hashes"]
    for name in ("baseline", "finetuned"):
        assert read_json(a.metrics_file(name))["metrics"] == read_json(b.metrics_file(name))["metrics"]
    la = [h["loss"] for h in read_json(a.root / "training_history.json") if "loss" in h]
    lb = [h["loss"] for h in read_json(b.root / "training_history.json") if "loss" in h]
    assert la == lb                                  # bit-identical training on CPU
    c = _run(tmp_path, tiny_model, "c", seed=7)
    assert load_manifest(c)["data_hashes"] != load_manifest(a)["data_hashes"]
