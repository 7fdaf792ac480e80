"""A local Kinesis event source mapping: what Lambda's poller does, for the local stack.

Polls every shard, batches records (batch size, batching window), invokes the handler with the
exact Lambda Kinesis event shape, and honours ReportBatchItemFailures (retry from the first
failed record), bisect-on-error, the maximum retry attempts and an on-failure destination (an
SQS message describing the batch, as Lambda sends). Checkpoints per shard are kept in a file,
so a restarted runner resumes after the last batch it finished; the file is stamped with the
stream's identity, and positions of another stream stop the mapping with CheckpointMismatch.
`poll_until_idle` runs the simpler local consumers (alerts queue, labels stream) the same way.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any] | None]


def poll_until_idle(
    poll_once: Callable[[], object],
    idle_exit_s: float,
    duration_s: float | None = None,
    interval_s: float = 0.2,
) -> float:
    """Call `poll_once` (truthy: it found work) until it has found none for `idle_exit_s`, or
    `duration_s` has passed; sleep `interval_s` after an empty poll. Returns the seconds from the
    start to the last poll that found work."""
    started = last = time.monotonic()
    while True:
        if poll_once():
            last = time.monotonic()
        elif time.monotonic() - last >= idle_exit_s:
            break
        else:
            time.sleep(interval_s)
        if duration_s is not None and time.monotonic() - started >= duration_s:
            break
    return last - started


@dataclass(frozen=True)
class MappingConfig:
    batch_size: int = 100
    batching_window_s: float = 0.2
    #: Retries of a failed batch before it goes to the on-failure destination and the shard
    #: moves on; -1 (Lambda's default): until it succeeds. The scorer fails a batch only when a
    #: store is down (bad records go to its dead-letter queue), so giving up skips transactions
    #: that an outage of a few seconds would not have cost.
    max_retry_attempts: int = -1
    bisect_on_error: bool = True
    poll_interval_s: float = 0.05
    on_failure_queue_url: str | None = None
    #: The wait before retry n is retry_backoff_s * 2**(n-1), at most retry_backoff_max_s.
    retry_backoff_s: float = 0.1
    retry_backoff_max_s: float = 10.0


@dataclass
class LocalContext:
    """The attributes of a Lambda context that Powertools reads."""

    function_name: str = "securebank-scorer"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:securebank-scorer"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class CheckpointMismatch(RuntimeError):
    """Saved positions that do not belong to the stream being read: resuming from them would
    silently skip (or replay) records, so the mapping refuses to start."""


@dataclass(frozen=True)
class StreamIdentity:
    """What makes a stream this stream: a re-created stream of the same name differs in its
    creation time and in its shards' first sequence numbers."""

    stream_arn: str
    created: str
    shards: dict[str, str]

    @classmethod
    def of(cls, kinesis: Any, stream_name: str) -> StreamIdentity:
        summary = kinesis.describe_stream_summary(StreamName=stream_name)
        summary = summary["StreamDescriptionSummary"]
        shards = kinesis.list_shards(StreamName=stream_name)["Shards"]
        return cls(
            stream_arn=summary["StreamARN"],
            created=summary["StreamCreationTimestamp"].isoformat(),
            shards={
                s["ShardId"]: s["SequenceNumberRange"]["StartingSequenceNumber"] for s in shards
            },
        )


def stream_dir(home: Path) -> Path:
    """The local mapping's folder under SECUREBANK_HOME: checkpoints and the scorer's output."""
    return home / "stream"


def checkpoints_file(home: Path) -> Path:
    """Where the local mapping keeps the stream's positions (deleted with the stream)."""
    return stream_dir(home) / "checkpoints.json"


