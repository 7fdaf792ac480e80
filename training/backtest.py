"""Prequential backtest: train on a window, wait the label delay, assess the next window; repeat.

The protocol of the fraud-ML literature (Le Borgne et al., "Reproducible machine learning for
credit card fraud detection", chapter 5), on any dataset in the platform's layout. Fold i
(0-based, of `folds`) has its test window [S_i, S_i + test_days), with S_i = E - (folds - i) *
test_days, where E is the last day whose test rows are all mature (the data's last day, or its
label horizon minus the delay if earlier). Its time plan (`time_plan.TimePlan`, no validation
window) puts the training window [S_i - delay - train_days, S_i - delay) before it.

At each fold's cutoff S_i the bank knows only the fraud labels reported before S_i; so:
- features are built over every row before the test window's end (history feeds them: a card's
  30-day windows are warm on the first training day) with only the labels reported before S_i,
  so label-based features (merchant fraud risk) use nothing reported after the cutoff;
- training targets are those labels (every training row is mature at S_i, by the delay gap);
- the test window is scored by that one model and assessed on every label the data holds.

Training reuses `train.select_and_refit`: early stopping on the training window's last quarter of
days (time-ordered), then a refit on the whole window with the selected number of rounds. A
configuration may set any hyperparameter, `feature_set` (a version `features.offline` can build)
and `tuning_trials` (tune per fold with `tuning.tune` on the same time-ordered split).

Metrics per fold (and their mean): ROC AUC, AP, Card Precision@100 (per day, detected and known
compromised cards removed: `metrics.card_precision_at_k`), recall at 1 % FPR, and, when labels
carry `fraud_scenario`, each scenario's recall at the 1 %-FPR threshold.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from securebank.features import offline
from securebank.features.definitions import FEATURE_SET_VERSION
from securebank.training.metrics import quality_metrics, threshold_at_fpr
from securebank.training.time_plan import (
    DAY_MS,
    PlanError,
    TimePlan,
    day_ms,
    fraud_reports,
    label_horizon_ms,
)
from securebank.training.train import Hyperparameters, matrix, select_and_refit
from securebank.training.tuning import tune

METRICS = ("roc_auc", "ap", "cp_at_100", "recall_at_1pct_fpr")
#: Keys of a configuration that are not hyperparameters.
CONFIG_KEYS = ("feature_set", "tuning_trials", "tuning_max_seconds")


class BacktestError(ValueError):
    """A backtest that cannot run as asked; the message says why."""


@dataclass(frozen=True)
class BacktestPlan:
    folds: int = 4
    train_days: int = 7
    delay_days: int = 7
    test_days: int = 7

    def __post_init__(self) -> None:
        if self.folds < 1:
            raise PlanError(f"folds must be at least 1, got {self.folds}")

    def fold_plans(self, first_day: date, last_day: date, horizon_ms: int) -> list[TimePlan]:
        """One time plan per fold, oldest first; refused when the data cannot hold them all."""
        end = last_day + timedelta(days=1)
        mature_end = pd.Timestamp(horizon_ms - self.delay_days * DAY_MS, unit="ms").date()
        end = min(end, mature_end)
        plans = []
        for i in range(self.folds):
            test_start = end - timedelta(days=(self.folds - i) * self.test_days)
            train_start = test_start - timedelta(days=self.delay_days + self.train_days)
            if train_start < first_day:
                needed = self.train_days + self.delay_days + self.folds * self.test_days
                raise PlanError(
                    f"{self.folds} folds of train {self.train_days} + delay {self.delay_days} + "
                    f"test {self.test_days} days need {needed} days of data with mature labels; "
                    f"the data has {(end - first_day).days} ({first_day} to "
                    f"{end - timedelta(days=1)}): use fewer or shorter folds or more data"
                )
            plan = TimePlan(
                history_start=first_day,
                train_start=train_start,
                train_days=self.train_days,
                validation_days=0,
                test_days=self.test_days,
                label_delay_days=self.delay_days,
            )
            plan.check_data(first_day, last_day)
            plans.append(plan)
        return plans


@dataclass(frozen=True)
class BacktestConfig:
    """What a backtest trains: hyperparameters, the feature set, optional per-fold tuning."""

    name: str = "default"
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    feature_set: str | None = None
    tuning_trials: int = 0
    tuning_max_seconds: float = 600.0

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, str]) -> BacktestConfig:
        """From KEY=VALUE settings: hyperparameter names, `feature_set`, `tuning_trials`, ..."""
        rest = {k: v for k, v in settings.items() if k not in CONFIG_KEYS}
        try:
            hp = Hyperparameters.from_strings(rest)
            trials = int(settings.get("tuning_trials", 0))
            seconds = float(settings.get("tuning_max_seconds", 600))
        except (TypeError, ValueError) as error:
            raise BacktestError(f"configuration {name!r}: {error}") from error
        if trials < 0 or seconds <= 0:
            raise BacktestError(f"configuration {name!r}: tuning bounds must be positive")
        feature_builder(settings.get("feature_set") or None)  # refuse an unknown set up front
        return cls(name, hp, settings.get("feature_set") or None, trials, seconds)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "feature_set": self.feature_set or FEATURE_SET_VERSION,
            "tuning_trials": self.tuning_trials,
            **{f"hp_{k}": v for k, v in asdict(self.hyperparameters).items()},
        }


@dataclass
class FoldResult:
    fold: int
    plan: TimePlan
    metrics: dict[str, float]
    by_scenario: dict[str, dict[str, float]]
    rows: dict[str, int]
    top_feature: str
    top_feature_gain_share: float
    hyperparameters: dict[str, Any]
    seconds: float
    #: Tuning trials of this fold (number, searched values, validation AP); empty untuned.
    trials: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class BacktestResult:
    config: BacktestConfig
    folds: list[FoldResult]
    seconds: float

    def mean(self) -> dict[str, float]:
        keys = [*METRICS, "top_feature_gain_share"]
        values = {k: [f.metrics[k] for f in self.folds] for k in METRICS}
        values["top_feature_gain_share"] = [f.top_feature_gain_share for f in self.folds]
        return {k: float(np.mean(values[k])) for k in keys}

    def scenario_recall(self, scenario: str) -> float | None:
        """Recall at the 1 %-FPR threshold for one fraud scenario, averaged over the folds that
        saw it (None: none did)."""
        values = [
            f.by_scenario[scenario]["recall_at_1pct_fpr"]
            for f in self.folds
            if scenario in f.by_scenario
        ]
        return sum(values) / len(values) if values else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.describe(),
            "folds": [
                {
                    "fold": f.fold,
                    "train": [str(f.plan.train_start), str(f.plan.train_end)],
                    "test": [str(f.plan.test_start), str(f.plan.test_end)],
                    **f.metrics,
                    "top_feature": f.top_feature,
                    "top_feature_gain_share": f.top_feature_gain_share,
                    "by_scenario": f.by_scenario,
                    "rows": f.rows,
                    "hyperparameters": f.hyperparameters,
                    "trials": f.trials,
                    "seconds": f.seconds,
                }
                for f in self.folds
            ],
            "mean": self.mean(),
            "seconds": self.seconds,
        }


FeatureBuilder = Callable[[pa.Table, pa.Table], pd.DataFrame]


def feature_builder(feature_set: str | None) -> FeatureBuilder:
    """`features.offline.build_features` for the asked feature set (None: the current one)."""
    if feature_set in (None, "", FEATURE_SET_VERSION):
        return offline.build_features
    if "feature_set" not in inspect.signature(offline.build_features).parameters:
        raise BacktestError(
            f"feature_set={feature_set}: this build computes one feature set "
            f"({FEATURE_SET_VERSION}); no other version is selectable"
        )

    def build(transactions: pa.Table, labels: pa.Table) -> pd.DataFrame:
        try:
            return offline.build_features(transactions, labels, feature_set=feature_set)  # type: ignore[call-arg]
        except (KeyError, ValueError) as error:
            raise BacktestError(f"feature_set={feature_set}: {error}") from error

    return build


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The built frame's features: every column but the keys, the target and the ground truth."""
    skip = {*offline.KEY_COLUMNS, "is_fraud", "fraud_scenario"}
    return [c for c in frame.columns if c not in skip]


