"""Reads whole HTTP requests off many connections with one thread, before any worker sees them.

A thread-per-connection server lets a slow client hold a worker for as long as it trickles its
headers or body (slowloris). Here one thread waits on every connection at once (a selector):
it collects each request's head and, when its Content-Length is within bounds, its body, and hands
only complete requests to the worker pool. A connection that does not complete its request within
the read deadline is closed, whatever it sends meanwhile. After a worker answers, a keep-alive
connection comes back here to wait for its next request, so idle connections hold no worker
either. Memory is bounded: at most `max_buffered_bytes` of partial requests, and beyond it the
connection that would exceed it is refused.
"""

from __future__ import annotations

import contextlib
import json
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Longest request head (request line and headers) accepted.
MAX_HEAD_BYTES = 64 * 1024
_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\S*)[ \t]*\r?$", re.I | re.M)
_CHUNKED = re.compile(rb"^transfer-encoding[ \t]*:", re.I | re.M)
_EXPECT_CONTINUE = re.compile(rb"^expect[ \t]*:[ \t]*100-continue", re.I | re.M)


@dataclass
class _Partial:
    deadline: float
    data: bytearray = field(default_factory=bytearray)
    need: int | None = None  # total bytes of the request, once its head has arrived


class RequestReader:
    """`add(sock)` a connection; `hand(sock, request_bytes)` is called with each complete request
    (from the reader thread), `close(sock)` when a connection is given up."""

    def __init__(
        self,
        hand: Callable[[socket.socket, bytes], None],
        close: Callable[[socket.socket], None],
        read_timeout: float,
        max_body_bytes: int,
        max_buffered_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        self.hand, self.close = hand, close
        self.read_timeout, self.max_body = read_timeout, max_body_bytes
        self.max_buffered = max_buffered_bytes
        self.buffered = 0
        self.timed_out = 0
        self._selector = selectors.DefaultSelector()
        self._partials: dict[socket.socket, _Partial] = {}
        self._incoming: list[tuple[socket.socket, bytes]] = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="ingest-reader", daemon=True)
        self._thread.start()

    def add(self, sock: socket.socket, pending: bytes = b"") -> None:
        """Wait for the next request on `sock`; `pending` holds bytes already received for it."""
        with self._lock:
            self._incoming.append((sock, pending))
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def stop(self) -> None:
        self._stopped = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    @property
    def connections(self) -> int:
        return len(self._partials)

    def _run(self) -> None:
        while not self._stopped:
            events = self._selector.select(timeout=min(0.25, self.read_timeout / 4))
            for key, _ in events:
                sock = key.fileobj
                if sock is self._wake_r:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                else:
                    self._receive(sock)  # type: ignore[arg-type]
            self._take_incoming()
            self._expire()
        for sock in list(self._partials):
            self._give_up(sock)

    def _take_incoming(self) -> None:
        with self._lock:
            incoming, self._incoming = self._incoming, []
        for sock, pending in incoming:
            partial = _Partial(deadline=time.monotonic() + self.read_timeout)
            self._partials[sock] = partial
            try:
                sock.setblocking(False)
                self._selector.register(sock, selectors.EVENT_READ)
            except (OSError, ValueError):
                self._give_up(sock)
                continue
            if pending:
                self._append(sock, partial, pending)

    def _receive(self, sock: socket.socket) -> None:
        partial = self._partials.get(sock)
        if partial is None:
            return
        try:
            chunk = sock.recv(256 * 1024)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._give_up(sock)
            return
        self._append(sock, partial, chunk)

    def _append(self, sock: socket.socket, partial: _Partial, chunk: bytes) -> None:
        if self.buffered + len(chunk) > self.max_buffered:
            self._give_up(sock)  # memory bound: the client retries later
            return
        partial.data += chunk
        self.buffered += len(chunk)
        if partial.need is None:
            end = partial.data.find(b"\r\n\r\n")
            if end < 0:
                if len(partial.data) > MAX_HEAD_BYTES:
                    self._forget(sock, partial)
                    answer_and_close(sock, 431, "request head too large", self.close)
                return
            head = bytes(partial.data[: end + 4])
            body = self._body_length(head)
            partial.need = end + 4 + body
            partial.deadline = time.monotonic() + self.read_timeout  # again, for the body
            if body and _EXPECT_CONTINUE.search(head):
                # curl and others wait for this before sending a body over 1 KB.
                with contextlib.suppress(OSError):
                    sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        if len(partial.data) >= partial.need:
            self._complete(sock, partial)

    def _body_length(self, head: bytes) -> int:
        """Bytes of body to wait for: none when the worker will refuse the request unread
        (no or bad Content-Length, chunked, over the limit)."""
        if _CHUNKED.search(head):
            return 0
        match = _LENGTH.search(head)
        if match is None:
            return 0
        length = content_length(match.group(1))
        return 0 if length is None or length > self.max_body else length

    def _complete(self, sock: socket.socket, partial: _Partial) -> None:
        """Hand the request over (with any pipelined bytes after it: the handler keeps them)."""
        self._forget(sock, partial)
        self.hand(sock, bytes(partial.data))

    def _forget(self, sock: socket.socket, partial: _Partial) -> None:
        self._partials.pop(sock, None)
        self.buffered -= len(partial.data)
        with contextlib.suppress(OSError, ValueError, KeyError):
            self._selector.unregister(sock)
        with contextlib.suppress(OSError):
            sock.setblocking(True)

    def _give_up(self, sock: socket.socket) -> None:
        partial = self._partials.get(sock)
        if partial is not None:
            self._forget(sock, partial)
        self.close(sock)

    def _expire(self) -> None:
        now = time.monotonic()
        for sock, partial in list(self._partials.items()):
            if partial.deadline < now:
                self.timed_out += 1
                self._give_up(sock)


