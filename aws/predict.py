"""Predictions of the trained model for recordings in any format train.py reads.

    make serve-local &                  # then, in another terminal:
    make predict                        # the sample's test rows, sent to the local server
    make predict DATA=recordings.npz    # any data file, or a folder of them
    make predict ENDPOINT=eeg-endpoint  # a SageMaker endpoint (make deploy)
    make predict MODEL=test_dir/model   # offline: no server; a model folder
    make predict MODEL=model.tar.gz     # or SageMaker's archive

Takes a file's test rows (x_test) when it has them, else its training rows, and prints one
line per recording with the task's answer (task.answers: the example's class and
probabilities), then task.score's summary (the accuracy) when the file holds labels.
Requests carry at most 6 MB each (SageMaker's limit), as .npy: the very float32 values, in
the recordings' shape, which the server checks against the model's.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import task
from aws.context import checked_name, run_command
from aws.defaults import SAMPLE_DATA
from container import recordings
from container.sagemaker_env import UserError, one_line
from container.serving.payload import JSON, MAX_PAYLOAD_BYTES, NPY

LOCAL_URL = "http://127.0.0.1:8080"
NPY_HEADER_BYTES = 128  # np.save's header, at most, for an array of up to three dimensions
Predictions = list[dict[str, Any]]  # the task's answer for each row (task.answers)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="predict", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", nargs="?", default="", help="a data file or folder (default: the sample)")
    parser.add_argument("--url", default="", help=f"a server's address (default: {LOCAL_URL})")
    parser.add_argument("--port", default="", help="the local server's port, for --url's default")
    parser.add_argument("--endpoint", default="", help="a SageMaker endpoint's name")
    parser.add_argument("--model", default="", help="predict here: a model folder or model.tar.gz")
    args = parser.parse_args(argv)
    if args.port and not (args.port.isascii() and args.port.isdigit() and 1 <= int(args.port) <= 65535):
        raise UserError(f"--port {args.port!r} is not a port number from 1 to 65535")
    if args.url and not args.url.startswith(("http://", "https://")):
        raise UserError(f"--url {args.url!r} is not an http:// or https:// address")
    if args.endpoint:
        checked_name(args.endpoint, "endpoint name")
    given = [f"--{name}" for name in ("url", "endpoint", "model") if getattr(args, name)]
    if len(given) > 1:
        raise UserError(f"{' and '.join(given)}: give one place to predict (URL, ENDPOINT or MODEL)")
    return args


def request_bodies(rows: npt.NDArray[np.float32]) -> Iterator[tuple[int, bytes]]:
    """(rows in it, body): .npy arrays of as many rows as fit in MAX_PAYLOAD_BYTES."""
    with np.errstate(over="ignore"):  # beyond float32: inf, which the server refuses by name
        rows = np.asarray(rows, dtype=np.float32)
    row_bytes = rows[0].nbytes if len(rows) else 1
    per_body = (MAX_PAYLOAD_BYTES - NPY_HEADER_BYTES) // row_bytes
    if per_body < 1:
        raise UserError(f"one recording takes {row_bytes} bytes, over the 6 MB a request may carry")
    for start in range(0, len(rows), per_body):
        buffer = io.BytesIO()
        np.save(buffer, rows[start : start + per_body])
        yield len(rows[start : start + per_body]), buffer.getvalue()


def over_http(url: str) -> Callable[[bytes], bytes]:
    import requests

    def send(body: bytes) -> bytes:
        address = f"{url.rstrip('/')}/invocations"
        headers = {"Content-Type": NPY, "Accept": JSON}
        try:
            response = requests.post(address, data=body, headers=headers, timeout=120)
        except requests.ConnectionError:
            raise UserError(f"no server answers at {url}: start one with 'make serve-local'") from None
        # an address requests or urllib3 refuses (a host label of 64 characters), an answer cut short
        except (requests.RequestException, ValueError) as error:
            raise UserError(f"cannot get an answer from {address} ({type(error).__name__})") from None
        if response.status_code != 200:
            raise UserError(f"{address} answered {response.status_code}: {error_of(response.content)}")
        return response.content

    return send


def to_endpoint(name: str) -> Callable[[bytes], bytes]:
    import boto3

    from aws.context import aws_region

    runtime = boto3.Session(region_name=aws_region()).client("sagemaker-runtime")

    def send(body: bytes) -> bytes:
        answer = runtime.invoke_endpoint(EndpointName=name, ContentType=NPY, Accept=JSON, Body=body)
        return bytes(answer["Body"].read())

    return send


def error_of(content: bytes) -> str:
    """The server's reason, as one line of printable text: an answer may hold anything."""
    try:
        text = str(json.loads(content)["error"])
    except (ValueError, KeyError, TypeError, RecursionError):
        text = content[:200].decode("utf-8", "replace")
    return one_line("".join(char if char.isprintable() else f"\\x{ord(char):02x}" for char in text))


def predictions_from(answer: bytes) -> Predictions:
    try:
        predictions = json.loads(answer)["predictions"]
    except (ValueError, KeyError, TypeError, RecursionError):
        predictions = None
    if not isinstance(predictions, list) or not all(isinstance(item, dict) for item in predictions):
        raise UserError(f"the answer is not predictions JSON: {answer[:200]!r}")
    return predictions


def offline(model: str) -> Callable[[npt.NDArray[np.float32]], Predictions]:
    from container.serving.model import ServedModel

    path = Path(model)
    served = ServedModel.from_archive(path) if path.is_file() else ServedModel.load(path)
    return served.answers


def described(answer: dict[str, Any]) -> str:
    """class=1 probabilities={"0": 0.1, "1": 0.9}: each field of one answer, on one line."""
    return " ".join(
        f"{name}={value if isinstance(value, str | int | float) else json.dumps(value)}"
        for name, value in answer.items()
    )


def predict(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    source = Path(args.data) if args.data else SAMPLE_DATA
    data = recordings.read_path(source)
    rows, which = (data.test, "test rows") if data.test is not None else (data.train, "rows")
    if rows is None or not len(rows):
        raise UserError(f"{source} holds no recordings")
    if args.model:
        results = offline(args.model)(rows.x)
        where = args.model
    else:
        url = args.url or (f"http://127.0.0.1:{args.port}" if args.port else LOCAL_URL)
        send = to_endpoint(args.endpoint) if args.endpoint else over_http(url)
        results = []
        for count, body in request_bodies(rows.x):
            answered = predictions_from(send(body))
            if len(answered) != count:
                raise UserError(f"sent {count} recordings, got {len(answered)} predictions back")
            results += answered
        where = f"endpoint {args.endpoint}" if args.endpoint else url
    for number, answer in enumerate(results, start=1):
        label = f" label={rows.y[number - 1].tolist()}" if rows.y.size else ""
        print(f"row={number} {described(answer)}{label}")
    if rows.y.size:
        print(f"{task.score(results, rows.y)} ({len(results)} {which} of {source.name}, {where})")
    return 0


if __name__ == "__main__":
    sys.exit(run_command("predict", predict))
