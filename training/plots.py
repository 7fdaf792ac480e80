"""Evaluation plots as PNG files: PR curves, score distributions, feature importance."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import precision_recall_curve


def pr_curves(y: np.ndarray, curves: dict[str, np.ndarray], out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for label, scores in curves.items():
        precision, recall, _ = precision_recall_curve(y, scores)
        ax.plot(recall, precision, label=label)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, test split")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def score_distribution(
    y: np.ndarray, scores: np.ndarray, thresholds: dict[str, float], out: Path
) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    bins = np.linspace(0, 1, 51)
    ax.hist(scores[y == 0], bins=bins, alpha=0.6, label="genuine", log=True)
    ax.hist(scores[y == 1], bins=bins, alpha=0.6, label="fraud", log=True)
    for name, value in thresholds.items():
        ax.axvline(value, linestyle="--", color="black" if name == "decline" else "grey")
        ax.text(value, ax.get_ylim()[1] * 0.5, f" {name}", rotation=90, va="top")
    ax.set(xlabel="fraud score", ylabel="transactions (log)", title="Score distribution, test")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def feature_importance(importance: dict[str, float], out: Path, top: int = 20) -> Path:
    items = sorted(importance.items(), key=lambda kv: kv[1])[-top:]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(items) + 1.2))
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set(xlabel="total gain", title="Feature importance (XGBoost gain)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
