"The benchmark scripts stay runnable: each one compiles and answers --help."
import subprocess, sys
from pathlib import Path

import pytest

BENCH = sorted((Path(__file__).parent.parent / "bench").glob("*.py"))


@pytest.mark.parametrize("script", BENCH, ids=lambda p: p.name)
def test_bench_script_answers_help(script):
    r = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "usage" in r.stdout.lower()


def test_gpu_train_bench_smoke_on_cpu(tmp_path):
    "The GPU training bench runs end to end on a tiny random Qwen2 on CPU: every trainer measured, ratios computed."
    import json
    out = tmp_path / "gpu.json"
    script = Path(__file__).parent.parent / "bench" / "gpu_train_bench.py"
    r = subprocess.run([sys.executable, str(script), "--arch", "tiny", "--device", "cpu", "--steps", "3", "--warmup", "1",
                        "--batch", "4", "--seq-len", "96", "--trainers", "trl,ours", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(out.read_text())["results"]["tiny"]
    assert res["trl"]["tokens_per_s"] > 0 and res["ours"]["tokens_per_s"] > 0 and res["ours"]["padding_free"]
    assert res["ours_vs_trl"] > 0 and 0 < res["ours"]["mfu"] < 1
    assert res["ours"]["attention"] == "per_row" and res["ours"]["measured_steps"] == 2
    # tokens counted from the collated batches: the padded trainer and the padding-free one see the same real tokens
    # (give or take the <eos> ours adds to each row and TRL's truncation at --seq-len), not twice as many
    assert abs(res["trl"]["tokens_per_step"] - res["ours"]["tokens_per_step"]) <= 0.1 * res["ours"]["tokens_per_step"]


def test_gpu_attention_check_dry_run_on_cpu(tmp_path):
    "The device script's quick check runs on CPU: the per-row timings, the varlen wrapper and flex against the oracle."
    import json
    out = tmp_path / "check.json"
    script = Path(__file__).parent.parent / "bench" / "gpu_attention_check.py"
    r = subprocess.run([sys.executable, str(script), "--device", "cpu", "--rows", "4", "--layers", "2", "--steps", "2",
                        "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["attention_seconds_per_step"]["per_row_no_cudnn"]["median_s"] > 0
    assert max(max(g) for g in res["max_gap_vs_per_row"]["varlen"].values()) < 1e-4      # the reference kernel, fp32
    assert max(max(g) for g in res["max_gap_vs_per_row"]["flex"].values()) < 1e-4
    assert res["head_kernels"]["chunked"]["max_gap_grad"] < 1e-4 and res["host_syncs_per_packed_step"].startswith("skipped")


def test_train_bench_reports_the_median_run():
    "With --repeats the CPU training bench reports each trainer's median run, not its best or its last."
    import importlib.util
    spec = importlib.util.spec_from_file_location("train_bench", Path(__file__).parent.parent / "bench" / "train_bench.py")
    bench = importlib.util.module_from_spec(spec); spec.loader.exec_module(bench)
    runs = [{"tokens_per_s": v, "i": i} for i, v in enumerate([30.0, 42.0, 34.0])]
    assert bench.median_run(runs)["i"] == 2
    assert bench.median_run(runs[:2])["i"] == 0     # an even count takes the lower middle run
    assert bench.median_run(runs[:1])["i"] == 0
