"""Population stability index (PSI) between training data and live decisions.

Bins are the training distribution's deciles (distinct edges only); missing values get a bin of
their own, so a feature that goes missing in production shows up as drift. Conventional reading:
below 0.1 stable, 0.1-0.2 moderate shift, above 0.2 drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DRIFT_THRESHOLD = 0.2
MODERATE_THRESHOLD = 0.1
_EPSILON = 1e-4


@dataclass(frozen=True)
class Drift:
    name: str
    psi: float
    expected_missing: float
    actual_missing: float

    @property
    def status(self) -> str:
        if self.psi > DRIFT_THRESHOLD:
            return "drift"
        return "moderate" if self.psi > MODERATE_THRESHOLD else "stable"


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    missing = np.isnan(values)
    counts = np.bincount(
        np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1
    )
    shares = np.append(counts, missing.sum()).astype(np.float64)
    return shares / max(len(values), 1)


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    present = expected[~np.isnan(expected)]
    if len(present) == 0:
        edges = np.array([])
    else:
        edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.maximum(_shares(expected, edges), _EPSILON)
    a = np.maximum(_shares(actual, edges), _EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_report(names: Sequence[str], expected: np.ndarray, actual: np.ndarray) -> list[Drift]:
    """One `Drift` per column of the two matrices (rows: transactions), worst first."""
    out = [
        Drift(
            name=name,
            psi=psi(expected[:, i], actual[:, i]),
            expected_missing=float(np.isnan(expected[:, i]).mean()),
            actual_missing=float(np.isnan(actual[:, i]).mean()),
        )
        for i, name in enumerate(names)
    ]
    return sorted(out, key=lambda d: -d.psi)
