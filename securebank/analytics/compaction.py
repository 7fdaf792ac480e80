"""Compaction of the JSON-lines lake into date-partitioned Parquet (the Glue job's code).

The scorer writes one small JSON-lines object per batch under `decisions/date=DAY/`. Compaction
turns each day into one Parquet file, `compacted/decisions/date=DAY/part-0.parquet`, with a
fixed schema (the Glue catalog's `decisions_compacted` table), one row per transaction (the first
decided; the lake is written at least once), and beside it `_manifest.json`: every source object
it read (key and ETag), rows, duplicates dropped and lines rejected.

Idempotent: a day whose sources are exactly those of its manifest is skipped; any new or changed
object recompacts the whole day, which rewrites the same file. The manifest is written last, so
it is the commit point, and it names the Parquet it describes by ETag: readers (`read_compacted`)
trust a day's Parquet only when its ETag is the manifest's, only for the sources the manifest
names, and read any newer JSON-lines object as well. A Parquet left by a run that died, or by a
concurrent run that finished in another order, is ignored by readers and recompacted by the next
run. A line that is not a JSON object
with a transaction_id goes to `compacted/_rejects/decisions/date=DAY/part-0.jsonl` with its
reason and source; it costs no other line. The JSON-lines objects stay (the lake's lifecycle
moves them to colder storage); names starting with `_` are ignored by Athena and Glue.

Pure pyarrow and an S3 client passed in: the same code runs in the Glue job
(glue/compact_lake.py) and as `securebank lake compact`.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

SOURCE_PREFIX = "decisions/"
COMPACTED_PREFIX = "compacted/decisions/"
REJECTS_PREFIX = "compacted/_rejects/decisions/"
MANIFEST_NAME = "_manifest.json"
PART_NAME = "part-0.parquet"
MANIFEST_VERSION = 2

#: The compacted decisions: the scorer's record, plus `decided_at` as a timestamp. The partition
#: column `date` is in the path only (Glue and Athena refuse it twice).
DECISION_SCHEMA = pa.schema(
    [
        ("transaction_id", pa.string()),
        ("card_id", pa.string()),
        ("merchant_id", pa.string()),
        ("event_time", pa.string()),
        ("amount", pa.string()),
        ("currency", pa.string()),
        ("merchant_country", pa.string()),
        ("mcc", pa.string()),
        ("score", pa.float64()),
        ("action", pa.string()),
        ("review_threshold", pa.float64()),
        ("decline_threshold", pa.float64()),
        ("model_version", pa.string()),
        ("feature_set_version", pa.string()),
        ("scored_by", pa.string()),
        ("explain_method", pa.string()),
        ("reason_codes", pa.string()),
        ("shard_id", pa.string()),
        ("sequence_number", pa.string()),
        ("arrived_at_ms", pa.int64()),
        ("decided_at_ms", pa.int64()),
        ("features", pa.list_(pa.float64())),
        ("decided_at", pa.timestamp("ms", tz="UTC")),
    ]
)
JSON_SCHEMA = pa.schema([f for f in DECISION_SCHEMA if f.name != "decided_at"])


@dataclass
class DayResult:
    day: str
    sources: int
    rows: int = 0
    duplicates: int = 0
    rejected: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    skipped: bool = False
    seconds: float = 0.0


def _day_of(key: str, prefix: str) -> str | None:
    part = key[len(prefix) :].split("/", 1)[0]
    if not part.startswith("date="):
        return None
    day = part[5:]
    try:
        date.fromisoformat(day)
    except ValueError:
        return None
    return day


def _list(s3: Any, bucket: str, prefix: str) -> Iterable[dict[str, Any]]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def source_objects(s3: Any, bucket: str) -> dict[str, dict[str, str]]:
    """Day → {key: ETag} of the JSON-lines objects under decisions/."""
    days: dict[str, dict[str, str]] = {}
    for item in _list(s3, bucket, SOURCE_PREFIX):
        day = _day_of(item["Key"], SOURCE_PREFIX)
        if day is not None and item["Key"].endswith(".jsonl"):
            days.setdefault(day, {})[item["Key"]] = item["ETag"].strip('"')
    return days


def manifest_key(day: str) -> str:
    return f"{COMPACTED_PREFIX}date={day}/{MANIFEST_NAME}"


def part_key(day: str) -> str:
    return f"{COMPACTED_PREFIX}date={day}/{PART_NAME}"


def read_manifest(s3: Any, bucket: str, day: str) -> dict[str, Any] | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=manifest_key(day))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    document = json.loads(body)
    return document if document.get("version") == MANIFEST_VERSION else None


def parse_lines(body: bytes, source: str) -> tuple[pa.Table, list[dict[str, Any]]]:
    """One object's decisions, and the lines that are not decisions (with the reason).

    The whole object is read by Arrow's JSON reader (fast); only when that fails is it read
    line by line, so one bad line costs no other.
    """
    options = pajson.ParseOptions(explicit_schema=JSON_SCHEMA, unexpected_field_behavior="ignore")
    try:
        table = pajson.read_json(io.BytesIO(body), parse_options=options)
        if table.num_rows == 0 or pc.all(pc.is_valid(table["transaction_id"])).as_py():
            return table, []
    except pa.ArrowInvalid:
        pass
    good: list[bytes] = []
    rejects: list[dict[str, Any]] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        reason = None
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                reason = "not a JSON object"
            elif not isinstance(record.get("transaction_id"), str):
                reason = "no transaction_id"
            else:
                pajson.read_json(io.BytesIO(line), parse_options=options)
        except (ValueError, pa.ArrowInvalid) as error:
            reason = reason or f"unreadable: {str(error).splitlines()[0][:200]}"
        if reason is None:
            good.append(line)
        else:
            text = line.decode("utf-8", errors="replace")[:2000]
            rejects.append({"source": source, "line": number, "reason": reason, "raw": text})
    if not good:
        return JSON_SCHEMA.empty_table(), rejects
    return pajson.read_json(io.BytesIO(b"\n".join(good)), parse_options=options), rejects


def first_per_transaction(table: pa.Table) -> pa.Table:
    """One row per transaction_id: the first decided (ties: the lake key order, then input)."""
    if table.num_rows == 0:
        return table
    table = table.append_column("_row", pa.array(range(table.num_rows), pa.int64()))
    table = table.sort_by(
        [("transaction_id", "ascending"), ("decided_at_ms", "ascending"), ("_row", "ascending")]
    )
    ids = table["transaction_id"]
    keep = pc.not_equal(ids.slice(1), ids.slice(0, table.num_rows - 1))
    mask = pa.concat_arrays([pa.array([True]), keep.combine_chunks().fill_null(True)])
    table = table.filter(mask)
    table = table.sort_by([("decided_at_ms", "ascending"), ("transaction_id", "ascending")])
    return table.select([name for name in table.column_names if name != "_row"])


def _with_timestamp(table: pa.Table) -> pa.Table:
    decided = pc.cast(table["decided_at_ms"], pa.timestamp("ms", tz="UTC"))
    return table.append_column(DECISION_SCHEMA.field("decided_at"), decided)


def compact_day(
    s3: Any, bucket: str, day: str, sources: dict[str, str], workers: int = 16
) -> DayResult:
    """Rewrite one day's Parquet from all its sources; the manifest last.

    Objects are fetched and parsed by `workers` threads (S3 latency, not CPU, bounds a serial
    read; Arrow's parser releases the GIL); the result keeps the sources' key order.
    """
    started = time.perf_counter()
    result = DayResult(day=day, sources=len(sources))

    def load(key: str) -> tuple[int, pa.Table, list[dict[str, Any]]]:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        table, bad = parse_lines(body, key)
        return len(body), table, bad

    tables, rejects = [], []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for size, table, bad in pool.map(load, sorted(sources)):
            result.bytes_in += size
            tables.append(table)
            rejects += bad
    merged = pa.concat_tables(tables) if tables else JSON_SCHEMA.empty_table()
    unique = first_per_transaction(merged)
    result.duplicates = merged.num_rows - unique.num_rows
    result.rows = unique.num_rows
    result.rejected = len(rejects)
    out = io.BytesIO()
    pq.write_table(
        _with_timestamp(unique).cast(DECISION_SCHEMA),
        out,
        compression="zstd",
        row_group_size=1 << 17,
    )
    result.bytes_out = out.tell()
    written = s3.put_object(Bucket=bucket, Key=part_key(day), Body=out.getvalue())
    reject_key = f"{REJECTS_PREFIX}date={day}/part-0.jsonl"
    if rejects:
        body = "".join(json.dumps(r) + "\n" for r in rejects).encode()
        s3.put_object(Bucket=bucket, Key=reject_key, Body=body)
    else:
        s3.delete_object(Bucket=bucket, Key=reject_key)
    result.seconds = time.perf_counter() - started
    manifest = {
        "version": MANIFEST_VERSION,
        "day": day,
        "sources": sources,
        "part_etag": written["ETag"].strip('"'),
        "rows": result.rows,
        "duplicates": result.duplicates,
        "rejected": result.rejected,
    }
    s3.put_object(Bucket=bucket, Key=manifest_key(day), Body=json.dumps(manifest).encode())
    return result


def compact(
    s3: Any,
    bucket: str,
    start: date | None = None,
    end: date | None = None,
    force: bool = False,
    on_day: Callable[[DayResult], None] | None = None,
    workers: int = 16,
) -> list[DayResult]:
    """Compact every day in [start, end] whose sources changed since its manifest (all: `force`)."""
    results = []
    for day, sources in sorted(source_objects(s3, bucket).items()):
        if (start and date.fromisoformat(day) < start) or (end and date.fromisoformat(day) > end):
            continue
        manifest = read_manifest(s3, bucket, day)
        if (
            not force
            and manifest is not None
            and manifest["sources"] == sources
            and _part_etag(s3, bucket, day) == manifest["part_etag"]
        ):
            result = DayResult(day=day, sources=len(sources), rows=manifest["rows"], skipped=True)
        else:
            result = compact_day(s3, bucket, day, sources, workers)
        results.append(result)
        if on_day is not None:
            on_day(result)
    return results


def _part_etag(s3: Any, bucket: str, day: str) -> str | None:
    try:
        return s3.head_object(Bucket=bucket, Key=part_key(day))["ETag"].strip('"')
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def compacted_days(s3: Any, bucket: str) -> set[str]:
    """Days that have a manifest under compacted/decisions/."""
    return {
        day
        for item in _list(s3, bucket, COMPACTED_PREFIX)
        if item["Key"].endswith(MANIFEST_NAME)
        and (day := _day_of(item["Key"], COMPACTED_PREFIX)) is not None
    }


def read_compacted(
    s3: Any, bucket: str, day: str, sources: dict[str, str]
) -> tuple[pa.Table | None, set[str]]:
    """A day's compacted decisions and the source keys they cover (None: not compacted)."""
    manifest = read_manifest(s3, bucket, day)
    if manifest is None:
        return None, set()
    try:
        part = s3.get_object(Bucket=bucket, Key=part_key(day))
    except s3.exceptions.NoSuchKey:
        return None, set()
    if part["ETag"].strip('"') != manifest["part_etag"]:
        return None, set()  # another run's file: the manifest does not describe it
    body = part["Body"].read()
    covered = {k for k, etag in manifest["sources"].items() if sources.get(k) == etag}
    return pq.read_table(io.BytesIO(body)), covered


def as_dict(result: DayResult) -> dict[str, Any]:
    return asdict(result)
