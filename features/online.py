"""Online evaluation: features from a compact per-entity state, one transaction at a time.

The stream scorer reads a `CardState` and a `MerchantState` per entity, calls `compute_features`
before `apply_transaction` for each transaction in order, and writes the states back. The meaning
of every feature is in `definitions`; `offline.build_features` evaluates the same definitions over
a whole history, and the parity tests hold the two to the same answers.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from securebank.contract import Status, Transaction
from securebank.features import formulas as fx
from securebank.features.definitions import (
    CARD_MEAN_WINDOWS_MS,
    CARD_MOMENTS_WINDOW_MS,
    CARD_WINDOWS_MS,
    CHANNEL_CODES,
    DAY_MS,
    FEATURE_NAMES,
    HOUR_MS,
    ISSUER_COUNTRY,
    ISSUER_CURRENCY,
    MERCHANT_COUNT_WINDOW_MS,
    MERCHANT_COUNT_WINDOWS_MS,
    MERCHANT_FRAUD_WINDOW_MS,
    MERCHANT_RISK_DELAY_MS,
    MERCHANT_RISK_WINDOWS_MS,
    NIGHT_HOURS,
    RECENCY_HORIZON_MS,
)
from securebank.reference import currency_exponent

_H1 = CARD_WINDOWS_MS["1h"]
_H24 = CARD_WINDOWS_MS["24h"]
_D7 = CARD_WINDOWS_MS["7d"]
_NAN = math.nan
#: How far back (from the start of the current day) a merchant's day counts and frauds matter.
MERCHANT_HISTORY_MS = max(
    MERCHANT_FRAUD_WINDOW_MS,
    max(MERCHANT_COUNT_WINDOWS_MS.values()),
    MERCHANT_RISK_DELAY_MS + max(MERCHANT_RISK_WINDOWS_MS.values()),
)
_COUNT_DAYS = {
    label: width // DAY_MS for label, width in MERCHANT_COUNT_WINDOWS_MS.items() if label != "24h"
}
_RISK_DAYS = {label: width // DAY_MS for label, width in MERCHANT_RISK_WINDOWS_MS.items()}
_RISK_DELAY_DAYS = MERCHANT_RISK_DELAY_MS // DAY_MS
_FRAUD_DAYS = MERCHANT_FRAUD_WINDOW_MS // DAY_MS
_FACTORS: dict[str, float] = {}


def _factor(currency: str) -> float:
    factor = _FACTORS.get(currency)
    if factor is None:
        factor = _FACTORS[currency] = fx.usd_cents_factor(currency)
    return factor


@dataclass(frozen=True, slots=True)
class FeatureInput:
    """The normalized fields of a transaction that the features read."""

    transaction_id: str
    time_ms: int
    card_id: str
    merchant_id: str
    amount_usd_cents: int
    mcc: float  # NaN when absent
    country: str | None
    currency: str | None
    lat: float | None
    lon: float | None
    channel: float  # NaN when absent
    device_id: str | None
    is_declined_or_failed: bool

    @classmethod
    def from_transaction(cls, txn: Transaction) -> FeatureInput:
        return cls.from_record(txn.model_dump())

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> FeatureInput:
        """From a contract-valid record (a validated `Transaction` dump or a lake row).

        Optional fields may be absent or None (see `definitions` for what each absence means).
        """
        currency = _text(record.get("currency"))
        in_currency = currency or ISSUER_CURRENCY
        amount_minor = int(Decimal(record["amount"]).scaleb(currency_exponent(in_currency)))
        lat, lon = record.get("merchant_lat"), record.get("merchant_lon")
        if lat is None or lon is None or lat != lat or lon != lon:
            lat = lon = None
        mcc = record.get("mcc")
        channel = _text(record.get("channel"))
        status = _text(record.get("status"))
        return cls(
            transaction_id=record["transaction_id"],
            time_ms=epoch_ms(record["event_time"]),
            card_id=record["card_id"],
            merchant_id=record["merchant_id"],
            amount_usd_cents=round(amount_minor * _factor(in_currency)),
            mcc=_NAN if mcc is None or mcc != mcc else float(mcc),
            country=_text(record.get("merchant_country")),
            currency=currency,
            lat=None if lat is None else float(lat),
            lon=None if lon is None else float(lon),
            channel=_NAN if channel is None else float(CHANNEL_CODES.get(channel, -1)),
            device_id=_text(record.get("device_id")),
            is_declined_or_failed=status is not None and status != Status.APPROVED.value,
        )


def _text(value: Any) -> str | None:
    """A string field's value, None when absent (None or NaN from a DataFrame)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(getattr(value, "value", value))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, exact (sub-millisecond parts are floored)."""
    return (moment - _EPOCH) // _MS


