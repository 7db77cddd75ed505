"""Automatic model tuning: a SageMaker tuning job that trains the image with varied
hyperparameters and keeps the one with the best value of task.py's TUNING metric.

    make tune ROLE=arn:aws:iam::123456789012:role/SageMakerTraining        # 10 jobs, 2 at a time
    make tune ROLE=... MAX_JOBS=20 MAX_PARALLEL=4
    make tune ROLE=... RANGES="learning_rate=0.0003:0.003 features=timefreq,fft"
    make tune ROLE=... DRY_RUN=1                  # print the request as JSON; send nothing

The objective is task.py's TUNING (the example's: validation:accuracy, maximised), read from
each job's log by the same metric definitions make submit sends. RANGES lists NAME=LOW:HIGH
(a number range, integer for integer hyperparameters) or NAME=A,B,C (choices) for task.py's
hyperparameters, each value checked as train.py would; the default ranges are in
DEFAULT_RANGES. Every option of
make submit applies to the training jobs (IMAGE, INSTANCE_TYPE, INPUTS, HYPERPARAMETERS
for the fixed ones, SPOT, ...), except LOCAL, which must be empty or 0. Prints the tuning
job's name and where to follow it; it runs for as long as its jobs do.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from aws.context import console_url, run_command
from container.sagemaker_env import UserError, metric_definitions, metric_name, parse_hyperparameters
from submit import (
    Job,
    build_job,
    check_locations,
    job_parser,
    local_mode,
    pairs,
    positive,
    sdk_major,
    sdk_session,
)
from task import ACCEPTED, HYPERPARAMETERS, METRICS, TUNING

DEFAULT_RANGES = "learning_rate=0.0001:0.01 batch_size=32:1024 patience=5:20"
MAX_JOBS, MAX_PARALLEL = 10, 2
NAME_LENGTH = 32  # tuning job names are shorter than training job names
Range = tuple[str, list[Any]]  # ("continuous" | "integer" | "categorical", bounds or choices)


def parse_args(argv: list[str] | None) -> Any:
    parser = job_parser("tune", __doc__ or "")
    parser.add_argument("--ranges", nargs="+", action="extend", default=[], metavar="NAME=LOW:HIGH|A,B")
    parser.add_argument("--max-jobs", type=positive, help=f"training jobs in all (default: {MAX_JOBS})")
    parser.add_argument("--max-parallel", type=positive, help=f"at a time (default: {MAX_PARALLEL})")
    parser.add_argument(
        "--local",
        nargs="?",
        const="cpu",
        type=local_mode,  # read as make submit reads it: LOCAL=0 or empty is not local mode
        metavar="0|1",
        help="refused: tuning runs on SageMaker only",
    )
    return parser.parse_args(argv)


def parse_ranges(text: str, fixed: dict[str, str]) -> dict[str, Range]:
    """RANGES as (kind, values), each value parsed and checked as train.py would."""
    ranges: dict[str, Range] = {}
    for name, spec in pairs([text], "--ranges", "NAME=LOW:HIGH or NAME=A,B").items():
        if name in fixed:
            raise UserError(f"{name} is in both HYPERPARAMETERS and RANGES: give it in one")
        low, colon, high = spec.partition(":")
        values = [low, high] if colon else spec.split(",")
        parsed = [
            parse_hyperparameters({name: value}, HYPERPARAMETERS, ACCEPTED, "RANGES")[name]
            for value in values
        ]
        if colon:
            if not parsed[0] < parsed[1]:
                raise UserError(f"RANGES: {name}={spec} is not LOW:HIGH with LOW below HIGH")
            kind = "integer" if isinstance(HYPERPARAMETERS[name], int) else "continuous"
            if isinstance(HYPERPARAMETERS[name], str):
                raise UserError(f"RANGES: {name} takes choices (A,B,...), not a range")
            ranges[name] = (kind, parsed)
        else:
            ranges[name] = ("categorical", [str(value) for value in parsed])
    return ranges


def tuning_job_name(job: Job) -> str:
    """PREFIX-YYMMDD-HHMMSS within the 32 characters a tuning job's name may have."""
    stamp = time.strftime("%y%m%d-%H%M%S", time.gmtime())
    prefix = job.name.rsplit("-", 7)[0][: NAME_LENGTH - len(stamp) - 1].strip("-")
    return f"{prefix}-{stamp}"


