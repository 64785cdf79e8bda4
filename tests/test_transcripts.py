"The recorded terminal transcripts under bench/transcripts/ read as a person would want them."
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRANSCRIPTS = sorted((ROOT / "bench" / "transcripts").glob("*.txt"))


def _log_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if re.match(r"\d\d:\d\d:\d\d (INFO|WARNING|ERROR) ", line)]


def test_the_main_job_transcript_is_there():
    assert ROOT / "bench" / "transcripts" / "context_protocol_run.txt" in TRANSCRIPTS


def test_log_lines_hold_no_python_reprs_and_no_unrounded_numbers():
    for path in TRANSCRIPTS:
        lines = _log_lines(path)
        assert len(lines) > 20, path
        reprs = [line for line in lines if re.search(r"[{\[]'|': |-?\b[1-9]\d*\.0000\b", line)]   # a count as 159.0000
        assert not reprs, f"{path.name}: {reprs[:3]}"
        long = [line for line in lines if re.search(r"\d\.\d{6,}", line)]
        assert not long, f"{path.name}: {long[:3]}"


def test_the_run_ends_with_the_headline():
    text = (ROOT / "bench" / "transcripts" / "context_protocol_run.txt").read_text()
    gate = [line for line in text.splitlines() if line.startswith("gate: ")]
    assert gate and re.fullmatch(r"gate: (DEPLOY|REVIEW|FAIL): \w+ \d\.\d{4} → \d\.\d{4}", gate[-1]), gate
