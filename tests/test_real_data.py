"The data stage on the real SST-2 files (skipped when the shared data folder is absent)."
from simplex_train.config import load_specialist
from simplex_train.core import RunDir
from simplex_train.data import prepare_data


def test_sst2_prepare(shared_data, tmp_path):
    spec = load_specialist("sentiment")
    m = prepare_data(spec, RunDir.create("sentiment", tmp_path, "r"), shared_data / "sst2")
    assert m["cleaning"]["test"]["rows_in"] == 872
    assert m["splits"]["train"]["rows"] == 2000            # max_train_rows, stratified
    assert m["splits"]["test"]["rows"] == 872 - m["leakage_removed"]["test"]
    pos = m["splits"]["train"]["labels"]["positive"] / 2000
    assert 0.5 < pos < 0.6                                  # SST-2 train is ~55.8 % positive; stratification keeps it
    c = m["cleaning"]["train"]
    assert c["rows_in"] == 67349 and c["rows_in"] == c["rows_out"] + sum(c["dropped"].values())
