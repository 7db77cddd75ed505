"""make bench's accuracy across the collection: every set of collection.py on its official split.

Each set is trained and scored four ways in the same run:
- default: ./train with task.py's defaults, run twice as SageMaker runs it, a fresh process
  each time (cold: the first, warm: the second, the files now in the page cache);
- recipe: the 2018 recipe (recipe.py: fft, batch 32, 100 epochs, fit on numpy);
- logistic and minirocket: baselines.py, in .venv-baselines (seconds to fit and predict,
  cold: numba's cache loaded, warm: the same fit again).
It reports each one's test accuracy, the default's wins, ties (within one test row) and
losses against each, its median gap to MiniRocket, and whether the issue's targets hold.
"""

from __future__ import annotations

import statistics
from typing import Any

from tools import baselines, collection, recipe, runs

OTHERS = ("recipe", "logistic", "minirocket")
SEED = 0  # the baselines'; the default and the recipe keep task.py's seed
MAX_MEDIAN_GAP = 0.02  # below MiniRocket, at most
MAX_GAP_WHERE_STRONG = 0.05  # below MiniRocket where it scores STRONG or more
STRONG = 0.9


def measure(keras: Any, names: list[str]) -> dict[str, Any]:
    sets = {}
    for name in names:
        data = collection.load(name, test=True)
        assert data.x_test is not None and data.y_test is not None
        inputs = recipe.inputs(data)
        _, model = recipe.run(keras, inputs, data.y_train)
        sets[name] = {
            "kind": collection.SETS[name].kind,
            "rows": [len(data.x_train), len(data.x_test)],
            "recording": list(data.x_train.shape[1:]),
            "default": default_runs(data),
            "recipe": {"accuracy": round(recipe.test_accuracy(keras, model, inputs, data.y_test), 4)},
            **baselines.scored(data.x_train, data.y_train, data.x_test, data.y_test, SEED),
        }
    return {"sets": sets, "summary": summary(sets)}


def default_runs(data: collection.RealSet) -> dict[str, float]:
    """./train with the defaults on the set, twice: its test accuracy and each run's seconds."""
    result = runs.trained(data.arrays(), runs=2)
    cold, warm = result.seconds
    return {
        "accuracy": round(result.test_accuracy, 4),
        "cold_seconds": round(cold, 1),
        "warm_seconds": round(warm, 1),
    }


def summary(sets: dict[str, Any]) -> dict[str, Any]:
    """The default against each other method, and the targets."""
    result: dict[str, Any] = {}
    for other in OTHERS:
        counts = {"wins": 0, "ties": 0, "losses": 0}
        for row in sets.values():
            gap, one_row = row["default"]["accuracy"] - row[other]["accuracy"], 1 / row["rows"][1]
            counts["ties" if abs(gap) <= one_row + 1e-9 else "wins" if gap > 0 else "losses"] += 1
        result[other] = counts
    gaps = {name: row["default"]["accuracy"] - row["minirocket"]["accuracy"] for name, row in sets.items()}
    below_recipe = [
        name
        for name, row in sets.items()
        if row["default"]["accuracy"] < row["recipe"]["accuracy"] - 1 / row["rows"][1] - 1e-9
    ]
    far_below = [
        name
        for name, row in sets.items()
        if row["minirocket"]["accuracy"] >= STRONG and gaps[name] < -MAX_GAP_WHERE_STRONG
    ]
    median_gap = statistics.median(gaps.values())
    result["median_gap_to_minirocket"] = round(median_gap, 4)
    result["below_recipe"] = below_recipe
    result["far_below_minirocket"] = far_below
    result["targets"] = {
        "at_least_recipe_on_every_set": not below_recipe,
        "median_gap_at_most_2_points": median_gap >= -MAX_MEDIAN_GAP,
        "within_5_points_where_minirocket_scores_0.9": not far_below,
    }
    return result


def table(results: dict[str, Any]) -> str:
    lines = [
        f"{'collection (test accuracy)':<24}{'kind':>7}{'rows':>11}{'default':>9}{'recipe':>8}"
        f"{'logistic':>9}{'MiniRocket':>11}{'./train cold/warm':>19}{'MiniRocket':>12}",
    ]
    for name, row in results["sets"].items():
        default, rocket = row["default"], row["minirocket"]
        lines.append(
            f"{name:<24}{row['kind']:>7}{'/'.join(map(str, row['rows'])):>11}{default['accuracy']:>9.3f}"
            f"{row['recipe']['accuracy']:>8.3f}{row['logistic']['accuracy']:>9.3f}{rocket['accuracy']:>11.3f}"
            f"{default['cold_seconds']:>11.1f}s/{default['warm_seconds']:.1f}s"
            f"{rocket['cold_seconds']:>7.1f}s/{rocket['warm_seconds']:.1f}s"
        )
    s = results["summary"]
    for other in OTHERS:
        c = s[other]
        lines.append(f"default against {other}: {c['wins']} wins, {c['ties']} ties, {c['losses']} losses")
    lines.append(f"median gap to MiniRocket: {100 * s['median_gap_to_minirocket']:+.1f} points")
    for target, held in s["targets"].items():
        lines.append(f"target {target.replace('_', ' ')}: {'holds' if held else 'MISSED'}")
    if s["below_recipe"] or s["far_below_minirocket"]:
        lines.append(
            f"below the recipe: {s['below_recipe']}; far below MiniRocket: {s['far_below_minirocket']}"
        )
    lines.append(f"not in the registries: {collection.KINDS_MISSING}")
    return "\n".join(lines)
