"""Scoring a batch inside the latency budget: the endpoint first, the fallback when it is late.

One InvokeEndpoint call per batch, with connect and read timeouts taken from what remains of the
budget and a single attempt, behind a circuit breaker with a half-open probe. If the endpoint
errors, times out, its breaker is open, or too little budget is left to call it, the fallback
scores the batch in-process: the approved model loaded into the function
at cold start (`FallbackScorer`), with the same thresholds and the approximate reason codes, and
the decisions record `scored_by=fallback`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from securebank.inference.explain import APPROXIMATE, reason_codes
from securebank.model_artifact import FraudModel

#: Below this many milliseconds left, the endpoint is not called at all.
MIN_ENDPOINT_MS = 5
#: A read timeout shorter than this (what a batch had left) does not count against the endpoint.
BREAKER_MIN_TIMEOUT_MS = 50
#: Timeouts are rounded down to one of these (ms), so a few warm keep-alive clients serve
#: every budget instead of one new client per distinct remainder.
TIMEOUT_LADDER_MS = (5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000)


@dataclass
class BatchScores:
    scores: list[float]
    actions: list[str]
    reasons: list[list[dict[str, Any]]]
    model_version: str
    thresholds: tuple[float, float]
    scored_by: str
    explain_method: str
    error: str | None = None


class FallbackScorer:
    def __init__(self, model: FraudModel, model_version: str) -> None:
        self.model = model
        self.model_version = model_version

    def score(self, x: np.ndarray) -> BatchScores:
        scores = self.model.booster.inplace_predict(x)
        thresholds = self.model.manifest.thresholds
        actions = thresholds.decide_many(scores).tolist()
        flagged = [i for i, a in enumerate(actions) if a != "approve"]
        reasons: list[list[dict[str, Any]]] = [[] for _ in actions]
        if flagged:
            names = self.model.manifest.feature_names
            codes = reason_codes(self.model.booster, x[flagged], names, method=APPROXIMATE)
            for i, c in zip(flagged, codes, strict=True):
                reasons[i] = c
        return BatchScores(
            scores=[float(s) for s in scores],
            actions=actions,
            reasons=reasons,
            model_version=self.model_version,
            thresholds=(thresholds.review, thresholds.decline),
            scored_by="fallback",
            explain_method=APPROXIMATE,
        )


class CircuitBreaker:
    """Stops calling an endpoint that keeps failing, and tries it again by itself.

    Closed: every batch calls the endpoint; `failure_threshold` failures in a row open it. Open:
    no calls (the fallback scores at once, the budget is not spent on timeouts) until `open_s`
    has passed; then half-open: one batch probes the endpoint (resolving its address afresh);
    success closes the breaker, failure opens it for another `open_s`. Thread-safe: the local
    runner shares one scorer between its shard threads.
    """

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"

    def __init__(
        self,
        failure_threshold: int = 3,
        open_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.open_s = open_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return self.CLOSED
            return self.HALF_OPEN if self._probing else self.OPEN

    def allow(self) -> tuple[bool, bool]:
        """(may call, is a probe)."""
        with self._lock:
            if self._opened_at is None:
                return True, False
            if self._probing or self._clock() - self._opened_at < self.open_s:
                return False, False
            self._probing = True
            return True, True

    def success(self) -> None:
        with self._lock:
            self._failures, self._opened_at, self._probing = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._probing or self._failures >= self.failure_threshold:
                self._opened_at, self._probing = self._clock(), False

    def release(self) -> None:
        """A probe that was not made (no budget left): let the next batch probe instead."""
        with self._lock:
            self._probing = False


class EndpointScorer:
    """One InvokeEndpoint call per batch, single attempt, timeouts from the remaining budget.

    `resolve_url` (optional) says where the endpoint's runtime API is now: the local model server
    registers its port in a file and may come back on another port after a restart. It is asked
    at start and on every half-open probe, so a moved endpoint is found again by itself.
    """

    def __init__(
        self,
        clients: Any,
        endpoint_name: str,
        *,
        resolve_url: Callable[[], str | None] | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._clients = clients
        self.endpoint_name = endpoint_name
        self.breaker = breaker or CircuitBreaker()
        self._resolve_url = resolve_url
        self._lock = threading.Lock()
        self._by_timeout: dict[int, Any] = {}
        self.url = resolve_url() if resolve_url else None

    def resolve(self) -> None:
        """Ask where the endpoint is now; forget clients of an old address."""
        if self._resolve_url is None:
            return
        url = self._resolve_url()
        with self._lock:
            if url != self.url:
                self.url, self._by_timeout = url, {}

    @property
    def reachable(self) -> bool:
        return self._resolve_url is None or self.url is not None

    def _client(self, timeout_ms: int) -> Any:
        bucket = max(
            (step for step in TIMEOUT_LADDER_MS if step <= timeout_ms), default=TIMEOUT_LADDER_MS[0]
        )
        with self._lock:
            client = self._by_timeout.get(bucket)
            if client is None:
                seconds = bucket / 1000
                config = Config(
                    connect_timeout=seconds,
                    read_timeout=seconds,
                    retries={"total_max_attempts": 1},
                    tcp_keepalive=True,
                )
                client = self._by_timeout[bucket] = self._clients.client(
                    "sagemaker-runtime", config, endpoint_url=self.url
                )
            return client

    def score(self, x: np.ndarray, timeout_ms: int) -> BatchScores:
        body = "\n".join(",".join("" if v != v else repr(float(v)) for v in row) for row in x)
        response = self._client(timeout_ms).invoke_endpoint(
            EndpointName=self.endpoint_name,
            Body=body.encode(),
            ContentType="text/csv",
            Accept="application/json",
        )
        document = json.loads(response["Body"].read())
        predictions = document["predictions"]
        first = predictions[0] if predictions else {}
        thresholds = document.get("thresholds", {})
        return BatchScores(
            scores=[p["score"] for p in predictions],
            actions=[p["decision"] for p in predictions],
            reasons=[p.get("reason_codes", []) for p in predictions],
            model_version=str(document.get("model_version", first.get("model_version", ""))),
            thresholds=(float(thresholds["review"]), float(thresholds["decline"])),
            scored_by="endpoint",
            explain_method=first.get("explain_method", "treeshap"),
        )


def score_within_budget(
    x: np.ndarray,
    endpoint: EndpointScorer | None,
    fallback: FallbackScorer,
    deadline: float,
) -> BatchScores:
    """The endpoint's scores if its breaker lets the call through and it answers before
    `deadline` (a perf_counter time), else the fallback's, with the reason in `error`."""
    error = _call_endpoint(x, endpoint, deadline)
    if isinstance(error, BatchScores):
        return error
    result = fallback.score(x)
    result.error = error
    return result


def _call_endpoint(
    x: np.ndarray, endpoint: EndpointScorer | None, deadline: float
) -> BatchScores | str:
    if endpoint is None:
        return "no endpoint"
    allowed, probe = endpoint.breaker.allow()
    if not allowed:
        return "circuit open"
    if probe:
        endpoint.resolve()
    remaining_ms = int((deadline - time.perf_counter()) * 1000)
    if remaining_ms < MIN_ENDPOINT_MS:
        if probe:
            endpoint.breaker.release()
        return "budget spent before the call"
    if not endpoint.reachable:
        endpoint.breaker.failure()
        return "endpoint not registered"
    try:
        scored = endpoint.score(x, remaining_ms)
    except (BotoCoreError, ClientError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, ReadTimeoutError) and remaining_ms < BREAKER_MIN_TIMEOUT_MS:
            endpoint.breaker.release()  # too short a wait to blame the endpoint
        else:
            endpoint.breaker.failure()
        return type(exc).__name__
    if len(scored.scores) != len(x):
        endpoint.breaker.failure()
        return "endpoint returned a different number of rows"
    endpoint.breaker.success()
    return scored
