"""`securebank endpoint ...` and the deploy commands: the real-time endpoint and its versions."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from botocore.exceptions import ClientError
from rich.table import Table

from securebank import background
from securebank.cli import context
from securebank.cli.console import console
from securebank.cli.errors import UserError
from securebank.inference.endpoint import EndpointConfig, VariantSpec
from securebank.inference.rollout import RolloutState
from securebank.inference.sagemaker_endpoint import LiveRollout
from securebank.settings import Settings

app = typer.Typer(help="The real-time endpoint: serve, start, stop, status.", no_args_is_help=True)

Target = Literal["local", "aws"]
HEALTH_PATH = "/ping"


def endpoint_dir(config: Settings) -> Path:
    return config.home / "endpoint"


def server_file(config: Settings) -> Path:
    return endpoint_dir(config) / "server.json"


LOCAL_ROLE_ARN = "arn:aws:iam::123456789012:role/securebank-local-endpoint"


def read_live(aws: Any, config: Settings) -> LiveRollout:
    """The deployed state, read back from the endpoint in SageMaker (local or AWS)."""
    from securebank.inference.sagemaker_endpoint import ControlPlaneError, read_rollout

    try:
        return read_rollout(aws.client("sagemaker"), config.names.endpoint)
    except ControlPlaneError as error:
        raise UserError(str(error)) from error


def local_model_path(aws: Any, config: Settings, spec: VariantSpec) -> str:
    """The model server's copy of a version's model.tar.gz, fetched from S3 once per content.

    Named by the object's ETag: a local stack reset that registers different models under the
    same version numbers never serves a stale copy.
    """
    from securebank.s3io import split_uri

    if not spec.model_path.startswith("s3://"):
        return spec.model_path
    s3 = aws.client("s3")
    bucket, key = split_uri(spec.model_path)
    try:
        etag = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    except ClientError as error:
        raise UserError(
            f"model version {spec.model_version}: {spec.model_path} is missing"
        ) from error
    local = endpoint_dir(config) / "models" / f"v{spec.model_version}" / f"{etag}.tar.gz"
    if not local.is_file():
        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_suffix(".part")
        partial.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        partial.replace(local)
    return str(local.resolve())


def server_config(aws: Any, config: Settings, live: EndpointConfig) -> EndpointConfig:
    """`live` with each model's S3 location replaced by the local copy the server loads."""

    def local(spec: VariantSpec) -> VariantSpec:
        return replace(spec, model_path=local_model_path(aws, config, spec))

    return replace(
        live,
        variants=tuple(local(v) for v in live.variants),
        shadow=local(live.shadow) if live.shadow else None,
    )


def running_server(config: Settings) -> background.ServerInfo | None:
    return background.read(server_file(config), HEALTH_PATH)


def push_config(config: Settings, live: EndpointConfig) -> bool:
    """Send the config (local model paths) to the running local server; False when none runs."""
    info = running_server(config)
    if info is None:
        return False
    request = urllib.request.Request(
        info.url + "/admin/config",
        data=json.dumps(live.to_dict()).encode(),
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
    aws = context.clients(config)
    state = read_live(aws, config).state
    if state.config is not None:
        endpoint.apply(server_config(aws, config, state.config))
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
        with urllib.request.urlopen(info.url + "/variants", timeout=5) as response:
            live = json.loads(response.read())
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
    """Make `state` live on the target; return a line saying what happened.

    Both targets register it in SageMaker (Model, EndpointConfig, Endpoint); locally the model
    server then loads the same variants from its copies of the models.
    """
    from securebank.inference.sagemaker_endpoint import apply_to_sagemaker

    if state.config is None:
        raise UserError("nothing to apply")
    if target == "local":
        local = server_config(aws, config, state.config)
        role, image = config.pipeline_role_arn or LOCAL_ROLE_ARN, config.image_uri
    else:
        role, image = config.pipeline_role_arn, config.image_uri
        if role is None:
            raise UserError("set SECUREBANK_PIPELINE_ROLE_ARN (the endpoint execution role)")
    result = apply_to_sagemaker(
        aws.client("sagemaker"),
        state,
        image_uri=image,
        role_arn=role,
        capture_uri=f"s3://{config.names.lake_bucket}/capture/",
        alarm_name=f"{config.names.base}-endpoint-errors",
        known=known,
        update_in_place=target == "aws",
    )
    outcome = f"SageMaker {result['action']}_endpoint with {result['EndpointConfigName']}"
    if target == "aws":
        return outcome
    pushed = push_config(config, local)
    return outcome + (
        "; applied to the running model server"
        if pushed
        else "; `securebank endpoint start` serves it"
    )


def describe(state: RolloutState) -> str:
    if state.config is None:
        return "nothing deployed"
    parts = [f"{v.name} ({v.weight:g})" for v in state.config.variants]
    if state.config.shadow:
        parts.append(f"shadow {state.config.shadow.name}")
    return ", ".join(parts)
