"""serve: SageMaker's hosting contract over real HTTP on 127.0.0.1, and predict.py."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REPO, OptMl, new_opt_ml
from container.sagemaker_env import UserError
from container.serving import payload
from container.serving.app import App
from container.serving.model import ServedModel
from container.serving.server import options
from moto_server import free_port

SERVE = REPO / "serve"
STARTUP_SECONDS = 90  # importing TensorFlow and loading the model, on a busy 2-core machine


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def post(self, body: bytes, content_type: str = "text/csv", **headers: str) -> requests.Response:
        return requests.post(
            f"{self.url}/invocations",
            data=body,
            headers={"Content-Type": content_type, **headers},
            timeout=60,
        )


def start_server(base: Path, log: Path, serve: Path = SERVE, cwd: Path | None = None) -> Server:
    port = free_port()
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "SAGEMAKER_BASE_DIR": str(base),
        "SERVE_HOST": "127.0.0.1",
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(serve)], cwd=cwd or log.parent, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    return Server(f"http://127.0.0.1:{port}", process, log)


def ping_until_not(server: Server, status: int | None) -> requests.Response:
    """Pings until the answer's status is other than status (None: until anything answers)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.log.read_text()
        try:
            answer = requests.get(f"{server.url}/ping", timeout=5)
        except requests.ConnectionError:
            answer = None
        if answer is not None and answer.status_code != status:
            return answer
        time.sleep(0.2)
    raise AssertionError(
        f"the server did not get past {status} in {STARTUP_SECONDS} s:\n{server.log.read_text()}"
    )


def stop(server: Server) -> int:
    server.process.send_signal(signal.SIGTERM)
    return server.process.wait(timeout=40)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> OptMl:
    tree = new_opt_ml(tmp_path_factory.mktemp("serve") / "opt ml")
    tree.hyperparameters({"epochs": "5", "patience": "0"})
    result = tree.run()
    assert result.returncode == 0, result.stderr
    return tree


