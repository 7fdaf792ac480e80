"""The run report: one self-contained HTML page with the model's evaluation and the live stream.

Plots (PNG, embedded): precision-recall curve from the pipeline's evaluation, live score
distribution, put → decision latency histogram, decisions over time; and the top alerts with
their reason codes.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow as pa


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _img(data: str, alt: str) -> str:
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(alt)}</figcaption></figure>'


def live_plots(frame: pd.DataFrame) -> dict[str, str]:
    plots = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(frame["score"], bins=np.linspace(0, 1, 51), log=True)
    for name in ("review_threshold", "decline_threshold"):
        ax.axvline(float(frame[name].median()), linestyle="--", color="black")
    ax.set(xlabel="fraud score", ylabel="decisions (log)", title="Live score distribution")
    plots["Live score distribution (dashed: review and decline thresholds)"] = _png(fig)
    latency = frame["decided_at_ms"] - frame["arrived_at_ms"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(latency, bins=50)
    p50, p99 = np.percentile(latency, [50, 99])
    ax.set(
        xlabel="ms",
        ylabel="decisions",
        title=f"Put → decision latency (p50 {p50:.0f} ms, p99 {p99:.0f} ms)",
    )
    plots["Put → decision latency"] = _png(fig)
    seconds = (frame["decided_at_ms"] // 1000).value_counts().sort_index()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(seconds.index - seconds.index.min(), seconds.values)
    ax.set(
        xlabel="seconds since the first decision",
        ylabel="decisions per second",
        title="Throughput over time",
    )
    plots["Throughput over time"] = _png(fig)
    return plots


def top_alerts(frame: pd.DataFrame, limit: int = 20) -> str:
    alerts = frame[frame["action"] != "approve"].sort_values("score", ascending=False).head(limit)
    rows = []
    for record in alerts.itertuples(index=False):
        reasons = json.loads(record.reason_codes) if record.reason_codes else []
        text = ", ".join(f"{r['feature']} (+{r['contribution']:.2f})" for r in reasons)
        rows.append(
            f"<tr><td>{html.escape(record.transaction_id)}</td><td>{html.escape(record.event_time)}</td>"
            f"<td>{html.escape(str(record.amount))} {html.escape(record.currency)}</td>"
            f"<td>{record.score:.4f}</td><td>{html.escape(record.action)}</td><td>{html.escape(text)}</td></tr>"
        )
    return (
        "<table><thead><tr><th>transaction</th><th>event time</th><th>amount</th><th>score</th>"
        "<th>action</th><th>reason codes</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def write_report(
    out: Path,
    decisions: pa.Table,
    evaluation: dict[str, Any] | None,
    evaluation_pngs: dict[str, bytes],
    title: str = "SecureBank run report",
) -> Path:
    frame = decisions.to_pandas()
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if evaluation is not None:
        metrics = evaluation["metrics"]
        baseline = evaluation["baseline"]
        rows = "".join(
            f"<tr><td>{name}</td><td>{m['value']:.4f}</td><td>{baseline[name]['value']:.4f}</td></tr>"
            for name, m in metrics.items()
        )
        parts.append(
            "<h2>Model evaluation (test split)</h2><table><thead><tr><th>metric</th><th>XGBoost</th>"
            f"<th>baseline</th></tr></thead><tbody>{rows}</tbody></table>"
            f"<p>Thresholds: {html.escape(evaluation['thresholds']['rule'])} → review "
            f"{evaluation['thresholds']['review']:.4f}, decline {evaluation['thresholds']['decline']:.4f}.</p>"
        )
        for name, png in evaluation_pngs.items():
            parts.append(_img(base64.b64encode(png).decode(), name))
    if len(frame):
        counts = frame["action"].value_counts().to_dict()
        scored_by = frame["scored_by"].value_counts().to_dict()
        parts.append(
            f"<h2>Live stream</h2><p>{len(frame):,} decisions: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
            + "; scored by "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(scored_by.items()))
            + ".</p>"
        )
        parts += [_img(png, name) for name, png in live_plots(frame).items()]
        parts.append("<h2>Top alerts</h2>" + top_alerts(frame))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>SecureBank run report</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px}"
        "th{background:#eee}figure{display:inline-block;margin:8px}</style></head><body>"
        + "".join(parts)
        + "</body></html>"
    )
    return out
