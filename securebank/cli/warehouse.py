"""`securebank warehouse load | query | ddl`: the local BI warehouse (Redshift's schema, DuckDB)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from securebank.cli import context
from securebank.cli.analytics import print_table
from securebank.cli.console import console
from securebank.cli.errors import UserError

app = typer.Typer(
    help="The BI warehouse: Redshift's schema and KPI views in a local DuckDB file.",
    no_args_is_help=True,
)

PathOption = Annotated[
    Path | None, typer.Option("--path", help="Warehouse file (default: HOME/warehouse.duckdb).")
]


def _path(path: Path | None) -> Path:
    return path or context.settings().home / "warehouse.duckdb"


@app.command("load")
def load_command(path: PathOption = None) -> None:
    """Rebuild the warehouse from the lake (transactions, decisions, labels, cases); idempotent."""
    from securebank.analytics.local_warehouse import load, read_lake

    config = context.settings()
    s3 = context.clients(config).client("s3")
    target = _path(path)
    lake = read_lake(s3, config.names.lake_bucket)
    counts = load(target, lake)
    for name, rows in counts.items():
        console.print(f"{name:>28}: {rows:,} rows")
    console.print(f"warehouse: {target.resolve()}")


@app.command("query")
def query_command(
    sql: Annotated[
        str | None, typer.Argument(help="SQL over the fraud.* tables and views.")
    ] = None,
    view: Annotated[str | None, typer.Option(help="A KPI view, e.g. daily_kpis.")] = None,
    path: PathOption = None,
) -> None:
    """Run SQL (or show a KPI view) on the local warehouse."""
    import duckdb

    from securebank.analytics.local_warehouse import connect
    from securebank.analytics.warehouse import VIEWS

    if (sql is None) == (view is None):
        raise UserError(
            "give either SQL or --view NAME (views: " + ", ".join(v.name for v in VIEWS) + ")"
        )
    if view is not None:
        found = next((v for v in VIEWS if v.name == view), None)
        if found is None:
            raise UserError(f"no view {view!r}; views: " + ", ".join(v.name for v in VIEWS))
        sql = found.select_all
    try:
        con = connect(_path(path))
    except FileNotFoundError as error:
        raise UserError(str(error)) from error
    try:
        result = con.sql(sql).to_arrow_table()
    except duckdb.Error as error:
        raise UserError(f"SQL error: {str(error).splitlines()[0]}") from error
    finally:
        con.close()
    print_table(result, view or "query")


@app.command("ddl")
def ddl_command(
    dialect: Annotated[str, typer.Option(help="redshift or duckdb.")] = "redshift",
) -> None:
    """Print the schema and views (Redshift: with the load from the lake)."""
    from securebank.analytics.warehouse import redshift_document, schema_ddl

    if dialect not in ("redshift", "duckdb"):
        raise UserError(f"--dialect must be redshift or duckdb, got {dialect!r}")
    text = (
        redshift_document() if dialect == "redshift" else ";\n\n".join(schema_ddl("duckdb")) + ";"
    )
    print(text)
