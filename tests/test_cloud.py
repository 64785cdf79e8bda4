"""`simplex-train cloud plan`: the SkyPilot tasks and SageMaker jobs it writes are validated offline by the tools
themselves (SkyPilot's `Task.from_yaml`, botocore's model of SageMaker's API), installed from the registry into a
scratch environment that also sees this one's packages. Nothing is launched."""
import json, subprocess, sys, sysconfig
from pathlib import Path

import pytest
import yaml

from simplex_train.base.config import apply_overrides, load_specialist


@pytest.fixture(scope="module")
def cloud_python(tmp_path_factory) -> str:
    "A Python with SkyPilot and botocore besides everything this environment has."
    venv = tmp_path_factory.mktemp("cloudvenv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "skypilot", "botocore"],
                         capture_output=True, text=True, timeout=1200)
    if pip.returncode:
        pytest.skip(f"SkyPilot or botocore could not be installed from the registry: {pip.stderr[-500:]}")
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "zz_main_env.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    return str(venv / "bin" / "python")


def _cli(python: str, *args: str) -> subprocess.CompletedProcess:
    code = "import sys; from simplex_train.cli import main; sys.argv[0] = 'simplex-train'; main()"
    return subprocess.run([python, "-c", code, *args], capture_output=True, text=True, timeout=900)


def test_plan_specs_pass_skypilot_and_botocore(tmp_path, tiny_model, cloud_python):
    spec = apply_overrides(load_specialist("context_protocol"), {"base_model": tiny_model, "data.generator_rows": 300})
    spec_file = tmp_path / "context_protocol.yaml"
    spec_file.write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    out = tmp_path / "plan"
    r = _cli(cloud_python, "cloud", "plan", str(spec_file), "--instance", "g4dn.xlarge", "--instance", "p4d.24xlarge",
             "--out", str(out), "--check")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "SkyPilot: simplex-context-protocol" in r.stdout and "SageMaker: context_protocol-p4d.24xlarge.json valid" in r.stdout
    task = yaml.safe_load((out / "skypilot" / "context_protocol-p4d.24xlarge.yaml").read_text())
    assert task["resources"]["accelerators"] == "A100:8" and task["resources"]["use_spot"] is True
    est = json.loads((out / "estimate.json").read_text())
    assert {(r["instance"], r["sagemaker"]) for r in est["rows"]} == {
        ("g4dn.xlarge", False), ("g4dn.xlarge", True), ("p4d.24xlarge", False), ("p4d.24xlarge", True)}


def test_a_broken_spec_is_caught(tmp_path, cloud_python):
    job = {"TrainingJobName": "x", "RoleArn": "arn:aws:iam::123456789012:role/R",
           "AlgorithmSpecification": {"TrainingInputMode": "File"}, "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
           "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": "one", "VolumeSizeInGB": 100},
           "StoppingCondition": {"MaxRuntimeInSeconds": 600}}
    code = f"from simplex_train.workflow.cloud import check_sagemaker; check_sagemaker({job!r})"
    r = subprocess.run([cloud_python, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "InstanceCount" in r.stderr, r.stderr[-2000:]
    task = tmp_path / "bad.yaml"
    task.write_text("name: x\nresources: {accelerators: 'T4:one'}\nrun: echo hi\n")
    code = f"from simplex_train.workflow.cloud import check_skypilot; check_skypilot({str(task)!r})"
    r = subprocess.run([cloud_python, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0, r.stdout


def test_specs_with_a_data_channel_validate(tmp_path, cloud_python):
    "A specialist that reads files gets the bucket's data/ as SIMPLEX_SHARED_DATA: both specs still validate."
    task_file = tmp_path / "sentiment.yaml"
    code = f"""
import yaml
from simplex_train.workflow.cloud import check_sagemaker, check_skypilot, load_instances, sagemaker_job, skypilot_task
g5 = load_instances().get("g5.xlarge")
check_sagemaker(sagemaker_job("sentiment", g5, "b", "r1", "arn:aws:iam::123456789012:role/R", 20, reads_files=True))
open({str(task_file)!r}, "w").write(yaml.safe_dump(skypilot_task("sentiment", g5, "b", "r1", reads_files=True)))
print(check_skypilot({str(task_file)!r}))
"""
    r = subprocess.run([cloud_python, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "simplex-sentiment" in r.stdout, r.stderr[-2000:]
