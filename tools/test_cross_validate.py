"""cross_validate.py deals stratified folds and summarises candidates against the anchors."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tools import cross_validate


@given(st.lists(st.integers(0, 3), min_size=3, max_size=200), st.integers(2, 5), st.integers(0, 2**31))
def test_every_class_is_dealt_evenly_round_the_folds(labels, count, seed):
    y = np.array(labels)

    fold = cross_validate.folds(y, count, seed)

    assert fold.min() >= 0 and fold.max() < count
    for label in np.unique(y):
        per_fold = np.bincount(fold[y == label], minlength=count)
        assert per_fold.max() - per_fold.min() <= 1


def test_the_folds_follow_the_seed():
    y = np.arange(30) % 2

    assert (cross_validate.folds(y, 3, 1) == cross_validate.folds(y, 3, 1)).all()
    assert (cross_validate.folds(y, 3, 1) != cross_validate.folds(y, 3, 2)).any()


def scores(accuracies):
    return {"accuracy": accuracies}


def test_the_summary_counts_gaps_to_minirocket_and_results_against_the_recipe():
    results = {
        f"{name}/{index}": {
            "minirocket": scores(anchor),
            "recipe": scores(recipe),
            "default": scores(default),
        }
        for name, anchor, recipe, default in (
            ("a", 0.95, 0.80, 0.85),
            ("b", 0.70, 0.70, 0.70),
            ("c", 0.99, 0.90, 0.90),
        )
        for index in range(cross_validate.FOLDS)
    }

    text = cross_validate.table(results, ["a", "b", "c"], ["minirocket", "recipe", "default"])

    assert "| a | 0.950 | 0.800 | 0.850 |" in text
    assert "default: median gap to MiniRocket -9.0 points over 3 sets, 2 more than 5 below" in text
    assert "against the recipe 1 wins, 2 ties, 0 losses" in text


def test_a_set_not_yet_scored_on_every_fold_shows_a_dash():
    results = {"a/0": {"minirocket": scores(0.9)}}

    assert "| a | — |" in cross_validate.table(results, ["a"], ["minirocket"])
