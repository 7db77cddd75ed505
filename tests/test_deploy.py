"""`make deploy` and `make undeploy` against a moto server: what they create, delete, print, refuse.

moto's training jobs are Completed at once and its endpoints InService at once, so waiting
ends at the first look. A deploy goes through the SageMaker SDK, whose import takes seconds,
so each deploy runs once per module (a fixture) and several tests look at what it left.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest

from aws.deploy import check_in_service, served_model
from conftest import SDK_PYTHON
from container.sagemaker_env import UserError
from moto_server import ACCOUNT, REGION, Aws

ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerTraining"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
OLDER, NEWER = "eeg-2026-01-01-09-00-00-000", "eeg-2026-01-02-09-00-00-000"
OTHER_IMAGE = "eeg-validation-2026-01-03-09-00-00-000"  # newer, but another image's job


def train(aws: Aws, name: str, image: str) -> str:
    """A Completed training job of image, as submit.py would have left it; returns its model data."""
    return aws.training_job(name, image)


def three_jobs(aws: Aws) -> None:
    train(aws, OLDER, f"{ECR}/eeg:v1")
    train(aws, NEWER, f"{ECR}/eeg:v2")
    train(aws, OTHER_IMAGE, f"{ECR}/eeg-validation:v3")


def hosted(aws: Aws, name: str) -> None:
    """A model, endpoint configuration and endpoint all named name, as make deploy makes them."""
    sagemaker = aws.client("sagemaker")
    container = {"Image": f"{ECR}/eeg:v1", "ModelDataUrl": train(aws, f"{name}-job", f"{ECR}/eeg:v1")}
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[{**variant, "InstanceType": "ml.m5.large"}]
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)


@dataclass
class Hosting:
    """What one command printed, and the models, endpoint configurations and endpoints moto holds."""

    result: subprocess.CompletedProcess
    models: dict[str, dict[str, Any]]
    configs: dict[str, dict[str, Any]]
    endpoints: dict[str, dict[str, Any]]

    @classmethod
    def after(cls, aws: Aws, result: subprocess.CompletedProcess) -> Hosting:
        sagemaker = aws.client("sagemaker")
        models = [model["ModelName"] for model in sagemaker.list_models()["Models"]]
        configs = [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]]
        endpoints = [endpoint["EndpointName"] for endpoint in sagemaker.list_endpoints()["Endpoints"]]
        return cls(
            result,
            {name: sagemaker.describe_model(ModelName=name) for name in models},
            {name: sagemaker.describe_endpoint_config(EndpointConfigName=name) for name in configs},
            {name: sagemaker.describe_endpoint(EndpointName=name) for name in endpoints},
        )

    @property
    def lines(self) -> list[str]:
        return self.result.stdout.splitlines()

    def container(self, name: str) -> dict[str, Any]:
        return self.models[name]["PrimaryContainer"]

    def variant(self, name: str) -> dict[str, Any]:
        [variant] = self.configs[name]["ProductionVariants"]
        return variant


@pytest.fixture(scope="module")
def latest(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Hosting:
    """make deploy with nothing but a role: the newest eeg job, every default, waiting included."""
    aws = Aws.fresh(moto_endpoint, tmp_path_factory.mktemp("latest"))
    three_jobs(aws)
    return Hosting.after(aws, aws.run("make", "-s", "deploy", f"ROLE={ROLE}"))


@pytest.fixture(scope="module")
def named(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Hosting:
    """make deploy of a named job with every setting changed, not waiting."""
    aws = Aws.fresh(moto_endpoint, tmp_path_factory.mktemp("named"))
    three_jobs(aws)
    result = aws.run(
        "make",
        "-s",
        "deploy",
        f"ROLE={ROLE}",
        f"TRAINING_JOB={OLDER}",
        "ENDPOINT=eeg-live",
        "INSTANCE_TYPE=ml.c5.xlarge",
        "INSTANCE_COUNT=2",
        "MODEL_SERVER_WORKERS=2",
        "MODEL_SERVER_TIMEOUT=120",
        "WAIT=0",
    )
    return Hosting.after(aws, result)


@pytest.fixture(scope="module")
def dry_run(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Hosting:
    """deploy.py --dry-run, the role from SAGEMAKER_ROLE, without the test's SDK warning switch."""
    aws = Aws.fresh(moto_endpoint, tmp_path_factory.mktemp("dry-run"))
    three_jobs(aws)
    printed = aws.run(
        SDK_PYTHON,
        "-m",
        "aws.deploy",
        "--dry-run",
        SAGEMAKER_ROLE=ROLE,
        SAGEMAKER_SUPPRESS_V2_WARNING="",
    )
    return Hosting.after(aws, printed)