class Checkpoints:
    """Per-shard positions in a file, stamped with the identity of the stream they belong to.

    File: `{"stream": {stream_arn, created, shards}, "positions": {shard: sequence}}` (a flat
    `{shard: sequence}` file from before the stamp is read as positions without one).

    Several processes may share the file, each advancing its own shards (`ShardProcesses`):
    every change re-reads the file under an exclusive lock (`flock` on a `.lock` file beside it)
    and replaces only the position it sets, so no writer puts back another's older position.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stream: dict[str, Any] | None = None
        self._data: dict[str, str] = {}
        if path.is_file():
            self._stream, self._data = self._parse(json.loads(path.read_text()))

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """This thread and no other process changes the file meanwhile; the saved state is
        read back first."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.with_suffix(".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if self.path.is_file():
                    stream, self._data = self._parse(json.loads(self.path.read_text()))
                    self._stream = self._stream or stream
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def _parse(raw: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str]]:
        if "positions" in raw:
            return raw.get("stream"), dict(raw["positions"])
        return None, dict(raw)

    def get(self, shard_id: str) -> str | None:
        return self._data.get(shard_id)

    def bind(self, identity: StreamIdentity, kinesis: Any, stream_name: str) -> None:
        """Check that the saved positions belong to `identity`'s stream, then stamp it.

        Raises CheckpointMismatch naming the file and what differs; never drops a position.
        """
        current = asdict(identity)
        problems: list[str] = []
        if self._stream is not None and (
            self._stream.get("stream_arn") != identity.stream_arn
            or self._stream.get("created") != identity.created
            or self._stream.get("shards") != identity.shards
        ):
            problems.append(
                f"they were saved for {self._stream.get('stream_arn')} created "
                f"{self._stream.get('created')}, the stream now is {identity.stream_arn} "
                f"created {identity.created}"
            )
        for shard, position in sorted(self._data.items()):
            if shard not in identity.shards:
                problems.append(f"shard {shard} is not in the stream")
            elif not _position_valid(kinesis, stream_name, shard, position):
                problems.append(f"position {position} is not in shard {shard}")
        if problems:
            raise CheckpointMismatch(
                f"checkpoints in {self.path} do not belong to stream {stream_name}: "
                + "; ".join(problems)
                + ". Resuming would skip or replay records: move the file away to start from "
                "the oldest record (TRIM_HORIZON), or restore the matching stream."
            )
        with self._exclusive():
            self._stream = current
            self._write()

    def set(self, shard_id: str, sequence_number: str) -> None:
        with self._exclusive():
            self._data[shard_id] = sequence_number
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"stream": self._stream, "positions": self._data}))
        temporary.replace(self.path)


def _position_valid(kinesis: Any, stream_name: str, shard: str, position: str) -> bool:
    """Whether Kinesis accepts `position` as a sequence number of `shard` (AWS and kinesalite
    refuse one from another shard or stream, or past the shard's tip)."""
    from botocore.exceptions import ClientError

    try:
        kinesis.get_shard_iterator(
            StreamName=stream_name,
            ShardId=shard,
            ShardIteratorType="AFTER_SEQUENCE_NUMBER",
            StartingSequenceNumber=position,
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "InvalidArgumentException":
            return False
        raise
    return True


@dataclass
class PollerStats:
    batches: int = 0
    records: int = 0
    retries: int = 0
    failed_batches: int = 0


def lambda_event(
    records: list[dict[str, Any]], shard_id: str, stream_arn: str, region: str
) -> dict[str, Any]:
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode(),
                    "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard_id}:{r['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/securebank-scorer",
                "awsRegion": region,
                "eventSourceARN": stream_arn,
            }
            for r in records
        ]
    }


