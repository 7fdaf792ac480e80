"""`securebank rules ...`: propose, approve (another person), list, roll back; named lists."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from securebank.aws import AwsClients
from securebank.cli import context
from securebank.cli.console import console
from securebank.cli.errors import UserError
from securebank.rules.ruleset import RuleSetError
from securebank.rules.store import (
    RuleListStore,
    RuleSetStore,
    RulesRefused,
    create_tables,
)

app = typer.Typer(
    help="Rules beside the model: versions (maker-checker), named lists, backtests.",
    no_args_is_help=True,
)

By = Annotated[str, typer.Option("--by", help="Your name, recorded with the change.")]
Reason = Annotated[str, typer.Option("--reason", help="Why, recorded with the change.")]


def _stores() -> tuple[RuleSetStore, RuleListStore]:
    config = context.settings()
    names = config.names
    if config.target == "aws":
        dynamodb = context.clients(config).client("dynamodb")
    else:
        # Only the two rule tables are needed: no full local provisioning on every command.
        local = AwsClients(
            region=config.region, endpoint_url=context.local_endpoint(config), local=True
        )
        dynamodb = local.client("dynamodb")
        create_tables(dynamodb, names.rules_table, names.rule_lists_table)
    return RuleSetStore(dynamodb, names.rules_table), RuleListStore(
        dynamodb, names.rule_lists_table
    )


@contextmanager
def _refusals():
    try:
        yield
    except (RuleSetError, RulesRefused) as error:
        raise UserError(str(error)) from error


@app.command("propose")
def propose_command(
    file: Annotated[Path, typer.Argument(help="The rule set (YAML).")],
    by: By,
) -> None:
    """Store FILE as a new version, proposed (not active until another person approves it)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read {file}: {error}") from error
    with _refusals():
        versions, _ = _stores()
        version = versions.propose(text, by)
    console.print(
        f"proposed rule-set version {version} (approve: securebank rules approve {version})"
    )


@app.command("approve")
def approve_command(
    version: Annotated[int, typer.Argument(help="The proposed version.", min=1)],
    by: By,
    reason: Reason,
) -> None:
    """Approve VERSION and make it active (the scorer picks it up within seconds)."""
    with _refusals():
        versions, _ = _stores()
        versions.approve(version, by, reason)
    console.print(f"rule-set version {version} approved by {by} and active")


@app.command("rollback")
def rollback_command(by: By, reason: Reason) -> None:
    """Make the version active before the current one active again."""
    with _refusals():
        versions, _ = _stores()
        was, now = versions.rollback(by, reason)
    console.print(f"rolled back from rule-set version {was} to {now}")


@app.command("list")
def list_command() -> None:
    """Every version: status, who proposed and approved it, and which one is active."""
    versions, _ = _stores()
    active, _history = versions.active()
    table = Table(title="Rule-set versions")
    for column in ("version", "status", "rules", "proposed by", "approved by", "reason", "active"):
        table.add_column(column)
    for v in versions.versions():
        rules = v.text.count("\n  - ") + v.text.count("\n- ")
        table.add_row(
            str(v.version),
            v.status,
            str(rules),
            f"{v.proposed_by} {v.proposed_at}",
            f"{v.approved_by} {v.approved_at}".strip(),
            v.reason,
            "*" if v.version == active else "",
        )
    console.print(table)


@app.command("show")
def show_command(version: Annotated[int, typer.Argument(min=1)]) -> None:
    """Print a version's YAML."""
    versions, _ = _stores()
    found = versions.get(version)
    if found is None:
        raise UserError(f"no rule-set version {version}")
    console.print(found.text, markup=False, highlight=False)


@app.command("list-add")
def list_add_command(
    name: Annotated[str, typer.Argument(help="The list, e.g. blocked_cards.")],
    values: Annotated[list[str], typer.Argument(help="Ids to add (cards, merchants, devices).")],
    by: By,
    reason: Reason,
) -> None:
    """Add ids to a named list; the scorer reads lists at each refresh (no new version)."""
    with _refusals():
        _, lists = _stores()
        count = lists.add(name, values, by, reason)
    console.print(f"{count} added to {name}")


@app.command("list-remove")
def list_remove_command(
    name: Annotated[str, typer.Argument()],
    values: Annotated[list[str], typer.Argument()],
) -> None:
    """Remove ids from a named list."""
    _, lists = _stores()
    console.print(f"{lists.remove(name, values)} removed from {name}")


@app.command("list-show")
def list_show_command(name: Annotated[str, typer.Argument()]) -> None:
    """The members of a named list."""
    _, lists = _stores()
    for value in sorted(lists.members(name)):
        console.print(value, markup=False, highlight=False)
