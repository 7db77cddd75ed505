"""The network build_model makes, alone or as several members, and what fit() trains it on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import train


@pytest.fixture(autouse=True)
def float32_policy() -> Iterator[None]:
    """Other tests in this process may have left Keras on mixed precision."""
    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


def two_classes(rows: int, width: int) -> dict[str, object]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, width)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    return {"x_train": x, "y_train": y, "x_val": x[:16], "y_val": y[:16], "class_names": ["0", "1"]}


def fitted(model: keras.Model, data: dict[str, object], epochs: int) -> list[dict[str, float]]:
    rows: list[dict[str, float]] = []

    def keep_going(row: dict[str, float]) -> bool:
        rows.append(row)
        return False

    train.fit(keras, model, data, {**train.HYPERPARAMETERS, "epochs": epochs}, 0, keep_going, [])
    return rows


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def test_one_member_is_the_original_network():
    model = train.build_model(keras, "mlp", 8, 2, members=1)

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [1024, 512, 256, 64, 2]
    assert [layer.activation.__name__ for layer in dense] == ["tanh"] * 4 + ["softmax"]
    assert len(model.layers) == 5


def test_several_members_predict_the_mean_of_their_own_networks():
    keras.utils.set_random_seed(0)
    members, first = 3, train.HIDDEN_UNITS[0]
    model = train.build_model(keras, "mlp", 8, 2, members=members)
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
    model = train.build_model(keras, "mlp", width, classes, members=members)
    x = np.random.default_rng(width).standard_normal((rows, width)).astype(np.float32)

    probabilities = model(x).numpy()

    assert probabilities.shape == (rows, classes)
    assert (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_a_model_of_several_members_trains_and_loads_back_predicting_the_same(tmp_path: Path):
    keras.utils.set_random_seed(0)
    model = train.new_model(keras, {**train.HYPERPARAMETERS, "members": 3}, 8, 2)
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
    model = train.build_model(keras, "mlp", 8, 2, members=3)
    x = np.random.default_rng(2).standard_normal((4, 8)).astype(np.float32)

    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")

    assert model(x).dtype == "float32"
    assert [layer.compute_dtype for layer in model.layers[-3:]] == ["float32"] * 3  # logits, softmax, mean
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


class SumOfMagnitudes(keras.layers.Layer):
    """A layer that adds a penalty of its own, one value per row (Keras sums it)."""

    def call(self, inputs):
        self.add_loss(keras.ops.sum(keras.ops.abs(inputs), axis=-1))
        return inputs


def test_penalties_of_different_shapes_are_summed_into_the_loss():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(4, activation="tanh", kernel_regularizer=keras.regularizers.L2(0.1)),
            SumOfMagnitudes(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy")

    rows = fitted(model, two_classes(64, 8), epochs=3)

    assert len(rows) == 3 and all(np.isfinite(row["loss"]) for row in rows)


def test_the_weight_penalty_of_a_model_of_your_own_is_trained_on():
    def kernel_size_after_training(penalty: float) -> float:
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(16, activation="tanh", kernel_regularizer=keras.regularizers.L2(penalty)),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy")
        fitted(model, two_classes(64, 8), epochs=20)
        return float(np.abs(model.layers[0].kernel.numpy()).sum())

    assert kernel_size_after_training(1.0) < 0.5 * kernel_size_after_training(0.0)
