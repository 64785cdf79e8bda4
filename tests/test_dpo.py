"""DPO through the whole pipeline on a tiny random model: a chain `sft -> dpo` in one run (the DPO stage starts from
the SFT stage's adapter, which is also its frozen reference), gated, exported; and a killed DPO run resumed.
Losses and metrics are printed for the record."""
import math, random
from pathlib import Path

import pytest

from simplex_train.workflow.chain import load_chain, run_chain
from simplex_train.base.core import read_json, read_jsonl, write_json, write_jsonl
from simplex_train.workflow.options import RunOptions, resolve_spec
from simplex_train.workflow.pipeline import run_pipeline, stage_inputs
from simplex_train.base.runs import load_manifest

STAGE = """name: {name}
task: {{type: preference}}
data: {{path: {data}, rejected_field: rejected}}
prompt: {{template: "{{text}}", response: " {{label}}"}}
base_model: {model}
lora: {{r: 4, alpha: 8}}
train: {{method: {method}, learning_rate: 1.0e-2, epochs: 2, batch_size: 4, grad_accum: 1, eval_steps: 10,
         max_seq_len: 64, precision: fp32}}
dpo: {{beta: 0.5}}
eval: {{batch_size: 8}}
thresholds: {{baseline_target: 0.5, finetuned_target: 0.6, review_band: 0.1}}
"""


def _pairs(n: int, seed: int = 0) -> list[dict]:
    "A polite answer is chosen over a rude one; the prompts vary."
    rng = random.Random(seed)
    asks = ["may I", "can you", "please help", "could we"]
    return [{"text": f"User {i}: {rng.choice(asks)} go?\nAssistant:", "label": rng.choice(["sure, gladly", "yes of course"]),
             "rejected": rng.choice(["no, go away", "shut up"])} for i in range(n)]


def _write(tmp_path: Path, tiny_model: str, name: str, method: str) -> Path:
    p = tmp_path / f"{name}.yaml"
    p.write_text(STAGE.format(name=name, data=tmp_path / "pairs.jsonl", model=tiny_model, method=method))
    return p


@pytest.fixture(scope="module")
def chain_run(tmp_path_factory, tiny_model):
    tmp = tmp_path_factory.mktemp("dpo")
    write_jsonl(tmp / "pairs.jsonl", _pairs(80))
    stages = [_write(tmp, tiny_model, "tiny_sft", "sft"), _write(tmp, tiny_model, "tiny_dpo", "dpo")]
    chain = tmp / "polite.yaml"
    chain.write_text(f"name: polite\nstages: [{stages[0]}, {stages[1]}]\nmax_drop: 0.2\n")
    out = run_chain(load_chain(str(chain)), RunOptions(specialist=str(chain), runs_root=str(tmp / "runs"), run_id="c1",
                                                       gguf=False))  # fmt: skip
    return tmp, read_json(out.chain_summary)


def test_sft_then_dpo_chain(chain_run):
    tmp, summary = chain_run
    sft_run, dpo_run = tmp / "runs/tiny_sft/c1", tmp / "runs/tiny_dpo/c1"
    sft = read_json(sft_run / "metrics/finetuned.json")["metrics"]
    start = read_json(dpo_run / "metrics/baseline.json")["metrics"]     # the DPO stage's baseline: the SFT adapter
    dpo = read_json(dpo_run / "metrics/finetuned.json")["metrics"]
    hist = read_json(dpo_run / "training_history.json")
    losses = [h["loss"] for h in hist if "loss" in h]
    print("SFT", sft, "DPO start", start, "DPO", dpo, "DPO losses", [round(x, 4) for x in losses])
    assert start["preference_accuracy"] == pytest.approx(sft["preference_accuracy"])   # DPO started from the SFT adapter
    assert losses[0] == pytest.approx(math.log(2), abs=1e-4)   # the reference is the SFT adapter: log 2 at step 1
    assert losses[-1] < losses[0]
    assert dpo["reward_accuracy"] >= 0.9 and dpo["reward_margin"] > 0   # held-out pairs, against the SFT reference
    assert dpo["preference_accuracy"] >= start["preference_accuracy"]
    assert read_json(dpo_run / "training_metadata.json")["dpo"]["beta"] == 0.5
    assert read_json(dpo_run / "gate.json")["decision"] in ("DEPLOY", "REVIEW")
    assert (dpo_run / "merged/config.json").exists() and not (sft_run / "merged").exists()   # exported at the end only
    assert [s["stage"] for s in summary["stages"]] == ["tiny_sft", "tiny_dpo"]
    assert "DPO: beta 0.5, loss `sigmoid`, reference `start`; reward accuracy" in (dpo_run / "report.md").read_text()


def test_killed_dpo_run_resumes(chain_run, tiny_model):
    "A DPO run stopped after its first checkpoint trains on from it, with the reference read back from the run."
    tmp, _ = chain_run
    spec = _write(tmp, tiny_model, "tiny_dpo_alone", "dpo")
    opts = dict(specialist=str(spec), runs_root=str(tmp / "runs"), run_id="k1", gguf=False, export_merged=False)
    run = run_pipeline(RunOptions(**opts, max_steps=10), ["prepare", "baseline", "train"])   # stopped after step 10
    reference = (tmp / "runs/tiny_dpo_alone/k1/data/reference_logps.json").stat().st_mtime
    full = RunOptions(**opts)
    manifest = load_manifest(run)   # what a kill after step 10 leaves: the stage interrupted, with the full run's inputs
    manifest["stages"]["train"] = {"status": "interrupted", "inputs": stage_inputs("train", run, resolve_spec(full), full)}
    write_json(run.manifest, manifest)
    run = run_pipeline(full, ["train"])
    meta = read_json(run.training_metadata)
    assert meta["resumed_from"].endswith("checkpoint-10") and meta["steps"] > 10
    assert run.reference_logps.stat().st_mtime == reference   # not computed again
    again = run_pipeline(RunOptions(**opts, max_steps=12, force=True), ["train"])   # trained again: from step 0
    assert read_json(again.training_metadata)["resumed_from"] is None


