"""Replaying transactions into the stream in event-time order, at a bounded rate.

Records are the contract's JSON (amounts as decimal strings at the currency's exponent),
partitioned by card so each card's transactions stay in order on one shard. put_records takes
up to 500 records a call; records the stream refuses (throttling) are sent again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from securebank.reference import currency_exponent
from securebank.retry import retry_leftovers

PUT_LIMIT = 500


@dataclass
class SendSummary:
    sent: int
    resent: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def contract_json(row: dict[str, Any]) -> bytes:
    record = dict(row)
    quantum = Decimal(1).scaleb(-currency_exponent(record["currency"]))
    record["amount"] = str(Decimal(record["amount"]).quantize(quantum))
    record["event_time"] = record["event_time"].isoformat()
    for key in ("merchant_lat", "merchant_lon"):
        value = record.get(key)
        if value is not None and value != value:
            record[key] = None
    return json.dumps(record, separators=(",", ":")).encode()


def select(transactions: pa.Table, since: datetime | None, count: int | None) -> pa.Table:
    """Rows at or after `since`, in (event_time, transaction_id) order, at most `count`."""
    if since is not None:
        transactions = transactions.filter(
            pc.greater_equal(
                transactions["event_time"], pa.scalar(since, pa.timestamp("ms", tz="UTC"))
            )
        )
    ordered = transactions.sort_by([("event_time", "ascending"), ("transaction_id", "ascending")])
    return ordered.slice(0, count) if count is not None else ordered


def with_poison(payloads: list[tuple[str, bytes]], count: int) -> list[tuple[str, bytes]]:
    """`payloads` with `count` malformed records spread evenly among them (a negative amount and
    nothing else), to show that bad input goes to the dead-letter queue and costs nothing else."""
    mixed = list(payloads)
    for i in range(count):
        bad = json.dumps({"transaction_id": f"poison-{i}", "amount": "-1"}).encode()
        mixed.insert((i + 1) * len(mixed) // (count + 1), (f"poison-{i}", bad))
    return mixed


def send(
    kinesis: Any,
    stream: str,
    payloads: Iterable[tuple[str, bytes]],
    rate: float,
    duration_s: float | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> SendSummary:
    """Put (partition key, data) pairs at about `rate` per second; stop after `duration_s`."""
    started = time.monotonic()
    sent = resent = 0
    chunk: list[dict[str, Any]] = []
    step = max(1, min(PUT_LIMIT, int(rate / 20) or 1))

    def put(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal sent, resent
        response = kinesis.put_records(StreamName=stream, Records=entries)
        failed = [e for e, r in zip(entries, response["Records"], strict=True) if "ErrorCode" in r]
        sent += len(entries) - len(failed)
        resent += len(failed)
        return failed

    def flush() -> None:
        # throttled entries are re-sent with jittered backoff, a bounded number of times
        retry_leftovers(put, chunk, what="kinesis put_records")
        if on_progress is not None:
            on_progress(sent)

    for key, data in payloads:
        if duration_s is not None and time.monotonic() - started >= duration_s:
            break
        chunk.append({"PartitionKey": key, "Data": data})
        if len(chunk) >= step:
            flush()
            chunk = []
            ahead = (sent / rate) - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    if chunk:
        flush()
    return SendSummary(sent=sent, resent=resent, seconds=time.monotonic() - started)


def stream_records(kinesis: Any, stream: str) -> Iterator[dict[str, Any]]:
    """Every record the stream holds now, shard by shard from the trim horizon, each shard read
    until it is caught up (for checks of what was put; the scorer reads through its mapping)."""
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            yield from page["Records"]
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
