"""`securebank replay`: a challenger model (and rules) against the champion on a past period."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from securebank.cli import context
from securebank.cli.console import console
from securebank.cli.data import parse_instant
from securebank.cli.errors import UserError


def replay_command(
    model: Annotated[int, typer.Option(min=1, help="The challenger: a registered version.")],
    start: Annotated[str, typer.Option("--from", help="Period start (YYYY-MM-DD or ISO; UTC).")],
    end: Annotated[str, typer.Option("--to", help="Period end (exclusive).")],
    rules: Annotated[
        int | None, typer.Option(min=1, help="A stored rule-set version, for both sides.")
    ] = None,
    champion: Annotated[
        int | None, typer.Option(min=1, help="The champion (default: latest Approved).")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Dataset folder (default: HOME/data).")] = None,
    out: Annotated[Path | None, typer.Option(help="HTML report (default: HOME/reports/).")] = None,
) -> None:
    """Replay a past period through the online path (state from the history before it) and
    compare the challenger with the champion; writes an HTML report and records the replay."""
    from securebank.data.dataset import DatasetError, read_labels, read_transactions
    from securebank.features.definitions import FEATURE_SET_VERSION
    from securebank.model_artifact import IncompatibleModel
    from securebank.registry import RegistryError, load_version_model
    from securebank.rules.challenger import compare, write_html, write_record
    from securebank.rules.ruleset import RuleSetError
    from securebank.rules.store import RuleListStore, RuleSetStore, create_tables, load_rule_set

    since, until = parse_instant(start), parse_instant(end)
    if since >= until:
        raise UserError("--from must be before --to")
    config = context.settings()
    aws = context.clients(config)
    registry = context.registry(aws, config)
    try:
        if champion is None:
            approved = registry.latest_approved()
            if approved is None:
                raise UserError("no Approved version to compare with; give --champion N")
            champion = approved.version
        models = {}
        for version in (champion, model):
            _, models[version] = load_version_model(
                registry, aws.client("s3"), version, feature_set=FEATURE_SET_VERSION
            )
        folder = data or config.data_dir
        transactions = read_transactions(folder, end=until)
        labels = read_labels(folder)
    except (RegistryError, IncompatibleModel, DatasetError) as error:
        raise UserError(str(error)) from error
    compiled, lists = None, {}
    if rules is not None:
        dynamodb = aws.client("dynamodb")
        names = config.names
        if config.target == "local":
            create_tables(dynamodb, names.rules_table, names.rule_lists_table)
        try:
            compiled, lists = load_rule_set(
                RuleSetStore(dynamodb, names.rules_table),
                RuleListStore(dynamodb, names.rule_lists_table),
                rules,
            )
        except RuleSetError as error:
            raise UserError(str(error)) from error
    result = compare(
        transactions,
        labels,
        since,
        until,
        (str(champion), models[champion]),
        (str(model), models[model]),
        compiled,
        lists,
    )
    day = f"{since.date()}_{until.date()}"
    path = write_html(
        result, out or config.home / "reports" / f"replay-{model}-vs-{champion}-{day}.html"
    )
    write_record(config.home, model, result, path)
    c, k = result.champion, result.challenger
    console.print(
        f"{result.transactions:,} transactions ({result.replayed:,} replayed, "
        f"{result.replay_tps:,.0f}/s); alerts {c.alerts:,} → {k.alerts:,}; frauds caught "
        f"{c.frauds_caught:,} → {k.frauds_caught:,} of {k.frauds:,}; amount caught "
        f"{c.amount_caught_usd:,.2f} → {k.amount_caught_usd:,.2f} USD; decisions changed "
        f"{sum(result.changes.values()):,}"
    )
    console.print(f"report: {path}")
