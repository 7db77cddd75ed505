"""holdout.py: the validation split keeps copies of a recording together, and copies are counted."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from container import holdout

# rows_with_copies's arguments, and a validation fraction
ROWS = {"draw_seed": st.integers(0, 2**32 - 1), "distinct": st.integers(1, 30), "copies": st.integers(0, 30)}
FRACTIONS = st.floats(0.0, 0.9)


def rows_with_copies(draw_seed: int, distinct: int, copies: int, width: int = 5) -> np.ndarray:
    """distinct random rows, then copies of some of them, shuffled."""
    rng = np.random.default_rng(draw_seed)
    x = rng.standard_normal((distinct, width)).astype(np.float32)
    x = np.concatenate([x, x[rng.integers(0, distinct, copies)]])
    return x[rng.permutation(len(x))]


def split(x: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return holdout.validation_split(holdout.digests(x), fraction, seed)


def test_without_copies_the_split_holds_out_the_first_fraction_of_the_seeds_order():
    x = np.arange(50, dtype=np.float32).reshape(25, 2)

    fit_rows, val_rows = split(x, 0.2, seed=3)

    order = np.random.default_rng(3).permutation(25)
    assert val_rows.tolist() == order[:5].tolist()
    assert fit_rows.tolist() == order[5:].tolist()


def test_copies_of_a_held_out_recording_are_held_out_with_it():
    x = np.array([[1.0], [2.0], [1.0], [3.0], [1.0]], dtype=np.float32)
    seed = next(s for s in range(100) if np.random.default_rng(s).permutation(5)[0] in (0, 2, 4))

    fit_rows, val_rows = split(x, 0.2, seed)

    assert sorted(val_rows.tolist()) == [0, 2, 4]
    assert sorted(fit_rows.tolist()) == [1, 3]


@settings(max_examples=50, deadline=None)
@given(**ROWS, fraction=FRACTIONS, seed=st.integers(0, 2**31 - 1))
@example(draw_seed=0, distinct=1, copies=5, fraction=0.5, seed=0)
def test_no_validation_row_repeats_a_training_row_and_every_row_is_on_one_side(
    draw_seed, distinct, copies, fraction, seed
):
    x = rows_with_copies(draw_seed, distinct, copies)

    fit_rows, val_rows = split(x, fraction, seed)

    assert sorted([*fit_rows.tolist(), *val_rows.tolist()]) == list(range(len(x)))
    assert holdout.repeats(holdout.digests(x[val_rows]), holdout.digests(x[fit_rows])) == 0


@settings(max_examples=50, deadline=None)
@given(**ROWS, fraction=FRACTIONS)
def test_the_validation_set_exceeds_its_share_by_less_than_one_recordings_copies(
    draw_seed, distinct, copies, fraction
):
    x = rows_with_copies(draw_seed, distinct, copies)
    largest = max(np.unique(x, axis=0, return_counts=True)[1])

    _, val_rows = split(x, fraction, seed=draw_seed % 1000)

    assert 0 <= len(val_rows) - int(len(x) * fraction) < largest


@settings(max_examples=50, deadline=None)
@given(**ROWS)
def test_repeats_are_counted_as_a_set_of_rows_would_count_them(draw_seed, distinct, copies):
    x = rows_with_copies(draw_seed, distinct, copies)
    training, held_out = x[: len(x) // 2], x[len(x) // 2 :]

    seen = {row.tobytes() for row in training}

    counted = holdout.repeats(holdout.digests(held_out), holdout.digests(training))
    assert counted == sum(row.tobytes() in seen for row in held_out)


def test_recordings_of_several_channels_are_compared_whole():
    x = np.zeros((3, 2, 4), dtype=np.float32)
    x[1, 1, 3] = 1.0  # differs from row 0 in its second channel only

    found = holdout.digests(x)

    assert found[0] == found[2] and found[0] != found[1]


def test_no_rows_hold_no_repeats():
    empty = holdout.digests(np.zeros((0, 3), dtype=np.float32))

    assert holdout.repeats(empty, holdout.digests(np.ones((2, 3), dtype=np.float32))) == 0
    assert [len(part) for part in holdout.validation_split(empty, 0.2, 0)] == [0, 0]
