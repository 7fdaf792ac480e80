"""Step 2, a SageMaker Training script: fit the XGBoost fraud model and choose its thresholds.

Channels `train`, `validation` and, optionally, `refit` (from step 1); hyperparameters from
SageMaker (`SM_HPS`). Class imbalance is not reweighted by default (`scale_pos_weight` 1): the
model is selected and judged on average precision, a ranking metric that weighting does not
help, while a weight of negatives / positives (about 40-150 here) makes the trees chase the few
frauds of a short window and lost to the logistic-regression baseline (docs/pipeline.md); 0 asks
for that weight. Selection: fit on `train`, stop early on the later `validation` window's average
precision (`aucpr`); the thresholds are chosen on those out-of-sample validation scores — by the
alert budget (`thresholds.choose_thresholds`) or, when a review cost and a decline cost are
given, by expected cost within the analysts' capacity (`thresholds.choose_cost_thresholds`). Then,
when `refit` is given, the model is refitted with the selected number of rounds on every row whose
label has matured by the test start (training + validation), so the registered model is as recent
as the labels allow; each threshold (and the cost profile's cuts) is carried to the refitted model
by the share of validation traffic it flags (`thresholds.carry_thresholds`). The manifest holds
the feature names, the feature-set version, the thresholds, the data ranges and the validation
score profile from which `securebank thresholds` redraws the cost trade-off. The script prints
`validation_ap=VALUE`, the tuning objective SageMaker's tuner reads from the log.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from sklearn.metrics import average_precision_score

from securebank.features.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from securebank.model_artifact import ModelManifest, save_model_dir
from securebank.training import container
from securebank.training.thresholds import (
    CostModel,
    carry_profile,
    carry_thresholds,
    choose_cost_thresholds,
    choose_thresholds,
    score_profile,
)

#: The tuning objective, printed by the training container as `validation_ap=VALUE`.
OBJECTIVE_METRIC = "validation_ap"
OBJECTIVE_REGEX = "validation_ap=([0-9\\.]+)"


@dataclass(frozen=True)
class Hyperparameters:
    max_depth: int = 6
    eta: float = 0.1
    num_round: int = 300
    min_child_weight: float = 1.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    early_stopping_rounds: int = 30
    #: 1: unweighted (scores stay probabilities); 0 means negatives / positives of the split.
    scale_pos_weight: float = 1.0
    review_rate: float = 0.01
    decline_precision: float = 0.95
    #: Thresholds from cost (training/thresholds.py) when both costs are > 0: the cost of one
    #: review, of declining one good customer, and the reviews analysts can do per day (0: no
    #: limit). Otherwise the budget rule above (review_rate, decline_precision).
    review_cost: float = 0.0
    decline_cost: float = 0.0
    review_capacity: float = 0.0
    seed: int = 7
    nthread: int = 0

    @classmethod
    def from_strings(cls, values: Mapping[str, Any]) -> Hyperparameters:
        """From SageMaker's hyperparameters (all strings); unknown names are an error."""
        known = {f.name: f.type for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"unknown hyperparameters: {', '.join(sorted(unknown))}")
        converted: dict[str, Any] = {}
        for name, value in values.items():
            kind = int if known[name] in (int, "int") else float
            converted[name] = kind(float(value)) if kind is int else kind(value)
        return cls(**converted)


def matrix(frame, names: Sequence[str] = FEATURE_NAMES) -> tuple[np.ndarray, np.ndarray]:
    return frame[list(names)].to_numpy(dtype=np.float32), frame["is_fraud"].to_numpy()


def booster_params(hp: Hyperparameters, y_train: np.ndarray) -> dict[str, Any]:
    positives = max(int(y_train.sum()), 1)
    weight = hp.scale_pos_weight or (len(y_train) - positives) / positives
    return {
        "objective": "binary:logistic",
        "eval_metric": "aucpr",
        "tree_method": "hist",
        "max_depth": hp.max_depth,
        "eta": hp.eta,
        "min_child_weight": hp.min_child_weight,
        "subsample": hp.subsample,
        "colsample_bytree": hp.colsample_bytree,
        "scale_pos_weight": weight,
        "seed": hp.seed,
        "nthread": hp.nthread or os.cpu_count() or 1,
    }


