"""A hostile pass over make predict: data files, MODEL= folders and archives, PORT= and
--url, ENDPOINT= against moto, and servers that answer badly. The contract every input is
held to is in hostile.py."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import tarfile
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import make_sample_data
from aws import plot, predict
from conftest import OptMl, new_opt_ml
from hostile import (
    HISTORY,
    Outcome,
    Refused,
    assert_refused,
    files_under,
    refusal_line,
    regular,
    run_main,
    special,
    tar_bytes,
)
from moto_server import Aws, free_port

ROW = ",".join(["0.5"] * 2000)  # one recording of the model trained here: 4 channels of 500 samples


# --- 2. make predict: a model to predict with, and hostile data files


def write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def npz(path: Path, **arrays: Any) -> Path:
    np.savez(path, **arrays)
    return path


def pickled(path: Path, value: Any) -> Path:
    return write(path, pickle.dumps(value))


def zip_of(path: Path, **members: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def folder_of(path: Path, *widths: int) -> Path:
    path.mkdir()
    for number, width in enumerate(widths):
        npz(path / f"part{number}.npz", x_train=np.zeros((2, width), np.float32), y_train=np.array([0, 1]))
    return path


def link(path: Path, target: Path) -> Path:
    path.symlink_to(target)
    return path


def loop(path: Path) -> Path:
    link(path.with_name("other"), path)
    return link(path, path.with_name("other"))


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


ZEROS = np.zeros((2, 2000), np.float32)
LABELS = np.array([0, 1])
CSV = Refused("as CSV (")
SAMPLE = make_sample_data.output_dict(8, test_fraction=0.5, seed=1)

DATA_FILES = [
    # accepted: one line per recording, then the accuracy against the file's labels
    pytest.param(lambda d: write(d / "good.csv", f"0,{ROW}\n1,{ROW}\n"), 2, id="a-csv"),
    pytest.param(lambda d: write(d / "crlf.csv", f"0,{ROW}\r\n1,{ROW}\r\n"), 2, id="a-csv-with-crlf"),
    pytest.param(lambda d: write(d / "bom.csv", f"\ufeff0,{ROW}\n1,{ROW}\n"), 2, id="a-csv-with-a-bom"),
    pytest.param(
        lambda d: write(d / "names.csv", f"left,{ROW}\nright,{ROW}\n"), 2, id="labels-the-model-lacks-score-0"
    ),
    pytest.param(lambda d: pickled(d / "sample", SAMPLE), 4, id="a-pickle-without-a-suffix"),
    pytest.param(lambda d: pickled(d / "t.pkl", {"x_test": ZEROS, "y_test": LABELS}), 2, id="test-rows-only"),
    pytest.param(
        lambda d: pickled(d / "b.pkl", {"x_train": np.ones((2, 2000), bool), "y_train": LABELS}),
        2,
        id="booleans-as-zeros-and-ones",
    ),
    pytest.param(lambda d: npz(d / "t.npz", x_test=ZEROS, y_test=LABELS), 2, id="an-npz"),
    pytest.param(lambda d: folder_of(d / "recordings", 2000), 2, id="a-folder"),
    pytest.param(lambda d: write(d / "-h", f"0,{ROW}\n"), 1, id="a-file-named-dash-h"),
    pytest.param(
        lambda d: write(d / "header.csv", "label," + ",".join(["s"] * 2000) + f"\n0,{ROW}\n"),
        1,
        id="a-header-line-is-skipped",
    ),
    # refused, naming the file
    pytest.param(
        lambda d: write(d / "narrow.csv", "0,1,2,3\n1,4,5,6\n"),
        Refused("the recordings hold 3 values each; the model reads 2000 values"),
        id="3-values-wide",
    ),
    pytest.param(
        lambda d: write(d / "wide.csv", f"0,{ROW},0.5\n"),
        Refused("hold 2001 values each"),
        id="2001-values-wide",
    ),
    pytest.param(
        lambda d: write(d / "huge.csv", "0," + ",".join(["0.5"] * 300_000) + "\n"),
        Refused("hold 300000 values each"),
        id="a-300000-value-line",
    ),
    pytest.param(lambda d: write(d / "ragged.csv", f"0,{ROW}\n1,0.5\n"), CSV, id="a-ragged-csv"),
    pytest.param(
        lambda d: write(d / "nan.csv", f"0,{ROW[:-3]}nan\n"), Refused("1 NaN or infinite values"), id="nan"
    ),
    pytest.param(
        lambda d: write(d / "inf.csv", f"0,{ROW[:-3]}-inf\n"), Refused("1 NaN or infinite values"), id="inf"
    ),
    pytest.param(
        lambda d: write(d / "big.csv", f"0,{ROW[:-3]}1e39\n"), Refused("beyond float32's range"), id="1e39"
    ),
    pytest.param(
        lambda d: write(d / "bad.csv", f"0,{ROW[:-3]}abc\n1,{ROW}\n"), CSV, id="a-first-row-with-one-word"
    ),
    pytest.param(lambda d: write(d / "nul.csv", f"0,{ROW}\0\n"), CSV, id="a-nul-byte"),
    pytest.param(lambda d: write(d / "semi.csv", "0;1;2\n"), CSV, id="semicolons"),
    pytest.param(
        lambda d: write(d / "empty.csv", ""), Refused("empty.csv 'samples' has no rows"), id="empty"
    ),
    pytest.param(lambda d: write(d / "blank.csv", "\n\n\n"), Refused("has no rows"), id="only-blank-lines"),
    pytest.param(
        lambda d: write(d / "empty", ""),
        Refused("cannot tell what empty holds (text, 0 bytes"),
        id="empty-no-name",
    ),
    pytest.param(
        lambda d: write(d / "noise.bin", np.random.default_rng(0).bytes(4096)),
        Refused("cannot tell what noise.bin holds (binary data"),
        id="random-bytes",
    ),
    pytest.param(lambda d: pickled(d / "l.pkl", [1, 2]), Refused("l.pkl holds a list"), id="a-pickled-list"),
    pytest.param(
        lambda d: pickled(d / "n.pkl", None), Refused("n.pkl holds a NoneType"), id="a-pickled-none"
    ),
    pytest.param(
        lambda d: pickled(d / "s.pkl", {"x_train": "abc", "y_train": [0]}),
        Refused("'x_train' is not numeric"),
        id="text-recordings",
    ),
    pytest.param(
        lambda d: pickled(d / "o.pkl", {"x_train": np.zeros((2, 2000), object), "y_train": LABELS}),
        Refused("refused o.pkl"),
        id="an-object-array",
    ),
    pytest.param(
        lambda d: pickled(d / "c.pkl", {"x_train": np.ones((2, 2000), complex), "y_train": LABELS}),
        Refused("is not numeric (dtype complex128)"),
        id="complex-numbers",
    ),
    pytest.param(
        lambda d: write(d / "cut.pkl", pickle.dumps(SAMPLE)[:100]),
        Refused("cannot read cut.pkl: not a valid pickle"),
        id="a-truncated-pickle",
    ),
    pytest.param(
        lambda d: pickled(d / "x.pkl", {"x_train": ZEROS}),
        Refused("x.pkl has no 'y_train' or 'y_train2' array"),
        id="no-labels",
    ),
    pytest.param(
        lambda d: pickled(d / "z.pkl", {"x_train": np.zeros((0, 2000)), "y_train": np.zeros(0)}),
        Refused("'x_train' has no rows"),
        id="zero-rows",
    ),
    pytest.param(
        lambda d: npz(d / "k.npz", a=ZEROS, b=LABELS),
        Refused("has no 'x_train' array (found: a, b)"),
        id="wrong-keys",
    ),
    pytest.param(
        lambda d: npz(d / "one.npz", x_train=np.zeros(2000), y_train=np.zeros(2000)),
        Refused("has shape (2000,)"),
        id="one-dimension",
    ),
    pytest.param(
        lambda d: npz(d / "four.npz", x_train=np.zeros((2, 2, 2, 500)), y_train=LABELS),
        Refused("has shape (2, 2, 2, 500)"),
        id="four-dimensions",
    ),
    pytest.param(
        lambda d: zip_of(d / "z.npz", **{"readme.txt": b"hi"}),
        Refused("is a zip archive but not an .npz"),
        id="a-zip-named-npz",
    ),
    pytest.param(
        lambda d: (np.save(d / "recs.npy", ZEROS), d / "recs.npy")[1],
        Refused("recs.npy holds one numpy array (np.save)"),
        id="a-lone-npy",
    ),
    pytest.param(
        lambda d: (d / "none").mkdir() or d / "none", Refused("channel 'none' is empty"), id="empty-folder"
    ),
    pytest.param(
        lambda d: folder_of(d / "mixed", 2000, 7),
        Refused("every file holds recordings of the same shape"),
        id="two-widths",
    ),
    pytest.param(lambda d: loop(d / "loop"), Refused("does not exist"), id="a-loop-of-links"),
    pytest.param(
        lambda d: link(d / "x.csv", d / "gone.csv"), Refused("does not exist"), id="a-dangling-link"
    ),
    pytest.param(lambda d: d / "missing.csv", Refused("{path} does not exist"), id="a-missing-file"),
    pytest.param(lambda d: fifo(d / "fifo"), Refused("{path} is not a regular file"), id="a-fifo"),
    pytest.param(lambda d: Path("/dev/zero"), Refused("/dev/zero is not a regular file"), id="dev-zero"),
    pytest.param(  # kernels' proportions (auto's choice on the sample) cannot overflow; timefreq's can
        lambda d: write(d / "loud.csv", "0," + ",".join(["1e30"] * 2000) + "\n"), 1, id="values-of-1e30"
    ),
    pytest.param(
        lambda d: pickled(d / "5x400.pkl", {"x_train": np.zeros((2, 5, 400), np.float32), "y_train": LABELS}),
        Refused(),
        id="5-channels-of-400-samples",
    ),
]


def predict_quietly(argv: list[str], capsys) -> tuple[Outcome, list[str]]:
    """predict(argv), and the warnings it gave: on a terminal each is two more lines of stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = run_main("predict", predict.predict, argv, capsys)
    shown = [f"{w.category.__name__}: {w.message}" for w in caught if issubclass(w.category, RuntimeWarning)]
    return outcome, shown


