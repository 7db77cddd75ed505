"""Launches a SageMaker training job on the image that `make push` put in ECR.

    make upload                                   # the sample data to s3://sagemaker-REGION-ACCOUNT/data/eeg/
    make submit ROLE=arn:aws:iam::123456789012:role/SageMakerTraining
    make submit ROLE=... HYPERPARAMETERS="epochs=20 batch_size=64" WAIT=0
    make submit ROLE=... SPOT=1 MAX_RUN=3600 MAX_WAIT=7200
    make submit ROLE=... INSTANCE_COUNT=4 DISTRIBUTION=sharded   # 4 hosts, each on its share of the files
    make build && make submit LOCAL=1             # SDK local mode: needs Docker and docker compose
    .venv/bin/python submit.py --role arn:... --dry-run   # print the request as JSON, send nothing

Each option has a Make variable: --instance-type is INSTANCE_TYPE, --spot is SPOT=1, and an
empty value means the default. The role comes from --role or SAGEMAKER_ROLE, because
sagemaker.get_execution_role() works only inside SageMaker. Prints the job name, its console
URL and where model.tar.gz will be; when waiting (the default) it streams the job's logs and
exits non-zero, with the job's FailureReason, unless the job completes. --local runs the
local image IMAGE:TAG in containers on this machine, on test_dir's data, and writes
model.tar.gz to local_output/JOB/ (outside test_dir, which make local empties).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions

from aws.context import (
    aws_region,
    connect,
    console_url,
    data_uri,
    ecr_registry,
    image_uri,
    instance_type,
    parse_image,
    run_command,
)
from aws.defaults import IMAGE, INSTANCE_TYPE, LOCAL_OUTPUT, MAX_RUN, SAMPLE_DATA, VOLUME_SIZE
from container.sagemaker_env import TENSORBOARD_PATH, UserError, metric_definitions, parse_hyperparameters
from task import ACCEPTED, HYPERPARAMETERS, METRICS

INPUT_MODES = ("File", "FastFile")  # Pipe is not: train.py reads files
MAX_INSTANCE_COUNT = 100
# How SageMaker hands the training channel's files to several instances: all of them to
# every instance (train.py then gives each host its share of the rows), or each file to one.
DISTRIBUTIONS = {"replicated": "FullyReplicated", "sharded": "ShardedByS3Key"}
# local mode runs the image on this machine, on the bundled sample, into LOCAL_OUTPUT
LOCAL_ROLE = "arn:aws:iam::111111111111:role/local-mode"  # required by the SDK, never used locally
# what the API accepts
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+")
JOB_PREFIX = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")
JOB_PREFIX_LENGTH = 39  # job names are at most 63 characters, and the timestamp takes 24
CHANNEL = re.compile(r"[A-Za-z0-9.\-_]{1,64}")
MAX_CHANNELS = 20  # InputDataConfig holds at most 20 channels
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")  # S3's rules: 3 to 63 characters
TRAINING_IMAGE_LENGTH = 255  # AlgorithmSpecification.TrainingImage
S3_URI_LENGTH = 1024  # S3Uri: s3://BUCKET/KEY, at most 1024 characters
MAX_RUN_LIMIT = 28 * 24 * 60 * 60  # MaxRuntimeInSeconds: at most 28 days
# MaxWaitTimeInSeconds: no maximum documented beyond the API's integer, which has 32 bits
MAX_WAIT_LIMIT = 2**31 - 1
MAX_VOLUME_SIZE = 16384  # VolumeSizeInGB: SageMaker's gp2 volumes hold at most 16 TiB
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Job:
    """Everything the training job is created with; run_estimator turns it into SDK calls."""

    name: str
    region: str
    image_uri: str
    role: str
    instance_type: str  # ml.*, or local / local_gpu for the SDK's local mode
    instance_count: int
    volume_size: int
    max_run: int
    max_wait: int | None  # set for managed spot training only
    checkpoint_uri: str | None  # where spot training keeps /opt/ml/checkpoints
    tensorboard_uri: str | None  # where SageMaker syncs /opt/ml/output/tensorboard as the job runs
    inputs: dict[str, str]
    input_mode: str  # File: copied to the instance first; FastFile: streamed from S3 as read
    output_path: str
    hyperparameters: dict[str, str]
    distribution: str = DISTRIBUTIONS["replicated"]  # S3DataDistributionType of the training channel

    @property
    def local(self) -> bool:
        return self.instance_type.startswith("local")


def switch(text: str) -> bool | None:
    """--spot, --spot=1, --spot=0; --spot= (an empty Make variable) leaves the default."""
    if text.strip().lower() in TRUE + FALSE:
        return text.strip().lower() in TRUE
    if not text.strip():
        return None
    raise argparse.ArgumentTypeError(f"expected one of {', '.join(TRUE + FALSE)}, got {text!r}")


def local_mode(text: str) -> str | None:
    """--local or --local=cpu runs on instance type local, --local=gpu on local_gpu."""
    if text.strip().lower() == "gpu":
        return "local_gpu"
    return "local" if text.strip().lower() == "cpu" or switch(text) else None


def positive(text: str) -> int | None:
    # str.strip() removes more than int() ignores (the separators \x1c-\x1f): parse what it keeps.
    digits = text.strip()
    if not digits:
        return None
    # ASCII digits only: "¹" and "٣" pass isdigit() but not int()
    if not (digits.isascii() and digits.isdigit()) or int(digits) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(digits)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = job_parser("submit", __doc__ or "")
    parser.add_argument("--no-wait", dest="wait", action="store_false", help="return once the job is created")
    parser.add_argument(
        "--local", nargs="?", const="cpu", type=local_mode, metavar="cpu|gpu", help="SDK local mode"
    )
    return parser.parse_args(argv)


def job_parser(program: str, description: str) -> argparse.ArgumentParser:
    """The options of a training job, for submit.py and tune.py alike."""
    parser = argparse.ArgumentParser(
        prog=program, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.set_defaults(local=None, wait=None)
    add = parser.add_argument
    add("--image", default="", help=f"ECR repository name, or a full image URI (default: {IMAGE})")
    add("--tag", default="", help="image tag for a repository name (default: latest)")
    add("--role", default="", metavar="ARN", help="the job's IAM role (default: $SAGEMAKER_ROLE)")
    add("--bucket", default="", help="bucket of the default S3 paths (default: sagemaker-REGION-ACCOUNT)")
    add("--instance-type", default="", help=f"(default: {INSTANCE_TYPE})")
    add("--instance-count", type=positive, help=f"1 to {MAX_INSTANCE_COUNT} (default: 1)")
    add(
        "--distribution",
        default="",
        metavar="|".join(DISTRIBUTIONS),
        help="the training channel: every file to every instance, or each file to one (default: replicated)",
    )
    for flag, pair, text in (
        ("--inputs", "CHANNEL=URI", "channels (default: training=s3://BUCKET/data/IMAGE/, from make upload)"),
        ("--hyperparameters", "NAME=VALUE", "checked against train.py's names; sent as given"),
    ):
        add(flag, nargs="+", action="extend", default=[], metavar=pair, help=text)
    add("--input-mode", default="", help=f"{' or '.join(INPUT_MODES)} (default: File; see docs/data.md)")
    add("--output-path", default="", metavar="URI", help="(default: s3://BUCKET/output)")
    add("--job-name", default="", metavar="PREFIX", help="job name prefix (default: the image name)")
    add("--max-run", type=positive, metavar="SECONDS", help=f"at most 28 days (default: {MAX_RUN})")
    add("--volume-size", type=positive, metavar="GB", help=f"to {MAX_VOLUME_SIZE} (default: {VOLUME_SIZE})")
    add("--max-wait", type=positive, metavar="SECONDS", help="spot: run plus waiting (default: 2 x max run)")
    for flag, text in (
        ("--spot", "managed spot training; checkpoints to s3://BUCKET/checkpoints/JOB"),
        ("--tensorboard", "sync TensorBoard's event files to OUTPUT_PATH/JOB/tensorboard as it runs"),
        ("--wait", "stream the logs until the job ends (the default)"),
        ("--dry-run", "print the request as JSON; send nothing"),
    ):
        add(flag, nargs="?", const=True, type=switch, metavar="0|1", help=text)
    return parser


def pairs(items: list[str], flag: str, shape: str) -> dict[str, str]:
    """["a=1 b=2", "c=3"] -> {"a": "1", "b": "2", "c": "3"}: Make passes one quoted string."""
    result: dict[str, str] = {}
    for item in " ".join(items).split():
        name, equals, value = item.partition("=")
        if not (name and equals):
            raise UserError(f"{flag} takes {shape} pairs, got {item!r}")
        if name in result:
            raise UserError(f"{flag} gives {name} twice ({result[name]!r} and {value!r}): give it once")
        result[name] = value
    return result


def at_most(value: int, limit: int, flag: str, unit: str) -> int:
    if value > limit:
        raise UserError(f"invalid {flag} {value}: at most {limit} {unit}")
    return value


def checked_location(uri: str, what: str, local: bool) -> str:
    """An s3://BUCKET/PREFIX URI as CreateTrainingJob takes it (file://PATH too in local mode)."""
    if local and uri.startswith("file://"):
        return uri
    if not uri.startswith("s3://"):
        schemes = "an s3:// or file://" if local else "an s3://"
        raise UserError(f"{what} {uri!r} is not {schemes} URI")
    bucket = uri.removeprefix("s3://").partition("/")[0]
    if not bucket:
        raise UserError(f"{what} {uri!r} names no bucket: use s3://BUCKET/PREFIX")
    if not BUCKET_NAME.fullmatch(bucket):
        raise UserError(
            f"{what} {uri!r}: {bucket!r} is not an S3 bucket name (3 to 63 lower-case letters, "
            "digits, '.' and '-')"
        )
    if len(uri) > S3_URI_LENGTH:
        raise UserError(f"{what} is {len(uri)} characters long: SageMaker takes at most {S3_URI_LENGTH}")
    return uri


