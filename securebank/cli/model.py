"""`securebank model ...`: model versions in the Model Package Group."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from securebank.cli import context
from securebank.cli.console import console
from securebank.cli.errors import UserError
from securebank.registry import Approval, ModelVersion, RegistryError

app = typer.Typer(help="Model versions: list, approve, reject, deploy.", no_args_is_help=True)

SHOWN_METRICS = ("ap", "roc_auc", "cp_at_100", "recall_at_1pct_fpr", "baseline_ap")


def _as_dict(version: ModelVersion) -> dict[str, object]:
    return {
        "version": version.version,
        "status": version.status.value,
        "created": version.created.isoformat(),
        "model_data_url": version.model_data_url,
        "arn": version.arn,
        "metadata": version.metadata,
    }


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Every version with its metrics and approval status."""
    config = context.settings()
    versions = context.registry(context.clients(config), config).list()
    if as_json:
        print(json.dumps([_as_dict(v) for v in versions], indent=2))
        return
    table = Table(title=f"Model Package Group {config.names.model_package_group}")
    table.add_column("version", justify="right")
    table.add_column("status")
    table.add_column("created")
    for metric in SHOWN_METRICS:
        table.add_column(metric, justify="right")
    table.add_column("feature set")
    for v in versions:
        table.add_row(
            str(v.version),
            v.status.value,
            v.created.strftime("%Y-%m-%d %H:%M"),
            *(f"{float(v.metadata[m]):.4f}" if m in v.metadata else "-" for m in SHOWN_METRICS),
            v.metadata.get("feature_set_version", "-"),
        )
    console.print(table)


def _set_status(version: int, status: Approval, reason: str) -> None:
    config = context.settings()
    try:
        updated = context.registry(context.clients(config), config).set_status(
            version, status, reason
        )
    except RegistryError as error:
        raise UserError(str(error)) from error
    console.print(f"model version {updated.version}: {updated.status.value}")


@app.command("approve")
def approve_command(
    version: Annotated[int, typer.Argument(min=1, help="Version number.")],
    reason: Annotated[str, typer.Option(help="Why; kept with the version.")] = "",
) -> None:
    """Approve a version for deployment."""
    _set_status(version, Approval.APPROVED, reason)


@app.command("reject")
def reject_command(
    version: Annotated[int, typer.Argument(min=1, help="Version number.")],
    reason: Annotated[str, typer.Option(help="Why; kept with the version.")] = "",
) -> None:
    """Reject a version: it can no longer be deployed."""
    _set_status(version, Approval.REJECTED, reason)
