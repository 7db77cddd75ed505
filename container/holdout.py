"""Rows held out from training: the validation split, and rows that repeat training rows.

Public EEG sets hold repeated recordings (Blink repeats 50 of its 500 training rows, and
50 of its 450 test rows are copies of training rows). A held-out row whose copy trains is
scored on what the model has seen, so the split keeps copies together, and training says
how many validation and test rows repeat a row it learnt from.

Rows are compared by a 16-byte digest of their bytes, so finding copies costs 16 bytes a
row, not a copy of the data: two rows are copies when their values are bit for bit the same.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
Indices = npt.NDArray[np.int64]
DIGEST_BYTES = 16  # blake2b-128: a chance collision among a billion rows is about 1e-21


def digests(x: Array) -> Array:
    """One digest per row of x (any shape of row), equal for rows of the same bytes."""
    if not len(x):
        return np.empty(0, dtype=f"V{DIGEST_BYTES}")
    rows = x.reshape(len(x), -1)
    joined = b"".join(hashlib.blake2b(row.tobytes(), digest_size=DIGEST_BYTES).digest() for row in rows)
    return np.frombuffer(joined, dtype=f"V{DIGEST_BYTES}")


def validation_split(row_digests: Array, fraction: float, seed: int) -> tuple[Indices, Indices]:
    """(training row indices, validation row indices) for rows with these digests, by seed.

    The rows are put in a random order and the first int(rows * fraction) held out, but each
    recording's copies move together, to where the first of them fell: recordings are held
    out in the order their first copies come until that many rows are, so the validation
    set can exceed its share by one recording's copies. Without copies this is exactly the
    first fraction of the order.
    """
    rows = len(row_digests)
    order = np.random.default_rng(seed).permutation(rows)
    recording = np.unique(row_digests, return_inverse=True)[1].reshape(-1)
    place = np.empty(rows, dtype=np.int64)
    place[order] = np.arange(rows)
    first_place = np.full(rows, rows, dtype=np.int64)
    np.minimum.at(first_place, recording, place)
    copies = np.bincount(recording, minlength=rows)
    by_first_place = np.argsort(first_place, kind="stable")
    rows_before = np.empty(rows, dtype=np.int64)  # rows of the recordings whose first copy came earlier
    rows_before[by_first_place] = np.cumsum(copies[by_first_place]) - copies[by_first_place]
    held_out = (rows_before[recording] < int(rows * fraction))[order]
    return order[~held_out], order[held_out]


def repeats(x_digests: Array, *reference_digests: Array) -> int:
    """How many rows (by digest) have a copy among the reference rows."""
    if not len(x_digests):
        return 0
    return int(np.isin(x_digests, np.concatenate(reference_digests)).sum())
