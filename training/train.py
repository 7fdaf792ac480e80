"""Step 2, a SageMaker Training script: fit the XGBoost fraud model and choose its thresholds.

Channels `train` and `validation` (from step 1); hyperparameters from SageMaker (`SM_HPS`).
Class imbalance is handled with `scale_pos_weight` (negatives / positives by default); training
stops early on validation average precision (`aucpr`). The thresholds are chosen on the
validation scores — by the alert budget (`thresholds.choose_thresholds`) or, when a review cost and
a decline cost are given, by expected cost within the analysts' capacity
(`thresholds.choose_cost_thresholds`) — and written into the manifest with the feature names, the
feature-set version, the training data range and the validation score profile from which
`securebank thresholds` redraws the cost trade-off.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import xgboost as xgb

from securebank.features.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from securebank.model_artifact import ModelManifest, save_model_dir
from securebank.training import container
from securebank.training.thresholds import (
    CostModel,
    choose_cost_thresholds,
    choose_thresholds,
    score_profile,
)


@dataclass(frozen=True)
class Hyperparameters:
    max_depth: int = 6
    eta: float = 0.1
    num_round: int = 300
    min_child_weight: float = 1.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    early_stopping_rounds: int = 30
    #: 0 means negatives / positives of the training split.
    scale_pos_weight: float = 0.0
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


def matrix(frame) -> tuple[np.ndarray, np.ndarray]:
    return frame[list(FEATURE_NAMES)].to_numpy(dtype=np.float32), frame["is_fraud"].to_numpy()


def fit(train, validation, hp: Hyperparameters) -> tuple[xgb.Booster, dict[str, Any]]:
    x_train, y_train = matrix(train)
    x_val, y_val = matrix(validation)
    positives = max(int(y_train.sum()), 1)
    weight = hp.scale_pos_weight or (len(y_train) - positives) / positives
    params = {
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
    names = list(FEATURE_NAMES)
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
    return booster, {**params, "best_iteration": booster.best_iteration}


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> ModelManifest:
    del argv  # SageMaker passes hyperparameters through SM_HPS as well; we read only that.
    env = os.environ if environ is None else environ
    hp = Hyperparameters.from_strings(container.hyperparameters(env))
    train_dir = container.channel_dir(env, "train")
    train = container.read_split(train_dir)
    validation = container.read_split(container.channel_dir(env, "validation"))
    booster, params = fit(train, validation, hp)
    # Keep only the trees up to the early-stopping point, so every consumer scores the same.
    booster = booster[: booster.best_iteration + 1]
    x_val, y_val = matrix(validation)
    val_scores = booster.inplace_predict(x_val)
    span = validation["event_time"].max() - validation["event_time"].min()
    profile = score_profile(
        y_val, val_scores, validation["amount_usd"].to_numpy(), span.total_seconds() / 86_400
    )
    if hp.review_cost > 0 and hp.decline_cost > 0:
        costs = CostModel(hp.review_cost, hp.decline_cost, hp.review_capacity)
        thresholds, rule, _ = choose_cost_thresholds(profile, costs)
    else:
        thresholds, rule = choose_thresholds(
            y_val, val_scores, hp.review_rate, hp.decline_precision
        )
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
            "train_end": str(plan.get("validation_start", train["event_time"].max().date())),
            "test_start": str(plan.get("test_start", "")),
            "end": str(plan.get("end", "")),
        },
        hyperparameters={**asdict(hp), **params},
        best_iteration=int(params["best_iteration"]),
        cost_profile=profile.to_dict(),
    )
    save_model_dir(container.model_dir(env), booster, manifest)
    return manifest


if __name__ == "__main__":
    print(main().to_json())
