"""Deploying rollout states to SageMaker: the calls and configs, checked on the local AWS."""

from __future__ import annotations

from securebank.inference.endpoint import EndpointConfig, VariantSpec
from securebank.inference.sagemaker_endpoint import (
    apply_to_sagemaker,
    deployment_config,
    endpoint_config_request,
)

ROLE = "arn:aws:iam::123456789012:role/endpoint"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/securebank:1"


def _config(name, shadow=False):
    v1 = VariantSpec("v1", "1", "s3://artifacts/models/1/model.tar.gz", 90)
    v2 = VariantSpec("v2", "2", "s3://artifacts/models/2/model.tar.gz", 10)
    if shadow:
        return EndpointConfig(name, (v1,), shadow=v2)
    return EndpointConfig(name, (v1, v2))


def test_first_deploy_creates_models_config_with_capture_and_endpoint(aws):
    sm = aws.client("sagemaker")
    name = f"{aws.names.base}-endpoint"
    result = apply_to_sagemaker(
        sm,
        _config(name),
        image_uri=IMAGE,
        role_arn=ROLE,
        capture_uri="s3://lake/capture/",
        alarm_name="errors",
    )
    assert result["action"] == "create"
    endpoint = sm.describe_endpoint(EndpointName=name)
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    weights = {v["VariantName"]: v["InitialVariantWeight"] for v in config["ProductionVariants"]}
    assert weights == {"v1": 90.0, "v2": 10.0}
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == "s3://lake/capture/"
    model = sm.describe_model(ModelName=f"{name}-v2")
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://artifacts/models/2/model.tar.gz"
    assert model["PrimaryContainer"]["Environment"]["SECUREBANK_MODEL_VERSION"] == "2"


def test_shadow_becomes_a_shadow_production_variant_and_updates_are_blue_green():
    request = endpoint_config_request(_config("ep", shadow=True), "s3://l/c/", "key-1", "20260101")
    assert request["EndpointConfigName"] == "ep-20260101"
    assert [v["VariantName"] for v in request["ProductionVariants"]] == ["v1"]
    assert [v["VariantName"] for v in request["ShadowProductionVariants"]] == ["v2"]
    assert request["KmsKeyId"] == "key-1"
    policy = deployment_config("ep-errors", canary_percent=10)
    routing = policy["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY" and routing["CanarySize"]["Value"] == 10
    assert policy["AutoRollbackConfiguration"]["Alarms"] == [{"AlarmName": "ep-errors"}]
