"""The Lambda handler for the transaction stream (Kinesis event source, ReportBatchItemFailures).

Short by design: score the batch with `process_batch`, emit metrics, and report failures through
Powertools' batch utility. A batch that fails as a whole (DynamoDB, SNS or S3 unavailable, a
state item that kept changing under it) reports every record, so Lambda retries it (bisecting on
error) and the retry redoes only what is missing.

The adapters are built from settings at the first batch of a container; `configure()` is the one
seam through which the local runner, benchmarks and tests hand in their own.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from securebank.scorer.assembly import build_parts
from securebank.scorer.processor import BatchReport, ScorerParts, process_batch

logger = Logger(service="securebank-scorer")
metrics = Metrics(namespace="SecureBank", service="securebank-scorer")
_configured: ScorerParts | None = None
_lock = threading.Lock()


def configure(parts: ScorerParts | None) -> None:
    """Score with `parts` from now on; None: build them from settings at the next batch."""
    global _configured
    with _lock:
        _configured = parts


def _parts() -> ScorerParts:
    global _configured
    with _lock:
        if _configured is None:
            _configured = build_parts()
            settle_after_cold_start()
        return _configured


def settle_after_cold_start() -> None:
    """Collect the cold start's garbage, then freeze what is left (clients, service models, the
    model, rules): it lives as long as the container, and frozen objects are skipped by every
    later collection, so full collections stay short (measured: pauses of up to 449 ms
    without, 129 ms with, docs/architecture.md)."""
    gc.collect()
    gc.freeze()


def record_metrics(report: BatchReport) -> None:
    metrics.add_metric("BatchLatency", MetricUnit.Milliseconds, report.seconds * 1000)
    metrics.add_metric("EndpointLatency", MetricUnit.Milliseconds, report.scoring_ms)
    metrics.add_metric("Scored", MetricUnit.Count, report.decided)
    metrics.add_metric("Fallbacks", MetricUnit.Count, report.fallback)
    metrics.add_metric("Alerts", MetricUnit.Count, report.alerts)
    metrics.add_metric("DeadLetters", MetricUnit.Count, report.invalid)
    metrics.add_metric(
        "Redelivered",
        MetricUnit.Count,
        report.skipped_redelivered + report.duplicates + report.resumed,
    )
    metrics.add_metric("StateConflicts", MetricUnit.Count, report.state_conflicts)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failure: Exception | None = None
    try:
        report = process_batch(event["Records"], _parts())
        record_metrics(report)
        logger.info(
            "batch scored",
            extra={
                "records": report.records,
                "decided": report.decided,
                "invalid": report.invalid,
                "duplicates": report.duplicates,
                "fallback": report.fallback,
                "fallback_reason": report.fallback_reason,
                "alerts": report.alerts,
                "state_conflicts": report.state_conflicts,
                "batch_ms": round(report.seconds * 1000, 1),
            },
        )
    except Exception as error:
        logger.exception("batch failed; every record is reported for retry")
        failure = error

    def record_handler(record: Any) -> None:
        if failure is not None:
            raise failure

    processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
