"""Bad input and misuse, as a user would meet them: every case gets one clear line and exit code 2, nothing is half
written, nothing is silently dropped, and the previous good state of a run folder survives. Run folders: two
processes on one run id, a lock left by a killed process, an edited split, changed data, a failed and a killed
prepare. Readers: property-based (hypothesis) fuzzing of stray quotes, control characters and non-text fields."""
import json, os, signal, subprocess, sys, time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from simplex_train.base.core import hash_rows, read_jsonl, sha256_file
from simplex_train.base.runs import RunDir, load_manifest, stage_state
from simplex_train.inputs.sources import DataError, read_rows

CLI = str(Path(sys.executable).parent / "simplex-train")
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def cli(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=900, **kw)


def _csv(path: Path, n: int, start: int = 0) -> Path:
    words = "good bad fine awful great poor nice dull".split()
    lines = [f"review {i} {words[i % 8]} {words[(i * 7) % 8]} {words[(i * 3) % 5]},{i % 2}" for i in range(start, start + n)]
    path.write_text("text,label\n" + "\n".join(lines) + "\n")
    return path


def _spec(tmp_path: Path, base_model: str = "embedded", data: str = "reviews.csv") -> Path:
    spec = tmp_path / "probe.yaml"
    spec.write_text(f"""name: probe
task: {{type: classification, labels: [negative, positive]}}
data: {{root: {tmp_path}, path: {data}, label_map: {{'0': negative, '1': positive}}, drop_too_long: false}}
prompt: {{template: "Review: {{text}}\\nSentiment:"}}
base_model: {base_model}
train: {{max_steps: 2, batch_size: 4, grad_accum: 1, eval_steps: 2}}
eval: {{max_val_rows: 4, max_test_rows: 6}}
thresholds: {{baseline_target: 0.5, finetuned_target: 0.8}}
""")
    return spec


def _prepare(spec, root, run_id="r", *extra):
    return cli("prepare", spec, "--runs-root", root, "--run-id", run_id, *extra)


def _run(spec, root, run_id="r", *extra):
    return cli("run", spec, "--no-notebook", "--no-gguf", "--no-export-merged", "--runs-root", root, "--run-id", run_id, *extra)


def _folder_bytes(run: Path) -> dict:
    "Every file in a run folder (but the lock, which records its last holder) and its hash."
    return {str(p.relative_to(run)): sha256_file(p) for p in sorted(run.rglob("*")) if p.is_file() and p.name != "run.lock"}


# ---------------------------------------------------------------- the run folder

