import re

from securebank.features import definitions


def test_version_is_a_stable_short_hash():
    assert re.fullmatch(r"fs-[0-9a-f]{12}", definitions.FEATURE_SET_VERSION)
    assert definitions.compute_feature_set_version() == definitions.FEATURE_SET_VERSION


def test_version_changes_with_any_definition(monkeypatch):
    original = definitions.FEATURE_SET_VERSION
    monkeypatch.setattr(definitions, "RECENCY_HORIZON_MS", definitions.RECENCY_HORIZON_MS + 1)
    assert definitions.compute_feature_set_version() != original
    monkeypatch.undo()
    monkeypatch.setitem(definitions.CARD_WINDOWS_MS, "1h", 2 * definitions.HOUR_MS)
    assert definitions.compute_feature_set_version() != original


def test_feature_names_are_unique():
    assert len(set(definitions.FEATURE_NAMES)) == len(definitions.FEATURE_NAMES)


def test_v1_keeps_its_original_version_and_v2_is_current():
    from securebank.features.definitions import FEATURE_SETS, feature_set

    # the hash v1 models were trained under before v2 existed: v1 stays byte-for-byte the same
    assert FEATURE_SETS["v1"].version == "fs-8794ca3d5c2f"
    assert definitions.FEATURE_SET_VERSION == FEATURE_SETS["v2"].version != "fs-8794ca3d5c2f"
    assert feature_set("v1") is feature_set("fs-8794ca3d5c2f")
    assert set(FEATURE_SETS["v2"].names) > {"merchant_risk_7d", "amount_to_mean_30d"}


def test_an_unknown_feature_set_is_refused():
    import pytest

    from securebank.features.definitions import feature_set

    with pytest.raises(ValueError, match="unknown feature set 'v9'"):
        feature_set("v9")


def test_offline_builds_either_set(simulated_50k):
    from securebank.features.definitions import FEATURE_SETS
    from securebank.features.offline import KEY_COLUMNS, build_features

    transactions, labels, _ = simulated_50k
    head = transactions.slice(0, 3000)
    v1 = build_features(head, labels, feature_set="v1")
    v2 = build_features(head, labels)
    assert list(v1.columns) == [*KEY_COLUMNS, *FEATURE_SETS["v1"].names]
    assert list(v2.columns) == [*KEY_COLUMNS, *FEATURE_SETS["v2"].names]
    shared = [n for n in FEATURE_SETS["v1"].names if n in FEATURE_SETS["v2"].names]
    assert v1[shared].equals(v2[shared])


def test_serving_refuses_a_v1_model(tmp_path):
    import pytest

    from securebank.features.definitions import FEATURE_SET_VERSION, FEATURE_SETS
    from securebank.model_artifact import IncompatibleModel, load_model
    from tests.builders import make_model_dir

    folder, _, _ = make_model_dir(tmp_path / "m", 1, feature_set_version=FEATURE_SETS["v1"].version)
    with pytest.raises(IncompatibleModel, match=FEATURE_SETS["v1"].version):
        load_model(folder, feature_set=FEATURE_SET_VERSION)
