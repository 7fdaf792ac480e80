"""`securebank score`: batch-score a dataset with a registered model version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from securebank.cli import context
from securebank.cli.console import console, progress
from securebank.cli.errors import UserError
from securebank.dataset import DatasetError, read_labels, read_transactions
from securebank.inference.batch import score_history
from securebank.model_artifact import IncompatibleModel, load_model_bytes
from securebank.registry import RegistryError
from securebank.s3io import read_bytes


def score_command(
    data: Annotated[Path, typer.Option(help="Dataset folder.")],
    model: Annotated[int, typer.Option(min=1, help="Registered model version.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write.")],
) -> None:
    """Score every transaction of a dataset: score, decision and reason codes, to Parquet."""
    config = context.settings()
    aws = context.clients(config)
    try:
        version = context.registry(aws, config).get(model)
        fraud_model = load_model_bytes(read_bytes(aws.client("s3"), version.model_data_url))
        transactions = read_transactions(data)
        labels = read_labels(data)
    except (RegistryError, IncompatibleModel, DatasetError) as error:
        raise UserError(str(error)) from error
    with progress() as bar:
        task = bar.add_task(f"scoring {len(transactions):,} transactions", total=None)
        scored = score_history(fraud_model, transactions, labels, str(version.version))
        bar.update(task, total=1, completed=1)
    out.parent.mkdir(parents=True, exist_ok=True)
    scored.to_parquet(out, index=False)
    table = Table(title=f"{len(scored):,} transactions scored by version {version.version} → {out}")
    table.add_column("decision")
    table.add_column("transactions", justify="right")
    for decision, count in scored["decision"].value_counts().items():
        table.add_row(str(decision), f"{count:,}")
    console.print(table)
