"""The feature sets: every feature's name, meaning and parameters, defined once.

Both evaluators read these definitions: `offline.build_features` over a history in a DataFrame
(training, backtests) and `online.compute_features` one transaction at a time (the stream). The
parameters below are the single source of each window length and rule; each set's version hashes
them so that a model trained under one definition is never served under another.

Two sets exist. `v2` is the current one: the stream computes it and serving accepts only its
models (`FEATURE_SET_VERSION`). `v1` (the first release) stays computable offline, unchanged and
with its original version string, so that backtests can compare the two (`feature_set("v1")`).

Merchant risk (v2). A bank learns of fraud days or weeks late. v2 measures a merchant's risk over
windows that end `MERCHANT_RISK_DELAY_MS` before the start of the current UTC day: the 7 d risk at
time T is (frauds among the merchant's transactions of days [D - delay - 7 d, D - delay) whose
label was reported before T) / (the merchant's transactions of those days), D the start of T's day.
Counting only labels reported before T keeps it point-in-time correct; ending the window a delay
earlier makes it measure windows whose labels have mostly arrived, so the value means the same
whatever the bank's reporting delay.

Missing optional fields. Only transaction_id, event_time, card_id, merchant_id and amount are
required. A missing currency means the issuer's (`ISSUER_CURRENCY`); a missing status means
approved; a missing mcc or channel gives NaN; a missing country, device or location is never
"new", never international, never cross-currency.

Ordering and windows. Transactions are processed in (event_time, transaction_id) order; "before"
means earlier in that order. A card window of length W at time T holds the card's earlier
transactions with T - W < t. Merchant windows are aligned to the clock: the 24 h count starts at
the start of the current hour 24 h ago, the 28 d fraud rate at the start of the current UTC day
28 days ago, so the online state keeps hour and day buckets rather than every transaction.

Late events. A transaction whose event_time is earlier than the latest one already applied to its
card or merchant (the entity's watermark) is evaluated and recorded at the watermark: windows are
anchored at max(event_time, watermark) and it is counted exactly once. Calendar features use the
transaction's own event_time. History is never rewritten, so a decision already made stays
reproducible; the cost is that a late transaction may see events that happened after it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Literal

from securebank.reference import USD_PER_UNIT

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

#: Card windows for counts and sums of amounts (and declined/failed attempts for 1 h and 24 h).
CARD_WINDOWS_MS: dict[str, int] = {"1h": HOUR_MS, "24h": DAY_MS, "7d": 7 * DAY_MS}
#: Window for the card's amount mean/std and the z-score; also how long card events are kept.
CARD_MOMENTS_WINDOW_MS = 30 * DAY_MS
#: A merchant, country or device counts as new when the card has not used it for this long.
RECENCY_HORIZON_MS = 180 * DAY_MS
#: Merchant activity window (clock-aligned to the hour) and fraud-rate window (aligned to the day).
MERCHANT_COUNT_WINDOW_MS = DAY_MS
MERCHANT_FRAUD_WINDOW_MS = 28 * DAY_MS
#: Hours (UTC) counted as night.
NIGHT_HOURS = (0, 1, 2, 3, 4, 5)
#: The issuer's home: a transaction elsewhere is international, in another currency cross-currency.
ISSUER_COUNTRY = "US"
ISSUER_CURRENCY = "USD"
#: The z-score needs this much history, and never divides by a smaller standard deviation (USD).
ZSCORE_MIN_HISTORY = 2
ZSCORE_MIN_STD_USD = 1.0
#: Implied speed never divides by less than this many seconds.
SPEED_MIN_SECONDS = 60.0
CHANNEL_CODES: dict[str, int] = {"pos": 0, "ecommerce": 1, "atm": 2, "transfer": 3}
#: Raised by hand when a formula changes meaning without any parameter above changing.
FORMULA_REVISION = 1

# --- v2 parameters
#: Card windows of v2's counts, mean amounts and amount-to-mean ratios (continuous windows).
CARD_MEAN_WINDOWS_MS: dict[str, int] = {"24h": DAY_MS, "7d": 7 * DAY_MS, "30d": 30 * DAY_MS}
#: The ratio never divides by a smaller mean (USD).
RATIO_MIN_MEAN_USD = 0.01
#: Merchant counts: "24h" aligned to the hour (as v1), longer ones aligned to the UTC day.
MERCHANT_COUNT_WINDOWS_MS: dict[str, int] = {"24h": DAY_MS, "7d": 7 * DAY_MS, "30d": 30 * DAY_MS}
#: Merchant risk windows, each ending MERCHANT_RISK_DELAY_MS before the start of today (UTC).
MERCHANT_RISK_WINDOWS_MS: dict[str, int] = {"1d": DAY_MS, "7d": 7 * DAY_MS, "30d": 30 * DAY_MS}
MERCHANT_RISK_DELAY_MS = 7 * DAY_MS
FORMULA_REVISION_V2 = 1

Kind = Literal["real", "count", "flag", "category"]


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    kind: Kind
    description: str


FEATURES_V1: tuple[Feature, ...] = (
    Feature("amount_usd", "real", "amount in USD at the reference rate"),
    Feature("log_amount_usd", "real", "log(1 + amount_usd)"),
    Feature("hour", "category", "UTC hour of event_time"),
    Feature("weekday", "category", "UTC weekday of event_time, Monday = 0"),
    Feature("is_night", "flag", "hour in NIGHT_HOURS"),
    Feature("is_weekend", "flag", "Saturday or Sunday"),
    Feature("card_count_1h", "count", "card's transactions in the last hour"),
    Feature("card_sum_1h", "real", "their total amount (USD)"),
    Feature("card_count_24h", "count", "card's transactions in the last 24 hours"),
    Feature("card_sum_24h", "real", "their total amount (USD)"),
    Feature("card_count_7d", "count", "card's transactions in the last 7 days"),
    Feature("card_sum_7d", "real", "their total amount (USD)"),
    Feature("card_mean_30d", "real", "mean amount (USD) of the card's last 30 days, 0 if none"),
    Feature("card_std_30d", "real", "population std of those amounts (USD), 0 if none"),
    Feature("amount_zscore_30d", "real", "(amount - mean) / max(std, 1 USD); 0 below 2 events"),
    Feature(
        "secs_since_prev", "real", "seconds since the card's previous transaction; NaN if none"
    ),
    Feature("km_from_prev_location", "real", "km from the card's last located transaction"),
    Feature("kmh_from_prev_location", "real", "that distance over the time between them (km/h)"),
    Feature("is_new_merchant", "flag", "card has not used this merchant within the horizon"),
    Feature("is_new_country", "flag", "card has not been in this country within the horizon"),
    Feature("is_new_device", "flag", "device given and not used by the card within the horizon"),
    Feature("card_distinct_merchants_24h", "count", "distinct merchants among the last 24 h"),
    Feature("card_declines_1h", "count", "declined or failed attempts in the last hour"),
    Feature("card_declines_24h", "count", "declined or failed attempts in the last 24 hours"),
    Feature("merchant_count_24h", "count", "merchant's transactions since this hour yesterday"),
    Feature(
        "merchant_fraud_rate_28d",
        "real",
        "share of the merchant's transactions in the 28 d window (day-aligned) whose fraud label "
        "was reported before now; 0 without transactions",
    ),
    Feature("is_international", "flag", "merchant country differs from ISSUER_COUNTRY"),
    Feature("is_cross_currency", "flag", "currency differs from ISSUER_CURRENCY"),
    Feature("channel", "category", "CHANNEL_CODES of the channel"),
    Feature("mcc", "category", "merchant category code as a number"),
    Feature("has_location", "flag", "merchant lat/lon present (card-present, usually)"),
    Feature("has_device", "flag", "device_id present"),
)

_V1 = {f.name: f for f in FEATURES_V1}
_V2_NEW: tuple[Feature, ...] = (
    Feature("card_count_30d", "count", "card's transactions in the last 30 days"),
    Feature("card_mean_24h", "real", "mean amount (USD) of the card's last 24 hours, 0 if none"),
    Feature("card_mean_7d", "real", "mean amount (USD) of the card's last 7 days, 0 if none"),
    Feature("amount_to_mean_24h", "real", "amount / max(card_mean_24h, 0.01 USD); NaN if none"),
    Feature("amount_to_mean_7d", "real", "amount / max(card_mean_7d, 0.01 USD); NaN if none"),
    Feature("amount_to_mean_30d", "real", "amount / max(card_mean_30d, 0.01 USD); NaN if none"),
    Feature(
        "merchant_count_7d",
        "count",
        "merchant's transactions since the start of the UTC day 7 days ago",
    ),
    Feature(
        "merchant_count_30d",
        "count",
        "merchant's transactions since the start of the UTC day 30 days ago",
    ),
    Feature(
        "merchant_risk_1d",
        "real",
        "merchant's fraud share over the day that ended the "
        "risk delay ago, labels reported before now; 0 without transactions",
    ),
    Feature("merchant_risk_7d", "real", "the same over the 7 days that ended the delay ago"),
    Feature("merchant_risk_30d", "real", "the same over the 30 days that ended the delay ago"),
    Feature("merchant_txns_risk_7d", "count", "the merchant's transactions in the 7 d risk window"),
)
_V2_NAMES = (
    "amount_usd",
    "log_amount_usd",
    "hour",
    "weekday",
    "is_night",
    "is_weekend",
    "card_count_1h",
    "card_sum_1h",
    "card_count_24h",
    "card_sum_24h",
    "card_count_7d",
    "card_sum_7d",
    "card_count_30d",
    "card_mean_24h",
    "card_mean_7d",
    "card_mean_30d",
    "card_std_30d",
    "amount_zscore_30d",
    "amount_to_mean_24h",
    "amount_to_mean_7d",
    "amount_to_mean_30d",
    "secs_since_prev",
    "km_from_prev_location",
    "kmh_from_prev_location",
    "is_new_merchant",
    "is_new_country",
    "is_new_device",
    "card_distinct_merchants_24h",
    "card_declines_1h",
    "card_declines_24h",
    "merchant_count_24h",
    "merchant_count_7d",
    "merchant_count_30d",
    "merchant_risk_1d",
    "merchant_risk_7d",
    "merchant_risk_30d",
    "merchant_txns_risk_7d",
    "merchant_fraud_rate_28d",
    "is_international",
    "is_cross_currency",
    "channel",
    "mcc",
    "has_location",
    "has_device",
)
_ALL = {**_V1, **{f.name: f for f in _V2_NEW}}
FEATURES_V2: tuple[Feature, ...] = tuple(_ALL[name] for name in _V2_NAMES)


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """One selectable feature set: its short name, its version hash and its features in order."""

    name: str
    version: str
    features: tuple[Feature, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)


def _definition_document_v1() -> dict[str, object]:
    return {
        "features": [asdict(f) for f in FEATURES_V1],
        "card_windows_ms": CARD_WINDOWS_MS,
        "card_moments_window_ms": CARD_MOMENTS_WINDOW_MS,
        "recency_horizon_ms": RECENCY_HORIZON_MS,
        "merchant_count_window_ms": MERCHANT_COUNT_WINDOW_MS,
        "merchant_fraud_window_ms": MERCHANT_FRAUD_WINDOW_MS,
        "night_hours": NIGHT_HOURS,
        "issuer": [ISSUER_COUNTRY, ISSUER_CURRENCY],
        "zscore": [ZSCORE_MIN_HISTORY, ZSCORE_MIN_STD_USD],
        "speed_min_seconds": SPEED_MIN_SECONDS,
        "channels": CHANNEL_CODES,
        "usd_per_unit": dict(sorted(USD_PER_UNIT.items())),
        "formula_revision": FORMULA_REVISION,
    }


def _definition_document_v2() -> dict[str, object]:
    return {
        **_definition_document_v1(),
        "features": [asdict(f) for f in FEATURES_V2],
        "card_mean_windows_ms": CARD_MEAN_WINDOWS_MS,
        "ratio_min_mean_usd": RATIO_MIN_MEAN_USD,
        "merchant_count_windows_ms": MERCHANT_COUNT_WINDOWS_MS,
        "merchant_risk_windows_ms": MERCHANT_RISK_WINDOWS_MS,
        "merchant_risk_delay_ms": MERCHANT_RISK_DELAY_MS,
        "formula_revision_v2": FORMULA_REVISION_V2,
        "missing_fields": 1,
    }


def _version_of(document: dict[str, object]) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return "fs-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def compute_feature_set_version() -> str:
    """A short hash of every definition and parameter of the current set (v2)."""
    return _version_of(_definition_document_v2())


def compute_v1_version() -> str:
    return _version_of(_definition_document_v1())


FEATURE_SETS: dict[str, FeatureSet] = {
    "v1": FeatureSet("v1", compute_v1_version(), FEATURES_V1),
    "v2": FeatureSet("v2", compute_feature_set_version(), FEATURES_V2),
}
CURRENT_FEATURE_SET = FEATURE_SETS["v2"]
#: The current set: what the stream computes and what serving accepts.
FEATURES = CURRENT_FEATURE_SET.features
FEATURE_NAMES: tuple[str, ...] = CURRENT_FEATURE_SET.names
FEATURE_INDEX: dict[str, int] = {name: i for i, name in enumerate(FEATURE_NAMES)}
FEATURE_SET_VERSION = CURRENT_FEATURE_SET.version


def feature_set(key: str) -> FeatureSet:
    """A feature set by short name ("v1", "v2") or by version hash; ValueError if unknown."""
    if key in FEATURE_SETS:
        return FEATURE_SETS[key]
    for candidate in FEATURE_SETS.values():
        if candidate.version == key:
            return candidate
    known = ", ".join(f"{s.name} ({s.version})" for s in FEATURE_SETS.values())
    raise ValueError(f"unknown feature set {key!r}; known: {known}")
