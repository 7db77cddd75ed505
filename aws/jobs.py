"""Follows SageMaker training jobs: a job's status and log, stopping it, the recent jobs of an image.

    make status                                  # the latest eeg job: status, times, instance, metrics, model
    make status JOB=eeg-2026-01-31-12-00-00-123  # a job by name
    make logs                                    # its CloudWatch log, followed while the job runs
    make stop JOB=eeg-2026-01-31-12-00-00-123    # stop a running job (train.py checkpoints, then exits)
    make jobs IMAGE=eeg                          # the 20 newest eeg jobs, newest first, a line each
    .venv/bin/python -m aws.jobs status --job NAME   # without make: status, logs, stop, list

JOB (--job) defaults to the newest job that submit.py named for IMAGE (--image, default eeg),
whatever its status. `logs` prints the job's streams in the log group /aws/sagemaker/TrainingJobs
and, while the job is InProgress, looks for more every 10 s until it ends; Ctrl-C stops the
following, not the job. `stop` refuses a job that has already ended.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import boto3

from aws.context import aws_region, console_url, describe_training_job, image_jobs, run_command
from aws.defaults import IMAGE
from container.sagemaker_env import UserError
from submit import job_prefix

# defaults
RECENT = 20  # jobs that `list` shows
POLL_SECONDS = 10  # between looks at the log of a running job
LOG_GROUP = "/aws/sagemaker/TrainingJobs"  # where SageMaker sends the container's stdout and stderr
RUNNING = ("InProgress", "Stopping")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="jobs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    image = argparse.ArgumentParser(add_help=False)
    image.add_argument("--image", default="", help=f"whose jobs: their name prefix (default: {IMAGE})")
    job = argparse.ArgumentParser(add_help=False, parents=[image])
    job.add_argument(
        "--job", default="", metavar="NAME", help="a training job (default: the latest of --image)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, parents, text in (
        ("status", [job], "status, times, instance, final metrics, failure reason, model"),
        ("logs", [job], f"the job's log in {LOG_GROUP}, followed while it runs"),
        ("stop", [job], "stop an InProgress job"),
        ("list", [image], f"the {RECENT} newest jobs of --image with status and final metrics"),
    ):
        commands.add_parser(name, parents=parents, help=text, description=text)
    return parser.parse_args(argv)


def chosen_job(args: argparse.Namespace, sagemaker: Any, region: str) -> dict[str, Any]:
    """The description of --job, else of the newest job of --image."""
    name = args.job
    if not name:
        prefix = job_prefix("", args.image or IMAGE)
        jobs = image_jobs(sagemaker, prefix)
        if not jobs:
            raise UserError(
                f"no training job named {prefix}-TIMESTAMP in {region}: "
                "run 'make submit' first, or name one with JOB=NAME (--job)"
            )
        name = jobs[0]["TrainingJobName"]
    return describe_training_job(sagemaker, name, region)


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def metrics(job: dict[str, Any]) -> str:
    """validation:accuracy=0.79 test:accuracy=0.77: what SageMaker read from the log, last values."""
    values = job.get("FinalMetricDataList", [])
    return " ".join(f"{metric['MetricName']}={metric['Value']:.4g}" for metric in values) or "none"


def status(job: dict[str, Any], region: str) -> int:
    name = job["TrainingJobName"]
    secondary = job.get("SecondaryStatus", "")
    transitions = job.get("SecondaryStatusTransitions", [])
    if transitions and transitions[-1].get("StatusMessage"):
        secondary = f"{secondary} ({transitions[-1]['StatusMessage']})"
    resources = job.get("ResourceConfig", {})
    spot = " (spot)" if job.get("EnableManagedSpotTraining") else ""
    print(f"job: {name}")
    print(f"status: {job['TrainingJobStatus']}")
    print(f"secondary status: {secondary}")
    for label, key in (
        ("created", "CreationTime"),
        ("started", "TrainingStartTime"),
        ("ended", "TrainingEndTime"),
    ):
        if job.get(key):
            print(f"{label}: {utc(job[key])}")
    if "TrainingTimeInSeconds" in job:
        billable = job.get("BillableTimeInSeconds", 0)
        print(f"training time: {job['TrainingTimeInSeconds']} s (billable {billable} s)")
    print(f"instance: {resources.get('InstanceCount', 1)} x {resources.get('InstanceType', '?')}{spot}")
    print(f"metrics: {metrics(job)}")
    if job.get("FailureReason"):
        print(f"failure reason: {job['FailureReason']}")
    if job.get("ModelArtifacts", {}).get("S3ModelArtifacts"):
        print(f"model: {job['ModelArtifacts']['S3ModelArtifacts']}")
    print(f"console: {console_url(region, name)}")
    return 0


def log_streams(logs: Any, job: str) -> list[str]:
    """The job's streams, JOB/algo-1-1700000000 and so on, one per instance."""
    try:
        pages = logs.get_paginator("describe_log_streams").paginate(
            logGroupName=LOG_GROUP, logStreamNamePrefix=f"{job}/"
        )
        return sorted(stream["logStreamName"] for page in pages for stream in page["logStreams"])
    except logs.exceptions.ResourceNotFoundException:
        return []  # no training job in this account and region has logged yet


