"""Reading the data lake: decisions (compacted Parquet and JSON lines) and labels (Parquet).

Decisions are delivered at least once (docs/stream.md); readers keep one row per
transaction_id, the first decided.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from securebank.analytics.compaction import (
    JSON_SCHEMA,
    compacted_days,
    first_per_transaction,
    parse_lines,
    read_compacted,
    source_objects,
)

LABELS_PREFIX = "raw/labels/"


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return sorted(keys)


def read_decisions(
    s3: Any, bucket: str, start: date | None = None, end: date | None = None
) -> pa.Table:
    """Decisions whose decision date is in [start, end], one row per transaction.

    Compacted days are read from their Parquet (securebank/analytics/compaction.py); JSON-lines
    objects that arrived after a day's compaction, and days not yet compacted, from the JSON lines.
    """
    sources = source_objects(s3, bucket)
    tables = []
    for day in sorted(set(sources) | compacted_days(s3, bucket)):
        when = date.fromisoformat(day)
        if (start is not None and when < start) or (end is not None and when > end):
            continue
        keys = sources.get(day, {})
        compacted, covered = read_compacted(s3, bucket, day, keys)
        if compacted is not None:
            tables.append(compacted.select(JSON_SCHEMA.names))
        for key in sorted(set(keys) - covered):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            tables.append(parse_lines(body, key)[0])
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return pa.table({"transaction_id": pa.array([], pa.string())})
    table = first_per_transaction(pa.concat_tables(tables))
    return table


def read_labels(s3: Any, bucket: str) -> pa.Table:
    tables = [
        pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
        for key in _keys(s3, bucket, LABELS_PREFIX)
        if key.endswith(".parquet")
    ]
    if not tables:
        return pa.table(
            {"transaction_id": pa.array([], pa.string()), "is_fraud": pa.array([], pa.bool_())}
        )
    labels = pa.concat_tables(tables)
    return labels.filter(pc.equal(labels["is_fraud"], True)).select(["transaction_id", "is_fraud"])