@pytest.fixture(scope="module")
def server(trained: OptMl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(trained.base, tmp_path_factory.mktemp("serve-log") / "serve.log")
    try:
        ping_until_not(running, 503)
        yield running
    finally:
        if running.process.poll() is None:
            stop(running)


def csv_rows(x: np.ndarray) -> bytes:
    return "".join(",".join(f"{v:.9g}" for v in row) + "\n" for row in x.reshape(len(x), -1)).encode()


def predict_py(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aws.predict", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_serve_started_in_a_folder_with_a_task_py_of_its_own_serves_the_programs(trained, tmp_path):
    (tmp_path / "task.py").write_text("raise SystemExit('the task.py of the folder serve started in')\n")
    server = start_server(trained.base, tmp_path / "serve.log", cwd=tmp_path)
    try:
        answer = ping_until_not(server, 503)
    finally:
        stop(server)

    assert answer.status_code == 200, server.log.read_text()


def test_ping_answers_200_once_the_model_is_loaded(server):
    answer = requests.get(f"{server.url}/ping", timeout=5)

    assert answer.status_code == 200


def test_predictions_over_http_equal_offline_ones_and_reproduce_the_test_accuracy(server, trained):
    data = str(trained.training / "output_dict")

    over_http = predict_py(data, "--url", server.url)
    offline = predict_py(data, "--model", str(trained.base / "model"))

    assert over_http.returncode == 0, over_http.stderr
    assert offline.returncode == 0, offline.stderr
    assert over_http.stdout.splitlines()[:-1] == offline.stdout.splitlines()[:-1]
    accuracy = float(over_http.stdout.splitlines()[-1].split()[0].removeprefix("accuracy="))
    assert accuracy == pytest.approx(trained.metadata()["metrics"]["test_accuracy"], abs=1e-4)


def test_json_answers_name_each_class_with_its_probability(server, sample_data):
    body = json.dumps({"instances": sample_data["x_test"][:3].reshape(3, -1).tolist()}).encode()

    answer = server.post(body, "application/json")

    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    predictions = answer.json()["predictions"]
    assert len(predictions) == 3
    for prediction in predictions:
        assert set(prediction["probabilities"]) == {"0", "1"}
        assert sum(prediction["probabilities"].values()) == pytest.approx(1, abs=1e-4)
        assert prediction["class"] == max(prediction["probabilities"], key=prediction["probabilities"].get)


def test_csv_in_with_accept_csv_answers_one_class_name_per_line(server, sample_data):
    answer = server.post(csv_rows(sample_data["x_test"][:4]), "text/csv", Accept="text/csv")

    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/csv"
    assert len(answer.text.splitlines()) == 4 and set(answer.text.split()) <= {"0", "1"}


ROW = ",".join(["1.5"] * 2000)
BAD_REQUESTS = {
    "malformed JSON": ("application/json", b'{"instances": [[1, 2', 400, "malformed JSON"),
    "JSON without instances": ("application/json", b'{"rows": [[1]]}', 400, "no 'instances' list"),
    "malformed CSV": ("text/csv", (ROW + ",,\n").encode(), 400, "line 1 holds something other than numbers"),
    "a row too short": ("text/csv", b"1,2,3\n", 400, "line 1 has 3 values; a recording has 2000 values"),
    "NaN": (
        "text/csv",
        (ROW + "\n" + ROW.replace("1.5", "nan", 1) + "\n").encode(),
        400,
        "recording 2 holds NaN",
    ),
    "text": ("application/json", b'{"instances": [["a", "b"]]}', 400, "instance 1 is not a list of numbers"),
    "an empty body": ("text/csv", b"", 400, "empty body"),
    "a body of blank lines": ("text/csv", b"\x1c\n \n", 400, "empty body"),
    "JSON of the wrong width": (
        "application/json",
        b'{"instances": [[1, 2]]}',
        400,
        "instance 1 has 2 values",
    ),
    "JSON nested too deeply": ("application/json", b"[" * 100_000, 400, "nested too deeply"),
    "not UTF-8": ("text/csv", b"\xff\xfe1,2", 400, "not UTF-8"),
    "an unsupported type": ("application/x-npy", b"\x93NUMPY", 415, "unsupported Content-Type"),
}


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_a_bad_request_gets_a_4xx_naming_the_problem_and_the_server_keeps_serving(server, name):
    content_type, body, status, words = BAD_REQUESTS[name]

    answer = server.post(body, content_type)

    assert answer.status_code == status
    assert answer.headers["Content-Type"] == "application/json" and words in answer.json()["error"]
    assert requests.get(f"{server.url}/ping", timeout=5).status_code == 200


def test_a_body_over_6_mb_is_refused_with_413(server):
    body = (ROW + "\n").encode() * (payload.MAX_PAYLOAD_BYTES // (len(ROW) + 1) + 1)

    answer = server.post(body)

    assert answer.status_code == 413 and "6 MB" in answer.json()["error"]


def test_a_chunked_body_over_6_mb_is_refused_with_413_and_the_server_keeps_serving(server):
    line = (ROW + "\n").encode()
    chunks = (line for _ in range(payload.MAX_PAYLOAD_BYTES // len(line) + 1))  # no Content-Length

    answer = requests.post(
        f"{server.url}/invocations", data=chunks, headers={"Content-Type": "text/csv"}, timeout=60
    )

    assert answer.status_code == 413
    assert requests.get(f"{server.url}/ping", timeout=5).status_code == 200


def test_concurrent_requests_get_the_same_answers_as_one_at_a_time(server, sample_data):
    rows = sample_data["x_test"].reshape(len(sample_data["x_test"]), -1)
    alone = [server.post(csv_rows(row[None]), Accept="text/csv").text for row in rows]
    answers: dict[int, str] = {}

    def ask(index: int) -> None:
        answers[index] = server.post(csv_rows(rows[index][None]), Accept="text/csv").text

    clients = [threading.Thread(target=ask, args=(index % len(rows),)) for index in range(32)]
    for client in clients:
        client.start()
    for client in clients:
        client.join(timeout=120)

    assert answers == {index: alone[index] for index in answers} and len(answers) == len(rows)


@pytest.mark.parametrize(
    ("method", "path", "status"), [("GET", "/invocations", 405), ("POST", "/ping", 405), ("GET", "/", 404)]
)
def test_other_paths_and_methods_get_a_json_404_or_405(server, method, path, status):
    answer = requests.request(method, f"{server.url}{path}", timeout=5)

    assert answer.status_code == status and "error" in answer.json()


def test_batch_transforms_max_payload_raises_the_body_limit():
    assert payload.max_payload_bytes({}) == 6 * 2**20
    assert payload.max_payload_bytes({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "20"}) == 20 * 2**20
    assert payload.max_payload_bytes({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "0"}) == 100 * 2**20  # chunked


def test_an_error_inside_the_server_is_a_json_500_and_is_logged(caplog):
    class Broken:
        recording_size, names = 2, ["a", "b"]

        def describe_recording(self) -> str:
            return "2 values"

        def answers(self, rows: np.ndarray) -> list[dict]:
            raise RuntimeError("a bug")

    app = App(Path("unused"), load=lambda _: Broken())
    app.loaded.wait(10)
    statuses: list[str] = []
    environ = {
        "PATH_INFO": "/invocations",
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": "text/csv",
        "CONTENT_LENGTH": "4",
        "wsgi.input": io.BytesIO(b"1,2\n"),
    }

    body = b"".join(app(environ, lambda status, headers: statuses.append(status)))

    assert statuses == ["500 Internal Server Error"] and json.loads(body) == {
        "error": "internal error: RuntimeError"
    }
    assert "POST /invocations failed" in caplog.text


def test_an_answer_type_other_than_json_or_csv_is_refused_with_406(server):
    answer = server.post((ROW + "\n").encode(), "text/csv", Accept="application/xml")

    assert answer.status_code == 406 and "application/json" in answer.json()["error"]


def test_sigterm_stops_the_server_cleanly(trained, tmp_path):
    running = start_server(trained.base, tmp_path / "serve.log")
    ping_until_not(running, 503)

    assert stop(running) == 0
    assert "Shutting down" in running.log.read_text()


def test_a_missing_model_fails_ping_with_the_reason_in_the_log(tmp_path):
    running = start_server(tmp_path / "empty", tmp_path / "serve.log")
    try:
        answer = ping_until_not(running, 503)
    finally:
        stop(running)

    assert answer.status_code == 500 and "no model.keras" in answer.json()["error"]
    assert "no model.keras" in running.log.read_text()


def test_ping_answers_503_while_the_model_loads_then_500_if_loading_fails():
    loading = threading.Event()

    def load(_: Path) -> ServedModel:
        loading.wait()
        raise UserError("the test's model cannot load")

    app = App(Path("unused"), load=load)
    statuses: list[str] = []

    def ping() -> bytes:
        return b"".join(app({"PATH_INFO": "/ping", "REQUEST_METHOD": "GET"}, lambda s, h: statuses.append(s)))

    assert b"still loading" in ping() and statuses == ["503 Service Unavailable"]
    loading.set()
    app.loader.join(timeout=10)
    assert b"cannot load" in ping() and statuses[-1] == "500 Internal Server Error"


def test_predict_reads_model_tar_gz_as_sagemaker_stores_it(trained, tmp_path):
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in (trained.base / "model").iterdir():
            tar.add(path, arcname=path.name)

    result = predict_py(str(trained.training / "output_dict"), "--model", str(archive))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("accuracy=")


def test_predict_without_a_server_says_how_to_start_one(trained):
    result = predict_py(str(trained.training / "output_dict"), "--url", f"http://127.0.0.1:{free_port()}")

    assert result.returncode == 1
    assert "no server answers" in result.stderr and "make serve-local" in result.stderr


def test_the_server_takes_workers_timeout_and_port_from_sagemakers_variables():
    environ = {
        "SAGEMAKER_MODEL_SERVER_WORKERS": "3",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "30",
        "SAGEMAKER_BIND_TO_PORT": "9000",
    }

    settings_ = options(environ, cpus=8)

    assert settings_["workers"] == 3 and settings_["timeout"] == 30 and settings_["bind"] == "0.0.0.0:9000"
    assert options({}, cpus=2)["workers"] == 2 and options({}, cpus=2)["bind"] == "0.0.0.0:8080"


def test_a_bad_server_setting_is_refused_naming_it():
    with pytest.raises(UserError, match="SAGEMAKER_MODEL_SERVER_WORKERS='many'"):
        options({"SAGEMAKER_MODEL_SERVER_WORKERS": "many"}, cpus=2)


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300), content_type=st.sampled_from(["text/csv", "application/json"]))
def test_any_body_is_read_as_recordings_or_refused_with_a_4xx(body, content_type):
    try:
        rows = payload.recordings(body, content_type, 3, "3 values")
    except payload.BadRequest as problem:
        assert 400 <= problem.status < 500 and str(problem)
    else:
        assert rows.dtype == np.float32 and rows.shape[0] >= 1 and rows.shape[1] == 3
        assert np.isfinite(rows).all()


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="0123456789.,-e\nnaif ", max_size=200))
def test_any_csv_of_number_like_text_is_read_or_refused_with_a_4xx(text):
    try:
        rows = payload.recordings(text.encode(), "text/csv", 2, "2 values")
    except payload.BadRequest as problem:
        assert problem.status == 400
    else:
        assert rows.shape[0] >= 1 and rows.shape[1] == 2 and np.isfinite(rows).all()
