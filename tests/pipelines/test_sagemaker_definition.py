"""The SageMaker Pipeline definition, built offline with the SDK (S3 on the local AWS)."""

from __future__ import annotations

import pytest

from securebank.pipelines.steps import FAIL_STEP, GATE, REGISTER, STEPS, FromStep


@pytest.fixture(scope="module")
def definition(moto_endpoint, tmp_path_factory):
    import json
    import os

    from securebank.aws import AwsClients
    from securebank.local_stack import provision
    from securebank.pipelines.sagemaker_definition import build_pipeline, prepare_sdk
    from securebank.resources import ResourceNames

    names = ResourceNames(prefix="sbdef", environment="test")
    aws = AwsClients(region="us-east-1", endpoint_url=moto_endpoint, local=True)
    provision(aws, names)
    saved = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = moto_endpoint
    try:
        prepare_sdk("us-east-1", tmp_path_factory.mktemp("sdk"), validate_role=False)
        pipeline = build_pipeline(
            names,
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/securebank:test",
            "arn:aws:iam::123456789012:role/pipeline",
            aws.session,
            aws.client("sagemaker"),
        )
        document = json.loads(pipeline.definition())
    finally:
        if saved is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = saved
    return names, document


def _steps(document):
    return {step["Name"]: step for step in document["Steps"]}


def test_definition_has_the_shared_step_list_in_order(definition):
    _, document = definition
    assert [s["Name"] for s in document["Steps"]] == [s.name for s in STEPS] + [GATE.name]
    steps = _steps(document)
    for step in STEPS:
        kind = {"processing": "Processing", "training": "Training"}[step.kind]
        assert steps[step.name]["Type"] == kind
        if step.kind == "processing":
            entry = steps[step.name]["Arguments"]["AppSpecification"]["ContainerEntrypoint"]
            assert entry == ["python", "-m", step.module]


def test_steps_depend_on_each_others_outputs(definition):
    _, document = definition
    steps = _steps(document)
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
        for c in steps["Train"]["Arguments"]["InputDataConfig"]
    }
    assert channels["train"] == {
        "Get": "Steps.BuildFeatures.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }
    inputs = {
        i["InputName"]: i["S3Input"]["S3Uri"]
        for i in steps["Evaluate"]["Arguments"]["ProcessingInputs"]
    }
    assert inputs["model"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert inputs["test"] == {
        "Get": "Steps.BuildFeatures.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
    }
    declared = {(s.name, n): src for s in STEPS for n, src in s.inputs.items()}
    assert all(isinstance(declared[("Evaluate", n)], FromStep) for n in inputs)


def test_quality_gate_reads_the_evaluation_property_file(definition):
    _, document = definition
    gate = _steps(document)[GATE.name]
    conditions = gate["Arguments"]["Conditions"]
    assert conditions[0]["Type"] == "GreaterThanOrEqualTo"
    left = conditions[0]["LeftValue"]["Std:JsonGet"]
    assert left["Path"] == "metrics.ap.value"
    assert left["PropertyFile"] == {"Get": "Steps.Evaluate.PropertyFiles.Evaluation"}
    assert conditions[0]["RightValue"] == {"Get": "Parameters.MinAveragePrecision"}
    assert conditions[1]["Type"] == "GreaterThan"
    assert conditions[1]["RightValue"]["Std:JsonGet"]["Path"] == "baseline.ap.value"
    assert [s["Name"] for s in gate["Arguments"]["ElseSteps"]] == [FAIL_STEP]


def test_registration_targets_the_model_package_group_with_the_approval_parameter(definition):
    names, document = definition
    gate = _steps(document)[GATE.name]
    (register,) = gate["Arguments"]["IfSteps"]
    assert register["Type"] == "RegisterModel"
    arguments = register["Arguments"]
    assert arguments["ModelPackageGroupName"] == names.model_package_group
    assert arguments["ModelApprovalStatus"] == {"Get": "Parameters.ApprovalStatus"}
    container = arguments["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == {
        "Get": f"Steps.{REGISTER.model_step}.ModelArtifacts.S3ModelArtifacts"
    }
    statistics = arguments["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    parameters = {p["Name"]: p for p in document["Parameters"]}
    assert parameters["ApprovalStatus"]["DefaultValue"] == "PendingManualApproval"
