"""Where upload.py and submit.py run: the AWS region, the account, and the names built from them.

The SageMaker SDK's own Session.account_id() and default_bucket() call the public STS
endpoint and ignore AWS_ENDPOINT_URL, so the account comes from a boto3 STS client here,
which honours it (and so works against moto, LocalStack or a VPC endpoint).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions

from container.sagemaker_env import UserError, one_line

# An ECR repository name, namespaces allowed: eeg, team/eeg.
REPOSITORY_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
# Docker's grammar for a registry host: DNS labels joined by dots, then an optional :PORT
HOST_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
REGISTRY_HOST = re.compile(rf"{HOST_LABEL}(?:\.{HOST_LABEL})*(?::[0-9]+)?")
DIGEST = re.compile(r"sha256:[a-f0-9]{64}")  # the one digest ECR keeps images by
# SageMaker's instance types: ml.FAMILY.SIZE, e.g. ml.m5.large, ml.p4d.24xlarge
INSTANCE_TYPE = re.compile(r"ml\.[a-z0-9]+\.[a-z0-9]+")
# what the API accepts: endpoint, model and job names alike
NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")
NAME_LENGTH = 63
ACCESS_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
PERMISSIONS_HINT = "see 'IAM permissions for the job' in docs/aws.md"


@dataclass(frozen=True)
class AwsContext:
    """A boto3 session, its region, and the account STS says the credentials belong to."""

    session: boto3.Session
    region: str
    account: str

    @property
    def default_bucket(self) -> str:
        # the SDK's naming rule for Session.default_bucket()
        return f"sagemaker-{self.region}-{self.account}"

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=self.region)


def aws_region(fallback: str = "") -> str:
    """AWS_REGION, else what boto3 finds (AWS_DEFAULT_REGION, the profile's region)."""
    region = os.environ.get("AWS_REGION") or boto3.Session().region_name or fallback
    if not region:
        raise UserError("no AWS region (set AWS_REGION or run 'aws configure')")
    return region


def connect() -> AwsContext:
    """Asks STS who we are: the account, and a clear error when credentials are missing."""
    region = aws_region()
    session = boto3.Session(region_name=region)
    identity = session.client("sts", region_name=region).get_caller_identity()
    return AwsContext(session, region, identity["Account"])


def dns_suffix(region: str) -> str:
    # China regions live under their own domain: ECR, the console and S3 hosts alike.
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


@dataclass(frozen=True)
class ImageName:
    """An image reference split the way Docker splits it: [registry/]repository[:tag][@digest]."""

    registry: str  # "" for a bare repository name such as eeg
    repository: str
    tag: str
    digest: str


def parse_image(image: str) -> ImageName:
    """eeg, eeg:v1, team/eeg, 123456789012.dkr.ecr.us-west-2.amazonaws.com/eeg:v1, ...@sha256:..."""
    first, _, rest = image.partition("/")
    # Docker's rule: a first part with a dot or a colon (or localhost) is a registry host.
    has_registry = bool(rest) and ("." in first or ":" in first or first == "localhost")
    registry, path = (first, rest) if has_registry else ("", image)
    path, at, digest = path.partition("@")
    repository, tag = path, ""
    if ":" in path.rsplit("/", 1)[-1]:
        repository, tag = path.rsplit(":", 1)
    if (
        not REPOSITORY_NAME.fullmatch(repository)
        or (tag and not TAG.fullmatch(tag))
        or (registry and not REGISTRY_HOST.fullmatch(registry))
    ):
        raise UserError(
            f"invalid image name {image!r}: use an ECR repository name such as eeg "
            "(lowercase letters, digits, '.', '_', '-', '/'), optionally with :TAG, "
            "or a full image URI"
        )
    if at and not DIGEST.fullmatch(digest):
        raise UserError(f"invalid digest {digest!r} in image {image!r}: expected sha256: and 64 hex digits")
    return ImageName(registry, repository, tag, digest)


def ecr_registry(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.{dns_suffix(region)}"


def image_uri(image: str, tag: str, registry: str) -> str:
    """eeg -> REGISTRY/eeg:latest (eeg:latest without a registry); a full URI keeps its own."""
    name = parse_image(image)
    if tag and not TAG.fullmatch(tag):
        raise UserError(
            f"invalid tag {tag!r}: up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"
        )
    if name.tag and tag and name.tag != tag:
        raise UserError(f"two tags: {image!r} and {tag!r} (give one)")
    suffix = f"@{name.digest}" if name.digest else f":{name.tag or tag or 'latest'}"
    registry = name.registry or registry
    return f"{registry}/{name.repository}{suffix}" if registry else f"{name.repository}{suffix}"


def console_url(region: str, job_name: str, kind: str = "jobs") -> str:
    """The console page of a training job (kind jobs) or a tuning job (hyper-tuning-jobs)."""
    host = "console.amazonaws.cn" if region.startswith("cn-") else f"{region}.console.aws.amazon.com"
    return f"https://{host}/sagemaker/home?region={region}#/{kind}/{job_name}"


def instance_type(text: str) -> str:
    """An instance type as SageMaker names them, or a one-line error."""
    if not INSTANCE_TYPE.fullmatch(text):
        raise UserError(f"invalid instance type {text!r}: SageMaker's look like ml.m5.large or ml.g5.xlarge")
    return text


def data_uri(bucket: str, image: str) -> str:
    """Where `make upload` puts the training data; the trailing slash keeps data/eeg2/ out."""
    return f"s3://{bucket}/data/{parse_image(image).repository}/"


def missing(error: botocore.exceptions.ClientError) -> bool:
    """SageMaker's way of saying a name does not exist (the SDK tests for the same words)."""
    message = error.response.get("Error", {}).get("Message", "").lower()
    return "could not find" in message or "not found" in message


def describe_training_job(sagemaker: Any, name: str, region: str) -> dict[str, Any]:
    """DescribeTrainingJob, with a one-line error naming a job that does not exist."""
    try:
        return sagemaker.describe_training_job(TrainingJobName=name)
    except botocore.exceptions.ClientError as error:
        if missing(error):
            raise UserError(f"no training job {name} in {region}") from None
        raise


def image_jobs(sagemaker: Any, prefix: str, status: str = "") -> list[dict[str, Any]]:
    """The summaries of the jobs submit.py named for an image, PREFIX-YYYY-MM-DD-HH-MM-SS-mmm,
    newest first; status (e.g. Completed) keeps only the jobs in that state."""
    # NameContains alone would also match eeg-validation-... for eeg
    own = re.compile(rf"{re.escape(prefix)}-\d{{4}}(-\d\d){{5}}-\d{{3}}")
    filters = {"StatusEquals": status} if status else {}
    pages = sagemaker.get_paginator("list_training_jobs").paginate(
        NameContains=prefix, SortBy="CreationTime", SortOrder="Descending", **filters
    )
    jobs = [
        job for page in pages for job in page["TrainingJobSummaries"] if own.fullmatch(job["TrainingJobName"])
    ]
    # sorted here too, as moto ignores SortBy; the name's timestamp breaks ties
    return sorted(jobs, key=lambda job: (job["CreationTime"], job["TrainingJobName"]), reverse=True)


def explain(error: Exception) -> str:
    """One readable line for the botocore errors people actually meet."""
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return "no AWS credentials (run 'aws configure', or set AWS_PROFILE or AWS_ACCESS_KEY_ID)"
    if isinstance(error, botocore.exceptions.ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        # an error body botocore could not parse (an XML answer to a JSON API) arrives whole
        message = " ".join(re.findall(r"<Message>(.*?)</Message>", message, re.DOTALL)) or message
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ACCESS_DENIED or status == 403:
            return f"AWS denied {error.operation_name}: {message} ({PERMISSIONS_HINT})"
        return f"{error.operation_name} failed: {code}: {message}"
    return str(error)


def checked_name(name: str, what: str) -> str:
    if not NAME.fullmatch(name) or len(name) > NAME_LENGTH:
        raise UserError(
            f"invalid {what} {name!r}: letters, digits and '-', at most {NAME_LENGTH} characters, "
            "starting and ending with a letter or digit"
        )
    return name


def run_command(program: str, main: Callable[[], int]) -> int:
    """Runs main; a UserError, an AWS error or a file system's refusal (a name too long, a
    permission) becomes one line on stderr and exit status 1."""
    try:
        return main()
    except UserError as error:
        print(f"{program}: error: {error}", file=sys.stderr)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        print(f"{program}: error: {explain(error)}", file=sys.stderr)
    except BrokenPipeError:
        raise  # a reader that stopped early (| head): the command ends as a pipe's writer does
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        print(f"{program}: error: {one_line(f'{where}{error.strerror or error}')}", file=sys.stderr)
    return 1
