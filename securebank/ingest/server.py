"""The ingest service: the local counterpart of API Gateway → Kinesis (terraform/api.tf).

`POST /transactions` takes one transaction or `{"transactions": [...]}` (at most 500), validates
each against the contract, puts the valid ones on the stream (partition key = card_id) and
answers 202 with the accepted ids, the duplicates (a transaction_id already accepted within the
idempotency window is not enqueued again) and, per rejected record, its field-level reasons.
`x-api-key` authenticates (401 missing, 403 wrong), each key has a rate limit (429). `GET
/health`. Bodies, keys and card numbers are never logged: the access log has the key's id,
status and counts only.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from securebank.contract import Rejection, parse_transaction
from securebank.ingest.keys import ApiKey, KeyStore
from securebank.ingest.limits import SeenWindow, TokenBucket

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_BATCH = 500
PUT_ATTEMPTS = 3
log = logging.getLogger("securebank.ingest")


class IngestServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        kinesis: Any,
        stream: str,
        keys: KeyStore,
        window: SeenWindow,
        operations: Any | None = None,
    ) -> None:
        super().__init__(address, IngestHandler)
        self.kinesis, self.stream, self.keys, self.window = kinesis, stream, keys, window
        #: Case and outcome routes (securebank/cases/http.py), when given.
        self.operations = operations
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, key: ApiKey) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get(key.key_id)
            if bucket is None:
                bucket = self._buckets[key.key_id] = TokenBucket(key.rate_per_second, key.burst)
            return bucket

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class IngestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    server: IngestServer

    def log_message(self, format: str, *args: Any) -> None:
        """The stdlib line would hold the request path only, but keep one access log of our own."""

    def _send(
        self, status: int, document: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

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
            "POST %s %d key=%s accepted=%d duplicates=%d rejected=%d failed=%d %.1fms",
            self.path.split("?")[0],
            status,
            key_id,
            *counts,
            (time.perf_counter() - started) * 1000,
        )

    def _post(self) -> tuple[int, tuple[int, int, int, int], str]:
        none = (0, 0, 0, 0)
        if self.path.split("?")[0] != "/transactions":
            self._drain()
            self._send(404, {"message": "not found"})
            return 404, none, "-"
        presented = self.headers.get("x-api-key")
        if not presented:
            self._drain()
            self._send(401, {"message": "missing x-api-key header"})
            return 401, none, "-"
        key = self.server.keys.verify(presented)
        if key is None:
            self._drain()
            self._send(403, {"message": "invalid API key"})
            return 403, none, "?"
        if not key.allows("ingest"):
            self._drain()
            self._send(403, {"message": "this API key lacks the ingest scope"})
            return 403, none, key.key_id
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(413, {"message": f"body must be at most {MAX_BODY_BYTES} bytes"})
            return 413, none, key.key_id
        raw = self.rfile.read(length)
        records, problem = _records(raw)
        if problem is not None:
            self._send(400, {"message": problem})
            return 400, none, key.key_id
        if not self.server.bucket(key).take(len(records)):
            self._send(429, {"message": "rate limit exceeded"}, {"Retry-After": "1"})
            return 429, none, key.key_id
        result = self._ingest(records)
        counts = tuple(len(result[k]) for k in ("accepted", "duplicates", "rejected", "failed"))
        if result["failed"] and not result["accepted"]:
            status = 503
        elif result["rejected"] and not (result["accepted"] or result["duplicates"]):
            status = 400
        else:
            status = 202
        self._send(status, result)
        return status, counts, key.key_id  # type: ignore[return-value]

    def _drain(self) -> None:
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) <= MAX_BODY_BYTES:
            self.rfile.read(int(length))
        else:
            self.close_connection = True

    def _ingest(self, records: list[Any]) -> dict[str, list[Any]]:
        now = datetime.now(UTC)
        valid, rejected = [], []
        for index, raw in enumerate(records):
            parsed = parse_transaction(raw, now=now)
            if isinstance(parsed, Rejection):
                entry: dict[str, Any] = {"index": index, "reasons": parsed.as_dict()}
                if "transaction_id" not in entry["reasons"] and isinstance(raw, dict):
                    entry["transaction_id"] = raw.get("transaction_id")
                rejected.append(entry)
            else:
                valid.append(parsed)
        fresh = self.server.window.claim([t.transaction_id for t in valid])
        duplicates = [t.transaction_id for t, new in zip(valid, fresh, strict=True) if not new]
        to_put = [t for t, new in zip(valid, fresh, strict=True) if new]
        failed = self._put(to_put)
        self.server.window.forget(failed)
        accepted = [t.transaction_id for t in to_put if t.transaction_id not in set(failed)]
        return {
            "accepted": accepted,
            "duplicates": duplicates,
            "rejected": rejected,
            "failed": failed,
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
            except Exception:
                log.exception("put_records failed")
                break
            pending = [
                p for p, r in zip(pending, response["Records"], strict=True) if "ErrorCode" in r
            ]
            if pending:
                time.sleep(0.05 * (attempt + 1))
        return [tid for tid, _ in pending]


def _records(raw: bytes) -> tuple[list[Any], str | None]:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return [], "body is not JSON"
    if isinstance(document, dict) and "transactions" in document:
        records = document["transactions"]
        if not isinstance(records, list) or not records:
            return [], '"transactions" must be a non-empty list'
        if len(records) > MAX_BATCH:
            return [], f"at most {MAX_BATCH} transactions per request"
        return records, None
    if isinstance(document, dict):
        return [document], None
    return [], 'send one transaction object or {"transactions": [...]}'
