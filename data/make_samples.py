#!/usr/bin/env python3
"""Regenerate `data/samples/`: small, seeded subsets of the permissively licensed real datasets.

    python data/make_samples.py [SHARED_DATA_DIR]      # default: ../shared/data, relative to the repository root

`data/samples/` mirrors the layout of the full shared-data folder (the same sub-folders and file names that the
specialists' YAMLs read through `${SIMPLEX_SHARED_DATA}/<family>/...`), so a fresh clone, where that variable is unset
(or `none`), runs the real-data specialists and tests on these samples. Only families whose licence allows
redistribution are sampled (Banking77, MBPP: CC BY 4.0; HumanEval, HH-RLHF: MIT; SQuAD 2.0, Spider: CC BY-SA 4.0);
SST-2, AG News, CoNLL-2003, XSum and ELLIPSE have research/non-commercial terms and are never copied here.

Rows are copied unchanged and written back in the source's own format and order (the source's serialisation is
reproduced byte for byte: JSON indentation, SQuAD's escaped slashes, CRLF CSV lines), so a sample file is the full
file with rows left out. Each family draws its rows with its own `random.Random(SEED)`; gzip files are written with
mtime 0 and no file name in the header: running the script twice gives byte-identical files. The source folders'
LICENSE files are copied next to the samples. Standard library only.
"""
import csv
import gzip
import io
import json
import random
import shutil
import sys
from collections import defaultdict
from pathlib import Path

SEED = 0
OUT = Path(__file__).resolve().parent / "samples"

# every one of the 77 intents in both files; 12 train rows per intent, so that the stratified 5 % validation split
# (rounded per intent) keeps one row of each
BANKING77_PER_INTENT = {"train.csv": 12, "test.csv": 3}
HUMANEVAL_PROBLEMS = 40
MBPP_ROWS = 80
HH_RLHF_PAIRS = 200
SQUAD_ARTICLES, SQUAD_PARAGRAPHS = 8, 3  # the first paragraphs of 8 seeded articles (grouped by title: >= 3 groups)
SPIDER_DBS = ["pets_1", "poker_player", "singer", "voter_1"]  # the 4 smallest dev databases (16-20 KB each)


def _write(path: Path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(f"{path.relative_to(OUT.parent)}: {len(data):,} bytes")


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as f:
        f.write(data)
    return buf.getvalue()


def _pick(n_total: int, k: int) -> list[int]:
    "k seeded indices out of n_total, in source order."
    return sorted(random.Random(SEED).sample(range(n_total), k))


def _license(src: Path, dst: Path):
    if (src / "LICENSE").is_file():
        _write(dst / "LICENSE", (src / "LICENSE").read_bytes())


def banking77(src: Path, dst: Path):
    for name, per_intent in BANKING77_PER_INTENT.items():
        with open(src / name, encoding="utf-8", newline="") as f:   # keep the CRLF line ends
            raw = f.read()
        header, *rows = list(csv.reader(io.StringIO(raw)))
        assert header == ["text", "category"], header
        by_intent = defaultdict(list)
        for i, r in enumerate(rows):
            by_intent[r[1]].append(i)
        rng = random.Random(SEED)
        keep = sorted(i for c in sorted(by_intent) 
                      for i in rng.sample(by_intent[c], min(per_intent, len(by_intent[c]))))
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows([header] + [rows[i] for i in keep])   # the source's CRLF lines
        _write(dst / name, out.getvalue().encode("utf-8"))
    _license(src, dst)


def _jsonl_lines(data: bytes) -> list[bytes]:
    return [l for l in data.splitlines(keepends=True) if l.strip()]


def jsonl_subset(src: Path, dst: Path, name: str, k: int, gz: bool):
    data = (src / name).read_bytes()
    lines = _jsonl_lines(gzip.decompress(data) if gz else data)
    out = b"".join(lines[i] for i in _pick(len(lines), k))
    _write(dst / name, _gzip(out) if gz else out)
    _license(src, dst)


def squad_v2(src: Path, dst: Path):
    d = json.loads((src / "dev-v2.0.json").read_text(encoding="utf-8"))
    articles = [d["data"][i] for i in _pick(len(d["data"]), SQUAD_ARTICLES)]
    d["data"] = [{**a, "paragraphs": a["paragraphs"][:SQUAD_PARAGRAPHS]} for a in articles]
    qas = [q for a in d["data"] for p in a["paragraphs"] for q in p["qas"]]
    assert any(q["is_impossible"] for q in qas) and not all(q["is_impossible"] for q in qas)
    text = json.dumps(d, separators=(",", ":")).replace("/", "\\/")   # as the official file: compact, "\/" escaped
    _write(dst / "dev-v2.0.json", text.encode("utf-8"))
    _license(src, dst)


def spider(src: Path, dst: Path):
    load = lambda name: json.loads((src / name).read_text(encoding="utf-8"))
    questions = [q for q in load("dev_shared.json") if q["db_id"] in SPIDER_DBS]
    tables = [t for t in load("tables.json") if t["db_id"] in SPIDER_DBS]
    assert {q["db_id"] for q in questions} == {t["db_id"] for t in tables} == set(SPIDER_DBS)
    _write(dst / "dev_shared.json", json.dumps(questions, indent=1).encode("utf-8"))
    _write(dst / "tables.json", json.dumps(tables, indent=3).encode("utf-8"))
    for db in SPIDER_DBS:
        _write(dst / "database" / db / f"{db}.sqlite", (src / "database" / db / f"{db}.sqlite").read_bytes())


def main(shared: Path):
    if not shared.is_dir():
        sys.exit(f"shared data folder not found: {shared}")
    if OUT.exists():
        shutil.rmtree(OUT)
    banking77(shared / "banking77", OUT / "banking77")
    jsonl_subset(shared / "code_eval/humaneval", OUT / "code_eval/humaneval", "HumanEval.jsonl.gz", HUMANEVAL_PROBLEMS,
                 gz=True)
    jsonl_subset(shared / "code_eval/mbpp", OUT / "code_eval/mbpp", "mbpp_test_500.jsonl", MBPP_ROWS, gz=False)
    jsonl_subset(shared / "preference/hh_rlhf_harmless_base", OUT / "preference/hh_rlhf_harmless_base", "test.jsonl.gz",
                 HH_RLHF_PAIRS, gz=True)
    squad_v2(shared / "squad_v2", OUT / "squad_v2")
    spider(shared / "spider", OUT / "spider")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"total: {total:,} bytes in {OUT}")


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "data")
