"""Benchmark: the live path on the local AWS — put → decision latency and sustained throughput.

Sets up the whole platform the way a user does (`securebank` commands in a fresh home: data,
pipeline, approve, deploy, endpoint, bootstrap), then runs the scorer as `securebank stream run`
does, through the local event source mapping in one process per shard (at most one per CPU), with
the local stack (dynalite, kinesalite, MiniStack, moto) and the model server in their own
processes:

1. at the seed's rate (167 transactions/s) for `--seconds` (60): put → decision latency p50/p99
   (decision time minus Kinesis arrival time, from the decisions table), the share of decisions
   made by the fallback model, and what each transaction used (DynamoDB capacity units, S3, SNS
   and SQS requests, Lambda invocations and time: `securebank.cost.CallMeter`), written to
   `--usage-out` for `securebank cost --usage`;
2. the highest rate it holds: `--backlog` records put first, then drained; throughput is
   records over drain time.

The latency budget is LATENCY_BUDGET_MS (default 100, the seed's).

    python benchmarks/stream.py [--seconds 60] [--backlog 20000] [--usage-out usage.json]
Last line: {"max_sustained_tps": T, "p50_ms_at_167": A, "p99_ms_at_167": B,
            "fallback_rate_at_167": F, "latency_budget_ms": 100, "shards": N, ...}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import USAGE_DIR_VARIABLE, emit, merged_usage, metered_scorer, save_usage
from _measure import securebank as _cli


def _decision_latencies(aws, table: str, since_ms: int) -> list[int]:
    latencies = []
    for page in aws.client("dynamodb").get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            arrived = int(item["arrived_at_ms"]["N"])
            if arrived >= since_ms:
                latencies.append(int(item["decided_at_ms"]["N"]) - arrived)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--transactions", type=int, default=200_000)
    parser.add_argument("--usage-out", type=Path, default=None)
    args = parser.parse_args()
    budget = os.environ.get("LATENCY_BUDGET_MS", "100")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "SECUREBANK_HOME": str(home), "LATENCY_BUDGET_MS": budget}
        data = str(Path(tmp) / "data")
        _cli(env, "data", "generate", "--transactions", str(args.transactions), "--out", data)
        _cli(env, "pipeline", "run", "--data", data)
        _cli(env, "model", "approve", "1")
        _cli(env, "model", "deploy", "1")
        _cli(env, "endpoint", "start")
        try:
            figures = _run(env, home, data, args)
        finally:
            _cli(env, "endpoint", "stop")
            _cli(env, "stack", "down")
    emit(figures)


def _run(env: dict[str, str], home: Path, data: str, args: argparse.Namespace) -> dict:
    os.environ.update({"SECUREBANK_HOME": str(home), "LATENCY_BUDGET_MS": env["LATENCY_BUDGET_MS"]})
    from securebank.aws import connect
    from securebank.cost import Usage
    from securebank.data.dataset import read_transactions
    from securebank.inference.local_endpoint import running_server
    from securebank.local import stack as local_stack
    from securebank.local.event_source import MappingConfig, shard_ids
    from securebank.local.producer import contract_json, select, send
    from securebank.local.shard_processes import ShardProcesses, WorkerPlan, shard_groups
    from securebank.model_artifact import load_model
    from securebank.settings import get_settings

    config = get_settings()
    aws = connect(config)
    manifest = load_model(
        next((home / "endpoint" / "models" / "v1").glob("*.tar.gz")), feature_set=None
    ).manifest
    stream_from = manifest.training_range["test_start"]
    _cli(env, "stream", "bootstrap", "--data", data, "--until", stream_from)
    server = running_server(config)
    rows = select(read_transactions(Path(data)), None, None).to_pylist()
    split = next(i for i, r in enumerate(rows) if r["event_time"].date().isoformat() >= stream_from)
    live = rows[split:]
    payloads = [(r["card_id"], contract_json(r)) for r in live]
    kinesis = aws.client("kinesis")
    _, shards = shard_ids(kinesis, config.names.stream)
    usage_dir = home / "bench-usage"
    usage_dir.mkdir()
    os.environ[USAGE_DIR_VARIABLE] = str(usage_dir)

    def workers(window: float, output: Path) -> ShardProcesses:
        """The scorer as `securebank stream run` runs it: one process per shard (2 cores)."""
        plan = WorkerPlan(
            settings=config,
            handler_factory=metered_scorer,
            mapping=MappingConfig(batch_size=100, batching_window_s=window, poll_interval_s=0.01),
            checkpoints=home / "bench-checkpoints.json",
            output=output,
            finish=save_usage,
        )
        return ShardProcesses(plan, shard_groups(shards, os.cpu_count() or 1))

    at_167_output, drain_output = home / "scorer-167.jsonl", home / "scorer-drain.jsonl"
    started_ms = int(time.time() * 1000)
    scorer = workers(0.0, at_167_output)
    scorer.start()
    count = int(167 * args.seconds)
    sent = send(kinesis, config.names.stream, payloads[:count], rate=167.0)
    deadline = time.monotonic() + 60
    while scorer.records < sent.sent and time.monotonic() < deadline:
        time.sleep(0.1)
    scorer.close()
    used = merged_usage([json.loads(p.read_text()) for p in usage_dir.glob("*.json")])
    latencies = np.array(_decision_latencies(aws, config.names.decisions_table, started_ms))
    backlog = payloads[count : count + args.backlog]
    send(kinesis, config.names.stream, backlog, rate=1_000_000.0)
    drain = workers(0.2, drain_output)
    drain.start()
    processes = {"scorer": drain.pids, "endpoint": [server.pid]} | {
        name: [info.pid] for name, info in local_stack.status(home).items() if info
    }
    cpu_before = _cpu_seconds(processes)
    t0 = time.monotonic()
    deadline = time.monotonic() + 600
    while drain.records < len(backlog) and time.monotonic() < deadline:
        time.sleep(0.05)
    seconds = time.monotonic() - t0
    cpu_after = _cpu_seconds(processes)
    drained_records = drain.records
    drain.close()
    at_167 = _emf_totals(at_167_output.read_text())
    drained = _emf_totals(drain_output.read_text())
    decided = at_167["Scored"] or 1.0
    batches = scorer.stats().batches or 1
    calls = used["calls"]
    usage = Usage(
        dynamodb_read_units=used["read_units"] / decided,
        dynamodb_write_units=used["write_units"] / decided,
        dynamodb_calls=sum(v for k, v in calls.items() if k.startswith("dynamodb.")) / decided,
        record_bytes=sum(len(data) for _, data in payloads[:count]) / max(count, 1),
        lambda_invocations=batches / decided,
        lambda_ms_per_invocation=at_167["BatchLatency"] / at_167["batches"],
        s3_puts=calls.get("s3.PutObject", 0) / decided,
        lake_bytes=used["bytes"].get("s3", 0) / decided,
        sns_requests=calls.get("sns.messages", 0) / decided,
        sqs_requests=sum(v for k, v in calls.items() if k.startswith("sqs.")) / decided,
        log_bytes=at_167_output.stat().st_size / decided,
        measured=f"benchmarks/stream.py, {args.seconds:g} s at 167 tx/s, {len(shards)} shards",
    )
    if args.usage_out is not None:
        usage.save(args.usage_out)
    return {
        "shards": len(shards),
        "scorer_processes": len(drain.pids),
        "latency_budget_ms": int(env["LATENCY_BUDGET_MS"]),
        "sent_at_167": int(sent.sent),
        "decided_at_167": len(latencies),
        "p50_ms_at_167": round(float(np.percentile(latencies, 50)), 1),
        "p99_ms_at_167": round(float(np.percentile(latencies, 99)), 1),
        "fallback_rate_at_167": round(at_167["Fallbacks"] / decided, 4),
        "dynamodb_calls_per_tx": round(usage.dynamodb_calls, 3),
        "dynamodb_read_units_per_tx": round(usage.dynamodb_read_units, 3),
        "dynamodb_write_units_per_tx": round(usage.dynamodb_write_units, 3),
        "dynamodb_write_units_per_tx_by_table": {
            table: round(units / decided, 3)
            for table, units in used["write_units_by_table"].items()
        },
        "records_per_batch_at_167": round(decided / batches, 2),
        "backlog": len(backlog),
        "drain_seconds": round(seconds, 1),
        "max_sustained_tps": round(drained_records / seconds, 1),
        # CPU time per drained transaction, all processes of the path: unlike wall time, it
        # hardly depends on how loaded the machine is
        "cpu_ms_per_tx_draining": {
            name: round((cpu_after[name] - cpu_before[name]) * 1000 / max(drained_records, 1), 3)
            for name in processes
        },
        "tps_bound_by_cpu_on_2_cores": round(
            2
            * max(drained_records, 1)
            / max(sum(cpu_after.values()) - sum(cpu_before.values()), 1e-9),
            1,
        ),
        "fallback_rate_draining": (
            round(drained["Fallbacks"] / drained["Scored"], 4) if drained["Scored"] else None
        ),
    }


def _cpu_seconds(processes: dict[str, list[int]]) -> dict[str, float]:
    """User + system CPU seconds each named group of processes has used so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pids in processes.items():
        used[name] = 0.0
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[name] += (int(fields[11]) + int(fields[12])) / tick
    return used


def _emf_totals(output: str) -> dict[str, float]:
    """Sums of the scorer's EMF metrics (one JSON line per batch) in `output`."""
    import json

    totals = {"Scored": 0.0, "Fallbacks": 0.0, "BatchLatency": 0.0, "batches": 0.0}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        metric = json.loads(line)
        totals["batches"] += 1
        for name in ("Scored", "Fallbacks", "BatchLatency"):
            totals[name] += float(np.sum(metric.get(name, 0)))
    totals["batches"] = totals["batches"] or 1.0
    return totals


if __name__ == "__main__":
    threading.excepthook = lambda info: None
    main()
