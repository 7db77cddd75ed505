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
- solved, solve: whether a model's weights are solved in closed form instead, and how;
- answers, score: how the model's outputs read as answers, served and in make predict.

This one holds four examples, chosen by the model hyperparameter:
- ridge (the default): a softmax over the classes straight on the features of each
  recording (by default MiniRocket's random convolutions or the spectrum, whichever fits
  better), its weights solved in closed form (solve below), as MiniRocket's own classifier
  is, rather than trained by epochs;
- linear: the same softmax trained by epochs on categorical cross-entropy;
- mlp: the original Keras MLP on the same features (set patience=10 with it: the
  cross-validation that chose every-epoch training chose it for the linear head);
- cnn: a compact 1-D convolutional network on the recordings as they are, (channels,
  samples) unflattened (features=recording), telling two classes apart with one sigmoid and
  binary cross-entropy.
docs/your-model.md shows the change to one sigmoid and to a regression; each touches this
file alone.

Nothing runs at import, and TensorFlow is imported only by what ./train calls, so the
commands on your machine import this file without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from container import labels, ridge, transform
from container.sagemaker_env import UserError

HYPERPARAMETERS: dict[str, Any] = {
    # The defaults were chosen by cross-validation on twenty real sets' training splits
    # (docs/performance.md, "The collection"): features chosen by the ridge head, solved.
    # data
    # auto: kernels or fft, whichever the ridge fit predicts better left one out; kernels:
    # random convolutions per channel; timefreq; fft; raw; recording
    "features": "auto",
    "channels": 1,  # channels each 2-D row concatenates, one after another; 3-D arrays give their own
    "validation_fraction": 0.2,  # share of training rows held out when there is no validation channel
    # model
    # ridge: a softmax straight on the features, solved in closed form, no epochs; linear:
    # the same, trained by epochs; mlp: the original Dense 1024-512-256-64, tanh; cnn: 1-D
    # convolutions
    "model": "ridge",
    "members": 1,  # mlp networks side by side, trained on their averaged prediction (see build_model)
    # training by epochs (not model=ridge): the loop in container/ reads these names
    "epochs": 100,
    "patience": 0,  # stop after this many epochs without a better EARLY_STOPPING metric; 0: run every epoch
    "refit": 1,  # 1: then train a new network on training and validation rows for the epochs kept
    "batch_size": 0,  # rows per training step; 0: an eighth of the rows, from 32 to 1024
    "learning_rate": 0.001,  # Adam's step size
    "precision": "auto",  # auto: bfloat16 on CPUs with bfloat16 instructions (AMX, AVX512-BF16), else float32
    "seed": 42,  # fixes the validation split, the kernels' biases and the initial weights
}
# (low, high) is an inclusive range; a tuple of strings lists the accepted values.
ACCEPTED: dict[str, tuple[Any, ...]] = {
    "features": ("auto", *transform.FEATURES),
    "channels": (1, 10_000),
    "validation_fraction": (0.0, 0.9),
    "model": ("ridge", "linear", "mlp", "cnn"),
    "members": (1, 16),
    "epochs": (1, 100_000),
    "patience": (0, 100_000),
    "refit": (0, 1),
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
# cnn: (filters, kernel width) of each convolution, each with a stride of 2 along the samples
CONVOLUTIONS = ((16, 9), (32, 9), (32, 9))


def classes(y: np.ndarray) -> list[str]:
    """The names of the model's outputs, in order: here the classes the training labels hold."""
    return labels.class_names(y)


def targets(y: np.ndarray, names: list[str], hyperparameters: dict[str, Any]) -> np.ndarray:
    """What the loss compares the model's outputs with: one-hot rows over names (mlp's
    softmax), or 1 for the second of two classes and 0 for the first (cnn's sigmoid)."""
    if hyperparameters["model"] != "cnn":
        return labels.one_hot(y, names)
    if len(names) != 2:
        raise UserError(
            f"model=cnn tells two classes apart with one sigmoid, but the labels hold {len(names)} "
            f"({', '.join(names[:5])}): use model=mlp"
        )
    return labels.positive(y, names)


def metrics(keras: Any) -> dict[str, Any]:
    """For each name in METRICS, a function of (targets, outputs) giving one value per row."""

    def accuracy(wanted: Any, outputs: Any) -> Any:
        if outputs.shape[-1] == 1:  # one sigmoid: the second class's probability
            return keras.ops.mean(keras.metrics.binary_accuracy(wanted, outputs), axis=-1)
        return keras.metrics.categorical_accuracy(wanted, outputs)

    return {"accuracy": accuracy}


def build_model(
    keras: Any, hyperparameters: dict[str, Any], input_shape: tuple[int, ...], names: list[str]
) -> Any:
    """The network for inputs of input_shape (one row's), compiled: the loss and optimizer
    given to compile are the ones training uses.
    """
    if hyperparameters["model"] == "cnn":
        model, loss = convolutional(keras, hyperparameters, input_shape), "binary_crossentropy"
    else:
        model, loss = perceptron(keras, hyperparameters, input_shape, names), "categorical_crossentropy"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=hyperparameters["learning_rate"]), loss=loss)
    return model


