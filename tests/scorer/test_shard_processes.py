"""Shard processes: the local event source mapping with one process per group of shards, each
running the real scorer against the local stack."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from securebank.local.event_source import Checkpoints, MappingConfig, shard_ids
from securebank.local.producer import contract_json, send
from securebank.local.shard_processes import (
    ShardProcesses,
    WholeLines,
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


def print_lines(path, count):
    """Two threads of one process print `count` long lines each to `path` (a spawn target)."""
    import threading

    sys.stdout = WholeLines(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))

    def lines():
        for i in range(count):
            print(json.dumps({"pid": os.getpid(), "i": i, "pad": "x" * 700}))

    threads = [threading.Thread(target=lines) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sys.stdout.close()


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


def test_lines_printed_by_several_processes_and_threads_never_interleave(tmp_path):
    path = tmp_path / "output.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=print_lines, args=(path, 3000)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    lines = path.read_text().splitlines()
    assert len(lines) == 2 * 2 * 3000
    assert all(json.loads(line)["pad"] == "x" * 700 for line in lines)  # each line whole


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


def idle_handler(settings):
    """A handler that accepts every batch (a spawn target's factory)."""
    return lambda event, context: {"batchItemFailures": []}


def run_workers_until_killed(settings_json, checkpoints):
    """A runner: start the workers, print their pids, wait to be killed (a subprocess)."""
    from securebank.settings import Settings

    settings = Settings.model_validate_json(settings_json)
    _, shards = shard_ids(_kinesis(settings), settings.names.stream)
    plan = WorkerPlan(
        settings=settings,
        handler_factory=idle_handler,
        mapping=MappingConfig(),
        checkpoints=Path(checkpoints),
    )
    workers = ShardProcesses(plan, shard_groups(shards, 2))
    # a runner started in the background of a shell inherits SIGINT ignored: take it back
    signal.signal(signal.SIGINT, signal.default_int_handler)
    workers.start()
    try:
        print(json.dumps(workers.pids), flush=True)
        time.sleep(600)
    except KeyboardInterrupt:  # Ctrl-C: stop the workers, each after its batch
        workers.close()
        print(json.dumps(workers.exitcodes), flush=True)


def _kinesis(settings):
    from securebank.aws import connect

    return connect(settings, provision=False).client("kinesis")


def _runner(settings, aws, tmp_path, **popen):
    """`run_workers_until_killed` in a process of its own, its output readable line by line."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from tests.scorer.test_shard_processes import run_workers_until_killed;"
            " run_workers_until_killed(sys.argv[1], sys.argv[2])",
            _worker_settings(settings, aws).model_dump_json(),
            str(tmp_path / "checkpoints.json"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        **popen,
    )


def test_workers_stop_by_themselves_when_their_runner_is_killed(stream_env, tmp_path):
    settings, aws = stream_env
    runner = _runner(settings, aws, tmp_path)
    try:
        pids = json.loads(runner.stdout.readline())
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    finally:
        runner.send_signal(signal.SIGKILL)  # no chance to stop its workers
        runner.wait()
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)


def test_ctrl_c_stops_the_workers_through_their_runner(stream_env, tmp_path):
    settings, aws = stream_env
    runner = _runner(settings, aws, tmp_path, start_new_session=True)
    try:
        pids = json.loads(runner.stdout.readline())
        os.killpg(runner.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
        exitcodes = json.loads(runner.stdout.readline())
    finally:
        runner.kill()
        runner.wait()
    assert exitcodes == [0, 0]  # stopped by their runner, not by the interrupt
    assert not any(_alive(pid) for pid in pids)


def test_a_worker_killed_while_the_others_run_is_started_again_and_loses_nothing(
    stream_env, trained, tmp_path
):
    settings, aws = stream_env
    kinesis = aws.client("kinesis")
    _, shards = shard_ids(kinesis, aws.names.stream)
    rows = stream_rows(trained, 400)
    send(kinesis, aws.names.stream, [(r["card_id"], contract_json(r)) for r in rows], 100_000)
    plan = WorkerPlan(
        settings=_worker_settings(settings, aws),
        handler_factory=scorer_without_endpoint,
        mapping=MappingConfig(batch_size=20, batching_window_s=0.01),
        checkpoints=tmp_path / "checkpoints.json",
    )
    workers = ShardProcesses(plan, shard_groups(shards, 2))
    workers.start()
    try:
        first = workers.pids
        os.kill(first[0], signal.SIGKILL)  # mid-batch, or before its first
        deadline = time.monotonic() + 30
        revived = []
        while not revived and time.monotonic() < deadline:
            time.sleep(0.1)
            revived = workers.revive()
        deadline = time.monotonic() + 200
        while len(decisions(aws)) < 400 and time.monotonic() < deadline:
            time.sleep(0.2)
            assert workers.revive() == []  # the replacement lives
    finally:
        workers.close()
    assert len(revived) == 1 and "exit code -9" in revived[0]
    assert workers.pids[0] != first[0] and workers.pids[1] == first[1]
    made = [d["transaction_id"] for d in decisions(aws)]
    assert sorted(made) == sorted(r["transaction_id"] for r in rows)
    assert workers.records >= 400  # the killed worker's batch in hand may be redone


def test_a_worker_whose_poller_fails_is_started_again_and_its_failure_told(stream_env, tmp_path):
    settings, aws = stream_env
    kinesis = aws.client("kinesis")
    _, shards = shard_ids(kinesis, aws.names.stream)
    plan = WorkerPlan(
        settings=_worker_settings(settings, aws),
        handler_factory=idle_handler,
        mapping=MappingConfig(poll_interval_s=0.01),
        checkpoints=tmp_path / "checkpoints.json",
    )
    workers = ShardProcesses(plan, shard_groups(shards, 2), start_timeout_s=30)
    workers.start()
    try:
        kinesis.delete_stream(StreamName=aws.names.stream)  # every get_records now fails
        deadline = time.monotonic() + 60
        with pytest.raises(WorkerFailed, match=aws.names.stream):
            while time.monotonic() < deadline:
                workers.revive()  # the restarted worker cannot find the stream: told, loudly
                time.sleep(0.1)
    finally:
        workers.close()
