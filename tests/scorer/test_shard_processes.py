"""Shard processes: the local event source mapping with one process per group of shards, each
running the real scorer against the local stack."""

from __future__ import annotations

import json
import os
import time

import pytest

from securebank.local.event_source import Checkpoints, MappingConfig, shard_ids
from securebank.local.producer import contract_json, send
from securebank.local.shard_processes import (
    ShardProcesses,
    WorkerFailed,
    WorkerPlan,
    shard_groups,
)
from tests.scorer.helpers import decisions, stream_rows


def scorer_without_endpoint(settings):
    """The scorer's handler, fallback model only (runs in each worker)."""
    from securebank.scorer import handler
    from securebank.scorer.assembly import build_parts

    handler.configure(build_parts(settings, endpoint=False))
    return handler.lambda_handler


def refusing_factory(settings):
    raise RuntimeError("no Approved version to fall back to (refused on purpose)")


def _worker_settings(settings, aws):
    """The test's settings with the local stack's endpoints, for a process that has only them."""
    endpoints = aws.service_endpoints
    return settings.model_copy(
        update={
            "aws_endpoint_url": aws.endpoint_url,
            **{f"aws_endpoint_url_{service}": url for service, url in endpoints.items()},
        }
    )


def test_shards_are_dealt_round_robin_into_at_most_the_processes_asked():
    assert shard_groups(["a", "b", "c"], 2) == [["a", "c"], ["b"]]
    assert shard_groups(["a", "b"], 8) == [["a"], ["b"]]
    assert shard_groups(["a", "b"], 1) == [["a", "b"]]


def test_writers_of_one_checkpoint_file_keep_each_others_positions(tmp_path):
    path = tmp_path / "checkpoints.json"
    Checkpoints(path).set("shard-a", "1")
    Checkpoints(path).set("shard-b", "1")
    first, second = Checkpoints(path), Checkpoints(path)  # both read a=1, b=1
    second.set("shard-b", "5")
    first.set("shard-a", "2")  # must not put back b=1, the position it read
    assert json.loads(path.read_text())["positions"] == {"shard-a": "2", "shard-b": "5"}
    assert first.get("shard-b") == "5"


def test_two_processes_decide_every_transaction_once_and_save_both_positions(
    stream_env, trained, tmp_path
):
    settings, aws = stream_env
    kinesis = aws.client("kinesis")
    _, shards = shard_ids(kinesis, aws.names.stream)
    assert len(shards) >= 2
    rows = stream_rows(trained, 400)
    send(kinesis, aws.names.stream, [(r["card_id"], contract_json(r)) for r in rows], 100_000)
    output = tmp_path / "scorer-output.jsonl"
    plan = WorkerPlan(
        settings=_worker_settings(settings, aws),
        handler_factory=scorer_without_endpoint,
        mapping=MappingConfig(batch_size=50, batching_window_s=0.05),
        checkpoints=tmp_path / "checkpoints.json",
        output=output,
    )
    workers = ShardProcesses(plan, shard_groups(shards, 2))
    workers.start()
    try:
        deadline = time.monotonic() + 200
        while workers.records < 400 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        workers.close()
    assert len(set(workers.pids)) == 2 and os.getpid() not in workers.pids
    made = [d["transaction_id"] for d in decisions(aws)]
    assert sorted(made) == sorted(r["transaction_id"] for r in rows)
    stats = workers.stats()
    assert stats.records == 400 and stats.failed_batches == 0
    positions = json.loads(plan.checkpoints.read_text())["positions"]
    assert set(positions) == set(shards)  # neither worker put back the other's position
    # both workers appended to one file, whole lines only: every line parses
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    metrics = [line for line in lines if "_aws" in line]
    assert sum(sum(m["Scored"]) for m in metrics) == 400


def test_a_worker_that_cannot_start_stops_the_others_and_says_why(stream_env, tmp_path):
    settings, aws = stream_env
    _, shards = shard_ids(aws.client("kinesis"), aws.names.stream)
    plan = WorkerPlan(
        settings=_worker_settings(settings, aws),
        handler_factory=refusing_factory,
        mapping=MappingConfig(),
        checkpoints=tmp_path / "checkpoints.json",
    )
    workers = ShardProcesses(plan, shard_groups(shards, 2))
    with pytest.raises(WorkerFailed, match="refused on purpose"):
        workers.start()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers.pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers.pids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
