"""A served model for the tests: serve started on 127.0.0.1, and ways to talk to it."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import requests

from conftest import REPO, RUNTIME_BIN, OptMl, new_opt_ml
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
        "PATH": f"{RUNTIME_BIN}{os.pathsep}{os.environ['PATH']}",
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


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def csv_rows(x: np.ndarray) -> bytes:
    return "".join(",".join(f"{v:.9g}" for v in row) + "\n" for row in x.reshape(len(x), -1)).encode()


def predict_py(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RUNTIME_BIN / "python3", "-m", "aws.predict", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


ROW = ",".join(["1.5"] * 2000)


def half_sent_requests(server: Server, count: int) -> list[socket.socket]:
    """count connections that send part of their headers and then nothing."""
    host, port = server.url.removeprefix("http://").split(":")
    clients = []
    for _ in range(count):
        client = socket.create_connection((host, int(port)), timeout=30)
        client.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n")
        clients.append(client)
    return clients


def raw_exchange(server: Server, request: bytes) -> bytes:
    """Sends request on a connection of its own and reads the answer until the server closes."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as client:
        client.sendall(request)
        answer = b""
        while chunk := client.recv(4096):
            answer += chunk
    return answer


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> OptMl:
    """A model trained once for the session's serving and predict tests."""
    tree = new_opt_ml(tmp_path_factory.mktemp("serve") / "opt ml")
    tree.hyperparameters({"epochs": "5", "patience": "0"})
    result = tree.run()
    assert result.returncode == 0, result.stderr
    return tree


@pytest.fixture(scope="session")
def server(trained: OptMl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """serve on the trained model, one worker, shared by every test that only sends it requests."""
    running = start_server(trained.base, tmp_path_factory.mktemp("serve-log") / "serve.log")
    try:
        ping_until_not(running, 503)
        yield running
    finally:
        if running.process.poll() is None:
            stop(running)
