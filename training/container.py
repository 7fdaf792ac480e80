"""SageMaker's container conventions for the step scripts, overridable for local runs.

Processing jobs mount inputs under `/opt/ml/processing/input/NAME` and upload what the script
writes under `/opt/ml/processing/output/NAME`. Training jobs read channels from `SM_CHANNEL_NAME`
(default `/opt/ml/input/data/NAME`), hyperparameters from `SM_HPS` (or the hyperparameters file)
and write the model to `SM_MODEL_DIR`, which SageMaker packs as `model.tar.gz`. The local runner
points the same variables at a working folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROCESSING_ROOT = Path("/opt/ml/processing")
TRAINING_ROOT = Path("/opt/ml")


def processing_input(root: Path, name: str) -> Path:
    return root / "input" / name


def processing_output(root: Path, name: str) -> Path:
    return root / "output" / name


def channel_dir(environ: Mapping[str, str], name: str) -> Path:
    default = TRAINING_ROOT / "input" / "data" / name
    return Path(environ.get(f"SM_CHANNEL_{name.upper()}", str(default)))


def model_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("SM_MODEL_DIR", str(TRAINING_ROOT / "model")))


def hyperparameters(environ: Mapping[str, str]) -> dict[str, Any]:
    """SageMaker passes hyperparameters as strings; callers convert."""
    if "SM_HPS" in environ:
        return dict(json.loads(environ["SM_HPS"]))
    path = TRAINING_ROOT / "input" / "config" / "hyperparameters.json"
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def read_split(folder: Path):
    import pandas as pd

    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no Parquet files in {folder}")
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
