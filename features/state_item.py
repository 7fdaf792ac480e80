"""Feature state as DynamoDB items: one compact item per card and per merchant.

An item is `{pk, state, expires_at, version}`: `state` is one binary attribute (zlib-compressed
JSON), because DynamoDB reads a single blob far faster than a list of maps; `expires_at` is the
table's TTL attribute, set to when the state stops influencing any feature; `version` lets the
writer make a conditional put so two writers never lose each other's updates. Items stay far below
DynamoDB's 400 KB limit; `encode_*` refuses one that would not.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from securebank.features.definitions import (
    CARD_MOMENTS_WINDOW_MS,
    DAY_MS,
    RECENCY_HORIZON_MS,
)
from securebank.features.online import MERCHANT_HISTORY_MS, CardState, MerchantState

MAX_ITEM_BYTES = 400 * 1024
CARD_PREFIX = "card#"
MERCHANT_PREFIX = "merchant#"
_FORMAT = 1


class StateTooLarge(ValueError):
    pass


def _pack(document: dict[str, Any]) -> bytes:
    blob = zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 1)
    if len(blob) > MAX_ITEM_BYTES - 1024:
        raise StateTooLarge(f"state of {len(blob)} bytes exceeds the DynamoDB item limit")
    return blob


def _unpack(blob: bytes) -> dict[str, Any]:
    document = json.loads(zlib.decompress(blob))
    if document.get("f") != _FORMAT:
        raise ValueError(f"unknown feature state format {document.get('f')!r}")
    return document


def _deltas(times: list[int]) -> list[int]:
    return [t - p for p, t in zip([0, *times[:-1]], times, strict=True)]


def _undeltas(deltas: list[int]) -> list[int]:
    out, total = [], 0
    for d in deltas:
        total += d
        out.append(total)
    return out


def card_key(card_id: str) -> str:
    return CARD_PREFIX + card_id


def merchant_key(merchant_id: str) -> str:
    return MERCHANT_PREFIX + merchant_id


def encode_card(state: CardState) -> dict[str, Any]:
    mark = state.watermark
    if mark is not None:
        state.expire(mark)
        state.expire_last_seen(mark)
    document = {
        "f": _FORMAT,
        "t": _deltas(state.times),
        "a": state.amounts,
        "b": state.bad,
        "m": state.merchants,
        "p": state.prev_time,
        "l": None if state.loc_time is None else [state.loc_time, state.loc_lat, state.loc_lon],
        "sm": state.merchant_seen,
        "sc": state.country_seen,
        "sd": state.device_seen,
    }
    last = mark or 0
    return {
        "pk": card_key(state.card_id),
        "state": _pack(document),
        "expires_at": (last + max(CARD_MOMENTS_WINDOW_MS, RECENCY_HORIZON_MS)) // 1000,
        "version": state.version,
    }


def decode_card(item: dict[str, Any]) -> CardState:
    document = _unpack(bytes(item["state"]))
    amounts = document["a"]
    loc = document["l"]
    return CardState(
        card_id=item["pk"].removeprefix(CARD_PREFIX),
        times=_undeltas(document["t"]),
        amounts=amounts,
        bad=document["b"],
        merchants=document["m"],
        total_cents=sum(amounts),
        total_sq_cents=sum(a * a for a in amounts),
        prev_time=document["p"],
        loc_time=None if loc is None else loc[0],
        loc_lat=0.0 if loc is None else loc[1],
        loc_lon=0.0 if loc is None else loc[2],
        merchant_seen=document["sm"],
        country_seen=document["sc"],
        device_seen=document["sd"],
        version=int(item.get("version", 0)),
    )


def encode_merchant(state: MerchantState) -> dict[str, Any]:
    if state.watermark is not None:
        state.expire(state.watermark)
    document = {
        "f": _FORMAT,
        "h": sorted(state.hour_counts.items()),
        "d": sorted(state.day_counts.items()),
        "x": state.frauds,
        "w": state.watermark,
    }
    last = state.watermark or 0
    return {
        "pk": merchant_key(state.merchant_id),
        "state": _pack(document),
        "expires_at": (last + MERCHANT_HISTORY_MS + DAY_MS) // 1000,
        "version": state.version,
    }


def decode_merchant(item: dict[str, Any]) -> MerchantState:
    document = _unpack(bytes(item["state"]))
    return MerchantState(
        merchant_id=item["pk"].removeprefix(MERCHANT_PREFIX),
        hour_counts={int(h): int(c) for h, c in document["h"]},
        day_counts={int(d): int(c) for d, c in document["d"]},
        frauds=[(int(t), int(r)) for t, r in document["x"]],
        watermark=document["w"],
        version=int(item.get("version", 0)),
    )
