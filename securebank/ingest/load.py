"""A bounded load test of the ingest API: a fixed rate for a fixed time, then it stops.

Open loop: request i is due at start + i / rate whatever happened to earlier ones, and its
latency counts from when it was due (so a stalled server shows up as latency, not as a lower
rate). Workers keep one keep-alive connection each.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlparse

import numpy as np


@dataclass
class LoadResult:
    target_rps: float
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0

    @property
    def sent(self) -> int:
        return sum(self.statuses.values()) + self.errors

    @property
    def achieved_rps(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def as_dict(self) -> dict[str, float | int]:
        return {
            "target_rps": self.target_rps,
            "achieved_rps": round(self.achieved_rps, 1),
            "requests": self.sent,
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "accepted_202": self.statuses.get(202, 0),
            "throttled_429": self.statuses.get(429, 0),
            "other_status": sum(v for k, v in self.statuses.items() if k not in (202, 429)),
            "errors": self.errors,
        }


def run_load(
    url: str,
    api_key: str,
    bodies: Iterator[bytes],
    rps: float,
    duration_s: float,
    concurrency: int = 16,
) -> LoadResult:
    target = urlparse(url)
    total = int(rps * duration_s)
    counter = itertools.count()
    lock = threading.Lock()
    result = LoadResult(target_rps=rps, seconds=duration_s)
    start = time.perf_counter() + 0.05

    def worker() -> None:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        while True:
            with lock:
                i = next(counter)
                if i >= total:
                    break
                body = next(bodies)
            due = start + i / rps
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                conn.request(
                    "POST",
                    target.path or "/transactions",
                    body=body,
                    headers={"Content-Type": "application/json", "x-api-key": api_key},
                )
                response = conn.getresponse()
                response.read()
                elapsed = (time.perf_counter() - due) * 1000
                with lock:
                    result.statuses[response.status] += 1
                    result.latencies_ms.append(elapsed)
            except (OSError, http.client.HTTPException):
                with lock:
                    result.errors += 1
                conn.close()
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = max(time.perf_counter() - start, duration_s)
    return result


def transaction_bodies(rows: list[dict], suffix: str) -> Iterator[bytes]:
    """Contract JSON bodies from dataset rows, each with a fresh transaction_id, cycling."""
    from securebank.local.producer import contract_json

    for n, row in enumerate(itertools.cycle(rows)):
        record = json.loads(contract_json(row))
        record["transaction_id"] = f"{record['transaction_id'][:40]}-{suffix}-{n}"
        yield json.dumps(record).encode()
