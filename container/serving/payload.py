"""Request bodies in, answers out: the /invocations formats, and a 4xx for anything else.

    application/json  {"instances": [[v1, v2, ...], ...]}  one recording per instance
    text/csv          v1,v2,...                             one recording per line, no label
Answers are JSON, {"predictions": [ANSWER, ...]} with the task's answer for each recording
(task.py; the example's is {"class": NAME, "probabilities": {NAME: p, ...}}), or with
Accept: text/csv each answer's first field (the class), one per line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from container import data_formats

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


def recordings(
    body: bytes, content_type: str, shape: Sequence[int], described: str
) -> npt.NDArray[np.float32]:
    """The body's recordings, each of shape's numbers (a JSON instance may also nest them as
    shape's channels), as rows of float32 values; BadRequest says what is wrong."""
    size = math.prod(shape)
    kind = media_type(content_type)
    if kind not in (JSON, CSV):
        raise BadRequest(415, f"unsupported Content-Type '{content_type}': send {JSON} or {CSV}")
    empty = BadRequest(400, f"empty body: send one or more recordings of {described} as {kind}")
    try:
        text = body.decode("utf-8-sig")  # as training reads a CSV file: a byte-order mark is no value
    except UnicodeDecodeError as error:
        raise BadRequest(400, f"the body is not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        raise empty
    rows = _from_json(text, shape, described) if kind == JSON else _from_csv(text, size, described)
    if not len(rows):
        raise empty
    finite = np.isfinite(rows).all(axis=1)
    if not finite.all():
        raise BadRequest(400, f"recording {int(np.argmin(finite)) + 1} holds NaN or infinite values")
    return rows


# A body of many short rows fails at the first, before anything of the size of
# (rows x recording) is allocated: JSON instances are checked one by one, and a CSV body's
# first line before the rest is read.


def _from_json(text: str, shape: Sequence[int], described: str) -> npt.NDArray[np.float32]:
    expected = f'{{"instances": [[...], ...]}}, each recording {described}'
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise BadRequest(400, f"malformed JSON ({reason}): send {expected}") from None
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, list) or not instances:
        raise BadRequest(400, f"no 'instances' list in the JSON: send {expected}")
    return np.stack(
        [_json_row(instance, number, shape, described) for number, instance in enumerate(instances, 1)]
    )


def _json_row(instance: Any, number: int, shape: Sequence[int], described: str) -> npt.NDArray[np.float32]:
    """A list of numbers, or of shape's channels each a list of numbers; JSON numbers only
    (no strings, no true or false)."""
    values, channels = instance, None
    if isinstance(values, list) and values and all(isinstance(channel, list) for channel in values):
        values, channels = [value for channel in values for value in channel], instance
    if not isinstance(values, list) or not all(type(value) in (int, float) for value in values):
        raise BadRequest(
            400, f"instance {number} is not a list of numbers (or of channels, each a list of numbers)"
        )
    lengths = sorted({len(channel) for channel in channels or []})
    if channels is not None and [len(channels), *lengths] != list(shape):
        held = f"{lengths[0]}" if len(lengths) == 1 else f"{lengths[0]} to {lengths[-1]}"
        raise BadRequest(
            400,
            f"instance {number} holds {len(channels)} channels of {held} values; a recording has {described}",
        )
    try:
        row = np.asarray(values, dtype=np.float64)
    except OverflowError:  # an integer beyond float64
        row = np.full(len(values), np.inf)
    return _recording(row, f"instance {number}", math.prod(shape), described)


def _from_csv(text: str, size: int, described: str) -> npt.NDArray[np.float32]:
    """Each line that is not blank, read by training's CSV reader, so a value training would
    refuse (1_0, digits of other scripts, a vertical tab) is refused here too."""
    numbered = [(number, line) for number, line in enumerate(text.split("\n"), 1) if line.strip()]
    if not numbered:
        return np.zeros((0, size), dtype=np.float32)
    _csv_line(*numbered[0], size, described)  # a wrong width is found before the whole body is read
    try:
        rows = data_formats.csv_numbers([line for _, line in numbered])
    except ValueError:
        for number, line in numbered:  # which line, and what is wrong with it
            _csv_line(number, line, size, described)
        raise BadRequest(400, "the body's lines hold something other than numbers") from None
    return _recording(rows, "the body", size, described)


def _csv_line(number: int, line: str, size: int, described: str) -> None:
    try:
        row = data_formats.csv_numbers([line])
    except ValueError:
        raise BadRequest(400, f"line {number} holds something other than numbers") from None
    if len(row) and row.shape[1] != size:  # no rows: a comment line, which training skips too
        raise BadRequest(400, f"line {number} has {row.shape[1]} values; a recording has {described}")


def _recording(
    values: npt.NDArray[np.float64], what: str, size: int, described: str
) -> npt.NDArray[np.float32]:
    if values.ndim == 2 and not len(values):  # a CSV of comment lines, which training skips too
        return np.zeros((0, size), dtype=np.float32)
    if values.shape[-1] != size:
        raise BadRequest(400, f"{what} has {values.shape[-1]} values; a recording has {described}")
    # float64 first: a value beyond float32's range becomes inf (refused as such), not an error
    with np.errstate(over="ignore"):
        return values.astype(np.float32)


def max_payload_bytes(environ: Mapping[str, str]) -> int:
    """6 MB, or what a Batch Transform job's MaxPayloadInMB allows (SAGEMAKER_MAX_PAYLOAD_IN_MB:
    1 to 100; 0 means chunked bodies of any size, held here to 100 MB)."""
    text = environ.get(MAX_PAYLOAD_VARIABLE, "").strip()
    if not text.isdigit() or int(text) > 100:
        return MAX_PAYLOAD_BYTES
    return (int(text) or 100) * 1024 * 1024


def answer(answers: list[dict[str, Any]], kind: str) -> bytes:
    """The body in kind, JSON or CSV (negotiated()): JSON holds each of the task's answers
    whole; CSV the first field of each, one per line (a classifier's class)."""
    if kind == CSV:
        return "".join(f"{next(iter(item.values()))}\n" for item in answers).encode()
    return json.dumps({"predictions": answers}).encode()


def negotiated(accept: str) -> str:
    """JSON or CSV, whichever the Accept header gives the higher quality (JSON on a tie and
    without the header); 406 when it gives both 0.

    Each offer takes the quality of the most specific range that matches it: text/csv, then
    text/*, then */* (RFC 9110, 12.5.1); q=0 means "not this".
    """
    ranges = [_media_range(part, accept) for part in accept.split(",") if part.strip()]
    if not ranges:
        return JSON

    def quality(offer: str) -> float:
        family = offer.split("/")[0]
        matches = {offer: 2, f"{family}/*": 1, "*/*": 0}
        found = [(matches[media], q) for media, q in ranges if media in matches]
        return max(found)[1] if found else 0.0

    json_quality, csv_quality = quality(JSON), quality(CSV)
    if max(json_quality, csv_quality) <= 0:
        raise BadRequest(406, f"cannot answer in '{accept}': accept {JSON} or {CSV}")
    return CSV if csv_quality > json_quality else JSON


def _media_range(part: str, accept: str) -> tuple[str, float]:
    """'text/csv;q=0.5' -> ('text/csv', 0.5)."""
    media, *parameters = part.split(";")
    quality = 1.0
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                quality = -1.0
            if not 0.0 <= quality <= 1.0:
                raise BadRequest(400, f"Accept '{accept}': q={value.strip()} is not a number from 0 to 1")
    return media.strip().lower(), quality
