"""The 2018 recipe, as make bench measures it against the defaults: fft of the whole row,
standardised, the original MLP, batch 32, 100 epochs with the last one kept, trained in
process by Keras's fit on numpy arrays."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

import task
from container import feature_choice, holdout, loop, transform
from tools import collection

ORIGINAL = {
    **task.HYPERPARAMETERS,
    "features": "fft",
    "model": "mlp",
    "members": 1,
    "refit": 0,
    "batch_size": 32,
    "epochs": 100,
    "patience": 0,
    "precision": "float32",
}
Curve = list[tuple[float, float]]  # (training seconds so far, validation accuracy) per epoch


@dataclass
class Inputs:
    """The recipe's inputs: fft features standardised on the rows ./train fits on."""

    train: np.ndarray
    test: np.ndarray
    fit_rows: np.ndarray
    val_rows: np.ndarray


def compiled(keras: Any, config: dict[str, Any], width: int) -> Any:
    """The network as task.py builds it for these hyperparameters, in their precision."""
    keras.utils.set_random_seed(config["seed"])
    loop.use_precision(keras, config["precision"])
    return task.build_model(keras, config, (width,), ["0", "1"])


def inputs(data: collection.RealSet) -> Inputs:
    defaults = task.HYPERPARAMETERS
    # ./train's split, which finds copies among the default features (auto's choice: its own)
    kind, channels, seed = defaults["features"], defaults["channels"], defaults["seed"]
    if kind == "auto":
        wanted = task.targets(data.y_train, task.classes(data.y_train), defaults)
        kind, _ = feature_choice.chosen(data.x_train, wanted, channels, seed)
    fitted = transform.fit(data.x_train, kind, channels, seed)
    default_features = transform.features(data.x_train, kind, channels, fitted)
    fit_rows, val_rows = holdout.validation_split(
        holdout.digests(default_features), defaults["validation_fraction"], defaults["seed"]
    )
    features = transform.features(data.x_train.reshape(len(data.x_train), -1), "fft")
    mean, std = transform.standardisation(features[fit_rows])
    assert data.x_test is not None
    test = transform.features(data.x_test.reshape(len(data.x_test), -1), "fft")
    return Inputs(
        transform.standardise(features, mean, std), transform.standardise(test, mean, std), fit_rows, val_rows
    )


def run(keras: Any, inputs: Inputs, y_train: np.ndarray, stop_at: float | None = None) -> tuple[Curve, Any]:
    """The recipe trained: its validation curve and its model. stop_at ends the fit once
    validation accuracy reaches it."""
    model = compiled(keras, ORIGINAL, inputs.train.shape[1])
    logs: list[dict[str, float]] = []
    seconds = epoch_seconds(
        keras,
        model,
        inputs.train[inputs.fit_rows],
        y_train[inputs.fit_rows],
        ORIGINAL["batch_size"],
        ORIGINAL["epochs"],
        (inputs.train[inputs.val_rows], y_train[inputs.val_rows]),
        logs,
        stop_at,
    )
    return as_curve(seconds, [row["val_accuracy"] for row in logs]), model


def test_accuracy(keras: Any, model: Any, inputs: Inputs, y_test: np.ndarray) -> float:
    _, accuracy = model.evaluate(inputs.test, keras.utils.to_categorical(y_test, 2), verbose=0)
    return float(accuracy)


def epoch_seconds(
    keras: Any,
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    epochs: int,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    logs: list[dict[str, float]] | None = None,
    stop_at: float | None = None,
) -> list[float]:
    """Each epoch's wall time of Keras's fit on numpy arrays, as the recipe trained; each
    epoch's log appended to logs."""
    times: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, log: dict | None = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, log: dict | None = None) -> None:
            times.append(time.perf_counter() - self.started)
            if logs is not None:
                logs.append(dict(log or {}))
            if stop_at is not None and round((log or {}).get("val_accuracy", 0.0), 3) >= stop_at:
                self.model.stop_training = True

    # The 2018 recipe's compile, which asked Keras's fit to log accuracy too.
    model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"])
    model.fit(
        x,
        keras.utils.to_categorical(y, 2),
        batch_size=batch_size,
        epochs=epochs,
        validation_data=None
        if validation is None
        else (validation[0], keras.utils.to_categorical(validation[1], 2)),
        verbose=0,
        callbacks=[EpochTimer()],
    )
    return times


def as_curve(seconds: list[float], val_accuracy: list[float]) -> Curve:
    return list(zip(np.cumsum(seconds).tolist(), val_accuracy, strict=True))
