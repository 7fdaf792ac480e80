"""Small real models (XGBoost on the real feature names) saved as SageMaker model folders."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from securebank.features.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from securebank.model_artifact import ModelManifest, save_model_dir


def make_model_dir(folder, seed: int, feature_set_version: str = FEATURE_SET_VERSION):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2000, len(FEATURE_NAMES))).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 1.5).astype(int)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "seed": seed},
        xgb.DMatrix(x, label=y, feature_names=list(FEATURE_NAMES)),
        20,
    )
    manifest = ModelManifest(
        feature_names=list(FEATURE_NAMES),
        feature_set_version=feature_set_version,
        review_threshold=0.5,
        decline_threshold=0.9,
        threshold_rule="test",
        training_range={},
    )
    save_model_dir(folder, booster, manifest)
    return folder


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "1": make_model_dir(root / "v1", 1),
        "2": make_model_dir(root / "v2", 2),
        "other": make_model_dir(root / "other", 3, feature_set_version="fs-000000000000"),
    }


def row(first: float, second: float = 0.0) -> list[float]:
    values = [0.0] * len(FEATURE_NAMES)
    values[0], values[1] = first, second
    return values