class ShardPoller:
    def __init__(
        self,
        *,
        kinesis: Any,
        sqs: Any,
        stream_name: str,
        stream_arn: str,
        shard_id: str,
        handler: Handler,
        config: MappingConfig,
        checkpoints: Checkpoints,
        region: str = "us-east-1",
    ) -> None:
        self.kinesis, self.sqs = kinesis, sqs
        self.stream_name, self.stream_arn, self.shard_id = stream_name, stream_arn, shard_id
        self.handler, self.config, self.checkpoints = handler, config, checkpoints
        self.region = region
        self.stats = PollerStats()
        self._stop = threading.Event()  # the mapping's, once it runs

    def _iterator(self) -> str:
        after = self.checkpoints.get(self.shard_id)
        kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": self.shard_id}
        if after:
            kwargs |= {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "StartingSequenceNumber": after,
            }
        else:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        return self.kinesis.get_shard_iterator(**kwargs)["ShardIterator"]

    def run(self, stop: threading.Event) -> None:
        self._stop = stop
        iterator = self._iterator()
        buffer: list[dict[str, Any]] = []
        first_at = 0.0
        while not stop.is_set():
            response = self.kinesis.get_records(
                ShardIterator=iterator, Limit=max(self.config.batch_size - len(buffer), 1)
            )
            iterator = response["NextShardIterator"]
            if response["Records"] and not buffer:
                first_at = time.monotonic()
            buffer += response["Records"]
            window_over = buffer and time.monotonic() - first_at >= self.config.batching_window_s
            if len(buffer) >= self.config.batch_size or window_over:
                self.dispatch(buffer)
                buffer = []
            elif not response["Records"]:
                time.sleep(self.config.poll_interval_s)
        if buffer:
            self.dispatch(buffer)

    def dispatch(self, records: list[dict[str, Any]]) -> None:
        """Deliver `records` until each is processed or sent to the on-failure destination.

        A retry waits first (exponential backoff); when the mapping is stopped meanwhile, the
        rest is left unprocessed and unchecked, for the next run to read again."""
        pending = [(records, 0)]
        while pending:
            batch, attempt = pending.pop(0)
            if attempt and self._backoff(attempt):
                return
            outcome = self._invoke(batch)
            if outcome is None:
                self.stats.batches += 1
                self.stats.records += len(batch)
                self.checkpoints.set(self.shard_id, batch[-1]["SequenceNumber"])
                continue
            first_failed, errored = outcome
            done = batch[:first_failed]
            if done:
                self.stats.records += len(done)
                self.checkpoints.set(self.shard_id, done[-1]["SequenceNumber"])
            rest = batch[first_failed:]
            if 0 <= self.config.max_retry_attempts <= attempt:
                self._send_to_failure_destination(rest, attempt)
                self.checkpoints.set(self.shard_id, rest[-1]["SequenceNumber"])
                continue
            self.stats.retries += 1
            if errored and self.config.bisect_on_error and len(rest) > 1:
                half = len(rest) // 2
                pending[:0] = [(rest[:half], attempt + 1), (rest[half:], attempt + 1)]
            else:
                pending.insert(0, (rest, attempt + 1))

    def _backoff(self, attempt: int) -> bool:
        """Wait before retry `attempt`; True when the mapping was stopped meanwhile."""
        wait = min(
            self.config.retry_backoff_s * 2 ** (attempt - 1), self.config.retry_backoff_max_s
        )
        return self._stop.wait(wait)

    def _invoke(self, batch: list[dict[str, Any]]) -> tuple[int, bool] | None:
        """None on success; else (index of the first failed record, whether the handler raised)."""
        event = lambda_event(batch, self.shard_id, self.stream_arn, self.region)
        try:
            response = self.handler(event, LocalContext()) or {}
        except Exception:
            return 0, True
        failures = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        if not failures:
            return None
        for index, record in enumerate(batch):
            if record["SequenceNumber"] in failures:
                return index, len(failures) == len(batch)
        return 0, True

    def _send_to_failure_destination(self, batch: list[dict[str, Any]], attempts: int) -> None:
        self.stats.failed_batches += 1
        if not self.config.on_failure_queue_url:
            return
        message = {
            "requestContext": {
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts + 1,
            },
            "KinesisBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": batch[0]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["SequenceNumber"],
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
            "timestamp": datetime.now(UTC).isoformat(),
        }
        self.sqs.send_message(
            QueueUrl=self.config.on_failure_queue_url, MessageBody=json.dumps(message)
        )


def shard_ids(kinesis: Any, stream_name: str) -> tuple[str, list[str]]:
    description = kinesis.describe_stream(StreamName=stream_name)["StreamDescription"]
    return description["StreamARN"], [s["ShardId"] for s in description["Shards"]]


class EventSourceMapping:
    """One poller thread per shard, stopped together."""

    def __init__(self, pollers: list[ShardPoller]) -> None:
        self.pollers = pollers
        self.stop = threading.Event()
        self._threads = [
            threading.Thread(target=p.run, args=(self.stop,), name=p.shard_id, daemon=True)
            for p in pollers
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def close(self, timeout: float = 30.0) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def failed(self) -> list[str]:
        """Shards whose poller stopped on its own (an exception, printed by the thread): their
        records wait until a mapping polls them again."""
        if self.stop.is_set():
            return []
        return [t.name for t in self._threads if t.ident is not None and not t.is_alive()]

    @property
    def records(self) -> int:
        return sum(p.stats.records for p in self.pollers)

    def stats(self) -> PollerStats:
        """The pollers' figures, summed."""
        return PollerStats(
            batches=sum(p.stats.batches for p in self.pollers),
            records=self.records,
            retries=sum(p.stats.retries for p in self.pollers),
            failed_batches=sum(p.stats.failed_batches for p in self.pollers),
        )

    @classmethod
    def for_stream(
        cls,
        *,
        kinesis: Any,
        sqs: Any,
        stream_name: str,
        handler: Handler,
        config: MappingConfig,
        checkpoints: Checkpoints,
        region: str = "us-east-1",
        shards: Sequence[str] | None = None,
    ) -> EventSourceMapping:
        """A poller for every shard of the stream (or for `shards` of them), sharing one
        checkpoint file.

        Raises CheckpointMismatch when the file's positions belong to another stream.
        """
        checkpoints.bind(StreamIdentity.of(kinesis, stream_name), kinesis, stream_name)
        arn, listed = shard_ids(kinesis, stream_name)
        shards = listed if shards is None else [s for s in listed if s in set(shards)]
        return cls(
            [
                ShardPoller(
                    kinesis=kinesis,
                    sqs=sqs,
                    stream_name=stream_name,
                    stream_arn=arn,
                    shard_id=shard,
                    handler=handler,
                    config=config,
                    checkpoints=checkpoints,
                    region=region,
                )
                for shard in shards
            ]
        )
