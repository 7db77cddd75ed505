"""fused_adam steps Keras's Adam with one fused kernel per weight: the same numbers, state and all."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from container import fused_adam, loop

# The fused kernel takes 1 - beta in float32 where Keras takes it in Python's float64: at
# beta_2 = 0.999 they are 1.3e-5 apart (relative), and the moments and weights as much.
ROUNDING = 1e-4


@pytest.fixture(autouse=True)
def float32_policy() -> Iterator[None]:
    """Other tests in this process may have left Keras on mixed precision."""
    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


def trained(optimizer: keras.optimizers.Optimizer, fused: bool, steps: int, seed: int) -> list[np.ndarray]:
    """The weights, then the optimizer's variables (step count, moments), after steps steps."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(5, activation="tanh"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    variables = model.trainable_variables
    optimizer.build(variables)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((steps, 8, 6)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, (steps, 8))]

    @tf.function(autograph=False)
    def step(features: tf.Tensor, labels: tf.Tensor) -> None:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                keras.losses.categorical_crossentropy(labels, model(features, training=True))
            )
        gradients = tape.gradient(loss, variables)
        if fused:
            fused_adam.apply(optimizer, gradients, variables)
        else:
            optimizer.apply_gradients(zip(gradients, variables, strict=True))

    for features, labels in zip(x, y, strict=True):
        step(features, labels)
    return [np.asarray(v) for v in model.weights] + [np.asarray(v) for v in optimizer.variables]


def assert_fused_steps_match_keras(
    new_optimizer: Callable[[], keras.optimizers.Optimizer], steps: int, seed: int
) -> None:
    ours, keras_own = (
        trained(new_optimizer(), True, steps, seed),
        trained(new_optimizer(), False, steps, seed),
    )
    assert len(ours) == len(keras_own)
    for fused_value, keras_value in zip(ours, keras_own, strict=True):
        np.testing.assert_allclose(fused_value, keras_value, rtol=ROUNDING, atol=ROUNDING / 10)


@settings(max_examples=12, deadline=None)
@given(
    learning_rate=st.floats(1e-4, 0.1),
    beta_1=st.floats(0.5, 0.99),
    beta_2=st.floats(0.9, 0.999),
    epsilon=st.floats(1e-8, 1e-3),
    steps=st.integers(1, 4),
    seed=st.integers(0, 1000),
)
def test_the_fused_step_leaves_the_weights_and_optimizer_state_keras_adam_would(
    learning_rate, beta_1, beta_2, epsilon, steps, seed
):
    def adam() -> keras.optimizers.Adam:
        return keras.optimizers.Adam(
            learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon
        )

    assert_fused_steps_match_keras(adam, steps, seed)


def test_a_learning_rate_schedule_is_read_at_each_fused_step_as_keras_reads_it():
    def adam() -> keras.optimizers.Adam:
        schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=1, decay_rate=0.5)
        return keras.optimizers.Adam(learning_rate=schedule)

    assert_fused_steps_match_keras(adam, steps=4, seed=3)


def test_a_weight_without_a_gradient_is_left_alone():
    optimizer, used, unused = keras.optimizers.Adam(), keras.Variable([1.0]), keras.Variable([2.0])
    optimizer.build([used, unused])
    fused_adam.apply(optimizer, [tf.constant([0.5]), None], [used, unused])
    assert float(unused.numpy()[0]) == 2.0 and float(used.numpy()[0]) < 1.0
    assert int(optimizer.iterations) == 1


def test_the_step_count_the_checkpoint_saves_counts_fused_steps():
    optimizer = keras.optimizers.Adam()
    trained(optimizer, True, steps=3, seed=1)
    assert int(optimizer.iterations) == 3


def test_the_fused_step_matches_keras_under_mixed_bfloat16_too():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    assert_fused_steps_match_keras(keras.optimizers.Adam, steps=3, seed=2)


@pytest.mark.parametrize(
    "optimizer",
    [
        keras.optimizers.Adam(amsgrad=True),
        keras.optimizers.Adam(weight_decay=0.01),
        keras.optimizers.Adam(clipnorm=1.0),
        keras.optimizers.Adam(use_ema=True),
        keras.optimizers.Adam(loss_scale_factor=128.0),
        keras.optimizers.AdamW(),
        keras.optimizers.SGD(),
    ],
    ids=["amsgrad", "weight decay", "clipnorm", "ema", "loss scale", "AdamW", "SGD"],
)
def test_any_other_optimizer_or_adam_option_keeps_keras_own_step(optimizer):
    variables = [keras.Variable(np.zeros(3, np.float32))]
    optimizer.build(variables)  # an unbuilt optimizer is refused anyway
    assert not fused_adam.supported(keras, optimizer, variables)


def test_weights_with_a_constraint_keep_keras_own_step():
    layer = keras.layers.Dense(2, kernel_constraint=keras.constraints.NonNeg())
    layer.build((None, 3))
    optimizer = keras.optimizers.Adam()
    optimizer.build(layer.trainable_variables)
    assert not fused_adam.supported(keras, optimizer, layer.trainable_variables)


def test_weights_other_than_float32_keep_keras_own_step():
    variables, optimizer = [keras.Variable(np.zeros(3, np.float64))], keras.optimizers.Adam()
    optimizer.build(variables)
    assert not fused_adam.supported(keras, optimizer, variables)


def test_a_model_compiled_with_another_optimizer_still_trains():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(2)]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[(x[:, 0] > 0).astype(np.int64)]
    data = {"x_train": x, "y_train": y, "x_val": x[:16], "y_val": y[:16]}
    rows: list[dict[str, float]] = []
    settings = {"epochs": 5, "batch_size": 0}
    loop.fit(keras, model, data, {}, settings, 0, lambda row: bool(rows.append(row)), [])
    assert int(model.optimizer.iterations) == 5 * 2  # 64 rows, 32 a step (the automatic minimum)
    assert rows[-1]["loss"] < rows[0]["loss"]
