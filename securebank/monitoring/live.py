"""Reading what the performance report needs: decisions from the lake, labels from the table."""

from __future__ import annotations

from typing import Any

import pandas as pd

from securebank.analytics.lake import read_decisions
from securebank.features.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from securebank.labels.store import LabelStore
from securebank.monitoring.performance import EffectiveLabel, decision_frame


def live_decisions(s3: Any, lake_bucket: str) -> pd.DataFrame:
    table = read_decisions(s3, lake_bucket)
    if "action" not in table.column_names:
        return decision_frame([], {})
    return decision_frame(table.to_pylist(), {FEATURE_SET_VERSION: FEATURE_NAMES})


def live_labels(labels: LabelStore) -> dict[str, EffectiveLabel]:
    return {r.transaction_id: EffectiveLabel(r.is_fraud, r.reported_at_ms) for r in labels.scan()}
