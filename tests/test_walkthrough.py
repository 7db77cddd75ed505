"""walkthrough.ipynb, run top to bottom in a real kernel (nbclient) against moto: .venv's
Python (SDK v2), and .venv-sdk3's when make test runs the AWS commands' tests with SDK=3.

Moto completes a training job the moment it is created and trains nothing, so right after
the cell tagged "submit" this test does SageMaker's part: it lays out /opt/ml from the job
(its hyperparameters, its channels copied from S3), runs the real ./train on it, and puts
the container's log in CloudWatch and model.tar.gz and output.tar.gz where the job's
description says they are. The later cells then wait, fetch, evaluate and plot for real.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from conftest import SDK_PYTHON, OptMl
from moto_server import ACCOUNT, REPO, Aws

NOTEBOOK = REPO / "walkthrough.ipynb"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerTraining"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"  # where SageMaker puts a job's stdout and stderr
PNG = b"\x89PNG\r\n\x1a\n"
CELL_SECONDS = 300  # the most one cell may take: the SDK's import, TensorFlow's


@dataclass
class Training:
    """The job as SageMaker described it, and what ./train printed and left for it."""

    job: dict[str, Any]
    log: list[str]
    tree: OptMl


@dataclass
class Run:
    """The executed notebook, the training that stood in for SageMaker's, the kernel's temp folder."""

    notebook: Any
    training: Training
    tmp: Path

    def printed(self, tag: str) -> str:
        """What the cells tagged tag wrote to stdout."""
        return "".join(
            output.get("text", "")
            for cell in self.notebook.cells
            if tag in cell.metadata.get("tags", [])
            for output in cell.outputs
            if output.output_type == "stream" and output.name == "stdout"
        )


def venv_kernel(folder: Path) -> KernelManager:
    """A kernel that runs the repository's virtualenv of the SDK under test, whatever kernels
    this machine has."""
    spec = folder / "kernels" / "eeg-venv"
    spec.mkdir(parents=True)
    argv = [SDK_PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "eeg", "language": "python"}))
    specs = KernelSpecManager(kernel_dirs=[str(spec.parent)], ensure_native_kernel=False)
    return KernelManager(
        kernel_name="eeg-venv", kernel_spec_manager=specs, connection_file=str(folder / "connection.json")
    )


def s3_location(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def tar_gz(folder: Path) -> bytes:
    """folder's files at the archive's top, as SageMaker tars /opt/ml/model and /opt/ml/output/data."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=path.name)
    return archive.getvalue()


def train_as_sagemaker_would(aws: Aws, base: Path) -> Training:
    """SageMaker's part of the one job in moto, done with the real ./train."""
    sagemaker, s3 = aws.client("sagemaker"), aws.client("s3")
    [summary] = sagemaker.list_training_jobs()["TrainingJobSummaries"]
    name = summary["TrainingJobName"]
    job = sagemaker.describe_training_job(TrainingJobName=name)
    # /opt/ml: test_dir's resource and channel config, the job's hyperparameters, its channels from S3
    tree = OptMl(base)
    shutil.copytree(REPO / "test_dir" / "input" / "config", base / "input" / "config")
    tree.hyperparameters(job.get("HyperParameters", {}))
    for channel in job["InputDataConfig"]:
        bucket, prefix = s3_location(channel["DataSource"]["S3DataSource"]["S3Uri"])
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
            destination = tree.channel(channel["ChannelName"]) / item["Key"].removeprefix(prefix)
            destination.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(destination))
    result = subprocess.run(
        [str(REPO / "train")],
        env=tree.environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=CELL_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    # what SageMaker keeps when the container exits
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=LOG_GROUP)
    stream = f"{name}/algo-1-{int(time.time())}"
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    # a line a millisecond: CloudWatch orders events by their time, as jobs.py prints them
    start = int(time.time() * 1000)
    lines = result.stdout.splitlines()
    events = [{"timestamp": start + number, "message": line} for number, line in enumerate(lines)]
    logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)
    bucket, key = s3_location(job["ModelArtifacts"]["S3ModelArtifacts"])
    s3.put_object(Bucket=bucket, Key=key, Body=tar_gz(base / "model"))
    output = f"{job['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{name}/output/output.tar.gz"
    bucket, key = s3_location(output)
    s3.put_object(Bucket=bucket, Key=key, Body=tar_gz(base / "output" / "data"))
    return Training(job, lines, tree)


