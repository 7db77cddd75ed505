"""Request bodies in, answers out: the /invocations formats, and a 4xx for anything else.

A recording is the numbers of one row of the training data: a flat list of them, or, in
JSON, the model's [channels][samples] lists. Bodies (Content-Type):

    application/json       {"instances": [REC, ...]}, {"inputs": [REC, ...]}, [REC, ...] or REC
    text/csv               v1,v2,... one recording per line, no label
    application/jsonlines  one recording per line, REC or {"features": REC}
    application/x-npy      an array (np.save) of one recording or a stack of them; so is an
                           application/octet-stream body that starts as .npy does

These are the bodies the SageMaker Python SDK's serializers send. Answers (Accept) are JSON,
{"predictions": [ANSWER, ...]} with the task's answer for each recording (task.py; the
example's is {"class": NAME, "probabilities": {NAME: p, ...}}); CSV, each answer's first
field (the class) per line; JSON Lines, each answer per line; or .npy, each answer's numbers
(the probabilities) as a row of float32.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from container import data_formats
from container.sagemaker_env import UserError

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's limit, and Batch Transform's default
MAX_PAYLOAD_VARIABLE = "SAGEMAKER_MAX_PAYLOAD_IN_MB"  # Batch Transform's MaxPayloadInMB, when set
JSON, CSV, JSON_LINES, NPY = "application/json", "text/csv", "application/jsonlines", "application/x-npy"
FORMATS = (JSON, CSV, JSON_LINES, NPY)  # read and answered; JSON first: it wins a tie in Accept
ALIASES = {"application/x-jsonlines": JSON_LINES, "application/jsonl": JSON_LINES}
OCTET_STREAM = "application/octet-stream"  # the SDK Predictor's default: read when it is .npy
NPY_MAGIC = b"\x93NUMPY"


class BadRequest(Exception):
    """What is wrong with a request, answered with this HTTP status and the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def media_type(header: str) -> str:
    """'text/csv; charset=utf-8' -> 'text/csv'."""
    kind = header.split(";", 1)[0].strip().lower()
    return ALIASES.get(kind, kind)


def recordings(
    body: bytes, content_type: str, shape: Sequence[int], described: str
) -> npt.NDArray[np.float32]:
    """The body's recordings, each of shape's numbers, as rows of float32 values;
    BadRequest says what is wrong."""
    size = math.prod(shape)
    kind = media_type(content_type)
    if kind == OCTET_STREAM and body.startswith(NPY_MAGIC):
        kind = NPY
    if kind not in FORMATS:
        raise BadRequest(415, f"unsupported Content-Type '{content_type}': send {', '.join(FORMATS)}")
    empty = BadRequest(400, f"empty body: send one or more recordings of {described} as {kind}")
    if kind == NPY:
        rows = _from_npy(body, shape, described)
    else:
        try:
            text = body.decode("utf-8-sig")  # as training reads a CSV file: a byte-order mark is no value
        except UnicodeDecodeError as error:
            raise BadRequest(400, f"the body is not UTF-8 text (byte {error.start})") from None
        if not text.strip():
            raise empty
        read = {JSON: _from_json, JSON_LINES: _from_json_lines}.get(kind)
        rows = read(text, shape, described) if read else _from_csv(text, size, described)
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
    expected = f'{{"instances": [[...], ...]}} or [[...], ...], each recording {described}'
    document = _json(text, "malformed JSON", f"send {expected}")
    instances = document
    if isinstance(document, dict):
        instances = document.get("instances", document.get("inputs"))
    if _one_recording(instances, shape):
        instances = [instances]
    if not isinstance(instances, list) or not instances:
        raise BadRequest(400, f"no 'instances' list in the JSON: send {expected}")
    return np.stack(
        [
            _json_row(instance, f"instance {number}", shape, described)
            for number, instance in enumerate(instances, 1)
        ]
    )


def _from_json_lines(text: str, shape: Sequence[int], described: str) -> npt.NDArray[np.float32]:
    rows = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        value = _json(line, f"line {number} is not JSON", "send one recording per line")
        if isinstance(value, dict):  # SageMaker's built-in algorithms' habit
            value = value.get("features")
        rows.append(_json_row(value, f"line {number}", shape, described))
    return np.stack(rows) if rows else np.zeros((0, math.prod(shape)), dtype=np.float32)


