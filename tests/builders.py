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
