"""Choosing the review and decline thresholds, by a stated rule, on the validation split.

Review: the daily alert budget. Analysts can look at a fixed share of the day's traffic
(`review_rate`, default 1 %); the review threshold is the score that flags that share of the
validation transactions. Decline: stop a payment only when the model is nearly sure; the decline
threshold is the lowest score whose flagged validation transactions are at least
`decline_precision` (default 95 %) fraud, and never below the review threshold.
"""

from __future__ import annotations

import numpy as np
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
