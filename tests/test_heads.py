"""Heads through the whole pipeline on a tiny random model: a multi-dimension regression scorer (an oracle-labelled
dataset's rows, labels[] with dimension_names[]) and a many-label classifier with a head; gated, exported as merged
weights, reported, and scoring a file through `simplex-train score`. Losses and metrics are printed for the record."""
import json, random, subprocess, sys
from pathlib import Path

import pytest

from simplex_train.base.core import read_json, read_jsonl, write_jsonl
from simplex_train.workflow.options import RunOptions
from simplex_train.workflow.pipeline import run_pipeline

CLI = str(Path(sys.executable).parent / "simplex-train")
LEVELS = {"dull": ([1.5, 2.0], "beginning"), "fine": ([3.0, 3.5], "developing"), "film": ([4.5, 4.0], "proficient")}
REGRESSION = """name: tiny_scorer
task: {{type: regression, metric: mae, dimensions: [clarity, grammar], scale: [1, 5]}}
data: {{path: {data}, text_field: text}}
prompt: {{template: "{{text}}"}}
base_model: {model}
lora: {{r: 4, alpha: 8}}
train: {{learning_rate: 1.0e-2, epochs: 6, batch_size: 8, grad_accum: 1, eval_steps: 10, max_seq_len: 32, precision: fp32}}
eval: {{batch_size: 8}}
thresholds: {{baseline_target: 1.0, finetuned_target: 0.5, review_band: 0.2}}
deploy: {{acceptance: {{profiles: {profiles}, min_mean: 0.6, min_each: 0.4, min_correlation: 0.85, max_latency_s: 5}}}}
"""
PROFILES = [{"text": "Review 900: a film", "clarity": 4.5, "grammar": 4.0},
            {"text": "Review 901: and fine", "clarity": 3.0, "grammar": 3.5},
            {"text": "Review 902: slow film", "clarity": 4.5, "grammar": 4.0}]
CLASSIFIER = """name: tiny_intents
task: {{type: classification, labels: [dull, fine, film], metric: accuracy}}
data: {{path: {data}}}
prompt: {{template: "{{text}}", response: " {{label}}"}}
base_model: {model}
lora: {{r: 4, alpha: 8}}
train: {{method: head, learning_rate: 1.0e-2, epochs: 4, batch_size: 8, grad_accum: 1, eval_steps: 10, max_seq_len: 32,
         precision: fp32}}
eval: {{batch_size: 8}}
thresholds: {{baseline_target: 0.3, finetuned_target: 0.8, review_band: 0.1}}
"""


def _rows(n: int, seed: int) -> list[dict]:
    "Oracle-dataset rows: the last word decides both scores and the tier."
    rng = random.Random(seed)
    out = []
    for i in range(n):
        word = rng.choice(sorted(LEVELS))
        scores, tier = LEVELS[word]
        text = f"Review {i}: {rng.choice(['a', 'and', 'slow'])} {word}"
        out.append({"id": f"r{i}", "text": text, "labels": scores, "dimension_names": ["clarity", "grammar"],
                    "tier": tier, "label": word})
    return out


def _run(tmp_path: Path, yaml_text: str, name: str, run_id: str = "r1", **overrides) -> Path:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(yaml_text)
    opts = RunOptions(specialist=str(spec), runs_root=str(tmp_path / "runs"), run_id=run_id, gguf=False,
                      overrides=overrides)
    return run_pipeline(opts).root


@pytest.fixture(scope="module")
def scorer_run(tmp_path_factory, tiny_model) -> Path:
    tmp = tmp_path_factory.mktemp("scorer")
    write_jsonl(tmp / "rows.jsonl", _rows(240, 0))
    write_jsonl(tmp / "profiles.jsonl", PROFILES)
    text = REGRESSION.format(data=tmp / "rows.jsonl", model=tiny_model, profiles=tmp / "profiles.jsonl")
    return _run(tmp, text, "tiny_scorer")


def test_regression_head_pipeline(scorer_run):
    base, tuned = (read_json(scorer_run / "metrics" / f"{n}.json") for n in ("baseline", "finetuned"))
    print("test MAE: training mean", round(base["metrics"]["mae"], 4), "-> head", round(tuned["metrics"]["mae"], 4))
    assert tuned["metrics"]["mae"] < 0.5 * base["metrics"]["mae"]
    assert set(tuned["per_dimension"]) == {"clarity", "grammar"} and set(tuned["by_tier"]) == set(
        t for _, t in LEVELS.values())
    assert tuned["overfitting"]["overfitting"] in (True, False)
    gate = read_json(scorer_run / "gate.json")
    assert gate["decision"] == "DEPLOY" and "<= target" in gate["reasons"][1], gate
    for f in ("plots/overall_metrics.png", "plots/per_dimension_mae.png", "plots/loss_curves.png",
              "training_summary.txt", "training_history.json", "training_metadata.json", "adapter/head.json",
              "merged/config.json", "merged/head.json", "report.md"):
        assert (scorer_run / f).exists(), f
    assert read_json(scorer_run / "export.json")["merged"]["ok"]
    history = read_json(scorer_run / "training_history.json")
    print("validation MAE:", [round(h["eval_mae"], 3) for h in history if "eval_mae" in h])
    assert "MAE" in (scorer_run / "report.md").read_text()


