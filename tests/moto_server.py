"""A real moto server (the AWS API stand-in) on 127.0.0.1 for the upload and submit tests.

running() starts .venv/bin/moto_server on a free port, waits until it answers and stops it
by its pid at the end; reset() gives every test an empty account; Aws runs a command with
an environment that reaches moto and nothing else.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

REPO = Path(__file__).resolve().parent.parent
MOTO_SERVER = Path(sys.executable).parent / "moto_server"
REGION = "us-west-2"
ACCOUNT = "123456789012"  # moto's account
STARTUP_SECONDS = 30
# SDK v2 reports telemetry from fit() to an S3 host of its own, outside moto; there is no
# internet here, so a test that left it on would hang. This file turns it off.
TELEMETRY_OFF = "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"

_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 needs no proxy


def moto_api(endpoint: str, path: str, body: bytes | None = None, timeout: float = 5) -> bytes:
    """GET, or POST body, to moto's own API (/moto-api/...)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/{path}",
        data=body,
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/octet-stream"},
    )
    with _direct.open(request, timeout=timeout) as response:
        return response.read()


def reset(endpoint: str) -> None:
    """Empties every service and switches IAM enforcement off again."""
    moto_api(endpoint, "reset", b"")
    moto_api(endpoint, "reset-auth", b"inf")


def enforce_iam(endpoint: str) -> None:
    """From now on moto checks every request's signature and IAM policies, as AWS does.

    The same switch as moto's INITIAL_NO_AUTH_ACTION_COUNT setting, flipped at run time.
    """
    moto_api(endpoint, "reset-auth", b"0")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answering(endpoint: str, process: subprocess.Popen, deadline: float) -> bool:
    """Polls moto until it answers (True) or its process ends, e.g. on a taken port (False)."""
    while process.poll() is None:
        try:
            moto_api(endpoint, "", timeout=1)
            return True
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                message = f"moto_server did not answer on {endpoint} within {STARTUP_SECONDS} s"
                raise TimeoutError(message) from None
            time.sleep(0.05)
    return False


@contextmanager
def running(log: Path) -> Iterator[str]:
    """Yields the endpoint of a fresh moto server; another process may take our free port
    between probing and binding, so that is retried."""
    deadline = time.monotonic() + STARTUP_SECONDS
    for _attempt in range(3):
        endpoint_port = free_port()
        endpoint = f"http://127.0.0.1:{endpoint_port}"
        with log.open("ab") as output:
            process = subprocess.Popen(
                [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(endpoint_port)],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            if _answering(endpoint, process, deadline):
                yield endpoint
                return
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    raise RuntimeError(f"moto_server would not start; its log: {log.read_text()}")


def environment(endpoint: str, folder: Path) -> dict[str, str]:
    """What a command needs to talk to moto, and only to moto.

    Nothing of the person's own AWS setup leaks in: their AWS_* variables, profile and
    SageMaker SDK config are replaced; instance metadata is never probed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "sagemaker-config.yaml"
    config.write_text(TELEMETRY_OFF)
    # Nor does `make test`'s own state: a nested make would print "Leaving directory" last.
    outside = ("AWS_", "SAGEMAKER_", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    kept = {k: v for k, v in os.environ.items() if not k.startswith(outside)}
    return {
        **kept,
        "HOME": str(folder),  # ~/.aws and ~/.sagemaker (local mode's config) of an empty home
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(folder / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "no-aws-credentials"),
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config),
        "NO_PROXY": ",".join(filter(None, ["127.0.0.1", os.environ.get("NO_PROXY")])),
        "no_proxy": ",".join(filter(None, ["127.0.0.1", os.environ.get("no_proxy")])),
    }


@dataclass
class Aws:
    """One test's view of moto: run commands against it, look at what they left with boto3."""

    endpoint: str
    env: dict[str, str]

    @classmethod
    def fresh(cls, endpoint: str, folder: Path) -> Aws:
        reset(endpoint)
        return cls(endpoint, environment(endpoint, folder))

    def run(self, *command: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
        """Runs command in the repository root; env adds variables, and "" removes one."""
        merged = {k: v for k, v in {**self.env, **env}.items() if v != ""}
        return subprocess.run(
            command, cwd=REPO, env=merged, capture_output=True, text=True, timeout=timeout, check=False
        )

    def client(self, service: str, **credentials: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=credentials.get("key", "testing"),
            aws_secret_access_key=credentials.get("secret", "testing"),
        )

    def training_job(self, name: str, image: str, output_path: str = "s3://team-bucket/output") -> str:
        """A training job as submit.py would create it (moto makes it Completed at once);
        returns where its model.tar.gz would be."""
        self.client("sagemaker").create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/SageMakerTraining",
            OutputDataConfig={"S3OutputPath": output_path},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
        )
        return f"{output_path}/{name}/output/model.tar.gz"

    def training_jobs(self) -> list[dict[str, Any]]:
        """Every training job moto holds, described."""
        sagemaker = self.client("sagemaker")
        names = [job["TrainingJobName"] for job in sagemaker.list_training_jobs()["TrainingJobSummaries"]]
        return [sagemaker.describe_training_job(TrainingJobName=name) for name in names]

    def keys(self, bucket: str) -> list[str]:
        listing = self.client("s3").list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))
