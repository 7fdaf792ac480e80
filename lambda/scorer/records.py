"""Decoding the Kinesis records of a Lambda event into transactions or rejections.

`decode_record` never raises for what a producer put in a record: anything that is not one small,
flat, well-formed UTF-8 JSON object with unique keys that passes the transaction contract comes
back as a `Rejection` (reasons name fields, never values), and the scorer sends it to the
dead-letter queue. Limits are checked before parsing, so a huge or deeply nested record costs a
length check and one regular-expression pass, never a RecursionError or seconds of CPU.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from securebank.contract import FieldProblem, Rejection, Transaction, parse_transaction

#: A transaction is a few hundred bytes; anything over this is refused unread.
MAX_RECORD_BYTES = 16 * 1024
#: A transaction is one flat object (depth 1); a little room, then refused unparsed.
MAX_DEPTH = 4

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


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


class _Refused(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def nesting_depth(raw: bytes) -> int:
    """The deepest bracket nesting of a JSON text, strings ignored (no recursion)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub(b'""', raw)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _Refused("a key appears twice in one object")
        document[key] = value
    return document


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def parse_document(raw: bytes) -> Any:
    """Parse one record's bytes as strict JSON within the limits; `_Refused` says why not."""
    if len(raw) > MAX_RECORD_BYTES:
        raise _Refused(f"record is {len(raw):,} bytes, over the {MAX_RECORD_BYTES:,}-byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused("data is not valid UTF-8") from None
    if nesting_depth(raw) > MAX_DEPTH:
        raise _Refused(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except _Refused:
        raise
    except (ValueError, RecursionError):
        raise _Refused("data is not a JSON document") from None


def decode_record(record: dict[str, Any], now: datetime) -> StreamRecord:
    kinesis = record.get("kinesis") or {}
    shard_id = str(record.get("eventID", "shardId-?:")).split(":")[0]
    sequence_number = str(kinesis.get("sequenceNumber", ""))
    partition_key = str(kinesis.get("partitionKey", ""))
    try:
        arrival_ms = int(float(kinesis.get("approximateArrivalTimestamp", 0)) * 1000)
    except (TypeError, ValueError):
        arrival_ms = 0
    try:
        raw = base64.b64decode(kinesis.get("data", ""), validate=True)
    except (binascii.Error, TypeError, ValueError):
        raw = b""
        parsed: Transaction | Rejection = _rejected("data is not base64")
    else:
        try:
            parsed = parse_transaction(parse_document(raw), now=now)
        except _Refused as refused:
            parsed = _rejected(refused.reason)
    return StreamRecord(
        shard_id=shard_id,
        sequence_number=sequence_number,
        partition_key=partition_key,
        arrival_ms=arrival_ms,
        transaction=parsed if isinstance(parsed, Transaction) else None,
        rejection=parsed if isinstance(parsed, Rejection) else None,
        raw=raw,
    )


def _rejected(reason: str) -> Rejection:
    return Rejection((FieldProblem("record", reason),))
