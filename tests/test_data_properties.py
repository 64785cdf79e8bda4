"""Property-based tests (hypothesis) of the loaders and cleaners: whatever the input, rows round-trip, cleaning
accounts for every row, and splits partition their input."""
import csv, io, json, string
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from simplex_train.inputs.data import clean_rows, group_split, near_key, normalize_text, repair_text, stratified_split, subsample
from simplex_train.inputs.sources import DataError, read_rows

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
readable = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r"), max_size=40)
labels = st.sampled_from(["a", "b", "c"])
rows_st = st.lists(st.fixed_dictionaries({"text": texts, "label": labels}), max_size=60)
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(st.lists(st.fixed_dictionaries({"text": readable, "label": labels}), max_size=60))
def test_csv_and_jsonl_round_trip(tmp_path, rows):
    "Text without control characters (those are refused: tests/test_bad_input.py) round-trips through both formats."
    if not rows: return
    buf = io.StringIO(newline="")
    w = csv.writer(buf); w.writerow(["text", "label"]); w.writerows([[r["text"], r["label"]] for r in rows])
    (tmp_path / "x.csv").write_text(buf.getvalue(), encoding="utf-8", newline="")
    (tmp_path / "x.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    back = read_rows(tmp_path / "x.jsonl")
    assert [{k: v for k, v in r.items() if k != "_source"} for r in back] == rows
    got = [(r["text"], r["label"]) for r in read_rows(tmp_path / "x.csv", multiline=True)]
    assert got == [(r["text"], r["label"]) for r in rows]   # quotes, commas and newlines in fields survive


@SETTINGS
@given(st.binary(min_size=1, max_size=200))
def test_reading_arbitrary_bytes_never_crashes_uncontrolled(tmp_path, data):
    p = tmp_path / "y.jsonl"; p.write_bytes(data)
    try: read_rows(p)
    except DataError as e: assert "y.jsonl:" in str(e)     # a clean error naming the file and line


@SETTINGS
@given(rows_st)
def test_cleaning_accounts_for_every_row_and_is_idempotent(rows):
    out, rep = clean_rows(rows, labels=["a", "b", "c"])
    assert rep["rows_in"] == len(rows) == rep["rows_out"] + sum(rep["dropped"].values())
    again, rep2 = clean_rows(out, labels=["a", "b", "c"])
    assert again == out and rep2["dropped"] == {}
    keys = [near_key(r["text"]) for r in out]
    assert len(keys) == len(set(keys))                    # no near-duplicates left


@given(texts)
def test_normalisation_is_idempotent(s):
    assert normalize_text(normalize_text(s)) == normalize_text(s)
    assert repair_text(repair_text(s)) == repair_text(s)


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 10**6), labels, st.sampled_from(["g1", "g2", "g3", "g4", "g5"])), unique_by=lambda t: t[0], max_size=80),
       st.integers(0, 3))
def test_splits_partition_their_input(items, seed):
    exs = [{"prompt": f"p{i}", "response": "r", "metadata": {"label": l, "group": g}} for i, l, g in items]
    fr = {"train": 0.8, "val": 0.1, "test": 0.1}
    for split in (stratified_split, group_split):
        parts = split(exs, fr, seed)
        got = sorted(r["prompt"] for p in parts.values() for r in p)
        assert got == sorted(e["prompt"] for e in exs)     # nothing lost, nothing duplicated
    g = group_split(exs, fr, seed)
    seen = [{r["metadata"]["group"] for r in g[n]} for n in fr]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    n = len(exs) // 2
    assert len(subsample(exs, n, seed)) == n


# every reader of the catalog, fed bytes: it returns rows or says what is wrong in one UserError, never a traceback
from simplex_train.base.core import UserError
from simplex_train.inputs.sources import (read_conll, read_hh, read_humaneval, read_input_rows, read_mbpp,
                                   read_preference_messages, read_spider, read_squad)

READERS = {
    "table.csv": lambda p: read_rows(p), "table.tsv": lambda p: read_rows(p), "table.json": lambda p: read_rows(p),
    "conll.txt": read_conll, "squad.json": read_squad, "spider.json": lambda p: read_spider(p, p),
    "humaneval.jsonl": read_humaneval, "mbpp.jsonl": read_mbpp, "hh.jsonl": read_hh,
    "messages.jsonl": read_preference_messages, "input.jsonl": read_input_rows, "input.csv": read_input_rows,
}
json_like = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                         lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
                         max_leaves=8)
contents = st.binary(max_size=120) | json_like.map(lambda v: json.dumps(v).encode()) \
    | st.lists(json_like, max_size=3).map(lambda vs: "\n".join(map(json.dumps, vs)).encode())


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(READERS)), contents)
def test_every_reader_ends_in_rows_or_one_user_error(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    try:
        rows = READERS[name](p)
    except UserError as e:
        assert name in str(e) or str(p) in str(e), str(e)   # the message names the file
        return
    assert isinstance(rows, list) and all(isinstance(r, dict) for r in rows)
