"""The online feature store in DynamoDB: card and merchant state, read in batches, written with
conditional puts so that no writer ever loses another's update.

Items:

* a card (`card#ID`): its state, `version` (bumped by every transaction applied) and `applied`,
  per shard the sequence number of the last record applied to it;
* a merchant, split into partials, one per shard (`merchant#ID#SHARD`) plus the one built from
  history (`merchant#ID#history`) and the one the labels stream keeps (`merchant#ID#labels`);
  a reader sums them, a writer updates only its own.

Every write is `PutItem` conditioned on the version read (or on the item not existing). Two
writers of one item — a producer that does not partition by card, two consumers of one shard, a
label writer — cannot both win: the loser gets the current item back, re-applies its records on
top of it (those its `applied` watermark does not cover yet) and tries again, a bounded number of
times. A record at or below an item's watermark is never applied to it again, so nothing is
counted twice, however often a batch is retried.

Reads are cut with a small in-process cache: items this scorer wrote itself are reused for
`own_ttl_s` (a stale one only costs a refused conditional put and a re-read), and the other
shards' merchant partials for `foreign_ttl_s` (their counts lag by at most that long).
"""

from __future__ import annotations

import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from securebank.features.online import CardState, FeatureInput, MerchantState
from securebank.features.state_item import (
    CARD_PREFIX,
    card_key,
    decode_card,
    decode_merchant,
    encode_card,
    encode_merchant,
    merchant_key,
)
from securebank.retry import Backoff, RetriesExhausted, retry_leftovers

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
HISTORY_SLOT = "history"
#: The partial that the labels stream writes (securebank/labels/stream.py): fraud labels only.
LABELS_SLOT = "labels"
#: Conditional puts of one item before the batch gives up (it is then retried whole).
WRITE_ATTEMPTS = 6
_CONFLICT_BACKOFF = Backoff(base_s=0.005, cap_s=0.2, max_attempts=WRITE_ATTEMPTS)


class StateConflict(RuntimeError):
    """An item kept changing under this writer for `WRITE_ATTEMPTS` attempts."""


@dataclass
class CardEntry:
    state: CardState
    applied: dict[str, str] = field(default_factory=dict)

    def has_applied(self, shard_id: str, sequence: int) -> bool:
        return _at_or_below(self.applied, shard_id, sequence)


@dataclass
class MerchantEntry:
    """The merchant as all shards see it: the sum of its partials."""

    merged: MerchantState


@dataclass(frozen=True)
class Application:
    """One transaction to apply to its card and to its merchant's partial of this shard."""

    card_id: str
    merchant_id: str
    shard_id: str
    sequence_number: str
    inp: FeatureInput
    #: The merchant time it was counted at when its features were computed.
    merchant_at_ms: int


@dataclass
class StateView:
    """The state one batch reads: working copies for its features, and the items it may write."""

    shard_id: str
    cards: dict[str, CardEntry]
    merchants: dict[str, MerchantEntry]
    #: pk → the item as read (None: absent), for every item this batch may write.
    items: dict[str, dict[str, Any] | None]


@dataclass
class SaveReport:
    written: int = 0
    conflicts: int = 0


def _at_or_below(applied: dict[str, str], shard_id: str, sequence: int) -> bool:
    """Whether the shard's watermark already covers `sequence`."""
    last = applied.get(shard_id)
    return last is not None and sequence <= int(last)


def partial_key(merchant_id: str, slot: str) -> str:
    return f"{merchant_key(merchant_id)}#{slot}"


def merge(merchant_id: str, partials: Sequence[MerchantState]) -> MerchantState:
    merged = MerchantState(merchant_id)
    for part in partials:
        for hour, count in part.hour_counts.items():
            merged.hour_counts[hour] = merged.hour_counts.get(hour, 0) + count
        for day, count in part.day_counts.items():
            merged.day_counts[day] = merged.day_counts.get(day, 0) + count
        merged.frauds += part.frauds
        if part.watermark is not None and (
            merged.watermark is None or part.watermark > merged.watermark
        ):
            merged.watermark = part.watermark
    merged.frauds.sort()
    return merged


def _to_item(document: dict[str, Any]) -> dict[str, Any]:
    return {k: _SERIALIZER.serialize(v) for k, v in document.items()}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _DESERIALIZER.deserialize(v) for k, v in item.items()}


def batch_get(dynamodb: Any, table: str, key_name: str, keys: list[str]) -> list[dict[str, Any]]:
    """Consistent reads of `keys`, 100 a call, unprocessed keys retried with backoff."""
    items: list[dict[str, Any]] = []

    def attempt(request: dict[str, Any]) -> dict[str, Any]:
        response = dynamodb.batch_get_item(RequestItems=request)
        items.extend(_from_item(i) for i in response["Responses"].get(table, []))
        return response.get("UnprocessedKeys") or {}

    for start in range(0, len(keys), BATCH_GET_LIMIT):
        page = keys[start : start + BATCH_GET_LIMIT]
        request = {table: {"Keys": [{key_name: {"S": k}} for k in page], "ConsistentRead": True}}
        retry_leftovers(attempt, request, what=f"batch_get_item {table}")
    return items


