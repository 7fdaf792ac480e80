"""MLflow keeps its artifacts under SECUREBANK_HOME, not the working directory."""

from __future__ import annotations

from securebank.settings import Settings


def test_mlflow_artifacts_live_under_home(tmp_path, monkeypatch):
    from pipelines.tracking import MlflowTracker

    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    config = Settings(home=home)
    tracker = MlflowTracker(
        config.tracking_uri,
        "sbtest-model",
        "test",
        artifact_location=config.mlflow_artifact_location,
    )
    note = tmp_path / "note.json"
    note.write_text("{}")
    tracker._mlflow.log_artifact(str(note), artifact_path="evaluation")
    tracker.end()
    saved = list((home / "mlflow-artifacts").rglob("note.json"))
    assert len(saved) == 1 and saved[0].parent.name == "evaluation"
    assert not (tmp_path / "mlruns").exists()
    assert (home / "mlflow.db").is_file()
    assert (
        Settings(home=home, mlflow_tracking_uri="http://mlflow:5000").mlflow_artifact_location
        is None
    )