def checked_instance_count(count: int) -> int:
    if not 1 <= count <= MAX_INSTANCE_COUNT:
        raise UserError(
            f"invalid --instance-count {count}: a training job runs 1 to {MAX_INSTANCE_COUNT} instances"
        )
    return count


def s3_distribution(text: str) -> str:
    """--distribution replicated|sharded as the API's S3DataDistributionType; empty is replicated."""
    name = text.strip() or "replicated"
    if name not in DISTRIBUTIONS:
        raise UserError(f"invalid --distribution {text!r}: use {' or '.join(DISTRIBUTIONS)}")
    return DISTRIBUTIONS[name]


def job_name(prefix: str) -> str:
    """PREFIX-2025-01-31-12-00-00-123, the SDK's pattern, so names sort by launch time."""
    now = time.time()
    return f"{prefix}-{time.strftime('%Y-%m-%d-%H-%M-%S', time.gmtime(now))}-{int(now * 1000) % 1000:03d}"


def job_prefix(requested: str, image: str) -> str:
    if requested:
        if not JOB_PREFIX.fullmatch(requested) or len(requested) > JOB_PREFIX_LENGTH:
            raise UserError(
                f"invalid --job-name {requested!r}: letters, digits and '-', "
                f"at most {JOB_PREFIX_LENGTH} characters, starting with a letter or digit"
            )
        return requested
    words = re.split(r"[^a-zA-Z0-9]+", parse_image(image).repository.rsplit("/", 1)[-1])
    return "-".join(word for word in words if word)[:JOB_PREFIX_LENGTH].strip("-")


