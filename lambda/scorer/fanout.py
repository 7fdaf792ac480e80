"""Fan-out of decisions: the S3 data lake, SNS alerts, and the dead-letter queue.

Lake objects and alerts are delivered at least once (a retried batch may send a decision again);
`transaction_id` identifies each, and the lake's readers keep one row per transaction. Dead
letters carry the reason and the record's position, and the raw data only when it holds no card
number.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from securebank.pan import contains_pan
from securebank.scorer.decision_store import Decision
from securebank.scorer.records import StreamRecord

SNS_BATCH = 10
SQS_BATCH = 10
RISK_BANDS = {"review": "high", "decline": "critical"}


def lake_key(decisions: Sequence[Decision]) -> str:
    first = decisions[0]
    day = datetime.fromtimestamp(first.decided_at_ms / 1000, UTC).date().isoformat()
    return (
        f"decisions/date={day}/{first.shard_id}-{first.sequence_number}-"
        f"{decisions[-1].sequence_number}.jsonl"
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


class AlertPublisher:
    """An SNS message per review or decline, with reason codes and a `risk_band` attribute."""

    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self.topic_arn = topic_arn

    def publish(self, decisions: Sequence[Decision]) -> int:
        alerts = [d for d in decisions if d.action in RISK_BANDS]
        for start in range(0, len(alerts), SNS_BATCH):
            chunk = alerts[start : start + SNS_BATCH]
            self._sns.publish_batch(
                TopicArn=self.topic_arn,
                PublishBatchRequestEntries=[
                    {
                        "Id": str(i),
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
                                "rule_hits": list(d.rule_hits),
                                "rules_version": d.rules_version,
                            }
                        ),
                        "MessageAttributes": {
                            "risk_band": {
                                "DataType": "String",
                                "StringValue": RISK_BANDS[d.action],
                            },
                            "action": {"DataType": "String", "StringValue": d.action},
                        },
                    }
                    for i, d in enumerate(chunk)
                ],
            )
        return len(alerts)


class DeadLetterQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self.queue_url = queue_url

    def send(self, records: Sequence[StreamRecord]) -> int:
        for start in range(0, len(records), SQS_BATCH):
            chunk = records[start : start + SQS_BATCH]
            entries = []
            for i, record in enumerate(chunk):
                text = record.raw.decode("utf-8", errors="replace")
                body = {
                    "reason": str(record.rejection),
                    "reasons": record.rejection.as_dict() if record.rejection else {},
                    "shard_id": record.shard_id,
                    "sequence_number": record.sequence_number,
                    "partition_key": "(redacted)"
                    if contains_pan(record.partition_key)
                    else record.partition_key,
                    "data_base64": None
                    if contains_pan(text)
                    else base64.b64encode(record.raw).decode(),
                    "data_redacted": contains_pan(text),
                }
                entries.append({"Id": str(i), "MessageBody": json.dumps(body)})
            self._sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        return len(records)
