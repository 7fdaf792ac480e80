"""Small real models (XGBoost on the real feature names) saved as SageMaker model folders."""

from __future__ import annotations

import pytest

from securebank.features.definitions import FEATURE_NAMES
from tests.builders import make_model_dir as build_model_dir


def make_model_dir(folder, seed: int, feature_set_version: str | None = None):
    return build_model_dir(folder, seed, feature_set_version)[0]


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
