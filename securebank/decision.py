"""Decision rule: a fraud score and a model version's thresholds give approve, review or decline."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Action(StrEnum):
    APPROVE = "approve"
    REVIEW = "review"
    DECLINE = "decline"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """At or above `review` a score goes to an analyst; at or above `decline` the payment stops."""

    review: float
    decline: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.review <= self.decline <= 1.0:
            raise ValueError(f"need 0 <= review <= decline <= 1, got {self.review}, {self.decline}")

    def decide(self, score: float) -> Action:
        if score >= self.decline:
            return Action.DECLINE
        if score >= self.review:
            return Action.REVIEW
        return Action.APPROVE

    def decide_many(self, scores: np.ndarray) -> np.ndarray:
        """Vectorized `decide`: an array of action names."""
        out = np.full(len(scores), Action.APPROVE.value, dtype=object)
        out[scores >= self.review] = Action.REVIEW.value
        out[scores >= self.decline] = Action.DECLINE.value
        return out
