"""The SQL-database source against a real PostgreSQL server that this test starts (initdb + pg_ctl, unix socket).

Skips when PostgreSQL's server binaries are missing, unless SIMPLEX_REQUIRE_POSTGRES=1 (set by .ci/run), where a
missing server is a failure."""
import glob, json, os, pwd, shutil, subprocess, tempfile
from pathlib import Path

import pytest

from simplex_train.base.config import load_specialist, apply_overrides
from simplex_train.base.runs import RunDir
from simplex_train.base.core import read_jsonl
from simplex_train.inputs.data import prepare_data
from simplex_train.inputs.sources import DataError


def _pg_bin():
    found = shutil.which("pg_ctl") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))), None)
    return Path(found).parent if found else None


def _as_server_user(cmd):
    "PostgreSQL refuses to run as root: run as the 'postgres' system user then."
    if os.geteuid() == 0: cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def pg_dsn():
    bindir = _pg_bin()
    if bindir is None:
        if os.environ.get("SIMPLEX_REQUIRE_POSTGRES") == "1": pytest.fail("PostgreSQL server binaries not found")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    root = Path(tempfile.mkdtemp(prefix="simplex-pg-"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres"); os.chown(root, pw.pw_uid, pw.pw_gid)
    data, port = root / "data", 54000 + os.getpid() % 1000
    _as_server_user([str(bindir / "initdb"), "-D", str(data), "-U", "simplex", "--auth=trust", "-E", "UTF8"])
    _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"),
                     "-o", f"-p {port} -k {root} -c listen_addresses=''", "start"])
    try:
        yield f"host={root} port={port} user=simplex dbname=postgres"
    finally:
        _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(root, ignore_errors=True)


SCHEMA = """
DROP TABLE IF EXISTS profile_scores; DROP TABLE IF EXISTS user_profiles;
CREATE TABLE user_profiles (id serial PRIMARY KEY, handle text NOT NULL, bio text NOT NULL);
CREATE TABLE profile_scores (id serial PRIMARY KEY, profile_id int REFERENCES user_profiles(id),
                             score numeric(4,3) NOT NULL, reason text, scored_by text NOT NULL);
"""


def _fill(dsn, bad_score=False):
    import psycopg
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
        for i in range(60):
            pid = conn.execute("INSERT INTO user_profiles (handle, bio) VALUES (%s, %s) RETURNING id",
                               (f"user{i}", f"Profile {i}: {'data scientist' if i % 3 else 'pastry chef'} in city {i % 7}, café owner")).fetchone()[0]
            score = 1.5 if bad_score and i == 7 else round((i * 37 % 100) / 100 + 0.0049, 3)
            conn.execute("INSERT INTO profile_scores (profile_id, score, reason, scored_by) VALUES (%s, %s, %s, %s)",
                         (pid, score, f"reason {i}", "human" if i % 4 else "model"))


def test_profile_scorer_from_postgres(pg_dsn, tmp_path, monkeypatch):
    _fill(pg_dsn)
    monkeypatch.setenv("SIMPLEX_PG_DSN", pg_dsn)
    spec = load_specialist("profile_scorer")
    m = prepare_data(spec, RunDir.create(spec.name, tmp_path, "r"))
    assert m["cleaning"]["all"]["rows_in"] == 45          # 60 rows, the 15 scored by 'model' filtered by the query
    rows = [r for s in ("train", "val", "test") for r in read_jsonl(tmp_path / spec.name / "r" / "data" / f"{s}.jsonl")]
    assert len(rows) == 45
    for r in rows:
        out = json.loads(r["response"])
        assert set(out) == {"handle", "score", "reason"} and 0 <= out["score"] <= 1 and round(out["score"], 2) == out["score"]
        assert r["prompt"].startswith(f"Profile of @{out['handle']}:")
    assert set(m["splits"]["train"]["distribution"]) == {"low", "medium", "high"}   # stratified by tier
    run_files = "".join(p.read_text() for p in (tmp_path / spec.name / "r").rglob("*") if p.is_file())
    assert pg_dsn not in run_files   # the DSN is never written into the run


def test_bad_score_names_row_and_field(pg_dsn, tmp_path, monkeypatch):
    _fill(pg_dsn, bad_score=True)
    monkeypatch.setenv("SIMPLEX_PG_DSN", pg_dsn)
    spec = load_specialist("profile_scorer")
    with pytest.raises(DataError, match=r"sql:\d+: field 'score': score 1.5 is outside 0.00-1.00"):
        prepare_data(spec, RunDir.create(spec.name, tmp_path, "r"))


def test_missing_dsn_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("SIMPLEX_PG_DSN", raising=False)
    with pytest.raises(DataError, match="SIMPLEX_PG_DSN"):
        prepare_data(load_specialist("profile_scorer"), RunDir.create("p", tmp_path, "r"))


def test_profile_scorer_smoke_run(pg_dsn, tiny_model, tmp_path, monkeypatch):
    "The catalog's PostgreSQL-backed specialist end to end on the tiny model (see test_catalog.py)."
    from test_catalog import smoke_run
    _fill(pg_dsn)
    monkeypatch.setenv("SIMPLEX_PG_DSN", pg_dsn)
    smoke_run("profile_scorer", tiny_model, tmp_path)
