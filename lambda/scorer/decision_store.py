"""Decisions: what the scorer decided for each transaction, written exactly once.

The decisions table is keyed by transaction_id. Writing a decision is a claim: a conditional
PutItem that succeeds only if no decision exists for that transaction. Whoever loses the claim
learns who holds it (the stored item comes back with the refusal):

* the same stream record (same shard and sequence number): an earlier attempt of this batch, or a
  second consumer of the same shard, got there first; the stored decision stands and the record's
  remaining work (lake, alerts, state) is redone idempotently;
* another record (a producer retry, an API resend, the same transaction on another shard or
  under another card): a duplicate; it makes no decision and changes no state.

One conditional write per transaction replaces the earlier read-then-write (two operations),
and, unlike it, stays correct when two writers race for one transaction_id.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, fields
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


@dataclass(frozen=True)
class Decision:
    transaction_id: str
    card_id: str
    merchant_id: str
    event_time: str
    amount: str
    currency: str
    merchant_country: str
    mcc: str
    score: float
    action: str
    review_threshold: float
    decline_threshold: float
    model_version: str
    feature_set_version: str
    scored_by: str
    explain_method: str
    reason_codes: str
    shard_id: str
    sequence_number: str
    arrived_at_ms: int
    decided_at_ms: int
    #: The feature vector that was scored (manifest order): kept in the lake for audit
    #: re-scoring and drift, not in the decisions table.
    features: tuple[float | None, ...] = ()
    #: The rules (securebank.rules) that fired, the rule-set version evaluated ("" before the
    #: first approved one), and the model's own action before the rules were combined with it.
    rule_hits: tuple[str, ...] = ()
    rules_version: str = ""
    model_action: str = ""

    def as_record(self) -> dict[str, Any]:
        # What dataclasses.asdict returns for these flat fields, without its deep copy (which
        # recursed into every feature value: 0.4 ms a decision, profiled while draining).
        return {name: getattr(self, name) for name in _FIELDS}

    def reasons(self) -> list[dict[str, Any]]:
        return json.loads(self.reason_codes) if self.reason_codes else []


_FLOATS = ("score", "review_threshold", "decline_threshold")
_INTS = ("arrived_at_ms", "decided_at_ms")
_FIELDS = tuple(f.name for f in fields(Decision))
_STORED = [name for name in _FIELDS if name != "features"]


def decision_item(decision: Decision) -> dict[str, Any]:
    record = decision.as_record()
    del record["features"]
    record["rule_hits"] = list(record["rule_hits"])
    for name in _FLOATS:
        record[name] = str(record[name])
    return {k: _SERIALIZER.serialize(v) for k, v in record.items()}


def decision_from_item(item: dict[str, Any], features: tuple[float | None, ...] = ()) -> Decision:
    """The stored decision; attributes other writers added are ignored, missing ones empty."""
    plain = {k: _DESERIALIZER.deserialize(v) for k, v in item.items() if k in _STORED}
    for name in _STORED:
        plain.setdefault(name, "")
    for name in _FLOATS:
        plain[name] = float(plain[name] or 0)
    for name in _INTS:
        plain[name] = int(plain[name] or 0)
    plain["rule_hits"] = tuple(plain["rule_hits"] or ())
    return Decision(**plain, features=features)


@dataclass
class Claims:
    """The outcome of claiming a batch's decisions, each list in batch order."""

    #: Decided now.
    new: list[Decision] = field(default_factory=list)
    #: Decided by an earlier attempt of the same record: the stored decision.
    resumed: list[Decision] = field(default_factory=list)
    #: Transactions another record already decided (duplicates): no decision, no state.
    duplicates: list[Decision] = field(default_factory=list)


class DecisionStore:
    """Claims each transaction's decision with a conditional write, in parallel."""

    def __init__(self, dynamodb: Any, table: str, pool: Executor) -> None:
        self._db = dynamodb
        self._pool = pool
        self.table = table

    def _claim(self, decision: Decision) -> tuple[str, Decision]:
        try:
            self._db.put_item(
                TableName=self.table,
                Item=decision_item(decision),
                ConditionExpression="attribute_not_exists(transaction_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return "new", decision
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            stored = error.response.get("Item") or self._get(decision.transaction_id)
        held = decision_from_item(stored, decision.features)
        same_record = (held.shard_id, held.sequence_number) == (
            decision.shard_id,
            decision.sequence_number,
        )
        return ("resumed", held) if same_record else ("duplicate", decision)

    def _get(self, transaction_id: str) -> dict[str, Any]:
        return self._db.get_item(
            TableName=self.table,
            Key={"transaction_id": {"S": transaction_id}},
            ConsistentRead=True,
        )["Item"]

    def claim(self, decisions: Sequence[Decision]) -> Claims:
        claims = Claims()
        for outcome, decision in self._pool.map(self._claim, decisions):
            getattr(claims, outcome if outcome != "duplicate" else "duplicates").append(decision)
        return claims


@dataclass
class DecisionSummary:
    """The decisions table at a glance: decisions per action and per scorer (model or fallback),
    and every decision's put -> decision latency."""

    actions: Counter[str] = field(default_factory=Counter)
    scored_by: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[int] = field(default_factory=list)


def summarize_decisions(dynamodb: Any, table: str) -> DecisionSummary:
    """Scan the decisions table (a whole-table read: for the local stack and small tables)."""
    summary = DecisionSummary()
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            summary.actions[item["action"]["S"]] += 1
            summary.scored_by[item["scored_by"]["S"]] += 1
            summary.latencies_ms.append(
                int(item["decided_at_ms"]["N"]) - int(item["arrived_at_ms"]["N"])
            )
    return summary
