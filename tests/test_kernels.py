"""features=kernels: MiniRocket's random convolutions, fitted to the training rows, saved with the model."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from conftest import replace_training_file
from container import transform
from container.sagemaker_env import UserError
from container.serving.model import checked_metadata


def recordings(rows: int = 12, channels: int = 2, samples: int = 120, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(rows, channels, samples)).astype(np.float32)


def test_the_biases_are_the_same_for_the_same_rows_and_seed():
    x = recordings()

    first, again = (transform.fit(x, "kernels", 1, seed=7) for _ in range(2))

    assert first == again


def test_another_seed_draws_other_biases():
    x = recordings()

    assert transform.fit(x, "kernels", 1, seed=7) != transform.fit(x, "kernels", 1, seed=8)


def test_the_other_transforms_fit_nothing():
    assert [transform.fit(recordings(), kind, 1, seed=7) for kind in ("timefreq", "fft", "raw")] == [None] * 3


def test_kernels_make_about_ten_thousand_proportions_shared_between_the_channels():
    x = recordings(channels=4)

    features = transform.features(x, "kernels", fitted=transform.fit(x, "kernels", 1, seed=0))

    assert features.shape == (len(x), transform.width(x.shape[1:], "kernels"))
    assert 9_000 <= features.shape[1] <= transform.KERNEL_FEATURES
    assert ((features >= 0) & (features <= 1)).all()


def test_a_feature_is_the_share_of_positions_where_its_kernel_beats_its_bias():
    samples = 50
    x = recordings(rows=3, channels=4, samples=samples)
    fitted = transform.fit(x, "kernels", 1, seed=0)
    biases = np.asarray(fitted["biases"])[1]  # the second channel's
    expected, column = [], 0
    for dilation, per_kernel in fitted["plan"]:
        padded = np.pad(x[:, 1].astype(np.float64), ((0, 0), (4 * dilation, 4 * dilation)))
        for twos in transform.TWOS:
            weights = np.full(9, -1.0)
            weights[twos] = 2.0
            convolved = sum(weights[i] * padded[:, i * dilation : i * dilation + samples] for i in range(9))
            for bias in biases[column : column + per_kernel]:
                expected.append((convolved > bias).mean(axis=1))
            column += per_kernel

    features = transform.features(x, "kernels", fitted=fitted).reshape(len(x), 4, -1)[:, 1]

    counts = {count for _, count in fitted["plan"]}
    assert 1 in counts and max(counts) > 1  # both ways of comparing with the biases are checked
    # float32 against float64 convolutions: a position that ties its bias may go either way
    np.testing.assert_allclose(features, np.array(expected).T, atol=1.5 / samples)


def test_rows_transformed_together_get_the_features_each_gets_alone():
    x = recordings(rows=40, channels=2, samples=900)  # more rows than a chunk holds
    fitted = transform.fit(x, "kernels", 1, seed=0)

    together = transform.features(x, "kernels", fitted=fitted)

    np.testing.assert_array_equal(together[[0, 39]], transform.features(x[[0, 39]], "kernels", fitted=fitted))


def test_a_served_spec_with_arrays_gives_the_features_its_json_gives():
    x = recordings()
    fitted = transform.fit(x, "kernels", 1, seed=0)
    mean, std = transform.standardisation(transform.features(x, "kernels", fitted=fitted))
    spec = json.loads(
        json.dumps(
            {
                "transform": "kernels",
                "channels": 1,
                "fitted": fitted,
                "mean": mean.tolist(),
                "std": std.tolist(),
            }
        )
    )

    np.testing.assert_array_equal(
        transform.model_input(x, transform.loaded(spec)), transform.model_input(x, spec)
    )


def test_concatenated_rows_split_by_channels_give_the_features_of_their_3d_array():
    x = recordings(channels=3)
    flat = x.reshape(len(x), -1)

    fitted = transform.fit(x, "kernels", 1, seed=0)

    assert transform.fit(flat, "kernels", 3, seed=0) == fitted
    np.testing.assert_array_equal(
        transform.features(flat, "kernels", 3, fitted), transform.features(x, "kernels", 1, fitted)
    )


def test_a_row_shifted_in_time_keeps_most_of_its_features():
    # proportions over every position: a shape counts wherever it falls
    x = recordings(rows=1, channels=1, samples=400)
    fitted = transform.fit(x, "kernels", 1, seed=0)
    shifted = np.roll(x, 37, axis=2)

    before, after = (transform.features(rows, "kernels", fitted=fitted) for rows in (x, shifted))

    assert np.abs(before - after).mean() < 0.02


def test_kernels_without_their_fitted_biases_are_refused_in_one_line():
    with pytest.raises(UserError, match="features=kernels needs the biases fitted to the training rows"):
        transform.features(recordings(), "kernels")


def test_biases_fitted_to_recordings_of_another_shape_are_refused_in_one_line():
    fitted = transform.fit(recordings(samples=120), "kernels", 1, seed=0)

    with pytest.raises(UserError, match="the kernels were fitted to recordings of 2x120, not 2x300"):
        transform.features(recordings(samples=300), "kernels", fitted=fitted)


def test_a_model_trained_on_kernels_saves_the_biases_that_serving_applies(opt_ml, sample_data):
    replace_training_file(opt_ml, "output_dict", pickle.dumps(sample_data))
    opt_ml.hyperparameters({"epochs": "1", "features": "kernels"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    spec = opt_ml.metadata()["features"]
    x = np.asarray(sample_data["x_train"], dtype=np.float32)
    assert spec["fitted"] == json.loads(json.dumps(transform.fit(x, "kernels", 1, seed=42)))
    assert spec["fitted"]["plan"][0] == [1, spec["fitted"]["plan"][0][1]]  # dilations from 1
    served = transform.model_input(x[:3], spec)
    assert served.shape == (3, spec["shape"][0]) and np.isfinite(served).all()
    assert checked_metadata(opt_ml.metadata()) == spec["shape"]
