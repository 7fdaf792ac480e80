"""`securebank score`: batch-score a dataset with a registered model version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from securebank.cli import context
from securebank.cli.console import console, progress
from securebank.cli.data import parse_instant
from securebank.cli.errors import UserError
from securebank.data.dataset import DatasetError, read_labels, read_transactions
from securebank.features.definitions import FEATURE_SET_VERSION
from securebank.inference.batch import score_history
from securebank.model_artifact import IncompatibleModel
from securebank.registry import RegistryError, load_version_model


def score_command(
    data: Annotated[Path, typer.Option(help="Dataset folder.")],
    model: Annotated[int, typer.Option(min=1, help="Registered model version.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write.")],
    start: Annotated[
        str | None,
        typer.Option("--from", help="Score from this instant (YYYY-MM-DD or ISO time; UTC)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Score up to this instant (exclusive).")
    ] = None,
) -> None:
    """Score the transactions of a dataset: score, decision and reason codes, to Parquet.

    With --from/--to only that period is scored, but features still see the history before it.
    """
    since = None if start is None else parse_instant(start)
    until = None if end is None else parse_instant(end)
    if since is not None and until is not None and since >= until:
        raise UserError("--from must be before --to")
    config = context.settings()
    aws = context.clients(config)
    try:
        version, fraud_model = load_version_model(
            context.registry(aws, config), aws.client("s3"), model, feature_set=FEATURE_SET_VERSION
        )
        transactions = read_transactions(data, end=until)
        labels = read_labels(data)
    except (RegistryError, IncompatibleModel, DatasetError) as error:
        raise UserError(str(error)) from error
    with progress() as bar:
        task = bar.add_task(f"scoring {len(transactions):,} transactions", total=None)
        scored = score_history(fraud_model, transactions, labels, str(version.version), since)
        bar.update(task, total=1, completed=1)
    out.parent.mkdir(parents=True, exist_ok=True)
    scored.to_parquet(out, index=False)
    table = Table(title=f"{len(scored):,} transactions scored by version {version.version} → {out}")
    table.add_column("decision")
    table.add_column("transactions", justify="right")
    for decision, count in scored["decision"].value_counts().items():
        table.add_row(str(decision), f"{count:,}")
    console.print(table)