def _json(text: str, problem: str, remedy: str) -> Any:
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise BadRequest(400, f"{problem} ({reason}): {remedy}") from None


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _one_recording(value: Any, shape: Sequence[int]) -> bool:
    """A list of numbers, or of the model's channels, rather than a list of recordings."""
    if not isinstance(value, list) or not value:
        return False
    if all(_is_number(item) for item in value):
        return True
    channels = len(shape) == 2 and shape[0] > 1 and len(value) == shape[0]
    return channels and all(isinstance(item, list) and len(item) == shape[1] for item in value)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _json_row(instance: Any, what: str, shape: Sequence[int], described: str) -> npt.NDArray[np.float32]:
    """A list of numbers, or of shape's channels each a list of numbers; JSON numbers only
    (no strings, no true or false)."""
    values, channels = instance, None
    if isinstance(values, list) and values and all(isinstance(channel, list) for channel in values):
        values, channels = [value for channel in values for value in channel], instance
    if not isinstance(values, list) or not all(_is_number(value) for value in values):
        raise BadRequest(400, f"{what} is not a list of numbers (or of channels, each a list of numbers)")
    lengths = sorted({len(channel) for channel in channels or []})
    if channels is not None and [len(channels), *lengths] != list(shape):
        held = f"{lengths[0]}" if len(lengths) == 1 else f"{lengths[0]} to {lengths[-1]}"
        raise BadRequest(
            400, f"{what} holds {len(channels)} channels of {held} values; a recording has {described}"
        )
    try:
        row = np.asarray(values, dtype=np.float64)
    except OverflowError:  # an integer beyond float64
        row = np.full(len(values), np.inf)
    return _recording(row, what, math.prod(shape), described)


def _from_npy(body: bytes, shape: Sequence[int], described: str) -> npt.NDArray[np.float32]:
    """One recording (its numbers, or shape), or a stack of them, as training reads .npy."""
    try:
        array = data_formats.npy_array(body, "the body")
    except UserError as error:
        raise BadRequest(400, str(error)) from None
    if array.dtype.kind not in "biuf":
        raise BadRequest(400, f"the body's array holds {array.dtype}, not numbers")
    size = math.prod(shape)
    if not array.size:  # no recordings: refused as an empty body
        return np.zeros((0, size), dtype=np.float32)
    if array.ndim == 1 or list(array.shape) == list(shape):
        array = array.reshape(1, -1)
    elif list(array.shape[1:]) == list(shape) or array.ndim == 2:
        array = array.reshape(len(array), -1)
    else:
        raise BadRequest(400, f"the body's array has shape {array.shape}; a recording has {described}")
    return _recording(array.astype(np.float64), f"the body's array of shape {array.shape}", size, described)


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
    """The body in kind (negotiated()): JSON holds each of the task's answers whole; CSV the
    first field of each (a classifier's class) and JSON Lines each answer, one per line,
    with no line break after the last (Batch Transform's AssembleWith=Line adds one);
    .npy each answer's numbers as a row (a classifier's probabilities)."""
    if kind == CSV:
        return "\n".join(str(next(iter(item.values()))) for item in answers).encode()
    if kind == JSON_LINES:
        return "\n".join(json.dumps(item) for item in answers).encode()
    if kind == NPY:
        buffer = io.BytesIO()
        np.save(buffer, np.array([_numbers(item) for item in answers], dtype=np.float32))
        return buffer.getvalue()
    return json.dumps({"predictions": answers}).encode()


def _numbers(value: Any) -> list[float]:
    """The numbers in an answer, in order: {"class": "1", "probabilities": {"0": 0.2, "1": 0.8}}
    gives [0.2, 0.8]."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return [number for item in value for number in _numbers(item)]
    return [float(value)] if _is_number(value) or isinstance(value, np.number) else []


def negotiated(accept: str) -> str:
    """The format of FORMATS the Accept header gives the highest quality (JSON on a tie and
    without the header); 406 when it gives them all 0.

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

    best = max(FORMATS, key=quality)  # the first of equals: JSON wins a tie
    if quality(best) <= 0:
        raise BadRequest(406, f"cannot answer in '{accept}': accept {', '.join(FORMATS)}")
    return best


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
    media = media.strip().lower()
    return ALIASES.get(media, media), quality
