"""The SageMaker training-container contract, in one place.

Everything that reads what SageMaker gives the container (paths, hyperparameters,
channels, resource config) or tells SageMaker how the job went (the failure file, the
metric log lines) lives here, so the model code in train.py can be replaced without
touching it. Reference: docs/contract.md.

Nothing runs at import: paths are computed from SAGEMAKER_BASE_DIR when asked for, so
tests can point a whole run at a temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What a job leaves: in model/ (model.tar.gz) the model and what serving needs to use it,
# in output/data/ (output.tar.gz) one row per epoch, which make plot reads.
MODEL_FILE = "model.keras"
METADATA_FILE = "metadata.json"
HISTORY_FILE = "history.csv"
# The LocalPath of a job's TensorBoardOutputConfig: Paths.tensorboard inside the container
TENSORBOARD_PATH = "/opt/ml/output/tensorboard"

# The failure reason in UTF-8 at its longest (4 bytes a character, and a newline), in blocks.
FAILURE_RESERVE_BYTES = 8192
# SageMaker truncates the failure reason to this many characters.
FAILURE_REASON_LIMIT = 1024

# Log lines that SageMaker turns into metrics: train.py prints them with format_* below, and
# submit and tune send metric_definitions() of the same names with the job, so the two can
# never disagree. The names are the loss and the task's METRICS (task.py).
_NUMBER = r"([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|nan|inf))"
_EPOCH = r"epoch=[0-9]+/[0-9]+ (?:\S+ )*?"  # a name is preceded by a space: accuracy= is not val_accuracy=
MAX_METRIC_DEFINITIONS = 40  # SageMaker's limit


def metric_definitions(metrics: Sequence[str]) -> list[dict[str, str]]:
    """train:NAME, validation:NAME and test:NAME for the loss and each of metrics."""
    names = ["loss", *metrics]
    definitions = [
        *({"Name": f"train:{name}", "Regex": rf"{_EPOCH}{name}={_NUMBER}"} for name in names),
        *({"Name": f"validation:{name}", "Regex": rf"{_EPOCH}val_{name}={_NUMBER}"} for name in names),
        *({"Name": f"test:{name}", "Regex": rf"test_{name}={_NUMBER}"} for name in names),
    ]
    if len(definitions) > MAX_METRIC_DEFINITIONS:
        raise UserError(
            f"{len(metrics)} metrics make {len(definitions)} metric definitions, over SageMaker's "
            f"{MAX_METRIC_DEFINITIONS}: list at most {MAX_METRIC_DEFINITIONS // 3 - 1} in task.py's METRICS"
        )
    return definitions


def metric_name(logged: str) -> str:
    """val_accuracy -> validation:accuracy: a log line's name as metric_definitions() calls it."""
    for prefix, split in (("val_", "validation"), ("test_", "test")):
        if logged.startswith(prefix):
            return f"{split}:{logged.removeprefix(prefix)}"
    return f"train:{logged}"


class UserError(Exception):
    """A problem the user can fix; its message is the one line they will read."""


