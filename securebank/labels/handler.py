"""Lambda handler for the labels table's stream (DynamoDB event source, in terraform/operations.tf).

A failure raises, so Lambda retries the batch; applying a label change is idempotent, so the
retry has an exactly-once effect on the merchant state.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from securebank.aws import AwsClients
from securebank.labels.stream import MerchantLabelState, apply_changes, changes_from_stream
from securebank.settings import get_settings

logger = Logger(service="securebank-labels")
metrics = Metrics(namespace="SecureBank", service="securebank-labels")
_target: MerchantLabelState | None = None


def target() -> MerchantLabelState:
    global _target
    if _target is None:
        settings = get_settings()
        aws = AwsClients(region=settings.region, endpoint_url=settings.aws_endpoint_url)
        _target = MerchantLabelState(aws.client("dynamodb"), settings.names.feature_table)
    return _target


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = apply_changes(changes_from_stream(event.get("Records", [])), target())
    metrics.add_metric("LabelChanges", MetricUnit.Count, report.changes)
    metrics.add_metric("LabelsApplied", MetricUnit.Count, report.applied)
    metrics.add_metric("LabelConflicts", MetricUnit.Count, report.conflicts)
    logger.info("labels applied", extra={"changes": report.changes, "applied": report.applied})
    return {"changes": report.changes, "applied": report.applied}
