"""Whether 2-D rows look like several channels concatenated, for a warning when the
`channels` hyperparameter is left at 1.

Rows that concatenate channels (channel 1's samples, then channel 2's, ...) jump where one
channel ends and the next begins: each channel has its own offset and scale. So for each
count c that divides the row width, each of the c - 1 places where a channel would end is
scored: the jump there, over the row's typical step between neighbouring samples, in the
median row. Where a quarter or more of those places barely jump, c channels do not fit.
The largest count whose places all but rarely jump is the suggestion; the true count is it
or a multiple of it (neighbouring electrodes can have alike offsets, so some places jump
little). A step of a single channel is typical by definition, so it scores about 1.
Channels that join smoothly, at one level and scale, go unnoticed. docs/performance.md
("Concatenated channels left as one") shows it on real recordings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

MIN_SAMPLES = 8  # per channel: a shorter "channel" is more likely a feature vector's block
MAX_CHANNELS = 10_000  # the channels hyperparameter's upper bound
ROWS = 256  # rows looked at, at most: the first ones
VALUES = 1 << 22  # values looked at, at most (32 MiB as float64), for rows of any width
JUMP = 2.5  # times the typical step, in the median row, at three quarters of the places


def suggested_channels(x: npt.NDArray[Any]) -> int | None:
    """The channel count that rows x (2-D, any numbers) look like they concatenate, or None."""
    width = x.shape[1]
    rows = np.asarray(x[: max(2, min(ROWS, VALUES // max(width, 1)))], dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # a step past float64's range is a jump
        steps = np.abs(np.diff(rows, axis=1))
        typical = np.median(steps, axis=1) if width > 1 else np.zeros(len(rows))
        # a row that is mostly flat (padding, a constant) has no typical step to compare with
        usable = np.isfinite(typical) & (typical > 0)
        if usable.sum() < 2:
            return None
        ratios = steps[usable] / typical[usable, np.newaxis]
    found = None
    for count in range(2, min(MAX_CHANNELS, width // MIN_SAMPLES) + 1):
        if width % count:
            continue
        places = np.arange(1, count) * (width // count) - 1  # the step from a channel's last sample
        if np.quantile(np.median(ratios[:, places], axis=0), 0.25) >= JUMP:
            found = count
    return found
