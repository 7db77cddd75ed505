"""The steps of walkthrough.ipynb, a function each, under the SageMaker Python SDK v2 or v3
alike: each runs what the make target of its step runs, so the notebook and the commands
cannot drift apart, and a cell is one call.

    from aws import notebook
    notebook.start()                                    # UserErrors as one line; the account
    notebook.upload("eeg", DATA)                        # make upload
    job = notebook.submit("eeg", ROLE, "epochs=20")     # make submit WAIT=0
    description = notebook.wait(job)                    # make logs, then make status
    model = notebook.fetch(description)                 # model.tar.gz into a new temporary folder
    notebook.evaluate(model, DATA)                      # make predict MODEL=...
    notebook.plot(job, model.parent)                    # make plot JOB=...; returns the PNG
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import boto3

from aws import jobs, predict
from aws import plot as plots
from aws import upload as uploads
from aws.context import connect, describe_training_job
from container.sagemaker_env import UserError
from submit import Job, announce, build_job, check_locations, parse_args, run_estimator


def start() -> None:
    """Shows a UserError as the one line the make targets print, not as a traceback, and
    asks STS whose credentials these are."""
    from IPython import get_ipython

    def one_line(
        shell: Any, kind: type, error: Exception, traceback: Any, tb_offset: Any = None
    ) -> list[str]:
        print(f"error: {error}", file=sys.stderr)
        return [f"{kind.__name__}: {error}"]

    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((UserError,), one_line)
    aws = connect()
    print(f"account {aws.account}, region {aws.region}")


def upload(image: str, data: Path) -> None:
    """make upload: data's files to s3://sagemaker-REGION-ACCOUNT/data/IMAGE/; prints that prefix."""
    uploads.upload(["--image", image, "--data", str(data)])


def submit(image: str, role: str, hyperparameters: str) -> Job:
    """make submit WAIT=0: every setting checked, then the job created; prints its name."""
    job = build_job(parse_args(["--image", image, "--role", role, "--hyperparameters", hyperparameters]))
    check_locations(job)
    run_estimator(job, wait=False, dry_run=False, created=lambda: announce(job))
    return job


def wait(job: Job) -> dict[str, Any]:
    """make logs, then make status: the job's log followed until it ends, then how it ended."""
    session = boto3.Session(region_name=job.region)
    sagemaker = session.client("sagemaker")
    jobs.follow(
        describe_training_job(sagemaker, job.name, job.region), sagemaker, session.client("logs"), job.region
    )
    description = describe_training_job(sagemaker, job.name, job.region)  # as it ended
    jobs.status(description, job.region)
    return description


def fetch(description: dict[str, Any]) -> Path:
    """The job's model.tar.gz, downloaded into a new temporary folder."""
    archive = Path(tempfile.mkdtemp(prefix=f"{description['TrainingJobName']}-")) / "model.tar.gz"
    bucket, _, key = description["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("s3://").partition("/")
    boto3.client("s3").download_file(bucket, key, str(archive))
    print(f"model: {archive} ({archive.stat().st_size} bytes)")
    return archive


def evaluate(model: Path, data: Path) -> None:
    """make predict MODEL=...: the model predicts data's recordings offline, a line each, then
    the accuracy where data has labels."""
    predict.predict(["--model", str(model), str(data)])


def plot(job: Job, folder: Path) -> Path:
    """make plot JOB=...: the learning curves from the job's history.csv, into folder; returns the PNG."""
    curves = folder / plots.PLOT_FILE
    plots.plot(["--job", job.name, "--out", str(curves)])
    return curves
