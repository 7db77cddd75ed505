"""Measures the feature transform on the bundled sample: make bench

Prints, from one run, how much faster eeg_data.features is than the per-row Python loop
the original workflow used, so the choice of a vectorised transform stays measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import eeg_data
import transform

SAMPLE = Path(__file__).parent / "test_dir/input/data/training"
REPEATS = 5


def per_row_fft(x: np.ndarray) -> np.ndarray:
    """The original's fft_x as it was meant: one row at a time, in Python."""
    rows = []
    for row in x:
        magnitude = np.abs(np.fft.rfft(row))
        rows.append(magnitude / magnitude.sum())
    return np.array(rows, dtype=np.float32)


def best_seconds(function: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> float:
    """The fastest of REPEATS runs: the least disturbed by whatever else the machine does."""
    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        function(x)
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    x = eeg_data.read_channel(SAMPLE, "training").train.x
    np.testing.assert_allclose(transform.features(x, "fft"), per_row_fft(x), rtol=1e-4, atol=1e-7)
    vectorised = best_seconds(lambda rows: transform.features(rows, "fft"), x)
    looped = best_seconds(per_row_fft, x)
    print(f"rows={len(x)} samples_per_row={x.shape[1]} repeats={REPEATS}")
    print(f"fft features: vectorised={vectorised * 1e3:.1f}ms per_row_loop={looped * 1e3:.1f}ms")
    print(f"speedup={looped / vectorised:.1f}x")


if __name__ == "__main__":
    main()
