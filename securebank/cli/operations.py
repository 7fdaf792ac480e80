"""`securebank cases|outcomes|labels ...`, `securebank monitor performance|retrain` and
`securebank console`: fraud operations from the command line. Parsing and printing only; the
work is in securebank/cases, securebank/labels and securebank/monitoring."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from securebank.cli import context
from securebank.cli.console import console
from securebank.cli.errors import UserError

cases_app = typer.Typer(
    help="Cases: the analysts' queue of review and decline alerts.", no_args_is_help=True
)
outcomes_app = typer.Typer(
    help="Outcomes: chargeback and fraud-report files become labels.", no_args_is_help=True
)
labels_app = typer.Typer(
    help="Labels: the labels stream into the online merchant state.", no_args_is_help=True
)

ANALYST = typer.Option("--as", envvar="SECUREBANK_ANALYST", help="Who acts (the audit trail).")


def _operations(aws: Any = None):
    from securebank.cases.service import Operations

    config = context.settings()
    return Operations.build(aws or context.clients(config), config.names)


def _case_errors():
    from securebank.cases.model import CaseError

    return CaseError


@cases_app.command("list")
def list_command(
    status: Annotated[
        str, typer.Option(help="Comma-separated: open, assigned, resolved.")
    ] = "open,assigned",
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The queue: cases by status, oldest first."""
    from securebank.cases.http import summary
    from securebank.cases.model import CaseStatus

    try:
        wanted = tuple(CaseStatus(s.strip()) for s in status.split(","))
    except ValueError as error:
        raise UserError(f"--status takes open, assigned, resolved (got {status!r})") from error
    cases = _operations().cases.list(wanted, limit)
    if as_json:
        print(json.dumps([summary(c) for c in cases]))
        return
    table = Table(title=f"cases ({status}): {len(cases)}")
    for column in (
        "case",
        "status",
        "action",
        "score",
        "amount",
        "merchant",
        "age",
        "assignee",
        "reasons",
    ):
        table.add_column(column, justify="right" if column in ("score", "amount") else "left")
    now = datetime.now(UTC)
    for case in cases:
        table.add_row(
            case.case_id,
            case.status.value,
            case.action,
            f"{case.score:.3f}",
            f"{case.amount} {case.currency}",
            case.merchant_id,
            _age(case.created_at, now),
            case.assignee or "",
            ", ".join(case.top_reasons()),
        )
    console.print(table)


def _age(created_at: str, now: datetime) -> str:
    try:
        seconds = (now - datetime.fromisoformat(created_at)).total_seconds()
    except ValueError:
        return "?"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def _print_case(case: Any) -> None:
    console.print(
        f"[bold]case {case.case_id}[/bold]  {case.status.value}  "
        f"{case.action} score {case.score:.3f}"
    )
    console.print(
        f"card {case.card_id}  merchant {case.merchant_id}  {case.amount} {case.currency}  "
        f"at {case.event_time}  model {case.model_version}"
    )
    if case.outcome is not None:
        console.print(
            f"outcome {case.outcome.value} by {case.assignee} at {case.resolved_at}: {case.note}"
        )
    for reason in case.reason_codes:
        console.print(f"  reason {reason.get('feature')}  {reason.get('contribution')}")
    table = Table(title="audit")
    for column in ("when", "who", "what", "before", "after"):
        table.add_column(column)
    for entry in case.audit:
        table.add_row(
            entry.when, entry.who, entry.what, json.dumps(entry.before), json.dumps(entry.after)
        )
    console.print(table)


