"""The model artifact: an XGBoost booster plus the manifest that says how to use it.

SageMaker packs the training job's model folder into `model.tar.gz`; the serving container and
the stream scorer unpack it. The manifest carries the feature names in order, the feature-set
version (a model is never served under other feature definitions), the decision thresholds and
the training data range.

Which feature set the running code computes is the features' knowledge
(`features.definitions.FEATURE_SET_VERSION`): loaders take it as `feature_set` from their caller,
so this module stays below the feature definitions.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import xgboost as xgb

from securebank.decision import Thresholds

BOOSTER_FILE = "model.ubj"
MANIFEST_FILE = "manifest.json"
ARCHIVE_FILE = "model.tar.gz"


class IncompatibleModel(ValueError):
    """The artifact was built for other feature definitions, or is malformed."""


@dataclass(frozen=True)
class ModelManifest:
    feature_names: list[str]
    feature_set_version: str
    review_threshold: float
    decline_threshold: float
    threshold_rule: str
    training_range: dict[str, str]
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    best_iteration: int | None = None
    model_type: str = "xgboost-binary"
    #: The validation score profile (training.thresholds.ScoreProfile as a dict): the cost
    #: trade-off of any thresholds, without the validation data. Empty for older models.
    cost_profile: dict[str, Any] = field(default_factory=dict)

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(review=self.review_threshold, decline=self.decline_threshold)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelManifest:
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError) as error:
            raise IncompatibleModel(f"malformed manifest: {error}") from error


@dataclass
class FraudModel:
    booster: xgb.Booster
    manifest: ModelManifest

    def check_feature_set(self, expected: str) -> None:
        if self.manifest.feature_set_version != expected:
            raise IncompatibleModel(
                f"model was trained on feature set {self.manifest.feature_set_version}, "
                f"this code computes {expected}"
            )


def save_model_dir(model_dir: Path, booster: xgb.Booster, manifest: ModelManifest) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(model_dir / BOOSTER_FILE)
    (model_dir / MANIFEST_FILE).write_text(manifest.to_json())


def pack_model_dir(model_dir: Path, archive: Path) -> Path:
    """Pack a model folder the way SageMaker does at the end of a training job."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


def _from_members(booster_bytes: bytes, manifest_text: str) -> FraudModel:
    booster = xgb.Booster()
    booster.load_model(bytearray(booster_bytes))
    booster.set_param({"nthread": 1})
    return FraudModel(booster=booster, manifest=ModelManifest.from_json(manifest_text))


def load_model(path: Path, *, feature_set: str | None) -> FraudModel:
    """Load from a model folder or a `model.tar.gz`.

    `feature_set`: the feature-set version the caller computes; a model of another one is refused
    (`IncompatibleModel`). None accepts any (to read a manifest, not to score).
    """
    if path.is_dir():
        model = _from_members(
            (path / BOOSTER_FILE).read_bytes(), (path / MANIFEST_FILE).read_text()
        )
    else:
        model = load_model_bytes(path.read_bytes(), feature_set=None)
    if feature_set is not None:
        model.check_feature_set(feature_set)
    return model


def load_model_bytes(archive: bytes, *, feature_set: str | None) -> FraudModel:
    """Load from the bytes of a `model.tar.gz` (as read from S3); `feature_set` as in
    `load_model`."""
    members: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if member.isfile() and name in (BOOSTER_FILE, MANIFEST_FILE):
                extracted = tar.extractfile(member)
                if extracted is not None:
                    members[name] = extracted.read()
    if set(members) != {BOOSTER_FILE, MANIFEST_FILE}:
        raise IncompatibleModel(f"archive must hold {BOOSTER_FILE} and {MANIFEST_FILE}")
    model = _from_members(members[BOOSTER_FILE], members[MANIFEST_FILE].decode())
    if feature_set is not None:
        model.check_feature_set(feature_set)
    return model


def unpack_to_temp(archive: bytes) -> Path:
    """Unpack `model.tar.gz` bytes into a new temporary folder and return it."""
    folder = Path(tempfile.mkdtemp(prefix="securebank-model-"))
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")
    return folder
