"""The warehouse: Redshift's schema and KPI views, built locally in DuckDB from the lake."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from securebank.analytics.compaction import compact
from securebank.analytics.local_warehouse import connect, load, read_lake
from securebank.analytics.warehouse import (
    TABLES,
    VIEWS,
    create_table,
    create_view,
    redshift_document,
)
from securebank.contract import LABEL_SCHEMA, TRANSACTION_SCHEMA

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sql" / "redshift.sql"
MS = 1_788_220_800_000  # 2026-09-01T00:00:00Z
DAY_MS = 86_400_000


def test_the_redshift_file_is_current():
    assert DOCS.read_text() == redshift_document(), "regenerate docs/sql/redshift.sql"


#: What may differ between the two renderings, and nothing else.
_DIALECT_ONLY = [
    (r"\nDISTKEY\(\w+\) SORTKEY\(\w+\)", ""),
    (r"\nWITH NO SCHEMA BINDING", ""),
    (r"DATEDIFF\(second,", "DATEDIFF('second',"),
]
#: DuckDB functions Redshift does not have; none may reach the Redshift rendering.
_DUCKDB_ONLY = ("quantile", "epoch", "make_timestamp", "try_cast", "list_", "strftime", "::")
_REDSHIFT_TYPES = re.compile(
    r"^(VARCHAR\(\d{1,5}\)|BIGINT|DOUBLE PRECISION|DECIMAL\((\d|[12]\d|3[0-8]),\d+\)"
    r"|BOOLEAN|TIMESTAMP)$"
)


def test_the_two_dialects_differ_only_where_they_must():
    for t in TABLES:
        for column in t.columns:
            assert _REDSHIFT_TYPES.match(column.type), (t.name, column)
        redshift, duckdb = create_table(t, "redshift"), create_table(t, "duckdb")
        assert "DISTKEY" in redshift and "DISTKEY" not in duckdb
    for v in VIEWS:
        redshift, duckdb = create_view(v, "redshift"), create_view(v, "duckdb")
        assert "{" not in redshift and "{" not in duckdb
        for text in (redshift, duckdb):
            assert "PERCENTILE_CONT" in text or "DATEDIFF" in text or "p50" not in v.sql
        normalized = redshift
        for pattern, replacement in _DIALECT_ONLY:
            normalized = re.sub(pattern, replacement, normalized)
        assert normalized == duckdb, v.name
        assert not [f for f in _DUCKDB_ONLY if f in redshift.lower()], v.name


def test_every_redshift_statement_parses_as_redshift_sql():
    """No Redshift here: sqlglot's Redshift parser reads each statement of the document."""
    import sqlglot
    from sqlglot.errors import ErrorLevel

    statements = [s.strip() for s in redshift_document().split(";")]
    parsed = 0
    for statement in statements:
        body = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
        if body.strip():
            sqlglot.parse_one(body, read="redshift", error_level=ErrorLevel.RAISE)
            parsed += 1
    assert parsed == 1 + len(TABLES) + len(VIEWS) + 11  # schema, tables, views, the load
    with pytest.raises(sqlglot.errors.ParseError):
        sqlglot.parse_one("SELECT a FROM WHERE (", read="redshift", error_level=ErrorLevel.RAISE)


def _put_parquet(s3, bucket, key, table):
    sink = io.BytesIO()
    pq.write_table(table, sink)
    s3.put_object(Bucket=bucket, Key=key, Body=sink.getvalue())


def _put_lines(s3, bucket, key, records):
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def _decision(tid, decided_at_ms, action="approve", amount="10.00", scored_by="endpoint"):
    return {
        "transaction_id": tid,
        "card_id": "card-1",
        "merchant_id": "m-1",
        "event_time": "2026-09-01T09:59:59",
        "amount": amount,
        "currency": "EUR",
        "merchant_country": "DE",
        "mcc": "5411",
        "score": {"approve": 0.1, "review": 0.6, "decline": 0.95}[action],
        "action": action,
        "review_threshold": 0.5,
        "decline_threshold": 0.9,
        "model_version": "2",
        "feature_set_version": "fs-1",
        "scored_by": scored_by,
        "explain_method": "",
        "reason_codes": "",
        "shard_id": "s-0",
        "sequence_number": "1",
        "arrived_at_ms": decided_at_ms - 40,
        "decided_at_ms": decided_at_ms,
        "features": [0.5],
    }


