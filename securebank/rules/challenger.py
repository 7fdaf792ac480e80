"""Challenger replay: a past period through the online path, champion and challenger side by side.

The history up to the end of the period is replayed in process through the online feature path
(`features.replay`: the scorer's `compute_and_apply`, labels applied as reported), so the period's
transactions see exactly the state the stream would have built from the history before them.
Each model scores the period's vectors and decides with its own thresholds; a rule set, when
given, is evaluated on the same vectors and transaction fields and combined with each model's
action as the scorer does. Compared: alerts per day, analyst load (reviews per day), frauds and
amount caught, recall per fraud scenario and per channel, and the decisions that change.

Pure: tables and models in, a `ReplayComparison` out; `write_html` renders it, and
`write_record` keeps the last replay of each challenger (`model deploy --canary` looks for it).
"""

from __future__ import annotations

import html
import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from securebank.features.definitions import FEATURE_INDEX
from securebank.features.replay import replay
from securebank.model_artifact import FraudModel
from securebank.rules.ruleset import TRANSACTION_FIELDS, CompiledRuleSet, combine, rule_row


@dataclass
class Side:
    name: str
    alerts: int
    reviews_per_day: float
    alerts_per_day: dict[str, int]
    frauds: int
    frauds_caught: int
    amount_fraud_usd: float
    amount_caught_usd: float
    recall_by_scenario: dict[str, float | None]
    recall_by_channel: dict[str, float | None]
    actions: dict[str, int]


@dataclass
class ReplayComparison:
    start: str
    end: str
    transactions: int
    replayed: int
    seconds: float
    rules_version: str
    champion: Side
    challenger: Side
    changes: dict[str, int] = field(default_factory=dict)

    @property
    def replay_tps(self) -> float:
        return self.replayed / self.seconds if self.seconds else 0.0


def _side(
    name: str,
    actions: np.ndarray,
    period: pd.DataFrame,
    fraud: np.ndarray,
    days: int,
) -> Side:
    alert = actions != "approve"
    day = period["day"].to_numpy()
    caught = alert & fraud
    amounts = period["amount_usd"].to_numpy()

    def recall_by(column: str, mask: np.ndarray) -> dict[str, float | None]:
        values = period[column].fillna("(none)").astype(str).to_numpy()
        out: dict[str, float | None] = {}
        for value in sorted(set(values[mask])):
            frauds = mask & (values == value)
            out[value] = float(caught[frauds].sum() / frauds.sum()) if frauds.sum() else None
        return out

    return Side(
        name=name,
        alerts=int(alert.sum()),
        reviews_per_day=float((actions == "review").sum() / max(days, 1)),
        alerts_per_day={d: int(n) for d, n in sorted(Counter(day[alert]).items())},
        frauds=int(fraud.sum()),
        frauds_caught=int(caught.sum()),
        amount_fraud_usd=float(amounts[fraud].sum()),
        amount_caught_usd=float(amounts[caught].sum()),
        recall_by_scenario=recall_by("fraud_scenario", fraud),
        recall_by_channel=recall_by("channel", fraud),
        actions={a: int(n) for a, n in sorted(Counter(actions.tolist()).items())},
    )


def compare(
    transactions: pa.Table,
    labels: pa.Table,
    start: datetime,
    end: datetime,
    champion: tuple[str, FraudModel],
    challenger: tuple[str, FraudModel],
    rules: CompiledRuleSet | None = None,
    lists: Mapping[str, frozenset] | None = None,
) -> ReplayComparison:
    if start >= end:
        raise ValueError("--from must be before --to")
    stamp = pa.scalar(end, pa.timestamp("ms", tz="UTC"))
    history = transactions.filter(pc.less(transactions["event_time"], stamp))
    started = time.perf_counter()
    online = replay(history, labels)
    times_ms = pc.cast(
        pc.cast(history["event_time"], pa.timestamp("ms", tz="UTC")), pa.int64()
    ).to_numpy()
    fields = ["transaction_id", *TRANSACTION_FIELDS]
    start_ms = int(start.timestamp() * 1000)
    in_period = history.filter(pa.array(times_ms >= start_ms))
    rows = {r["transaction_id"]: r for r in in_period.select(fields).to_pylist()}
    time_by_id = dict(
        zip(
            in_period["transaction_id"].to_pylist(),
            times_ms[times_ms >= start_ms].tolist(),
            strict=True,
        )
    )
    keep = np.array([t in time_by_id for t in online.transaction_ids], dtype=bool)
    vectors = online.vectors[keep]
    ids = [t for t, k in zip(online.transaction_ids, keep, strict=True) if k]
    decided: dict[str, np.ndarray] = {}
    for name, model in (champion, challenger):
        columns = [FEATURE_INDEX[n] for n in model.manifest.feature_names]
        x = vectors[:, columns].astype(np.float32)
        scores = model.booster.inplace_predict(x) if len(ids) else []
        decided[name] = np.asarray(model.manifest.thresholds.decide_many(np.asarray(scores)))
    if rules is not None and rules.rules:
        named = {name: (lists or {}).get(name, frozenset()) for name in rules.lists}
        for i, tid in enumerate(ids):
            hits = rules.evaluate(rule_row(vectors[i].tolist(), rows[tid]), named)
            if hits:
                for name in decided:
                    decided[name][i] = combine(str(decided[name][i]), hits)
    seconds = time.perf_counter() - started

    period = pd.DataFrame({"transaction_id": ids})
    period["amount_usd"] = vectors[:, FEATURE_INDEX["amount_usd"]] if len(ids) else []
    period["channel"] = [rows[t]["channel"] for t in ids]
    period["day"] = pd.to_datetime([time_by_id[t] for t in ids], unit="ms", utc=True).strftime(
        "%Y-%m-%d"
    )
    frauds = labels.filter(pc.equal(labels["is_fraud"], True)).to_pandas()
    scenario = dict(zip(frauds["transaction_id"], frauds["fraud_scenario"], strict=True))
    period["fraud_scenario"] = [scenario.get(t) for t in ids]
    fraud = period["transaction_id"].isin(set(frauds["transaction_id"])).to_numpy()
    days = max(1, round((end - start).total_seconds() / 86_400))
    names = [champion[0], challenger[0]]
    a, b = decided[names[0]], decided[names[1]]
    changed = Counter(f"{x} -> {y}" for x, y in zip(a.tolist(), b.tolist(), strict=True) if x != y)
    return ReplayComparison(
        start=start.isoformat(),
        end=end.isoformat(),
        transactions=len(ids),
        replayed=history.num_rows,
        seconds=seconds,
        rules_version=rules.version if rules is not None else "",
        champion=_side(names[0], a, period, fraud, days),
        challenger=_side(names[1], b, period, fraud, days),
        changes=dict(sorted(changed.items())),
    )


