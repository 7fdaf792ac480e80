"""Rule backtest on point-in-time features, and parity: the hits found offline are the hits the
scorer's path finds online on the same stream replayed."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest

from securebank.contract import Transaction, parse_transaction
from securebank.features.offline import build_features
from securebank.features.replay import replay
from securebank.local.producer import contract_json
from securebank.rules.backtest import backtest, offline_hits
from securebank.rules.ruleset import compile_rule_set, rule_row

RULES = """
rules:
  - name: burst
    when: card_count_1h >= 3
    action: review
    reason: burst
  - name: big-new-merchant
    when: amount_usd > 300 and is_new_merchant == 1
    action: review
    reason: big amount at a new merchant
  - name: big-atm
    when: device_id is missing and channel == "atm" and amount_usd > 100
    action: review
    reason: large ATM withdrawal
  - name: risky-merchant
    when: merchant_fraud_rate_28d > 0
    action: decline
    reason: merchant with reported fraud
  - name: fast
    when: secs_since_prev < 120 or kmh_from_prev_location > 500
    action: review
    reason: fast
  - name: blocked
    when: card_id in list blocked_cards
    action: decline
    reason: blocked
  - name: trusted-grocery
    when: mcc in ("5411") and amount < 50
    action: allow
    reason: small grocery
"""


@pytest.fixture(scope="module")
def stream(simulated_50k):
    transactions, labels, _ = simulated_50k
    order = pc.sort_indices(transactions, [("event_time", "ascending")])
    transactions = transactions.take(order).slice(0, 15_000)
    cards = sorted(set(transactions["card_id"].to_pylist()))[:40]
    return transactions, labels, {"blocked_cards": frozenset(cards)}


def test_offline_hits_equal_online_hits_on_a_replayed_stream(stream):
    transactions, labels, lists = stream
    rules = compile_rule_set(RULES, "1")
    # online: the replayed stream's feature vectors, and each record through the contract as the
    # scorer receives it
    online = replay(transactions, labels)
    now = pc.max(transactions["event_time"]).as_py() + timedelta(days=1)
    parsed: dict[str, Transaction] = {}
    for row in transactions.to_pylist():
        txn = parse_transaction(json.loads(contract_json(row)), now=now)
        assert isinstance(txn, Transaction), txn
        parsed[txn.transaction_id] = txn
    online_hits = {
        tid: rules.hit_names(rule_row(vector.tolist(), parsed[tid]), lists)
        for tid, vector in zip(online.transaction_ids, online.vectors, strict=True)
    }
    # offline: the batch feature build and the dataset's rows
    features = build_features(transactions, labels)
    hits = offline_hits(rules, features, transactions, lists)
    offline = dict(zip(features["transaction_id"], hits, strict=True))
    assert offline.keys() == online_hits.keys()
    differing = [t for t in offline if offline[t] != online_hits[t]]
    assert not differing, [(t, offline[t], online_hits[t]) for t in differing[:5]]
    fired = {name for names in offline.values() for name in names}
    assert fired == {r.name for r in rules.rules}, "every rule fires somewhere: a real test"


def test_backtest_report(stream):
    transactions, labels, lists = stream
    rules = compile_rule_set(RULES, "1")
    times = transactions["event_time"]
    first, last = pc.min(times).as_py(), pc.max(times).as_py()
    start = first + (last - first) / 2
    end = last + timedelta(seconds=1)
    report = backtest(rules, transactions, labels, start, end, lists, label_delay_days=0)
    assert 0 < report.transactions < len(transactions)
    assert sum(report.alerts_per_day.values()) == report.alerts > 0
    assert set(report.hits_per_rule) == {r.name for r in rules.rules}
    assert report.matured == report.transactions  # no delay asked
    assert 0 <= report.precision <= 1 and 0 <= report.recall <= 1
    assert all(sum(e["rule"] == r for e in report.examples) <= 3 for r in report.hits_per_rule)

    # the same figures by hand from the offline features
    features = build_features(transactions, labels)
    mask = (pd.to_datetime(features["event_time"], utc=True) >= pd.Timestamp(start)).to_numpy()
    period = features[mask].reset_index(drop=True)
    hits = offline_hits(rules, period, transactions, lists)
    frauds = set(labels.filter(pc.equal(labels["is_fraud"], True))["transaction_id"].to_pylist())
    actions = {r.name: r.action for r in rules.rules}
    alert = np.array(
        [
            bool(h)
            and (
                "decline" in {actions[n] for n in h}
                or ("review" in {actions[n] for n in h} and "allow" not in {actions[n] for n in h})
            )
            for h in hits
        ]
    )
    fraud = period["transaction_id"].isin(frauds).to_numpy()
    assert report.alerts == int(alert.sum())
    assert report.recall == pytest.approx((alert & fraud).sum() / fraud.sum())
    assert report.precision == pytest.approx((alert & fraud).sum() / alert.sum())

    scores = {t: (1.0 if i % 10 == 0 else 0.0) for i, t in enumerate(period["transaction_id"])}
    with_model = backtest(
        rules,
        transactions,
        labels,
        start,
        end,
        lists,
        model_scores=scores,
        model_review_threshold=0.5,
    )
    assert with_model.model_alerts == len(range(0, len(period), 10))
    o = with_model.overlap
    assert o["both"] + o["rules_only"] == with_model.alerts
    assert o["both"] + o["model_only"] == with_model.model_alerts


def test_a_later_as_of_matures_more_labels(stream):
    transactions, labels, lists = stream
    rules = compile_rule_set(RULES, "1")
    first, last = (
        pc.min(transactions["event_time"]).as_py(),
        pc.max(transactions["event_time"]).as_py(),
    )
    strict = backtest(
        rules, transactions, labels, first, last, lists, as_of=last, label_delay_days=7
    )
    loose = backtest(
        rules, transactions, labels, first, last, lists, as_of=last, label_delay_days=0
    )
    assert strict.matured < loose.matured == loose.transactions
    with pytest.raises(ValueError, match="before"):
        backtest(rules, transactions, labels, last, first, lists)
