"""Step 3, a SageMaker Processing script: evaluate the model and a baseline on the test split.

Inputs: `input/model` (model.tar.gz from step 2), `input/train` and `input/test` (step 1).
Output `output/evaluation`: `evaluation.json` (read by the pipeline's quality gate as a
PropertyFile: `metrics.ap.value`), PNG plots and `test_scores.parquet` (every test transaction's
score and decision). The baseline is a class-weighted logistic regression (scikit-learn) on the
same features, fitted on the training split.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from securebank.features.definitions import FEATURE_SET_VERSION
from securebank.model_artifact import ARCHIVE_FILE, load_model
from securebank.pipelines.steps import (
    EVALUATION_FILE,
    FEATURE_IMPORTANCE_FILE,
    PR_CURVE_FILE,
    TEST_SCORES_FILE,
)
from securebank.training import container, plots
from securebank.training.build_features import COMPROMISED_FILE
from securebank.training.metrics import precision_recall_at, quality_metrics
from securebank.training.train import matrix

#: The baseline is fitted on at most this many training rows (all frauds kept).
BASELINE_MAX_ROWS = 300_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=container.PROCESSING_ROOT)
    return parser.parse_args(argv)


def fit_baseline(train: pd.DataFrame, seed: int = 7):
    frauds = train[train["is_fraud"] == 1]
    genuine = train[train["is_fraud"] == 0]
    keep = max(BASELINE_MAX_ROWS - len(frauds), 0)
    if len(genuine) > keep:
        genuine = genuine.sample(keep, random_state=seed)
    x, y = matrix(pd.concat([frauds, genuine]))
    model = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(class_weight="balanced", max_iter=500),
    )
    return model.fit(x, y)


def _compromised_cards(folder: Path) -> dict[str, pd.Timestamp]:
    path = folder / COMPROMISED_FILE
    if not path.is_file():
        return {}
    return {
        card: pd.Timestamp(ms, unit="ms", tz="UTC")
        for card, ms in json.loads(path.read_text()).items()
    }


def _values(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    return {name: {"value": value} for name, value in metrics.items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    model_folder = container.processing_input(args.root, "model")
    model = load_model(model_folder / ARCHIVE_FILE, feature_set=FEATURE_SET_VERSION)
    train = container.read_split(container.processing_input(args.root, "train"))
    test = container.read_split(container.processing_input(args.root, "test"))
    x_test, y_test = matrix(test)
    scores = model.booster.inplace_predict(x_test)
    baseline_scores = fit_baseline(train).predict_proba(x_test)[:, 1]

    days = test["event_time"].dt.floor("D").to_numpy()
    cards = test["card_id"].to_numpy()
    known = _compromised_cards(container.processing_input(args.root, "test"))
    metrics = quality_metrics(y_test, scores, days, cards, known)
    baseline = quality_metrics(y_test, baseline_scores, days, cards, known)
    thresholds = model.manifest.thresholds
    at_thresholds = {
        "review": precision_recall_at(y_test, scores, thresholds.review),
        "decline": precision_recall_at(y_test, scores, thresholds.decline),
    }
    flagged = scores >= thresholds.review
    scenarios = test["fraud_scenario"].fillna("")
    by_scenario = {
        name: {"transactions": int(mask.sum()), "recall_at_review": float(flagged[mask].mean())}
        for name in sorted(set(scenarios) - {""})
        for mask in [(scenarios == name).to_numpy()]
    }
    out = container.processing_output(args.root, "evaluation")
    out.mkdir(parents=True, exist_ok=True)
    importance = model.booster.get_score(importance_type="total_gain")
    plots.pr_curves(y_test, {"xgboost": scores, "baseline": baseline_scores}, out / PR_CURVE_FILE)
    plots.score_distribution(
        y_test,
        scores,
        {"review": thresholds.review, "decline": thresholds.decline},
        out / "score_distribution.png",
    )
    plots.feature_importance(importance, out / FEATURE_IMPORTANCE_FILE)
    pd.DataFrame(
        {
            "transaction_id": test["transaction_id"],
            "event_time": test["event_time"],
            "card_id": test["card_id"],
            "is_fraud": y_test,
            "score": scores,
            "baseline_score": baseline_scores,
            "decision": thresholds.decide_many(scores),
        }
    ).to_parquet(out / TEST_SCORES_FILE, index=False)
    document = {
        "metrics": _values(metrics),
        "baseline": _values(baseline),
        "beats_baseline": metrics["ap"] > baseline["ap"],
        "thresholds": {
            "review": thresholds.review,
            "decline": thresholds.decline,
            "rule": model.manifest.threshold_rule,
        },
        "at_thresholds": at_thresholds,
        "by_scenario": by_scenario,
        "rows": {"test": len(test), "test_fraud": int(y_test.sum()), "train": len(train)},
        "feature_set_version": model.manifest.feature_set_version,
        "training_range": model.manifest.training_range,
        "feature_importance": {k: float(v) for k, v in sorted(importance.items())},
    }
    (out / EVALUATION_FILE).write_text(json.dumps(document, indent=2, default=float))
    return document


if __name__ == "__main__":
    print(json.dumps(main()["metrics"]))
