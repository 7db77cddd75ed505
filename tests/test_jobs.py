"""`make status`, `make logs`, `make stop` and `make jobs` against a moto server.

moto's training jobs are Completed at once and it has no StopTrainingJob, so a running job
exists only as RunningJob below: a stand-in SageMaker client answering DescribeTrainingJob
and StopTrainingJob as AWS does for an InProgress job. The logs are moto's own CloudWatch Logs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from aws import jobs
from aws.context import console_url
from container.sagemaker_env import UserError
from moto_server import ACCOUNT, REGION, REPO, Aws

ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerTraining"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
OLDER, NEWER = "eeg-2026-01-01-09-00-00-000", "eeg-2026-01-02-09-00-00-000"
OTHER_IMAGE = "eeg-validation-2026-01-03-09-00-00-000"  # newer, but another image's job
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
NOW = int(time.time() * 1000)  # CloudWatch drops events older than 14 days


def train(aws: Aws, name: str, image: str) -> None:
    """A training job as submit.py would have created it; moto makes it Completed at once."""
    aws.training_job(name, image)


def three_jobs(aws: Aws) -> None:
    train(aws, OLDER, f"{ECR}/eeg:v1")
    train(aws, NEWER, f"{ECR}/eeg:v2")
    train(aws, OTHER_IMAGE, f"{ECR}/eeg-validation:v3")


def log(logs: Any, stream: str, *events: tuple[int, str]) -> None:
    """Puts (milliseconds after NOW, message) events into a stream of SageMaker's log group."""
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=LOG_GROUP)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    logs.put_log_events(
        logGroupName=LOG_GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": NOW + offset, "message": message} for offset, message in events],
    )


def refused(aws: Aws, *arguments: str) -> str:
    """Runs jobs.py itself (make would turn its status 1 into 2); returns its one error line."""
    result = aws.run(".venv/bin/python", "-m", "aws.jobs", *arguments)
    assert (result.returncode, result.stdout) == (1, ""), result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("jobs: error: ")
    return result.stderr.strip()


