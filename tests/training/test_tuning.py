"""Local tuning: the shared search space, bounded in trials and time, trial 1 = the defaults."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from securebank.features.definitions import FEATURE_NAMES
from securebank.training.train import Hyperparameters
from securebank.training.tuning import SEARCH_SPACE, bootstrap_wins, draw, tune

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
    assert result.top.validation_ap == max(t.validation_ap for t in seen)
    # The top trial is used only where it beat trial 1 on 90 % of the bootstrap resamples.
    assert result.best is (result.top if result.top_wins >= 0.9 else seen[0])


def test_the_time_budget_stops_the_search(split):
    ticks = itertools.count(0, 10.0)  # every clock reading is 10 s later
    result = tune(*split, BASE, max_trials=50, max_seconds=25, clock=lambda: next(ticks))
    assert result.stopped_by == "time"
    assert 1 <= len(result.trials) < 50


def test_bounds_must_be_positive(split):
    with pytest.raises(ValueError, match="at least 1 trial"):
        tune(*split, BASE, max_trials=0, max_seconds=10)


def test_bootstrap_wins_tells_a_real_gain_from_a_tie():
    rng = np.random.default_rng(3)
    y = (rng.random(2000) < 0.02).astype(int)
    noise = rng.random(2000)
    assert bootstrap_wins(y, noise, noise, 100, seed=1) == 0.0  # a tie never wins
    perfect = y + 0.1 * noise
    assert bootstrap_wins(y, perfect, noise, 100, seed=1) == 1.0
    nudged = noise + 0.05 * rng.random(2000)  # a different, equally useless ranking
    assert 0.05 < bootstrap_wins(y, nudged, noise, 200, seed=1) < 0.95


def test_a_clearly_better_trial_replaces_weak_given_parameters(split):
    weak = Hyperparameters(max_depth=1, eta=0.02, num_round=3, early_stopping_rounds=3, nthread=1)
    result = tune(*split, weak, max_trials=4, max_seconds=3600)
    assert result.top.number != 1 and result.top_wins >= 0.9
    assert result.best is result.top


def test_with_a_handful_of_frauds_the_given_parameters_are_kept():
    rng = np.random.default_rng(5)
    train, validation = _frame(rng, 3000), _frame(rng, 400)
    positives = validation.index[validation["is_fraud"] == 1]
    validation.loc[positives[4:], "is_fraud"] = 0  # 4 frauds left: any ranking gain is noise
    result = tune(train, validation, BASE, max_trials=6, max_seconds=3600)
    assert result.best.number == 1
    assert result.top.number != 1 and result.top_wins < 0.9  # the top trial, not trusted
