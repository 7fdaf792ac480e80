"""Resharding keeps every merchant partial readable, after the closed shards leave ListShards."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from securebank.features.online import MerchantState
from securebank.features.state_item import encode_merchant
from securebank.scorer.shards import (
    REGISTRY_KEY,
    ReshardError,
    list_shard_ids,
    merchant_slots,
    reshard,
)
from securebank.scorer.state_store import FeatureStateStore, _to_item, partial_key

HOUR = 490_000  # an hour bucket index (hours since the epoch)


class AfterRetention:
    """A Kinesis client as AWS answers once the retention period has passed: closed shards gone.

    (moto keeps listing closed shards for ever; AWS lists them only within retention.)
    """

    def __init__(self, kinesis: Any) -> None:
        self._kinesis = kinesis

    def list_shards(self, **request: Any) -> dict[str, Any]:
        page = self._kinesis.list_shards(**request)
        open_only = [
            s for s in page["Shards"] if "EndingSequenceNumber" not in s["SequenceNumberRange"]
        ]
        return {**page, "Shards": open_only}


def _partial(dynamodb, table, merchant, slot, count):
    state = MerchantState(merchant, hour_counts={HOUR: count})
    document = encode_merchant(state)
    document["pk"] = partial_key(merchant, slot)
    dynamodb.put_item(TableName=table, Item=_to_item({**document, "applied": {}}))


def test_reshard_keeps_closed_shards_partials_in_the_merchant_counts(aws):
    kinesis, dynamodb = aws.client("kinesis"), aws.client("dynamodb")
    stream, table = aws.names.stream, aws.names.feature_table
    parents = list_shard_ids(kinesis, stream)
    assert len(parents) == 2
    # Before the reshard: the merchant was seen on both shards (cards hash to either).
    _partial(dynamodb, table, "m-1", parents[0], 3)
    _partial(dynamodb, table, "m-1", parents[1], 4)

    result = reshard(kinesis, dynamodb, stream, table, target=4)
    assert (result["before"], result["after"]) == (2, 4)
    children = [s for s in list_shard_ids(kinesis, stream) if s not in parents]
    assert len(children) == 4 and set(result["slots"]) == set(parents) | set(children)
    _partial(dynamodb, table, "m-1", children[0], 5)

    later = AfterRetention(kinesis)
    assert set(list_shard_ids(later, stream)) == set(children)
    # ListShards alone (the scorer before this change) forgets the parents' 7 transactions...
    with ThreadPoolExecutor(2) as pool:
        alone = FeatureStateStore(dynamodb, table, list_shard_ids(later, stream), pool)
        view = alone.load(children[0], [], ["m-1"])
        assert view.merchants["m-1"].merged.hour_counts == {HOUR: 5}
        # ...the registry keeps them.
        slots = merchant_slots(later, dynamodb, stream, table)
        kept = FeatureStateStore(dynamodb, table, slots, pool)
        view = kept.load(children[0], [], ["m-1"])
        assert view.merchants["m-1"].merged.hour_counts == {HOUR: 12}
    registry = dynamodb.get_item(TableName=table, Key={"pk": {"S": REGISTRY_KEY}})["Item"]
    assert len(registry["slots"]["SS"]) == 6


def test_reshard_down_merges_adjacent_shards_and_keeps_every_slot(aws):
    kinesis, dynamodb = aws.client("kinesis"), aws.client("dynamodb")
    stream, table = aws.names.stream, aws.names.feature_table
    parents = list_shard_ids(kinesis, stream)
    result = reshard(kinesis, dynamodb, stream, table, target=1)
    assert (result["before"], result["after"]) == (2, 1)
    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    open_shards = [s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    assert len(open_shards) == 1
    # The merged shard covers the whole hash space, and every shard stays registered.
    hashes = open_shards[0]["HashKeyRange"]
    assert (int(hashes["StartingHashKey"]), int(hashes["EndingHashKey"])) == (0, 2**128 - 1)
    assert set(result["slots"]) == set(parents) | {open_shards[0]["ShardId"]}


def test_reshard_refuses_what_it_cannot_do(aws):
    kinesis, dynamodb = aws.client("kinesis"), aws.client("dynamodb")
    with pytest.raises(ReshardError, match="already has 2 open shards"):
        reshard(kinesis, dynamodb, aws.names.stream, aws.names.feature_table, target=2)
