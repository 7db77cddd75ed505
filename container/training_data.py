"""The rows train.py trains, validates and tests on: each channel read, as standardised features.

load_data reads the training channel (and the validation and test channels if given) with
recordings.py, turns recordings into features as soon as they are read (transform.py), holds
out validation rows (holdout.py) and standardises every split with the training rows'
statistics, which travel with the model.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from container import concatenated, feature_choice, holdout, recordings, transform
from container.memory_budget import Budget
from container.sagemaker_env import Paths, UserError, input_data_config


def load_data(
    paths: Paths,
    hyperparameters: dict[str, Any],
    task: ModuleType,
    share: tuple[int, int] | None = None,
    read_test: bool = True,
) -> dict[str, Any]:
    """Training, validation and test rows as standardised features with the task's targets.

    Each channel's recordings become features as soon as they are read, and the recordings
    are let go: only the (smaller) features stay in memory for training. share=(i, n)
    keeps every n-th training and validation row from the i-th, standardised as all rows.
    """
    channels = input_data_config(paths)
    budget = Budget.for_this_machine()  # one budget for all channels: they are in memory together
    kind, n_channels = hyperparameters["features"], hyperparameters["channels"]

    def read(name: str) -> recordings.ChannelData:
        content_type = channels.get(name, {}).get("ContentType", "")
        return recordings.read_channel(paths.channel(name), name, content_type, budget)

    training = read("training")
    if training.train is None:
        raise UserError("the training channel holds no x_train rows")
    names = [str(name) for name in task.classes(training.train.y)]

    def targets(y: np.ndarray, what: str) -> np.ndarray:
        try:
            return np.asarray(task.targets(y, names, hyperparameters), dtype=np.float32)
        except UserError as error:
            raise UserError(f"{what}: {error}") from None

    shape = training.train.x.shape[1:]
    recording_channels = shape[0] if len(shape) == 2 else n_channels
    warnings = []
    if len(shape) == 1 and n_channels == 1 and (count := concatenated.suggested_channels(training.train.x)):
        warnings.append(
            f"the training rows of {shape[0]} samples jump at every {shape[0] // count}th sample, as "
            f"{count} channels (or a multiple of {count}) one after another would: if they concatenate "
            "channels, set the channels hyperparameter to their number"
        )

    choice = None
    if kind == "auto":
        kind, errors = feature_choice.chosen(
            training.train.x, targets(training.train.y, "training"), n_channels, hyperparameters["seed"]
        )
        choice = f"features=auto chose {kind}: ridge leave-one-out error " + ", ".join(
            f"{name} {error:.4g}" for name, error in errors.items()
        )
    fitted = transform.fit(training.train.x, kind, n_channels, hyperparameters["seed"])

    def features_of(rows: recordings.Rows, name: str) -> np.ndarray:
        if rows.x.shape[1:] != shape:
            raise UserError(
                f"{name} recordings have shape {rows.x.shape[1:]} but training recordings have "
                f"{shape}: they must match"
            )
        # read from disk as it is transformed, only features stay; kernels' can outgrow the recordings
        if isinstance(rows.x, np.memmap) or kind == "kernels":
            nbytes = len(rows.x) * transform.width(shape, kind, n_channels) * 4
            budget.claim(f"the {kind} features of {len(rows.x)} {name} recordings", nbytes)
        features = transform.features(rows.x, kind, n_channels, fitted)
        if not np.isfinite(features).all():
            raise UserError(
                f"the {kind} features of {name} overflow float32 (values up to "
                f"{float(np.abs(rows.x).max()):.3g} in {rows.source}): rescale the recordings, "
                "e.g. to microvolts"
            )
        return features

    x_train, y_train = features_of(training.train, "training"), targets(training.train.y, "training")
    test_rows = training.test
    del training  # the recordings: only their features are kept
    # Copies of one recording are found by digest (holdout.py): kept on one side of the
    # split, and counted where validation or test rows repeat a row the model learnt from.
    train_digests = holdout.digests(x_train)

    x_val, y_val, val_digests = x_train[:0], y_train[:0], train_digests[:0]
    if paths.channel("validation").exists():
        rows = recordings.all_rows(read("validation"))
        if rows is not None:
            x_val, y_val = features_of(rows, "validation"), targets(rows.y, "validation")
            val_digests = holdout.digests(x_val)
        del rows
    elif hyperparameters["validation_fraction"] > 0:
        fit_rows, val_rows = holdout.validation_split(
            train_digests, hyperparameters["validation_fraction"], hyperparameters["seed"]
        )
        if not len(fit_rows):
            raise UserError(
                "validation_fraction leaves no training rows (copies of one recording are held out "
                "together): lower it"
            )
        x_val, y_val, val_digests = x_train[val_rows], y_train[val_rows], train_digests[val_rows]
        x_train, y_train, train_digests = x_train[fit_rows], y_train[fit_rows], train_digests[fit_rows]

    x_test, y_test = x_train[:0], y_train[:0]
    if not read_test:
        test_rows = None
    elif paths.channel("test").exists():
        test_rows = recordings.all_rows(read("test"))
    if test_rows is not None:
        x_test, y_test = features_of(test_rows, "test"), targets(test_rows.y, "test")
    del test_rows
    # Counted over every host's rows, before each takes its share.
    if repeated := holdout.repeats(val_digests, train_digests):
        warnings.append(
            f"{repeated} of {len(x_val)} validation rows repeat a training row, "
            "and early stopping counts them as unseen"
        )
    if repeated := holdout.repeats(holdout.digests(x_test), train_digests, val_digests):
        warnings.append(
            f"{repeated} of {len(x_test)} test rows repeat a training or validation row, "
            "and the test metrics count them as unseen"
        )

    # Statistics come from the training rows alone and travel with the model.
    mean, std = transform.standardisation(x_train)
    if share is not None:
        index, count = share
        x_train, y_train, x_val, y_val = (rows[index::count] for rows in (x_train, y_train, x_val, y_val))
        if not len(x_train):
            raise UserError(
                f"host {index + 1} of {count} gets no training rows: there are fewer rows than hosts; "
                "use fewer instances"
            )
    inputs = {
        "x_train": transform.standardise(x_train, mean, std),
        "x_val": transform.standardise(x_val, mean, std),
        "x_test": transform.standardise(x_test, mean, std),
    }
    for name, x in inputs.items():
        if not np.isfinite(x).all():
            raise UserError(
                f"the standardised {kind} features of {name} overflow float32: rescale the recordings, "
                "e.g. to microvolts"
            )
    return {
        **inputs,
        "y_train": y_train,
        "y_val": y_val,
        "y_test": y_test,
        "input_shape": [int(size) for size in shape],
        "channels": int(recording_channels),
        "transform": kind,
        "fitted": fitted,
        "names": names,
        "mean": mean,
        "std": std,
        "warnings": warnings,
        "choice": choice,
    }


def restandardise(data: dict[str, Any], mean: np.ndarray, std: np.ndarray) -> None:
    """Rows standardised with data's own statistics, in place, to mean and std instead."""
    for name in ("x_train", "x_val", "x_test"):
        x = data[name]
        x *= data["std"] / std
        x += (data["mean"] - mean) / std
    data["mean"], data["std"] = mean, std