@cases_app.command("show")
def show_command(
    case_id: Annotated[str, typer.Argument(help="Case id (the transaction id).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One case with its reasons and audit trail."""
    try:
        case = _operations().cases.get(case_id)
    except _case_errors() as error:
        raise UserError(str(error)) from error
    if as_json:
        print(json.dumps(case.as_dict()))
    else:
        _print_case(case)


@cases_app.command("assign")
def assign_command(
    case_id: Annotated[str, typer.Argument()],
    to: Annotated[str, typer.Option("--to", help="Analyst to give the case to.")],
    analyst: Annotated[str, ANALYST] = "cli",
) -> None:
    """Give a case to an analyst."""
    try:
        case = _operations().assign(case_id, to, analyst)
    except _case_errors() as error:
        raise UserError(str(error)) from error
    console.print(f"case {case.case_id} assigned to {case.assignee}")


@cases_app.command("resolve")
def resolve_command(
    case_id: Annotated[str, typer.Argument()],
    outcome: Annotated[str, typer.Option(help="fraud, legit or unknown.")],
    note: Annotated[str, typer.Option(help="Why.")] = "",
    analyst: Annotated[str, ANALYST] = "cli",
) -> None:
    """Close a case; a fraud or legit outcome becomes the transaction's label."""
    try:
        case = _operations().resolve(case_id, outcome, note, analyst)
    except _case_errors() as error:
        raise UserError(str(error)) from error
    label = (
        " (label recorded)" if case.outcome is not None and case.outcome.value != "unknown" else ""
    )
    console.print(f"case {case.case_id} resolved: {case.outcome.value}{label}")


@cases_app.command("ingest")
def ingest_command(
    idle_exit: Annotated[
        float, typer.Option(min=0, help="Stop after this many idle seconds.")
    ] = 2.0,
    duration: Annotated[float | None, typer.Option(min=1, help="Stop after seconds.")] = None,
) -> None:
    """Turn alerts waiting in the alerts queue into cases (the local alerts consumer)."""
    from securebank.cases.alerts import AlertQueueConsumer, AlertReport
    from securebank.labels.store import iso_ms
    from securebank.local.event_source import poll_until_idle

    config = context.settings()
    aws = context.clients(config)
    operations = _operations(aws)
    sqs = aws.client("sqs")
    consumer = AlertQueueConsumer(
        sqs,
        sqs.get_queue_url(QueueName=config.names.alerts_queue)["QueueUrl"],
        operations.cases,
        sqs.get_queue_url(QueueName=config.names.dead_letter_queue)["QueueUrl"],
    )
    report = AlertReport()
    busy = poll_until_idle(
        lambda: consumer.poll_once(iso_ms(int(time.time() * 1000)), report), idle_exit, duration
    )
    seconds = max(busy, 1e-9)
    console.print(
        f"{report.messages:,} alerts → {report.created:,} cases created, {report.duplicates:,} "
        f"repeated, {report.invalid:,} invalid (dead-lettered); "
        f"{report.created / seconds:,.0f} cases/s"
    )


@outcomes_app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (with header) or JSON lines: transaction_id, reported_at, is_fraud?, source?"
        ),
    ],
    source: Annotated[
        str, typer.Option(help="Default source: chargeback or report.")
    ] = "chargeback",
    analyst: Annotated[str, ANALYST] = "import",
) -> None:
    """Record outcomes from a file as labels (a later chargeback overrides an analyst's legit)."""
    from securebank.cases.model import CaseConflict
    from securebank.labels.model import LabelSource
    from securebank.labels.outcomes import OutcomeFileError, read_outcome_file

    if source not in ("chargeback", "report"):
        raise UserError("--source takes chargeback or report")
    try:
        rows = read_outcome_file(file)
    except OutcomeFileError as error:
        raise UserError(str(error)) from error
    try:
        report = _operations().import_outcomes(rows, analyst, LabelSource(source))
    except CaseConflict as error:  # LabelConflict: another writer kept changing one label
        raise UserError(
            f"{error} (import it again: labels already recorded are not recorded twice)"
        ) from error
    console.print(
        f"{report.rows:,} rows: {report.accepted:,} accepted, {len(report.rejected):,} refused; "
        f"{report.recorded:,} labels recorded ({report.changed:,} changed an earlier label), "
        f"{report.unchanged:,} already known, {report.unknown_transaction:,} for transactions "
        f"not scored here"
    )
    for rejection in report.rejected[:20]:
        console.print(f"  row {rejection['row']}: {rejection['reason']}")
    if report.lake_key:
        console.print(
            f"label events → s3://{context.settings().names.lake_bucket}/{report.lake_key}"
        )


