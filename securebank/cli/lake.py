"""`securebank lake compact`: the JSON-lines lake into daily Parquet (what the Glue job runs)."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from securebank.cli import context
from securebank.cli.analytics import _day
from securebank.cli.console import console

app = typer.Typer(
    help="The data lake: compaction into date-partitioned Parquet.", no_args_is_help=True
)


@app.command("compact")
def compact_command(
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD).")] = None,
    force: Annotated[
        bool, typer.Option(help="Recompact days whose sources did not change.")
    ] = False,
) -> None:
    """Compact decisions/ (JSON lines) into compacted/decisions/date=DAY/ (Parquet); idempotent."""
    from securebank.analytics.compaction import compact

    first, last = _day(start, "--from"), _day(end, "--to")
    config = context.settings()
    s3 = context.clients(config).client("s3")
    began = time.perf_counter()
    results = compact(s3, config.names.lake_bucket, first, last, force=force)
    seconds = time.perf_counter() - began
    table = Table(title=f"s3://{config.names.lake_bucket}/compacted/decisions/")
    for column in ("day", "objects", "rows", "duplicates", "rejected", "MB in", "MB out", "state"):
        table.add_column(column, justify="left" if column in ("day", "state") else "right")
    for r in results:
        table.add_row(
            r.day,
            f"{r.sources:,}",
            f"{r.rows:,}",
            f"{r.duplicates:,}",
            f"{r.rejected:,}",
            "-" if r.skipped else f"{r.bytes_in / 1e6:.2f}",
            "-" if r.skipped else f"{r.bytes_out / 1e6:.2f}",
            "unchanged" if r.skipped else "compacted",
        )
    console.print(table)
    done = [r for r in results if not r.skipped]
    rows = sum(r.rows + r.duplicates for r in done)
    rejected = sum(r.rejected for r in results)
    console.print(
        f"{len(done)} of {len(results)} days compacted, {rows:,} decisions read in {seconds:.1f} s"
        + (f"; {rejected:,} lines rejected (compacted/_rejects/)" if rejected else "")
    )
