"""`securebank features ...`: the feature set and the offline build."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from securebank.cli.console import console, progress
from securebank.cli.errors import UserError
from securebank.data.dataset import DatasetError, read_labels, read_transactions
from securebank.features.definitions import FEATURE_SET_VERSION, FEATURES
from securebank.features.offline import build_features

app = typer.Typer(help="Features: list the definitions, build them offline.", no_args_is_help=True)


@app.command("list")
def list_command() -> None:
    """Show every feature of the current feature set and its version."""
    table = Table(title=f"Feature set {FEATURE_SET_VERSION}")
    table.add_column("#", justify="right")
    table.add_column("name")
    table.add_column("kind")
    table.add_column("meaning")
    for i, feature in enumerate(FEATURES):
        table.add_row(str(i), feature.name, feature.kind, feature.description)
    console.print(table)


def summary_table(features: pd.DataFrame, fraud_ids: set[str], title: str) -> Table:
    """Per feature: mean over genuine and fraudulent rows, and the share that is missing."""
    is_fraud = features["transaction_id"].isin(fraud_ids).to_numpy()
    table = Table(title=title)
    table.add_column("feature")
    table.add_column("mean, genuine", justify="right")
    table.add_column("mean, fraud", justify="right")
    table.add_column("missing", justify="right")
    for feature in FEATURES:
        values = features[feature.name].to_numpy()
        table.add_row(
            feature.name,
            f"{np.nanmean(values[~is_fraud]):,.3f}" if (~is_fraud).any() else "-",
            f"{np.nanmean(values[is_fraud]):,.3f}" if is_fraud.any() else "-",
            f"{np.isnan(values).mean():.1%}",
        )
    return table


@app.command("build")
def build_command(
    data: Annotated[Path, typer.Option(help="Dataset folder.")] = Path(
        ".securebank/data/simulated"
    ),
    out: Annotated[Path, typer.Option(help="Parquet file to write.")] = Path(
        ".securebank/data/features.parquet"
    ),
) -> None:
    """Build every feature of every transaction, point-in-time correct, into one Parquet file."""
    with progress() as bar:
        task = bar.add_task("reading transactions", total=3)
        try:
            transactions = read_transactions(data)
            labels = read_labels(data)
        except DatasetError as error:
            raise UserError(str(error)) from error
        bar.update(task, advance=1, description=f"building features ({len(transactions):,} rows)")
        features = build_features(transactions, labels)
        bar.update(task, advance=1, description="writing")
        out.parent.mkdir(parents=True, exist_ok=True)
        features.to_parquet(out, index=False)
        bar.update(task, advance=1, description="done")
    fraud_ids = set(labels.filter(labels["is_fraud"])["transaction_id"].to_pylist())
    console.print(
        summary_table(
            features,
            fraud_ids,
            f"{len(features):,} transactions, {len(fraud_ids):,} labelled fraud, "
            f"feature set {FEATURE_SET_VERSION} → {out}",
        )
    )
