"""A linear head solved in closed form: ridge regression with its penalty chosen left one out.

MiniRocket's own classifier, and the reason for model=ridge: a softmax trained by Adam
stops short of the penalised optimum of the same linear fit (docs/performance.md, "Tried
since"). Here the optimum is solved for. Every penalty in PENALTIES is tried; the one whose
fit predicts each row best from the other rows (the mean squared leave-one-out residual,
as scikit-learn's RidgeCV scores it) is kept.

With up to DUAL_ROWS rows, everything comes from one eigendecomposition of the rows' Gram
matrix: every penalty's fit, and each row's leave-one-out residual, which is its residual
over one minus its leverage. With more rows, the penalty is chosen so on DUAL_ROWS of them,
drawn by seed, and the fit on every row solves the features' normal equations instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from container.sagemaker_env import UserError

PENALTIES = np.logspace(-3, 3, 10)  # as MiniRocket's RidgeClassifierCV tries them
DUAL_ROWS = 4_096  # the Gram matrix is rows x rows; past this, a sample chooses the penalty
BLOCK_ROWS = 1_024  # rows multiplied at a time, in float64
PRIMAL_BYTES = 3 * 2**30  # the normal equations' features x features matrices (2 at once), at most


@dataclass
class Fit:
    """outputs = features @ weights + bias, at the penalty chosen."""

    weights: npt.NDArray[np.float64]  # features x targets
    bias: npt.NDArray[np.float64]  # targets
    penalty: float
    left_out: npt.NDArray[np.float64]  # the outputs of rows left_out_rows, each from the fit to the others
    left_out_rows: npt.NDArray[np.int64]


def fit(
    x: npt.ArrayLike,
    targets: npt.ArrayLike,
    seed: int = 0,
    dual_rows: int = DUAL_ROWS,
    penalties: npt.ArrayLike = PENALTIES,
) -> Fit:
    """The ridge regression (with an unpenalised intercept) of targets on the rows x.

    left_out holds the leave-one-out outputs of the rows the penalty was chosen on
    (left_out_rows): every row, or dual_rows of them drawn by seed.
    """
    if len(x) < 2:
        raise UserError(f"a ridge fit needs at least 2 training rows, not {len(x)}: add rows")
    x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    y = np.asarray(targets, dtype=np.float64).reshape(len(x), -1)
    if len(x) <= dual_rows:
        return _dual(x, y, np.arange(len(x)), penalties)
    width = x.shape[1]
    if 2 * 8 * width**2 > PRIMAL_BYTES:
        raise UserError(
            f"a ridge fit on {len(x)} rows of {width} features solves a {width} x {width} matrix "
            f"(twice {8 * width**2 / 2**30:.1f} GiB, more than {PRIMAL_BYTES / 2**30:.0f} in all): use "
            f"fewer features, at most {dual_rows} training rows, or a model trained by epochs"
        )
    rows = np.sort(np.random.default_rng(seed).permutation(len(x))[:dual_rows])
    chosen = _dual(x[rows], y[rows], rows, penalties)
    weights, bias = _primal(x, y, chosen.penalty)
    return Fit(weights, bias, chosen.penalty, chosen.left_out, rows)


def _dual(
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.float64],
    rows: npt.NDArray[np.int64],
    penalties: npt.ArrayLike,
) -> Fit:
    mean = x.mean(axis=0, dtype=np.float64)
    gram = _centred_gram(x, mean)
    y_mean = y.mean(axis=0)
    centred_y = y - y_mean
    # Centred, the rows are orthogonal to the intercept's direction (all ones). Given an
    # eigenvalue above every other, it is the last eigenvector, exactly, and is left out of
    # the fit: the intercept is not penalised, and is fitted by the centring alone.
    ones = np.full(len(x), 1.0 / np.sqrt(len(x)))
    above = 2.0 * np.trace(gram) + 1.0
    eigenvalues, vectors = np.linalg.eigh(gram + above * np.outer(ones, ones))
    eigenvalues, vectors = np.maximum(eigenvalues[:-1], 0.0), vectors[:, :-1]
    projected = vectors.T @ centred_y
    squared_vectors = np.square(vectors)
    best: tuple[float, float, npt.NDArray[np.float64]] | None = None
    for penalty in np.atleast_1d(penalties):
        left_out = _left_out_residuals(eigenvalues, vectors, squared_vectors, projected, float(penalty))
        error = float(np.mean(np.square(left_out)))
        if np.isfinite(error) and (best is None or error < best[0]):
            best = (error, float(penalty), left_out)
    if best is None:
        raise UserError("no ridge penalty fits the training rows with finite errors: rescale the recordings")
    _, penalty, left_out = best
    # The dual coefficients: weights = centred x^T @ coefficients.
    coefficients = vectors @ (projected / (eigenvalues + penalty)[:, np.newaxis])
    weights = _transposed_product(x, mean, coefficients)
    bias = y_mean - mean @ weights
    return Fit(weights, bias, penalty, y - left_out, rows)


def _left_out_residuals(
    eigenvalues: npt.NDArray[np.float64],
    vectors: npt.NDArray[np.float64],
    squared_vectors: npt.NDArray[np.float64],
    projected: npt.NDArray[np.float64],
    penalty: float,
) -> npt.NDArray[np.float64]:
    """Each row's residual from the fit to the other rows: its residual over one minus its
    leverage. Both come from penalty / (eigenvalue + penalty): subtracting a fit from the
    targets, or a leverage from one, would cancel away every digit when the penalty is small
    beside the eigenvalues."""
    unexplained = penalty / (eigenvalues + penalty)
    residuals = vectors @ (unexplained[:, np.newaxis] * projected)
    return residuals / (squared_vectors @ unexplained)[:, np.newaxis]


def _primal(
    x: npt.NDArray[np.float32], y: npt.NDArray[np.float64], penalty: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The fit at penalty from the features' normal equations, a block of rows at a time."""
    mean = x.mean(axis=0, dtype=np.float64)
    y_mean = y.mean(axis=0)
    width = x.shape[1]
    covariance = np.zeros((width, width))
    cross = np.zeros((width, y.shape[1]))
    product = np.empty_like(covariance)  # each block's, summed in place: two matrices, not three
    for start in range(0, len(x), BLOCK_ROWS):
        block = x[start : start + BLOCK_ROWS] - mean
        covariance += np.matmul(block.T, block, out=product)
        cross += block.T @ (y[start : start + BLOCK_ROWS] - y_mean)
    del product
    covariance[np.diag_indices(width)] += penalty
    weights = np.linalg.solve(covariance, cross)  # a copy of covariance: the second matrix
    return weights, y_mean - mean @ weights


