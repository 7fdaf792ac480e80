"""Idempotency of the ingest API on transaction_id: durable across restarts and processes.

A transaction id is claimed with a conditional write before it is put on the stream, and the claim
records a hash of the validated transaction. The same id again is a duplicate (answered, not
enqueued again) when the body is the same, and a conflict (409) when it is not. Claims expire after
the idempotency window (DynamoDB TTL on `expires_at`; the condition also treats an expired item as
absent, since TTL deletes lazily).

A claim is `pending` until the put on the stream succeeded, then `accepted`. If the process dies in
between, the pending claim goes stale after `pending_seconds` and a retry of the same body takes it
over and enqueues the transaction: nothing is lost, and a record put twice on the stream is decided
once (the scorer is idempotent on transaction_id). A failed put releases the claim at once.

`DynamoIdempotency` is the real store (table `ResourceNames.idempotency_table`); `SeenWindow` in
limits.py keeps the same contract in memory for one process.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from typing import Any, Protocol

#: How long an id stays claimed (the idempotency window).
WINDOW_SECONDS = 86_400
#: After this long a `pending` claim is taken to belong to a process that died before enqueuing.
PENDING_SECONDS = 30
TTL_ATTRIBUTE = "expires_at"


class Outcome(StrEnum):
    NEW = "new"  # claimed: put it on the stream, then confirm (or release)
    DUPLICATE = "duplicate"  # same id, same body: already accepted (or being accepted)
    CONFLICT = "conflict"  # same id, another body: refused (409)
    RETRY = "retry"  # could not be decided now (a race, a store error): the client retries


#: (transaction_id, hash of the validated transaction)
Claim = tuple[str, str]


class IdempotencyStore(Protocol):
    def claim(self, claims: Sequence[Claim]) -> list[Outcome]: ...
    def confirm(self, claims: Sequence[Claim]) -> None: ...
    def flush(self) -> None: ...
    def release(self, claims: Sequence[Claim]) -> None: ...


def body_hash(canonical_json: str) -> str:
    """Hash of a transaction's canonical JSON (the validated model's dump, so `10.0` and `10.00`
    or two spellings of one instant are the same body)."""
    return hashlib.sha256(canonical_json.encode()).hexdigest()[:32]


def table_exists(dynamodb: Any, table: str) -> bool:
    """Whether the claims table exists (the server refuses to start without it)."""
    try:
        dynamodb.describe_table(TableName=table)
    except dynamodb.exceptions.ResourceNotFoundException:
        return False
    return True


class DynamoIdempotency:
    """Claims as conditional writes in a DynamoDB table keyed by `transaction_id`."""

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        window_seconds: int = WINDOW_SECONDS,
        pending_seconds: int = PENDING_SECONDS,
        clock: Callable[[], float] = time.time,
        parallel: int = 16,
        confirm_delay: float = 0.02,
    ) -> None:
        self.dynamodb, self.table = dynamodb, table
        self.window, self.pending = window_seconds, pending_seconds
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="idempotency")
        self.confirm_delay = confirm_delay
        self._confirms: list[Claim] = []
        self._confirm_lock = threading.Lock()
        self._confirm_ready = threading.Event()
        threading.Thread(
            target=self._confirm_behind, name="idempotency-confirm", daemon=True
        ).start()

    def claim(self, claims: Sequence[Claim]) -> list[Outcome]:
        if len(claims) <= 1:
            return [self._claim_one(c) for c in claims]
        return list(self._pool.map(self._claim_one, claims))

    def _item(self, claim: Claim, state: str, now: float) -> dict[str, Any]:
        tid, digest = claim
        return {
            "transaction_id": {"S": tid},
            "body_hash": {"S": digest},
            "state": {"S": state},
            "claimed_at": {"N": str(int(now))},
            TTL_ATTRIBUTE: {"N": str(int(now) + self.window)},
        }

    def _claim_one(self, claim: Claim) -> Outcome:
        exceptions = self.dynamodb.exceptions
        for _ in range(2):
            now = self.clock()
            try:
                self.dynamodb.put_item(
                    TableName=self.table,
                    Item=self._item(claim, "pending", now),
                    ConditionExpression="attribute_not_exists(transaction_id) OR #ttl < :now",
                    ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                    ExpressionAttributeValues={":now": {"N": str(int(now))}},
                )
                return Outcome.NEW
            except exceptions.ConditionalCheckFailedException:
                pass
            except Exception:
                return Outcome.RETRY
            try:
                existing = self.dynamodb.get_item(
                    TableName=self.table,
                    Key={"transaction_id": {"S": claim[0]}},
                    ConsistentRead=True,
                ).get("Item")
            except Exception:
                return Outcome.RETRY
            if existing is None:
                continue  # expired and deleted meanwhile: try the claim again
            if existing["body_hash"]["S"] != claim[1]:
                return Outcome.CONFLICT
            stale = int(existing["claimed_at"]["N"]) < now - self.pending
            if existing["state"]["S"] == "pending" and stale:
                return self._take_over(claim, existing["claimed_at"]["N"], now)
            return Outcome.DUPLICATE
        return Outcome.RETRY

    def _take_over(self, claim: Claim, claimed_at: str, now: float) -> Outcome:
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=self._item(claim, "pending", now),
                ConditionExpression="#state = :pending AND claimed_at = :claimed",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":pending": {"S": "pending"},
                    ":claimed": {"N": claimed_at},
                },
            )
            return Outcome.NEW
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return Outcome.DUPLICATE  # another request took it over first
        except Exception:
            return Outcome.RETRY

    def confirm(self, claims: Sequence[Claim]) -> None:
        """Mark claims accepted, written behind the answer in batches of up to 25 from all
        requests: the answer does not wait for it. Until it is written the claim reads as
        pending, which answers a retry the same way (duplicate) and, should this process die
        first, goes stale and lets a retry enqueue again (decided once by the scorer)."""
        if claims:
            with self._confirm_lock:
                self._confirms.extend(claims)
            self._confirm_ready.set()

    def flush(self) -> None:
        """Write the confirmations not yet written (on shutdown)."""
        with self._confirm_lock:
            claims, self._confirms = self._confirms, []
        self._write_confirms(claims)

    def _confirm_behind(self) -> None:
        while True:
            self._confirm_ready.wait()
            time.sleep(self.confirm_delay)  # gather the confirmations of concurrent requests
            self._confirm_ready.clear()
            self.flush()

    def _write_confirms(self, claims: Sequence[Claim]) -> None:
        now = self.clock()
        requests = [{"PutRequest": {"Item": self._item(c, "accepted", now)}} for c in claims]
        for start in range(0, len(requests), 25):
            pending = {self.table: requests[start : start + 25]}
            for attempt in range(5):  # bounded: an unconfirmed claim only goes stale, never lost
                try:
                    unprocessed = self.dynamodb.batch_write_item(RequestItems=pending).get(
                        "UnprocessedItems"
                    )
                except Exception:
                    unprocessed = pending  # the store hiccuped: try again, then give up
                if not unprocessed:
                    break
                pending = unprocessed
                time.sleep(0.02 * 2**attempt)

    def release(self, claims: Sequence[Claim]) -> None:
        for tid, digest in claims:
            # On failure the claim goes stale after `pending_seconds` and a retry takes it over.
            with contextlib.suppress(Exception):
                self.dynamodb.delete_item(
                    TableName=self.table,
                    Key={"transaction_id": {"S": tid}},
                    ConditionExpression="body_hash = :h AND #state = :pending",
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues={":h": {"S": digest}, ":pending": {"S": "pending"}},
                )
