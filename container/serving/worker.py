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
MAX_HEADER_BYTES = 64 * 1024  # headers longer are answered 431 here, before any thread
MAX_CHUNK_LINE = 4096
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)[ \t]*\r\n", re.IGNORECASE)
MAX_LENGTH_DIGITS = 18  # past it (leading zeros aside) a length is over any limit
TRANSFER_ENCODING = re.compile(rb"\r\ntransfer-encoding:([^\r\n]*)", re.IGNORECASE)
MAX_CHUNK_SIZE_DIGITS = 16
# What a request line and header lines may hold: visible ASCII, spaces, tabs and line ends.
# Anything else (a TLS handshake, binary) is not HTTP: the parser refuses it at once.
NOT_HTTP = re.compile(rb"[^\x20-\x7e\t\r\n]")
EXPECT_CONTINUE = re.compile(rb"\r\nexpect:[ \t]*100-continue[ \t]*(?=\r\n)", re.IGNORECASE)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
HEADERS_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
)
MALFORMED_CHUNK = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
WHOLE, MORE, TOO_LARGE, MALFORMED = "whole", "more", "headers too large", "malformed chunk"


class Arrival:
    """The bytes of one request as they arrive, and whether it has all arrived: its
    headers, then a Content-Length body or chunks up to the last. A request that is
    whole or cannot become whole (a body past the limit, framing the parser will refuse)
    goes to a thread; headers past MAX_HEADER_BYTES, and a chunk size line past
    MAX_CHUNK_LINE, are refused here."""

    def __init__(self, body_limit: int, data: bytes = b"") -> None:
        self.data = bytearray(data)
        self.body_limit = body_limit
        self.body_start: int | None = None
        self.length = 0  # the Content-Length, when not chunked
        self.chunked = False
        self.scan = 0  # where the next chunk's size line starts
        self.expects_continue = False

    def state(self) -> str:
        if self.body_start is None:
            end = self.data.find(b"\r\n\r\n")
            line_end, bare_end = self.data.find(b"\n"), self.data.find(b"\n\n")
            first_line = self.data if line_end < 0 else self.data[:line_end]
            if NOT_HTTP.search(first_line) or (bare_end >= 0 and (end < 0 or bare_end < end)):
                return WHOLE  # not HTTP, or bare line feeds: the parser answers, not a timeout
            if end < 0 or end > MAX_HEADER_BYTES:
                return TOO_LARGE if max(end, len(self.data)) > MAX_HEADER_BYTES else MORE
            head = b"\r\n" + bytes(self.data[:end]) + b"\r\n"
            self.body_start = self.scan = end + 4
            encodings = TRANSFER_ENCODING.findall(head)
            self.chunked = (
                bool(encodings) and b",".join(encodings).lower().split(b",")[-1].strip() == b"chunked"
            )
            if encodings and not self.chunked:
                return WHOLE  # a coding the parser refuses
            lengths = CONTENT_LENGTH.findall(head)
            self.length = length(lengths[0], self.body_limit) if len(lengths) == 1 and not self.chunked else 0
            request_line = head[2 : head.find(b"\r\n", 2)]
            self.expects_continue = bool(EXPECT_CONTINUE.search(head)) and not request_line.endswith(b"/1.0")
            if self.length > self.body_limit:
                return WHOLE  # answered 413 at once
        body = len(self.data) - self.body_start
        if body > self.body_limit:
            return WHOLE
        if not self.chunked:
            return WHOLE if body >= self.length else MORE
        return self._last_chunk()

    def _last_chunk(self) -> str:
        while True:
            line_end = self.data.find(b"\r\n", self.scan, self.scan + MAX_CHUNK_LINE)
            if line_end < 0:  # a size line no parser needs: refused here, not read by a thread
                return MALFORMED if len(self.data) - self.scan > MAX_CHUNK_LINE else MORE
            size_text = bytes(self.data[self.scan : line_end]).split(b";")[0].strip()
            if len(size_text.lstrip(b"0")) > MAX_CHUNK_SIZE_DIGITS:
                return WHOLE  # past any limit: the app answers 413
            try:
                size = int(size_text, 16)
            except ValueError:
                return WHOLE  # the parser answers 400
            if size > self.body_limit:
                return WHOLE  # past the limit: the app answers 413
            if size == 0:  # the last chunk, then trailers, if any, and an empty line
                return WHOLE if self.data.find(b"\r\n\r\n", line_end) >= 0 else MORE
            following = line_end + 2 + size + 2
            if len(self.data) < following:
                return MORE
            self.scan = following

    def without_expect(self) -> bytes:
        """The request as it arrived, less its Expect header (100 Continue was sent here)."""
        end = self.data.find(b"\r\n\r\n") + 2  # the header lines, each with its line break
        return EXPECT_CONTINUE.sub(b"", bytes(self.data[:end])) + bytes(self.data[end:])


