"""`securebank stream ...`: bootstrap the feature store, send transactions, run the scorer."""

from __future__ import annotations

import contextlib
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.live import Live
from rich.table import Table

from securebank.cli import context
from securebank.cli.console import console, errors, progress
from securebank.cli.errors import UserError
from securebank.data.dataset import DatasetError, read_labels, read_transactions
from securebank.ddb import STORE_ERRORS
from securebank.local.event_source import Handler, stream_dir
from securebank.monitoring.emf import EmfTotals
from securebank.settings import Settings

app = typer.Typer(
    help="The live path: bootstrap state, send, run the scorer.", no_args_is_help=True
)


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError as error:
        raise UserError(f"{text!r} is not a date (YYYY-MM-DD)") from error


@app.command("bootstrap")
def bootstrap_command(
    data: Annotated[Path, typer.Option(help="Dataset folder (the history).")],
    until: Annotated[
        str | None, typer.Option(help="Use history before this day (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Build the online feature state from history and load it into DynamoDB."""
    from securebank.data.dataset import known_before
    from securebank.features.replay import replay
    from securebank.scorer.state_store import batch_put, bootstrap_items

    config = context.settings()
    try:
        transactions, labels = read_transactions(data), read_labels(data)
    except DatasetError as error:
        raise UserError(str(error)) from error
    cut = _date(until)
    if cut is not None:
        transactions, labels = known_before(transactions, labels, cut)
    with progress() as bar:
        task = bar.add_task("replaying history", total=len(transactions))
        result = replay(transactions, labels, on_step=lambda row: bar.update(task, completed=row))
        bar.update(task, completed=len(transactions), description="writing state")
        aws = context.clients(config)
        written = batch_put(
            aws.client("dynamodb"),
            config.names.feature_table,
            bootstrap_items(result.cards, result.merchants),
        )
    console.print(
        f"feature state: {len(result.cards):,} cards and {len(result.merchants):,} merchants "
        f"({written:,} items) from {len(transactions):,} transactions → "
        f"{config.names.feature_table}"
    )


@app.command("send")
def send_command(
    data: Annotated[Path, typer.Option(help="Dataset folder to replay.")],
    rate: Annotated[
        float, typer.Option(min=1, max=100_000, help="Transactions per second.")
    ] = 167.0,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many.")] = None,
    duration: Annotated[float | None, typer.Option(min=0.1, help="Stop after seconds.")] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="First day to send (YYYY-MM-DD).")
    ] = None,
    poison: Annotated[int, typer.Option(min=0, help="Also send this many malformed records.")] = 0,
) -> None:
    """Replay transactions into the stream in event-time order (partition key = card)."""
    from securebank.local.producer import contract_json, select, send, with_poison

    if count is None and duration is None:
        raise UserError("give --count or --duration (the send stops by itself)")
    config = context.settings()
    try:
        chosen = select(read_transactions(data), _date(since), count)
    except DatasetError as error:
        raise UserError(str(error)) from error
    rows = chosen.to_pylist()
    payloads = with_poison([(r["card_id"], contract_json(r)) for r in rows], poison)
    aws = context.clients(config)
    with progress() as bar:
        task = bar.add_task(f"sending at {rate:g}/s", total=len(payloads))
        summary = send(
            aws.client("kinesis"),
            config.names.stream,
            payloads,
            rate,
            duration,
            on_progress=lambda n: bar.update(task, completed=n),
        )
    console.print(
        f"sent {summary.sent:,} records in {summary.seconds:.1f} s ({summary.rate:,.0f}/s), "
        f"{summary.resent} re-sent after throttling → {config.names.stream}"
    )


def live_table(emf: EmfTotals, elapsed: float, records: int) -> Table:
    """The live view of `stream run`, from the scorer's EMF metrics."""
    table = Table(title="securebank stream — live")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("elapsed", f"{elapsed:.0f} s")
    table.add_row("records processed", f"{records:,}")
    table.add_row("throughput", f"{records / elapsed if elapsed else 0:,.0f}/s")
    table.add_row("decisions", f"{emf.totals['Scored']:,.0f}")
    if emf.batch_ms:
        p50, p99 = np.percentile(emf.batch_ms, [50, 99])
        table.add_row("batch latency p50 / p99", f"{p50:.0f} / {p99:.0f} ms")
    scored = emf.totals["Scored"] or 1
    table.add_row("fallback rate", f"{emf.totals['Fallbacks'] / scored:.1%}")
    table.add_row("alerts per minute", f"{emf.totals['Alerts'] / max(elapsed, 1) * 60:,.0f}")
    table.add_row("dead letters", f"{emf.totals['DeadLetters']:,.0f}")
    return table


@app.command("run")
def run_command(
    duration: Annotated[float | None, typer.Option(min=1, help="Stop after seconds.")] = None,
    idle_exit: Annotated[
        float | None,
        typer.Option(
            min=0.5,
            help="Stop after this many seconds without a record processed (counted from the "
            "start too: an empty stream ends the run).",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    window: Annotated[float, typer.Option(min=0, max=300, help="Batching window (s).")] = 0.2,
    max_retries: Annotated[
        int,
        typer.Option(
            min=-1,
            max=10_000,
            help="Retries of a failed batch before the on-failure queue; -1 (Lambda's "
            "default): until it succeeds, with backoff.",
        ),
    ] = -1,
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=256,
            help="Scorer processes, each with its share of the shards (as Lambda gives each "
            "shard its own); default: one per shard, at most one per CPU. 1: all shards in "
            "this process.",
        ),
    ] = None,
) -> None:
    """Poll every shard and invoke the scorer's Lambda handler, as Lambda's event source does."""

    if duration is None and idle_exit is None:
        raise UserError("give --duration or --idle-exit (the runner stops by itself)")
    config = context.settings()
    aws = context.clients(config)
    folder = stream_dir(config.home)
    folder.mkdir(parents=True, exist_ok=True)
    emf_path = folder / "scorer-output.jsonl"
    with emf_path.open("a") as output, contextlib.redirect_stdout(output):
        try:
            mapping_config = _mapping_config(aws, config, batch_size, window, max_retries)
            mapping = _start_mapping(config, aws, emf_path, mapping_config, processes)
        except STORE_ERRORS as error:
            raise UserError(f"the AWS services do not answer: {error}") from error
        view = EmfTotals(emf_path)
        scoring = runner_file(config.home)
        scoring.write_text(json.dumps({"pid": os.getpid(), "shards_polled_since": time.time()}))
        started = time.monotonic()
        last_count, last_change = 0, started
        try:
            with Live(live_table(view, 0, 0), console=errors, refresh_per_second=2) as live:
                while True:
                    time.sleep(0.5)
                    for revived in _revive(mapping):
                        errors.print(f"warning: shard process {revived} died; started again")
                    view.read()
                    now = time.monotonic()
                    records = mapping.records
                    if records != last_count:
                        last_count, last_change = records, now
                    live.update(live_table(view, now - started, records))
                    if duration is not None and now - started >= duration:
                        break
                    if idle_exit is not None and now - last_change >= idle_exit:
                        break
        finally:
            scoring.unlink(missing_ok=True)
            mapping.close()
            view.read()
    stats = mapping.stats()
    errors.print(live_table(view, time.monotonic() - started, stats.records))
    console.print(
        f"processed {stats.records:,} records in {stats.batches:,} batches; "
        f"{stats.retries} retries, {stats.failed_batches} batches to the on-failure queue"
    )


def runner_file(home: Path) -> Path:
    """Present while a `stream run` polls every shard (its pid): for tools that must not send
    before the scorer listens, such as the demo. A killed runner leaves it behind."""
    return stream_dir(home) / "runner.json"


def _revive(mapping) -> list[str]:
    """Shard processes that died (kill -9, a crash, a poller's error) started again. Shard
    threads are not: a poller thread that stopped on an error ends the run with it."""
    from securebank.local.shard_processes import ShardProcesses, WorkerFailed

    if not isinstance(mapping, ShardProcesses):
        if failed := mapping.failed():
            raise UserError(f"the poller of {', '.join(failed)} stopped on an error (above)")
        return []
    try:
        return mapping.revive()
    except WorkerFailed as error:
        raise UserError(f"a shard process died and could not start again: {error}") from error


def scorer_handler(config: Settings) -> Handler:
    """The scorer's Lambda handler with its adapters built from `config`, calling the model
    server wherever it is registered now (it may move). Runs in each shard process."""
    from securebank.inference.local_endpoint import registered_url
    from securebank.scorer import handler
    from securebank.scorer.assembly import NoFallbackModel, build_parts

    def resolve_endpoint_url() -> str | None:
        return config.runtime_endpoint_url or registered_url(config)

    try:
        parts = build_parts(
            config, context.clients(config), resolve_endpoint_url=resolve_endpoint_url
        )
    except NoFallbackModel as error:
        raise UserError(
            f"{error}: approve a version first (`securebank model approve N`)"
        ) from error
    handler.configure(parts)
    handler.settle_after_cold_start()
    return handler.lambda_handler


def _start_mapping(config, aws, emf_path, mapping_config, processes):
    """The running event source mapping: threads in this process, or shard processes."""
    from securebank.local.event_source import (
        CheckpointMismatch,
        Checkpoints,
        EventSourceMapping,
        StreamIdentity,
        checkpoints_file,
        shard_ids,
    )
    from securebank.local.shard_processes import (
        ShardProcesses,
        WorkerFailed,
        WorkerPlan,
        shard_groups,
    )

    kinesis, stream = aws.client("kinesis"), config.names.stream
    checkpoints = Checkpoints(checkpoints_file(config.home))
    try:  # saved positions are checked first: they must belong to this stream
        checkpoints.bind(StreamIdentity.of(kinesis, stream), kinesis, stream)
    except CheckpointMismatch as error:
        raise UserError(str(error)) from error
    _, shards = shard_ids(kinesis, stream)
    groups = shard_groups(shards, processes or os.cpu_count() or 1)
    if len(groups) == 1:
        mapping = EventSourceMapping.for_stream(
            kinesis=kinesis,
            sqs=aws.client("sqs"),
            stream_name=stream,
            handler=scorer_handler(config),
            config=mapping_config,
            checkpoints=checkpoints,
            region=config.region,
        )
        mapping.start()
        return mapping
    plan = WorkerPlan(
        settings=config,
        handler_factory=scorer_handler,
        mapping=mapping_config,
        checkpoints=checkpoints.path,
        output=emf_path,
    )
    mapping = ShardProcesses(plan, groups)
    try:
        mapping.start()
    except WorkerFailed as error:
        raise UserError(str(error)) from error
    return mapping


def _mapping_config(aws, config, batch_size, window, max_retries):
    from securebank.local.event_source import MappingConfig

    sqs = aws.client("sqs")
    return MappingConfig(
        batch_size=batch_size,
        batching_window_s=window,
        max_retry_attempts=max_retries,
        on_failure_queue_url=sqs.get_queue_url(QueueName=config.names.stream_failure_queue)[
            "QueueUrl"
        ],
    )


@app.command("summary")
def summary_command() -> None:
    """Decisions, alerts, dead letters and put → decision latency so far."""
    from securebank.scorer.decision_store import summarize_decisions
    from securebank.scorer.fanout import queue_depth

    config = context.settings()
    aws = context.clients(config)
    summary = summarize_decisions(aws.client("dynamodb"), config.names.decisions_table)
    actions, scored_by, latencies = summary.actions, summary.scored_by, summary.latencies_ms
    sqs = aws.client("sqs")
    table = Table(title=f"stream summary ({config.names.base})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("decisions", f"{sum(actions.values()):,}")
    for action in ("approve", "review", "decline"):
        table.add_row(f"  {action}", f"{actions[action]:,}")
    for scorer, count in sorted(scored_by.items()):
        table.add_row(f"  scored by {scorer}", f"{count:,}")
    if latencies:
        p50, p99 = np.percentile(latencies, [50, 99])
        table.add_row("put → decision p50 / p99", f"{p50:,.0f} / {p99:,.0f} ms")
        fallback = scored_by.get("fallback", 0) / len(latencies)
        table.add_row("decided by the fallback model", f"{fallback:.1%}")
    table.add_row("latency budget (LATENCY_BUDGET_MS)", f"{config.latency_budget_ms} ms")
    table.add_row("alerts waiting (SQS)", f"{queue_depth(sqs, config.names.alerts_queue):,}")
    table.add_row("dead letters (SQS)", f"{queue_depth(sqs, config.names.dead_letter_queue):,}")
    table.add_row(
        "failed batches (SQS)", f"{queue_depth(sqs, config.names.stream_failure_queue):,}"
    )
    console.print(table)
