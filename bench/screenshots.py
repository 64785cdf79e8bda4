"""Screenshots of the documentation site in headless Chromium: the executed example run and the workbook page.

    python bench/screenshots.py            # builds the site into a temporary folder; PNGs into bench/screenshots/

Needs `chromium-headless-shell` (or `chromium`): `apt-get install chromium-headless-shell`.
"""
import argparse, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"executed_example": ("workbooks/examples/context_protocol_quick.html", 9000),
         "workbook": ("workbooks/run_specialist.html", 2600)}


def chromium() -> str | None:
    "The headless Chromium on this machine, if any."
    return shutil.which("chromium-headless-shell") or shutil.which("chromium")


def screenshot(page: Path, out: Path, height: int, width: int = 1280) -> Path:
    "A PNG of `page` (a file of the built site) at `width` x `height`, as headless Chromium renders it."
    args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={out}",
            f"--window-size={width},{height}", page.resolve().as_uri()]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    return out


def main() -> list[Path]:
    with tempfile.TemporaryDirectory() as d:
        site = Path(d) / "site"
        subprocess.run([str(Path(sys.executable).parent / "simplex-train"), "docs", "--out", str(site)], cwd=ROOT,
                       check=True)
        out = ROOT / "bench" / "screenshots"
        return [screenshot(site / page, out / f"{name}.png", h) for name, (page, h) in PAGES.items()]


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    print("\n".join(map(str, main())))
