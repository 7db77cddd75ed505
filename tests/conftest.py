"""Fixtures for end-to-end runs of ./train on /opt/ml trees under tmp_path."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import make_sample_data
import moto_server

REPO = Path(__file__).resolve().parent.parent
TRAIN = REPO / "train"


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
        (self.base / "input" / "config" / "hyperparameters.json").write_text(json.dumps(values))

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
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        return {**os.environ, "PATH": path, "SAGEMAKER_BASE_DIR": str(self.base)}


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
