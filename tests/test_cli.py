"The installed `simplex-train` command, run as a user would."
import json, re, subprocess, sys
from pathlib import Path

BIN = Path(sys.executable).parent / "simplex-train"


def cli(*args, **kw):
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=600, **kw)


def test_list_shows_catalog():
    r = cli("list")
    assert r.returncode == 0, r.stderr
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert {"sentiment", "context_protocol"} <= set(names)


def test_bad_yaml_names_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntask: {type: classification, labels: [a, b]}\ndata: {path: x.csv}\n"
                   "train:\n  epochs: lots\nthresholds: {baseline_target: 0.5, finetuned_target: 0.8}\n")
    r = cli("show", str(bad))
    assert r.returncode == 2
    assert f"{bad}:5: field 'train.epochs'" in r.stderr


def test_missing_data_is_a_clear_error(tmp_path):
    env = {k: v for k, v in __import__("os").environ.items() if k != "SIMPLEX_SHARED_DATA"}
    r = cli("run", "sentiment", "--no-notebook", "--runs-root", str(tmp_path), env=env)
    assert r.returncode != 0
    assert "SIMPLEX_SHARED_DATA" in (r.stdout + r.stderr)


def test_readme_is_rendered_from_the_index_notebook():
    r = cli("readme", "--check", cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0, r.stdout + r.stderr      # README.md == what nbs/index.ipynb renders to


def test_a_misspelt_papermill_parameter_stops_the_workbook(tmp_path):
    "papermill injects any -p name; the workbook refuses one that is not a run option, before any stage runs."
    from simplex_train.workflow.workbook import workbook_path
    out = tmp_path / "out.ipynb"
    r = subprocess.run([sys.executable, "-m", "papermill", str(workbook_path()), str(out), "-p", "max_trian", "5",
                        "-p", "runs_root", str(tmp_path / "runs"), "-k", "python3"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode != 0
    assert "unknown workbook parameter(s) ['max_trian']" in r.stdout + r.stderr
    assert not (tmp_path / "runs").exists()            # nothing was started


def test_all_on_a_single_specialist_is_one_line_and_writes_nothing(tmp_path):
    r = cli("run", "sentiment", "--all", "--no-notebook", "--runs-root", str(tmp_path))
    assert r.returncode == 2
    assert "--all runs every stage of a chain, and 'sentiment' is a single specialist" in r.stderr
    assert not any(tmp_path.iterdir())


def test_chat_answers_line_by_line_with_the_model_loaded_once_and_rows_feed_evaluate(tmp_path):
    from simplex_train.base.tiny import tiny_model_dir
    tiny = tiny_model_dir(tmp_path / "tiny")
    r = cli("run", "context_protocol", "--base-model", str(tiny), "--max-train", "8", "--max-test", "4", "--max-val", "4",
            "--max-steps", "1", "--no-gguf", "--no-notebook", "--runs-root", str(tmp_path / "runs"), "--run-id", "r")
    assert r.returncode == 0, r.stderr[-2000:]
    run = tmp_path / "runs" / "context_protocol" / "r"
    assert "gate: " in r.stdout and " → " in r.stdout.splitlines()[-1]          # the headline: metric before → after
    fresh = tmp_path / "fresh.jsonl"
    assert cli("rows", "context_protocol", "--n", "100", "--out", str(fresh)).returncode == 0
    questions = [" ".join(json.loads(line)["text"].split()) for line in fresh.read_text().splitlines()[:2]]
    chat = cli("chat", str(run), input="\n".join(questions) + "\n\nnot asked\n")
    assert chat.returncode == 0, chat.stderr[-2000:]
    assert len(chat.stdout.strip().splitlines()) == 2                            # two answers; the empty line ended it
    evaluated = cli("evaluate", str(run), "--data", str(fresh), "--name", "fresh")
    assert evaluated.returncode == 0 and re.match(r"fresh: \d+ rows, exact_match ", evaluated.stdout), evaluated.stderr[-2000:]
