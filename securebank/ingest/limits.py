"""Per-key rate limits (token buckets) and the idempotency window on transaction_id."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class TokenBucket:
    def __init__(self, rate_per_second: float, burst: int) -> None:
        self.rate, self.capacity = rate_per_second, float(burst)
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self, count: int = 1) -> bool:
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= count:
                self.tokens -= count
                return True
            return False


class SeenWindow:
    """transaction_ids accepted within the last `window_seconds` (bounded in size)."""

    def __init__(self, window_seconds: float = 86_400.0, max_entries: int = 2_000_000) -> None:
        self.window, self.max_entries = window_seconds, max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, ids: list[str]) -> list[bool]:
        """For each id, True if it is new (and now remembered), False if seen in the window."""
        now = time.monotonic()
        with self._lock:
            while self._seen and (
                next(iter(self._seen.values())) < now - self.window
                or len(self._seen) > self.max_entries
            ):
                self._seen.popitem(last=False)
            out = []
            for tid in ids:
                if tid in self._seen:
                    out.append(False)
                else:
                    self._seen[tid] = now
                    out.append(True)
            return out

    def forget(self, ids: list[str]) -> None:
        """Forget ids whose enqueue failed, so a retry is accepted."""
        with self._lock:
            for tid in ids:
                self._seen.pop(tid, None)
