import dataclasses

import numpy as np
import pytest

from securebank.features.definitions import FEATURE_SET_VERSION
from securebank.model_artifact import (
    IncompatibleModel,
    ModelManifest,
    load_model,
    load_model_bytes,
    pack_model_dir,
)
from tests.builders import make_model_dir


def _model(tmp_path, version=FEATURE_SET_VERSION):
    _, booster, x = make_model_dir(tmp_path / "model", 0, version)
    return pack_model_dir(tmp_path / "model", tmp_path / "model.tar.gz"), booster, x


def test_archive_round_trip_scores_the_same(tmp_path):
    archive, booster, x = _model(tmp_path)
    loaded = load_model_bytes(archive.read_bytes(), feature_set=FEATURE_SET_VERSION)
    assert np.array_equal(loaded.booster.inplace_predict(x), booster.inplace_predict(x))
    assert load_model(archive, feature_set=FEATURE_SET_VERSION).manifest.thresholds.decline == 0.9


def test_a_model_of_another_feature_set_is_refused(tmp_path):
    archive, _, _ = _model(tmp_path, version="fs-000000000000")
    with pytest.raises(IncompatibleModel, match="feature set fs-000000000000"):
        load_model(archive, feature_set=FEATURE_SET_VERSION)
    assert load_model(archive, feature_set=None).manifest.feature_set_version == "fs-000000000000"


def test_malformed_archives_are_refused(tmp_path):
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"{}"
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(IncompatibleModel, match="must hold"):
        load_model_bytes(buffer.getvalue(), feature_set=None)
    assert {f.name for f in dataclasses.fields(ModelManifest)} >= {"feature_names"}