def test_score_command(scorer_run, tmp_path):
    rows = [{"id": "a", "text": "Review: slow dull"}, {"id": "b", "text": "Review: a film"}]
    write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "scores.jsonl"
    done = subprocess.run([CLI, "score", str(scorer_run), "--input", str(tmp_path / "in.jsonl"), "--output", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rows/s" in done.stderr + done.stdout
    got = read_jsonl(out)
    assert [g["id"] for g in got] == ["a", "b"] and got[0]["scores"]["clarity"] < got[1]["scores"]["clarity"], got
    bad = subprocess.run([CLI, "score", str(scorer_run), "--input", str(tmp_path / "missing.jsonl")],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "missing.jsonl" in bad.stderr


def test_classification_head_pipeline(tmp_path, tiny_model):
    write_jsonl(tmp_path / "rows.jsonl", [{"text": r["text"], "label": r["label"]} for r in _rows(200, 1)])
    run = _run(tmp_path, CLASSIFIER.format(data=tmp_path / "rows.jsonl", model=tiny_model), "tiny_intents")
    base, tuned = (read_json(run / "metrics" / f"{n}.json") for n in ("baseline", "finetuned"))
    print("accuracy: most frequent label", base["metrics"]["accuracy"], "-> head", tuned["metrics"]["accuracy"])
    assert tuned["metrics"]["accuracy"] >= 0.9 > base["metrics"]["accuracy"]
    assert tuned["confusion"]["labels"] == ["dull", "fine", "film"]
    assert read_json(run / "gate.json")["decision"] == "DEPLOY"


def test_acceptance_keeps_the_previous_scorer(scorer_run):
    "Seed 002's acceptance: the first scorer passes and is promoted; a stricter bar refuses the next one."
    check = read_json(scorer_run / "deploy_check.json")
    print("acceptance:", {k: check[k] for k in ("mean", "minimum", "correlation")}, check["latency_s"])
    assert check["ok"] and check["checks"] == {"mean": True, "minimum": True, "p95_latency": True, "correlation": True}
    assert read_json(scorer_run / "promotion.json")["action"] == "promoted"
    tmp = scorer_run.parents[2]
    second = _run(tmp, (tmp / "tiny_scorer.yaml").read_text(), "tiny_scorer", "r2", **{"deploy.acceptance.min_mean": 0.99})
    refused = read_json(second / "deploy_check.json")
    assert not refused["ok"] and refused["checks"]["mean"] is False
    assert read_json(second / "promotion.json")["action"] == "kept_previous"
    assert read_json(scorer_run.parent / "current.json")["run_id"] == "r1"

NER = """name: tiny_ner
task: {{type: generation, metric: entity_f1, tags: [O, B-PER, I-PER, B-LOC, I-LOC]}}
data: {{reader: conll, path: {data}, metadata_fields: [tokens, tags]}}
prompt: {{template: "Sentence: {{text}}\\nEntities:", response: " {{label}}"}}
base_model: {model}
lora: {{r: 4, alpha: 8}}
train: {{method: head, learning_rate: 3.0e-3, epochs: 8, batch_size: 8, grad_accum: 1, eval_steps: 40, max_seq_len: 48,
         precision: fp32}}
eval: {{batch_size: 8}}
thresholds: {{baseline_target: 0.0, finetuned_target: 0.7, review_band: 0.1}}
"""


def _conll(n: int, seed: int) -> str:
    "Sentences whose names come from two small lists: the tags follow from the words (and their neighbours)."
    rng = random.Random(seed)
    people, places, filler = ["fine film", "dull"], ["Oslo", "city"], ["a", "and", "slow"]  # words the tiny vocabulary has
    out = []
    for _ in range(n):
        words, tags = [], []
        for kind in rng.sample(["PER", "LOC", "O", "O"], 4):
            name = rng.choice(people if kind == "PER" else places if kind == "LOC" else filler).split()
            words += name
            tags += ["O"] * len(name) if kind == "O" else [f"B-{kind}"] + [f"I-{kind}"] * (len(name) - 1)
        words.append(str(rng.randrange(10**6)))  # every sentence its own
        tags.append("O")
        out.append("\n".join(f"{w} X X {t}" for w, t in zip(words, tags)))
    return "\n\n".join(out) + "\n"


def test_token_head_pipeline(tmp_path, tiny_model):
    (tmp_path / "ner.txt").write_text(_conll(240, 2))
    run = _run(tmp_path, NER.format(data=tmp_path / "ner.txt", model=tiny_model), "tiny_ner")
    base, tuned = (read_json(run / "metrics" / f"{n}.json") for n in ("baseline", "finetuned"))
    print("entity F1: no entities", base["metrics"]["entity_f1"], "-> token head", tuned["metrics"]["entity_f1"])
    assert base["metrics"]["entity_f1"] == 0 and tuned["metrics"]["entity_f1"] >= 0.7
    assert read_json(run / "export.json")["merged"]["ok"] and read_json(run / "gate.json")["decision"] != "FAIL"
    from simplex_train.workflow.trained import score_file
    write_jsonl(tmp_path / "sentences.jsonl", [{"id": "s1", "text": "a fine film met Oslo"}])
    got = read_jsonl(score_file(run, tmp_path / "sentences.jsonl")["output"])
    print("tagged:", got)
    assert got[0]["tokens"] == ["a", "fine", "film", "met", "Oslo"] and len(got[0]["tags"]) == 5