# --- what a plain `make deploy ROLE=...` creates


def test_deploy_creates_one_model_one_endpoint_config_and_one_endpoint(latest: Hosting) -> None:
    assert latest.result.returncode == 0, latest.result.stderr
    assert list(latest.models) == list(latest.configs) == list(latest.endpoints) == [NEWER]


def test_deploy_serves_the_newest_completed_job_of_the_image_by_default(latest: Hosting) -> None:
    assert latest.container(NEWER)["ModelDataUrl"] == f"s3://team-bucket/output/{NEWER}/output/model.tar.gz"


def test_deploy_runs_the_jobs_own_training_image(latest: Hosting) -> None:
    assert latest.container(NEWER)["Image"] == f"{ECR}/eeg:v2"


def test_deploy_gives_the_model_the_role_it_was_given(latest: Hosting) -> None:
    assert latest.models[NEWER]["ExecutionRoleArn"] == ROLE


def test_deploy_hosts_on_one_ml_m5_large_by_default(latest: Hosting) -> None:
    variant = latest.variant(NEWER)
    assert (variant["ModelName"], variant["InstanceType"], variant["InitialInstanceCount"]) == (
        NEWER,
        "ml.m5.large",
        1,
    )


def test_deploy_sets_no_container_environment_unless_asked(latest: Hosting) -> None:
    assert latest.container(NEWER).get("Environment", {}) == {}


def test_deploy_prints_the_job_the_model_the_endpoint_config_and_the_endpoint(latest: Hosting) -> None:
    assert {
        f"job: {NEWER}",
        f"image: {ECR}/eeg:v2",
        f"model: {NEWER}",
        f"endpoint config: {NEWER}",
        f"endpoint: {NEWER}",
    } <= set(latest.lines)


def test_deploy_waits_until_the_endpoint_is_in_service_by_default(latest: Hosting) -> None:
    assert latest.endpoints[NEWER]["EndpointStatus"] == "InService"
    assert latest.lines[-1] == "status: InService"


# --- what was asked for, through Make's variables


def test_deploy_serves_the_training_job_asked_for(named: Hosting) -> None:
    assert named.result.returncode == 0, named.result.stderr
    assert named.container("eeg-live")["Image"] == f"{ECR}/eeg:v1"
    assert (
        named.container("eeg-live")["ModelDataUrl"] == f"s3://team-bucket/output/{OLDER}/output/model.tar.gz"
    )


def test_deploy_names_the_model_config_and_endpoint_as_asked(named: Hosting) -> None:
    assert list(named.models) == list(named.configs) == list(named.endpoints) == ["eeg-live"]
    assert named.endpoints["eeg-live"]["EndpointConfigName"] == "eeg-live"
    assert "endpoint: eeg-live" in named.lines


def test_deploy_uses_the_instance_type_and_count_asked_for(named: Hosting) -> None:
    variant = named.variant("eeg-live")
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.c5.xlarge", 2)


def test_deploy_passes_the_model_server_settings_to_the_container(named: Hosting) -> None:
    assert named.container("eeg-live")["Environment"] == {
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "120",
    }


def test_deploy_with_wait_0_reports_the_status_once_without_waiting(named: Hosting) -> None:
    assert not any(line.startswith("waiting") for line in named.lines)
    assert named.lines[-1] == "status: InService"


