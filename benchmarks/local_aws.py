"""Benchmark: per-call latency of the local AWS servers against moto's, same boto3 code.

Starts the local stack (`securebank.local.stack`) and a moto server side by side, creates the
same resources in both, and times the calls on the scorer's path (p50/p99 over `--calls`):
DynamoDB batch_get_item of 100 keys and batch_write_item of 25 items, Kinesis put_records of 100,
S3 put of 50 KB, SNS publish_batch of 10 (subscribed queue), SQS send_message_batch of 10.

    python benchmarks/local_aws.py [--calls 50]
Last line: {"stack_batch_get_100_p50_ms": ..., "moto_batch_get_100_p50_ms": ..., ...}
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import emit


def _time(call, n: int) -> tuple[float, float]:
    call()  # warm
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 99))


def _measure(aws, names, n: int) -> dict[str, tuple[float, float]]:
    dynamodb, kinesis = aws.client("dynamodb"), aws.client("kinesis")
    s3, sns, sqs = aws.client("s3"), aws.client("sns"), aws.client("sqs")
    items = [
        {"pk": {"S": f"card#{i:05d}"}, "state": {"B": bytes(300)}, "n": {"N": str(i)}}
        for i in range(100)
    ]
    for start in range(0, 100, 25):
        dynamodb.batch_write_item(
            RequestItems={
                names.feature_table: [
                    {"PutRequest": {"Item": it}} for it in items[start : start + 25]
                ]
            }
        )
    keys = [{"pk": it["pk"]} for it in items]
    topic = sns.create_topic(Name=names.alerts_topic)["TopicArn"]
    queue = sqs.get_queue_url(QueueName=names.dead_letter_queue)["QueueUrl"]
    record = b"x" * 330
    return {
        "batch_get_100": _time(
            lambda: dynamodb.batch_get_item(
                RequestItems={names.feature_table: {"Keys": keys, "ConsistentRead": True}}
            ),
            n,
        ),
        "batch_write_25": _time(
            lambda: dynamodb.batch_write_item(
                RequestItems={
                    names.feature_table: [{"PutRequest": {"Item": it}} for it in items[:25]]
                }
            ),
            n,
        ),
        "put_records_100": _time(
            lambda: kinesis.put_records(
                StreamName=names.stream,
                Records=[{"PartitionKey": f"k{i}", "Data": record} for i in range(100)],
            ),
            n,
        ),
        "s3_put_50k": _time(
            lambda: s3.put_object(Bucket=names.lake_bucket, Key="bench/x", Body=b"x" * 50_000), n
        ),
        "sns_publish_batch_10": _time(
            lambda: sns.publish_batch(
                TopicArn=topic,
                PublishBatchRequestEntries=[{"Id": str(i), "Message": "alert"} for i in range(10)],
            ),
            n,
        ),
        "sqs_send_batch_10": _time(
            lambda: sqs.send_message_batch(
                QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(10)]
            ),
            n,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    from securebank.aws import AwsClients
    from securebank.local import stack as local_stack
    from securebank.resources import ResourceNames

    names = ResourceNames(prefix="bench", environment="local")
    with tempfile.TemporaryDirectory() as tmp:
        stack = local_stack.start(Path(tmp))
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        try:
            host, port = moto.get_host_and_port()
            targets = {
                "stack": AwsClients(
                    region="us-east-1",
                    endpoint_url=stack.url,
                    local=True,
                    service_endpoints=stack.service_endpoints,
                ),
                "moto": AwsClients(
                    region="us-east-1", endpoint_url=f"http://{host}:{port}", local=True
                ),
            }
            figures = {}
            for label, aws in targets.items():
                local_stack.provision(aws, names)
                for call, (p50, p99) in _measure(aws, names, args.calls).items():
                    figures[f"{label}_{call}_p50_ms"] = round(p50, 2)
                    figures[f"{label}_{call}_p99_ms"] = round(p99, 2)
        finally:
            moto.stop()
            local_stack.stop(Path(tmp))
    emit(figures)


if __name__ == "__main__":
    main()
