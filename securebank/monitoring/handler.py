"""Scheduled Lambda: live performance on matured labels as EMF metrics (terraform/operations.tf).

The alarms on `AveragePrecision` and `Recall` (model_version "all") and the retraining rule read
what this prints."""

from __future__ import annotations

import time
from typing import Any

from securebank.aws import AwsClients
from securebank.labels.store import LabelStore
from securebank.monitoring.emf import emf_lines
from securebank.monitoring.live import live_decisions, live_labels
from securebank.monitoring.performance import label_decisions, performance
from securebank.settings import get_settings


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = get_settings()
    aws = AwsClients(region=settings.region, endpoint_url=settings.aws_endpoint_url)
    names = settings.names
    now = int(time.time() * 1000)
    maturity = float(event.get("maturity_days", 30))
    frame = live_decisions(aws.client("s3"), names.lake_bucket)
    labels = live_labels(LabelStore(aws.client("dynamodb"), names.labels_table))
    labelled = label_decisions(frame, labels, now, maturity)
    rows = performance(labelled, "model_version").to_dict("records")
    rows += performance(labelled, None).to_dict("records")
    for line in emf_lines(rows, now):
        print(line)
    return {"decisions": len(frame), "matured": len(labelled), "versions": len(rows) - 1}
