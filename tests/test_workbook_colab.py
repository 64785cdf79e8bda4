"""The workbook as Colab runs it: in a fresh virtualenv where simplex_train is NOT installed, so the workbook's first
code cell installs it (from this checkout instead of the git URL), then the quick run (`local_test`) on a tiny model.

Colab has torch, transformers and friends preinstalled; here the fresh venv sees this project's .venv packages through
a `.pth` line, pointing at a folder of links to every entry of .venv's site-packages except simplex_train's own
(its editable hook and its dist-info: with those visible, pip would take the checkout for installed). pip runs offline
(no index, no build isolation) and must find every requirement already there: it installs simplex_train alone.
About 1-2 minutes on 2 CPU cores (the install about 10 s).
"""
import ast, json, os, shutil, subprocess, sys, sysconfig
from pathlib import Path

import pytest

pm = pytest.importorskip("papermill")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parents[1]
WORKBOOK = REPO / "nbs" / "workbooks" / "run_specialist.ipynb"
KERNEL = "colab-like"


def _preinstalled(folder: Path) -> Path:
    "Links to every entry of this interpreter's site-packages but simplex_train's (package, editable hook, metadata)."
    folder.mkdir(parents=True)
    for site in dict.fromkeys(Path(sysconfig.get_path(k)) for k in ("purelib", "platlib")):
        for entry in site.iterdir():
            name = entry.name.lower()
            if name.startswith(("simplex_train", "__editable__")) or name.endswith(".pth"):
                continue  # .pth files are not run in a plain path entry anyway: left out to be plain about it
            if not (folder / entry.name).exists():
                (folder / entry.name).symlink_to(entry)
    return folder


