"""The promise of the template: copy it, replace task.py with a model of your own, and the
job, serving and make predict work without a change anywhere else.

The replacement below is written from scratch: it imports nothing from the shipped
task.py, selects none of its examples, and differs in network and task (three classes
named by strings, one sigmoid each, binary cross-entropy) and in its own module, which it
adds beside the image's others in container/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests

from conftest import REPO, new_opt_ml
from local_server import ping_until_not, start_server, stop

# What a user may delete (the example's tests, the project's tooling) and what is not theirs.
NOT_COPIED = {
    ".git",
    ".venv",
    ".venv-sdk3",
    "node_modules",
    "tools",
    "example",
    "__pycache__",
    ".cache",
    ".hypothesis",
}

OUR_TASK = '''"""Three kinds of signal, told apart by one sigmoid each."""

from typing import Any

import numpy as np

from container import our_layers

HYPERPARAMETERS: dict[str, Any] = {
    "features": "raw",
    "channels": 1,
    "validation_fraction": 0.25,
    "width": 32,
    "epochs": 40,
    "patience": 0,
    "batch_size": 16,
    "learning_rate": 0.01,
    "precision": "float32",
    "seed": 1,
}
ACCEPTED: dict[str, tuple[Any, ...]] = {"width": (4, 256), "epochs": (1, 1000), "features": ("raw", "fft")}
METRICS = ("hit_rate",)
EARLY_STOPPING = ("val_hit_rate", "max")
TUNING = ("val_hit_rate", "Maximize")


def classes(y: np.ndarray) -> list[str]:
    return sorted({str(label) for label in y.tolist()})


def targets(y: np.ndarray, names: list[str], hyperparameters: dict[str, Any]) -> np.ndarray:
    return np.eye(len(names), dtype=np.float32)[[names.index(str(label)) for label in y.tolist()]]


def metrics(keras: Any) -> dict[str, Any]:
    def hit_rate(wanted: Any, outputs: Any) -> Any:
        return keras.ops.cast(keras.ops.argmax(wanted, -1) == keras.ops.argmax(outputs, -1), "float32")

    return {"hit_rate": hit_rate}


def build_model(keras: Any, hyperparameters: dict[str, Any], input_shape: tuple, names: list[str]) -> Any:
    model = keras.Sequential(
        [keras.Input(input_shape), *our_layers.hidden(keras, hyperparameters["width"])]
        + [keras.layers.Dense(len(names), activation="sigmoid", dtype="float32")],
        name="ours",
    )
    adam = keras.optimizers.Adam(hyperparameters["learning_rate"])
    model.compile(optimizer=adam, loss="binary_crossentropy")
    return model


def answers(outputs: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    return [
        {"label": names[int(np.argmax(row))], "scores": {name: float(s) for name, s in zip(names, row)}}
        for row in outputs
    ]


def score(answered: list[dict[str, Any]], y: np.ndarray) -> str:
    right = sum(answer["label"] == str(label) for answer, label in zip(answered, y.tolist()))
    return f"hit_rate={right / len(answered):.4f}"
'''

OUR_LAYERS = '''"""Layers of our own, beside the image's modules: no change elsewhere ships them."""

from typing import Any


def hidden(keras: Any, width: int) -> list[Any]:
    return [keras.layers.Dense(width, activation="relu"), keras.layers.Dense(width, activation="relu")]
'''

KINDS = ("low hum", "fast ripple", "spike")


def recordings(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 64 samples: a slow sine, a fast one, or noise with one spike; named labels."""
    rng = np.random.default_rng(seed)
    labels = np.array([KINDS[i % 3] for i in range(rows)])
    t = np.arange(64) / 64
    x = 0.3 * rng.standard_normal((rows, 64))
    x[labels == "low hum"] += np.sin(2 * np.pi * 2 * t)
    x[labels == "fast ripple"] += np.sin(2 * np.pi * 15 * t)
    x[labels == "spike", 32] += 5.0
    return x.astype(np.float32), labels


@pytest.fixture(scope="module")
def our_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("copy") / "our project"
    shutil.copytree(REPO, project, ignore=lambda folder, names: [n for n in names if n in NOT_COPIED])
    (project / "task.py").write_text(OUR_TASK)
    (project / "container" / "our_layers.py").write_text(OUR_LAYERS)
    return project


@pytest.fixture(scope="module")
def trained(our_copy: Path, tmp_path_factory: pytest.TempPathFactory):
    tree = new_opt_ml(tmp_path_factory.mktemp("our job") / "opt ml")
    x, y = recordings(240, seed=0)
    x_test, y_test = recordings(60, seed=1)
    (tree.training / "output_dict").unlink()
    np.savez(tree.training / "signals.npz", x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    # Our task's defaults, as written: OptMl.hyperparameters would add the shipped task.py's
    # setting for training by epochs, which our task does not accept.
    (tree.base / "input" / "config" / "hyperparameters.json").write_text("{}")
    environment = {**tree.environment(), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [str(our_copy / "train")], env=environment, capture_output=True, text=True, timeout=300
    )
    return tree, result


def test_the_copy_trains_our_task_on_the_loss_and_metric_we_gave(trained):
    tree, result = trained

    assert result.returncode == 0, result.stderr
    assert "training: model=ours " in result.stdout
    assert " val_hit_rate=" in result.stdout and "test_hit_rate=" in result.stdout
    metadata = tree.metadata()
    assert metadata["names"] == sorted(KINDS)
    assert metadata["metrics"]["test_hit_rate"] > 0.9
    import keras

    assert keras.saving.load_model(tree.model_file).loss == "binary_crossentropy"


def test_the_copy_serves_our_answers_with_the_class_names(our_copy, trained, tmp_path):
    tree, _ = trained
    server = start_server(tree.base, tmp_path / "serve.log", serve=our_copy / "serve")
    try:
        assert ping_until_not(server, 503).status_code == 200
        x, y = recordings(6, seed=2)
        body = "".join(",".join(f"{v:.9g}" for v in row) + "\n" for row in x)
        answer = requests.post(
            f"{server.url}/invocations", data=body, headers={"Content-Type": "text/csv"}, timeout=30
        )
    finally:
        stop(server)

    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert [p["label"] for p in predictions] == y.tolist()
    assert set(predictions[0]["scores"]) == set(KINDS)


def test_make_predict_in_the_copy_scores_with_our_summary(our_copy, trained, tmp_path):
    tree, _ = trained
    x, y = recordings(30, seed=3)
    np.savez(tmp_path / "new.npz", x_train=x, y_train=y)

    result = subprocess.run(
        [sys.executable, "-m", "aws.predict", str(tmp_path / "new.npz"), "--model", str(tree.base / "model")],
        cwd=our_copy,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    assert "label=" in result.stdout.splitlines()[0]
    assert result.stdout.splitlines()[-1].startswith("hit_rate=")


def test_the_copys_image_holds_our_new_module(our_copy):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_layout.py"],
        cwd=our_copy,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
