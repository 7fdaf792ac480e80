"""`securebank endpoint ...` and the deploy commands: the real-time endpoint and its versions."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from securebank.cli import context
from securebank.cli.console import console
from securebank.cli.errors import UserError
from securebank.inference import local_endpoint
from securebank.inference.local_endpoint import (
    HEALTH_PATH,
    EndpointError,
    Target,
    endpoint_dir,
    running_server,
    server_config,
    server_file,
)
from securebank.inference.rollout import RolloutState
from securebank.inference.sagemaker_endpoint import ControlPlaneError, LiveRollout
from securebank.local import background
from securebank.settings import Settings

app = typer.Typer(help="The real-time endpoint: serve, start, stop, status.", no_args_is_help=True)


def read_live(aws: Any, config: Settings) -> LiveRollout:
    """The deployed state, read back from SageMaker; an unreadable endpoint is a user error."""
    try:
        return local_endpoint.read_live(aws, config)
    except ControlPlaneError as error:
        raise UserError(str(error)) from error


@app.command("serve")
def serve_command(
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8080,
) -> None:
    """Run the model server in the foreground on 127.0.0.1 (SIGTERM or Ctrl-C drains it)."""
    from securebank.inference.capture import CaptureWriter
    from securebank.inference.endpoint import Endpoint
    from securebank.inference.server import ModelServer

    config = context.settings()
    endpoint = Endpoint()
    aws = context.clients(config)
    state = read_live(aws, config).state
    if state.config is not None:
        try:
            endpoint.apply(server_config(aws, config, state.config))
        except EndpointError as error:
            raise UserError(str(error)) from error
    try:
        server = ModelServer(
            ("127.0.0.1", port), endpoint, CaptureWriter(endpoint_dir(config) / "capture")
        )
    except OSError as error:
        raise UserError(f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from error
    version = ", ".join(v.model_version for v in state.config.variants) if state.config else "none"
    print(f"model server on {server.url} (versions: {version})", flush=True)
    from securebank.graceful import serve_until_terminated

    serve_until_terminated(server)  # SIGTERM or Ctrl-C: answer requests in flight, then stop


@app.command("start")
def start_command(
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 0,
) -> None:
    """Start the model server in the background (the local endpoint)."""
    config = context.settings()
    info = running_server(config)
    if info is None:
        port = port or background.free_port()
        command = [
            sys.executable,
            "-m",
            "securebank.cli.app",
            "endpoint",
            "serve",
            "--port",
            str(port),
        ]
        log = endpoint_dir(config) / "server.log"
        try:
            info = background.start(command, port, server_file(config), log, HEALTH_PATH)
        except background.ServerError as error:
            raise UserError(str(error)) from error
    console.print(f"model server running at {info.url} (pid {info.pid})")
    console.print(f"export AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME={info.url}")


@app.command("stop")
def stop_command() -> None:
    """Stop the background model server."""
    stopped = background.stop(server_file(context.settings()))
    console.print("model server stopped" if stopped else "model server was not running")


@app.command("status")
def status_command() -> None:
    """Variants, weights and live invocation counts of the local endpoint."""
    config = context.settings()
    info = running_server(config)
    registered = read_live(context.clients(config), config)
    state = registered.state
    if info is None:
        console.print("model server: not running (`securebank endpoint start`)")
        if state.config is None:
            raise typer.Exit(1)
        live = {"variants": [v.__dict__ | {"invocations": "-"} for v in state.config.variants]}
        shadow = state.config.shadow
        live["shadow"] = shadow.__dict__ | {"invocations": "-"} if shadow else None
    else:
        live = local_endpoint.served_variants(info)
        console.print(f"model server: {info.url} (pid {info.pid})")
    status = registered.status or "not registered"
    table = Table(
        title=f"endpoint {config.names.endpoint}: {status}, config {registered.config_name or '-'}"
    )
    for column in ("variant", "model version", "role", "weight", "invocations"):
        table.add_column(column)
    for v in live["variants"]:
        table.add_row(
            v["name"], v["model_version"], "production", f"{v['weight']:g}", str(v["invocations"])
        )
    if live.get("shadow"):
        s = live["shadow"]
        table.add_row(s["name"], s["model_version"], "shadow", "-", str(s["invocations"]))
    console.print(table)


def apply_state(
    aws: Any, config: Settings, target: Target, state: RolloutState, known: LiveRollout
) -> str:
    """Make `state` live on the target (`local_endpoint.apply_state`); refusals are user errors."""
    try:
        return local_endpoint.apply_state(aws, config, target, state, known)
    except EndpointError as error:
        raise UserError(str(error)) from error


def describe(state: RolloutState) -> str:
    if state.config is None:
        return "nothing deployed"
    parts = [f"{v.name} ({v.weight:g})" for v in state.config.variants]
    if state.config.shadow:
        parts.append(f"shadow {state.config.shadow.name}")
    return ", ".join(parts)
