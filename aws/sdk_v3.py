"""The SageMaker Python SDK v3 side of make submit (SDK=3): the same job as v2's Estimator.

v3 split the SDK into sagemaker-core (a class per API resource: TrainingJob, Model,
Endpoint...), sagemaker-train (ModelTrainer, HyperparameterTuner) and sagemaker-serve
(ModelBuilder). Training here is sagemaker-core's TrainingJob.create: ModelTrainer takes no
job name (it names each job BASE-YYYYmmddHHMMSS itself), and make status, logs, stop, plot
and deploy find a job by the name submit.py gives it. Every other setting ModelTrainer has
(image, channels, instance count, spot, checkpoints, metric definitions, TensorBoard) is a
field here, sent as v2 sends it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3

from container.sagemaker_env import metric_definitions
from task import METRICS

if TYPE_CHECKING:
    from submit import Job

TENSORBOARD_LOCAL_PATH = "/opt/ml/output/tensorboard"


class DryRun(Exception):
    """Raised by botocore's last hook before a request is signed: it holds the request."""

    def __init__(self, request: dict[str, Any]) -> None:
        super().__init__("dry run")
        self.request = request


def train(job: Job, wait: bool, dry_run: bool, created: Callable[[], None]) -> dict[str, Any]:
    """Creates job's training job; returns its description, or on a dry run the
    CreateTrainingJob request, which is then never sent."""
    from sagemaker.core.resources import TrainingJob
    from sagemaker.core.utils.exceptions import FailedStatusError

    session = boto3.Session(region_name=job.region)
    if dry_run:
        session.events.register("provide-client-params.sagemaker.CreateTrainingJob", stop_the_request)
    try:
        training_job = TrainingJob.create(session=session, region=job.region, **training_request(job))
    except DryRun as stopped:
        return stopped.request
    created()
    if wait:
        with contextlib.suppress(FailedStatusError):  # the description says why
            training_job.wait(logs=True)
    return dict(session.client("sagemaker").describe_training_job(TrainingJobName=job.name))


def stop_the_request(params: dict[str, Any], **_: Any) -> None:
    raise DryRun(params)


def training_request(job: Job) -> dict[str, Any]:
    """TrainingJob.create's arguments for job: v2 Estimator's request, in v3's shapes."""
    from sagemaker.core import shapes

    return {
        "training_job_name": job.name,
        "role_arn": job.role,
        "algorithm_specification": shapes.AlgorithmSpecification(
            training_image=job.image_uri,
            training_input_mode=job.input_mode,
            metric_definitions=[
                shapes.MetricDefinition(name=metric["Name"], regex=metric["Regex"])
                for metric in metric_definitions(METRICS)
            ],
        ),
        "hyper_parameters": job.hyperparameters,
        "input_data_config": [
            shapes.Channel(
                channel_name=channel,
                data_source=shapes.DataSource(
                    s3_data_source=shapes.S3DataSource(
                        s3_data_type="S3Prefix",
                        s3_uri=uri,
                        # the training channel's files to every instance, or each to one; others to all
                        s3_data_distribution_type=job.distribution
                        if channel == "training"
                        else "FullyReplicated",
                    )
                ),
            )
            for channel, uri in job.inputs.items()
        ],
        "output_data_config": shapes.OutputDataConfig(s3_output_path=job.output_path),
        "resource_config": shapes.ResourceConfig(
            instance_type=job.instance_type,
            instance_count=job.instance_count,
            volume_size_in_gb=job.volume_size,
        ),
        "stopping_condition": shapes.StoppingCondition(
            max_runtime_in_seconds=job.max_run, max_wait_time_in_seconds=job.max_wait
        ),
        "enable_managed_spot_training": job.max_wait is not None,
        "checkpoint_config": shapes.CheckpointConfig(s3_uri=job.checkpoint_uri)
        if job.checkpoint_uri
        else None,
        "tensor_board_output_config": shapes.TensorBoardOutputConfig(
            s3_output_path=job.tensorboard_uri, local_path=TENSORBOARD_LOCAL_PATH
        )
        if job.tensorboard_uri
        else None,
    }