@labels_app.command("follow")
def follow_command(
    idle_exit: Annotated[
        float, typer.Option(min=0, help="Stop after this many idle seconds.")
    ] = 2.0,
    duration: Annotated[float | None, typer.Option(min=1, help="Stop after seconds.")] = None,
    interval: Annotated[
        float, typer.Option(min=0.05, max=60, help="Seconds between polls.")
    ] = 0.25,
) -> None:
    """Apply label changes to the online merchant state (the local labels stream consumer)."""
    from securebank.labels.follow import follower_for
    from securebank.labels.stream import MerchantLabelState
    from securebank.local.event_source import poll_until_idle

    config = context.settings()
    aws = context.clients(config)
    db = aws.client("dynamodb")
    follower = follower_for(
        db,
        aws.client("dynamodbstreams"),
        config.names.labels_table,
        MerchantLabelState(db, config.names.feature_table),
        config.home / "labels",
    )
    poll_until_idle(follower.poll_once, idle_exit, duration, interval)
    stats = follower.stats
    console.print(
        f"{stats.records:,} label changes read: {stats.applied:,} applied to merchant state, "
        f"{stats.unchanged:,} without effect (already applied, or older than any feature window), "
        f"{stats.no_merchant:,} without a known merchant"
    )


@labels_app.command("show")
def label_show_command(transaction_id: Annotated[str, typer.Argument()]) -> None:
    """A transaction's effective label and the outcome events behind it."""
    from securebank.cases.model import check_case_id
    from securebank.labels.store import iso_ms

    try:
        check_case_id(transaction_id)
    except _case_errors() as error:
        raise UserError(str(error)) from error
    record = _operations().labels.get(transaction_id)
    if record is None:
        raise UserError(f"no label for {transaction_id}")
    console.print(
        f"{record.transaction_id}: {'fraud' if record.is_fraud else 'legit'} since "
        f"{iso_ms(record.reported_at_ms)} (from {record.source.value}); merchant "
        f"{record.merchant_id or 'unknown'}"
    )
    for event in record.history:
        verdict = "fraud" if event.is_fraud else "legit"
        console.print(
            f"  {iso_ms(event.reported_at_ms)}  {event.source.value:<10} {verdict:<5} "
            f"by {event.by}  {event.note}"
        )


@labels_app.command("merchant")
def merchant_command(merchant_id: Annotated[str, typer.Argument()]) -> None:
    """A merchant's online state as the scorer reads it: counts and fraud labels."""
    from securebank.scorer.state_store import read_merchant_state

    config = context.settings()
    aws = context.clients(config)
    state = read_merchant_state(
        aws.client("kinesis"),
        aws.client("dynamodb"),
        config.names.stream,
        config.names.feature_table,
        merchant_id,
    )
    day_total = sum(state.day_counts.values())
    console.print(
        f"merchant {merchant_id}: {day_total:,} transactions in its day buckets, "
        f"{len(state.frauds)} fraud labels"
    )
    for transaction_ms, reported_ms in state.frauds[-10:]:
        console.print(
            f"  fraud at {datetime.fromtimestamp(transaction_ms / 1000, UTC):%Y-%m-%d %H:%M}, "
            f"reported {datetime.fromtimestamp(reported_ms / 1000, UTC):%Y-%m-%d %H:%M}"
        )


