"""gunicorn's gthread worker, but a request reaches a thread only once it has arrived whole.

gthread gives a connection a thread as soon as its first bytes arrive, and the thread then
reads the rest of the request. A client that sends half its headers and stops, or trickles
a line every few seconds, keeps that thread, and a few such clients hold every thread:
/ping and every invocation wait behind them. Here the worker's own event loop (the one that
accepts connections) reads each request, headers and body, without blocking; only a whole
request goes to a thread. A client gets HEADERS_SECONDS for its headers and
REQUEST_SECONDS for the whole request, then a 408 and the connection closed. A slow
client costs a file descriptor, never a thread.

A body over the payload limit goes to a thread once the limit is passed (the app answers
413, reading the rest away first); reads and writes on a thread's socket time out after
SOCKET_SECONDS, so a client that stalls there frees its thread too.
"""

from __future__ import annotations

import contextlib
import re
import selectors
import socket
import struct
import time
from collections import deque
from functools import partial
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

HEADERS_SECONDS = 10
REQUEST_SECONDS = 60  # SageMaker gives an invocation 60 s in all
SOCKET_SECONDS = 10
MAX_HEADER_BYTES = 64 * 1024  # past this gunicorn's parser refuses the headers itself
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)[ \t]*\r\n", re.IGNORECASE)
CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r\n]*chunked", re.IGNORECASE)
EXPECT_CONTINUE = re.compile(rb"\r\nexpect:[ \t]*100-continue[ \t]*(?=\r\n)", re.IGNORECASE)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def arrived_whole(data: bytes | bytearray, body_limit: int) -> bool:
    """Whether data holds a whole request (or enough that a thread will not wait on the
    client: headers too long, a body past the limit, a length the parser will refuse)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) > MAX_HEADER_BYTES
    head, body = b"\r\n" + bytes(data[:end]) + b"\r\n", len(data) - end - 4
    if body > body_limit:
        return True
    if CHUNKED.search(head):
        return data.endswith(b"\r\n0\r\n\r\n") or data[end + 4 :].startswith(b"0\r\n\r\n")
    lengths = CONTENT_LENGTH.findall(head)
    return body >= (int(lengths[0]) if len(lengths) == 1 else 0)


def answered_continue(conn: Any) -> bool:
    """Sends 100 Continue when the headers ask for it: a client may wait for it before
    sending the body, and here the thread that would send it waits for the body."""
    end = conn.arrived.find(b"\r\n\r\n")
    if end < 0 or not EXPECT_CONTINUE.search(b"\r\n" + bytes(conn.arrived[:end]) + b"\r\n"):
        return False
    with contextlib.suppress(OSError):
        conn.sock.send(CONTINUE)
    return True


class WholeRequestWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    body_limit = 6 * 1024 * 1024  # server.py sets the payload limit it was given

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arriving: deque[Any] = deque()

    def enqueue_req(self, conn: Any) -> None:
        """Called for a new connection and for each request on a kept-alive one."""
        arrived = bytearray()
        if conn.parser is not None:  # bytes the last request's reads took from the next one
            arrived += conn.parser.unreader.buf.getvalue()
            conn.parser.unreader.buf.seek(0)
            conn.parser.unreader.buf.truncate()
        if arrived and arrived_whole(arrived, self.body_limit):
            self.dispatch(conn, arrived)
            return
        conn.sock.setblocking(False)
        conn.arrived = arrived
        now = time.monotonic()
        conn.headers_by, conn.timeout = now + HEADERS_SECONDS, now + REQUEST_SECONDS
        self.arriving.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_request_bytes, conn))

    def on_request_bytes(self, conn: Any, client: Any) -> None:
        try:
            chunk = conn.sock.recv(2**16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client closed its side
            self.drop(conn)
            return
        conn.arrived += chunk
        if arrived_whole(conn.arrived, self.body_limit):
            self.poller.unregister(conn.sock)
            self.arriving.remove(conn)
            self.dispatch(conn, conn.arrived)
        elif not getattr(conn, "continued", False) and answered_continue(conn):
            conn.continued = True

    def dispatch(self, conn: Any, arrived: bytearray) -> None:
        if getattr(conn, "continued", False):  # answered here: the thread must not answer it again
            end = arrived.find(b"\r\n\r\n") + 2  # the header lines, each with its line break
            arrived = bytearray(EXPECT_CONTINUE.sub(b"", bytes(arrived[:end])) + arrived[end:])
            conn.continued = False
        conn.init()
        conn.parser.unreader.unread(bytes(arrived))
        conn.data_ready = True  # gthread's own wait for the first bytes is over
        # A thread's reads and writes give up after SOCKET_SECONDS of silence (the rest of
        # an oversized body, a client that does not read its answer).
        timeout = struct.pack("ll", SOCKET_SECONDS, 0)
        for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
            conn.sock.setsockopt(socket.SOL_SOCKET, option, timeout)
        super().enqueue_req(conn)

    def murder_pending(self) -> None:
        """Runs about once a second: also closes requests that are arriving too slowly."""
        super().murder_pending()
        now = time.monotonic()
        for conn in list(self.arriving):
            headers_late = now > conn.headers_by and b"\r\n\r\n" not in conn.arrived
            if headers_late or now > conn.timeout:
                with contextlib.suppress(OSError):
                    conn.sock.send(TIMED_OUT)
                self.drop(conn)

    def drop(self, conn: Any) -> None:
        if conn in self.arriving:
            self.arriving.remove(conn)
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()
