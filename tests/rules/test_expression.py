"""The condition grammar: what it accepts, what each test means on missing values, and the
errors a malformed condition gets (position and reason, at compile time)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from securebank.rules.expression import MAX_DEPTH, RuleSyntaxError, compile_condition, list_names

FIELDS = {"count": "number", "amount": "number", "other": "number", "mcc": "text", "card": "text"}
NO_LISTS: dict[str, frozenset] = {}


def fires(text: str, lists=NO_LISTS, **row) -> bool:
    values = {"count": 0.0, "amount": 0.0, "other": 0.0, "mcc": None, "card": None}
    values.update(row)
    return compile_condition(text, FIELDS)(values, lists)


@pytest.mark.parametrize(
    ("text", "row", "expected"),
    [
        ("count > 10 and amount < 2", {"count": 11, "amount": 1.5}, True),
        ("count > 10 and amount < 2", {"count": 10, "amount": 1.5}, False),
        ("count >= 10 or amount == 5", {"count": 1, "amount": 5}, True),
        ("not count > 3", {"count": 3}, True),
        ("not (count > 3 or amount > 3)", {"count": 4}, False),
        ("count > 1 and (amount < 1 or amount > 100)", {"count": 2, "amount": 500}, True),
        ("amount > other", {"amount": 2, "other": 1}, True),
        ("amount <= -1.5e2", {"amount": -200}, True),
        ("mcc == '7995'", {"mcc": "7995"}, True),
        ('mcc != "7995"', {"mcc": "5411"}, True),
        ('mcc in ("7995", "5967")', {"mcc": "5967"}, True),
        ('mcc not in ("7995", "5967")', {"mcc": "5411"}, True),
        ("count in (1, 2, 3)", {"count": 2.0}, True),
        (r"mcc == 'a\'b'", {"mcc": "a'b"}, True),
    ],
)
def test_conditions(text, row, expected):
    assert fires(text, **row) is expected


def test_and_binds_tighter_than_or():
    # a or (b and c): with a true, the result is true whatever b and c are
    assert fires("count > 0 or amount > 0 and other > 0", count=1)
    assert not fires("(count > 0 or amount > 0) and other > 0", count=1)


def test_every_test_on_a_missing_value_is_false_except_is_missing():
    nan = math.nan
    for text in (
        "count > 1",
        "count < 1",
        "count == 1",
        "count != 1",
        "count in (1, 2)",
        "count not in (1, 2)",
        "count > other",
        "count != other",
        "count is not missing",
    ):
        assert not fires(text, count=nan), text
    for text in (
        "mcc == 'x'",
        "mcc != 'x'",
        "mcc in ('x')",
        "mcc not in ('x')",
        "mcc not in list blocked",
        "mcc is not missing",
    ):
        assert not fires(text, lists={"blocked": frozenset({"y"})}, mcc=None), text
    assert fires("count is missing", count=nan)
    assert fires("mcc is missing", mcc=None)
    assert not fires("mcc is missing", mcc="5411")


def test_named_lists_are_read_at_evaluation_time():
    condition = compile_condition("card in list blocked_cards", FIELDS)
    row = {"card": "c-1"}
    assert condition(row, {"blocked_cards": frozenset({"c-1"})})
    assert not condition(row, {"blocked_cards": frozenset()})
    assert compile_condition("card not in list trusted", FIELDS)(row, {"trusted": frozenset()})
    assert list_names("card in list a or mcc not in list b and count > 1") == {"a", "b"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty condition"),
        ("count >", "expected a number at column 8 (found end of condition)"),
        ("count > 10 and", "expected a field name at column 15"),
        ("count >> 10", "expected a number at column 8"),
        ("speed > 10", "unknown field 'speed' at column 1"),
        ("count > '10'", "expected a number at column 9"),
        ("mcc > '7995'", "mcc is text: only ==, != and in apply at column 5"),
        ("mcc == 7995", "expected a quoted string at column 8"),
        ("count == mcc", "cannot compare number count with text mcc"),
        ("count > 1 amount < 2", "expected and/or or the end at column 11"),
        ("(count > 1", "expected ) at column 11"),
        ("count > 1)", "expected and/or or the end at column 10"),
        ("count ; 1", "unexpected character ';' at column 7"),
        ("count = 1", "unexpected character '=' at column 7"),
        ("import os", "unknown field 'import'"),
        ("__import__('os').system('x')", "unexpected character '.' at column 17"),
        ("count in ()", "expected a number at column 11"),
        ("card in list", "expected a list name at column 13"),
        ("card not > 1", "expected in after not"),
        ("mcc is here", "expected missing"),
        ("'unterminated", "unexpected character"),
    ],
)
def test_malformed_conditions_get_a_clear_error(text, message):
    with pytest.raises(RuleSyntaxError) as raised:
        compile_condition(text, FIELDS)
    assert message in str(raised.value)


def test_depth_and_size_are_bounded():
    deep = "(" * (MAX_DEPTH + 1) + "count > 1" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(RuleSyntaxError, match="nested deeper"):
        compile_condition(deep, FIELDS)
    with pytest.raises(RuleSyntaxError, match="nested deeper"):
        compile_condition("not " * (MAX_DEPTH + 1) + "count > 1", FIELDS)
    with pytest.raises(RuleSyntaxError, match="longer than"):
        compile_condition("count > 1 or " * 500 + "count > 1", FIELDS)
    assert compile_condition("(" * 10 + "count > 1" + ")" * 10, FIELDS)({"count": 2}, {})


_WORDS = st.sampled_from(
    [
        "count",
        "amount",
        "mcc",
        "card",
        "and",
        "or",
        "not",
        "in",
        "list",
        "is",
        "missing",
        "(",
        ")",
        ",",
        "<",
        ">=",
        "==",
        "!=",
        "1",
        "-2.5e3",
        "'x'",
        '"7995"',
        "blocked",
        "__x",
        ";",
        "=",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(_WORDS, max_size=12).map(" ".join)))
def test_any_text_compiles_or_gets_a_rule_syntax_error(text):
    try:
        condition = compile_condition(text, FIELDS)
    except RuleSyntaxError as error:
        assert str(error)
        return
    row = {"count": 1.0, "amount": math.nan, "other": 0.0, "mcc": None, "card": "c"}
    assert condition(row, {"blocked": frozenset({"c"})}) in (True, False)
    assert condition(row, {}) in (True, False)  # a list not given has no members
