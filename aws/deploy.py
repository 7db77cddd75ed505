"""Hosts a finished training job's model on a SageMaker real-time endpoint, and takes it down.

    make deploy ROLE=arn:aws:iam::123456789012:role/SageMakerTraining   # the latest Completed eeg job
    make deploy ROLE=... TRAINING_JOB=eeg-2025-01-31-12-00-00-123 ENDPOINT=eeg-live INSTANCE_TYPE=ml.c5.large
    make deploy ROLE=... WAIT=0                          # return while the endpoint is still Creating
    make undeploy ENDPOINT=eeg-live                      # delete the endpoint, its config and its model
    make undeploy ENDPOINT=eeg-live DRY_RUN=1            # print what that would delete
    .venv/bin/python -m aws.deploy --role arn:... --dry-run  # print the requests as JSON, create nothing

Deploying creates a Model (the job's own training image, which SageMaker starts as `docker
run IMAGE serve`, and its model.tar.gz), an EndpointConfig and an Endpoint, all three named
ENDPOINT (default: the job's name), then waits until the endpoint is InService: that takes
5 to 10 minutes, and exits non-zero with the endpoint's FailureReason if it fails. Ctrl-C
stops the waiting, not the deployment. The role comes from --role or SAGEMAKER_ROLE, as for
submit.py. --undeploy deletes the endpoint, then the endpoint configuration and the models it
names. Each option has a Make variable: --training-job is TRAINING_JOB, --wait=0 is WAIT=0,
and an empty value means the default.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions

from aws.context import (
    aws_region,
    checked_name,
    describe_training_job,
    image_jobs,
    instance_type,
    missing,
    run_command,
)
from aws.defaults import IMAGE, INSTANCE_TYPE
from container.sagemaker_env import UserError, server_settings
from submit import job_prefix, positive, role_arn, sdk_major, sdk_session, switch

# defaults
POLL_SECONDS = 15  # between looks at an endpoint that is still being created
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating")


@dataclass(frozen=True)
class Deployment:
    """Everything the endpoint is created with; run_model turns it into SDK calls."""

    region: str
    job: str  # the training job whose model is served
    image_uri: str
    model_data: str  # s3://.../model.tar.gz, unpacked into /opt/ml/model
    role: str
    instance_type: str
    instance_count: int
    environment: dict[str, str]
    endpoint: str  # also the name of the model and of the endpoint configuration


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="deploy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--undeploy", action="store_true", help="delete --endpoint, its endpoint config and its models")
    add("--endpoint", default="", metavar="NAME", help="endpoint name (default: the training job's name)")
    add(
        "--training-job",
        default="",
        metavar="NAME",
        help="the job whose model to serve (default: the latest Completed job submit.py named for --image)",
    )
    add("--image", default="", help=f"picks the default job: its name prefix (default: {IMAGE})")
    add("--role", default="", metavar="ARN", help="the model's IAM role (default: $SAGEMAKER_ROLE)")
    add("--instance-type", default="", help=f"(default: {INSTANCE_TYPE})")
    add("--instance-count", type=positive, help="(default: 1)")
    for flag, variable in (("--model-server-workers", "WORKERS"), ("--model-server-timeout", "TIMEOUT")):
        add(flag, type=positive, metavar="N", help=f"sets SAGEMAKER_MODEL_SERVER_{variable} in the container")
    for flag, text in (
        ("--wait", "until the endpoint is InService (the default)"),
        ("--dry-run", "print the requests as JSON, or what --undeploy would delete; change nothing"),
    ):
        add(flag, nargs="?", const=True, type=switch, metavar="0|1", help=text)
    add("--no-wait", dest="wait", action="store_false", help="return once the endpoint is being created")
    return parser.parse_args(argv)


def latest_job(sagemaker: Any, prefix: str, region: str) -> str:
    """The newest Completed job that submit.py named for this image: PREFIX-YYYY-MM-DD-HH-MM-SS-mmm."""
    jobs = image_jobs(sagemaker, prefix, status="Completed")
    if not jobs:
        raise UserError(
            f"no Completed training job named {prefix}-TIMESTAMP in {region}: "
            "run 'make submit' first, or name one with TRAINING_JOB=NAME (--training-job)"
        )
    return jobs[0]["TrainingJobName"]


def served_model(job: dict[str, Any]) -> tuple[str, str]:
    """The image and model.tar.gz of a Completed job; anything else is refused."""
    name, status = job["TrainingJobName"], job["TrainingJobStatus"]
    if status != "Completed":
        reason = f" ({job['FailureReason']})" if job.get("FailureReason") else ""
        raise UserError(f"training job {name} is {status}{reason}: only a Completed job's model is deployed")
    model_data = job.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")
    if not model_data:
        raise UserError(f"training job {name} left no model artifact (ModelArtifacts.S3ModelArtifacts)")
    image = job.get("AlgorithmSpecification", {}).get("TrainingImage", "")
    if not image:
        raise UserError(f"training job {name} ran an algorithm, not an image: there is no image to serve")
    return image, model_data


def check_names_free(sagemaker: Any, name: str) -> None:
    """Refuses a name already in use: the SDK would quietly reuse an existing model of that name."""
    for kind, describe, key, remedy in (
        ("endpoint", sagemaker.describe_endpoint, "EndpointName", f"make undeploy ENDPOINT={name}"),
        (
            "endpoint configuration",
            sagemaker.describe_endpoint_config,
            "EndpointConfigName",
            f"aws sagemaker delete-endpoint-config --endpoint-config-name {name}",
        ),
        ("model", sagemaker.describe_model, "ModelName", f"aws sagemaker delete-model --model-name {name}"),
    ):
        try:
            describe(**{key: name})
        except botocore.exceptions.ClientError as error:
            if missing(error):
                continue
            raise
        raise UserError(f"a SageMaker {kind} named {name} already exists: set another ENDPOINT=, or {remedy}")


def plan(args: argparse.Namespace, sagemaker: Any, region: str) -> Deployment:
    """Checks every option, then reads the training job: nothing is created here."""
    role = role_arn(args.role, local=False)
    kind = instance_type(args.instance_type or INSTANCE_TYPE)
    endpoint = checked_name(args.endpoint, "endpoint name") if args.endpoint else ""
    environment = {
        name: str(value)
        for name, value in (
            ("SAGEMAKER_MODEL_SERVER_WORKERS", args.model_server_workers),
            ("SAGEMAKER_MODEL_SERVER_TIMEOUT", args.model_server_timeout),
        )
        if value is not None
    }
    server_settings(environment, cpus=1)  # what serve would refuse at start, refused here instead
    if args.training_job:
        job_name = checked_name(args.training_job, "training job name")
    else:
        job_name = latest_job(sagemaker, job_prefix("", args.image or IMAGE), region)
    image, model_data = served_model(describe_training_job(sagemaker, job_name, region))
    endpoint = endpoint or job_name  # job names follow the same rules as endpoint names
    check_names_free(sagemaker, endpoint)
    return Deployment(
        region=region,
        job=job_name,
        image_uri=image,
        model_data=model_data,
        role=role,
        instance_type=kind,
        instance_count=args.instance_count or 1,
        environment=environment,
        endpoint=endpoint,
    )


def run_model(deployment: Deployment, dry_run: bool) -> dict[str, Any]:
    """All use of the SageMaker Python SDK for hosting is here: v2's Model.deploy (the session
    comes from submit.sdk_session), or under v3 aws/sdk_v3.py's sagemaker-core resources.

    Creates the model, endpoint configuration and endpoint without waiting; returns the three
    requests on a dry run, which sends none of them.
    """
    if sdk_major() >= 3:
        from aws import sdk_v3

        return sdk_v3.host(deployment, dry_run)
    session = sdk_session(deployment.region)
    from sagemaker.model import Model

    requests: dict[str, Any] = {}
    if dry_run:
        session.sagemaker_client = DryRunClient(requests)
    model = Model(
        image_uri=deployment.image_uri,
        model_data=deployment.model_data,
        role=deployment.role,
        env=deployment.environment or None,
        name=deployment.endpoint,
        sagemaker_session=session,
    )
    # the SDK's own wait sleeps 30 s before its first look: main() polls instead
    model.deploy(
        initial_instance_count=deployment.instance_count,
        instance_type=deployment.instance_type,
        endpoint_name=deployment.endpoint,
        wait=False,
    )
    return requests


class DryRunClient:
    """Stands in for the SageMaker client on a dry run: keeps each request, sends nothing."""

    def __init__(self, requests: dict[str, Any]) -> None:
        self.requests = requests

    def create_model(self, **request: Any) -> dict[str, str]:
        self.requests["CreateModel"] = request
        return {"ModelArn": ""}

    def create_endpoint_config(self, **request: Any) -> dict[str, str]:
        self.requests["CreateEndpointConfig"] = request
        return {"EndpointConfigArn": ""}

    def create_endpoint(self, **request: Any) -> dict[str, str]:
        self.requests["CreateEndpoint"] = request
        return {}  # the SDK keeps an EndpointArn only when there is an answer


def wait_for_endpoint(sagemaker: Any, name: str) -> dict[str, Any]:
    """Polls until the endpoint leaves Creating; a first look at once, as moto is done at once."""
    description = sagemaker.describe_endpoint(EndpointName=name)
    if description["EndpointStatus"] in IN_PROGRESS:
        print("waiting for InService (usually 5 to 10 minutes; Ctrl-C stops waiting, not the endpoint)")
    while description["EndpointStatus"] in IN_PROGRESS:
        time.sleep(POLL_SECONDS)
        description = sagemaker.describe_endpoint(EndpointName=name)
    return description


def check_in_service(description: dict[str, Any]) -> None:
    name, status = description["EndpointName"], description["EndpointStatus"]
    if status != "InService":
        reason = description.get("FailureReason", "no reason given")
        raise UserError(f"endpoint {name} {status}: {reason} (make undeploy ENDPOINT={name} removes it)")


def deploy(args: argparse.Namespace) -> int:
    region = aws_region()
    sagemaker = boto3.Session(region_name=region).client("sagemaker")
    deployment = plan(args, sagemaker, region)
    requests = run_model(deployment, bool(args.dry_run))
    if args.dry_run:
        print(json.dumps(requests, indent=2, default=str))
        return 0
    print(f"job: {deployment.job}")
    print(f"image: {deployment.image_uri}")
    print(f"model data: {deployment.model_data}")
    print(f"model: {deployment.endpoint}")
    print(f"endpoint config: {deployment.endpoint}")
    print(f"endpoint: {deployment.endpoint}", flush=True)
    if args.wait is False:
        description = sagemaker.describe_endpoint(EndpointName=deployment.endpoint)
    else:
        description = wait_for_endpoint(sagemaker, deployment.endpoint)
        check_in_service(description)
    print(f"status: {description['EndpointStatus']}")
    return 0


def undeploy(args: argparse.Namespace) -> int:
    """Deletes the endpoint, then what it was made of: its configuration and that config's models."""
    only = ("undeploy", "endpoint", "dry_run")
    given = [name for name, value in vars(args).items() if name not in only and value not in ("", None)]
    if given:
        raise UserError(f"--undeploy takes only --endpoint and --dry-run, not --{given[0].replace('_', '-')}")
    if not args.endpoint:
        raise UserError("--undeploy needs the endpoint's name: make undeploy ENDPOINT=NAME (--endpoint)")
    name = checked_name(args.endpoint, "endpoint name")
    region = aws_region()
    sagemaker = boto3.Session(region_name=region).client("sagemaker")
    try:
        config = sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"]
    except botocore.exceptions.ClientError as error:
        if missing(error):
            raise UserError(f"no endpoint {name} in {region}: nothing deleted") from None
        raise
    try:
        variants = sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
    except botocore.exceptions.ClientError as error:
        if not missing(error):
            raise
        print(f"endpoint config {config} is gone already: its models are left as they are")
        variants, config = [], ""
    models = list(dict.fromkeys(variant["ModelName"] for variant in variants if variant.get("ModelName")))
    done = "would delete" if args.dry_run else "deleted"
    for kind, delete, key, value in (
        ("endpoint", sagemaker.delete_endpoint, "EndpointName", name),
        ("endpoint config", sagemaker.delete_endpoint_config, "EndpointConfigName", config),
        *(("model", sagemaker.delete_model, "ModelName", model) for model in models),
    ):
        if not value:
            continue
        try:
            if not args.dry_run:
                delete(**{key: value})
        except botocore.exceptions.ClientError as error:
            if not missing(error):
                raise
            print(f"{kind} {value} is gone already")
            continue
        print(f"{done} {kind}: {value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return undeploy(args) if args.undeploy else deploy(args)


if __name__ == "__main__":
    sys.exit(run_command("deploy", main))
