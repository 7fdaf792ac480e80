"""Builders for hand-made transactions and histories used across the tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, noon UTC
NEW_YORK = (40.7128, -74.0060)
LOS_ANGELES = (34.0522, -118.2437)


def txn(tid: str, at: datetime, **fields: object) -> dict[str, object]:
    """A contract-valid transaction record; `fields` override the defaults."""
    record: dict[str, object] = {
        "transaction_id": tid,
        "event_time": at,
        "card_id": "tok_a",
        "customer_id": "cus_a",
        "merchant_id": "mer_1",
        "mcc": "5411",
        "amount": "10.00",
        "currency": "USD",
        "merchant_country": "US",
        "merchant_lat": None,
        "merchant_lon": None,
        "channel": "pos",
        "device_id": None,
        "status": "approved",
    }
    record.update(fields)
    return record


def frame(records: list[dict[str, object]]) -> pd.DataFrame:
    df = pd.DataFrame(records)
    df["event_time"] = pd.to_datetime(df["event_time"], utc=True)
    df["merchant_lat"] = df["merchant_lat"].astype("float64")
    df["merchant_lon"] = df["merchant_lon"].astype("float64")
    return df


def labels_frame(rows: list[tuple[str, datetime]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": [r[0] for r in rows],
            "is_fraud": [True] * len(rows),
            "reported_at": pd.to_datetime([r[1] for r in rows], utc=True),
        }
    )


HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def make_model_dir(folder, seed: int, feature_set_version: str | None = None):
    """A small real XGBoost model on the platform's feature names, saved as a model folder."""
    import numpy as np
    import xgboost as xgb

    from securebank.features.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
    from securebank.model_artifact import ModelManifest, save_model_dir

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2000, len(FEATURE_NAMES))).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 1.5).astype(int)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "seed": seed},
        xgb.DMatrix(x, label=y, feature_names=list(FEATURE_NAMES)),
        20,
    )
    manifest = ModelManifest(
        feature_names=list(FEATURE_NAMES),
        feature_set_version=feature_set_version or FEATURE_SET_VERSION,
        review_threshold=0.5,
        decline_threshold=0.9,
        threshold_rule="test",
        training_range={},
    )
    save_model_dir(folder, booster, manifest)
    return folder, booster, x
