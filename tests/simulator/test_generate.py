from __future__ import annotations

import json
from datetime import date

import numpy as np
import pyarrow.compute as pc
import pytest

from securebank.contract import Rejection, parse_transaction
from securebank.dataset import read_labels, read_transactions
from securebank.pan import contains_pan
from securebank.simulator.events import SCENARIOS
from securebank.simulator.generate import SimulationConfig, generate, simulate


@pytest.fixture(scope="module")
def small():
    return simulate(SimulationConfig(transactions=20_000, seed=5))


def test_same_seed_same_data_and_other_seed_other_data(small):
    transactions, labels, _ = small
    again, again_labels, _ = simulate(SimulationConfig(transactions=20_000, seed=5))
    assert transactions.equals(again) and labels.equals(again_labels)
    other, _, _ = simulate(SimulationConfig(transactions=20_000, seed=6))
    assert not transactions.equals(other)


def test_counts_and_fraud_rate(simulated_50k):
    transactions, labels, summary = simulated_50k
    assert len(transactions) == 50_000 == summary.transactions
    assert 0.005 <= len(labels) / len(transactions) <= 0.01
    assert set(pc.unique(labels["fraud_scenario"]).to_pylist()) == set(SCENARIOS[1:])
    assert pc.all(labels["is_fraud"]).as_py()


def test_custom_fraud_rate():
    transactions, labels, _ = simulate(
        SimulationConfig(transactions=20_000, seed=1, fraud_rate=0.02)
    )
    assert len(labels) / len(transactions) == pytest.approx(0.02, rel=0.05)


def test_labels_arrive_after_their_transaction(small):
    transactions, labels, _ = small
    time_of = dict(
        zip(
            transactions["transaction_id"].to_pylist(),
            transactions["event_time"].to_pylist(),
            strict=True,
        )
    )
    delays = [
        (r - time_of[t]).total_seconds() / 86_400
        for t, r in zip(
            labels["transaction_id"].to_pylist(), labels["reported_at"].to_pylist(), strict=True
        )
    ]
    assert min(delays) > 0
    assert 2 <= float(np.median(delays)) <= 15  # chargebacks take days to weeks


def test_every_sampled_row_passes_the_contract(small):
    transactions, _, _ = small
    rows = transactions.take(np.arange(0, len(transactions), 37)).to_pylist()
    rejected = [(r["transaction_id"], str(x)) for r in rows
                if isinstance(x := parse_transaction(r), Rejection)]  # fmt: skip
    assert rejected == []


def test_no_identifier_looks_like_a_card_number(small):
    transactions, _, _ = small
    for column in ("transaction_id", "card_id", "customer_id", "merchant_id", "device_id"):
        values = pc.unique(transactions[column]).to_pylist()
        assert not any(v is not None and contains_pan(v) for v in values), column


def test_edge_cases_are_present(small):
    transactions, _, summary = small
    status = transactions["status"].to_pylist()
    assert status.count("declined") > 100 and status.count("failed") > 20
    assert summary.international > 500
    currencies = set(pc.unique(transactions["currency"]).to_pylist())
    assert {"USD", "EUR", "JPY"} <= currencies
    transfers = transactions.filter(pc.equal(transactions["channel"], "transfer"))
    assert pc.max(transfers["amount"]).as_py() > 5_000
    ecommerce = transactions.filter(pc.equal(transactions["channel"], "ecommerce"))
    assert ecommerce["merchant_lat"].null_count == len(ecommerce)


def test_zero_decimal_currencies_have_whole_amounts(small):
    transactions, _, _ = small
    yen = transactions.filter(pc.equal(transactions["currency"], "JPY"))["amount"].to_pylist()
    assert yen and all(a == a.to_integral_value() for a in yen)


def test_card_testing_is_a_burst_of_tiny_amounts(small):
    transactions, labels, _ = small
    testing = labels.filter(pc.equal(labels["fraud_scenario"], "card_testing"))
    ids = set(testing["transaction_id"].to_pylist())
    rows = [r for r in transactions.to_pylist() if r["transaction_id"] in ids]
    tiny = [r for r in rows if r["amount"] < 5]
    assert len(tiny) > 0.6 * len(rows)
    assert sum(r["status"] == "declined" for r in tiny) > 0.3 * len(tiny)


def test_written_layout_is_partitioned_by_day_and_reads_back(tmp_path):
    summary = generate(SimulationConfig(transactions=5_000, seed=2, days=20), tmp_path)
    days = sorted(p.name for p in (tmp_path / "transactions").iterdir())
    assert days[0] == "date=2026-07-01" and len(days) == 20
    transactions = read_transactions(tmp_path)
    assert len(transactions) == 5_000 == summary.transactions
    assert len(read_labels(tmp_path)) == summary.frauds
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["config"]["seed"] == 2 and manifest["transactions"] == 5_000


def test_period_may_not_reach_into_the_future():
    with pytest.raises(ValueError, match="before now"):
        SimulationConfig(transactions=5_000, start=date(2099, 1, 1)).validate()
