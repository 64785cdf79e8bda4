"""The Simplex chain on the real embedded model, small (`--local-test`, the CPU quick mode): context protocol ->
confidence calibration -> belief revision on one adapter, each stage starting from the previous stage's adapter, then
every stage's test split again on the final adapter. Checks the plumbing, not the quality (3 steps per stage)."""
import subprocess, sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from simplex_train.base.core import read_json
from simplex_train.base.runs import RunDir, load_manifest

pytestmark = pytest.mark.e2e
STAGES = ["context_protocol", "confidence_calibration", "belief_revision"]


@pytest.fixture(scope="module")
def chain_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    cli = str(Path(sys.executable).parent / "simplex-train")
    args = [cli, "run", "simplex", "--all", "--local-test", "--no-notebook", "--runs-root", str(root), "--run-id", "c1"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return root, r.stdout


def test_the_chain_reports_every_stage_after_its_training_and_at_the_end(chain_run):
    root, stdout = chain_run
    summary = read_json(RunDir(root / "simplex" / "c1").chain_summary)
    assert [s["stage"] for s in summary["stages"]] == STAGES
    for s in summary["stages"]:
        assert 0 <= s["after_own_training"] <= 1 and 0 <= s["at_end"] <= 1
        assert abs(s["drop"] - (s["after_own_training"] - s["at_end"])) < 1e-9
    assert summary["decision"] in {"DEPLOY", "REVIEW", "FAIL"}
    assert "| confidence_calibration | exact_match |" in stdout  # the table, printed
    end = read_json(root / "simplex" / "c1" / "metrics" / "final_confidence_calibration.json")
    assert end["confidence_calibration"]["fit"]["fitted_on"] == "val"  # refitted for the final model


def test_each_stage_starts_from_the_previous_adapter(chain_run):
    root, _ = chain_run
    runs = [RunDir(root / s / "c1") for s in STAGES]
    assert load_manifest(runs[0])["options"]["init_adapter"] is None
    for before, after in zip(runs, runs[1:]):
        assert load_manifest(after)["options"]["init_adapter"] == str(before.adapter)
        base = read_json(after.metrics_file("baseline"))
        assert base["model"]["adapter"] == str(before.adapter)  # the stage's baseline is where it starts
    # the second stage's adapter moved on from the first's: same tensors, different values
    a, b = load_file(runs[0].adapter_weights), load_file(runs[1].adapter_weights)
    assert a.keys() == b.keys() and any(not torch.equal(a[k], b[k]) for k in a)


def test_only_the_final_stage_exports(chain_run):
    root, _ = chain_run
    runs = [RunDir(root / s / "c1") for s in STAGES]
    assert not runs[0].merged_config.exists() and not runs[1].merged_config.exists()
    assert runs[2].merged_config.exists() and read_json(runs[2].export_check)


def test_the_served_check_answers_every_stage_from_the_final_gguf(chain_run):
    """The exported model itself: the final stage's q8_0 GGUF (made here, as `run --all` makes it without
    --local-test) served by llama.cpp answers every stage's test split; chain.json and chain.md gain the figures."""
    from simplex_train.workflow.chain import served_check
    from simplex_train.base.config import Specialist
    from simplex_train.shipping.gguf import export_gguf
    from simplex_train.modeling.models import local_model_path
    root, _ = chain_run
    final = RunDir(root / "belief_revision" / "c1")
    spec = Specialist.model_validate(load_manifest(final)["config"])
    spec = spec.model_copy(update={"deploy": spec.deploy.model_copy(update={"gguf": ["q8_0"], "serve": "q8_0"})})
    export_gguf(final, spec, local_model_path(spec.base_model))
    summary = served_check(RunDir(root / "simplex" / "c1"), progress=False)
    print("served check", [(s["stage"], s["at_end"], s["served_at_end"]) for s in summary["stages"]])
    assert summary["served"]["gguf"] == "belief_revision-q8_0.gguf" and summary["seconds"]["served_check"] > 0
    assert [s["stage"] for s in summary["stages"]] == STAGES
    assert all(0 <= s["served_at_end"] <= 1 for s in summary["stages"])
    assert read_json(RunDir(root / "simplex" / "c1").chain_summary)["served"] == summary["served"]  # written back
    assert "served at the end (GGUF)" in (root / "simplex" / "c1" / "chain.md").read_text()
