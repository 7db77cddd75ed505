"""serve under clients that send slowly, in pieces, or too much: the worker holds them apart."""

from __future__ import annotations

import socket

import pytest
import requests

from container.serving import worker
from local_server import (
    ROW,
    Server,
    csv_rows,
    half_sent_requests,
    raw_exchange,
)


def pings_while_open(server: Server, clients: list[socket.socket]) -> list[int]:
    """The statuses of three pings, each given 2 s, while clients hold their connections; then
    closes them."""
    try:
        return [requests.get(f"{server.url}/ping", timeout=2).status_code for _ in range(3)]
    finally:
        for client in clients:
            client.close()


def test_ping_answers_within_2_s_while_eight_times_the_request_slots_hold_half_sent_headers(server):
    clients = half_sent_requests(server, 32)  # the server has 1 worker x 4 threads
    assert pings_while_open(server, clients) == [200, 200, 200]


def test_a_client_too_slow_to_send_its_headers_gets_a_408_and_is_closed(server):
    (client,) = half_sent_requests(server, 1)
    try:
        client.settimeout(worker.HEADERS_SECONDS + 10)
        answer = client.recv(4096)
        closed = client.recv(4096)
    finally:
        client.close()

    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and closed == b""


def test_requests_on_one_kept_alive_connection_are_each_answered(server, sample_data):
    with requests.Session() as session:
        answers = [
            session.post(
                f"{server.url}/invocations",
                data=csv_rows(sample_data["x_test"][:2]),
                headers={"Content-Type": "text/csv", "Accept": "text/csv"},
                timeout=30,
            )
            for _ in range(3)
        ]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert len({answer.text for answer in answers}) == 1


CHUNKED_HEAD = b"POST /invocations HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    ("data", "state"),
    [
        (b"GET /ping HTTP/1.1\r\nHost: x\r\n", worker.MORE),
        (b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", worker.WHOLE),
        (b"POST /invocations HTTP/1.1\r\nContent-Length: 4\r\n\r\n1,2", worker.MORE),
        (b"POST /invocations HTTP/1.1\r\nContent-Length: 4\r\n\r\n1,2\n", worker.WHOLE),
        (CHUNKED_HEAD + b"4\r\n1,2\n\r\n", worker.MORE),
        (CHUNKED_HEAD + b"4\r\n1,2\n\r\n0\r\n\r\n", worker.WHOLE),
        (CHUNKED_HEAD + b"4;name=value\r\n1,2\n\r\n000;x=1\r\n\r\n", worker.WHOLE),  # extensions
        (CHUNKED_HEAD + b"4\r\n1,2\n\r\n0\r\nChecksum: 1\r\n\r\n", worker.WHOLE),  # a trailer
        (CHUNKED_HEAD + b"40\r\nabc\r\n0\r\n\r\n", worker.MORE),  # the last chunk's bytes inside data
        (CHUNKED_HEAD + b"zz\r\n", worker.WHOLE),  # the parser answers 400
        (b"POST /invocations HTTP/1.1\r\nContent-Length: 101\r\n\r\n", worker.WHOLE),  # 413 at once
        (b"POST /invocations HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", worker.WHOLE),
        (b"GET /" + b"x" * (worker.MAX_HEADER_BYTES + 1), worker.TOO_LARGE),
        (b"POST /invocations HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", worker.WHOLE),  # 501
        (b"POST /invocations HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", worker.WHOLE),
        (CHUNKED_HEAD + b"7fffffff\r\n", worker.WHOLE),  # past the limit: read and drained by the app
        (b"GET /ping HTTP/1.1\nHost: x\n\n", worker.WHOLE),  # bare line feeds: the parser's to judge
        (b"\x16\x03\x01\x02\x00", worker.WHOLE),  # a TLS handshake: not HTTP, refused at once
        # leading zeros count for nothing: the body is still awaited here, not in a thread
        (b"POST /invocations HTTP/1.1\r\nContent-Length: 0000000000000000004\r\n\r\n1,", worker.MORE),
        (CHUNKED_HEAD + b"00000000000000004\r\n1,", worker.MORE),
    ],
)
def test_a_request_goes_to_a_thread_once_it_has_arrived_whole_or_cannot_be_whole(data, state):
    assert worker.Arrival(body_limit=100, data=data).state() == state


def test_a_chunk_size_line_past_4096_bytes_is_refused_before_any_thread_reads_it():
    arrival = worker.Arrival(body_limit=2**20, data=CHUNKED_HEAD + b"4;" + b"x" * worker.MAX_CHUNK_LINE)

    assert arrival.state() == worker.MALFORMED


def test_a_request_arriving_a_byte_at_a_time_is_whole_only_at_its_last_byte():
    request = CHUNKED_HEAD + b"4\r\n1,2\n\r\n3\r\n3,4\r\n0\r\n\r\n"
    arrival = worker.Arrival(body_limit=100)
    states = []
    for byte in request:
        arrival.data.append(byte)
        states.append(arrival.state())

    assert states == [worker.MORE] * (len(request) - 1) + [worker.WHOLE]


def test_a_client_that_waits_for_100_continue_gets_it_and_then_its_answer(server):
    host, port = server.url.removeprefix("http://").split(":")
    body = (ROW + "\n").encode()
    with socket.create_connection((host, int(port)), timeout=30) as client:
        client.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nAccept: text/csv\r\n"
            b"Expect: 100-continue\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        )
        interim = client.recv(4096)
        client.sendall(body)
        answer = b""
        while chunk := client.recv(4096):
            answer += chunk

    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"100 Continue" not in answer


def test_headers_past_64_kb_are_answered_431_before_any_thread_reads_them(server):
    answer = raw_exchange(server, b"GET /ping HTTP/1.1\r\nX-Padding: " + b"x" * (worker.MAX_HEADER_BYTES + 1))

    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_content_length_of_5000_digits_is_refused_and_the_worker_keeps_serving(server):
    answer = raw_exchange(
        server, b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n"
    )

    assert answer.startswith(b"HTTP/1.1 400 ")
    assert requests.get(f"{server.url}/ping", timeout=2).status_code == 200


def test_ping_answers_while_clients_trickle_bodies_behind_zero_padded_lengths(server):
    host, port = server.url.removeprefix("http://").split(":")
    clients = []
    for head in (
        b"Content-Length: 0000000000000008000\r\n\r\n",
        b"Transfer-Encoding: chunked\r\n\r\n00000000000001f40\r\n",
    ):
        for _ in range(8):  # twice the server's request slots, each way
            client = socket.create_connection((host, int(port)), timeout=30)
            client.sendall(
                b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n" + head + b"1"
            )
            clients.append(client)
    assert pings_while_open(server, clients) == [200, 200, 200]
