"""The ingest service: the local counterpart of API Gateway → Kinesis (terraform/api.tf).

`POST /transactions` takes one transaction or `{"transactions": [...]}` (at most 500), validates
each against the contract, claims each transaction_id (idempotency.py), puts the new ones on the
stream (partition key = card_id) and answers 202 with the accepted ids, the duplicates, the
conflicts (same id, another body) and, per rejected record, its field-level reasons. `x-api-key`
authenticates (401 missing, 403 wrong or revoked), each key has a token bucket (429) whose burst is
at least one full batch. `GET /health`. Bodies, keys and card numbers are never logged: the access
log has the key's id, status and counts only.

Under abuse (docs/ingest.md has the table):

* the body's size is checked from Content-Length before a byte is read (413; 411 without a length,
  chunked bodies included; 400 for a length that is not plain decimal digits, as on the case
  routes: `reader.refuse_framing`); a wrong Content-Type is 415 before the body is read;
* JSON nested deeper than `MAX_JSON_DEPTH` is 400 before it is parsed (a linear scan, no
  recursion); duplicate field names in a record refuse that record; no string over 1024 characters
  reaches the card-number scan (the contract refuses it unread);
* one reader thread collects each request whole (head, then a body within the size limit) off
  every connection at once (reader.py), closing any that does not complete its request within the
  read deadline, so slow or idle clients hold no worker; a fixed pool of workers answers complete
  requests; up to `queue_size` more wait in line, beyond that an immediate 503 with Retry-After;
  the listen backlog is `LISTEN_BACKLOG`;
* SIGTERM drains (graceful.py): in-flight requests finish and answer, then the server exits.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import queue
import re
import socket
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from securebank.contract import FieldProblem, Rejection, parse_transaction
from securebank.graceful import DrainingHandler, DrainingServer
from securebank.ingest.idempotency import IdempotencyStore, Outcome, body_hash
from securebank.ingest.keys import ApiKey, KeyStore
from securebank.ingest.limits import TokenBucket
from securebank.ingest.reader import (
    RequestReader,
    answer_and_close,
    content_length,
    refuse_framing,
)
from securebank.pan import contains_pan

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_BATCH = 500
#: `{"transactions": [{...}]}` is depth 3; a record's values are flat.
MAX_JSON_DEPTH = 8
PUT_ATTEMPTS = 3
LISTEN_BACKLOG = 1024
#: Seconds a client has for each request's headers, and again for its body.
READ_TIMEOUT_SECONDS = 10.0
#: Bodies up to this size are read and dropped after an early error, to keep the connection.
_DRAIN_BYTES = 64 * 1024
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.S)
_INNERMOST = re.compile(rb"\[\]|\{\}")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
log = logging.getLogger("securebank.ingest")


class _BoundedPool:
    """`socketserver` mixin: one reader thread collects whole requests off every connection
    (reader.py), a fixed set of worker threads answers them, a bounded line between the two, and
    an immediate 503 beyond it."""

    workers: int = 32
    queue_size: int = 256
    read_timeout: float = READ_TIMEOUT_SECONDS
    #: Connections waiting for (the rest of) a request; beyond it new connections get 503.
    max_connections: int = 4096

    def start_workers(self) -> None:
        self._busy_lock = threading.Lock()
        self.busy_workers = self.max_busy_workers = 0
        self._addresses: dict[socket.socket, Any] = {}
        self._line: queue.Queue[Any] = queue.Queue(maxsize=self.queue_size)
        self.reader = RequestReader(self._enqueue, self._close, self.read_timeout, MAX_BODY_BYTES)
        self._threads = [
            threading.Thread(target=self._work, name=f"ingest-worker-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    def _close(self, sock: socket.socket) -> None:
        self.shutdown_request(sock)  # type: ignore[attr-defined]

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.reader.connections >= self.max_connections:
            answer_and_close(request, 503, "server busy, retry later", self._close)
            return
        self._addresses[request] = client_address
        self.reader.add(request)

    def _enqueue(self, sock: socket.socket, data: bytes) -> None:
        try:
            self._line.put_nowait((sock, data))
        except queue.Full:
            answer_and_close(sock, 503, "server busy, retry later", self._close)

    def _work(self) -> None:
        while True:
            item = self._line.get()
            if item is None:
                return
            sock, data = item
            address = self._addresses.get(sock, ("?", 0))
            with self._busy_lock:
                self.busy_workers += 1
                self.max_busy_workers = max(self.max_busy_workers, self.busy_workers)
            kept = False
            try:
                handler_class = self.RequestHandlerClass  # type: ignore[attr-defined]
                kept = handler_class((sock, data), address, self).kept
            except Exception:
                self.handle_error(sock, address)  # type: ignore[attr-defined]
            finally:
                if not kept:
                    self._close(sock)
                with self._busy_lock:
                    self.busy_workers -= 1

    def shutdown_request(self, request: Any) -> None:
        self._addresses.pop(request, None)
        super().shutdown_request(request)  # type: ignore[misc]

    @property
    def slow_clients_closed(self) -> int:
        return self.reader.timed_out

    def stop_workers(self) -> None:
        self.reader.stop()
        for _ in self._threads:
            try:
                self._line.put_nowait(None)
            except queue.Full:
                break


class IngestServer(DrainingServer, _BoundedPool, HTTPServer):
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        kinesis: Any,
        stream: str,
        keys: KeyStore,
        idempotency: IdempotencyStore,
        *,
        workers: int = 32,
        queue_size: int = 256,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        operations: Any | None = None,
    ) -> None:
        self.workers, self.queue_size, self.read_timeout = workers, queue_size, read_timeout
        super().__init__(address, IngestHandler)
        self.kinesis, self.stream, self.keys, self.idempotency = kinesis, stream, keys, idempotency
        #: Case and outcome routes (securebank/cases/http.py), when given.
        self.operations = operations
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()
        self.start_workers()

    def bucket(self, key: ApiKey) -> TokenBucket:
        """The key's bucket; its burst is at least one documented batch, so a full batch is
        always admissible once the bucket has refilled."""
        with self._lock:
            bucket = self._buckets.get(key.key_id)
            if bucket is None:
                bucket = TokenBucket(key.rate_per_second, max(key.burst, MAX_BATCH))
                self._buckets[key.key_id] = bucket
            return bucket

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, no traceback with request data in it."""
        import sys

        log.warning("connection error: %s", type(sys.exc_info()[1]).__name__)

    def server_close(self) -> None:
        self.stop_workers()
        self.idempotency.flush()
        super().server_close()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class IngestHandler(DrainingHandler, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    server: IngestServer

    kept = False

    def setup(self) -> None:
        """The request arrives whole from the reader: read it from memory, answer on the socket
        (with the read timeout as the write timeout: a client that does not read its answer
        cannot hold the worker either)."""
        sock, data = self.request
        self.connection = sock
        sock.settimeout(self.server.read_timeout)
        if self.disable_nagle_algorithm:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self.rfile = io.BytesIO(data)
        self.wfile = sock.makefile("wb", self.wbufsize)

    def handle_expect_100(self) -> bool:
        """The reader already answered `100 Continue` before it read the body."""
        return True

    def handle(self) -> None:
        """One request per hand-over: a keep-alive connection goes back to the reader after."""
        self.close_connection = True
        self.handle_one_request()
        self.kept = not self.close_connection and not self.server.draining

    def finish(self) -> None:
        leftover = self.rfile.read() if self.kept else b""
        super().finish()
        if self.kept:
            self.server.reader.add(self.connection, leftover)

    def log_message(self, format: str, *args: Any) -> None:
        """The stdlib line would hold the request path only, but keep one access log of our own."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's error page repeats the request line (which could hold a card number):
        answer a fixed JSON message instead."""
        self.close_connection = True
        reason = self.responses.get(code, ("error",))[0]
        with contextlib.suppress(OSError):
            self._send(code, {"message": reason.lower()})

    def _send(
        self, status: int, document: dict[str, Any], headers: dict[str, str] | None = None
    ) -> int:
        """Answer `document` as JSON; returns the status sent. NaN and Infinity are not JSON (a
        strict client refuses the whole answer): a document holding one (a case stored before
        alert intake refused such scores) is answered 500 instead, never sent."""
        try:
            body = json.dumps(document, allow_nan=False).encode()
        except ValueError as error:
            log.error("answer withheld, not JSON: %s", error)
            status, headers = 500, None
            body = json.dumps({"message": "internal error"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            # Say so: a client that pools connections would otherwise send its next request on
            # this one and find it closed.
            self.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        return status

    def _operations(self, method: str) -> bool:
        """Serve a case or outcome route (analyst keys only); False when not one."""
        from securebank.cases import http

        if self.server.operations is None or not http.owns(self.path):
            return False
        status = http.serve(self, method)
        log.info("%s %s %d", method, http.route_name(self.path), status)
        return True

    def do_GET(self) -> None:
        if self._operations("GET"):
            return
        self._skip_body()  # a body sent with a GET is not the connection's next request
        if self.path == "/health":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, {"message": "not found"})

    def do_POST(self) -> None:
        if self._operations("POST"):
            return
        started = time.perf_counter()
        status, counts, key_id = self._post()
        log.info(
            "POST %s %d key=%s accepted=%d duplicates=%d conflicts=%d rejected=%d failed=%d %.1fms",
            "/transactions" if self.path.split("?")[0] == "/transactions" else "(other path)",
            status,
            key_id,
            *counts,
            (time.perf_counter() - started) * 1000,
        )

    def _refuse(self, status: int, message: str, key_id: str, **headers: str) -> tuple:
        """An error before the body was read: drop a small body, close on a large one."""
        self._skip_body()
        self._send(status, {"message": message}, headers)
        return status, (0, 0, 0, 0, 0), key_id

    def _post(self) -> tuple[int, tuple[int, ...], str]:
        if self.path.split("?")[0] != "/transactions":
            return self._refuse(404, "not found", "-")
        presented = self.headers.get("x-api-key")
        if not presented:
            return self._refuse(401, "missing x-api-key header", "-")
        key = self.server.keys.verify(presented)
        if key is None:
            return self._refuse(403, "invalid API key", "?")
        if not key.allows("ingest"):
            return self._refuse(403, "this API key lacks the ingest scope", key.key_id)
        refusal = refuse_framing(self.headers, MAX_BODY_BYTES, length_required=True)
        if refusal is not None:
            # The reader did not wait for this body: close, or its bytes would be taken for the
            # connection's next request.
            self.close_connection = True
            return self._refuse(*refusal, key.key_id)
        length = content_length(self.headers.get("Content-Length")) or 0
        media_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return self._refuse(415, "Content-Type must be application/json", key.key_id)
        raw = self.rfile.read(length)  # received whole by the reader
        if len(raw) < length:
            self.close_connection = True
            return 400, (0, 0, 0, 0, 0), key.key_id
        records, problem = _records(raw)
        if problem is not None:
            self._send(400, {"message": problem})
            return 400, (0, 0, 0, 0, 0), key.key_id
        wait = self.server.bucket(key).take(len(records))
        if wait:
            retry = TokenBucket.retry_after(wait)
            self._send(429, {"message": "rate limit exceeded"}, {"Retry-After": retry})
            return 429, (0, 0, 0, 0, 0), key.key_id
        result = self._ingest(records)
        counts = tuple(
            len(result[k]) for k in ("accepted", "duplicates", "conflicts", "rejected", "failed")
        )
        if result["accepted"] or result["duplicates"]:
            status = 202
        elif result["failed"]:
            status = 503
        elif result["conflicts"]:
            status = 409
        else:
            status = 400
        self._send(status, result, {"Retry-After": "1"} if status == 503 else None)
        return status, counts, key.key_id

    def _skip_body(self) -> None:
        length = content_length(self.headers.get("Content-Length"))
        if self.headers.get("Transfer-Encoding") or length is None or length > _DRAIN_BYTES:
            self.close_connection = True
        elif length:
            self.rfile.read(length)

    def _ingest(self, records: list[Any]) -> dict[str, list[Any]]:
        now = datetime.now(UTC)
        valid, rejected = [], []
        for index, raw in enumerate(records):
            if isinstance(raw, _DuplicateKeys):
                parsed: Any = Rejection((FieldProblem("record", "a field name appears twice"),))
            else:
                parsed = parse_transaction(raw, now=now)
            if isinstance(parsed, Rejection):
                entry: dict[str, Any] = {"index": index, "reasons": parsed.as_dict()}
                tid = raw.get("transaction_id") if isinstance(raw, dict) else None
                if _echoable_id(tid) and "transaction_id" not in entry["reasons"]:
                    entry["transaction_id"] = tid
                rejected.append(entry)
            else:
                valid.append(parsed)
        # The same id twice in one body: the first is claimed, the others compare to it.
        first: dict[str, str] = {}
        claims, in_batch = [], []
        for t in valid:
            digest = body_hash(t.model_dump_json())
            if t.transaction_id in first:
                in_batch.append((t.transaction_id, first[t.transaction_id] == digest))
            else:
                first[t.transaction_id] = digest
                claims.append((t, (t.transaction_id, digest)))
        outcomes = self.server.idempotency.claim([claim for _, claim in claims])
        fresh = [(t, c) for (t, c), o in zip(claims, outcomes, strict=True) if o is Outcome.NEW]
        failed_ids = set(self._put([t for t, _ in fresh]))
        self.server.idempotency.release([c for t, c in fresh if t.transaction_id in failed_ids])
        self.server.idempotency.confirm([c for t, c in fresh if t.transaction_id not in failed_ids])
        by = {
            o: [c[0] for (_, c), out in zip(claims, outcomes, strict=True) if out is o]
            for o in Outcome
        }
        # A repeat inside the body shares its first occurrence's fate: "duplicate" only once that
        # one is on the stream (accepted now or before). Were it listed as a duplicate while the
        # first failed, the client would count the id acknowledged and never send it again.
        not_on_stream = failed_ids | set(by[Outcome.RETRY]) | set(by[Outcome.CONFLICT])
        repeats_same = [tid for tid, same in in_batch if same]
        return {
            "accepted": [t.transaction_id for t, _ in fresh if t.transaction_id not in failed_ids],
            "duplicates": by[Outcome.DUPLICATE]
            + [tid for tid in repeats_same if tid not in not_on_stream],
            "conflicts": by[Outcome.CONFLICT] + [tid for tid, same in in_batch if not same],
            "rejected": rejected,
            "failed": sorted(failed_ids) + by[Outcome.RETRY],
        }

    def _put(self, transactions: list[Any]) -> list[str]:
        """Put on the stream, re-sending throttled records; return ids that could not be put."""
        pending = [
            (t.transaction_id, {"PartitionKey": t.card_id, "Data": t.model_dump_json().encode()})
            for t in transactions
        ]
        for attempt in range(PUT_ATTEMPTS):
            if not pending:
                return []
            try:
                response = self.server.kinesis.put_records(
                    StreamName=self.server.stream, Records=[entry for _, entry in pending]
                )
            except Exception as error:
                log.warning("put_records failed: %s", type(error).__name__)
                break
            pending = [
                p for p, r in zip(pending, response["Records"], strict=True) if "ErrorCode" in r
            ]
            if pending:
                time.sleep(0.05 * (attempt + 1))
        return [tid for tid, _ in pending]


def _echoable_id(value: Any) -> bool:
    """A transaction_id may be repeated in an answer only if it is a well-formed token."""
    return isinstance(value, str) and bool(_ID.fullmatch(value)) and not contains_pan(value)


class _DuplicateKeys(dict):
    """A JSON object that named a field more than once (json keeps the last silently)."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    return _DuplicateKeys(document) if len(document) < len(pairs) else document


def json_depth_exceeds(raw: bytes, limit: int) -> bool:
    """True when the JSON text nests arrays/objects deeper than `limit`, found without parsing:
    strings are removed, then innermost pairs `[]`/`{}` are peeled `limit` times (linear passes
    in C, no recursion). Malformed bracketing is left for the parser to report."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        peeled = _INNERMOST.sub(b"", brackets)  # one level: pairs it uncovers wait a pass
        if peeled == brackets:
            return False  # unbalanced: not JSON, the parser says so
        brackets = peeled
    return bool(brackets)


def _records(raw: bytes) -> tuple[list[Any], str | None]:
    if json_depth_exceeds(raw, MAX_JSON_DEPTH):
        return [], f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    try:
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=_object)
    except UnicodeDecodeError:
        return [], "body is not UTF-8"
    except (ValueError, RecursionError):
        return [], "body is not JSON"
    if isinstance(document, dict) and "transactions" in document:
        if isinstance(document, _DuplicateKeys):
            return [], "a field name appears twice"
        records = document["transactions"]
        if not isinstance(records, list) or not records:
            return [], '"transactions" must be a non-empty list'
        if len(records) > MAX_BATCH:
            return [], f"at most {MAX_BATCH} transactions per request"
        return records, None
    if isinstance(document, dict):
        return [document], None
    return [], 'send one transaction object or {"transactions": [...]}'
