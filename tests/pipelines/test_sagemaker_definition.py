"""The SageMaker Pipeline definition, built offline with the SDK (S3 on the local AWS)."""

from __future__ import annotations

import pytest

from securebank.pipelines.steps import FAIL_STEP, GATE, REGISTER, STEPS, FromStep


@pytest.fixture(scope="module")
def definition(moto_endpoint, tmp_path_factory):
    import json
    import os

    from securebank.aws import AwsClients
    from securebank.local.stack import provision
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
        if step.tuning is not None:
            kind = "Tuning"
        assert steps[step.name]["Type"] == kind
        if step.kind == "processing":
            entry = steps[step.name]["Arguments"]["AppSpecification"]["ContainerEntrypoint"]
            assert entry == ["python", "-m", step.module]


def test_steps_depend_on_each_others_outputs(definition):
    names, document = definition
    steps = _steps(document)
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
        for c in steps["Train"]["Arguments"]["TrainingJobDefinition"]["InputDataConfig"]
    }
    assert set(channels) == {"train", "validation", "refit"}
    assert channels["train"] == {
        "Get": "Steps.BuildFeatures.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }
    inputs = {
        i["InputName"]: i["S3Input"]["S3Uri"]
        for i in steps["Evaluate"]["Arguments"]["ProcessingInputs"]
    }
    # The best tuning job's model: OUTPUT_PATH/JOB_NAME/output/model.tar.gz.
    joined = inputs["model"]["Std:Join"]
    assert joined["On"] == "/"
    assert joined["Values"][:3] == ["s3:/", names.artifacts_bucket, "models"]
    assert joined["Values"][3] == {"Get": "Steps.Train.TrainingJobSummaries[0].TrainingJobName"}
    assert joined["Values"][4] == "output/model.tar.gz"
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
    model_data = container["ModelDataUrl"]["Std:Join"]["Values"]
    assert model_data[3] == {
        "Get": f"Steps.{REGISTER.model_step}.TrainingJobSummaries[0].TrainingJobName"
    }
    statistics = arguments["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    parameters = {p["Name"]: p for p in document["Parameters"]}
    assert parameters["ApprovalStatus"]["DefaultValue"] == "PendingManualApproval"


def test_training_is_a_tuning_step_over_the_shared_search_space(definition):
    from securebank.pipelines.sagemaker_definition import TUNING_MAX_SECONDS, TUNING_TRIALS
    from securebank.training.train import OBJECTIVE_METRIC
    from securebank.training.tuning import SEARCH_SPACE

    _, document = definition
    train = _steps(document)["Train"]
    assert train["Type"] == "Tuning"
    config = train["Arguments"]["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize",
        "MetricName": OBJECTIVE_METRIC,
    }
    assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == TUNING_TRIALS
    assert config["ResourceLimits"]["MaxRuntimeInSeconds"] == TUNING_MAX_SECONDS
    ranges = config["ParameterRanges"]
    declared = {
        r["Name"]: (float(r["MinValue"]), float(r["MaxValue"]), r["ScalingType"])
        for kind in ("IntegerParameterRanges", "ContinuousParameterRanges")
        for r in ranges[kind]
    }
    assert declared == {r.name: (r.low, r.high, r.scaling) for r in SEARCH_SPACE}
    job = train["Arguments"]["TrainingJobDefinition"]
    (metric,) = job["AlgorithmSpecification"]["MetricDefinitions"]
    import re

    assert re.search(metric["Regex"], "x\nvalidation_ap=0.731200\n").group(1) == "0.731200"
    static = job["StaticHyperParameters"]
    assert not set(static) & {r.name for r in SEARCH_SPACE}
    number_of_rounds = {"Get": "Parameters.NumRound"}
    assert static["num_round"] == {"Std:Join": {"On": "", "Values": [number_of_rounds]}}
    parameters = {p["Name"] for p in document["Parameters"]}
    plan = {"HistoryStart", "TrainDays", "ValidationDays", "TestDays", "LabelDelayDays"}
    assert plan <= parameters
    assert "TuningTrials" not in parameters  # local-only: SageMaker's bounds are fixed above
