"""make plot: learning curves as a PNG, from make local's run or from a SageMaker job's output."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from aws import plot
from container.sagemaker_env import UserError
from moto_server import Aws

PNG = b"\x89PNG\r\n\x1a\n"
HISTORY = (
    "epoch,loss,accuracy,val_loss,val_accuracy,time,kept\n"
    "1,0.70,0.55,0.60,0.70,1.2,0\n"
    "2,0.40,0.85,0.35,0.90,0.1,1\n"
    "3,0.20,0.95,0.45,0.85,0.1,0\n"
)


def test_a_history_becomes_a_png_beside_it(tmp_path):
    history = tmp_path / "output" / "data" / "history.csv"
    history.parent.mkdir(parents=True)
    history.write_text(HISTORY)

    assert plot.plot(["--history", str(history)]) == 0

    assert (tmp_path / "output" / "learning_curves.png").read_bytes().startswith(PNG)


def test_the_kept_epoch_is_the_one_history_marks_else_the_last():
    assert plot.kept_epoch(plot.read_history(HISTORY, "test")) == 2
    assert plot.kept_epoch(plot.read_history(HISTORY.replace(",1\n", ",0\n"), "test")) == 3


def test_a_file_that_is_not_a_history_is_refused_naming_it():
    with pytest.raises(UserError, match=r"notes\.txt holds no epochs"):
        plot.read_history("just some notes\n", "notes.txt")


def test_without_a_local_run_it_says_to_run_make_local(tmp_path):
    with pytest.raises(UserError, match="run 'make local' first"):
        plot.plot(["--history", str(tmp_path / "history.csv")])


def test_make_plot_job_fetches_the_jobs_output_from_s3(aws: Aws, tmp_path: Path):
    aws.client("s3").create_bucket(
        Bucket="team-bucket", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    aws.training_job("eeg-1", "eeg:latest")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        member = tarfile.TarInfo("history.csv")
        member.size = len(HISTORY)
        tar.addfile(member, io.BytesIO(HISTORY.encode()))
    aws.client("s3").put_object(
        Bucket="team-bucket", Key="output/eeg-1/output/output.tar.gz", Body=archive.getvalue()
    )
    out = tmp_path / "eeg-1.png"

    result = aws.run("make", "--no-print-directory", "-s", "plot", "JOB=eeg-1", f"OUT={out}")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out) and out.read_bytes().startswith(PNG)