def print_new_events(logs: Any, streams: list[str], tokens: dict[str, str]) -> None:
    """Prints what the streams got since the tokens were taken, oldest first; moves the tokens on."""
    events = []
    for stream in streams:
        while True:
            token = tokens.get(stream, "")
            page = logs.get_log_events(
                logGroupName=LOG_GROUP,
                logStreamName=stream,
                startFromHead=True,
                **({"nextToken": token} if token else {}),
            )
            # several instances: say which one wrote each line, as the SDK does
            host = f"[{stream.split('/', 1)[1]}] " if len(streams) > 1 else ""
            events += [(event["timestamp"], host, event["message"].rstrip("\n")) for event in page["events"]]
            tokens[stream] = page["nextForwardToken"]
            if page["nextForwardToken"] == token:  # the end of the stream, for now
                break
    for _timestamp, host, message in sorted(events):
        print(f"{host}{message}", flush=True)


def follow(job: dict[str, Any], sagemaker: Any, logs: Any, region: str, required: bool = True) -> int:
    """Prints the job's log as it comes, until the job ends; a job that wrote none is an
    error unless not required (make submit SDK=3 waits through this)."""
    name = job["TrainingJobName"]
    tokens: dict[str, str] = {}
    followed = False
    while True:
        ended = job["TrainingJobStatus"] not in RUNNING  # looked at before the log, so nothing is lost
        streams = log_streams(logs, name)
        print_new_events(logs, streams, tokens)
        if ended:
            break
        if not streams and not followed:
            print(
                f"no log stream for {name} yet ({job.get('SecondaryStatus', '')}): waiting for it", flush=True
            )
        followed = True
        time.sleep(POLL_SECONDS)
        job = describe_training_job(sagemaker, name, region)
    if followed:  # a job's last lines reach CloudWatch seconds after its status changes
        time.sleep(POLL_SECONDS)
        streams = log_streams(logs, name)
        print_new_events(logs, streams, tokens)
    if not streams and required:
        raise UserError(
            f"no log stream {name}/... in {LOG_GROUP} in {region}: the job ({job['TrainingJobStatus']}) "
            f"wrote none, or they were deleted (make status JOB={name} tells more)"
        )
    if followed:
        print(f"job {name} ended: {job['TrainingJobStatus']}")
    return 0


def stop(job: dict[str, Any], sagemaker: Any) -> int:
    name, state = job["TrainingJobName"], job["TrainingJobStatus"]
    if state not in RUNNING:
        raise UserError(f"training job {name} is {state} already: only an InProgress job can be stopped")
    if state == "Stopping":
        raise UserError(f"training job {name} is Stopping already: make status JOB={name} shows when it ends")
    sagemaker.stop_training_job(TrainingJobName=name)
    print(f"job: {name}")
    print(f"was: {state} ({job.get('SecondaryStatus', '')})")
    # train.py checkpoints on SIGTERM and exits; SageMaker sends SIGKILL 120 s after it
    print("asked to stop: SageMaker sends the container SIGTERM, then SIGKILL 120 s later")
    print(f"status: {sagemaker.describe_training_job(TrainingJobName=name)['TrainingJobStatus']}")
    return 0


def recent(args: argparse.Namespace, sagemaker: Any, region: str) -> int:
    prefix = job_prefix("", args.image or IMAGE)
    jobs = image_jobs(sagemaker, prefix)
    if not jobs:
        print(f"no training jobs named {prefix}-TIMESTAMP in {region} (make submit starts one)")
        return 0
    width = max(len(job["TrainingJobName"]) for job in jobs[:RECENT])
    for summary in jobs[:RECENT]:
        job = describe_training_job(sagemaker, summary["TrainingJobName"], region)
        created = utc(job["CreationTime"])
        print(f"{job['TrainingJobName']:<{width}}  {job['TrainingJobStatus']:<10}  {created}  {metrics(job)}")
    if len(jobs) > RECENT:
        print(f"({len(jobs) - RECENT} older jobs not shown)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    region = aws_region()
    session = boto3.Session(region_name=region)
    sagemaker = session.client("sagemaker")
    if args.command == "list":
        return recent(args, sagemaker, region)
    job = chosen_job(args, sagemaker, region)
    if args.command == "status":
        return status(job, region)
    if args.command == "stop":
        return stop(job, sagemaker)
    try:
        return follow(job, sagemaker, session.client("logs"), region)
    except KeyboardInterrupt:
        print(
            f"\nstopped following; the job goes on (make stop JOB={job['TrainingJobName']} stops it)",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    try:
        code = run_command("jobs", main)
        sys.stdout.flush()
    except BrokenPipeError:  # make jobs | head -3: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # silences the flush at exit
        code = 141  # 128 + SIGPIPE, as a shell reports a program ended by it
    sys.exit(code)
