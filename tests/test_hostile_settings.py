"""A hostile pass over the settings of make submit, make tune, make local and make serve-local.

Make only passes these settings on, as environment variables quoted into the command line,
so most inputs call the Python entry point in-process with the argv make would build (each
`make` costs a second or two); a few `make` runs show the Makefile's own path. No training
job is launched: every launch is a dry run, in which the SDK builds the request and sends
nothing, and what reaches the SDK (submit.run_estimator, tune.run_tuner) is recorded.
make local and make serve-local are driven through copies of their scripts in tmp_path, so
an input that were accepted could not empty the real test_dir. The contract every input is
held to is in hostile.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import submit
from aws import tune
from hostile import BUCKET, Outcome, assert_refused, refusal_line, run_main
from moto_server import ACCOUNT, REGION, REPO, Aws

ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerTraining"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
HUGE = "1" + "0" * 30  # 10**30: no SageMaker integer field takes it


# --- 3. make submit / make tune settings, in-process against moto


@dataclass
class Launch:
    outcome: Outcome
    sent: list[str]
    reached: list[Any]  # what would have gone to the SDK: the Job (and tune's ranges and limits)


@pytest.fixture
def launch(in_aws: list[str], monkeypatch, capsys) -> Callable[..., Launch]:
    """Runs submit or tune with argv (after the role and --dry-run=1, as make passes them),
    recording what reaches the SDK, whose dry run then builds the request and sends nothing."""
    reached: list[Any] = []
    real_estimator, real_tuner = submit.run_estimator, tune.run_tuner

    def estimator(job: submit.Job, wait: bool, dry_run: bool, created: Callable[[], None]) -> dict[str, Any]:
        reached.append(job)
        assert dry_run
        return real_estimator(job, wait, dry_run, created)

    def tuner(
        job: submit.Job, ranges: dict, max_jobs: int, max_parallel: int, dry_run: bool
    ) -> dict[str, Any]:
        reached.append((job, ranges, max_jobs, max_parallel))
        assert dry_run
        return real_tuner(job, ranges, max_jobs, max_parallel, dry_run)

    monkeypatch.setattr(submit, "run_estimator", estimator)
    monkeypatch.setattr(tune, "run_tuner", tuner)

    def run(program: str, *argv: str) -> Launch:
        main = {"submit": submit.submit, "tune": tune.tune}[program]
        in_aws.clear()
        outcome = run_main(program, main, ["--role", ROLE, "--dry-run=1", *argv], capsys)
        return Launch(outcome, list(in_aws), reached[:])

    return run


REFUSED_SETTINGS = [
    *[
        pytest.param("submit", ["--image", image], f"invalid image name {image!r}", id=f"IMAGE-{name}")
        for name, image in [
            ("blank", " "),
            ("upper-case", "EEG"),
            ("substitution", "$(id)"),
            ("space", "eeg model"),
        ]
    ],
    *[
        pytest.param("submit", ["--tag", tag], f"invalid tag {tag!r}", id=f"TAG-{name}")
        for name, tag in [
            ("substitution", "$(id)"),
            ("backticks", "`id`"),
            ("semicolon", "v1;rm -rf x"),
            ("newline", "v1\n"),
            ("unicode", "v\u00fc"),
            ("129-characters", "v" * 129),
            ("dot-dot", "../x"),
        ]
    ],
    pytest.param(
        "submit", ["--image", "eeg:v1", "--tag", "v2"], "two tags: 'eeg:v1' and 'v2'", id="TAG-twice"
    ),
    *[
        pytest.param(
            "submit", ["--instance-type", kind], f"invalid instance type {kind!r}", id=f"INSTANCE_TYPE-{name}"
        )
        for name, kind in [
            ("trailing-space", "ml.m5.large "),
            ("upper-case", "ML.M5.LARGE"),
            ("semicolon", "ml.m5.large;rm -rf /"),
            ("newline", "ml.m5.large\n"),
            ("fullwidth", "ml.\uff4d5.large"),
            ("local", "local"),
        ]
    ],
    *[
        pytest.param("submit", [flag, value], words, id=f"{flag[2:].upper().replace('-', '_')}-{name}")
        for flag, name, value, words in [
            ("--instance-count", "0", "0", "expected a positive whole number, got '0'"),
            ("--instance-count", "minus-1", "-1", "got '-1'"),
            ("--instance-count", "1.5", "1.5", "got '1.5'"),
            ("--instance-count", "arabic-indic", "\u0663", "got '\u0663'"),
            ("--instance-count", "1e1", "1e1", "got '1e1'"),
            ("--instance-count", "hex", "0x2", "got '0x2'"),
            ("--instance-count", "20-digits", "9" * 20, "a training job runs 1 to 100 instances"),
            ("--instance-count", "101", "101", "invalid --instance-count 101"),
            ("--volume-size", "0", "0", "argument --volume-size: expected a positive whole number"),
            ("--volume-size", "float", "50.0", "got '50.0'"),
            ("--max-run", "minus-5", "-5", "argument --max-run: expected a positive whole number, got '-5'"),
            ("--max-run", "substitution", "$(id)", "got '$(id)'"),
            ("--distribution", "upper-case", "SHARDED", "invalid --distribution 'SHARDED'"),
            ("--distribution", "api-name", "ShardedByS3Key", "use replicated or sharded"),
            ("--input-mode", "pipe", "Pipe", "invalid --input-mode 'Pipe': use File or FastFile"),
            ("--input-mode", "lower-case", "file", "invalid --input-mode 'file'"),
            ("--input-mode", "leading-space", " File", "invalid --input-mode ' File'"),
            ("--job-name", "40-characters", "a" * 40, "at most 39 characters"),
            ("--job-name", "underscore", "x_y", "invalid --job-name 'x_y'"),
            ("--job-name", "trailing-dash", "x-", "invalid --job-name 'x-'"),
            ("--job-name", "substitution", "$(id)", "invalid --job-name '$(id)'"),
            ("--job-name", "unicode", "\u00fc", "invalid --job-name"),
            ("--job-name", "newline", "x\n", "invalid --job-name 'x\\n'"),
        ]
    ],
    *[
        pytest.param("submit", ["--role", role], f"invalid role {role!r}", id=f"ROLE-{name}")
        for name, role in [
            ("11-digit-account", "arn:aws:iam::12345678901:role/x"),
            ("no-name", f"arn:aws:iam::{ACCOUNT}:role/"),
            ("space", f"arn:aws:iam::{ACCOUNT}:role/x y"),
            ("a-user", f"arn:aws:iam::{ACCOUNT}:user/x"),
            ("blank", " "),
            ("newline", f"arn:aws:iam::{ACCOUNT}:role/x\n"),
        ]
    ],
    *[
        pytest.param("submit", ["--hyperparameters", pairs], words, id=f"HYPERPARAMETERS-{name}")
        for name, pairs, words in [
            ("twice", "epochs=3 epochs=3", "--hyperparameters gives epochs twice ('3' and '3')"),
            ("no-value", "epochs=", "hyperparameter epochs='' is not valid"),
            ("no-name", "=3", "takes NAME=VALUE pairs, got '=3'"),
            ("no-equals", "epochs", "takes NAME=VALUE pairs, got 'epochs'"),
            ("negative", "epochs=-1", "epochs='-1' is out of range"),
            ("float-for-int", "epochs=1e3", "epochs='1e3' is not valid"),
            ("semicolon", "epochs=3;rm", "epochs='3;rm' is not valid"),
            ("fullwidth-digit", "epochs=\uff13", "epochs='\uff13' is not valid"),
            ("nan", "learning_rate=nan", "learning_rate='nan' is not valid"),
            ("inf", "learning_rate=inf", "learning_rate='inf' is not valid"),
            ("underflow", "learning_rate=1e-400", "learning_rate='1e-400' is out of range"),
            ("20-digits", f"batch_size={'9' * 20}", "batch_size='99999999999999999999'"),
            ("upper-case-name", "EPOCHS=3", "unknown hyperparameter 'EPOCHS'"),
            ("substitution", "features=$(id)", "features='$(id)' is out of range"),
        ]
    ],
    *[
        pytest.param("submit", ["--inputs", pairs], words, id=f"INPUTS-{name}")
        for name, pairs, words in [
            (
                "no-objects",
                "training=s3://nope-bucket/x/",
                "channel training: no objects under s3://nope-bucket/x/",
            ),
            ("a-local-path", "training=/etc/passwd", "'/etc/passwd' is not an s3:// URI"),
            ("file-uri", "training=file:///etc", "'file:///etc' is not an s3:// URI"),
            ("slash-in-channel", "bad/name=s3://b/", "invalid channel name 'bad/name'"),
            ("unicode-channel", "\u00fc=s3://b/", "invalid channel name"),
            ("no-uri", "training", "--inputs takes CHANNEL=URI pairs, got 'training'"),
            ("twice", "training=s3://a/ training=s3://b/", "--inputs gives training twice"),
        ]
    ],
    *[
        pytest.param("submit", [*options], words, id=f"SPOT-{name}")
        for name, options, words in [
            (
                "2",
                ["--spot=2"],
                "argument --spot: expected one of 1, true, yes, on, 0, false, no, off, got '2'",
            ),
            ("substitution", ["--spot=$(id)"], "got '$(id)'"),
            ("max-wait-without-spot", ["--max-wait", "7200"], "--max-wait applies to spot training only"),
            ("max-wait-below-max-run", ["--spot=1", "--max-run", "3600", "--max-wait", "3599"], "less than"),
        ]
    ],
    pytest.param(
        "submit", ["--local=1", "--instance-type", "ml.m5.large"], "drop --spot", id="LOCAL-with-type"
    ),
    pytest.param("submit", ["--local=tpu"], "argument --local: expected one of", id="LOCAL-tpu"),
    pytest.param(
        "submit",
        ["--local=1", "--distribution", "sharded"],
        "drop --distribution sharded",
        id="LOCAL-sharded",
    ),
    *[
        pytest.param("tune", options, words, id=f"{options[0][2:].upper().replace('-', '_')}-{name}")
        for name, options, words in [
            ("zero-rate", ["--ranges", "learning_rate=0:1"], "learning_rate='0' is out of range"),
            ("nan", ["--ranges", "learning_rate=nan:1"], "learning_rate='nan' is not valid"),
            ("float-for-int", ["--ranges", "batch_size=1.5:8"], "batch_size='1.5' is not valid"),
            ("empty-range", ["--ranges", "batch_size=8:8"], "is not LOW:HIGH with LOW below HIGH"),
            ("no-high", ["--ranges", "epochs=1:"], "epochs='' is not valid"),
            ("three-bounds", ["--ranges", "learning_rate=0.001:0.01:0.1"], "learning_rate='0.01:0.1'"),
            ("no-equals", ["--ranges", "learning_rate"], "--ranges takes NAME=LOW:HIGH or NAME=A,B pairs"),
            (
                "range-of-choices",
                ["--ranges", "features=timefreq:fft"],
                "is not LOW:HIGH with LOW below HIGH",
            ),
            ("substitution", ["--ranges", "$(id)=1:2"], "unknown hyperparameter '$(id)'"),
            ("0", ["--max-jobs", "0"], "argument --max-jobs: expected a positive whole number, got '0'"),
            (
                "more-parallel",
                ["--max-jobs", "1", "--max-parallel", "2"],
                "MAX_PARALLEL=2 is more than MAX_JOBS=1",
            ),
            ("1", ["--local", "1"], "tuning runs on SageMaker only: drop LOCAL"),
        ]
    ],
    pytest.param(
        "submit",
        ["--inputs", " ".join(f"c{i}=s3://b-{i}/data/" for i in range(21))],
        "--inputs names 21 channels: a training job takes at most 20",
        id="INPUTS-21-channels",
    ),
    pytest.param(
        "submit", ["--image", "e" * 256], "SageMaker takes at most 255: shorten IMAGE or TAG", id="IMAGE-256"
    ),
    pytest.param(
        "submit",
        ["--output-path", "s3://Bad_Bucket/out"],
        "'Bad_Bucket' is not an S3 bucket name",
        id="OUTPUT_PATH-upper-case-bucket",
    ),
    pytest.param(
        "submit",
        ["--inputs", f"training=s3://{'b' * 64}/data/"],
        "is not an S3 bucket name",
        id="INPUTS-64-character-bucket",
    ),
]


@pytest.mark.parametrize(("program", "argv", "words"), REFUSED_SETTINGS)
def test_a_hostile_job_setting_is_refused_in_one_line_naming_it_and_sagemaker_is_never_asked(
    program: str, argv: list[str], words: str, launch: Callable[..., Launch]
) -> None:
    launched = launch(program, *argv)

    assert_refused(launched.outcome, program, words)
    assert launched.reached == [] and launched.outcome.out == ""
    assert not [request for request in launched.sent if request.startswith("sagemaker")]


def request_of(launched: Launch) -> dict[str, Any]:
    """The Job submit would send, as a dict; for tune, with its ranges and limits."""
    assert launched.outcome.code == 0, launched.outcome.err
    assert launched.outcome.err == ""
    (reached,) = launched.reached
    if isinstance(reached, tuple):
        job, ranges, max_jobs, max_parallel = reached
        return {**vars(job), "ranges": ranges, "max_jobs": max_jobs, "max_parallel": max_parallel}
    return vars(reached)


ACCEPTED_SETTINGS = [
    pytest.param("submit", [], "image_uri", f"{ECR}/eeg:latest", id="the-defaults"),
    pytest.param("submit", ["--instance-count", " 2 "], "instance_count", 2, id="INSTANCE_COUNT-padded"),
    pytest.param("submit", ["--instance-count", "100"], "instance_count", 100, id="INSTANCE_COUNT-100"),
    pytest.param("submit", ["--volume-size", " 50"], "volume_size", 50, id="VOLUME_SIZE-padded"),
    pytest.param("submit", ["--max-run", "3600 "], "max_run", 3600, id="MAX_RUN-padded"),
    pytest.param("submit", ["--spot= YES "], "max_wait", 2 * 86400, id="SPOT-YES-padded"),
    pytest.param("submit", ["--spot=off"], "max_wait", None, id="SPOT-off"),
    pytest.param("submit", ["--spot=1", "--spot=0"], "max_wait", None, id="SPOT-twice-the-last-counts"),
    pytest.param(
        "submit",
        ["--spot=1", "--max-run", "60", "--max-wait", "60"],
        "max_wait",
        60,
        id="MAX_WAIT-equal-to-run",
    ),
    pytest.param(
        "submit", ["--distribution", " sharded "], "distribution", "ShardedByS3Key", id="DISTRIBUTION-padded"
    ),
    pytest.param("submit", ["--input-mode", "FastFile"], "input_mode", "FastFile", id="INPUT_MODE-FastFile"),
    pytest.param(
        "submit",
        ["--hyperparameters", "epochs=3\nbatch_size=4"],
        "hyperparameters",
        {"epochs": "3", "batch_size": "4"},
        id="HYPERPARAMETERS-on-two-lines",
    ),
    pytest.param("submit", ["--hyperparameters", ""], "hyperparameters", {}, id="HYPERPARAMETERS-empty"),
    pytest.param(
        "submit", ["--tag", "v1.2_rc-3"], "image_uri", f"{ECR}/eeg:v1.2_rc-3", id="TAG-dots-and-dashes"
    ),
    pytest.param(
        "submit", ["--tag", "v" * 128], "image_uri", f"{ECR}/eeg:{'v' * 128}", id="TAG-128-characters"
    ),
    pytest.param(
        "submit",
        ["--image", "eeg:v1", "--tag", "v1"],
        "image_uri",
        f"{ECR}/eeg:v1",
        id="TAG-given-twice-alike",
    ),
    pytest.param(
        "submit",
        ["--image", "team/eeg-v2"],
        "image_uri",
        f"{ECR}/team/eeg-v2:latest",
        id="IMAGE-in-a-namespace",
    ),
    pytest.param(
        "submit",
        ["--role", f"arn:aws:iam::{ACCOUNT}:role/path/Name+=,.@-_"],
        "role",
        f"arn:aws:iam::{ACCOUNT}:role/path/Name+=,.@-_",
        id="ROLE-every-allowed-character",
    ),
    pytest.param(
        "submit",
        ["--inputs", f"training=s3://{BUCKET}/data/eeg/ validation=s3://{BUCKET}/data/eeg/"],
        "inputs",
        {"training": f"s3://{BUCKET}/data/eeg/", "validation": f"s3://{BUCKET}/data/eeg/"},
        id="INPUTS-two-channels",
    ),
    pytest.param(
        "submit",
        ["--output-path", "s3://team-bucket/out;rm -rf x"],
        "output_path",
        "s3://team-bucket/out;rm -rf x",
        id="OUTPUT_PATH-a-key-with-shell-syntax",
    ),
    pytest.param("submit", ["--local= "], "instance_type", "ml.m5.large", id="LOCAL-blank-is-off"),
    pytest.param("submit", ["--local=GPU"], "instance_type", "local_gpu", id="LOCAL-GPU"),
    pytest.param("submit", ["--tensorboard=0"], "tensorboard_uri", None, id="TENSORBOARD-0"),
    pytest.param(
        "tune",
        ["--ranges", "patience=1,2,3"],
        "ranges",
        {"patience": ("categorical", ["1", "2", "3"])},
        id="RANGES-choices",
    ),
    pytest.param(
        "tune",
        ["--ranges", "features=raw"],
        "ranges",
        {"features": ("categorical", ["raw"])},
        id="RANGES-one-choice",
    ),
    pytest.param(
        "tune",
        ["--ranges", "learning_rate=0.001:0.01\nbatch_size=8:16"],
        "ranges",
        {"learning_rate": ("continuous", [0.001, 0.01]), "batch_size": ("integer", [8, 16])},
        id="RANGES-on-two-lines",
    ),
    pytest.param(
        "tune", ["--max-jobs", " 4 ", "--max-parallel", "4"], "max_parallel", 4, id="MAX_PARALLEL-equal"
    ),
    pytest.param("tune", ["--local", ""], "instance_type", "ml.m5.large", id="LOCAL-empty-on-tune"),
]


@pytest.mark.parametrize(("program", "argv", "field", "value"), ACCEPTED_SETTINGS)
def test_an_odd_but_valid_job_setting_is_accepted_as_what_it_means(
    program: str, argv: list[str], field: str, value: Any, launch: Callable[..., Launch]
) -> None:
    assert request_of(launch(program, *argv))[field] == value


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        pytest.param(["--output-path", "s3://"], "s3://", id="OUTPUT_PATH-s3-with-no-bucket"),
        pytest.param(["--image", "../eeg"], "../eeg", id="IMAGE-dot-dot"),
        pytest.param(["--image", "eeg@sha256:abc"], "sha256:abc", id="IMAGE-a-3-digit-digest"),
        pytest.param(["--max-run", HUGE], HUGE, id="MAX_RUN-10-to-the-30"),
        pytest.param(["--volume-size", HUGE], HUGE, id="VOLUME_SIZE-10-to-the-30"),
        pytest.param(["--spot=1", "--max-wait", HUGE], HUGE, id="MAX_WAIT-10-to-the-30"),
    ],
)
def test_a_setting_sagemaker_would_refuse_is_refused_here_first(
    argv: list[str], words: str, launch: Callable[..., Launch]
) -> None:
    launched = launch("submit", *argv)

    assert_refused(launched.outcome, "submit", words)
    assert launched.reached == []


REFUSED_WITHOUT_AWS = [
    pytest.param("submit", ["--role", "arn:aws:iam::1:role/x"], id="ROLE"),
    pytest.param("submit", ["--job-name", "x_y"], id="JOB_NAME"),
    pytest.param("submit", ["--hyperparameters", "epochs=0"], id="HYPERPARAMETERS"),
    pytest.param("submit", ["--image", "EEG"], id="IMAGE"),
    pytest.param("submit", ["--input-mode", "Pipe"], id="INPUT_MODE"),
    pytest.param("submit", ["--instance-type", "m5.large"], id="INSTANCE_TYPE"),
    pytest.param("submit", ["--tag", "$(id)"], id="TAG"),
    pytest.param("tune", ["--ranges", "learning_rate=0:1"], id="RANGES"),
    pytest.param("submit", ["--output-path", "/tmp/out"], id="OUTPUT_PATH"),
    pytest.param("submit", ["--output-path", "s3://"], id="OUTPUT_PATH-no-bucket"),
    pytest.param("submit", ["--inputs", "training=s3:///data/"], id="INPUTS-no-bucket"),
    pytest.param("submit", ["--max-run", HUGE], id="MAX_RUN"),
]


@pytest.mark.parametrize(("program", "argv"), REFUSED_WITHOUT_AWS)
def test_a_refused_setting_asks_nothing_of_aws_not_even_who_the_caller_is(
    program: str, argv: list[str], launch: Callable[..., Launch]
) -> None:
    launched = launch(program, *argv)

    assert launched.outcome.code != 0
    assert launched.sent == []


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        pytest.param("--job-name", "-x", id="JOB_NAME"),
        pytest.param("--tag", "-v1", id="TAG"),
        pytest.param("--instance-type", "-m5", id="INSTANCE_TYPE"),
        pytest.param("--output-path", "--dry-run", id="OUTPUT_PATH"),
    ],
)
def test_a_setting_that_starts_with_a_dash_is_named_in_its_refusal(
    flag: str, value: str, launch: Callable[..., Launch]
) -> None:
    # make passes --job-name="${JOB_NAME}": one word, so the value is never taken for an option
    assert_refused(launch("submit", f"{flag}={value}").outcome, "submit", repr(value))


# --- 3. through make itself


def job_names(account: Aws) -> set[str]:
    return {job["TrainingJobName"] for job in account.training_jobs()}


@pytest.mark.parametrize(
    ("setting", "quoted"),
    [
        pytest.param("JOB_NAME=$(touch {marker})", "invalid --job-name '$(touch {marker})'", id="JOB_NAME"),
        pytest.param("TAG=`touch {marker}`", "invalid tag '`touch {marker}`'", id="TAG"),
        pytest.param(
            "HYPERPARAMETERS=features=`touch${{IFS}}{marker}`",
            "features='`touch${{IFS}}{marker}`'",
            id="HYPERPARAMETERS",
        ),
    ],
)
def test_make_passes_shell_syntax_in_a_setting_on_as_text_and_runs_none_of_it(
    setting: str, quoted: str, account: Aws, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    jobs = job_names(account)

    result = account.run(
        "make",
        "--no-print-directory",
        "-s",
        "submit",
        f"ROLE={ROLE}",
        "DRY_RUN=1",
        setting.format(marker=marker),
    )

    assert result.returncode != 0
    assert quoted.format(marker=marker) in refusal_line(result.stderr, "submit")
    assert not marker.exists()
    assert job_names(account) == jobs


def test_make_submit_dry_run_sends_padded_and_multi_line_settings_as_meant(account: Aws) -> None:
    jobs = job_names(account)

    result = account.run(
        "make",
        "--no-print-directory",
        "-s",
        "submit",
        f"ROLE={ROLE}",
        "DRY_RUN=1",
        "INSTANCE_COUNT= 2 ",
        "DISTRIBUTION= sharded ",
        "SPOT=YES ",
        "VOLUME_SIZE= 50",
        "HYPERPARAMETERS=epochs=3\nbatch_size=4",
        f"JOB_NAME={'a' * 39}",
        "LOCAL= ",
    )

    assert result.returncode == 0, result.stderr
    request = json.loads(result.stdout)
    assert request["ResourceConfig"] == {
        "VolumeSizeInGB": 50,
        "InstanceCount": 2,
        "InstanceType": "ml.m5.large",
    }
    (channel,) = request["InputDataConfig"]
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert request["EnableManagedSpotTraining"] is True
    assert request["HyperParameters"] == {"epochs": "3", "batch_size": "4"}
    assert re.fullmatch(r"a{39}-\d{4}(-\d\d){5}-\d{3}", request["TrainingJobName"])
    assert job_names(account) == jobs


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        pytest.param("JOB_NAME=-x", "invalid --job-name '-x'", id="JOB_NAME"),
        pytest.param("TAG=-v1", "invalid tag '-v1'", id="TAG"),
        pytest.param("INSTANCE_TYPE=-m5", "invalid instance type '-m5'", id="INSTANCE_TYPE"),
        pytest.param("OUTPUT_PATH=--dry-run", "--output-path '--dry-run'", id="OUTPUT_PATH"),
    ],
)
def test_make_submit_passes_a_setting_that_starts_with_a_dash_as_its_value(
    setting: str, named: str, account: Aws
) -> None:
    result = account.run("make", "--no-print-directory", "-s", "submit", f"ROLE={ROLE}", "DRY_RUN=1", setting)

    assert result.returncode != 0
    assert named in refusal_line(result.stderr, "submit")


def test_make_tune_takes_local_0_as_not_local(account: Aws) -> None:
    result = account.run("make", "--no-print-directory", "-s", "tune", f"ROLE={ROLE}", "DRY_RUN=1", "LOCAL=0")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["TrainingJobDefinition"]["RoleArn"] == ROLE


# --- 3. make local HOSTS= and make serve-local PORT=, on copies of the scripts


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    """train_local.sh and serve_local.sh beside a test_dir of their own: what they empty is here."""
    for name in ("train_local.sh", "serve_local.sh"):
        shutil.copy2(REPO / name, tmp_path / name)
    (tmp_path / "test_dir" / "input" / "data").mkdir(parents=True)
    return tmp_path


def run_script(folder: Path, script: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(folder / script), "eeg"],
        cwd=folder,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def as_quoted(value: str) -> str:
    """value as the scripts name it in an error: as bash's printf %q writes it, on one line."""
    return subprocess.run(
        ["bash", "-c", 'printf %q "$1"', "bash", value], capture_output=True, text=True, check=True
    ).stdout