def test_two_processes_one_run_id_one_refuses_and_the_folder_stays_consistent(tmp_path):
    _csv(tmp_path / "reviews.csv", 200_000)          # a prepare long enough for the second process to start meanwhile
    spec, root = _spec(tmp_path), tmp_path / "runs"
    run = RunDir(root / "probe" / "r")
    first = subprocess.Popen([CLI, "prepare", str(spec), "--runs-root", str(root), "--run-id", "r"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while (load_manifest(run)["stages"].get("prepare", {}).get("status") != "running" and first.poll() is None
           and time.time() < deadline):
        time.sleep(0.05)
    second = _prepare(spec, root)
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-2000:]
    assert second.returncode == 2, second.stderr[-2000:]
    line = second.stderr.strip().splitlines()[-1]
    assert f"{run.root} is in use by another run (pid {first.pid} on " in line and " prepare " in line, line
    man = load_manifest(run)                           # consistent: one prepare, by the first process, unchanged since
    assert man["stages"]["prepare"]["pid"] == first.pid
    assert stage_state(run, "prepare")[0] == "done"
    assert man["data_hashes"]["train"] == hash_rows(read_jsonl(run.split("train")))
    assert not list(run.root.glob("**/.*.tmp*"))      # no temporary file left behind


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    _csv(tmp_path / "reviews.csv", 80)
    spec, root = _spec(tmp_path), tmp_path / "runs"
    run = RunDir.create("probe", root, "r")
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from simplex_train.base.runs import RunDir, acquire_lock;"
                               f" acquire_lock(RunDir({str(run.root)!r}), 'holder'); print('held', flush=True); time.sleep(600)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    refused = _prepare(spec, root)
    assert refused.returncode == 2 and f"pid {holder.pid}" in refused.stderr and "holder" in refused.stderr
    holder.kill(); holder.wait()
    taken = _prepare(spec, root)                       # the holder is gone: its lock is free, the next run takes it
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert stage_state(run, "prepare")[0] == "done"


def test_an_edited_split_after_a_finished_run_is_noticed(tmp_path, tiny_model):
    _csv(tmp_path / "reviews.csv", 80)
    spec, root = _spec(tmp_path, tiny_model), tmp_path / "runs"
    first = _run(spec, root)
    assert first.returncode == 0, first.stderr[-3000:]
    run = RunDir(root / "probe" / "r")
    rows = read_jsonl(run.split("train"))
    flipped = {" positive": " negative", " negative": " positive"}
    (run.split("train")).write_text("".join(json.dumps({**r, "response": flipped[r["response"]]}) + "\n" for r in rows))
    before = _folder_bytes(run.root)
    again = _run(spec, root)
    assert again.returncode == 2
    message = again.stderr.strip().splitlines()[-1]
    print("the re-run says:", message)
    assert message == (f"{run.root}: stage prepare: data/train.jsonl was changed after stage prepare wrote it, so its "
                       "results no longer match. Re-run with --force (force=True) to redo every stage, or start a new "
                       "run (another --run-id)")
    assert _folder_bytes(run.root) == before          # refused before anything was written
    forced = _run(spec, root, "r", "--force")
    assert forced.returncode == 0, forced.stderr[-3000:]
    man = load_manifest(run)
    assert man["data_hashes"]["train"] == hash_rows(read_jsonl(run.split("train"))) != hash_rows(
        [{**r, "response": flipped[r["response"]]} for r in rows])   # re-prepared from the source, hashes true again
    assert all(stage_state(run, s)[0] == "done" for s in man["stages"])


def test_different_data_or_an_edited_source_with_the_same_run_id_is_refused(tmp_path):
    _csv(tmp_path / "reviews.csv", 80)
    other = _csv(tmp_path / "other.csv", 80, start=1000)
    spec, root = _spec(tmp_path), tmp_path / "runs"
    assert _prepare(spec, root).returncode == 0
    run = RunDir(root / "probe" / "r")
    before = _folder_bytes(run.root)
    changed = _prepare(spec, root, "r", "--data", other)
    assert changed.returncode == 2 and f"options.data: None -> '{other}'" in changed.stderr, changed.stderr
    _csv(tmp_path / "reviews.csv", 81)                 # the source itself edited
    edited = _prepare(spec, root)
    assert edited.returncode == 2 and f"sources.{tmp_path / 'reviews.csv'}: '" in edited.stderr, edited.stderr
    assert _folder_bytes(run.root) == before          # the manifest still says what the splits were made from


def test_a_failed_prepare_keeps_the_old_data_and_training_refuses_to_start(tmp_path):
    source = _csv(tmp_path / "reviews.csv", 80)
    spec, root = _spec(tmp_path), tmp_path / "runs"
    assert _prepare(spec, root).returncode == 0
    run = RunDir(root / "probe" / "r")
    old = {n: sha256_file(run.split(n)) for n in ("train", "val", "test")}
    source.write_text(source.read_text().replace("review 7 ", "review\x00 7 "))   # a NUL byte in row 7
    failed = _prepare(spec, root, "r", "--force")
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines()[-1] == (
        f"{source}:9: field 'text': control character U+0000 in the text (rows with a problem in this file: 1)")
    assert {n: sha256_file(run.split(n)) for n in old} == old     # the previous splits are intact
    st = load_manifest(run)["stages"]["prepare"]
    assert st["status"] == "failed" and st["error"].startswith("DataError: ")
    train = cli("train", run.root)
    assert train.returncode == 2
    assert "the prepare stage is not usable (failed: DataError:" in train.stderr


def test_a_prepare_killed_half_way_leaves_the_old_data_and_is_marked_interrupted(tmp_path):
    _csv(tmp_path / "reviews.csv", 80)
    big = _csv(tmp_path / "big.csv", 200_000)
    spec, root = _spec(tmp_path), tmp_path / "runs"
    assert _prepare(spec, root).returncode == 0
    run = RunDir(root / "probe" / "r")
    old = {n: sha256_file(run.split(n)) for n in ("train", "val", "test")}
    proc = subprocess.Popen([CLI, "prepare", str(spec), "--runs-root", str(root), "--run-id", "r", "--data", str(big),
                             "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while (load_manifest(run)["stages"]["prepare"].get("status") != "running" and proc.poll() is None
           and time.time() < deadline):
        time.sleep(0.05)
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL); proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert {n: sha256_file(run.split(n)) for n in old} == old     # nothing half written: data/ is the old one
    assert load_manifest(run)["stages"]["prepare"]["status"] == "running"   # what the killed process left
    again = _prepare(spec, root)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "stage prepare was left running by pid" in again.stderr and "marked interrupted" in again.stderr
    assert stage_state(run, "prepare")[0] == "done"
    assert not list(run.root.glob("**/.*.tmp*"))


# ---------------------------------------------------------------- options, commands and the error style

@pytest.mark.parametrize("args, message", [
    (["--max-train", "-5"], "--max-train (max_train): Input should be greater than or equal to 1, got -5"),
    (["--max-train", "0"], "--max-train (max_train): Input should be greater than or equal to 1, got 0"),
    (["--run-id", "../../escaped_run"], "--run-id (run_id): run id '../../escaped_run': use letters, digits, '.', '_' and '-' only (it names one folder)"),
])
def test_bad_options_are_one_line_and_create_nothing(tmp_path, args, message):
    _csv(tmp_path / "reviews.csv", 80)
    r = cli("prepare", _spec(tmp_path), "--runs-root", tmp_path / "runs", *args)
    assert (r.returncode, r.stderr.strip()) == (2, message)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "escaped_run").exists()


