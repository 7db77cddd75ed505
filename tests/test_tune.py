"""make tune: a tuning job over the training job, tried against moto and as a dry run."""

from __future__ import annotations

import json

import pytest

from conftest import SDK_PYTHON
from container.sagemaker_env import metric_definitions
from moto_server import ACCOUNT, Aws
from task import METRICS

ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerTraining"


@pytest.fixture(scope="module")
def dry_run(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    aws = Aws.fresh(moto_endpoint, tmp_path_factory.mktemp("tune"))
    aws.run("make", "upload")
    printed = aws.run(
        "make", "--no-print-directory", "-s", "tune", f"ROLE={ROLE}", "HYPERPARAMETERS=epochs=30", "DRY_RUN=1"
    )
    assert printed.returncode == 0, printed.stderr
    return json.loads(printed.stdout)


def test_the_objective_is_validation_accuracy_maximised(dry_run):
    config = dry_run["HyperParameterTuningJobConfig"]

    assert config["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize",
        "MetricName": "validation:accuracy",
    }
    assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 10
    assert config["ResourceLimits"]["MaxParallelTrainingJobs"] == 2


def test_the_default_ranges_vary_learning_rate_batch_size_and_patience(dry_run):
    ranges = dry_run["HyperParameterTuningJobConfig"]["ParameterRanges"]

    (rate,) = ranges["ContinuousParameterRanges"]
    assert rate == {
        "Name": "learning_rate",
        "MinValue": "0.0001",
        "MaxValue": "0.01",
        "ScalingType": "Logarithmic",
    }
    integers = {
        item["Name"]: (item["MinValue"], item["MaxValue"]) for item in ranges["IntegerParameterRanges"]
    }
    assert integers == {"batch_size": ("32", "1024"), "patience": ("5", "20")}


def test_each_training_job_is_the_one_make_submit_would_launch(dry_run):
    definition = dry_run["TrainingJobDefinition"]

    assert definition["AlgorithmSpecification"]["MetricDefinitions"] == metric_definitions(METRICS)
    assert definition["StaticHyperParameters"]["epochs"] == "30"
    assert "learning_rate" not in definition["StaticHyperParameters"]
    assert definition["RoleArn"] == ROLE
    assert len(dry_run["HyperParameterTuningJobName"]) <= 32


def test_make_tune_creates_the_tuning_job(aws: Aws):
    aws.run("make", "upload")

    result = aws.run(
        "make", "--no-print-directory", "-s", "tune", f"ROLE={ROLE}", "MAX_JOBS=4", "MAX_PARALLEL=2"
    )

    assert result.returncode == 0, result.stderr
    name = result.stdout.splitlines()[0].removeprefix("tuning job: ")
    described = aws.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert described["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 4
    assert "hyper-tuning-jobs/" + name in result.stdout


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("RANGES=dropout=0.1:0.5", "unknown hyperparameter 'dropout'"),
        ("RANGES=learning_rate=0.01:0.001", "is not LOW:HIGH with LOW below HIGH"),
        ("RANGES=features=timefreq,wavelets", "features"),
        ("RANGES=epochs=5:10", "epochs is in both HYPERPARAMETERS and RANGES"),
        (
            "RANGES=patience=5:20 patience=1:3",
            "--ranges gives patience twice ('5:20' and '1:3'): give it once",
        ),
        ("MAX_PARALLEL=20", "MAX_PARALLEL=20 is more than MAX_JOBS=10"),
        ("LOCAL=1", "tuning runs on SageMaker only"),
        ("TENSORBOARD=1", "a tuning job's training jobs take no TensorBoard output: drop TENSORBOARD"),
    ],
)
def test_a_bad_tuning_setting_is_one_error_line_and_sends_nothing(aws: Aws, setting, words):
    aws.run("make", "upload")

    result = aws.run(
        SDK_PYTHON,
        "-m",
        "aws.tune",
        "--role",
        ROLE,
        "--hyperparameters",
        "epochs=30",
        f"--{setting.split('=', 1)[0].lower().replace('_', '-')}",
        setting.split("=", 1)[1],
    )

    assert result.returncode == 1
    assert result.stderr.startswith("tune: error: ") and words in result.stderr
    assert (
        aws.client("sagemaker").list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []
    )