def assert_predicted(outcome: Outcome, rows: int) -> None:
    assert outcome.code == 0, outcome.err
    lines = outcome.out.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == [f"row={number}" for number in range(1, rows + 1)]
    assert lines[-1].startswith("accuracy=")


@pytest.mark.parametrize(("make_data", "expected"), DATA_FILES)
def test_a_hostile_data_file_is_predicted_or_refused_in_one_line(
    make_data: Callable[[Path], Path], expected: int | Refused, trained: OptMl, tmp_path: Path, capsys
) -> None:
    data = make_data(tmp_path)

    outcome, shown = predict_quietly([str(data), "--model", str(trained.base / "model")], capsys)

    if isinstance(expected, Refused):
        assert_refused(outcome, "predict", expected.words.format(path=data))
    else:
        assert_predicted(outcome, expected)
    assert shown == []


def test_values_whose_timefreq_features_overflow_are_refused_in_one_line(tmp_path, capsys) -> None:
    tree = new_opt_ml(tmp_path / "opt ml")
    tree.hyperparameters({"epochs": "1", "features": "timefreq", "refit": "0"})
    assert tree.run().returncode == 0
    data = write(tmp_path / "loud.csv", "0," + ",".join(["1e30"] * 2000) + "\n")

    outcome, shown = predict_quietly([str(data), "--model", str(tree.base / "model")], capsys)

    assert_refused(outcome, "predict", "the recordings' features overflow float32")
    assert shown == []


