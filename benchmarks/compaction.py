"""Benchmark: compaction of the JSON-lines lake into daily Parquet (`securebank lake compact`).

    python benchmarks/compaction.py [--decisions N] [--batch B] [--days D] [--workers W]

Writes N decisions as the scorer does (one JSON-lines object per batch of B, 1 % of them sent
twice as a retried batch would) to a local S3 (moto's server on 127.0.0.1, its own process),
then compacts them with W fetching threads.
Figures: end to end on the local S3 (list, get, parse, deduplicate, write Parquet and manifest),
the same work on bytes already in memory (the CPU part alone), the idempotent rerun, and the size
ratio. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import emit

DAY_MS = 86_400_000
START_MS = 1_788_220_800_000  # 2026-09-01T00:00:00Z


def _decision(rng: random.Random, i: int, decided_at_ms: int) -> dict:
    score = rng.random() ** 4
    action = "decline" if score > 0.9 else "review" if score > 0.5 else "approve"
    return {
        "transaction_id": f"tx-{i:09d}",
        "card_id": f"card-{rng.randrange(50_000):06d}",
        "merchant_id": f"m-{rng.randrange(5_000):05d}",
        "event_time": "2026-09-01T10:00:00",
        "amount": f"{rng.lognormvariate(3, 1):.2f}",
        "currency": "EUR",
        "merchant_country": rng.choice(["DE", "FR", "US", "GB"]),
        "mcc": rng.choice(["5411", "5812", "5999", "4829"]),
        "score": score,
        "action": action,
        "review_threshold": 0.5,
        "decline_threshold": 0.9,
        "model_version": "3",
        "feature_set_version": "fs-abc",
        "scored_by": "endpoint",
        "explain_method": "treeshap" if action != "approve" else "",
        "reason_codes": (
            json.dumps([{"feature": "amount_z", "contribution": 1.2}])
            if action != "approve"
            else ""
        ),
        "shard_id": f"shardId-00000000000{i % 2}",
        "sequence_number": str(10_000_000 + i),
        "arrived_at_ms": decided_at_ms - 35,
        "decided_at_ms": decided_at_ms,
        "features": [round(rng.gauss(0, 1), 4) for _ in range(24)],
    }


def _objects(decisions: int, batch: int, days: int, seed: int = 7) -> dict[str, bytes]:
    rng = random.Random(seed)
    objects: dict[str, bytes] = {}
    per_day = max(decisions // days, 1)
    for start in range(0, decisions, batch):
        rows = range(start, min(start + batch, decisions))
        day = min(start // per_day, days - 1)
        at = START_MS + day * DAY_MS + (start % per_day) * 50
        body = "".join(json.dumps(_decision(rng, i, at + (i - start))) + "\n" for i in rows)
        day_text = time.strftime("%Y-%m-%d", time.gmtime((START_MS + day * DAY_MS) / 1000))
        key = f"decisions/date={day_text}/shard-{start}.jsonl"
        objects[key] = body.encode()
        if rng.random() < 0.01:  # a retried batch, written again under another key
            objects[key.replace(".jsonl", "-retry.jsonl")] = body.encode()
    return objects


def _cpu_only(objects: dict[str, bytes]) -> tuple[float, int, int]:
    """Parse, deduplicate and write Parquet per day from memory: the compaction's CPU part."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from securebank.analytics.compaction import (
        DECISION_SCHEMA,
        _with_timestamp,
        first_per_transaction,
        parse_lines,
    )

    began = time.perf_counter()
    rows = out_bytes = 0
    days: dict[str, list[str]] = {}
    for key in sorted(objects):
        days.setdefault(key.split("/")[1], []).append(key)
    for keys in days.values():
        table = first_per_transaction(
            pa.concat_tables([parse_lines(objects[k], k)[0] for k in keys])
        )
        sink = io.BytesIO()
        pq.write_table(_with_timestamp(table).cast(DECISION_SCHEMA), sink, compression="zstd")
        rows += table.num_rows
        out_bytes += sink.tell()
    return time.perf_counter() - began, rows, out_bytes


def _wait_for(port: int, seconds: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/config", timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--workers", type=int, default=16, help="Fetching threads.")
    args = parser.parse_args()

    import subprocess

    import boto3

    from securebank.analytics.compaction import compact
    from securebank.local import background

    objects = _objects(args.decisions, args.batch, args.days)
    bytes_in = sum(len(b) for b in objects.values())
    port = background.free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port)
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        s3.create_bucket(Bucket="lake")
        for key, body in objects.items():
            s3.put_object(Bucket="lake", Key=key, Body=body)
        began = time.perf_counter()
        results = compact(s3, "lake", workers=args.workers)
        seconds = time.perf_counter() - began
        began = time.perf_counter()
        rerun = compact(s3, "lake")
        rerun_seconds = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(10)
    assert all(r.skipped for r in rerun)
    cpu_seconds, cpu_rows, cpu_out = _cpu_only(objects)
    read = sum(r.rows + r.duplicates for r in results)
    emit(
        {
            "decisions_written": read,
            "objects": len(objects),
            "days": len(results),
            "rows_after_dedup": sum(r.rows for r in results),
            "duplicates_dropped": sum(r.duplicates for r in results),
            "mb_in": round(bytes_in / 1e6, 1),
            "mb_out": round(sum(r.bytes_out for r in results) / 1e6, 2),
            "seconds_local_s3": round(seconds, 2),
            "rows_per_s_local_s3": round(read / seconds),
            "mb_per_s_local_s3": round(bytes_in / 1e6 / seconds, 1),
            "objects_per_s_local_s3": round(len(objects) / seconds),
            "seconds_cpu_only": round(cpu_seconds, 2),
            "rows_per_s_cpu_only": round(read / cpu_seconds),
            "rerun_seconds_unchanged": round(rerun_seconds, 2),
            "workers": args.workers,
            "cpu_rows_check": cpu_rows,
            "cpu_mb_out": round(cpu_out / 1e6, 2),
        }
    )


if __name__ == "__main__":
    main()
