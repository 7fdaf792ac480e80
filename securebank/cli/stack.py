"""`securebank stack ...`: the local AWS (moto's server on 127.0.0.1) and its resources."""

from __future__ import annotations

from typing import Annotated

import typer

from securebank import local_stack
from securebank.cli import context
from securebank.cli.console import console
from securebank.cli.errors import UserError

app = typer.Typer(help="The local AWS: start, stop, inspect.", no_args_is_help=True)


@app.command("up")
def up_command(
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 0,
) -> None:
    """Start the local AWS (if not running) and create the platform's resources."""
    config = context.settings()
    try:
        info = local_stack.start(config.home, port or None)
    except local_stack.StackError as error:
        raise UserError(str(error)) from error
    context.clients(config)  # creates the platform's resources in it
    console.print(f"local AWS running at {info.url} (pid {info.pid})")
    console.print(f"export AWS_ENDPOINT_URL={info.url}")


@app.command("down")
def down_command() -> None:
    """Stop the local AWS; everything in it is gone."""
    stopped = local_stack.stop(context.settings().home)
    console.print("local AWS stopped" if stopped else "local AWS was not running")


@app.command("status")
def status_command() -> None:
    """Whether the local AWS runs, and what it holds."""
    config = context.settings()
    info = local_stack.read_info(config.home)
    if info is None:
        console.print("local AWS: not running (`securebank stack up` starts it)")
        raise typer.Exit(1)
    aws = context.clients(config)
    names = config.names
    console.print(f"local AWS: running at {info.url} (pid {info.pid})")
    buckets = [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]]
    console.print(f"  buckets: {', '.join(sorted(buckets))}")
    versions = context.registry(aws, config).list()
    console.print(f"  model package group {names.model_package_group}: {len(versions)} versions")
