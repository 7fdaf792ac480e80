"""Following the labels table's changes locally, as Lambda's DynamoDB event source does in AWS.

`LabelStreamFollower` reads the table's DynamoDB stream: each shard from its checkpoint (the
sequence number of the last record applied, kept in a JSON file written atomically after each
applied batch); a crash before the checkpoint replays the batch, which `labels.stream` applies
idempotently — exactly-once effect on the state.

`LabelTableFollower` serves a local DynamoDB without Streams (dynalite): it scans the table and
applies each label whose stored version is newer than the version it last applied (kept per
transaction in its checkpoint file). It sees the newest image of each label rather than every
intermediate one, which ends in the same merchant state: a label's effect depends only on its
latest value. `follower_for` picks the one the table supports.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from securebank.ddb import from_item
from securebank.labels.store import record_from_document
from securebank.labels.stream import (
    MerchantLabelState,
    StreamReport,
    apply_changes,
    change_of,
    changes_from_stream,
)


@dataclass
class FollowStats:
    records: int = 0
    applied: int = 0
    unchanged: int = 0
    no_merchant: int = 0


class LabelStreamFollower:
    def __init__(
        self,
        dynamodb: Any,
        streams: Any,
        labels_table: str,
        target: MerchantLabelState,
        checkpoint_path: Path,
    ) -> None:
        self._streams = streams
        self.target = target
        self.checkpoint_path = checkpoint_path
        description = dynamodb.describe_table(TableName=labels_table)["Table"]
        self.stream_arn = description.get("LatestStreamArn")
        if not self.stream_arn:
            raise RuntimeError(f"{labels_table} has no stream")
        self.stats = FollowStats()
        self._iterators: dict[str, str | None] = {}
        self._checkpoints: dict[str, str] = (
            json.loads(checkpoint_path.read_text()) if checkpoint_path.is_file() else {}
        )

    def _save(self) -> None:
        _save_json(self.checkpoint_path, self._checkpoints)

    def _shards(self) -> list[str]:
        shards = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        return [s["ShardId"] for s in shards["Shards"]]

    def _iterator(self, shard: str) -> str | None:
        if shard not in self._iterators:
            last = self._checkpoints.get(shard)
            request: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard}
            if last is None:
                request["ShardIteratorType"] = "TRIM_HORIZON"
            else:
                request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=last)
            self._iterators[shard] = self._streams.get_shard_iterator(**request)["ShardIterator"]
        return self._iterators[shard]

    def poll_once(self) -> int:
        """Read each shard once and apply what it holds; returns how many records."""
        total = 0
        for shard in self._shards():
            iterator = self._iterator(shard)
            if iterator is None:
                continue
            response = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            records = response.get("Records", [])
            if records:
                report: StreamReport = apply_changes(changes_from_stream(records), self.target)
                self.stats.records += len(records)
                self.stats.applied += report.applied
                self.stats.unchanged += report.unchanged
                self.stats.no_merchant += report.no_merchant
                self._checkpoints[shard] = records[-1]["dynamodb"]["SequenceNumber"]
                self._save()
                total += len(records)
            self._iterators[shard] = response.get("NextShardIterator")
        return total


def _save_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value))
    os.replace(temporary, path)


class LabelTableFollower:
    """The labels table's changes by scanning it, for a local DynamoDB without Streams."""

    def __init__(
        self,
        dynamodb: Any,
        labels_table: str,
        target: MerchantLabelState,
        checkpoint_path: Path,
    ) -> None:
        self._db = dynamodb
        self.labels_table = labels_table
        self.target = target
        self.checkpoint_path = checkpoint_path
        self.stats = FollowStats()
        self._applied: dict[str, int] = (
            json.loads(checkpoint_path.read_text()) if checkpoint_path.is_file() else {}
        )

    def poll_once(self) -> int:
        """Scan once and apply every label changed since the last poll; returns how many."""
        changed = []
        paginator = self._db.get_paginator("scan")
        for page in paginator.paginate(TableName=self.labels_table, ConsistentRead=True):
            for item in page["Items"]:
                record = record_from_document(from_item(item))
                if record.version > self._applied.get(record.transaction_id, 0):
                    changed.append(record)
        if not changed:
            return 0
        changed.sort(key=lambda r: (r.reported_at_ms, r.transaction_id))
        report: StreamReport = apply_changes([change_of(r) for r in changed], self.target)
        self.stats.records += len(changed)
        self.stats.applied += report.applied
        self.stats.unchanged += report.unchanged
        self.stats.no_merchant += report.no_merchant
        self._applied.update({r.transaction_id: r.version for r in changed})
        _save_json(self.checkpoint_path, self._applied)
        return len(changed)


def follower_for(
    dynamodb: Any,
    streams: Any,
    labels_table: str,
    target: MerchantLabelState,
    folder: Path,
) -> LabelStreamFollower | LabelTableFollower:
    """The table's stream where the server keeps one (AWS, moto), else a scan (dynalite)."""
    description = dynamodb.describe_table(TableName=labels_table)["Table"]
    if description.get("LatestStreamArn"):
        return LabelStreamFollower(
            dynamodb, streams, labels_table, target, folder / "checkpoints.json"
        )
    return LabelTableFollower(dynamodb, labels_table, target, folder / "versions.json")
