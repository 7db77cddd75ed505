"""The model's input: one transform for training, validation, test and serving.

Training computes the standardisation statistics on its own rows and saves them in
metadata.json with the transform's name, channel count and fitted parameters (the kernels'
biases of `kernels`, fitted to the training rows; none for the others), so whatever serves
the model applies exactly what training did:

    f = metadata["features"]
    x = standardise(features(recordings, f["transform"], f["channels"], f.get("fitted")), f["mean"], f["std"])

A recording is one row of samples, or several channels of equal length: a 3-D array
(rows, channels, samples), or 2-D rows that concatenate the channels one after another
(channel 1's samples, then channel 2's, ...), split by the `channels` hyperparameter.
Every transform works on each channel apart and lays the results side by side.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from container.sagemaker_env import UserError

FEATURES = ("timefreq", "fft", "raw", "recording", "kernels")
TIMEFREQ_POINTS = 32  # time-course points and spectrum bands per channel in timefreq (chosen by 5-fold CV)
CHUNK_BYTES = 64 * 2**20  # rows are transformed this many input bytes at a time
Array = npt.NDArray[Any]
# kernels: MiniRocket's (Dempster et al., 2021) 84 kernels of 9 weights, -1 but for three 2s,
# at dilations spread on a log scale up to the channel's length, and about this many features
# in all, shared between the channels (at least one per kernel and channel).
KERNEL_FEATURES = 9_996
KERNEL_LENGTH = 9
TWOS = np.array(list(itertools.combinations(range(KERNEL_LENGTH), 3)))  # (84, 3): where the 2s are
# (84, 9): each kernel's weights, 2 at its three 2s and -1 elsewhere
KERNEL_WEIGHTS = np.where((TWOS[..., np.newaxis] == np.arange(KERNEL_LENGTH)).any(axis=1), 2, -1).astype("f4")
MAX_DILATIONS = 32  # per kernel
KERNEL_CHUNK_BYTES = 2**19  # kernels' convolutions of a chunk of rows, at most
FIT_ROWS = 10_000  # training rows the biases are drawn from, at most (the first ones)


def features(
    x: Array, kind: str, channels: int = 1, fitted: dict[str, Any] | None = None
) -> npt.NDArray[np.float32]:
    """The model's input for each recording, float32: one row per recording, or one
    (channels, samples) array per recording for "recording". fitted is fit()'s parameters
    for kind, from the training rows (kernels needs them).

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
    kernels: random convolutions, as MiniRocket makes them: each channel convolved with 84
      fixed kernels at several dilations, and for each the proportion of positions above a
      bias drawn from the training rows' own convolutions (fit). Shapes at every scale,
      wherever they fall in the recording.

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
    if kind == "kernels":
        transform, columns, step = _fitted_kernels(x.shape[1:], fitted)
    else:
        transform = _timefreq if kind == "timefreq" else _normalised_spectrum
        columns = width(x.shape[1:], kind)
        step = max(1, CHUNK_BYTES // (4 * max(1, math.prod(x.shape[1:]))))
    out = np.empty((len(x), columns), dtype=np.float32)
    for start in range(0, len(x), step):
        out[start : start + step] = transform(x[start : start + step])
    return out


def fit(x: Array, kind: str, channels: int, seed: int) -> dict[str, Any] | None:
    """What kind fits to the training recordings x, saved with the model: for kernels, the
    recordings' shape, the (dilation, biases per kernel) plan, and the biases, each a
    quantile of one training row's convolution with its kernel (the row drawn by seed);
    None for the other transforms, which fit nothing."""
    if kind != "kernels":
        return None
    x = by_channel(x[:FIT_ROWS], channels)
    rows, count, samples = x.shape
    rng = np.random.default_rng(seed)
    plan = kernel_plan(samples, count)
    biases = np.empty((count, sum(n for _, n in plan) * len(TWOS)), dtype=np.float32)
    for channel in range(count):
        column = 0
        for dilation, per_kernel in plan:
            row = np.asarray(x[rng.integers(rows), channel], dtype=np.float32)
            outputs = _convolutions(row[np.newaxis], dilation)[0]  # (84, samples)
            quantiles = _quantiles(column, per_kernel * len(TWOS)).reshape(len(TWOS), per_kernel)
            for kernel in range(len(TWOS)):
                biases[channel, column : column + per_kernel] = np.quantile(
                    outputs[kernel], quantiles[kernel]
                )
                column += per_kernel
    return {"channels": count, "samples": samples, "plan": plan, "biases": biases.tolist()}


def _fitted_kernels(
    shape: tuple[int, ...], fitted: dict[str, Any] | None
) -> tuple[Callable[[Array], npt.NDArray[np.float32]], int, int]:
    """kernels' transform of a chunk of recordings of shape (channels, samples) with the
    parameters fit() saved, its number of features, and the rows in a chunk."""
    if fitted is None:
        raise UserError("features=kernels needs the biases fitted to the training rows")
    if [fitted["channels"], fitted["samples"]] != list(shape):
        raise UserError(
            f"the kernels were fitted to recordings of {fitted['channels']}x{fitted['samples']}, "
            f"not {'x'.join(map(str, shape))}"
        )
    plan = [(int(dilation), int(count)) for dilation, count in fitted["plan"]]
    biases = np.asarray(fitted["biases"], dtype=np.float32)
    columns = shape[0] * len(TWOS) * sum(count for _, count in plan)
    # a chunk's convolutions (84 float32 per position and channel) stay within a core's
    # cache: larger chunks measured up to 3x slower per row
    step = max(1, KERNEL_CHUNK_BYTES // (4 * len(TWOS) * math.prod(shape)))
    return (lambda rows: _kernel_features(rows, plan, biases)), columns, step


def kernel_plan(samples: int, channels: int) -> list[tuple[int, int]]:
    """kernels' (dilation, biases per kernel) for each dilation of a channel of this many samples:
    about KERNEL_FEATURES features in all, spread over dilations up to the channel's length."""
    per_kernel = max(1, KERNEL_FEATURES // (len(TWOS) * channels))
    dilations = min(per_kernel, MAX_DILATIONS)
    top = math.log2(max(1.0, (samples - 1) / (KERNEL_LENGTH - 1)))
    values, counts = np.unique(
        np.floor(np.logspace(0, top, dilations, base=2)).astype(int), return_counts=True
    )
    shares = (counts * per_kernel / dilations).astype(int)
    shares[: per_kernel - shares.sum()] += 1  # what rounding down left, one each to the smallest
    return [(int(d), int(n)) for d, n in zip(values, shares, strict=True) if n > 0]


def width(recording_shape: tuple[int, ...], kind: str, channels: int = 1) -> int:
    """How many features kind makes of one recording of this shape."""
    shape = by_channel(np.zeros((1, *recording_shape), dtype=np.float32), channels).shape[1:]
    if kind in ("raw", "recording"):
        return math.prod(shape)
    if kind == "kernels":
        return shape[0] * len(TWOS) * sum(count for _, count in kernel_plan(shape[1], shape[0]))
    transform = _timefreq if kind == "timefreq" else _normalised_spectrum
    return int(transform(np.zeros((1, *shape), dtype=np.float32)).shape[1])


def model_input(recordings: Array, spec: dict[str, Any]) -> npt.NDArray[np.float32]:
    """What the model reads for recordings, from metadata.json's "features": serving's transform.

    The same two functions training applies to its validation and test rows, with the
    statistics training computed, so a served model sees exactly what it was tested on.
    """
    x = features(recordings, spec["transform"], spec["channels"], spec.get("fitted"))
    return standardise(
        x, np.asarray(spec["mean"], dtype=np.float32), np.asarray(spec["std"], dtype=np.float32)
    )


def loaded(spec: dict[str, Any]) -> dict[str, Any]:
    """metadata.json's "features" with its long lists as float32 arrays, as a server holds
    it: model_input then converts nothing per request (kernels' 10,000 means, deviations
    and biases took a millisecond to convert)."""
    arrays = {name: np.asarray(spec[name], dtype=np.float32) for name in ("mean", "std")}
    fitted = spec.get("fitted")
    if fitted is not None:
        arrays["fitted"] = {**fitted, "biases": np.asarray(fitted["biases"], dtype=np.float32)}
    return {**spec, **arrays}


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


def _convolutions(x: Array, dilation: int) -> npt.NDArray[np.float32]:
    """(rows, samples) convolved with each of the 84 kernels at dilation, zero-padded to keep
    every position: (rows, 84, samples), one matrix product of the kernels' weights with
    the nine taps at each position."""
    reach = (KERNEL_LENGTH // 2) * dilation
    x = np.pad(np.asarray(x, dtype=np.float32), ((0, 0), (reach, reach)))
    samples = x.shape[1] - 2 * reach
    taps = np.stack([x[:, i * dilation : i * dilation + samples] for i in range(KERNEL_LENGTH)], axis=1)
    return np.matmul(KERNEL_WEIGHTS, taps)


def _kernel_features(x: Array, plan: list[tuple[int, int]], biases: Array) -> npt.NDArray[np.float32]:
    """Each channel's proportions of positive values after its biases, dilation by dilation;
    all channels of a dilation in one product and one comparison.

    Where a dilation has one bias per kernel, the product subtracts it (a tenth weight, the
    bias, against a tap of ones), so the comparison is with 0: comparing each kernel's
    outputs with a bias of its own cost more than the product (12 % of a row's transform).
    """
    x = np.asarray(x, dtype=np.float32)
    rows, channels, samples = x.shape
    out = np.empty((rows, channels, biases.shape[1]), dtype=np.float32)
    # counted in bytes summed as 16-bit integers where the positions fit: the cheapest count numpy has
    counts = np.uint16 if samples < 2**16 else np.int64
    widest = (KERNEL_LENGTH // 2) * max(dilation for dilation, _ in plan)
    padded = np.pad(x, ((0, 0), (0, 0), (widest, widest)))
    taps = np.empty((rows, channels, KERNEL_LENGTH + 1, samples), dtype=np.float32)
    taps[:, :, KERNEL_LENGTH] = 1
    weights_and_bias = np.empty((channels, len(TWOS), KERNEL_LENGTH + 1), dtype=np.float32)
    weights_and_bias[..., :KERNEL_LENGTH] = KERNEL_WEIGHTS
    column = 0
    for dilation, per_kernel in plan:
        start = widest - (KERNEL_LENGTH // 2) * dilation
        for tap in range(KERNEL_LENGTH):
            taps[:, :, tap] = padded[:, :, start + tap * dilation : start + tap * dilation + samples]
        width = per_kernel * len(TWOS)
        cut = biases[:, column : column + width]
        if per_kernel == 1:
            weights_and_bias[..., KERNEL_LENGTH] = -cut
            above = np.matmul(weights_and_bias, taps) > 0
        else:
            outputs = np.matmul(KERNEL_WEIGHTS, taps[:, :, :KERNEL_LENGTH])[:, :, :, np.newaxis]
            above = outputs > cut.reshape(channels, len(TWOS), per_kernel, 1)
        out[:, :, column : column + width] = (
            above.view(np.uint8).sum(axis=-1, dtype=counts).reshape(rows, channels, width)
        )
        column += width
    out /= samples
    return out.reshape(rows, -1)


def _quantiles(start: int, count: int) -> Array:
    """count quantiles from a low-discrepancy sequence (the golden ratio's multiples, mod 1),
    continuing it from position start: spread evenly over (0, 1) whatever the count."""
    return (np.arange(start + 1, start + count + 1) * ((math.sqrt(5) + 1) / 2)) % 1


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
