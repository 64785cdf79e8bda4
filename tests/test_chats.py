"""Chat data: every reader on real-shaped files (and each malformed case), the assistant-only mask on the embedded
Gemma tokenizer and on a Qwen2.5-Instruct-style template, packed rows keeping it, and a multi-turn specialist through
prepare -> baseline -> train -> evaluate -> gate on the tiny model (its losses printed for the record)."""
import json
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simplex_train.base.config import parse_specialist
from simplex_train.base.core import read_json, read_jsonl
from simplex_train.base.runs import RunDir
from simplex_train.base.tiny import tiny_tokenizer
from simplex_train.inputs.chats import (ChatTemplate, assistant_spans, chat_example, encode_row, mask_view, read_chats,
                                        trained_tokens)
from simplex_train.inputs.data import prepare_data
from simplex_train.inputs.sources import DataError
from simplex_train.learning.training import padding_free_batch
from simplex_train.workflow.options import RunOptions
from simplex_train.workflow.pipeline import run_pipeline

CONVERSATION = [
    {"role": "system", "content": "You answer in one word."},
    {"role": "user", "content": "Capital of France?"},
    {"role": "assistant", "content": "Paris"},
    {"role": "user", "content": "And of Italy?"},
    {"role": "assistant", "content": "Rome"},
]
# Qwen2.5-Instruct's published chat template, without its tool-calling branches (the part a chat without tools uses)
QWEN25_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    "<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) "
    "or (message.role == 'assistant') %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + "
    "'\\n' }}{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def _write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_every_format_reads_as_the_same_conversation(tmp_path):
    system, turns = CONVERSATION[0]["content"], CONVERSATION[1:]
    sharegpt = [{"system": system, "conversations": [{"from": "human" if m["role"] == "user" else "gpt",
                                                      "value": m["content"]} for m in turns]}]
    (tmp_path / "sharegpt.json").write_text(json.dumps(sharegpt))
    files = {
        "messages": _write_jsonl(tmp_path / "openai.jsonl", [{"messages": CONVERSATION}]),
        "messages_system_field": _write_jsonl(tmp_path / "openai_sys.jsonl", [{"system": system, "messages": turns}]),
        "sharegpt": tmp_path / "sharegpt.json",
    }
    for name, path in files.items():
        (row,) = read_chats(path)
        assert row["messages"] == CONVERSATION, name
        assert (row["label"], row["_source"]) == ("Rome", f"{path.name}:1"), name
    pq.write_table(pa.Table.from_pylist([{"messages": CONVERSATION}]), tmp_path / "chats.parquet")
    datasets.Dataset.from_list([{"messages": CONVERSATION}]).save_to_disk(str(tmp_path / "saved"))
    assert read_chats(tmp_path / "chats.parquet")[0]["messages"] == CONVERSATION
    assert read_chats(tmp_path / "saved")[0]["messages"] == CONVERSATION


def test_alpaca_and_seed_prompt_response_records(tmp_path):
    alpaca = [{"instruction": "Translate to French", "input": "cat", "output": "chat"},
              {"instruction": "Say hi", "input": "", "output": "hi"}]
    (tmp_path / "alpaca.json").write_text(json.dumps(alpaca))
    rows = read_chats(tmp_path / "alpaca.json")
    assert rows[0]["messages"] == [{"role": "user", "content": "Translate to French\n\ncat"},
                                   {"role": "assistant", "content": "chat"}]
    assert rows[1]["messages"][0]["content"] == "Say hi"
    # seed 000's records: {"prompt", "response", "metadata"}; seed 002's {"instruction", "output"} exports
    seed = _write_jsonl(tmp_path / "seed.jsonl", [{"prompt": "Rate this", "response": "7/10", "metadata": {"id": 3}}])
    assert read_chats(seed)[0]["label"] == "7/10"
    exported = _write_jsonl(tmp_path / "export.jsonl", [{"instruction": "Sum 2 and 2", "output": "4"}])
    assert read_chats(exported, "alpaca")[0]["messages"][0] == {"role": "user", "content": "Sum 2 and 2"}


