"""The local endpoint: rollout states applied to SageMaker and to the local model server.

Both targets register a state in SageMaker (Model, EndpointConfig, Endpoint:
`sagemaker_endpoint.apply_to_sagemaker`), which stays the record of what is deployed. Locally the
model server (`securebank endpoint start`, registered in `SECUREBANK_HOME/endpoint/server.json`)
then loads the same variants from its own copies of the models, fetched from S3 once per content.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from securebank.inference.endpoint import EndpointConfig, VariantSpec
from securebank.inference.rollout import RolloutState
from securebank.inference.sagemaker_endpoint import LiveRollout, apply_to_sagemaker, read_rollout
from securebank.local import background
from securebank.s3io import cached_copy
from securebank.settings import Settings

Target = Literal["local", "aws"]
HEALTH_PATH = "/ping"
LOCAL_ROLE_ARN = "arn:aws:iam::123456789012:role/securebank-local-endpoint"


class EndpointError(RuntimeError):
    """A rollout that cannot be applied (a missing model, a setting, the server refused)."""


def endpoint_dir(config: Settings) -> Path:
    return config.home / "endpoint"


def server_file(config: Settings) -> Path:
    return endpoint_dir(config) / "server.json"


def running_server(config: Settings) -> background.ServerInfo | None:
    """The local model server, if one is registered and answers its health check."""
    return background.read(server_file(config), HEALTH_PATH)


def registered_url(config: Settings) -> str | None:
    """Where the model server is registered now (a restarted one may have a new port), if its
    process lives. Only the registration is read: the caller's own request is the health check."""
    try:
        info = background.ServerInfo(**json.loads(server_file(config).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return info.url if background.alive(info.pid) else None


def served_variants(info: background.ServerInfo) -> dict[str, Any]:
    """The running server's variants with their invocation counts (`GET /variants`)."""
    with urllib.request.urlopen(info.url + "/variants", timeout=5) as response:
        return json.loads(response.read())


def read_live(aws: Any, config: Settings) -> LiveRollout:
    """The deployed state, read back from the endpoint in SageMaker (local or AWS); raises
    `sagemaker_endpoint.ControlPlaneError` when it cannot be read."""
    return read_rollout(aws.client("sagemaker"), config.names.endpoint)


def local_model_path(aws: Any, config: Settings, spec: VariantSpec) -> str:
    """The model server's copy of a version's model.tar.gz, fetched from S3 once per content.

    Named by the object's ETag: a local stack reset that registers different models under the
    same version numbers never serves a stale copy.
    """
    if not spec.model_path.startswith("s3://"):
        return spec.model_path
    folder = endpoint_dir(config) / "models" / f"v{spec.model_version}"
    try:
        local = cached_copy(aws.client("s3"), spec.model_path, folder, ".tar.gz")
    except FileNotFoundError as error:
        raise EndpointError(
            f"model version {spec.model_version}: {spec.model_path} is missing"
        ) from error
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
        raise EndpointError(json.loads(error.read()).get("message", str(error))) from error
    return True


def apply_state(
    aws: Any, config: Settings, target: Target, state: RolloutState, known: LiveRollout
) -> str:
    """Make `state` live on the target; return a line saying what happened.

    Both targets register it in SageMaker (Model, EndpointConfig, Endpoint); locally the model
    server then loads the same variants from its copies of the models.
    """
    if state.config is None:
        raise EndpointError("nothing to apply")
    if target == "local":
        local = server_config(aws, config, state.config)
        role, image = config.pipeline_role_arn or LOCAL_ROLE_ARN, config.image_uri
    else:
        role, image = config.pipeline_role_arn, config.image_uri
        if role is None:
            raise EndpointError("set SECUREBANK_PIPELINE_ROLE_ARN (the endpoint execution role)")
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
