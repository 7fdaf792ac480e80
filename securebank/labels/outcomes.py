"""Outcomes → labels: analyst resolutions and chargeback files become label events.

`parse_outcome_rows` validates rows from a file or an HTTP body (one clear reason per refused
row, nothing else refused); `record_outcomes` writes the accepted events to the labels table (the
merchant and time of each transaction from its decision) and to the lake's label log;
`resolve_case` closes a case and records the analyst's outcome as a label. `write_chargeback_file`
writes a dataset's fraud labels as a bank's chargeback file (the demo's).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from securebank.cases.model import Case, CaseError, CaseStatus, Outcome, check_case_id, resolve
from securebank.cases.store import CaseStore
from securebank.labels.model import LabelEvent, LabelSource
from securebank.labels.store import (
    DecisionLookup,
    LabelLog,
    LabelStore,
    TransactionFacts,
    iso_ms,
    parse_time_ms,
)
from securebank.pan import contains_pan

if TYPE_CHECKING:
    import pyarrow as pa

MAX_ROWS = 100_000
_TRUE = {"true", "1", "yes", "fraud", "y", "t"}
_FALSE = {"false", "0", "no", "legit", "n", "f"}


class OutcomeFileError(ValueError):
    """The file as a whole cannot be read (not its rows: those are refused one by one)."""


@dataclass
class OutcomeReport:
    rows: int = 0
    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    recorded: int = 0
    unchanged: int = 0
    changed: int = 0
    unknown_transaction: int = 0
    lake_key: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "recorded": self.recorded,
            "unchanged": self.unchanged,
            "label_changed": self.changed,
            "unknown_transaction": self.unknown_transaction,
        }


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def parse_outcome_rows(
    rows: Sequence[Any], by: str, default_source: LabelSource = LabelSource.CHARGEBACK
) -> tuple[list[LabelEvent], list[dict[str, Any]]]:
    """Events from rows `{transaction_id, reported_at, is_fraud?, source?, note?}`.

    `is_fraud` defaults to true (a chargeback is a fraud report); `reported_at` is ISO 8601 (a
    naive time is UTC); `source` is chargeback or report (analysts label through cases)."""
    events, rejected = [], []
    for index, row in enumerate(rows):
        problem = None
        if not isinstance(row, dict):
            problem = "a row must be an object"
        else:
            tid = str(row.get("transaction_id") or "").strip()
            flag = _flag(row.get("is_fraud", True))
            source = str(row.get("source") or default_source.value).strip().lower()
            try:
                check_case_id(tid)
            except ValueError:
                problem = "transaction_id is missing or not a valid id"
            if problem is None and contains_pan(str(row.get("note", ""))):
                problem = "note looks like it holds a card number"
            if problem is None and flag is None:
                problem = "is_fraud must be true or false"
            if problem is None and source not in (LabelSource.CHARGEBACK, LabelSource.REPORT):
                problem = "source must be chargeback or report"
            if problem is None:
                try:
                    reported = parse_time_ms(str(row.get("reported_at") or ""))
                except ValueError:
                    problem = "reported_at must be an ISO 8601 time"
        if problem is not None:
            entry: dict[str, Any] = {"row": index + 1, "reason": problem}
            shown = str(row.get("transaction_id") or "")[:64] if isinstance(row, dict) else ""
            if shown and not contains_pan(shown):
                entry["transaction_id"] = shown
            rejected.append(entry)
            continue
        events.append(
            LabelEvent(
                tid, bool(flag), reported, LabelSource(source), by, str(row.get("note", ""))[:500]
            )
        )
    return events, rejected


def read_outcome_file(path: Path) -> list[Any]:
    """Rows of a CSV (with a header) or JSON-lines file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise OutcomeFileError(f"cannot read {path}: {error}") from error
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        rows: list[Any] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError:
                rows.append(f"line {number} is not JSON")
    else:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "transaction_id" not in reader.fieldnames:
            raise OutcomeFileError(f"{path}: a CSV needs a header with transaction_id")
        rows = list(reader)
    if len(rows) > MAX_ROWS:
        raise OutcomeFileError(f"{path}: at most {MAX_ROWS:,} rows per file")
    return rows


def write_chargeback_file(
    labels: pa.Table, transaction_ids: pa.Array | pa.ChunkedArray, out: Path
) -> set[str]:
    """The fraud labels of `transaction_ids` as a chargeback CSV (`transaction_id, reported_at,
    is_fraud`), what `outcomes import` reads; returns the transaction ids written."""
    import pyarrow.compute as pc  # here: the Lambda handlers importing this module need no Arrow

    mask = pc.and_(pc.is_in(labels["transaction_id"], transaction_ids), labels["is_fraud"])
    rows = labels.filter(mask).to_pylist()
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = ["transaction_id,reported_at,is_fraud"]
    lines += [f"{r['transaction_id']},{r['reported_at'].isoformat()},true" for r in rows]
    out.write_text("\n".join(lines) + "\n")
    return {r["transaction_id"] for r in rows}


def record_outcomes(
    events: Sequence[LabelEvent],
    labels: LabelStore,
    lookup: DecisionLookup,
    log: LabelLog | None,
    report: OutcomeReport,
    facts: dict[str, TransactionFacts] | None = None,
) -> OutcomeReport:
    """Write each event to its transaction's label record, then the events to the lake."""
    known = dict(facts or {})
    missing = [e.transaction_id for e in events if e.transaction_id not in known]
    if missing:
        known.update(lookup.find(missing))
    for event in events:
        fact = known.get(event.transaction_id)
        if fact is None:
            report.unknown_transaction += 1
        before, after = labels.record(event, fact)
        if after is before:
            report.unchanged += 1
            continue
        report.recorded += 1
        if before is not None and (before.is_fraud, before.reported_at_ms) != (
            after.is_fraud,
            after.reported_at_ms,
        ):
            report.changed += 1
    if log is not None:
        report.lake_key = log.write(events)
    return report


def resolve_case(
    cases: CaseStore,
    labels: LabelStore,
    log: LabelLog | None,
    case_id: str,
    outcome: str,
    note: str,
    who: str,
    now_ms: int,
) -> Case:
    """Resolve the case, then record a fraud or legit outcome as an analyst label.

    The label's `reported_at` is the case's resolution time, so repeating the request after a
    failure between the two writes records the same label event once (the case is already
    resolved with that outcome: the request is answered, not refused)."""
    check_case_id(case_id)
    try:
        case = cases.update(case_id, lambda c: resolve(c, outcome, note, who, iso_ms(now_ms)))
    except CaseError:
        case = cases.get(case_id)
        if case.status is not CaseStatus.RESOLVED or case.outcome != outcome:
            raise
    if case.outcome in (Outcome.FRAUD, Outcome.LEGIT) and case.resolved_at is not None:
        resolver = next((a.who for a in reversed(case.audit) if a.what == "resolved"), who)
        event = LabelEvent(
            case.transaction_id,
            case.outcome is Outcome.FRAUD,
            parse_time_ms(case.resolved_at),
            LabelSource.ANALYST,
            resolver,
            case.note[:500],
        )
        facts = {
            case.transaction_id: TransactionFacts(case.merchant_id, parse_time_ms(case.event_time))
        }
        record_outcomes([event], labels, _NoLookup(), log, OutcomeReport(), facts)
    return case


class _NoLookup(DecisionLookup):
    def __init__(self) -> None:
        pass

    def find(self, transaction_ids: Sequence[str]) -> dict[str, TransactionFacts]:
        return {}