def batch_put(dynamodb: Any, table: str, items: list[dict[str, Any]]) -> int:
    """Unconditional puts (attribute-value form), 25 a call, unprocessed items retried.

    Only for items nobody else writes yet (the bootstrap before the stream starts)."""

    def attempt(request: dict[str, Any]) -> dict[str, Any]:
        return dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    for start in range(0, len(items), BATCH_WRITE_LIMIT):
        page = items[start : start + BATCH_WRITE_LIMIT]
        request = {table: [{"PutRequest": {"Item": i}} for i in page]}
        retry_leftovers(attempt, request, what=f"batch_write_item {table}")
    return len(items)


class _ItemCache:
    """pk → (item, stored at), bounded, oldest dropped first; shared by threads.

    Items are kept pickled: a byte string is one object the garbage collector never visits,
    where a decoded item is four (its dict, `applied`, the Binary and its dict). With up to
    `cache_size` items a full collection otherwise walks most of a million objects, a pause of
    hundreds of milliseconds in the middle of a batch. Each get returns a fresh copy.
    """

    def __init__(self, size: int, clock: Callable[[], float]) -> None:
        self._items: OrderedDict[str, tuple[bytes | None, float]] = OrderedDict()
        self._size = size
        self._clock = clock
        self._lock = threading.Lock()

    def get(self, pk: str, ttl_s: float) -> tuple[bool, dict[str, Any] | None]:
        with self._lock:
            hit = self._items.get(pk)
        if hit is None or self._clock() - hit[1] > ttl_s:
            return False, None
        return True, None if hit[0] is None else pickle.loads(hit[0])

    def put(self, pk: str, item: dict[str, Any] | None) -> None:
        stored = None if item is None else pickle.dumps(item, pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._items[pk] = (stored, self._clock())
            self._items.move_to_end(pk)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def drop(self, pk: str) -> None:
        with self._lock:
            self._items.pop(pk, None)


class FeatureStateStore:
    def __init__(
        self,
        dynamodb: Any,
        table: str,
        shard_ids: Sequence[str],
        pool: Executor,
        *,
        own_ttl_s: float = 60.0,
        foreign_ttl_s: float = 5.0,
        cache_size: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = dynamodb
        self._pool = pool
        self.table = table
        self.slots = (HISTORY_SLOT, LABELS_SLOT, *shard_ids)
        self.own_ttl_s = own_ttl_s
        self.foreign_ttl_s = foreign_ttl_s
        self._cache = _ItemCache(cache_size, clock)

    def load(
        self, shard_id: str, card_ids: Iterable[str], merchant_ids: Iterable[str]
    ) -> StateView:
        card_ids, merchant_ids = sorted(set(card_ids)), sorted(set(merchant_ids))
        slots = self.slots if shard_id in self.slots else (*self.slots, shard_id)
        own = [card_key(c) for c in card_ids] + [partial_key(m, shard_id) for m in merchant_ids]
        foreign = [partial_key(m, s) for m in merchant_ids for s in slots if s != shard_id]
        found: dict[str, dict[str, Any] | None] = {}
        missing = []
        for keys, ttl in ((own, self.own_ttl_s), (foreign, self.foreign_ttl_s)):
            for pk in keys:
                hit, item = self._cache.get(pk, ttl)
                if hit:
                    found[pk] = item
                else:
                    missing.append(pk)
        read = {item["pk"]: item for item in batch_get(self._db, self.table, "pk", missing)}
        for pk in missing:
            found[pk] = read.get(pk)
            self._cache.put(pk, found[pk])
        cards = {}
        for card_id in card_ids:
            item = found[card_key(card_id)]
            cards[card_id] = (
                CardEntry(CardState(card_id))
                if item is None
                else CardEntry(decode_card(item), dict(item.get("applied", {})))
            )
        merchants = {}
        for merchant_id in merchant_ids:
            partials = []
            for slot in slots:
                item = found[partial_key(merchant_id, slot)]
                if item is not None:
                    state = decode_merchant(item)
                    state.merchant_id = merchant_id
                    partials.append(state)
            merchants[merchant_id] = MerchantEntry(merge(merchant_id, partials))
        return StateView(shard_id, cards, merchants, {pk: found[pk] for pk in own})

    def save(self, view: StateView, applications: Sequence[Application]) -> SaveReport:
        """Apply `applications` (in stream order) to the stored items and write them.

        Merchant partials first, cards last: a card's watermark is the mark of a finished
        record, so a crash in between leaves a retry that applies the record to its card and
        skips the merchant partials that already hold it.
        """
        report = SaveReport()
        by_merchant: dict[str, list[Application]] = {}
        by_card: dict[str, list[Application]] = {}
        for app in applications:
            by_merchant.setdefault(app.merchant_id, []).append(app)
            by_card.setdefault(app.card_id, []).append(app)
        for pending, write in (
            ({partial_key(m, view.shard_id): a for m, a in by_merchant.items()}, self._merchant),
            ({card_key(c): a for c, a in by_card.items()}, self._card),
        ):
            jobs = [(pk, view.items.get(pk), apps, write) for pk, apps in sorted(pending.items())]
            for written, conflicts in self._pool.map(self._write_item, jobs):
                report.written += written
                report.conflicts += conflicts
        return report

    def _write_item(self, job: tuple) -> tuple[int, int]:
        pk, item, apps, build = job
        conflicts = 0

        def attempt(current: list[dict[str, Any] | None]) -> list[dict[str, Any] | None]:
            nonlocal conflicts
            new_item = build(pk, current[0], apps)
            if new_item is None:
                self._cache.put(pk, current[0])
                return []
            try:
                self._put(pk, new_item, current[0])
            except _Conflict as conflict:
                conflicts += 1
                self._cache.drop(pk)
                return [conflict.item]
            self._cache.put(pk, _from_item(new_item))
            return []

        try:
            retry_leftovers(attempt, [item], what=f"state {pk}", backoff=_CONFLICT_BACKOFF)
        except RetriesExhausted as exhausted:
            raise StateConflict(str(exhausted)) from exhausted
        return (1 if apps else 0), conflicts

    def _put(self, pk: str, new_item: dict[str, Any], current: dict[str, Any] | None) -> None:
        values: dict[str, Any] = {}
        if current is None:
            condition = "attribute_not_exists(pk)"
        elif "version" not in current:
            condition = "attribute_exists(pk) AND attribute_not_exists(#v)"
        else:
            condition = "#v = :v"
            values = {":v": {"N": str(int(current["version"]))}}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Item": new_item,
            "ConditionExpression": condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if "#v" in condition:
            kwargs["ExpressionAttributeNames"] = {"#v": "version"}
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            self._db.put_item(**kwargs)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            stored = error.response.get("Item")
            if stored is None:
                stored = self._db.get_item(
                    TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True
                ).get("Item")
            raise _Conflict(_from_item(stored) if stored else None) from None

    @staticmethod
    def _card(pk: str, item: dict[str, Any] | None, apps: list[Application]) -> dict | None:
        state = CardState(pk.removeprefix(CARD_PREFIX)) if item is None else decode_card(item)
        applied = {} if item is None else dict(item.get("applied", {}))
        changed = False
        for app in apps:
            if _at_or_below(applied, app.shard_id, int(app.sequence_number)):
                continue
            state.apply(app.inp, state.effective_time(app.inp.time_ms))
            applied[app.shard_id] = app.sequence_number
            changed = True
        return _to_item({**encode_card(state), "applied": applied}) if changed else None

    @staticmethod
    def _merchant(pk: str, item: dict[str, Any] | None, apps: list[Application]) -> dict | None:
        merchant_id = apps[0].merchant_id
        state = MerchantState(merchant_id) if item is None else decode_merchant(item)
        state.merchant_id = merchant_id
        applied = {} if item is None else dict(item.get("applied", {}))
        changed = False
        for app in apps:
            if _at_or_below(applied, app.shard_id, int(app.sequence_number)):
                continue
            at = state.effective_time(app.merchant_at_ms)
            state.expire(at)
            state.apply(at)
            applied[app.shard_id] = app.sequence_number
            changed = True
        if not changed:
            return None
        document = encode_merchant(state)
        document["pk"] = pk
        return _to_item({**document, "applied": applied})


class _Conflict(Exception):
    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("conditional put refused")
        self.item = item


def bootstrap_items(
    cards: dict[str, CardState], merchants: dict[str, MerchantState]
) -> list[dict[str, Any]]:
    """Items for states built from history before the stream starts (no watermarks yet)."""
    items = [_to_item({**encode_card(c), "applied": {}}) for c in cards.values()]
    for merchant in merchants.values():
        document = encode_merchant(merchant)
        document["pk"] = partial_key(merchant.merchant_id, HISTORY_SLOT)
        items.append(_to_item({**document, "applied": {}}))
    return items


def read_merchant_state(
    kinesis: Any, dynamodb: Any, stream: str, table: str, merchant_id: str
) -> MerchantState:
    """A merchant's online state as the scorer reads it: its partials on the stream's listed
    shards and its labels, merged."""
    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    with ThreadPoolExecutor(1) as pool:
        store = FeatureStateStore(dynamodb, table, [s["ShardId"] for s in shards], pool)
        view = store.load(shards[0]["ShardId"], [], [merchant_id])
    return view.merchants[merchant_id].merged
