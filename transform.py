"""The model's input: one transform for training, validation, test and serving.

Training computes the standardisation statistics on its own rows and saves them in
metadata.json with the transform's name, so whatever serves the model applies exactly
what training did:

    x = standardise(features(recordings, metadata["features"]["transform"]), mean, std)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from sagemaker_env import UserError

FEATURES = ("fft", "raw")
Array = npt.NDArray[Any]


def features(x: Array, kind: str) -> npt.NDArray[np.float32]:
    """The model's input for each row: the same transform for training, validation, test and serving.

    fft: magnitude of the row's real FFT (rfft keeps the non-redundant half: samples // 2 + 1
    bins) normalised to sum 1, so the model sees how power is spread over frequencies.
    raw: the samples as they are.
    """
    x = np.asarray(x, dtype=np.float32)
    if kind == "raw":
        return x
    if kind != "fft":
        raise UserError(f"unknown feature transform '{kind}': use one of {', '.join(FEATURES)}")
    magnitude = np.abs(np.fft.rfft(x, axis=1)).astype(np.float32)
    total = magnitude.sum(axis=1, keepdims=True)
    return magnitude / np.where(total > 0, total, 1.0)


def standardisation(x: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Per-feature mean and standard deviation; constant features get a deviation of 1."""
    mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
    std = x.std(axis=0, dtype=np.float64).astype(np.float32)
    return mean, np.where(std > 0, std, 1.0).astype(np.float32)


def standardise(
    x: npt.NDArray[np.float32], mean: npt.NDArray[np.float32], std: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    return ((x - mean) / std).astype(np.float32)
