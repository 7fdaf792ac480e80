"""Parity: labels that reach the online merchant state through the labels table and its stream
give the same features as the offline build over the same effective labels.

Transactions and label events (analyst outcomes, chargebacks that override an analyst's "legit",
chargebacks confirming an analyst's "fraud") are replayed interleaved by time. Online, each label
event goes through the labels table, the table's stream and the merchant's labels partial, and the
merchant state is read back the way the scorer reads it; offline, `build_features` gets the
effective labels from the labels table.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from securebank.data.simulator.generate import SimulationConfig, simulate
from securebank.features.definitions import FEATURE_NAMES
from securebank.features.offline import build_features
from securebank.features.online import (
    CardState,
    FeatureInput,
    MerchantState,
    compute_features,
)
from securebank.labels.follow import follower_for
from securebank.labels.model import LabelEvent, LabelSource
from securebank.labels.outcomes import OutcomeReport, record_outcomes
from securebank.labels.store import LabelStore, TransactionFacts
from securebank.labels.stream import MerchantLabelState
from securebank.scorer.state_store import FeatureStateStore, merge

DAY = 86_400_000


@pytest.fixture(scope="module")
def history():
    config = SimulationConfig(
        transactions=3000, seed=5, days=30, start=date(2026, 8, 1), fraud_rate=0.05
    )
    transactions, labels, _ = simulate(config)
    return transactions, labels


def _events(transactions, labels) -> tuple[list[LabelEvent], dict[str, TransactionFacts]]:
    inputs = {r["transaction_id"]: FeatureInput.from_record(r) for r in transactions.to_pylist()}
    facts = {t: TransactionFacts(i.merchant_id, i.time_ms) for t, i in inputs.items()}
    events = []
    for n, row in enumerate(sorted(labels.to_pylist(), key=lambda r: r["transaction_id"])):
        tid = row["transaction_id"]
        reported = int(row["reported_at"].timestamp() * 1000)
        if n % 3 == 0:  # the analyst said legit; the chargeback overrides it
            events.append(LabelEvent(tid, False, reported - DAY, LabelSource.ANALYST, "a"))
            events.append(LabelEvent(tid, True, reported, LabelSource.CHARGEBACK, "file"))
        elif n % 3 == 1:  # the analyst caught it; the chargeback confirms it days later
            events.append(LabelEvent(tid, True, reported, LabelSource.ANALYST, "a"))
            events.append(LabelEvent(tid, True, reported + 3 * DAY, LabelSource.CHARGEBACK, "f"))
        else:
            events.append(LabelEvent(tid, True, reported, LabelSource.CHARGEBACK, "file"))
    legit = [t for t in sorted(inputs) if t not in set(labels["transaction_id"].to_pylist())]
    for tid in legit[:50]:  # analyst "legit" on ordinary transactions: no label effect
        events.append(LabelEvent(tid, False, inputs[tid].time_ms + DAY, LabelSource.ANALYST, "a"))
    events.sort(key=lambda e: e.reported_at_ms)
    return events, facts


def _online(aws, tmp_path, transactions, events, facts, with_labels=True) -> np.ndarray:
    db = aws.client("dynamodb")
    names = aws.names
    store = LabelStore(db, names.labels_table)
    follower = follower_for(  # the stream where the server has one, else the table scan
        db,
        aws.client("dynamodbstreams"),
        names.labels_table,
        MerchantLabelState(db, names.feature_table),
        tmp_path / "labels",
    )
    # No read cache: every load after a label must see the labels partial as written.
    reader = FeatureStateStore(
        db, names.feature_table, ["shard-0"], ThreadPoolExecutor(1), foreign_ttl_s=0.0
    )
    inputs = sorted(
        (FeatureInput.from_record(r) for r in transactions.to_pylist()),
        key=lambda i: (i.time_ms, i.transaction_id),
    )
    cards: dict[str, CardState] = {}
    own: dict[str, MerchantState] = {}
    labelled: dict[str, MerchantState] = {}
    vectors = np.empty((len(inputs), len(FEATURE_NAMES)))
    next_event = 0
    for row, inp in enumerate(inputs):
        batch = []
        while next_event < len(events) and events[next_event].reported_at_ms <= inp.time_ms:
            batch.append(events[next_event])
            next_event += 1
        if batch and with_labels:
            record_outcomes(batch, store, None, None, OutcomeReport(), facts)  # type: ignore[arg-type]
            follower.poll_once()
            touched = {facts[e.transaction_id].merchant_id for e in batch}
            view = reader.load("shard-0", [], touched)
            for merchant_id, entry in view.merchants.items():
                labelled[merchant_id] = entry.merged
        card = cards.setdefault(inp.card_id, CardState(inp.card_id))
        mine = own.setdefault(inp.merchant_id, MerchantState(inp.merchant_id))
        parts = [mine] + ([labelled[inp.merchant_id]] if inp.merchant_id in labelled else [])
        vectors[row] = compute_features(inp, card, merge(inp.merchant_id, parts))
        card.apply(inp, card.effective_time(inp.time_ms))
        at = mine.effective_time(inp.time_ms)
        mine.expire(at)
        mine.apply(at)
    return vectors


def _effective_labels(aws) -> pd.DataFrame:
    records = list(LabelStore(aws.client("dynamodb"), aws.names.labels_table).scan())
    return pd.DataFrame(
        {
            "transaction_id": [r.transaction_id for r in records],
            "is_fraud": [r.is_fraud for r in records],
            "reported_at": [datetime.fromtimestamp(r.reported_at_ms / 1000, UTC) for r in records],
        }
    )


def test_labels_stream_and_offline_build_agree(aws, tmp_path, history):
    transactions, labels = history
    events, facts = _events(transactions, labels)
    online = _online(aws, tmp_path, transactions, events, facts)
    offline = build_features(transactions, _effective_labels(aws))
    offline_vectors = offline[list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
    same = np.isclose(offline_vectors, online, rtol=1e-9, atol=1e-9) | (
        np.isnan(offline_vectors) & np.isnan(online)
    )
    differing = {FEATURE_NAMES[c]: int((~same[:, c]).sum()) for c in np.flatnonzero(~same.all(0))}
    assert not differing, f"online and offline differ (rows per feature): {differing}"
    fraud_columns = [i for i, name in enumerate(FEATURE_NAMES) if "fraud" in name]
    assert fraud_columns and (online[:, fraud_columns] > 0).any(axis=1).sum() > 100


def test_without_the_labels_stream_the_features_differ(aws, tmp_path, history):
    """The comparison above can fail: leaving the labels out changes the merchant features."""
    transactions, labels = history
    events, facts = _events(transactions, labels)
    online = _online(aws, tmp_path, transactions, events, facts, with_labels=False)
    offline = build_features(transactions, labels)
    fraud_columns = [i for i, name in enumerate(FEATURE_NAMES) if "fraud" in name]
    offline_vectors = offline[[FEATURE_NAMES[i] for i in fraud_columns]].to_numpy()
    assert not np.allclose(offline_vectors, online[:, fraud_columns])
