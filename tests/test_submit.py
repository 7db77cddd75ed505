"""`make submit` against a moto server: the training job it creates, what it prints, how it fails.

Launching goes through the SageMaker SDK, whose import and config checks take seconds, so
each launch runs once per module (a fixture) and several tests look at its result.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import submit
from aws.context import console_url, ecr_registry, image_uri
from conftest import SDK, SDK_PYTHON
from container.sagemaker_env import format_epoch_line, format_test_line, metric_definitions
from moto_server import ACCOUNT, REGION, REPO, Aws, enforce_iam
from task import METRICS

ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerTraining"


def sdk_2_only(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(SDK == "3", reason=f"SDK v2 only: {reason}")


LOCAL_MODE_V2 = (
    "v2's local mode takes a request DRY_RUN=1 prints; v3's takes none (the container tests run it)"
)
BUCKET = f"sagemaker-{REGION}-{ACCOUNT}"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


@dataclass
class Launch:
    """What one `make submit` printed, and the training jobs moto holds afterwards."""

    upload: subprocess.CompletedProcess | None
    submit: subprocess.CompletedProcess
    jobs: list[dict[str, Any]]

    @property
    def job(self) -> dict[str, Any]:
        return self.jobs[0]

    def channels(self) -> dict[str, str]:
        return {
            channel["ChannelName"]: channel["DataSource"]["S3DataSource"]["S3Uri"]
            for channel in self.job["InputDataConfig"]
        }


@pytest.fixture(scope="module")
def defaults(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Launch:
    """make upload, then make submit with nothing but a role: every default, waiting included."""
    aws = Aws.fresh(moto_endpoint, tmp_path_factory.mktemp("defaults"))
    upload = aws.run("make", "upload")
    launched = aws.run("make", "submit", f"ROLE={ROLE}")
    return Launch(upload, launched, aws.training_jobs())


@pytest.fixture(scope="module")
def custom(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Launch:
    """make submit with every setting changed, on spot instances, not waiting."""
    aws = Aws.fresh(moto_endpoint, tmp_path_factory.mktemp("custom"))
    aws.run("make", "upload", "BUCKET=team-bucket")
    aws.run("make", "upload", "BUCKET=team-bucket", "IMAGE=eeg-validation")
    launched = aws.run(
        "make",
        "submit",
        f"ROLE={ROLE}",
        "TAG=v7",
        "INSTANCE_TYPE=ml.c5.2xlarge",
        "INSTANCE_COUNT=2",
        "DISTRIBUTION=sharded",
        "VOLUME_SIZE=50",
        "INPUTS=training=s3://team-bucket/data/eeg/ validation=s3://team-bucket/data/eeg-validation/",
        "HYPERPARAMETERS=epochs=3 learning_rate=0.01 features=raw",
        "OUTPUT_PATH=s3://team-bucket/models",
        "JOB_NAME=nightly",
        "BUCKET=team-bucket",
        "MAX_RUN=3600",
        "MAX_WAIT=7200",
        "SPOT=1",
        "WAIT=0",
        "INPUT_MODE=FastFile",
    )
    return Launch(None, launched, aws.training_jobs())


@pytest.fixture(scope="module")
def dry_run(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Launch:
    """submit.py --dry-run, the role from SAGEMAKER_ROLE, without the test's SDK warning switch."""
    aws = Aws.fresh(moto_endpoint, tmp_path_factory.mktemp("dry-run"))
    aws.run("make", "upload")
    printed = aws.run(
        SDK_PYTHON, "submit.py", "--dry-run", SAGEMAKER_ROLE=ROLE, SAGEMAKER_SUPPRESS_V2_WARNING=""
    )
    return Launch(None, printed, aws.training_jobs())


