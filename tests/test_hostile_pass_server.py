"""A hostile pass over serve: requests a careless or hostile client sends, each answered or refused.

Every one is either served as a well-behaved client's equivalent would be, or refused with a 4xx
(never a 5xx, a hang or a dropped worker), and /ping answers 200 within 2 s afterwards.
"""

from __future__ import annotations

import gzip
import json
import re
import socket

import numpy as np
import pytest
import requests

from local_server import ROW, Server, npy

LINE = (ROW + "\n").encode()
HALF = ",".join(["1.5"] * 1000)
HEAD = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nConnection: close\r\n"


def post(head: bytes, body: bytes = LINE) -> bytes:
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def chunked(*chunks: bytes, end: bytes = b"0\r\n\r\n") -> bytes:
    return HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(chunks) + end


def get(path: bytes, *headers: bytes, version: bytes = b"HTTP/1.1") -> bytes:
    return (
        b"GET "
        + path
        + b" "
        + version
        + b"\r\nHost: x\r\n"
        + b"".join(h + b"\r\n" for h in headers)
        + (b"Connection: close\r\n\r\n")
    )


# Request bytes as sent on the wire, and the statuses that may answer them in order (an empty tuple:
# the server may close without answering, as it does for bytes that are not HTTP).
RAW = {
    "a lowercase method": (b"post /invocations HTTP/1.1\r\nHost: x\r\n\r\n", {(400,), (405,)}),
    "an unknown method": (b"BREW /invocations HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", {(405,)}),
    "a request line without a version": (b"GET /ping\r\n\r\n", {(400,), ()}),
    "HTTP/2.0 in a request line": (get(b"/ping", version=b"HTTP/2.0"), {(400,), (505,)}),
    "HTTP/1.0 without Connection": (b"GET /ping HTTP/1.0\r\n\r\n", {(200,)}),
    "no Host header": (b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n", {(200,), (400,)}),
    "an absolute URI": (get(b"http://x/ping"), {(200,), (400,)}),
    "a query string": (get(b"/ping?deep=1"), {(200,)}),
    "a doubled slash": (get(b"//ping"), {(404,)}),
    "a trailing slash": (get(b"/ping/"), {(404,)}),
    "a dot-dot path": (get(b"/ping/../invocations"), {(404,), (400,)}),
    "a percent-encoded path": (get(b"/%70ing"), {(200,), (404,)}),
    "a path of 10 KB": (get(b"/" + b"p" * 10_000), {(400,), (414,)}),
    "a NUL in the path": (get(b"/pi\x00ng"), {(400,), (404,)}),
    "a tab for the space in the request line": (b"GET\t/ping HTTP/1.1\r\nHost: x\r\n\r\n", {(400,)}),
    "two spaces in the request line": (b"GET  /ping HTTP/1.1\r\nHost: x\r\n\r\n", {(400,), (404,)}),
    "a header without a colon": (get(b"/ping", b"NoColonHere"), {(400,)}),
    "a space inside a header name": (get(b"/ping", b"X Padding: 1"), {(400,)}),
    "a space before a header's colon": (get(b"/ping", b"Accept : text/csv"), {(400,)}),
    "a folded header line": (get(b"/ping", b"X-Note: a", b" b"), {(400,), (200,)}),
    "a byte that is not ASCII in a header value": (get(b"/ping", b"X-Note: \xff\xfe"), {(200,), (400,)}),
    "a header field of 9000 bytes": (get(b"/ping", b"X-Note: " + b"n" * 9000), {(400,), (431,)}),
    "200 header fields": (get(b"/ping", *(b"X-%d: 1" % i for i in range(200))), {(400,), (431,)}),
    "two Content-Lengths that differ": (
        HEAD + b"Content-Length: 8000\r\nContent-Length: 4\r\n\r\n" + LINE,
        {(400,)},
    ),
    "two Content-Lengths that agree": (
        HEAD + b"Content-Length: 8000\r\nContent-Length: 8000\r\n\r\n" + LINE,
        {(200,), (400,)},
    ),
    "Content-Length beside chunked": (
        HEAD + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n1f40\r\n" + LINE + b"\r\n0\r\n\r\n",
        {(400,)},
    ),
    "gzip before chunked": (
        HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        {(400,), (501,)},
    ),
    "identity after chunked": (HEAD + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", {(400,)}),
    "an unknown transfer coding": (HEAD + b"Transfer-Encoding: xchunked\r\n\r\n", {(400,), (501,)}),
    "a negative Content-Length": (HEAD + b"Content-Length: -1\r\n\r\n", {(400,)}),
    "a Content-Length with a plus sign": (HEAD + b"Content-Length: +8000\r\n\r\n" + LINE, {(400,)}),
    "a Content-Length with a space inside": (HEAD + b"Content-Length: 80 00\r\n\r\n" + LINE, {(400,)}),
    "a hexadecimal Content-Length": (HEAD + b"Content-Length: 0x1f40\r\n\r\n" + LINE, {(400,)}),
    "a chunk with an extension": (chunked(b"1f40;name=value\r\n" + LINE + b"\r\n"), {(200,)}),
    "a chunk size in capitals": (chunked(b"1F40\r\n" + LINE + b"\r\n"), {(200,)}),
    "a recording split over many chunks": (
        chunked(*(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in (LINE[:5], LINE[5:3000], LINE[3000:]))),
        {(200,)},
    ),
    "a trailer after the last chunk": (
        chunked(b"1f40\r\n" + LINE + b"\r\n", end=b"0\r\nX-Checksum: 1\r\n\r\n"),
        {(200,)},
    ),
    "a negative chunk size": (chunked(b"-1\r\n"), {(400,)}),
    # a thread takes it to read the chunk and drain it; nothing comes: 408 after SOCKET_SECONDS
    "a chunk size of 20 hex digits": (chunked(b"f" * 20 + b"\r\n"), {(408,), (413,)}),
    "a chunk longer than its size": (chunked(b"4\r\n" + LINE + b"\r\n"), {(400,)}),
    "a Content-Length shorter than the body": (
        HEAD + b"Content-Length: 4000\r\n\r\n" + LINE,
        {(400,), (400, 400)},
    ),
    "two pings in one send": (
        b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n" + get(b"/ping"),
        {(200, 200)},
    ),
    "a ping then a bad request in one send": (
        b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n" + HEAD + b"Content-Length: x\r\n\r\n",
        {(200, 400)},
    ),
    "100-continue for a body over the limit": (
        HEAD + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (7 * 2**20),
        {(413,)},
    ),
    "an expectation other than 100-continue": (
        post(HEAD + b"Expect: 200-ok\r\n"),
        {(200,), (417,)},
    ),
    "bare LF line ends": (b"GET /ping HTTP/1.1\nHost: x\nConnection: close\n\n", {(200,), (400,), ()}),
    "bytes that are not HTTP": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64), {(400,), ()}),
    "an empty line only": (b"\r\n\r\n", {(400,), ()}),
}


