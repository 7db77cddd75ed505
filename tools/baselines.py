"""The collection's baselines, run from .venv-baselines: python -m tools.baselines IN.npz

scored() runs this from the project's own virtualenv and returns what it prints. IN holds
x_train, y_train, x_eval and y_eval ((rows, channels, samples) recordings and class ids)
and seed. Prints one JSON object: for each baseline its accuracy on the eval
rows and its seconds to fit and predict, cold (the first fit in this process, numba
compiling) and warm (the same fit again).
- minirocket: aeon's MiniRocketClassifier (10,000 kernels, a ridge classifier with
  cross-validated regularisation), the anchor the defaults are measured against;
- logistic: scikit-learn's logistic regression on the standardised samples, flattened.

aeon's numba needs an older numpy than the image's, so this file imports nothing of the
project's and runs from a virtualenv of its own (tools/requirements-baselines.txt).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv-baselines/bin/python"  # make bench and make cross-validate build it

Baseline = Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]


def minirocket(x_train: np.ndarray, y_train: np.ndarray, x_eval: np.ndarray, seed: int) -> np.ndarray:
    from aeon.classification.convolution_based import MiniRocketClassifier

    model = MiniRocketClassifier(random_state=seed)
    model.fit(x_train.astype(np.float64), y_train)
    return model.predict(x_eval.astype(np.float64))


def logistic(x_train: np.ndarray, y_train: np.ndarray, x_eval: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))
    model.fit(x_train.reshape(len(x_train), -1), y_train)
    return model.predict(x_eval.reshape(len(x_eval), -1))


BASELINES: dict[str, Baseline] = {"minirocket": minirocket, "logistic": logistic}


def scored(
    x_train: np.ndarray, y_train: np.ndarray, x_eval: np.ndarray, y_eval: np.ndarray, seed: int
) -> dict[str, dict[str, float]]:
    """Each baseline's accuracy and seconds, computed in .venv-baselines."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "arrays.npz"
        np.savez(path, x_train=x_train, y_train=y_train, x_eval=x_eval, y_eval=y_eval, seed=seed)
        command = [str(PYTHON), "-m", "tools.baselines", str(path)]
        run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if run.returncode:
        raise SystemExit(f"baselines: {' '.join(command)} failed: {run.stderr[-2000:]}")
    return json.loads(run.stdout)


def timed(baseline: Baseline, arrays: dict[str, Any]) -> dict[str, float]:
    times = []
    for _ in range(2):
        started = time.perf_counter()
        predicted = baseline(arrays["x_train"], arrays["y_train"], arrays["x_eval"], int(arrays["seed"]))
        times.append(time.perf_counter() - started)
    accuracy = float(np.mean(predicted == arrays["y_eval"]))
    return {
        "accuracy": round(accuracy, 4),
        "cold_seconds": round(times[0], 2),
        "warm_seconds": round(times[1], 2),
    }


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        raise SystemExit(__doc__)
    with np.load(sys.argv[1]) as data:
        arrays = {name: data[name] for name in data.files}
    print(json.dumps({name: timed(baseline, arrays) for name, baseline in BASELINES.items()}))


if __name__ == "__main__":
    main()
