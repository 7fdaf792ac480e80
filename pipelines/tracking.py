"""MLflow tracking for pipeline runs: parameters, step times, metrics, plots, the model.

Every run logs the pipeline parameters, each tuning trial as a child run, each step's wall
time, the evaluation metrics (XGBoost and baseline), the plots and evaluation report, and the
model itself, registered as an MLflow model version tagged with its Model Package Group version.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from securebank.features.definitions import FEATURE_SET_VERSION
from securebank.model_artifact import load_model
from securebank.registry import ModelVersion

EXPERIMENT = "securebank-fraud"


class MlflowTracker:
    def __init__(
        self,
        tracking_uri: str,
        registered_model: str,
        run_name: str,
        artifact_location: str | None = None,
    ) -> None:
        """`artifact_location` (a URI): where a new experiment keeps its artifacts; MLflow's
        default is ./mlruns under the working directory."""
        import mlflow

        self._mlflow = mlflow
        mlflow.set_tracking_uri(tracking_uri)
        if artifact_location and mlflow.get_experiment_by_name(EXPERIMENT) is None:
            mlflow.create_experiment(EXPERIMENT, artifact_location=artifact_location)
        mlflow.set_experiment(EXPERIMENT)
        self.registered_model = registered_model
        self.run = mlflow.start_run(run_name=run_name)
        self.model_version: str | None = None

    @property
    def run_id(self) -> str:
        return self.run.info.run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._mlflow.log_params({k: str(v) for k, v in params.items()})

    def log_step(self, step: str, seconds: float, result: Any) -> None:
        self._mlflow.log_metric(f"step_seconds_{step}", seconds)
        if isinstance(result, Mapping) and step == "BuildFeatures":
            self._mlflow.log_metrics({f"rows_{k}": float(v) for k, v in result.items()})

    def log_evaluation(self, evaluation: Mapping[str, Any], folder: Path) -> None:
        metrics = {name: m["value"] for name, m in evaluation["metrics"].items()}
        metrics |= {f"baseline_{name}": m["value"] for name, m in evaluation["baseline"].items()}
        metrics |= {
            f"{where}_{k}": v
            for where, d in evaluation["at_thresholds"].items()
            for k, v in d.items()
        }
        metrics |= {f"threshold_{k}": evaluation["thresholds"][k] for k in ("review", "decline")}
        self._mlflow.log_metrics(metrics)
        self._mlflow.set_tag("feature_set_version", evaluation["feature_set_version"])
        for path in sorted(folder.iterdir()):
            if path.suffix in (".json", ".png"):
                self._mlflow.log_artifact(str(path), artifact_path="evaluation")

    def log_model(self, model_dir: Path, version: ModelVersion | None) -> None:
        model = load_model(model_dir, feature_set=FEATURE_SET_VERSION)
        self._mlflow.log_artifact(str(model_dir / "manifest.json"), artifact_path="model-manifest")
        info = self._mlflow.xgboost.log_model(
            model.booster, name="model", registered_model_name=self.registered_model
        )
        self.model_version = str(info.registered_model_version)
        if version is not None:
            client = self._mlflow.MlflowClient()
            client.set_model_version_tag(
                self.registered_model, self.model_version, "model_package_version", version.version
            )
            client.set_model_version_tag(
                self.registered_model, self.model_version, "model_package_arn", version.arn
            )
            self._mlflow.set_tag("model_package_version", version.version)

    def log_trial(self, trial: Any) -> None:
        """One tuning trial as a child run of the pipeline run."""
        with self._mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
            self._mlflow.log_params({k: str(v) for k, v in trial.searched().items()})
            self._mlflow.log_metrics(
                {
                    "validation_ap": trial.validation_ap,
                    "best_iteration": float(trial.best_iteration),
                    "seconds": trial.seconds,
                }
            )
        self._mlflow.log_metric(
            "tuning_trial_validation_ap", trial.validation_ap, step=trial.number
        )

    def end(self, failed: bool = False) -> None:
        self._mlflow.end_run(status="FAILED" if failed else "FINISHED")


BACKTEST_EXPERIMENT = "securebank-backtest"


def log_backtest(tracking_uri: str, plan: Any, results: list[Any], run_name: str) -> str:
    """A backtest as one MLflow parent run and a child run per configuration and fold.

    The parent holds the protocol, every configuration and the mean metrics (prefixed `a_`,
    `b_` when configurations are compared); each child one fold's metrics, rows,
    top feature and the hyperparameters it trained with, and under it a run per tuning trial
    when the configuration tunes. Returns the parent run's id.
    """
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(BACKTEST_EXPERIMENT)
    with mlflow.start_run(run_name=run_name) as parent:
        mlflow.log_params({f"plan_{k}": v for k, v in vars(plan).items()})
        for letter, result in zip("abcdefgh", results, strict=False):
            prefix = f"{letter}_" if len(results) > 1 else ""
            described = result.config.describe()
            mlflow.log_params({f"{prefix}{k}": str(v) for k, v in described.items()})
            mlflow.log_metrics({f"{prefix}{k}": v for k, v in result.mean().items()})
            for fold in result.folds:
                with mlflow.start_run(
                    run_name=f"{result.config.name}-fold-{fold.fold}", nested=True
                ):
                    mlflow.set_tags({"configuration": result.config.name, "fold": fold.fold})
                    mlflow.log_params(
                        {
                            "train": f"{fold.plan.train_start}..{fold.plan.train_end}",
                            "test": f"{fold.plan.test_start}..{fold.plan.test_end}",
                            **{f"hp_{k}": str(v) for k, v in fold.hyperparameters.items()},
                        }
                    )
                    mlflow.log_metrics(
                        {
                            **fold.metrics,
                            "top_feature_gain_share": fold.top_feature_gain_share,
                            "seconds": fold.seconds,
                            **{f"rows_{k}": float(v) for k, v in fold.rows.items()},
                            **{
                                f"recall_{name}": v["recall_at_1pct_fpr"]
                                for name, v in fold.by_scenario.items()
                            },
                        }
                    )
                    mlflow.set_tag("top_feature", fold.top_feature)
                    for trial in fold.trials:
                        with mlflow.start_run(run_name=f"trial-{trial['number']}", nested=True):
                            mlflow.log_params({k: str(v) for k, v in trial.items()})
                            mlflow.log_metric("validation_ap", trial["validation_ap"])
        return parent.info.run_id
