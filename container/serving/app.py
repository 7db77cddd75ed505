"""The WSGI application SageMaker talks to: GET /ping and POST /invocations on port 8080.

Each server worker loads the model in the background as it starts: /ping answers 503
while it loads, 200 once it has, and 500 with the reason if it cannot (the reason is
also logged), so a broken model shows in the endpoint's health check and in CloudWatch.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from container.sagemaker_env import Paths, UserError, server_settings
from container.serving import payload
from container.serving.model import ServedModel
from container.serving.server import container_cpus

# An invocation that reaches a worker still loading waits this long for it: with several
# workers, /ping may have been answered by another that is ready.
LOAD_WAIT_SECONDS = 50
# A body over the limit is read and dropped, this much within this long, before the 413 (read_body).
DRAIN_BYTES = 128 * 2**20
DRAIN_SECONDS = 10
log = logging.getLogger("gunicorn.error")  # the server's log: stderr, and CloudWatch on SageMaker
StartResponse = Callable[..., Any]


class App:
    def __init__(
        self,
        model_dir: Path,
        load: Callable[[Path], ServedModel] = ServedModel.load,
        max_payload_bytes: int = payload.MAX_PAYLOAD_BYTES,
        workers: int = 1,
    ) -> None:
        self.model_dir = model_dir
        self.max_payload_bytes = max_payload_bytes
        # What a Batch Transform job that sets none of these uses (GET /execution-parameters):
        # a request per worker at once, several records per request, this server's body limit.
        self.execution_parameters = {
            "MaxConcurrentTransforms": workers,
            "BatchStrategy": "MULTI_RECORD",
            "MaxPayloadInMB": max(1, max_payload_bytes // 2**20),
        }
        self.served: ServedModel | None = None
        self.problem = ""  # why the model could not be loaded
        self.loaded = threading.Event()  # set when loading has ended, well or not
        self.loader = threading.Thread(target=self._load, args=(load,), name="load-model", daemon=True)
        self.loader.start()

    def _load(self, load: Callable[[Path], ServedModel]) -> None:
        try:
            served = load(self.model_dir)
        except UserError as error:
            self.problem = str(error)
        except Exception as error:  # anything else is a bug, or a model from elsewhere: say which
            self.problem = f"cannot load the model in {self.model_dir}: {type(error).__name__}: {error}"
        else:
            self.served = served
            log.info("model loaded from %s: outputs %s", self.model_dir, ", ".join(served.names))
        finally:
            self.loaded.set()
        if self.problem:
            log.error("serve: %s", self.problem)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        route = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        try:
            if route[0] == "/ping":
                status, body, kind = self.ping(route[1])
            elif route[0] == "/invocations":
                status, body, kind = self.invocations(environ)
            elif route[0] == "/execution-parameters":
                if route[1] not in ("GET", "HEAD"):
                    raise payload.BadRequest(405, "use GET /execution-parameters")
                status, body, kind = 200, json.dumps(self.execution_parameters).encode(), payload.JSON
            else:
                raise payload.BadRequest(
                    404, f"no {route[0]}: the server answers /ping, /invocations and /execution-parameters"
                )
        except payload.BadRequest as problem:
            log.warning("%s %s: %d %s", route[1], route[0], problem.status, problem)
            status, body, kind = problem.status, error_body(str(problem)), payload.JSON
        except Exception as error:  # a bug: logged whole, answered in JSON like everything else
            log.exception("%s %s failed", route[1], route[0])
            status, body, kind = 500, error_body(f"internal error: {type(error).__name__}"), payload.JSON
        start_response(
            f"{status} {STATUS_TEXT.get(status, 'Error')}",
            [("Content-Type", kind), ("Content-Length", str(len(body)))],
        )
        return [body]

    def ping(self, method: str) -> tuple[int, bytes, str]:
        if method not in ("GET", "HEAD"):
            raise payload.BadRequest(405, "use GET /ping")
        if self.served is not None:
            return 200, b"", "text/plain"
        if self.problem:
            return 500, error_body(self.problem), payload.JSON
        return 503, error_body("the model is still loading"), payload.JSON

    def invocations(self, environ: dict[str, Any]) -> tuple[int, bytes, str]:
        if environ.get("REQUEST_METHOD") != "POST":
            raise payload.BadRequest(405, "use POST /invocations")
        self.loaded.wait(LOAD_WAIT_SECONDS)
        served = self.served
        if served is None:
            return self.ping("GET")
        kind = payload.negotiated(environ.get("HTTP_ACCEPT", ""))  # a 406 before any work
        body = read_body(environ, self.max_payload_bytes)
        rows = payload.recordings(
            body, environ.get("CONTENT_TYPE", ""), served.input_shape, served.describe_recording()
        )
        try:
            answers = served.answers(rows)
        except UserError as error:
            raise payload.BadRequest(400, str(error)) from None
        return 200, payload.answer(answers, kind), kind


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The request body, refused with a 413 past limit bytes.

    Before the 413 the rest of the body is read and dropped, up to DRAIN_BYTES within
    DRAIN_SECONDS: a client still sending (most do not read the answer first) would
    otherwise get its connection reset instead of the answer. A client that stalls while
    its body is read gets a 408, a body whose chunks are malformed a 400."""
    from gunicorn.http.errors import NoMoreData, ParseException

    declared = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    try:
        if declared.isdigit() and int(declared) > limit:
            if int(declared) <= DRAIN_BYTES:
                drain(stream, environ.get("gunicorn.socket"))
            over = f"the body is {declared} bytes, over {limit} ({limit // 2**20} MB)"
            raise payload.BadRequest(413, f"{over}: send fewer recordings")
        body = stream.read(int(declared)) if declared.isdigit() else stream.read(limit + 1)
        if len(body) > limit:
            drain(stream, environ.get("gunicorn.socket"))
            raise payload.BadRequest(
                413, f"the body is over {limit} bytes ({limit // 2**20} MB): send fewer recordings"
            )
    except (TimeoutError, BlockingIOError):  # a socket timeout (worker.SOCKET_SECONDS)
        raise payload.BadRequest(408, "the body stopped arriving: send it whole, without pauses") from None
    except (ParseException, NoMoreData) as error:
        raise payload.BadRequest(400, f"the body is not valid HTTP ({type(error).__name__})") from None
    return body


def drain(stream: Any, connection: Any) -> None:
    """Reads and drops the rest of a request body: DRAIN_BYTES, DRAIN_SECONDS at the most."""
    deadline, left = time.monotonic() + DRAIN_SECONDS, DRAIN_BYTES
    try:
        while left > 0 and (remaining := deadline - time.monotonic()) > 0:
            if connection is not None:
                connection.settimeout(remaining)
            chunk = stream.read(min(left, 2**16))
            if not chunk:
                return
            left -= len(chunk)
    except (TimeoutError, BlockingIOError):
        return  # the 413 goes out anyway; a client still sending may see its connection reset


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def create_app() -> App:
    """gunicorn's entry point, called in each worker: serves <SAGEMAKER_BASE_DIR>/model."""
    workers = server_settings(os.environ, container_cpus())["workers"]
    return App(
        Paths.from_env().model, max_payload_bytes=payload.max_payload_bytes(os.environ), workers=workers
    )
