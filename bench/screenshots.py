"""Screenshots in headless Chromium: the docs site (the executed example, the workbook, the home page, a module page
with its source links) and a batch summary with its report links.

    python bench/screenshots.py            # builds the site and a tiny batch in a temporary folder; PNGs into bench/screenshots/

Needs `chromium-headless-shell` (or `chromium`): `apt-get install chromium-headless-shell`.
"""
import argparse, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"executed_example": ("workbooks/examples/context_protocol_quick.html", 13000),
         "workbook": ("workbooks/run_specialist.html", 2600),
         "docs_home": ("index.html", 2400),
         "module_page": ("gate.html", 1800)}


def chromium() -> str | None:
    "The headless Chromium on this machine, if any."
    return shutil.which("chromium-headless-shell") or shutil.which("chromium")


def screenshot(page: Path, out: Path, height: int, width: int = 1280) -> Path:
    "A PNG of `page` (a file of the built site) at `width` x `height`, as headless Chromium renders it."
    args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={out}",
            f"--window-size={width},{height}", page.resolve().as_uri()]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    return out


def batch_summary(folder: Path) -> Path:
    "A batch of two quick runs on a tiny model, one of them failing: its summary.html, whose report links must work."
    from simplex_train.workflow.batch import run_batch
    from simplex_train.base.tiny import tiny_model_dir

    quick = {"base_model": tiny_model_dir(folder / "tiny"), "max_train": 8, "max_test": 4, "max_val": 4,
             "max_steps": 1, "gguf": False, "export_merged": False}
    planned = [("context_protocol", quick), ("invoice", {**quick, "base_model": str(folder / "no_such_model")})]
    return run_batch(planned, str(folder / "runs"), "example").summary_html


def main() -> list[Path]:
    with tempfile.TemporaryDirectory() as d:
        site = Path(d) / "site"
        subprocess.run([str(Path(sys.executable).parent / "simplex-train"), "docs", "--out", str(site)], cwd=ROOT,
                       check=True)
        out = ROOT / "bench" / "screenshots"
        shots = [screenshot(site / page, out / f"{name}.png", h) for name, (page, h) in PAGES.items()]
        return shots + [screenshot(batch_summary(Path(d)), out / "batch_summary.png", 700)]


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    print("\n".join(map(str, main())))
