"""Alerts and decisions shaped as the scorer makes them, for the operations tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def alert(tid: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "transaction_id": tid,
        "card_id": "card-1",
        "merchant_id": "m-1",
        "event_time": "2026-09-01T10:00:00+00:00",
        "amount": "125.50",
        "currency": "USD",
        "action": "review",
        "score": 0.91,
        "model_version": "3",
        "scored_by": "endpoint",
        "reason_codes": [{"feature": "card_count_1h", "contribution": 1.2}],
        "feature_set_version": "none",
        "features": [],
    }
    body.update(overrides)
    return body


def alert_json(tid: str, **overrides: Any) -> str:
    return json.dumps(alert(tid, **overrides))


def put_decision(dynamodb: Any, table: str, tid: str, merchant: str, event_time: str) -> None:
    dynamodb.put_item(
        TableName=table,
        Item={
            "transaction_id": {"S": tid},
            "merchant_id": {"S": merchant},
            "card_id": {"S": "card-1"},
            "event_time": {"S": event_time},
        },
    )


@contextmanager
def labels_keep_changing(labels: Any, rival: Any) -> Iterator[list[str]]:
    """While open, every read `labels` (a LabelStore) makes of a label is followed by a write to
    that label by `rival` (another LabelStore on the same table): a new fraud report each time,
    so each write `labels` then tries is refused by DynamoDB's version condition. Yields the ids
    the rival wrote, one entry per write."""
    from securebank.labels.model import LabelEvent, LabelSource

    read = labels.get
    written: list[str] = []

    def read_then_rival_writes(transaction_id: str) -> Any:
        before = read(transaction_id)
        at = 1_790_000_000_000 + len(written)
        rival.record(LabelEvent(transaction_id, True, at, LabelSource.REPORT, "rival"), None)
        written.append(transaction_id)
        return before

    labels.get = read_then_rival_writes
    try:
        yield written
    finally:
        del labels.get
