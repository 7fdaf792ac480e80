"""The local AWS: moto's server mode on 127.0.0.1, and the platform's resources created in it.

`start` runs `moto.server` as a detached process and records its endpoint in `HOME/stack.json`, so
later commands find it; `provision` creates every resource the platform uses, with the names of
`ResourceNames` (the same rule terraform/ uses). State lives in the server's memory: `stop` ends
it and everything in it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from securebank import background
from securebank.background import ServerInfo
from securebank.resources import (
    CASES_BY_STATUS_INDEX,
    DECISIONS_BY_CARD_INDEX,
    STATE_TTL_ATTRIBUTE,
    STREAM_SHARDS,
    ResourceNames,
)

STATE_FILE = "stack.json"
LOG_FILE = "stack.log"
#: A cheap route (data.json would serialize the whole state, slow once the stack holds data).
HEALTH_PATH = "/moto-api/config"


class StackError(RuntimeError):
    """The local stack could not be started or reached."""


def read_info(home: Path) -> ServerInfo | None:
    """The recorded stack, if its server still answers."""
    return background.read(home / STATE_FILE, HEALTH_PATH)


def start(home: Path, port: int | None = None) -> ServerInfo:
    """Start the local AWS unless it already runs; return where it listens."""
    running = read_info(home)
    if running is not None:
        return running
    port = port or background.free_port()
    # moto's server, with DescribeEndpoint answering as AWS does (securebank/local_sagemaker.py).
    command = [
        sys.executable,
        "-m",
        "securebank.local_sagemaker",
        "-H",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    try:
        return background.start(command, port, home / STATE_FILE, home / LOG_FILE, HEALTH_PATH)
    except background.ServerError as error:
        raise StackError(f"the local AWS: {error}") from error


def stop(home: Path) -> bool:
    """Stop the local AWS; False when none was running."""
    return background.stop(home / STATE_FILE)


def provision(aws: Any, names: ResourceNames) -> list[str]:
    """Create every resource the platform uses, if missing; return what was created.

    `aws` is an `AwsClients`. Names, keys, shard count, TTL attribute and index are those of
    terraform/ (tests/test_terraform_parity.py holds the two together).
    """
    created: list[str] = []
    s3 = aws.client("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in names.buckets():
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
            created.append(f"s3://{bucket}")
    sagemaker = aws.client("sagemaker")
    groups = sagemaker.list_model_package_groups(NameContains=names.model_package_group)
    if not any(
        g["ModelPackageGroupName"] == names.model_package_group
        for g in groups["ModelPackageGroupSummaryList"]
    ):
        sagemaker.create_model_package_group(
            ModelPackageGroupName=names.model_package_group,
            ModelPackageGroupDescription="SecureBank fraud model versions",
        )
        created.append(f"model package group {names.model_package_group}")
    created += _provision_stream(aws, names)
    return created


def _exists(describe: Any) -> bool:
    try:
        describe()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return False
        raise
    return True


def _provision_stream(aws: Any, names: ResourceNames) -> list[str]:
    created: list[str] = []
    kinesis = aws.client("kinesis")
    # Asked by name: ListStreams and ListTables answer 100 names a page, and a busy local stack
    # (the test suite's) holds more.
    if not _exists(lambda: kinesis.describe_stream_summary(StreamName=names.stream)):
        kinesis.create_stream(StreamName=names.stream, ShardCount=STREAM_SHARDS)
        kinesis.get_waiter("stream_exists").wait(
            StreamName=names.stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
        )
        created.append(f"kinesis stream {names.stream} ({STREAM_SHARDS} shards)")
    dynamodb = aws.client("dynamodb")
    if not _exists(lambda: dynamodb.describe_table(TableName=names.feature_table)):
        dynamodb.create_table(
            TableName=names.feature_table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=names.feature_table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": STATE_TTL_ATTRIBUTE},
        )
        created.append(f"dynamodb table {names.feature_table}")
    if not _exists(lambda: dynamodb.describe_table(TableName=names.decisions_table)):
        dynamodb.create_table(
            TableName=names.decisions_table,
            KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "transaction_id", "AttributeType": "S"},
                {"AttributeName": "card_id", "AttributeType": "S"},
                {"AttributeName": "event_time", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": DECISIONS_BY_CARD_INDEX,
                    "KeySchema": [
                        {"AttributeName": "card_id", "KeyType": "HASH"},
                        {"AttributeName": "event_time", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        created.append(f"dynamodb table {names.decisions_table}")
    existing = {
        table
        for table in (names.cases_table, names.labels_table)
        if _exists(lambda table=table: dynamodb.describe_table(TableName=table))
    }
    created += _provision_operations(dynamodb, names, existing)
    if not _exists(lambda: dynamodb.describe_table(TableName=names.idempotency_table)):
        dynamodb.create_table(
            TableName=names.idempotency_table,
            KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "transaction_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=names.idempotency_table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": STATE_TTL_ATTRIBUTE},
        )
        created.append(f"dynamodb table {names.idempotency_table}")
    sqs = aws.client("sqs")
    urls = {}
    for queue in names.queues():
        urls[queue] = sqs.create_queue(QueueName=queue)["QueueUrl"]
    sns = aws.client("sns")
    topic_arn = sns.create_topic(Name=names.alerts_topic)["TopicArn"]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=urls[names.alerts_queue], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    if not any(s["Endpoint"] == queue_arn for s in subscriptions):
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        created.append(f"sns topic {names.alerts_topic} → sqs {names.alerts_queue}")
    return created


def _provision_operations(dynamodb: Any, names: ResourceNames, tables: set[str]) -> list[str]:
    """The fraud-operations tables: cases (queue by status) and labels (streamed)."""
    created = []
    if names.cases_table not in tables:
        dynamodb.create_table(
            TableName=names.cases_table,
            KeySchema=[{"AttributeName": "case_id", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "case_id", "AttributeType": "S"},
                {"AttributeName": "status", "AttributeType": "S"},
                {"AttributeName": "created_at", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": CASES_BY_STATUS_INDEX,
                    "KeySchema": [
                        {"AttributeName": "status", "KeyType": "HASH"},
                        {"AttributeName": "created_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        created.append(f"dynamodb table {names.cases_table}")
    if names.labels_table not in tables:
        dynamodb.create_table(
            TableName=names.labels_table,
            KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "transaction_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        created.append(f"dynamodb table {names.labels_table} (with stream)")
    return created
