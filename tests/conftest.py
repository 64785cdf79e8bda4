import os
from pathlib import Path

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: end-to-end test on the real embedded model (slow)")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    "The shared real-data folder (SIMPLEX_SHARED_DATA, or ../shared/data); tests using it skip when it is absent."
    p = Path(os.environ.get("SIMPLEX_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if not p.is_dir():
        pytest.skip(f"real datasets not available at {p}")
    return p


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    from simplex_train.tiny import tiny_model_dir
    return tiny_model_dir(tmp_path_factory.mktemp("tiny"))
