"""`securebank data ...`: generate, import a bank's history, slice by time, upload to the lake."""

from __future__ import annotations

import codecs
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
import typer
from rich.table import Table

from securebank.cli import context
from securebank.cli.console import console, progress
from securebank.cli.errors import UserError
from securebank.data.dataset import DatasetError
from securebank.data.simulator.generate import SimulationConfig, generate
from securebank.data.upload import upload_dataset

app = typer.Typer(
    help="Transaction datasets: generate, import, slice, upload to the lake.",
    no_args_is_help=True,
)


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


@app.command("upload")
def upload_command(
    data: Annotated[Path, typer.Option(help="Dataset folder.")] = Path(
        ".securebank/data/simulated"
    ),
) -> None:
    """Upload a dataset to the lake (`s3://PREFIX-ENV-lake/raw/`), replacing what was there."""
    config = context.settings()
    aws = context.clients(config)
    try:
        uri = upload_dataset(aws.client("s3"), data, config.names)
    except DatasetError as error:
        raise UserError(str(error)) from error
    console.print(f"uploaded {data} to {uri}/")


def parse_instant(text: str) -> datetime:
    """A date (its midnight, UTC) or an ISO 8601 time (naive means UTC) as an aware datetime."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"{text!r} is not a date or an ISO 8601 time") from error
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _zone(name: str | None) -> tzinfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise typer.BadParameter(f"{name!r} is not a time zone (e.g. UTC, Europe/Paris)") from error


@app.command("import")
def import_command(
    transactions: Annotated[Path, typer.Option(help="CSV or Parquet file of transactions.")],
    mapping: Annotated[Path, typer.Option("--map", help="Column mapping (JSON or YAML).")],
    out: Annotated[Path, typer.Option(help="Output dataset folder.")],
    labels: Annotated[Path | None, typer.Option(help="CSV or Parquet file of labels.")] = None,
    amounts: Annotated[
        str,
        typer.Option(
            help="round: round binary float text (85.64999999999999) to the currency's "
            "exponent; round-all: round any extra decimals; reject: refuse both."
        ),
    ] = "round",
    timezone: Annotated[
        str | None,
        typer.Option(
            help="Time zone of naive timestamps (e.g. UTC, Europe/Paris); "
            "without it they are refused."
        ),
    ] = None,
    time_format: Annotated[
        str | None,
        typer.Option(
            help="strptime format of non-ISO timestamps (%d/%m/%Y %H:%M), or epoch-s / epoch-ms."
        ),
    ] = None,
    decimal_comma: Annotated[
        bool, typer.Option(help="Amounts written 1.234,56 (comma before the decimals).")
    ] = False,
    currency: Annotated[
        str | None,
        typer.Option(help="Issuer currency, for rows without one [default: settings]."),
    ] = None,
    country: Annotated[
        str | None,
        typer.Option(help="Issuer country, recorded in the manifest [default: settings]."),
    ] = None,
    delimiter: Annotated[str, typer.Option(help="CSV field separator (often ; in Europe).")] = ",",
    encoding: Annotated[str, typer.Option(help="CSV text encoding (utf8, latin1, cp1252...).")] = (
        "utf8"
    ),
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Processes validating rows (one per spare core).")
    ] = 1,
    label_delay_days: Annotated[
        float | None,
        typer.Option(
            min=0, help="Labels without reported_at: reported this long after the transaction."
        ),
    ] = None,
) -> None:
    """Import a bank's own history: validate every row, write the dataset layout, keep rejects."""
    from securebank.data.importer import (
        AMOUNT_POLICIES,
        ColumnMapping,
        ImportFailed,
        ImportOptions,
        MappingError,
        import_dataset,
    )
    from securebank.reference import USD_PER_UNIT, is_iso_country

    if len(delimiter) != 1:
        raise UserError("--delimiter must be one character")
    try:
        codecs.lookup(encoding)
    except LookupError as error:
        raise UserError(f"--encoding {encoding} is not a known text encoding") from error
    if amounts not in AMOUNT_POLICIES:
        raise UserError(f"--amounts must be one of {', '.join(AMOUNT_POLICIES)}")
    for path in (transactions, mapping, labels):
        if path is not None and not path.exists():
            raise UserError(f"{path} does not exist")
    config = context.settings()
    currency = (currency or config.issuer_currency).upper()
    country = (country or config.issuer_country).upper()
    if currency not in USD_PER_UNIT:
        raise UserError(f"--currency {currency} is not an accepted settlement currency")
    if not is_iso_country(country):
        raise UserError(f"--country {country} is not an ISO 3166-1 alpha-2 code")
    options = ImportOptions(
        amounts=amounts,  # type: ignore[arg-type]
        timezone=_zone(timezone),
        time_format=time_format,
        decimal_comma=decimal_comma,
        currency=currency,
        country=country,
        label_delay=None if label_delay_days is None else timedelta(days=label_delay_days),
        workers=workers,
        delimiter=delimiter,
        encoding=encoding,
    )
    try:
        column_mapping = ColumnMapping.load(mapping)
        with progress() as bar:
            task = bar.add_task("validating rows", total=None)
            summary = import_dataset(
                transactions,
                labels,
                column_mapping,
                out,
                options,
                on_progress=lambda row: bar.update(task, completed=row),
            )
    except ImportFailed as error:
        raise UserError(str(error)) from error
    except (MappingError, ValueError, OSError, pa.ArrowInvalid) as error:
        raise UserError(str(error).splitlines()[0]) from error
    table = Table(title=f"Imported into {out}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in (
        "rows", "accepted", "rejected", "duplicates", "malformed", "amounts_rounded",
        "times_localised", "days", "labels_read", "labels_genuine", "labels", "labels_rejected",
        "labels_orphaned", "labels_of_refused_rows",
    ):  # fmt: skip
        table.add_row(key, f"{getattr(summary, key):,}")
    console.print(table)
    if summary.reasons:
        reasons = Table(title="Why records were refused")
        reasons.add_column("file: field: reason")
        reasons.add_column("records", justify="right")
        for reason, count in summary.reasons.most_common():
            reasons.add_row(reason, f"{count:,}")
        console.print(reasons)
    if summary.rejects_file is not None:
        console.print(f"every refused record, with its reasons: {summary.rejects_file}")


@app.command("slice")
def slice_command(
    data: Annotated[Path, typer.Option(help="Dataset folder.")],
    out: Annotated[Path, typer.Option(help="Output dataset folder.")],
    start: Annotated[
        str, typer.Option("--from", help="First instant kept (YYYY-MM-DD or ISO time; UTC).")
    ],
    end: Annotated[str, typer.Option("--to", help="First instant no longer kept (exclusive).")],
) -> None:
    """Cut a dataset by time: transactions with from <= event_time < to, and their labels."""
    from securebank.data.dataset import slice_dataset

    try:
        summary = slice_dataset(data, out, parse_instant(start), parse_instant(end))
    except DatasetError as error:
        raise UserError(str(error)) from error
    console.print(
        f"{summary.transactions:,} transactions over {summary.days} days and "
        f"{summary.labels:,} labels → {out}"
    )
