"""The compliance (audit) report: every decision in a date range, and a reproducibility check.

For each decision: transaction id, event and decision time, model version, feature-set version,
score, thresholds, action, reason codes and who scored it. The reproducibility check re-scores a
sample of decisions with the recorded model version on the recorded features and confirms the
same scores (to 1e-6).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from securebank.model_artifact import FraudModel

AUDIT_COLUMNS = [
    "transaction_id",
    "event_time",
    "decided_at",
    "card_id",
    "merchant_id",
    "amount",
    "currency",
    "model_version",
    "feature_set_version",
    "scored_by",
    "score",
    "review_threshold",
    "decline_threshold",
    "action",
    "reason_codes",
    "explain_method",
]
#: What the rules did (securebank.rules): the model's own action, the rule-set version and the
#: rules that fired ("" for decisions made before rules were recorded).
RULE_COLUMNS = ["model_action", "rules_version", "rule_hits"]
TOLERANCE = 1e-6


@dataclass
class Reproducibility:
    checked: int
    matching: int
    max_abs_difference: float
    by_version: dict[str, int]

    @property
    def passed(self) -> bool:
        return self.checked > 0 and self.matching == self.checked


def audit_frame(decisions: pa.Table) -> pd.DataFrame:
    frame = decisions.to_pandas()
    frame["decided_at"] = pd.to_datetime(frame["decided_at_ms"], unit="ms", utc=True)
    for column in RULE_COLUMNS:
        if column not in frame:
            frame[column] = ""
    frame["rule_hits"] = [
        " ".join(map(str, hits)) if hits is not None and not isinstance(hits, str) else hits or ""
        for hits in frame["rule_hits"]
    ]
    frame["rules_version"] = frame["rules_version"].fillna("").astype(str)
    columns = AUDIT_COLUMNS + RULE_COLUMNS
    return frame[columns].sort_values(["event_time", "transaction_id"])


def check_reproducibility(
    decisions: pa.Table,
    load_version: Callable[[str], FraudModel],
    sample: int = 200,
    seed: int = 7,
) -> Reproducibility:
    frame = decisions.select(["model_version", "score", "features"]).to_pandas()
    if len(frame) > sample:
        frame = frame.sample(sample, random_state=seed)
    matching, worst, by_version = 0, 0.0, {}
    for version, rows in frame.groupby("model_version"):
        model = load_version(str(version))
        x = np.array(
            [[np.nan if v is None else v for v in f] for f in rows["features"]], dtype=np.float32
        )
        rescored = model.booster.inplace_predict(x)
        difference = np.abs(rescored - rows["score"].to_numpy())
        matching += int((difference <= TOLERANCE).sum())
        worst = max(worst, float(difference.max()))
        by_version[str(version)] = len(rows)
    return Reproducibility(len(frame), matching, worst, by_version)


def _rule_summary(frame: pd.DataFrame) -> str:
    """One sentence on the rules: versions in force and the most frequent hits."""
    if "rule_hits" not in frame:
        return ""
    hits = pd.Series([h for text in frame["rule_hits"] for h in str(text).split()])
    versions = sorted(v for v in frame["rules_version"].astype(str).unique() if v)
    if not versions and hits.empty:
        return "No rule set was active."
    top = ", ".join(f"{html.escape(k)} {v:,}" for k, v in hits.value_counts().head(10).items())
    return f"Rule-set versions: {', '.join(versions) or 'none'}; rule hits: {top or 'none'}."


def write_audit(
    frame: pd.DataFrame, check: Reproducibility, out: Path, period: tuple[str, str]
) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / f"audit_{period[0]}_{period[1]}.csv"
    frame.to_csv(csv_path, index=False)
    counts = frame["action"].value_counts().to_dict()
    verdict = "PASSED" if check.passed else "FAILED"
    rows = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in record) + "</tr>"
        for record in frame.head(5000).itertuples(index=False)
    )
    header = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    html_path = out / f"audit_{period[0]}_{period[1]}.html"
    html_path.write_text(
        f"""<!doctype html><html><head><meta charset="utf-8"><title>SecureBank audit report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px}}th{{background:#eee}}</style></head><body>
<h1>Decision audit, {period[0]} to {period[1]}</h1>
<p>Generated {datetime.now(UTC).isoformat(timespec="seconds")}. {len(frame):,} decisions:
{", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))}.
Model versions: {", ".join(sorted(frame["model_version"].astype(str).unique()))};
feature sets: {", ".join(sorted(frame["feature_set_version"].astype(str).unique()))}.
{_rule_summary(frame)}</p>
<h2>Reproducibility: {verdict}</h2>
<p>{check.matching} of {check.checked} sampled decisions re-scored with their recorded model
version on their recorded features give the recorded score (largest difference
{check.max_abs_difference:.2e}, tolerance {TOLERANCE:g}); sampled per version: {check.by_version}.
</p><h2>Decisions</h2><p>All rows are in {csv_path.name}{"; the first 5,000 below" if len(frame) > 5000 else ""}.</p>
<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table></body></html>"""
    )
    return csv_path, html_path
