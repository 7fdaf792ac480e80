"""Benchmark: the CPU one DynamoDB write costs on the local stack, conditional or batched.

The scorer writes each decision, card and merchant partial with a conditional PutItem (one item a
call: conditions cannot ride in a BatchWriteItem, and dynalite has no TransactWriteItems). This
measures what that costs against the local DynamoDB (dynalite), per item written: CPU in this
process (boto3: serialise, sign, send, parse) and in dynalite's, for conditional puts from 1 and
16 threads and for batch writes of 25. It bounds the backlog drain of `benchmarks/stream.py`:
two cores cannot drain faster than 2 / (CPU per transaction).

    python benchmarks/dynamodb_writes.py [--items 1000]
Last line: {"conditional_put_client_ms": ..., "conditional_put_server_ms": ..., ...}
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import emit


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()
    from securebank.aws import AwsClients
    from securebank.local import stack as local_stack

    with tempfile.TemporaryDirectory() as home:
        stack = local_stack.start(Path(home))
        try:
            server = local_stack.status(Path(home))["dynamodb"].pid
            aws = AwsClients(
                region="us-east-1",
                endpoint_url=stack.url,
                local=True,
                service_endpoints=stack.service_endpoints,
            )
            figures = _measure(aws.client("dynamodb"), server, args.items)
        finally:
            local_stack.stop(Path(home))
    emit(figures)


def _measure(dynamodb, server: int, n: int) -> dict[str, float]:
    dynamodb.create_table(
        TableName="writes",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName="writes")
    # about the size of a card's state item (a compressed blob, a watermark, a version)
    item = {
        "state": {"B": os.urandom(600)},
        "applied": {"M": {"shardId-000000000000": {"S": "4968" * 12}}},
        "version": {"N": "12"},
        "expires_at": {"N": "1795672240"},
    }
    runs = 0

    def per_item(write, calls: int, threads: int, items_per_call: int) -> tuple[float, float]:
        nonlocal runs
        runs += 1
        tag = f"run{runs}"
        client0, server0 = time.process_time(), _cpu_s(server)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda i: write(f"{tag}-{i}"), range(calls)))
        items = calls * items_per_call
        return (
            (time.process_time() - client0) * 1000 / items,
            (_cpu_s(server) - server0) * 1000 / items,
        )

    def conditional(pk: str) -> None:
        dynamodb.put_item(
            TableName="writes",
            Item={**item, "pk": {"S": pk}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def batch(pk: str) -> None:
        dynamodb.batch_write_item(
            RequestItems={
                "writes": [
                    {"PutRequest": {"Item": {**item, "pk": {"S": f"{pk}-{j}"}}}} for j in range(25)
                ]
            }
        )

    per_item(conditional, 500, 4, 1)  # warm the connection, the table and node's JIT
    one = per_item(conditional, n, 1, 1)
    sixteen = per_item(conditional, n, 16, 1)
    batched = per_item(batch, max(n // 25, 1), 1, 25)
    return {
        "items": n,
        "conditional_put_client_ms": round(one[0], 3),
        "conditional_put_server_ms": round(one[1], 3),
        "conditional_put_16_threads_client_ms": round(sixteen[0], 3),
        "conditional_put_16_threads_server_ms": round(sixteen[1], 3),
        "batch_write_client_ms_per_item": round(batched[0], 3),
        "batch_write_server_ms_per_item": round(batched[1], 3),
    }


if __name__ == "__main__":
    main()
