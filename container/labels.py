"""Labels as a classifier reads them, for task.py: class names, targets, answers and accuracy.

A label is a class: an integer id, a one-hot row, or a name such as "setosa". The classes
are named by strings in metadata.json, in the order of the model's outputs. A task of
another kind (a regression, say) uses none of this and writes its own few lines in task.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from container.sagemaker_env import UserError

MAX_CLASS_ID = 2**31 - 1
MAX_CLASSES = 10_000
Array = npt.NDArray[Any]


def class_names(y: Array) -> list[str]:
    """The training labels' classes, sorted (numbers by value): one-hot rows of width k name 0..k-1."""
    present = np.unique(class_values(y, "training"))
    names = (
        [str(index) for index in range(y.shape[1])] if is_one_hot(y) else [str(n) for n in present.tolist()]
    )
    if len(present) < 2:
        raise UserError(
            f"the training labels hold only one class ({names[0]}): a classifier needs at least two"
        )
    if len(names) > MAX_CLASSES:
        raise UserError(
            f"the training labels hold {len(names)} classes, more than {MAX_CLASSES}: "
            "are the labels where they belong (y_train, or a CSV's first column)?"
        )
    return names


def class_index(y: Array, names: list[str], what: str) -> npt.NDArray[np.int64]:
    """Each label's position in names; a class the training rows lack is an error."""
    values = np.asarray([str(value) for value in class_values(y, what).tolist()])
    order = np.argsort(names)
    sorted_names = np.asarray(names)[order]
    found = np.searchsorted(sorted_names, values)
    known = (found < len(names)) & (sorted_names[np.minimum(found, len(names) - 1)] == values)
    if not known.all():
        unknown = sorted(set(values[~known].tolist()))[:5]
        raise UserError(f"{what} labels hold classes the training rows do not ({unknown})")
    return order[found].astype(np.int64)


def one_hot(y: Array, names: list[str], what: str = "training") -> npt.NDArray[np.float32]:
    """One row per label with a 1 in its class's column: categorical cross-entropy's target."""
    return np.eye(len(names), dtype=np.float32)[class_index(y, names, what)]


def positive(y: Array, names: list[str], what: str = "training") -> npt.NDArray[np.float32]:
    """1 for the second of two classes, 0 for the first: binary cross-entropy's target."""
    if len(names) != 2:
        raise UserError(f"the training labels hold {len(names)} classes: one sigmoid tells two apart")
    return class_index(y, names, what).astype(np.float32)[:, None]


def class_answers(outputs: Array, names: list[str]) -> list[dict[str, Any]]:
    """{"class": name, "probabilities": {name: p}} per row, from probabilities of each class
    (a softmax), or of the second of two classes (one sigmoid)."""
    probabilities = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    if probabilities.shape[1] == 1 and len(names) == 2:
        probabilities = np.concatenate([1 - probabilities, probabilities], axis=1)
    return [
        {
            "class": names[int(np.argmax(row))],
            "probabilities": {name: round(float(p), 6) for name, p in zip(names, row, strict=True)},
        }
        for row in probabilities
    ]


def accuracy_line(answered: list[dict[str, Any]], y: Array) -> str:
    """accuracy=0.9500 (19 of 20): how many answers name the label's class."""
    actual = [str(value) for value in class_values(y, "the data's").tolist()]
    right = sum(answer["class"] == label for answer, label in zip(answered, actual, strict=True))
    return f"accuracy={right / len(actual):.4f} ({right} of {len(actual)})"


def is_one_hot(y: Array) -> bool:
    return y.ndim == 2 and y.shape[1] > 1 and y.dtype.kind in "biuf"


def class_values(y: Array, what: str) -> Array:
    """Labels as one value per row: names as they are, integers as int64, one-hot rows as
    the column of their 1."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.dtype.kind in "USO":
        return np.asarray([str(value).strip() for value in y.tolist()], dtype=str)
    if y.ndim == 2:
        if y.shape[1] > MAX_CLASSES:
            raise UserError(f"{what} labels are one-hot rows of {y.shape[1]} classes: at most {MAX_CLASSES}")
        one_hot_rows = np.all((y == 0) | (y == 1), axis=1) & (y.sum(axis=1) == 1)
        if not one_hot_rows.all():
            row = int(np.argmin(one_hot_rows))
            raise UserError(
                f"{what} labels are neither one-hot nor integer ids (row {row} is {y[row][:8]}): "
                "use one 1 per row, or a 1-D array of class ids or names"
            )
        return np.argmax(y, axis=1)
    if not np.all(np.mod(y, 1) == 0) or (y < 0).any():
        example = y[(np.mod(y, 1) != 0) | (y < 0)][0]
        raise UserError(
            f"{what} labels are neither one-hot nor integer ids (found {example}): "
            "use one 1 per row, non-negative integer class ids, or class names"
        )
    if len(y) and y.max() > MAX_CLASS_ID:
        raise UserError(
            f"{what} labels go up to {y.max():.6g}: class ids are integers from 0 to {MAX_CLASS_ID}"
        )
    return y.astype(np.int64)
