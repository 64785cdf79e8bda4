"""Seed 002's scorer end to end on the embedded model (Gemma 3 270M), CPU: the shipped `profile_scorer` specialist
reads oracle-scored profiles from a real PostgreSQL server that this script starts (initdb + pg_ctl, unix socket),
trains (SFT, JSON `{handle, score, reason}`), evaluates, exports GGUF and runs the served check through llama.cpp
with seed 002's acceptance: known-good seed profiles must score > 0.75 on average and > 0.50 each, the served scores
must correlate > 0.85 with the oracle's on the test rows, and p95 latency must stay under 5 s. Failing any keeps the
previous model.

No real profile data exists offline, so the profiles are generated from a fact table with a written rubric that
plays the oracle (role fit, years of experience, matching skills, a little rater noise); the rubric is in this file,
and the seed profiles are drawn from the rubric's top tier, without their scores (the correlation is the test rows').

    python bench/profile_scorer_bench.py --runs-root /tmp/profile_bench --rows 600

Results are merged into bench/profile_scorer_results.json (one entry per `--key`), with the machine and the command.
"""
import argparse, json, os, random, shutil, subprocess, sys, tempfile, time
from pathlib import Path

from simplex_train.base.core import read_json, write_json, write_jsonl
from simplex_train.base.device import describe_machine
from simplex_train.workflow.options import RunOptions
from simplex_train.workflow.pipeline import run_pipeline

OUT = Path(__file__).with_name("profile_scorer_results.json")
ROLES = {"machine-learning engineer": 1.0, "data scientist": 0.9, "data engineer": 0.75, "backend developer": 0.5,
         "QA analyst": 0.3, "graphic designer": 0.1, "pastry chef": 0.0, "sales manager": 0.05}  # fmt: skip
SKILLS = {"PyTorch": 1, "Python": 1, "SQL": 1, "Kubernetes": 1, "Figma": 0, "Excel": 0, "baking": 0, "negotiation": 0}
CITIES = ["Lisbon", "Austin", "Nairobi", "Osaka", "Leeds", "Porto Alegre", "Tallinn", "Pune"]


def rubric(role: str, years: int, skills: list[str], rng: random.Random) -> tuple[float, str]:
    "The oracle: role fit 55 %, experience (up to 10 years) 20 %, key skills 25 %, rater noise +/- 0.03."
    key = sum(SKILLS[s] for s in skills)
    raw = 0.55 * ROLES[role] + 0.2 * min(years, 10) / 10 + 0.25 * key / 4 + rng.uniform(-0.03, 0.03)
    score = round(min(max(raw, 0.0), 1.0), 2)
    return score, f"{role}, {years} years, {key} of 4 key skills"


def profile(i: int, rng: random.Random, roles: list[str] | None = None) -> dict:
    role = rng.choice(roles or list(ROLES))
    years, skills = rng.randint(0, 15), rng.sample(list(SKILLS), 3)
    bio = f"{role[0].upper() + role[1:]} in {rng.choice(CITIES)} with {years} years of experience; works with {', '.join(skills)}."
    score, reason = rubric(role, years, skills, rng)
    return {"handle": f"user{i:04d}", "bio": bio, "score": score, "reason": reason}


SCHEMA = """
CREATE TABLE user_profiles (id serial PRIMARY KEY, handle text NOT NULL, bio text NOT NULL);
CREATE TABLE profile_scores (id serial PRIMARY KEY, profile_id int REFERENCES user_profiles(id),
                             score numeric(4,3) NOT NULL, reason text, scored_by text NOT NULL);
"""


def _as_postgres(cmd: list[str]) -> None:
    "PostgreSQL refuses to run as root: run as the 'postgres' system user then."
    subprocess.run((["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) + cmd, check=True,
                   capture_output=True)  # fmt: skip


def start_postgres(root: Path) -> tuple[str, callable]:
    "A throwaway server on a unix socket under `root`: (DSN, stop)."
    bindir = Path(shutil.which("pg_ctl") or sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]).parent
    root.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", 55000 + os.getpid() % 1000
    _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "simplex", "--auth=trust", "-E", "UTF8"])
    _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"),
                  "-o", f"-p {port} -k {root} -c listen_addresses=''", "start"])  # fmt: skip
    stop = lambda: _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"])
    return f"host={root} port={port} user=simplex dbname=postgres", stop


def fill(dsn: str, rows: list[dict]) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
        for r in rows:
            pid = conn.execute("INSERT INTO user_profiles (handle, bio) VALUES (%s, %s) RETURNING id",
                               (r["handle"], r["bio"])).fetchone()[0]  # fmt: skip
            conn.execute("INSERT INTO profile_scores (profile_id, score, reason, scored_by) VALUES (%s, %s, %s, 'human')",
                         (pid, r["score"], r["reason"]))  # fmt: skip


def seed_profiles(n: int, seed: int) -> list[dict]:
    "Known-good profiles: the two best-fitting roles, scored >= 0.8 by the rubric; handed over without the score."
    rng, out, i = random.Random(seed), [], 0
    while len(out) < n:
        p = profile(9000 + i, rng, ["machine-learning engineer", "data scientist"])
        i += 1
        if p["score"] >= 0.8:
            out.append({"handle": p["handle"], "bio": p["bio"]})
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs-root", default="/tmp/profile_bench")
    p.add_argument("--rows", type=int, default=600)
    p.add_argument("--seed-profiles", type=int, default=20)
    p.add_argument("--epochs", type=int, default=None, help="default: the specialist's")
    p.add_argument("--key", default="profile_scorer", help="the entry of profile_scorer_results.json to write")
    args = p.parse_args()
    rng = random.Random(0)
    rows = [profile(i, rng) for i in range(args.rows)]
    work = Path(tempfile.mkdtemp(prefix="simplex-pg-"))
    dsn, stop = start_postgres(work)
    try:
        fill(dsn, rows)
        seeds = Path(args.runs_root) / "seed_profiles.jsonl"
        seeds.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(seeds, seed_profiles(args.seed_profiles, 1))
        os.environ["SIMPLEX_PG_DSN"] = dsn
        opts = RunOptions(specialist="profile_scorer", runs_root=args.runs_root, run_id="bench", max_test=80,
                          overrides={"deploy.acceptance": {"profiles": str(seeds)}, "deploy.gguf": ["f16", "q8_0"],
                                     **({"train.epochs": args.epochs} if args.epochs else {})})  # fmt: skip
        t0 = time.perf_counter()
        run = run_pipeline(opts)
        wall = round(time.perf_counter() - t0, 1)
    finally:
        stop()
        shutil.rmtree(work, ignore_errors=True)
    check, tuned = read_json(run.deploy_check), read_json(run.metrics_file("finetuned"))
    acc = {k: v for k, v in check["acceptance"].items() if k != "raw"}
    result = {"command": "python " + " ".join(sys.argv), "machine": describe_machine(), "rows": args.rows,
              "run": str(run.root), "wall_seconds": wall, "gate": read_json(run.gate)["decision"],
              "baseline": read_json(run.metrics_file("baseline"))["metrics"], "finetuned": tuned["metrics"],
              "served": {k: check[k] for k in ("gguf", "n", "metric", "served", "pytorch", "correlation", "checks", "ok")},
              "acceptance": acc, "promotion": read_json(run.promotion),
              "stage_seconds": {k: v.get("seconds") for k, v in read_json(run.manifest)["stages"].items()}}  # fmt: skip
    write_json(OUT, {**(read_json(OUT) if OUT.exists() else {}), args.key: result})
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
