"""Sending test transactions and reading back what the scorer wrote."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from securebank.data.dataset import read_labels, read_transactions
from securebank.local.producer import contract_json, select


def history_before(trained) -> tuple[pa.Table, pa.Table]:
    stamp = pa.scalar(trained.stream_from, pa.timestamp("ms", tz="UTC"))
    transactions = read_transactions(trained.data)
    labels = read_labels(trained.data)
    return (
        transactions.filter(pc.less(transactions["event_time"], stamp)),
        labels.filter(pc.less(labels["reported_at"], stamp)),
    )


def stream_rows(trained, count: int) -> list[dict[str, Any]]:
    return select(read_transactions(trained.data), trained.stream_from, count).to_pylist()


def kinesis_event(
    rows: list[dict[str, Any]], shard: str = "shardId-000000000000", first_seq: int = 1
):
    now = datetime.now(UTC).timestamp()
    return [
        {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": row.get("card_id", "x") if isinstance(row, dict) else "x",
                "sequenceNumber": str(first_seq + i),
                "data": base64.b64encode(
                    contract_json(row) if isinstance(row, dict) else row
                ).decode(),
                "approximateArrivalTimestamp": now,
            },
            "eventSource": "aws:kinesis",
            "eventID": f"{shard}:{first_seq + i}",
        }
        for i, row in enumerate(rows)
    ]


def decisions(aws) -> list[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    d = TypeDeserializer()
    items = []
    for page in (
        aws.client("dynamodb").get_paginator("scan").paginate(TableName=aws.names.decisions_table)
    ):
        items += [{k: d.deserialize(v) for k, v in i.items()} for i in page["Items"]]
    return items


def drain(aws, queue: str) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    messages = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not batch:
            return messages
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )


def card_count(aws, card_id: str) -> int:
    from boto3.dynamodb.types import TypeDeserializer

    from securebank.features.state_item import decode_card

    item = aws.client("dynamodb").get_item(
        TableName=aws.names.feature_table, Key={"pk": {"S": f"card#{card_id}"}}
    )["Item"]
    state = decode_card({k: TypeDeserializer().deserialize(v) for k, v in item.items()})
    return state.version


class DynamoItemCounter:
    """Counts DynamoDB item reads and writes a client makes (batched calls count each item)."""

    def __init__(self, client) -> None:
        self.reads = 0
        self.writes = 0
        self.calls = 0
        client.meta.events.register("before-parameter-build.dynamodb.*", self._count)

    def _count(self, model, params, **_) -> None:
        self.calls += 1
        name = model.name
        if name == "BatchGetItem":
            self.reads += sum(len(t["Keys"]) for t in params["RequestItems"].values())
        elif name == "BatchWriteItem":
            self.writes += sum(len(t) for t in params["RequestItems"].values())
        elif name in ("GetItem", "Query"):
            self.reads += 1
        elif name in ("PutItem", "UpdateItem", "DeleteItem"):
            self.writes += 1


def lake_rows(aws) -> list[dict[str, Any]]:
    """Every row of every decisions object in the lake (duplicates kept)."""
    import json

    s3 = aws.client("s3")
    bucket = aws.names.lake_bucket
    rows = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="decisions/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            rows += [json.loads(line) for line in body.splitlines()]
    return rows
