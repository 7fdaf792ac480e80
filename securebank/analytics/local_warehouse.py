"""The local warehouse: a DuckDB file with the Redshift schema and views, built from the lake.

`load` rebuilds every table from Arrow tables in one transaction (a failed load leaves the
previous content) and creates the views, so it is idempotent; `query` opens the file read-only.
The lake is read through boto3 (no DuckDB extension, nothing downloaded): decisions from the
compacted Parquet plus newer JSON lines (`lake.read_decisions`), transactions from
`raw/transactions/`, labels from `raw/labels/` and, where they exist, the operations prefixes
`labels/` and `cases/` (issue 14) in Parquet or JSON lines.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from securebank.analytics.warehouse import TABLES, VIEWS, WarehouseTable, schema_ddl

TRANSACTIONS_PREFIX = "raw/transactions/"
#: Batch-imported labels (the dataset layout) and the operations' labels (analysts, chargebacks).
LABEL_PREFIXES = {"raw/labels/": "import", "labels/": None}
CASES_PREFIX = "cases/"

#: How a warehouse column is computed when the lake has not it but another: (expression, source).
_DERIVED = {
    ("decisions", "decided_at"): (
        "make_timestamp(CAST(decided_at_ms AS BIGINT) * 1000)",
        "decided_at_ms",
    ),
    # The operations' label events (labels/events/) carry reported_at_ms.
    ("labels", "reported_at"): (
        "make_timestamp(CAST(reported_at_ms AS BIGINT) * 1000)",
        "reported_at_ms",
    ),
}


@dataclass(frozen=True)
class LakeTables:
    """Each warehouse table's sources: one Arrow table per lake object (their types may differ:
    Parquet timestamps with a zone, JSON text without), converted by the warehouse's casts."""

    transactions: list[pa.Table]
    decisions: list[pa.Table]
    labels: list[pa.Table]
    cases: list[pa.Table]


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return sorted(keys)


def read_prefix(s3: Any, bucket: str, prefix: str) -> list[pa.Table]:
    """Every Parquet and JSON-lines object under `prefix`, a table each (empty ones left out)."""
    tables = []
    for key in _keys(s3, bucket, prefix):
        if key.rsplit("/", 1)[-1].startswith(("_", ".")):
            continue
        if key.endswith(".parquet"):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            tables.append(pq.read_table(io.BytesIO(body)))
        elif key.endswith((".jsonl", ".json", ".ndjson")):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            if body.strip():
                tables.append(pajson.read_json(io.BytesIO(body)))
    return [t for t in tables if t.num_rows]


def read_lake(s3: Any, bucket: str) -> LakeTables:
    from securebank.analytics.lake import read_decisions

    labels = []
    for prefix, source in LABEL_PREFIXES.items():
        for found in read_prefix(s3, bucket, prefix):
            if source is not None and "source" not in found.column_names:
                found = found.append_column("source", pa.array([source] * found.num_rows))
            labels.append(found)
    decisions = read_decisions(s3, bucket)
    return LakeTables(
        transactions=read_prefix(s3, bucket, TRANSACTIONS_PREFIX),
        decisions=[decisions] if decisions.num_rows else [],
        labels=labels,
        cases=read_prefix(s3, bucket, CASES_PREFIX),
    )


def _select(t: WarehouseTable, available: set[str]) -> str:
    parts = []
    for column in t.columns:
        if column.name in available and column.type == "TIMESTAMP":
            # Text with or without an offset, or Arrow timestamps: UTC (the session's zone).
            direct = f'CAST(TRY_CAST("{column.name}" AS TIMESTAMPTZ) AS TIMESTAMP)'
        elif column.name in available:
            direct = f'TRY_CAST("{column.name}" AS {column.type})'
        else:
            direct = None
        derived = _DERIVED.get((t.name, column.name))
        if derived is not None and derived[1] in available:
            computed = f"CAST({derived[0]} AS {column.type})"
            direct = computed if direct is None else f"COALESCE({direct}, {computed})"
        parts.append(direct or f"CAST(NULL AS {column.type})")
    return ", ".join(parts)


def load(path: Path, lake: LakeTables) -> dict[str, int]:
    """Rebuild the warehouse file from the lake's tables; rows per table and view."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sources = {
        "transactions": lake.transactions,
        "decisions": lake.decisions,
        "labels": lake.labels,
        "cases": lake.cases,
    }
    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("BEGIN TRANSACTION")
        for statement in schema_ddl("duckdb"):
            con.execute(statement)
        for t in TABLES:
            con.execute(f"DELETE FROM {t.qualified}")
            names = ", ".join(c.name for c in t.columns)
            for part in sources[t.name]:
                con.register("lake_part", part)
                con.execute(
                    f"INSERT INTO {t.qualified} ({names}) "
                    f"SELECT {_select(t, set(part.column_names))} FROM lake_part"
                )
                con.unregister("lake_part")
    except BaseException:
        con.execute("ROLLBACK")
        con.close()
        raise
    con.execute("COMMIT")
    try:
        return counts(con)
    finally:
        con.close()


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    found = {}
    for item in (*TABLES, *VIEWS):
        found[item.qualified] = con.execute(f"SELECT COUNT(*) FROM {item.qualified}").fetchone()[0]
    return found


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse file, read-only (several readers may share it)."""
    if not path.is_file():
        raise FileNotFoundError(f"no warehouse at {path} (run `securebank warehouse load`)")
    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    return con