def statuses(server: Server, request: bytes, half_close: bool = False) -> tuple[int, ...]:
    """The statuses the server answers request with, in order, read until it closes."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as client:
        client.sendall(request)
        if half_close:
            client.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    return tuple(int(status) for status in re.findall(rb"(?:^|\r\n)HTTP/1\.[01] (\d{3}) ", answer))


def assert_still_serving(server: Server) -> None:
    assert requests.get(f"{server.url}/ping", timeout=2).status_code == 200


@pytest.mark.parametrize("name", RAW)
def test_a_hostile_request_on_the_wire_is_answered_or_refused_and_the_server_keeps_serving(server, name):
    request, allowed = RAW[name]

    assert statuses(server, request) in allowed
    assert_still_serving(server)


# A client that stops sending and half-closes: the server answers or closes at once, not at a timeout.
CUT_SHORT = {
    "a body shorter than its Content-Length": HEAD + b"Content-Length: 8000\r\n\r\n" + LINE[:100],
    "chunks without the last chunk": chunked(b"1f40\r\n" + LINE + b"\r\n", end=b""),
    "headers without their blank line": HEAD,
    "a request line only": b"POST /invocations HTTP/1.1\r\n",
}


@pytest.mark.parametrize("name", CUT_SHORT)
def test_a_request_cut_short_by_the_client_is_closed_at_once_and_the_server_keeps_serving(server, name):
    assert statuses(server, CUT_SHORT[name], half_close=True) in {(), (400,)}
    assert_still_serving(server)


def rows(*values: str, width: int = 2000) -> bytes:
    return "".join(",".join([value] * width) + "\n" for value in values).encode()


def instances(value: object) -> bytes:
    return json.dumps({"instances": value}).encode()


CSV = "text/csv"
JSON = "application/json"
ONE = [[1.5] * 2000]
# Bodies as a client sends them: the Content-Type, the body, and what serving must answer: a status
# and, for 200, how many recordings the answer holds. Training's reader decides what a number is.
BODIES = {
    "Content-Type in capitals": ("TEXT/CSV", LINE, 200, 1),
    "a charset parameter": ("text/csv; charset=utf-8", LINE, 200, 1),
    "a header=absent parameter": ("text/csv; header=absent", LINE, 200, 1),
    "a Content-Type of punctuation": (";;;", LINE, 415, 0),
    "a Content-Type of another family": ("image/png", LINE, 415, 0),
    "a Content-Type that only starts like CSV": ("text/csvx", LINE, 415, 0),
    "a header row of names": (CSV, ",".join(f"s{i}" for i in range(2000)).encode() + b"\n" + LINE, 400, 0),
    "CRLF line ends": (CSV, LINE.replace(b"\n", b"\r\n") * 2, 200, 2),
    "a trailing comma": (CSV, ROW.encode() + b",\n", 400, 0),
    "a leading comma": (CSV, b"," + LINE, 400, 0),
    "tabs between values": (CSV, LINE.replace(b",", b"\t"), 400, 0),
    "semicolons between values": (CSV, LINE.replace(b",", b";"), 400, 0),
    "exponents": (CSV, rows("1.5e-3", "-2E+1"), 200, 2),
    "a plus sign": (CSV, rows("+1.5"), 200, 1),
    "hexadecimal floats": (CSV, rows("0x1p-3"), 400, 0),
    "inf": (CSV, rows("inf"), 400, 0),
    "-Infinity": (CSV, rows("-Infinity"), 400, 0),
    "a value beyond float32": (CSV, rows("1e39"), 400, 0),
    "a value beyond float64": (CSV, rows("1e400"), 400, 0),
    "a value below float32's smallest": (CSV, rows("1e-400"), 200, 1),
    "a NaN in one row of three": (CSV, rows("1", "nan", "2"), 400, 0),
    "one value too many": (CSV, rows("1.5", width=2001), 400, 0),
    "one value too few": (CSV, rows("1.5", width=1999), 400, 0),
    "a row of the width of another model": (CSV, rows("1.5", width=256), 400, 0),
    "rows of two widths": (CSV, rows("1.5") + rows("1.5", width=1000), 400, 0),
    "quoted values": (CSV, rows('"1.5"'), 400, 0),
    "a comment line": (CSV, b"# a note from the client\n" + LINE, 200, 1),
    "a line of commas only": (CSV, b"," * 1999 + b"\n", 400, 0),
    "empty values": (CSV, rows(""), 400, 0),
    "a NUL between values": (CSV, ROW.replace(",", ",\x00", 1).encode() + b"\n", 400, 0),
    "UTF-16": (CSV, LINE.decode().encode("utf-16"), 400, 0),
    "a byte-order mark, as training reads it": (CSV, "\ufeff".encode() + LINE, 200, 1),
    "a form feed before a row, space to training": (CSV, LINE + b"\x0c" + LINE, 200, 2),
    "a line separator character": (CSV, (ROW + "\u2028" + ROW + "\n").encode(), 400, 0),
    "a decimal comma": (CSV, rows("1,5", width=1000), 200, 1),
    "a decimal comma making the row too wide": (CSV, rows("1,5"), 400, 0),
    "two hundred rows": (CSV, LINE * 200, 200, 200),
    "a gzip body": (CSV, gzip.compress(LINE), 400, 0),
    "a CSV body sent as JSON": (JSON, LINE, 400, 0),
    "a JSON body sent as CSV": (CSV, instances(ONE), 400, 0),
    "no instances": (JSON, instances([]), 400, 0),
    "instances null": (JSON, instances(None), 400, 0),
    "instances an object": (JSON, instances({"a": 1}), 400, 0),
    "an empty instance": (JSON, instances([[]]), 400, 0),
    "a bare number": (JSON, b"5", 400, 0),
    "a bare string": (JSON, b'"1.5"', 400, 0),
    "null": (JSON, b"null", 400, 0),
    "an empty object": (JSON, b"{}", 400, 0),
    "NaN as a JSON literal": (JSON, b'{"instances": [[NaN' + b", 1.5" * 1999 + b"]]}", 400, 0),
    "Infinity as a JSON literal": (JSON, b'{"instances": [[Infinity' + b", 1.5" * 1999 + b"]]}", 400, 0),
    "a JSON number beyond float64": (JSON, b'{"instances": [[1e999' + b", 1.5" * 1999 + b"]]}", 400, 0),
    "an integer of 400 digits": (JSON, b'{"instances": [[1' + b"0" * 400 + b", 1.5" * 1999 + b"]]}", 400, 0),
    "a long mantissa": (JSON, b'{"instances": [[1.' + b"0" * 400 + b"1" + b", 1.5" * 1999 + b"]]}", 200, 1),
    "integers": (JSON, instances([[1] * 2000]), 200, 1),
    "negative zeros": (JSON, instances([[-0.0] * 2000]), 200, 1),
    "four channels of 500": (JSON, instances([[[1.5] * 500] * 4]), 200, 1),
    "four channels of 501": (JSON, instances([[[1.5] * 501] * 4]), 400, 0),
    "five channels of 400": (JSON, instances([[[1.5] * 400] * 5]), 400, 0),
    "channels of unequal length": (JSON, instances([[[1.5] * 400, [1.5] * 600, *[[1.5] * 500] * 2]]), 400, 0),
    "a third level of nesting": (JSON, instances([[[[1.5] * 500] * 4]]), 400, 0),
    "a recording as one string": (JSON, instances([ROW]), 400, 0),
    "a recording as an object": (JSON, instances([{"features": ONE[0]}]), 400, 0),
    "a list and a string": (JSON, instances([ONE[0], "x"]), 400, 0),
    "keys beside instances": (JSON, json.dumps({"instances": ONE, "note": "hi"}).encode(), 200, 1),
    "instances twice, the second kept": (
        JSON,
        b'{"instances": 5, "instances": ' + instances(ONE)[14:],
        200,
        1,
    ),
    "a byte-order mark before JSON": (JSON, "\ufeff".encode() + instances(ONE), 200, 1),
    "text after the JSON": (JSON, instances(ONE) + b" trailing", 400, 0),
    "nesting in a key nobody reads": (
        JSON,
        b'{"instances": [], "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        400,
        0,
    ),
    "a lone surrogate in a key nobody reads": (
        JSON,
        b'{"note": "\\ud800", "instances": ' + instances(ONE)[14:],
        200,
        1,
    ),
    "a JSON body of UTF-16": (JSON, instances(ONE).decode().encode("utf-16"), 400, 0),
    "two hundred instances": (JSON, instances(ONE * 200), 200, 200),
    # a second pass
    "an .npy of no recordings": ("application/x-npy", npy(np.zeros((0, 2000), np.float32)), 400, 0),
    "an .npy of no recordings in channels": ("application/x-npy", npy(np.zeros((0, 4, 500))), 400, 0),
    "an .npy of float16": ("application/x-npy", npy(np.full((2, 2000), 1.5, np.float16)), 200, 2),
    "a big-endian .npy": ("application/x-npy", npy(np.full((2, 2000), 1.5, ">f8")), 200, 2),
    "a Fortran-order .npy": ("application/x-npy", npy(np.asfortranarray(np.full((3, 2000), 1.5))), 200, 3),
    "a 0-d .npy": ("application/x-npy", npy(np.float32(1.5)), 400, 0),
    "JSON Lines with CRLF": ("application/jsonlines", (json.dumps(ONE[0]) + "\r\n").encode() * 2, 200, 2),
}


@pytest.mark.parametrize("name", BODIES)
def test_a_hostile_body_is_read_as_training_reads_numbers_or_refused_with_a_4xx(server, name):
    content_type, body, status, count = BODIES[name]

    answer = server.post(body, content_type)

    assert answer.status_code == status, answer.text[:300]
    if status == 200:
        assert len(answer.json()["predictions"]) == count
    else:
        assert answer.json()["error"] and "\n" not in answer.json()["error"]
    assert_still_serving(server)


# Accept headers as clients write them, and the answer's type (None: refused with that status).
ACCEPTS = {
    "a charset parameter": ("application/json; charset=utf-8", 200, "application/json"),
    "a q of three decimals": ("text/csv;q=1.000", 200, "text/csv"),
    "a q of four decimals": ("text/csv;q=1.0000", 200, "text/csv"),
    "a q above 1": ("text/csv;q=2", 400, None),
    "a negative q": ("text/csv;q=-0.5", 400, None),
    "equal qs": ("text/csv;q=0.5, application/json;q=0.5", 200, "application/json"),
    "everything refused": ("*/*;q=0", 406, None),
    "three hundred types": (", ".join(f"type/{i}" for i in range(300)) + ", text/csv;q=0.1", 200, "text/csv"),
    "a star subtype of another family": ("image/*", 406, None),
    "an empty element": ("text/csv,,", 200, "text/csv"),
    "a bare star": ("*", 406, None),
    "a comma only": (",", 200, "application/json"),
    "a wildcard type with a real subtype": ("*/csv", 406, None),
    "q on the wildcard only": ("application/json;q=0.1, */*;q=0.9", 200, "text/csv"),
}


@pytest.mark.parametrize("name", ACCEPTS)
def test_a_hostile_accept_header_is_honoured_or_refused_with_a_4xx(server, name):
    accept, status, kind = ACCEPTS[name]

    answer = server.post(LINE, CSV, Accept=accept)

    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["Content-Type"] == (kind or "application/json")
    assert_still_serving(server)
