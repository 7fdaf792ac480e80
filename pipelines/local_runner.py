"""Run the training pipeline's step list locally, in DAG order, against the local S3.

Each step's inputs are downloaded from S3 into a working folder laid out like the SageMaker
container (`input/NAME`, `SM_CHANNEL_*`, `SM_MODEL_DIR`), the step's script runs with the same
arguments SageMaker would give it, and its outputs are uploaded to the same S3 layout the
SageMaker Pipeline uses (`s3://ARTIFACTS/pipeline/EXECUTION/STEP/OUTPUT`). Then the quality gate
and registration follow `steps.GATE` and `steps.REGISTER`.
"""

from __future__ import annotations

import importlib
import json
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from securebank.model_artifact import ARCHIVE_FILE, pack_model_dir
from securebank.pipelines.steps import (
    EVALUATION_FILE,
    GATE,
    REGISTER,
    STEPS,
    FromParameter,
    FromStep,
    Parameter,
    Step,
    Tuning,
    output_uri,
    parameters,
)
from securebank.registry import Approval, ModelRegistry, ModelVersion
from securebank.resources import ResourceNames
from securebank.s3io import download_prefix, upload_dir
from securebank.training import container


class QualityGateFailed(RuntimeError):
    """The evaluated model did not clear the gate; the message names the metric."""


class ParameterError(ValueError):
    """An unknown pipeline parameter or a value of the wrong type."""


class Tracker(Protocol):
    def log_params(self, params: Mapping[str, Any]) -> None: ...
    def log_step(self, step: str, seconds: float, result: Any) -> None: ...
    def log_evaluation(self, evaluation: Mapping[str, Any], folder: Path) -> None: ...
    def log_model(self, model_dir: Path, version: ModelVersion | None) -> None: ...
    def log_trial(self, trial: Any) -> None: ...


@dataclass
class PipelineRun:
    execution_id: str
    parameters: dict[str, Any]
    outputs: dict[str, str] = field(default_factory=dict)
    step_seconds: dict[str, float] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    version: ModelVersion | None = None


def resolve_parameters(names: ResourceNames, overrides: Mapping[str, Any]) -> dict[str, Any]:
    declared: dict[str, Parameter] = {p.name: p for p in parameters(names)}
    unknown = set(overrides) - set(declared)
    if unknown:
        raise ParameterError(
            f"unknown pipeline parameter {sorted(unknown)[0]!r}; "
            f"known: {', '.join(sorted(declared))}"
        )
    cast = {"string": str, "integer": int, "float": float}
    values: dict[str, Any] = {}
    for name, parameter in declared.items():
        raw = overrides.get(name, parameter.default)
        try:
            values[name] = cast[parameter.kind](raw)
        except ValueError as error:
            raise ParameterError(f"{name} must be {parameter.kind}, got {raw!r}") from error
    return values


