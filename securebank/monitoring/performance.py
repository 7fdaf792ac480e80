"""Live model performance on matured labels: precision, recall and load, by day, version, segment.

Pure: takes the decisions (as the lake holds them) and the effective labels (as the labels
table holds them) and an "as of" time. Fraud labels arrive weeks after the transaction, so a
decision counts only once its label has matured: its transaction is at least `maturity_days`
older than `as_of`. A matured decision without a fraud label known at `as_of` is legitimate.

An alert is a review or a decline. Per group:

* precision = alerts that were fraud / alerts; recall = frauds alerted / frauds;
* amount-weighted recall = USD amount of the frauds alerted / USD amount of all frauds;
* alert rate = alerts / decisions; analyst load = reviews per day (what the queue receives);
* average precision of the scores (the retraining trigger's measure), when both classes occur.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from securebank.reference import USD_PER_UNIT

if TYPE_CHECKING:
    from securebank.model_artifact import FraudModel

DAY_MS = 86_400_000
ALERT_ACTIONS = ("review", "decline")
SEGMENTS = ("mcc", "country", "channel", "new_device", "amount_band")
GROUPINGS = ("day", "model_version", *SEGMENTS)
AMOUNT_BANDS = ((0, "<50"), (50, "50-200"), (200, "200-1000"), (1000, ">=1000"))
CHANNELS = {0.0: "pos", 1.0: "ecommerce", 2.0: "atm", 3.0: "transfer"}


@dataclass(frozen=True)
class EffectiveLabel:
    is_fraud: bool
    reported_at_ms: int


def amount_usd(amount: Any, currency: Any) -> float:
    try:
        return float(Decimal(str(amount))) * USD_PER_UNIT.get(str(currency), float("nan"))
    except (InvalidOperation, ValueError):
        return float("nan")


def amount_band(usd: float) -> str:
    if usd != usd:
        return "unknown"
    band = AMOUNT_BANDS[0][1]
    for floor, name in AMOUNT_BANDS:
        if usd >= floor:
            band = name
    return band


def _feature(row: Mapping[str, Any], names: Sequence[str], name: str) -> float | None:
    values = row.get("features")
    if not values or name not in names or len(values) != len(names):
        return None
    value = values[list(names).index(name)]
    return None if value is None or value != value else float(value)


def decision_frame(
    decisions: Sequence[Mapping[str, Any]], feature_names: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """One row per decision with the columns the metrics group by.

    `feature_names` maps a feature-set version to its feature names, to read the channel and
    the new-device flag out of the scored vector; other versions give "unknown" there."""
    rows = []
    for d in decisions:
        names = feature_names.get(str(d.get("feature_set_version")), ())
        usd = amount_usd(d.get("amount"), d.get("currency"))
        channel = _feature(d, names, "channel")
        new_device = _feature(d, names, "is_new_device")
        event_ms = int(pd.Timestamp(d["event_time"]).value // 1_000_000)
        rows.append(
            {
                "transaction_id": str(d["transaction_id"]),
                "event_ms": event_ms,
                "day": pd.Timestamp(event_ms, unit="ms").strftime("%Y-%m-%d"),
                "action": str(d["action"]),
                "score": float(d["score"]),
                "model_version": str(d.get("model_version", "")),
                "amount_usd": usd,
                "mcc": str(d.get("mcc") or "unknown"),
                "country": str(d.get("merchant_country") or "unknown"),
                "channel": "unknown" if channel is None else CHANNELS.get(channel, "unknown"),
                "new_device": "unknown" if new_device is None else ("yes" if new_device else "no"),
                "amount_band": amount_band(usd),
                "feature_set_version": str(d.get("feature_set_version", "")),
                "features": d.get("features"),
            }
        )
    return pd.DataFrame(rows)


def label_decisions(
    frame: pd.DataFrame,
    labels: Mapping[str, EffectiveLabel],
    as_of_ms: int,
    maturity_days: float,
) -> pd.DataFrame:
    """The matured decisions, each with `is_fraud` as known at `as_of_ms`."""
    if frame.empty:
        return frame.assign(is_fraud=pd.Series(dtype=bool), alerted=pd.Series(dtype=bool))
    matured = frame[frame["event_ms"] <= as_of_ms - maturity_days * DAY_MS].copy()
    matured["is_fraud"] = [
        (lab := labels.get(t)) is not None and lab.is_fraud and lab.reported_at_ms <= as_of_ms
        for t in matured["transaction_id"]
    ]
    matured["alerted"] = matured["action"].isin(ALERT_ACTIONS)
    return matured


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else float("nan")


def metrics(group: pd.DataFrame) -> dict[str, float]:
    fraud, alerted = group["is_fraud"].to_numpy(bool), group["alerted"].to_numpy(bool)
    amounts = np.nan_to_num(group["amount_usd"].to_numpy(float))
    caught = fraud & alerted
    days = max(group["day"].nunique(), 1)
    both = 0 < fraud.sum() < len(fraud)
    return {
        "decisions": len(group),
        "alerts": int(alerted.sum()),
        "frauds": int(fraud.sum()),
        "caught": int(caught.sum()),
        "precision": _ratio(caught.sum(), alerted.sum()),
        "recall": _ratio(caught.sum(), fraud.sum()),
        "amount_recall": _ratio(amounts[caught].sum(), amounts[fraud].sum()),
        "alert_rate": _ratio(alerted.sum(), len(group)),
        "analyst_load_per_day": float((group["action"] == "review").sum()) / days,
        "average_precision": float(average_precision_score(fraud, group["score"]))
        if both
        else float("nan"),
    }


def performance(labelled: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """Metrics over all matured decisions (`by=None`) or per value of one grouping."""
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"group by one of {', '.join(GROUPINGS)}")
    if labelled.empty:
        return pd.DataFrame()
    if by is None:
        return pd.DataFrame([{"group": "all", **metrics(labelled)}])
    rows = [
        {by: key, **metrics(group)} for key, group in labelled.groupby(by, sort=True, dropna=False)
    ]
    if by == "amount_band":
        order = [name for _, name in AMOUNT_BANDS] + ["unknown"]
        rows.sort(key=lambda row: order.index(row[by]))
    return pd.DataFrame(rows)


def challenger_view(
    labelled: pd.DataFrame, scores: np.ndarray, actions: Sequence[str]
) -> pd.DataFrame:
    """The same matured decisions as a challenger model would have decided them: its scores and
    actions replace the champion's, everything else (labels, amounts, days) stays."""
    view = labelled.copy()
    view["score"] = np.asarray(scores, dtype=float)
    view["action"] = list(actions)
    view["alerted"] = view["action"].isin(ALERT_ACTIONS)
    return view


def rescore(labelled: pd.DataFrame, model: FraudModel) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The matured decisions `model` can score (feature vectors of its length), as they were
    decided live and as `model` would have decided them (`challenger_view`); both empty when
    none can be scored."""
    usable = labelled[
        labelled["features"].map(
            lambda f: isinstance(f, list) and len(f) == len(model.manifest.feature_names)
        )
    ]
    if usable.empty:
        return usable, usable
    x = np.array(
        [[np.nan if v is None else v for v in f] for f in usable["features"]], dtype=np.float32
    )
    scores = model.booster.inplace_predict(x)
    actions = model.manifest.thresholds.decide_many(scores).tolist()
    return usable, challenger_view(usable, scores, actions)