def _centred_gram(x: npt.NDArray[np.float32], mean: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(x - mean) @ (x - mean)^T in float64, a block of rows at a time: float32's rounding
    would give the directions the rows do not span eigenvalues larger than a small penalty."""
    gram = np.empty((len(x), len(x)))
    for start in range(0, len(x), BLOCK_ROWS):
        block = x[start : start + BLOCK_ROWS] - mean
        for other in range(0, start + len(block), BLOCK_ROWS):
            product = block @ (x[other : other + BLOCK_ROWS] - mean).T
            gram[start : start + len(block), other : other + BLOCK_ROWS] = product
            gram[other : other + BLOCK_ROWS, start : start + len(block)] = product.T
    return gram


def _transposed_product(
    x: npt.NDArray[np.float32], mean: npt.NDArray[np.float64], coefficients: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """(x - mean)^T @ coefficients, a block of rows at a time."""
    total = np.zeros((x.shape[1], coefficients.shape[1]))
    for start in range(0, len(x), BLOCK_ROWS):
        total += (x[start : start + BLOCK_ROWS] - mean).T @ coefficients[start : start + BLOCK_ROWS]
    return total


def softmax_scale(scores: npt.ArrayLike, wanted: npt.ArrayLike) -> float:
    """The factor on scores whose softmax gives wanted's classes (one-hot rows) the lowest
    cross-entropy: a ridge's outputs are about ±1, not log-odds. Chosen on left-out scores,
    so the probabilities are those of rows the fit did not see."""
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.argmax(np.asarray(wanted), axis=1)
    best_scale, best_loss = 1.0, np.inf
    for scale in np.logspace(-2, 3, 101):
        logits = scale * scores
        logits -= logits.max(axis=1, keepdims=True)
        loss = float(np.mean(np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(len(truth)), truth]))
        if loss < best_loss:
            best_scale, best_loss = float(scale), loss
    return best_scale