@pytest.fixture
def lake(aws):
    s3, bucket = aws.client("s3"), aws.names.lake_bucket
    transactions = pa.table(
        {
            "transaction_id": ["t1", "t2", "t3", "t4"],
            "event_time": [datetime(2026, 9, 1, 9, tzinfo=UTC)] * 4,
            "card_id": ["card-1"] * 4,
            "customer_id": ["cu-1"] * 4,
            "merchant_id": ["m-1"] * 4,
            "mcc": ["5411"] * 4,
            "amount": [Decimal("10.00"), Decimal("250.50"), Decimal("99.99"), Decimal("5.00")],
            "currency": ["EUR"] * 4,
            "merchant_country": ["DE"] * 4,
            "merchant_lat": [None] * 4,
            "merchant_lon": [None] * 4,
            "channel": ["ecom"] * 4,
            "device_id": [None] * 4,
            "status": ["approved"] * 4,
        }
    ).cast(TRANSACTION_SCHEMA)
    _put_parquet(s3, bucket, "raw/transactions/date=2026-09-01/part-0.parquet", transactions)
    # Day 1: t1 approved, t2 declined (fraud), t3 reviewed (legit after a chargeback says fraud).
    _put_lines(
        s3,
        bucket,
        "decisions/date=2026-09-01/a.jsonl",
        [
            _decision("t1", MS + 1000),
            _decision("t2", MS + 2000, "decline", "250.50"),
            _decision("t3", MS + 3000, "review", "99.99", scored_by="fallback"),
        ],
    )
    compact(s3, bucket)
    # Day 2, not compacted yet: t4 approved, but fraud.
    _put_lines(s3, bucket, "decisions/date=2026-09-02/a.jsonl", [_decision("t4", MS + DAY_MS)])
    labels = pa.table(
        {
            "transaction_id": ["t2", "t1"],
            "is_fraud": [True, False],
            "reported_at": [datetime(2026, 9, 3, tzinfo=UTC)] * 2,
            "fraud_scenario": ["card_testing", None],
        }
    ).cast(LABEL_SCHEMA)
    _put_parquet(s3, bucket, "raw/labels/labels.parquet", labels)
    _put_lines(
        s3,
        bucket,
        "labels/date=2026-09-04/part-0.jsonl",
        [
            {
                "transaction_id": "t3",
                "is_fraud": False,
                "reported_at": "2026-09-02T10:00:00+00:00",
                "source": "analyst",
            },
            {
                "transaction_id": "t3",
                "is_fraud": True,
                "reported_at": "2026-09-20T08:00:00Z",
                "source": "chargeback",
            },
            {
                "transaction_id": "t4",
                "is_fraud": True,
                "reported_at_ms": 1_790_064_000_000,  # 2026-09-22T08:00:00Z, as labels/events/
                "source": "chargeback",
                "by": "bank-feed",
            },
        ],
    )
    _put_lines(
        s3,
        bucket,
        "cases/part-0.jsonl",
        [
            {
                "case_id": "c2",
                "transaction_id": "t2",
                "status": "resolved",
                "action": "decline",
                "score": 0.95,
                "outcome": "fraud",
                "created_at": "2026-09-01T00:00:02+00:00",
                "resolved_at": "2026-09-01T02:00:02+00:00",
            },
            {
                "case_id": "c3",
                "transaction_id": "t3",
                "status": "assigned",
                "action": "review",
                "score": 0.6,
                "assignee": "ana",
                "created_at": "2026-09-01T00:00:03+00:00",
            },
        ],
    )
    return s3, bucket


def test_warehouse_kpis_from_the_lake_by_hand(lake, tmp_path):
    s3, bucket = lake
    path = tmp_path / "warehouse.duckdb"
    counts = load(path, read_lake(s3, bucket))
    assert counts["fraud.transactions"] == 4 and counts["fraud.decisions"] == 4
    assert counts["fraud.labels"] == 5 and counts["fraud.cases"] == 2
    con = connect(path)
    day1, day2 = (
        con.sql("SELECT * FROM fraud.daily_kpis ORDER BY decision_date")
        .to_arrow_table()
        .to_pylist()
    )
    assert str(day1["decision_date"]) == "2026-09-01"
    assert (day1["decisions"], day1["approves"], day1["reviews"], day1["declines"]) == (3, 1, 1, 1)
    assert day1["alert_rate"] == pytest.approx(2 / 3, abs=1e-5)
    assert day1["fallback_rate"] == pytest.approx(1 / 3, abs=1e-5)
    assert day1["p50_latency_ms"] == 40.0
    # Latest label wins: t3's chargeback (fraud) overrides the analyst's legit.
    assert (day1["labelled"], day1["frauds"], day1["frauds_alerted"]) == (3, 2, 2)
    assert day1["precision_labelled"] == 1.0 and day1["recall"] == 1.0
    assert day1["fraud_amount"] == Decimal("350.49")
    assert day1["fraud_amount_declined"] == Decimal("250.50")
    assert (day2["decisions"], day2["frauds"], day2["recall"]) == (1, 1, 0.0)
    (cases,) = con.sql("SELECT * FROM fraud.daily_cases").to_arrow_table().to_pylist()
    assert (cases["cases"], cases["resolved"], cases["unresolved"]) == (2, 1, 1)
    assert cases["mean_hours_to_resolve"] == 2.0 and cases["case_precision"] == 1.0
    stamps = con.execute(
        "SELECT transaction_id, reported_at FROM fraud.labels "
        "WHERE source = 'chargeback' ORDER BY 1"
    ).fetchall()
    assert [s[1].isoformat() for s in stamps] == ["2026-09-20T08:00:00", "2026-09-22T08:00:00"]
    con.close()
    # Idempotent: a second load gives the same rows, not twice as many.
    assert load(path, read_lake(s3, bucket)) == counts


def test_a_failed_load_keeps_the_previous_warehouse(lake, tmp_path):
    """A load that fails half way (here: the last cases object is unreadable) changes nothing."""
    s3, bucket = lake
    path = tmp_path / "warehouse.duckdb"
    before = load(path, read_lake(s3, bucket))

    class Unreadable:
        num_rows = 1
        column_names = ("case_id",)

    lake_tables = read_lake(s3, bucket)
    broken = replace(lake_tables, cases=[*lake_tables.cases, Unreadable()])
    with pytest.raises(duckdb.Error):
        load(path, broken)
    con = connect(path)
    for table, rows in before.items():
        assert con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == rows, table
    con.close()
