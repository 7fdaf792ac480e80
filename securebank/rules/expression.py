"""A rule's condition: a small grammar, parsed once and compiled to closures (never `eval`).

Grammar (keywords are lower case; `#` is not a comment — expressions are one line)::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" expr ")" | test
    test       := FIELD op value
                | FIELD ["not"] "in" "(" literal ("," literal)* ")"
                | FIELD ["not"] "in" "list" NAME
                | FIELD "is" ["not"] "missing"
    op         := "<" | "<=" | ">" | ">=" | "==" | "!="
    value      := NUMBER | STRING | FIELD
    literal    := NUMBER | STRING

Fields are typed: a numeric field (the online features, `amount`) compares with numbers and
numeric fields, with every operator; a text field (`card_id`, `mcc`, `channel`, ...) compares with
strings, with `==`, `!=` and `in` only. A type mismatch, an unknown field, an unknown word or a
malformed expression is a `RuleSyntaxError` that names the position — at proposal time, never
while scoring.

Missing values. A missing feature is NaN and a missing transaction field is None; every test on a
missing value is false (`!=` and `not in` included), except `is missing`. So a rule never fires
for lack of data, and `device_id is missing` says so when that is the point.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: A compiled condition: (row of field values, named lists) -> fired.
Condition = Callable[[Mapping[str, Any], Mapping[str, frozenset]], bool]

MAX_EXPRESSION_CHARS = 2_000
MAX_DEPTH = 32
MAX_LITERALS = 1_000

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op><=|>=|==|!=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "list", "is", "missing"}


class RuleSyntaxError(ValueError):
    """A condition that cannot be compiled; the message names the position and the reason."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # number, string, op, punct, word, end
    text: str
    at: int


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_EXPRESSION_CHARS:
        raise RuleSyntaxError(f"condition longer than {MAX_EXPRESSION_CHARS} characters")
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            column = at + len(text[at:]) - len(text[at:].lstrip())
            raise RuleSyntaxError(f"unexpected character {text[column]!r} at column {column + 1}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        tokens.append(Token(kind, value, match.start(kind)))
        at = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


@dataclass
class Parser:
    """Recursive descent over the tokens; builds the closure as it goes."""

    text: str
    fields: Mapping[str, str]  # name -> "number" | "text"
    tokens: list[Token]
    pos: int = 0
    depth: int = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def fail(self, reason: str, token: Token | None = None) -> RuleSyntaxError:
        token = token or self.token
        found = "end of condition" if token.kind == "end" else repr(token.text)
        return RuleSyntaxError(f"{reason} at column {token.at + 1} (found {found})")

    def take(self, kind: str, text: str | None = None) -> Token:
        token = self.token
        if token.kind != kind or (text is not None and token.text != text):
            raise self.fail(f"expected {text or kind}")
        self.pos += 1
        return token

    def at_word(self, word: str) -> bool:
        return self.token.kind == "word" and self.token.text == word

    def parse(self) -> Condition:
        condition = self.expr()
        if self.token.kind != "end":
            raise self.fail("expected and/or or the end")
        return condition

    def expr(self) -> Condition:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH}")
        parts = [self.conjunction()]
        while self.at_word("or"):
            self.pos += 1
            parts.append(self.conjunction())
        self.depth -= 1
        if len(parts) == 1:
            return parts[0]
        alternatives = tuple(parts)
        return lambda r, lists: any(c(r, lists) for c in alternatives)

    def conjunction(self) -> Condition:
        parts = [self.negation()]
        while self.at_word("and"):
            self.pos += 1
            parts.append(self.negation())
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            first, second = parts
            return lambda r, lists: first(r, lists) and second(r, lists)
        required = tuple(parts)
        return lambda r, lists: all(c(r, lists) for c in required)

    def negation(self) -> Condition:
        if self.at_word("not"):
            self.pos += 1
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail(f"nested deeper than {MAX_DEPTH}")
            inner = self.negation()
            self.depth -= 1
            return lambda r, lists: not inner(r, lists)
        if self.token.kind == "punct" and self.token.text == "(":
            self.pos += 1
            inner = self.expr()
            self.take("punct", ")")
            return inner
        return self.test()

    def field(self) -> tuple[str, str]:
        token = self.token
        if token.kind != "word" or token.text in _KEYWORDS:
            raise self.fail("expected a field name")
        kind = self.fields.get(token.text)
        if kind is None:
            raise self.fail(f"unknown field {token.text!r}")
        self.pos += 1
        return token.text, kind

    def literal(self, kind: str) -> Any:
        token = self.token
        if token.kind == "number" and kind == "number":
            self.pos += 1
            return float(token.text)
        if token.kind == "string" and kind == "text":
            self.pos += 1
            return _unquote(token.text)
        wanted = "a number" if kind == "number" else "a quoted string"
        raise self.fail(f"expected {wanted}")

    def test(self) -> Condition:
        name, kind = self.field()
        token = self.token
        if token.kind == "word" and token.text == "is":
            self.pos += 1
            negate = self.at_word("not")
            if negate:
                self.pos += 1
            self.take("word", "missing")
            return _missing_test(name, kind, negate)
        negate = False
        if self.at_word("not"):
            self.pos += 1
            negate = True
            if not self.at_word("in"):
                raise self.fail("expected in after not")
        if self.at_word("in"):
            self.pos += 1
            if self.at_word("list"):
                self.pos += 1
                list_token = self.token
                if list_token.kind != "word" or list_token.text in _KEYWORDS:
                    raise self.fail("expected a list name")
                self.pos += 1
                return _list_test(name, list_token.text, negate)
            self.take("punct", "(")
            values = [self.literal(kind)]
            while self.token.kind == "punct" and self.token.text == ",":
                self.pos += 1
                values.append(self.literal(kind))
                if len(values) > MAX_LITERALS:
                    raise self.fail(f"more than {MAX_LITERALS} values in a list")
            self.take("punct", ")")
            return _set_test(name, frozenset(values), negate)
        if token.kind != "op":
            raise self.fail("expected a comparison (<, <=, >, >=, ==, !=, in, is)")
        self.pos += 1
        op = token.text
        if kind == "text" and op not in ("==", "!="):
            raise self.fail(f"{name} is text: only ==, != and in apply", token)
        value_token = self.token
        if value_token.kind == "word" and value_token.text not in _KEYWORDS:
            other, other_kind = self.field()
            if other_kind != kind:
                raise self.fail(f"cannot compare {kind} {name} with {other_kind} {other}", token)
            return _field_test(name, op, other)
        return _constant_test(name, op, self.literal(kind))


