"""Model quality metrics for fraud detection, on scores and ground truth.

Card Precision@k follows the Fraud Detection Handbook (Le Borgne et al., "Reproducible machine
learning for credit card fraud detection", section 4.2): per day, rank cards by their highest
score that day, take the top k, and count the share that had a fraudulent transaction that day;
the metric is the mean over days. It is what a team of analysts who can check k cards a day
would find. Two kinds of card are not worth an analyst's time and are removed before ranking a
day: cards already detected (a fraudulent card in an earlier day's top k of the same test
window: it is blocked) and cards known compromised before that day (a fraud label on the card
reported before the day starts).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve


def recall_at_fpr(y: np.ndarray, scores: np.ndarray, max_fpr: float = 0.01) -> float:
    """The highest true-positive rate reachable with a false-positive rate at most `max_fpr`."""
    fpr, tpr, _ = roc_curve(y, scores)
    allowed = fpr <= max_fpr
    return float(tpr[allowed].max()) if allowed.any() else 0.0


def card_precision_at_k(
    days: np.ndarray,
    cards: np.ndarray,
    y: np.ndarray,
    scores: np.ndarray,
    k: int = 100,
    known_since: Mapping[Any, Any] | None = None,
) -> float:
    """Mean over days of the fraud share among the day's top-k cards (see the module's doc).

    `days` label each transaction's day (sortable; day starts as timestamps when `known_since`
    is given). `known_since` maps a card to the moment its first fraud label was reported: on
    any day starting after that moment the card is known compromised and left out.
    """
    frame = pd.DataFrame({"day": days, "card": cards, "y": y, "score": scores})
    per_card = frame.groupby(["day", "card"], sort=True).agg(score=("score", "max"), y=("y", "max"))
    known = pd.Series(known_since or {}, dtype=object)
    detected: set[Any] = set()
    precisions = []
    for this_day, group in per_card.groupby(level="day", sort=True):
        group = group.droplevel("day")
        keep = ~group.index.isin(list(detected))
        if len(known):
            since = known.reindex(group.index)
            known_before = np.array([pd.notna(t) and t < this_day for t in since], dtype=bool)
            keep &= ~known_before
        top = group[keep].nlargest(k, "score")
        found = top.index[top["y"].to_numpy() == 1]
        detected.update(found)
        precisions.append(len(found) / k)
    return float(np.mean(precisions)) if precisions else 0.0


def precision_recall_at(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    flagged = scores >= threshold
    true_positive = int((flagged & (y == 1)).sum())
    return {
        "precision": true_positive / int(flagged.sum()) if flagged.any() else 0.0,
        "recall": true_positive / int((y == 1).sum()) if (y == 1).any() else 0.0,
        "flagged_share": float(flagged.mean()) if len(flagged) else 0.0,
    }


def quality_metrics(
    y: np.ndarray,
    scores: np.ndarray,
    days: np.ndarray,
    cards: np.ndarray,
    known_since: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """AP (PR-AUC), ROC AUC, Card Precision@100 and recall at 1 % FPR."""
    if y.min() == y.max():
        raise ValueError("the split holds only one class; metrics are undefined")
    return {
        "ap": float(average_precision_score(y, scores)),
        "roc_auc": float(roc_auc_score(y, scores)),
        "cp_at_100": card_precision_at_k(days, cards, y, scores, 100, known_since),
        "recall_at_1pct_fpr": recall_at_fpr(y, scores, 0.01),
    }


def threshold_at_fpr(y: np.ndarray, scores: np.ndarray, max_fpr: float = 0.01) -> float:
    """The lowest score threshold whose false-positive rate is at most `max_fpr`."""
    fpr, _, cuts = roc_curve(y, scores)
    allowed = np.flatnonzero(fpr <= max_fpr)
    return float(cuts[allowed[-1]]) if len(allowed) else float("inf")


def known_compromised(cards: np.ndarray, fraud_reported: np.ndarray) -> dict[Any, Any]:
    """Card → its earliest fraud report, from parallel arrays of fraud rows (NaT: unreported)."""
    frame = pd.DataFrame({"card": cards, "reported": pd.to_datetime(fraud_reported, utc=True)})
    return frame.dropna().groupby("card")["reported"].min().to_dict()
