"""A fleet of three specialists of the embedded base (context_protocol, ticket_routing and belief_revision, on their
generated data) served as LoRA adapters by one llama.cpp server behind the OpenAI-compatible front: each answers its
test rows by name as its own served check did; a rollback and a promotion swap context_protocol's adapter while the
other two keep answering; the request log becomes labelled data that the next run of ticket_routing trains on.
(ticket_routing, not intent: after one training step intent's 77 many-token labels are not yet the model's answers, and
its served check, greedy under a grammar of the labels, fails there; one-token labels are scored exactly.)"""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from simplex_train.base.core import read_json, read_jsonl
from simplex_train.base.runs import RunDir
from simplex_train.inputs.clients import free_port
from simplex_train.inputs.generators import generate
from simplex_train.labels.tasks import compute_metrics
from simplex_train.shipping.modelfile import parse_modelfile
from simplex_train.workflow.trained import run_spec

pytestmark = pytest.mark.e2e
CLI = str(Path(sys.executable).with_name("simplex-train"))
QUICK = ["--no-notebook", "--max-train", "32", "--max-val", "4", "--max-test", "8", "--set", "deploy.gguf=[q8_0]",
         "--set", "thresholds.baseline_target=0", "--set", "thresholds.finetuned_target=0",
         "--set", "thresholds.min_per_stratum=null", "--set", "thresholds.max_general_ppl_increase=null",
         "--set", "deploy.p95_latency_s=60",   # slow CI machines: latency is measured in bench/, not here
         "--set", "deploy.tolerance=0.15"]     # one answer of 8 may differ (a near tie of 77 labels after one step)


def _cli(*args, timeout=1800, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "SIMPLEX_SHARED_DATA": "none"})
    assert not check or r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def _run(root: Path, name: str, run_id: str, steps: int, seed: int = 42) -> RunDir:
    "A quick run of the embedded model: gated DEPLOY (the targets are off: this is about serving), so promoted."
    _cli("run", name, "--runs-root", str(root), "--run-id", run_id, "--max-steps", str(steps), "--seed", str(seed),
         *QUICK)
    run = RunDir(root / name / run_id)
    assert read_json(run.promotion)["action"] == "promoted", read_json(run.promotion)
    return run


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=120).read())


def _models(url: str) -> dict:
    return {m["id"]: m["run_id"] for m in json.loads(urllib.request.urlopen(url + "/models", timeout=30).read())["data"]}


def _wait_for(what, timeout: float = 300, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (got := what()):
            return got
        time.sleep(every)
    raise TimeoutError("the fleet did not get there in time")


@pytest.fixture(scope="module")
def fleet_runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    _run(root, "context_protocol", "second", steps=2, seed=7)
    _run(root, "context_protocol", "first", steps=1)      # promoted last: current, and `second` is the rollback
    _run(root, "ticket_routing", "r", steps=1)
    _run(root, "belief_revision", "r", steps=1)
    return root


@pytest.fixture(scope="module")
def fleet(fleet_runs):
    port = free_port()
    names = ["context_protocol", "ticket_routing", "belief_revision"]
    proc = subprocess.Popen([CLI, "serve", "--fleet", *names, "--runs-root", str(fleet_runs), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "SIMPLEX_SHARED_DATA": "none"})
    url = f"http://127.0.0.1:{port}/v1"

    def up():
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read()[-3000:])
        try:
            return _models(url)
        except OSError:
            return None

    _wait_for(up, timeout=600)
    yield url, fleet_runs
    proc.terminate()
    proc.wait(30)


def _through_front(url: str, name: str, run: RunDir) -> dict:
    "The run's served-check rows asked through the front by name: its metric and the answers' agreement."
    spec = run_spec(run)
    rows = read_jsonl(run.split("test"))[: spec.deploy.max_rows]
    preds = [_post(url + "/completions", {"model": name, "input": r})["prediction"] for r in rows]
    own = [r["prediction"] for r in read_jsonl(run.served_predictions)]
    metric = compute_metrics(spec, rows, preds)["metrics"][spec.task.metric]
    return {"metric": metric, "own": read_json(run.deploy_check)["served"], "tolerance": spec.deploy.tolerance,
            "same": sum(a == b for a, b in zip(preds, own)) / len(own)}