HOSTS_REFUSED = "is not a number of hosts from 1 to 99"


@pytest.mark.parametrize(
    ("hosts", "accepted"),
    [
        pytest.param("", True, id="empty-is-1"),
        pytest.param("2", True, id="2"),
        pytest.param("99", True, id="99"),
        *[
            pytest.param(hosts, False, id=name)
            for name, hosts in [
                ("0", "0"),
                ("minus-1", "-1"),
                ("100", "100"),
                ("leading-zero", "02"),
                ("1.5", "1.5"),
                ("1e1", "1e1"),
                ("trailing-space", "2 "),
                ("arabic-indic", "\u0663"),
                ("semicolon", "1;rm -rf x"),
                ("substitution", "$(touch ran)"),
            ]
        ],
        pytest.param("2\n3", False, id="two-lines"),
    ],
)
def test_a_hostile_hosts_for_make_local_is_refused_in_one_line_before_test_dir_is_touched(
    hosts: str, accepted: bool, scripts: Path
) -> None:
    # RUNNER=bogus: an accepted HOSTS goes on to the runner's check, which stops before training
    result = run_script(scripts, "train_local.sh", HOSTS=hosts, RUNNER="bogus")

    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    if accepted:
        assert result.stderr == "train_local: RUNNER=bogus is not docker or native\n"
    else:
        assert result.stderr.startswith(f"train_local: HOSTS={as_quoted(hosts)} {HOSTS_REFUSED}")
        assert sorted(path.name for path in (scripts / "test_dir").iterdir()) == ["input"]
    assert not (scripts / "ran").exists()


