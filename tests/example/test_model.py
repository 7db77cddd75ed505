"""The example's network (task.py's build_model), alone or as several members: delete this
folder with the example when task.py holds your own model."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import task
from container.sagemaker_env import UserError
from test_loop import fitted, float32_policy, two_classes  # the loop's own test helpers

__all__ = ["float32_policy"]  # autouse: every test here starts in float32


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def build(width: int, classes: int, members: int = 1, model: str = "mlp") -> keras.Model:
    hyperparameters = {**task.HYPERPARAMETERS, "members": members, "model": model}
    return task.build_model(keras, hyperparameters, (width,), [str(name) for name in range(classes)])


def test_one_member_is_the_original_network():
    model = build(8, 2, members=1)

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [1024, 512, 256, 64, 2]
    assert [layer.activation.__name__ for layer in dense] == ["tanh"] * 4 + ["softmax"]
    assert len(model.layers) == 5


def test_the_linear_model_is_a_softmax_straight_on_the_features():
    model = build(8, 3, model="linear")

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [(layer.units, layer.activation.__name__) for layer in dense] == [(3, "softmax")]
    assert model.count_params() == 8 * 3 + 3


def test_members_of_the_linear_model_are_refused_in_one_line():
    with pytest.raises(UserError, match="leave it at 1 with model=linear"):
        build(8, 2, members=2, model="linear")


def test_several_members_predict_the_mean_of_their_own_networks():
    keras.utils.set_random_seed(0)
    members, first = 3, task.HIDDEN_UNITS[0]
    model = build(8, 2, members=members)
    x = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    dense, *einsums = [layer for layer in model.layers if layer.weights]
    kernel, bias = (w.numpy() for w in dense.weights)

    by_hand = []
    for k in range(members):
        columns = slice(k * first, (k + 1) * first)  # member k's own units of the first layer
        h = np.tanh(x @ kernel[:, columns] + bias[columns])
        for layer in einsums[:-1]:
            h = np.tanh(h @ layer.kernel.numpy()[k] + layer.bias.numpy()[k])
        last = einsums[-1]
        by_hand.append(softmax(h @ last.kernel.numpy()[k] + last.bias.numpy()[k]))

    np.testing.assert_allclose(model(x).numpy(), np.mean(by_hand, axis=0), rtol=1e-4, atol=1e-6)


@settings(max_examples=8, deadline=None)
@given(members=st.integers(1, 4), classes=st.integers(2, 5), width=st.integers(1, 40), rows=st.integers(1, 9))
def test_every_row_gets_one_probability_per_class_summing_to_one(members, classes, width, rows):
    model = build(width, classes, members=members)
    x = np.random.default_rng(width).standard_normal((rows, width)).astype(np.float32)

    probabilities = model(x).numpy()

    assert probabilities.shape == (rows, classes)
    assert (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_a_model_of_several_members_trains_and_loads_back_predicting_the_same(tmp_path: Path):
    keras.utils.set_random_seed(0)
    model = build(8, 2, members=3)
    data = two_classes(64, 8)

    rows = fitted(model, data, epochs=5)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")

    assert rows[-1]["loss"] < rows[0]["loss"]
    x = data["x_val"]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_several_members_in_bfloat16_give_float32_probabilities_and_load_back_the_same(tmp_path: Path):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    model = build(8, 2, members=3)
    x = np.random.default_rng(2).standard_normal((4, 8)).astype(np.float32)

    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")

    assert model(x).dtype == "float32"
    assert [layer.compute_dtype for layer in model.layers[-3:]] == ["float32"] * 3  # logits, softmax, mean
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
