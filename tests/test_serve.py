"""serve: SageMaker's hosting contract over real HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import OptMl
from container.sagemaker_env import UserError
from container.serving import payload
from container.serving.app import App
from container.serving.model import ServedModel
from container.serving.server import container_cpus, options
from local_server import (
    ROW,
    csv_rows,
    npy,
    ping_until_not,
    start_server,
    stop,
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
    "JSON numbers as strings": (
        "application/json",
        ('{"instances": [[' + ", ".join(['"0.5"'] * 2000) + "]]}").encode(),
        400,
        "instance 1 is not a list of numbers",
    ),
    "JSON booleans": (
        "application/json",
        ('{"instances": [[' + ", ".join(["true"] * 2000) + "]]}").encode(),
        400,
        "instance 1 is not a list of numbers",
    ),
    "JSON values nested 60 deep": (
        "application/json",
        b'{"instances": [' + b"[" * 60 + b"1" + b"]" * 60 + b"]}",
        400,
        "instance 1 is not a list of numbers",
    ),
    "CSV 1_0, which training refuses": (
        "text/csv",
        ("1_0," + ROW.split(",", 1)[1] + "\n").encode(),
        400,
        "line 1 holds something other than numbers",
    ),
    "CSV Arabic-Indic digits": (
        "text/csv",
        ("\u0663," + ROW.split(",", 1)[1] + "\n").encode(),
        400,
        "line 1 holds something other than numbers",
    ),
    "CSV full-width digits": (
        "text/csv",
        (ROW + "\n" + "\uff13," + ROW.split(",", 1)[1] + "\n").encode(),
        400,
        "line 2 holds something other than numbers",
    ),
    "CSV a vertical tab, which would split a line in two": (
        "text/csv",
        (ROW + "\x0b" + ROW + "\n").encode(),
        400,
        "line 1 holds something other than numbers",
    ),
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
    "an unsupported type": ("text/libsvm", b"1 1:0.5", 415, "send application/json, text/csv"),
    "a damaged .npy": ("application/x-npy", b"\x93NUMPY", 400, "malformed .npy header"),
    "bytes that are not .npy": ("application/octet-stream", b"1,2\n", 415, "unsupported Content-Type"),
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


def test_a_client_that_sends_its_whole_body_before_reading_gets_the_413_not_a_reset(server):
    body = (ROW + "\n").encode() * (payload.MAX_PAYLOAD_BYTES // (len(ROW) + 1) + 1)
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
        answer = connection.getresponse()
    finally:
        connection.close()

    assert answer.status == 413


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
    ("method", "path", "status"),
    [
        ("GET", "/invocations", 405),
        ("POST", "/ping", 405),
        ("POST", "/execution-parameters", 405),
        ("GET", "/", 404),
    ],
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
        input_shape, names = [2], ["a", "b"]

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


@pytest.mark.parametrize(
    ("accept", "kind"),
    [
        ("", "application/json"),
        ("*/*", "application/json"),
        ("text/*", "text/csv"),
        ("application/json;q=0, text/csv", "text/csv"),
        ("text/csv, application/json", "application/json"),
        ("application/json; q=0.5, text/csv; q=0.9", "text/csv"),
        ("text/*;q=0, */*", "application/json"),
        ("TEXT/CSV", "text/csv"),
    ],
)
def test_the_answer_type_is_the_one_the_accept_header_ranks_highest(accept, kind):
    assert payload.negotiated(accept) == kind


@pytest.mark.parametrize(
    ("accept", "status"),
    [("application/xml", 406), ("application/json;q=0, text/csv;q=0", 406), ("text/csv;q=abc", 400)],
)
def test_an_accept_header_that_rules_out_both_types_or_is_malformed_is_a_4xx(accept, status):
    with pytest.raises(payload.BadRequest) as refused:
        payload.negotiated(accept)

    assert refused.value.status == status


@settings(max_examples=200, deadline=None)
@given(accept=st.text(max_size=80))
def test_any_accept_header_gives_json_or_csv_or_a_4xx(accept):
    try:
        kind = payload.negotiated(accept)
    except payload.BadRequest as problem:
        assert problem.status in (400, 406)
    else:
        assert kind in (payload.JSON, payload.CSV)


def test_accept_text_star_is_answered_in_csv_over_http(server, sample_data):
    answer = server.post(csv_rows(sample_data["x_test"][:2]), "text/csv", Accept="text/*")

    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/csv"
    assert len(answer.text.splitlines()) == 2


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
@given(
    body=st.binary(max_size=300), content_type=st.sampled_from([*payload.FORMATS, "application/octet-stream"])
)
def test_any_body_is_read_as_recordings_or_refused_with_a_4xx(body, content_type):
    try:
        rows = payload.recordings(body, content_type, [3], "3 values")
    except payload.BadRequest as problem:
        assert 400 <= problem.status < 500 and str(problem)
    else:
        assert rows.dtype == np.float32 and rows.shape[0] >= 1 and rows.shape[1] == 3
        assert np.isfinite(rows).all()


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="0123456789.,-e\nnaif ", max_size=200))
def test_any_csv_of_number_like_text_is_read_or_refused_with_a_4xx(text):
    try:
        rows = payload.recordings(text.encode(), "text/csv", [2], "2 values")
    except payload.BadRequest as problem:
        assert problem.status == 400
    else:
        assert rows.shape[0] >= 1 and rows.shape[1] == 2 and np.isfinite(rows).all()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda children: st.lists(children, max_size=3),
    max_leaves=12,
)


def numbers_only(instance: object) -> bool:
    """A list of JSON numbers, or of lists of them (channels)."""
    if not isinstance(instance, list):
        return False
    flat = (
        [v for channel in instance for v in channel]
        if instance and all(isinstance(c, list) for c in instance)
        else instance
    )
    return all(type(value) in (int, float) for value in flat)


@settings(max_examples=200, deadline=None)
@given(instances=st.lists(JSON_VALUES, min_size=1, max_size=3))
def test_json_instances_are_read_only_when_they_hold_numbers_and_nothing_else(instances):
    body = json.dumps({"instances": instances}).encode()
    try:
        rows = payload.recordings(body, "application/json", [2], "2 values")
    except payload.BadRequest as problem:
        assert problem.status == 400
    else:
        one = all(type(value) in (int, float) for value in instances)  # a recording on its own
        assert one or all(numbers_only(instance) for instance in instances)
        assert rows.shape == (1 if one else len(instances), 2) and np.isfinite(rows).all()


def tampered_model(trained: OptMl, folder: Path, change) -> Path:
    """A copy of the trained model folder with metadata.json changed by change(metadata)."""
    shutil.copytree(trained.base / "model", folder)
    metadata = json.loads((folder / "metadata.json").read_text())
    change(metadata)
    (folder / "metadata.json").write_text(json.dumps(metadata))
    return folder


TAMPERED = {
    "more names than outputs": (
        lambda m: m.update(names=["0", "1", "2"]),
        "gives 2 outputs, which task.answers cannot read with the names",
    ),
    "names as a string": (lambda m: m.update(names="01"), "names is '01', not a list of strings"),
    "a name twice": (lambda m: m.update(names=["0", "0"]), "name an output twice"),
    "channels as a string": (lambda m: m["features"].update(channels="4"), "channels is '4'"),
    "a mean of another width": (lambda m: m["features"].update(mean=[0.0] * 3), "mean is not 9744 finite"),
    "a std with a zero": (
        lambda m: m["features"].update(std=[0.0, *m["features"]["std"][1:]]),
        "std holds values that are not above 0",
    ),
    "an unknown transform": (lambda m: m["features"].update(transform="wavelet"), "transform 'wavelet'"),
}


@pytest.mark.parametrize("name", TAMPERED)
def test_metadata_that_disagrees_with_the_model_or_a_request_is_refused_at_load(trained, tmp_path, name):
    change, words = TAMPERED[name]
    folder = tampered_model(trained, tmp_path / "model", change)

    with pytest.raises(UserError) as refused:
        ServedModel.load(folder)

    assert words in str(refused.value) and "\n" not in str(refused.value)


def test_ping_is_not_healthy_when_the_metadata_disagrees_with_the_model(trained, tmp_path):
    folder = tampered_model(trained, tmp_path / "opt ml" / "model", TAMPERED["more names than outputs"][0])
    server = start_server(tmp_path / "opt ml", tmp_path / "serve.log")
    try:
        answer = ping_until_not(server, 503)
    finally:
        stop(server)

    assert folder.is_dir() and answer.status_code == 500
    assert "task.answers cannot read" in answer.json()["error"]


def test_the_servers_log_holds_no_tensorflow_loading_chatter(server):
    log = server.log.read_text()

    assert "absl::InitializeLog" not in log and "oneDNN custom operations" not in log
    assert "Booting worker" in log  # the log is gunicorn's, read after the workers started


@settings(max_examples=200, deadline=None)
@given(channels=st.lists(st.lists(st.floats(-10, 10), max_size=4), min_size=1, max_size=4))
def test_a_json_instance_of_channels_is_read_only_in_the_models_channels_and_samples(channels):
    body = json.dumps({"instances": [channels]}).encode()
    try:
        rows = payload.recordings(body, "application/json", [2, 3], "6 values (2 channels of 3 samples)")
    except payload.BadRequest as problem:
        assert problem.status == 400
        assert [len(channels), *{len(channel) for channel in channels}] != [2, 3]
    else:
        assert [len(channel) for channel in channels] == [3, 3]
        assert rows.tolist() == [[np.float32(v) for channel in channels for v in channel]]


RECORDINGS = np.linspace(-1, 1, 3 * 2000, dtype=np.float32).reshape(3, 2000)
# One body per way a client writes the same three recordings (the SDK's serializers' among them).
SAME_THREE = {
    "CSV": ("text/csv", csv_rows(RECORDINGS)),
    "JSON instances": ("application/json", json.dumps({"instances": RECORDINGS.tolist()}).encode()),
    "JSON inputs": ("application/json", json.dumps({"inputs": RECORDINGS.tolist()}).encode()),
    "a bare JSON array": ("application/json", json.dumps(RECORDINGS.tolist()).encode()),
    "JSON channels": ("application/json", json.dumps(RECORDINGS.reshape(3, 4, 500).tolist()).encode()),
    "JSON Lines": (
        "application/jsonlines",
        b"\n".join(json.dumps(row).encode() for row in RECORDINGS.tolist()),
    ),
    "JSON Lines of features": (
        "application/jsonlines",
        b"\n".join(json.dumps({"features": row}).encode() for row in RECORDINGS.tolist()),
    ),
    ".npy rows": ("application/x-npy", npy(RECORDINGS)),
    ".npy channels": ("application/x-npy", npy(RECORDINGS.reshape(3, 4, 500))),
    ".npy as octet-stream": ("application/octet-stream", npy(RECORDINGS.astype(np.float64))),
}


@pytest.mark.parametrize("name", SAME_THREE)
def test_every_body_format_gives_the_same_answers_for_the_same_recordings(server, name):
    content_type, body = SAME_THREE[name]

    answer = server.post(body, content_type)

    assert answer.status_code == 200, answer.text
    assert answer.json() == server.post(csv_rows(RECORDINGS), "text/csv").json()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps(RECORDINGS[0].tolist()).encode(), "application/json"),
        (npy(RECORDINGS[0]), "application/x-npy"),
    ],
)
def test_one_recording_on_its_own_is_answered_as_one(server, body, content_type):
    answer = server.post(body, content_type)

    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 1


def test_every_answer_format_holds_the_same_answers(server):
    answers = {
        accept: server.post(csv_rows(RECORDINGS), Accept=accept)
        for accept in ("application/json", "text/csv", "application/jsonlines", "application/x-npy")
    }

    assert {accept: answer.headers["Content-Type"] for accept, answer in answers.items()} == {
        accept: accept for accept in answers
    }
    predictions = answers["application/json"].json()["predictions"]
    assert answers["text/csv"].text.split("\n") == [prediction["class"] for prediction in predictions]
    assert [json.loads(line) for line in answers["application/jsonlines"].text.split("\n")] == predictions
    probabilities = np.load(io.BytesIO(answers["application/x-npy"].content))
    expected = [list(prediction["probabilities"].values()) for prediction in predictions]
    assert np.allclose(probabilities, expected, atol=1e-6) and probabilities.shape == (3, 2)


@pytest.mark.parametrize("kind", [payload.CSV, payload.JSON_LINES])
def test_answers_by_line_end_without_a_line_break_so_batch_transform_adds_no_blank_line(kind):
    body = payload.answer([{"class": "a"}, {"class": "b"}], kind)

    assert body.count(b"\n") == 1 and not body.endswith(b"\n")


def test_execution_parameters_recommend_a_transform_per_worker_of_many_records_within_the_limit(server):
    answer = requests.get(f"{server.url}/execution-parameters", timeout=5)

    assert answer.status_code == 200
    assert answer.json() == {
        "MaxConcurrentTransforms": 1,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }


@pytest.mark.parametrize(
    ("files", "cpus"),
    [
        ({}, 2),  # no cgroup files: the CPUs it may run on
        ({"cpu.max": "max 100000\n"}, 2),  # v2, no quota
        ({"cpu.max": "100000 100000\n"}, 1),  # v2, docker run --cpus 1
        ({"cpu.max": "150000 100000\n"}, 2),  # --cpus 1.5: rounded up
        ({"cpu.max": "800000 100000\n"}, 2),  # a quota above the CPUs there are
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2),  # v1, no quota
    ],
)
def test_the_default_worker_count_is_the_containers_cpu_quota(tmp_path, monkeypatch, files, cpus):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1})
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    assert container_cpus(tmp_path) == cpus


@settings(max_examples=200, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from(["f4", "f8", "i2", "u1", "?", "c8", "U2"]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=7),
    )
)
def test_any_npy_array_is_read_as_recordings_or_refused_with_a_4xx(array):
    try:
        rows = payload.recordings(npy(array), "application/x-npy", [2, 3], "6 values")
    except payload.BadRequest as problem:
        assert problem.status == 400 and str(problem)
    else:
        assert rows.shape[1:] == (6,) and array.size == rows.size and np.isfinite(rows).all()


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(JSON_VALUES | st.fixed_dictionaries({"features": JSON_VALUES}), min_size=1, max_size=4))
def test_any_json_lines_are_read_one_recording_a_line_or_refused_with_a_4xx(lines):
    body = "\n".join(json.dumps(line) for line in lines).encode()
    try:
        rows = payload.recordings(body, "application/jsonlines", [2], "2 values")
    except payload.BadRequest as problem:
        assert problem.status == 400 and str(problem)
    else:
        assert rows.shape == (len(lines), 2) and np.isfinite(rows).all()
