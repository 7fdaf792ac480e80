"""The time plan: windows, refusals with a reason, and label maturity."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from securebank.training.time_plan import (
    DAY_MS,
    PlanError,
    TimePlan,
    day_ms,
    known_labels,
    plan_from_data,
    window_masks,
)


def test_a_literal_seven_day_plan_places_every_window_after_its_label_delay():
    plan = plan_from_data(
        date(2026, 7, 1),
        date(2026, 9, 28),
        label_delay_days=7,
        train_days=7,
        validation_days=7,
        test_days=7,
    )
    assert plan.test_end == date(2026, 9, 29)  # the data's last day is the test's last day
    windows = plan.windows()
    assert windows == {
        "train": (date(2026, 8, 25), date(2026, 9, 1)),
        "validation": (date(2026, 9, 8), date(2026, 9, 15)),
        "test": (date(2026, 9, 22), date(2026, 9, 29)),
    }
    # Everything before the training window is history: it feeds features only.
    assert plan.history_start == date(2026, 7, 1) < plan.train_start
    assert plan.label_cutoffs() == {
        "train": windows["validation"][0],
        "validation": windows["test"][0],
        "test": None,
    }


def test_rows_in_history_and_gaps_belong_to_no_window():
    plan = TimePlan(date(2026, 1, 1), date(2026, 1, 3), 2, 2, 2, 1)
    start = day_ms(date(2026, 1, 1))
    event_ms = np.array([start + d * DAY_MS for d in range(11)])
    masks = window_masks(event_ms, plan)
    assert list(np.flatnonzero(masks["train"])) == [2, 3]
    assert list(np.flatnonzero(masks["validation"])) == [5, 6]
    assert list(np.flatnonzero(masks["test"])) == [8, 9]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"train_days": 7, "validation_days": 7, "test_days": 7},
            r"holds 7 days .* needs at least 35",
        ),
        ({"label_delay_days": -1, "test_days": 2, "validation_days": 1}, "label delay must be 0"),
        ({"history_start": "2026-13-01"}, "history start must be a date"),
        (
            {
                "test_start": "2026-07-07",
                "test_days": 7,
                "label_delay_days": 1,
                "validation_days": 1,
            },
            "after the data's last day",
        ),
    ],
)
def test_impossible_plans_are_refused_with_a_reason(kwargs, message):
    with pytest.raises(PlanError, match=message):
        plan_from_data(date(2026, 7, 1), date(2026, 7, 7), **kwargs)


def test_history_may_not_start_after_training():
    with pytest.raises(PlanError, match="history start 2026-01-05 is after the training start"):
        TimePlan(date(2026, 1, 5), date(2026, 1, 3), 2, 2, 2, 1)


def test_a_fraud_whose_label_is_not_yet_due_is_left_out_never_counted_genuine():
    as_of = day_ms(date(2026, 1, 20))
    event_ms = np.array(
        [
            day_ms(date(2026, 1, 1)),  # mature, fraud reported on the 5th: 1
            day_ms(date(2026, 1, 2)),  # mature, genuine: 0
            day_ms(date(2026, 1, 3)),  # mature, fraud reported after the cutoff: as known, 0
            day_ms(date(2026, 1, 18)),  # immature fraud (label due on the 25th): left out
            day_ms(date(2026, 1, 19)),  # immature genuine: left out too
        ]
    )
    ids = np.array(["a", "b", "c", "d", "e"])
    reported = {
        "a": day_ms(date(2026, 1, 5)),
        "c": day_ms(date(2026, 2, 1)),
        "d": day_ms(date(2026, 1, 25)),
    }
    ripe, y = known_labels(ids, event_ms, reported, as_of, label_delay_days=7)
    assert list(ripe) == [True, True, True, False, False]
    assert list(y[ripe]) == [1, 0, 0]
    assert "d" not in set(ids[ripe][y[ripe] == 0])


# --- the BuildFeatures step on a small simulated dataset -------------------------------------


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    from securebank.data.simulator.generate import SimulationConfig, generate

    out = tmp_path_factory.mktemp("data")
    generate(SimulationConfig(transactions=12_000, seed=3, days=60, fraud_rate=0.02), out)
    return out


def _processing_root(tmp_path, dataset, keep_days: int | None = None, drop_labels=False):
    import pyarrow.parquet as pq

    from securebank.data.dataset import read_labels, read_transactions

    root = tmp_path / "root"
    (root / "input" / "labels").mkdir(parents=True)
    transactions = read_transactions(dataset)
    labels = read_labels(dataset)
    if keep_days is not None:
        first = pc.min(transactions["event_time"]).as_py()
        first = first.replace(hour=0, minute=0, second=0, microsecond=0)
        limit = pa.scalar(first + timedelta(days=keep_days), transactions["event_time"].type)
        transactions = transactions.filter(pc.less(transactions["event_time"], limit))
    if drop_labels:
        labels = labels.slice(0, 0)
    (root / "input" / "transactions").mkdir(parents=True)
    pq.write_table(transactions, root / "input" / "transactions" / "part-0.parquet")
    pq.write_table(labels, root / "input" / "labels" / "labels.parquet")
    return root


def test_build_step_keeps_only_mature_labels_known_at_each_cutoff(tmp_path, small_dataset):
    import pandas as pd

    from securebank.data.dataset import read_labels
    from securebank.training import build_features

    root = _processing_root(tmp_path, small_dataset)
    counts = build_features.main(
        [
            "--root",
            str(root),
            "--train-days",
            "14",
            "--validation-days",
            "7",
            "--test-days",
            "7",
            "--label-delay-days",
            "7",
        ]
    )
    plan = json.loads((root / "output" / "train" / "plan.json").read_text())
    labels = read_labels(small_dataset).to_pandas()
    reported = dict(zip(labels["transaction_id"], labels["reported_at"], strict=True))
    train = pd.read_parquet(root / "output" / "train" / "part-0.parquet")
    refit = pd.read_parquet(root / "output" / "refit" / "part-0.parquet")
    cutoff = pd.Timestamp(plan["validation_start"], tz="UTC")
    assert train["event_time"].min() >= pd.Timestamp(plan["train_start"], tz="UTC")
    assert train["event_time"].max() < pd.Timestamp(plan["train_end"], tz="UTC")
    # No training target is a label reported after the cutoff.
    for tid in train.loc[train["is_fraud"] == 1, "transaction_id"]:
        assert reported[tid] < cutoff
    # History fed the features: the first training day's cards already have 7-day counts.
    assert (train["card_count_7d"] > 0).mean() > 0.5
    # The refit set spans training + validation, labelled as of the test start.
    assert refit["event_time"].max() < pd.Timestamp(plan["validation_end"], tz="UTC")
    assert len(refit) > counts["train"] + counts["validation"] - 1
    assert refit["is_fraud"].sum() >= train["is_fraud"].sum()


def test_a_seven_day_dataset_and_a_fraudless_window_are_plan_errors(tmp_path, small_dataset):
    from securebank.training import build_features

    short = _processing_root(tmp_path / "short", small_dataset, keep_days=7)
    with pytest.raises(PlanError, match="holds 7 days"):
        build_features.main(["--root", str(short), "--train-days", "7"])
    unlabelled = _processing_root(tmp_path / "none", small_dataset, drop_labels=True)
    with pytest.raises(PlanError, match=r"the train window .* holds no fraud"):
        build_features.main(["--root", str(unlabelled), "--label-delay-days", "0"])
