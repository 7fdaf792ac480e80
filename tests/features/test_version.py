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
