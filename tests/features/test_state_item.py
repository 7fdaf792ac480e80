from __future__ import annotations

from datetime import timedelta

import pytest

from securebank.features.online import (
    CardState,
    FeatureInput,
    MerchantState,
    compute_and_apply,
    compute_features,
    epoch_ms,
)
from securebank.features.state_item import (
    MAX_ITEM_BYTES,
    StateTooLarge,
    decode_card,
    decode_merchant,
    encode_card,
    encode_merchant,
)
from tests.builders import NEW_YORK, T0, txn


def busy_states(count: int) -> tuple[CardState, MerchantState]:
    card, merchant = CardState("tok_busy"), MerchantState("mer_1")
    lat, lon = NEW_YORK
    for i in range(count):
        record = txn(
            f"b{i}",
            T0 + timedelta(minutes=7 * i),
            merchant_id=f"mer_{i % 150}",
            amount=f"{5 + i % 300}.25",
            device_id=f"dev_{i % 3}",
            merchant_lat=lat,
            merchant_lon=lon,
            status="declined" if i % 17 == 0 else "approved",
        )
        compute_and_apply(FeatureInput.from_record(record), card, merchant)
    merchant.apply_fraud_label(epoch_ms(T0), epoch_ms(T0 + timedelta(days=2)))
    return card, merchant


def test_card_item_round_trip_gives_the_same_next_features():
    card, merchant = busy_states(2_000)
    item = encode_card(card)
    assert set(item) == {"pk", "state", "expires_at", "version"}
    assert item["pk"] == "card#tok_busy"
    assert isinstance(item["state"], bytes) and len(item["state"]) < MAX_ITEM_BYTES
    assert item["expires_at"] > card.times[-1] // 1000
    assert item["version"] == 2_000
    restored = decode_card(item)
    nxt = FeatureInput.from_record(txn("next", T0 + timedelta(days=10), merchant_id="mer_3"))
    assert compute_features(nxt, restored, merchant) == compute_features(nxt, card, merchant)


def test_merchant_item_round_trip():
    card, merchant = busy_states(300)
    item = encode_merchant(merchant)
    assert item["pk"] == "merchant#mer_1"
    restored = decode_merchant(item)
    assert restored.hour_counts == merchant.hour_counts
    assert restored.day_counts == merchant.day_counts
    assert restored.frauds == merchant.frauds
    assert restored.watermark == merchant.watermark
    nxt = FeatureInput.from_record(txn("next", T0 + timedelta(days=2)))
    assert compute_features(nxt, card, restored) == compute_features(nxt, card, merchant)


def test_item_keeps_only_what_a_future_feature_can_read():
    card, merchant = busy_states(10)
    later = FeatureInput.from_record(txn("later", T0 + timedelta(days=45)))
    compute_and_apply(later, card, merchant)
    restored = decode_card(encode_card(card))
    assert len(restored.times) == 1  # the 10 early events fell out of the 30-day window
    assert restored.total_cents == later.amount_usd_cents


def test_oversized_state_is_refused():
    card = CardState("tok_x", merchants=[f"m{i}-{i * 7919 % 104729}" for i in range(400_000)])
    card.times = list(range(len(card.merchants)))
    card.amounts = card.bad = [0] * len(card.merchants)
    with pytest.raises(StateTooLarge):
        encode_card(card)


def test_unknown_format_is_refused():
    card, _ = busy_states(3)
    item = encode_card(card)
    import json
    import zlib

    document = json.loads(zlib.decompress(item["state"]))
    document["f"] = 99
    item["state"] = zlib.compress(json.dumps(document).encode())
    with pytest.raises(ValueError, match="format"):
        decode_card(item)