def test_trl_pairs_file_is_read(tmp_path, tiny_model):
    """A pairs file with TRL's columns (as `simplex-train pairs` writes) becomes DPO rows: prompt, chosen, rejected,
    word for word (multi-line prompts included) when they are verbatim fields."""
    rows = [{"prompt": f"Memories:\n- item {i}\n\nQ{i}: ok?\nA:", "chosen": "yes,  fine", "rejected": "no"} for i in range(30)]
    write_jsonl(tmp_path / "pairs.jsonl", rows)
    spec = tmp_path / "from_pairs.yaml"
    spec.write_text(f"""name: from_pairs
task: {{type: preference}}
data: {{path: {tmp_path / 'pairs.jsonl'}, text_field: prompt, label_field: chosen, rejected_field: rejected,
        verbatim_fields: [prompt, chosen, rejected]}}
prompt: {{template: "{{text}}", response: " {{label}}"}}
base_model: {tiny_model}
train: {{method: dpo}}
thresholds: {{baseline_target: 0.5, finetuned_target: 0.6}}
""")
    run = run_pipeline(RunOptions(specialist=str(spec), runs_root=str(tmp_path / "runs"), gguf=False), ["prepare"])
    got = read_jsonl(run.split("train"))[0]
    assert got["prompt"].startswith("Memories:\n- item ") and got["prompt"].endswith(": ok?\nA:")  # verbatim: line breaks kept
    assert got["response"] == " yes,  fine" and got["rejected"] == " no"


def test_pairs_scored_by_a_judge_on_llamacpp(chain_run):
    """`simplex-train pairs RUN --judge-url`: the SFT run's sampled answers graded 1-5 by llama.cpp serving the
    embedded model (a real OpenAI-compatible judge); every prompt and every candidate is accounted for."""
    import subprocess, sys
    from simplex_train.inputs.clients import LlamaServer
    from simplex_train.modeling.models import embedded_gguf
    tmp, _ = chain_run
    out = tmp / "judged_pairs.jsonl"
    cli = str(Path(sys.executable).parent / "simplex-train")
    with LlamaServer(embedded_gguf()[0], 2048) as judge:
        made = subprocess.run([cli, "pairs", str(tmp / "runs/tiny_sft/c1"), "--k", "3", "--max-rows", "6", "--output",
                               str(out), "--judge-url", judge.url], capture_output=True, text=True, timeout=900)  # fmt: skip
    assert made.returncode == 0, made.stderr[-3000:]
    counts = read_json(tmp / "runs/tiny_sft/c1/data/generated_pairs.json")
    print("judged pairs", counts)
    assert counts["scored_by"].startswith("judge default at http://127.0.0.1:") and counts["candidates"] == 18
    assert counts.get("kept", 0) + counts.get("tie", 0) + counts.get("fewer_than_two_parsed", 0) == 6
    pairs = read_jsonl(out)
    assert len(pairs) == counts.get("kept", 0)
    assert all(1 <= p["rejected_score"] < p["chosen_score"] <= 5 for p in pairs)


def _length_grade(answer: str) -> int:
    return 1 + len(answer) % 5


def _scripted_grade(prompt: str) -> str:
    "A scripted judge: grades the answer in the judge prompt by its length, so the pick can be checked afterwards."
    answer = prompt[prompt.rindex("\nAnswer: ") + len("\nAnswer: ") : prompt.rindex("\nGrade the answer from 1")]
    return str(_length_grade(answer))


def test_pairs_chosen_and_rejected_follow_the_judge(chain_run):
    """With a scripted judge (a local server behind the same API) whose grades are known, the kept pairs are the
    best and the worst graded candidates of their prompt, and every candidate was graded once."""
    import subprocess, sys
    from scripted_server import ScriptedServer
    tmp, _ = chain_run
    out = tmp / "scripted_pairs.jsonl"
    cli = str(Path(sys.executable).parent / "simplex-train")
    with ScriptedServer(_scripted_grade) as judge:
        made = subprocess.run([cli, "pairs", str(tmp / "runs/tiny_sft/c1"), "--k", "3", "--max-rows", "6", "--output",
                               str(out), "--judge-url", judge.url], capture_output=True, text=True, timeout=900)  # fmt: skip
        assert made.returncode == 0, made.stderr[-3000:]
        assert judge.calls == 18
    counts, pairs = read_json(tmp / "runs/tiny_sft/c1/data/generated_pairs.json"), read_jsonl(out)
    print("scripted judge pairs", counts)
    assert counts["kept"] == len(pairs) >= 1 and counts["kept"] + counts.get("tie", 0) == 6
    for p in pairs:
        assert (_length_grade(p["chosen"]), _length_grade(p["rejected"])) == (p["chosen_score"], p["rejected_score"])
        assert p["chosen_score"] > p["rejected_score"]
