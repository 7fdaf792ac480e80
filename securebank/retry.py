"""One bounded retry helper for the leftovers of AWS batch calls.

DynamoDB returns `UnprocessedItems` / `UnprocessedKeys`, Kinesis `put_records` and SQS/SNS batch
calls report per-entry failures, all with HTTP 200: botocore's own retries never see them. Every
such loop in the platform goes through `retry_leftovers`, which backs off exponentially with full
jitter, never sleeps past the caller's deadline, and gives up after a fixed number of attempts by
raising `RetriesExhausted` (so a caller's batch fails loudly and is retried whole, instead of a
loop that spins forever or drops what is left).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class RetriesExhausted(RuntimeError):
    """Some entries were still refused after the last attempt or when the budget ran out."""

    def __init__(self, what: str, attempts: int, left: int) -> None:
        super().__init__(f"{what}: {left} entries still refused after {attempts} attempts")
        self.what = what
        self.attempts = attempts
        self.left = left


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**n))."""

    base_s: float = 0.025
    cap_s: float = 1.0
    max_attempts: int = 8

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        return rng() * min(self.cap_s, self.base_s * (2**attempt))


DEFAULT_BACKOFF = Backoff()


def retry_leftovers(
    call: Callable[[T], T | None],
    request: T,
    *,
    what: str,
    size: Callable[[T], int] = len,  # type: ignore[assignment]
    backoff: Backoff = DEFAULT_BACKOFF,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Call `call(request)` until it returns no leftovers; return the number of attempts.

    `call` sends `request` and returns what was not processed (same shape), or None / empty when
    everything went through. Between attempts it sleeps the jittered backoff, cut to what remains
    before `deadline` (a `clock()` time). Raises `RetriesExhausted` after `backoff.max_attempts`
    calls, or when the deadline leaves no time for another attempt.
    """
    pending: T | None = request
    for attempt in range(backoff.max_attempts):
        pending = call(pending)  # type: ignore[arg-type]
        if not pending or not size(pending):
            return attempt + 1
        if attempt + 1 == backoff.max_attempts:
            break
        pause = backoff.delay(attempt)
        if deadline is not None:
            remaining = deadline - clock()
            if remaining <= 0:
                raise RetriesExhausted(what, attempt + 1, size(pending))
            pause = min(pause, remaining)
        sleep(pause)
    raise RetriesExhausted(what, backoff.max_attempts, size(pending) if pending else 0)
