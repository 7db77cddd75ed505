"""A hostile pass over ./train: settings, config files and data a careless or hostile user gives it.

Each refused input meets test_bad_input.py's contract (one line in output/failure and on stderr,
a non-zero exit, no model); each accepted one trains as its well-formed equivalent would.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import OptMl, fails_cleanly, npz_bytes, replace_training_file, sample

CONFIG = Path("input") / "config"


def config(name: str, content: str | bytes) -> Callable[[OptMl, Path], None]:
    def write(opt_ml: OptMl, _: Path) -> None:
        path = opt_ml.base / CONFIG / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)

    return write


def hyperparameters(**values: object) -> Callable[[OptMl, Path], None]:
    return config("hyperparameters.json", json.dumps(values))


def training_file(name: str, content: bytes) -> Callable[[OptMl, Path], None]:
    return lambda opt_ml, _: replace_training_file(opt_ml, name, content)


def arrays(**values: object) -> Callable[[OptMl, Path], None]:
    return lambda opt_ml, scratch: replace_training_file(opt_ml, "data.npz", npz_bytes(scratch, **values))


def pickled(change: Callable[[dict], object]) -> Callable[[OptMl, Path], None]:
    def write(opt_ml: OptMl, _: Path) -> None:
        data = dict(sample())
        replace_training_file(opt_ml, "output_dict", pickle.dumps(change(data) or data))

    return write


def beside_the_data(make: Callable[[Path], object]) -> Callable[[OptMl, Path], None]:
    """Adds something made by make(path) to the training channel, beside the sample."""
    return lambda opt_ml, _: make(opt_ml.training / "extra")


def unix_socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(path))


def csv_lines(*lines: str) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


ROW = ",".join(["0.5"] * 20)
X = np.zeros((12, 20), np.float32)
Y = np.arange(12) % 2

# What is done to a freshly laid out /opt/ml (the sample as training/output_dict), and words the
# one-line reason must hold.
REFUSED = {
    # hyperparameters.json
    "an empty hyperparameters.json": (config("hyperparameters.json", ""), "hyperparameters.json"),
    "hyperparameters.json of null": (config("hyperparameters.json", "null"), "hyperparameters.json"),
    "hyperparameters.json of a list": (config("hyperparameters.json", "[]"), "hyperparameters.json"),
    "hyperparameters.json not UTF-8": (
        config("hyperparameters.json", b'{"epochs": "\xff"}'),
        "is not valid JSON",
    ),
    "hyperparameters.json a folder": (
        lambda opt_ml, _: ((p := opt_ml.base / CONFIG / "hyperparameters.json").unlink(), p.mkdir()),
        "hyperparameters.json",
    ),
    "a name given twice": (
        config("hyperparameters.json", '{"epochs": "2", "epochs": "3"}'),
        "the name 'epochs' appears twice",
    ),
    "an empty name": (hyperparameters(**{"": "1"}), "unknown hyperparameter ''"),
    "epochs in exponent form": (hyperparameters(epochs="1e3"), "epochs='1e3' is not valid"),
    "epochs of 23 digits": (hyperparameters(epochs="9" * 23), "epochs="),
    "epochs negative": (hyperparameters(epochs="-2"), "epochs='-2'"),
    "epochs with a space inside": (hyperparameters(epochs="1 0"), "epochs='1 0' is not valid"),
    "epochs as a list": (hyperparameters(epochs=["2"]), "epochs"),
    "epochs as null": (hyperparameters(epochs=None), "epochs"),
    "a learning rate of inf": (hyperparameters(learning_rate="inf"), "learning_rate='inf'"),
    "a learning rate of -0.1": (hyperparameters(learning_rate="-0.1"), "learning_rate='-0.1'"),
    "a learning rate of 0": (hyperparameters(learning_rate="0"), "learning_rate='0' is out of range"),
    "a validation fraction of 1": (hyperparameters(validation_fraction="1"), "validation_fraction='1'"),
    "a seed past 2**31": (hyperparameters(seed=str(2**31)), "seed="),
    "an empty feature transform": (hyperparameters(features=""), "features=''"),
    "a model that is a path": (hyperparameters(model="../evil"), "model='../evil'"),
    "precision float16": (hyperparameters(precision="float16"), "precision='float16'"),
    "channels that do not divide the row": (hyperparameters(channels="7"), "7"),
    "a batch size past the range": (hyperparameters(batch_size="1000001"), "batch_size="),
    "members of zero": (hyperparameters(members="0"), "members='0'"),
    # the other config files
    "a current host not among the hosts": (
        config("resourceconfig.json", '{"current_host": "algo-3", "hosts": ["algo-1", "algo-2"]}'),
        "algo-3",
    ),
    "no hosts": (config("resourceconfig.json", '{"current_host": "algo-1", "hosts": []}'), "hosts"),
    "a host of 300 characters": (
        config("resourceconfig.json", json.dumps({"current_host": "a" * 300, "hosts": ["a" * 300]})),
        "is not a host name",
    ),
    "resourceconfig.json truncated": (
        config("resourceconfig.json", '{"current_host": "al'),
        "resourceconfig",
    ),
    "inputdataconfig.json of a number": (config("inputdataconfig.json", "7"), "inputdataconfig.json"),
    # the training channel
    "the channel a file, not a folder": (
        lambda opt_ml, _: (
            (opt_ml.training / "output_dict").unlink(),
            opt_ml.training.rmdir(),
            opt_ml.training.write_bytes(b"x"),
        ),
        "training",
    ),
    "a file of no bytes": (training_file("output_dict", b""), "output_dict"),
    "a CSV of a header row only": (
        training_file("data.csv", csv_lines("label," + ",".join(f"s{i}" for i in range(20)))),
        "data.csv",
    ),
    "a CSV of two header rows": (
        training_file(
            "data.csv", csv_lines(*["label," + ",".join(f"s{i}" for i in range(20))] * 2, "0," + ROW)
        ),
        "data.csv",
    ),
    "a CSV of one row": (training_file("data.csv", csv_lines("0," + ROW)), "only one class"),
    "a CSV with a NaN label": (training_file("data.csv", csv_lines("nan," + ROW, "1," + ROW)), "found nan"),
    "a CSV of ragged rows": (training_file("data.csv", csv_lines("0," + ROW, "1,0.5,0.5")), "data.csv"),
    "a CSV with a NUL": (training_file("data.csv", csv_lines("0," + ROW, "1,\x00" + ROW)), "data.csv"),
    "a CSV in UTF-16": (
        training_file("data.csv", csv_lines("0," + ROW, "1," + ROW).decode().encode("utf-16")),
        "data.csv",
    ),
    "fractional labels": (arrays(x_train=X, y_train=Y + 0.5), "label"),
    "negative labels": (arrays(x_train=X, y_train=Y - 5), "label"),
    "complex samples": (arrays(x_train=X.astype(np.complex64), y_train=Y), "data.npz"),
    "samples as text": (arrays(x_train=X.astype(str), y_train=Y), "data.npz"),
    "one-dimensional samples": (arrays(x_train=X[:, 0], y_train=Y), "data.npz"),
    "an object array": (arrays(x_train=np.array([X[0], None], dtype=object), y_train=Y[:2]), "data.npz"),
    "ragged rows in a pickle": (
        pickled(lambda data: data.update(x_train=[[0.5] * 20, [0.5] * 19] * 20, y_train=[0, 1] * 20)),
        "output_dict",
    ),
    "a pickled set of labels": (pickled(lambda data: data.update(y_train={0, 1})), "output_dict"),
    "a pickled string of samples": (pickled(lambda data: data.update(x_train="0.5,0.5")), "output_dict"),
    "a FIFO beside the data": (beside_the_data(os.mkfifo), "extra"),
    "a socket beside the data": (beside_the_data(unix_socket), "extra"),
    "a file named with a line break": (training_file("bad\nname.csv", b"not,numbers\n"), "bad"),
    "a file named in bytes that are not UTF-8": (
        lambda opt_ml, _: (opt_ml.training / os.fsdecode(b"bad\xff.csv")).write_bytes(b"not,numbers\n"),
        "bad",
    ),
    "a file of a 250-character name": (training_file("n" * 246 + ".csv", b"not,numbers\n"), "nnnn"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_a_hostile_input_to_train_is_refused_in_one_line_naming_it(opt_ml, tmp_path, name):
    change, words = REFUSED[name]
    change(opt_ml, tmp_path)

    fails_cleanly(opt_ml, words)


# Accepted as their plain equivalents are: each trains a model.
ACCEPTED = {
    "hyperparameters as JSON numbers, not strings": hyperparameters(
        epochs=1, batch_size=8, learning_rate=0.01
    ),
    "a channel named with a path, which names no folder train reads": config(
        "inputdataconfig.json", '{"training": {"TrainingInputMode": "File"}, "../x": {}}'
    ),
    "class names for labels in a CSV": training_file(
        "data.csv",
        csv_lines(*(f"{'blink' if i % 2 else 'rest'},{ROW.replace('0.5', str(i))}" for i in range(12))),
    ),
    "a byte-order mark and CRLF line ends in a CSV": training_file(
        "data.csv",
        b"\xef\xbb\xbf"
        + csv_lines(*(f"{i % 2},{ROW.replace('0.5', str(i))}" for i in range(12))).replace(b"\n", b"\r\n"),
    ),
}


@pytest.mark.parametrize("name", ACCEPTED)
def test_an_odd_but_valid_input_to_train_trains_a_model(opt_ml, tmp_path, name):
    opt_ml.hyperparameters({"epochs": "1", "batch_size": "8"})
    ACCEPTED[name](opt_ml, tmp_path)

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert opt_ml.model_file.exists() and not opt_ml.failure_file.exists()


def test_float16_recordings_train_without_a_warning_on_stderr(opt_ml, tmp_path):
    x = np.random.default_rng(0).normal(size=(24, 20)).astype(np.float16)
    arrays(x_train=x, y_train=np.arange(24) % 2)(opt_ml, tmp_path)
    opt_ml.hyperparameters({"epochs": "1", "batch_size": "8"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr
