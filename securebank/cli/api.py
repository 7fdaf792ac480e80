"""`securebank api ...` and `securebank load`: the ingest service, its keys, a load test."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

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
    burst: Annotated[int, typer.Option(min=1, help="Burst size.")] = 400,
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
        console.print(f"{record.key_id}  {record.name}  {limits}  {scopes}  {record.created_at}")


@app.command("serve")
def serve_command(
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8000,
) -> None:
    """Serve POST /transactions on 127.0.0.1 in the foreground."""
    from securebank.cases.service import Operations
    from securebank.ingest.limits import SeenWindow
    from securebank.ingest.server import IngestServer

    config = context.settings()
    aws = context.clients(config)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        server = IngestServer(
            ("127.0.0.1", port),
            aws.client("kinesis"),
            config.names.stream,
            key_store(config),
            SeenWindow(),
            Operations.build(aws, config.names),
        )
    except OSError as error:
        raise UserError(f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from error
    print(f"ingest API on {server.url}/transactions → {config.names.stream}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


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

    from securebank.dataset import DatasetError, read_transactions
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