@pytest.mark.parametrize("record, error", [
    ({"messages": [{"role": "narrator", "content": "x"}]}, "bad.jsonl:1: field 'messages[0].role': unknown role"),
    ({"messages": [{"role": "user", "content": 3}]}, "bad.jsonl:1: field 'messages[0].content': the content must be"),
    ({"messages": ["hello"]}, "bad.jsonl:1: field 'messages[0]': a turn must be an object"),
    ({"conversations": [{"from": "alien", "value": "x"}]}, "field 'conversations[0].role': unknown role 'alien'"),
    ({"text": "no conversation here"}, "bad.jsonl:1: not a conversation"),
])
def test_malformed_records_name_file_line_and_turn(tmp_path, record, error):
    path = _write_jsonl(tmp_path / "bad.jsonl", [record])
    with pytest.raises(DataError, match=None) as e:
        read_chats(path)
    assert error in str(e.value)


CHAT_SPEC = """name: chat_tiny
task: {{type: generation, metric: exact_match}}
data: {{reader: chat, path: {data}, val_fraction: 0.2, test_fraction: 0.2}}
prompt: {{turn_format: gemma}}
base_model: {model}
lora: {{r: 4, alpha: 8}}
train: {{learning_rate: 1.0e-2, epochs: 3, batch_size: 4, grad_accum: 1, eval_steps: 10, max_seq_len: 256,
         precision: fp32}}
eval: {{batch_size: 8, max_new_tokens: 6, stop: ["<end_of_turn>"]}}
thresholds: {{baseline_target: 0.0, finetuned_target: 0.5, review_band: 0.5, max_general_ppl_increase: null}}
"""


def _conversations(n: int) -> list[dict]:
    "Two-exchange chats whose answers a tiny random model can learn in a few steps: always 'sure', then 'done'."
    colours = ["red", "blue", "green", "black", "white"]
    return [{"messages": [{"role": "user", "content": f"Paint row {i} {colours[i % 5]}?"},
                          {"role": "assistant", "content": "sure"},
                          {"role": "user", "content": f"Is row {i} finished?"},
                          {"role": "assistant", "content": "done"}]} for i in range(n)]


def test_the_data_stage_counts_unusable_conversations_and_trained_tokens(tmp_path, tiny_model):
    good = _conversations(30)
    bad = [{"messages": [{"role": "user", "content": "hi"}]},                               # no answer to learn
           {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}]},
           {"messages": [{"role": "assistant", "content": "hello"}]}]
    data = _write_jsonl(tmp_path / "chats.jsonl", good + bad)
    spec = parse_specialist(CHAT_SPEC.format(data=data, model=tiny_model))
    run = RunDir.create("chat_tiny", tmp_path / "runs", "r")
    m = prepare_data(spec, run, tokenizer=tiny_tokenizer())
    assert m["cleaning"]["all"]["dropped"] == {"empty_assistant_turn": 1, "no_final_assistant_turn": 1,
                                               "no_user_turn": 1}
    train = read_jsonl(run.split("train"))
    assert all(r["metadata"]["trained_tokens"] > 0 for r in train)
    assert m["splits"]["train"]["trained_tokens"]["min"] > 0
    assert "Tokens the loss sees per conversation" in run.data_card.read_text()
    print(mask_view(tiny_tokenizer(), train[0]))


def _trained_text(tok, example: dict) -> str:
    enc = encode_row(tok, example)
    return tok.decode([t for t, label in zip(enc["input_ids"], enc["labels"]) if label != -100])


def test_the_mask_trains_the_assistant_turns_on_the_embedded_gemma_tokenizer():
    from simplex_train.modeling.models import load_tokenizer, local_model_path
    tok = load_tokenizer(str(local_model_path("embedded")))
    chat = ChatTemplate(tok)                                   # no template of its own: Gemma's turn tokens chosen
    assert chat.name == "gemma"
    ex = chat_example({"messages": CONVERSATION}, chat)
    enc = encode_row(tok, ex)
    trained = [t for t, label in zip(enc["input_ids"], enc["labels"]) if label != -100]
    end = tok.convert_tokens_to_ids("<end_of_turn>")
    assert trained == (tok("Paris", add_special_tokens=False)["input_ids"] + [end]
                       + tok("Rome", add_special_tokens=False)["input_ids"] + [end])
    assert enc["input_ids"].count(tok.bos_token_id) == 1                   # <bos> once, never doubled
    assert "⟦Paris<end_of_turn>⟧" in mask_view(tok, ex) and "⟦" not in mask_view(tok, ex).split("<start_of_turn>model")[0]


