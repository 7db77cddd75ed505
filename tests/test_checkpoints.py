"""Checkpoints can't wedge a job: a broken one is moved aside, a kill mid-save loses one epoch."""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, OptMl, new_opt_ml

CHECKPOINT_CONFIG = {"LocalPath": "/opt/ml/checkpoints", "S3Uri": "s3://bucket/checkpoints/job"}

# Runs train.py, but dies by SIGKILL at the one moment the checkpoint is most exposed: epoch 2's
# model is in place and its state, which commits it, is not yet written.
KILLED_BETWEEN_WRITES = """
import os, signal, sys
sys.path.insert(0, sys.argv[1])
import train
from container import checkpoint
write_atomically = checkpoint.write_atomically
def write_unless_epoch_2(path, text):
    if path.name.endswith(".epoch-000002.json"):
        os.kill(os.getpid(), signal.SIGKILL)
    write_atomically(path, text)
checkpoint.write_atomically = write_unless_epoch_2
sys.exit(train.main())
"""


def checkpointed(tree: OptMl, epochs: int) -> OptMl:
    (tree.base / "input/config/checkpointconfig.json").write_text(json.dumps(CHECKPOINT_CONFIG))
    tree.hyperparameters({"epochs": str(epochs), "batch_size": "8", "patience": "0"})
    return tree


def epoch_lines(stdout: str) -> list[str]:
    return [line.split()[0] for line in stdout.splitlines() if line.startswith("epoch=")]


def history_epochs(tree: OptMl) -> list[str]:
    return [row["epoch"] for row in csv.DictReader((tree.base / "output/data/history.csv").open())]


@pytest.fixture(scope="module")
def three_epochs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tree whose job ran 3 epochs with checkpoints: a spot restart's starting point."""
    tree = checkpointed(new_opt_ml(tmp_path_factory.mktemp("trained") / "opt ml"), epochs=3)
    result = tree.run()
    assert result.returncode == 0, result.stderr
    return tree.base


@pytest.fixture
def restarted(three_epochs: Path, tmp_path: Path) -> OptMl:
    """A copy of three_epochs, asked for one epoch more."""
    shutil.copytree(three_epochs, tmp_path / "opt ml")
    return checkpointed(OptMl(tmp_path / "opt ml"), epochs=4)


def test_the_newest_two_checkpoints_are_kept_and_older_ones_removed(three_epochs):
    names = sorted(path.name for path in (three_epochs / "checkpoints").iterdir())

    assert names == [
        "algo-1.epoch-000002.json",
        "algo-1.epoch-000002.keras",
        "algo-1.epoch-000003.json",
        "algo-1.epoch-000003.keras",
    ]


@pytest.mark.parametrize(
    ("file", "content"),
    [
        ("algo-1.epoch-000003.keras", b""),
        ("algo-1.epoch-000003.keras", "truncated"),
        ("algo-1.epoch-000003.json", b'{"epoch": 3, "hist'),
        ("algo-1.epoch-000003.json", b'{"epochs": []}'),
    ],
)
def test_a_checkpoint_that_does_not_load_is_moved_aside_and_the_one_before_is_used(restarted, file, content):
    path = restarted.base / "checkpoints" / file
    if content == "truncated":
        content = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(content)

    result = restarted.run()

    assert result.returncode == 0, result.stderr
    assert "checkpoint algo-1.epoch-000003.json and algo-1.epoch-000003.keras does not load" in result.stderr
    assert "moved aside as *.broken, trying epoch 2" in result.stderr
    assert (restarted.base / "checkpoints" / f"{file}.broken").exists()
    assert "resuming from" in result.stdout and "after epoch 2" in result.stdout
    assert epoch_lines(result.stdout) == ["epoch=3/4", "epoch=4/4"]
    assert history_epochs(restarted) == ["1", "2", "3", "4"]


def test_a_job_whose_checkpoints_all_fail_to_load_starts_afresh(restarted):
    for path in (restarted.base / "checkpoints").glob("*.keras"):
        path.write_bytes(b"")

    result = restarted.run()

    assert result.returncode == 0, result.stderr
    assert "trying epoch 2" in result.stderr and "starting afresh" in result.stderr
    assert epoch_lines(result.stdout) == ["epoch=1/4", "epoch=2/4", "epoch=3/4", "epoch=4/4"]


def test_a_kill_between_the_model_and_its_state_resumes_from_the_epoch_before(opt_ml):
    checkpointed(opt_ml, epochs=3)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_BETWEEN_WRITES, str(REPO)],
        env=opt_ml.environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    folder = opt_ml.base / "checkpoints"
    assert (folder / "algo-1.epoch-000002.keras").exists()
    assert not (folder / "algo-1.epoch-000002.json").exists()

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert "after epoch 1" in result.stdout
    assert epoch_lines(result.stdout) == ["epoch=2/3", "epoch=3/3"]
    assert history_epochs(opt_ml) == ["1", "2", "3"]
