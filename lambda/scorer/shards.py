"""Every shard that ever held merchant partials, kept so that resharding loses no merchant state.

The scorer splits each merchant's state into one partial per shard (`merchant#ID#SHARD`) and reads
the partials of every shard it knows. After a reshard the parent shards are closed; Kinesis keeps
listing them only for the stream's retention period (24 h by default), after which a reader that
learns its shards from ListShards alone stops counting their partials: the merchant's counts
drop. This registry is one item of the feature table, `meta#merchant-slots`, holding the set of
shard ids ever seen; the scorer adds ListShards' answer to it at start and reads the union.

`reshard` is the procedure (docs/deploy.md, "Scaling the stream"): register the current shards,
UpdateShardCount, wait for ACTIVE, register the children; in AWS the scorer's containers are then
recycled (a configuration change) so that every one reads the new set. Where the server has no
UpdateShardCount (kinesalite, the local Kinesis), the same target is reached with SplitShard and
MergeShards, one change at a time.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from botocore.exceptions import ClientError

REGISTRY_KEY = "meta#merchant-slots"
EPOCH_VARIABLE = "SECUREBANK_SHARD_EPOCH"


class ReshardError(RuntimeError):
    pass


def list_shard_ids(kinesis: Any, stream: str) -> list[str]:
    """Every shard ListShards returns (open and, within retention, closed), all pages."""
    ids: list[str] = []
    request: dict[str, Any] = {"StreamName": stream}
    while True:
        page = kinesis.list_shards(**request)
        ids += [s["ShardId"] for s in page["Shards"]]
        token = page.get("NextToken")
        if not token:
            return ids
        request = {"NextToken": token}


def register_shards(dynamodb: Any, table: str, shard_ids: Iterable[str]) -> list[str]:
    """Add `shard_ids` to the registry; return every shard id it holds, sorted."""
    ids = sorted(set(shard_ids))
    if not ids:
        item = dynamodb.get_item(
            TableName=table, Key={"pk": {"S": REGISTRY_KEY}}, ConsistentRead=True
        )
        return sorted(item.get("Item", {}).get("slots", {}).get("SS", []))
    response = dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": REGISTRY_KEY}},
        UpdateExpression="ADD slots :ids",
        ExpressionAttributeValues={":ids": {"SS": ids}},
        ReturnValues="ALL_NEW",
    )
    return sorted(response["Attributes"]["slots"]["SS"])


def merchant_slots(kinesis: Any, dynamodb: Any, stream: str, table: str) -> list[str]:
    """The shards whose merchant partials a reader sums: ListShards and the registry."""
    return register_shards(dynamodb, table, list_shard_ids(kinesis, stream))


def _wait_active(kinesis: Any, stream: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise ReshardError(f"stream {stream} not ACTIVE after {timeout_s:.0f} s")
        time.sleep(2)


def recycle_scorer(lambda_client: Any, function: str) -> str:
    """Change the scorer's configuration (an epoch variable): Lambda starts new containers."""
    current = lambda_client.get_function_configuration(FunctionName=function)
    variables = dict(current.get("Environment", {}).get("Variables", {}))
    variables[EPOCH_VARIABLE] = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    lambda_client.update_function_configuration(
        FunctionName=function, Environment={"Variables": variables}
    )
    return variables[EPOCH_VARIABLE]


#: What a server without UpdateShardCount answers (kinesalite: UnknownOperationException).
UNSUPPORTED = {"UnknownOperationException", "UnknownOperation", "InvalidAction"}


def _open_shards(kinesis: Any, stream: str) -> list[tuple[int, int, str]]:
    """Open shards as (first hash key, last hash key, id), in hash order."""
    shards: list[tuple[int, int, str]] = []
    request: dict[str, Any] = {"StreamName": stream}
    while True:
        page = kinesis.list_shards(**request)
        for shard in page["Shards"]:
            if "EndingSequenceNumber" not in shard["SequenceNumberRange"]:
                hashes = shard["HashKeyRange"]
                first, last = int(hashes["StartingHashKey"]), int(hashes["EndingHashKey"])
                shards.append((first, last, shard["ShardId"]))
        token = page.get("NextToken")
        if not token:
            return sorted(shards)
        request = {"NextToken": token}


def _split_and_merge(kinesis: Any, stream: str, target: int, timeout_s: float) -> None:
    """Reach `target` open shards by splitting the widest or merging the narrowest adjacent
    pair, one change at a time (each waits for ACTIVE, as Kinesis requires)."""
    while True:
        shards = _open_shards(kinesis, stream)
        if len(shards) == target:
            return
        if len(shards) < target:
            first, last, shard_id = max(shards, key=lambda s: s[1] - s[0])
            kinesis.split_shard(
                StreamName=stream,
                ShardToSplit=shard_id,
                NewStartingHashKey=str((first + last + 1) // 2),
            )
        else:
            pairs = [(a, b) for a, b in pairwise(shards) if a[1] + 1 == b[0]]
            a, b = min(pairs, key=lambda pair: pair[1][1] - pair[0][0])
            kinesis.merge_shards(StreamName=stream, ShardToMerge=a[2], AdjacentShardToMerge=b[2])
        _wait_active(kinesis, stream, timeout_s)


def reshard(
    kinesis: Any, dynamodb: Any, stream: str, table: str, target: int, timeout_s: float = 600
) -> dict[str, Any]:
    """Register, UpdateShardCount to `target` open shards, wait, register again."""
    summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    mode = summary.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
    if mode == "ON_DEMAND":
        raise ReshardError("an on-demand stream reshards itself; see docs/deploy.md")
    before = summary["OpenShardCount"]
    if target == before:
        raise ReshardError(f"the stream already has {before} open shards")
    merchant_slots(kinesis, dynamodb, stream, table)
    try:
        kinesis.update_shard_count(
            StreamName=stream, TargetShardCount=target, ScalingType="UNIFORM_SCALING"
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in UNSUPPORTED:
            raise
        _split_and_merge(kinesis, stream, target, timeout_s)
    _wait_active(kinesis, stream, timeout_s)
    slots = merchant_slots(kinesis, dynamodb, stream, table)
    after = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    return {"before": before, "after": after["OpenShardCount"], "slots": slots}
