"""The feature transform and the restricted unpickler, on their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

import eeg_data
import transform


def test_fft_features_are_the_normalised_spectrum_magnitude():
    t = np.arange(2000) / 250
    x = np.stack([np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 20 * t)])

    features = transform.features(x, "fft")

    assert features.shape == (2, 1001) and features.dtype == np.float32
    np.testing.assert_allclose(features.sum(axis=1), 1.0, rtol=1e-5)
    assert features.argmax(axis=1).tolist() == [80, 160]  # 10 Hz and 20 Hz at 0.125 Hz per bin


def test_fft_features_of_a_silent_row_are_zero_not_nan():
    assert not np.isnan(transform.features(np.zeros((1, 16)), "fft")).any()


def test_raw_features_are_the_samples_as_float32():
    x = np.arange(6, dtype=np.int64).reshape(2, 3)

    np.testing.assert_array_equal(transform.features(x, "raw"), x.astype(np.float32))


def test_standardisation_keeps_constant_features_finite():
    x = np.array([[1.0, 5.0], [3.0, 5.0]], dtype=np.float32)

    mean, std = transform.standardisation(x)

    np.testing.assert_array_equal(transform.standardise(x, mean, std), [[-1.0, 0.0], [1.0, 0.0]])


def test_integer_labels_and_one_hot_labels_give_the_same_class_ids():
    ids = np.array([1, 0, 1])

    assert eeg_data.class_ids(np.eye(2)[ids], "y").tolist() == eeg_data.class_ids(ids, "y").tolist()


def test_the_bundled_sample_matches_the_generator(tmp_path):
    repo = Path(__file__).resolve().parent.parent
    regenerated = tmp_path / "output_dict"
    subprocess.run([sys.executable, str(repo / "make_sample_data.py"), str(regenerated)], check=True)

    bundled = repo / "test_dir/input/data/training/output_dict"
    assert bundled.read_bytes() == regenerated.read_bytes()
    assert (repo / "test_dir/input/data/training/output_dict").stat().st_size <= 5_000_000
