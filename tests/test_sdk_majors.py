"""make submit, tune and deploy under the SageMaker Python SDK's two majors, against moto: v2's
Estimator, HyperparameterTuner and Model (the default) and v3's classes (SDK=3, in .venv-sdk3)
send the same requests, but for the differences listed here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from moto_server import ACCOUNT, REGION, Aws

BUCKET = f"sagemaker-{REGION}-{ACCOUNT}"
# Every setting changed from its default, so a setting one SDK drops shows as a difference.
SETTINGS = (
    f"ROLE=arn:aws:iam::{ACCOUNT}:role/SageMakerTraining",
    "JOB_NAME=both-majors",
    "TAG=v1",
    "INSTANCE_TYPE=ml.c5.xlarge",
    "INSTANCE_COUNT=2",
    "VOLUME_SIZE=50",
    "MAX_RUN=3600",
    "MAX_WAIT=7200",
    "SPOT=1",
    "TENSORBOARD=1",
    "INPUT_MODE=FastFile",
    "DISTRIBUTION=sharded",
    "HYPERPARAMETERS=epochs=3 batch_size=64",
    f"INPUTS=training=s3://{BUCKET}/data/eeg/ validation=s3://{BUCKET}/data/eeg/",
    f"OUTPUT_PATH=s3://{BUCKET}/runs",
)
# v2's Estimator also turns on SageMaker Debugger's hook and profiler, which v3 leaves off;
# train.py uses neither.
ONLY_V2 = {"DebugHookConfig", "ProfilerConfig"}
# A tuning job's instances: v2 sends the newer HyperParameterTuningResourceConfig, v3 the
# ResourceConfig of a training job; SageMaker takes either, with the same three fields.
TUNING_RESOURCES = {"2": "HyperParameterTuningResourceConfig", "3": "ResourceConfig"}
# a tuning job's training jobs take every setting but TensorBoard's
TUNING_SETTINGS = (
    *(setting for setting in SETTINGS if not setting.startswith("TENSORBOARD=")),
    "MAX_JOBS=6",
    "MAX_PARALLEL=3",
    "RANGES=learning_rate=0.0003:0.003 patience=2:9",
)
TRAINED = "eeg-2026-01-01-09-00-00-000"  # the Completed job make deploy hosts
DEPLOY_SETTINGS = (
    f"ROLE=arn:aws:iam::{ACCOUNT}:role/SageMakerTraining",
    f"TRAINING_JOB={TRAINED}",
    "ENDPOINT=both-majors",
    "INSTANCE_TYPE=ml.c5.xlarge",
    "INSTANCE_COUNT=2",
    "MODEL_SERVER_WORKERS=2",
    "MODEL_SERVER_TIMEOUT=120",
)


def dry_runs(aws: Aws, target: str, settings: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """What make target would send under each major (DRY_RUN=1 sends nothing)."""
    sent = {}
    for sdk in ("2", "3"):
        result = aws.run("make", "-s", target, "DRY_RUN=1", f"SDK={sdk}", *settings, timeout=900)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        sent[sdk] = json.loads(result.stdout)
    return sent


@pytest.fixture(scope="module")
def requests_sent(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The CreateTrainingJob request each major would send."""
    aws = Aws.fresh(moto_endpoint, tmp_path_factory.mktemp("majors"))
    assert aws.run("make", "-s", "upload").returncode == 0
    return dry_runs(aws, "submit", SETTINGS)


