"""The operations Lambda handlers, invoked with the events AWS sends, against the local AWS."""

from __future__ import annotations

from dataclasses import dataclass

import boto3
import pytest

from securebank.cases import handler as cases_handler
from securebank.labels import handler as labels_handler
from securebank.labels.model import LabelEvent, LabelSource
from securebank.labels.store import LabelStore, TransactionFacts
from securebank.labels.stream import MerchantLabelState
from securebank.settings import get_settings
from tests.ops.helpers import alert_json


@dataclass
class Context:
    function_name: str = "test"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id: str = "req-1"


@pytest.fixture
def lambda_env(aws, moto_endpoint, local_aws, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    for name, url in local_aws.environment().items():  # the local stack, per service
        monkeypatch.setenv(name, url)
    monkeypatch.setenv("SECUREBANK_PREFIX", aws.names.prefix)
    monkeypatch.setenv("SECUREBANK_ENVIRONMENT", aws.names.environment)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    get_settings.cache_clear()
    monkeypatch.setattr(cases_handler, "_store", None)
    monkeypatch.setattr(labels_handler, "_target", None)
    yield aws
    get_settings.cache_clear()


def test_sqs_alerts_become_cases_and_a_bad_one_is_not_retried(lambda_env):
    event = {
        "Records": [
            {"messageId": "1", "body": alert_json("t-1")},
            {"messageId": "2", "body": alert_json("t-1")},
            {"messageId": "3", "body": "{oops"},
        ]
    }
    assert cases_handler.lambda_handler(event, Context()) == {"batchItemFailures": []}
    assert cases_handler.store().get("t-1").status.value == "open"


def test_dynamodb_stream_event_updates_the_merchant_labels_partial(lambda_env, moto_endpoint):
    aws = lambda_env
    db = aws.client("dynamodb")
    names = aws.names
    # The event as Lambda delivers it: real DynamoDB Streams records of a labels table. The
    # local stack's DynamoDB (dynalite) has no Streams, so the records come from moto's.
    source = boto3.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
    )
    moto_db = source.client("dynamodb", endpoint_url=moto_endpoint)
    moto_db.create_table(
        TableName=names.labels_table,
        KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "transaction_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    LabelStore(moto_db, names.labels_table).record(
        LabelEvent("t-1", True, 2_000, LabelSource.CHARGEBACK, "f"), TransactionFacts("m-1", 1_000)
    )
    streams = source.client("dynamodbstreams", endpoint_url=moto_endpoint)
    arn = moto_db.describe_table(TableName=names.labels_table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    event = {"Records": records}
    assert labels_handler.lambda_handler(event, Context()) == {"changes": 1, "applied": 1}
    assert labels_handler.lambda_handler(event, Context()) == {"changes": 1, "applied": 0}
    assert MerchantLabelState(db, names.feature_table).state("m-1").frauds == [(1_000, 2_000)]


def test_scheduled_performance_prints_emf_per_version_and_for_all(lambda_env, capsys):
    import json

    from securebank.monitoring import handler as performance_handler

    aws = lambda_env
    rows = [
        {
            "transaction_id": f"t-{i}",
            "event_time": "2026-08-01T10:00:00+00:00",
            "action": "decline" if i < 2 else "approve",
            "score": 0.9 if i < 2 else 0.1,
            "amount": "20.00",
            "currency": "USD",
            "model_version": "4",
            "decided_at_ms": 1_785_000_000_000 + i,
        }
        for i in range(6)
    ]
    aws.client("s3").put_object(
        Bucket=aws.names.lake_bucket,
        Key="decisions/date=2026-08-01/shard-1-2.jsonl",
        Body="".join(json.dumps(r) + "\n" for r in rows).encode(),
    )
    LabelStore(aws.client("dynamodb"), aws.names.labels_table).record(
        LabelEvent("t-0", True, 1_786_000_000_000, LabelSource.CHARGEBACK, "f"), None
    )
    result = performance_handler.lambda_handler({"maturity_days": 30}, None)
    assert result == {"decisions": 6, "matured": 6, "versions": 1}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_version = {line["model_version"]: line for line in lines}
    assert set(by_version) == {"4", "all"}
    assert by_version["all"]["Precision"] == 0.5 and by_version["all"]["Recall"] == 1.0
