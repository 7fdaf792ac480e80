"""Challenger replay: a past period through the online path, two models (and rules) compared."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pyarrow.compute as pc
import pytest

from securebank.features.offline import build_features
from securebank.rules.challenger import compare, write_html
from securebank.rules.ruleset import compile_rule_set
from tests.training.test_cost_thresholds import _split


def _model(tmp_path, name: str, rounds: int, review_rate: str):
    from securebank.features.definitions import FEATURE_SET_VERSION
    from securebank.model_artifact import load_model
    from securebank.training import train

    root = tmp_path / name
    for split, seed in (("train", 1), ("validation", 2)):
        (root / split).mkdir(parents=True)
        _split(1500, seed, "2026-01-01").to_parquet(root / split / "part.parquet")
    train.main(
        [],
        {
            "SM_CHANNEL_TRAIN": str(root / "train"),
            "SM_CHANNEL_VALIDATION": str(root / "validation"),
            "SM_MODEL_DIR": str(root / "model"),
            "SM_HPS": json.dumps(
                {"num_round": str(rounds), "nthread": "1", "review_rate": review_rate}
            ),
        },
    )
    return load_model(root / "model", feature_set=FEATURE_SET_VERSION)


@pytest.fixture(scope="module")
def period(simulated_50k):
    transactions, labels, _ = simulated_50k
    transactions = transactions.take(pc.sort_indices(transactions, [("event_time", "ascending")]))
    transactions = transactions.slice(0, 12_000)
    first = pc.min(transactions["event_time"]).as_py()
    last = pc.max(transactions["event_time"]).as_py()
    return transactions, labels, first + (last - first) / 2, last + timedelta(seconds=1)


def test_replay_compares_champion_and_challenger(period, tmp_path):
    transactions, labels, start, end = period
    from dataclasses import replace

    from securebank.model_artifact import FraudModel

    champion = _model(tmp_path, "a", 10, "0.01")
    # the challenger: the same booster, a lower review threshold (more alerts)
    lower = replace(champion.manifest, review_threshold=champion.manifest.review_threshold / 4)
    challenger = FraudModel(champion.booster, lower)
    result = compare(transactions, labels, start, end, ("1", champion), ("2", challenger))
    assert 0 < result.transactions < result.replayed == 12_000
    c, k = result.champion, result.challenger
    assert sum(c.actions.values()) == sum(k.actions.values()) == result.transactions
    assert k.alerts > c.alerts
    assert set(result.changes) == {"approve -> review"}
    assert result.changes["approve -> review"] == k.alerts - c.alerts
    assert c.frauds == k.frauds > 0 and 0 <= c.frauds_caught <= c.frauds
    assert sum(c.alerts_per_day.values()) == c.alerts

    # the online vectors are the offline features: the champion's decisions equal batch scoring
    features = build_features(transactions.filter(pc.less(transactions["event_time"], end)), labels)
    features = features[features["event_time"] >= start]
    x = features[champion.manifest.feature_names].to_numpy(dtype=np.float32)
    batch = champion.manifest.thresholds.decide_many(champion.booster.inplace_predict(x))
    assert (batch != "approve").sum() == c.alerts

    rules = compile_rule_set(
        "rules:\n  - {name: all-small, when: amount_usd < 1000000, action: review, reason: r}\n",
        "9",
    )
    with_rules = compare(
        transactions, labels, start, end, ("1", champion), ("2", challenger), rules
    )
    assert with_rules.rules_version == "9"
    assert with_rules.champion.actions.get("approve", 0) == 0  # every transaction reviewed
    assert with_rules.champion.frauds_caught == with_rules.champion.frauds

    page = write_html(result, tmp_path / "replay.html").read_text()
    assert "Decisions that change" in page and "Recall per fraud scenario" in page
    with pytest.raises(ValueError, match="before"):
        compare(transactions, labels, end, start, ("1", champion), ("2", challenger))
