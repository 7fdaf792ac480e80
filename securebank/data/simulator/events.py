"""A column-wise batch of simulated transactions before they get identifiers and currencies."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

STATUS_NAMES = np.array(["approved", "declined", "failed"])
LEGIT = 0
SCENARIOS = (
    "legit",
    "card_testing",
    "velocity",
    "account_takeover",
    "impossible_travel",
    "compromised_merchant",
    "unusual_amount",
    "compromised_terminal",
)
SCENARIO_CODE = {name: code for code, name in enumerate(SCENARIOS)}


@dataclass
class Events:
    time_ms: np.ndarray
    customer: np.ndarray
    card: np.ndarray
    merchant: np.ndarray
    amount_usd: np.ndarray
    device: np.ndarray  # -1: none
    status: np.ndarray  # index into STATUS_NAMES
    scenario: np.ndarray  # index into SCENARIOS
    episode: np.ndarray  # fraud episode id, -1 for legit

    def __len__(self) -> int:
        return len(self.time_ms)

    @classmethod
    def concat(cls, parts: list[Events]) -> Events:
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )

    def take(self, rows: np.ndarray) -> Events:
        return Events(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})
