"""Chooses defaults on the collection's training splits alone: make cross-validate

Each set's training split (collection.py; test splits are never read) is cut into FOLDS
stratified folds. Every candidate trains ./train on all folds but one, with the fold left
out as its test rows, and is scored there; MiniRocket and the logistic regression
(baselines.py) are scored on the same folds. Prints, per candidate, its mean accuracy on
each set, its median gap to MiniRocket, how many sets it loses by more than 5 points, and
its wins, ties and losses against the 2018 recipe. Results are kept in
.cache/cross_validation.json, so a rerun resumes where the last one stopped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from typing import Any

import numpy as np

from tools import baselines, collection, runs

FOLDS = 3
SEED = 0  # the folds'; each candidate keeps ./train's own seed
RESULTS = runs.ROOT / ".cache/cross_validation.json"
# Hyperparameters as a job gets them, each candidate's own in full, whatever task.py's
# defaults are now; today's defaults are auto+ridge+refit.
MLP = {"model": "mlp", "patience": "10", "refit": "0"}
CANDIDATES: dict[str, dict[str, str]] = {
    "recipe": {**MLP, "features": "fft", "batch_size": "32", "patience": "0", "precision": "float32"},
    "timefreq+mlp": {**MLP, "features": "timefreq"},  # the defaults until this cross-validation
    "timefreq+mlp+refit": {**MLP, "features": "timefreq", "refit": "1"},
    "kernels+mlp": {**MLP, "features": "kernels"},
    "kernels+linear": {**MLP, "features": "kernels", "model": "linear"},
    "kernels+linear+refit": {**MLP, "features": "kernels", "model": "linear", "refit": "1"},
    "kernels+linear+refit+lr0.003": {
        **MLP,
        "features": "kernels",
        "model": "linear",
        "refit": "1",
        "learning_rate": "0.003",
    },
    "kernels+linear+refit+lr0.0003": {
        **MLP,
        "features": "kernels",
        "model": "linear",
        "refit": "1",
        "learning_rate": "0.0003",
    },
    "timefreq+linear+all-epochs+refit": {
        "features": "timefreq",
        "model": "linear",
        "patience": "0",
        "refit": "1",
    },
    "kernels+linear+all-epochs+refit": {
        "features": "kernels",
        "model": "linear",
        "patience": "0",
        "refit": "1",
    },
    "kernels+ridge+refit": {"features": "kernels", "model": "ridge", "refit": "1"},
    "auto+ridge+refit": {"features": "auto", "model": "ridge", "refit": "1"},
}


def folds(y: np.ndarray, count: int = FOLDS, seed: int = SEED) -> np.ndarray:
    """Each row's fold: every class dealt round the folds in a seeded order, so each fold
    holds each class in proportion."""
    fold = np.empty(len(y), dtype=np.int64)
    rng = np.random.default_rng(seed)
    start = 0
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        fold[rows] = (np.arange(len(rows)) + start) % count
        start += len(rows)
    return fold


def train_score(arrays: dict[str, np.ndarray], hyperparameters: dict[str, str]) -> dict[str, float]:
    """./train on x_train, scored on x_test: its test accuracy and wall seconds."""
    result = runs.trained(arrays, hyperparameters)
    return {"accuracy": result.test_accuracy, "seconds": round(result.seconds[0], 2)}


def cross_validate(names: list[str], candidates: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in names:
        data = collection.load(name)  # the training split only
        fold = folds(data.y_train)
        for index in range(FOLDS):
            key = f"{name}/{index}"
            scores = results.setdefault(key, {})
            arrays = {
                "x_train": data.x_train[fold != index],
                "y_train": data.y_train[fold != index],
                "x_test": data.x_train[fold == index],
                "y_test": data.y_train[fold == index],
            }
            if "minirocket" not in scores:
                scores.update(
                    baselines.scored(
                        arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], SEED
                    )
                )
            for candidate in candidates:
                if candidate not in scores:
                    scores[candidate] = train_score(arrays, CANDIDATES[candidate])
                    print(f"{key} {candidate} {scores[candidate]}", file=sys.stderr, flush=True)
            RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    return results


def mean_accuracy(results: dict[str, Any], name: str, method: str) -> float | None:
    scores = [results.get(f"{name}/{index}", {}).get(method) for index in range(FOLDS)]
    if any(score is None for score in scores):
        return None
    return statistics.mean(score["accuracy"] for score in scores)


def table(results: dict[str, Any], names: list[str], methods: list[str]) -> str:
    lines = ["| set | " + " | ".join(methods) + " |", "| --- |" + " --- |" * len(methods)]
    accuracies = {
        method: {name: mean_accuracy(results, name, method) for name in names} for method in methods
    }
    for name in names:
        cells = [accuracies[method][name] for method in methods]
        lines.append(
            f"| {name} | " + " | ".join("—" if cell is None else f"{cell:.3f}" for cell in cells) + " |"
        )
    anchor = accuracies.get("minirocket", {})
    recipe = accuracies.get("recipe", {})
    for method in methods:
        pairs = [(accuracies[method][name], anchor.get(name)) for name in names]
        gaps = [own - other for own, other in pairs if own is not None and other is not None]
        far = sum(
            1
            for own, other in pairs
            if own is not None and other is not None and other >= 0.9 and own < other - 0.05
        )
        versus = [(accuracies[method][name], recipe.get(name)) for name in names]
        against = [own - other for own, other in versus if own is not None and other is not None]
        if gaps:
            lines.append(
                f"{method}: median gap to MiniRocket {100 * statistics.median(gaps):+.1f} points over "
                f"{len(gaps)} sets, {far} more than 5 below where it scores 0.9+; against the recipe "
                f"{sum(g > 0.005 for g in against)} wins, {sum(abs(g) <= 0.005 for g in against)} ties, "
                f"{sum(g < -0.005 for g in against)} losses"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(collection.SETS), help="comma-separated set names")
    parser.add_argument("--candidates", default=",".join(CANDIDATES), help="comma-separated candidate names")
    args = parser.parse_args()
    names = args.sets.split(",")
    candidates = args.candidates.split(",")
    unknown = sorted(set(candidates) - set(CANDIDATES))
    if unknown:
        raise SystemExit(f"cross_validate: unknown candidates {unknown}: use {', '.join(CANDIDATES)}")
    results = cross_validate(names, candidates)
    print(table(results, names, ["minirocket", "logistic", *candidates]))


if __name__ == "__main__":
    main()
