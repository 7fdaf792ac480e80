"""`securebank endpoint ...` and the deploy commands: the real-time endpoint and its versions."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from securebank import background
from securebank.cli import context
from securebank.cli.console import console
from securebank.cli.errors import UserError
from securebank.inference.rollout import RolloutState
from securebank.settings import Settings

app = typer.Typer(help="The real-time endpoint: serve, start, stop, status.", no_args_is_help=True)

Target = Literal["local", "aws"]
HEALTH_PATH = "/ping"


def endpoint_dir(config: Settings) -> Path:
    return config.home / "endpoint"


def server_file(config: Settings) -> Path:
    return endpoint_dir(config) / "server.json"


def state_file(config: Settings, target: str) -> Path:
    return endpoint_dir(config) / f"rollout-{target}.json"


def load_state(config: Settings, target: str) -> RolloutState:
    path = state_file(config, target)
    return (
        RolloutState.from_dict(json.loads(path.read_text())) if path.is_file() else RolloutState()
    )


def save_state(config: Settings, target: str, state: RolloutState) -> None:
    path = state_file(config, target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state.to_dict(), indent=2))


def running_server(config: Settings) -> background.ServerInfo | None:
    return background.read(server_file(config), HEALTH_PATH)


def push_config(config: Settings, state: RolloutState) -> bool:
    """Send the live config to the running local server; False when none runs."""
    info = running_server(config)
    if info is None or state.config is None:
        return False
    request = urllib.request.Request(
        info.url + "/admin/config",
        data=json.dumps(state.config.to_dict()).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise UserError(json.loads(error.read()).get("message", str(error))) from error
    return True


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
    state = load_state(config, "local")
    if state.config is not None:
        endpoint.apply(state.config)
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
    state = load_state(config, "local")
    if info is None:
        console.print("model server: not running (`securebank endpoint start`)")
        if state.config is None:
            raise typer.Exit(1)
        live = {"variants": [v.__dict__ | {"invocations": "-"} for v in state.config.variants]}
        shadow = state.config.shadow
        live["shadow"] = shadow.__dict__ | {"invocations": "-"} if shadow else None
    else:
        with urllib.request.urlopen(info.url + "/variants", timeout=5) as response:
            live = json.loads(response.read())
        console.print(f"model server: {info.url} (pid {info.pid})")
    table = Table(title=f"endpoint {config.names.endpoint}")
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


def apply_state(config: Settings, target: Target, state: RolloutState) -> str:
    """Make `state` live on the target; return a line saying what happened."""
    if state.config is None:
        raise UserError("nothing to apply")
    if target == "local":
        save_state(config, target, state)
        pushed = push_config(config, state)
        return (
            "applied to the running model server"
            if pushed
            else ("saved; `securebank endpoint start` serves it")
        )
    from securebank.inference.sagemaker_endpoint import apply_to_sagemaker

    aws = context.clients(config)
    role = config.pipeline_role_arn
    if role is None:
        raise UserError("set SECUREBANK_PIPELINE_ROLE_ARN (the endpoint execution role)")
    result = apply_to_sagemaker(
        aws.client("sagemaker"),
        state.config,
        image_uri=config.image_uri,
        role_arn=role,
        capture_uri=f"s3://{config.names.lake_bucket}/capture/",
        alarm_name=f"{config.names.base}-endpoint-errors",
    )
    save_state(config, target, state)
    return f"SageMaker {result['action']}_endpoint with {result['EndpointConfigName']}"


def describe(state: RolloutState) -> str:
    if state.config is None:
        return "nothing deployed"
    parts = [f"{v.name} ({v.weight:g})" for v in state.config.variants]
    if state.config.shadow:
        parts.append(f"shadow {state.config.shadow.name}")
    return ", ".join(parts)
