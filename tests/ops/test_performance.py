"""Live performance on matured labels, and the retraining rule, on hand-made decisions."""

from __future__ import annotations

import json
import math

import pytest

from securebank.monitoring.emf import emf_lines
from securebank.monitoring.performance import (
    DAY_MS,
    EffectiveLabel,
    amount_band,
    decision_frame,
    label_decisions,
    performance,
)
from securebank.monitoring.retrain import RetrainPolicy, should_retrain

NAMES = ("amount_usd", "channel", "is_new_device")


def decision(tid, day, action, score, amount="100.00", currency="USD", version="1", **extra):
    return {
        "transaction_id": tid,
        "event_time": f"2026-09-{day:02d}T12:00:00+00:00",
        "action": action,
        "score": score,
        "amount": amount,
        "currency": currency,
        "model_version": version,
        "mcc": "5411",
        "merchant_country": "US",
        "feature_set_version": "fs-test",
        "features": [100.0, 1.0, extra.get("new_device", 0.0)],
    }


def ms(day: int) -> int:
    return (20_696 + day) * DAY_MS  # midnight of 2026-09-DAY (2026-09-01 is epoch day 20,697)


@pytest.fixture
def labelled():
    decisions = [
        decision("a", 1, "decline", 0.95, amount="900.00"),  # fraud, caught
        decision("b", 1, "review", 0.7),  # legit, false alert
        decision("c", 2, "approve", 0.2, amount="300.00"),  # fraud, missed
        decision("d", 2, "approve", 0.1),  # legit
        decision("e", 2, "review", 0.8, version="2", new_device=1.0),  # fraud, caught
        decision("f", 30, "decline", 0.99),  # fraud, too recent: not matured
        decision("g", 1, "approve", 0.3, amount="50.00"),  # fraud reported after as_of
    ]
    labels = {
        "a": EffectiveLabel(True, ms(5)),
        "c": EffectiveLabel(True, ms(20)),
        "e": EffectiveLabel(True, ms(9)),
        "f": EffectiveLabel(True, ms(31)),
        "g": EffectiveLabel(True, ms(40)),
        "b": EffectiveLabel(False, ms(3)),
    }
    frame = decision_frame(decisions, {"fs-test": NAMES})
    return label_decisions(frame, labels, as_of_ms=ms(32), maturity_days=14)


def test_only_matured_decisions_count_and_unknown_is_legit(labelled):
    assert sorted(labelled["transaction_id"]) == ["a", "b", "c", "d", "e", "g"]
    assert not dict(zip(labelled["transaction_id"], labelled["is_fraud"], strict=True))["g"]


def test_overall_figures_by_hand(labelled):
    (row,) = performance(labelled, None).to_dict("records")
    assert (row["decisions"], row["alerts"], row["frauds"], row["caught"]) == (6, 3, 3, 2)
    assert row["precision"] == pytest.approx(2 / 3)
    assert row["recall"] == pytest.approx(2 / 3)
    assert row["amount_recall"] == pytest.approx((900 + 100) / (900 + 300 + 100))
    assert row["alert_rate"] == pytest.approx(0.5)
    assert row["analyst_load_per_day"] == pytest.approx(2 / 2)  # two reviews over two days
    assert 0 < row["average_precision"] <= 1


def test_grouped_by_version_day_and_segments(labelled):
    by_version = performance(labelled, "model_version").set_index("model_version")
    assert by_version.loc["2", "recall"] == 1.0 and by_version.loc["1", "caught"] == 1
    by_day = performance(labelled, "day").set_index("day")
    assert list(by_day.index) == ["2026-09-01", "2026-09-02"]
    assert by_day.loc["2026-09-01", "alerts"] == 2
    device = performance(labelled, "new_device").set_index("new_device")
    assert device.loc["yes", "decisions"] == 1
    assert math.isnan(device.loc["yes", "average_precision"])  # one class only
    bands = performance(labelled, "amount_band")["amount_band"].tolist()
    assert bands == ["50-200", "200-1000"]  # in band order, not text order
    channel = performance(labelled, "channel").set_index("channel")
    assert list(channel.index) == ["ecommerce"]
    with pytest.raises(ValueError, match="group by one of"):
        performance(labelled, "colour")


def test_amount_bands_and_currency_conversion():
    assert [amount_band(x) for x in (0, 49.99, 50, 999, 1000, float("nan"))] == [
        "<50",
        "<50",
        "50-200",
        "200-1000",
        ">=1000",
        "unknown",
    ]
    frame = decision_frame([decision("j", 1, "approve", 0.1, amount="10000", currency="JPY")], {})
    assert frame.loc[0, "amount_usd"] < 100 and frame.loc[0, "channel"] == "unknown"


def test_emf_lines_carry_each_version_and_skip_missing_values(labelled):
    rows = performance(labelled, "model_version").to_dict("records")
    lines = [json.loads(line) for line in emf_lines(rows, 1_000)]
    assert [d["model_version"] for d in lines] == ["1", "2"]
    names = [m["Name"] for m in lines[1]["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert "Precision" in names and "AveragePrecision" not in names  # NaN for one class


def test_retraining_rule():
    policy = RetrainPolicy(schedule_days=7, min_average_precision=0.5, max_drift_psi=0.2)
    assert not should_retrain(policy, 2, 0.8, 100, 0.05).retrain
    assert should_retrain(policy, 8, 0.8, 100, 0.05).reasons[0].startswith("schedule")
    low = should_retrain(policy, 2, 0.3, 100, 0.05)
    assert low.retrain and "average precision" in low.reasons[0]
    assert not should_retrain(policy, 2, 0.3, 5, None).retrain  # too few frauds to judge
    assert "drift" in should_retrain(policy, 2, None, 0, 0.4).reasons[0]
    assert should_retrain(policy, None, None, 0, None).reasons == ("no trained version yet",)


def test_a_challenger_is_judged_on_the_same_matured_decisions(labelled):
    from securebank.monitoring.performance import challenger_view, metrics

    order = labelled["transaction_id"].tolist()  # a, b, c, d, e, g
    perfect = [1.0 if t in ("a", "c", "e") else 0.0 for t in order]
    actions = ["decline" if s else "approve" for s in perfect]
    challenger = metrics(challenger_view(labelled, perfect, actions))
    champion = metrics(labelled)
    assert (challenger["precision"], challenger["recall"]) == (1.0, 1.0)
    assert challenger["average_precision"] == 1.0 > champion["average_precision"]
    assert challenger["decisions"] == champion["decisions"] == 6
