"""The local runner: the same steps, the local S3, MLflow, the Model Package Group."""

from __future__ import annotations

import json

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
    from securebank.simulator.generate import SimulationConfig, generate

    out = tmp_path_factory.mktemp("data")
    generate(SimulationConfig(transactions=40_000, seed=5, fraud_rate=0.01), out)
    return out


def _upload(aws, dataset):
    from securebank.cli.data import upload_dataset

    upload_dataset(aws.client("s3"), dataset, aws.names)


def test_run_registers_a_new_version_each_time_and_tracks_it(aws, dataset, tmp_path):
    import mlflow

    _upload(aws, dataset)
    registry = ModelRegistry(aws.client("sagemaker"), aws.names.model_package_group)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    seen_steps = []
    runs = []
    for _ in range(2):
        tracker = MlflowTracker(uri, aws.names.model_package_group, "test")
        run = run_pipeline(
            s3=aws.client("s3"),
            registry=registry,
            names=aws.names,
            image_uri="example/securebank:test",
            workdir=tmp_path / "work",
            tracker=tracker,
            on_step=seen_steps.append,
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
    model = load_model_bytes(read_bytes(aws.client("s3"), version.model_data_url))
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
            overrides={"MinAveragePrecision": "1.01"},
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
