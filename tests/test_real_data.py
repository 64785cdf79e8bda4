"""The data stage on every real dataset family: the full shared data folder when present, else the samples a checkout
ships in data/samples (permissively licensed families only; the others skip). Row counts of the full files are checked
on the full data only; everything else holds on either."""
import collections, csv, gzip, json

import pytest

from simplex_train.base.config import load_specialist
from simplex_train.base.runs import RunDir
from simplex_train.base.core import read_jsonl
from simplex_train.inputs.data import prepare_data
from simplex_train.inputs.sources import bio_to_spans, read_conll, spans_to_text, text_to_spans


def _prepare(name, root, tmp_path, sub, tokenizer=None, **over):
    spec = load_specialist(name)
    if over:
        from simplex_train.base.config import apply_overrides
        spec = apply_overrides(spec, over)
    run = RunDir.create(name, tmp_path, "r")
    m = prepare_data(spec, run, root / sub, tokenizer=tokenizer)
    for c in m["cleaning"].values():                     # every row accounted for
        assert c["rows_in"] == c["rows_out"] + sum(c["dropped"].values())
    return m, {s: read_jsonl(run.split(s)) for s in ("train", "val", "test")}


def _prompts(rows): return {r["prompt"] for r in rows}


def _jsonl_rows(path):
    return sum(1 for l in (gzip.open(path, "rt") if path.suffix == ".gz" else open(path)) if l.strip())


def _nonempty(m):
    assert all(m["splits"][s]["rows"] > 0 for s in ("train", "val", "test")), m["splits"]


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


def test_banking77(real_data, real_family, full_data, tmp_path):
    d = real_family("banking77")
    m, sp = _prepare("intent", real_data, tmp_path, "banking77")
    for s in ("train", "test"):                             # every CSV record read, multi-line questions included
        with open(d / f"{s}.csv", newline="") as f:
            assert m["cleaning"][s]["rows_in"] == len(list(csv.DictReader(f)))
    if full_data:
        assert m["cleaning"]["train"]["rows_in"] == 10003 and m["cleaning"]["test"]["rows_in"] == 3080
    assert len(m["splits"]["train"]["distribution"]) == len(m["splits"]["test"]["distribution"]) == 77
    _nonempty(m)


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


def test_squad_v2(real_data, real_family, full_data, tmp_path):
    data = json.load(open(real_family("squad_v2") / "dev-v2.0.json"))["data"]
    m, sp = _prepare("faq", real_data, tmp_path, "squad_v2")
    assert m["cleaning"]["all"]["rows_in"] == sum(len(p["qas"]) for a in data for p in a["paragraphs"])
    if full_data:
        assert m["cleaning"]["all"]["rows_in"] == 6078
    _nonempty(m)
    every = sp["train"] + sp["val"] + sp["test"]
    share = sum(r["response"].strip() == "unanswerable" for r in every) / len(every)
    assert 0.4 < share < (0.6 if full_data else 0.7), share  # 3,168 of 6,078 are unanswerable (sample: 171 of 285)
    titles = {s: {r["metadata"]["group"] for r in rows} for s, rows in sp.items()}
    assert not titles["train"] & titles["test"]            # split by article: test contexts unseen in training
    assert all(r["metadata"]["answers"] or r["response"].strip() == "unanswerable" for r in every)


def test_spider_split_by_database(real_data, real_family, full_data, tmp_path):
    questions = json.load(open(real_family("spider") / "dev_shared.json"))
    m, sp = _prepare("sql", real_data, tmp_path, "spider")
    assert m["cleaning"]["all"]["rows_in"] == len(questions)
    if full_data:
        assert m["cleaning"]["all"]["rows_in"] == 698
    _nonempty(m)                                           # every split gets at least one whole database
    dbs = {s: {r["metadata"]["db_id"] for r in rows} for s, rows in sp.items()}
    assert not dbs["train"] & dbs["test"] and not dbs["val"] & dbs["test"]
    assert sp["test"][0]["prompt"].startswith("Schema:\n") and "SQL:" in sp["test"][0]["prompt"]


def test_xsum(shared_data, tmp_path):
    m, sp = _prepare("summarization", shared_data, tmp_path, "summarization/xsum")
    assert m["cleaning"]["all"]["rows_in"] == 1000


def test_humaneval_verbatim(real_data, real_family, full_data, tmp_path):
    path = real_family("code_eval/humaneval") / "HumanEval.jsonl.gz"
    m, sp = _prepare("code_humaneval", real_data, tmp_path, "code_eval/humaneval")
    assert m["cleaning"]["all"]["rows_in"] == m["cleaning"]["all"]["rows_out"] == _jsonl_rows(path)   # none dropped
    if full_data:
        assert m["cleaning"]["all"]["rows_in"] == 164
    _nonempty(m)
    orig = {json.loads(l)["task_id"]: json.loads(l) for l in gzip.open(path, "rt")}
    for r in sp["test"]:
        o = orig[r["metadata"]["task_id"]]
        assert r["prompt"] == o["prompt"] and r["response"] == o["canonical_solution"]   # indentation intact


def test_mbpp(real_data, real_family, full_data, tmp_path):
    path = real_family("code_eval/mbpp") / "mbpp_test_500.jsonl"
    m, sp = _prepare("code_generation", real_data, tmp_path, "code_eval/mbpp")
    assert m["cleaning"]["all"]["rows_in"] == _jsonl_rows(path)
    if full_data:
        assert m["cleaning"]["all"]["rows_in"] == 500
    _nonempty(m)
    assert all("def " in r["response"] and r["metadata"]["tests"].startswith("assert") for r in sp["test"])


def test_hh_rlhf_pairs(real_data, real_family, full_data, tmp_path):
    path = real_family("preference/hh_rlhf_harmless_base") / "test.jsonl.gz"
    m, sp = _prepare("harmless_dpo", real_data, tmp_path, "preference/hh_rlhf_harmless_base")
    c = m["cleaning"]["all"]
    assert c["rows_in"] == _jsonl_rows(path)
    if full_data:
        assert c["rows_in"] == 2312 and c["dropped"]["prompt_mismatch"] == 5
    _nonempty(m)
    assert all(r["prompt"].endswith("Assistant:") and r["rejected"] and r["response"] != r["rejected"] for r in sp["test"])


def test_token_length_filter_with_real_tokenizer(shared_data, tmp_path):
    from simplex_train.modeling.models import load_tokenizer, local_model_path
    tok = load_tokenizer(local_model_path("embedded"))
    m, sp = _prepare("summarization", shared_data, tmp_path, "summarization/xsum", tokenizer=tok, **{"train.max_seq_len": 512})
    c = m["cleaning"]["all"]
    assert c["dropped"]["too_long"] > 100                  # XSum articles are long: counted, never silently cut
    assert all(len(tok(r["prompt"] + r["response"])["input_ids"]) <= 512 for r in sp["train"][:50])
