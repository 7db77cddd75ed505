"""Hyperparameters arrive as strings in each SDK's own encoding; all of them mean the same."""

from __future__ import annotations

import subprocess
import sys

import pytest

from container.sagemaker_env import UserError, parse_hyperparameters
from task import ACCEPTED, HYPERPARAMETERS

DEFAULTS = {"epochs": 100, "learning_rate": 0.001, "optimizer": "adam", "shuffle": True}
RULES = {"epochs": (1, 1000), "learning_rate": (0.0, 1.0), "optimizer": ("adam", "sgd")}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"epochs": "3"}, {"epochs": 3}),  # SDK v2 Estimator: str(value)
        ({"epochs": '"3"'}, {"epochs": 3}),  # SDK v2 framework estimators: json.dumps(str)
        ({"learning_rate": "1e-3"}, {"learning_rate": 0.001}),
        ({"learning_rate": '"0.5"'}, {"learning_rate": 0.5}),
        ({"optimizer": "sgd"}, {"optimizer": "sgd"}),
        ({"optimizer": '"sgd"'}, {"optimizer": "sgd"}),  # json.dumps("sgd")
        ({"shuffle": "True"}, {"shuffle": True}),  # SDK v2: str(True)
        ({"shuffle": "true"}, {"shuffle": True}),  # SDK v3: json.dumps(True)
        ({"shuffle": "False"}, {"shuffle": False}),
        ({"shuffle": '"false"'}, {"shuffle": False}),
    ],
)
def test_every_sdk_encoding_parses_to_the_defaults_type(raw, expected):
    assert parse_hyperparameters(raw, DEFAULTS, RULES) == {**DEFAULTS, **expected}


def test_names_sagemaker_adds_itself_are_ignored():
    raw = {"_tuning_objective_metric": "validation:accuracy", "sagemaker_region": '"us-west-2"'}

    assert parse_hyperparameters(raw, DEFAULTS, RULES) == DEFAULTS


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"epoch": "3"}, "unknown hyperparameter 'epoch': accepted names are epochs, learning_rate"),
        ({"epochs": "3.5"}, "epochs='3.5' is not valid: use an integer from 1 to 1000"),
        ({"epochs": "0"}, "epochs='0' is out of range: use an integer from 1 to 1000"),
        ({"learning_rate": "fast"}, "learning_rate='fast' is not valid: use a number from 0.0 to 1.0"),
        ({"learning_rate": "nan"}, "learning_rate='nan' is not valid"),
        ({"optimizer": "adamw"}, "optimizer='adamw' is out of range: use one of adam, sgd"),
        ({"shuffle": "yes"}, "shuffle='yes' is not valid: use true or false"),
    ],
)
def test_a_bad_name_or_value_is_an_error_naming_what_is_accepted(raw, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_hyperparameters(raw, DEFAULTS, RULES)


def test_a_json_array_instead_of_an_object_is_an_error():
    with pytest.raises(UserError, match="JSON object"):
        parse_hyperparameters(["epochs", "3"], DEFAULTS, RULES)


def test_the_task_declares_every_hyperparameter_the_job_reads():
    read_by_the_job = {"features", "channels", "validation_fraction"}  # container/training_data.py
    read_by_the_loop = {"epochs", "patience", "batch_size", "precision", "seed"}  # train.py, loop.py

    assert read_by_the_job | read_by_the_loop <= set(HYPERPARAMETERS)


def test_every_default_is_itself_accepted():
    assert (
        parse_hyperparameters(
            {name: str(value) for name, value in HYPERPARAMETERS.items()}, HYPERPARAMETERS, ACCEPTED
        )
        == HYPERPARAMETERS
    )


@pytest.mark.parametrize("module", ["task", "train", "submit"])
def test_importing_the_task_the_job_or_submit_does_not_load_tensorflow(module):
    code = f"import sys, {module}; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "False"