def test_each_specialist_answers_by_name_as_its_own_served_check(fleet):
    url, root = fleet
    assert set(_models(url)) == {"context_protocol", "ticket_routing", "belief_revision"}
    for name in ("context_protocol", "ticket_routing", "belief_revision"):
        got = _through_front(url, name, RunDir(root / name / read_json(root / name / "current.json")["run_id"]))
        print(name, got)
        assert abs(got["metric"] - got["own"]) <= got["tolerance"] and got["same"] >= 0.75, (name, got)
    admitted = [e for e in read_jsonl(root / "_fleet" / "events.jsonl") if e["event"] == "admitted"]
    assert {e["name"] for e in admitted} == {"context_protocol", "ticket_routing", "belief_revision"}
    chat = _post(url + "/chat/completions", {"model": "ticket_routing", "messages": [
        {"role": "user", "content": "I was charged twice for my order."}]})
    assert chat["choices"][0]["message"]["content"] in run_spec(RunDir(root / "ticket_routing" / "r")).task.labels
    with pytest.raises(urllib.error.HTTPError) as unknown:
        _post(url + "/completions", {"model": "sentiment", "prompt": "great"})
    assert unknown.value.code == 404 and b"not in the fleet" in unknown.value.read()


def test_a_rollback_and_a_promotion_swap_one_adapter_while_the_others_answer(fleet):
    url, root = fleet
    asked, failures, stop = [], [], threading.Event()
    texts = {"ticket_routing": "my invoice shows a double charge", "belief_revision": "Evidence: the report was retracted."}

    def keep_asking():
        while not stop.is_set():
            for name, text in texts.items():
                try:
                    asked.append(_post(url + "/completions", {"model": name, "prompt": text})["prediction"])
                except Exception as e:  # any failure of the other two during a swap fails the test
                    failures.append(f"{name}: {e}")

    worker = threading.Thread(target=keep_asking)
    worker.start()
    try:
        _cli("rollback", "context_protocol", "--runs-root", str(root))
        _wait_for(lambda: _models(url)["context_protocol"] == "second")
        _cli("promote", str(root / "context_protocol" / "first"))
        _wait_for(lambda: _models(url)["context_protocol"] == "first")
    finally:
        stop.set()
        worker.join(120)
    swaps = [e for e in read_jsonl(root / "_fleet" / "events.jsonl") if e["event"] == "swapped"]
    print("answers while swapping", len(asked), "failures", failures, "swaps", [e["run_id"] for e in swaps])
    assert not failures and len(asked) >= 4 and [e["run_id"] for e in swaps] == ["second", "first"]
    assert _models(url) == {"context_protocol": "first", "ticket_routing": "r", "belief_revision": "r"}


def test_exports_for_ollama_and_vllm_name_the_base_and_each_adapter(fleet):
    _, root = fleet
    exports = root / "_fleet" / "exports"
    parsed = dict(parse_modelfile((exports / "ticket_routing.Modelfile").read_text()))
    assert parsed["FROM"].endswith("-q8_0.gguf") and parsed["ADAPTER"].endswith("ticket_routing-lora-f16.gguf")
    assert all(exports.joinpath(parsed[k]).resolve().is_file() for k in ("FROM", "ADAPTER"))
    line = (exports / "vllm.sh").read_text()
    assert "--enable-lora" in line and "ticket_routing=" in line and "belief_revision=" in line


def test_the_request_log_becomes_labelled_data_that_the_next_run_trains_on(fleet, tmp_path):
    url, root = fleet
    sample = generate("tickets", 48, seed=11)      # tickets a person will label (the generator knows the answers)
    ids = [_post(url + "/completions", {"model": "ticket_routing", "prompt": r["text"]})["id"] for r in sample]
    _post(url + "/completions", {"model": "ticket_routing", "prompt": "where is my parcel"})     # left unlabelled
    _post(url + "/completions", {"model": "belief_revision", "prompt": "Evidence: it rained."})  # another specialist
    log = root / "_fleet" / "requests.jsonl"
    logged = {r["id"]: r for r in read_jsonl(log)}
    assert all(logged[i]["model"] == "ticket_routing" and logged[i]["seconds"] > 0 for i in ids)
    labels = tmp_path / "reviewed.jsonl"          # a person's labels for the logged requests
    labels.write_text("".join(json.dumps({"id": i, "label": r["label"]}) + "\n" for i, r in zip(ids, sample)))
    out = tmp_path / "feedback.jsonl"
    made = _cli("feedback", "ticket_routing", "--from", str(log), "--labels", str(labels), "--out", str(out))
    rows = read_jsonl(out)
    print(made.stdout.strip())
    assert len(rows) == 48 and rows[0] == {"text": sample[0]["text"], "label": sample[0]["label"]}
    assert "other_specialist" in made.stdout and "no_label" in made.stdout   # the other requests, counted
    _cli("run", "ticket_routing", "--no-notebook", "--runs-root", str(tmp_path / "runs"), "--run-id", "next",
         "--data", str(out), "--max-steps", "1", "--no-gguf", "--no-export-merged")
    run = RunDir(tmp_path / "runs" / "ticket_routing" / "next")
    assert read_json(run.gate)["decision"] in ("DEPLOY", "REVIEW", "FAIL")
    manifest = read_json(run.data_manifest)
    assert all("feedback.jsonl" in s for v in manifest["sources"].values() for s in v)   # read from the feedback
    assert sum(split["rows"] for split in manifest["splits"].values()) == 48
