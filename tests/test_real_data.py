"""The data stage on every real dataset family in the shared data folder (skipped when it is absent)."""
import collections, gzip, json

import pytest

from simplex_train.config import load_specialist
from simplex_train.runs import RunDir
from simplex_train.core import read_jsonl
from simplex_train.data import prepare_data
from simplex_train.sources import bio_to_spans, read_conll, spans_to_text, text_to_spans


def _prepare(name, shared_data, tmp_path, sub, tokenizer=None, **over):
    spec = load_specialist(name)
    if over:
        from simplex_train.config import apply_overrides
        spec = apply_overrides(spec, over)
    run = RunDir.create(name, tmp_path, "r")
    m = prepare_data(spec, run, shared_data / sub, tokenizer=tokenizer)
    for c in m["cleaning"].values():                     # every row accounted for
        assert c["rows_in"] == c["rows_out"] + sum(c["dropped"].values())
    return m, {s: read_jsonl(run.split(s)) for s in ("train", "val", "test")}


def _prompts(rows): return {r["prompt"] for r in rows}


def test_sst2(shared_data, tmp_path):
    m, sp = _prepare("sentiment", shared_data, tmp_path, "sst2")
    assert m["cleaning"]["test"]["rows_in"] == 872 and m["cleaning"]["train"]["rows_in"] == 67349
    assert m["splits"]["train"]["rows"] == 2000            # max_train_rows, stratified
    assert m["splits"]["test"]["rows"] == 872 - m["leakage_removed"]["test"]
    pos = m["splits"]["train"]["distribution"]["positive"] / 2000
    assert 0.5 < pos < 0.6                                  # SST-2 train is ~55.8 % positive; stratification keeps it


def test_ag_news_class_map_and_leakage(shared_data, tmp_path):
    m, sp = _prepare("ag_news", shared_data, tmp_path, "ag_news")
    assert m["cleaning"]["train"]["rows_in"] == 10001 and m["cleaning"]["test"]["rows_in"] == 2000
    assert set(m["splits"]["test"]["distribution"]) == {"World", "Sports", "Business", "Sci/Tech"}  # 1-4 mapped
    assert m["leakage_removed"]["test"] >= 150             # the two files share ~153 descriptions
    assert not _prompts(sp["test"]) & _prompts(sp["train"])


def test_banking77(shared_data, tmp_path):
    m, sp = _prepare("intent", shared_data, tmp_path, "banking77")
    assert m["cleaning"]["train"]["rows_in"] == 10003 and m["cleaning"]["test"]["rows_in"] == 3080
    assert len(m["splits"]["train"]["distribution"]) == 77


def test_conll_round_trip(shared_data):
    rows = read_conll(shared_data / "conll2003" / "valid.txt")
    assert len(rows) == 3250
    same = sum(text_to_spans(r["tokens"], spans_to_text(r["tokens"], bio_to_spans(r["tags"]))) == bio_to_spans(r["tags"]) for r in rows)
    assert same / len(rows) > 0.995, same                  # entity list -> spans recovers the gold spans


def test_conll_prepare(shared_data, tmp_path):
    m, sp = _prepare("ner", shared_data, tmp_path, "conll2003")
    assert m["cleaning"]["train"]["rows_in"] == 14041
    ex = sp["test"][0]
    assert ex["response"].strip() == spans_to_text(ex["metadata"]["tokens"], bio_to_spans(ex["metadata"]["tags"]))


def test_squad_v2(shared_data, tmp_path):
    m, sp = _prepare("faq", shared_data, tmp_path, "squad_v2")
    assert m["cleaning"]["all"]["rows_in"] == 6078
    every = sp["train"] + sp["val"] + sp["test"]
    unanswerable = sum(r["response"].strip() == "unanswerable" for r in every)
    assert 0.4 < unanswerable / len(every) < 0.6           # 3,168 of 6,078 are unanswerable
    titles = {s: {r["metadata"]["group"] for r in rows} for s, rows in sp.items()}
    assert not titles["train"] & titles["test"]            # split by article: test contexts unseen in training
    assert all(r["metadata"]["answers"] or r["response"].strip() == "unanswerable" for r in every)


def test_spider_split_by_database(shared_data, tmp_path):
    m, sp = _prepare("sql", shared_data, tmp_path, "spider")
    assert m["cleaning"]["all"]["rows_in"] == 698
    dbs = {s: {r["metadata"]["db_id"] for r in rows} for s, rows in sp.items()}
    assert not dbs["train"] & dbs["test"] and not dbs["val"] & dbs["test"]
    assert sp["test"][0]["prompt"].startswith("Schema:\n") and "SQL:" in sp["test"][0]["prompt"]


def test_xsum(shared_data, tmp_path):
    m, sp = _prepare("summarization", shared_data, tmp_path, "summarization/xsum")
    assert m["cleaning"]["all"]["rows_in"] == 1000


def test_humaneval_verbatim(shared_data, tmp_path):
    m, sp = _prepare("code_humaneval", shared_data, tmp_path, "code_eval/humaneval")
    assert m["cleaning"]["all"]["rows_in"] == 164 and m["cleaning"]["all"]["rows_out"] == 164
    orig = {json.loads(l)["task_id"]: json.loads(l) for l in gzip.open(shared_data / "code_eval/humaneval/HumanEval.jsonl.gz", "rt")}
    for r in sp["test"]:
        o = orig[r["metadata"]["task_id"]]
        assert r["prompt"] == o["prompt"] and r["response"] == o["canonical_solution"]   # indentation intact


def test_mbpp(shared_data, tmp_path):
    m, sp = _prepare("code_generation", shared_data, tmp_path, "code_eval/mbpp")
    assert m["cleaning"]["all"]["rows_in"] == 500
    assert all("def " in r["response"] and r["metadata"]["tests"].startswith("assert") for r in sp["test"])


def test_hh_rlhf_pairs(shared_data, tmp_path):
    m, sp = _prepare("harmless_dpo", shared_data, tmp_path, "preference/hh_rlhf_harmless_base")
    c = m["cleaning"]["all"]
    assert c["rows_in"] == 2312 and c["dropped"]["prompt_mismatch"] == 5
    assert all(r["prompt"].endswith("Assistant:") and r["rejected"] and r["response"] != r["rejected"] for r in sp["test"])


def test_token_length_filter_with_real_tokenizer(shared_data, tmp_path):
    from simplex_train.models import load_tokenizer, local_model_path
    tok = load_tokenizer(local_model_path("embedded"))
    m, sp = _prepare("summarization", shared_data, tmp_path, "summarization/xsum", tokenizer=tok, **{"train.max_seq_len": 512})
    c = m["cleaning"]["all"]
    assert c["dropped"]["too_long"] > 100                  # XSum articles are long: counted, never silently cut
    assert all(len(tok(r["prompt"] + r["response"])["input_ids"]) <= 512 for r in sp["train"][:50])
