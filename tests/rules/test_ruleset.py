"""YAML rule sets: what a valid one compiles to, the errors of a malformed one, and how rules
combine with the model's action."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from securebank.features.definitions import FEATURE_NAMES
from securebank.rules.ruleset import (
    RuleHit,
    RuleSetError,
    combine,
    compile_rule_set,
    rule_row,
)

RULES = """
rules:
  - name: card-testing
    when: card_count_1h > 10 and amount_usd < 2
    action: review
    reason: card testing
  - name: blocked-card
    when: card_id in list blocked_cards
    action: decline
    reason: card on the block list
  - name: trusted-merchant
    when: merchant_id in list trusted_merchants and channel == "pos"
    action: allow
    reason: trusted merchant, card present
"""


def vector(**values: float) -> list[float]:
    out = [0.0] * len(FEATURE_NAMES)
    for name, v in values.items():
        out[FEATURE_NAMES.index(name)] = v
    return out


def test_a_rule_set_compiles_and_names_its_lists():
    rules = compile_rule_set(RULES, "3")
    assert rules.version == "3"
    assert [r.name for r in rules.rules] == ["card-testing", "blocked-card", "trusted-merchant"]
    assert rules.lists == {"blocked_cards", "trusted_merchants"}
    lists = {"blocked_cards": frozenset({"c-9"}), "trusted_merchants": frozenset({"m-1"})}
    txn = {"card_id": "c-9", "merchant_id": "m-1", "channel": "pos", "amount": "1.00"}
    row = rule_row(vector(card_count_1h=12, amount_usd=1.0), txn)
    assert rules.evaluate(row, lists) == [
        RuleHit("card-testing", "review", "card testing"),
        RuleHit("blocked-card", "decline", "card on the block list"),
        RuleHit("trusted-merchant", "allow", "trusted merchant, card present"),
    ]
    assert rules.hit_names(rule_row(vector(card_count_1h=3), txn | {"card_id": "c-1"}), lists) == [
        "trusted-merchant"
    ]


def test_rule_row_reads_a_contract_transaction():
    from securebank.contract import Transaction

    txn = Transaction(
        transaction_id="t-1",
        event_time=datetime(2026, 1, 1, tzinfo=UTC),
        card_id="c-1",
        merchant_id="m-1",
        amount=Decimal("12.50"),
        currency="USD",
        channel="ecommerce",
    )
    row = rule_row(vector(), txn)
    assert row["channel"] == "ecommerce" and row["amount"] == 12.5
    assert row["mcc"] is None and row["device_id"] is None and row["status"] == "approved"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping with a `rules` list"),
        ("rules: []\nextra: 1\n", "unknown top-level keys: extra"),
        ("rules:\n  - 3\n", "rule 1: expected a mapping"),
        ("rules:\n  - when: x > 1\n", "rule 1: name is required"),
        ("rules:\n  - name: a\n    when: amount_usd > 1\n", "rule 1 (a): missing action, reason"),
        (
            "rules:\n  - {name: a, when: amount_usd > 1, action: block, reason: r}\n",
            "rule 1 (a): action must be one of review, decline, allow",
        ),
        (
            "rules:\n  - {name: a, when: amount_usd > 1, action: review, reason: ''}\n",
            "rule 1 (a): reason must be a non-empty text",
        ),
        (
            "rules:\n  - {name: a, when: amount_usd > 1, action: review, reason: r, x: 1}\n",
            "rule 1 (a): unknown keys x",
        ),
        (
            "rules:\n  - {name: a, when: amount_usd > 1, action: review, reason: r}\n"
            "  - {name: a, when: amount_usd > 2, action: review, reason: r}\n",
            "rule 2 (a): duplicate name",
        ),
        (
            "rules:\n  - {name: a, when: 'amount_usd >', action: review, reason: r}\n",
            "rule 1 (a): expected a number at column 13",
        ),
        (
            "rules:\n  - {name: a, when: 'card_velocity > 3', action: review, reason: r}\n",
            "rule 1 (a): unknown field 'card_velocity'",
        ),
        (
            "rules:\n  - {name: a, when: 5, action: review, reason: r}\n",
            "rule 1 (a): when must be a text condition",
        ),
    ],
)
def test_malformed_rule_sets_name_the_rule_and_the_reason(text, message):
    with pytest.raises(RuleSetError) as raised:
        compile_rule_set(text)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("model", "rules", "final"),
    [
        ("approve", [], "approve"),
        ("review", [], "review"),
        ("approve", ["review"], "review"),
        ("approve", ["decline"], "decline"),
        ("review", ["allow"], "approve"),  # allow overrides the model's review
        ("approve", ["review", "allow"], "approve"),  # ... and a review rule's
        ("decline", ["allow"], "decline"),  # never a decline
        ("approve", ["decline", "allow"], "decline"),
        ("review", ["decline"], "decline"),
    ],
)
def test_combine_decline_beats_review_beats_approve_and_allow_overrides_review_only(
    model, rules, final
):
    hits = [RuleHit(f"r{i}", a, "x") for i, a in enumerate(rules)]
    assert combine(model, hits) == final


def test_list_files_parse_to_frozensets_and_other_shapes_are_refused():
    import pytest

    from securebank.rules.ruleset import RuleSetError, parse_lists

    assert parse_lists("blocked_cards: [c1, 42]\nempty: []\n") == {
        "blocked_cards": frozenset({"c1", "42"}),
        "empty": frozenset(),
    }
    assert parse_lists("") == {}
    for text in ("- a\n- b\n", "cards: c1\n", "cards: [{a: 1}]\n"):
        with pytest.raises(RuleSetError, match="mapping of list name"):
            parse_lists(text)