def performance_command(
    by: Annotated[
        str | None,
        typer.Option(help="day, model_version, mcc, country, channel, new_device or amount_band."),
    ] = None,
    maturity_days: Annotated[
        float, typer.Option(min=0, max=365, help="Count decisions at least this old.")
    ] = 30.0,
    as_of: Annotated[
        str | None, typer.Option(help="Evaluate as of this time (ISO; default now).")
    ] = None,
    emf: Annotated[
        bool, typer.Option(help="Also print EMF metric lines (per model version).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
) -> None:
    """Precision, recall, amount recall, alert rate, analyst load on matured labels."""
    from securebank.labels.store import parse_time_ms
    from securebank.monitoring.emf import emf_lines
    from securebank.monitoring.live import live_decisions, live_labels
    from securebank.monitoring.performance import GROUPINGS, label_decisions, performance

    if by is not None and by not in GROUPINGS:
        raise UserError(f"--by takes one of {', '.join(GROUPINGS)}")
    try:
        as_of_ms = int(time.time() * 1000) if as_of is None else parse_time_ms(as_of)
    except ValueError as error:
        raise UserError(f"--as-of {as_of!r} is not an ISO time") from error
    config = context.settings()
    aws = context.clients(config)
    operations = _operations(aws)
    frame = live_decisions(aws.client("s3"), config.names.lake_bucket)
    labelled = label_decisions(frame, live_labels(operations.labels), as_of_ms, maturity_days)
    rows = performance(labelled, by).to_dict("records")
    if as_json:
        print(json.dumps(rows, default=float))
    else:
        title = (
            f"performance on matured labels ({len(labelled):,} of {len(frame):,} decisions "
            f"at least {maturity_days:g} d old)"
        )
        print_performance(rows, by, title)
    if emf:
        per_version = performance(labelled, "model_version").to_dict("records")
        per_version += performance(labelled, None).to_dict("records")  # model_version "all"
        for line in emf_lines(per_version, as_of_ms):
            print(line)


def print_performance(rows: list[dict[str, Any]], by: str | None, title: str) -> None:
    table = Table(title=title)
    key = by or "group"
    columns = (
        key,
        "decisions",
        "alerts",
        "frauds",
        "precision",
        "recall",
        "amount_recall",
        "alert_rate",
        "analyst_load_per_day",
        "average_precision",
    )
    for column in columns:
        table.add_column(
            column.replace("_per_day", "/day").replace("_", " "),
            justify="left" if column == key else "right",
        )
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            if column == key or isinstance(value, int):
                cells.append(str(value))
            elif value is None or value != value:
                cells.append("-")
            elif column in ("analyst_load_per_day",):
                cells.append(f"{value:.1f}")
            else:
                cells.append(f"{value:.3f}")
        table.add_row(*cells)
    console.print(table)
    if not rows:
        console.print("no matured decisions yet (lower --maturity-days or wait for labels)")


def retrain_command(
    maturity_days: Annotated[float, typer.Option(min=0, max=365)] = 30.0,
    schedule_days: Annotated[
        float, typer.Option(min=0.1, help="Retrain at least this often.")
    ] = 7.0,
    min_ap: Annotated[
        float, typer.Option(min=0, max=1, help="Retrain below this matured-label AP.")
    ] = 0.5,
    drift_psi: Annotated[
        float | None, typer.Option(min=0, help="Score drift PSI (from `monitor drift`).")
    ] = None,
    max_psi: Annotated[float, typer.Option(min=0)] = 0.25,
    run: Annotated[
        bool, typer.Option("--run/--dry-run", help="Start the pipeline when due.")
    ] = False,
) -> None:
    """Decide whether to retrain; with --run, start the training pipeline (locally: run it)."""
    from securebank.monitoring.live import live_decisions, live_labels
    from securebank.monitoring.performance import label_decisions, performance
    from securebank.monitoring.retrain import (
        RetrainPolicy,
        days_since_last_training,
        should_retrain,
    )

    config = context.settings()
    aws = context.clients(config)
    versions = context.registry(aws, config).list()
    age = days_since_last_training((v.created for v in versions), datetime.now(UTC))
    frame = live_decisions(aws.client("s3"), config.names.lake_bucket)
    labelled = label_decisions(
        frame, live_labels(_operations(aws).labels), int(time.time() * 1000), maturity_days
    )
    rows = performance(labelled, None).to_dict("records")
    ap = rows[0]["average_precision"] if rows else None
    frauds = rows[0]["frauds"] if rows else 0
    decision = should_retrain(
        RetrainPolicy(schedule_days, min_ap, max_psi), age, ap, frauds, drift_psi
    )
    console.print(
        f"last training {'never' if age is None else f'{age:.1f} d ago'}; matured-label AP "
        f"{'-' if ap is None or ap != ap else f'{ap:.3f}'} over {frauds} frauds"
    )
    if not decision.retrain:
        console.print("retrain: not due")
        return
    console.print("retrain: due — " + "; ".join(decision.reasons))
    if not run:
        console.print("(dry run: add --run to start the pipeline)")
        return
    if config.target == "aws":
        from securebank.pipelines.sagemaker_definition import start_execution

        arn = start_execution(
            aws.client("sagemaker"), config.names.pipeline, "; ".join(decision.reasons)
        )
        console.print(f"started {arn}")
        return
    result = subprocess.run(
        [sys.executable, "-m", "securebank.cli.app", "pipeline", "run"], check=False
    )
    if result.returncode != 0:
        raise UserError(f"the pipeline run failed (exit {result.returncode})")
    console.print(
        "the new version waits for approval: `securebank monitor compare --challenger N` "
        "compares it with the live model on the same recent window"
    )


def compare_command(
    challenger: Annotated[int, typer.Option(help="Model version to compare (e.g. the new one).")],
    maturity_days: Annotated[float, typer.Option(min=0, max=365)] = 30.0,
) -> None:
    """Champion (live decisions) vs a challenger version re-scored on the same matured window."""
    from securebank.features.definitions import FEATURE_SET_VERSION
    from securebank.model_artifact import IncompatibleModel
    from securebank.monitoring.live import live_decisions, live_labels
    from securebank.monitoring.performance import label_decisions, metrics, rescore
    from securebank.registry import RegistryError, load_version_model

    config = context.settings()
    aws = context.clients(config)
    try:
        _, model = load_version_model(
            context.registry(aws, config),
            aws.client("s3"),
            challenger,
            feature_set=FEATURE_SET_VERSION,
        )
    except (RegistryError, IncompatibleModel) as error:
        raise UserError(str(error)) from error
    frame = live_decisions(aws.client("s3"), config.names.lake_bucket)
    labelled = label_decisions(
        frame, live_labels(_operations(aws).labels), int(time.time() * 1000), maturity_days
    )
    usable, rescored = rescore(labelled, model)
    if usable.empty:
        raise UserError("no matured decisions with feature vectors this version can score")
    rows = [
        {"group": "champion (live)", **metrics(usable)},
        {"group": f"challenger v{challenger}", **metrics(rescored)},
    ]
    print_performance(
        rows, None, f"champion vs challenger on the same {len(usable):,} matured decisions"
    )


def console_command(
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8400,
    analyst: Annotated[str, ANALYST] = "analyst",
) -> None:
    """Serve the analyst console on 127.0.0.1 in the foreground."""
    from securebank.console.app import ConsoleServer

    config = context.settings()
    aws = context.clients(config)
    try:
        server = ConsoleServer(
            ("127.0.0.1", port), _operations(aws), aws.client("s3"), config.names, analyst
        )
    except OSError as error:
        raise UserError(f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from error
    print(f"analyst console on {server.url}/ (as {analyst}); Ctrl-C stops it", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def register(app: typer.Typer, monitor_app: typer.Typer) -> None:
    """Add the operations commands to the `securebank` command."""
    app.add_typer(cases_app, name="cases")
    app.add_typer(outcomes_app, name="outcomes")
    app.add_typer(labels_app, name="labels")
    app.command("console")(console_command)
    monitor_app.command("performance")(performance_command)
    monitor_app.command("retrain")(retrain_command)
    monitor_app.command("compare")(compare_command)
