"""Seed 003's whole flow, end to end on local servers: sample -> calibrate (a broken prompt FAILs, the fixed one
PASSes) -> validate -> batch (killed mid-way and resumed: every row labelled once, the ledger consistent with what
the server answered) -> dataset -> a regression head trained, evaluated, gated and exported (tiny model). The oracle
is a scripted HTTP server behind the OpenAI chat API: it scores an article from its words, deterministically, and
answers prose when the prompt does not ask for JSON (the broken prompt)."""
import json, random, signal, subprocess, sys, time
from pathlib import Path

import pytest

from scripted_server import ScriptedServer
from simplex_train.base.core import read_json, read_jsonl
from simplex_train.workflow.options import RunOptions
from simplex_train.workflow.pipeline import run_pipeline

CLI = str(Path(sys.executable).parent / "simplex-train")
VERDICT = {"weak": 3, "solid": 4, "strong": 5}  # the article's last word sets its depth, its topic moves it
FILTER = """name: news
dimensions:
  - {{name: depth, description: how much the article explains, scale: [0, 10]}}
  - {{name: accuracy, description: how careful its claims are, scale: [0, 10]}}
tiers: {{high: 6, medium: 3.5, low: 0}}
prompt: "{prompt}"
prefilter: {{on_topic: [study], off_topic: [gossip]}}
oracle: {{url: "{url}", model: scripted, concurrency: 2, timeout_s: 30, backoff_s: 0.01}}
prices: {{scripted: {{input_per_mtok: 1.0, output_per_mtok: 4.0}}}}
budget_usd: 1.0
calibration: {{n_per_group: 10, repeats: 2, min_spread: 0.5, min_separation: 1.0}}
"""
BROKEN = "Tell me what you think of this article: {text}"
FIXED = "Score the article on {dimensions}. Reply with one JSON object only.\\nArticle: {text}\\nJSON:"


def _reply(prompt: str) -> str:
    if "JSON" not in prompt:
        return "A fine article, I would give it a seven or so."
    article = prompt.split("Article:")[-1].split("JSON:")[0].strip()
    depth = VERDICT[article.rstrip(".").split()[-1]] + (2 if "study" in article else -2 if "Gossip" in article else 0)
    return json.dumps({"depth": depth, "accuracy": min(10, depth + 1)})


def _articles(n: int) -> list[dict]:
    rng = random.Random(0)
    kinds = ["A study of {k} patients, the report calls it", "Gossip about {k} celebrities, the column calls it",
             "A note on {k} bridges, the engineers call it"]
    return [{"id": f"a{i}", "text": rng.choice(kinds).format(k=i) + " " + rng.choice(sorted(VERDICT)) + "."}
            for i in range(n)]


def _label(*args) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "label", *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.fixture()
def oracle():
    with ScriptedServer(_reply) as server:
        yield server


def _kill_when_labelled(folder: Path, rows_file: Path, n: int) -> None:
    "Start a batch and kill it (SIGKILL) once `n` rows are in labels.jsonl."
    proc = subprocess.Popen([CLI, "label", "batch", str(folder), "--input", str(rows_file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    labels = folder / "labels" / "labels.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if labels.is_file() and len(labels.read_text().splitlines()) >= n:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_seed003_flow(tmp_path, oracle, tiny_model):
    folder = tmp_path / "news" / "v1"
    folder.mkdir(parents=True)
    rows_file = tmp_path / "articles.jsonl"
    rows_file.write_text("".join(json.dumps(r) + "\n" for r in _articles(150)))
    (folder / "config.yaml").write_text(FILTER.format(prompt=BROKEN, url=oracle.url))
    assert _label("sample", folder, "--input", rows_file).returncode == 0
    broken = _label("calibrate", folder, "--input", rows_file)
    assert read_json(folder / "labels" / "calibration_report.json")["decision"] == "FAIL", broken.stderr[-2000:]
    refused = _label("batch", folder, "--input", rows_file)
    assert refused.returncode == 2 and "batch labelling refused" in refused.stderr
    (folder / "config.yaml").write_text(FILTER.format(prompt=FIXED, url=oracle.url))
    assert _label("calibrate", folder, "--input", rows_file).returncode == 0
    calibration = read_json(folder / "labels" / "calibration_report.json")
    assert calibration["decision"] == "PASS", calibration
    assert _label("validate", folder, "--input", rows_file).returncode == 0
    assert read_json(folder / "labels" / "validation_report.json")["decision"] == "PASS"

    oracle.delay_s = 0.02
    _kill_when_labelled(folder, rows_file, 64)
    killed_at = len(read_jsonl(folder / "labels" / "labels.jsonl"))
    assert 64 <= killed_at < 150
    done = _label("batch", folder, "--input", rows_file)
    assert done.returncode == 0, done.stderr[-2000:]
    labels = read_jsonl(folder / "labels" / "labels.jsonl")
    assert sorted(r["id"] for r in labels) == sorted(f"a{i}" for i in range(150))  # every row once
    ledger = read_json(folder / "labels" / "ledger.json")
    print("killed at", killed_at, "rows; ledger:", ledger["requests"], "requests,", ledger["spent_usd"], "USD;",
          oracle.calls, "calls answered")
    assert ledger["requests"] <= oracle.calls  # nothing counted that the server did not answer
    assert ledger["spent_usd"] == pytest.approx(ledger["requests"] * (50 * 1.0 + 10 * 4.0) / 1e6)

    assert _label("dataset", folder, "--input", rows_file).returncode == 0
    spec = tmp_path / "news_scorer.yaml"
    spec.write_text(f"""name: news_scorer
task: {{type: regression, metric: mae, dimensions: [depth, accuracy], scale: [0, 10]}}
data: {{root: {folder / 'dataset'}, splits: {{train: train.jsonl, val: val.jsonl, test: test.jsonl}}}}
prompt: {{template: "{{text}}"}}
base_model: {tiny_model}
lora: {{r: 4, alpha: 8}}
train: {{learning_rate: 1.0e-2, epochs: 8, batch_size: 8, grad_accum: 1, eval_steps: 10, max_seq_len: 48,
         precision: fp32}}
thresholds: {{baseline_target: 2.0, finetuned_target: 1.0, review_band: 0.2}}
""")
    run = run_pipeline(RunOptions(specialist=str(spec), runs_root=str(tmp_path / "runs"), run_id="r1", gguf=False))
    base, tuned = (read_json(run.metrics_file(n)) for n in ("baseline", "finetuned"))
    print("test MAE: training mean", round(base["metrics"]["mae"], 3), "-> head", round(tuned["metrics"]["mae"], 3))
    assert tuned["metrics"]["mae"] < base["metrics"]["mae"]
    assert read_json(run.gate)["decision"] in ("DEPLOY", "REVIEW") and read_json(run.export_check)["merged"]["ok"]
