"""The feature transform and the restricted unpickler, on their own."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from container import labels, transform
from container.sagemaker_env import UserError


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


def test_recording_features_keep_each_recordings_channels_and_samples_unflattened():
    x = np.arange(12, dtype=np.int64).reshape(2, 6)

    features = transform.features(x, "recording", channels=2)

    assert features.shape == (2, 2, 3) and features.dtype == np.float32
    np.testing.assert_array_equal(features[1], [[6, 7, 8], [9, 10, 11]])


def test_standardisation_of_unflattened_recordings_is_per_channel_and_sample():
    x = np.random.default_rng(0).normal(5.0, 2.0, (50, 3, 4)).astype(np.float32)

    mean, std = transform.standardisation(x)
    standardised = transform.standardise(x, mean, std)

    assert mean.shape == std.shape == (3, 4)
    np.testing.assert_allclose(standardised.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(standardised.std(axis=0), 1.0, rtol=1e-4)


def test_standardisation_keeps_constant_features_finite():
    x = np.array([[1.0, 5.0], [3.0, 5.0]], dtype=np.float32)

    mean, std = transform.standardisation(x)

    np.testing.assert_array_equal(transform.standardise(x, mean, std), [[-1.0, 0.0], [1.0, 0.0]])


def test_integer_labels_and_one_hot_labels_give_the_same_class_ids():
    ids = np.array([1, 0, 1])

    assert labels.class_values(np.eye(2)[ids], "y").tolist() == labels.class_values(ids, "y").tolist()


def test_the_bundled_sample_matches_the_generator(tmp_path):
    repo = Path(__file__).resolve().parent.parent
    regenerated = tmp_path / "output_dict"
    maker = repo / "tests" / "make_sample_data.py"
    subprocess.run([sys.executable, str(maker), str(regenerated)], check=True)

    bundled = repo / "test_dir/input/data/training/output_dict"
    assert bundled.read_bytes() == regenerated.read_bytes()
    assert (repo / "test_dir/input/data/training/output_dict").stat().st_size <= 5_000_000


def test_timefreq_features_hold_the_time_course_and_its_level_then_the_log_spectrum():
    t = np.arange(512) / 256
    x = (5.0 + np.where(t >= 1, 3.0, 0.0))[None, :].astype(np.float32)  # a step half-way

    features = transform.features(x, "timefreq")

    course, spectrum = features[0, :32], features[0, 32:]
    np.testing.assert_allclose(course, np.where(np.arange(32) < 16, 5.0, 8.0), atol=1e-5)
    assert spectrum.shape == (32,) and spectrum[0] > spectrum[-1] >= 0


def test_two_dimensional_rows_split_into_channels_transform_each_channel_apart():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 3 * 200)).astype(np.float32)

    together = transform.features(x, "timefreq", channels=3)

    apart = [transform.features(x[:, i * 200 : (i + 1) * 200], "timefreq") for i in range(3)]
    np.testing.assert_array_equal(together, np.concatenate(apart, axis=1))
    np.testing.assert_array_equal(together, transform.features(x.reshape(5, 3, 200), "timefreq"))


def test_rows_that_do_not_split_into_equal_channels_are_refused():
    with pytest.raises(UserError, match="do not split into 7 channels"):
        transform.features(np.zeros((2, 100)), "fft", channels=7)


def test_the_transform_makes_no_copy_of_the_whole_dataset(monkeypatch):
    """Chunked: no float64 or complex copy of the whole input, only the (smaller) features."""
    monkeypatch.setattr(transform, "CHUNK_BYTES", 2**20)
    x = np.random.default_rng(4).normal(size=(2000, 2000)).astype(np.float32)  # 16 MB
    tracemalloc.start()
    try:
        features = transform.features(x, "timefreq")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < x.nbytes / 2, f"peak {peak / 1e6:.1f} MB for {x.nbytes / 1e6:.1f} MB of recordings"
    assert features.dtype == np.float32