def test_the_mask_on_a_qwen25_style_template_and_in_packed_rows():
    tok = tiny_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.chat_template = QWEN25_TEMPLATE
    chat = ChatTemplate(tok)
    assert chat.name == "own"
    text, spans = assistant_spans(chat, CONVERSATION[1:])             # no system turn: Qwen's default one is added
    assert text.startswith("<|im_start|>system\nYou are Qwen")
    assert [text[a:b] for a, b in spans] == ["Paris<|im_end|>", "Rome<|im_end|>"]
    ex = chat_example({"messages": CONVERSATION[1:]}, chat)
    assert _trained_text(tok, ex) == "Paris<|im_end|>Rome<|im_end|>"
    other = chat_example({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}]}, chat)
    batch = padding_free_batch([encode_row(tok, ex), encode_row(tok, other)])  # the trainer's packed rows
    assert tok.decode(batch["resp_targets"].tolist()) == "Paris<|im_end|>Rome<|im_end|>Hey<|im_end|>"
    assert trained_tokens(tok, ex) + trained_tokens(tok, other) == len(batch["resp_targets"])


def test_a_multi_turn_specialist_trains_and_evaluates_on_the_tiny_model(tmp_path, tiny_model):
    data = _write_jsonl(tmp_path / "chats.jsonl", _conversations(60))
    spec = tmp_path / "chat_tiny.yaml"
    spec.write_text(CHAT_SPEC.format(data=data, model=tiny_model))
    opts = RunOptions(specialist=str(spec), runs_root=str(tmp_path / "runs"), run_id="r", gguf=False,
                      export_merged=False)
    run = run_pipeline(opts, ["prepare", "baseline", "train", "evaluate", "gate"])
    history = [h["loss"] for h in read_json(run.training_history) if "loss" in h]
    before, after = read_json(run.metrics_file("baseline")), read_json(run.metrics_file("finetuned"))
    print("losses", [round(x, 3) for x in history], "exact match", before["metrics"]["exact_match"], "->",
          after["metrics"]["exact_match"], "gate", read_json(run.gate)["decision"])
    assert history[-1] < history[0] - 0.3                  # the answers' tokens are learned (5.78 -> 5.19 here)
    assert read_json(run.metrics_file("finetuned"))["n"] == len(read_jsonl(run.split("test")))
    prompt = read_jsonl(run.split("test"))[0]["prompt"]
    assert prompt.endswith("<start_of_turn>model\n") and prompt.count("<start_of_turn>model") == 2  # the last answer
    # the trained run answers a conversation, and `chat` keeps one going
    from simplex_train.workflow.trained import predict_run
    turns = [{"role": "user", "content": "Paint row 99 red?"}, {"role": "assistant", "content": "sure"},
             {"role": "user", "content": "Is row 99 finished?"}]
    asked = predict_run(run.root, [{"messages": turns}, "Paint row 98 blue?"])
    assert len(asked) == 2 and all(isinstance(a["prediction"], str) for a in asked)
    import subprocess
    import sys
    cli = str(Path(sys.executable).with_name("simplex-train"))
    chat = subprocess.run([cli, "chat", str(run.root)], input="Paint row 97 red?\nIs row 97 finished?\n\n",
                          capture_output=True, text=True, timeout=300)
    assert chat.returncode == 0 and len(chat.stdout.splitlines()) == 2, chat.stdout + chat.stderr


