"""Choosing the review and decline thresholds, by a stated rule, on the validation split.

Review: the daily alert budget. Analysts can look at a fixed share of the day's traffic
(`review_rate`, default 1 %); the review threshold is the score that flags that share of the
validation transactions. Decline: stop a payment only when the model is nearly sure; the decline
threshold is the lowest score whose flagged validation transactions are at least
`decline_precision` (default 95 %) fraud, and never below the review threshold.

Or from cost (`choose_cost_thresholds`, below): the pair with the least expected daily cost —
fraud loss let through, analysts' time, good customers declined — within the analysts' daily
capacity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import precision_recall_curve

from securebank.decision import Thresholds

RULE = (
    "review: top {review_rate:.2%} of daily traffic; decline: precision >= {decline_precision:.0%}"
)


def choose_thresholds(
    y: np.ndarray, scores: np.ndarray, review_rate: float = 0.01, decline_precision: float = 0.95
) -> tuple[Thresholds, str]:
    if not 0 < review_rate < 1 or not 0 < decline_precision <= 1:
        raise ValueError("review_rate must be in (0, 1) and decline_precision in (0, 1]")
    review = float(np.quantile(scores, 1.0 - review_rate, method="higher"))
    precision, _, cuts = precision_recall_curve(y, scores)
    reaching = np.flatnonzero(precision[:-1] >= decline_precision)
    decline = float(cuts[reaching[0]]) if len(reaching) else 1.0
    decline = min(1.0, max(decline, review))
    rule = RULE.format(review_rate=review_rate, decline_precision=decline_precision)
    return Thresholds(review=review, decline=decline), rule


# --- Thresholds from cost ---------------------------------------------------------------------
#
# The alternative rule: choose the pair of thresholds that minimises the expected daily cost on
# the validation split, within the analysts' capacity. For a transaction of `amount` (USD) whose
# fraud probability is q (the score, calibrated on the validation labels by isotonic regression,
# since class weighting makes raw scores too high):
#
#   approve  costs q * amount       (the expected fraud loss, paid if it is fraud)
#   review   costs review_cost      (an analyst's time; a reviewed fraud is stopped)
#   decline  costs (1 - q) * decline_cost   (a good customer turned away)
#
# Thresholds act on scores, so the search runs over pairs of score cuts. Everything the search
# needs is a few cumulative sums per candidate cut (`ScoreProfile`), independent of the costs:
# the profile is written into the model manifest, and `securebank thresholds` re-draws the
# trade-off for any costs and capacity without the validation data.

COST_RULE = (
    "cost: review {review_cost:g}, decline of a good customer {decline_cost:g}, "
    "capacity {capacity} reviews/day; expected cost {total:,.2f}/day"
)


@dataclass(frozen=True)
class CostModel:
    review_cost: float
    decline_cost: float
    #: Reviews the analysts can do per day; 0 means no limit.
    review_capacity: float = 0.0

    def __post_init__(self) -> None:
        if self.review_cost < 0 or self.decline_cost < 0 or self.review_capacity < 0:
            raise ValueError("costs and capacity must be >= 0")


@dataclass(frozen=True)
class ScoreProfile:
    """Cumulative sums over the validation split at candidate score cuts, highest cut first.

    At cut k: `flagged[k]` transactions score >= `thresholds[k]`; `expected_loss[k]` is their
    summed q * amount and `expected_good[k]` their summed 1 - q.
    """

    thresholds: list[float]
    flagged: list[float]
    expected_loss: list[float]
    expected_good: list[float]
    total_expected_loss: float
    transactions: int
    days: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> ScoreProfile:
        return cls(**document)


@dataclass(frozen=True)
class CostPoint:
    review: float
    decline: float
    reviews_per_day: float
    declines_per_day: float
    loss_left_per_day: float
    review_cost_per_day: float
    decline_cost_per_day: float

    @property
    def total_per_day(self) -> float:
        return self.loss_left_per_day + self.review_cost_per_day + self.decline_cost_per_day


def fraud_probability(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Scores calibrated to fraud probabilities on these labels (isotonic, monotone)."""
    calibration = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    return calibration.fit(scores, y).predict(scores)


def score_profile(
    y: np.ndarray, scores: np.ndarray, amounts: np.ndarray, days: float, points: int = 300
) -> ScoreProfile:
    scores = np.asarray(scores, dtype=np.float64)
    amounts = np.nan_to_num(np.asarray(amounts, dtype=np.float64), nan=0.0)
    if len(scores) == 0 or len(scores) != len(y) or len(amounts) != len(y):
        raise ValueError("need as many labels, scores and amounts, and at least one")
    q = fraud_probability(np.asarray(y, dtype=np.float64), scores)
    order = np.argsort(-scores, kind="stable")
    s, loss, good = scores[order], (q * amounts)[order], (1.0 - q)[order]
    positions = np.unique(np.geomspace(1, len(s), num=points).round().astype(int)) - 1
    cuts = np.unique(np.concatenate([[1.0], s[positions]]))[::-1]
    # flagged at cut t: how many score >= t (s is descending, so search on -s)
    flagged = np.searchsorted(-s, -cuts, side="right")
    cum_loss = np.concatenate([[0.0], np.cumsum(loss)])
    cum_good = np.concatenate([[0.0], np.cumsum(good)])
    return ScoreProfile(
        thresholds=[float(c) for c in cuts],
        flagged=[float(f) for f in flagged],
        expected_loss=[float(cum_loss[f]) for f in flagged],
        expected_good=[float(cum_good[f]) for f in flagged],
        total_expected_loss=float(cum_loss[-1]),
        transactions=len(s),
        days=max(float(days), 1.0),
    )


