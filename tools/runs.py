"""./train run as SageMaker runs it, on arrays written into a fresh /opt/ml tree: what make
bench and make cross-validate train with."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Trained:
    """What the runs of ./train on one tree left: the last run's metadata.json, and each
    run's wall seconds and standard output."""

    metadata: dict[str, Any]
    seconds: list[float]
    logs: list[str]

    @property
    def test_accuracy(self) -> float:
        return float(self.metadata["metrics"]["test_accuracy"])


def trained(
    arrays: dict[str, np.ndarray], hyperparameters: dict[str, str] | None = None, runs: int = 1
) -> Trained:
    """./train on arrays (x_train, y_train, and x_test, y_test to be scored) runs times, a
    fresh process each, as SageMaker starts one; the first run is cold, the rest find the
    files in the page cache."""
    seconds, logs = [], []
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder)
        write_tree(tree, arrays, hyperparameters)
        for _ in range(runs):
            started = time.perf_counter()
            logs.append(run_train(tree).stdout)
            seconds.append(time.perf_counter() - started)
        metadata = json.loads((tree / "model/metadata.json").read_text())
    return Trained(metadata, seconds, logs)


def write_tree(
    tree: Path, arrays: dict[str, np.ndarray], hyperparameters: dict[str, str] | None = None
) -> None:
    """An /opt/ml tree whose training channel holds arrays as .npy files."""
    config = tree / "input/config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters or {}))
    (config / "resourceconfig.json").write_text('{"current_host": "algo-1", "hosts": ["algo-1"]}')
    (config / "inputdataconfig.json").write_text('{"training": {"TrainingInputMode": "File"}}')
    channel = tree / "input/data/training"
    channel.mkdir(parents=True)
    for name, array in arrays.items():
        np.save(channel / f"{name}.npy", array)


def train_environment(tree: Path) -> dict[str, str]:
    """./train on tree, with this virtualenv's python3 first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, "SAGEMAKER_BASE_DIR": str(tree), "PATH": path}


def run_train(tree: Path) -> subprocess.CompletedProcess[str]:
    """./train on tree; a failure ends the caller with ./train's last words."""
    command = [str(ROOT / "train")]
    run = subprocess.run(command, env=train_environment(tree), capture_output=True, text=True, check=False)
    if run.returncode:
        hyperparameters = (tree / "input/config/hyperparameters.json").read_text()
        raise SystemExit(f"./train failed with {hyperparameters}: {run.stderr[-2000:]}")
    return run


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
