"""collection_bench.py's summary judges the default against each method and the targets."""

from __future__ import annotations

from tools import collection_bench


def row(default, recipe, logistic, minirocket, test_rows=100):
    scores = {"accuracy": 0.0, "cold_seconds": 1.0, "warm_seconds": 0.5}
    return {
        "kind": "EEG",
        "rows": [50, test_rows],
        "recording": [1, 10],
        "default": {**scores, "accuracy": default},
        "recipe": {"accuracy": recipe},
        "logistic": {**scores, "accuracy": logistic},
        "minirocket": {**scores, "accuracy": minirocket},
    }


def test_a_difference_of_one_test_row_is_a_tie():
    summary = collection_bench.summary({"a": row(0.80, 0.81, 0.70, 0.95)})

    assert summary["recipe"] == {"wins": 0, "ties": 1, "losses": 0}
    assert summary["logistic"] == {"wins": 1, "ties": 0, "losses": 0}
    assert summary["minirocket"] == {"wins": 0, "ties": 0, "losses": 1}


def test_more_than_one_test_row_below_the_recipe_misses_its_target():
    summary = collection_bench.summary({"a": row(0.78, 0.80, 0.5, 0.8), "b": row(0.9, 0.9, 0.5, 0.9)})

    assert summary["below_recipe"] == ["a"]
    assert not summary["targets"]["at_least_recipe_on_every_set"]


def test_the_median_gap_to_minirocket_is_over_the_sets():
    sets = {"a": row(0.90, 0.5, 0.5, 0.91), "b": row(0.80, 0.5, 0.5, 0.83), "c": row(0.70, 0.5, 0.5, 0.80)}

    summary = collection_bench.summary(sets)

    assert summary["median_gap_to_minirocket"] == -0.03
    assert not summary["targets"]["median_gap_at_most_2_points"]


def test_six_points_below_a_strong_minirocket_misses_but_not_below_a_weak_one():
    summary = collection_bench.summary(
        {"strong": row(0.90, 0.5, 0.5, 0.96), "weak": row(0.50, 0.5, 0.5, 0.89)}
    )

    assert summary["far_below_minirocket"] == ["strong"]
    assert not summary["targets"]["within_5_points_where_minirocket_scores_0.9"]


def test_the_table_names_every_set_and_every_target():
    results = {"sets": {"a": row(0.9, 0.8, 0.7, 0.9)}}
    results["summary"] = collection_bench.summary(results["sets"])

    text = collection_bench.table(results)

    assert text.splitlines()[1].startswith("a ")
    assert "target median gap at most 2 points: holds" in text
    assert "default against recipe: 1 wins" in text
