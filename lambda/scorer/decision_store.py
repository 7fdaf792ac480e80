"""Decisions: what the scorer decided for each transaction, written exactly once.

The decisions table is keyed by transaction_id; a decision already made for a transaction is
never replaced, so a redelivered record never makes a second decision.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from securebank.scorer.state_store import batch_get, batch_put

_SERIALIZER = TypeSerializer()


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
        return asdict(self)

    def reasons(self) -> list[dict[str, Any]]:
        return json.loads(self.reason_codes) if self.reason_codes else []


def _item(decision: Decision) -> dict[str, Any]:
    record = decision.as_record()
    del record["features"]
    record["rule_hits"] = list(record["rule_hits"])
    record["score"] = str(record["score"])
    record["review_threshold"] = str(record["review_threshold"])
    record["decline_threshold"] = str(record["decline_threshold"])
    return {k: _SERIALIZER.serialize(v) for k, v in record.items()}


class DecisionWriter:
    """Writes each transaction's decision once.

    The existence check and the write are two calls, which is safe because a transaction's
    records all reach one shard (partition key = card) and Lambda gives a shard to one
    invocation at a time: nobody else writes that transaction_id in between. Measured on the
    local AWS, a conditional PutItem costs 4.7 ms an item against 0.6 ms in a BatchWriteItem.
    """

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self.table = table

    def existing(self, transaction_ids: list[str]) -> set[str]:
        found = batch_get(self._db, self.table, "transaction_id", transaction_ids)
        return {item["transaction_id"] for item in found}

    def write(self, decisions: list[Decision]) -> list[Decision]:
        """Write the decisions not made before; return those written."""
        made = self.existing([d.transaction_id for d in decisions])
        new = [d for d in decisions if d.transaction_id not in made]
        batch_put(self._db, self.table, [_item(d) for d in new])
        return new