def role_arn(requested: str, local: bool) -> str:
    role = requested or os.environ.get("SAGEMAKER_ROLE", "")
    if not role and local:
        return LOCAL_ROLE
    if not role:
        raise UserError(
            "no IAM role: pass --role arn:aws:iam::ACCOUNT:role/NAME, ROLE=... to make, "
            "or set SAGEMAKER_ROLE (sagemaker.get_execution_role() works only inside SageMaker)"
        )
    if not ROLE_ARN.fullmatch(role):
        raise UserError(f"invalid role {role!r}: expected an IAM role ARN, arn:aws:iam::ACCOUNT:role/NAME")
    return role


def build_job(args: argparse.Namespace) -> Job:
    """Checks every option, then asks STS for the account: nothing is sent to SageMaker here."""
    hyperparameters = pairs(args.hyperparameters, "--hyperparameters", "NAME=VALUE")
    parse_hyperparameters(hyperparameters, HYPERPARAMETERS, ACCEPTED)
    local = args.local is not None
    if local and (args.spot or args.instance_type):
        raise UserError("--local runs on this machine: drop --spot and --instance-type")
    if args.max_wait and not args.spot:
        raise UserError("--max-wait applies to spot training only: add --spot (SPOT=1)")
    image = args.image or IMAGE
    # IMAGE and TAG, checked before STS is asked for the account (always 12 digits)
    uri = image_uri(
        image, args.tag, "" if local else ecr_registry("0" * 12, aws_region(fallback="us-east-1"))
    )
    if len(uri) > TRAINING_IMAGE_LENGTH:
        raise UserError(
            f"the image {uri!r} is {len(uri)} characters: SageMaker takes at most "
            f"{TRAINING_IMAGE_LENGTH}: shorten IMAGE or TAG"
        )
    kind = args.local or instance_type(args.instance_type or INSTANCE_TYPE)
    prefix = job_prefix(args.job_name, image)
    role = role_arn(args.role, local)
    inputs = pairs(args.inputs, "--inputs", "CHANNEL=URI")
    if len(inputs) > MAX_CHANNELS:
        raise UserError(f"--inputs names {len(inputs)} channels: a training job takes at most {MAX_CHANNELS}")
    for channel, uri in inputs.items():
        if not CHANNEL.fullmatch(channel):
            raise UserError(f"invalid channel name {channel!r}: letters, digits, '.', '-', '_'")
        checked_location(uri, f"channel {channel}:", local)  # check_locations looks inside
    if args.output_path:
        checked_location(args.output_path, "--output-path", local)
    input_mode = args.input_mode or INPUT_MODES[0]
    if input_mode not in INPUT_MODES:
        raise UserError(f"invalid --input-mode {input_mode!r}: use {' or '.join(INPUT_MODES)}")
    instance_count = checked_instance_count(args.instance_count or 1)
    distribution = s3_distribution(args.distribution)
    if local and distribution != DISTRIBUTIONS["replicated"]:
        raise UserError("--local copies every file to every container: drop --distribution sharded")
    max_run = at_most(args.max_run or MAX_RUN, MAX_RUN_LIMIT, "--max-run", "seconds (28 days)")
    volume_size = at_most(args.volume_size or VOLUME_SIZE, MAX_VOLUME_SIZE, "--volume-size", "GB")
    max_wait = (args.max_wait or 2 * max_run) if args.spot else None
    if max_wait is not None and max_wait < max_run:
        raise UserError(f"--max-wait {max_wait} is less than the max run time {max_run}")
    if max_wait is not None:
        at_most(max_wait, MAX_WAIT_LIMIT, "--max-wait", "seconds")

    name = job_name(prefix)
    if local:
        region = aws_region(fallback="us-east-1")  # nothing is sent to AWS, any region does
        account = bucket = ""
        inputs = inputs or {"training": f"file://{SAMPLE_DATA}"}
        output_path = args.output_path or f"file://{LOCAL_OUTPUT / name}"
    else:
        aws = connect()
        region, account = aws.region, aws.account
        bucket = args.bucket or aws.default_bucket
        inputs = inputs or {"training": data_uri(bucket, image)}
        output_path = args.output_path or f"s3://{bucket}/output"
    return Job(
        name=name,
        region=region,
        # local mode runs the image `make build` tagged on this machine
        image_uri=image_uri(image, args.tag, "" if local else ecr_registry(account, region)),
        role=role,
        instance_type=kind,
        instance_count=instance_count,
        volume_size=volume_size,
        max_run=max_run,
        max_wait=max_wait,
        checkpoint_uri=f"s3://{bucket}/checkpoints/{name}" if args.spot else None,
        tensorboard_uri=f"{output_path.rstrip('/')}/{name}/tensorboard"
        if args.tensorboard and not local
        else None,
        inputs=inputs,
        input_mode=input_mode,
        output_path=output_path,
        hyperparameters=hyperparameters,
        distribution=distribution,
    )