def test_show_mask_prints_what_is_learned(tmp_path, tiny_model):
    import subprocess
    import sys
    data = _write_jsonl(tmp_path / "chats.jsonl", _conversations(20))
    spec = tmp_path / "chat_tiny.yaml"
    spec.write_text(CHAT_SPEC.format(data=data, model=tiny_model))
    run = run_pipeline(RunOptions(specialist=str(spec), runs_root=str(tmp_path / "runs"), run_id="r"), ["prepare"])
    cli = [str(Path(sys.executable).with_name("simplex-train")), "show-mask"]
    out = subprocess.run(cli + [str(run.root), "--rows", "1"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.count("⟦") == 2 and "⟦sure<end_of_turn>⟧" in out.stdout, out.stderr
    empty = subprocess.run(cli + ["sentiment", "--runs-root", str(tmp_path / "none")], capture_output=True, text=True)
    assert empty.returncode == 2 and "run `simplex-train prepare sentiment` first" in empty.stderr


@pytest.mark.e2e
def test_the_multi_turn_specialist_end_to_end_on_the_embedded_model(tmp_path):
    """assistant_chat on the embedded Gemma 3 270M and the shipped HH-RLHF conversations: baseline, a few steps, the
    evaluation, the gate, the q8_0 GGUF (which carries the trained template) served through /v1/chat/completions."""
    import subprocess
    import sys
    from gguf import GGUFReader
    cli = str(Path(sys.executable).with_name("simplex-train"))
    args = [cli, "run", "assistant_chat", "--no-notebook", "--runs-root", str(tmp_path), "--run-id", "e2e",
            "--max-train", "24", "--max-val", "8", "--max-test", "16", "--max-steps", "4", "--set", "deploy.gguf=[q8_0]"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=1800, env={**__import__("os").environ,
                                                                              "SIMPLEX_SHARED_DATA": "none"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run = RunDir(tmp_path / "assistant_chat" / "e2e")
    check = read_json(run.deploy_check)
    print("served", {k: check[k] for k in ("method", "served", "pytorch", "difference", "agreement")}, "gate",
          read_json(run.gate)["decision"])
    assert check["method"].startswith("chat") and check["n"] == 16   # 16 rows: one diverging answer moves it little
    assert abs(check["difference"]) <= check["thresholds"]["tolerance"]
    assert _served_prompts(run) == [r["prompt"] for r in read_jsonl(run.split("test"))]   # rendered as trained
    gguf = next(run.gguf.glob("*q8_0.gguf"))
    field = GGUFReader(gguf).fields["tokenizer.chat_template"]
    template = bytes(field.parts[field.data[0]]).decode()
    assert template.startswith("{%- if messages and messages[0]['role'] == 'system' %}")   # Gemma's turns, as trained
    assert "<start_of_turn>model" in read_jsonl(run.split("test"))[0]["prompt"]
    # predict --via gguf asks a conversation through chat completions too: the served check's answer, word for word
    first = read_jsonl(run.split("test"))[0]["messages"][:-1]
    question = _write_jsonl(tmp_path / "ask.jsonl", [{"messages": first}])
    asked = subprocess.run([cli, "predict", str(run.root), "--via", "gguf", "--input", str(question)],
                           capture_output=True, text=True, timeout=600)
    assert asked.returncode == 0, asked.stderr[-2000:]
    served = read_jsonl(run.served_predictions)[0]["prediction"]
    assert json.loads(asked.stdout.splitlines()[0])["prediction"] == served


def _served_prompts(run: RunDir) -> list[str]:
    "The prompts llama.cpp builds from the test conversations with the GGUF's own template (its /apply-template)."
    import urllib.request
    from simplex_train.inputs.clients import LlamaServer
    gguf = next(run.gguf.glob("*q8_0.gguf"))
    out = []
    with LlamaServer(gguf, 1024, chat_template="jinja") as server:
        for row in read_jsonl(run.split("test")):
            body = json.dumps({"messages": row["messages"][:-1]}).encode()
            req = urllib.request.Request(server.url.removesuffix("/v1") + "/apply-template", data=body,
                                         headers={"Content-Type": "application/json"})
            out.append(json.loads(urllib.request.urlopen(req, timeout=60).read())["prompt"])
    return out


@pytest.mark.e2e
def test_an_llm_judge_grades_the_last_answer_of_each_conversation(tiny_model, tmp_path):
    """Where no metric fits a chat, `eval.judge_url` grades each last answer against the reference (a real llama.cpp
    server on the embedded model as the judge; the tiny model answers)."""
    from simplex_train.base.config import apply_overrides, load_specialist
    from simplex_train.evaluation.evaluate import evaluate_split
    from simplex_train.inputs.clients import LlamaServer
    from simplex_train.modeling.models import embedded_gguf, load_model, load_tokenizer
    tok = load_tokenizer(tiny_model)
    chat = ChatTemplate(tok, "gemma")
    rows = [chat_example({"messages": m["messages"]}, chat) for m in _conversations(3)]
    with LlamaServer(embedded_gguf()[0], 2048) as server:
        spec = apply_overrides(load_specialist("assistant_chat"), {"eval.judge_url": server.url,
                                                                   "eval.max_new_tokens": 4})
        run = RunDir.create("j", tmp_path, "r")
        rec = evaluate_split(load_model(tiny_model), tok, spec, rows, run, "baseline", progress=False)
    judge = rec["judge"]
    print("judge", judge["mean"], judge["per_example"])
    assert len(judge["per_example"]) == 3 and 0 <= judge["mean"] <= 1
    assert judge["failures"] == sum(s is None for s in judge["per_example"])
