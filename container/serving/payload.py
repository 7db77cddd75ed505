"""Request bodies in, answers out: the /invocations formats, and a 4xx for anything else.

    application/json  {"instances": [[v1, v2, ...], ...]}  one recording per instance
    text/csv          v1,v2,...                             one recording per line, no label
Answers are JSON, {"predictions": [ANSWER, ...]} with the task's answer for each recording
(task.py; the example's is {"class": NAME, "probabilities": {NAME: p, ...}}), or with
Accept: text/csv each answer's first field (the class), one per line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's limit, and Batch Transform's default
MAX_PAYLOAD_VARIABLE = "SAGEMAKER_MAX_PAYLOAD_IN_MB"  # Batch Transform's MaxPayloadInMB, when set
JSON, CSV = "application/json", "text/csv"


class BadRequest(Exception):
    """What is wrong with a request, answered with this HTTP status and the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def media_type(header: str) -> str:
    """'text/csv; charset=utf-8' -> 'text/csv'."""
    return header.split(";", 1)[0].strip().lower()


def recordings(body: bytes, content_type: str, size: int, described: str) -> npt.NDArray[np.float32]:
    """The body's recordings as rows of size float32 values; BadRequest says what is wrong."""
    kind = media_type(content_type)
    if kind not in (JSON, CSV):
        raise BadRequest(415, f"unsupported Content-Type '{content_type}': send {JSON} or {CSV}")
    empty = BadRequest(400, f"empty body: send one or more recordings of {described} as {kind}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(400, f"the body is not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        raise empty
    listed = _from_json(text, size, described) if kind == JSON else _from_csv(text, size, described)
    if not listed:
        raise empty
    rows = np.stack(listed)
    finite = np.isfinite(rows).all(axis=1)
    if not finite.all():
        raise BadRequest(400, f"recording {int(np.argmin(finite)) + 1} holds NaN or infinite values")
    return rows


# Rows are checked one by one into a list: a body of many short rows fails at the first,
# before anything of the size of (rows x recording) is allocated.


def _from_json(text: str, size: int, described: str) -> list[npt.NDArray[np.float32]]:
    expected = f'{{"instances": [[...], ...]}}, each recording {described}'
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise BadRequest(400, f"malformed JSON ({reason}): send {expected}") from None
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, list) or not instances:
        raise BadRequest(400, f"no 'instances' list in the JSON: send {expected}")
    return [
        _row(instance, f"instance {number}", "is not a list of numbers", size, described)
        for number, instance in enumerate(instances, start=1)
    ]


def _from_csv(text: str, size: int, described: str) -> list[npt.NDArray[np.float32]]:
    return [
        _row(line.split(","), f"line {number}", "holds something other than numbers", size, described)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


def _row(values: Any, what: str, not_numbers: str, size: int, described: str) -> npt.NDArray[np.float32]:
    try:
        # float64 first: a value beyond float32's range becomes inf (refused), not an error
        row = np.asarray(values, dtype=np.float64).reshape(-1)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise BadRequest(400, f"{what} {not_numbers}") from None
    if row.size != size:
        raise BadRequest(400, f"{what} has {row.size} values; a recording has {described}")
    with np.errstate(over="ignore"):
        return row.astype(np.float32)


def max_payload_bytes(environ: Mapping[str, str]) -> int:
    """6 MB, or what a Batch Transform job's MaxPayloadInMB allows (SAGEMAKER_MAX_PAYLOAD_IN_MB:
    1 to 100; 0 means chunked bodies of any size, held here to 100 MB)."""
    text = environ.get(MAX_PAYLOAD_VARIABLE, "").strip()
    if not text.isdigit() or int(text) > 100:
        return MAX_PAYLOAD_BYTES
    return (int(text) or 100) * 1024 * 1024


def answer(answers: list[dict[str, Any]], accept: str) -> tuple[bytes, str]:
    """The body and its Content-Type for the Accept header (JSON unless text/csv is asked for).

    JSON holds each of the task's answers whole; CSV the first field of each, one per line
    (a classifier's class).
    """
    wanted = {media_type(kind) for kind in (accept or "").split(",")} - {""}
    if CSV in wanted and JSON not in wanted:
        return "".join(f"{next(iter(item.values()))}\n" for item in answers).encode(), CSV
    if wanted and not wanted & {JSON, "*/*", "application/*"}:
        raise BadRequest(406, f"cannot answer in '{accept}': accept {JSON} or {CSV}")
    return json.dumps({"predictions": answers}).encode(), JSON
