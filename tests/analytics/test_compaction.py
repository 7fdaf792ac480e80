"""Compaction of the JSON-lines lake into daily Parquet, on the local S3 (moto over HTTP)."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from securebank.analytics.compaction import (
    DECISION_SCHEMA,
    compact,
    manifest_key,
    part_key,
)
from securebank.analytics.lake import read_decisions

ROOT = Path(__file__).resolve().parents[2]
GLUE_SCRIPT = ROOT / "glue" / "compact_lake.py"
COMPACTION_MODULE = ROOT / "securebank" / "analytics" / "compaction.py"
DAY1, DAY2 = "2026-09-01", "2026-09-02"
MS1 = 1_788_220_800_000  # 2026-09-01T00:00:00Z


def _decision(tid: str, decided_at_ms: int, **fields) -> dict:
    record = {
        "transaction_id": tid,
        "card_id": "card-1",
        "merchant_id": "m-1",
        "event_time": "2026-09-01T10:00:00",  # naive, as banks send it
        "amount": "12.50",
        "currency": "EUR",
        "merchant_country": "DE",
        "mcc": "5411",
        "score": 0.2,
        "action": "approve",
        "review_threshold": 0.5,
        "decline_threshold": 0.9,
        "model_version": "1",
        "feature_set_version": "fs-1",
        "scored_by": "endpoint",
        "explain_method": "",
        "reason_codes": "",
        "shard_id": "shardId-000000000000",
        "sequence_number": "1",
        "arrived_at_ms": decided_at_ms - 30,
        "decided_at_ms": decided_at_ms,
        "features": [1.0, None, 3.5],
    }
    record.update(fields)
    return record


def _put(s3, bucket, day, name, lines):
    body = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    s3.put_object(Bucket=bucket, Key=f"decisions/date={day}/{name}.jsonl", Body=body.encode())


def _rows(table):
    return sorted(table.to_pylist(), key=lambda r: r["transaction_id"])


def test_one_parquet_per_day_deduplicated_with_rejects(aws):
    s3, bucket = aws.client("s3"), aws.names.lake_bucket
    _put(s3, bucket, DAY1, "a", [_decision("t1", MS1 + 5), _decision("t2", MS1 + 6, mcc=None)])
    # A retried batch: t1 again, decided later (the first decision stands), plus bad lines.
    _put(
        s3,
        bucket,
        DAY1,
        "b",
        [
            _decision("t1", MS1 + 900, score=0.99, action="decline"),
            "{not json",
            "[1, 2]",
            json.dumps({"score": 0.5}),
            _decision("t3", MS1 + 7, amount="1000000.00"),
        ],
    )
    _put(s3, bucket, DAY2, "a", [_decision("t4", MS1 + 86_400_000)])
    before = read_decisions(s3, bucket)  # all from JSON lines

    results = {r.day: r for r in compact(s3, bucket)}
    assert (results[DAY1].rows, results[DAY1].duplicates, results[DAY1].rejected) == (3, 1, 3)
    assert (results[DAY2].rows, results[DAY2].sources) == (1, 1)
    part = pq.read_table(
        io.BytesIO(s3.get_object(Bucket=bucket, Key=part_key(DAY1))["Body"].read())
    )
    assert part.schema.equals(DECISION_SCHEMA)
    first = {r["transaction_id"]: r for r in part.to_pylist()}
    assert first["t1"]["score"] == 0.2 and first["t1"]["action"] == "approve"
    assert first["t2"]["mcc"] is None and first["t3"]["amount"] == "1000000.00"
    assert first["t1"]["features"] == [1.0, None, 3.5]
    assert first["t1"]["decided_at"].timestamp() * 1000 == MS1 + 5
    rejects = s3.get_object(
        Bucket=bucket, Key=f"compacted/_rejects/decisions/date={DAY1}/part-0.jsonl"
    )["Body"].read()
    reasons = [json.loads(line)["reason"] for line in rejects.splitlines()]
    assert reasons[1:] == ["not a JSON object", "no transaction_id"]
    assert reasons[0].startswith("unreadable")
    # The readers see the same decisions, now from the Parquet.
    assert _rows(read_decisions(s3, bucket)) == _rows(before)


def test_idempotent_compaction_picks_up_late_objects(aws):
    s3, bucket = aws.client("s3"), aws.names.lake_bucket
    _put(s3, bucket, DAY1, "a", [_decision("t1", MS1 + 5)])
    _put(s3, bucket, DAY2, "a", [_decision("t2", MS1 + 86_400_000)])
    compact(s3, bucket)
    etag = s3.head_object(Bucket=bucket, Key=part_key(DAY1))["ETag"]
    again = compact(s3, bucket)
    assert all(r.skipped for r in again)
    assert s3.head_object(Bucket=bucket, Key=part_key(DAY1))["ETag"] == etag

    # A late batch lands on day 1: readers see it before the next compaction...
    _put(s3, bucket, DAY1, "late", [_decision("t9", MS1 + 50), _decision("t1", MS1 + 60)])
    assert {r["transaction_id"] for r in read_decisions(s3, bucket).to_pylist()} == {
        "t1",
        "t2",
        "t9",
    }
    # ...and the next run recompacts that day only.
    third = {r.day: r for r in compact(s3, bucket)}
    assert not third[DAY1].skipped and third[DAY2].skipped
    assert (third[DAY1].rows, third[DAY1].duplicates) == (2, 1)
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key(DAY1))["Body"].read())
    assert sorted(manifest["sources"]) == [
        f"decisions/date={DAY1}/a.jsonl",
        f"decisions/date={DAY1}/late.jsonl",
    ]
    only_day2 = read_decisions(s3, bucket, start=date(2026, 9, 2))
    assert [r["transaction_id"] for r in only_day2.to_pylist()] == ["t2"]


def test_torn_parquet_without_its_manifest_is_not_trusted(aws):
    """A run killed between the Parquet and the manifest: readers fall back to the JSON lines."""
    s3, bucket = aws.client("s3"), aws.names.lake_bucket
    _put(s3, bucket, DAY1, "a", [_decision("t1", MS1 + 5)])
    compact(s3, bucket)
    s3.delete_object(Bucket=bucket, Key=manifest_key(DAY1))
    s3.put_object(Bucket=bucket, Key=part_key(DAY1), Body=b"torn")
    assert [r["transaction_id"] for r in read_decisions(s3, bucket).to_pylist()] == ["t1"]
    (rerun,) = compact(s3, bucket)
    assert not rerun.skipped and rerun.rows == 1


def test_glue_job_script_runs_the_same_code(aws, local_aws, monkeypatch, capsys):
    """glue/compact_lake.py as Glue runs it (its own arguments among Glue's)."""
    import importlib.util

    s3, bucket = aws.client("s3"), aws.names.lake_bucket
    _put(s3, bucket, DAY1, "a", [_decision("t1", MS1 + 5), _decision("t1", MS1 + 9)])
    for key, value in {
        **local_aws.environment(),  # boto3's per-service endpoints, as Glue's boto3 reads them
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    spec = importlib.util.spec_from_file_location("compact_lake", GLUE_SCRIPT)
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    argv = ["--job-bookmark-option", "job-bookmark-disable", "--lake_bucket", bucket]
    assert job.main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["day"] == DAY1 and lines[0]["duplicates"] == 1
    assert lines[-1]["compacted"] == 1 and lines[-1]["rows"] == 1
    assert job.main(argv) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["compacted"] == 0


def test_the_glue_side_parses_as_python_3_9():
    """Glue's Python shell runs 3.9: the job and the module it ships must parse there."""
    import ast

    for path in (GLUE_SCRIPT, COMPACTION_MODULE):
        ast.parse(path.read_text(), feature_version=(3, 9))


def test_a_parquet_the_manifest_does_not_name_is_ignored_and_redone(aws):
    """Two runs finishing in the wrong order: day 1's file is not the one its manifest describes."""
    s3, bucket = aws.client("s3"), aws.names.lake_bucket
    _put(s3, bucket, DAY1, "a", [_decision("t1", MS1 + 5), _decision("t2", MS1 + 6)])
    compact(s3, bucket)
    # The other run's file: a valid Parquet holding only t1.
    stale = pq.read_table(
        io.BytesIO(s3.get_object(Bucket=bucket, Key=part_key(DAY1))["Body"].read())
    ).slice(0, 1)
    sink = io.BytesIO()
    pq.write_table(stale, sink)
    s3.put_object(Bucket=bucket, Key=part_key(DAY1), Body=sink.getvalue())
    assert {r["transaction_id"] for r in read_decisions(s3, bucket).to_pylist()} == {"t1", "t2"}
    (redone,) = compact(s3, bucket)
    assert not redone.skipped and redone.rows == 2
    (again,) = compact(s3, bucket)
    assert again.skipped