# --- 2. make predict MODEL=: hostile model folders and archives


FAST = {"compresslevel": 1}  # the model.keras is 11 MB: gzip's default level takes a second an archive


def model_tar(
    path: Path,
    trained: OptMl,
    *extra: tuple[tarfile.TarInfo, bytes | None],
    prefix: str = "",
    mode: str = "w:gz",
) -> Path:
    """trained's model.keras and metadata.json under prefix, then extra, as a tar at path."""
    members = [
        regular(prefix + file.name, file.read_bytes()) for file in sorted((trained.base / "model").iterdir())
    ]
    path.write_bytes(tar_bytes(*members, *extra, mode=mode, **(FAST if mode == "w:gz" else {})))
    return path


def replaced(folder: Path, trained: OptMl, name: str, data: bytes) -> Path:
    """A copy of the model folder with one of its two files' content replaced."""
    shutil.copytree(trained.base / "model", folder)
    (folder / name).write_bytes(data)
    return folder


def escape_name(tmp_path: Path) -> str:
    return f"escaped-{tmp_path.name}.txt"


UNPACK = Refused("cannot unpack {path}")

MODELS = [
    # accepted: the sample's 10 test rows predicted
    pytest.param(lambda d, t: model_tar(d / "model.tar.gz", t), 10, id="a-tar-gz-as-sagemaker-writes-it"),
    pytest.param(lambda d, t: model_tar(d / "model.tar", t, mode="w"), 10, id="an-uncompressed-tar"),
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, regular(str(d / escape_name(d)), b"x")),
        10,
        id="an-absolute-member-lands-inside",
    ),
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, special("link.keras", tarfile.SYMTYPE, "model.keras")),
        10,
        id="a-link-to-a-file-inside",
    ),
    # refused, naming the archive or the folder
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, regular(f"../{escape_name(d)}", b"x")),
        Refused("cannot unpack {path}: '../escaped-"),
        id="a-dot-dot-member",
    ),
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, special("x", tarfile.SYMTYPE, "/etc/passwd")),
        Refused("cannot unpack {path}: 'x' is a link to an absolute path"),
        id="a-symlink-to-etc-passwd",
    ),
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, special("x", tarfile.LNKTYPE, "/etc/passwd")),
        Refused("cannot unpack {path}: 'x' is a link to an absolute path"),
        id="a-hard-link-to-etc-passwd",
    ),
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, special("x", tarfile.CHRTYPE)),
        Refused("cannot unpack {path}: 'x' is a special file"),
        id="a-device-member",
    ),
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, special("x", tarfile.FIFOTYPE)),
        Refused("cannot unpack {path}: 'x' is a special file"),
        id="a-fifo-member",
    ),
    pytest.param(
        lambda d, t: replaced(d / "model", t, "model.keras", b"not a model"),
        Refused("cannot load {path}/model.keras"),
        id="a-model-keras-of-text",
    ),
    pytest.param(
        lambda d, t: replaced(d / "model", t, "metadata.json", b"{not json"),
        Refused("{path}/metadata.json is damaged"),
        id="metadata-not-json",
    ),
    pytest.param(
        lambda d, t: replaced(d / "model", t, "metadata.json", b"[]"),
        Refused("{path}/metadata.json is damaged"),
        id="metadata-a-list",
    ),
    pytest.param(
        lambda d, t: d / "nowhere", Refused("no model.keras or metadata.json in {path}"), id="no-folder"
    ),
    pytest.param(
        lambda d, t: (d / "empty").mkdir() or d / "empty",
        Refused("no model.keras or metadata.json in {path}"),
        id="an-empty-folder",
    ),
    pytest.param(
        lambda d, t: write(d / "m.tar.gz", model_tar(d / "full.tar.gz", t).read_bytes()[:5000]),
        UNPACK,
        id="a-truncated-archive",
    ),
    pytest.param(
        lambda d, t: write(d / "m.tar.gz", "not an archive\n"),
        UNPACK,
        id="a-text-file",
    ),
    pytest.param(
        lambda d, t: zip_of(d / "m.zip", **{f.name: f.read_bytes() for f in (t.base / "model").iterdir()}),
        UNPACK,
        id="a-zip",
    ),
    pytest.param(
        lambda d, t: replaced(d / "model", t, "metadata.json", b"[" * 100_000 + b"]" * 100_000),
        Refused("{path}/metadata.json is damaged"),
        id="metadata-nested-100000-deep",
    ),
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, prefix="model/"),
        Refused("{path}"),
        id="files-under-a-folder",
    ),
    pytest.param(
        lambda d, t: write(d / "m.tar.gz", tar_bytes()),
        Refused("{path}"),
        id="an-empty-archive",
    ),
]


