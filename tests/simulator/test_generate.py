from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from securebank.contract import Rejection, parse_transaction
from securebank.data.dataset import read_labels, read_transactions
from securebank.data.simulator.events import SCENARIOS
from securebank.data.simulator.fraud import UNLABELLED_SHARE
from securebank.data.simulator.generate import (
    TRUTH_FILE,
    SimulationConfig,
    generate,
    simulate,
    simulate_with_truth,
)
from securebank.pan import contains_pan


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
    assert 340 <= summary.frauds <= 360  # 0.7 %, ground truth
    assert len(labels) == summary.labelled < summary.frauds
    assert 0.005 <= len(labels) / len(transactions) <= 0.01
    assert set(pc.unique(labels["fraud_scenario"]).to_pylist()) == set(SCENARIOS[1:])
    assert pc.all(labels["is_fraud"]).as_py()


def test_custom_fraud_rate():
    transactions, _, truth, _ = simulate_with_truth(
        SimulationConfig(transactions=20_000, seed=1, fraud_rate=0.02)
    )
    assert len(truth) / len(transactions) == pytest.approx(0.02, rel=0.01)


def test_some_frauds_are_never_labelled_and_the_truth_keeps_them():
    _, labels, truth, summary = simulate_with_truth(SimulationConfig(transactions=20_000, seed=5))
    unlabelled = truth.filter(pc.invert(truth["labelled"]))
    assert 0.3 * UNLABELLED_SHARE < len(unlabelled) / len(truth) < 3 * UNLABELLED_SHARE
    labelled_ids = set(truth.filter(truth["labelled"])["transaction_id"].to_pylist())
    assert labelled_ids == set(labels["transaction_id"].to_pylist())
    assert summary.frauds == len(truth) and summary.labelled == len(labels)


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


@pytest.fixture(scope="module")
def frame_90_days():
    """40,000 transactions over the default 90 days, with ground truth, as one DataFrame."""
    transactions, _, truth, _ = simulate_with_truth(SimulationConfig(transactions=40_000, seed=3))
    frame = transactions.to_pandas()
    scenario = dict(
        zip(truth["transaction_id"].to_pylist(), truth["fraud_scenario"].to_pylist(), strict=True)
    )
    frame["scenario"] = frame["transaction_id"].map(scenario).fillna("legit")
    frame["usd"] = frame["amount"].astype(float)  # most rows are USD; good enough for medians
    return frame[frame["currency"] == "USD"].reset_index(drop=True)


def test_card_testing_probes_small_amounts_at_merchants_the_owner_uses(frame_90_days):
    frame = frame_90_days
    testing = frame[frame["scenario"] == "card_testing"]
    assert (testing["usd"] < 5).mean() > 0.3
    declined = testing[testing["usd"] < 5]["status"] == "declined"
    assert declined.mean() > 0.25
    legit = frame[frame["scenario"] == "legit"]
    used = set(zip(legit["card_id"], legit["merchant_id"], strict=True))
    at_own = [
        (c, m) in used for c, m in zip(testing["card_id"], testing["merchant_id"], strict=True)
    ]
    assert np.mean(at_own) > 0.3  # the owner's own online merchants, not a fraudsters' shop


def test_most_fraud_amounts_are_near_the_cards_usual_amounts(frame_90_days):
    frame = frame_90_days
    legit = frame[frame["scenario"] == "legit"]
    usual = legit.groupby("card_id")["usd"].median()
    fraud = frame[~frame["scenario"].isin(["legit", "card_testing", "unusual_amount"])]
    ratio = fraud["usd"].to_numpy() / fraud["card_id"].map(usual).to_numpy()
    ratio = ratio[np.isfinite(ratio)]
    assert 0.5 < np.median(ratio) < 6  # same order of magnitude as the card's own spend


def test_compromised_terminals_defraud_a_share_of_their_customers_for_weeks(frame_90_days):
    frame = frame_90_days
    terminal = frame[frame["scenario"] == "compromised_terminal"]
    assert terminal["merchant_lat"].notna().all()  # card-present terminals
    spans = terminal.groupby("merchant_id")["event_time"].agg(lambda t: t.max() - t.min())
    assert spans.median() >= pd.Timedelta(days=10)
    for merchant, _ in spans.nlargest(3).items():
        rows = frame[frame["merchant_id"] == merchant]
        window = rows[
            rows["event_time"].between(
                terminal[terminal["merchant_id"] == merchant]["event_time"].min(),
                terminal[terminal["merchant_id"] == merchant]["event_time"].max(),
            )
        ]
        share = (window["scenario"] == "compromised_terminal").mean()
        assert 0.1 < share < 0.95  # a fraction of its customers, not all of them


def test_behaviour_drifts_over_the_months(frame_90_days):
    frame = frame_90_days
    month = (frame["event_time"] - frame["event_time"].min()).dt.days // 30
    legit = frame[frame["scenario"] == "legit"]
    mix_first = legit[month[legit.index] == 0]["mcc"].value_counts(normalize=True)
    mix_last = legit[month[legit.index] == 2]["mcc"].value_counts(normalize=True)
    assert (mix_first - mix_last).abs().sum() > 0.02
    fraud = frame[frame["scenario"] != "legit"]
    shares = pd.crosstab(month[fraud.index], fraud["scenario"], normalize="index")
    assert (shares.iloc[0] - shares.iloc[-1]).abs().max() > 0.05


def test_written_layout_is_partitioned_by_day_and_reads_back(tmp_path):
    summary = generate(SimulationConfig(transactions=5_000, seed=2, days=20), tmp_path)
    days = sorted(p.name for p in (tmp_path / "transactions").iterdir())
    assert days[0] == "date=2026-07-01" and len(days) == 20
    transactions = read_transactions(tmp_path)
    assert len(transactions) == 5_000 == summary.transactions
    assert len(read_labels(tmp_path)) == summary.labelled
    truth = pq.read_table(tmp_path / TRUTH_FILE)
    assert len(truth) == summary.frauds
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["config"]["seed"] == 2 and manifest["transactions"] == 5_000


def test_period_may_not_reach_into_the_future():
    with pytest.raises(ValueError, match="before now"):
        SimulationConfig(transactions=5_000, start=date(2099, 1, 1)).validate()
