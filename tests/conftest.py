"""Fixtures for end-to-end runs of ./train on /opt/ml trees under tmp_path."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import make_sample_data
import moto_server
import task

REPO = Path(__file__).resolve().parent.parent
TRAIN = REPO / "train"
# The folder of the Python that runs ./train and serve: .venv's, which holds requirements.txt
# as the image does, also when pytest runs from .venv-sdk3 (whose gunicorn is v3's mlflow's).
RUNTIME_BIN = REPO / ".venv" / "bin"

# make test runs the AWS commands' tests twice: under SDK v2 (.venv), then with SDK=3 set, when
# each make picks .venv-sdk3 and the tests run that virtualenv's Python where they run one.
SDK = os.environ.get("SDK") or "2"
SDK_PYTHON = str(REPO / (".venv-sdk3" if SDK == "3" else ".venv") / "bin" / "python")

# The served model's fixtures, trained and server, are shared by every module that talks to serve;
# hostile's moto account, account and in_aws, by the hostile passes over the commands.
pytest_plugins = ["local_server", "hostile"]


@dataclass
class OptMl:
    """An /opt/ml tree: write config and data into it, run ./train on it, read what it left."""

    base: Path

    @property
    def training(self) -> Path:
        return self.base / "input" / "data" / "training"

    @property
    def model_file(self) -> Path:
        return self.base / "model" / "model.keras"

    @property
    def failure_file(self) -> Path:
        return self.base / "output" / "failure"

    def channel(self, name: str) -> Path:
        folder = self.base / "input" / "data" / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def hyperparameters(self, values: dict[str, str]) -> None:
        """values, over the settings under which task.py's model trains by epochs (by_epochs):
        the loop's tests need epochs, whatever model task.py's defaults choose."""
        settings = {**by_epochs(), **values}
        (self.base / "input" / "config" / "hyperparameters.json").write_text(json.dumps(settings))

    def metadata(self) -> dict:
        return json.loads((self.base / "model" / "metadata.json").read_text())

    def start(self, **popen_options) -> subprocess.Popen:
        return subprocess.Popen([str(TRAIN)], env=self.environment(), text=True, **popen_options)

    def run(self, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(TRAIN)], env=self.environment(), capture_output=True, text=True, timeout=timeout
        )

    def environment(self) -> dict[str, str]:
        # ./train runs the python3 that is first on PATH: this virtualenv's.
        path = f"{RUNTIME_BIN}{os.pathsep}{os.environ['PATH']}"
        return {**os.environ, "PATH": path, "SAGEMAKER_BASE_DIR": str(self.base)}


def by_epochs() -> dict[str, str]:
    """The setting under which task.py's model trains by epochs: none when its defaults do,
    or when it solves no model in closed form (task.solved); else the first accepted choice
    (in ACCEPTED's order) that makes task.solved false: the example's model=linear."""
    solved = getattr(task, "solved", None)
    if solved is None or not solved(task.HYPERPARAMETERS):
        return {}
    for name, accepted in task.ACCEPTED.items():
        if not all(isinstance(value, str) for value in accepted):
            continue  # a (low, high) range
        for value in accepted:
            if not solved({**task.HYPERPARAMETERS, name: value}):
                return {name: value}
    raise RuntimeError(
        "task.solved holds for the default hyperparameters and for every accepted choice: the "
        "template's tests need a model trained by epochs; make one choice of ACCEPTED train by epochs"
    )


def sample(rows: int = 40, seed: int = 7) -> dict[str, np.ndarray]:
    """The bundled sample's format at a size that trains in seconds."""
    return make_sample_data.output_dict(rows, test_fraction=0.25, seed=seed)


@pytest.fixture
def sample_data() -> dict[str, np.ndarray]:
    """A fresh copy of the small sample, for a test to spoil."""
    return sample()


@pytest.fixture
def opt_ml(tmp_path: Path) -> OptMl:
    """A tree as SageMaker lays it out: three config files and a pickle in the training channel."""
    return new_opt_ml(tmp_path / "opt ml")


def new_opt_ml(base: Path) -> OptMl:
    """The original layout: training/output_dict, a pickle with no extension, as 2018's train.py read it."""
    tree = OptMl(base)
    config = tree.base / "input" / "config"
    config.mkdir(parents=True)
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"})
    )
    (config / "inputdataconfig.json").write_text(json.dumps({"training": {"TrainingInputMode": "File"}}))
    tree.hyperparameters({"epochs": "2", "batch_size": "8"})
    tree.channel("training")
    with (tree.training / "output_dict").open("wb") as file:
        pickle.dump(sample(), file)
    return tree


# --- The failure contract, for the bad-input tests.


def fails_cleanly(opt_ml, *expected_words):
    """Runs ./train and checks the failure contract; returns the failure line."""
    result = opt_ml.run()
    assert result.returncode != 0
    reason = opt_ml.failure_file.read_text()
    assert reason.count("\n") == 1 and len(reason) <= 1025
    assert reason.strip() in result.stderr
    assert not opt_ml.model_file.exists()
    assert not (opt_ml.base / "model" / "metadata.json").exists()
    for word in expected_words:
        assert word in reason
    return reason


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """folder as a read-only file system (root writes through permissions), or 0o555 for others."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    with tmpfs(folder, "ro,size=1m", "a read-only mount, which this root cannot make"):
        yield


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[None]:
    """folder as a file system of size (tmpfs: "4m"), to fill up; root only."""
    folder.mkdir(parents=True, exist_ok=True)
    with tmpfs(folder, f"size={size}", "root to mount a small file system"):
        yield


@contextlib.contextmanager
def tmpfs(folder: Path, options: str, needs: str) -> Iterator[None]:
    """A tmpfs mounted on folder with options for the block; the test is skipped, saying it
    needs what, where it cannot be mounted."""
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode:
        pytest.skip(f"needs {needs}: {mounted.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def replace_training_file(opt_ml, name, content: bytes):
    for path in opt_ml.training.iterdir():
        path.unlink()
    (opt_ml.training / name).write_bytes(content)


def npz_bytes(tmp_path, **arrays):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path.read_bytes()


def leave_an_earlier_model(opt_ml):
    """model.keras and metadata.json as a previous run left them in model/."""
    model_dir = opt_ml.base / "model"
    model_dir.mkdir()
    opt_ml.model_file.write_bytes(b"an earlier run's model")
    (model_dir / "metadata.json").write_text(json.dumps({"metrics": {}}))


# --- AWS stand-in for upload.py and submit.py: one moto server per session, reset per test.


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """http://127.0.0.1:PORT of a moto server that lives as long as the test session."""
    with moto_server.running(tmp_path_factory.mktemp("moto") / "moto_server.log") as endpoint:
        yield endpoint


@pytest.fixture
def aws(moto_endpoint: str, tmp_path: Path) -> moto_server.Aws:
    """An empty AWS account in moto, and the environment that points commands at it."""
    return moto_server.Aws.fresh(moto_endpoint, tmp_path / "aws")