def check_locations(job: Job) -> None:
    """Refuses input channels with nothing in them: SageMaker would only fail minutes later.

    build_job has checked that each is an s3:// URI, or file:// in local mode."""
    s3 = boto3.Session(region_name=job.region).client("s3")
    for channel, uri in job.inputs.items():
        scheme, _, rest = uri.partition("://")
        if scheme == "file":
            if not any(Path(rest).glob("*")):
                raise UserError(f"channel {channel}: {uri} is missing or empty")
            continue
        bucket, _, prefix = rest.partition("/")
        try:
            found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0)
        except botocore.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchBucket":
                raise
            found = 0
        if not found:
            raise UserError(f"channel {channel}: no objects under {uri} (run 'make upload' first)")


def sdk_session(region: str, local: bool = False) -> Any:
    """A SageMaker Python SDK v2 session that prints nothing of its own and reports no telemetry.

    Call it before importing anything else from sagemaker: v2 warns at import unless told not to.
    """
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")  # v2's nudge to v3, printed at import
    # The SDK logs "sagemaker.config INFO" lines to stdout and sets the root logger to INFO
    # when it imports sagemaker.experiments: keep that chatter out of what this prints.
    for logger in ("sagemaker", "sagemaker.config", "botocore"):
        logging.getLogger(logger).setLevel(logging.WARNING)
    from sagemaker.config import load_sagemaker_config
    from sagemaker.local import LocalSession
    from sagemaker.session import Session

    config = load_sagemaker_config()
    # The SDK's telemetry call goes to a public S3 host (not AWS_ENDPOINT_URL) without a
    # timeout: in a VPC with no internet it would hang fit(). This command reports nothing.
    modules = config.setdefault("SageMaker", {}).setdefault("PythonSDK", {}).setdefault("Modules", {})
    modules["TelemetryOptOut"] = True
    config.setdefault("SchemaVersion", "1.0")
    boto_session = boto3.Session(region_name=region)
    session_type = LocalSession if local else Session
    return session_type(boto_session=boto_session, sagemaker_config=config or None)


