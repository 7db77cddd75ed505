"""The model's input: one transform for training, validation, test and serving.

Training computes the standardisation statistics on its own rows and saves them in
metadata.json with the transform's name and channel count, so whatever serves the model
applies exactly what training did:

    f = metadata["features"]
    x = standardise(features(recordings, f["transform"], f["channels"]), f["mean"], f["std"])

A recording is one row of samples, or several channels of equal length: a 3-D array
(rows, channels, samples), or 2-D rows that concatenate the channels one after another
(channel 1's samples, then channel 2's, ...), split by the `channels` hyperparameter.
Every transform works on each channel apart and lays the results side by side.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from container.sagemaker_env import UserError

FEATURES = ("timefreq", "fft", "raw", "recording")
TIMEFREQ_POINTS = 32  # time-course points and spectrum bands per channel in timefreq (chosen by 5-fold CV)
CHUNK_BYTES = 64 * 2**20  # rows are transformed this many input bytes at a time
Array = npt.NDArray[Any]


def features(x: Array, kind: str, channels: int = 1) -> npt.NDArray[np.float32]:
    """The model's input for each recording, float32: one row per recording, or one
    (channels, samples) array per recording for "recording".

    timefreq: each channel's time course averaged over windows down to TIMEFREQ_POINTS
      points: the slow shape and level of the recording, such as event-related and slow
      cortical potentials, blinks and drifts. Then its log power
      spectrum averaged into TIMEFREQ_POINTS bands of equal width: its rhythms. Keeps both
      what happens when and at which frequencies, in far fewer numbers than the samples.
    fft: magnitude of each channel's real FFT (samples // 2 + 1 bins) normalised to sum 1:
      how power is spread over frequencies; with one channel, the original workflow's input.
    raw: the samples as they are, each recording's channels one after another in one row.
    recording: the samples as they are, unflattened: (channels, samples) per recording, for
      a network that reads each channel's time course itself (model=cnn).

    Rows are transformed a chunk at a time into one float32 result, so no float64 or
    complex copy of the whole dataset is ever made.
    """
    if kind not in FEATURES:
        raise UserError(f"unknown feature transform '{kind}': use one of {', '.join(FEATURES)}")
    x = by_channel(x, channels)
    if kind == "recording":
        return np.ascontiguousarray(x, dtype=np.float32)
    if kind == "raw":
        return np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float32)
    transform = _timefreq if kind == "timefreq" else _normalised_spectrum
    out = np.empty((len(x), width(x.shape[1:], kind)), dtype=np.float32)
    step = max(1, CHUNK_BYTES // (4 * max(1, math.prod(x.shape[1:]))))
    for start in range(0, len(x), step):
        out[start : start + step] = transform(x[start : start + step])
    return out


def width(recording_shape: tuple[int, ...], kind: str, channels: int = 1) -> int:
    """How many features kind makes of one recording of this shape."""
    shape = by_channel(np.zeros((1, *recording_shape), dtype=np.float32), channels).shape[1:]
    if kind in ("raw", "recording"):
        return math.prod(shape)
    transform = _timefreq if kind == "timefreq" else _normalised_spectrum
    return int(transform(np.zeros((1, *shape), dtype=np.float32)).shape[1])


def model_input(recordings: Array, spec: dict[str, Any]) -> npt.NDArray[np.float32]:
    """What the model reads for recordings, from metadata.json's "features": serving's transform.

    The same two functions training applies to its validation and test rows, with the
    statistics training computed, so a served model sees exactly what it was tested on.
    """
    x = features(recordings, spec["transform"], spec["channels"])
    return standardise(
        x, np.asarray(spec["mean"], dtype=np.float32), np.asarray(spec["std"], dtype=np.float32)
    )


def by_channel(x: Array, channels: int) -> Array:
    """x as (rows, channels, samples): 3-D arrays as they are, 2-D rows split into channels."""
    if x.ndim == 3:
        if channels not in (1, x.shape[1]):
            raise UserError(
                f"the recordings hold {x.shape[1]} channels but the channels hyperparameter "
                f"says {channels}: leave channels at 1 for (rows, channels, samples) arrays"
            )
        return x
    if x.ndim != 2:
        raise UserError(f"recordings must be (rows, samples) or (rows, channels, samples), not {x.shape}")
    if x.shape[1] % channels:
        raise UserError(
            f"rows of {x.shape[1]} samples do not split into {channels} channels of equal "
            "length: set channels to the number of channels each row concatenates"
        )
    return x.reshape(len(x), channels, x.shape[1] // channels)


def _normalised_spectrum(x: Array) -> npt.NDArray[np.float32]:
    magnitude = np.abs(np.fft.rfft(np.asarray(x, dtype=np.float32), axis=-1))
    total = magnitude.sum(axis=-1, keepdims=True)
    return (magnitude / np.where(total > 0, total, 1.0)).reshape(len(x), -1).astype(np.float32)


def _timefreq(x: Array) -> npt.NDArray[np.float32]:
    x = np.asarray(x, dtype=np.float32)
    power = np.abs(np.fft.rfft(x, axis=-1)) ** 2 / x.shape[-1]
    # log1p: band power spans orders of magnitude; the log makes bands comparable and keeps 0 finite
    # The level is kept (not the mean removed): in 5-fold CV on four real EEG sets it helped
    # three, slow cortical potentials above all, since a potential's level is its class.
    parts = (_window_means(x, TIMEFREQ_POINTS), np.log1p(_window_means(power, TIMEFREQ_POINTS)))
    return np.concatenate(parts, axis=-1).reshape(len(x), -1).astype(np.float32)


def _window_means(x: Array, points: int) -> Array:
    """The means of `points` consecutive windows covering the last axis (one per value if fewer)."""
    edges = np.linspace(0, x.shape[-1], min(points, x.shape[-1]) + 1).astype(int)
    return np.add.reduceat(x, edges[:-1], axis=-1) / np.diff(edges)


def standardisation(x: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Per-feature mean and standard deviation, each of one row's shape; constant features
    get a deviation of 1.

    Summed in float64 a chunk of rows at a time: accurate, without a float64 copy of x.
    """
    mean = x.mean(axis=0, dtype=np.float64)
    squares = np.zeros_like(mean)
    step = max(1, CHUNK_BYTES // max(1, math.prod(x.shape[1:]) * 8))
    for start in range(0, len(x), step):
        squares += np.square(x[start : start + step] - mean).sum(axis=0)
    std = np.sqrt(squares / max(1, len(x))).astype(np.float32)
    return mean.astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)


def standardise(
    x: npt.NDArray[np.float32], mean: npt.NDArray[np.float32], std: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    out = np.subtract(x, mean, dtype=np.float32)
    out /= std
    return out
