"""The online feature store in DynamoDB: batched reads and writes of card and merchant state.

Every item has exactly one writer, so plain batch writes are safe:

* a card's item (`card#ID`) is written only by the invocation that holds the card's shard
  (Kinesis partition key = card, one invocation per shard at a time);
* a merchant's state is split into partials, one per shard (`merchant#ID#SHARD`) plus the one
  built from history (`merchant#ID#history`) and the one the labels stream keeps
  (`merchant#ID#labels`, written conditionally on its version); a reader sums them, a writer
  updates only its own.

Each item also holds `applied`: per shard, the sequence number of the last transaction applied
to it. A retried or redelivered record whose sequence number is not above it is not applied
again, so no transaction is ever counted twice in the state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from securebank.features.online import CardState, MerchantState
from securebank.features.state_item import (
    card_key,
    decode_card,
    decode_merchant,
    encode_card,
    encode_merchant,
    merchant_key,
)

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
HISTORY_SLOT = "history"
#: The partial that the labels stream writes (securebank/labels/stream.py): fraud labels only.
LABELS_SLOT = "labels"


@dataclass
class CardEntry:
    state: CardState
    applied: dict[str, str] = field(default_factory=dict)
    dirty: bool = False

    def has_applied(self, shard_id: str, sequence: int) -> bool:
        return _at_or_below(self.applied, shard_id, sequence)


@dataclass
class MerchantEntry:
    """The merchant as all shards see it (`merged`) and this shard's own partial (`own`)."""

    merged: MerchantState
    own: MerchantState
    slot: str
    applied: dict[str, str] = field(default_factory=dict)
    dirty: bool = False

    def has_applied(self, shard_id: str, sequence: int) -> bool:
        return _at_or_below(self.applied, shard_id, sequence)


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
    items: list[dict[str, Any]] = []
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        page = keys[start : start + BATCH_GET_LIMIT]
        request: dict[str, Any] = {
            table: {"Keys": [{key_name: {"S": k}} for k in page], "ConsistentRead": True}
        }
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            items += [_from_item(i) for i in response["Responses"].get(table, [])]
            request = response.get("UnprocessedKeys") or {}
    return items


def batch_put(dynamodb: Any, table: str, items: list[dict[str, Any]]) -> int:
    """Put items (already in DynamoDB's attribute-value form), 25 a call, retrying leftovers."""
    for start in range(0, len(items), BATCH_WRITE_LIMIT):
        request: dict[str, Any] = {
            table: [{"PutRequest": {"Item": i}} for i in items[start : start + BATCH_WRITE_LIMIT]]
        }
        while request:
            response = dynamodb.batch_write_item(RequestItems=request)
            request = response.get("UnprocessedItems") or {}
    return len(items)


class FeatureStateStore:
    def __init__(self, dynamodb: Any, table: str, shard_ids: Sequence[str]) -> None:
        self._db = dynamodb
        self.table = table
        self.slots = (HISTORY_SLOT, LABELS_SLOT, *shard_ids)

    def load(
        self, shard_id: str, card_ids: Iterable[str], merchant_ids: Iterable[str]
    ) -> tuple[dict[str, CardEntry], dict[str, MerchantEntry]]:
        card_ids, merchant_ids = set(card_ids), set(merchant_ids)
        slots = self.slots if shard_id in self.slots else (*self.slots, shard_id)
        keys = [card_key(c) for c in card_ids]
        keys += [partial_key(m, slot) for m in merchant_ids for slot in slots]
        found = {item["pk"]: item for item in batch_get(self._db, self.table, "pk", keys)}
        cards = {}
        for card_id in card_ids:
            item = found.get(card_key(card_id))
            cards[card_id] = (
                CardEntry(CardState(card_id))
                if item is None
                else CardEntry(decode_card(item), dict(item.get("applied", {})))
            )
        merchants = {}
        for merchant_id in merchant_ids:
            partials, own, applied = [], MerchantState(merchant_id), {}
            for slot in slots:
                item = found.get(partial_key(merchant_id, slot))
                if item is None:
                    continue
                state = decode_merchant(item)
                state.merchant_id = merchant_id
                partials.append(state)
                if slot == shard_id:
                    own, applied = state, dict(item.get("applied", {}))
            merchants[merchant_id] = MerchantEntry(
                merged=merge(merchant_id, partials), own=own, slot=shard_id, applied=applied
            )
        return cards, merchants

    def save(self, cards: dict[str, CardEntry], merchants: dict[str, MerchantEntry]) -> int:
        """Write every changed item (merchant partials first); return how many."""
        items = [
            _to_item({**encode_card(e.state), "applied": e.applied})
            for e in cards.values()
            if e.dirty
        ]
        partials = []
        for entry in merchants.values():
            if entry.dirty:
                document = encode_merchant(entry.own)
                document["pk"] = partial_key(entry.own.merchant_id, entry.slot)
                partials.append(_to_item({**document, "applied": entry.applied}))
        # Merchants first: a crash between the two leaves cards unapplied, and the retry then
        # applies each record to its card while skipping merchant partials that already hold it.
        batch_put(self._db, self.table, partials)
        batch_put(self._db, self.table, items)
        return len(items) + len(partials)


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
