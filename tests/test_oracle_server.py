"""The oracle against a real OpenAI-compatible server: llama.cpp (xllamacpp) serving the embedded Gemma 3 270M. The
calibration writes its report, keeps every reply that does not parse with its raw text, and the ledger counts the
token usage the server reports; the batch is refused until calibration and validation pass, and an override is
recorded."""
import json, subprocess, sys
from pathlib import Path

import pytest

from simplex_train.inputs.clients import LlamaServer
from simplex_train.base.core import read_json, read_jsonl
from simplex_train.modeling.models import embedded_gguf

pytestmark = pytest.mark.e2e
CLI = str(Path(sys.executable).parent / "simplex-train")
CONFIG = """name: news
dimensions:
  - {name: depth, description: how much the article explains, scale: [0, 10]}
  - {name: accuracy, description: how careful its claims are, scale: [0, 10]}
prompt: "Score the article on {dimensions}. Reply with one JSON object only, like {\\"depth\\": 5, \\"accuracy\\": 5}.\\nArticle: {text}\\nJSON:"
prefilter: {on_topic: [study, research], off_topic: [celebrity, gossip]}
oracle: {max_tokens: 40, concurrency: 2, timeout_s: 120}
prices: {default: {input_per_mtok: 1.0, output_per_mtok: 2.0}}
budget_usd: 1.0
calibration: {n_per_group: 3, repeats: 2}
"""
ARTICLES = ["A new study of 4,000 patients found the drug lowered blood pressure by 8 points over a year.",
            "Research on coral reefs shows that heat waves bleach reefs twice as often as in the 1980s.",
            "The study measured how long bridges last and found salt doubles the rate of corrosion.",
            "Celebrity gossip: a singer was seen wearing sunglasses at a cafe on Tuesday.",
            "More celebrity rumours about who attended the party last night.",
            "Gossip column: the actor's dog has a new haircut, fans say."]


def _label(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "label", *args], capture_output=True, text=True, timeout=900)


def test_calibrate_validate_batch_against_llamacpp(tmp_path):
    folder = tmp_path / "news" / "v1"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(CONFIG)
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"id": f"a{i}", "text": t}) + "\n" for i, t in enumerate(ARTICLES)))
    with LlamaServer(embedded_gguf()[0], 1024) as server:
        cal = _label("calibrate", str(folder), "--input", str(rows), "--url", server.url, "--model", "default")
        assert cal.returncode == 0, cal.stderr[-3000:]
        report = read_json(folder / "labels" / "calibration_report.json")
        assert report["decision"] in ("PASS", "REVIEW", "FAIL") and report["figures"]["rows"] == 6
        failures = report["figures"]["parse_failures"]
        assert report["figures"]["parse_rate"] == 1 - len(failures) / 6
        ledger = read_json(folder / "labels" / "ledger.json")
        assert ledger["requests"] == 6 + 2 and ledger["by_model"]["default"]["prompt_tokens"] > 6 * 20
        assert ledger["spent_usd"] > 0
        assert (folder / "labels" / "calibration_report.md").read_text().startswith("# Calibration (seed 42): **")
        batch = _label("batch", str(folder), "--input", str(rows), "--url", server.url)
        if report["decision"] != "PASS":
            assert batch.returncode == 2 and "batch labelling refused (calibration:" in batch.stderr
        forced = _label("batch", str(folder), "--input", str(rows), "--url", server.url, "--override", "test run")
        assert forced.returncode == 0, forced.stderr[-3000:]
    labels = read_jsonl(folder / "labels" / "labels.jsonl")
    assert len(labels) == 6 and all(l["scores"] or l["raw"] is not None for l in labels)  # nothing dropped
    assert "test run" in json.dumps(read_json(folder / "labels" / "ledger.json")["events"]) or report["decision"] == "PASS"