def perceptron(
    keras: Any, hyperparameters: dict[str, Any], input_shape: tuple[int, ...], names: list[str]
) -> Any:
    """mlp, uncompiled: the original network, Dense 1024-512-256-64 with tanh and a softmax
    over the names; linear: the softmax alone, straight on the features.

    members > 1 puts that many networks of that shape side by side, each with weights of
    its own, and averages their softmaxes: one model, trained on the averaged prediction.
    Each layer computes every member in one op, so the training step hardly grows.
    Why 3 members help and why Keras's default initialiser is kept: docs/performance.md.
    """
    members = hyperparameters["members"]
    if hyperparameters["model"] in ("linear", "ridge") and members != 1:
        raise UserError(
            "members sets side-by-side copies of model=mlp: leave it at 1 with "
            f"model={hyperparameters['model']}"
        )
    layers = [keras.Input(shape=input_shape)]
    if len(input_shape) > 1:  # features=recording: the channels one after another, as raw gives them
        layers.append(keras.layers.Flatten())
    hidden = () if hyperparameters["model"] in ("linear", "ridge") else HIDDEN_UNITS
    if members == 1:
        layers += [keras.layers.Dense(units, activation="tanh") for units in hidden]
        layers += [keras.layers.Dense(len(names), activation="softmax", dtype="float32")]
        model = keras.Sequential(layers, name=f"eeg_{hyperparameters['model']}")
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
    return model


def solved(hyperparameters: dict[str, Any]) -> bool:
    """Whether ./train solves the model's weights with solve below instead of training epochs:
    model=ridge. A task without this function trains every model by epochs."""
    return hyperparameters["model"] == "ridge"


def solve(model: Any, x: Any, wanted: Any, hyperparameters: dict[str, Any]) -> dict[str, float]:
    """model=ridge: the softmax layer's weights, solved on the rows x (features) and wanted
    (one-hot). A ridge regression of +1 for each row's class and -1 for the others, its
    penalty chosen left one out (container/ridge.py), scaled so that the softmax's
    probabilities fit the rows left out. Returns what was chosen, for the log."""
    wanted = np.asarray(wanted)
    if wanted.ndim != 2 or wanted.shape[1] < 2:
        raise UserError(
            "model=ridge solves a softmax over one-hot targets of two classes or more: use model=linear "
            "with other targets"
        )
    fitted = ridge.fit(x, 2.0 * wanted - 1.0, seed=hyperparameters["seed"])
    scale = ridge.softmax_scale(fitted.left_out, wanted[fitted.left_out_rows])
    model.layers[-1].set_weights([scale * fitted.weights, scale * fitted.bias])
    return {"penalty": fitted.penalty, "scale": scale}


def convolutional(keras: Any, hyperparameters: dict[str, Any], input_shape: tuple[int, ...]) -> Any:
    """cnn, uncompiled: convolutions along each recording's samples, averaged over time, and
    one sigmoid, the probability of the second class. Reads (channels, samples)."""
    if len(input_shape) != 2:
        raise UserError(
            "model=cnn convolves along the samples of each channel, but "
            f"features={hyperparameters['features']} gives flat rows: set features=recording"
        )
    if hyperparameters["members"] != 1:
        raise UserError("members sets side-by-side copies of model=mlp: leave it at 1 with model=cnn")
    layers = [keras.Input(shape=input_shape), keras.layers.Permute((2, 1))]  # (samples, channels)
    layers += [
        keras.layers.Conv1D(filters, width, strides=2, padding="same", activation="relu")
        for filters, width in CONVOLUTIONS
    ]
    layers += [
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(1, activation="sigmoid", dtype="float32"),
    ]
    return keras.Sequential(layers, name="eeg_cnn")


def answers(outputs: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    """What serving and make predict say of each row's outputs: the class and each probability."""
    return labels.class_answers(outputs, names)


def score(answered: list[dict[str, Any]], y: np.ndarray) -> str:
    """make predict's summary of answers against the labels y: the accuracy."""
    return labels.accuracy_line(answered, y)
