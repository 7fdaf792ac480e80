"""`securebank api ...` and `securebank load`: the ingest service, its keys, a load test."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from securebank.cli import context
from securebank.cli.console import console
from securebank.cli.errors import UserError
from securebank.settings import Settings

app = typer.Typer(help="The ingest API: serve, manage keys.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (stored hashed).", no_args_is_help=True)
app.add_typer(keys_app, name="key")


def key_store(config: Settings):
    from securebank.ingest.keys import KeyStore

    return KeyStore(config.home / "api" / "keys.json")


@keys_app.command("create")
def key_create_command(
    name: Annotated[str, typer.Option(help="Who the key is for.")],
    rate: Annotated[float, typer.Option(min=1, help="Transactions per second.")] = 200.0,
    burst: Annotated[
        int, typer.Option(min=500, help="Burst size (at least one 500-transaction batch).")
    ] = 1000,
    scope: Annotated[
        list[str] | None, typer.Option(help="ingest (default) and/or analyst (cases, outcomes).")
    ] = None,
) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    try:
        key, record = key_store(context.settings()).create(
            name, rate, burst, tuple(scope or ("ingest",))
        )
    except ValueError as error:
        raise UserError(str(error)) from error
    console.print(
        f"key {record.key_id} for {name} ({rate:g}/s, burst {burst}, "
        f"scopes {','.join(record.scopes)}); keep it now:"
    )
    print(key)


@keys_app.command("list")
def key_list_command() -> None:
    """Key ids, names and limits (never the keys)."""
    for record in key_store(context.settings()).list():
        limits = f"{record.rate_per_second:g}/s, burst {record.burst}"
        scopes = ",".join(record.scopes)
        revoked = f"  revoked {record.revoked_at}" if record.revoked_at else ""
        console.print(
            f"{record.key_id}  {record.name}  {limits}  {scopes}  {record.created_at}{revoked}"
        )


@keys_app.command("revoke")
def key_revoke_command(
    key_id: Annotated[str, typer.Argument(help="The key's id (`api key list`), not the key.")],
) -> None:
    """Revoke a key: refused (403) from its next request on, by every running server."""
    record = key_store(context.settings()).revoke(key_id)
    if record is None:
        raise UserError(f"no API key with id {key_id!r} (see `securebank api key list`)")
    console.print(f"key {record.key_id} ({record.name}) revoked at {record.revoked_at}")


@app.command("serve")
def serve_command(
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=512, help="Worker threads.")] = 32,
    idempotency: Annotated[
        str,
        typer.Option(
            help="Where transaction_id claims live: dynamodb (durable, shared by processes) or "
            "memory (this process only, lost on restart; for local load tests)."
        ),
    ] = "dynamodb",
) -> None:
    """Serve POST /transactions on 127.0.0.1 in the foreground; SIGTERM drains and stops."""
    from securebank.cases.service import Operations
    from securebank.graceful import serve_until_terminated
    from securebank.ingest.idempotency import DynamoIdempotency, table_exists
    from securebank.ingest.server import IngestServer

    if idempotency not in ("dynamodb", "memory"):
        raise UserError("--idempotency must be dynamodb or memory")
    config = context.settings()
    aws = context.clients(config)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    if idempotency == "memory":
        from securebank.ingest.limits import SeenWindow

        claims: Any = SeenWindow()
    else:
        dynamodb = aws.client("dynamodb")
        table = config.names.idempotency_table
        if not table_exists(dynamodb, table):
            raise UserError(f"no idempotency table {table}: run `securebank stack up`")
        claims = DynamoIdempotency(dynamodb, table)
    try:
        server = IngestServer(
            ("127.0.0.1", port),
            aws.client("kinesis"),
            config.names.stream,
            key_store(config),
            claims,
            workers=workers,
            operations=Operations.build(aws, config.names),
        )
    except OSError as error:
        raise UserError(f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from error
    print(f"ingest API on {server.url}/transactions → {config.names.stream}", flush=True)
    drained = serve_until_terminated(server)
    print("ingest API stopped" + ("" if drained else " (requests cut at the drain limit)"))


def load_command(
    rps: Annotated[float, typer.Option(min=1, max=20_000, help="Requests per second.")],
    duration: Annotated[float, typer.Option(min=1, max=600, help="Seconds (the test stops).")],
    key: Annotated[str, typer.Option(envvar="SECUREBANK_API_KEY", help="API key.")],
    data: Annotated[Path, typer.Option(help="Dataset to draw transactions from.")],
    url: Annotated[
        str, typer.Option(help="Ingest endpoint.")
    ] = "http://127.0.0.1:8000/transactions",
    concurrency: Annotated[int, typer.Option(min=1, max=256)] = 16,
) -> None:
    """A bounded load test of the ingest API: achieved rate, p50/p99 latency, errors."""
    import uuid

    from rich.table import Table

    from securebank.data.dataset import DatasetError, read_transactions
    from securebank.ingest.load import run_load, transaction_bodies

    try:
        rows = read_transactions(data).slice(0, 5000).to_pylist()
    except DatasetError as error:
        raise UserError(str(error)) from error
    result = run_load(
        url, key, transaction_bodies(rows, uuid.uuid4().hex[:6]), rps, duration, concurrency
    )
    table = Table(title=f"load test: {rps:g} requests/s for {duration:g} s → {url}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in result.as_dict().items():
        table.add_row(name, str(value))
    console.print(table)
