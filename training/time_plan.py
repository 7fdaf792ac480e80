"""The time plan: which days feed features only, train, validate and test, and label maturity.

One dataclass serves the training pipeline and the backtest. Days are UTC days; every window is
[start, end). In order:

    history_start .. train_start          features only (rows are never training examples)
    train window     train_days
    gap              label_delay_days     labels of the training window mature here
    validation       validation_days      (0 in the backtest: no validation window)
    gap              label_delay_days
    test window      test_days

Label maturity. A bank learns of a fraud days after the payment (chargebacks). At a moment C
(a window's label cutoff) a transaction is *mature* when event_time + label_delay <= C; its
target is 1 when a fraud label reported before C exists, else 0. An immature transaction is
left out of every labelled set (training, early stopping, thresholds, evaluation): a fraud whose
label is not yet due is never counted as genuine. Each window's cutoff is the start of the next
window, so the gaps make every row of the training and validation windows mature; the test
window's cutoff is the label horizon of the data (all labels the file holds), and its rows newer
than horizon - label_delay are left out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

DAY_MS = 86_400_000
WINDOWS = ("train", "validation", "test")


class PlanError(ValueError):
    """A time plan that cannot be run on the data: the message says why and what to change."""


@dataclass(frozen=True)
class TimePlan:
    history_start: date
    train_start: date
    train_days: int
    validation_days: int
    test_days: int
    label_delay_days: int

    def __post_init__(self) -> None:
        if self.label_delay_days < 0:
            raise PlanError(f"label delay must be 0 days or more, got {self.label_delay_days}")
        if self.train_days < 1:
            raise PlanError(f"the training window must be at least 1 day, got {self.train_days}")
        if self.validation_days < 0:
            raise PlanError(f"validation days must be 0 or more, got {self.validation_days}")
        if self.test_days < 1:
            raise PlanError(f"the test window must be at least 1 day, got {self.test_days}")
        if self.history_start > self.train_start:
            raise PlanError(
                f"history start {self.history_start} is after the training start "
                f"{self.train_start}: history only feeds the features of later rows"
            )

    @property
    def delay(self) -> timedelta:
        return timedelta(days=self.label_delay_days)

    @property
    def train_end(self) -> date:
        return self.train_start + timedelta(days=self.train_days)

    @property
    def validation_start(self) -> date:
        return self.train_end + self.delay

    @property
    def validation_end(self) -> date:
        return self.validation_start + timedelta(days=self.validation_days)

    @property
    def test_start(self) -> date:
        return (self.validation_end + self.delay) if self.validation_days else self.validation_start

    @property
    def test_end(self) -> date:
        return self.test_start + timedelta(days=self.test_days)

    def windows(self) -> dict[str, tuple[date, date]]:
        out = {"train": (self.train_start, self.train_end)}
        if self.validation_days:
            out["validation"] = (self.validation_start, self.validation_end)
        out["test"] = (self.test_start, self.test_end)
        return out

    def label_cutoffs(self) -> dict[str, date | None]:
        """Labels reported before this day count for the window (None: every label known)."""
        cutoffs: dict[str, date | None] = {}
        if self.validation_days:
            cutoffs |= {"train": self.validation_start, "validation": self.test_start}
        else:
            cutoffs["train"] = self.test_start
        cutoffs["test"] = None
        return cutoffs

    def check_data(self, first_day: date, last_day: date) -> None:
        """Refuse a plan the data cannot hold (first_day..last_day inclusive)."""
        end = last_day + timedelta(days=1)
        held = (end - first_day).days
        needed = (self.test_end - self.train_start).days
        if self.train_start < first_day:
            raise PlanError(
                f"the plan needs {needed} days from the training start to the test end "
                f"(train {self.train_days} + delay {self.label_delay_days}"
                + (
                    f" + validation {self.validation_days} + delay {self.label_delay_days}"
                    if self.validation_days
                    else ""
                )
                + f" + test {self.test_days}), but the training window would start on "
                f"{self.train_start}, before the data's first day {first_day} "
                f"(the data holds {held} days): shorten the windows or use a longer dataset"
            )
        if self.test_end > end:
            raise PlanError(
                f"the test window ends on {self.test_end}, after the data's last day {last_day}"
            )

    def to_dict(self) -> dict[str, object]:
        document: dict[str, object] = {k: str(v) for k, v in asdict(self).items()}
        for name in ("train_days", "validation_days", "test_days", "label_delay_days"):
            document[name] = getattr(self, name)
        for name in ("train_end", "validation_start", "validation_end", "test_start", "test_end"):
            document[name] = str(getattr(self, name))
        return document


def _parse_day(text: str | date | None, name: str) -> date | None:
    if text is None or text == "":
        return None
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise PlanError(f"{name} must be a date YYYY-MM-DD, got {text!r}") from error


def plan_from_data(
    first_day: date,
    last_day: date,
    *,
    label_delay_days: int = 7,
    history_start: str | date | None = None,
    train_days: int = 0,
    validation_days: int = 0,
    test_days: int = 0,
    test_start: str | date | None = None,
) -> TimePlan:
    """The pipeline's plan, anchored at the end of the data; 0 / empty means derived.

    Rows before `history_start` are not used at all; rows from it to the training start feed
    features only. Test: `test_days` (default 20 % of the data's days, at least 7) ending at the
    data's last day, or starting on `test_start`. Validation: `validation_days` (default 15 %,
    at least 7) ending `label_delay_days` before the test. Training: `train_days` ending the
    delay before validation (default: everything from the history start).
    """
    days = (last_day - first_day).days + 1
    history = _parse_day(history_start, "history start") or first_day
    tests = test_days or max(7, round(days * 0.2))
    validations = validation_days or max(7, round(days * 0.15))
    start = _parse_day(test_start, "test start") or last_day + timedelta(days=1 - tests)
    delay = timedelta(days=label_delay_days)
    train_end = start - delay - timedelta(days=validations) - delay
    train_start = train_end - timedelta(days=train_days) if train_days else max(history, first_day)
    plan_days = (train_end - train_start).days
    if plan_days < 1 or train_start < max(first_day, history):
        needed = (train_days or 1) + 2 * label_delay_days + validations + tests
        raise PlanError(
            f"the data holds {days} days ({first_day} to {last_day}); this plan needs at least "
            f"{needed} (train {train_days or 1} + delay {label_delay_days} + validation "
            f"{validations} + delay {label_delay_days} + test {tests}): shorten the windows or "
            "use a longer dataset"
        )
    plan = TimePlan(
        history_start=history,
        train_start=train_start,
        train_days=plan_days,
        validation_days=validations,
        test_days=tests,
        label_delay_days=label_delay_days,
    )
    plan.check_data(first_day, last_day)
    return plan


def day_ms(day: date) -> int:
    return int(pd.Timestamp(day, tz="UTC").value // 1_000_000)


def window_masks(event_ms: np.ndarray, plan: TimePlan) -> dict[str, np.ndarray]:
    """Boolean row masks per window; rows in the history and the gaps belong to none."""
    return {
        name: (event_ms >= day_ms(start)) & (event_ms < day_ms(end))
        for name, (start, end) in plan.windows().items()
    }


def targets(
    transaction_ids: np.ndarray, fraud_reported_ms: dict[str, int], cutoff_ms: int | None
) -> np.ndarray:
    """1 where the transaction has a fraud label reported before `cutoff_ms` (any, when None)."""
    limit = np.iinfo(np.int64).max if cutoff_ms is None else cutoff_ms
    return np.fromiter(
        (1 if fraud_reported_ms.get(t, limit) < limit else 0 for t in transaction_ids),
        dtype=np.int8,
        count=len(transaction_ids),
    )


def mature(event_ms: np.ndarray, as_of_ms: int, label_delay_days: int) -> np.ndarray:
    """Rows whose label is due by `as_of_ms`: event_time + label delay <= as_of."""
    return event_ms + label_delay_days * DAY_MS <= as_of_ms


def label_horizon_ms(event_ms: np.ndarray, fraud_reported_ms: dict[str, int]) -> int:
    """Just after what the data knows: its newest transaction or newest label report."""
    newest_event = int(event_ms.max()) if len(event_ms) else 0
    newest_report = max(fraud_reported_ms.values(), default=0)
    return max(newest_event, newest_report) + 1


def known_labels(
    transaction_ids: np.ndarray,
    event_ms: np.ndarray,
    fraud_reported_ms: dict[str, int],
    as_of_ms: int,
    label_delay_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(mature mask, target) as known at `as_of_ms`; use only rows where the mask is True."""
    return (
        mature(event_ms, as_of_ms, label_delay_days),
        targets(transaction_ids, fraud_reported_ms, as_of_ms),
    )


def fraud_reports(labels) -> tuple[dict[str, int], dict[str, str]]:
    """From a labels table: fraud transaction id → reported_at (ms), and → fraud scenario."""
    frame = labels.to_pandas() if hasattr(labels, "to_pandas") else labels
    fraud = frame[frame["is_fraud"].astype(bool)]
    reported_ms = (
        pd.to_datetime(fraud["reported_at"], utc=True).astype("datetime64[ms, UTC]").astype("int64")
    )
    reported = dict(zip(fraud["transaction_id"].astype(str), reported_ms.to_numpy(), strict=True))
    scenario: dict[str, str] = {}
    if "fraud_scenario" in fraud.columns:
        scenario = {
            str(t): s
            for t, s in zip(fraud["transaction_id"], fraud["fraud_scenario"], strict=True)
            if isinstance(s, str) and s
        }
    return {k: int(v) for k, v in reported.items()}, scenario
