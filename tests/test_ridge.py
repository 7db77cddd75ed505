"""container/ridge.py: a linear fit solved in closed form, its penalty chosen left one out."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from container import ridge
from container.sagemaker_env import UserError


def rows(count: int, width: int, outputs: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((count, width)).astype(np.float32)
    y = x[:, :outputs] @ rng.standard_normal((outputs, outputs)) + 0.5 * rng.standard_normal((count, outputs))
    return x, y


def solved(x: np.ndarray, y: np.ndarray, penalty: float) -> tuple[np.ndarray, np.ndarray]:
    """The penalised normal equations, with an unpenalised intercept, in float64."""
    x_mean, y_mean = x.astype(np.float64).mean(axis=0), y.mean(axis=0)
    centred = x - x_mean
    weights = np.linalg.solve(centred.T @ centred + penalty * np.eye(x.shape[1]), centred.T @ (y - y_mean))
    return weights, y_mean - x_mean @ weights


def left_out_by_refitting(x: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    outputs = []
    for row in range(len(x)):
        others = np.arange(len(x)) != row
        weights, bias = solved(x[others], y[others], penalty)
        outputs.append(x[row] @ weights + bias)
    return np.array(outputs)


@pytest.mark.parametrize(("count", "width"), [(30, 5), (20, 200)])
@pytest.mark.parametrize("penalty", [1e-3, 1.0, 1e3])
def test_each_left_out_output_is_the_fit_to_the_other_rows(count, width, penalty):
    x, y = rows(count, width)

    fitted = ridge.fit(x, y, penalties=[penalty])

    np.testing.assert_allclose(fitted.left_out, left_out_by_refitting(x, y, penalty), atol=1e-8)


@pytest.mark.parametrize(("count", "width"), [(30, 5), (20, 200)])
def test_the_weights_solve_the_penalised_normal_equations(count, width):
    x, y = rows(count, width)

    fitted = ridge.fit(x, y, penalties=[0.5])

    weights, bias = solved(x, y, 0.5)
    np.testing.assert_allclose(fitted.weights, weights, atol=1e-9)
    np.testing.assert_allclose(fitted.bias, bias, atol=1e-9)


def test_the_penalty_kept_has_the_lowest_left_out_error_of_those_tried():
    x, y = rows(40, 60)

    fitted = ridge.fit(x, y)

    errors = {
        float(penalty): np.mean(np.square(ridge.fit(x, y, penalties=[penalty]).left_out - y))
        for penalty in ridge.PENALTIES
    }
    assert fitted.penalty == min(errors, key=errors.__getitem__)


def test_past_dual_rows_a_sample_chooses_the_penalty_and_every_row_is_fitted():
    x, y = rows(60, 8)

    fitted = ridge.fit(x, y, seed=3, dual_rows=20)

    assert len(fitted.left_out_rows) == len(set(fitted.left_out_rows)) == 20
    chosen = ridge.fit(x[fitted.left_out_rows], y[fitted.left_out_rows])
    assert fitted.penalty == chosen.penalty
    np.testing.assert_allclose(fitted.left_out, chosen.left_out)
    weights, bias = solved(x, y, fitted.penalty)
    np.testing.assert_allclose(fitted.weights, weights, atol=1e-9)
    np.testing.assert_allclose(fitted.bias, bias, atol=1e-9)


def test_the_sample_is_drawn_by_seed():
    x, y = rows(60, 8)

    first, again, other = (ridge.fit(x, y, seed=seed, dual_rows=20) for seed in (3, 3, 4))

    assert first.left_out_rows.tolist() == again.left_out_rows.tolist()
    assert first.left_out_rows.tolist() != other.left_out_rows.tolist()


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_rows_are_refused_in_one_line(count):
    x, y = rows(count, 4)

    with pytest.raises(UserError, match=f"at least 2 training rows, not {count}: add rows"):
        ridge.fit(x, y)


def test_more_rows_than_the_dual_takes_of_features_too_wide_to_solve_are_refused_in_one_line():
    _, y = rows(12, 4)
    wide = np.zeros((12, 20_000), dtype=np.float32)  # 20,000 squared float64 is 3 GiB

    with pytest.raises(UserError, match=r"solves a 20000 x 20000 matrix \(twice 3.0 GiB") as refused:
        ridge.fit(wide, y, dual_rows=10)
    assert "\n" not in str(refused.value)


def test_a_feature_constant_over_the_rows_changes_nothing():
    x, y = rows(25, 6)
    widened = np.hstack([x, np.full((25, 1), 3.0, dtype=np.float32)])

    fitted, with_constant = ridge.fit(x, y), ridge.fit(widened, y)

    np.testing.assert_allclose(with_constant.left_out, fitted.left_out, atol=1e-9)
    np.testing.assert_allclose(with_constant.weights[-1], 0.0, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    count=st.integers(2, 12),
    width=st.integers(1, 30),
    penalty=st.sampled_from([1e-2, 1.0, 100.0]),
    seed=st.integers(0, 2**16),
)
def test_left_out_outputs_match_refitting_for_any_shape(count, width, penalty, seed):
    x, y = rows(count, width, outputs=1, seed=seed)

    fitted = ridge.fit(x, y, penalties=[penalty])

    expected = left_out_by_refitting(x, y, penalty)
    np.testing.assert_allclose(fitted.left_out, expected, atol=1e-6 * (1 + np.abs(expected).max()))


def test_the_softmax_scale_has_the_lowest_cross_entropy_of_those_tried():
    rng = np.random.default_rng(0)
    wanted = np.eye(2)[rng.integers(0, 2, 200)]
    scores = (2 * wanted - 1) * 0.3 + 0.4 * rng.standard_normal((200, 2))

    scale = ridge.softmax_scale(scores, wanted)

    def cross_entropy(factor: float) -> float:
        logits = factor * scores
        logits -= logits.max(axis=1, keepdims=True)
        chosen = logits[np.arange(200), wanted.argmax(axis=1)]
        return float(np.mean(np.log(np.exp(logits).sum(axis=1)) - chosen))

    assert all(cross_entropy(scale) <= cross_entropy(other) for other in np.logspace(-2, 3, 101))
    assert 0.1 < scale < 100


def test_scores_that_never_err_are_scaled_to_certain_probabilities():
    wanted = np.eye(2)[[0, 1, 1, 0]]
    scores = 2 * wanted - 1

    scale = ridge.softmax_scale(scores, wanted)

    chosen = 1 / (1 + np.exp(-2 * scale))  # the softmax of the right class, scores +1 and -1
    assert chosen > 1 - 1e-12
