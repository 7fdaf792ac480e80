"""Scoring a batch inside the latency budget: the endpoint first, the fallback when it is late.

One InvokeEndpoint call per batch, with connect and read timeouts taken from what remains of the
budget and a single attempt. If the endpoint errors, times out, or too little budget is left to
call it, the fallback scores the batch in-process: the approved model loaded into the function
at cold start (`FallbackScorer`), with the same thresholds and the approximate reason codes, and
the decisions record `scored_by=fallback`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from securebank.inference.explain import APPROXIMATE, reason_codes
from securebank.model_artifact import FraudModel

#: Below this many milliseconds left, the endpoint is not called at all.
MIN_ENDPOINT_MS = 5
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


class EndpointScorer:
    def __init__(self, clients: Any, endpoint_name: str, feature_names: list[str]) -> None:
        self._clients = clients
        self.endpoint_name = endpoint_name
        self.feature_names = feature_names
        self._by_timeout: dict[int, Any] = {}

    def _client(self, timeout_ms: int) -> Any:
        bucket = max(
            (step for step in TIMEOUT_LADDER_MS if step <= timeout_ms), default=TIMEOUT_LADDER_MS[0]
        )
        client = self._by_timeout.get(bucket)
        if client is None:
            seconds = bucket / 1000
            config = Config(
                connect_timeout=seconds,
                read_timeout=seconds,
                retries={"total_max_attempts": 1},
                tcp_keepalive=True,
            )
            client = self._by_timeout[bucket] = self._clients.client("sagemaker-runtime", config)
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
    """The endpoint's scores if it answers before `deadline` (a perf_counter time), else the
    fallback's."""
    remaining_ms = int((deadline - time.perf_counter()) * 1000)
    error = None
    if endpoint is not None and remaining_ms >= MIN_ENDPOINT_MS:
        try:
            scored = endpoint.score(x, remaining_ms)
            if len(scored.scores) == len(x):
                return scored
            error = "endpoint returned a different number of rows"
        except (BotoCoreError, ClientError, ValueError, KeyError) as exc:
            error = type(exc).__name__
    else:
        error = "no endpoint" if endpoint is None else "budget spent before the call"
    result = fallback.score(x)
    result.error = error
    return result