def length(digits: bytes, limit: int) -> int:
    """A Content-Length's value; one of more digits than any body has reads as past limit
    (int() would refuse thousands of digits, and leading zeros change nothing)."""
    significant = digits.lstrip(b"0")
    return limit + 1 if len(significant) > MAX_LENGTH_DIGITS else int(significant or b"0")


class WholeRequestWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    body_limit = 6 * 1024 * 1024  # server.py sets the payload limit it was given

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arriving: deque[Any] = deque()

    def enqueue_req(self, conn: Any) -> None:
        """Called for a new connection and for each request on a kept-alive one."""
        leftover = b""
        if conn.parser is not None:  # bytes the last request's reads took from the next one
            leftover = conn.parser.unreader.buf.getvalue()
            conn.parser.unreader.buf.seek(0)
            conn.parser.unreader.buf.truncate()
        conn.arrival, conn.continued = Arrival(self.body_limit, leftover), False
        conn.sock.setblocking(False)
        now = time.monotonic()
        conn.headers_by, conn.timeout = now + HEADERS_SECONDS, now + REQUEST_SECONDS
        self.arriving.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_request_bytes, conn))
        if leftover:
            self.advance(conn)

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
        conn.arrival.data += chunk
        self.advance(conn)

    def advance(self, conn: Any) -> None:
        """Hands the request to a thread once whole; nothing here may end the worker."""
        try:
            state = conn.arrival.state()
            if state == TOO_LARGE:
                self.drop(conn, HEADERS_TOO_LARGE)
            elif state == MALFORMED:
                self.drop(conn, MALFORMED_CHUNK)
            elif state == WHOLE:
                self.arriving.remove(conn)
                self.poller.unregister(conn.sock)
                self.dispatch(conn)
            elif conn.arrival.expects_continue and not conn.continued:
                # The client may wait for it before sending the body; the thread that would
                # send it is not given the request until the body is here.
                with contextlib.suppress(OSError):
                    conn.sock.send(CONTINUE)
                conn.continued = True
        except Exception:  # a bug here must cost one connection, not the worker
            self.log.exception("reading a request failed")
            self.drop(conn)

    def dispatch(self, conn: Any) -> None:
        # Expect was answered here, or needs no answer (the body came at once, or the app
        # refuses it): the thread must not send a 100 Continue of its own.
        arrival = conn.arrival
        arrived = arrival.without_expect() if arrival.expects_continue else bytes(arrival.data)
        conn.init()
        conn.parser.unreader.unread(arrived)
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
            headers_late = now > conn.headers_by and conn.arrival.body_start is None
            if headers_late or now > conn.timeout:
                self.drop(conn, TIMED_OUT)

    def drop(self, conn: Any, answer: bytes = b"") -> None:
        """Closes a connection whose request is still arriving, with a last answer if any."""
        if answer:
            with contextlib.suppress(OSError):
                conn.sock.send(answer)
        if conn in self.arriving:
            self.arriving.remove(conn)
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()
