"""features=auto: the transform a job's training rows are read through, chosen before training.

kernels (MiniRocket's random convolutions) suit most recordings: shapes at every scale,
wherever they fall. Some classes differ instead in how power spreads over the whole row's
frequencies, which fft (the original workflow's input) keeps and kernels do not. Each is
scored by a ridge regression of the task's targets on its standardised features: its
leave-one-out squared error, at the best of several penalties. The lower error wins;
kernels wins a tie. Closed form, so no network is trained to choose: one eigendecomposition
of a sample of rows' Gram matrix per transform.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from container import transform

CHOICES = ("kernels", "fft")  # the first wins a tie
PENALTIES = np.logspace(-3, 3, 10)  # ridge penalties tried, as MiniRocket's classifier tries them
SAMPLE_ROWS = 2_000  # rows scored at most: the Gram matrix is rows x rows
SAMPLE_BYTES = 256 * 2**20  # float32 features of the sampled rows, at most


def chosen(
    x: npt.NDArray[Any], targets: npt.NDArray[Any], channels: int, seed: int
) -> tuple[str, dict[str, float]]:
    """The transform in CHOICES whose features predict targets best, and each one's
    leave-one-out mean squared error, scored on a sample of the rows drawn by seed."""
    widest = max(transform.width(x.shape[1:], kind, channels) for kind in CHOICES)
    count = max(2, min(len(x), SAMPLE_ROWS, SAMPLE_BYTES // (4 * widest)))
    rows = np.sort(np.random.default_rng(seed).permutation(len(x))[:count])
    sample, y = x[rows], np.asarray(targets, dtype=np.float64).reshape(len(x), -1)[rows]
    errors = {}
    for kind in CHOICES:
        fitted = transform.fit(sample, kind, channels, seed)
        errors[kind] = leave_one_out_error(transform.features(sample, kind, channels, fitted), y)
    return min(CHOICES, key=lambda kind: errors[kind]), errors


def leave_one_out_error(features: npt.NDArray[np.float32], targets: npt.NDArray[np.float64]) -> float:
    """The mean squared error of a ridge regression (with an intercept) of targets on the
    standardised features, each row predicted by the fit to the others, at the best penalty.

    From the rows' Gram matrix alone: with its eigendecomposition, every penalty's fit and
    every row's leverage take a few products, and a row's leave-one-out residual is its
    residual over one minus its leverage.
    """
    mean, std = transform.standardisation(features)
    x = transform.standardise(features, mean, std).astype(np.float64)
    x -= x.mean(axis=0)  # again in float64: the intercept's direction must be exactly null
    y = targets - targets.mean(axis=0)
    eigenvalues, vectors = np.linalg.eigh(x @ x.T)
    # Directions the rows do not span (the intercept's among them) are fitted by nothing; as
    # computed, their eigenvalues are rounding errors, which would count the intercept twice.
    eigenvalues[eigenvalues <= eigenvalues[-1] * 1e-10] = 0.0
    projected = vectors.T @ y
    best = np.inf
    for penalty in PENALTIES:
        shrink = eigenvalues / (eigenvalues + penalty)
        fitted = vectors @ (shrink[:, np.newaxis] * projected)
        leverage = np.square(vectors) @ shrink + 1.0 / len(y)  # the intercept's share: 1/rows
        with np.errstate(divide="ignore", invalid="ignore"):
            residuals = (y - fitted) / (1.0 - leverage)[:, np.newaxis]
            error = float(np.mean(np.square(residuals)))
        if np.isfinite(error):
            best = min(best, error)
    return best
