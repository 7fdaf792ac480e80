"""The fraud-operations adapters, built once from clients and names, shared by the CLI, the
HTTP routes and the console."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from securebank.cases.model import Case, CaseStatus, assign
from securebank.cases.store import CaseStore
from securebank.labels.model import LabelSource
from securebank.labels.outcomes import (
    OutcomeReport,
    parse_outcome_rows,
    record_outcomes,
    resolve_case,
)
from securebank.labels.store import DecisionLookup, LabelLog, LabelStore, iso_ms
from securebank.resources import DECISIONS_BY_CARD_INDEX, ResourceNames
from securebank.scorer.state_store import batch_get


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Operations:
    cases: CaseStore
    labels: LabelStore
    lookup: DecisionLookup
    log: LabelLog | None
    dynamodb: Any
    decisions_table: str
    clock: Callable[[], int] = field(default=now_ms)

    @classmethod
    def build(cls, aws: Any, names: ResourceNames) -> Operations:
        db = aws.client("dynamodb")
        return cls(
            cases=CaseStore(db, names.cases_table),
            labels=LabelStore(db, names.labels_table),
            lookup=DecisionLookup(db, names.decisions_table),
            log=LabelLog(aws.client("s3"), names.lake_bucket),
            dynamodb=db,
            decisions_table=names.decisions_table,
        )

    def queue(self, limit: int = 200) -> list[Case]:
        return self.cases.list((CaseStatus.OPEN, CaseStatus.ASSIGNED), limit)

    def assign(self, case_id: str, to: str, who: str) -> Case:
        when = iso_ms(self.clock())
        return self.cases.update(case_id, lambda c: assign(c, to, who, when))

    def resolve(self, case_id: str, outcome: str, note: str, who: str) -> Case:
        return resolve_case(
            self.cases, self.labels, self.log, case_id, outcome, note, who, self.clock()
        )

    def import_outcomes(
        self, rows: list[Any], by: str, default_source: LabelSource = LabelSource.CHARGEBACK
    ) -> OutcomeReport:
        events, rejected = parse_outcome_rows(rows, by, default_source)
        report = OutcomeReport(rows=len(rows), accepted=len(events), rejected=rejected)
        return record_outcomes(events, self.labels, self.lookup, self.log, report)

    def card_history(self, card_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The card's latest decisions, newest first (the case page's timeline)."""
        response = self.dynamodb.query(
            TableName=self.decisions_table,
            IndexName=DECISIONS_BY_CARD_INDEX,
            KeyConditionExpression="card_id = :c",
            ExpressionAttributeValues={":c": {"S": card_id}},
            ScanIndexForward=False,
            Limit=limit,
        )
        keys = [item["transaction_id"]["S"] for item in response.get("Items", [])]
        found = {
            d["transaction_id"]: d
            for d in batch_get(self.dynamodb, self.decisions_table, "transaction_id", keys)
        }
        return [found[k] for k in keys if k in found]
