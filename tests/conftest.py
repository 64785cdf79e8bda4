import os
from pathlib import Path

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: end-to-end test on the real embedded model (slow)")


def _shared_path() -> Path:
    "SIMPLEX_SHARED_DATA, or ../shared/data next to the checkout; `none` (to run as on a fresh clone) is no folder."
    return Path(os.environ.get("SIMPLEX_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The full shared real-data folder (SIMPLEX_SHARED_DATA, or ../shared/data); tests using it skip when it is absent.
    For tests that assert facts of the full datasets (row counts of the full files)."""
    p = _shared_path()
    if not p.is_dir():
        pytest.skip(f"full real datasets not available at {p} (this test checks facts of the full files)")
    return p


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The full shared folder when present, else the small samples a checkout ships in `data/samples` (same layout,
    permissively licensed families only): tests using it run on a fresh clone too."""
    from simplex_train.base.config import samples_dir
    p = _shared_path()
    if p.is_dir():
        return p
    if not samples_dir().is_dir():
        pytest.skip(f"real datasets not available at {p}, and no samples at {samples_dir()}")
    return samples_dir()


@pytest.fixture(scope="session")
def full_data(real_data) -> bool:
    "Whether `real_data` is the full shared folder (full-dataset facts hold) rather than the shipped samples."
    from simplex_train.base.config import samples_dir
    return real_data.resolve() != samples_dir().resolve()


@pytest.fixture(scope="session")
def real_family(real_data):
    """`real_family("banking77")`: that family's folder in `real_data`; skips the test when it has none (the samples
    leave out the families whose terms do not allow shipping them: SST-2, AG News, CoNLL-2003, XSum, ELLIPSE)."""
    def get(family: str) -> Path:
        p = real_data / family
        if not p.is_dir():
            pytest.skip(f"{family} is not in {real_data} (no shipped sample: its licence does not allow it); "
                        "set SIMPLEX_SHARED_DATA to the full shared data folder")
        return p
    return get


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    from simplex_train.base.tiny import tiny_model_dir
    return tiny_model_dir(tmp_path_factory.mktemp("tiny"))
