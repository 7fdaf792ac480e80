"""Offline/online parity on a simulated history: the same definitions give the same answers."""

from __future__ import annotations

import numpy as np
import pytest

from securebank.features.definitions import FEATURE_NAMES, FEATURES
from securebank.features.offline import build_features
from securebank.features.replay import replay


def assert_same_features(offline_frame, online_vectors) -> None:
    mismatches = {}
    for i, feature in enumerate(FEATURES):
        a = offline_frame[feature.name].to_numpy()
        b = online_vectors[:, i]
        real = feature.kind == "real"
        same = np.isclose(a, b, rtol=1e-9, atol=1e-9) if real else a == b
        same |= np.isnan(a) & np.isnan(b)  # e.g. mcc or channel absent
        if not same.all():
            mismatches[feature.name] = int((~same).sum())
    assert not mismatches, f"features that differ (rows): {mismatches}"


@pytest.fixture(scope="module")
def offline_50k(simulated_50k):
    transactions, labels, _ = simulated_50k
    return build_features(transactions, labels)


def test_history_is_large_and_labelled_enough_to_mean_something(simulated_50k, offline_50k):
    transactions, labels, summary = simulated_50k
    assert len(transactions) >= 50_000
    assert summary.frauds > 200
    assert (offline_50k["merchant_fraud_rate_28d"] > 0).sum() > 100
    for window in ("1d", "7d", "30d"):
        assert (offline_50k[f"merchant_risk_{window}"] > 0).sum() > 50, window
    assert (offline_50k["card_count_1h"] > 0).sum() > 1000
    assert offline_50k["km_from_prev_location"].notna().sum() > 10_000
    assert offline_50k["amount_to_mean_24h"].notna().sum() > 10_000
    # labels arrive while the stream runs: most are reported before the history ends, so the
    # replay applies them between transactions
    end = transactions["event_time"].to_pandas().max()
    assert (labels["reported_at"].to_pandas() < end).mean() > 0.8
    # every feature varies somewhere (a constant column would prove nothing)
    constant = [n for n in FEATURE_NAMES if offline_50k[n].nunique(dropna=False) < 2]
    assert constant == []


def test_online_replay_equals_offline_build(simulated_50k, offline_50k):
    transactions, labels, _ = simulated_50k
    online = replay(transactions, labels)
    assert online.transaction_ids == offline_50k["transaction_id"].tolist()
    assert_same_features(offline_50k, online.vectors)


def test_parity_holds_when_state_goes_through_dynamodb_items_between_batches(
    simulated_50k, offline_50k
):
    transactions, labels, _ = simulated_50k
    online = replay(transactions, labels, persist_every=100)
    assert_same_features(offline_50k, online.vectors)


def test_parity_holds_on_a_minimal_schema_history(simulated_50k):
    """Only the five required columns (no currency, country, mcc, channel, device, location,
    status), as in a bank's own file."""
    transactions, labels, _ = simulated_50k
    required = ["transaction_id", "event_time", "card_id", "merchant_id", "amount"]
    head = transactions.slice(0, 15_000).select(required)
    offline = build_features(head, labels)
    online = replay(head, labels, persist_every=250)
    assert_same_features(offline, online.vectors)
    assert (offline["merchant_risk_30d"] > 0).sum() > 10
