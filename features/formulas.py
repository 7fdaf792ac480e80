"""Point-wise feature formulas, written once for scalars (online) and numpy arrays (offline).

Each function takes `xp`: `SCALAR` for plain Python numbers or `numpy` for arrays. The same
operations run in the same order on IEEE doubles either way, so both evaluators agree to the bit
(transcendental functions to within an ulp).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

from securebank.features.definitions import (
    DAY_MS,
    HOUR_MS,
    RATIO_MIN_MEAN_USD,
    SPEED_MIN_SECONDS,
    ZSCORE_MIN_HISTORY,
    ZSCORE_MIN_STD_USD,
)
from securebank.reference import USD_PER_UNIT, currency_exponent

#: numpy-like namespace over Python scalars.
SCALAR = SimpleNamespace(
    maximum=max,
    where=lambda condition, a, b: a if condition else b,
    sqrt=math.sqrt,
    sin=math.sin,
    cos=math.cos,
    arcsin=math.asin,
    radians=math.radians,
    log1p=math.log1p,
)

_EARTH_RADIUS_KM = 6371.0088


def usd_cents_factor(currency: str) -> float:
    """Multiply an amount in `currency` minor units by this, then round half-even, for USD cents."""
    return USD_PER_UNIT[currency] * 100.0 / 10 ** currency_exponent(currency)


def hour_of(time_ms: Any) -> Any:
    return (time_ms // HOUR_MS) % 24


def weekday_of(time_ms: Any) -> Any:
    """Monday = 0; 1970-01-01 was a Thursday."""
    return (time_ms // DAY_MS + 3) % 7


def log_amount(amount_usd: Any, xp: Any) -> Any:
    return xp.log1p(amount_usd)


def moments_usd(n: Any, total_cents: Any, total_sq_cents: Any, xp: Any) -> tuple[Any, Any]:
    """Mean and population standard deviation in USD from exact integer sums of cents."""
    count = xp.maximum(n, 1)
    mean = total_cents / count
    variance = total_sq_cents / count - mean * mean
    std = xp.sqrt(xp.maximum(variance, 0.0))
    return xp.where(n > 0, mean / 100.0, 0.0), xp.where(n > 0, std / 100.0, 0.0)


def mean_usd(n: Any, total_cents: Any, xp: Any) -> Any:
    """Mean amount in USD from an exact integer sum of cents; 0 without transactions."""
    return xp.where(n > 0, total_cents / xp.maximum(n, 1) / 100.0, 0.0)


def amount_ratio(amount_usd: Any, mean: Any, n: Any, xp: Any) -> Any:
    """The amount over the card's mean amount; NaN without history."""
    return xp.where(n > 0, amount_usd / xp.maximum(mean, RATIO_MIN_MEAN_USD), math.nan)


def share(part: Any, whole: Any, xp: Any) -> Any:
    """part / whole, 0 where whole is 0."""
    return xp.where(whole > 0, part / xp.maximum(whole, 1), 0.0)


def zscore(amount_usd: Any, mean: Any, std: Any, n: Any, xp: Any) -> Any:
    return xp.where(
        n >= ZSCORE_MIN_HISTORY, (amount_usd - mean) / xp.maximum(std, ZSCORE_MIN_STD_USD), 0.0
    )


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any, xp: Any) -> Any:
    phi1, phi2 = xp.radians(lat1), xp.radians(lat2)
    dphi = phi2 - phi1
    dlmb = xp.radians(lon2) - xp.radians(lon1)
    a = xp.sin(dphi / 2.0) ** 2 + xp.cos(phi1) * xp.cos(phi2) * xp.sin(dlmb / 2.0) ** 2
    return 2.0 * _EARTH_RADIUS_KM * xp.arcsin(xp.sqrt(a))


def speed_kmh(km: Any, elapsed_ms: Any, xp: Any) -> Any:
    return km / xp.maximum(elapsed_ms / 1000.0, SPEED_MIN_SECONDS) * 3600.0
