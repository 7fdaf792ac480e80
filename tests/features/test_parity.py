"""Offline/online parity on a simulated history: the same definitions give the same answers."""

from __future__ import annotations

import numpy as np
import pytest

from securebank.features.definitions import FEATURES
from securebank.features.offline import build_features
from securebank.features.replay import replay


def assert_same_features(offline_frame, online_vectors) -> None:
    mismatches = {}
    for i, feature in enumerate(FEATURES):
        a = offline_frame[feature.name].to_numpy()
        b = online_vectors[:, i]
        if feature.kind == "real":
            same = np.isclose(a, b, rtol=1e-9, atol=1e-9) | (np.isnan(a) & np.isnan(b))
        else:
            same = a == b
        if not same.all():
            mismatches[feature.name] = int((~same).sum())
    assert not mismatches, f"features that differ (rows): {mismatches}"


@pytest.fixture(scope="module")
def offline_50k(simulated_50k):
    transactions, labels, _ = simulated_50k
    return build_features(transactions, labels)


def test_history_is_large_and_labelled_enough_to_mean_something(simulated_50k, offline_50k):
    transactions, _, summary = simulated_50k
    assert len(transactions) >= 50_000
    assert summary.frauds > 200
    assert (offline_50k["merchant_fraud_rate_28d"] > 0).sum() > 100
    assert (offline_50k["card_count_1h"] > 0).sum() > 1000
    assert offline_50k["km_from_prev_location"].notna().sum() > 10_000


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