def _constant_test(name: str, op: str, c: Any) -> Condition:
    # Comparisons with NaN are false; None == c is false; None is handled for != below.
    if op == "<":
        return lambda r, lists: (v := r[name]) is not None and v < c
    if op == "<=":
        return lambda r, lists: (v := r[name]) is not None and v <= c
    if op == ">":
        return lambda r, lists: (v := r[name]) is not None and v > c
    if op == ">=":
        return lambda r, lists: (v := r[name]) is not None and v >= c
    if op == "==":
        return lambda r, lists: r[name] == c
    return lambda r, lists: (v := r[name]) is not None and v == v and v != c


def _field_test(name: str, op: str, other: str) -> Condition:
    import operator

    compare = {
        "<": operator.lt,
        "<=": operator.le,
        ">": operator.gt,
        ">=": operator.ge,
        "==": operator.eq,
        "!=": operator.ne,
    }[op]

    def test(r: Mapping[str, Any], lists: Mapping[str, frozenset]) -> bool:
        a, b = r[name], r[other]
        if a is None or b is None or a != a or b != b:
            return False
        return bool(compare(a, b))

    return test


def _set_test(name: str, values: frozenset, negate: bool) -> Condition:
    if negate:
        return lambda r, lists: (v := r[name]) is not None and v == v and v not in values
    return lambda r, lists: r[name] in values


_NO_MEMBERS: frozenset = frozenset()


def _list_test(name: str, list_name: str, negate: bool) -> Condition:
    """A list absent from `lists` has no members."""
    if negate:
        return lambda r, lists: (
            (v := r[name]) is not None and v not in lists.get(list_name, _NO_MEMBERS)
        )
    return lambda r, lists: r[name] in lists.get(list_name, _NO_MEMBERS)


def _missing_test(name: str, kind: str, negate: bool) -> Condition:
    if negate:
        return lambda r, lists: (v := r[name]) is not None and v == v
    return lambda r, lists: (v := r[name]) is None or v != v


def list_names(text: str) -> set[str]:
    """The named lists a condition reads (`in list NAME`)."""
    tokens = tokenize(text)
    return {
        tokens[i + 2].text
        for i in range(len(tokens) - 2)
        if tokens[i].kind == "word"
        and tokens[i].text == "in"
        and tokens[i + 1].kind == "word"
        and tokens[i + 1].text == "list"
        and tokens[i + 2].kind == "word"
    }


def compile_condition(text: str, fields: Mapping[str, str]) -> Condition:
    """Compile `text` over `fields` (name -> "number" or "text"); raise `RuleSyntaxError`."""
    if not isinstance(text, str) or not text.strip():
        raise RuleSyntaxError("empty condition")
    return Parser(text, fields, tokenize(text)).parse()
