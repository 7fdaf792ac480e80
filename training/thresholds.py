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