def _source_copy(dest: Path) -> Path:
    """The checkout's files as a clone has them (tracked and new, not ignored; uncommitted edits included): building
    in a copy leaves no build/ or egg-info in the checkout, and a concurrent run of this test builds its own."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        src = REPO / f
        if src.is_file():  # a file deleted but not yet committed is still listed
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)
    return dest


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _probe(py: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=py.parent, timeout=120)


def _outputs(nb: dict, kind: str) -> list[str]:
    "Every output of the executed notebook's code cells with this mime type, or stream text for kind='stream'."
    found = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if kind == "stream" and out["output_type"] == "stream":
                found.append("".join(out["text"]))
            elif kind in out.get("data", {}):
                found.append("".join(out["data"][kind]))
    return found


def test_the_workbook_installs_simplex_train_and_runs_in_a_fresh_venv(tmp_path, monkeypatch):
    from simplex_train.base.tiny import tiny_model_dir

    site = Path(sysconfig.get_path("purelib"))
    site_before = sorted(os.listdir(site))

    # a fresh venv; no pip of its own: Colab's pip and setuptools are preinstalled and recent, this Python's bundled
    # ones are not (setuptools 65 would have to be upgraded for torch's setuptools>=77, offline: impossible)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = _venv_python(venv)
    fresh_site = Path(_probe(py, "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip())
    # named site-packages: dill (datasets' fingerprints) pickles a module by reference only when its path says so
    preinstalled = _preinstalled(tmp_path / "preinstalled" / "site-packages")
    (fresh_site / "colab_preinstalled.pth").write_text(f"{preinstalled}\n")

    r = _probe(py, "import importlib.util as u, importlib.metadata as m, torch, transformers, peft, trl, ipykernel\n"
                   "print(u.find_spec('simplex_train'), [d.metadata['Name'] for d in m.distributions()"
                   " if d.metadata['Name'].lower().replace('-', '_') == 'simplex_train'])")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["None", "[]"]  # the heavy packages are there, simplex_train is not: code nor metadata
    assert "No module named 'simplex_train'" in _probe(py, "import simplex_train").stderr

    # the venv's own kernel, found by papermill through JUPYTER_PATH
    subprocess.run([str(py), "-m", "ipykernel", "install", "--prefix", str(venv), "--name", KERNEL],
                   check=True, capture_output=True, timeout=120)
    spec = json.loads((venv / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json").read_text())
    assert Path(spec["argv"][0]) == py

    source = _source_copy(tmp_path / "src")
    tiny = tiny_model_dir(tmp_path / "tiny")
    monkeypatch.setenv("JUPYTER_PATH", str(venv / "share" / "jupyter"))
    monkeypatch.setenv("SIMPLEX_TRAIN_SOURCE", str(source))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # nothing is downloaded: every requirement must already be there
    # pip's env vars for --no-* flags are inverted (pypa/pip#5735): 0 turns build isolation OFF, so the build uses the
    # preinstalled setuptools and wheel instead of fetching them
    monkeypatch.setenv("PIP_NO_BUILD_ISOLATION", "0")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    for var in ("PIP_FIND_LINKS", "PIP_CONSTRAINT", "PYTHONPATH", "VIRTUAL_ENV"):
        monkeypatch.delenv(var, raising=False)  # no local wheels to fall back on, no checkout on the kernel's path
    monkeypatch.chdir(tmp_path)  # the kernel's IPC sockets are relative to the working directory (both sides)

    from simplex_train.workflow.workbook import LocalKernelManager
    out = tmp_path / "executed.ipynb"
    pm.execute_notebook(str(WORKBOOK), str(out), kernel_name=KERNEL, cwd=str(tmp_path), progress_bar=False,
                        parameters=dict(base_model=str(tiny), runs_root=str(tmp_path / "runs"), run_id="colab"),
                        execution_timeout=900,
                        **({"kernel_manager_class": LocalKernelManager} if os.name == "posix" else {}))
    nb = json.loads(out.read_text())

    # the install cell installed it, from the checkout, and said which device trains
    text = "".join(_outputs(nb, "stream"))
    assert f"installing simplex_train from {source}" in text
    assert any(line.startswith("device cpu") for line in text.splitlines()), text[:2000]

    # the run folder is complete
    run = tmp_path / "runs" / "context_protocol" / "colab"
    gate = json.loads((run / "gate.json").read_text())
    assert (run / "report.md").read_text().strip()
    stages = json.loads((run / "manifest.json").read_text())["stages"]
    every = ["prepare", "baseline", "train", "evaluate", "gate", "export", "deploy", "report"]
    assert {name: s["status"] for name, s in stages.items()} == dict.fromkeys(every, "done")  # deploy: no GGUF

    # the notebook shows the gate banner and ends with the report
    banners = [h for h in _outputs(nb, "text/html") if h.startswith("<div style=")]
    assert len(banners) == 1 and f">{gate['decision']}</b>" in banners[0]
    assert gate["decision"] in ("DEPLOY", "REVIEW", "FAIL")
    report_cell = next(c for c in nb["cells"] if 'run_one("report"' in "".join(c["source"]))
    shown = [o for o in report_cell["outputs"] if "text/markdown" in o.get("data", {})]
    assert len(shown) == 1 and "context_protocol" in "".join(shown[0]["data"]["text/markdown"])
    # then the model is asked (three test rows, each with its answer) and the files to keep are listed
    asked = next(c for c in nb["cells"] if "show_answers(run);" in "".join(c["source"]))
    answers = "".join("".join(o.get("data", {}).get("text/markdown", "")) for o in asked["outputs"])
    assert answers.count("\n| ") == 3 and "| asked (end) | answer | expected |" in answers, answers
    saved = "".join("".join(o.get("text", [])) for o in nb["cells"][-1]["outputs"])
    assert "to keep:" in saved and f"{run}/adapter" in saved and "simplex-train hub-upload" in saved, saved

    # the fresh venv now has simplex_train, its own copy with the package data, and nothing else was installed
    r = _probe(py, "import simplex_train, simplex_train.workflow.workbook as w, simplex_train.base.core as c\n"
                   "print(simplex_train.__file__); print(w.workbook_path())\n"
                   "print(len(list((c.package_dir() / 'specialists').glob('*.yaml'))))")
    assert r.returncode == 0, r.stderr
    module, workbook, n_specialists = r.stdout.split()
    assert Path(module).is_relative_to(fresh_site) and Path(workbook).is_relative_to(fresh_site)
    assert int(n_specialists) == len(list((source / "simplex_train" / "specialists").glob("*.yaml")))
    assert (Path(module).parent / "general_text.txt").is_file() and (Path(module).parent / "chains").is_dir()
    installed = {p.name for p in fresh_site.iterdir()} - {"colab_preinstalled.pth", "__pycache__"}
    assert {n.split("-")[0] for n in installed} == {"simplex_train"}, installed
    assert sorted(os.listdir(site)) == site_before  # the project's .venv is untouched


def _install_logic() -> dict:
    "The install cell's functions, defined without running the cell (which would install)."
    cell = next(c for c in json.loads(WORKBOOK.read_text())["cells"] if "def install_command" in "".join(c["source"]))
    tree = ast.parse("".join(cell["source"]))
    keep = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.Assign))]
    namespace = {}
    exec(compile(ast.Module(keep, type_ignores=[]), "install cell", "exec"), namespace)
    return namespace


def test_the_install_cell_picks_the_commands_for_cpu_cuda_and_colab():
    logic = _install_logic()
    command, replaced = logic["install_command"], logic["replaced_modules"]
    git = "git+https://github.com/simplex/simplex_train"
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    assert command(git, cuda=False) == pip + [git]                                  # CPU: no Unsloth
    assert command(git, cuda=True) == pip + [f"simplex_train[gpu] @ {git}"]         # CUDA: the gpu extra
    assert command("/content/src", cuda=True) == pip + ["/content/src[gpu]"]        # a local checkout, on a GPU
    # Colab: a package it had loaded before pip replaced it asks for a restart, named; an unchanged one does not
    import numpy, types
    assert replaced({"numpy": numpy, "torch": None}) == []
    old = types.SimpleNamespace(__version__="1.0.0")
    assert replaced({"numpy": old}) == [f"numpy 1.0.0 -> {numpy.__version__}"]
