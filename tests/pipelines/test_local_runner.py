"""The local runner: the same steps, the local S3, MLflow, the Model Package Group."""

from __future__ import annotations

import json
from datetime import date

import pytest

from securebank.features.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from securebank.model_artifact import load_model_bytes
from securebank.pipelines.local_runner import ParameterError, QualityGateFailed, run_pipeline
from securebank.pipelines.steps import STEPS
from securebank.pipelines.tracking import MlflowTracker
from securebank.registry import Approval, ModelRegistry
from securebank.s3io import read_bytes


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from securebank.data.simulator.generate import SimulationConfig, generate

    # A mechanics test, not a benchmark of the simulator: fraud_rate 0.03 and 120,000 rows give
    # the second run's literal 7-day windows about 200 training and test frauds, so the quality
    # gate's "beats the baseline" compares models, not the noise of a few dozen frauds.
    out = tmp_path_factory.mktemp("data")
    generate(SimulationConfig(transactions=120_000, seed=5, fraud_rate=0.03), out)
    return out


def _upload(aws, dataset):
    from securebank.data.upload import upload_dataset

    upload_dataset(aws.client("s3"), dataset, aws.names)


def test_run_registers_a_new_version_each_time_and_tracks_it(aws, dataset, tmp_path):
    import mlflow

    _upload(aws, dataset)
    registry = ModelRegistry(aws.client("sagemaker"), aws.names.model_package_group)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    seen_steps = []
    runs = []
    for attempt in range(2):
        tracker = MlflowTracker(uri, aws.names.model_package_group, "test")
        run = run_pipeline(
            s3=aws.client("s3"),
            registry=registry,
            names=aws.names,
            image_uri="example/securebank:test",
            workdir=tmp_path / "work",
            tracker=tracker,
            on_step=seen_steps.append,
            # Run 1 tunes (2 trials); run 2 uses the literal 7-day windows of the protocol.
            overrides={"NumRound": "40", "TuningTrials": "2"}
            if attempt == 0
            else {"NumRound": "40", "TrainDays": "7", "ValidationDays": "7", "TestDays": "7"},
        )
        tracker.end()
        runs.append((run, tracker))
    assert seen_steps[:3] == [s.name for s in STEPS]
    assert [r.version.version for r, _ in runs] == [1, 2]
    run, tracker = runs[0]
    version = registry.get(1)
    assert version.status is Approval.PENDING
    # the registry metadata keeps 6 decimals
    assert float(version.metadata["ap"]) == pytest.approx(
        run.evaluation["metrics"]["ap"]["value"], abs=1e-6
    )
    assert float(version.metadata["ap"]) > float(version.metadata["baseline_ap"])
    assert version.metadata["feature_set_version"] == FEATURE_SET_VERSION
    model = load_model_bytes(
        read_bytes(aws.client("s3"), version.model_data_url), feature_set=FEATURE_SET_VERSION
    )
    assert model.manifest.feature_names == list(FEATURE_NAMES)
    assert 0 < model.manifest.review_threshold <= model.manifest.decline_threshold <= 1
    evaluation = json.loads(
        read_bytes(aws.client("s3"), f"{run.outputs['Evaluate/evaluation']}/evaluation.json")
    )
    assert set(evaluation["metrics"]) == {"ap", "roc_auc", "cp_at_100", "recall_at_1pct_fpr"}
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    logged = client.get_run(tracker.run_id)
    assert logged.data.metrics["ap"] == pytest.approx(run.evaluation["metrics"]["ap"]["value"])
    assert "baseline_ap" in logged.data.metrics
    mv = client.get_model_version(aws.names.model_package_group, tracker.model_version)
    assert mv.tags["model_package_version"] == "1"
    artifacts = {a.path for a in client.list_artifacts(tracker.run_id, "evaluation")}
    assert "evaluation/pr_curve.png" in artifacts
    # Tuning: every trial is a child run of the pipeline run, trial 1 the given parameters.
    children = client.search_runs(
        [logged.info.experiment_id], f"tags.mlflow.parentRunId = '{tracker.run_id}'"
    )
    assert sorted(r.info.run_name for r in children) == ["trial-1", "trial-2"]
    assert all("validation_ap" in r.data.metrics for r in children)
    # The registered model was refitted on training + validation (labels as of the test start).
    manifest = model.manifest
    assert manifest.training_range["refit_end"] == manifest.training_range["validation_end"]
    assert manifest.hyperparameters["refit_rows"] > evaluation["rows"]["train"]
    # A literal 7-day training window trains, evaluates and registers.
    second = load_model_bytes(
        read_bytes(aws.client("s3"), registry.get(2).model_data_url),
        feature_set=FEATURE_SET_VERSION,
    )
    window = second.manifest.training_range
    assert (
        date.fromisoformat(window["train_end"]) - date.fromisoformat(window["train_start"])
    ).days == 7
    assert window["history_start"] < window["train_start"]


def test_gate_failure_names_the_metric_and_registers_nothing(aws, dataset, tmp_path):
    _upload(aws, dataset)
    registry = ModelRegistry(aws.client("sagemaker"), aws.names.model_package_group)
    with pytest.raises(
        QualityGateFailed, match=r"average precision \(metrics.ap\) 0\.\d+ is below"
    ):
        run_pipeline(
            s3=aws.client("s3"),
            registry=registry,
            names=aws.names,
            image_uri="example/securebank:test",
            workdir=tmp_path,
            overrides={"MinAveragePrecision": "1.01", "NumRound": "40"},
        )
    assert registry.list() == []


def test_an_impossible_time_plan_is_a_plan_error(aws, dataset, tmp_path):
    from securebank.training.time_plan import PlanError

    _upload(aws, dataset)
    registry = ModelRegistry(aws.client("sagemaker"), aws.names.model_package_group)
    with pytest.raises(PlanError, match=r"this plan needs at least \d+ \(train 180 "):
        run_pipeline(
            s3=aws.client("s3"),
            registry=registry,
            names=aws.names,
            image_uri="x",
            workdir=tmp_path,
            overrides={"TrainDays": "180"},
        )
    assert registry.list() == []


def test_unknown_or_mistyped_parameters_are_refused(aws, tmp_path):
    registry = ModelRegistry(aws.client("sagemaker"), aws.names.model_package_group)
    common = dict(
        s3=aws.client("s3"), registry=registry, names=aws.names, image_uri="x", workdir=tmp_path
    )
    with pytest.raises(ParameterError, match="unknown pipeline parameter 'MaxDeph'"):
        run_pipeline(**common, overrides={"MaxDeph": "3"})
    with pytest.raises(ParameterError, match="MaxDepth must be integer"):
        run_pipeline(**common, overrides={"MaxDepth": "deep"})


def test_cli_prints_one_error_line_for_an_impossible_plan(moto_endpoint, dataset, tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "SECUREBANK_HOME": str(tmp_path / "home"),
        "SECUREBANK_ENVIRONMENT": "planerror",
        "COLUMNS": "200",
    }
    plan = ["-p", "TrainDays=7", "-p", "ValidationDays=30", "-p", "TestDays=60"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "securebank.cli.app",
            "pipeline",
            "run",
            "--data",
            str(dataset),
            *plan,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: the data holds 90 days"), lines[0]
    assert "Traceback" not in result.stderr + result.stdout
