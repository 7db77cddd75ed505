"""The SageMaker Python SDK v3 side of make submit, tune and deploy (SDK=3): the requests
v2's Estimator, HyperparameterTuner and Model send, made with v3's classes.

v3 split the SDK into sagemaker-core (a class per API resource: TrainingJob, Model,
Endpoint...), sagemaker-train (ModelTrainer, HyperparameterTuner) and sagemaker-serve
(ModelBuilder). Tuning is v3's HyperparameterTuner over a ModelTrainer. Training and hosting
are sagemaker-core's resources, v3's lower layer: ModelTrainer takes no job name (it names
each job BASE-YYYYmmddHHMMSS itself), and make status, logs, stop, plot and deploy find a job
by the name submit.py gives it; ModelBuilder packs a model of its own for a framework, where
make deploy hosts the training job's image and model.tar.gz as they are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from aws import jobs
from aws.context import describe_training_job
from container.sagemaker_env import TENSORBOARD_PATH, UserError, metric_definitions
from task import METRICS

if TYPE_CHECKING:
    from aws.deploy import Deployment
    from submit import Job

VARIANT = "AllTraffic"  # the one production variant, named as v2's Model.deploy names it
# What the SageMaker SDK config files (/etc/xdg/sagemaker/config.yaml, ~/.config/sagemaker/
# config.yaml) may set for these commands' resources, which v2 applies and v3 does not.
V2_DEFAULTS = ("TrainingJob", "Model", "EndpointConfig", "Endpoint")
VALIDATE_ROLE = "SAGEMAKER_VALIDATE_ROLE"  # v3 asks IAM about a job's role unless this is false


class DryRun(Exception):
    """Raised by botocore's first hook on a request, before it is checked or sent: it holds the request."""

    def __init__(self, operation: str, request: dict[str, Any]) -> None:
        super().__init__(f"dry run of {operation}")
        self.operation = operation
        self.request = request


def aws_session(region: str, dry_run: bool) -> boto3.Session:
    """The boto3 session v3's classes send through; on a dry run, every SageMaker Create*
    request is stopped, unsent, by a DryRun that holds it."""
    session = boto3.Session(region_name=region)
    session.events.register("after-call.sagemaker", drop_empty_structures)
    if dry_run:
        session.events.register("provide-client-params.sagemaker", stop_creating)
    return session


def stop_creating(params: dict[str, Any], event_name: str, **_: Any) -> None:
    """A dry run's hook: a Create* request goes no further than a DryRun that holds it."""
    operation = event_name.rsplit(".", 1)[-1]
    if operation.startswith("Create"):
        raise DryRun(operation, params)


def drop_empty_structures(parsed: dict[str, Any], **_: Any) -> None:
    """SageMaker leaves out a structure it has no value for, so this changes nothing of its
    answers; moto (make moto, make test) answers an empty one, such as a model's VpcConfig
    {}, which v3's shapes refuse for its missing required fields. An empty structure means none."""
    for name in [name for name, value in parsed.items() if value == {}]:
        del parsed[name]


def sdk_config() -> dict[str, Any]:
    """The SageMaker SDK config files' settings, as v2 reads them, with telemetry off: these
    commands report nothing (the report also asks STS who is calling). Refuses resource
    defaults they set, which v3 would not apply: a VpcConfig or KmsKeyId left out."""
    from sagemaker.core.config.config import load_sagemaker_config

    config = load_sagemaker_config()
    if unapplied := [name for name in V2_DEFAULTS if name in config.get("SageMaker", {})]:
        raise UserError(
            f"the SageMaker SDK config file sets defaults for {', '.join(unapplied)}, which SDK v3 "
            "does not apply (v2 does): leave SDK unset, or move them to the command's settings"
        )
    modules = config.setdefault("SageMaker", {}).setdefault("PythonSDK", {}).setdefault("Modules", {})
    modules["TelemetryOptOut"] = True
    config.setdefault("SchemaVersion", "1.0")
    return config


@contextlib.contextmanager
def role_unchecked() -> Iterator[None]:
    """v3's ModelTrainer asks IAM about the role before a job is created
    (iam:SimulatePrincipalPolicy, a right the caller may lack, and a traceback when it
    fails); SageMaker checks the role as it creates the job, as it does under v2."""
    before = os.environ.get(VALIDATE_ROLE)
    os.environ[VALIDATE_ROLE] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(VALIDATE_ROLE, None)
        else:
            os.environ[VALIDATE_ROLE] = before


def train(job: Job, wait: bool, dry_run: bool, created: Callable[[], None]) -> dict[str, Any]:
    """Creates job's training job; returns its description once it ends (wait, printing its
    log as v2's wait does) or is created, or on a dry run the CreateTrainingJob request,
    which is then never sent."""
    config = sdk_config()
    if job.local:
        if dry_run:
            raise UserError(
                "SDK v3's local mode takes no request to print (v2's takes one): "
                "drop DRY_RUN, or leave SDK unset"
            )
        created()
        return train_locally(job, config)
    from sagemaker.core.resources import TrainingJob

    session = aws_session(job.region, dry_run)
    try:
        TrainingJob.create(session=session, region=job.region, **training_request(job))
    except DryRun as stopped:
        return stopped.request
    created()
    sagemaker = session.client("sagemaker")
    description = describe_training_job(sagemaker, job.name, job.region)
    if wait:  # v3's own wait prints the log only through logging, which is off
        jobs.follow(description, sagemaker, session.client("logs"), job.region, required=False)
        description = describe_training_job(sagemaker, job.name, job.region)
    return description


