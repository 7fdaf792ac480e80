"""The labels stream: label changes → the online merchant state, exactly once.

Each change of a labels item (the table's stream, NEW_IMAGE; a local poller or a Lambda in AWS)
says a transaction's effective label now is fraud or not, reported at `reported_at`. The merchant
state the scorer reads is the sum of partial items (`lambda/scorer/state_store.py`); labels live
in their own partial, `merchant#ID#labels`, which holds the merchant's fraud labels keyed by
transaction id. Applying a change sets or removes that key, so a change delivered twice (stream
retries are at least once) changes nothing the second time; the state is rebuilt from the keys
through `MerchantState.apply_fraud_label(transaction_time_ms, reported_at_ms)` — the same call the
offline replay makes — and written only over the version read (several stream shards may touch one
merchant). A fraud label counts for the merchant's features of transactions after `reported_at`,
as offline.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from securebank.ddb import VersionConflict, from_item, get, put_versioned
from securebank.features.online import MerchantState
from securebank.features.state_item import decode_merchant, encode_merchant
from securebank.labels.model import LabelRecord
from securebank.labels.store import record_from_document
from securebank.scorer.state_store import LABELS_SLOT, partial_key

#: A label whose transaction is this much older than the newest label of its merchant no longer
#: influences any feature (the longest merchant window is 30 days) and is dropped.
RETENTION_MS = 45 * 86_400_000
UPDATE_ATTEMPTS = 8


@dataclass(frozen=True)
class LabelChange:
    transaction_id: str
    merchant_id: str
    is_fraud: bool
    transaction_time_ms: int
    reported_at_ms: int


@dataclass
class StreamReport:
    changes: int = 0
    applied: int = 0
    unchanged: int = 0
    no_merchant: int = 0
    conflicts: int = 0
    merchants: set[str] = field(default_factory=set)


def change_of(record: LabelRecord) -> LabelChange | None:
    """What a label record means for the merchant state (None: nothing, merchant unknown)."""
    if record.merchant_id is None or record.event_time_ms is None:
        return None
    return LabelChange(
        record.transaction_id,
        record.merchant_id,
        record.is_fraud,
        record.event_time_ms,
        record.reported_at_ms,
    )


def changes_from_stream(records: Iterable[dict[str, Any]]) -> list[LabelChange | None]:
    """Label changes from DynamoDB stream records (as Lambda or GetRecords delivers them)."""
    out: list[LabelChange | None] = []
    for record in records:
        image = record.get("dynamodb", {}).get("NewImage")
        if record.get("eventName") == "REMOVE" or not image:
            out.append(None)
            continue
        out.append(change_of(record_from_document(from_item(image))))
    return out


def merchant_state_from_labels(merchant_id: str, labels: dict[str, list[int]]) -> MerchantState:
    state = MerchantState(merchant_id)
    for transaction_time_ms, reported_at_ms in sorted(tuple(v) for v in labels.values()):
        state.apply_fraud_label(int(transaction_time_ms), int(reported_at_ms))
    return state


class MerchantLabelState:
    """The labels partial of each merchant in the feature-state table."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self.table = table

    def read(self, merchant_id: str) -> tuple[dict[str, list[int]], int | None]:
        document = get(self._db, self.table, "pk", partial_key(merchant_id, LABELS_SLOT))
        if document is None:
            return {}, None
        labels = {k: [int(v[0]), int(v[1])] for k, v in (document.get("labels") or {}).items()}
        return labels, int(document["version"])

    def state(self, merchant_id: str) -> MerchantState:
        document = get(self._db, self.table, "pk", partial_key(merchant_id, LABELS_SLOT))
        if document is None:
            return MerchantState(merchant_id)
        state = decode_merchant(document)
        state.merchant_id = merchant_id
        return state

    def apply(self, merchant_id: str, changes: list[LabelChange], report: StreamReport) -> None:
        for _ in range(UPDATE_ATTEMPTS):
            labels, version = self.read(merchant_id)
            updated = dict(labels)
            for change in changes:
                if change.is_fraud:
                    updated[change.transaction_id] = [
                        change.transaction_time_ms,
                        change.reported_at_ms,
                    ]
                else:
                    updated.pop(change.transaction_id, None)
            if updated:
                newest = max(r for _, r in updated.values())
                updated = {k: v for k, v in updated.items() if v[0] >= newest - RETENTION_MS}
            if updated == labels:
                report.unchanged += len(changes)
                return
            state = merchant_state_from_labels(merchant_id, updated)
            document = encode_merchant(state)
            newest_time = max((t for t, _ in updated.values()), default=0)
            document.update(
                pk=partial_key(merchant_id, LABELS_SLOT),
                labels=updated,
                version=(version or 0) + 1,
                expires_at=(newest_time + RETENTION_MS) // 1000,
                updated_at_ms=int(time.time() * 1000),
            )
            try:
                put_versioned(self._db, self.table, "pk", document, version)
            except VersionConflict:
                report.conflicts += 1
                continue
            report.applied += len(changes)
            report.merchants.add(merchant_id)
            return
        raise RuntimeError(f"labels of merchant {merchant_id} keep changing; the batch is retried")


def apply_changes(
    changes: Iterable[LabelChange | None], target: MerchantLabelState
) -> StreamReport:
    """Apply label changes in order, one conditional write per merchant."""
    report = StreamReport()
    by_merchant: dict[str, list[LabelChange]] = {}
    for change in changes:
        report.changes += 1
        if change is None:
            report.no_merchant += 1
            continue
        by_merchant.setdefault(change.merchant_id, []).append(change)
    for merchant_id, merchant_changes in by_merchant.items():
        target.apply(merchant_id, merchant_changes, report)
    return report
