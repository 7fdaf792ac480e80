"""A rule set: named conditions over the online feature vector and the transaction, each with an
action (review, decline or allow) and a reason; parsed from YAML, compiled once per version.

The YAML document::

    rules:
      - name: card-testing
        when: card_count_1h > 10 and amount_usd < 2
        action: review
        reason: card testing
      - name: blocked-card
        when: card_id in list blocked_cards
        action: decline
        reason: card on the block list

Fields are the feature names of `securebank.features.definitions` (numbers, exactly the values
the model scores) and the transaction fields in `TRANSACTION_FIELDS`. Named lists (`in list
NAME`) are sets of strings kept outside the rule set (DynamoDB), so a card is blocked without a
new version.

Combining with the model (`combine`): decline beats review beats approve. A decline from the
model or from any rule stands; an `allow` rule turns a review (the model's or a review rule's)
into approve, and never overrides a decline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from securebank.features.definitions import FEATURE_NAMES
from securebank.rules.expression import Condition, RuleSyntaxError, compile_condition, list_names

ACTIONS = ("review", "decline", "allow")
MAX_RULES = 500
MAX_DOCUMENT_BYTES = 256 * 1024

#: Transaction fields a rule may read besides the features: name -> type.
TRANSACTION_FIELDS: dict[str, str] = {
    "card_id": "text",
    "customer_id": "text",
    "merchant_id": "text",
    "device_id": "text",
    "mcc": "text",
    "merchant_country": "text",
    "currency": "text",
    "channel": "text",
    "status": "text",
    "amount": "number",
}
RULE_FIELDS: dict[str, str] = {**dict.fromkeys(FEATURE_NAMES, "number"), **TRANSACTION_FIELDS}


class RuleSetError(ValueError):
    """A rule set that cannot be used: the message names the rule and the reason."""


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    when: str
    action: str
    reason: str


@dataclass(frozen=True, slots=True)
class RuleHit:
    name: str
    action: str
    reason: str


@dataclass(frozen=True)
class CompiledRuleSet:
    """A rule set ready to evaluate: `evaluate(row, lists)` returns the rules that fire."""

    version: str
    rules: tuple[Rule, ...]
    conditions: tuple[Condition, ...]
    lists: frozenset[str] = field(default_factory=frozenset)

    def evaluate(self, row: Mapping[str, Any], lists: Mapping[str, frozenset]) -> list[RuleHit]:
        return [
            RuleHit(rule.name, rule.action, rule.reason)
            for rule, fired in zip(self.rules, self.conditions, strict=True)
            if fired(row, lists)
        ]

    def hit_names(self, row: Mapping[str, Any], lists: Mapping[str, frozenset]) -> list[str]:
        pairs = zip(self.rules, self.conditions, strict=True)
        return [rule.name for rule, fired in pairs if fired(row, lists)]


EMPTY = CompiledRuleSet(version="", rules=(), conditions=())


def parse_lists(text: str) -> dict[str, frozenset[str]]:
    """Named lists from a YAML mapping of list name -> ids (what a backtest may use instead of
    the stored lists). Raises yaml.YAMLError, or RuleSetError for another shape."""
    document = yaml.safe_load(text) or {}
    if not isinstance(document, dict) or not all(
        isinstance(v, list) and all(isinstance(i, str | int) for i in v) for v in document.values()
    ):
        raise RuleSetError("expected a mapping of list name -> list of ids")
    return {str(k): frozenset(map(str, v)) for k, v in document.items()}


def parse_rules(text: str) -> tuple[Rule, ...]:
    """The rules of a YAML document, checked: raise `RuleSetError` naming what is wrong."""
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise RuleSetError(f"rule set larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RuleSetError(f"not valid YAML: {str(error).splitlines()[0]}") from error
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise RuleSetError("expected a mapping with a `rules` list")
    unknown = set(document) - {"rules", "description"}
    if unknown:
        raise RuleSetError(f"unknown top-level keys: {', '.join(sorted(map(str, unknown)))}")
    items = document["rules"]
    if len(items) > MAX_RULES:
        raise RuleSetError(f"more than {MAX_RULES} rules")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, item in enumerate(items, start=1):
        where = f"rule {i}"
        if not isinstance(item, dict):
            raise RuleSetError(f"{where}: expected a mapping with name, when, action, reason")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RuleSetError(f"{where}: name is required")
        where = f"rule {i} ({name})"
        missing = [k for k in ("when", "action", "reason") if k not in item]
        if missing:
            raise RuleSetError(f"{where}: missing {', '.join(missing)}")
        extra = set(item) - {"name", "when", "action", "reason"}
        if extra:
            raise RuleSetError(f"{where}: unknown keys {', '.join(sorted(map(str, extra)))}")
        if name in seen:
            raise RuleSetError(f"{where}: duplicate name")
        seen.add(name)
        action, reason, when = item["action"], item["reason"], item["when"]
        if action not in ACTIONS:
            raise RuleSetError(f"{where}: action must be one of {', '.join(ACTIONS)}")
        if not isinstance(reason, str) or not reason.strip():
            raise RuleSetError(f"{where}: reason must be a non-empty text")
        if not isinstance(when, str):
            raise RuleSetError(f"{where}: when must be a text condition")
        rules.append(Rule(name=name, when=when, action=action, reason=reason))
    return tuple(rules)


def compile_rules(rules: Sequence[Rule], version: str) -> CompiledRuleSet:
    conditions = []
    lists: set[str] = set()
    for i, rule in enumerate(rules, start=1):
        try:
            conditions.append(compile_condition(rule.when, RULE_FIELDS))
            lists |= list_names(rule.when)
        except RuleSyntaxError as error:
            raise RuleSetError(f"rule {i} ({rule.name}): {error}") from error
    return CompiledRuleSet(
        version=version, rules=tuple(rules), conditions=tuple(conditions), lists=frozenset(lists)
    )


def compile_rule_set(text: str, version: str = "") -> CompiledRuleSet:
    """Parse and compile a YAML rule set; raise `RuleSetError` for any problem."""
    return compile_rules(parse_rules(text), version)


def rule_row(features: Sequence[float], transaction: Any) -> dict[str, Any]:
    """The values a rule reads: the feature vector (manifest order) and the transaction fields.

    `transaction` is a contract `Transaction` or a mapping with the same names; absent optional
    fields are None, and enum values become their text.
    """
    row: dict[str, Any] = dict(zip(FEATURE_NAMES, features, strict=True))
    if isinstance(transaction, Mapping):
        get = transaction.get
    else:

        def get(name: str) -> Any:
            return getattr(transaction, name, None)

    for name, kind in TRANSACTION_FIELDS.items():
        value = get(name)
        if value is None:
            row[name] = None
        elif kind == "number":
            number = float(value)
            row[name] = number if math.isfinite(number) else None
        else:
            row[name] = str(getattr(value, "value", value))
    return row


ORDER = {"approve": 0, "review": 1, "decline": 2}


def combine(model_action: str, hits: Sequence[RuleHit]) -> str:
    """The final action from the model's and the rules' (see the module docstring)."""
    actions = {h.action for h in hits}
    if model_action == "decline" or "decline" in actions:
        return "decline"
    if "allow" in actions:
        return "approve"
    if model_action == "review" or "review" in actions:
        return "review"
    return "approve"