def fit(
    train, validation, hp: Hyperparameters, names: Sequence[str] = FEATURE_NAMES
) -> tuple[xgb.Booster, dict[str, Any]]:
    """Fit on `train`, early-stopped on `validation` AP; the booster is cut at the best round."""
    x_train, y_train = matrix(train, names)
    x_val, y_val = matrix(validation, names)
    params = booster_params(hp, y_train)
    names = list(names)
    dtrain = xgb.DMatrix(x_train, label=y_train, feature_names=names)
    dval = xgb.DMatrix(x_val, label=y_val, feature_names=names)
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=hp.num_round,
        evals=[(dval, "validation")],
        early_stopping_rounds=hp.early_stopping_rounds,
        verbose_eval=False,
    )
    best = booster.best_iteration
    return booster[: best + 1], {**params, "best_iteration": best}


def refit(
    frame, hp: Hyperparameters, rounds: int, names: Sequence[str] = FEATURE_NAMES
) -> xgb.Booster:
    """The selected model, refitted on `frame` with a fixed number of rounds (no early stop)."""
    x, y = matrix(frame, names)
    dtrain = xgb.DMatrix(x, label=y, feature_names=list(names))
    return xgb.train(booster_params(hp, y), dtrain, num_boost_round=rounds, verbose_eval=False)


def select_and_refit(
    train, validation, hp: Hyperparameters, refit_on=None, names: Sequence[str] = FEATURE_NAMES
) -> tuple[xgb.Booster, xgb.Booster, dict[str, Any]]:
    """(selection booster, final booster, params): the final one is refitted on `refit_on`.

    With `refit_on` None the final booster is the selection booster.
    """
    selected, params = fit(train, validation, hp, names)
    if refit_on is None:
        return selected, selected, params
    final = refit(refit_on, hp, int(params["best_iteration"]) + 1, names)
    return selected, final, {**params, "refit_rows": len(refit_on)}


def _optional_split(folder: Path):
    return container.read_split(folder) if any(folder.glob("*.parquet")) else None


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> ModelManifest:
    del argv  # SageMaker passes hyperparameters through SM_HPS as well; we read only that.
    env = os.environ if environ is None else environ
    hp = Hyperparameters.from_strings(container.hyperparameters(env))
    train_dir = container.channel_dir(env, "train")
    train = container.read_split(train_dir)
    validation = container.read_split(container.channel_dir(env, "validation"))
    refit_rows = _optional_split(container.channel_dir(env, "refit"))
    selected, booster, params = select_and_refit(train, validation, hp, refit_rows)
    x_val, y_val = matrix(validation)
    validation_scores = selected.inplace_predict(x_val)
    if environ is None:  # in the container: the tuner's objective, read from the log
        print(f"{OBJECTIVE_METRIC}={average_precision_score(y_val, validation_scores):.6f}")
    span = validation["event_time"].max() - validation["event_time"].min()
    profile = score_profile(
        y_val,
        validation_scores,
        validation["amount_usd"].to_numpy(),
        span.total_seconds() / 86_400,
    )
    if hp.review_cost > 0 and hp.decline_cost > 0:
        costs = CostModel(hp.review_cost, hp.decline_cost, hp.review_capacity)
        thresholds, rule, _ = choose_cost_thresholds(profile, costs)
    else:
        thresholds, rule = choose_thresholds(
            y_val, validation_scores, hp.review_rate, hp.decline_precision
        )
    if booster is not selected:  # the refitted model scores on its own scale
        refit_scores = booster.inplace_predict(x_val)
        thresholds = carry_thresholds(thresholds, validation_scores, refit_scores)
        profile = carry_profile(profile, validation_scores, refit_scores)
    plan_file = train_dir / "plan.json"
    plan = json.loads(plan_file.read_text()) if plan_file.is_file() else {}
    manifest = ModelManifest(
        feature_names=list(FEATURE_NAMES),
        feature_set_version=FEATURE_SET_VERSION,
        review_threshold=thresholds.review,
        decline_threshold=thresholds.decline,
        threshold_rule=rule,
        training_range={
            "train_start": str(plan.get("train_start", train["event_time"].min().date())),
            "train_end": str(plan.get("train_end", train["event_time"].max().date())),
            "history_start": str(plan.get("history_start", "")),
            "validation_start": str(plan.get("validation_start", "")),
            "validation_end": str(plan.get("validation_end", "")),
            "refit_end": str(plan.get("validation_end", "")) if refit_rows is not None else "",
            "test_start": str(plan.get("test_start", "")),
            "end": str(plan.get("test_end", "")),
        },
        hyperparameters={**asdict(hp), **params},
        best_iteration=int(params["best_iteration"]),
        cost_profile=profile.to_dict(),
    )
    save_model_dir(container.model_dir(env), booster, manifest)
    return manifest


if __name__ == "__main__":
    print(main().to_json())
