"""Generator benchmark: the three Simplex stages' seeded generators at the seeds' scale (100,000 rows per stage).

For each stage: rows/s of wall time and of CPU time (medians of --repeats runs), the content hash of the rows (two runs with the same seed must
give the same hash, another seed another one), and the rows per case type. Usage:

    .venv/bin/python bench/generators_bench.py [--rows 100000] [--repeats 3] [--out bench/generators_results.json]
"""
import argparse, collections, json, platform, statistics, time
from pathlib import Path

from simplex_train.base.core import hash_rows
from simplex_train.inputs.generators import generate

STAGES = ["context_protocol", "confidence_calibration", "belief_revision"]


def measure(name: str, rows: int, repeats: int, seed: int) -> dict:
    times, cpu, hashes = [], [], set()
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = generate(name, rows, seed)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        hashes.add(hash_rows(out))
    other = hash_rows(generate(name, rows, seed + 1))
    digest = sorted(hashes)[0]
    return {
        "rows": rows,
        "seconds_median": round(statistics.median(times), 3),
        "rows_per_s": round(rows / statistics.median(times)),
        "rows_per_cpu_s": round(rows / statistics.median(cpu)),  # what a busy machine cannot take away
        "sha256": digest,
        "same_seed_same_hash": len(hashes) == 1,
        "other_seed_other_hash": other != digest,
        "cases": dict(sorted(collections.Counter(r["case"] for r in out).items())),
        "splits": dict(sorted(collections.Counter(r["split"] for r in out).items())),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default="bench/generators_results.json")
    a = ap.parse_args()
    results = {name: measure(name, a.rows, a.repeats, a.seed) for name in STAGES}
    for name, r in results.items():
        print(f"{name}: {r['rows_per_s']:,} rows/s ({r['rows']:,} rows in {r['seconds_median']} s), "
              f"deterministic {r['same_seed_same_hash']}, cases {r['cases']}")
    machine = {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()}
    cmd = f"python bench/generators_bench.py --rows {a.rows} --repeats {a.repeats}"
    Path(a.out).write_text(json.dumps({"command": cmd, "machine": machine, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