@dataclass(frozen=True)
class Paths:
    """The /opt/ml tree, rooted at SAGEMAKER_BASE_DIR so it also works outside a container."""

    base: Path

    @classmethod
    def from_env(cls) -> Paths:
        return cls(Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")))

    @property
    def config(self) -> Path:
        # hyperparameters.json, resourceconfig.json, inputdataconfig.json, checkpointconfig.json
        return self.base / "input" / "config"

    @property
    def data(self) -> Path:
        # one folder per channel named in the job's InputDataConfig
        return self.base / "input" / "data"

    @property
    def model(self) -> Path:
        # tarred to <output_path>/<job>/output/model.tar.gz after the container exits
        return self.base / "model"

    @property
    def output_data(self) -> Path:
        # tarred to output.tar.gz beside model.tar.gz
        return self.base / "output" / "data"

    @property
    def tensorboard(self) -> Path:
        # TensorBoard event files; a job with TensorBoardOutputConfig syncs them to S3 as it runs
        return self.base / "output" / "tensorboard"

    @property
    def failure(self) -> Path:
        # its first 1024 characters become the job's FailureReason
        return self.base / "output" / "failure"

    @property
    def checkpoints(self) -> Path:
        # synced to S3 when the job sets CheckpointConfig, restored at start (spot restarts)
        return self.base / "checkpoints"

    def channel(self, name: str) -> Path:
        return self.data / name


# Config files are a few KB; anything far larger is not SageMaker's.
CONFIG_SIZE_LIMIT = 1_000_000
# A host name from resourceconfig.json becomes part of checkpoint file names.
HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
INPUT_MODES = ("File", "FastFile")


def read_json_config(paths: Paths, name: str, default: Any) -> Any:
    """Reads input/config/<name>, which must hold a JSON object; a missing file gives default."""
    path = paths.config / name
    if not path.exists():
        return default

    def no_constants(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    def each_name_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        value = dict(pairs)
        if len(value) < len(pairs):  # json would keep the last silently
            twice = next(name for name, count in Counter(name for name, _ in pairs).items() if count > 1)
            raise ValueError(f"the name {twice!r} appears twice")
        return value

    try:
        if path.stat().st_size > CONFIG_SIZE_LIMIT:
            raise ValueError(f"{path.stat().st_size} bytes, more than a config file holds")
        value = json.loads(
            path.read_text(encoding="utf-8"), parse_constant=no_constants, object_pairs_hook=each_name_once
        )
    except RecursionError:
        raise UserError(f"{path} nests too deeply to be a SageMaker config file: fix or delete it") from None
    except (ValueError, UnicodeDecodeError, OSError) as error:
        raise UserError(f"{path} is not valid JSON ({error}): fix or delete it") from None
    if not isinstance(value, dict):
        raise UserError(f"{path} holds a JSON {_json_type(value)}, not an object: fix or delete it")
    return value


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def resource_config(paths: Paths) -> dict[str, Any]:
    """The host names of this job; a single host called algo-1 when run by hand."""
    path = paths.config / "resourceconfig.json"
    config = {"current_host": "algo-1", "hosts": ["algo-1"], **read_json_config(paths, path.name, {})}
    host, hosts = config["current_host"], config["hosts"]
    if not (isinstance(host, str) and HOST_NAME.fullmatch(host)):
        raise UserError(
            f"{path}: current_host {host!r} is not a host name (letters, digits, '.', '-', '_'; "
            "SageMaker writes algo-1)"
        )
    if not (isinstance(hosts, list) and all(isinstance(h, str) and HOST_NAME.fullmatch(h) for h in hosts)):
        raise UserError(f'{path}: hosts must be a list of host names such as ["algo-1"]')
    if host not in hosts:
        raise UserError(f"{path}: current_host {host!r} is not among hosts {hosts[:8]}")
    return config


def input_data_config(paths: Paths) -> dict[str, dict[str, Any]]:
    """The channels the job declared, each with its input mode and content type."""
    path = paths.config / "inputdataconfig.json"
    config = read_json_config(paths, path.name, {})
    for channel, settings in config.items():
        if not isinstance(settings, dict):
            raise UserError(f"{path}: channel '{channel}' holds a JSON {_json_type(settings)}, not an object")
        mode = settings.get("TrainingInputMode", "File")
        if mode not in INPUT_MODES:
            raise UserError(
                f"{path}: channel '{channel}' uses input mode {mode!r}, which train.py does not read: "
                f"use {' or '.join(INPUT_MODES)}"
            )
        if not isinstance(settings.get("ContentType", ""), str):
            raise UserError(f"{path}: channel '{channel}' has a ContentType that is not a string")
    return config


def checkpointing_requested(paths: Paths) -> bool:
    """True when the job set CheckpointConfig, i.e. SageMaker will sync the folder to S3."""
    return read_json_config(paths, "checkpointconfig.json", None) is not None


def parse_hyperparameters(
    raw: Any,
    defaults: Mapping[str, Any],
    accepted: Mapping[str, tuple[Any, ...]],
    source: str = "hyperparameters.json",
) -> dict[str, Any]:
    """Returns defaults overridden by raw, each value parsed to its default's type.

    SageMaker always sends strings, but each client encodes them its own way: SDK v2's
    Estimator sends str(value) ("True"), its framework estimators json.dumps(value)
    ("\\"adam\\""), SDK v3 json.dumps for non-strings ("true"). All are accepted.
    accepted[name] is either (low, high), an inclusive range, or the allowed strings.
    Names starting with "sagemaker_" or "_" are the platform's own (tuning jobs add
    _tuning_objective_metric) and are ignored.
    """
    if not isinstance(raw, dict):
        raise UserError(f"{source} must hold a JSON object of name: string pairs")
    values = dict(defaults)
    for name, value in raw.items():
        if name.startswith(("sagemaker_", "_")):
            continue
        if not isinstance(value, str | int | float | bool):
            raise UserError(
                f"{source}: hyperparameter '{name}' holds a JSON {_json_type(value)}: "
                'values are strings such as "10"'
            )
        if name not in defaults:
            known = ", ".join(sorted(defaults))
            raise UserError(f"unknown hyperparameter '{name}': accepted names are {known}")
        values[name] = _parse_value(name, value, defaults[name], accepted.get(name, ()))
    return values


def _parse_value(name: str, value: Any, default: Any, accepted: tuple[Any, ...]) -> Any:
    text = _unquote(value)
    kind = type(default)
    described = _describe(kind, accepted)
    try:
        if kind is bool:
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            parsed: Any = text.lower() == "true"
        elif kind is int:
            if not _INTEGER.fullmatch(text):
                raise ValueError(text)
            parsed = int(text)
        elif kind is float:
            if not _DECIMAL.fullmatch(text):
                raise ValueError(text)
            parsed = float(text)
            if parsed in (float("inf"), float("-inf")):
                raise ValueError(text)
        else:
            parsed = text
    except ValueError:
        raise UserError(f"hyperparameter {name}={value!r} is not valid: use {described}") from None
    if accepted and not _is_accepted(parsed, accepted):
        raise UserError(f"hyperparameter {name}={value!r} is out of range: use {described}")
    return parsed


# Plain ASCII decimals only: Python's int() and float() would also take "1_0", "٣" and "nan".
_INTEGER = re.compile(r"[-+]?[0-9]{1,18}")
_DECIMAL = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?")


def _unquote(value: Any) -> str:
    """Turns "3" into 3 and "\\"adam\\"" into adam: strips one layer of JSON string quoting."""
    text = value if isinstance(value, str) else json.dumps(value)
    text = text.strip()
    if text.startswith('"'):
        try:
            decoded = json.loads(text)
        except ValueError:
            return text
        if isinstance(decoded, str):
            return decoded.strip()
    return text


def _is_accepted(value: Any, accepted: tuple[Any, ...]) -> bool:
    if all(isinstance(option, str) for option in accepted):
        return value in accepted
    low, high = accepted
    return low <= value <= high


def _describe(kind: type, accepted: tuple[Any, ...]) -> str:
    if accepted and all(isinstance(option, str) for option in accepted):
        return "one of " + ", ".join(accepted)
    noun = {bool: "true or false", int: "an integer", float: "a number"}.get(kind, "a string")
    if accepted:
        return f"{noun} from {accepted[0]} to {accepted[1]}"
    return noun


def one_line(message: str) -> str:
    """The failure file holds one readable line of at most FAILURE_REASON_LIMIT characters."""
    line = " ".join(message.split())
    # A file name of bytes that are not UTF-8 arrives as surrogates, which no file or
    # FailureReason can hold: escaped, as Python's stderr shows them.
    line = line.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(line) > FAILURE_REASON_LIMIT:
        line = line[: FAILURE_REASON_LIMIT - 3] + "..."
    return line


def reserve_failure_space(paths: Paths) -> None:
    """Claims the disk space of the longest failure reason now, at start-up, so the reason
    can be written even once the job has filled the disk (report_failure)."""
    reserve = _failure_reserve(paths)
    try:
        reserve.parent.mkdir(parents=True, exist_ok=True)
        reserve.write_bytes(b" " * FAILURE_RESERVE_BYTES)
    except OSError as error:
        raise UserError(f"cannot write {reserve} ({error.strerror}): free space on the disk") from None


def release_failure_space(paths: Paths) -> None:
    _failure_reserve(paths).unlink(missing_ok=True)


def report_failure(paths: Paths, message: str) -> None:
    """Writes the reason SageMaker shows for a failed job, and the same line to stderr.

    On a full disk the reserved space takes it: the reserve is renamed to the failure file
    and written over in place, which needs no new blocks, then cut to the line's length."""
    line = one_line(message)
    print(f"train: error: {line}", file=sys.stderr, flush=True)
    write_failure_file(paths, line)


def write_failure_file(paths: Paths, line: str) -> None:
    """report_failure's file alone: line, in the reserved space when there is one."""
    text = (line + "\n").encode("utf-8")
    reserve = _failure_reserve(paths)
    try:
        paths.failure.parent.mkdir(parents=True, exist_ok=True)
        if reserve.exists():
            os.replace(reserve, paths.failure)
            with paths.failure.open("r+b") as file:
                file.write(text)
                file.truncate(len(text))
        else:
            paths.failure.write_bytes(text)
    except OSError as error:
        print(f"train: cannot write {paths.failure}: {error}", file=sys.stderr)


def _failure_reserve(paths: Paths) -> Path:
    return paths.failure.with_name(".failure.reserved")


def write_atomically(path: Path, text: str) -> None:
    """Writes a file under a temporary name, then renames it: readers never see half of it.
    A file system's error (a full disk, say) is a UserError naming the file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise UserError(f"cannot write {path} ({error.strerror or error})") from None
    try:
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide results from other users
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise UserError(f"cannot write {path} ({error.strerror or error})") from None
        raise


def format_epoch_line(epoch: int, epochs: int, metrics: Mapping[str, float], seconds: float) -> str:
    """epoch=3/100 loss=0.4121 accuracy=0.8125 val_loss=0.4410 val_accuracy=0.7900 time=1.42s"""
    fields = " ".join(
        f"{name}={value:.4f}" for name, value in metrics.items() if name not in ("epoch", "time")
    )
    return f"epoch={epoch}/{epochs} {fields} time={seconds:.2f}s"


def format_test_line(metrics: Mapping[str, float]) -> str:
    """test_loss=0.3012 test_accuracy=0.9250"""
    return " ".join(f"test_{name}={value:.4f}" for name, value in metrics.items())


def metric_patterns(metrics: Sequence[str]) -> dict[str, re.Pattern[str]]:
    """metric_definitions(metrics) compiled, for tests and log readers."""
    return {item["Name"]: re.compile(item["Regex"]) for item in metric_definitions(metrics)}


def server_settings(environ: Mapping[str, str], cpus: int) -> dict[str, int]:
    """The hosting container's settings from the environment CreateModel gives it, checked:
    workers, threads, timeout and port (container/serving/server.py says what each does).
    make deploy checks them here before an endpoint is made; a bad value is a UserError."""

    def whole(name: str, default: int, low: int = 1, high: int = 65535) -> int:
        text = environ.get(name, "").strip() or str(default)
        if not text.isdigit() or not low <= int(text) <= high:
            raise UserError(f"{name}={text!r} is not a whole number from {low} to {high}")
        return int(text)

    return {
        "workers": whole("SAGEMAKER_MODEL_SERVER_WORKERS", cpus, high=1024),
        "threads": whole("SERVE_THREADS", 4, high=1024),
        "timeout": whole("SAGEMAKER_MODEL_SERVER_TIMEOUT", 60, high=3600),
        "port": whole("SAGEMAKER_BIND_TO_PORT", 8080),
    }
