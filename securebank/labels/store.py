"""The labels table (one item per transaction, with its history), the lake's label log, and the
lookup of a transaction's merchant and time from the decisions table.

Labels item: `transaction_id` (key), `is_fraud`, `reported_at_ms`, `reported_at` (ISO),
`source`, `merchant_id`, `event_time_ms`, `history` (JSON list of events), `version`. The table's
stream (NEW_IMAGE) feeds `labels.stream`, which updates the online merchant state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from securebank.cases.model import CaseConflict
from securebank.ddb import VersionConflict, from_item, get, put_versioned
from securebank.labels.model import LabelEvent, LabelRecord, apply_event
from securebank.scorer.state_store import batch_get

UPDATE_ATTEMPTS = 5
LABEL_EVENTS_PREFIX = "labels/events/"


class LabelConflict(CaseConflict):
    """A transaction's label changed under each of `UPDATE_ATTEMPTS` writes in a row.

    A conflict to retry (HTTP 409), not a fault (500) nor a bad request: sent again, the same
    outcome can succeed, and an event already recorded is recorded once. A `CaseConflict`, so the
    routes, the console and the CLI answer it as they answer a case that keeps changing."""


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def parse_time_ms(text: str) -> int:
    """Milliseconds since the epoch of an ISO time; a naive time is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _document(record: LabelRecord) -> dict[str, Any]:
    return {
        "transaction_id": record.transaction_id,
        "is_fraud": record.is_fraud,
        "reported_at_ms": record.reported_at_ms,
        "reported_at": iso_ms(record.reported_at_ms),
        "source": record.source.value,
        "merchant_id": record.merchant_id,
        "event_time_ms": record.event_time_ms,
        "history": json.dumps([e.as_dict() for e in record.history], separators=(",", ":")),
        "version": record.version,
    }


def record_from_document(document: dict[str, Any]) -> LabelRecord:
    """A label record from a labels item (as the table or its stream holds it)."""
    body = dict(document)
    body["history"] = json.loads(body.get("history") or "[]")
    return LabelRecord.from_dict(body)


@dataclass(frozen=True)
class TransactionFacts:
    merchant_id: str
    event_time_ms: int


class DecisionLookup:
    """Where a transaction happened and when, from the decisions table."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self.table = table

    def find(self, transaction_ids: Sequence[str]) -> dict[str, TransactionFacts]:
        found = batch_get(self._db, self.table, "transaction_id", sorted(set(transaction_ids)))
        return {
            item["transaction_id"]: TransactionFacts(
                item["merchant_id"], parse_time_ms(item["event_time"])
            )
            for item in found
        }


@dataclass
class RecordResult:
    recorded: int = 0
    unchanged: int = 0
    changed: int = 0
    unknown_transaction: int = 0


class LabelStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self.table = table

    def get(self, transaction_id: str) -> LabelRecord | None:
        document = get(self._db, self.table, "transaction_id", transaction_id)
        return None if document is None else record_from_document(document)

    def record(
        self, event: LabelEvent, facts: TransactionFacts | None
    ) -> tuple[LabelRecord | None, LabelRecord]:
        """Apply one event to its transaction's record (conditional on the version read);
        returns (before, after). An event already in the history writes nothing."""
        for _ in range(UPDATE_ATTEMPTS):
            before = self.get(event.transaction_id)
            after = apply_event(
                before,
                event,
                None if facts is None else facts.merchant_id,
                None if facts is None else facts.event_time_ms,
            )
            if after is before:
                return before, after
            stored = replace(after, version=(before.version if before else 0) + 1)
            try:
                put_versioned(
                    self._db,
                    self.table,
                    "transaction_id",
                    _document(stored),
                    None if before is None else before.version,
                )
            except VersionConflict:
                continue
            return before, stored
        raise LabelConflict(f"label of {event.transaction_id} keeps changing; try again")

    def scan(self) -> Iterable[LabelRecord]:
        for page in self._db.get_paginator("scan").paginate(TableName=self.table):
            for item in page["Items"]:
                yield record_from_document(from_item(item))


class LabelLog:
    """Every label event in the lake as JSON lines, one object per write, keyed by content, so
    writing the same events again replaces the object instead of adding one."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def write(self, events: Sequence[LabelEvent]) -> str | None:
        if not events:
            return None
        body = "".join(json.dumps(e.as_dict(), sort_keys=True) + "\n" for e in events).encode()
        day = iso_ms(min(e.reported_at_ms for e in events))[:10]
        key = f"{LABEL_EVENTS_PREFIX}date={day}/{hashlib.sha256(body).hexdigest()[:20]}.jsonl"
        self._s3.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson"
        )
        return key