@pytest.fixture(scope="module")
def local_dry_run(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The request `make submit LOCAL=gpu` would give SDK local mode (no Docker engine here)."""
    aws = Aws.fresh(moto_endpoint, tmp_path_factory.mktemp("local"))
    printed = aws.run("make", "--no-print-directory", "-s", "submit", "LOCAL=gpu", "DRY_RUN=1")
    assert printed.returncode == 0, printed.stderr
    return json.loads(printed.stdout)


# --- what a plain `make submit ROLE=...` sends


def test_submit_creates_exactly_one_training_job(defaults: Launch) -> None:
    assert defaults.submit.returncode == 0, defaults.submit.stderr
    assert len(defaults.jobs) == 1


def test_submit_runs_the_image_of_this_accounts_ecr_tagged_latest(defaults: Launch) -> None:
    assert defaults.job["AlgorithmSpecification"]["TrainingImage"] == f"{ECR}/eeg:latest"


def test_submit_passes_the_role_it_was_given(defaults: Launch) -> None:
    assert defaults.job["RoleArn"] == ROLE


def test_submit_trains_on_one_ml_m5_large_by_default(defaults: Launch) -> None:
    resources = defaults.job["ResourceConfig"]
    assert (resources["InstanceType"], resources["InstanceCount"]) == ("ml.m5.large", 1)


def test_submit_reads_the_training_channel_from_where_upload_put_the_data(defaults: Launch) -> None:
    assert defaults.upload is not None
    assert defaults.channels() == {"training": defaults.upload.stdout.splitlines()[-1]}


def test_submit_writes_the_model_under_output_in_the_default_bucket(defaults: Launch) -> None:
    assert defaults.job["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/output"


def test_submit_stops_a_job_after_one_day_on_on_demand_instances_by_default(defaults: Launch) -> None:
    assert defaults.job["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    assert not defaults.job.get("EnableManagedSpotTraining")


def test_submit_prints_the_job_name_its_console_url_and_the_model_location(defaults: Launch) -> None:
    name = defaults.job["TrainingJobName"]
    console = f"https://{REGION}.console.aws.amazon.com/sagemaker/home?region={REGION}#/jobs/{name}"
    model = f"s3://{BUCKET}/output/{name}/output/model.tar.gz"
    lines = defaults.submit.stdout.splitlines()
    assert {f"job: {name}", f"console: {console}", f"model: {model}"} <= set(lines)
    assert defaults.job["ModelArtifacts"]["S3ModelArtifacts"] == model


def test_submit_waits_for_the_job_by_default_and_reports_its_status(defaults: Launch) -> None:
    assert defaults.submit.stdout.splitlines()[-1] == "status: Completed"  # moto's jobs end at once


@sdk_2_only("v2's wait prints SageMaker's progress messages; under v3 make submit prints the job's log alone")
def test_submit_under_sdk_2_prints_the_jobs_progress_as_it_waits(defaults: Launch) -> None:
    assert "Preparing the instances for training" in defaults.submit.stdout


# --- what was asked for, through Make's variables


def test_submit_sends_the_hyperparameters_as_the_strings_given(custom: Launch) -> None:
    assert custom.submit.returncode == 0, custom.submit.stderr
    assert custom.job["HyperParameters"] == {"epochs": "3", "learning_rate": "0.01", "features": "raw"}


def test_submit_uses_the_instance_type_count_and_volume_asked_for(custom: Launch) -> None:
    resources = custom.job["ResourceConfig"]
    assert (resources["InstanceType"], resources["InstanceCount"], resources["VolumeSizeInGB"]) == (
        "ml.c5.2xlarge",
        2,
        50,
    )


def test_distribution_sharded_gives_each_instance_its_share_of_the_training_files_only(
    custom: Launch,
) -> None:
    distributions = {
        channel["ChannelName"]: channel["DataSource"]["S3DataSource"]["S3DataDistributionType"]
        for channel in custom.job["InputDataConfig"]
    }

    assert distributions == {"training": "ShardedByS3Key", "validation": "FullyReplicated"}


def test_every_instance_gets_every_training_file_by_default(defaults: Launch) -> None:
    (channel,) = defaults.job["InputDataConfig"]

    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "FullyReplicated"


def test_submit_creates_one_channel_per_input_pair(custom: Launch) -> None:
    assert custom.channels() == {
        "training": "s3://team-bucket/data/eeg/",
        "validation": "s3://team-bucket/data/eeg-validation/",
    }


def test_submit_uses_the_image_tag_asked_for(custom: Launch) -> None:
    assert custom.job["AlgorithmSpecification"]["TrainingImage"] == f"{ECR}/eeg:v7"


def test_submit_writes_to_the_output_path_asked_for(custom: Launch) -> None:
    assert custom.job["OutputDataConfig"]["S3OutputPath"] == "s3://team-bucket/models"


def test_submit_names_the_job_with_the_prefix_and_a_timestamp(custom: Launch) -> None:
    assert re.fullmatch(r"nightly-\d{4}(-\d\d){5}-\d{3}", custom.job["TrainingJobName"])


def test_submit_sets_max_run_and_max_wait_as_the_stopping_condition(custom: Launch) -> None:
    assert custom.job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}


def test_spot_training_is_managed_and_checkpoints_to_the_bucket_under_the_job_name(custom: Launch) -> None:
    name = custom.job["TrainingJobName"]
    assert custom.job["EnableManagedSpotTraining"] is True
    assert custom.job["CheckpointConfig"]["S3Uri"] == f"s3://team-bucket/checkpoints/{name}"


def test_submit_with_wait_0_returns_without_following_the_job(custom: Launch) -> None:
    assert "Preparing the instances for training" not in custom.submit.stdout


# --- --dry-run


def test_dry_run_sends_the_metric_definitions_that_match_train_py_log_lines(dry_run: Launch) -> None:
    assert dry_run.submit.returncode == 0, dry_run.submit.stderr
    sent = json.loads(dry_run.submit.stdout)["AlgorithmSpecification"]["MetricDefinitions"]
    metrics = {"loss": 0.5, "accuracy": 0.75, "val_loss": 0.25, "val_accuracy": 1.0}
    epoch = format_epoch_line(3, 10, metrics, 1.0)
    logs = f"{epoch}\n{format_test_line({'loss': 0.125, 'accuracy': 0.875})}\n"
    found = {metric["Name"]: float(re.search(metric["Regex"], logs).group(1)) for metric in sent}
    assert sent == metric_definitions(METRICS)
    assert found == {
        "train:loss": 0.5,
        "train:accuracy": 0.75,
        "validation:loss": 0.25,
        "validation:accuracy": 1.0,
        "test:loss": 0.125,
        "test:accuracy": 0.875,
    }


def test_input_mode_fastfile_streams_the_channels_from_s3(custom: Launch) -> None:
    (job,) = custom.jobs

    assert job["AlgorithmSpecification"]["TrainingInputMode"] == "FastFile"


def test_tensorboard_1_syncs_the_event_files_beside_the_jobs_output(aws: Aws) -> None:
    aws.run("make", "upload")

    printed = aws.run(
        "make", "--no-print-directory", "-s", "submit", f"ROLE={ROLE}", "TENSORBOARD=1", "DRY_RUN=1"
    )

    assert printed.returncode == 0, printed.stderr
    request = json.loads(printed.stdout)
    bucket = f"sagemaker-{REGION}-{ACCOUNT}"
    assert request["TensorBoardOutputConfig"] == {
        "S3OutputPath": f"s3://{bucket}/output/{request['TrainingJobName']}/tensorboard",
        "LocalPath": "/opt/ml/output/tensorboard",
    }


def test_a_dry_run_asks_for_the_instance_count_and_distribution_given(aws: Aws) -> None:
    aws.run("make", "upload")

    printed = aws.run(
        "make",
        "--no-print-directory",
        "-s",
        "submit",
        f"ROLE={ROLE}",
        "INSTANCE_COUNT=3",
        "DISTRIBUTION=sharded",
        "DRY_RUN=1",
    )

    assert printed.returncode == 0, printed.stderr
    request = json.loads(printed.stdout)
    assert request["ResourceConfig"]["InstanceCount"] == 3
    [channel] = request["InputDataConfig"]
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"


def test_the_input_mode_is_file_unless_asked(dry_run: Launch) -> None:
    assert json.loads(dry_run.submit.stdout)["AlgorithmSpecification"]["TrainingInputMode"] == "File"


def test_dry_run_creates_no_job(dry_run: Launch) -> None:
    assert json.loads(dry_run.submit.stdout)["TrainingJobName"].startswith("eeg-")
    assert dry_run.jobs == []


def test_dry_run_takes_the_role_from_sagemaker_role(dry_run: Launch) -> None:
    assert json.loads(dry_run.submit.stdout)["RoleArn"] == ROLE


def test_submit_silences_the_sdk_v2_import_warning_and_log_lines(dry_run: Launch) -> None:
    assert dry_run.submit.stderr == ""


@sdk_2_only(LOCAL_MODE_V2)
def test_local_mode_runs_the_locally_built_image_on_local_gpu(local_dry_run: dict[str, Any]) -> None:
    assert local_dry_run["AlgorithmSpecification"]["TrainingImage"] == "eeg:latest"
    assert local_dry_run["ResourceConfig"]["InstanceType"] == "local_gpu"


@sdk_2_only(LOCAL_MODE_V2)
def test_local_mode_trains_on_test_dir_and_writes_to_local_output(local_dry_run: dict[str, Any]) -> None:
    [channel] = local_dry_run["InputDataConfig"]
    source = channel["DataSource"]["FileDataSource"]["FileUri"]
    assert source == f"file://{REPO}/test_dir/input/data/training"
    output = local_dry_run["OutputDataConfig"]["S3OutputPath"]
    assert output == f"file://{REPO}/local_output/{local_dry_run['TrainingJobName']}"


# --- refusals: a clear message, exit status 1, no job


def test_submit_without_a_role_says_get_execution_role_works_only_inside_sagemaker(aws: Aws) -> None:
    aws.run("make", "upload")

    result = aws.run("make", "submit")

    assert result.returncode != 0
    assert "submit: error: no IAM role" in result.stderr
    assert "get_execution_role() works only inside SageMaker" in result.stderr
    assert aws.training_jobs() == []


def test_submit_refuses_an_invalid_image_name(aws: Aws) -> None:
    result = aws.run("make", "submit", f"ROLE={ROLE}", "IMAGE=EEG Model")

    assert result.returncode != 0
    assert "submit: error: invalid image name 'EEG Model'" in result.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("TAG=../x", "submit: error: invalid tag '../x': up to 128 letters, digits"),
        ("INSTANCE_TYPE=ml.m5.large;rm", "submit: error: invalid instance type 'ml.m5.large;rm'"),
        ("INSTANCE_TYPE=m5.large", "submit: error: invalid instance type 'm5.large'"),
        (
            "HYPERPARAMETERS=epochs=3 epochs=5",
            "submit: error: --hyperparameters gives epochs twice ('3' and '5'): give it once",
        ),
        ("INPUTS=training=s3://a/ training=s3://b/", "--inputs gives training twice"),
    ],
)
def test_submit_refuses_a_setting_sagemaker_would_refuse_or_that_is_given_twice(
    aws: Aws, setting: str, message: str
) -> None:
    aws.run("make", "upload")

    result = aws.run("make", "submit", f"ROLE={ROLE}", setting)

    assert result.returncode != 0
    assert message in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("submit:")] == [
        next(line for line in result.stderr.splitlines() if message in line)
    ]
    assert "Traceback" not in result.stderr and aws.training_jobs() == []


def test_submit_refuses_an_unknown_hyperparameter_naming_the_accepted_ones(aws: Aws) -> None:
    aws.run("make", "upload")

    result = aws.run("make", "submit", f"ROLE={ROLE}", "HYPERPARAMETERS=epochs=3 dropout=0.5")

    assert result.returncode != 0
    assert (
        "unknown hyperparameter 'dropout': accepted names are batch_size, channels, epochs" in result.stderr
    )
    assert aws.training_jobs() == []


def test_submit_refuses_an_input_prefix_with_no_objects_before_creating_a_job(aws: Aws) -> None:
    aws.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})

    result = aws.run("make", "submit", f"ROLE={ROLE}")

    assert result.returncode != 0
    assert f"channel training: no objects under s3://{BUCKET}/data/eeg/" in result.stderr
    assert aws.training_jobs() == []


def test_submit_refuses_a_max_wait_shorter_than_the_max_run(aws: Aws) -> None:
    result = aws.run("make", "submit", f"ROLE={ROLE}", "SPOT=1", "MAX_RUN=3600", "MAX_WAIT=600")

    assert result.returncode != 0
    assert "--max-wait 600 is less than the max run time 3600" in result.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "INSTANCE_COUNT=101",
            "submit: error: invalid --instance-count 101: a training job runs 1 to 100 instances",
        ),
        ("INSTANCE_COUNT=0", "argument --instance-count: expected a positive whole number, got '0'"),
        ("INSTANCE_COUNT=two", "argument --instance-count: expected a positive whole number, got 'two'"),
        (
            "DISTRIBUTION=striped",
            "submit: error: invalid --distribution 'striped': use replicated or sharded",
        ),
    ],
)
def test_submit_refuses_an_instance_count_or_distribution_it_cannot_launch(
    aws: Aws, setting: str, message: str
) -> None:
    aws.run("make", "upload")

    result = aws.run("make", "submit", f"ROLE={ROLE}", setting)

    assert result.returncode != 0
    assert message in result.stderr
    assert aws.training_jobs() == []


def test_local_mode_refuses_sharded_input_as_it_copies_every_file_to_every_container(aws: Aws) -> None:
    result = aws.run("make", "submit", "LOCAL=1", "DISTRIBUTION=sharded", "DRY_RUN=1")

    assert result.returncode != 0
    assert "submit: error: --local copies every file to every container: drop --distribution sharded" in (
        result.stderr
    )


def test_submit_reports_access_denied_naming_the_refused_call(aws: Aws) -> None:
    aws.run("make", "upload")
    iam = aws.client("iam")
    iam.create_user(UserName="submitter")
    everything_but_training = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "sagemaker:CreateTrainingJob", "Resource": "*"},
        ],
    }
    iam.put_user_policy(
        UserName="submitter", PolicyName="no-training", PolicyDocument=json.dumps(everything_but_training)
    )
    key = iam.create_access_key(UserName="submitter")["AccessKey"]
    enforce_iam(aws.endpoint)

    result = aws.run(
        "make",
        "submit",
        f"ROLE={ROLE}",
        AWS_ACCESS_KEY_ID=key["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"],
    )

    assert result.returncode != 0
    assert "submit: error: AWS denied CreateTrainingJob" in result.stderr
    assert "not authorized to perform: sagemaker:CreateTrainingJob" in result.stderr
    as_submitter = aws.client("sagemaker", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assert as_submitter.list_training_jobs()["TrainingJobSummaries"] == []


# --- names, without AWS


def test_an_image_name_resolves_to_this_accounts_ecr_in_a_china_region() -> None:
    uri = image_uri("eeg", "v1", ecr_registry(ACCOUNT, "cn-north-1"))
    assert uri == f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn/eeg:v1"


def test_a_full_image_uri_is_used_as_given() -> None:
    given = "999999999999.dkr.ecr.eu-west-1.amazonaws.com/team/eeg:2024-01"
    assert image_uri(given, "", ECR) == given


def test_the_console_of_a_china_region_is_on_amazonaws_cn() -> None:
    url = console_url("cn-northwest-1", "eeg-1")
    assert url == "https://console.amazonaws.cn/sagemaker/home?region=cn-northwest-1#/jobs/eeg-1"


@given(st.text(max_size=20))
def test_any_distribution_is_replicated_or_sharded_or_refused_in_one_line(text: str) -> None:
    accepted = {"": "FullyReplicated", "replicated": "FullyReplicated", "sharded": "ShardedByS3Key"}
    try:
        chosen = submit.s3_distribution(text)
    except submit.UserError as error:
        assert text.strip() not in accepted
        assert "\n" not in str(error) and str(error).endswith("use replicated or sharded")
    else:
        assert chosen == accepted[text.strip()]


@given(st.integers(min_value=-5, max_value=1000))
def test_an_instance_count_from_1_to_100_is_kept_and_any_other_refused(count: int) -> None:
    if 1 <= count <= 100:
        assert submit.checked_instance_count(count) == count
    else:
        with pytest.raises(submit.UserError, match=f"invalid --instance-count {count}: "):
            submit.checked_instance_count(count)


@given(st.text(max_size=12))
@example("0\x1f").via("str.strip() removes it, int() does not")
@example("2\x1f")
def test_any_instance_count_text_is_a_positive_whole_number_empty_or_refused(text: str) -> None:
    try:
        count = submit.positive(text)
    except argparse.ArgumentTypeError as error:
        assert "expected a positive whole number" in str(error)
    else:
        assert count is None if not text.strip() else count >= 1 and count == int(text.strip())
