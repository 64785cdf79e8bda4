"""The OpenAI-compatible client and the LLM-as-judge metric against a real local llama.cpp server (the embedded
Gemma 3 270M GGUF), and the served label scoring against PyTorch label scoring on the same weights."""
import json

import pytest

from simplex_train.base.config import load_specialist
from simplex_train.inputs.clients import LlamaServer, OpenAIClient
from simplex_train.labels.judge import judge_scores
from simplex_train.shipping.deploy import served_predictions
from simplex_train.modeling.models import embedded_gguf, load_model, load_tokenizer, local_model_path
from simplex_train.modeling.predict import score_labels

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server():
    with LlamaServer(embedded_gguf()[0], 1024) as s:
        yield s


def test_server_answers_openai_requests(server):
    client = OpenAIClient(server.url)
    out = client.complete("The capital of France is", 6, temperature=0.0)
    assert out["text"].strip() and out["finish_reason"] in ("length", "stop")
    again = client.complete("The capital of France is", 6, temperature=0.0)
    assert again["text"] == out["text"]                       # greedy: deterministic
    with pytest.raises(RuntimeError, match="HTTP"):
        client.post("/completions", {"prompt": "x", "max_tokens": -5, "logit_bias": "not a bias"})


def test_llm_judge_through_local_server(server):
    client = OpenAIClient(server.url)
    r = judge_scores(client, "answer the question", ["What is 2 + 2?", "Capital of France?", "Colour of the sky?"],
                     ["4", "Paris", "blue"], ["4", "Berlin", None])
    assert len(r["per_example"]) == 3 and r["failures"] == sum(s is None for s in r["per_example"])
    assert all(s is None or 1 <= s <= 5 for s in r["per_example"]) and 0 <= r["mean"] <= 1


def test_served_label_scoring_matches_pytorch(server):
    """The logit-bias trick on the server picks the same label as PyTorch's label scoring on the same weights
    (the safetensors cache is the dequantized GGUF), up to the server's q8 activation rounding on near ties."""
    spec = load_specialist("sentiment")
    reviews = ["a gorgeous, witty, seductive movie", "the plot is dull and the acting is worse", "an utterly charming film",
               "boring , pointless and far too long", "one of the best films of the year", "a mess from start to finish",
               "i loved every minute of it", "it made me want to leave the theater", "funny , moving and smart",
               "lifeless and flat", "a triumph", "a waste of talent"]
    rows = [{"prompt": spec.prompt.template.format(text=t), "metadata": {"label": "positive"}} for t in reviews]
    path = local_model_path("embedded")
    tok = load_tokenizer(path)
    served = served_predictions(OpenAIClient(server.url), spec, rows, tok, progress=False)
    assert served["method"].startswith("label_scoring")
    scores = score_labels(load_model(path), tok, [r["prompt"] for r in rows], [" negative", " positive"], progress=False)
    torch_preds = [spec.task.labels[s.index(max(s))] for s in scores]
    margin = [abs(a - b) for a, b in scores]
    clear = [i for i, m in enumerate(margin) if m > 0.1]
    assert clear and all(served["preds"][i] == torch_preds[i] for i in clear), (served["preds"], torch_preds, margin)


def test_evaluation_records_llm_judge(server, tiny_model, tmp_path):
    from simplex_train.base.config import apply_overrides
    from simplex_train.base.runs import RunDir
    from simplex_train.evaluation.evaluate import evaluate_split
    spec = apply_overrides(load_specialist("summarization"), {"eval.judge_url": server.url, "eval.max_new_tokens": 4})
    rows = [{"prompt": f"Article: the cat sat on mat number {i}.\nSummary:", "response": " a cat sat",
             "metadata": {"label": "a cat sat", "source": f"x:{i}"}} for i in range(3)]
    from simplex_train.evaluation.evaluate import compare_run
    run = RunDir.create("j", tmp_path, "r")
    model, tok = load_model(tiny_model), load_tokenizer(tiny_model)
    rec = evaluate_split(model, tok, spec, rows, run, "baseline", progress=False)
    j = rec["judge"]
    assert j["url"] == server.url and len(j["per_example"]) == 3 and 0 <= j["mean"] <= 1
    assert j["failures"] == sum(s is None for s in j["per_example"])
    evaluate_split(model, tok, spec, rows, run, "finetuned", progress=False)
    w = compare_run(run, spec)["judge_win_rate"]  # the same answers both sides: a judge without a bias ties them
    print("judge win rate", {k: w[k] for k in ("win_rate", "wins", "ties", "losses", "undecided")})
    assert w["wins"] + w["ties"] + w["losses"] + w["undecided"] == 3 and len(w["per_example"]) == 3
    assert w["wins"] == w["losses"] == 0  # asked in both orders, identical answers can only tie



def test_served_acceptance_of_a_generative_scorer(server, tmp_path):
    """Seed 002's four criteria through a real llama.cpp server for the JSON-writing `profile_scorer`: the profiles
    are rendered like training rows and asked one at a time, and every answer is accounted for. The base model writes
    no JSON score, so it must fail, with the criteria it failed as the reasons."""
    from simplex_train.base.config import AcceptanceConfig
    from simplex_train.shipping.deploy import predicted_scores, served_acceptance
    from simplex_train.labels.tasks import parse_output
    profiles = tmp_path / "seed_profiles.jsonl"
    rows = [{"handle": f"dev{i}", "bio": f"Senior data engineer, {i + 3} years of Python and SQL", "score": 0.8 + i / 50}
            for i in range(6)]
    profiles.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = load_specialist("profile_scorer").model_copy(deep=True)
    spec.deploy.acceptance = AcceptanceConfig(profiles=str(profiles))
    tok = load_tokenizer(local_model_path("embedded"))
    got = served_acceptance(OpenAIClient(server.url), spec, tok, progress=False)
    print("served acceptance:", {k: got[k] for k in ("mean", "minimum", "correlation", "unreadable", "checks")})
    scores = predicted_scores(spec, [parse_output(spec, t) for t in got["raw"]])
    assert got["n"] == len(got["raw"]) == 6 and got["unreadable"] == scores.count(None)
    assert set(got["checks"]) == {"mean", "minimum", "correlation", "p95_latency"}
    assert got["checks"]["mean"] == (got["mean"] > 0.75) and got["checks"]["minimum"] == (got["minimum"] > 0.5)
    assert got["ok"] == all(got["checks"].values()) and not got["ok"]   # the untrained base model is refused
    assert got["latency_s"]["p95"] > 0
