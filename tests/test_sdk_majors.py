"""make submit under the SageMaker Python SDK's two majors, against moto: v2's Estimator (the
default) and v3's sagemaker-core (SDK=3, in .venv-sdk3) send the same CreateTrainingJob."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from moto_server import ACCOUNT, REGION, Aws

BUCKET = f"sagemaker-{REGION}-{ACCOUNT}"
# Every setting changed from its default, so a setting one SDK drops shows as a difference.
SETTINGS = (
    f"ROLE=arn:aws:iam::{ACCOUNT}:role/SageMakerTraining",
    "JOB_NAME=both-majors",
    "TAG=v1",
    "INSTANCE_TYPE=ml.c5.xlarge",
    "INSTANCE_COUNT=2",
    "VOLUME_SIZE=50",
    "MAX_RUN=3600",
    "MAX_WAIT=7200",
    "SPOT=1",
    "TENSORBOARD=1",
    "INPUT_MODE=FastFile",
    "DISTRIBUTION=sharded",
    "HYPERPARAMETERS=epochs=3 batch_size=64",
    f"INPUTS=training=s3://{BUCKET}/data/eeg/ validation=s3://{BUCKET}/data/eeg/",
    f"OUTPUT_PATH=s3://{BUCKET}/runs",
)
# v2's Estimator also turns on SageMaker Debugger's hook and profiler, which v3 leaves off;
# train.py uses neither.
ONLY_V2 = {"DebugHookConfig", "ProfilerConfig"}


@pytest.fixture(scope="module")
def requests_sent(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The CreateTrainingJob request each major would send (DRY_RUN=1 sends nothing)."""
    aws = Aws.fresh(moto_endpoint, tmp_path_factory.mktemp("majors"))
    assert aws.run("make", "-s", "upload").returncode == 0
    sent = {}
    for sdk in ("2", "3"):
        result = aws.run("make", "-s", "submit", "DRY_RUN=1", f"SDK={sdk}", *SETTINGS, timeout=900)
        assert result.returncode == 0, result.stderr
        sent[sdk] = json.loads(result.stdout)
    return sent


def named_alike(value: Any, name: str) -> Any:
    """value with the job's name (a timestamp of its own in each run) written JOB."""
    return json.loads(json.dumps(value).replace(name, "JOB"))


def test_sdk_3_sends_every_field_sdk_2_sends_but_debuggers(requests_sent):
    assert set(requests_sent["2"]) - set(requests_sent["3"]) == ONLY_V2
    assert set(requests_sent["3"]) <= set(requests_sent["2"])


def test_sdk_3_sends_each_field_as_sdk_2_does(requests_sent):
    v2, v3 = requests_sent["2"], requests_sent["3"]

    for field in set(v3) - {"TrainingJobName"}:
        sent_by_v3 = named_alike(v3[field], v3["TrainingJobName"])
        assert sent_by_v3 == named_alike(v2[field], v2["TrainingJobName"]), field


def test_both_majors_name_the_job_as_make_status_and_make_deploy_find_it(requests_sent):
    for sent in requests_sent.values():
        assert re.fullmatch(r"both-majors-\d{4}(-\d\d){5}-\d{3}", sent["TrainingJobName"])


def test_make_submit_sdk_3_creates_the_job_and_waits_for_it(aws: Aws):
    assert aws.run("make", "-s", "upload").returncode == 0

    result = aws.run("make", "-s", "submit", "SDK=3", *SETTINGS, timeout=900)

    assert result.returncode == 0, result.stderr
    (job,) = aws.training_jobs()
    assert job["TrainingJobStatus"] == "Completed" and job["TrainingJobName"].startswith("both-majors-")
    assert result.stdout.splitlines()[0] == f"job: {job['TrainingJobName']}"
    assert result.stdout.splitlines()[-1] == "status: Completed"


def test_make_submit_sdk_3_refuses_local_mode_in_one_line(aws: Aws):
    result = aws.run("make", "-s", "submit", "SDK=3", "LOCAL=1", "DRY_RUN=1")

    assert result.returncode != 0
    assert "submit: error: --local (LOCAL=1) runs SDK v2's local mode" in result.stderr


@pytest.mark.parametrize("target", ["tune", "deploy", "undeploy"])
def test_the_commands_not_yet_on_sdk_3_refuse_it_rather_than_run_v2(aws: Aws, target: str):
    result = aws.run("make", "-s", target, "SDK=3", "DRY_RUN=1")

    assert result.returncode != 0 and f"make {target} runs under SDK v2 for now" in result.stderr
