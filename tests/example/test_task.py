"""The example task's hyperparameters: delete this folder with the example."""

from __future__ import annotations

import keras
import pytest

import task
from container import fused_adam
from container.sagemaker_env import UserError, parse_hyperparameters
from task import ACCEPTED, HIDDEN_UNITS, HYPERPARAMETERS


def test_the_original_network_and_transform_stay_available_by_name():
    assert "mlp" in ACCEPTED["model"] and "fft" in ACCEPTED["features"]
    assert HIDDEN_UNITS == (1024, 512, 256, 64)
    assert set(HYPERPARAMETERS) == {
        "features",
        "channels",
        "validation_fraction",
        "model",
        "members",
        "epochs",
        "patience",
        "refit",
        "batch_size",
        "learning_rate",
        "precision",
        "seed",
    }


def test_more_than_sixteen_members_are_refused():
    with pytest.raises(UserError, match="members"):
        parse_hyperparameters({"members": "17"}, HYPERPARAMETERS, ACCEPTED)


def test_the_adam_task_py_builds_is_stepped_fused():
    model = task.build_model(keras, task.HYPERPARAMETERS, (8,), ["0", "1"])
    model.optimizer.build(model.trainable_variables)
    assert fused_adam.supported(keras, model.optimizer, model.trainable_variables)
