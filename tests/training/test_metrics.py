import numpy as np
import pytest

from securebank.training.metrics import (
    card_precision_at_k,
    precision_recall_at,
    quality_metrics,
    recall_at_fpr,
)
from securebank.training.thresholds import choose_thresholds


def test_card_precision_at_k_by_hand():
    # Day 1: cards a (fraud), b, c ranked a > b > c; top 2 holds one defrauded card -> 0.5.
    # Day 2: card d (fraud, two transactions, max score counts) and e; top 2 -> 1 of 2 -> 0.5,
    # but with k=1 d alone -> 1.0. Mean over days.
    days = np.array([1, 1, 1, 2, 2, 2])
    cards = np.array(["a", "b", "c", "d", "d", "e"])
    y = np.array([1, 0, 0, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.1, 0.2, 0.95, 0.5])
    assert card_precision_at_k(days, cards, y, scores, k=2) == pytest.approx(0.5)
    assert card_precision_at_k(days, cards, y, scores, k=1) == pytest.approx(1.0)


def test_recall_at_fpr_by_hand():
    y = np.array([0] * 100 + [1] * 4)
    scores = np.concatenate([np.linspace(0, 0.5, 99), [0.95], [0.99, 0.9, 0.6, 0.3]])
    # One genuine transaction (0.95) outranks three frauds: at FPR <= 1 % only 0.99 and 0.95...
    assert recall_at_fpr(y, scores, 0.01) == pytest.approx(0.75)
    assert recall_at_fpr(y, scores, 0.0) == pytest.approx(0.25)


def test_precision_recall_at_threshold():
    y = np.array([1, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.3, 0.1])
    assert precision_recall_at(y, scores, 0.5) == {
        "precision": 0.5,
        "recall": 0.5,
        "flagged_share": 0.5,
    }


def test_quality_metrics_refuse_a_single_class():
    with pytest.raises(ValueError, match="one class"):
        quality_metrics(np.zeros(4), np.ones(4), np.zeros(4), np.zeros(4))


def test_thresholds_follow_the_stated_rule():
    rng = np.random.default_rng(0)
    y = np.array([0] * 1000 + [1] * 20)
    scores = np.concatenate([rng.uniform(0, 0.7, 1000), np.linspace(0.75, 1.0, 20)])
    thresholds, rule = choose_thresholds(y, scores, review_rate=0.01, decline_precision=0.9)
    assert np.mean(scores >= thresholds.review) == pytest.approx(0.01, abs=0.001)
    flagged = scores >= thresholds.decline
    assert y[flagged].mean() >= 0.9
    assert thresholds.decline >= thresholds.review
    assert "1.00%" in rule and "90%" in rule


def test_card_precision_removes_detected_and_known_compromised_cards():
    """The Handbook's definition on a hand-made example, k = 2, three days."""
    import pandas as pd

    day1, day2, day3 = (pd.Timestamp(f"2026-01-0{d}", tz="UTC") for d in (1, 2, 3))
    days = np.array([day1] * 3 + [day2] * 3 + [day3] * 3)
    cards = np.array(["a", "b", "c", "a", "b", "c", "a", "d", "e"])
    y = np.array([1, 0, 0, 1, 0, 1, 1, 0, 1])
    scores = np.array([0.9, 0.8, 0.1, 0.9, 0.7, 0.6, 0.9, 0.2, 0.1])
    # Day 1: top 2 = a (fraud), b -> 1/2; a is detected.
    # Day 2: a is removed (detected); top 2 = b, c (fraud) -> 1/2; c detected.
    # Day 3: a removed; e's fraud was reported on day 2 (known compromised) -> removed;
    #        top 2 = d only -> 0/2.
    known = {"e": pd.Timestamp("2026-01-02 10:00", tz="UTC")}
    value = card_precision_at_k(days, cards, y, scores, k=2, known_since=known)
    assert value == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    # Without removals day 2 would rank a (fraud) and b, day 3 a and d: a counted three times.
    naive = pd.DataFrame({"d": days, "c": cards, "y": y, "s": scores})
    assert naive.groupby(["d", "c"]).y.max().sum() == 5
    # A card reported compromised only after the day starts is still assessed that day.
    later = {"e": pd.Timestamp("2026-01-03 10:00", tz="UTC")}
    assert card_precision_at_k(days, cards, y, scores, k=2, known_since=later) == pytest.approx(
        (0.5 + 0.5 + 0.5) / 3
    )


def test_thresholds_carry_to_another_model_by_traffic_share():
    from securebank.decision import Thresholds
    from securebank.training.thresholds import carry_thresholds

    old = np.linspace(0, 1, 1001)  # a threshold of 0.99 flags 1.1 % of the traffic
    new = old**3  # the same ranking on another scale
    carried = carry_thresholds(Thresholds(review=0.99, decline=0.999), old, new)
    assert np.mean(new >= carried.review) == pytest.approx(np.mean(old >= 0.99))
    assert np.mean(new >= carried.decline) == pytest.approx(np.mean(old >= 0.999))
    assert carried.review == pytest.approx(0.99**3)
    # A decline threshold that flagged nothing stays unreachable.
    assert carry_thresholds(Thresholds(review=0.5, decline=1.0), old * 0.9, new).decline == 1.0
