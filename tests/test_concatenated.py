"""container/concatenated.py: which 2-D rows look like several channels one after another."""

from __future__ import annotations

import pickle

import numpy as np
from hypothesis import given
from hypothesis.extra import numpy as hnp

from conftest import replace_training_file
from container.concatenated import MIN_SAMPLES, suggested_channels

ROWS = 64


def walks(rows: int, channels: int, samples: int, seed: int = 3) -> np.ndarray:
    """Smooth recordings (random walks) of (rows, channels, samples), each channel at an offset of its own."""
    rng = np.random.default_rng(seed)
    offsets = rng.normal(0, 50, size=(1, channels, 1))
    return (np.cumsum(rng.normal(size=(rows, channels, samples)), axis=2) + offsets).astype(np.float32)


def test_channels_at_offsets_of_their_own_suggest_their_count():
    assert suggested_channels(walks(ROWS, 6, 200).reshape(ROWS, -1)) == 6


def test_one_smooth_channel_suggests_nothing():
    assert suggested_channels(walks(ROWS, 1, 1200).reshape(ROWS, -1)) is None


def test_white_noise_suggests_nothing():
    assert suggested_channels(np.random.default_rng(5).normal(size=(ROWS, 1200))) is None


def test_flat_rows_suggest_nothing():
    assert suggested_channels(np.zeros((ROWS, 1200), dtype=np.float32)) is None


def test_rows_too_short_for_two_channels_suggest_nothing():
    assert suggested_channels(walks(ROWS, 2, MIN_SAMPLES - 1).reshape(ROWS, -1)) is None


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=80)))
def test_any_rows_suggest_nothing_or_a_count_that_splits_them_into_channels_long_enough(x):
    count = suggested_channels(x)

    assert count is None or (count >= 2 and x.shape[1] % count == 0 and x.shape[1] // count >= MIN_SAMPLES)


def test_training_on_concatenated_channels_warns_when_channels_is_left_unset(opt_ml):
    data = {"x_train": walks(40, 4, 100).reshape(40, -1), "y_train": np.arange(40) % 2}
    replace_training_file(opt_ml, "output_dict", pickle.dumps(data))
    opt_ml.hyperparameters({"epochs": "1"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert (
        "warning: the training rows of 400 samples jump at every 100th sample, as 4 channels "
        "(or a multiple of 4) one after another would: if they concatenate channels, set the "
        "channels hyperparameter to their number"
    ) in result.stdout


def test_training_on_concatenated_channels_with_channels_set_does_not_warn(opt_ml):
    data = {"x_train": walks(40, 4, 100).reshape(40, -1), "y_train": np.arange(40) % 2}
    replace_training_file(opt_ml, "output_dict", pickle.dumps(data))
    opt_ml.hyperparameters({"epochs": "1", "channels": "4"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert "jump at every" not in result.stdout