def cost_curve(profile: ScoreProfile, costs: CostModel) -> list[CostPoint]:
    """For each review cut, the decline cut that costs least within capacity (feasible only)."""
    f = np.asarray(profile.flagged)
    loss = np.asarray(profile.expected_loss)
    good = np.asarray(profile.expected_good)
    days = profile.days
    i = np.arange(len(f))[:, None]  # decline cut (higher threshold: lower index)
    j = np.arange(len(f))[None, :]  # review cut
    reviews = (f[None, :] - f[:, None]) / days
    cost = (
        costs.decline_cost * good[:, None]
        + costs.review_cost * (f[None, :] - f[:, None])
        + (profile.total_expected_loss - loss[None, :])
    ) / days
    feasible = j >= i
    if costs.review_capacity > 0:
        feasible &= reviews <= costs.review_capacity
    cost = np.where(feasible, cost, np.inf)
    best = np.argmin(cost, axis=0)
    points = []
    for review_cut in range(len(f)):
        d = int(best[review_cut])
        if not np.isfinite(cost[d, review_cut]):
            continue
        points.append(
            CostPoint(
                review=profile.thresholds[review_cut],
                decline=profile.thresholds[d],
                reviews_per_day=float((f[review_cut] - f[d]) / days),
                declines_per_day=float(f[d] / days),
                loss_left_per_day=float((profile.total_expected_loss - loss[review_cut]) / days),
                review_cost_per_day=float(costs.review_cost * (f[review_cut] - f[d]) / days),
                decline_cost_per_day=float(costs.decline_cost * good[d] / days),
            )
        )
    return points


def choose_cost_thresholds(
    profile: ScoreProfile, costs: CostModel
) -> tuple[Thresholds, str, CostPoint]:
    """The pair of thresholds with the least expected daily cost within capacity."""
    curve = cost_curve(profile, costs)
    best = min(curve, key=lambda p: (p.total_per_day, -p.review))
    capacity = f"{costs.review_capacity:g}" if costs.review_capacity > 0 else "unlimited"
    rule = COST_RULE.format(
        review_cost=costs.review_cost,
        decline_cost=costs.decline_cost,
        capacity=capacity,
        total=best.total_per_day,
    )
    return Thresholds(review=best.review, decline=best.decline), rule, best


def cost_at(profile: ScoreProfile, costs: CostModel, thresholds: Thresholds) -> CostPoint:
    """The daily cost of given thresholds (e.g. the budget rule's) under `costs`."""
    cuts = np.asarray(profile.thresholds)
    f, loss, good = (
        np.asarray(v) for v in (profile.flagged, profile.expected_loss, profile.expected_good)
    )
    # the nearest profile cut at or above each threshold
    r = int(np.searchsorted(-cuts, -thresholds.review, side="right")) - 1
    d = int(np.searchsorted(-cuts, -thresholds.decline, side="right")) - 1
    r, d = max(r, 0), max(d, 0)
    days = profile.days
    return CostPoint(
        review=thresholds.review,
        decline=thresholds.decline,
        reviews_per_day=float((f[r] - f[d]) / days),
        declines_per_day=float(f[d] / days),
        loss_left_per_day=float((profile.total_expected_loss - loss[r]) / days),
        review_cost_per_day=float(costs.review_cost * (f[r] - f[d]) / days),
        decline_cost_per_day=float(costs.decline_cost * good[d] / days),
    )


def carry_thresholds(
    thresholds: Thresholds, chosen_on: np.ndarray, carried_to: np.ndarray
) -> Thresholds:
    """Carry thresholds chosen on one model's scores to another model's scores of the same rows.

    The refitted model scores on its own scale. Each threshold keeps the share of traffic it
    flagged: the new threshold is the score flagging the same share of `carried_to` as the old one
    flagged of `chosen_on`. A decline threshold that flagged nothing stays at 1.0.
    """

    def carry(threshold: float) -> float:
        share = float(np.mean(chosen_on >= threshold))
        if share == 0.0:
            return 1.0
        return float(np.quantile(carried_to, 1.0 - share, method="higher"))

    review = carry(thresholds.review)
    decline = min(1.0, max(carry(thresholds.decline), review))
    return Thresholds(review=review, decline=decline)


def carry_profile(
    profile: ScoreProfile, chosen_on: np.ndarray, carried_to: np.ndarray
) -> ScoreProfile:
    """The profile's cuts carried to a refitted model's scores like `carry_thresholds`: each cut
    keeps the share of validation traffic it flags, so its sums still describe those rows."""
    cuts = [
        carry_thresholds(Thresholds(t, t), chosen_on, carried_to).review for t in profile.thresholds
    ]
    return replace(profile, thresholds=cuts)
