"""Rows held out from training: the validation split, and rows that repeat training rows.

Public EEG sets hold repeated recordings (Blink repeats 50 of its 500 training rows, and
50 of its 450 test rows are copies of training rows). A held-out row whose copy trains is
scored on what the model has seen, so the split keeps copies together, and training says
how many validation and test rows repeat a training row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
Indices = npt.NDArray[np.int64]


def validation_split(x: Array, fraction: float, seed: int) -> tuple[Indices, Indices]:
    """(training row indices, validation row indices): about fraction of x's rows, by seed.

    The rows are drawn in a random order and the first fraction held out, except that every
    copy of a recording goes where its first copy in that order goes. Without copies this
    is exactly the first fraction of the order.
    """
    rows = len(x)
    order = np.random.default_rng(seed).permutation(rows)
    place = np.empty(rows, dtype=np.int64)
    place[order] = np.arange(rows)
    recording = recording_ids(x)
    first_place = np.full(rows, rows, dtype=np.int64)
    np.minimum.at(first_place, recording, place)
    held_out = (first_place[recording] < int(rows * fraction))[order]
    return order[~held_out], order[held_out]


def copies_of_rows(x: Array, training: Array) -> int:
    """How many rows of x have an identical row (the same values) in training."""
    if not len(x) or not len(training):
        return 0
    recording = recording_ids(np.concatenate([training, x]))
    return int(np.isin(recording[len(training) :], recording[: len(training)]).sum())


def recording_ids(x: Array) -> Indices:
    """One id per row, the same for rows of the same bytes."""
    if not x.size:
        return np.zeros(len(x), dtype=np.int64)
    flat = np.ascontiguousarray(x.reshape(len(x), -1))
    as_bytes = flat.view(np.dtype((np.void, flat.dtype.itemsize * flat.shape[1]))).reshape(-1)
    return np.unique(as_bytes, return_inverse=True)[1].reshape(-1).astype(np.int64)
