"""refit=1: after early stopping picks the epochs, a new network trains on training and validation rows."""

from __future__ import annotations

import re

from container.sagemaker_env import metric_patterns
from task import METRICS


def refit_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("refit")]


def test_refit_trains_a_new_network_on_training_and_validation_rows_for_the_kept_epochs(opt_ml):
    opt_ml.hyperparameters({"epochs": "3", "patience": "0", "refit": "1"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    data = re.search(r"^data: train=(\d+) validation=(\d+) ", result.stdout, re.M)
    assert data, result.stdout
    rows = int(data[1]) + int(data[2])
    lines = refit_lines(result.stdout)
    assert lines[0] == f"refit: a new network on {rows} training and validation rows, epochs=3"
    assert [line.split()[0] for line in lines[1:]] == ["refit=1/3", "refit=2/3", "refit=3/3"]
    assert opt_ml.metadata()["hyperparameters"]["refit"] == 1


def test_without_validation_rows_there_is_nothing_to_refit_on(opt_ml):
    opt_ml.hyperparameters({"epochs": "2", "validation_fraction": "0", "refit": "1"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert refit_lines(result.stdout) == []


def test_refit_0_turns_it_off(opt_ml):
    opt_ml.hyperparameters({"epochs": "1", "refit": "0"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert refit_lines(result.stdout) == []


def test_the_metric_definitions_do_not_read_refit_epochs_as_training_epochs():
    line = "refit=2/3 loss=0.1844 accuracy=0.9000 time=0.17s"

    assert not any(pattern.search(line) for pattern in metric_patterns(METRICS).values())
