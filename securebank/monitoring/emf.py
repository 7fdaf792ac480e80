"""Performance figures as CloudWatch Embedded Metric Format lines (one per model version).

Printed to stdout by `securebank monitor performance --emf` (and by a scheduled job in AWS, whose
log group CloudWatch turns into metrics); the alarms in terraform/operations.tf watch them.
"""

from __future__ import annotations

import json
import math
from typing import Any

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
