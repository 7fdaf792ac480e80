from datetime import date

import numpy as np
import pytest

from securebank.training.splits import SplitPlan, assign_splits, plan_splits, targets


def test_default_plan_keeps_a_label_delay_gap_between_splits():
    plan = plan_splits(date(2026, 1, 1), date(2026, 3, 31), gap_days=7)  # 90 days
    ranges = plan.ranges()
    assert ranges["test"] == (date(2026, 3, 14), date(2026, 4, 1))  # last 18 days
    assert (ranges["validation"][1] - ranges["validation"][0]).days == 14
    assert (plan.validation_start - ranges["train"][1]).days == 7
    assert (plan.test_start - ranges["validation"][1]).days == 7
    assert ranges["train"][0] == date(2026, 1, 1)


def test_explicit_dates_win_and_empty_ranges_are_refused():
    plan = plan_splits(date(2026, 1, 1), date(2026, 3, 31), 3, date(2026, 2, 1), date(2026, 3, 1))
    assert plan.ranges()["train"] == (date(2026, 1, 1), date(2026, 1, 29))
    with pytest.raises(ValueError, match="training range is empty"):
        SplitPlan(date(2026, 1, 1), date(2026, 1, 3), date(2026, 2, 1), date(2026, 3, 1), 7)
    with pytest.raises(ValueError, match="test range is empty"):
        SplitPlan(date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 3, 1), 7)


def test_rows_in_gaps_belong_to_no_split():
    plan = SplitPlan(date(2026, 1, 1), date(2026, 1, 11), date(2026, 1, 21), date(2026, 1, 31), 2)
    day = 86_400_000
    start = 1767225600000  # 2026-01-01
    event_ms = np.array([start + d * day for d in range(30)])
    masks = assign_splits(event_ms, plan)
    assert masks["train"].sum() == 8 and masks["validation"].sum() == 8
    assert masks["test"].sum() == 10
    in_none = ~(masks["train"] | masks["validation"] | masks["test"])
    assert list(np.flatnonzero(in_none)) == [8, 9, 18, 19]


def test_targets_count_only_labels_reported_before_the_cutoff():
    reported = {"a": 1767225600000 + 5 * 86_400_000, "b": 1767225600000 + 50 * 86_400_000}
    ids = np.array(["a", "b", "c"])
    assert list(targets(ids, reported, date(2026, 1, 10))) == [1, 0, 0]
    assert list(targets(ids, reported, None)) == [1, 1, 0]
