"""The local event source mapping against moto's Kinesis and SQS over HTTP."""

from __future__ import annotations

import json
import time

from securebank.local.event_source import (
    Checkpoints,
    EventSourceMapping,
    MappingConfig,
    ShardPoller,
    shard_ids,
)
from securebank.local.producer import contract_json, send
from tests.scorer.helpers import decisions, drain, stream_rows


def _put(aws, count, prefix="r"):
    payloads = [
        ("same-key", json.dumps({"n": i, "id": f"{prefix}{i}"}).encode()) for i in range(count)
    ]
    send(aws.client("kinesis"), aws.names.stream, payloads, rate=100_000)


def _poller(aws, handler, tmp_path, **config):
    kinesis, sqs = aws.client("kinesis"), aws.client("sqs")
    arn, shards = shard_ids(kinesis, aws.names.stream)
    queue = sqs.get_queue_url(QueueName=aws.names.stream_failure_queue)["QueueUrl"]
    shard = next(
        s
        for s in shards
        if kinesis.get_records(
            ShardIterator=kinesis.get_shard_iterator(
                StreamName=aws.names.stream, ShardId=s, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        )["Records"]
    )
    return ShardPoller(
        kinesis=kinesis,
        sqs=sqs,
        stream_name=aws.names.stream,
        stream_arn=arn,
        shard_id=shard,
        handler=handler,
        config=MappingConfig(on_failure_queue_url=queue, **config),
        checkpoints=Checkpoints(tmp_path / "checkpoints.json"),
    )


def _records_of(event):
    import base64

    return [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"] for r in event["Records"]]


def test_partial_failure_retries_from_the_first_failed_record(aws, tmp_path):
    _put(aws, 10)
    seen: list[list[int]] = []

    def handler(event, context):
        numbers = _records_of(event)
        seen.append(numbers)
        if len(seen) == 1:  # first delivery: record 4 fails
            failed = event["Records"][4]["kinesis"]["sequenceNumber"]
            return {"batchItemFailures": [{"itemIdentifier": failed}]}
        return {"batchItemFailures": []}

    poller = _poller(aws, handler, tmp_path, batch_size=10)
    poller.dispatch(_fetch(aws, poller))
    assert seen == [list(range(10)), list(range(4, 10))]
    assert poller.stats.records == 10 and poller.stats.retries == 1


def test_errors_bisect_and_exhausted_retries_go_to_the_on_failure_queue(aws, tmp_path):
    _put(aws, 8)
    sizes: list[int] = []

    def handler(event, context):
        numbers = _records_of(event)
        sizes.append(len(numbers))
        if 5 in numbers:
            raise RuntimeError("poison")
        return None

    poller = _poller(aws, handler, tmp_path, batch_size=8, max_retry_attempts=3)
    poller.dispatch(_fetch(aws, poller))
    assert sizes[:3] == [8, 4, 4]  # whole batch, then halves
    (failure,) = [json.loads(m["Body"]) for m in drain(aws, aws.names.stream_failure_queue)]
    assert failure["KinesisBatchInfo"]["batchSize"] == 1
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert poller.stats.records == 7 and poller.stats.failed_batches == 1


def test_by_default_a_failing_batch_is_retried_with_backoff_until_it_succeeds(aws, tmp_path):
    """A store down for longer than a few retries must not cost the batch (Lambda's -1)."""
    _put(aws, 6)
    calls: list[int] = []

    def handler(event, context):  # the store is "down" for the first 7 deliveries
        calls.append(len(event["Records"]))
        if len(calls) <= 7:
            raise ConnectionError("DynamoDB is not answering")
        return None

    class Waits:  # the mapping's stop event, recording each backoff instead of sleeping
        def __init__(self):
            self.waits: list[float] = []

        def wait(self, seconds):
            self.waits.append(seconds)
            return False

    poller = _poller(
        aws, handler, tmp_path, batch_size=6, bisect_on_error=False, retry_backoff_max_s=0.5
    )
    poller._stop = waits = Waits()
    poller.dispatch(_fetch(aws, poller))
    assert calls == [6] * 8 and poller.stats.records == 6
    assert poller.stats.failed_batches == 0 and not drain(aws, aws.names.stream_failure_queue)
    assert waits.waits == [0.1, 0.2, 0.4, 0.5, 0.5, 0.5, 0.5]  # doubling, capped
    assert Checkpoints(tmp_path / "checkpoints.json").get(poller.shard_id)


def test_a_batch_still_failing_when_the_mapping_stops_is_left_for_the_next_run(aws, tmp_path):
    import threading

    _put(aws, 4)
    stop = threading.Event()

    def handler(event, context):
        stop.set()  # the runner is stopped while this batch fails
        raise ConnectionError("DynamoDB is not answering")

    poller = _poller(aws, handler, tmp_path, batch_size=4)
    poller._stop = stop
    poller.dispatch(_fetch(aws, poller))
    assert poller.stats.records == 0 and poller.stats.failed_batches == 0
    assert Checkpoints(tmp_path / "checkpoints.json").get(poller.shard_id) is None


def _fetch(aws, poller):
    kinesis = aws.client("kinesis")
    iterator = kinesis.get_shard_iterator(
        StreamName=aws.names.stream, ShardId=poller.shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return kinesis.get_records(ShardIterator=iterator)["Records"]


def test_a_restarted_scorer_loses_no_record_and_decides_none_twice(stream_env, trained, tmp_path):
    from securebank.scorer import handler
    from securebank.scorer.assembly import build_parts
    from tests.scorer.conftest import scorer_clients

    settings, aws = stream_env
    handler.configure(build_parts(settings, scorer_clients(aws, None), endpoint=False))
    rows = stream_rows(trained, 400)
    send(
        aws.client("kinesis"),
        aws.names.stream,
        [(r["card_id"], contract_json(r)) for r in rows],
        rate=100_000,
    )
    checkpoints = tmp_path / "checkpoints.json"

    def mapping():
        return EventSourceMapping.for_stream(
            kinesis=aws.client("kinesis"),
            sqs=aws.client("sqs"),
            stream_name=aws.names.stream,
            handler=handler.lambda_handler,
            config=MappingConfig(batch_size=50, batching_window_s=0.05),
            checkpoints=Checkpoints(checkpoints),
        )

    first = mapping()
    first.start()
    deadline = time.monotonic() + 60
    while first.records < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.close()  # the scorer is stopped part-way
    assert 0 < first.records < 400
    second = mapping()
    second.start()
    deadline = time.monotonic() + 200
    while len(decisions(aws)) < 400 and time.monotonic() < deadline:
        time.sleep(0.2)
    second.close()
    made = [d["transaction_id"] for d in decisions(aws)]
    assert sorted(made) == sorted(r["transaction_id"] for r in rows)


def test_poll_until_idle_stops_after_the_first_empty_poll_past_the_idle_time():
    from securebank.local.event_source import poll_until_idle

    answers = iter([3, 1, 0, 5])
    calls = []

    def poll():
        calls.append(1)
        return next(answers)

    busy = poll_until_idle(poll, idle_exit_s=0, interval_s=0)
    assert len(calls) == 3  # two polls found work, the third found none: stop
    assert busy >= 0
