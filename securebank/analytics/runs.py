"""What a model version's training run left in S3, read back for reports and drift checks.

A registered version names its pipeline execution (`metadata["pipeline_execution"]`); the run's
step outputs are at `pipelines.steps.output_uri(...)`, holding the files `steps` names: the
evaluation report and its plots, the training features, every test transaction's score.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from securebank.analytics.drift import Drift, drift_report, psi
from securebank.features.definitions import FEATURE_NAMES
from securebank.pipelines.steps import (
    BUILD_FEATURES,
    EVALUATE,
    EVALUATION_FILE,
    FEATURE_IMPORTANCE_FILE,
    FEATURES_FILE,
    PR_CURVE_FILE,
    TEST_SCORES_FILE,
    output_uri,
)
from securebank.registry import ModelVersion
from securebank.resources import ResourceNames
from securebank.s3io import read_bytes


def run_output(names: ResourceNames, version: ModelVersion, step: str, output: str) -> str:
    """The prefix of `step`'s output `output` in the run that trained `version`."""
    return output_uri(names, version.metadata["pipeline_execution"], step, output)


def load_evaluation(
    s3: Any, names: ResourceNames, version: ModelVersion
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The evaluation report of the run that trained `version`, and its plots (title -> PNG)."""
    base = run_output(names, version, EVALUATE.name, "evaluation")
    evaluation = json.loads(read_bytes(s3, f"{base}/{EVALUATION_FILE}"))
    pngs = {
        "Precision-recall, test split": read_bytes(s3, f"{base}/{PR_CURVE_FILE}"),
        "Feature importance": read_bytes(s3, f"{base}/{FEATURE_IMPORTANCE_FILE}"),
    }
    return evaluation, pngs


@dataclass(frozen=True)
class DriftCheck:
    """PSI of every feature (training data vs live) and of the score (test split vs live)."""

    features: list[Drift]
    score_psi: float
    live_rows: int


def live_features(decisions: pa.Table) -> np.ndarray:
    """The feature vectors the live path scored, one row per decision (None -> NaN)."""
    return np.array(
        [[np.nan if v is None else v for v in f] for f in decisions["features"].to_pylist()],
        dtype=np.float64,
    )


def drift_since_training(
    s3: Any, names: ResourceNames, version: ModelVersion, decisions: pa.Table
) -> DriftCheck:
    """Live decisions against the training features and test scores of `version`'s run."""
    features = run_output(names, version, BUILD_FEATURES.name, "train")
    evaluation = run_output(names, version, EVALUATE.name, "evaluation")
    train = pd.read_parquet(io.BytesIO(read_bytes(s3, f"{features}/{FEATURES_FILE}")))
    test_scores = pd.read_parquet(io.BytesIO(read_bytes(s3, f"{evaluation}/{TEST_SCORES_FILE}")))
    live = live_features(decisions)
    report = drift_report(FEATURE_NAMES, train[list(FEATURE_NAMES)].to_numpy(np.float64), live)
    score_psi = psi(test_scores["score"].to_numpy(), decisions["score"].to_numpy())
    return DriftCheck(features=report, score_psi=score_psi, live_rows=len(live))
