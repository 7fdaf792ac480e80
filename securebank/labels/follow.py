"""Following the labels table's stream locally, as Lambda's DynamoDB event source does in AWS.

Each shard is read from its checkpoint (the sequence number of the last record applied, kept in
a JSON file written atomically after each applied batch); a crash before the checkpoint replays
the batch, which `labels.stream` applies idempotently — exactly-once effect on the state.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from securebank.labels.stream import (
    MerchantLabelState,
    StreamReport,
    apply_changes,
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
        self.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.checkpoint_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._checkpoints))
        os.replace(temporary, self.checkpoint_path)

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
