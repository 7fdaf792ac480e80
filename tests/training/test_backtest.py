"""The prequential backtest: fold placement, the protocol (labels as known), the CLI's errors."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from securebank.features.offline import build_features
from securebank.training.backtest import (
    BacktestConfig,
    BacktestPlan,
    feature_builder,
    run_backtest,
    run_fold,
)
from securebank.training.time_plan import PlanError, day_ms

FAST = {"num_round": "40", "early_stopping_rounds": "10", "nthread": "1"}


@pytest.fixture(scope="module")
def dataset():
    from securebank.data.simulator.generate import SimulationConfig, simulate

    transactions, labels, _ = simulate(
        SimulationConfig(transactions=15_000, seed=4, days=45, fraud_rate=0.02)
    )
    return transactions, labels


def test_folds_tile_the_last_days_and_each_trains_a_delay_before_its_test():
    plans = BacktestPlan(folds=4, train_days=7, delay_days=7, test_days=7).fold_plans(
        date(2026, 7, 1), date(2026, 8, 31), horizon_ms=day_ms(date(2026, 12, 1))
    )
    assert [p.test_start for p in plans] == [
        date(2026, 8, 4),
        date(2026, 8, 11),
        date(2026, 8, 18),
        date(2026, 8, 25),
    ]
    assert plans[-1].test_end == date(2026, 9, 1)
    for plan in plans:
        assert (plan.test_start - plan.train_end).days == 7
        assert plan.train_days == 7 and plan.validation_days == 0
        assert plan.history_start == date(2026, 7, 1)  # every earlier row feeds features
        assert plan.label_cutoffs()["train"] == plan.test_start


def test_the_last_fold_ends_where_labels_are_mature():
    # Labels known only up to Aug 31: test rows after Aug 24 could hide unreported fraud.
    plans = BacktestPlan(folds=1).fold_plans(
        date(2026, 7, 1), date(2026, 8, 31), horizon_ms=day_ms(date(2026, 9, 1))
    )
    assert plans[0].test_end == date(2026, 8, 25)


def test_too_many_folds_are_a_plan_error_with_the_days_needed():
    with pytest.raises(PlanError, match=r"need 42 days of data .* the data has 21"):
        BacktestPlan(folds=4).fold_plans(
            date(2026, 7, 1), date(2026, 7, 21), horizon_ms=day_ms(date(2026, 12, 1))
        )


def test_a_fold_uses_history_for_features_and_only_labels_known_at_its_cutoff(dataset):
    transactions, labels = dataset
    plan = BacktestPlan(folds=1, train_days=7, delay_days=7, test_days=7)
    times = transactions["event_time"].to_pandas()
    first, last = times.min().date(), times.max().date()
    (fold_plan,) = plan.fold_plans(first, last, horizon_ms=day_ms(date(2027, 1, 1)))
    cutoff = pd.Timestamp(fold_plan.test_start, tz="UTC")
    seen = {}

    def spy(history: pa.Table, known: pa.Table) -> pd.DataFrame:
        seen["history"] = history["event_time"].to_pandas()
        seen["known"] = known.to_pandas()
        return build_features(history, known)

    config = BacktestConfig.from_settings("fast", FAST)
    result = run_fold(0, fold_plan, transactions, labels, config, spy)
    # Features: every row before the test window's end, history included.
    assert seen["history"].min() < pd.Timestamp(fold_plan.train_start, tz="UTC")
    assert seen["history"].max() < pd.Timestamp(fold_plan.test_end, tz="UTC")
    assert result.rows["history"] > 0
    # Labels (for targets and label-based features): none reported at or after the cutoff.
    assert (pd.to_datetime(seen["known"]["reported_at"], utc=True) < cutoff).all()
    # Training targets: exactly the training window's frauds reported before the cutoff, while
    # some of its frauds were reported later (so the rule is exercised, not vacuous).
    frauds = labels.to_pandas()
    frauds = frauds[frauds["is_fraud"]]
    when = dict(zip(transactions["transaction_id"].to_pylist(), times, strict=True))
    event = pd.to_datetime(frauds["transaction_id"].map(when), utc=True)
    in_train = (event >= pd.Timestamp(fold_plan.train_start, tz="UTC")) & (
        event < pd.Timestamp(fold_plan.train_end, tz="UTC")
    )
    reported = pd.to_datetime(frauds["reported_at"], utc=True)
    assert result.rows["train_fraud"] == int((in_train & (reported < cutoff)).sum())
    assert int((in_train & (reported >= cutoff)).sum()) > 0
    assert set(result.metrics) == {"ap", "roc_auc", "cp_at_100", "recall_at_1pct_fpr"}
    assert 0 < result.metrics["roc_auc"] <= 1 and 0 <= result.metrics["cp_at_100"] <= 1
    assert result.by_scenario  # the simulator's labels carry ground truth


def test_training_targets_never_hold_a_label_reported_after_the_cutoff(dataset):
    transactions, labels = dataset
    frame = labels.to_pandas()
    times = transactions["event_time"].to_pandas()
    (fold_plan,) = BacktestPlan(folds=1).fold_plans(
        times.min().date(), times.max().date(), horizon_ms=day_ms(date(2027, 1, 1))
    )
    cutoff = day_ms(fold_plan.test_start)
    reported = pd.to_datetime(frame["reported_at"], utc=True).astype("int64") // 1_000_000
    # Move every label to the cutoff or later: the fold must then see no training fraud.
    frame["reported_at"] = pd.to_datetime(np.maximum(reported, cutoff), unit="ms", utc=True)
    shifted = pa.Table.from_pandas(frame, schema=labels.schema, preserve_index=False)
    with pytest.raises(PlanError, match=r"training window .* no fraud with a known label"):
        run_fold(
            0,
            fold_plan,
            transactions,
            shifted,
            BacktestConfig.from_settings("f", FAST),
            feature_builder(None),
        )


def test_two_configurations_run_on_the_same_folds(dataset):
    transactions, labels = dataset
    plan = BacktestPlan(folds=2, train_days=7, delay_days=7, test_days=7)
    a = run_backtest(transactions, labels, plan, BacktestConfig.from_settings("a", FAST))
    b = run_backtest(
        transactions, labels, plan, BacktestConfig.from_settings("b", {**FAST, "max_depth": "2"})
    )
    assert [f.plan for f in a.folds] == [f.plan for f in b.folds]
    assert [f.hyperparameters["max_depth"] for f in b.folds] == [2, 2]
    mean = a.mean()
    assert mean["ap"] == pytest.approx(np.mean([f.metrics["ap"] for f in a.folds]))
    assert 0 < mean["top_feature_gain_share"] <= 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--folds", "30"], "folds of train 7"),
        (["--set", "max_dept=3"], "unknown hyperparameters: max_dept"),
        (["--compare", "feature_set=v0"], "feature_set=v0"),
        (["--set", "eta"], "--set takes KEY=VALUE"),
        (["--data", "no-such-folder"], "no transactions under"),
    ],
)
def test_cli_errors_are_one_line(args, message, tmp_path, capsys, monkeypatch, cli_dataset):
    from securebank.cli.app import main

    monkeypatch.setenv("SECUREBANK_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    code = main(["backtest", "--data", str(cli_dataset), "--no-track", *args])
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code != 0
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert message in lines[0]
    assert "Traceback" not in captured.err + captured.out


@pytest.fixture(scope="module")
def cli_dataset(tmp_path_factory, dataset):
    from securebank.data.dataset import write_dataset

    out = tmp_path_factory.mktemp("cli-data")
    write_dataset(out, dataset[0], dataset[1], {})
    return out


def test_cli_compares_two_configurations_and_tracks_parent_and_fold_runs(
    tmp_path, capsys, monkeypatch, cli_dataset
):
    import json

    import mlflow

    from securebank.cli.app import main
    from securebank.settings import get_settings

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("SECUREBANK_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    fast = [arg for k, v in FAST.items() for arg in ("--set", f"{k}={v}")]
    compare = ["--compare", "max_depth=2", "--compare", "tuning_trials=2"]
    compare += ["--out", str(tmp_path / "r.json")]
    try:
        code = main(["backtest", "--data", str(cli_dataset), "--folds", "2", *fast, *compare])
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert code == 0, out
    document = json.loads((tmp_path / "r.json").read_text())
    comparison = document["comparison"]
    assert comparison["b"]["hp_max_depth"] == 2 and comparison["a"]["hp_max_depth"] == 6
    assert [row["fold"] for row in comparison["folds"]] == [0, 1]
    ap = comparison["mean"]["ap"]
    assert ap["b_minus_a"] == pytest.approx(ap["b"] - ap["a"])
    assert "ap:" in out and "compromised_merchant" in out
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("securebank-backtest")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 4  # two configurations x two folds
    assert {c.data.tags["fold"] for c in children} == {"0", "1"}
    assert parent.data.metrics["a_ap"] == pytest.approx(ap["a"])
    assert all("cp_at_100" in c.data.metrics for c in children)
    # The tuned configuration's trials are runs under its fold runs, trial 1 its own settings.
    tuned = [c for c in children if "tuning_trials" in c.data.tags["configuration"]]
    assert len(tuned) == 2
    for fold_run in tuned:
        trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == fold_run.info.run_id]
        assert sorted(t.info.run_name for t in trials) == ["trial-1", "trial-2"]
        first = next(t for t in trials if t.info.run_name == "trial-1")
        assert first.data.params["max_depth"] == "2"
    assert [len(f["trials"]) for f in document["results"][1]["folds"]] == [2, 2]
