"""The training pipeline as a SageMaker Pipeline, built with the SageMaker Python SDK v3.

Every step runs the platform's own container image (the Dockerfile): processing steps with
`python -m MODULE` as the entrypoint, the training step through the image's `train` command
(SageMaker's bring-your-own-container contract) inside a `TuningStep` whose ranges are
`training.tuning.SEARCH_SPACE` (objective `validation_ap`, read from the training log; the best
job's model is what Evaluate and registration use), registration through `ModelBuilder.register`.
The step list, channels and parameters come from `pipelines.steps`; nothing is declared twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from securebank.pipelines.steps import (
    EVALUATION_FILE,
    FAIL_STEP,
    GATE,
    REGISTER,
    RUNS_PREFIX,
    STEPS,
    FromParameter,
    FromStep,
    Parameter,
    Step,
    parameters,
)
from securebank.resources import ResourceNames
from securebank.training.container import PROCESSING_ROOT, processing_input, processing_output
from securebank.training.train import OBJECTIVE_METRIC, OBJECTIVE_REGEX
from securebank.training.tuning import SEARCH_SPACE

INSTANCE_TYPE = "ml.m5.xlarge"
MODELS_PREFIX = "models"
#: The TuningStep's bounds when none are given: trials (one at a time) and the whole search's time.
TUNING_TRIALS = 8
TUNING_MAX_SECONDS = 3600
INFERENCE_INSTANCE_TYPE = "ml.m5.large"


_TELEMETRY_OPT_OUT = (
    "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
)


def prepare_sdk(
    region: str,
    config_dir: Path,
    validate_role: bool,
    local_endpoints: tuple[str | None, Mapping[str, str]] | None = None,
) -> None:
    """Set what the SDK reads from the environment at import time, before importing it.

    SDK 3.27 builds a boto3 client while its modules import (it needs a region then), phones home
    unless a config file opts out, and checks the role with IAM unless told not to (the local AWS
    has no iam:SimulatePrincipalPolicy). With `local_endpoints` (default, per service) the SDK's
    own clients go to the local AWS. Called only by entry points.
    """
    if local_endpoints is not None:
        endpoint_url, service_endpoints = local_endpoints
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url or ""
        for service, url in service_endpoints.items():  # the local stack's per-service mix
            os.environ[f"AWS_ENDPOINT_URL_{service.upper()}"] = url
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    config_dir.mkdir(parents=True, exist_ok=True)
    config = config_dir / "sagemaker-config.yaml"
    config.write_text(_TELEMETRY_OPT_OUT)
    os.environ.setdefault("SAGEMAKER_USER_CONFIG_OVERRIDE", str(config.resolve()))
    if not validate_role:
        os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"


def _sdk_parameter(parameter: Parameter) -> Any:
    from sagemaker.core.workflow.parameters import (
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )

    kind = {"string": ParameterString, "integer": ParameterInteger, "float": ParameterFloat}
    return kind[parameter.kind](name=parameter.name, default_value=parameter.default)


def build_pipeline(
    names: ResourceNames,
    image_uri: str,
    role_arn: str,
    boto_session: Any,
    sagemaker_client: Any | None = None,
    tuning_trials: int = TUNING_TRIALS,
    tuning_max_seconds: int = TUNING_MAX_SECONDS,
) -> Any:
    """The `sagemaker.mlops.workflow.pipeline.Pipeline` object (upsert or inspect it).

    `tuning_trials`/`tuning_max_seconds` bound the TuningStep (fixed at definition time).
    """
    if tuning_trials < 1 or tuning_max_seconds < 1:
        raise ValueError("tuning needs at least 1 trial and 1 second")
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.parameter import ContinuousParameter, IntegerParameter
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )
    from sagemaker.core.workflow.conditions import (
        ConditionGreaterThan,
        ConditionGreaterThanOrEqualTo,
    )
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import (
        CacheConfig,
        ProcessingStep,
        TrainingStep,
        TuningStep,
    )
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import Compute, InputData, OutputDataConfig
    from sagemaker.train.tuner import HyperparameterTuner

    session = PipelineSession(
        boto_session=boto_session,
        sagemaker_client=sagemaker_client,
        default_bucket=names.artifacts_bucket,
    )
    params = {p.name: _sdk_parameter(p) for p in parameters(names) if not p.local_only}
    cache = CacheConfig(enable_caching=True, expire_after="P30D")
    run_prefix = [
        "s3:/",
        names.artifacts_bucket,
        RUNS_PREFIX,
        ExecutionVariables.PIPELINE_EXECUTION_ID,
    ]
    built: dict[str, Any] = {}
    property_files: dict[str, Any] = {}

    def output_uri(step: str, output: str) -> Any:  # steps.output_uri, as a pipeline expression
        return Join(on="/", values=[*run_prefix, step, output])

    def source(src: FromParameter | FromStep) -> Any:
        if isinstance(src, FromParameter):
            return params[src.parameter]
        producer = built[src.step]
        if isinstance(producer, TrainingStep):
            return producer.properties.ModelArtifacts.S3ModelArtifacts
        if isinstance(producer, TuningStep):
            return producer.get_top_model_s3_uri(
                top_k=0, s3_bucket=names.artifacts_bucket, prefix=MODELS_PREFIX
            )
        return producer.properties.ProcessingOutputConfig.Outputs[src.output].S3Output.S3Uri

    def processing_step(step: Step) -> ProcessingStep:
        processor = Processor(
            role=role_arn,
            image_uri=image_uri,
            instance_count=1,
            instance_type=INSTANCE_TYPE,
            entrypoint=["python", "-m", step.module],
            base_job_name=f"{names.base}-{step.name.lower()}",
            sagemaker_session=session,
        )
        arguments: list[Any] = ["--root", str(PROCESSING_ROOT)]
        for flag, parameter in step.arguments.items():
            arguments += [flag, params[parameter].to_string()]
        step_args = processor.run(
            inputs=[
                ProcessingInput(
                    input_name=name,
                    s3_input=ProcessingS3Input(
                        s3_uri=source(src),
                        local_path=str(processing_input(PROCESSING_ROOT, name)),
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                )
                for name, src in step.inputs.items()
            ],
            outputs=[
                ProcessingOutput(
                    output_name=name,
                    s3_output=ProcessingS3Output(
                        s3_uri=output_uri(step.name, name),
                        local_path=str(processing_output(PROCESSING_ROOT, name)),
                        s3_upload_mode="EndOfJob",
                    ),
                )
                for name in step.outputs
            ],
            arguments=arguments,
        )
        files = []
        if step.property_file is not None:
            file_name, path = step.property_file
            prop = PropertyFile(name=file_name, output_name=step.outputs[0], path=path)
            property_files[file_name] = prop
            files.append(prop)
        return ProcessingStep(
            name=step.name, step_args=step_args, property_files=files, cache_config=cache
        )

    def training_step(step: Step) -> TrainingStep | TuningStep:
        trainer = ModelTrainer(
            training_image=image_uri,
            role=role_arn,
            compute=Compute(instance_type=INSTANCE_TYPE, instance_count=1),
            hyperparameters={name: params[p] for name, p in step.arguments.items()},
            output_data_config=OutputDataConfig(
                s3_output_path=f"s3://{names.artifacts_bucket}/{MODELS_PREFIX}"
            ),
            base_job_name=f"{names.base}-{step.name.lower()}",
            sagemaker_session=session,
        )
        channels = [
            InputData(channel_name=name, data_source=source(src))
            for name, src in step.inputs.items()
        ]
        if step.tuning is None:
            step_args = trainer.train(input_data_config=channels)
            return TrainingStep(name=step.name, step_args=step_args, cache_config=cache)
        tuner = HyperparameterTuner(
            model_trainer=trainer,
            objective_metric_name=OBJECTIVE_METRIC,
            objective_type="Maximize",
            metric_definitions=[{"Name": OBJECTIVE_METRIC, "Regex": OBJECTIVE_REGEX}],
            hyperparameter_ranges={
                r.name: (IntegerParameter if r.kind == "integer" else ContinuousParameter)(
                    r.low, r.high, scaling_type=r.scaling
                )
                for r in SEARCH_SPACE
            },
            strategy="Bayesian",
            max_jobs=tuning_trials,
            max_parallel_jobs=1,
            max_runtime_in_seconds=tuning_max_seconds,
            base_tuning_job_name=f"{names.base}-tune",
        )
        step_args = tuner.tune(inputs=channels)
        return TuningStep(name=step.name, step_args=step_args, cache_config=cache)

    for step in STEPS:
        built[step.name] = (
            processing_step(step) if step.kind == "processing" else training_step(step)
        )

    evaluation = property_files[GATE.property_file]
    evaluation_step = next(s for s in STEPS if s.name == GATE.evaluation_step)
    ap = JsonGet(
        step_name=GATE.evaluation_step, property_file=evaluation, json_path=GATE.metric_path
    )
    baseline_ap = JsonGet(
        step_name=GATE.evaluation_step, property_file=evaluation, json_path=GATE.baseline_path
    )
    evaluation_uri = Join(
        on="/",
        values=[*run_prefix, GATE.evaluation_step, evaluation_step.outputs[0], EVALUATION_FILE],
    )
    builder = ModelBuilder(
        image_uri=image_uri,
        s3_model_data_url=source(FromStep(REGISTER.model_step, "model")),
        role_arn=role_arn,
        sagemaker_session=session,
    )
    register = ModelStep(
        name=REGISTER.name,
        step_args=builder.register(
            model_package_group_name=names.model_package_group,
            content_types=list(REGISTER.content_types),
            response_types=list(REGISTER.response_types),
            inference_instances=[INFERENCE_INSTANCE_TYPE],
            approval_status=params[REGISTER.approval_parameter],
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(
                    content_type="application/json", s3_uri=evaluation_uri
                )
            ),
        ),
    )
    fail = FailStep(
        name=FAIL_STEP,
        error_message=Join(
            on=" ",
            values=[
                "Quality gate failed: test average precision (metrics.ap)",
                ap,
                "must be at least MinAveragePrecision",
                params[GATE.minimum_parameter],
                "and above the baseline's",
                baseline_ap,
            ],
        ),
    )
    gate = ConditionStep(
        name=GATE.name,
        conditions=[
            ConditionGreaterThanOrEqualTo(left=ap, right=params[GATE.minimum_parameter]),
            ConditionGreaterThan(left=ap, right=baseline_ap),
        ],
        if_steps=[register],
        else_steps=[fail],
    )
    return Pipeline(
        name=names.pipeline,
        parameters=list(params.values()),
        steps=[*built.values(), gate],
        sagemaker_session=session,
    )


def definition(pipeline: Any) -> dict[str, Any]:
    return json.loads(pipeline.definition())


def start_execution(sagemaker: Any, pipeline_name: str, description: str) -> str:
    """Start an execution of the upserted pipeline (defaults for every parameter); its ARN."""
    execution = sagemaker.start_pipeline_execution(
        PipelineName=pipeline_name, PipelineExecutionDescription=description[:3000]
    )
    return execution["PipelineExecutionArn"]