def sdk_major() -> int:
    """The major version of the SageMaker Python SDK this Python has: 2 (.venv), or 3
    (.venv-sdk3, make ... SDK=3). Both import as sagemaker, so each has a virtualenv."""
    return int(importlib.metadata.version("sagemaker").split(".")[0])


def run_estimator(job: Job, wait: bool, dry_run: bool, created: Callable[[], None]) -> dict[str, Any]:
    """All use of the SageMaker Python SDK for training is here: v2's Estimator (the session
    comes from sdk_session), or under v3 aws/sdk_v3.py, which sends the same request.

    Returns the CreateTrainingJob request on a dry run, else the job's description.
    """
    if sdk_major() >= 3:
        from aws import sdk_v3

        return sdk_v3.train(job, wait, dry_run, created)
    session = sdk_session(job.region, job.local)
    from sagemaker.exceptions import UnexpectedStatusException

    requests: list[dict[str, Any]] = []
    if dry_run:
        session.sagemaker_client = DryRunClient(requests)
    estimator = new_estimator(job, session)
    estimator.fit(sdk_inputs(job), wait=False, job_name=job.name)
    if dry_run:
        return requests[0]
    created()
    if wait:
        with contextlib.suppress(UnexpectedStatusException):  # the description says why
            estimator.latest_training_job.wait(logs="All")
    return estimator.latest_training_job.describe()


