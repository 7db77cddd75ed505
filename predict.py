"""Predictions of the trained model for recordings in any format train.py reads.

    make serve-local &                  # then, in another terminal:
    make predict                        # the sample's test rows, sent to the local server
    make predict DATA=recordings.npz    # any data file, or a folder of them
    make predict ENDPOINT=eeg-endpoint  # a SageMaker endpoint (make deploy)
    .venv/bin/python predict.py --model test_dir/model    # offline: no server; a model
    .venv/bin/python predict.py --model model.tar.gz      # folder or SageMaker's archive

Takes a file's test rows (x_test) when it has them, else its training rows, and prints one
line per recording with the predicted class and its probability, then the accuracy when
the file holds labels. Requests carry at most 6 MB each (SageMaker's limit), as CSV.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

import eeg_data
from aws_context import run_command
from sagemaker_env import UserError
from serving.payload import CSV, JSON, MAX_PAYLOAD_BYTES

REPO = Path(__file__).resolve().parent
SAMPLE = REPO / "test_dir" / "input" / "data" / "training"
LOCAL_URL = "http://127.0.0.1:8080"
Predictions = list[tuple[str, dict[str, float]]]  # (class, probability of each class) per row


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
    given = [f"--{name}" for name in ("url", "endpoint", "model") if getattr(args, name)]
    if len(given) > 1:
        raise UserError(f"{' and '.join(given)}: give one place to predict (URL, ENDPOINT or MODEL)")
    return args


def request_bodies(rows: npt.NDArray[np.float32]) -> Iterator[tuple[int, bytes]]:
    """(rows in it, body): CSV lines, as many per body as fit in MAX_PAYLOAD_BYTES."""
    lines: list[bytes] = []
    size = 0
    for row in rows.reshape(len(rows), -1):
        # 9 significant digits carry a float32 exactly: the server sees the very same values
        line = (",".join(f"{value:.9g}" for value in row) + "\n").encode()
        if len(line) > MAX_PAYLOAD_BYTES:
            raise UserError(
                f"one recording takes {len(line)} bytes as CSV, over the 6 MB a request may carry"
            )
        if size + len(line) > MAX_PAYLOAD_BYTES:
            yield len(lines), b"".join(lines)
            lines, size = [], 0
        lines.append(line)
        size += len(line)
    if lines:
        yield len(lines), b"".join(lines)


def over_http(url: str) -> Callable[[bytes], bytes]:
    import requests

    def send(body: bytes) -> bytes:
        address = f"{url.rstrip('/')}/invocations"
        headers = {"Content-Type": CSV, "Accept": JSON}
        try:
            response = requests.post(address, data=body, headers=headers, timeout=120)
        except requests.ConnectionError:
            raise UserError(f"no server answers at {url}: start one with 'make serve-local'") from None
        if response.status_code != 200:
            raise UserError(f"{address} answered {response.status_code}: {error_of(response.content)}")
        return response.content

    return send


def to_endpoint(name: str) -> Callable[[bytes], bytes]:
    import boto3

    from aws_context import aws_region

    runtime = boto3.Session(region_name=aws_region()).client("sagemaker-runtime")

    def send(body: bytes) -> bytes:
        answer = runtime.invoke_endpoint(EndpointName=name, ContentType=CSV, Accept=JSON, Body=body)
        return bytes(answer["Body"].read())

    return send


def error_of(content: bytes) -> str:
    try:
        return str(json.loads(content)["error"])
    except (ValueError, KeyError, TypeError):
        return content[:200].decode("utf-8", "replace")


def predictions_from(answer: bytes) -> Predictions:
    try:
        return [(item["class"], item["probabilities"]) for item in json.loads(answer)["predictions"]]
    except (ValueError, KeyError, TypeError):
        raise UserError(f"the answer is not predictions JSON: {answer[:200]!r}") from None


def offline(model: str) -> Callable[[npt.NDArray[np.float32]], Predictions]:
    from serving.classifier import Classifier

    path = Path(model)
    classifier = Classifier.from_archive(path) if path.is_file() else Classifier.load(path)

    def predict(rows: npt.NDArray[np.float32]) -> Predictions:
        probabilities = classifier.probabilities(rows.reshape(len(rows), -1))
        names = classifier.class_names
        return [
            (names[int(np.argmax(row))], {name: float(p) for name, p in zip(names, row, strict=True)})
            for row in probabilities
        ]

    return predict


def predict(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    source = Path(args.data) if args.data else SAMPLE
    data = eeg_data.read_path(source)
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
    labels = [str(label) for label in eeg_data.class_ids(rows.y, "the data's")] if rows.y.size else []
    for number, (name, probabilities) in enumerate(results, start=1):
        label = f" label={labels[number - 1]}" if labels else ""
        print(f"row={number} class={name} probability={probabilities[name]:.4f}{label}")
    if labels:
        right = sum(label == name for label, (name, _) in zip(labels, results, strict=True))
        print(
            f"accuracy={right / len(labels):.4f} ({right} of {len(labels)} {which} of {source.name}, {where})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run_command("predict", predict))
