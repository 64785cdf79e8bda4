"""A two-model generation campaign against real local servers: llama.cpp (xllamacpp) serving the embedded Gemma 3
270M through the completions API, and a scripted OpenAI-compatible server (chat API) that also judges. The CLI run is
killed part way and resumed: no job is asked twice, the ledger counts every paid request, every reply is kept or
dropped with a reason, and the data stage reads the kept rows with --data."""
import json, re, signal, subprocess, sys, time
from pathlib import Path

import pytest
import yaml

from scripted_server import ScriptedServer
from simplex_train.inputs.clients import LlamaServer
from simplex_train.base.core import read_json, read_jsonl
from simplex_train.modeling.models import embedded_gguf

pytestmark = pytest.mark.e2e
CLI = str(Path(sys.executable).parent / "simplex-train")
RECIPE = Path(__file__).parents[1] / "recipes" / "campaigns" / "support_qa.yaml"


def scripted_reply(prompt: str) -> str:
    "A second provider: writes a question per prompt; as the judge, grades short answers 2 and others 4."
    if prompt.startswith("Rate"):
        answer = re.search(r"label: (.*)", prompt).group(1)
        return "2" if len(answer.split()) < 6 else "4"
    company, topic = re.findall(r"Company: (.*)\nTopic: (.*)\nQuestion:", prompt)[-1]
    return f" What is your {company}'s rule on {topic}?\nAnswer: Our {topic} rules are on the {company} website."


def _campaign(tmp_path: Path, gemma_url: str, scripted_url: str) -> Path:
    "The shipped support_qa campaign, smaller, with the scripted provider as the second model and the judge."
    c = yaml.safe_load(RECIPE.read_text())
    gemma = c["models"][0] | {"name": "gemma", "url": gemma_url}
    other = {"name": "scripted", "url": scripted_url, "model": "scripted-1", "max_tokens": 96, "backoff_s": 0.05}
    c |= {"models": [gemma, other], "domains": ["bank", "airline", "hospital"], "topics": ["refunds", "fees", "lost items"],
          "quality": {"min_chars": 30, "judge": {"model": "scripted", "min_score": 3}},
          "prices": {"gemma": {"input_per_mtok": 0.1, "output_per_mtok": 0.4}, "scripted": {"input_per_mtok": 1.0, "output_per_mtok": 4.0}}}
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(c, sort_keys=False))
    return path


def _generate(path: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([CLI, "generate", str(path), "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _lines(path: Path) -> int:
    return path.read_text().count("\n") if path.is_file() else 0


def test_two_model_campaign_killed_and_resumed(tmp_path):
    out = tmp_path / "out"
    with LlamaServer(embedded_gguf()[0], 2048) as gemma, ScriptedServer(scripted_reply, 0.2, (80, 20)) as scripted:
        path = _campaign(tmp_path, gemma.url, scripted.url)
        first = _generate(path, out)
        deadline = time.monotonic() + 300
        while _lines(out / "replies.jsonl") < 10 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait()
        answered_before_kill = _lines(out / "replies.jsonl")
        assert 10 <= answered_before_kill < 36, "the kill should land part way through the 36 jobs"
        second = _generate(path, out)
        stdout, stderr = second.communicate(timeout=900)
    assert second.returncode == 0, stderr[-3000:]
    report = read_json(out / "campaign_report.json")
    replies, grades = read_jsonl(out / "replies.jsonl"), read_jsonl(out / "judgements.jsonl")
    rows, dropped = read_jsonl(out / "rows.jsonl"), read_jsonl(out / "dropped.jsonl")
    jobs = [r["job"] for r in replies]
    assert len(jobs) == len(set(jobs)) == report["jobs"] == 36  # 1 template x 3 domains x 3 topics x 2 samples x 2 models
    assert report["answered_before"] >= answered_before_kill - 1  # at most a line cut by the kill is asked again
    assert len(rows) + len(dropped) == 36 == report["kept"] + sum(report["dropped"].values())
    assert {r["model"] for r in replies} == {"gemma", "scripted"} and report["by_model"]["scripted"]["replies"] == 18
    # the scripted model writes one question per prompt: its second sample of each prompt is a near-duplicate
    assert report["dropped"].get("near-duplicate", 0) >= 9 and report["by_model"]["scripted"]["kept"] <= 9
    assert all(r["campaign"] == "support_qa" and r["text"] and r["label"] for r in rows)
    ledger = read_json(out / "ledger.json")
    paid_here = len(replies) + len(grades)
    assert paid_here <= ledger["requests"] <= paid_here + 2  # a kill can lose the requests in flight, one per model
    gemma_usage = sum(r["usage"]["completion_tokens"] for r in replies if r["model"] == "gemma")
    assert ledger["by_model"]["gemma"]["completion_tokens"] >= gemma_usage > 0
    assert abs(ledger["spent_usd"] - sum(m["usd"] for m in ledger["by_model"].values())) < 1e-9
    assert "rows kept" in stdout and (out / "campaign_report.md").read_text().startswith("# Campaign support_qa")
    print(json.dumps({k: report[k] for k in ("replies", "kept", "dropped", "answered_before", "spent_usd")}))

    prepared = subprocess.run([CLI, "prepare", "email_composer", "--data", str(out / "rows.jsonl"), "--runs-root",
                               str(tmp_path / "runs")], capture_output=True, text=True, timeout=900)  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    assert f"{len(rows)} rows in" in prepared.stdout


def test_malformed_replies_are_retried_counted_and_named(tmp_path):
    """An endpoint that answers with an HTML page, truncated JSON, no `choices`, or hangs up: each retried, then
    recorded as a failure naming the URL; the ledger counts every request the server received; rows still come."""
    from simplex_train.labels.campaigns import load_campaign, run_campaign
    bad = {"html": b"<html><body>502 Bad Gateway</body></html>", "cut": b'{"choices": [{"message": {"cont',
           "none": b'{"error": {"message": "overloaded"}}', "drop": b""}

    def reply(prompt: str):
        topic = re.search(r"about (\w+)", prompt).group(1)
        return bad.get(topic, f" What is the rule on {topic} here?\nAnswer: It is written on the website, page two.")

    with ScriptedServer(reply) as server:
        c = {"name": "flaky", "models": [{"name": "paid", "url": server.url, "retries": 2, "backoff_s": 0.01}],
             "templates": [{"name": "qa", "prompt": "Write a question about {topic} for {domain}.",
                            "parse": r"(?P<text>[^\n]+?)\s*\nAnswer:\s*(?P<label>.+)"}],
             "domains": ["bank"], "topics": ["fees", "html", "cut", "none", "drop"],
             "prices": {"paid": {"input_per_mtok": 1.0, "output_per_mtok": 4.0}}, "budget_usd": 1.0}
        path = tmp_path / "flaky.yaml"
        path.write_text(yaml.safe_dump(c))
        rep = run_campaign(load_campaign(path), tmp_path / "out")
        calls = server.calls
    ledger = read_json(tmp_path / "out" / "ledger.json")
    assert rep["kept"] == 1 and calls == 1 + 4 * 3                 # each bad reply tried three times
    assert ledger["requests"] == calls and ledger["failed"] == 4 * 3   # every request the server received is in the ledger
    events = " ".join(e["event"] for e in ledger["events"])
    assert server.url in events and "not JSON" in events and "no choices" in events