def content_length(value: str | bytes | None) -> int | None:
    """The body length a Content-Length value frames, or None when it is malformed.

    Only plain ASCII decimal digits (at most 12) frame a body: `+5`, `1_0`, `-1`, `5 5`, `abc`
    or a Latin-1 digit such as `²` (byte 0xB2) are malformed, although Python's `int()` or
    `str.isdigit()` take some of them. The reader (`_body_length`) and every route that reads a
    body (ingest/server.py, cases/http.py) judge a length here, so a body the reader did not wait
    for is never read by a route. An absent header (None) frames an empty body."""
    if value is None:
        return 0
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip(" \t")
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        return None
    return int(text)


def refuse_framing(
    headers: Any, max_body_bytes: int, *, length_required: bool = False
) -> tuple[int, str] | None:
    """(status, message) for a POST whose body a route must refuse unread, or None to read it.

    Chunked (any Transfer-Encoding), or no Content-Length when `length_required`: 411; a
    malformed Content-Length (see `content_length`): 400; over `max_body_bytes`: 413. The reader
    did not wait for such a body, so the route answers, then closes the connection: otherwise the
    body's bytes would be taken for the connection's next request."""
    if headers.get("Transfer-Encoding") or (
        length_required and headers.get("Content-Length") is None
    ):
        return 411, "Content-Length is required (no chunked bodies)"
    length = content_length(headers.get("Content-Length"))
    if length is None:
        return 400, "Content-Length must be a decimal number of bytes"
    if length > max_body_bytes:
        return 413, f"body must be at most {max_body_bytes} bytes"
    return None


def answer_and_close(
    sock: socket.socket, status: int, message: str, close: Callable[[socket.socket], None]
) -> None:
    """A short JSON answer sent without waiting on the client (best effort), then close."""
    reasons = {431: "Request Header Fields Too Large", 503: "Service Unavailable"}
    body = json.dumps({"message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reasons.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
        f"Retry-After: 1\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        sock.settimeout(0.2)
        sock.sendall(head.encode() + body)
    close(sock)
