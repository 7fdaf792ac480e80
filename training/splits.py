"""Time-based train / validation / test splits with a gap for label delay.

A bank trains at some moment on what it knows then: fraud is reported days after the transaction
(chargebacks). So each split ends a `gap` before the next one starts, and a split's target counts
only fraud labels reported before the next split begins (the test split, which is only evaluated,
uses every label). Nothing from the future leaks into training or threshold choice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitPlan:
    """Day ranges, each [start, end) in UTC days, and the label cutoff of each split."""

    train_start: date
    validation_start: date
    test_start: date
    end: date
    gap_days: int

    def __post_init__(self) -> None:
        train_end = self.validation_start - timedelta(days=self.gap_days)
        validation_end = self.test_start - timedelta(days=self.gap_days)
        if not self.train_start < train_end:
            raise ValueError("the training range is empty: move validation_start later")
        if not self.validation_start < validation_end:
            raise ValueError("the validation range is empty: move test_start later")
        if not self.test_start < self.end:
            raise ValueError("the test range is empty: test_start is at or after the data's end")

    def ranges(self) -> dict[str, tuple[date, date]]:
        gap = timedelta(days=self.gap_days)
        return {
            "train": (self.train_start, self.validation_start - gap),
            "validation": (self.validation_start, self.test_start - gap),
            "test": (self.test_start, self.end),
        }

    def label_cutoffs(self) -> dict[str, date | None]:
        """Labels reported before this day count for the split's target (None: all labels)."""
        return {"train": self.validation_start, "validation": self.test_start, "test": None}

    def to_dict(self) -> dict[str, object]:
        document = {k: str(v) for k, v in asdict(self).items()}
        document["gap_days"] = self.gap_days
        return document


def plan_splits(
    first_day: date,
    last_day: date,
    gap_days: int = 7,
    validation_start: date | None = None,
    test_start: date | None = None,
) -> SplitPlan:
    """Defaults from the data: test is the last 20 % of days, validation the 15 % before it."""
    days = (last_day - first_day).days + 1
    if test_start is None:
        test_start = last_day + timedelta(days=1) - timedelta(days=max(7, round(days * 0.2)))
    if validation_start is None:
        validation_days = max(7, round(days * 0.15))
        validation_start = test_start - timedelta(days=gap_days + validation_days)
    return SplitPlan(
        train_start=first_day,
        validation_start=validation_start,
        test_start=test_start,
        end=last_day + timedelta(days=1),
        gap_days=gap_days,
    )


def _day_ms(day: date) -> int:
    return int(pd.Timestamp(day, tz="UTC").value // 1_000_000)


def assign_splits(event_ms: np.ndarray, plan: SplitPlan) -> dict[str, np.ndarray]:
    """Boolean row masks per split; rows in the gaps belong to none."""
    masks = {}
    for name, (start, end) in plan.ranges().items():
        masks[name] = (event_ms >= _day_ms(start)) & (event_ms < _day_ms(end))
    return masks


def targets(
    transaction_ids: np.ndarray,
    fraud_reported_ms: dict[str, int],
    cutoff: date | None,
) -> np.ndarray:
    """1 where the transaction has a fraud label reported before `cutoff` (any, when None)."""
    limit = np.iinfo(np.int64).max if cutoff is None else _day_ms(cutoff)
    return np.fromiter(
        (1 if fraud_reported_ms.get(t, limit) < limit else 0 for t in transaction_ids),
        dtype=np.int8,
        count=len(transaction_ids),
    )
