"""Benchmark: nothing lost, nothing counted twice, while the scorer is killed and its endpoint moves
(restarted on a new port).

Sets up the platform as a user does (`securebank` commands in a fresh home: data, pipeline,
approve, deploy, endpoint, bootstrap), then, on the local AWS:

* a producer puts `--transactions` transactions at `--rate`, every 4th chunk of 50 through the
  ingest API (`securebank api serve`, `--api-every`) and the rest straight into Kinesis, plus
  1 % poison (deep nesting, bad UTF-8, duplicate keys, a card number, wrong types, NaN, not JSON, an
  oversized record) and 1 % duplicates of transactions already sent (a producer retry right
  after, a resend later, the same transaction under another partition key, i.e. likely another
  shard), acknowledged records only (put_records partial failures and refused API requests
  re-sent; poison always through Kinesis, where the dead-letter queue can be checked);
* `securebank stream run` processes it in its shard processes, killed with SIGKILL (the runner
  and every shard process, mid-batch) three times and restarted at once; the model server is
  stopped and started again (on a new port) mid-run.

Then it checks what was stored: every transaction decided once (decisions table and lake), card
state counted once per transaction (each card's version, which counts applied transactions,
against its version after the bootstrap plus its transactions sent), every poison record in
the dead-letter queue.

    python benchmarks/chaos.py [--transactions 20000] [--rate 400]
Last line: {"sent": N, "decided": D, "lost": L, "duplicate_decisions": X,
            "double_counted_state": S, "lake_missing": M, "poison_sent": P, "poison_in_dlq": Q}
Goal: L = X = S = M = 0 and Q = P.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import emit
from _measure import securebank as _cli

POISON = [
    b"[" * 3_000 + b"]" * 3_000,
    b'{"transaction_id": "bad-utf8", "pad": "\xff\xfe\xfd"}',
    b'{"transaction_id": "dup-key-1", "transaction_id": "dup-key-2"}',
    json.dumps({"transaction_id": "with-pan", "card_id": "4539 1488 0343 6467"}).encode(),
    json.dumps({"transaction_id": ["a"], "amount": {"x": 1}}).encode(),
    b'{"transaction_id": "nan", "amount": NaN}',
    b"this is not json",
    json.dumps({"transaction_id": "huge", "pad": "z" * 300_000}).encode(),
]


#: The last line's keys, in order.
VERDICT = (
    "sent",
    "decided",
    "lost",
    "duplicate_decisions",
    "double_counted_state",
    "lake_missing",
    "poison_sent",
    "poison_in_dlq",
)


def plan(rows: list[dict[str, Any]], contract_json: Any) -> list[tuple[str, str, bytes]]:
    """(kind, partition key, data) in send order: transactions, 1 % poison, 1 % duplicates."""
    out: list[tuple[str, str, bytes]] = []
    later: list[tuple[int, tuple[str, str, bytes]]] = []
    for i, row in enumerate(rows):
        data = contract_json(row)
        out.append(("txn", row["card_id"], data))
        if i % 100 == 37:
            out.append(("poison", f"poison-{i}", POISON[(i // 100) % len(POISON)]))
        if i % 100 == 71:
            mode = (i // 100) % 3
            if mode == 0:  # a producer retry: right after, same key (often the same batch)
                out.append(("dup", row["card_id"], data))
            elif mode == 1:  # an API resend, a while later
                later.append((i + 500, ("dup", row["card_id"], data)))
            else:  # the same transaction under another partition key: likely another shard
                out.append(("dup", f"elsewhere-{i}", data))
        while later and later[0][0] <= i:
            out.append(later.pop(0)[1])
    out += [item for _, item in later]
    return out


class Producer(threading.Thread):
    """Puts the plan at `rate`, re-sending refused entries; keeps where each poison landed."""

    def __init__(
        self,
        kinesis: Any,
        stream: str,
        items: list,
        rate: float,
        api: tuple[str, str] | None = None,
        api_every: int = 4,
    ) -> None:
        super().__init__(daemon=True)
        self.kinesis, self.stream, self.items, self.rate = kinesis, stream, items, rate
        self.api, self.api_every = api, api_every
        self.poison_at: set[tuple[str, str]] = set()
        self.sent = 0
        self.through_api = 0
        self.api_ids: set[str] = set()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as error:  # reported by the main thread
            self.error = error

    def _run(self) -> None:
        from securebank.retry import retry_leftovers

        started = time.monotonic()
        step = 50
        for start in range(0, len(self.items), step):
            chunk = list(enumerate(self.items[start : start + step]))
            results: dict[int, dict[str, Any]] = {}

            def put(pending: list, results: dict[int, dict[str, Any]] = results) -> list:
                response = self.kinesis.put_records(
                    StreamName=self.stream,
                    Records=[{"PartitionKey": key, "Data": data} for _, (_, key, data) in pending],
                )
                left = []
                for (index, item), result in zip(pending, response["Records"], strict=True):
                    if "ErrorCode" in result:
                        left.append((index, item))
                    else:
                        results[index] = result
                return left

            if self.api is not None and (start // step) % self.api_every == self.api_every - 1:
                # this chunk's transactions go through the ingest API; its poison through Kinesis
                posted = [(i, item) for i, item in chunk if item[0] != "poison"]
                retry_leftovers(self._post, posted, what="ingest API")
                self.through_api += len(posted)
                self.api_ids |= {json.loads(data)["transaction_id"] for _, (_, _, data) in posted}
                chunk = [(i, item) for i, item in chunk if item[0] == "poison"]
            if chunk:
                retry_leftovers(put, chunk, what="kinesis put_records")
            for index, (kind, _, _) in chunk:
                if kind == "poison":
                    self.poison_at.add(
                        (results[index]["ShardId"], results[index]["SequenceNumber"])
                    )
            self.sent = min(start + step, len(self.items))
            ahead = self.sent / self.rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)

    def _post(self, pending: list) -> list:
        """POST pending transactions; return those not acknowledged (accepted or duplicate)."""
        url, key = self.api  # type: ignore[misc]
        body = json.dumps({"transactions": [json.loads(data) for _, (_, _, data) in pending]})
        request = urllib.request.Request(
            url,
            data=body.encode(),
            headers={"Content-Type": "application/json", "x-api-key": key},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                result = json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code in (429, 503):
                return pending
            raise RuntimeError(
                f"ingest API answered {error.code}: {error.read()[:500]!r}"
            ) from None
        done = set(result.get("accepted", [])) | set(result.get("duplicates", []))
        return [p for p in pending if json.loads(p[1][2])["transaction_id"] not in done]


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items += page["Items"]
    return items


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _card_versions(dynamodb: Any, table: str, cards: set[str]) -> dict[str, int]:
    from securebank.scorer.state_store import batch_get

    found = batch_get(dynamodb, table, "pk", [f"card#{c}" for c in sorted(cards)])
    return {item["pk"].removeprefix("card#"): int(item.get("version", 0)) for item in found}


def _lake(s3: Any, bucket: str) -> list[dict[str, Any]]:
    rows = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="decisions/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            rows += [json.loads(line) for line in body.splitlines()]
    return rows


def _stream_ids(kinesis: Any, stream: str) -> set[str]:
    """Every transaction id the stream holds, all shards from the trim horizon."""
    from securebank.local.producer import stream_records

    ids: set[str] = set()
    for record in stream_records(kinesis, stream):
        with contextlib.suppress(ValueError, TypeError, KeyError, RecursionError):
            ids.add(json.loads(record["Data"])["transaction_id"])
    return ids


def _drain(sqs: Any, queue: str) -> list[dict[str, Any]]:
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        bodies += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=20_000)
    parser.add_argument("--history", type=int, default=100_000, help="transactions generated")
    parser.add_argument("--rate", type=float, default=400.0)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument(
        "--api-every",
        type=int,
        default=4,
        help="every Nth chunk of 50 goes through the ingest API (0: Kinesis only)",
    )
    parser.add_argument(
        "--budget-ms",
        type=int,
        default=1000,
        help="LATENCY_BUDGET_MS of the scorer: on moto, batches of 100 spend 100 ms on state "
        "reads and fall back before calling the endpoint, which would leave the endpoint "
        "restart untested (benchmarks/stream.py measures the 100 ms budget)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {
            **os.environ,
            "SECUREBANK_HOME": str(home),
            "LATENCY_BUDGET_MS": str(args.budget_ms),
        }
        data = str(Path(tmp) / "data")
        _cli(env, "data", "generate", "--transactions", str(args.history), "--out", data)
        _cli(env, "pipeline", "run", "--data", data)
        _cli(env, "model", "approve", "1")
        _cli(env, "model", "deploy", "1")
        _cli(env, "endpoint", "start")
        try:
            figures = _run(env, home, data, args)
        finally:
            _cli(env, "endpoint", "stop")
            _cli(env, "stack", "down")
    for key in list(figures)[: -len(VERDICT)]:
        print(f"{key}: {figures.pop(key)}")
    emit(figures)


def _run(env: dict[str, str], home: Path, data: str, args: argparse.Namespace) -> dict:
    os.environ.update({"SECUREBANK_HOME": str(home), "LATENCY_BUDGET_MS": str(args.budget_ms)})
    from securebank.aws import connect
    from securebank.data.dataset import read_transactions
    from securebank.local.producer import contract_json, select
    from securebank.model_artifact import load_model
    from securebank.settings import get_settings

    config = get_settings()
    aws = connect(config)
    names = config.names
    manifest = load_model(
        next((home / "endpoint" / "models" / "v1").glob("*.tar.gz")), feature_set=None
    ).manifest
    stream_from = manifest.training_range["test_start"]
    _cli(env, "stream", "bootstrap", "--data", data, "--until", stream_from)
    since = select(read_transactions(Path(data)), None, None).to_pylist()
    rows = [r for r in since if r["event_time"].date().isoformat() >= stream_from]
    if len(rows) < args.transactions:
        raise SystemExit(f"only {len(rows)} transactions after {stream_from}: raise --history")
    rows = rows[: args.transactions]
    items = plan(rows, contract_json)
    dynamodb = aws.client("dynamodb")
    cards = Counter(r["card_id"] for r in rows)
    before = _card_versions(dynamodb, names.feature_table, set(cards))

    api = None
    api_process = None
    if args.api_every:
        key = (
            _cli(
                env,
                "api",
                "key",
                "create",
                "--name",
                "chaos",
                "--rate",
                "100000",
                "--burst",
                "100000",
            )
            .strip()
            .splitlines()[-1]
        )
        port = _free_port()
        api_process = subprocess.Popen(
            [sys.executable, "-m", "securebank.cli.app", "api", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(f"http://127.0.0.1:{port}/health")
        api = (f"http://127.0.0.1:{port}/transactions", key)
    producer = Producer(
        aws.client("kinesis"), names.stream, items, args.rate, api, args.api_every or 1
    )
    send_seconds = len(items) / args.rate
    runner_log = (home / "runner.log").open("ab")

    def runner() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "securebank.cli.app", "stream", "run", "--idle-exit", "20"],
            env=env,
            stdout=runner_log,
            stderr=runner_log,
            start_new_session=True,  # its shard processes are killed with it, mid-batch
        )

    started = time.monotonic()
    process = runner()
    producer.start()
    events = sorted(
        [((k + 1) / (args.kills + 1) * send_seconds, "kill") for k in range(args.kills)]
        + [(0.55 * send_seconds, "endpoint restart")]
    )
    for at, event in events:
        time.sleep(max(0.0, started + at - time.monotonic()))
        if event == "kill":
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            print(f"{time.monotonic() - started:6.1f} s  kill -9 of the runner; restarted")
            process = runner()
        else:
            _cli(env, "endpoint", "stop")
            _cli(env, "endpoint", "start")
            print(f"{time.monotonic() - started:6.1f} s  endpoint restarted on a new port")
    producer.join()
    if api_process is not None:
        api_process.terminate()
        api_process.wait()
    if producer.error is not None:
        raise producer.error
    print(f"{time.monotonic() - started:6.1f} s  producer done: {producer.sent:,} records put")
    try:
        process.wait(timeout=1_800)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    elapsed = time.monotonic() - started

    decided_items = _scan(dynamodb, names.decisions_table)
    sent_ids = {r["transaction_id"] for r in rows}
    decided_ids = [i["transaction_id"]["S"] for i in decided_items]
    decided = sent_ids & set(decided_ids)
    lake = _lake(aws.client("s3"), names.lake_bucket)
    versions_of = Counter()
    for row in {(r["transaction_id"], r["decided_at_ms"], r["sequence_number"]) for r in lake}:
        versions_of[row[0]] += 1
    after = _card_versions(dynamodb, names.feature_table, set(cards))
    drift = {c: after.get(c, 0) - before.get(c, 0) - n for c, n in cards.items()}
    letters = _drain(aws.client("sqs"), names.dead_letter_queue)
    in_dlq = {(m["shard_id"], m["sequence_number"]) for m in letters}
    failures = _drain(aws.client("sqs"), names.stream_failure_queue)
    scored_by = Counter(i["scored_by"]["S"] for i in decided_items)
    reasons: Counter[str] = Counter()
    log = home / "stream" / "scorer-output.jsonl"
    for line in log.read_text(errors="replace").splitlines() if log.is_file() else []:
        if '"batch scored"' in line:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("fallback"):
                    reasons[str(entry.get("fallback_reason"))] += int(entry["fallback"])
    lost_ids = sorted(sent_ids - decided)
    in_stream = _stream_ids(aws.client("kinesis"), names.stream) if lost_ids else set()
    lost_detail = [
        {
            "transaction_id": t,
            "via": "api" if t in producer.api_ids else "kinesis",
            "in_stream": t in in_stream,
        }
        for t in lost_ids[:20]
    ]
    return {
        "seconds": round(elapsed, 1),
        "lost_detail": lost_detail,
        "records_put": producer.sent,
        "records_through_the_api": producer.through_api,
        "runner_kills": args.kills,
        "endpoint_restarts": 1,
        "decided_by_endpoint": scored_by["endpoint"],
        "decided_by_fallback": scored_by["fallback"],
        "fallback_reasons (logged batches)": dict(reasons.most_common()),
        "failed_batches": len(failures),
        "lost_state": sum(-d for d in drift.values() if d < 0),
        "sent": len(sent_ids),
        "decided": len(decided),
        "lost": len(sent_ids - decided),
        "duplicate_decisions": (len(decided_ids) - len(set(decided_ids)))
        + sum(n - 1 for n in versions_of.values() if n > 1)
        + len(set(decided_ids) - sent_ids),
        "double_counted_state": sum(d for d in drift.values() if d > 0),
        "lake_missing": len(decided - set(versions_of)),
        "poison_sent": len(producer.poison_at),
        "poison_in_dlq": len(producer.poison_at & in_dlq),
    }


if __name__ == "__main__":
    main()
