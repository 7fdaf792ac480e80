"""`securebank model ...`: model versions in the Model Package Group."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from securebank.cli import context
from securebank.cli.console import console, errors
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


TargetOption = Annotated[str, typer.Option(help="local (the local endpoint) or aws.")]


def _target(value: str) -> str:
    if value not in ("local", "aws"):
        raise UserError(f"--target must be local or aws, got {value!r}")
    return value


@app.command("deploy")
def deploy_command(
    version: Annotated[int, typer.Argument(min=1, help="An Approved version.")],
    canary: Annotated[
        float | None, typer.Option(help="Send this percentage of traffic to it.")
    ] = None,
    shadow: Annotated[bool, typer.Option(help="Score every request, answer none.")] = False,
    target: TargetOption = "local",
) -> None:
    """Deploy an Approved version: all traffic, a canary share, or as a shadow."""
    from securebank.cli.endpoint import apply_state, describe, read_live
    from securebank.inference.rollout import RolloutError, deploy

    target = _target(target)
    if canary is not None and shadow:
        raise UserError("choose --canary or --shadow, not both")
    config = context.settings()
    aws = context.clients(config)
    try:
        found = context.registry(aws, config).get(version)
    except RegistryError as error:
        raise UserError(str(error)) from error
    if found.status is not Approval.APPROVED:
        raise UserError(
            f"model version {version} is {found.status.value}; only Approved versions deploy "
            f"(`securebank model approve {version}`)"
        )
    if target == "local":
        from securebank.features.definitions import FEATURE_SET_VERSION
        from securebank.inference.endpoint import VariantSpec
        from securebank.inference.local_endpoint import EndpointError, local_model_path
        from securebank.model_artifact import IncompatibleModel, load_model

        spec = VariantSpec(f"v{version}", str(version), found.model_data_url)
        try:
            load_model(Path(local_model_path(aws, config, spec)), feature_set=FEATURE_SET_VERSION)
        except EndpointError as error:
            raise UserError(str(error)) from error
        except IncompatibleModel as error:
            raise UserError(f"model version {version}: {error}") from error
    mode = "canary" if canary is not None else "shadow" if shadow else "replace"
    if mode == "canary":
        from securebank.rules.challenger import record_path

        if not record_path(config.home, version).is_file():
            errors.print(
                f"warning: model version {version} has no recorded replay "
                f"(securebank replay --model {version} --from DAY --to DAY)",
                markup=False,
            )
    known = read_live(aws, config)
    try:
        state = deploy(
            known.state,
            config.names.endpoint,
            str(version),
            found.model_data_url,
            mode=mode,
            percent=canary or 10.0,
        )
    except RolloutError as error:
        raise UserError(str(error)) from error
    outcome = apply_state(aws, config, target, state, known)
    console.print(f"endpoint {config.names.endpoint}: {describe(state)} — {outcome}")


def _transition(name: str, target: str) -> None:
    from securebank.cli.endpoint import apply_state, describe, read_live
    from securebank.inference import rollout

    target = _target(target)
    config = context.settings()
    aws = context.clients(config)
    known = read_live(aws, config)
    try:
        state = getattr(rollout, name)(known.state)
    except rollout.RolloutError as error:
        raise UserError(str(error)) from error
    outcome = apply_state(aws, config, target, state, known)
    console.print(f"endpoint {config.names.endpoint}: {describe(state)} — {outcome}")


@app.command("promote")
def promote_command(target: TargetOption = "local") -> None:
    """Make the canary or shadow the only production variant."""
    _transition("promote", target)


@app.command("rollback")
def rollback_command(target: TargetOption = "local") -> None:
    """Drop a canary or shadow, or return to the previous configuration."""
    _transition("rollback", target)
