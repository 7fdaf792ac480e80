"""Lambda handler for the alerts queue (SQS event source, ReportBatchItemFailures): each alert
becomes a case (terraform/operations.tf). An invalid alert is logged with its reason and
acknowledged; a store failure reports the message for retry (creation is idempotent)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from securebank.aws import AwsClients
from securebank.cases.alerts import cases_from_messages
from securebank.cases.store import CaseStore
from securebank.labels.store import iso_ms
from securebank.settings import get_settings

logger = Logger(service="securebank-cases")
metrics = Metrics(namespace="SecureBank", service="securebank-cases")
_store: CaseStore | None = None


def store() -> CaseStore:
    global _store
    if _store is None:
        settings = get_settings()
        aws = AwsClients(region=settings.region, endpoint_url=settings.aws_endpoint_url)
        _store = CaseStore(aws.client("dynamodb"), settings.names.cases_table)
    return _store


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records", [])
    parsed = cases_from_messages([r["body"] for r in records], iso_ms(int(time.time() * 1000)))
    failures, created, invalid = [], 0, 0
    for index, case, reason in parsed:
        if case is None:
            invalid += 1
            logger.warning("invalid alert", extra={"reason": reason})
            continue
        try:
            created += store().create(case)
        except Exception:
            logger.exception("case not stored; the alert is retried")
            failures.append({"itemIdentifier": records[index]["messageId"]})
    metrics.add_metric("CasesCreated", MetricUnit.Count, created)
    metrics.add_metric("InvalidAlerts", MetricUnit.Count, invalid)
    return {"batchItemFailures": failures}
