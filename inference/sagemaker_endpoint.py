"""Rollout states in the SageMaker control plane: written there, and read back from it.

Each state becomes a SageMaker Model per version, a new EndpointConfig (production variants with
their weights, the shadow as a ShadowProductionVariant, data capture to the lake) and then
CreateEndpoint, or UpdateEndpoint with a blue/green deployment: the new fleet takes a canary
share of traffic first and SageMaker rolls back by itself if the alarm fires.

The live EndpointConfig is the record of what is deployed, on AWS and locally (moto's SageMaker
API): `read_rollout` rebuilds the `RolloutState` from DescribeEndpoint → DescribeEndpointConfig →
DescribeModel, so an automatic rollback by SageMaker, or a change made with another tool, is what
the next `promote`/`rollback` starts from. Two facts ride on tags of the EndpointConfig: the
configuration to roll back to (`securebank:previous-config`, the name of another EndpointConfig)
and the shadow variant (`securebank:shadow-variant`), because moto 5.2.5 drops
ShadowProductionVariants; the field itself wins where the API keeps it.

moto has no UpdateEndpoint (it answers 500): with `update_in_place=False` (the local stack) an
existing endpoint is deleted and created again on the new config, which moto reports InService at
once; the local model server switches variants atomically on its own side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from securebank.inference.endpoint import EndpointConfig, VariantSpec
from securebank.inference.rollout import RolloutState

INSTANCE_TYPE = "ml.m5.large"
PREVIOUS_TAG = "securebank:previous-config"
SHADOW_TAG = "securebank:shadow-variant"
VERSION_ENV = "SECUREBANK_MODEL_VERSION"


class ControlPlaneError(RuntimeError):
    """The endpoint in SageMaker is not one this platform can read (or the API refused)."""


@dataclass(frozen=True)
class LiveRollout:
    """What SageMaker holds: the state, and the names of the configs it was read from."""

    state: RolloutState
    config_name: str | None = None
    previous_name: str | None = None
    status: str | None = None


def model_name(endpoint: str, spec: VariantSpec) -> str:
    return f"{endpoint}-v{spec.model_version}"


def _variant(config: EndpointConfig, spec: VariantSpec) -> dict[str, Any]:
    return {
        "VariantName": spec.name,
        "ModelName": model_name(config.name, spec),
        "InitialInstanceCount": 1,
        "InstanceType": INSTANCE_TYPE,
        "InitialVariantWeight": float(spec.weight),
    }


def endpoint_config_request(
    config: EndpointConfig,
    capture_uri: str,
    kms_key_id: str | None = None,
    stamp: str | None = None,
    previous_config: str | None = None,
) -> dict[str, Any]:
    stamp = stamp or datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")[:-3]
    request: dict[str, Any] = {
        "EndpointConfigName": f"{config.name}-{stamp}",
        "ProductionVariants": [_variant(config, v) for v in config.variants],
        "DataCaptureConfig": {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": capture_uri,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
        },
    }
    tags = []
    if kms_key_id:
        request["KmsKeyId"] = kms_key_id
        request["DataCaptureConfig"]["KmsKeyId"] = kms_key_id
    if config.shadow is not None:
        shadow = _variant(config, config.shadow)
        request["ShadowProductionVariants"] = [shadow]
        tags.append({"Key": SHADOW_TAG, "Value": f"{shadow['VariantName']} {shadow['ModelName']}"})
    if previous_config:
        tags.append({"Key": PREVIOUS_TAG, "Value": previous_config})
    if tags:
        request["Tags"] = tags
    return request


def deployment_config(alarm_name: str, canary_percent: int = 10) -> dict[str, Any]:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": canary_percent},
                "WaitIntervalInSeconds": 300,
            },
            "TerminationWaitInSeconds": 600,
            "MaximumExecutionTimeoutInSeconds": 3600,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm_name}]},
    }


def _missing(error: ClientError) -> bool:
    message = error.response.get("Error", {}).get("Message", "")
    return "Could not find" in message or "does not exist" in message


def _describe_endpoint(sagemaker: Any, name: str) -> dict[str, Any] | None:
    try:
        return sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as error:
        if _missing(error):
            return None
        raise


def _spec_from(sagemaker: Any, variant: dict[str, Any]) -> VariantSpec:
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    version = (container.get("Environment") or {}).get(VERSION_ENV)
    if version is None:
        raise ControlPlaneError(
            f"model {variant['ModelName']} has no {VERSION_ENV}: not deployed by this platform"
        )
    return VariantSpec(
        name=variant["VariantName"],
        model_version=version,
        model_path=container["ModelDataUrl"],
        weight=float(variant.get("InitialVariantWeight", 1.0)),
    )


def _read_config(
    sagemaker: Any, endpoint_name: str, config_name: str
) -> tuple[EndpointConfig, dict[str, str]]:
    described = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    tags = {
        t["Key"]: t["Value"]
        for t in sagemaker.list_tags(ResourceArn=described["EndpointConfigArn"]).get("Tags", [])
    }
    variants = tuple(_spec_from(sagemaker, v) for v in described["ProductionVariants"])
    shadows = described.get("ShadowProductionVariants") or []
    if not shadows and SHADOW_TAG in tags:
        variant_name, model = tags[SHADOW_TAG].split(" ", 1)
        shadows = [{"VariantName": variant_name, "ModelName": model, "InitialVariantWeight": 1.0}]
    shadow = _spec_from(sagemaker, shadows[0]) if shadows else None
    return EndpointConfig(endpoint_name, variants, shadow=shadow), tags


def read_rollout(sagemaker: Any, endpoint_name: str) -> LiveRollout:
    """The deployed state, read from the live endpoint; an empty state when there is none.

    While an update is in progress the pending configuration is the one reported: it is what
    the last command asked for, and what a rollback would undo.
    """
    endpoint = _describe_endpoint(sagemaker, endpoint_name)
    if endpoint is None:
        return LiveRollout(RolloutState())
    pending = (endpoint.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    config_name = pending or endpoint["EndpointConfigName"]
    config, tags = _read_config(sagemaker, endpoint_name, config_name)
    previous_name = tags.get(PREVIOUS_TAG)
    previous = None
    if previous_name:
        try:
            previous, _ = _read_config(sagemaker, endpoint_name, previous_name)
        except ClientError as error:
            if not _missing(error):
                raise
            previous_name = None
    return LiveRollout(
        RolloutState(config=config, previous=previous),
        config_name=config_name,
        previous_name=previous_name,
        status=endpoint.get("EndpointStatus"),
    )


def _create_models(
    sagemaker: Any, config: EndpointConfig, image_uri: str, role_arn: str, done: set[str]
) -> None:
    specs = list(config.variants) + ([config.shadow] if config.shadow else [])
    for spec in specs:
        name = model_name(config.name, spec)
        if name in done:
            continue
        try:
            sagemaker.describe_model(ModelName=name)
        except ClientError as error:
            if not _missing(error):
                raise
            sagemaker.create_model(
                ModelName=name,
                ExecutionRoleArn=role_arn,
                PrimaryContainer={
                    "Image": image_uri,
                    "ModelDataUrl": spec.model_path,
                    "Environment": {VERSION_ENV: spec.model_version},
                },
            )
        done.add(name)


def _create_config(sagemaker: Any, request: dict[str, Any]) -> str:
    """Create the EndpointConfig; a name taken in the same millisecond gets a suffix."""
    base = request["EndpointConfigName"]
    for attempt in range(100):
        name = base if attempt == 0 else f"{base}-{attempt}"
        try:
            sagemaker.describe_endpoint_config(EndpointConfigName=name)
        except ClientError as error:
            if not _missing(error):
                raise
            sagemaker.create_endpoint_config(**{**request, "EndpointConfigName": name})
            return name
    raise ControlPlaneError(f"no free EndpointConfig name after {base}")


def apply_to_sagemaker(
    sagemaker: Any,
    state: RolloutState,
    *,
    image_uri: str,
    role_arn: str,
    capture_uri: str,
    alarm_name: str,
    known: LiveRollout | None = None,
    kms_key_id: str | None = None,
    update_in_place: bool = True,
) -> dict[str, Any]:
    """Create the models and a new EndpointConfig for `state`, then create or update the endpoint.

    `known` is the state the transition started from (`read_rollout`): a previous configuration
    that is one of its configs is referred to by name; any other is registered as an
    EndpointConfig of its own (not deployed), so a rollback can always find it.
    """
    config = state.config
    if config is None:
        raise ControlPlaneError("nothing to apply")
    models: set[str] = set()
    _create_models(sagemaker, config, image_uri, role_arn, models)
    previous_name = None
    if state.previous is not None:
        if known is not None and state.previous == known.state.config:
            previous_name = known.config_name
        elif known is not None and state.previous == known.state.previous:
            previous_name = known.previous_name
        if previous_name is None:
            _create_models(sagemaker, state.previous, image_uri, role_arn, models)
            previous_name = _create_config(
                sagemaker, endpoint_config_request(state.previous, capture_uri, kms_key_id)
            )
    request = endpoint_config_request(
        config, capture_uri, kms_key_id, previous_config=previous_name
    )
    config_name = _create_config(sagemaker, request)
    call: dict[str, Any] = {"EndpointName": config.name, "EndpointConfigName": config_name}
    if _describe_endpoint(sagemaker, config.name) is None:
        sagemaker.create_endpoint(**call)
        return {"action": "create", **call}
    if update_in_place:
        call["DeploymentConfig"] = deployment_config(alarm_name)
        sagemaker.update_endpoint(**call)
        return {"action": "update", **call}
    sagemaker.delete_endpoint(EndpointName=config.name)
    sagemaker.create_endpoint(**call)
    return {"action": "replace", **call}