def run_tuner(
    job: Job, ranges: dict[str, Range], max_jobs: int, max_parallel: int, dry_run: bool
) -> dict[str, Any]:
    """All use of the SDK for tuning: v2's HyperparameterTuner over make submit's Estimator
    (the session comes from sdk_session), or under v3 aws/sdk_v3.py's over a ModelTrainer.

    Returns the CreateHyperParameterTuningJob request on a dry run, else the tuning job's
    description.
    """
    name = tuning_job_name(job)
    if sdk_major() >= 3:
        from sagemaker.core import parameter

        from aws import sdk_v3

        return sdk_v3.tune(job, name, tuner_arguments(ranges, parameter, max_jobs, max_parallel), dry_run)
    session = sdk_session(job.region)
    # v2's tuner reads its Estimator's model_data, which warns that no job has run yet: none
    # should, as the tuner's own jobs train.
    logging.getLogger("sagemaker.estimator").setLevel(logging.ERROR)
    from sagemaker import parameter
    from sagemaker.tuner import HyperparameterTuner

    from submit import DryRunClient, new_estimator, sdk_inputs

    requests: list[dict[str, Any]] = []
    if dry_run:
        session.sagemaker_client = DryRunClient(requests)
    tuner = HyperparameterTuner(
        new_estimator(job, session),
        metric_definitions=metric_definitions(METRICS),  # the tuner sends its own, not the estimator's
        **tuner_arguments(ranges, parameter, max_jobs, max_parallel),
    )
    tuner.fit(sdk_inputs(job), job_name=name, wait=False)
    if dry_run:
        return requests[0]
    return session.sagemaker_client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)


def tuner_arguments(
    ranges: dict[str, Range], parameter: Any, max_jobs: int, max_parallel: int
) -> dict[str, Any]:
    """HyperparameterTuner's arguments, alike in both majors; parameter is the SDK's module of
    range classes (sagemaker.parameter in v2, sagemaker.core.parameter in v3)."""
    kinds: dict[str, Callable[..., Any]] = {
        # a learning rate's range spans decades: searched on a log scale where it can be
        "continuous": lambda low, high: parameter.ContinuousParameter(
            low, high, scaling_type="Logarithmic" if low > 0 else "Auto"
        ),
        "integer": lambda low, high: parameter.IntegerParameter(low, high),
        "categorical": lambda *choices: parameter.CategoricalParameter(list(choices)),
    }
    return {
        "objective_metric_name": metric_name(TUNING[0]),
        "objective_type": TUNING[1],
        "hyperparameter_ranges": {name: kinds[kind](*values) for name, (kind, values) in ranges.items()},
        "max_jobs": max_jobs,
        "max_parallel_jobs": max_parallel,
    }


def tune(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.local:
        raise UserError("tuning runs on SageMaker only: drop LOCAL")
    if args.tensorboard:
        raise UserError("a tuning job's training jobs take no TensorBoard output: drop TENSORBOARD")
    max_jobs, max_parallel = args.max_jobs or MAX_JOBS, args.max_parallel or MAX_PARALLEL
    if max_parallel > max_jobs:
        raise UserError(f"MAX_PARALLEL={max_parallel} is more than MAX_JOBS={max_jobs}")
    # RANGES is checked before build_job checks the rest and asks STS for the account
    fixed = pairs(args.hyperparameters, "--hyperparameters", "NAME=VALUE")
    ranges = parse_ranges(" ".join(args.ranges) or DEFAULT_RANGES, fixed)
    job = build_job(args)
    check_locations(job)
    result = run_tuner(job, ranges, max_jobs, max_parallel, bool(args.dry_run))
    if args.dry_run:
        print(json.dumps(result, indent=2, default=str))
        return 0
    name = result["HyperParameterTuningJobName"]
    print(f"tuning job: {name}")
    print(f"console: {console_url(job.region, name, 'hyper-tuning-jobs')}")
    print(f"status: {result['HyperParameterTuningJobStatus']}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command("tune", tune))