@pytest.fixture(scope="module")
def run(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The notebook executed cell by cell, with a real training run after the submit cell."""
    folder = tmp_path_factory.mktemp("walkthrough")
    aws = Aws.fresh(moto_endpoint, folder / "aws")
    tmp = folder / "tmp"  # the kernel's tempfile folder, where the notebook writes
    tmp.mkdir()
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        km=venv_kernel(folder),
        timeout=CELL_SECONDS,
        resources={"metadata": {"path": str(REPO)}},
    )
    training: Training | None = None
    kernel_env = {**aws.env, "SAGEMAKER_ROLE": ROLE, "TMPDIR": str(tmp)}
    # cleanup_kc: shut the kernel down at the end, which nbclient leaves to whoever made the manager
    with client.setup_kernel(cleanup_kc=True, env=kernel_env):
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
            if "submit" in cell.metadata.get("tags", []):
                training = train_as_sagemaker_would(aws, folder / "opt ml")
    assert training is not None, "no cell of walkthrough.ipynb is tagged submit"
    return Run(notebook, training, tmp)


def test_the_walkthrough_runs_every_cell_without_an_error(run: Run) -> None:
    code = [cell for cell in run.notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    assert not [output for cell in code for output in cell.outputs if output.output_type == "error"]


def test_the_walkthrough_uploads_the_sample_where_the_job_reads_it(run: Run) -> None:
    [channel] = run.training.job["InputDataConfig"]
    assert run.printed("upload").splitlines()[-1] == channel["DataSource"]["S3DataSource"]["S3Uri"]


def test_the_walkthrough_prints_the_name_of_the_job_it_submitted(run: Run) -> None:
    assert f"job: {run.training.job['TrainingJobName']}\n" in run.printed("submit")


def test_the_walkthrough_submits_its_hyperparameters_with_the_job(run: Run) -> None:
    assert run.training.job["HyperParameters"] == {"epochs": "20"}


def test_the_walkthrough_waits_showing_the_jobs_log_as_train_printed_it(run: Run) -> None:
    assert any(re.fullmatch(r"test_loss=\S+ test_accuracy=\S+", line) for line in run.training.log)
    assert run.printed("wait").splitlines()[: len(run.training.log)] == run.training.log


def test_the_walkthrough_says_the_job_completed_once_it_waited(run: Run) -> None:
    assert "\nstatus: Completed\n" in run.printed("wait")


def test_the_walkthrough_evaluates_the_fetched_model_to_the_jobs_test_accuracy(run: Run) -> None:
    last = run.printed("evaluate").splitlines()[-1]
    accuracy = float(last.split()[0].removeprefix("accuracy="))
    assert last.endswith("model.tar.gz)")
    assert accuracy == pytest.approx(run.training.tree.metadata()["metrics"]["test_accuracy"], abs=1e-4)


def test_the_walkthrough_plots_the_learning_curves_to_a_png_and_shows_it(run: Run) -> None:
    png = Path(run.printed("plot").strip())
    assert png.is_relative_to(run.tmp) and png.read_bytes().startswith(PNG)
    [plot_cell] = [cell for cell in run.notebook.cells if "plot" in cell.metadata.get("tags", [])]
    assert any("image/png" in output.get("data", {}) for output in plot_cell.outputs)


def test_the_committed_walkthrough_holds_no_outputs_and_no_execution_counts() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_a_cell_that_fails_shows_the_one_line_reason_when_the_notebook_runs_from_the_command_line(aws: Aws):
    # Against bare moto nothing trains, so the wait cell finds no log: its error must read as a line.
    result = aws.run(
        str(REPO / ".venv" / "bin" / "jupyter"),
        "execute",
        str(NOTEBOOK),
        timeout=CELL_SECONDS,
        SAGEMAKER_ROLE=ROLE,
    )

    assert result.returncode != 0
    assert re.search(
        r"^error: no log stream eeg-\S+/\.\.\. in /aws/sagemaker/TrainingJobs", result.stderr, re.M
    )
