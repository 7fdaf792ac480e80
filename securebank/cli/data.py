"""`securebank data ...`: generate a simulated history, upload a dataset to the lake."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from securebank.cli import context
from securebank.cli.console import console, progress
from securebank.cli.errors import UserError
from securebank.dataset import labels_path, transactions_path
from securebank.resources import ResourceNames
from securebank.s3io import delete_prefix, upload_dir
from securebank.simulator.generate import SimulationConfig, generate

app = typer.Typer(
    help="Transaction datasets: generate, import, upload to the lake.", no_args_is_help=True
)

RAW_PREFIX = "raw"


def _parse_date(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as error:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from error


@app.command("generate")
def generate_command(
    transactions: Annotated[int, typer.Option(min=1000, help="How many transactions.")] = 200_000,
    seed: Annotated[int, typer.Option(min=0, help="Random seed; same seed, same data.")] = 7,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path(".securebank/data/simulated"),
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD, UTC).")] = "2026-07-01",
    days: Annotated[int, typer.Option(min=14, max=730, help="Length of the history.")] = 90,
    fraud_rate: Annotated[
        float, typer.Option(min=0.0001, max=0.2, help="Share of fraudulent transactions.")
    ] = 0.007,
) -> None:
    """Write a simulated, labelled transaction history as Parquet partitioned by day."""
    config = SimulationConfig(
        transactions=transactions,
        seed=seed,
        start=_parse_date(start),
        days=days,
        fraud_rate=fraud_rate,
    )
    try:
        config.validate()
    except ValueError as error:
        raise UserError(str(error)) from error
    with progress() as bar:
        task = bar.add_task("simulating", total=None)

        def on_day(done: int, total: int) -> None:
            bar.update(task, description="writing days", completed=done, total=total)

        summary = generate(config, out, on_day)
    table = Table(title=f"Simulated dataset in {out}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in asdict(summary).items():
        if key == "by_scenario":
            for name, count in value.items():
                table.add_row(f"  fraud: {name}", f"{count:,}")
        elif isinstance(value, float):
            table.add_row(key, f"{value:.4%}")
        elif isinstance(value, int):
            table.add_row(key, f"{value:,}")
        else:
            table.add_row(key, str(value))
    console.print(table)


def upload_dataset(s3: Any, data: Path, names: ResourceNames) -> str:
    """Upload a dataset folder to `s3://LAKE/raw/` (what the pipeline reads by default)."""
    if not transactions_path(data).is_dir():
        raise UserError(f"no transactions under {transactions_path(data)}")
    base = f"s3://{names.lake_bucket}/{RAW_PREFIX}"
    delete_prefix(s3, f"{base}/")
    upload_dir(s3, transactions_path(data), f"{base}/transactions")
    if labels_path(data).is_dir():
        upload_dir(s3, labels_path(data), f"{base}/labels")
    return base


@app.command("upload")
def upload_command(
    data: Annotated[Path, typer.Option(help="Dataset folder.")] = Path(
        ".securebank/data/simulated"
    ),
) -> None:
    """Upload a dataset to the lake (`s3://PREFIX-ENV-lake/raw/`), replacing what was there."""
    config = context.settings()
    aws = context.clients(config)
    uri = upload_dataset(aws.client("s3"), data, config.names)
    console.print(f"uploaded {data} to {uri}/")


@app.command("import")
def import_command(
    transactions: Annotated[Path, typer.Option(help="CSV or Parquet file of transactions.")],
    mapping: Annotated[Path, typer.Option("--map", help="Column mapping (JSON or YAML).")],
    out: Annotated[Path, typer.Option(help="Output dataset folder.")],
    labels: Annotated[Path | None, typer.Option(help="CSV or Parquet file of labels.")] = None,
) -> None:
    """Import a bank's own history: validate every row, write the dataset layout, keep rejects."""
    from securebank.importer import ColumnMapping, MappingError, import_dataset

    for path in (transactions, mapping, labels):
        if path is not None and not path.exists():
            raise UserError(f"{path} does not exist")
    try:
        column_mapping = ColumnMapping.load(mapping)
        with progress() as bar:
            task = bar.add_task("validating rows", total=None)
            summary = import_dataset(
                transactions,
                labels,
                column_mapping,
                out,
                on_progress=lambda row: bar.update(task, completed=row),
            )
    except (MappingError, ValueError) as error:
        raise UserError(str(error).splitlines()[0]) from error
    table = Table(title=f"Imported into {out}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in ("rows", "accepted", "rejected", "labels", "labels_rejected"):
        table.add_row(key, f"{getattr(summary, key):,}")
    console.print(table)
    if summary.rejects_file is not None:
        console.print(f"rejected rows and their reasons: {summary.rejects_file}")
