"""Decoding the Kinesis records of a Lambda event into transactions or rejections."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from securebank.contract import Rejection, Transaction, parse_transaction


@dataclass(frozen=True)
class StreamRecord:
    shard_id: str
    sequence_number: str
    partition_key: str
    arrival_ms: int
    transaction: Transaction | None
    rejection: Rejection | None
    raw: bytes

    @property
    def sequence(self) -> int:
        """Kinesis sequence numbers increase within a shard; compared as integers."""
        return int(self.sequence_number)


def decode_record(record: dict[str, Any], now: datetime) -> StreamRecord:
    kinesis = record["kinesis"]
    shard_id = record.get("eventID", "shardId-?:").split(":")[0]
    raw = base64.b64decode(kinesis["data"])
    arrival_ms = int(float(kinesis.get("approximateArrivalTimestamp", 0)) * 1000)
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        document = None
    parsed = parse_transaction(document, now=now) if document is not None else None
    if parsed is None:
        from securebank.contract import FieldProblem

        parsed = Rejection((FieldProblem("record", "data is not a JSON document"),))
    return StreamRecord(
        shard_id=shard_id,
        sequence_number=kinesis["sequenceNumber"],
        partition_key=kinesis["partitionKey"],
        arrival_ms=arrival_ms,
        transaction=parsed if isinstance(parsed, Transaction) else None,
        rejection=parsed if isinstance(parsed, Rejection) else None,
        raw=raw,
    )