@pytest.mark.parametrize(("make_model", "expected"), MODELS)
def test_a_hostile_model_is_used_or_refused_in_one_line_and_nothing_is_written_outside(
    make_model: Callable[[Path, OptMl], Path], expected: int | Refused, trained: OptMl, tmp_path: Path, capsys
) -> None:
    model = make_model(tmp_path, trained)
    before = files_under(tmp_path)

    outcome, _ = predict_quietly([str(trained.training / "output_dict"), "--model", str(model)], capsys)

    if isinstance(expected, Refused):
        assert_refused(outcome, "predict", expected.words.format(path=model))
    else:
        assert_predicted(outcome, expected)
    assert files_under(tmp_path) == before
    assert not (Path(tempfile.gettempdir()) / escape_name(tmp_path)).exists()


# --- 2. make predict PORT=, and --url (python -m aws.predict only)


NOT_A_PORT = "is not a port number from 1 to 65535"
NO_SERVER = "no server answers at http://127.0.0.1:{free}: start one with 'make serve-local'"

ADDRESSES = [
    # accepted: the server at that port is asked; none is there
    pytest.param(["--port", "{free}"], NO_SERVER, id="a-free-port"),
    pytest.param(["--port", "0{free}"], NO_SERVER.replace(":{free}", ":0{free}"), id="a-leading-zero"),
    pytest.param(["--url", "http://127.0.0.1:{free}/"], NO_SERVER.replace("{free}:", "{free}/:"), id="a-url"),
    # refused before the data is read
    *[
        pytest.param(["--port", port], Refused(f"--port {port!r} {NOT_A_PORT}"), id=f"port-{name}")
        for name, port in [
            ("minus-1", "-1"),
            ("0", "0"),
            ("65536", "65536"),
            ("20-digits", "9" * 20),
            ("space-before", " 8080"),
            ("space-after", "8080 "),
            ("newline-after", "8080\n"),
            ("1e3", "1e3"),
            ("plus-sign", "+8080"),
            ("hex", "0x1F90"),
            ("shell-substitution", "$(id)"),
            ("semicolon", "8080;rm -rf x"),
        ]
    ],
    *[
        pytest.param(
            ["--port", port],
            Refused(f"--port {port!r} {NOT_A_PORT}"),
            id=f"port-{name}",
        )
        for name, port, failure in [
            ("arabic-indic-digits", "\u0668\u0660\u0668\u0660", "requests' InvalidURL"),
            ("fullwidth-digits", "\uff18\uff10\uff18\uff10", "requests' InvalidURL"),
            ("superscript-two", "\u00b2", "int()'s ValueError"),
        ]
    ],
    pytest.param(
        ["--url", "127.0.0.1:8080"],
        Refused("127.0.0.1:8080"),
        id="a-url-without-http",
    ),
    pytest.param(
        ["--url", "http://127.0.0.1:99999"],
        Refused("99999"),
        id="a-url-with-port-99999",
    ),
    pytest.param(
        ["--url", f"http://{'a' * 64}.example/"],
        Refused("cannot get an answer from"),
        id="a-host-label-of-64-characters",
    ),
]


