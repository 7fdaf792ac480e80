"""Per-key rate limits (token buckets) and an in-memory idempotency window on transaction_id."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

from securebank.ingest.idempotency import Claim, Outcome


class TokenBucket:
    def __init__(self, rate_per_second: float, burst: int) -> None:
        self.rate, self.capacity = rate_per_second, float(burst)
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self, count: int = 1) -> float:
        """0.0 when `count` tokens were taken, else the seconds until they will be there."""
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= count:
                self.tokens -= count
                return 0.0
            return (count - self.tokens) / self.rate

    @staticmethod
    def retry_after(seconds: float) -> str:
        return str(max(1, math.ceil(seconds)))


class SeenWindow:
    """The idempotency contract of `DynamoIdempotency` for one process, in memory (bounded).

    For tests and a single local server; it forgets everything on restart."""

    def __init__(self, window_seconds: float = 86_400.0, max_entries: int = 2_000_000) -> None:
        self.window, self.max_entries = window_seconds, max_entries
        self._seen: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, claims: Sequence[Claim]) -> list[Outcome]:
        now = time.monotonic()
        with self._lock:
            while self._seen and (
                next(iter(self._seen.values()))[0] < now - self.window
                or len(self._seen) > self.max_entries
            ):
                self._seen.popitem(last=False)
            out = []
            for tid, digest in claims:
                known = self._seen.get(tid)
                if known is None:
                    self._seen[tid] = (now, digest)
                    out.append(Outcome.NEW)
                else:
                    out.append(Outcome.DUPLICATE if known[1] == digest else Outcome.CONFLICT)
            return out

    def confirm(self, claims: Sequence[Claim]) -> None:
        """Nothing to do: a claim in memory dies with the process anyway."""

    def flush(self) -> None:
        """Nothing is written behind."""

    def release(self, claims: Sequence[Claim]) -> None:
        with self._lock:
            for tid, digest in claims:
                if self._seen.get(tid, (0, None))[1] == digest:
                    del self._seen[tid]