def lines(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


class RunningJob:
    """A SageMaker client for a job that is InProgress, which moto cannot hold.

    Each DescribeTrainingJob answers with the next of statuses; `meanwhile` runs first, as the
    job would have gone on between two looks.
    """

    def __init__(self, name: str, statuses: list[str], meanwhile: Callable[[], None] = lambda: None) -> None:
        self.name = name
        self.statuses = statuses
        self.meanwhile = meanwhile
        self.calls: list[str] = []

    def describe_training_job(self, **request: str) -> dict[str, Any]:
        assert request == {"TrainingJobName": self.name}
        self.calls.append("DescribeTrainingJob")
        self.meanwhile()
        return described(self.name, self.statuses.pop(0))

    def stop_training_job(self, **request: str) -> dict[str, Any]:
        assert request == {"TrainingJobName": self.name}
        self.calls.append("StopTrainingJob")
        return {}


def described(name: str, status: str) -> dict[str, Any]:
    """The part of DescribeTrainingJob's answer that jobs.py reads, for a job in status."""
    secondary = {"InProgress": "Training", "Stopping": "Stopping"}.get(status, status)
    return {"TrainingJobName": name, "TrainingJobStatus": status, "SecondaryStatus": secondary}


# --- make status


def test_status_of_a_named_job_prints_its_state_instance_metrics_and_model(aws: Aws) -> None:
    three_jobs(aws)

    printed = lines(aws.run("make", "-s", "status", f"JOB={OLDER}"))

    assert printed[:2] == [f"job: {OLDER}", "status: Completed"]
    assert printed[2].startswith("secondary status: Completed")
    assert {"instance: 1 x ml.m5.large", f"console: {console_url(REGION, OLDER)}"} <= set(printed)
    assert f"model: s3://team-bucket/output/{OLDER}/output/model.tar.gz" in printed
    # moto's FinalMetricDataList is its own, whatever the job logged
    assert "metrics: train:progress=100" in printed
    assert [line.split(": ")[0] for line in printed if line.endswith(" UTC")] == [
        "created",
        "started",
        "ended",
    ]


def test_status_without_a_job_describes_the_latest_job_of_the_image(aws: Aws) -> None:
    three_jobs(aws)

    assert lines(aws.run("make", "-s", "status"))[0] == f"job: {NEWER}"
    assert lines(aws.run("make", "-s", "status", "IMAGE=eeg-validation"))[0] == f"job: {OTHER_IMAGE}"


def test_status_of_a_missing_job_is_one_error_line_naming_it(aws: Aws) -> None:
    three_jobs(aws)

    error = refused(aws, "status", "--job", "eeg-2020-01-01-00-00-00-000")

    assert error == f"jobs: error: no training job eeg-2020-01-01-00-00-00-000 in {REGION}"


def test_status_with_no_job_of_the_image_says_to_submit_first(aws: Aws) -> None:
    train(aws, OTHER_IMAGE, f"{ECR}/eeg-validation:v3")  # eeg-validation-... is not an eeg job

    error = refused(aws, "status")

    assert f"no training job named eeg-TIMESTAMP in {REGION}: run 'make submit' first" in error
    assert "JOB=NAME" in error


def test_status_prints_a_failed_jobs_reason(capsys: pytest.CaptureFixture[str]) -> None:
    # moto's jobs never fail: this is DescribeTrainingJob's answer for one that did
    job = {**described(OLDER, "Failed"), "FailureReason": "AlgorithmError: out of memory"}

    jobs.status(job, REGION)

    printed = capsys.readouterr().out.splitlines()
    assert {"status: Failed", "failure reason: AlgorithmError: out of memory", "metrics: none"} <= set(
        printed
    )


# --- make jobs


def test_jobs_lists_the_images_jobs_newest_first_and_not_another_images(aws: Aws) -> None:
    three_jobs(aws)

    printed = lines(aws.run("make", "-s", "jobs"))

    assert [line.split()[0] for line in printed] == [NEWER, OLDER]
    assert all(line.split()[1] == "Completed" and line.endswith(" train:progress=100") for line in printed)


def test_jobs_of_another_image_lists_that_images_jobs(aws: Aws) -> None:
    three_jobs(aws)

    printed = lines(aws.run("make", "-s", "jobs", "IMAGE=eeg-validation"))

    assert [line.split()[0] for line in printed] == [OTHER_IMAGE]


def test_jobs_with_no_job_of_the_image_says_so(aws: Aws) -> None:
    printed = lines(aws.run("make", "-s", "jobs"))

    assert printed == [f"no training jobs named eeg-TIMESTAMP in {REGION} (make submit starts one)"]


def test_jobs_piped_into_a_reader_that_stops_early_ends_quietly(aws: Aws) -> None:
    three_jobs(aws)
    read, write = os.pipe()
    os.close(read)  # as `make jobs | head -1` once head has its line

    with os.fdopen(write, "w") as closed:
        result = subprocess.run(
            [".venv/bin/python", "-m", "aws.jobs", "list"],
            cwd=REPO,
            env=aws.env,
            stdout=closed,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )

    assert (result.returncode, result.stderr) == (141, "")


# --- make stop


def test_stop_of_a_job_that_has_ended_is_refused_in_one_line(aws: Aws) -> None:
    three_jobs(aws)

    error = refused(aws, "stop", "--job", OLDER)

    assert (
        error
        == f"jobs: error: training job {OLDER} is Completed already: only an InProgress job can be stopped"
    )


def test_stop_without_a_job_looks_at_the_latest_job_of_the_image(aws: Aws) -> None:
    three_jobs(aws)

    assert NEWER in refused(aws, "stop")


def test_stop_of_a_running_job_asks_sagemaker_to_stop_it(capsys: pytest.CaptureFixture[str]) -> None:
    sagemaker = RunningJob(NEWER, ["Stopping"])

    assert jobs.stop(described(NEWER, "InProgress"), sagemaker) == 0

    assert sagemaker.calls == ["StopTrainingJob", "DescribeTrainingJob"]
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == [f"job: {NEWER}", "was: InProgress (Training)"]
    assert printed[-1] == "status: Stopping"


def test_stop_of_a_job_stopping_already_sends_nothing() -> None:
    sagemaker = RunningJob(NEWER, [])

    with pytest.raises(UserError, match=f"training job {NEWER} is Stopping already"):
        jobs.stop(described(NEWER, "Stopping"), sagemaker)
    assert sagemaker.calls == []


# --- make logs


def test_logs_prints_the_jobs_log_events_oldest_first(aws: Aws) -> None:
    three_jobs(aws)
    logs = aws.client("logs")
    log(logs, f"{OLDER}/algo-1-1700000000", (0, "epoch 1/2 loss=0.69"), (1, "epoch 2/2 loss=0.51"))
    log(logs, f"{NEWER}/algo-1-1700000100", (2, "another job's line"))

    printed = lines(aws.run("make", "-s", "logs", f"JOB={OLDER}"))

    assert printed == ["epoch 1/2 loss=0.69", "epoch 2/2 loss=0.51"]


def test_logs_without_a_job_prints_the_latest_job_of_the_image(aws: Aws) -> None:
    three_jobs(aws)
    logs = aws.client("logs")
    log(logs, f"{NEWER}/algo-1-1700000100", (0, "the newest job's line"))
    log(logs, f"{OTHER_IMAGE}/algo-1-1700000200", (1, "another image's line"))

    assert lines(aws.run("make", "-s", "logs")) == ["the newest job's line"]


def test_logs_of_several_instances_names_the_instance_of_each_line(aws: Aws) -> None:
    three_jobs(aws)
    logs = aws.client("logs")
    log(logs, f"{OLDER}/algo-1-1700000000", (0, "first"), (2, "third"))
    log(logs, f"{OLDER}/algo-2-1700000000", (1, "second"))

    printed = lines(aws.run("make", "-s", "logs", f"JOB={OLDER}"))

    assert printed == ["[algo-1-1700000000] first", "[algo-2-1700000000] second", "[algo-1-1700000000] third"]


def test_logs_of_a_job_with_no_log_stream_says_there_is_none(aws: Aws) -> None:
    three_jobs(aws)
    log(aws.client("logs"), f"{NEWER}/algo-1-1700000100", (0, "another job's line"))

    error = refused(aws, "logs", "--job", OLDER)

    assert error.startswith(f"jobs: error: no log stream {OLDER}/... in {LOG_GROUP} in {REGION}")


def test_logs_follow_a_running_job_until_it_ends(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(jobs, "POLL_SECONDS", 0)
    logs = aws.client("logs")
    stream = f"{NEWER}/algo-1-1700000100"
    written = iter([[(0, "epoch 1/2 loss=0.69")], [(1, "epoch 2/2 loss=0.51"), (2, "test_accuracy=0.77")]])
    # the job's instance starts, then writes between the looks that say InProgress, then ends
    sagemaker = RunningJob(NEWER, ["InProgress", "Completed"], lambda: log(logs, stream, *next(written)))

    assert jobs.follow(described(NEWER, "InProgress"), sagemaker, logs, REGION) == 0

    assert capsys.readouterr().out.splitlines() == [
        f"no log stream for {NEWER} yet (Training): waiting for it",
        "epoch 1/2 loss=0.69",
        "epoch 2/2 loss=0.51",
        "test_accuracy=0.77",
        f"job {NEWER} ended: Completed",
    ]
