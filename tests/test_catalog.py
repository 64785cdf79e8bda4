"""Every specialist of the catalog validates and runs a smoke run end to end on the tiny model: prepare (real data from
the shared folder when present, else from the samples in data/samples, where a family without a sample skips;
generated stand-ins for the others), baseline, 2 training steps, evaluation with the specialist's own metric, and the
gate. The PostgreSQL-backed profile scorer's smoke run is in test_postgres.py."""
import pytest
import yaml

from simplex_train.base.config import LOWER_IS_BETTER, apply_overrides, list_specialists, load_specialist
from simplex_train.base.core import read_json
from simplex_train.workflow.options import RunOptions
from simplex_train.workflow.pipeline import run_pipeline

SMOKE = {"train.max_train_rows": 16, "train.max_steps": 2, "train.eval_steps": 1, "train.save_steps": 2,
         "eval.max_test_rows": 8, "eval.max_val_rows": 8, "eval.max_new_tokens": 12, "eval.timeout_s": 5,
         "data.drop_too_long": False,
         "prompt.turn_format": "gemma"}  # the tiny tokenizer has no turn tokens: a chat specialist names its template


def smoke_run(name, tiny_model, tmp_path):
    spec = apply_overrides(load_specialist(name), {**SMOKE, "base_model": tiny_model,
                                                   **({"data.generator_rows": 120} if load_specialist(name).data.generator else {})})
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    run = run_pipeline(RunOptions(specialist=str(path), runs_root=str(tmp_path / "runs"), run_id="smoke", export_merged=False),
                       ["prepare", "baseline", "train", "evaluate", "gate"])
    base, ft, gate = read_json(run.metrics_file("baseline")), read_json(run.metrics_file("finetuned")), read_json(run.gate)
    m, top = spec.task.metric, float("inf") if spec.task.metric in LOWER_IS_BETTER else 1  # an error has no ceiling
    assert 0 <= base["metrics"][m] <= top and 0 <= ft["metrics"][m] <= top, (base["metrics"], ft["metrics"])
    assert gate["decision"] in {"DEPLOY", "REVIEW", "FAIL"} and (run.metrics / "comparison.json").exists()
    return run


def test_catalog_is_complete_and_valid():
    names = set(list_specialists())
    assert {"sentiment", "ag_news", "ner", "invoice", "sql", "summarization", "report_generation", "intent", "faq",
            "ticket_routing", "content_writer", "email_composer", "translation", "code_generation", "code_review",
            "documentation", "context_protocol", "profile_scorer"} <= names
    for n in names: load_specialist(n)


@pytest.mark.parametrize("name", [n for n in list_specialists() if n != "profile_scorer"])
def test_smoke(name, tiny_model, tmp_path, request, monkeypatch):
    root = load_specialist(name).data.root or ""
    if root.startswith("${SIMPLEX_SHARED_DATA}/"):   # the full shared data, else the shipped sample; skips when neither
        request.getfixturevalue("real_family")(root.removeprefix("${SIMPLEX_SHARED_DATA}/"))
        monkeypatch.setenv("SIMPLEX_SHARED_DATA", str(request.getfixturevalue("real_data")))
    smoke_run(name, tiny_model, tmp_path)