@dataclass(slots=True)
class CardState:
    """A card's recent history: its last 30 days of transactions plus a few last-seen facts.

    `times` is non-decreasing (late events are recorded at the watermark); `total_cents` and
    `total_sq_cents` are the exact sums of `amounts` kept in step with it.
    """

    card_id: str
    times: list[int] = field(default_factory=list)
    amounts: list[int] = field(default_factory=list)
    bad: list[int] = field(default_factory=list)
    merchants: list[str] = field(default_factory=list)
    total_cents: int = 0
    total_sq_cents: int = 0
    prev_time: int | None = None
    loc_time: int | None = None
    loc_lat: float = 0.0
    loc_lon: float = 0.0
    merchant_seen: dict[str, int] = field(default_factory=dict)
    country_seen: dict[str, int] = field(default_factory=dict)
    device_seen: dict[str, int] = field(default_factory=dict)
    version: int = 0

    @property
    def watermark(self) -> int | None:
        return self.times[-1] if self.times else self.prev_time

    def effective_time(self, time_ms: int) -> int:
        mark = self.watermark
        return time_ms if mark is None or time_ms >= mark else mark

    def expire(self, now_ms: int) -> None:
        """Drop events outside the 30 d window ending at `now_ms` and stale last-seen entries."""
        cut = bisect_right(self.times, now_ms - CARD_MOMENTS_WINDOW_MS)
        if cut:
            dropped = self.amounts[:cut]
            self.total_cents -= sum(dropped)
            self.total_sq_cents -= sum(a * a for a in dropped)
            del self.times[:cut], self.amounts[:cut], self.bad[:cut], self.merchants[:cut]

    def expire_last_seen(self, now_ms: int) -> None:
        horizon = now_ms - RECENCY_HORIZON_MS
        for seen in (self.merchant_seen, self.country_seen, self.device_seen):
            for key in [k for k, t in seen.items() if t <= horizon]:
                del seen[key]

    def apply(self, inp: FeatureInput, at_ms: int) -> None:
        self.times.append(at_ms)
        self.amounts.append(inp.amount_usd_cents)
        self.bad.append(1 if inp.is_declined_or_failed else 0)
        self.merchants.append(inp.merchant_id)
        self.total_cents += inp.amount_usd_cents
        self.total_sq_cents += inp.amount_usd_cents * inp.amount_usd_cents
        self.prev_time = at_ms
        if inp.lat is not None and inp.lon is not None:
            self.loc_time, self.loc_lat, self.loc_lon = at_ms, inp.lat, inp.lon
        self.merchant_seen[inp.merchant_id] = at_ms
        if inp.country is not None:
            self.country_seen[inp.country] = at_ms
        if inp.device_id is not None:
            self.device_seen[inp.device_id] = at_ms
        self.version += 1


