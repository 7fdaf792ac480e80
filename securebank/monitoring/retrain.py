"""When to retrain: on schedule, or when matured-label performance or drift crosses a threshold.

Pure: the caller measures (average precision on matured labels, drift PSI) and this decides. In
AWS the same rule is an EventBridge schedule plus a CloudWatch alarm on the `AveragePrecision`
EMF metric, both targeting StartPipelineExecution (terraform/operations.tf).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RetrainPolicy:
    schedule_days: float = 7.0
    min_average_precision: float = 0.5
    max_drift_psi: float = 0.25
    #: Below this many matured frauds the average precision is too noisy to act on.
    min_frauds: int = 20


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    reasons: tuple[str, ...]


def should_retrain(
    policy: RetrainPolicy,
    days_since_last_training: float | None,
    average_precision: float | None,
    matured_frauds: int,
    drift_psi: float | None,
) -> RetrainDecision:
    reasons = []
    if days_since_last_training is None:
        reasons.append("no trained version yet")
    elif days_since_last_training >= policy.schedule_days:
        reasons.append(
            f"schedule: last training {days_since_last_training:.1f} d ago "
            f"(every {policy.schedule_days:g} d)"
        )
    if (
        average_precision is not None
        and average_precision == average_precision
        and matured_frauds >= policy.min_frauds
        and average_precision < policy.min_average_precision
    ):
        reasons.append(
            f"matured-label average precision {average_precision:.3f} < "
            f"{policy.min_average_precision:g} ({matured_frauds} frauds)"
        )
    if drift_psi is not None and drift_psi > policy.max_drift_psi:
        reasons.append(f"drift PSI {drift_psi:.3f} > {policy.max_drift_psi:g}")
    return RetrainDecision(bool(reasons), tuple(reasons))


def days_since_last_training(created: Iterable[datetime], now: datetime) -> float | None:
    """Days since the newest version was registered (None: none is)."""
    newest = max(created, default=None)
    return None if newest is None else (now - newest).total_seconds() / 86_400