@pytest.mark.parametrize(
    ("port", "accepted"),
    [
        pytest.param("", True, id="empty-is-8080"),
        pytest.param("1", True, id="1"),
        pytest.param("65535", True, id="65535"),
        *[
            pytest.param(port, False, id=name)
            for name, port in [
                ("minus-1", "-1"),
                ("0", "0"),
                ("65536", "65536"),
                ("trailing-space", "8080 "),
                ("1e3", "1e3"),
                ("arabic-indic", "\u0668\u0660\u0668\u0660"),
                ("semicolon", "8080;rm -rf x"),
                ("substitution", "$(touch ran)"),
            ]
        ],
        *[pytest.param(port, True, id=f"leading-zero-{port}") for port in ("08080", "09")],
        pytest.param("80\n80", False, id="two-lines"),
    ],
)
def test_a_hostile_port_for_make_serve_local_is_refused_in_one_line(
    port: str, accepted: bool, scripts: Path
) -> None:
    # no model in the copy's test_dir: an accepted PORT stops there, before anything is served
    result = run_script(scripts, "serve_local.sh", PORT=port)

    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    if accepted:
        assert result.stderr.startswith("serve_local: no model in")
    else:
        assert result.stderr == f"serve_local: PORT={as_quoted(port)} is not a port number\n"
    assert not (scripts / "ran").exists()
