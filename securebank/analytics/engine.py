"""Local SQL over the lake with DuckDB: Arrow tables registered as `decisions` and `labels`.

No DuckDB extension is loaded (nothing is downloaded): the lake is read through boto3 and Arrow.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa


def connect(decisions: pa.Table, labels: pa.Table) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("decisions", decisions)
    con.register("labels", labels)
    return con


def run(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    return con.sql(sql).to_arrow_table()
