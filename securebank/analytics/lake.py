"""Reading the data lake: decisions (JSON lines) and labels (Parquet) from S3 into Arrow tables.

Decisions are delivered at least once (docs/stream.md); readers keep one row per
transaction_id, the first decided.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq

DECISIONS_PREFIX = "decisions/"
LABELS_PREFIX = "raw/labels/"


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return sorted(keys)


def _in_range(key: str, start: date | None, end: date | None) -> bool:
    marker = key.split("date=", 1)[-1][:10]
    try:
        day = date.fromisoformat(marker)
    except ValueError:
        return True
    return (start is None or day >= start) and (end is None or day <= end)


def read_decisions(
    s3: Any, bucket: str, start: date | None = None, end: date | None = None
) -> pa.Table:
    """Decisions whose decision date is in [start, end], one row per transaction."""
    tables = []
    for key in _keys(s3, bucket, DECISIONS_PREFIX):
        if _in_range(key, start, end):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            if body:
                tables.append(pajson.read_json(io.BytesIO(body)))
    if not tables:
        return pa.table({"transaction_id": pa.array([], pa.string())})
    table = pa.concat_tables(tables, promote_options="permissive")
    table = table.sort_by([("decided_at_ms", "ascending"), ("transaction_id", "ascending")])
    ids = table["transaction_id"].to_numpy(zero_copy_only=False)
    _, first = np.unique(ids, return_index=True)
    return table.take(pa.array(sorted(first)))


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