# --- --dry-run


def test_dry_run_prints_the_three_requests_and_creates_nothing(dry_run: Hosting) -> None:
    assert dry_run.result.returncode == 0, dry_run.result.stderr
    requests = json.loads(dry_run.result.stdout)
    assert list(requests) == ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"]
    assert requests["CreateModel"]["PrimaryContainer"]["Image"] == f"{ECR}/eeg:v2"
    assert requests["CreateEndpoint"]["EndpointName"] == NEWER
    assert (dry_run.models, dry_run.configs, dry_run.endpoints) == ({}, {}, {})


def test_dry_run_takes_the_role_from_sagemaker_role(dry_run: Hosting) -> None:
    assert json.loads(dry_run.result.stdout)["CreateModel"]["ExecutionRoleArn"] == ROLE


def test_deploy_silences_the_sdk_v2_import_warning_and_log_lines(dry_run: Hosting) -> None:
    assert dry_run.result.stderr == ""


# --- refusals: one line on stderr, exit status 1, nothing created


def refused(aws: Aws, *arguments: str, **env: str) -> Hosting:
    """Runs deploy.py itself (make would turn its status 1 into 2) and checks the one-line rule."""
    hosting = Hosting.after(aws, aws.run(SDK_PYTHON, "-m", "aws.deploy", *arguments, **env))
    assert hosting.result.returncode == 1
    assert hosting.result.stdout == ""
    assert hosting.result.stderr.count("\n") == 1 and hosting.result.stderr.startswith("deploy: error: ")
    return hosting


def test_deploy_of_a_job_that_does_not_exist_fails_naming_it(aws: Aws) -> None:
    three_jobs(aws)

    hosting = refused(aws, "--role", ROLE, "--training-job", "eeg-2020-01-01-00-00-00-000")

    assert f"no training job eeg-2020-01-01-00-00-00-000 in {REGION}" in hosting.result.stderr
    assert (hosting.models, hosting.configs, hosting.endpoints) == ({}, {}, {})


def test_deploy_with_no_completed_job_of_the_image_says_to_submit_first(aws: Aws) -> None:
    train(aws, OTHER_IMAGE, f"{ECR}/eeg-validation:v3")  # eeg-validation-... is not an eeg job

    hosting = refused(aws, "--role", ROLE)

    assert f"no Completed training job named eeg-TIMESTAMP in {REGION}" in hosting.result.stderr
    assert "make submit" in hosting.result.stderr


def test_deploy_without_a_role_says_get_execution_role_works_only_inside_sagemaker(aws: Aws) -> None:
    three_jobs(aws)

    hosting = refused(aws)

    assert "deploy: error: no IAM role" in hosting.result.stderr
    assert "get_execution_role() works only inside SageMaker" in hosting.result.stderr
    assert hosting.endpoints == {}


def test_deploy_refuses_a_name_already_in_use_rather_than_reuse_its_model(aws: Aws) -> None:
    three_jobs(aws)
    container = {"Image": f"{ECR}/someone-elses:v1", "ModelDataUrl": "s3://elsewhere/model.tar.gz"}
    aws.client("sagemaker").create_model(
        ModelName="eeg-live", ExecutionRoleArn=ROLE, PrimaryContainer=container
    )

    hosting = refused(aws, "--role", ROLE, "--endpoint", "eeg-live")

    assert "a SageMaker model named eeg-live already exists" in hosting.result.stderr
    assert (hosting.configs, hosting.endpoints) == ({}, {})


def test_deploy_refuses_server_settings_the_container_would_refuse_at_start(aws: Aws) -> None:
    three_jobs(aws)

    hosting = refused(aws, "--role", ROLE, "--model-server-timeout", "99999")

    assert (
        "SAGEMAKER_MODEL_SERVER_TIMEOUT='99999' is not a whole number from 1 to 3600" in hosting.result.stderr
    )
    assert (hosting.configs, hosting.endpoints) == ({}, {})


