"""Data-stage benchmark: prepare SST-2's full train set (67,349 rows) and a generated 100,000-row set.

Reports rows/s and peak RSS per case, each case in its own process (so peak memory is per case), with the
embedded model's tokenizer doing the token-length check. Usage:

    SIMPLEX_SHARED_DATA=../shared/data .venv/bin/python bench/data_bench.py [--rows 100000] [--out bench/data_results.json]
"""
import argparse, json, os, platform, random, resource, subprocess, sys, tempfile, time
from pathlib import Path

SPEC = """
name: bench_{name}
task: {{type: classification, labels: [negative, positive]}}
data: {{path: {path}, text_field: {text}, label_field: label, label_map: {{'0': negative, '1': positive}}}}
prompt: {{template: "Review: {{text}}\\nSentiment:"}}
train: {{max_seq_len: 128}}
eval: {{max_val_rows: null}}
thresholds: {{baseline_target: 0.5, finetuned_target: 0.8}}
"""

WORDS = ("film movie plot actor scene story great awful boring charming funny slow brilliant dull witty tender "
         "script score camera ending director cast performance moving clumsy fresh tired").split()


def generate(path: Path, n: int, seed: int = 0):
    "n rows of random review-like text; 2 % exact duplicates and 1 % mojibake, so cleaning has work to do."
    rng = random.Random(seed)
    lines = ["sentence\tlabel"]
    for i in range(n):
        if i > 10 and rng.random() < 0.02: lines.append(lines[rng.randrange(1, len(lines))]); continue
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 30))) + f" #{i}"
        if rng.random() < 0.01: text = text.replace("e", "Ã©", 1)
        lines.append(f"{text}\t{rng.randint(0, 1)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_case(name: str, path: str, text: str) -> dict:
    from simplex_train.base.config import parse_specialist
    from simplex_train.base.runs import RunDir
    from simplex_train.inputs.data import prepare_data
    from simplex_train.modeling.models import load_tokenizer, local_model_path
    tok = load_tokenizer(local_model_path("embedded"))
    spec = parse_specialist(SPEC.format(name=name, path=path, text=text))
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        m = prepare_data(spec, RunDir.create(spec.name, d, "r"), tokenizer=tok)
        secs = time.perf_counter() - t0
    rows_in = sum(c["rows_in"] for c in m["cleaning"].values())
    return {"case": name, "rows_in": rows_in, "rows_out": {k: v["rows"] for k, v in m["splits"].items()},
            "dropped": {k: c["dropped"] for k, c in m["cleaning"].items()}, "seconds": round(secs, 2),
            "rows_per_s": round(rows_in / secs), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--out", default="bench/data_results.json")
    ap.add_argument("--case", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.case: print(json.dumps(run_case(*a.case))); return
    cases, tmp = [], Path(tempfile.mkdtemp())
    shared = os.environ.get("SIMPLEX_SHARED_DATA")
    if shared and Path(shared, "sst2", "train.tsv").exists(): cases.append(("sst2_train", str(Path(shared, "sst2", "train.tsv")), "sentence"))
    generate(tmp / "gen.tsv", a.rows); cases.append((f"generated_{a.rows}", str(tmp / "gen.tsv"), "sentence"))
    results = []
    for c in cases:
        out = subprocess.run([sys.executable, __file__, "--case", *c], check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1])); print(json.dumps(results[-1]))
    rec = {"command": "SIMPLEX_SHARED_DATA=../shared/data .venv/bin/python bench/data_bench.py", "machine":
           f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}", "results": results}
    Path(a.out).write_text(json.dumps(rec, indent=2) + "\n")


if __name__ == "__main__":
    main()
