"""The same rollout states applied to a SageMaker real-time endpoint through boto3.

Each state becomes a SageMaker Model per version, a new EndpointConfig (production variants with
their weights, the shadow as a ShadowProductionVariant, data capture to the lake) and then
CreateEndpoint, or UpdateEndpoint with a blue/green deployment: the new fleet takes a canary
share of traffic first and SageMaker rolls back by itself if the alarm fires.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from securebank.inference.endpoint import EndpointConfig, VariantSpec

INSTANCE_TYPE = "ml.m5.large"


def model_name(endpoint: str, spec: VariantSpec) -> str:
    return f"{endpoint}-v{spec.model_version}"


def endpoint_config_request(
    config: EndpointConfig,
    capture_uri: str,
    kms_key_id: str | None = None,
    stamp: str | None = None,
) -> dict[str, Any]:
    stamp = stamp or datetime.now(UTC).strftime("%Y%m%d%H%M%S")

    def variant(spec: VariantSpec) -> dict[str, Any]:
        return {
            "VariantName": spec.name,
            "ModelName": model_name(config.name, spec),
            "InitialInstanceCount": 1,
            "InstanceType": INSTANCE_TYPE,
            "InitialVariantWeight": float(spec.weight),
        }

    request: dict[str, Any] = {
        "EndpointConfigName": f"{config.name}-{stamp}",
        "ProductionVariants": [variant(v) for v in config.variants],
        "DataCaptureConfig": {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": capture_uri,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
        },
    }
    if kms_key_id:
        request["KmsKeyId"] = kms_key_id
        request["DataCaptureConfig"]["KmsKeyId"] = kms_key_id
    if config.shadow is not None:
        request["ShadowProductionVariants"] = [variant(config.shadow)]
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


def apply_to_sagemaker(
    sagemaker: Any,
    config: EndpointConfig,
    *,
    image_uri: str,
    role_arn: str,
    capture_uri: str,
    alarm_name: str,
    kms_key_id: str | None = None,
) -> dict[str, Any]:
    """Create the models, a new endpoint config, then create or update the endpoint."""
    specs = list(config.variants) + ([config.shadow] if config.shadow else [])
    existing = {m["ModelName"] for m in sagemaker.list_models(NameContains=config.name)["Models"]}
    for spec in specs:
        name = model_name(config.name, spec)
        if name not in existing:
            sagemaker.create_model(
                ModelName=name,
                ExecutionRoleArn=role_arn,
                PrimaryContainer={
                    "Image": image_uri,
                    "ModelDataUrl": spec.model_path,
                    "Environment": {"SECUREBANK_MODEL_VERSION": spec.model_version},
                },
            )
    request = endpoint_config_request(config, capture_uri, kms_key_id)
    sagemaker.create_endpoint_config(**request)
    endpoints = sagemaker.list_endpoints(NameContains=config.name)["Endpoints"]
    if any(e["EndpointName"] == config.name for e in endpoints):
        call = {
            "EndpointName": config.name,
            "EndpointConfigName": request["EndpointConfigName"],
            "DeploymentConfig": deployment_config(alarm_name),
        }
        sagemaker.update_endpoint(**call)
        return {"action": "update", **call}
    call = {"EndpointName": config.name, "EndpointConfigName": request["EndpointConfigName"]}
    sagemaker.create_endpoint(**call)
    return {"action": "create", **call}
