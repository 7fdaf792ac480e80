"""Backtesting a rule set on point-in-time features: what it would have flagged, and how well.

The features are `features.offline.build_features` over the whole history up to the end of the
period — the same definitions the scorer evaluates online, each transaction seeing only what came
before it (and fraud labels only once reported) — so a rule means the same thing here and in the
stream; `tests/rules/test_backtest.py` replays a stream online and finds the same hits.

Reported per period: alerts per day (a transaction is an alert when a review or decline rule
fires and no allow rule overrides a review — `combine` with a model that approves everything),
hits per rule, precision and recall on matured labels, overlap with a model's alerts when scores
are given, and example hits. Matured: transactions at least `label_delay_days` before `as_of`,
whose fraud label had time to arrive; fraud means a label reported by `as_of`.

Lists are read as they are now (the block list of today applied to the past), which is what a
team asks before shipping a change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from securebank.features.definitions import FEATURE_NAMES
from securebank.features.offline import build_features
from securebank.model_artifact import FraudModel
from securebank.rules.ruleset import (
    TRANSACTION_FIELDS,
    CompiledRuleSet,
    RuleHit,
    combine,
    rule_row,
)


@dataclass
class BacktestReport:
    rules_version: str
    start: str
    end: str
    transactions: int
    alerts: int
    alerts_per_day: dict[str, int]
    hits_per_rule: dict[str, int]
    matured: int
    matured_frauds: int
    precision: float | None
    recall: float | None
    per_rule_precision: dict[str, float | None]
    model_alerts: int | None = None
    overlap: dict[str, int] | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def offline_hits(
    rules: CompiledRuleSet,
    features: pd.DataFrame,
    transactions: pa.Table,
    lists: Mapping[str, frozenset],
) -> list[list[str]]:
    """For each row of `features` (from build_features), the names of the rules that fire.

    The transaction fields come from `transactions` by transaction_id, through the same
    `rule_row` the scorer uses.
    """
    fields = ["transaction_id", *TRANSACTION_FIELDS]
    wanted = pc.is_in(transactions["transaction_id"], pa.array(features["transaction_id"]))
    by_id = {r["transaction_id"]: r for r in transactions.filter(wanted).select(fields).to_pylist()}
    vectors = features[list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
    names = [rule.name for rule in rules.rules]
    out = []
    for tid, vector in zip(features["transaction_id"], vectors, strict=True):
        row = rule_row(vector.tolist(), by_id[tid])
        out.append([n for n, c in zip(names, rules.conditions, strict=True) if c(row, lists)])
    return out


def backtest(
    rules: CompiledRuleSet,
    transactions: pa.Table,
    labels: pa.Table,
    start: datetime,
    end: datetime,
    lists: Mapping[str, frozenset],
    *,
    as_of: datetime | None = None,
    label_delay_days: int = 7,
    model_scores: Mapping[str, float] | None = None,
    model_review_threshold: float | None = None,
    model: FraudModel | None = None,
    examples: int = 3,
) -> BacktestReport:
    """Evaluate `rules` on the transactions in [start, end) with features from all history
    before `end`. A `model` (scored here on the same features, alert at its review threshold)
    or `model_scores` (transaction_id -> score) with `model_review_threshold` adds the overlap
    with the model's alerts."""
    if start >= end:
        raise ValueError("--from must be before --to")
    lists = {name: lists.get(name, frozenset()) for name in rules.lists}
    stamp = pa.scalar(end, pa.timestamp("ms", tz="UTC"))
    history = transactions.filter(pc.less(transactions["event_time"], stamp))
    features = build_features(history, labels)
    times = pd.to_datetime(features["event_time"], utc=True)
    in_period = (times >= pd.Timestamp(start)) & (times < pd.Timestamp(end))
    period = features[in_period.to_numpy()].reset_index(drop=True)
    hits = offline_hits(rules, period, history, lists)
    by_name = {rule.name: rule for rule in rules.rules}
    actions = [
        combine("approve", [_hit(by_name[h]) for h in names]) if names else "approve"
        for names in hits
    ]
    alert = np.array([a != "approve" for a in actions], dtype=bool)
    days = pd.to_datetime(period["event_time"], utc=True).dt.strftime("%Y-%m-%d")
    alerts_per_day = {d: int(n) for d, n in sorted(Counter(days[alert]).items())}
    hits_per_rule = Counter(h for names in hits for h in names)

    as_of = as_of or _latest(transactions, labels)
    fraud_ids = _reported_frauds(labels, as_of)
    matured = (
        pd.to_datetime(period["event_time"], utc=True)
        <= pd.Timestamp(as_of) - timedelta(days=label_delay_days)
    ).to_numpy()
    is_fraud = period["transaction_id"].isin(fraud_ids).to_numpy()
    precision, recall = _precision_recall(alert[matured], is_fraud[matured])
    per_rule = {}
    for name in by_name:
        fired = np.array([name in h for h in hits], dtype=bool)
        per_rule[name] = _precision_recall(fired[matured], is_fraud[matured])[0]

    if model is not None:
        x = period[model.manifest.feature_names].to_numpy(dtype=np.float32)
        scored = model.booster.inplace_predict(x) if len(x) else np.empty(0)
        model_scores = dict(zip(period["transaction_id"], map(float, scored), strict=True))
        model_review_threshold = model.manifest.review_threshold
    model_alerts = overlap = None
    if model_scores is not None and model_review_threshold is not None:
        flagged = np.array(
            [model_scores.get(t, 0.0) >= model_review_threshold for t in period["transaction_id"]]
        )
        model_alerts = int(flagged.sum())
        overlap = {
            "both": int((flagged & alert).sum()),
            "rules_only": int((~flagged & alert).sum()),
            "model_only": int((flagged & ~alert).sum()),
        }

    shown: list[dict[str, Any]] = []
    per_rule_shown: Counter[str] = Counter()
    for i, names in enumerate(hits):
        for name in names:
            if per_rule_shown[name] < examples:
                per_rule_shown[name] += 1
                shown.append(
                    {
                        "rule": name,
                        "transaction_id": period["transaction_id"][i],
                        "event_time": str(period["event_time"][i]),
                        "card_id": period["card_id"][i],
                        "amount_usd": float(period["amount_usd"][i]),
                        "action": actions[i],
                        "fraud": bool(is_fraud[i]),
                    }
                )
    return BacktestReport(
        rules_version=rules.version,
        start=start.isoformat(),
        end=end.isoformat(),
        transactions=len(period),
        alerts=int(alert.sum()),
        alerts_per_day=alerts_per_day,
        hits_per_rule=dict(sorted(hits_per_rule.items())),
        matured=int(matured.sum()),
        matured_frauds=int(is_fraud[matured].sum()),
        precision=precision,
        recall=recall,
        per_rule_precision=per_rule,
        model_alerts=model_alerts,
        overlap=overlap,
        examples=shown,
    )


def _hit(rule: Any) -> RuleHit:
    return RuleHit(rule.name, rule.action, rule.reason)


def _reported_frauds(labels: pa.Table, as_of: datetime | None) -> set[str]:
    frame = labels.select(["transaction_id", "is_fraud", "reported_at"]).to_pandas()
    frame = frame[frame["is_fraud"].astype(bool)]
    if as_of is not None:
        frame = frame[pd.to_datetime(frame["reported_at"], utc=True) <= pd.Timestamp(as_of)]
    return set(frame["transaction_id"])


def _latest(transactions: pa.Table, labels: pa.Table) -> datetime:
    moments = [pc.max(transactions["event_time"]).as_py()]
    if len(labels):
        moments.append(pc.max(labels["reported_at"]).as_py())
    return max(m for m in moments if m is not None)


def _precision_recall(alert: np.ndarray, fraud: np.ndarray) -> tuple[float | None, float | None]:
    flagged, frauds = int(alert.sum()), int(fraud.sum())
    caught = int((alert & fraud).sum())
    return (caught / flagged if flagged else None, caught / frauds if frauds else None)
