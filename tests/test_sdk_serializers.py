"""The SageMaker Python SDK's own serializers and deserializers against serve, as a Predictor
uses them: the serializer's body and CONTENT_TYPE, the deserializer's ACCEPT joined by commas,
then the deserializer reads the answer. Every pair a user can construct is answered, or refused
with a 4xx that names the formats the server takes."""

from __future__ import annotations

import importlib
import importlib.metadata
import io
import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import requests

from local_server import Server, csv_rows, npy

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
SDK_MAJOR = int(importlib.metadata.version("sagemaker").split(".")[0])
# v3 moved them into sagemaker-core, with the same names, Content-Types and bodies
serializers = importlib.import_module(
    "sagemaker.core.serializers" if SDK_MAJOR >= 3 else "sagemaker.serializers"
)
deserializers = importlib.import_module(
    "sagemaker.core.deserializers" if SDK_MAJOR >= 3 else "sagemaker.deserializers"
)

RECORDINGS = np.linspace(-1, 1, 3 * 2000, dtype=np.float32).reshape(3, 2000)
LISTS = RECORDINGS.tolist()


# What a user constructs and what they give predict(); None: the server reads it.
SERIALIZED: dict[str, tuple[Callable[[], Any], Any, bool]] = {
    "CSVSerializer, an array": (serializers.CSVSerializer, RECORDINGS, True),
    "CSVSerializer, lists": (serializers.CSVSerializer, LISTS, True),
    "NumpySerializer, an array": (serializers.NumpySerializer, RECORDINGS, True),
    "NumpySerializer, lists": (serializers.NumpySerializer, LISTS, True),
    "JSONSerializer, an array": (serializers.JSONSerializer, RECORDINGS, True),
    "JSONSerializer, lists": (serializers.JSONSerializer, LISTS, True),
    "JSONSerializer, instances": (serializers.JSONSerializer, {"instances": LISTS}, True),
    "JSONSerializer, inputs": (serializers.JSONSerializer, {"inputs": LISTS}, True),
    "JSONLinesSerializer, lists": (serializers.JSONLinesSerializer, LISTS, True),
    "IdentitySerializer, .npy bytes": (serializers.IdentitySerializer, npy(RECORDINGS), True),
    "IdentitySerializer as text/csv, CSV bytes": (
        lambda: serializers.IdentitySerializer(content_type="text/csv"),
        csv_rows(RECORDINGS),
        True,
    ),
    "StringSerializer, CSV text": (serializers.StringSerializer, csv_rows(RECORDINGS).decode(), False),
    "LibSVMSerializer, LibSVM text": (serializers.LibSVMSerializer, "0 1:0.5 2:0.25\n", False),
    # v3's RecordSerializer raises NotImplementedError: a user of v3 cannot send RecordIO
    **(
        {"RecordSerializer, an array": (serializers.RecordSerializer, RECORDINGS, False)}
        if SDK_MAJOR < 3
        else {}
    ),
    "DataSerializer, bytes": (serializers.DataSerializer, csv_rows(RECORDINGS), False),
}


def answers_in(result: Any) -> int:
    """How many answers a deserializer's result holds."""
    if isinstance(result, tuple):  # StreamDeserializer: (stream, content type)
        stream, content_type = result
        result = stream.read()
        stream.close()
        if content_type != "application/json":
            return len(result.splitlines())
    if isinstance(result, bytes | str):
        return len(json.loads(result)["predictions"])
    if isinstance(result, dict):
        return len(result["predictions"])
    return len(result)  # CSV rows, JSON Lines, an array's rows, a DataFrame's rows


DESERIALIZERS: dict[str, tuple[Callable[[], Any], bool]] = {
    "JSONDeserializer": (deserializers.JSONDeserializer, True),
    "CSVDeserializer": (deserializers.CSVDeserializer, True),
    "NumpyDeserializer": (deserializers.NumpyDeserializer, True),
    "JSONLinesDeserializer": (deserializers.JSONLinesDeserializer, True),
    "BytesDeserializer": (deserializers.BytesDeserializer, True),
    "StringDeserializer": (deserializers.StringDeserializer, True),
    "StreamDeserializer": (deserializers.StreamDeserializer, True),
    "PandasDeserializer": (deserializers.PandasDeserializer, True),
    "RecordDeserializer": (deserializers.RecordDeserializer, False),
}


@pytest.mark.parametrize("deserializer_name", DESERIALIZERS)
@pytest.mark.parametrize("serializer_name", SERIALIZED)
def test_every_sdk_serializer_and_deserializer_pair_is_answered_or_refused_naming_the_formats(
    server: Server, serializer_name: str, deserializer_name: str
):
    make_serializer, data, readable = SERIALIZED[serializer_name]
    make_deserializer, answerable = DESERIALIZERS[deserializer_name]
    serializer, deserializer = make_serializer(), make_deserializer()

    answer = requests.post(
        f"{server.url}/invocations",
        data=serializer.serialize(data),
        headers={"Content-Type": serializer.CONTENT_TYPE, "Accept": ", ".join(deserializer.ACCEPT)},
        timeout=60,
    )

    if readable and answerable:
        assert answer.status_code == 200, answer.text
        result = deserializer.deserialize(io.BytesIO(answer.content), answer.headers["Content-Type"])
        assert answers_in(result) == len(RECORDINGS)
    else:
        assert answer.status_code == (406 if not answerable else 415)  # the Accept is checked first
        assert (
            "application/json, text/csv, application/jsonlines, application/x-npy" in answer.json()["error"]
        )