def test_deploy_refuses_an_instance_type_sagemaker_would_not_know(aws: Aws) -> None:
    three_jobs(aws)

    hosting = refused(aws, "--role", ROLE, "--instance-type", "ml.c5.large;rm")

    assert "invalid instance type 'ml.c5.large;rm'" in hosting.result.stderr
    assert (hosting.configs, hosting.endpoints) == ({}, {})


def test_deploy_refuses_an_invalid_endpoint_name(aws: Aws) -> None:
    hosting = refused(aws, "--role", ROLE, "--endpoint", "eeg_live")

    assert "invalid endpoint name 'eeg_live': letters, digits and '-'" in hosting.result.stderr


@pytest.mark.parametrize(
    ("status", "extra", "expected"),
    [
        ("InProgress", {}, "training job eeg-1 is InProgress: only a Completed job's model is deployed"),
        ("Failed", {"FailureReason": "out of memory"}, "training job eeg-1 is Failed (out of memory)"),
        ("Completed", {"ModelArtifacts": {}}, "training job eeg-1 left no model artifact"),
    ],
)
def test_deploy_refuses_a_job_without_a_completed_model(status: str, extra: dict, expected: str) -> None:
    # moto's jobs are Completed at once, with an artifact: these descriptions are what AWS returns
    job = {
        "TrainingJobName": "eeg-1",
        "TrainingJobStatus": status,
        "AlgorithmSpecification": {"TrainingImage": f"{ECR}/eeg:v1"},
        "ModelArtifacts": {"S3ModelArtifacts": "s3://b/output/eeg-1/output/model.tar.gz"},
        **extra,
    }
    with pytest.raises(UserError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        served_model(job)


def test_an_endpoint_that_fails_ends_the_deploy_with_its_failure_reason() -> None:
    # moto's endpoints are InService at once: this is DescribeEndpoint's answer for a failed one
    failed = {"EndpointName": "eeg-live", "EndpointStatus": "Failed", "FailureReason": "ping timed out"}
    with pytest.raises(UserError, match="endpoint eeg-live Failed: ping timed out"):
        check_in_service(failed)


# --- make undeploy


def test_undeploy_deletes_the_endpoint_its_config_and_its_model(aws: Aws) -> None:
    hosted(aws, "eeg-live")
    hosted(aws, "eeg-other")

    hosting = Hosting.after(aws, aws.run("make", "-s", "undeploy", "ENDPOINT=eeg-live"))

    assert hosting.result.returncode == 0, hosting.result.stderr
    assert hosting.lines == [
        "deleted endpoint: eeg-live",
        "deleted endpoint config: eeg-live",
        "deleted model: eeg-live",
    ]
    assert list(hosting.models) == list(hosting.configs) == list(hosting.endpoints) == ["eeg-other"]


def test_undeploy_with_dry_run_deletes_nothing(aws: Aws) -> None:
    hosted(aws, "eeg-live")

    hosting = Hosting.after(aws, aws.run("make", "-s", "undeploy", "ENDPOINT=eeg-live", "DRY_RUN=1"))

    assert hosting.lines[0] == "would delete endpoint: eeg-live"
    assert list(hosting.models) == list(hosting.configs) == list(hosting.endpoints) == ["eeg-live"]


def test_undeploy_of_a_missing_endpoint_fails_and_deletes_nothing(aws: Aws) -> None:
    hosted(aws, "eeg-other")

    hosting = refused(aws, "--undeploy", "--endpoint", "eeg-live")

    assert f"no endpoint eeg-live in {REGION}: nothing deleted" in hosting.result.stderr
    assert list(hosting.endpoints) == ["eeg-other"]


def test_undeploy_without_an_endpoint_name_says_how_to_give_one(aws: Aws) -> None:
    result = aws.run("make", "-s", "undeploy")

    assert result.returncode != 0
    assert "deploy: error: --undeploy needs the endpoint's name: make undeploy ENDPOINT=NAME" in result.stderr
