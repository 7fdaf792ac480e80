"""The scorer's cached view of the rules: a new approved version or list member is picked up
after the refresh interval, not before, and a failed refresh keeps the last good rules."""

from __future__ import annotations

from securebank.features.definitions import FEATURE_NAMES
from securebank.rules.active import ActiveRules, apply_rules

REVIEW_BIG = "rules:\n  - {name: big, when: amount_usd > 1000, action: review, reason: big}\n"
BLOCK = (
    "rules:\n  - {name: blocked, when: card_id in list blocked_cards, action: decline, "
    "reason: blocked}\n"
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def vec(amount: float) -> list[float]:
    out = [0.0] * len(FEATURE_NAMES)
    out[FEATURE_NAMES.index("amount_usd")] = amount
    return out


def test_hot_reload_after_the_refresh_interval(rule_stores):
    versions, lists = rule_stores
    clock = Clock()
    active = ActiveRules(versions, lists, refresh_seconds=5, clock=clock)
    txn = {"card_id": "c-1"}
    version, [outcome] = active.decide([vec(2000)], [txn], ["approve"])
    assert (version, outcome.action, outcome.hits) == ("", "approve", ())

    v1 = versions.propose(REVIEW_BIG, by="alice")
    versions.approve(v1, by="bob", reason="r")
    clock.now = 4.9
    assert active.decide([vec(2000)], [txn], ["approve"])[0] == ""  # not re-read yet
    clock.now = 5.0
    version, [outcome] = active.decide([vec(2000)], [txn], ["approve"])
    assert (version, outcome.action, outcome.hits) == ("1", "review", ("big",))

    v2 = versions.propose(BLOCK, by="alice")
    versions.approve(v2, by="bob", reason="r")
    lists.add("blocked_cards", ["c-1"], by="alice", reason="r")
    clock.now = 10.0
    version, [outcome] = active.decide([vec(1)], [txn], ["approve"])
    assert (version, outcome.action, outcome.hits) == ("2", "decline", ("blocked",))
    lists.remove("blocked_cards", ["c-1"])
    clock.now = 15.0
    assert active.decide([vec(1)], [txn], ["review"])[1][0].action == "review"


def test_a_failed_refresh_keeps_the_last_good_rules(rule_stores, monkeypatch):
    versions, lists = rule_stores
    versions.approve(versions.propose(REVIEW_BIG, by="alice"), by="bob", reason="r")
    clock = Clock()
    active = ActiveRules(versions, lists, refresh_seconds=1, clock=clock)

    def unavailable():
        raise ConnectionError("dynamodb down")

    monkeypatch.setattr(versions, "active", unavailable)
    clock.now = 2
    version, [outcome] = active.decide([vec(5000)], [{}], ["approve"])
    assert (version, outcome.action) == ("1", "review")
    assert "dynamodb down" in active.last_error


def test_no_rules_object_leaves_the_model_action():
    version, outcomes = apply_rules(None, [vec(1)], [{}], ["decline"])
    assert version == "" and outcomes[0].action == "decline" and outcomes[0].hits == ()
