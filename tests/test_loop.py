"""The training loop (container/loop.py) trains any compiled model on the loss it was given."""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np
import pytest

from container import loop


@pytest.fixture(autouse=True)
def float32_policy() -> Iterator[None]:
    """Other tests in this process may have left Keras on mixed precision."""
    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


def two_classes(rows: int, width: int) -> dict[str, object]:
    """Rows of width numbers and one-hot targets: class 1 where the first number is positive."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, width)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[(x[:, 0] > 0).astype(np.int64)]
    return {"x_train": x, "y_train": y, "x_val": x[:16], "y_val": y[:16]}


def fitted(model: keras.Model, data: dict[str, object], epochs: int, metrics=None) -> list[dict[str, float]]:
    rows: list[dict[str, float]] = []

    def keep_going(row: dict[str, float]) -> bool:
        rows.append(row)
        return False

    metrics = {"accuracy": keras.metrics.categorical_accuracy} if metrics is None else metrics
    settings = {"epochs": epochs, "batch_size": 0}
    loop.fit(keras, model, data, metrics, settings, 0, keep_going, [])
    return rows


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


def test_one_sigmoid_trains_on_the_binary_cross_entropy_it_is_compiled_with():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    data = two_classes(64, 8)
    data = {**data, "y_train": data["y_train"][:, 1:], "y_val": data["y_val"][:, 1:]}

    rows = fitted(model, data, epochs=10, metrics={"accuracy": keras.metrics.binary_accuracy})

    outputs = model(data["x_val"]).numpy()
    by_hand = -np.mean(
        data["y_val"] * np.log(np.clip(outputs, 1e-7, 1))
        + (1 - data["y_val"]) * np.log(np.clip(1 - outputs, 1e-7, 1))
    )
    assert rows[-1]["val_loss"] == pytest.approx(by_hand, rel=1e-3)
    assert rows[-1]["val_accuracy"] > 0.8


def test_a_regression_logs_the_metrics_it_is_given():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    x = np.random.default_rng(0).standard_normal((64, 8)).astype(np.float32)
    y = x[:, :1] * 2.0
    data = {"x_train": x, "y_train": y, "x_val": x[:16], "y_val": y[:16]}

    rows = fitted(model, data, epochs=20, metrics={"mae": keras.metrics.mean_absolute_error})

    assert set(rows[-1]) == {"epoch", "loss", "mae", "val_loss", "val_mae", "time"}
    assert rows[-1]["val_loss"] < rows[0]["val_loss"] / 4


def test_a_model_compiled_without_a_loss_is_refused_in_one_line():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam")

    with pytest.raises(loop.UserError, match=r"compile it with one in task\.py"):
        fitted(model, two_classes(32, 8), epochs=1)


def test_evaluate_gives_the_loss_and_each_metric_as_means_over_rows():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer="adam", loss="mae")
    model.layers[0].kernel.assign(np.array([[1.0], [0.0]], np.float32))
    x = np.array([[1.0, 5.0], [3.0, 5.0]], np.float32)
    y = np.array([[0.0], [0.0]], np.float32)

    assert loop.evaluate(keras, model, x, y, {"mse": keras.metrics.mean_squared_error}) == pytest.approx(
        {"loss": 2.0, "mse": 5.0}
    )


def test_a_large_bfloat16_network_exchanges_its_gradients_in_bfloat16():
    assert loop.gradients_in_bfloat16("bfloat16", loop.BFLOAT16_EXCHANGE_VALUES)


def test_a_small_bfloat16_network_exchanges_its_gradients_with_its_sums_in_one_float32_message():
    assert not loop.gradients_in_bfloat16("bfloat16", 19_490)


def test_a_float32_network_exchanges_its_gradients_in_float32_whatever_its_size():
    assert not loop.gradients_in_bfloat16("float32", 10 * loop.BFLOAT16_EXCHANGE_VALUES)
