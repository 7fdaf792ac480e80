"""Rollout states in the SageMaker control plane, on the local AWS (moto's server over HTTP).

Written by `apply_to_sagemaker`, read back by `read_rollout`, and seen by SageMaker users' own
clients: boto3, sagemaker-core `Endpoint.get()` and the AWS CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from securebank.inference import rollout
from securebank.inference.endpoint import EndpointConfig, VariantSpec
from securebank.inference.rollout import RolloutState
from securebank.inference.sagemaker_endpoint import (
    PREVIOUS_TAG,
    apply_to_sagemaker,
    deployment_config,
    endpoint_config_request,
    read_rollout,
)

ROLE = "arn:aws:iam::123456789012:role/endpoint"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/securebank:1"
URL = "s3://artifacts/models/{}/model.tar.gz"


def _config(name, shadow=False):
    v1 = VariantSpec("v1", "1", URL.format(1), 90)
    v2 = VariantSpec("v2", "2", URL.format(2), 10)
    if shadow:
        return EndpointConfig(name, (v1,), shadow=v2)
    return EndpointConfig(name, (v1, v2))


def _apply(sm, state, known=None):
    return apply_to_sagemaker(
        sm,
        state,
        image_uri=IMAGE,
        role_arn=ROLE,
        capture_uri="s3://lake/capture/",
        alarm_name="errors",
        known=known,
        update_in_place=False,
    )


def test_first_deploy_creates_models_config_with_capture_and_endpoint(aws):
    sm = aws.client("sagemaker")
    name = f"{aws.names.base}-endpoint"
    result = _apply(sm, RolloutState(config=_config(name)))
    assert result["action"] == "create"
    endpoint = sm.describe_endpoint(EndpointName=name)
    assert endpoint["EndpointStatus"] == "InService"
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    weights = {v["VariantName"]: v["InitialVariantWeight"] for v in config["ProductionVariants"]}
    assert weights == {"v1": 90.0, "v2": 10.0}
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == "s3://lake/capture/"
    model = sm.describe_model(ModelName=f"{name}-v2")
    assert model["PrimaryContainer"]["ModelDataUrl"] == URL.format(2)
    assert model["PrimaryContainer"]["Environment"]["SECUREBANK_MODEL_VERSION"] == "2"
    assert name in {e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]}


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


def test_no_endpoint_reads_as_nothing_deployed(aws):
    live = read_rollout(aws.client("sagemaker"), f"{aws.names.base}-nothing")
    assert live.state == RolloutState() and live.config_name is None


def test_every_transition_is_read_back_from_the_live_endpoint_config(aws):
    """deploy → canary → promote → rollback → shadow → rollback, each step read back live."""
    sm = aws.client("sagemaker")
    name = f"{aws.names.base}-endpoint"

    def step(transition):
        known = read_rollout(sm, name)
        wanted = transition(known.state)
        _apply(sm, wanted, known)
        live = read_rollout(sm, name)
        assert live.state == wanted
        assert live.status == "InService"
        return live

    first = step(lambda s: rollout.deploy(s, name, "1", URL.format(1)))
    assert first.state.previous is None
    canary = step(lambda s: rollout.deploy(s, name, "2", URL.format(2), "canary", 25))
    assert [(v.model_version, v.weight) for v in canary.state.config.variants] == [
        ("1", 75.0),
        ("2", 25.0),
    ]
    promoted = step(rollout.promote)
    assert [v.model_version for v in promoted.state.config.variants] == ["2"]
    assert [v.model_version for v in promoted.state.previous.variants] == ["1"]
    back = step(rollout.rollback)
    assert [v.model_version for v in back.state.config.variants] == ["1"]
    assert back.state.previous is None
    shadowed = step(lambda s: rollout.deploy(s, name, "2", URL.format(2), "shadow"))
    assert shadowed.state.config.shadow.model_version == "2"
    assert step(rollout.rollback).state.config.shadow is None
    # The previous config is referred to by name, as a tag of the live EndpointConfig.
    tags = sm.list_tags(
        ResourceArn=sm.describe_endpoint_config(EndpointConfigName=promoted.config_name)[
            "EndpointConfigArn"
        ]
    )["Tags"]
    assert {t["Key"]: t["Value"] for t in tags}[PREVIOUS_TAG] == promoted.previous_name


def test_a_change_made_outside_the_platform_is_what_the_next_command_sees(aws):
    """Someone points the endpoint at an older config (as SageMaker's auto-rollback does)."""
    sm = aws.client("sagemaker")
    name = f"{aws.names.base}-endpoint"
    _apply(sm, rollout.deploy(RolloutState(), name, "1", URL.format(1)))
    first = read_rollout(sm, name)
    known = first
    _apply(sm, rollout.deploy(known.state, name, "2", URL.format(2), "canary", 10), known)
    sm.delete_endpoint(EndpointName=name)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=first.config_name)
    live = read_rollout(sm, name)
    assert [v.model_version for v in live.state.config.variants] == ["1"]
    with pytest.raises(rollout.RolloutError, match="no canary or shadow"):
        rollout.promote(live.state)


def test_sagemaker_users_own_clients_see_the_endpoint(aws, local_aws, monkeypatch):
    """boto3, sagemaker-core and the AWS CLI describe the endpoint a deploy registered."""
    from sagemaker.core.resources import Endpoint

    sm = aws.client("sagemaker")
    name = f"{aws.names.base}-endpoint"
    _apply(sm, rollout.deploy(RolloutState(), name, "1", URL.format(1)))
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_aws.url)  # moto serves SageMaker
    session = boto3.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
    )
    endpoint = Endpoint.get(name, session=session, region="us-east-1")
    assert endpoint.endpoint_status == "InService"
    assert [v.variant_name for v in endpoint.production_variants] == ["v1"]
    assert endpoint.endpoint_config_name == read_rollout(sm, name).config_name

    aws_cli = shutil.which("aws", path=str(Path(sys.executable).parent))
    assert aws_cli is not None, "the AWS CLI is a dev dependency (awscli in pyproject.toml)"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": local_aws.url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    described = subprocess.run(
        [aws_cli, "sagemaker", "describe-endpoint", "--endpoint-name", name],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    document = json.loads(described.stdout)
    assert document["EndpointStatus"] == "InService"
    assert document["ProductionVariants"][0]["VariantName"] == "v1"
