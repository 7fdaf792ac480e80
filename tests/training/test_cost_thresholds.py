"""Thresholds from cost: the search equals brute force, respects capacity, moves the right way
with each cost; the training step writes the profile and uses the cost rule when asked; the CLI
draws the trade-off."""

from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from securebank.decision import Thresholds
from securebank.features.definitions import FEATURE_NAMES
from securebank.training.thresholds import (
    CostModel,
    choose_cost_thresholds,
    cost_at,
    fraud_probability,
    score_profile,
)


def _data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.05).astype(int)
    scores = np.clip(rng.normal(0.3, 0.15, n) + 0.4 * y, 0, 1).round(3)
    amounts = rng.lognormal(3.5, 1.0, n).round(2)
    return y, scores, amounts


def _brute_force(y, scores, amounts, days, costs):
    q = fraud_probability(y, scores)
    cuts = sorted(set(scores.tolist()) | {1.0}, reverse=True)
    best = np.inf
    for decline, review in itertools.combinations_with_replacement(cuts, 2):
        declined = scores >= decline
        reviewed = (scores >= review) & ~declined
        if costs.review_capacity and reviewed.sum() / days > costs.review_capacity:
            continue
        cost = (
            (q * amounts)[~declined & ~reviewed].sum()
            + costs.review_cost * reviewed.sum()
            + costs.decline_cost * (1 - q)[declined].sum()
        ) / days
        best = min(best, cost)
    return best


@pytest.mark.parametrize(
    "costs", [CostModel(5, 25), CostModel(20, 5), CostModel(5, 25, review_capacity=2)]
)
def test_the_search_finds_the_brute_force_optimum(costs):
    y, scores, amounts = _data(400, 3)
    profile = score_profile(y, scores, amounts, days=10, points=10_000)  # every distinct score
    chosen, rule, best = choose_cost_thresholds(profile, costs)
    assert best.total_per_day == pytest.approx(_brute_force(y, scores, amounts, 10, costs))
    assert chosen.review <= chosen.decline
    if costs.review_capacity:
        assert best.reviews_per_day <= costs.review_capacity
    assert rule.startswith("cost: review")


def test_costs_move_the_thresholds_the_right_way():
    y, scores, amounts = _data(20_000, 5)
    profile = score_profile(y, scores, amounts, days=30)
    base = choose_cost_thresholds(profile, CostModel(5, 25))[2]
    dear_reviews = choose_cost_thresholds(profile, CostModel(50, 25))[2]
    dear_declines = choose_cost_thresholds(profile, CostModel(5, 500))[2]
    capped = choose_cost_thresholds(profile, CostModel(5, 25, review_capacity=1))[2]
    assert dear_reviews.reviews_per_day <= base.reviews_per_day
    assert dear_declines.declines_per_day <= base.declines_per_day
    assert capped.reviews_per_day <= 1 < base.reviews_per_day
    assert capped.total_per_day >= base.total_per_day  # a constraint never makes it cheaper
    budget = cost_at(profile, CostModel(5, 25), Thresholds(0.5, 0.9))
    assert budget.total_per_day >= base.total_per_day


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        CostModel(-1, 5)
    with pytest.raises(ValueError):
        score_profile(np.array([]), np.array([]), np.array([]), days=1)


def _split(n: int, seed: int, start: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.05).astype(int)
    frame = pd.DataFrame(rng.normal(size=(n, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    frame["card_count_1h"] += 3 * y
    frame["amount_usd"] = rng.lognormal(3.5, 1.0, n)
    frame["is_fraud"] = y
    frame["event_time"] = pd.Timestamp(start) + pd.to_timedelta(np.arange(n) * 60, unit="s")
    return frame


@pytest.mark.parametrize("by_cost", [False, True])
def test_training_writes_the_profile_and_uses_the_cost_rule_when_asked(
    tmp_path, by_cost, capsys, monkeypatch
):
    from securebank.model_artifact import load_model
    from securebank.training import train

    for name, seed, start in (("train", 1, "2026-01-01"), ("validation", 2, "2026-02-01")):
        (tmp_path / name).mkdir()
        _split(3000, seed, start).to_parquet(tmp_path / name / "part.parquet")
    hps = {"num_round": "20", "nthread": "1"}
    channels = {
        "SM_CHANNEL_TRAIN": str(tmp_path / "train"),
        "SM_CHANNEL_VALIDATION": str(tmp_path / "validation"),
        "SM_CHANNEL_REFIT": str(tmp_path / "refit"),  # empty: no refit
    }
    (tmp_path / "refit").mkdir()
    if by_cost:  # and refitted on train + validation: thresholds and profile carried over
        hps |= {"review_cost": "5", "decline_cost": "25", "review_capacity": "10"}
        for name in ("train", "validation"):
            shutil.copy(tmp_path / name / "part.parquet", tmp_path / "refit" / f"{name}.parquet")
    manifest = train.main(
        [],
        {**channels, "SM_MODEL_DIR": str(tmp_path / "model"), "SM_HPS": json.dumps(hps)},
    )
    cuts = manifest.cost_profile["thresholds"]
    assert cuts == sorted(cuts, reverse=True)
    assert ("refit_rows" in manifest.hyperparameters) is by_cost
    assert manifest.cost_profile["transactions"] == 3000
    assert manifest.cost_profile["days"] == pytest.approx(2999 / 1440)
    assert manifest.threshold_rule.startswith("cost: " if by_cost else "review: top")
    loaded = load_model(tmp_path / "model", feature_set=None).manifest
    assert loaded.cost_profile == manifest.cost_profile

    from securebank.cli.app import main

    monkeypatch.setenv("COLUMNS", "200")
    from securebank.cli import console as cli_console  # made at import: COLUMNS may come late

    monkeypatch.setattr(cli_console.console, "width", 200)
    args = ["thresholds", "--model-dir", str(tmp_path / "model"), "--review-cost", "5"]
    capsys.readouterr()
    assert main([*args, "--decline-cost", "25", "--capacity", "10"]) == 0
    out = capsys.readouterr().out
    assert "Cost trade-off (3,000 validation transactions over 2.1 days" in out
    assert "* cheapest: review" in out and "model: the thresholds in its manifest" in out
    assert main([*args, "--decline-cost", "25", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    totals = [p["total_per_day"] for p in document["curve"]]
    chosen = document["chosen"]
    assert min(totals) == pytest.approx(
        next(p["total_per_day"] for p in document["curve"] if p["review"] == chosen["review"])
    )
    assert main(["thresholds", "--review-cost", "5", "--decline-cost", "1"]) == 1
    assert "exactly one of --model N or --model-dir" in capsys.readouterr().err


def test_the_profile_is_carried_to_a_refitted_models_scale():
    from securebank.training.thresholds import carry_profile

    y, scores, amounts = _data(5000, 9)
    profile = score_profile(y, scores, amounts, days=5)
    refit_scores = scores**2  # a monotone change of scale: every cut flags the same rows
    carried = carry_profile(profile, scores, refit_scores)
    assert carried.flagged == profile.flagged
    for old, new in zip(profile.thresholds, carried.thresholds, strict=True):
        assert np.mean(scores >= old) == np.mean(refit_scores >= new) or old == 1.0
    assert carried.thresholds == sorted(carried.thresholds, reverse=True)
