"""Rule-set versions and lists in DynamoDB (local AWS): maker-checker, rollback, lists."""

from __future__ import annotations

import pytest

from securebank.rules.ruleset import RuleSetError
from securebank.rules.store import RulesRefused

ONE = "rules:\n  - {name: big, when: amount_usd > 1000, action: review, reason: big amount}\n"
TWO = "rules:\n  - {name: big, when: amount_usd > 500, action: review, reason: big amount}\n"


def test_propose_approve_rollback(rule_stores):
    versions, _ = rule_stores
    assert versions.active() == (None, [])
    v1 = versions.propose(ONE, by="alice")
    v2 = versions.propose(TWO, by="alice")
    assert (v1, v2) == (1, 2)
    assert versions.active() == (None, [])  # proposing activates nothing
    versions.approve(v1, by="bob", reason="big-amount review")
    assert versions.active() == (1, [])
    versions.approve(v2, by="carol", reason="lower threshold")
    assert versions.active() == (2, [1])
    stored = versions.get(2)
    assert (stored.status, stored.proposed_by, stored.approved_by, stored.reason) == (
        "approved",
        "alice",
        "carol",
        "lower threshold",
    )
    assert versions.rollback(by="dave", reason="too many alerts") == (2, 1)
    assert versions.active() == (1, [])
    with pytest.raises(RulesRefused, match="no earlier active version"):
        versions.rollback(by="dave", reason="again")
    assert [v.version for v in versions.versions()] == [1, 2]


def test_maker_checker_refusals(rule_stores):
    versions, _ = rule_stores
    v1 = versions.propose(ONE, by="alice")
    with pytest.raises(RulesRefused, match="another person approves"):
        versions.approve(v1, by="Alice ", reason="mine")
    with pytest.raises(RulesRefused, match="a reason"):
        versions.approve(v1, by="bob", reason=" ")
    with pytest.raises(RulesRefused, match="no rule-set version 9"):
        versions.approve(9, by="bob", reason="r")
    versions.approve(v1, by="bob", reason="ok")
    with pytest.raises(RulesRefused, match="version 1 is approved, not proposed"):
        versions.approve(v1, by="carol", reason="again")
    with pytest.raises(RuleSetError, match="unknown field"):
        versions.propose("rules:\n  - {name: a, when: x > 1, action: review, reason: r}\n", "al")
    with pytest.raises(RulesRefused, match="proposer"):
        versions.propose(ONE, by=" ")
    assert versions.active() == (1, [])


def test_a_pointer_moved_meanwhile_refuses_the_approval(rule_stores, monkeypatch):
    versions, _ = rule_stores
    v1 = versions.propose(ONE, by="alice")
    v2 = versions.propose(TWO, by="alice")
    versions.approve(v1, by="bob", reason="ok")
    stale = versions.active()
    # the race: another approval lands between this approver's read and write
    v3 = versions.propose(ONE, by="erin")
    versions.approve(v3, by="bob", reason="ok")
    monkeypatch.setattr(versions, "active", lambda: stale)
    with pytest.raises(RulesRefused, match="changed meanwhile"):
        versions.approve(v2, by="carol", reason="late")
    monkeypatch.undo()
    assert versions.active() == (3, [1])
    assert versions.get(v2).status == "proposed"  # nothing half-done


def test_lists(rule_stores):
    _, lists = rule_stores
    assert lists.add("blocked_cards", ["c-1", " c-2 ", ""], by="alice", reason="fraud ring") == 2
    assert lists.add("blocked_cards", [f"c-{i}" for i in range(100)], by="a", reason="r") == 100
    assert lists.members("blocked_cards") == {f"c-{i}" for i in range(100)}
    assert lists.members("trusted_cards") == frozenset()
    lists.remove("blocked_cards", ["c-1"])
    assert "c-1" not in lists.members("blocked_cards")
    with pytest.raises(RulesRefused, match="never card numbers"):
        lists.add("blocked_cards", ["4111111111111111"], by="a", reason="r")


def test_creating_the_tables_twice_is_harmless(rule_stores):
    from securebank.rules.store import create_tables

    versions, lists = rule_stores
    dynamodb = versions._db
    assert create_tables(dynamodb, versions.table, lists.table) == []

    class Stale:  # a listing that missed them (paginated, or created meanwhile elsewhere)
        def __getattr__(self, name):
            return getattr(dynamodb, name)

        def get_paginator(self, name):
            class Empty:
                def paginate(self):
                    return [{"TableNames": []}]

            return Empty()

    assert create_tables(Stale(), versions.table, lists.table) == []
