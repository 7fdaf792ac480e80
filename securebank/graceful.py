"""Graceful stop for the platform's HTTP servers (the ingest API and the model server).

On SIGTERM (what ECS, Kubernetes, systemd and `securebank stack stop` send) a server stops
accepting connections, lets the requests in flight finish and answer, tells keep-alive clients
`Connection: close`, closes idle connections, and exits. A request is never cut half-way: a
transaction that was answered 202 was put on the stream, and one that was not answered can be
retried.

`DrainingServer` goes first in the bases of a `socketserver`-based HTTP server, `DrainingHandler`
first in its handler's bases; `serve_until_terminated` runs the server in the foreground.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
import time
from typing import Any

#: How long a stop waits for requests in flight before closing their connections anyway.
DRAIN_SECONDS = 20.0


class DrainingServer:
    """Counts requests in flight and open connections, so that `drain` can wait for the first
    and close the second."""

    draining = False

    def _drain_state(self) -> tuple[threading.Condition, set[socket.socket], list[int]]:
        state = self.__dict__.get("_drain")
        if state is None:
            state = self.__dict__.setdefault("_drain", (threading.Condition(), set(), [0]))
        return state

    def connection_opened(self, sock: socket.socket) -> None:
        condition, sockets, _ = self._drain_state()
        with condition:
            sockets.add(sock)

    def connection_closed(self, sock: socket.socket) -> None:
        condition, sockets, _ = self._drain_state()
        with condition:
            sockets.discard(sock)

    def request_started(self) -> None:
        condition, _, in_flight = self._drain_state()
        with condition:
            in_flight[0] += 1

    def request_finished(self) -> None:
        condition, _, in_flight = self._drain_state()
        with condition:
            in_flight[0] -= 1
            condition.notify_all()

    @property
    def requests_in_flight(self) -> int:
        return self._drain_state()[2][0]

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connection_opened(request)
        super().process_request(request, client_address)  # type: ignore[misc]

    def shutdown_request(self, request: Any) -> None:
        self.connection_closed(request)
        super().shutdown_request(request)  # type: ignore[misc]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connections closed by the drain itself are not errors worth a traceback."""
        if self.draining and isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)  # type: ignore[misc]

    def drain(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Stop accepting, wait for requests in flight (up to `timeout`), close connections.

        Call it from another thread than the one in `serve_forever`. True when every request in
        flight finished in time."""
        self.draining = True
        self.shutdown()  # type: ignore[attr-defined]
        condition, sockets, in_flight = self._drain_state()
        deadline = time.monotonic() + timeout
        with condition:
            while in_flight[0] > 0 and time.monotonic() < deadline:
                condition.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            finished = in_flight[0] == 0
            idle = list(sockets)
        for sock in idle:  # keep-alive connections waiting for a next request that never comes
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.server_close()  # type: ignore[attr-defined]
        return finished


class DrainingHandler:
    """Marks each request in flight, and answers `Connection: close` once the server drains."""

    server: Any
    close_connection: bool
    _counted = False

    def parse_request(self) -> bool:
        # Called once a request line has arrived: from here the request is in flight.
        self.server.request_started()
        self._counted = True
        ok = super().parse_request()  # type: ignore[misc]
        if self.server.draining:
            self.close_connection = True
        return ok

    def end_headers(self) -> None:
        if self.server.draining:
            self.send_header("Connection", "close")  # type: ignore[attr-defined]
            self.close_connection = True
        super().end_headers()  # type: ignore[misc]

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()  # type: ignore[misc]
        finally:
            if self._counted:
                self._counted = False
                self.server.request_finished()


def serve_until_terminated(server: Any, drain_seconds: float = DRAIN_SECONDS) -> bool:
    """Serve in the foreground until SIGTERM or Ctrl-C, then drain. Call from the main thread.

    Returns True when every request in flight finished within `drain_seconds`."""
    stop = threading.Event()
    result: list[bool] = []

    def on_signal(signum: int, frame: Any) -> None:
        if not stop.is_set():
            stop.set()
            threading.Thread(
                target=lambda: result.append(server.drain(drain_seconds)), daemon=True
            ).start()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.serve_forever()
        stop.wait()
        while not result:
            time.sleep(0.05)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return result[0]
