"""Fan-out of decisions: the S3 data lake, SNS alerts, and the dead-letter queue.

Lake objects and alerts are delivered at least once (a retried batch may send a decision again);
`transaction_id` identifies each, and the lake's readers keep one row per transaction. A lake
object's key ends with a digest of the transaction ids it holds, so a retry that writes other
content writes another object and never shortens one already written. Dead letters carry the
reason and the record's position; the raw data only when it is small and holds no card number.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from securebank.pan import contains_pan
from securebank.retry import retry_leftovers
from securebank.scorer.decision_store import Decision
from securebank.scorer.records import StreamRecord

SNS_BATCH = 10
SQS_BATCH = 10
#: SQS refuses a message or a batch over 256 KiB; stay under it with room for the envelope.
SQS_BATCH_BYTES = 240 * 1024
#: Raw data up to this size travels in the dead letter (base64); larger records are summarised.
DEAD_LETTER_DATA_BYTES = 8 * 1024
RISK_BANDS = {"review": "high", "decline": "critical"}


def lake_key(decisions: Sequence[Decision]) -> str:
    first = decisions[0]
    day = datetime.fromtimestamp(first.decided_at_ms / 1000, UTC).date().isoformat()
    digest = hashlib.sha256("\n".join(d.transaction_id for d in decisions).encode()).hexdigest()
    return (
        f"decisions/date={day}/{first.shard_id}-{first.sequence_number}-"
        f"{decisions[-1].sequence_number}-{digest[:16]}.jsonl"
    )


class LakeWriter:
    """Decisions as JSON lines, one object per batch, partitioned by decision date."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def write(self, decisions: Sequence[Decision]) -> str | None:
        if not decisions:
            return None
        body = "".join(json.dumps(d.as_record()) + "\n" for d in decisions).encode()
        key = lake_key(decisions)
        self._s3.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson"
        )
        return key


def _send_entries(send: Any, entries: list[dict[str, Any]], what: str) -> None:
    """Send batch entries, re-sending those the service reports as failed (bounded)."""

    def attempt(pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
        failed = {f["Id"] for f in send(pending).get("Failed", [])}
        return [e for e in pending if e["Id"] in failed]

    retry_leftovers(attempt, entries, what=what)


class AlertPublisher:
    """An SNS message per review or decline, with reason codes and a `risk_band` attribute."""

    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self.topic_arn = topic_arn

    def publish(self, decisions: Sequence[Decision]) -> int:
        alerts = [d for d in decisions if d.action in RISK_BANDS]
        for start in range(0, len(alerts), SNS_BATCH):
            entries = [
                _alert_entry(str(i), d) for i, d in enumerate(alerts[start : start + SNS_BATCH])
            ]
            _send_entries(
                lambda e: self._sns.publish_batch(
                    TopicArn=self.topic_arn, PublishBatchRequestEntries=e
                ),
                entries,
                "SNS publish_batch",
            )
        return len(alerts)


def _alert_entry(entry_id: str, d: Decision) -> dict[str, Any]:
    return {
        "Id": entry_id,
        "Message": json.dumps(
            {
                "transaction_id": d.transaction_id,
                "card_id": d.card_id,
                "merchant_id": d.merchant_id,
                "event_time": d.event_time,
                "amount": d.amount,
                "currency": d.currency,
                "action": d.action,
                "score": d.score,
                "model_version": d.model_version,
                "scored_by": d.scored_by,
                "reason_codes": d.reasons(),
                "feature_set_version": d.feature_set_version,
                "features": list(d.features),
                "rule_hits": list(d.rule_hits),
                "rules_version": d.rules_version,
            }
        ),
        "MessageAttributes": {
            "risk_band": {"DataType": "String", "StringValue": RISK_BANDS[d.action]},
            "action": {"DataType": "String", "StringValue": d.action},
        },
    }


def dead_letter_body(record: StreamRecord) -> dict[str, Any]:
    """What the dead-letter queue keeps of a refused record: never a card number, never big.

    The reasons name fields, not values (the contract's rule); if a field name itself looks like
    a card number the reasons are withheld too. Data travels base64-encoded when it is at most
    `DEAD_LETTER_DATA_BYTES` and holds no card number; otherwise only its size and SHA-256.
    """
    text = record.raw.decode("utf-8", errors="replace")
    has_pan = contains_pan(text)
    reasons = record.rejection.as_dict() if record.rejection else {}
    reason = str(record.rejection) if record.rejection else ""
    if contains_pan(json.dumps(reasons)) or contains_pan(reason):
        reasons = {"(redacted)": "a field name looks like a card number"}
        reason = "(redacted): a field name looks like a card number"
    body: dict[str, Any] = {
        "reason": reason,
        "reasons": reasons,
        "shard_id": record.shard_id,
        "sequence_number": record.sequence_number,
        "partition_key": "(redacted)"
        if contains_pan(record.partition_key)
        else record.partition_key[:256],
        "data_bytes": len(record.raw),
        "data_sha256": hashlib.sha256(record.raw).hexdigest(),
        "data_redacted": has_pan,
        "data_base64": None,
    }
    if not has_pan and len(record.raw) <= DEAD_LETTER_DATA_BYTES:
        body["data_base64"] = base64.b64encode(record.raw).decode()
    return body


class DeadLetterQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self.queue_url = queue_url

    def send(self, records: Sequence[StreamRecord]) -> int:
        batch: list[dict[str, Any]] = []
        size = 0
        for record in records:
            message = json.dumps(dead_letter_body(record))
            if batch and (len(batch) == SQS_BATCH or size + len(message) > SQS_BATCH_BYTES):
                self._send(batch)
                batch, size = [], 0
            batch.append({"Id": str(len(batch)), "MessageBody": message})
            size += len(message)
        if batch:
            self._send(batch)
        return len(records)

    def _send(self, entries: list[dict[str, Any]]) -> None:
        _send_entries(
            lambda e: self._sqs.send_message_batch(QueueUrl=self.queue_url, Entries=e),
            entries,
            "SQS send_message_batch",
        )


def queue_depth(sqs: Any, queue: str) -> int:
    """Messages waiting in the queue named `queue` (SQS's approximate count)."""
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])