@pytest.mark.parametrize("base_model, message", [
    ("{tmp}/no_model", "base model '{tmp}/no_model': not 'embedded', a .gguf file, a model folder, or a hub id (org/name)"),
    ("nobody-here/no-model", "nobody-here/no-model: cannot be loaded ("),
])
def test_a_base_model_that_cannot_be_loaded_is_one_line_through_the_workbook(tmp_path, base_model, message):
    _csv(tmp_path / "reviews.csv", 80)
    base_model, message = base_model.format(tmp=tmp_path), message.format(tmp=tmp_path)
    offline = {**os.environ, "HF_HUB_OFFLINE": "1"}   # a hub id is looked up in the local cache only
    r = cli("run", _spec(tmp_path, base_model=base_model), "--runs-root", tmp_path / "runs", "--no-gguf", env=offline)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert message in r.stderr.strip().splitlines()[-2]   # then the line naming the executed notebook


def test_promote_on_a_folder_that_is_not_a_run_writes_nothing(tmp_path):
    folder = tmp_path / "specialist" / "not_a_run"
    folder.mkdir(parents=True)
    r = cli("promote", folder)
    assert r.returncode == 2 and "is not a run folder (no manifest.json)" in r.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["not_a_run", "specialist"]


def test_a_user_error_reads_the_same_through_papermill_and_in_process(tmp_path):
    source = _csv(tmp_path / "reviews.csv", 80)
    source.write_text(source.read_text().replace("review 7 ", "review\x00 7 "))
    spec = _spec(tmp_path)
    in_process = _prepare(spec, tmp_path / "a")
    secret = "description=notes at https://ann:hunter2@example.com/x"   # a password in a URL never reaches a file
    notebook = cli("run", spec, "--runs-root", tmp_path / "b", "--run-id", "r", "--no-gguf", "--set", secret)
    assert in_process.returncode == notebook.returncode == 2
    line = in_process.stderr.strip().splitlines()[-1]
    assert line == f"{source}:9: field 'text': control character U+0000 in the text (rows with a problem in this file: 1)"
    assert notebook.stderr.strip().splitlines()[-2] == line, notebook.stderr[-3000:]   # then where the traceback is
    assert "Traceback" not in notebook.stderr
    assert (tmp_path / "b" / "probe" / "r" / "notebooks" / "run_specialist.ipynb").exists()
    assert load_manifest(RunDir(tmp_path / "b" / "probe" / "r"))["stages"]["prepare"]["status"] == "failed"
    written = [p for p in (tmp_path / "b").rglob("*") if p.is_file()]
    assert [p for p in written if "hunter2" in p.read_text(errors="replace")] == []
    assert "https://***@example.com/x" in (tmp_path / "b" / "probe" / "r" / "notebooks" / "run_specialist.ipynb").read_text()


