"""Deploy, canary, shadow, promote and roll back: transitions between endpoint configurations.

Pure functions over `RolloutState` (the live config and the one before it), so the same rules
drive the local server and the SageMaker endpoint. A canary takes a share of live traffic; a
shadow sees every request but answers none; promote makes either the only production variant;
rollback drops a canary or shadow, or else returns to the previous configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from securebank.inference.endpoint import EndpointConfig, VariantSpec

Mode = Literal["replace", "canary", "shadow"]


class RolloutError(ValueError):
    pass


@dataclass(frozen=True)
class RolloutState:
    config: EndpointConfig | None = None
    previous: EndpointConfig | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict() if self.config else None,
            "previous": self.previous.to_dict() if self.previous else None,
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> RolloutState:
        config, previous = document.get("config"), document.get("previous")
        return cls(
            config=EndpointConfig.from_dict(config) if config else None,
            previous=EndpointConfig.from_dict(previous) if previous else None,
        )


def _sole(spec: VariantSpec) -> VariantSpec:
    """The variant as the only production variant (all traffic)."""
    return VariantSpec(spec.name, spec.model_version, spec.model_path, 1.0)


def variant_name(model_version: str) -> str:
    return f"v{model_version}"


def deploy(
    state: RolloutState,
    endpoint_name: str,
    model_version: str,
    model_path: str,
    mode: Mode = "replace",
    percent: float = 10.0,
) -> RolloutState:
    new = VariantSpec(variant_name(model_version), model_version, model_path, 1.0)
    current = state.config
    if mode == "replace" or current is None:
        if mode != "replace":
            raise RolloutError(f"nothing is deployed yet: deploy a version before a {mode}")
        config = EndpointConfig(endpoint_name, (new,))
        return RolloutState(config=config, previous=current)
    if current.shadow is not None or len(current.variants) > 1:
        raise RolloutError("a canary or shadow is already running: promote or roll it back first")
    live = current.variants[0]
    if live.model_version == model_version:
        raise RolloutError(f"version {model_version} is already in production")
    if mode == "canary":
        if not 0 < percent < 100:
            raise RolloutError("--canary takes a percentage between 0 and 100 (exclusive)")
        weights = (100.0 - percent, percent)
        config = EndpointConfig(
            current.name,
            (
                VariantSpec(live.name, live.model_version, live.model_path, weights[0]),
                VariantSpec(new.name, new.model_version, new.model_path, weights[1]),
            ),
        )
    else:
        config = EndpointConfig(current.name, current.variants, shadow=new)
    return RolloutState(config=config, previous=state.previous)


def promote(state: RolloutState) -> RolloutState:
    current = state.config
    if current is None:
        raise RolloutError("nothing is deployed")
    candidate = current.shadow or (current.variants[-1] if len(current.variants) > 1 else None)
    if candidate is None:
        raise RolloutError("no canary or shadow to promote")
    production = _sole(candidate)
    before = EndpointConfig(current.name, (_sole(current.variants[0]),))
    return RolloutState(config=EndpointConfig(current.name, (production,)), previous=before)


def rollback(state: RolloutState) -> RolloutState:
    current = state.config
    if current is None:
        raise RolloutError("nothing is deployed")
    if current.shadow is not None or len(current.variants) > 1:
        live = current.variants[0]
        restored = VariantSpec(live.name, live.model_version, live.model_path, 1.0)
        return RolloutState(
            config=EndpointConfig(current.name, (restored,)), previous=state.previous
        )
    if state.previous is None:
        raise RolloutError("no previous configuration to roll back to")
    return RolloutState(config=state.previous, previous=None)
