"""CloudWatch Embedded Metric Format: performance figures written as EMF lines (one per model
version), and the scorer's EMF lines read back into running totals.

Printed to stdout by `securebank monitor performance --emf` (and by a scheduled job in AWS, whose
log group CloudWatch turns into metrics); the alarms in terraform/operations.tf watch them.
`EmfTotals` follows the scorer's output file the way CloudWatch would read its log, for the live
view of `securebank stream run`.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

NAMESPACE = "SecureBank"
SERVICE = "securebank-performance"
METRICS = {
    "precision": "Precision",
    "recall": "Recall",
    "amount_recall": "AmountRecall",
    "alert_rate": "AlertRate",
    "average_precision": "AveragePrecision",
    "analyst_load_per_day": "AnalystLoad",
    "frauds": "MaturedFrauds",
}


def emf_lines(rows: list[dict[str, Any]], timestamp_ms: int) -> list[str]:
    lines = []
    for row in rows:
        values = {
            name: float(row[key])
            for key, name in METRICS.items()
            if key in row and not math.isnan(float(row[key]))
        }
        document = {
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [["service", "model_version"]],
                        "Metrics": [{"Name": n, "Unit": "None"} for n in values],
                    }
                ],
            },
            "service": SERVICE,
            "model_version": str(row.get("model_version", "all")),
            **values,
        }
        lines.append(json.dumps(document))
    return lines


class EmfTotals:
    """Running figures from the scorer's EMF lines in a file, read from where the last read
    stopped: every batch latency (ms) and the totals of the counted metrics."""

    COUNTED = ("Scored", "Fallbacks", "Alerts", "DeadLetters")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.batch_ms: list[float] = []
        self.totals = dict.fromkeys(self.COUNTED, 0.0)

    def read(self) -> None:
        """Add the lines written since the last read (other lines and bad JSON are skipped)."""
        if not self.path.is_file():
            return
        with self.path.open() as handle:
            handle.seek(self.offset)
            for line in handle:
                if '"_aws"' not in line:
                    continue
                with contextlib.suppress(ValueError):
                    metric = json.loads(line)
                    if "BatchLatency" in metric:
                        self.batch_ms += list(np.atleast_1d(metric["BatchLatency"]))
                    for key in self.totals:
                        self.totals[key] += float(np.sum(metric.get(key, 0)))
            self.offset = handle.tell()
