"""`securebank rules ...`: propose, approve (another person), list, roll back; named lists."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from securebank.cli import context
from securebank.cli.console import console
from securebank.cli.errors import UserError
from securebank.rules.ruleset import RuleSetError, parse_lists, parse_rules
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
    # Only the two rule tables are needed: no full local provisioning on every command.
    dynamodb = context.clients(config, provision=False).client("dynamodb")
    if config.target == "local":
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
        try:
            rules = len(parse_rules(v.text))
        except RuleSetError:
            rules = "?"
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


@app.command("backtest")
def backtest_command(
    rules_file: Annotated[Path, typer.Option("--rules", help="The rule set (YAML).")],
    start: Annotated[str, typer.Option("--from", help="Period start (YYYY-MM-DD or ISO; UTC).")],
    end: Annotated[str, typer.Option("--to", help="Period end (exclusive).")],
    data: Annotated[Path | None, typer.Option(help="Dataset folder (default: HOME/data).")] = None,
    lists_file: Annotated[
        Path | None,
        typer.Option("--lists", help="YAML of list name -> ids; default: the lists in DynamoDB."),
    ] = None,
    model: Annotated[int | None, typer.Option(min=1, help="Model version to compare.")] = None,
    model_dir: Annotated[Path | None, typer.Option(help="A model folder to compare.")] = None,
    label_delay_days: Annotated[int, typer.Option(min=0, max=365)] = 7,
    as_of: Annotated[
        str | None, typer.Option(help="Labels known at this instant (default: latest in data).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
) -> None:
    """What a rule set would have flagged over a past period, on point-in-time features."""
    import json

    import yaml

    from securebank.cli.data import parse_instant
    from securebank.data.dataset import DatasetError, read_labels, read_transactions
    from securebank.features.definitions import FEATURE_SET_VERSION
    from securebank.model_artifact import IncompatibleModel, load_model
    from securebank.registry import RegistryError, load_version_model
    from securebank.rules.backtest import backtest
    from securebank.rules.ruleset import compile_rule_set

    since, until = parse_instant(start), parse_instant(end)
    if since >= until:
        raise UserError("--from must be before --to")
    if model is not None and model_dir is not None:
        raise UserError("give at most one of --model and --model-dir")
    config = context.settings()
    try:
        rules = compile_rule_set(rules_file.read_text(encoding="utf-8"), rules_file.name)
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read {rules_file}: {error}") from error
    except RuleSetError as error:
        raise UserError(str(error)) from error
    lists: dict[str, frozenset] = {}
    if lists_file is not None:
        try:
            lists = parse_lists(lists_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise UserError(f"cannot read {lists_file}: {str(error).splitlines()[0]}") from error
        except RuleSetError as error:
            raise UserError(f"{lists_file}: {error}") from error
    elif rules.lists:
        _, store = _stores()
        lists = {name: store.members(name) for name in rules.lists}
    fraud_model = None
    try:
        if model_dir is not None:
            fraud_model = load_model(model_dir, feature_set=FEATURE_SET_VERSION)
        elif model is not None:
            aws = context.clients(config)
            _, fraud_model = load_version_model(
                context.registry(aws, config),
                aws.client("s3"),
                model,
                feature_set=FEATURE_SET_VERSION,
            )
        folder = data or config.data_dir
        transactions = read_transactions(folder, end=until)
        labels = read_labels(folder)
    except (OSError, RegistryError, IncompatibleModel, DatasetError) as error:
        raise UserError(str(error)) from error
    report = backtest(
        rules,
        transactions,
        labels,
        since,
        until,
        lists,
        as_of=None if as_of is None else parse_instant(as_of),
        label_delay_days=label_delay_days,
        model=fraud_model,
    )
    if as_json:
        console.print_json(json.dumps(report.as_dict(), default=str))
        return
    _print_backtest(report)


def _print_backtest(report) -> None:
    def share(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    console.print(
        f"{report.transactions:,} transactions {report.start} → {report.end}: "
        f"{report.alerts:,} alerts; on {report.matured:,} matured "
        f"({report.matured_frauds:,} frauds) precision {share(report.precision)}, "
        f"recall {share(report.recall)}"
    )
    if report.overlap is not None:
        o = report.overlap
        console.print(
            f"model alerts {report.model_alerts:,}: both {o['both']:,}, rules only "
            f"{o['rules_only']:,}, model only {o['model_only']:,}"
        )
    per_rule = Table(title="Rules")
    for column in ("rule", "hits", "precision (matured)"):
        per_rule.add_column(column)
    for name, precision in report.per_rule_precision.items():
        per_rule.add_row(name, f"{report.hits_per_rule.get(name, 0):,}", share(precision))
    console.print(per_rule)
    days = Table(title="Alerts per day")
    days.add_column("day")
    days.add_column("alerts", justify="right")
    for day, count in report.alerts_per_day.items():
        days.add_row(day, f"{count:,}")
    console.print(days)
    examples = Table(title="Examples")
    for column in ("rule", "transaction", "time", "card", "amount USD", "action", "fraud"):
        examples.add_column(column)
    for e in report.examples:
        examples.add_row(
            e["rule"],
            e["transaction_id"],
            e["event_time"],
            e["card_id"],
            f"{e['amount_usd']:,.2f}",
            e["action"],
            "yes" if e["fraud"] else "",
        )
    console.print(examples)
