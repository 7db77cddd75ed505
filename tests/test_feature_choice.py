"""features=auto: kernels or fft, whichever model=ridge's fit predicts better, left one out."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import replace_training_file
from container import feature_choice, ridge, transform
from container.serving.model import checked_metadata


def coloured_noise(rows: int = 40, samples: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two classes of noise, told apart by how fast their power falls with frequency, each
    recording at a random gain: the spectrum's shape separates them, and no level does."""
    rng = np.random.default_rng(seed)
    y = np.arange(rows) % 2
    bins = samples // 2 + 1
    spectrum = rng.normal(size=(rows, bins)) + 1j * rng.normal(size=(rows, bins))
    falloff = np.arange(1, bins + 1) ** -np.where(y == 1, 1.0, 0.6)[:, np.newaxis]
    gain = np.exp(rng.uniform(-3, 3, size=(rows, 1)))
    x = np.fft.irfft(spectrum * falloff, n=samples) * gain
    return x.astype(np.float32), np.eye(2, dtype=np.float32)[y]


def blips(rows: int = 40, samples: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two classes of noise, one with a short upward blip somewhere and one with a downward
    blip: a shape, wherever it falls, which the whole row's spectrum does not tell apart."""
    rng = np.random.default_rng(seed)
    y = np.arange(rows) % 2
    x = rng.normal(scale=0.3, size=(rows, samples))
    starts = rng.integers(0, samples - 8, size=rows)
    for row, start in enumerate(starts):
        x[row, start : start + 8] += np.where(y[row] == 1, 3.0, -3.0) * np.hanning(8)
    return x.astype(np.float32), np.eye(2, dtype=np.float32)[y]


def brute_force_error(x: np.ndarray, y: np.ndarray) -> float:
    """Each row predicted by a ridge regression refitted to every other row, with an
    unpenalised intercept, on features standardised as leave_one_out_error does."""
    mean, std = transform.standardisation(x)
    z = transform.standardise(x, mean, std).astype(np.float64)
    errors = []
    for penalty in ridge.PENALTIES:
        squares = []
        for row in range(len(z)):
            others = np.arange(len(z)) != row
            centre, target_centre = z[others].mean(axis=0), y[others].mean(axis=0)
            zc = z[others] - centre
            weights = np.linalg.solve(
                zc.T @ zc + penalty * np.eye(z.shape[1]), zc.T @ (y[others] - target_centre)
            )
            squares.append(np.square(y[row] - target_centre - (z[row] - centre) @ weights))
        errors.append(float(np.mean(squares)))
    return min(errors)


@pytest.mark.parametrize("features", [3, 12, 40], ids=["fewer features than rows", "as many", "more"])
def test_the_leave_one_out_error_is_that_of_refitting_without_each_row(features):
    rng = np.random.default_rng(features)
    x = rng.normal(size=(12, features)).astype(np.float32)
    y = np.stack([x[:, 0] + rng.normal(scale=0.5, size=12), rng.normal(size=12)], axis=1)

    assert feature_choice.leave_one_out_error(x, y) == pytest.approx(brute_force_error(x, y), rel=1e-4)


def test_recordings_told_apart_by_their_spectrum_at_any_gain_choose_fft():
    x, targets = coloured_noise()

    kind, errors = feature_choice.chosen(x, targets, channels=1, seed=0)

    assert kind == "fft" and errors["fft"] < errors["kernels"]


def test_recordings_told_apart_by_a_shape_wherever_it_falls_choose_kernels():
    x, targets = blips()

    kind, errors = feature_choice.chosen(x, targets, channels=1, seed=0)

    assert kind == "kernels" and errors["kernels"] < errors["fft"]


def test_kernels_win_a_tie():
    x, _ = coloured_noise()

    kind, errors = feature_choice.chosen(x, np.ones((len(x), 1), dtype=np.float32), channels=1, seed=0)

    assert kind == "kernels" and errors["kernels"] == errors["fft"] == 0.0


def test_only_a_sample_of_many_rows_drawn_by_seed_is_scored(monkeypatch):
    x, targets = coloured_noise(rows=60)
    monkeypatch.setattr(feature_choice, "SAMPLE_ROWS", 20)

    _, errors = feature_choice.chosen(x, targets, channels=1, seed=5)

    rows = np.sort(np.random.default_rng(5).permutation(60)[:20])
    spectra = transform.features(x[rows], "fft", 1)
    expected = feature_choice.leave_one_out_error(spectra, targets[rows].astype(np.float64))
    assert errors["fft"] == pytest.approx(expected)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(min_value=2, max_value=12),
    columns=st.integers(min_value=1, max_value=30),
    scale=st.sampled_from([1e-20, 1.0, 1e20]),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_the_error_is_a_finite_non_negative_number_for_any_rows(rows, columns, scale, seed):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(rows, columns)) * scale).astype(np.float32)
    x[:, 0] = 1.0  # a constant column as well

    error = feature_choice.leave_one_out_error(x, rng.normal(size=(rows, 2)))

    assert np.isfinite(error) and error >= 0.0


def test_a_model_trained_with_features_auto_saves_the_transform_it_chose(opt_ml):
    x, targets = coloured_noise(rows=60)
    data = {
        "x_train": x,
        "y_train": targets.argmax(axis=1),
        "x_test": x[:10],
        "y_test": targets[:10].argmax(axis=1),
    }
    replace_training_file(opt_ml, "output_dict", pickle.dumps(data))
    opt_ml.hyperparameters({"epochs": "1", "features": "auto", "model": "ridge"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert "features=auto chose fft: ridge leave-one-out error kernels " in result.stdout
    spec = opt_ml.metadata()["features"]
    assert spec["transform"] == "fft" and "fitted" not in spec
    assert checked_metadata(opt_ml.metadata()) == [transform.width(x.shape[1:], "fft")]
