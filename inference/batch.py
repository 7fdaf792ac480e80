"""Batch scoring of a whole history with one model version (the local Batch Transform).

Features are computed offline exactly as in training; review and decline rows get reason codes
(exact TreeSHAP). Used for backtests and to score a bank's own history.
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from securebank.features.offline import build_features
from securebank.inference.explain import EXACT, reason_codes
from securebank.model_artifact import FraudModel


def score_history(
    model: FraudModel,
    transactions: pa.Table | pd.DataFrame,
    labels: pa.Table | pd.DataFrame | None,
    model_version: str,
    since: datetime | None = None,
) -> pd.DataFrame:
    """Score every transaction, or those from `since` on: earlier ones still feed the features."""
    names = model.manifest.feature_names
    features = build_features(transactions, labels)
    if since is not None:
        kept = pd.to_datetime(features["event_time"], utc=True) >= pd.Timestamp(since)
        features = features[kept.to_numpy()].reset_index(drop=True)
    x = features[names].to_numpy(dtype=np.float32)
    scores = model.booster.inplace_predict(x) if len(x) else np.empty(0, dtype=np.float32)
    decisions = model.manifest.thresholds.decide_many(scores)
    flagged = np.flatnonzero(decisions != "approve")
    reasons = [""] * len(x)
    for row, codes in zip(flagged, reason_codes(model.booster, x[flagged], names), strict=True):
        reasons[row] = json.dumps(codes)
    return pd.DataFrame(
        {
            "transaction_id": features["transaction_id"],
            "event_time": features["event_time"],
            "score": scores.astype(np.float64),
            "decision": decisions,
            "reason_codes": reasons,
            "explain_method": np.where(decisions != "approve", EXACT, ""),
            "model_version": model_version,
            "feature_set_version": model.manifest.feature_set_version,
        }
    )
