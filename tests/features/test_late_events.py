"""The late-event policy: recorded at the entity's watermark, counted once, never rewriting."""

from __future__ import annotations

from datetime import timedelta

from securebank.features.definitions import FEATURE_INDEX
from securebank.features.online import (
    CardState,
    FeatureInput,
    MerchantState,
    compute_and_apply,
    epoch_ms,
)
from tests.builders import T0, txn

MINUTE = timedelta(minutes=1)


def feature_input(tid, at, **fields):
    return FeatureInput.from_record(txn(tid, at, **fields))


def value(vector, name):
    return vector[FEATURE_INDEX[name]]


def test_late_transaction_is_evaluated_and_recorded_at_the_watermark():
    card, merchant = CardState("tok_a"), MerchantState("mer_1")
    compute_and_apply(feature_input("e1", T0, amount="10.00"), card, merchant)
    compute_and_apply(feature_input("e2", T0 + 10 * MINUTE, amount="20.00"), card, merchant)

    late = compute_and_apply(feature_input("e3", T0 + 5 * MINUTE, amount="30.00"), card, merchant)
    assert value(late, "secs_since_prev") == 0.0  # anchored at the watermark, e2's time
    assert value(late, "card_count_1h") == 2 and value(late, "card_sum_1h") == 30.0
    assert value(late, "hour") == 12  # calendar features keep the transaction's own time
    assert card.times[-1] == epoch_ms(T0 + 10 * MINUTE)

    after = compute_and_apply(feature_input("e4", T0 + 20 * MINUTE), card, merchant)
    assert value(after, "card_count_1h") == 3  # e3 counted exactly once
    assert value(after, "card_sum_1h") == 60.0
    assert value(after, "secs_since_prev") == 600.0  # since e3, recorded at T0 + 10 min
    assert value(after, "merchant_count_24h") == 3


def test_in_order_events_are_not_moved():
    card, merchant = CardState("tok_a"), MerchantState("mer_1")
    compute_and_apply(feature_input("e1", T0), card, merchant)
    compute_and_apply(feature_input("e2", T0 + MINUTE), card, merchant)
    assert card.times == [epoch_ms(T0), epoch_ms(T0 + MINUTE)]
    assert merchant.watermark == epoch_ms(T0 + MINUTE)