def test_config_mistakes_are_caught_by_show(tmp_path):
    "Mistakes that used to surface only in a later stage, with a long traceback, are one line from `show`."
    base = _spec(tmp_path).read_text()
    cases = {
        base.replace("train: {", "train: {lr_scheduler: cosine_typo, "): "probe.yaml:6: field 'train.lr_scheduler'",
        base.replace("{text}", "{text"): "probe.yaml:4: field 'prompt.template': not a valid format string",
        base.replace("'0': negative", "'0': negatve"): "probe.yaml:3: field 'data.label_map': maps to ['negatve']",
    }
    for text, expected in cases.items():
        (tmp_path / "probe.yaml").write_text(text)
        r = cli("show", tmp_path / "probe.yaml")
        assert r.returncode == 2 and expected in r.stderr, (expected, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1


def test_the_scheduler_and_optimizer_names_are_transformers_own():
    from transformers.trainer_utils import SchedulerType
    from transformers.training_args import OptimizerNames
    from simplex_train.base.config import OPTIMIZERS, SCHEDULERS
    assert set(SCHEDULERS) == {s.value for s in SchedulerType}
    assert set(OPTIMIZERS) == {o.value for o in OptimizerNames}


# ---------------------------------------------------------------- readers, fuzzed

plain = st.text(alphabet=st.characters(whitelist_categories=("L", "N", "Zs"), max_codepoint=0x2FFF), min_size=1, max_size=20)
table = st.lists(st.tuples(plain, st.sampled_from(["0", "1"])), min_size=1, max_size=30)


def _write_csv(path: Path, rows) -> None:
    path.write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in rows), encoding="utf-8")


@SETTINGS
@given(table, st.lists(st.integers(0, 10**6), min_size=1, max_size=3))
def test_stray_quotes_never_merge_lines_silently(tmp_path, rows, where):
    "Quotes dropped anywhere into a plain CSV: either every line is still its own row, or a clear error at a line."
    text = "text,label\n" + "".join(f"{t},{l}\n" for t, l in rows)
    for w in where:
        i = w % len(text)
        text = text[:i] + '"' + text[i:]
    (tmp_path / "q.csv").write_text(text, encoding="utf-8")
    try:
        out = read_rows(tmp_path / "q.csv")
    except DataError as e:
        assert str(e).startswith(f"{tmp_path / 'q.csv'}:")
        return
    assert len(out) == text.count("\n") - 1          # one row per line: nothing merged, nothing dropped


@SETTINGS
@given(table, st.data())
def test_control_characters_are_errors_that_count_every_bad_row(tmp_path, rows, data):
    bad = sorted(set(data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=1, max_size=len(rows)))))
    char = data.draw(st.sampled_from(["\x00", "\x07", "\x1b", "\x7f", "\x85"]))
    _write_csv(tmp_path / "c.csv", [(t + char if i in bad else t, l) for i, (t, l) in enumerate(rows)])
    with pytest.raises(DataError) as e:
        read_rows(tmp_path / "c.csv", multiline=True)
    assert f"c.csv:{bad[0] + 2}: field 'text': control character U+{ord(char):04X}" in str(e.value)
    assert str(e.value).endswith(f"(rows with a problem in this file: {len(bad)})")


@SETTINGS
@given(table, st.integers(0, 10**6), st.sampled_from([{"nested": "obj"}, ["a", "list"], {}]))
def test_a_text_field_that_is_not_text_is_an_error_at_its_line(tmp_path, rows, at, value):
    recs = [{"text": t, "label": l} for t, l in rows]
    recs[at % len(recs)]["text"] = value
    (tmp_path / "j.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    with pytest.raises(DataError) as e:
        read_rows(tmp_path / "j.jsonl", text_fields=["text"])
    assert f"j.jsonl:{at % len(recs) + 1}: field 'text': expected text, found a JSON" in str(e.value)