@pytest.fixture(scope="module")
def tunings_sent(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The CreateHyperParameterTuningJob request each major would send."""
    aws = Aws.fresh(moto_endpoint, tmp_path_factory.mktemp("tunings"))
    assert aws.run("make", "-s", "upload").returncode == 0
    return dry_runs(aws, "tune", TUNING_SETTINGS)


@pytest.fixture(scope="module")
def hostings_sent(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The CreateModel, CreateEndpointConfig and CreateEndpoint requests each major would send."""
    aws = Aws.fresh(moto_endpoint, tmp_path_factory.mktemp("hostings"))
    aws.training_job(TRAINED, f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/eeg:v1")
    return dry_runs(aws, "deploy", DEPLOY_SETTINGS)


def named_alike(value: Any, name: str) -> Any:
    """value with the job's name (a timestamp of its own in each run) written JOB."""
    return json.loads(json.dumps(value).replace(name, "JOB"))


def stamped_alike(value: Any) -> Any:
    """value with every training job name submit.py makes (PREFIX-timestamp) written JOB."""
    return json.loads(re.sub(r"both-majors(-\d+){7}", "JOB", json.dumps(value)))


def test_sdk_3_sends_every_field_sdk_2_sends_but_debuggers(requests_sent):
    assert set(requests_sent["2"]) - set(requests_sent["3"]) == ONLY_V2
    assert set(requests_sent["3"]) <= set(requests_sent["2"])


def test_sdk_3_sends_each_field_as_sdk_2_does(requests_sent):
    v2, v3 = requests_sent["2"], requests_sent["3"]

    for field in set(v3) - {"TrainingJobName"}:
        sent_by_v3 = named_alike(v3[field], v3["TrainingJobName"])
        assert sent_by_v3 == named_alike(v2[field], v2["TrainingJobName"]), field


def test_both_majors_name_the_job_as_make_status_and_make_deploy_find_it(requests_sent):
    for sent in requests_sent.values():
        assert re.fullmatch(r"both-majors-\d{4}(-\d\d){5}-\d{3}", sent["TrainingJobName"])


def test_make_submit_sdk_3_creates_the_job_and_waits_for_it(aws: Aws):
    assert aws.run("make", "-s", "upload").returncode == 0

    result = aws.run("make", "-s", "submit", "SDK=3", *SETTINGS, timeout=900)

    assert result.returncode == 0, result.stderr
    (job,) = aws.training_jobs()
    assert job["TrainingJobStatus"] == "Completed" and job["TrainingJobName"].startswith("both-majors-")
    assert result.stdout.splitlines()[0] == f"job: {job['TrainingJobName']}"
    assert result.stdout.splitlines()[-1] == "status: Completed"


def test_make_submit_sdk_3_refuses_a_dry_run_of_local_mode_in_one_line(aws: Aws):
    result = aws.run("make", "-s", "submit", "SDK=3", "LOCAL=1", "DRY_RUN=1")

    assert result.returncode != 0
    assert "submit: error: SDK v3's local mode takes no request to print" in result.stderr


def test_sdk_3_tunes_over_the_same_training_job_definition_as_sdk_2(tunings_sent):
    v2, v3 = (sent["TrainingJobDefinition"] for sent in (tunings_sent["2"], tunings_sent["3"]))

    assert v2.pop(TUNING_RESOURCES["2"]) == v3.pop(TUNING_RESOURCES["3"])
    assert stamped_alike(v3) == stamped_alike(v2)


def test_sdk_3_sends_the_same_tuning_objective_ranges_and_limits_as_sdk_2(tunings_sent):
    v2, v3 = (sent["HyperParameterTuningJobConfig"] for sent in (tunings_sent["2"], tunings_sent["3"]))

    # RANGES has no choices: v2 sends an empty list of them, v3 none
    assert v2["ParameterRanges"].pop("CategoricalParameterRanges") == []
    assert v3 == v2
    assert v3["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 3}


def test_sdk_3_names_the_tuning_job_as_sdk_2_does(tunings_sent):
    for sent in tunings_sent.values():
        assert re.fullmatch(r"both-majors-\d{6}-\d{6}", sent["HyperParameterTuningJobName"])
    assert set(tunings_sent["3"]) == set(tunings_sent["2"])


def test_sdk_3_hosts_the_model_with_the_requests_sdk_2_sends_but_its_empty_tags(hostings_sent):
    v2, v3 = hostings_sent["2"], hostings_sent["3"]

    assert v2["CreateEndpoint"].pop("Tags") == []
    assert v3 == v2


def test_both_majors_host_the_training_jobs_image_and_model_with_every_setting(hostings_sent):
    model = hostings_sent["3"]["CreateModel"]
    assert model["PrimaryContainer"]["Environment"] == {
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "120",
    }
    [variant] = hostings_sent["3"]["CreateEndpointConfig"]["ProductionVariants"]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.c5.xlarge", 2)


@pytest.mark.parametrize("target", ["submit", "tune", "deploy"])
def test_sdk_3_refuses_the_sdk_config_files_resource_defaults_which_it_would_not_apply(aws: Aws, target):
    # v2 sends a TrainingJob's or Model's VpcConfig from the config file; v3 would leave it out
    config = Path(aws.env["SAGEMAKER_USER_CONFIG_OVERRIDE"])
    config.write_text(
        config.read_text()
        + "  TrainingJob:\n    VpcConfig:\n      SecurityGroupIds: [sg-0123456789abcdef0]\n"
        + "      Subnets: [subnet-0123456789abcdef0]\n"
        + "  Model:\n    EnableNetworkIsolation: true\n"
    )
    assert aws.run("make", "-s", "upload").returncode == 0
    aws.training_job(TRAINED, f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/eeg:v1")
    settings = {"submit": SETTINGS, "tune": TUNING_SETTINGS, "deploy": DEPLOY_SETTINGS}[target]

    result = aws.run("make", "-s", target, "SDK=3", "DRY_RUN=1", *settings, timeout=900)

    assert result.returncode != 0
    assert (
        "error: the SageMaker SDK config file sets defaults for TrainingJob, Model, which SDK v3 "
        "does not apply (v2 does)"
    ) in result.stderr


def test_make_tune_and_deploy_sdk_3_create_what_they_name(aws: Aws):
    assert aws.run("make", "-s", "upload").returncode == 0
    aws.training_job(TRAINED, f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/eeg:v1")

    tuned = aws.run("make", "-s", "tune", "SDK=3", *TUNING_SETTINGS, timeout=900)
    deployed = aws.run("make", "-s", "deploy", "SDK=3", *DEPLOY_SETTINGS, timeout=900)

    assert tuned.returncode == 0, tuned.stderr
    [tuning] = aws.client("sagemaker").list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    assert tuned.stdout.splitlines()[0] == f"tuning job: {tuning['HyperParameterTuningJobName']}"
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout.splitlines()[-1] == "status: InService"
    assert (
        aws.client("sagemaker").describe_endpoint(EndpointName="both-majors")["EndpointStatus"] == "InService"
    )


def test_make_undeploy_sdk_3_deletes_what_make_deploy_sdk_3_made(aws: Aws):
    aws.training_job(TRAINED, f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/eeg:v1")
    assert aws.run("make", "-s", "deploy", "SDK=3", *DEPLOY_SETTINGS, timeout=900).returncode == 0

    result = aws.run("make", "-s", "undeploy", "SDK=3", "ENDPOINT=both-majors", timeout=900)

    assert result.returncode == 0, result.stderr
    sagemaker = aws.client("sagemaker")
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
    assert sagemaker.list_models()["Models"] == []
