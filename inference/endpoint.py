"""An endpoint: production variants with traffic weights, an optional shadow, and routing.

The configuration is an immutable `EndpointConfig`; `Endpoint.apply` swaps in a new one with
its models loaded before the swap, so a request is always served by one complete config and a
version switch drops nothing. Requests pick a production variant by weight (or the one the
caller names); the shadow variant scores the same rows, its scores are captured, never returned.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from securebank.features.definitions import FEATURE_SET_VERSION
from securebank.inference.explain import EXACT, reason_codes
from securebank.model_artifact import FraudModel, load_model


class UnknownVariant(LookupError):
    pass


@dataclass(frozen=True)
class VariantSpec:
    name: str
    model_version: str
    model_path: str
    weight: float = 1.0


@dataclass(frozen=True)
class EndpointConfig:
    name: str
    variants: tuple[VariantSpec, ...]
    shadow: VariantSpec | None = None

    def __post_init__(self) -> None:
        if not self.variants:
            raise ValueError("an endpoint needs at least one production variant")
        if sum(v.weight for v in self.variants) <= 0:
            raise ValueError("production variant weights must add up to more than 0")
        names = [v.name for v in self.variants] + ([self.shadow.name] if self.shadow else [])
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> EndpointConfig:
        shadow = document.get("shadow")
        return cls(
            name=document["name"],
            variants=tuple(VariantSpec(**v) for v in document["variants"]),
            shadow=VariantSpec(**shadow) if shadow else None,
        )


@dataclass
class LoadedVariant:
    spec: VariantSpec
    model: FraudModel
    invocations: int = 0


@dataclass
class _Live:
    config: EndpointConfig
    variants: dict[str, LoadedVariant]
    shadow: LoadedVariant | None
    weights: list[float] = field(default_factory=list)
    order: list[str] = field(default_factory=list)


@dataclass
class Scored:
    variant: str
    model_version: str
    rows: list[dict[str, Any]]
    thresholds: dict[str, float] = field(default_factory=dict)


class Endpoint:
    def __init__(self, loader: Any = None) -> None:
        #: Loads a model folder or archive; by default refusing other feature sets than this
        #: code computes.
        self._loader = loader or partial(load_model, feature_set=FEATURE_SET_VERSION)
        self._live: _Live | None = None
        self._lock = threading.Lock()
        self._cache: dict[str, FraudModel] = {}
        self.counts: Counter[str] = Counter()
        self._rng = random.Random()

    @property
    def ready(self) -> bool:
        return self._live is not None

    @property
    def config(self) -> EndpointConfig | None:
        return self._live.config if self._live else None

    def _load(self, spec: VariantSpec) -> LoadedVariant:
        model = self._cache.get(spec.model_path)
        if model is None:
            model = self._cache[spec.model_path] = self._loader(Path(spec.model_path))
        return LoadedVariant(spec=spec, model=model)

    def apply(self, config: EndpointConfig) -> None:
        """Load every model of `config` (raising on any problem), then switch to it at once."""
        variants = {v.name: self._load(v) for v in config.variants}
        shadow = self._load(config.shadow) if config.shadow else None
        live = _Live(
            config=config,
            variants=variants,
            shadow=shadow,
            weights=[v.weight for v in config.variants],
            order=[v.name for v in config.variants],
        )
        with self._lock:
            self._live = live
            keep = {v.model_path for v in config.variants}
            if config.shadow:
                keep.add(config.shadow.model_path)
            self._cache = {k: m for k, m in self._cache.items() if k in keep}

    def feature_names(self, variant: str | None = None) -> list[str]:
        live = self._require()
        chosen = (
            live.variants[variant]
            if variant in live.variants
            else next(iter(live.variants.values()))
        )
        return chosen.model.manifest.feature_names

    def _require(self) -> _Live:
        live = self._live
        if live is None:
            raise LookupError("no model is loaded")
        return live

    def pick(self, target: str | None = None) -> LoadedVariant:
        live = self._require()
        if target:
            variant = live.variants.get(target)
            if variant is None:
                raise UnknownVariant(f"no production variant named {target!r}")
            return variant
        if len(live.order) == 1:
            return live.variants[live.order[0]]
        name = self._rng.choices(live.order, weights=live.weights)[0]
        return live.variants[name]

    def score(
        self, x: np.ndarray, variant: LoadedVariant, explain: str = "flagged", method: str = EXACT
    ) -> Scored:
        """Score rows; reason codes for rows at or above review (`flagged`), `all` or `none`."""
        model = variant.model
        scores = model.booster.inplace_predict(x)
        thresholds = model.manifest.thresholds
        version = variant.spec.model_version
        rows: list[dict[str, Any]] = [
            {"score": s, "decision": d, "model_version": version}
            for s, d in zip(scores.tolist(), thresholds.decide_many(scores).tolist(), strict=True)
        ]
        if explain != "none":
            wanted = (
                np.arange(len(x))
                if explain == "all"
                else np.flatnonzero(scores >= thresholds.review)
            )
            if len(wanted):
                names = model.manifest.feature_names
                codes = reason_codes(model.booster, x[wanted], names, method=method)
                for row, reasons in zip(wanted, codes, strict=True):
                    rows[row]["reason_codes"] = reasons
                    rows[row]["explain_method"] = method
        variant.invocations += 1
        self.counts[variant.spec.name] += 1
        return Scored(
            variant=variant.spec.name,
            model_version=version,
            rows=rows,
            thresholds={"review": thresholds.review, "decline": thresholds.decline},
        )

    def score_shadow(self, x: np.ndarray) -> dict[str, Any] | None:
        live = self._live
        if live is None or live.shadow is None:
            return None
        shadow = live.shadow
        scores = shadow.model.booster.inplace_predict(x)
        shadow.invocations += 1
        self.counts[shadow.spec.name] += 1
        return {
            "variant": shadow.spec.name,
            "model_version": shadow.spec.model_version,
            "scores": [float(s) for s in scores],
        }

    def status(self) -> dict[str, Any]:
        live = self._live
        if live is None:
            return {"ready": False, "variants": [], "shadow": None}
        total = sum(live.weights)
        return {
            "ready": True,
            "name": live.config.name,
            "variants": [
                {
                    **asdict(v.spec),
                    "traffic_share": v.spec.weight / total,
                    "invocations": self.counts[v.spec.name],
                }
                for v in live.variants.values()
            ],
            "shadow": None
            if live.shadow is None
            else {**asdict(live.shadow.spec), "invocations": self.counts[live.shadow.spec.name]},
        }
