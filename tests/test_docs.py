"The documentation site, built from this repository's notebooks with the installed `simplex-train docs`."
import importlib, json, re, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent / "simplex-train"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "site"
    r = subprocess.run([str(BIN), "docs", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pages in" in r.stdout
    return out


def _pages(site: Path) -> dict[str, str]:
    return {p.relative_to(site).as_posix(): p.read_text() for p in site.rglob("*.html")}


def test_every_notebook_has_a_page(site):
    names = {p.relative_to(ROOT / "nbs").with_suffix(".html").as_posix() for p in (ROOT / "nbs").rglob("*.ipynb")}
    expected = {re.sub(r"^\d+[a-z]?_", "", n) for n in names}       # nbdev drops the number: 08_train -> train
    built = _pages(site)
    assert expected | {"index.html", "benchmarks.html", "specialists.html"} <= set(built), expected - set(built)
    assert "padding-free" in built["index.html"].lower()             # the README is the home page


def test_every_exported_name_is_documented_on_its_page(site):
    import simplex_train._modidx as modidx
    missing, checked = [], 0
    for module, syms in modidx.d["syms"].items():
        for name in getattr(importlib.import_module(module), "__all__", []):
            if f"{module}.{name}" not in syms: continue                # a constant or an object, not a function or class
            page = syms[f"{module}.{name}"][0].split("#")[0]
            checked += 1
            if f'id="{name.lower()}"' not in (site / page).read_text(): missing.append(f"{page}#{name}")
    assert not missing and checked > 100, (checked, missing)
    loss = (site / "loss.html").read_text()
    assert "computing logits only at those positions" in loss           # the docstring, rendered by nbdev


def test_links_between_pages_resolve_and_nothing_loads_from_outside(site):
    pages = _pages(site)
    assert any('href="training.html#segment_sdpa_attention"' in html for html in pages.values())   # a name, linked
    for name, html in pages.items():
        assert "simplex-train.example.org" not in html, name           # nbdev's absolute doc links were made local
        assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?://', html), name   # no CDN, no web fonts
        for target, anchor in re.findall(r'href="([\w/.-]+\.html)#([\w.-]+)"', html):
            path = (site / name).parent / target
            assert f'id="{anchor}"' in path.read_text(), f"{name}: {target}#{anchor}"


def test_search_index_finds_a_function(site):
    docs = json.loads((site / "search" / "search_index.json").read_text())["docs"]
    assert "loss.html#sliced_causal_lm_loss" in {d["location"] for d in docs}


def test_every_exported_function_and_class_has_a_docstring():
    "The site's API entries are the docstrings: an exported name without one shows an empty (or inherited) entry."
    import inspect
    import simplex_train._modidx as modidx
    bare = [f"{module}.{name}" for module, syms in modidx.d["syms"].items()
            for name in getattr(importlib.import_module(module), "__all__", [])
            if f"{module}.{name}" in syms and not getattr(importlib.import_module(module), name).__doc__]
    assert not bare, bare
