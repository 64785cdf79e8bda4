"The installed `simplex-train` command, run as a user would."
import subprocess, sys
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
    from simplex_train.workbook import workbook_path
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
