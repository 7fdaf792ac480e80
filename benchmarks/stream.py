"""Benchmark: the live path on the local AWS — put → decision latency and sustained throughput.

Sets up the whole platform the way a user does (`securebank` commands in a fresh home: data,
pipeline, approve, deploy, endpoint, bootstrap), then runs the scorer through the local event
source mapping in this process, with moto's server and the model server in their own processes:

1. at the seed's rate (167 transactions/s) for `--seconds`: put → decision latency p50/p99
   (decision time minus Kinesis arrival time, from the decisions table);
2. the highest rate it holds: `--backlog` records put first, then drained; throughput is
   records over drain time.

    python benchmarks/stream.py [--seconds 30] [--backlog 20000]
Last line: {"max_sustained_tps": T, "p50_ms_at_167": A, "p99_ms_at_167": B, "shards": N, ...}
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import emit


def _cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "securebank.cli.app", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"securebank {' '.join(args)}: {result.stderr}")
    return result.stdout


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
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--transactions", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "SECUREBANK_HOME": str(home), "LATENCY_BUDGET_MS": "100"}
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
    os.environ.update({"SECUREBANK_HOME": str(home), "LATENCY_BUDGET_MS": "100"})
    from securebank.cli import context
    from securebank.cli.endpoint import running_server
    from securebank.dataset import read_transactions
    from securebank.event_source import Checkpoints, EventSourceMapping, MappingConfig, shard_ids
    from securebank.model_artifact import load_model
    from securebank.producer import contract_json, select, send
    from securebank.scorer import handler
    from securebank.scorer.assembly import build_parts
    from securebank.settings import get_settings

    config = get_settings()
    aws = context.clients(config)
    manifest = load_model(home / "endpoint" / "models" / "v1" / "model.tar.gz").manifest
    stream_from = manifest.training_range["test_start"]
    _cli(env, "stream", "bootstrap", "--data", data, "--until", stream_from)
    server = running_server(config)
    scorer_aws = type(aws)(
        region=aws.region,
        endpoint_url=aws.endpoint_url,
        runtime_endpoint_url=server.url,
        local=True,
    )
    handler.configure(build_parts(config, scorer_aws))
    rows = select(read_transactions(Path(data)), None, None).to_pylist()
    split = next(i for i, r in enumerate(rows) if r["event_time"].date().isoformat() >= stream_from)
    live = rows[split:]
    payloads = [(r["card_id"], contract_json(r)) for r in live]
    kinesis, sqs = aws.client("kinesis"), aws.client("sqs")
    _, shards = shard_ids(kinesis, config.names.stream)

    def mapping(window: float) -> EventSourceMapping:
        return EventSourceMapping.for_stream(
            kinesis=kinesis,
            sqs=sqs,
            stream_name=config.names.stream,
            handler=handler.lambda_handler,
            config=MappingConfig(batch_size=100, batching_window_s=window, poll_interval_s=0.01),
            checkpoints=Checkpoints(home / "bench-checkpoints.json"),
        )

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        started_ms = int(time.time() * 1000)
        scorer = mapping(0.0)
        scorer.start()
        count = int(167 * args.seconds)
        sent = send(kinesis, config.names.stream, payloads[:count], rate=167.0)
        deadline = time.monotonic() + 60
        while scorer.records < sent.sent and time.monotonic() < deadline:
            time.sleep(0.1)
        scorer.close()
        latencies = np.array(_decision_latencies(aws, config.names.decisions_table, started_ms))
        fallbacks_before = sink.getvalue().count('"fallback":')
        backlog = payloads[count : count + args.backlog]
        send(kinesis, config.names.stream, backlog, rate=1_000_000.0)
        drain = mapping(0.2)
        t0 = time.monotonic()
        drain.start()
        deadline = time.monotonic() + 600
        while drain.records < len(backlog) and time.monotonic() < deadline:
            time.sleep(0.05)
        seconds = time.monotonic() - t0
        drain.close()
    del fallbacks_before
    emf = [line for line in sink.getvalue().splitlines() if '"_aws"' in line]
    scored = fallbacks = 0.0
    import json

    for line in emf:
        metric = json.loads(line)
        scored += float(np.sum(metric.get("Scored", 0)))
        fallbacks += float(np.sum(metric.get("Fallbacks", 0)))
    return {
        "shards": len(shards),
        "sent_at_167": int(sent.sent),
        "decided_at_167": len(latencies),
        "p50_ms_at_167": round(float(np.percentile(latencies, 50)), 1),
        "p99_ms_at_167": round(float(np.percentile(latencies, 99)), 1),
        "backlog": len(backlog),
        "drain_seconds": round(seconds, 1),
        "max_sustained_tps": round(drain.records / seconds, 1),
        "fallback_share": round(fallbacks / scored, 4) if scored else None,
    }


if __name__ == "__main__":
    threading.excepthook = lambda info: None
    main()
