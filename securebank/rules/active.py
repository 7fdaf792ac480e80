"""The scorer's view of the rules: the active version and its lists, re-read at most every few
seconds, compiled once per version.

`ActiveRules.current()` costs nothing between refreshes. A refresh reads the `active` pointer (one
GetItem); only when the version changed does it read and compile the new text. Lists are re-read
at every refresh (one Query per list the rule set names), so a card added to the block list takes
effect within `refresh_seconds` without a new version. A refresh that fails keeps the last good
rule set and lists (the error is kept in `last_error`); the first load at cold start raises, so
the scorer never runs without knowing its rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from securebank.rules.ruleset import EMPTY, CompiledRuleSet, combine, compile_rule_set, rule_row

DEFAULT_REFRESH_SECONDS = 5.0


class VersionSource(Protocol):
    def active(self) -> tuple[int | None, list[int]]: ...
    def get(self, version: int) -> Any: ...


class ListSource(Protocol):
    def members(self, name: str) -> frozenset[str]: ...


@dataclass(frozen=True)
class RuleOutcome:
    """What the rules did to one decision."""

    action: str
    hits: tuple[str, ...]


class ActiveRules:
    def __init__(
        self,
        versions: VersionSource,
        lists: ListSource,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._versions = versions
        self._lists = lists
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self.rules: CompiledRuleSet = EMPTY
        self.list_values: dict[str, frozenset] = {}
        self.last_error: str | None = None
        self._checked_at = clock()
        self._load()

    def _load(self) -> None:
        version, _ = self._versions.active()
        rules = self.rules
        if version is None:
            rules = EMPTY
        elif str(version) != rules.version:
            stored = self._versions.get(version)
            rules = compile_rule_set(stored.text, str(version))
        values = {name: self._lists.members(name) for name in sorted(rules.lists)}
        self.rules, self.list_values = rules, values

    def current(self) -> tuple[CompiledRuleSet, Mapping[str, frozenset]]:
        now = self._clock()
        if now - self._checked_at >= self.refresh_seconds:
            self._checked_at = now
            try:
                self._load()
                self.last_error = None
            except Exception as error:  # keep scoring with the last good rules
                self.last_error = f"{type(error).__name__}: {error}"
        return self.rules, self.list_values

    def decide(
        self,
        vectors: Sequence[Sequence[float]],
        transactions: Sequence[Any],
        actions: Sequence[str],
    ) -> tuple[str, list[RuleOutcome]]:
        """The rules' outcome for each (features, transaction, model action); and the version."""
        rules, lists = self.current()
        outcomes = []
        for features, txn, model_action in zip(vectors, transactions, actions, strict=True):
            if not rules.rules:
                outcomes.append(RuleOutcome(model_action, ()))
                continue
            hits = rules.evaluate(rule_row(features, txn), lists)
            outcomes.append(RuleOutcome(combine(model_action, hits), tuple(h.name for h in hits)))
        return rules.version, outcomes


def apply_rules(
    rules: ActiveRules | None,
    vectors: Sequence[Sequence[float]],
    transactions: Sequence[Any],
    actions: Sequence[str],
) -> tuple[str, list[RuleOutcome]]:
    """The scorer's hook: each decision's final action and rule hits, and the rules' version."""
    if rules is None:
        return "", [RuleOutcome(a, ()) for a in actions]
    return rules.decide(vectors, transactions, actions)
