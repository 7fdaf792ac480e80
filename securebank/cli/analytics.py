"""`securebank analytics`, `securebank report` and `securebank monitor`: SQL over the lake,
audit and run reports, drift."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from securebank.cli import context
from securebank.cli.console import console
from securebank.cli.errors import UserError
from securebank.registry import ModelVersion
from securebank.settings import Settings

analytics_app = typer.Typer(help="SQL over the data lake (DuckDB).", no_args_is_help=True)
report_app = typer.Typer(help="Compliance (audit) and run reports.", no_args_is_help=True)
monitor_app = typer.Typer(help="Monitoring: drift between training and live.", no_args_is_help=True)


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise UserError(f"{option} takes a date (YYYY-MM-DD), got {text!r}") from error


def _lake(config: Settings, start: date | None = None, end: date | None = None):
    from securebank.analytics.lake import read_decisions, read_labels

    aws = context.clients(config)
    s3 = aws.client("s3")
    decisions = read_decisions(s3, config.names.lake_bucket, start, end)
    if decisions.num_rows == 0:
        raise UserError("the lake holds no decisions for that period (run the stream first)")
    return aws, decisions, read_labels(s3, config.names.lake_bucket)


def print_table(result: Any, title: str) -> None:
    table = Table(title=title)
    for name in result.column_names:
        table.add_column(
            name, justify="right" if result.schema.field(name).type != "string" else "left"
        )
    for row in result.to_pylist():
        table.add_row(
            *("" if v is None else f"{v:,}" if isinstance(v, int) else str(v) for v in row.values())
        )
    console.print(table)


@analytics_app.command("list")
def list_command() -> None:
    """The named queries."""
    from securebank.analytics.queries import NAMED_QUERIES

    for query in NAMED_QUERIES:
        console.print(f"[bold]{query.name}[/bold]: {query.description}")


@analytics_app.command("query")
def query_command(
    sql: Annotated[str | None, typer.Argument(help="SQL over `decisions` and `labels`.")] = None,
    name: Annotated[str | None, typer.Option("--named", help="A named query.")] = None,
) -> None:
    """Run SQL (or a named query) over the lake's decisions and labels."""
    import duckdb

    from securebank.analytics.engine import connect, run
    from securebank.analytics.queries import named, render

    if (sql is None) == (name is None):
        raise UserError("give either SQL or --named NAME (`securebank analytics list`)")
    if name is not None:
        try:
            sql = render(named(name).sql, "duckdb")
        except KeyError as error:
            raise UserError(str(error.args[0])) from error
    _, decisions, labels = _lake(context.settings())
    try:
        result = run(connect(decisions, labels), sql)
    except duckdb.Error as error:
        raise UserError(f"SQL error: {str(error).splitlines()[0]}") from error
    print_table(result, name or "query")


def _version(aws: Any, config: Settings, model: int | None) -> ModelVersion:
    """The requested version, or the latest registered one."""
    versions = context.registry(aws, config).list()
    if not versions:
        raise UserError("no model version is registered")
    wanted = model or versions[-1].version
    found = next((v for v in versions if v.version == wanted), None)
    if found is None:
        raise UserError(f"model version {model} does not exist")
    return found


@report_app.command("audit")
def audit_command(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD), decision date.")],
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD).")],
    out: Annotated[Path, typer.Option(help="Folder for the CSV and HTML.")] = Path(
        ".securebank/reports"
    ),
    sample: Annotated[int, typer.Option(min=1, help="Decisions re-scored to check.")] = 200,
) -> None:
    """Every decision in the period (CSV and HTML) and a reproducibility check."""
    from securebank.analytics.audit import audit_frame, check_reproducibility, write_audit
    from securebank.registry import load_version_model

    first, last = _day(start, "--from"), _day(end, "--to")
    config = context.settings()
    aws, decisions, _ = _lake(config, first, last)
    registry = context.registry(aws, config)

    def load_version(version: str):
        return load_version_model(registry, aws.client("s3"), int(version), feature_set=None)[1]

    check = check_reproducibility(decisions, load_version, sample)
    csv_path, html_path = write_audit(audit_frame(decisions), check, out, (start, end))
    verdict = "passed" if check.passed else "FAILED"
    console.print(
        f"{decisions.num_rows:,} decisions → {csv_path} and {html_path}; reproducibility "
        f"{verdict}: {check.matching}/{check.checked} re-scored identically"
    )
    if not check.passed:
        raise typer.Exit(1)


@report_app.command("run")
def run_report_command(
    out: Annotated[Path, typer.Option(help="HTML file.")] = Path(".securebank/reports/run.html"),
    model: Annotated[int | None, typer.Option(help="Model version (default: latest).")] = None,
) -> None:
    """One HTML page: the model's evaluation and the live stream (plots, top alerts)."""
    from securebank.analytics.report import write_report
    from securebank.analytics.runs import load_evaluation

    config = context.settings()
    aws, decisions, _ = _lake(config)
    found = _version(aws, config, model)
    evaluation, pngs = load_evaluation(aws.client("s3"), config.names, found)
    path = write_report(
        out, decisions, evaluation, pngs, f"SecureBank run report — model version {found.version}"
    )
    console.print(f"report written: {path.resolve()}")


@monitor_app.command("drift")
def drift_command(
    model: Annotated[int | None, typer.Option(help="Model version (default: latest).")] = None,
) -> None:
    """PSI per feature and for the score: training data vs live decisions."""
    from securebank.analytics.drift import DRIFT_THRESHOLD
    from securebank.analytics.runs import drift_since_training

    config = context.settings()
    aws, decisions, _ = _lake(config)
    found = _version(aws, config, model)
    check = drift_since_training(aws.client("s3"), config.names, found, decisions)
    report, score_psi = check.features, check.score_psi
    table = Table(
        title=f"Drift vs model version {found.version} ({check.live_rows:,} live decisions)"
    )
    for column in ("feature", "PSI", "missing train", "missing live", "status"):
        table.add_column(column, justify="left" if column in ("feature", "status") else "right")
    table.add_row(
        "score", f"{score_psi:.3f}", "", "", "drift" if score_psi > DRIFT_THRESHOLD else ""
    )
    for d in report:
        table.add_row(
            d.name, f"{d.psi:.3f}", f"{d.expected_missing:.1%}", f"{d.actual_missing:.1%}", d.status
        )
    console.print(table)
    drifted = [d.name for d in report if d.status == "drift"]
    console.print(
        f"{len(drifted)} features drifted (PSI > {DRIFT_THRESHOLD}): {', '.join(drifted) or 'none'}"
    )