def _table(rows: list[list[Any]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def write_html(result: ReplayComparison, path: Path) -> Path:
    c, k = result.champion, result.challenger
    summary = [
        ["alerts", f"{c.alerts:,}", f"{k.alerts:,}"],
        [
            "reviews per day (analyst load)",
            f"{c.reviews_per_day:,.1f}",
            f"{k.reviews_per_day:,.1f}",
        ],
        [
            "frauds caught",
            f"{c.frauds_caught:,} / {c.frauds:,}",
            f"{k.frauds_caught:,} / {k.frauds:,}",
        ],
        [
            "amount caught (USD)",
            f"{c.amount_caught_usd:,.2f} / {c.amount_fraud_usd:,.2f}",
            f"{k.amount_caught_usd:,.2f} / {k.amount_fraud_usd:,.2f}",
        ],
        *[
            [f"action {a}", f"{c.actions.get(a, 0):,}", f"{k.actions.get(a, 0):,}"]
            for a in ("approve", "review", "decline")
        ],
    ]
    days = sorted(set(c.alerts_per_day) | set(k.alerts_per_day))
    per_day = [[d, c.alerts_per_day.get(d, 0), k.alerts_per_day.get(d, 0)] for d in days]
    scenarios = sorted(set(c.recall_by_scenario) | set(k.recall_by_scenario))
    per_scenario = [
        [s, _pct(c.recall_by_scenario.get(s)), _pct(k.recall_by_scenario.get(s))] for s in scenarios
    ]
    channels = sorted(set(c.recall_by_channel) | set(k.recall_by_channel))
    per_channel = [
        [s, _pct(c.recall_by_channel.get(s)), _pct(k.recall_by_channel.get(s))] for s in channels
    ]
    header = ["", f"champion {c.name}", f"challenger {k.name}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""<!doctype html><html><head><meta charset="utf-8"><title>Challenger replay</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}th{{background:#eee}}</style>
</head><body><h1>Challenger replay {html.escape(result.start)} to {html.escape(result.end)}</h1>
<p>{result.transactions:,} transactions in the period; {result.replayed:,} replayed through the
online path (history before the period included) in {result.seconds:.1f} s
({result.replay_tps:,.0f}/s). Rule set: {html.escape(result.rules_version or "none")}.</p>
<h2>Summary</h2>{_table(summary, header)}
<h2>Decisions that change</h2>{
            _table(
                [[k_, v] for k_, v in result.changes.items()],
                ["champion -> challenger", "transactions"],
            )
        }
<h2>Recall per fraud scenario</h2>{_table(per_scenario, ["scenario", *header[1:]])}
<h2>Recall per channel</h2>{_table(per_channel, ["channel", *header[1:]])}
<h2>Alerts per day</h2>{_table(per_day, ["day", *header[1:]])}
</body></html>"""
    )
    return path


def record_path(home: Path, version: int) -> Path:
    """Where the last replay of a model version is recorded, under SECUREBANK_HOME."""
    return home / "replays" / f"model-{version}.json"


def write_record(home: Path, version: int, result: ReplayComparison, report: Path) -> Path:
    """Record `result` (with its HTML report's path) as the last replay of `version`."""
    record = record_path(home, version)
    record.parent.mkdir(parents=True, exist_ok=True)
    document = {**asdict(result), "replay_tps": result.replay_tps, "report": str(report)}
    record.write_text(json.dumps(document, indent=2))
    return record
