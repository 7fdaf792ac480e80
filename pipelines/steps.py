"""The training pipeline's one step list, read by both runners.

`sagemaker_definition.build_pipeline` turns it into a SageMaker Pipeline (SDK v3);
`local_runner.run_pipeline` executes the same scripts in the same order against the local S3.
Neither runner names a step, script, channel or parameter that is not declared here. Both keep a
run's step outputs at `output_uri(...)` (`s3://ARTIFACTS/pipeline/EXECUTION/STEP/OUTPUT`), holding
the files named below, which is where reports and drift checks find them again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from securebank.data.dataset import raw_uri
from securebank.resources import ResourceNames

#: A run's outputs: s3://ARTIFACTS/RUNS_PREFIX/EXECUTION/STEP/OUTPUT.
RUNS_PREFIX = "pipeline"
#: The one Parquet file in each BuildFeatures output (training/build_features.py).
FEATURES_FILE = "part-0.parquet"
#: The Evaluate step's `evaluation` output (training/evaluate.py): the report the quality gate
#: reads, its plots, and every test transaction's score.
EVALUATION_FILE = "evaluation.json"
PR_CURVE_FILE = "pr_curve.png"
FEATURE_IMPORTANCE_FILE = "feature_importance.png"
TEST_SCORES_FILE = "test_scores.parquet"


def output_uri(names: ResourceNames, execution_id: str, step: str, output: str) -> str:
    """Where the run `execution_id` keeps `step`'s output `output` (a prefix)."""
    return f"s3://{names.artifacts_bucket}/{RUNS_PREFIX}/{execution_id}/{step}/{output}"


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: Literal["string", "integer", "float"]
    default: str | int | float
    help: str
    #: Read by the local runner only. SageMaker's tuner takes its bounds as integers fixed when
    #: the pipeline is defined (SDK v3 refuses pipeline variables there), so they are arguments
    #: of `build_pipeline` (CLI `--tuning-trials`/`--tuning-max-seconds`) instead.
    local_only: bool = False


@dataclass(frozen=True)
class FromParameter:
    parameter: str


@dataclass(frozen=True)
class FromStep:
    step: str
    output: str


Source = FromParameter | FromStep


@dataclass(frozen=True)
class Tuning:
    """Bounds of the search (most trials, most seconds in all), from local-only parameters."""

    trials_parameter: str
    seconds_parameter: str


@dataclass(frozen=True)
class Step:
    name: str
    kind: Literal["processing", "training"]
    module: str
    inputs: dict[str, Source]
    outputs: tuple[str, ...] = ()
    #: Processing: command-line arguments; training: hyperparameters. Values come from parameters.
    arguments: dict[str, str] = field(default_factory=dict)
    property_file: tuple[str, str] | None = None
    #: A training step with tuning: SageMaker runs it as a TuningStep over
    #: `training.tuning.SEARCH_SPACE`; the local runner searches the same space, then trains.
    tuning: Tuning | None = None


@dataclass(frozen=True)
class QualityGate:
    """Register only if the evaluation's `metric_path` >= the parameter and beats the baseline."""

    name: str
    evaluation_step: str
    property_file: str
    metric_path: str
    baseline_path: str
    minimum_parameter: str


@dataclass(frozen=True)
class Registration:
    name: str
    model_step: str
    approval_parameter: str
    content_types: tuple[str, ...] = ("text/csv", "application/json")
    response_types: tuple[str, ...] = ("application/json",)


def parameters(names: ResourceNames) -> tuple[Parameter, ...]:
    raw = raw_uri(names.lake_bucket)
    return (
        Parameter("TransactionsUri", "string", f"{raw}/transactions/", "raw transactions"),
        Parameter("LabelsUri", "string", f"{raw}/labels/", "fraud labels"),
        Parameter("HistoryStart", "string", "", "YYYY-MM-DD; rows from here feed features"),
        Parameter("TrainDays", "integer", 0, "training window; 0: from the history start"),
        Parameter("ValidationDays", "integer", 0, "validation window; 0: 15 % of the days"),
        Parameter("TestDays", "integer", 0, "test window; 0: 20 % of the days"),
        Parameter("TestStart", "string", "", "YYYY-MM-DD; empty: the last TestDays days"),
        Parameter("LabelDelayDays", "integer", 7, "days until a fraud label is due (gaps)"),
        Parameter("MaxDepth", "integer", 6, "XGBoost max_depth"),
        Parameter("Eta", "float", 0.1, "XGBoost learning rate"),
        Parameter("NumRound", "integer", 300, "most boosting rounds (early stopping on AP)"),
        Parameter("TuningTrials", "integer", 1, "local tuning trials; 1: no search", True),
        Parameter("TuningMaxSeconds", "integer", 3600, "local tuning time budget", True),
        Parameter("ReviewRate", "float", 0.01, "daily alert budget: share of traffic reviewed"),
        Parameter("DeclinePrecision", "float", 0.95, "precision required to decline"),
        Parameter("ReviewCost", "float", 0.0, "cost of a review; > 0 with DeclineCost: cost rule"),
        Parameter("DeclineCost", "float", 0.0, "cost of declining a good customer"),
        Parameter("ReviewCapacity", "float", 0.0, "reviews analysts can do per day; 0: no limit"),
        Parameter("MinAveragePrecision", "float", 0.15, "quality gate on test AP"),
        Parameter("ApprovalStatus", "string", "PendingManualApproval", "status of a new version"),
    )


BUILD_FEATURES = Step(
    name="BuildFeatures",
    kind="processing",
    module="securebank.training.build_features",
    inputs={"transactions": FromParameter("TransactionsUri"), "labels": FromParameter("LabelsUri")},
    outputs=("train", "validation", "refit", "test"),
    arguments={
        "--history-start": "HistoryStart",
        "--train-days": "TrainDays",
        "--validation-days": "ValidationDays",
        "--test-days": "TestDays",
        "--test-start": "TestStart",
        "--label-delay-days": "LabelDelayDays",
    },
)
TRAIN = Step(
    name="Train",
    kind="training",
    module="securebank.training.train",
    inputs={
        "train": FromStep("BuildFeatures", "train"),
        "validation": FromStep("BuildFeatures", "validation"),
        "refit": FromStep("BuildFeatures", "refit"),
    },
    outputs=("model",),
    arguments={
        "max_depth": "MaxDepth",
        "eta": "Eta",
        "num_round": "NumRound",
        "review_rate": "ReviewRate",
        "decline_precision": "DeclinePrecision",
        "review_cost": "ReviewCost",
        "decline_cost": "DeclineCost",
        "review_capacity": "ReviewCapacity",
    },
    tuning=Tuning(trials_parameter="TuningTrials", seconds_parameter="TuningMaxSeconds"),
)
EVALUATE = Step(
    name="Evaluate",
    kind="processing",
    module="securebank.training.evaluate",
    inputs={
        "model": FromStep("Train", "model"),
        "train": FromStep("BuildFeatures", "train"),
        "test": FromStep("BuildFeatures", "test"),
    },
    outputs=("evaluation",),
    property_file=("Evaluation", EVALUATION_FILE),
)
STEPS: tuple[Step, ...] = (BUILD_FEATURES, TRAIN, EVALUATE)
GATE = QualityGate(
    name="QualityGate",
    evaluation_step="Evaluate",
    property_file="Evaluation",
    metric_path="metrics.ap.value",
    baseline_path="baseline.ap.value",
    minimum_parameter="MinAveragePrecision",
)
REGISTER = Registration(
    name="RegisterModel", model_step="Train", approval_parameter="ApprovalStatus"
)
FAIL_STEP = "QualityGateFailed"