@pytest.mark.parametrize(("options", "expected"), ADDRESSES)
def test_a_hostile_port_or_url_is_that_address_or_refused_in_one_line(
    options: list[str], expected: str | Refused, trained: OptMl, capsys
) -> None:
    free = str(free_port())
    argv = [str(trained.training / "output_dict"), *(option.replace("{free}", free) for option in options)]

    outcome = run_main("predict", predict.predict, argv, capsys)

    words = expected.words if isinstance(expected, Refused) else expected
    assert_refused(outcome, "predict", words.replace("{free}", free))


# --- 2. make predict ENDPOINT=, against moto


@pytest.mark.parametrize(
    "endpoint",
    [
        pytest.param("; rm -rf x", id="shell-syntax"),
        pytest.param("$(id)", id="a-substitution"),
        pytest.param("a" * 64, id="64-characters"),
        pytest.param("eeg_endpoint", id="an-underscore"),
    ],
)
def test_an_endpoint_name_sagemaker_refuses_is_refused_before_it_is_sent(
    endpoint: str, trained: OptMl, in_aws: list[str], capsys
) -> None:
    outcome = run_main(
        "predict", predict.predict, [str(trained.training / "output_dict"), "--endpoint", endpoint], capsys
    )

    assert_refused(outcome, "predict", repr(endpoint))
    assert in_aws == []


# --- 2. make predict against a server that answers badly


