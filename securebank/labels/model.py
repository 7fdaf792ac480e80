"""Label records: one per transaction, built from outcome events with an override rule. Pure.

Outcomes arrive from analysts (a resolved case) and from chargeback or fraud-report files. Each
is a `LabelEvent`; a transaction's `LabelRecord` keeps every event (the history) and the
effective label:

* an event from a more authoritative source wins over a less authoritative one: a chargeback
  overrides an analyst's "legit" (and an analyst cannot override a chargeback);
* among events of the same authority, the latest reported wins;
* `reported_at` of the record is when the effective value started to hold: a chargeback
  confirming an analyst's "fraud" keeps the analyst's time, because the fraud was known then.

This is the point-in-time meaning the features use: a fraud label counts from `reported_at` on.
An analyst outcome of "unknown" makes no label.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any


class LabelSource(StrEnum):
    ANALYST = "analyst"
    CHARGEBACK = "chargeback"
    #: A bank's own fraud-report file (as authoritative as a chargeback).
    REPORT = "report"


AUTHORITY = {LabelSource.ANALYST: 1, LabelSource.CHARGEBACK: 2, LabelSource.REPORT: 2}


@dataclass(frozen=True)
class LabelEvent:
    transaction_id: str
    is_fraud: bool
    reported_at_ms: int
    source: LabelSource
    by: str
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "source": self.source.value}

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> LabelEvent:
        return cls(
            transaction_id=str(document["transaction_id"]),
            is_fraud=bool(document["is_fraud"]),
            reported_at_ms=int(document["reported_at_ms"]),
            source=LabelSource(document["source"]),
            by=str(document["by"]),
            note=str(document.get("note", "")),
        )


@dataclass(frozen=True)
class LabelRecord:
    transaction_id: str
    is_fraud: bool
    reported_at_ms: int
    source: LabelSource
    #: The transaction's merchant and time (from its decision), so that the labels stream can
    #: update the merchant's state; None when the transaction was never scored here.
    merchant_id: str | None
    event_time_ms: int | None
    history: tuple[LabelEvent, ...] = field(default_factory=tuple)
    version: int = 0

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["source"] = self.source.value
        document["history"] = [e.as_dict() for e in self.history]
        return document

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> LabelRecord:
        return cls(
            transaction_id=str(document["transaction_id"]),
            is_fraud=bool(document["is_fraud"]),
            reported_at_ms=int(document["reported_at_ms"]),
            source=LabelSource(document["source"]),
            merchant_id=document.get("merchant_id"),
            event_time_ms=None
            if document.get("event_time_ms") is None
            else int(document["event_time_ms"]),
            history=tuple(LabelEvent.from_dict(e) for e in document.get("history") or ()),
            version=int(document.get("version", 0)),
        )


def _effective(history: tuple[LabelEvent, ...]) -> LabelEvent:
    """The winning event: highest authority, then latest reported (then latest recorded)."""
    best = history[0]
    for event in history[1:]:
        if (AUTHORITY[event.source], event.reported_at_ms) >= (
            AUTHORITY[best.source],
            best.reported_at_ms,
        ):
            best = event
    return best


def _since(history: tuple[LabelEvent, ...], winner: LabelEvent) -> int:
    """When the winner's value started to hold: the earliest report of the same value that is
    not older than the latest report of the opposite value from an event of the same or
    higher authority."""
    flips = [
        e.reported_at_ms
        for e in history
        if e.is_fraud != winner.is_fraud and AUTHORITY[e.source] >= AUTHORITY[winner.source]
    ]
    last_flip = max(flips, default=None)
    same = [
        e.reported_at_ms
        for e in history
        if e.is_fraud == winner.is_fraud and (last_flip is None or e.reported_at_ms >= last_flip)
    ]
    return min(same, default=winner.reported_at_ms)


def apply_event(
    record: LabelRecord | None,
    event: LabelEvent,
    merchant_id: str | None = None,
    event_time_ms: int | None = None,
) -> LabelRecord:
    """The record after `event`. An event already in the history changes nothing (an outcome
    delivered twice is one event)."""
    if record is not None and event.transaction_id != record.transaction_id:
        raise ValueError("event is for another transaction")
    if record is not None and event in record.history:
        return record
    history = (*(record.history if record else ()), event)
    winner = _effective(history)
    return LabelRecord(
        transaction_id=event.transaction_id,
        is_fraud=winner.is_fraud,
        reported_at_ms=_since(history, winner),
        source=winner.source,
        merchant_id=record.merchant_id if record and record.merchant_id else merchant_id,
        event_time_ms=record.event_time_ms
        if record and record.event_time_ms is not None
        else event_time_ms,
        history=history,
        version=record.version if record else 0,
    )


def changed(before: LabelRecord | None, after: LabelRecord) -> bool:
    """Whether the effective label differs (what the labels stream must act on)."""
    if before is None:
        return True
    return (before.is_fraud, before.reported_at_ms, before.merchant_id, before.event_time_ms) != (
        after.is_fraud,
        after.reported_at_ms,
        after.merchant_id,
        after.event_time_ms,
    )


def with_version(record: LabelRecord, version: int) -> LabelRecord:
    return replace(record, version=version)