def _event_ms(table: pa.Table) -> np.ndarray:
    times = table["event_time"].cast(pa.timestamp("ms", tz="UTC"), safe=False)
    return pc.cast(times, pa.int64()).to_numpy().astype(np.int64)


def _labels_before(labels: pa.Table, cutoff_ms: int) -> pa.Table:
    reported = labels["reported_at"].cast(pa.timestamp("ms", tz="UTC"), safe=False)
    limit = pa.scalar(cutoff_ms, pa.timestamp("ms", tz="UTC"))
    return labels.filter(pc.less(reported, limit))


def _inner_split(train: pd.DataFrame, plan: TimePlan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Early-stopping split of the training window: its last quarter of days (at least one)."""
    days = max(1, round(plan.train_days / 4)) if plan.train_days > 1 else 0
    if days == 0:
        return train, train
    boundary = pd.Timestamp(plan.train_end - timedelta(days=days), tz="UTC")
    early = train[train["event_time"] < boundary]
    late = train[train["event_time"] >= boundary]
    if early["is_fraud"].sum() == 0 or late["is_fraud"].sum() == 0:
        return train, train  # too few frauds to split: stop early on the training rows
    return early, late


def run_fold(
    number: int,
    plan: TimePlan,
    transactions: pa.Table,
    labels: pa.Table,
    config: BacktestConfig,
    build: FeatureBuilder,
    on_trial: Callable[[Any], None] | None = None,
) -> FoldResult:
    started = time.perf_counter()
    cutoff = day_ms(plan.test_start)
    test_end = day_ms(plan.test_end)
    history = transactions.filter(pc.less(_event_ms(transactions), pa.scalar(test_end)))
    known = _labels_before(labels, cutoff)
    features = build(history, known)
    names = feature_columns(features)
    known_reports, _ = fraud_reports(known)
    all_reports, scenario = fraud_reports(labels)
    event_ms = features["event_time"].astype("datetime64[ms, UTC]").astype("int64").to_numpy()
    ids = features["transaction_id"].to_numpy()

    in_train = (event_ms >= day_ms(plan.train_start)) & (event_ms < day_ms(plan.train_end))
    train = features.loc[in_train].reset_index(drop=True)
    train["is_fraud"] = [1 if t in known_reports else 0 for t in ids[in_train]]
    in_test = (event_ms >= cutoff) & (event_ms < test_end)
    test = features.loc[in_test].reset_index(drop=True)
    test["is_fraud"] = [1 if t in all_reports else 0 for t in ids[in_test]]
    for name, part in (("training", train), ("test", test)):
        frauds = int(part["is_fraud"].sum())
        if frauds == 0 or frauds == len(part):
            raise PlanError(
                f"fold {number}: the {name} window ({part['event_time'].min()} ..) holds "
                f"{'no fraud' if frauds == 0 else 'only fraud'} with a known label: "
                "use longer windows or more data"
            )

    early, late = _inner_split(train, plan)
    hp = config.hyperparameters
    trials: list[dict[str, Any]] = []
    if config.tuning_trials > 1:
        result = tune(
            early,
            late,
            hp,
            max_trials=config.tuning_trials,
            max_seconds=config.tuning_max_seconds,
            seed=hp.seed + number,
            names=names,
            on_trial=on_trial,
        )
        hp = result.best.hyperparameters
        trials = [
            {"number": t.number, "validation_ap": t.validation_ap, **t.searched()}
            for t in result.trials
        ]
    _, booster, params = select_and_refit(early, late, hp, refit_on=train, names=names)

    x_test, y_test = matrix(test, names)
    scores = booster.inplace_predict(x_test)
    days = test["event_time"].dt.floor("D").to_numpy()
    cards = test["card_id"].to_numpy()
    compromised = _compromised(features, all_reports)
    metrics = quality_metrics(y_test, scores, days, cards, compromised)
    cut = threshold_at_fpr(y_test, scores, 0.01)
    truth = np.array([scenario.get(t, "") for t in test["transaction_id"]])
    by_scenario = {
        name: {"frauds": int(mask.sum()), "recall_at_1pct_fpr": float((scores[mask] >= cut).mean())}
        for name in sorted(set(truth) - {""})
        for mask in [truth == name]
    }
    gain = booster.get_score(importance_type="total_gain")
    total = sum(gain.values()) or 1.0
    top = max(gain, key=gain.get) if gain else ""
    return FoldResult(
        fold=number,
        plan=plan,
        metrics=metrics,
        by_scenario=by_scenario,
        rows={
            "history": int((event_ms < day_ms(plan.train_start)).sum()),
            "train": len(train),
            "train_fraud": int(train["is_fraud"].sum()),
            "test": len(test),
            "test_fraud": int(y_test.sum()),
        },
        top_feature=top,
        top_feature_gain_share=float(gain.get(top, 0.0) / total),
        hyperparameters={**asdict(hp), "rounds": int(params["best_iteration"]) + 1},
        seconds=time.perf_counter() - started,
        trials=trials,
    )


def _compromised(features: pd.DataFrame, reports: dict[str, int]) -> dict[Any, pd.Timestamp]:
    """Card → first fraud report over the whole history (known from the next day on)."""
    at = features["transaction_id"].map(reports)
    frame = pd.DataFrame({"card": features["card_id"], "at": at}).dropna()
    first = frame.groupby("card")["at"].min()
    return {c: pd.Timestamp(int(ms), unit="ms", tz="UTC") for c, ms in first.items()}


def run_backtest(
    transactions: pa.Table,
    labels: pa.Table,
    plan: BacktestPlan,
    config: BacktestConfig | None = None,
    on_fold: Callable[[FoldResult], None] | None = None,
    on_trial: Callable[[int, Any], None] | None = None,
) -> BacktestResult:
    """Every fold of `plan` with `config`; folds share nothing but the data."""
    config = config or BacktestConfig()
    build = feature_builder(config.feature_set)
    if transactions.num_rows == 0:
        raise BacktestError("the dataset holds no transactions")
    event_ms = _event_ms(transactions)
    first = pd.Timestamp(int(event_ms.min()), unit="ms").date()
    last = pd.Timestamp(int(event_ms.max()), unit="ms").date()
    reports, _ = fraud_reports(labels)
    plans = plan.fold_plans(first, last, label_horizon_ms(event_ms, reports))
    started = time.perf_counter()
    folds = []
    for number, fold_plan in enumerate(plans):
        trial_hook = None if on_trial is None else (lambda t, n=number: on_trial(n, t))
        result = run_fold(number, fold_plan, transactions, labels, config, build, trial_hook)
        folds.append(result)
        if on_fold is not None:
            on_fold(result)
    return BacktestResult(config=config, folds=folds, seconds=time.perf_counter() - started)


def compare(a: BacktestResult, b: BacktestResult) -> dict[str, Any]:
    """Side by side: per fold and mean, each metric of both configurations and b - a."""
    rows = []
    for fa, fb in zip(a.folds, b.folds, strict=True):
        rows.append(
            {
                "fold": fa.fold,
                **{f"{k}_a": fa.metrics[k] for k in METRICS},
                **{f"{k}_b": fb.metrics[k] for k in METRICS},
            }
        )
    mean_a, mean_b = a.mean(), b.mean()
    return {
        "a": a.config.describe(),
        "b": b.config.describe(),
        "folds": rows,
        "mean": {
            k: {"a": mean_a[k], "b": mean_b[k], "b_minus_a": mean_b[k] - mean_a[k]} for k in mean_a
        },
    }