def new_estimator(job: Job, session: Any) -> Any:
    """The SDK v2 Estimator for job: what make submit launches and make tune varies."""
    from sagemaker.debugger import TensorBoardOutputConfig
    from sagemaker.estimator import Estimator

    return Estimator(
        image_uri=job.image_uri,
        role=job.role,
        instance_count=job.instance_count,
        instance_type=job.instance_type,
        volume_size=job.volume_size,
        max_run=job.max_run,
        input_mode=job.input_mode,
        output_path=job.output_path,
        hyperparameters=job.hyperparameters,
        metric_definitions=metric_definitions(METRICS),
        use_spot_instances=job.max_wait is not None,
        max_wait=job.max_wait,
        checkpoint_s3_uri=job.checkpoint_uri,
        tensorboard_output_config=TensorBoardOutputConfig(job.tensorboard_uri, TENSORBOARD_PATH)
        if job.tensorboard_uri
        else None,
        sagemaker_session=session,
    )


def sdk_inputs(job: Job) -> dict[str, Any]:
    """The job's channels for the SDK's fit(): the training channel with its distribution.

    Other channels (validation data, say) go to every instance. Local mode's file:// URIs
    stay strings: the SDK reads them as local folders, and copies each to every container.
    """
    from sagemaker.inputs import TrainingInput

    return {
        channel: TrainingInput(uri, distribution=job.distribution if channel == "training" else None)
        if uri.startswith("s3://")
        else uri
        for channel, uri in job.inputs.items()
    }


class DryRunClient:
    """Stands in for the SageMaker client on a dry run: keeps the request, sends nothing."""

    def __init__(self, requests: list[dict[str, Any]]) -> None:
        self.requests = requests

    def create_training_job(self, **request: Any) -> dict[str, str]:
        self.requests.append(request)
        return {"TrainingJobArn": ""}

    def create_hyper_parameter_tuning_job(self, **request: Any) -> dict[str, str]:
        self.requests.append(request)
        return {"HyperParameterTuningJobArn": ""}


def model_uri(job: Job) -> str:
    # SageMaker writes <output path>/<job>/output/; local mode copies into a file:// path as is
    if job.output_path.startswith("file://"):
        return f"{job.output_path.rstrip('/')}/model.tar.gz"
    return f"{job.output_path.rstrip('/')}/{job.name}/output/model.tar.gz"


def announce(job: Job) -> None:
    print(f"job: {job.name}")
    if not job.local:
        print(f"console: {console_url(job.region, job.name)}")
    print(f"model: {model_uri(job)}", flush=True)


def submit(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    job = build_job(args)
    check_locations(job)
    wait = job.local or args.wait is not False  # local mode always runs to the end
    try:
        result = run_estimator(job, wait, bool(args.dry_run), lambda: announce(job))
    except (ImportError, RuntimeError) as error:
        if not job.local:
            raise
        raise UserError(f"local mode failed: {error}") from None
    if args.dry_run:
        print(json.dumps(result, indent=2, default=str))
        return 0
    status = result["TrainingJobStatus"]
    if wait:
        print()  # the SDK's progress dots end without a newline
        if status != "Completed":
            raise UserError(f"job {job.name} {status}: {result.get('FailureReason', 'no reason given')}")
    print(f"status: {status}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command("submit", submit))