def train_locally(job: Job, config: dict[str, Any]) -> dict[str, Any]:
    """SDK local mode: v3's ModelTrainer runs the local image in containers on this machine,
    under Docker Compose, in a folder of its own. Leaves model.tar.gz and output.tar.gz in
    job's output folder, as v2's local mode does; a failed job's reason is the one line of
    the error raised."""
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.train.configs import Compute, InputData, StoppingCondition
    from sagemaker.train.model_trainer import Mode, ModelTrainer

    folder = Path(job.output_path.removeprefix("file://"))
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{job.name}-"))
    trainer = ModelTrainer(
        training_mode=Mode.LOCAL_CONTAINER,
        training_image=job.image_uri,
        role=job.role,
        base_job_name=job.name,  # ModelTrainer adds a timestamp: the container's job name starts with ours
        sagemaker_session=Session(
            boto_session=aws_session(job.region, dry_run=False), sagemaker_config=config
        ),
        compute=Compute(instance_type=job.instance_type, instance_count=job.instance_count),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=job.max_run),
        hyperparameters=job.hyperparameters,
        input_data_config=[
            InputData(channel_name=channel, data_source=uri.removeprefix("file://"))
            for channel, uri in job.inputs.items()
        ],
        training_input_mode=job.input_mode,
        local_container_root=str(work),
    )
    try:
        trainer.train(wait=True)
        for archive in ("model.tar.gz", "output.tar.gz"):
            shutil.move(work / "compressed_artifacts" / archive, folder / archive)
    except RuntimeError as error:
        reasons = sorted(work.glob("algo-*/output/failure"))
        raise RuntimeError(reasons[0].read_text().strip() if reasons else str(error)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)  # files the containers wrote may be root's: they stay
    return {"TrainingJobName": job.name, "TrainingJobStatus": "Completed"}


def channels(job: Job) -> list[Any]:
    """The job's input channels: the training channel with its distribution, others to every instance."""
    from sagemaker.core import shapes

    return [
        shapes.Channel(
            channel_name=channel,
            data_source=shapes.DataSource(
                s3_data_source=shapes.S3DataSource(
                    s3_data_type="S3Prefix",
                    s3_uri=uri,
                    s3_data_distribution_type=job.distribution
                    if channel == "training"
                    else "FullyReplicated",
                )
            ),
        )
        for channel, uri in job.inputs.items()
    ]


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
        "input_data_config": channels(job),
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
            s3_output_path=job.tensorboard_uri, local_path=TENSORBOARD_PATH
        )
        if job.tensorboard_uri
        else None,
    }


def tune(job: Job, name: str, tuning: dict[str, Any], dry_run: bool) -> dict[str, Any]:
    """Creates the tuning job name over job's settings; returns its description, or on a dry
    run the CreateHyperParameterTuningJob request. tuning holds HyperparameterTuner's own
    arguments (objective, ranges, job counts)."""
    from sagemaker.core import shapes
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.train.configs import Compute, StoppingCondition
    from sagemaker.train.model_trainer import ModelTrainer
    from sagemaker.train.tuner import HyperparameterTuner

    session = aws_session(job.region, dry_run)
    config = sdk_config()
    with role_unchecked():
        trainer = ModelTrainer(
            training_image=job.image_uri,
            role=job.role,
            compute=Compute(
                instance_type=job.instance_type,
                instance_count=job.instance_count,
                volume_size_in_gb=job.volume_size,
                enable_managed_spot_training=job.max_wait is not None,
            ),
            stopping_condition=StoppingCondition(
                max_runtime_in_seconds=job.max_run, max_wait_time_in_seconds=job.max_wait
            ),
            output_data_config=shapes.OutputDataConfig(s3_output_path=job.output_path),
            checkpoint_config=shapes.CheckpointConfig(s3_uri=job.checkpoint_uri)
            if job.checkpoint_uri
            else None,
            training_input_mode=job.input_mode,
            hyperparameters=job.hyperparameters,
            sagemaker_session=Session(boto_session=session, sagemaker_config=config),
        )
        tuner = HyperparameterTuner(trainer, metric_definitions=metric_definitions(METRICS), **tuning)
        try:
            tuner.tune(inputs=channels(job), job_name=name, wait=False)
        except DryRun as stopped:
            return stopped.request
    return dict(
        session.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    )


def host(deployment: Deployment, dry_run: bool) -> dict[str, Any]:
    """Creates the model, endpoint configuration and endpoint without waiting; returns the
    three requests on a dry run, which sends none of them."""
    from sagemaker.core import shapes
    from sagemaker.core.resources import Endpoint, EndpointConfig, Model

    sdk_config()  # refuses defaults v3 would not apply
    session = aws_session(deployment.region, dry_run)
    where = {"session": session, "region": deployment.region}
    name = deployment.endpoint
    steps: list[Callable[[], Any]] = [
        lambda: Model.create(
            model_name=name,
            execution_role_arn=deployment.role,
            primary_container=shapes.ContainerDefinition(
                image=deployment.image_uri,
                model_data_url=deployment.model_data,
                environment=deployment.environment or None,
            ),
            **where,
        ),
        lambda: EndpointConfig.create(
            endpoint_config_name=name,
            production_variants=[
                shapes.ProductionVariant(
                    variant_name=VARIANT,
                    model_name=name,
                    initial_variant_weight=1,
                    initial_instance_count=deployment.instance_count,
                    instance_type=deployment.instance_type,
                )
            ],
            **where,
        ),
        lambda: Endpoint.create(endpoint_name=name, endpoint_config_name=name, **where),
    ]
    requests: dict[str, Any] = {}
    for step in steps:
        try:
            step()
        except DryRun as stopped:
            requests[stopped.operation] = stopped.request
    return requests
