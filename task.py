"""The task: the one file to edit to bring your own model.

Both sides read it: ./train in the image (the defaults, the network, the labels, the
metrics) and the commands on your machine (make submit and make tune check hyperparameters
against the table below and send SageMaker the metrics named here). Everything else in
the image (container/) stays as it is for any model.

What it holds, top to bottom:
- HYPERPARAMETERS and ACCEPTED: every setting a job takes, its default and accepted values;
- METRICS, EARLY_STOPPING, TUNING: what each epoch logs, and what is watched;
- classes, targets, metrics: how labels become what the loss compares with;
- build_model: the network for an input shape, compiled with the loss it trains on;
- answers, score: how the model's outputs read as answers, served and in make predict.

This one is the EEG example: a Keras MLP that tells classes of recordings apart, with a
softmax over the classes and categorical cross-entropy. docs/your-model.md shows the
change to one sigmoid and to a regression; each touches this file alone.

Nothing runs at import, and TensorFlow is imported only by what ./train calls, so the
commands on your machine import this file without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from container import labels, transform

HYPERPARAMETERS: dict[str, Any] = {
    # data
    "features": "timefreq",  # timefreq: time course and spectrum per channel; fft; raw (transform.py)
    "channels": 1,  # channels each 2-D row concatenates, one after another; 3-D arrays give their own
    "validation_fraction": 0.2,  # share of training rows held out when there is no validation channel
    # model
    "model": "mlp",  # mlp: the original Dense 1024-512-256-64, tanh (see build_model)
    "members": 1,  # networks side by side, trained on their averaged prediction (see build_model)
    # training: the loop in container/ reads these names
    "epochs": 100,
    "patience": 10,  # stop after this many epochs without a better EARLY_STOPPING metric; 0: run every epoch
    "batch_size": 0,  # rows per training step; 0: an eighth of the rows, from 32 to 1024
    "learning_rate": 0.001,  # Adam's step size
    "precision": "auto",  # auto: bfloat16 on CPUs with bfloat16 instructions (AMX, AVX512-BF16), else float32
    "seed": 42,  # fixes the validation split and the initial weights
}
# (low, high) is an inclusive range; a tuple of strings lists the accepted values.
ACCEPTED: dict[str, tuple[Any, ...]] = {
    "features": transform.FEATURES,
    "channels": (1, 10_000),
    "validation_fraction": (0.0, 0.9),
    "model": ("mlp",),
    "members": (1, 16),
    "epochs": (1, 100_000),
    "patience": (0, 100_000),
    "batch_size": (0, 1_000_000),
    "learning_rate": (1e-7, 10.0),
    "precision": ("auto", "float32", "bfloat16"),
    "seed": (0, 2**31 - 1),
}

# Logged each epoch beside the loss, on training and validation rows (accuracy=, val_accuracy=),
# and on the test rows at the end: each is the mean over rows of metrics()'s function.
METRICS = ("accuracy",)
# The epoch training keeps, and when patience runs out: the lowest validation loss.
EARLY_STOPPING = ("val_loss", "min")
# What make tune maximises: a logged name and SageMaker's Maximize or Minimize.
TUNING = ("val_accuracy", "Maximize")

HIDDEN_UNITS = (1024, 512, 256, 64)  # the original model's Dense layers, tanh activated


def classes(y: np.ndarray) -> list[str]:
    """The names of the model's outputs, in order: here the classes the training labels hold."""
    return labels.class_names(y)


def targets(y: np.ndarray, names: list[str]) -> np.ndarray:
    """What the loss compares the model's outputs with: one-hot rows over names."""
    return labels.one_hot(y, names)


def metrics(keras: Any) -> dict[str, Any]:
    """For each name in METRICS, a function of (targets, outputs) giving one value per row."""
    return {"accuracy": keras.metrics.categorical_accuracy}


def build_model(
    keras: Any, hyperparameters: dict[str, Any], input_shape: tuple[int, ...], names: list[str]
) -> Any:
    """The network for inputs of input_shape (one row's), with an output per name, compiled.

    The loss and optimizer given to compile are the ones training uses.

    mlp: the original network, Dense 1024-512-256-64 with tanh and a softmax.
    members > 1 puts that many networks of that shape side by side, each with weights of
    its own, and averages their softmaxes: one model, trained on the averaged prediction.
    Each layer computes every member in one op, so the training step hardly grows.
    Why 3 members help and why Keras's default initialiser is kept: docs/performance.md.
    """
    members = hyperparameters["members"]
    layers = [keras.Input(shape=input_shape)]
    if members == 1:
        layers += [keras.layers.Dense(units, activation="tanh") for units in HIDDEN_UNITS]
        layers += [keras.layers.Dense(len(names), activation="softmax", dtype="float32")]
        model = keras.Sequential(layers, name="eeg_mlp")
    else:
        first, *rest = HIDDEN_UNITS
        layers += [
            keras.layers.Dense(members * first, activation="tanh"),
            keras.layers.Reshape((members, first)),  # (rows, members, units): each member's own units
        ]
        # Member k's units multiply member k's weights only: rows x members x in -> rows x members x out.
        layers += [
            keras.layers.EinsumDense("bki,kio->bko", (members, units), bias_axes="ko", activation="tanh")
            for units in rest
        ]
        layers += [
            keras.layers.EinsumDense("bki,kio->bko", (members, len(names)), bias_axes="ko", dtype="float32"),
            keras.layers.Softmax(dtype="float32"),
            keras.layers.GlobalAveragePooling1D(dtype="float32"),  # the members' mean
        ]
        model = keras.Sequential(layers, name=f"eeg_mlp_x{members}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=hyperparameters["learning_rate"]),
        loss="categorical_crossentropy",
    )
    return model


def answers(outputs: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    """What serving and make predict say of each row's outputs: the class and each probability."""
    return labels.class_answers(outputs, names)


def score(answered: list[dict[str, Any]], y: np.ndarray) -> str:
    """make predict's summary of answers against the labels y: the accuracy."""
    return labels.accuracy_line(answered, y)
