"""`securebank pipeline ...`: the training pipeline on SageMaker, or run locally."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from securebank.cli import context
from securebank.cli.console import console, progress
from securebank.cli.errors import UserError
from securebank.data.dataset import DatasetError
from securebank.data.upload import upload_dataset
from securebank.settings import Settings

app = typer.Typer(
    help="The training pipeline: define, upsert, start, run locally.", no_args_is_help=True
)

LOCAL_ROLE_ARN = "arn:aws:iam::123456789012:role/securebank-local-pipeline"
ParamOption = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE, repeatable.")
]


def parse_params(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UserError(f"--param takes NAME=VALUE, got {pair!r}")
        out[name] = value
    return out


TuningTrialsOption = Annotated[
    int, typer.Option(min=1, help="Most trials of the SageMaker TuningStep (one at a time).")
]
TuningSecondsOption = Annotated[
    int, typer.Option(min=1, help="Time budget of the whole SageMaker tuning search.")
]


def _sdk_pipeline(
    config: Settings, role_arn: str | None, tuning_trials: int = 8, tuning_max_seconds: int = 3600
) -> Any:
    from securebank.pipelines.sagemaker_definition import build_pipeline, prepare_sdk

    aws = context.clients(config)
    role = (
        role_arn
        or config.pipeline_role_arn
        or (LOCAL_ROLE_ARN if config.target == "local" else None)
    )
    if role is None:
        raise UserError("--role-arn is required (or set SECUREBANK_PIPELINE_ROLE_ARN)")
    local = config.target == "local"
    prepare_sdk(
        config.region,
        config.home / "sagemaker",
        validate_role=not local,
        local_endpoints=(aws.endpoint_url, aws.service_endpoints) if local else None,
    )
    return build_pipeline(
        config.names,
        config.image_uri,
        role,
        aws.session,
        aws.client("sagemaker"),
        tuning_trials=tuning_trials,
        tuning_max_seconds=tuning_max_seconds,
    )


@app.command("definition")
def definition_command(
    role_arn: Annotated[str | None, typer.Option(help="Pipeline execution role.")] = None,
    tuning_trials: TuningTrialsOption = 8,
    tuning_max_seconds: TuningSecondsOption = 3600,
) -> None:
    """Print the SageMaker Pipeline definition (JSON). Offline: uses the local AWS for S3."""
    pipeline = _sdk_pipeline(context.settings(), role_arn, tuning_trials, tuning_max_seconds)
    print(json.dumps(json.loads(pipeline.definition()), indent=2))


@app.command("upsert")
def upsert_command(
    role_arn: Annotated[str, typer.Option(help="Pipeline execution role ARN.")],
    tuning_trials: TuningTrialsOption = 8,
    tuning_max_seconds: TuningSecondsOption = 3600,
) -> None:
    """Create or update the SageMaker Pipeline."""
    config = context.settings()
    pipeline = _sdk_pipeline(config, role_arn, tuning_trials, tuning_max_seconds)
    response = pipeline.upsert(role_arn=role_arn)
    console.print(f"pipeline {config.names.pipeline}: {response['PipelineArn']}")


@app.command("start")
def start_command(params: ParamOption = None) -> None:
    """Start an execution of the SageMaker Pipeline."""
    config = context.settings()
    pipeline = _sdk_pipeline(config, None)
    execution = pipeline.start(parameters=parse_params(params))
    console.print(f"started {getattr(execution, 'arn', execution)}")


def metrics_table(evaluation: dict[str, Any], title: str) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("xgboost", justify="right")
    table.add_column("baseline (logistic)", justify="right")
    for name, metric in evaluation["metrics"].items():
        table.add_row(
            name, f"{metric['value']:.4f}", f"{evaluation['baseline'][name]['value']:.4f}"
        )
    for where, values in evaluation["at_thresholds"].items():
        threshold = evaluation["thresholds"][where]
        table.add_row(
            f"at {where} threshold {threshold:.4f}",
            f"P {values['precision']:.3f} / R {values['recall']:.3f}",
            "",
        )
    return table


@app.command("run")
def run_command(
    data: Annotated[
        Path | None, typer.Option(help="Upload this dataset to the lake first.")
    ] = None,
    params: ParamOption = None,
    keep_workdir: Annotated[bool, typer.Option(help="Keep the step folders.")] = False,
) -> None:
    """Run the pipeline's steps locally against the local AWS, tracked in MLflow."""
    from securebank.pipelines.local_runner import ParameterError, QualityGateFailed, run_pipeline
    from securebank.pipelines.tracking import MlflowTracker
    from securebank.training.time_plan import PlanError

    overrides = parse_params(params)
    config = context.settings()
    aws = context.clients(config)
    s3 = aws.client("s3")
    if data is not None:
        try:
            upload_dataset(s3, data, config.names)
        except DatasetError as error:
            raise UserError(str(error)) from error
    tracker = MlflowTracker(
        config.tracking_uri,
        config.names.model_package_group,
        "pipeline-run",
        artifact_location=config.mlflow_artifact_location,
    )
    failed = True
    try:
        with progress() as bar:
            task = bar.add_task("starting", total=5)

            def on_step(name: str) -> None:
                bar.update(task, advance=1, description=name)

            run = run_pipeline(
                s3=s3,
                registry=context.registry(aws, config),
                names=config.names,
                image_uri=config.image_uri,
                workdir=config.home / "pipeline",
                overrides=overrides,
                tracker=tracker,
                on_step=on_step,
                keep_workdir=keep_workdir,
            )
            bar.update(task, completed=5, description="done")
        failed = False
    except (QualityGateFailed, ParameterError, PlanError, FileNotFoundError) as error:
        raise UserError(str(error)) from error
    finally:
        tracker.end(failed=failed)
    version = run.version
    assert version is not None
    console.print(
        metrics_table(
            run.evaluation,
            f"model version {version.version} ({version.status.value}), "
            f"execution {run.execution_id}",
        )
    )
    console.print(
        f"registered {version.arn}; MLflow run {tracker.run_id}, "
        f"model version {tracker.model_version}; step seconds "
        + ", ".join(f"{k} {v:.1f}" for k, v in run.step_seconds.items())
    )