SERVER_BODIES = {  # the first part of the request's path picks one
    "good": (200, json.dumps({"predictions": [{"class": "1", "probabilities": {"0": 0.2, "1": 0.8}}] * 10})),
    "nan": (200, json.dumps({"predictions": [{"class": float("nan")}] * 10})),
    "few": (200, json.dumps({"predictions": [{"class": "1"}] * 3})),
    "html": (200, "<html>\nok\n</html>"),
    "a-list": (200, "[1, 2]"),
    "a-string": (200, '{"predictions": "x"}'),
    "numbers": (200, json.dumps({"predictions": [1] * 10})),
    "empty": (200, ""),
    "no-content": (204, ""),
    "json-400": (400, '{"error": "the recordings hold 7 values"}'),
    "deep": (200, '{"predictions": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    "deep-error": (500, '{"error": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    "html-502": (502, "<html>\n<head><title>502 Bad Gateway</title></head>\n</html>\n"),
    "two-line-error": (400, '{"error": "line one\\nline two"}'),
    "control-bytes": (500, "oops\r\x1b[2Jgone"),
}


class Answers(BaseHTTPRequestHandler):
    """A stand-in for a serving container: answers as SERVER_BODIES says, or cut short."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        name = self.path.strip("/").split("/")[0]
        if name == "cut":  # promises 1000 bytes, sends 6, hangs up
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"pred')
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, body = SERVER_BODIES[name]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())


@pytest.fixture(scope="module")
def answering() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()


NOT_PREDICTIONS = Refused("the answer is not predictions JSON")

SERVER_ANSWERS = [
    pytest.param("good", 10, id="predictions"),
    pytest.param("nan", 10, id="a-nan-class"),
    pytest.param("few", Refused("sent 10 recordings, got 3 predictions back"), id="too-few"),
    pytest.param("html", NOT_PREDICTIONS, id="html"),
    pytest.param("a-list", NOT_PREDICTIONS, id="a-json-list"),
    pytest.param("a-string", NOT_PREDICTIONS, id="predictions-a-string"),
    pytest.param("numbers", NOT_PREDICTIONS, id="predictions-numbers"),
    pytest.param("empty", NOT_PREDICTIONS, id="an-empty-200"),
    pytest.param("no-content", Refused("answered 204"), id="a-204"),
    pytest.param("json-400", Refused("answered 400: the recordings hold 7 values"), id="a-json-400"),
    pytest.param(
        "deep",
        NOT_PREDICTIONS,
        id="json-nested-100000-deep",
    ),
    pytest.param(
        "deep-error",
        Refused("answered 500"),
        id="an-error-nested-100000-deep",
    ),
    pytest.param(
        "html-502",
        Refused("answered 502"),
        id="a-proxys-html-502",
    ),
    pytest.param(
        "two-line-error",
        Refused("answered 400: line one"),
        id="an-error-of-two-lines",
    ),
    pytest.param(
        "control-bytes",
        Refused("answered 500"),
        id="control-bytes",
    ),
    pytest.param(
        "cut",
        Refused("answer"),
        id="an-answer-cut-short",
    ),
]


@pytest.mark.parametrize(("path", "expected"), SERVER_ANSWERS)
def test_a_hostile_server_answer_is_printed_or_refused_in_one_line(
    path: str, expected: int | Refused, answering: str, trained: OptMl, capsys
) -> None:
    argv = [str(trained.training / "output_dict"), "--url", f"{answering}/{path}"]

    outcome = run_main("predict", predict.predict, argv, capsys)

    if isinstance(expected, Refused):
        line = assert_refused(outcome, "predict", expected.words)
        assert "\r" not in line and "\x1b" not in line
    else:
        assert_predicted(outcome, expected)


def test_make_predict_reads_data_whose_name_starts_with_a_dash_as_a_file(account: Aws) -> None:
    result = account.run("make", "--no-print-directory", "-s", "predict", "DATA=-h", "MODEL=nowhere")

    assert result.returncode != 0
    assert "-h does not exist" in refusal_line(result.stderr, "predict")


# --- file names past the file system's limit


@pytest.mark.parametrize(
    ("program", "argv"),
    [
        pytest.param("plot", ["--history", "{long}/history.csv"], id="plot-a-long-history-folder"),
        pytest.param("plot", ["--history", "{history}", "--out", "{long}.png"], id="plot-a-long-out"),
        pytest.param("predict", ["{long}.npz", "--model", "{model}"], id="predict-long-data"),
        pytest.param("predict", ["{data}", "--model", "{long}"], id="predict-a-long-model"),
    ],
)
def test_a_path_with_a_name_past_255_bytes_is_refused_in_one_line(
    program: str, argv: list[str], trained: OptMl, tmp_path: Path, capsys
) -> None:
    history = tmp_path / "history.csv"
    history.write_text(HISTORY)
    places = {
        "{long}": str(tmp_path / ("n" * 300)),
        "{history}": str(history),
        "{model}": str(trained.base / "model"),
        "{data}": str(trained.training / "output_dict"),
    }
    for name, place in places.items():
        argv = [argument.replace(name, place) for argument in argv]
    main = {"plot": plot.plot, "predict": predict.predict}[program]

    assert_refused(run_main(program, main, argv, capsys), program, "File name too long")
