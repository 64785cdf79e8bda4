"The documentation site, built from this repository's notebooks with the installed `simplex-train docs`."
import importlib, importlib.util, json, re, subprocess, sys
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
    assert any('href="attention.html#segment_sdpa_attention"' in html for html in pages.values())   # a name, linked
    for name, html in pages.items():
        assert "simplex.github.io/simplex_train" not in html, name     # nbdev's absolute doc links were made local
        assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?://', html), name   # no CDN, no web fonts
        for target, anchor in re.findall(r'href="([\w/.-]+\.html)#([\w.-]+)"', html):
            path = (site / name).parent / target
            assert f'id="{anchor}"' in path.read_text(), f"{name}: {target}#{anchor}"


def project_address() -> str:
    from nbdev.config import get_config
    return get_config(path=ROOT).git_url.rstrip("/")


def test_source_links_point_at_the_project_address_and_at_files_it_has(site):
    home, links = project_address(), set()
    for name, html in _pages(site).items():
        links |= set(re.findall(r'href="(https://github\.com/[^"#]+)', html))
    source = [link for link in links if "/blob/" in link]   # nbdev's "source" link beside each documented name
    assert len(source) > 40 and all(link.startswith(home + "/blob/main/") for link in source), sorted(source)[:5]
    files = [link.removeprefix(home + "/blob/main/") for link in source]
    assert [f for f in files if not (ROOT / f).is_file()] == []


def test_the_project_address_has_one_home():
    "settings.ini's git_url: the README's and the workbook's Colab badges and the install cell's source follow it."
    home = project_address()
    owner_repo = home.removeprefix("https://github.com/")
    texts = {p: p.read_text() for p in [ROOT / "README.md", ROOT / "setup.py", *(ROOT / "nbs").rglob("*.ipynb")]}
    seen = 0
    for path, text in texts.items():
        for found in re.findall(r"(?:github\.com|colab\.research\.google\.com/github)/([\w.-]+/[\w.-]+)", text):
            if found.split("/")[1].replace("-", "_") != owner_repo.split("/")[1]:
                continue   # another project's address (a tool this one uses)
            seen += 1
            assert found == owner_repo, f"{path.relative_to(ROOT)}: {found} is not {owner_repo} (settings.ini git_url)"
    assert seen >= 3


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


def _screenshot_module():
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "bench" / "screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_executed_example_renders_in_headless_chromium(site, tmp_path):
    "The executed workbook is a page of the site with its outputs, and a real browser draws it (the gate banner too)."
    shots = _screenshot_module()
    page, height = shots.PAGES["executed_example"]
    html = (site / page).read_text()
    assert "data:image/png;base64," in html and "Predictions beside their references" in html   # outputs kept
    decision = re.search(r'<b style="font-size:1.4em">(DEPLOY|REVIEW|FAIL)</b>', html).group(1)   # the gate banner
    assert decision == "DEPLOY" and "| asked (end) | answer | expected |" not in html   # a run worth showing; tables
    assert "Output()" not in html and "0%|" not in html                                  # no widget placeholder
    if not shots.chromium():
        pytest.skip("no headless Chromium (apt-get install chromium-headless-shell)")
    import matplotlib.image
    png = matplotlib.image.imread(shots.screenshot(site / page, tmp_path / "example.png", height))
    assert png.shape[:2] == (height, 1280) and png[..., :3].std() > 0.05          # drawn, not a blank page
    banner = {"DEPLOY": (0x1b, 0x7f, 0x3b), "REVIEW": (0xb2, 0x6a, 0x00), "FAIL": (0xb0, 0x00, 0x20)}[decision]
    near = (abs(png[..., :3] * 255 - banner).max(axis=-1) < 8).sum()
    assert near > 2000, f"the {decision} banner's colour covers only {near} pixels"


def test_every_list_in_the_prose_has_a_blank_line_above_it():
    "Python-Markdown (the docs site) runs a list into the paragraph above it unless a blank line separates them."
    stuck = []
    for path in sorted((ROOT / "nbs").rglob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            lines, fenced = "".join(cell["source"]).split("\n"), False
            for above, line in zip(lines, lines[1:]):
                fenced ^= above.startswith("```")
                item = re.match(r"([-*]|\d+\.) ", line)
                prose = above.strip() and not re.match(r"\s*([-*]|\d+\.) |\s|#|>|<", above)
                if item and prose and not fenced:
                    stuck.append(f"{path.relative_to(ROOT)}: {line[:50]}")
    assert not stuck, stuck
