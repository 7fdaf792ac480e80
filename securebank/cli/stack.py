"""`securebank stack ...`: the local AWS (four servers on 127.0.0.1) and its resources."""

from __future__ import annotations

from typing import Annotated

import typer

from securebank.cli import context
from securebank.cli.console import console
from securebank.cli.errors import UserError
from securebank.local import stack as local_stack
from securebank.local.event_source import checkpoints_file

app = typer.Typer(help="The local AWS: start, stop, inspect, wipe.", no_args_is_help=True)


@app.command("up")
def up_command(
    port: Annotated[
        int,
        typer.Option(min=0, max=65532, help="First of four consecutive ports; 0 picks free ones."),
    ] = 0,
) -> None:
    """Start the local AWS (what is not running) and create the platform's resources."""
    config = context.settings()
    try:
        stack = local_stack.start(config.home, port or None)
    except local_stack.StackError as error:
        raise UserError(str(error)) from error
    context.clients(config)  # creates the platform's resources in it, if missing
    for component in local_stack.components():
        info = stack.servers[component.name]
        console.print(
            f"{component.name:<10} {info.url} (pid {info.pid}): {', '.join(component.services)}"
        )
    console.print(f"state kept in {local_stack.data_dir(config.home)}")
    for name, value in stack.environment().items():
        console.print(f"export {name}={value}")


@app.command("down")
def down_command() -> None:
    """Stop the local AWS gracefully; its state stays on disk for the next `stack up`."""
    stopped = local_stack.stop(context.settings().home)
    console.print("local AWS stopped (state kept)" if stopped else "local AWS was not running")


@app.command("reset")
def reset_command(
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: delete everything in it.")] = False,
) -> None:
    """Stop the local AWS and delete all it holds (tables, stream, lake, queues, registry)."""
    if not yes:
        raise UserError("`stack reset` deletes all local AWS state: add --yes to confirm")
    config = context.settings()
    local_stack.reset(config.home)
    # The stream's saved positions belong to the stream just deleted.
    checkpoints_file(config.home).unlink(missing_ok=True)
    console.print(f"local AWS stopped and {local_stack.data_dir(config.home)} deleted")


@app.command("status")
def status_command() -> None:
    """Whether each server of the local AWS runs, and what it holds."""
    config = context.settings()
    servers = local_stack.status(config.home)
    for name, info in servers.items():
        where = f"running at {info.url} (pid {info.pid})" if info else "not running"
        console.print(f"{name:<10} {where}")
    if any(info is None for info in servers.values()):
        console.print("local AWS: not (fully) running (`securebank stack up` starts it)")
        raise typer.Exit(1)
    aws = context.clients(config)
    names = config.names
    for kind, held in local_stack.holdings(aws).items():
        console.print(f"  {kind}: {', '.join(held)}")
    versions = context.registry(aws, config).list()
    console.print(f"  model package group {names.model_package_group}: {len(versions)} versions")
