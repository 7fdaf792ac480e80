"""Model quality metrics for fraud detection, on scores and ground truth.

Card Precision@k follows the Fraud Detection Handbook (Le Borgne et al.): per day, rank cards by
their highest score that day, take the top k, and count the share that had a fraudulent
transaction that day; the metric is the mean over days. It is what a team of analysts who can
check k cards a day would find.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve


def recall_at_fpr(y: np.ndarray, scores: np.ndarray, max_fpr: float = 0.01) -> float:
    """The highest true-positive rate reachable with a false-positive rate at most `max_fpr`."""
    fpr, tpr, _ = roc_curve(y, scores)
    allowed = fpr <= max_fpr
    return float(tpr[allowed].max()) if allowed.any() else 0.0


def card_precision_at_k(
    days: np.ndarray, cards: np.ndarray, y: np.ndarray, scores: np.ndarray, k: int = 100
) -> float:
    frame = pd.DataFrame({"day": days, "card": cards, "y": y, "score": scores})
    per_card = frame.groupby(["day", "card"], sort=False).agg(
        score=("score", "max"), y=("y", "max")
    )
    precisions = []
    for _, group in per_card.groupby(level="day", sort=True):
        top = group.nlargest(k, "score")
        precisions.append(top["y"].sum() / k)
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
    y: np.ndarray, scores: np.ndarray, days: np.ndarray, cards: np.ndarray
) -> dict[str, float]:
    """AP (PR-AUC), ROC AUC, Card Precision@100 and recall at 1 % FPR."""
    if y.min() == y.max():
        raise ValueError("the split holds only one class; metrics are undefined")
    return {
        "ap": float(average_precision_score(y, scores)),
        "roc_auc": float(roc_auc_score(y, scores)),
        "cp_at_100": card_precision_at_k(days, cards, y, scores, 100),
        "recall_at_1pct_fpr": recall_at_fpr(y, scores, 0.01),
    }
