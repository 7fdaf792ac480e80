"""Local tuning: the shared search space, bounded in trials and time, trial 1 = the defaults."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from securebank.features.definitions import FEATURE_NAMES
from securebank.training.train import Hyperparameters
from securebank.training.tuning import SEARCH_SPACE, draw, tune

BASE = Hyperparameters(num_round=20, early_stopping_rounds=5, nthread=1)


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    frame = pd.DataFrame(rng.normal(size=(n, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    signal = frame[FEATURE_NAMES[0]] + 0.5 * frame[FEATURE_NAMES[1]]
    frame["is_fraud"] = (signal + rng.normal(scale=0.7, size=n) > 2.2).astype(int)
    return frame


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(1)
    return _frame(rng, 3000), _frame(rng, 1500)


def test_draws_stay_inside_the_space():
    rng = np.random.default_rng(0)
    for _ in range(200):
        values = vars(draw(BASE, rng))
        for r in SEARCH_SPACE:
            assert r.low <= values[r.name] <= r.high
            assert isinstance(values[r.name], int if r.kind == "integer" else float)


def test_trial_one_is_the_given_parameters_and_every_trial_is_reported(split):
    seen = []
    result = tune(*split, BASE, max_trials=4, max_seconds=3600, on_trial=seen.append)
    assert [t.number for t in seen] == [1, 2, 3, 4] and result.stopped_by == "trials"
    assert seen[0].hyperparameters == BASE
    assert len({t.searched()["eta"] for t in seen}) == 4
    assert result.best.validation_ap == max(t.validation_ap for t in seen)


def test_the_time_budget_stops_the_search(split):
    ticks = itertools.count(0, 10.0)  # every clock reading is 10 s later
    result = tune(*split, BASE, max_trials=50, max_seconds=25, clock=lambda: next(ticks))
    assert result.stopped_by == "time"
    assert 1 <= len(result.trials) < 50


def test_bounds_must_be_positive(split):
    with pytest.raises(ValueError, match="at least 1 trial"):
        tune(*split, BASE, max_trials=0, max_seconds=10)