@dataclass(slots=True)
class MerchantState:
    """A merchant's activity in hour and day buckets plus its recently reported frauds.

    `hour_counts` covers the last 24 h, `day_counts` the last `MERCHANT_HISTORY_MS` (days since the
    epoch as keys); `frauds` holds (transaction time, reported_at) of fraud labels whose
    transaction is still inside that history.
    """

    merchant_id: str
    hour_counts: dict[int, int] = field(default_factory=dict)
    day_counts: dict[int, int] = field(default_factory=dict)
    frauds: list[tuple[int, int]] = field(default_factory=list)
    watermark: int | None = None
    version: int = 0

    def effective_time(self, time_ms: int) -> int:
        mark = self.watermark
        return time_ms if mark is None or time_ms >= mark else mark

    def expire(self, now_ms: int) -> None:
        first_hour = (now_ms // HOUR_MS * HOUR_MS - MERCHANT_COUNT_WINDOW_MS) // HOUR_MS
        first_day = (now_ms // DAY_MS * DAY_MS - MERCHANT_HISTORY_MS) // DAY_MS
        for key in [h for h in self.hour_counts if h < first_hour]:
            del self.hour_counts[key]
        for key in [d for d in self.day_counts if d < first_day]:
            del self.day_counts[key]
        start = first_day * DAY_MS
        if any(t < start for t, _ in self.frauds):
            self.frauds = [(t, r) for t, r in self.frauds if t >= start]

    def apply(self, at_ms: int) -> None:
        hour, day = at_ms // HOUR_MS, at_ms // DAY_MS
        self.hour_counts[hour] = self.hour_counts.get(hour, 0) + 1
        self.day_counts[day] = self.day_counts.get(day, 0) + 1
        self.watermark = at_ms
        self.version += 1

    def apply_fraud_label(self, transaction_time_ms: int, reported_at_ms: int) -> None:
        """Record a fraud label for one of this merchant's transactions.

        Call it when the label is reported, with the labelled transaction's event time; features
        count it only for transactions after `reported_at_ms` (as-of-known-time), so applying it
        early or late never changes an answer. Apply each label once.
        """
        self.frauds.append((transaction_time_ms, reported_at_ms))
        self.version += 1


def compute_features(inp: FeatureInput, card: CardState, merchant: MerchantState) -> list[float]:
    """The feature vector (in `FEATURE_NAMES` order) of `inp` given the states before it."""
    values = compute_feature_values(inp, card, merchant)
    return [values[name] for name in FEATURE_NAMES]


def compute_feature_values(
    inp: FeatureInput, card: CardState, merchant: MerchantState
) -> dict[str, float]:
    """Every feature of the current set by name, given the states before `inp`."""
    now = card.effective_time(inp.time_ms)
    card.expire(now)
    times = card.times
    n30 = len(times)
    i1h = bisect_right(times, now - _H1)
    i24 = bisect_right(times, now - _H24)
    i7d = bisect_right(times, now - _D7)
    amounts, bad = card.amounts, card.bad

    amount_usd = inp.amount_usd_cents / 100.0
    mean, std = fx.moments_usd(n30, card.total_cents, card.total_sq_cents, fx.SCALAR)
    hour = fx.hour_of(inp.time_ms)
    weekday = fx.weekday_of(inp.time_ms)

    prev = card.prev_time
    secs_since_prev = _NAN if prev is None else (now - prev) / 1000.0
    if inp.lat is None or inp.lon is None or card.loc_time is None:
        km = kmh = _NAN
    else:
        km = fx.haversine_km(card.loc_lat, card.loc_lon, inp.lat, inp.lon, fx.SCALAR)
        kmh = fx.speed_kmh(km, now - card.loc_time, fx.SCALAR)

    horizon = now - RECENCY_HORIZON_MS
    seen = card.merchant_seen.get(inp.merchant_id)
    new_merchant = seen is None or seen <= horizon
    new_country = _is_new(card.country_seen, inp.country, horizon)
    new_device = _is_new(card.device_seen, inp.device_id, horizon)

    sum_1h, sum_24h, sum_7d = sum(amounts[i1h:]), sum(amounts[i24:]), sum(amounts[i7d:])
    values: dict[str, float] = {
        "amount_usd": amount_usd,
        "log_amount_usd": fx.log_amount(amount_usd, fx.SCALAR),
        "hour": float(hour),
        "weekday": float(weekday),
        "is_night": 1.0 if hour in NIGHT_HOURS else 0.0,
        "is_weekend": 1.0 if weekday >= 5 else 0.0,
        "card_count_1h": float(n30 - i1h),
        "card_sum_1h": sum_1h / 100.0,
        "card_count_24h": float(n30 - i24),
        "card_sum_24h": sum_24h / 100.0,
        "card_count_7d": float(n30 - i7d),
        "card_sum_7d": sum_7d / 100.0,
        "card_mean_30d": mean,
        "card_std_30d": std,
        "amount_zscore_30d": fx.zscore(amount_usd, mean, std, n30, fx.SCALAR),
        "secs_since_prev": secs_since_prev,
        "km_from_prev_location": km,
        "kmh_from_prev_location": kmh,
        "is_new_merchant": 1.0 if new_merchant else 0.0,
        "is_new_country": 1.0 if new_country else 0.0,
        "is_new_device": 1.0 if new_device else 0.0,
        "card_distinct_merchants_24h": float(len(set(card.merchants[i24:]))),
        "card_declines_1h": float(sum(bad[i1h:])),
        "card_declines_24h": float(sum(bad[i24:])),
        "is_international": 1.0 if inp.country not in (None, ISSUER_COUNTRY) else 0.0,
        "is_cross_currency": 1.0 if inp.currency not in (None, ISSUER_CURRENCY) else 0.0,
        "channel": inp.channel,
        "mcc": inp.mcc,
        "has_location": 0.0 if inp.lat is None else 1.0,
        "has_device": 0.0 if inp.device_id is None else 1.0,
    }
    windows = {"24h": (n30 - i24, sum_24h), "7d": (n30 - i7d, sum_7d)}
    for label in CARD_MEAN_WINDOWS_MS:
        count, total = windows.get(label) or (n30, card.total_cents)
        window_mean = mean if label == "30d" else fx.mean_usd(count, total, fx.SCALAR)
        values[f"card_count_{label}"] = float(count)
        values[f"card_mean_{label}"] = window_mean
        values[f"amount_to_mean_{label}"] = fx.amount_ratio(
            amount_usd, window_mean, count, fx.SCALAR
        )
    values.update(_merchant_values(merchant, merchant.effective_time(inp.time_ms)))
    return values


def _is_new(seen: dict[str, int], key: str | None, horizon: int) -> bool:
    if key is None:
        return False
    last = seen.get(key)
    return last is None or last <= horizon


def _merchant_values(merchant: MerchantState, m_now: int) -> dict[str, float]:
    first_hour = (m_now // HOUR_MS * HOUR_MS - MERCHANT_COUNT_WINDOW_MS) // HOUR_MS
    today = m_now // DAY_MS
    risk_end = today - _RISK_DELAY_DAYS
    counts = {label: 0 for label in _COUNT_DAYS}
    risk_totals = {label: 0 for label in _RISK_DAYS}
    total28 = 0
    for day, c in merchant.day_counts.items():
        age = today - day  # 0 today
        for label, days in _COUNT_DAYS.items():
            if age <= days:
                counts[label] += c
        if age <= _FRAUD_DAYS:
            total28 += c
        if day < risk_end:
            for label, days in _RISK_DAYS.items():
                if day >= risk_end - days:
                    risk_totals[label] += c
    frauds28 = 0
    risk_frauds = {label: 0 for label in _RISK_DAYS}
    for t, r in merchant.frauds:
        if r >= m_now:
            continue
        day = t // DAY_MS
        if today - day <= _FRAUD_DAYS:
            frauds28 += 1
        if day < risk_end:
            for label, days in _RISK_DAYS.items():
                if day >= risk_end - days:
                    risk_frauds[label] += 1
    out = {
        "merchant_count_24h": float(
            sum(c for h, c in merchant.hour_counts.items() if h >= first_hour)
        ),
        "merchant_fraud_rate_28d": fx.share(frauds28, total28, fx.SCALAR),
    }
    for label, count in counts.items():
        out[f"merchant_count_{label}"] = float(count)
    for label in _RISK_DAYS:
        out[f"merchant_risk_{label}"] = fx.share(risk_frauds[label], risk_totals[label], fx.SCALAR)
    out["merchant_txns_risk_7d"] = float(risk_totals["7d"])
    return out


def apply_transaction(inp: FeatureInput, card: CardState, merchant: MerchantState) -> None:
    """Record `inp` in both states (at each entity's effective time)."""
    card.apply(inp, card.effective_time(inp.time_ms))
    m_now = merchant.effective_time(inp.time_ms)
    merchant.expire(m_now)
    merchant.apply(m_now)


def compute_and_apply(inp: FeatureInput, card: CardState, merchant: MerchantState) -> list[float]:
    """`compute_features` then `apply_transaction`: the stream's per-transaction step."""
    vector = compute_features(inp, card, merchant)
    apply_transaction(inp, card, merchant)
    return vector
