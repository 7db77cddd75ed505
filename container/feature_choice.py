"""features=auto: the transform a job's training rows are read through, chosen before training.

kernels (MiniRocket's random convolutions) suit most recordings: shapes at every scale,
wherever they fall. Some classes differ instead in how power spreads over the whole row's
frequencies, which fft (the original workflow's input) keeps and kernels do not. Each is
scored by the ridge regression model=ridge solves (ridge.py) of the task's targets on its
standardised features: its leave-one-out squared error, at its best penalty, the criterion
that chooses the penalty. The lower error wins; kernels wins a tie.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from container import ridge, transform

CHOICES = ("kernels", "fft")  # the first wins a tie
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
        features = transform.features(sample, kind, channels, transform.fit(sample, kind, channels, seed))
        # Features that overflow float32 lose: loading the chosen kind says how to rescale.
        errors[kind] = leave_one_out_error(features, y) if np.isfinite(features).all() else np.inf
    return min(CHOICES, key=lambda kind: errors[kind]), errors


def leave_one_out_error(features: npt.NDArray[np.float32], targets: npt.NDArray[np.float64]) -> float:
    """The mean squared error of the ridge fit of targets on the standardised features, each
    row predicted by the fit to the others, at the penalty that makes it least."""
    mean, std = transform.standardisation(features)
    fitted = ridge.fit(transform.standardise(features, mean, std), targets, dual_rows=len(features))
    return float(np.mean(np.square(fitted.left_out - targets)))