def run_pipeline(
    *,
    s3: Any,
    registry: ModelRegistry,
    names: ResourceNames,
    image_uri: str,
    workdir: Path,
    overrides: Mapping[str, Any] | None = None,
    tracker: Tracker | None = None,
    on_step: Callable[[str], None] | None = None,
    keep_workdir: bool = False,
) -> PipelineRun:
    """Run every step, gate on the evaluation, register a new version; return what happened."""
    values = resolve_parameters(names, overrides or {})
    execution_id = datetime.now(UTC).strftime("local-%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]
    run = PipelineRun(execution_id=execution_id, parameters=values)
    root = workdir / execution_id
    if tracker is not None:
        tracker.log_params(values)
    try:
        for step in STEPS:
            if on_step is not None:
                on_step(step.name)
            started = time.perf_counter()
            result = _run_step(step, s3, names, run, values, root / step.name, tracker)
            run.step_seconds[step.name] = time.perf_counter() - started
            if tracker is not None:
                tracker.log_step(step.name, run.step_seconds[step.name], result)
        evaluation_dir = root / GATE.evaluation_step / "output"
        evaluation_step = next(s for s in STEPS if s.name == GATE.evaluation_step)
        folder = evaluation_dir / evaluation_step.outputs[0]
        run.evaluation = json.loads((folder / EVALUATION_FILE).read_text())
        if tracker is not None:
            tracker.log_evaluation(run.evaluation, folder)
        if on_step is not None:
            on_step(GATE.name)
        check_gate(run.evaluation, values[GATE.minimum_parameter])
        if on_step is not None:
            on_step(REGISTER.name)
        run.version = _register(run, registry, image_uri, values, evaluation_step)
        if tracker is not None:
            tracker.log_model(root / REGISTER.model_step / "model", run.version)
    finally:
        if not keep_workdir:
            shutil.rmtree(root, ignore_errors=True)
    return run


def _json_path(document: Mapping[str, Any], path: str) -> float:
    value: Any = document
    for part in path.split("."):
        value = value[part]
    return float(value)


def check_gate(evaluation: Mapping[str, Any], minimum: float) -> None:
    """The same two conditions as the SageMaker ConditionStep."""
    ap = _json_path(evaluation, GATE.metric_path)
    baseline = _json_path(evaluation, GATE.baseline_path)
    if ap < minimum:
        raise QualityGateFailed(
            f"quality gate failed: test average precision (metrics.ap) {ap:.4f} is below "
            f"MinAveragePrecision {minimum:.4f}; no version registered"
        )
    if not ap > baseline:
        raise QualityGateFailed(
            f"quality gate failed: test average precision (metrics.ap) {ap:.4f} does not beat "
            f"the logistic-regression baseline's {baseline:.4f}; no version registered"
        )


def _run_step(
    step: Step,
    s3: Any,
    names: ResourceNames,
    run: PipelineRun,
    values: dict[str, Any],
    root: Path,
    tracker: Tracker | None = None,
) -> Any:
    def source_uri(src: FromParameter | FromStep) -> str:
        if isinstance(src, FromParameter):
            return str(values[src.parameter])
        return run.outputs[f"{src.step}/{src.output}"]

    module = importlib.import_module(step.module)
    if step.kind == "processing":
        for name, src in step.inputs.items():
            download_prefix(s3, source_uri(src), container.processing_input(root, name))
        argv = ["--root", str(root)]
        for flag, parameter in step.arguments.items():
            argv += [flag, str(values[parameter])]
        result = module.main(argv)
        for name in step.outputs:
            uri = output_uri(names, run.execution_id, step.name, name)
            upload_dir(s3, container.processing_output(root, name), uri)
            run.outputs[f"{step.name}/{name}"] = uri
        return result
    environ = {"SM_MODEL_DIR": str(root / "model")}
    for name, src in step.inputs.items():
        folder = root / "input" / "data" / name
        download_prefix(s3, source_uri(src), folder)
        environ[f"SM_CHANNEL_{name.upper()}"] = str(folder)
    hyperparameters = {k: str(values[p]) for k, p in step.arguments.items()}
    if step.tuning is not None:
        hyperparameters = _tune(step.tuning, hyperparameters, root, values, tracker)
    environ["SM_HPS"] = json.dumps(hyperparameters)
    result = module.main([], environ)
    archive = pack_model_dir(root / "model", root / "output" / ARCHIVE_FILE)
    bucket_key = f"models/{names.base}-{step.name.lower()}-{run.execution_id}/output/{ARCHIVE_FILE}"
    s3.upload_file(str(archive), names.artifacts_bucket, bucket_key)
    run.outputs[f"{step.name}/{step.outputs[0]}"] = f"s3://{names.artifacts_bucket}/{bucket_key}"
    return result


def _tune(
    tuning: Tuning,
    hyperparameters: dict[str, str],
    root: Path,
    values: Mapping[str, Any],
    tracker: Tracker | None,
) -> dict[str, str]:
    """The local counterpart of the TuningStep: search the shared space, keep the best."""
    from dataclasses import asdict

    from securebank.training.train import Hyperparameters
    from securebank.training.tuning import SEARCH_SPACE, tune

    trials = int(values[tuning.trials_parameter])
    seconds = float(values[tuning.seconds_parameter])
    if trials <= 1:
        return hyperparameters
    data = root / "input" / "data"
    result = tune(
        container.read_split(data / "train"),
        container.read_split(data / "validation"),
        Hyperparameters.from_strings(hyperparameters),
        max_trials=trials,
        max_seconds=seconds,
        on_trial=None if tracker is None else tracker.log_trial,
    )
    best = asdict(result.best.hyperparameters)
    return {**hyperparameters, **{r.name: str(best[r.name]) for r in SEARCH_SPACE}}


def _register(
    run: PipelineRun,
    registry: ModelRegistry,
    image_uri: str,
    values: Mapping[str, Any],
    evaluation_step: Step,
) -> ModelVersion:
    evaluation = run.evaluation
    metadata = {
        "feature_set_version": str(evaluation["feature_set_version"]),
        "pipeline_execution": run.execution_id,
        "review_threshold": f"{evaluation['thresholds']['review']:.6f}",
        "decline_threshold": f"{evaluation['thresholds']['decline']:.6f}",
        "test_start": str(evaluation.get("training_range", {}).get("test_start", "")),
    }
    for name, metric in evaluation["metrics"].items():
        metadata[name] = f"{metric['value']:.6f}"
    metadata["baseline_ap"] = f"{evaluation['baseline']['ap']['value']:.6f}"
    output = run.outputs[f"{evaluation_step.name}/{evaluation_step.outputs[0]}"]
    return registry.register(
        model_data_url=run.outputs[f"{REGISTER.model_step}/model"],
        image_uri=image_uri,
        evaluation_uri=f"{output}/{EVALUATION_FILE}",
        metadata=metadata,
        approval=Approval(values[REGISTER.approval_parameter]),
        description=f"trained by {run.execution_id}",
    )
