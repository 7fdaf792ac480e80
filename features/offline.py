"""Offline evaluation: every feature for every transaction of a history, point-in-time correct.

Vectorized with numpy: per-entity windows become `searchsorted` over (entity, time) keys and
differences of prefix sums, so 1,000,000 transactions build in seconds. A transaction's features
use only transactions before it in (event_time, transaction_id) order and only fraud labels whose
reported_at is before its event_time. `online.compute_features` evaluates the same definitions
from compact state; the parity tests hold the two to the same answers.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from securebank.features import formulas as fx
from securebank.features.definitions import (
    CARD_MEAN_WINDOWS_MS,
    CARD_MOMENTS_WINDOW_MS,
    CARD_WINDOWS_MS,
    CHANNEL_CODES,
    CURRENT_FEATURE_SET,
    DAY_MS,
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
from securebank.features.definitions import (
    feature_set as lookup_feature_set,
)
from securebank.reference import currency_exponent

#: Columns carried next to the features so rows can be joined, split and audited.
KEY_COLUMNS = ("transaction_id", "event_time", "card_id", "merchant_id")
_FRAUD_CHUNK = 4_000_000
#: How far back a merchant's transactions and frauds can matter to any window.
MERCHANT_HISTORY_MS = max(
    MERCHANT_FRAUD_WINDOW_MS,
    max(MERCHANT_COUNT_WINDOWS_MS.values()),
    MERCHANT_RISK_DELAY_MS + max(MERCHANT_RISK_WINDOWS_MS.values()),
)


def _as_table(transactions: pd.DataFrame | pa.Table) -> pa.Table:
    if isinstance(transactions, pa.Table):
        return transactions
    return pa.Table.from_pandas(transactions, preserve_index=False)


def _amount_usd_cents(table: pa.Table, currency: np.ndarray) -> np.ndarray:
    scaled = pc.multiply(
        table["amount"].cast(pa.decimal128(18, 4)),
        pa.scalar(Decimal(10_000), type=pa.decimal128(5, 0)),
    )
    in_ten_thousandths = pc.cast(scaled, pa.int64()).to_numpy()
    codes, inverse = np.unique(currency, return_inverse=True)
    divisor = np.array([10 ** (4 - currency_exponent(c)) for c in codes], dtype=np.int64)
    factor = np.array([fx.usd_cents_factor(c) for c in codes], dtype=np.float64)
    minor = in_ten_thousandths // divisor[inverse]
    return np.rint(minor.astype(np.float64) * factor[inverse]).astype(np.int64)


def _window_start(keys: np.ndarray, lower: np.ndarray, inclusive: bool) -> np.ndarray:
    """Index of the first row at or after `lower` (inclusive) or strictly after it."""
    return np.searchsorted(keys, lower, side="left" if inclusive else "right")


def _prefix(values: np.ndarray) -> np.ndarray:
    out = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(values, out=out[1:])
    return out


def _previous_in_group(group_codes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """For each row, the row of the same group just before it in `order`, or -1."""
    sorted_rows = np.lexsort((order, group_codes))
    previous = np.full(len(order), -1, dtype=np.int64)
    same = group_codes[sorted_rows[1:]] == group_codes[sorted_rows[:-1]]
    previous[sorted_rows[1:][same]] = sorted_rows[:-1][same]
    return previous


def _codes(values: np.ndarray) -> np.ndarray:
    return pd.factorize(values, use_na_sentinel=True)[0].astype(np.int64)


def _optional(table: pa.Table, name: str) -> np.ndarray:
    """A column as an object array, all None when the column is absent."""
    if name not in table.column_names:
        return np.full(table.num_rows, None, dtype=object)
    return table[name].to_numpy(zero_copy_only=False)


def _present(values: np.ndarray) -> np.ndarray:
    return np.asarray(pd.notna(values), dtype=bool)


def build_features(
    transactions: pd.DataFrame | pa.Table,
    labels: pd.DataFrame | pa.Table | None = None,
    *,
    feature_set: str = CURRENT_FEATURE_SET.name,
) -> pd.DataFrame:
    """Features of every transaction, in (event_time, transaction_id) order.

    `transactions` has the contract's required columns (transaction_id, event_time, card_id,
    merchant_id, amount); optional ones may be absent or null. `labels` has transaction_id,
    is_fraud and reported_at. `feature_set` is a set's short name or version ("v1", "v2"). The
    result holds `KEY_COLUMNS` followed by that set's feature names.
    """
    names = lookup_feature_set(feature_set).names
    table = _as_table(transactions)
    event_time = table["event_time"].cast(pa.timestamp("ms", tz="UTC"), safe=False)
    time_ms = pc.cast(event_time, pa.int64()).to_numpy().astype(np.int64)
    tid = table["transaction_id"].to_numpy(zero_copy_only=False).astype(str)
    processing = np.lexsort((tid, time_ms))
    table = table.take(pa.array(processing))
    time_ms = time_ms[processing]
    tid = tid[processing]
    n = len(time_ms)

    def column(name: str) -> np.ndarray:
        return table[name].to_numpy(zero_copy_only=False)

    currency_raw = _optional(table, "currency")
    has_currency = _present(currency_raw)
    currency = np.where(has_currency, currency_raw, ISSUER_CURRENCY).astype(str)
    country_raw = _optional(table, "merchant_country")
    has_country = _present(country_raw)
    country = np.where(has_country, country_raw, "").astype(str)
    card = _codes(column("card_id"))
    merchant = _codes(column("merchant_id"))
    device_raw = _optional(table, "device_id")
    has_device = _present(device_raw)
    lat = pd.to_numeric(pd.Series(_optional(table, "merchant_lat")), errors="coerce").to_numpy(
        np.float64
    )
    lon = pd.to_numeric(pd.Series(_optional(table, "merchant_lon")), errors="coerce").to_numpy(
        np.float64
    )
    has_location = ~(np.isnan(lat) | np.isnan(lon))
    status_raw = _optional(table, "status")
    bad = (_present(status_raw) & (status_raw.astype(str) != "approved")).astype(np.int64)
    cents = _amount_usd_cents(table, currency)
    amount_usd = cents / 100.0
    order = np.arange(n, dtype=np.int64)
    out: dict[str, np.ndarray] = {}

    span = int(time_ms.max() - time_ms.min()) if n else 0
    base = int(time_ms.min()) if n else 0
    stride = (
        span + max(CARD_MOMENTS_WINDOW_MS, RECENCY_HORIZON_MS, MERCHANT_HISTORY_MS) + 2 * DAY_MS
    )
    rel = time_ms - base

    # --- card windows: rows grouped by card, in processing order within a card
    by_card = np.lexsort((order, card))
    c_time = time_ms[by_card]
    c_keys = card[by_card] * stride + rel[by_card]
    c_pos = np.arange(n, dtype=np.int64)
    c_cents = _prefix(cents[by_card])
    c_sq = _prefix(cents[by_card] * cents[by_card])
    c_bad = _prefix(bad[by_card])
    starts: dict[str, np.ndarray] = {}
    card_out: dict[str, np.ndarray] = {}
    for label, width in CARD_WINDOWS_MS.items():
        start = _window_start(c_keys, c_keys - width, inclusive=False)
        starts[label] = start
        card_out[f"card_count_{label}"] = (c_pos - start).astype(np.float64)
        card_out[f"card_sum_{label}"] = (c_cents[c_pos] - c_cents[start]) / 100.0
    start30 = _window_start(c_keys, c_keys - CARD_MOMENTS_WINDOW_MS, inclusive=False)
    n30 = c_pos - start30
    mean, std = fx.moments_usd(
        n30, c_cents[c_pos] - c_cents[start30], c_sq[c_pos] - c_sq[start30], np
    )
    card_out["card_mean_30d"] = mean
    card_out["card_std_30d"] = std
    card_out["amount_zscore_30d"] = fx.zscore(amount_usd[by_card], mean, std, n30, np)
    for label, width in CARD_MEAN_WINDOWS_MS.items():
        start = _window_start(c_keys, c_keys - width, inclusive=False)
        count = c_pos - start
        window_mean = fx.mean_usd(count, c_cents[c_pos] - c_cents[start], np)
        card_out[f"card_count_{label}"] = count.astype(np.float64)
        card_out[f"card_mean_{label}"] = window_mean
        card_out[f"amount_to_mean_{label}"] = fx.amount_ratio(
            amount_usd[by_card], window_mean, count, np
        )
    for label in ("1h", "24h"):
        card_out[f"card_declines_{label}"] = (c_bad[c_pos] - c_bad[starts[label]]).astype(
            np.float64
        )

    first_of_card = np.r_[True, card[by_card][1:] != card[by_card][:-1]]
    prev_time = np.where(first_of_card, -1, np.r_[0, c_time[:-1]])
    card_out["secs_since_prev"] = np.where(first_of_card, np.nan, (c_time - prev_time) / 1000.0)

    located = has_location[by_card]
    last_located = np.where(located, c_pos, -1)
    np.maximum.accumulate(last_located, out=last_located)
    card_first_row = np.maximum.accumulate(np.where(first_of_card, c_pos, 0))
    prev_loc = np.r_[-1, last_located[:-1]]
    usable = located & (prev_loc >= card_first_row)
    safe = np.where(usable, prev_loc, 0)
    c_lat, c_lon = lat[by_card], lon[by_card]
    km = fx.haversine_km(c_lat[safe], c_lon[safe], c_lat, c_lon, np)
    card_out["km_from_prev_location"] = np.where(usable, km, np.nan)
    card_out["kmh_from_prev_location"] = np.where(
        usable, fx.speed_kmh(km, c_time - c_time[safe], np), np.nan
    )

    # distinct merchants in 24 h: rows j in [start, i) whose previous visit to the same merchant
    # (by this card) lies before the window start count once each.
    c_merchant = merchant[by_card]
    pair = _codes(card[by_card].astype(np.int64) * (int(merchant.max(initial=0)) + 1) + c_merchant)
    prev_same = _previous_in_group(pair, c_pos)
    start24 = starts["24h"]
    distinct = np.zeros(n, dtype=np.int64)
    widest = int((c_pos - start24).max(initial=0))
    for lag in range(1, widest + 1):
        j = c_pos - lag
        inside = j >= start24
        rows = np.nonzero(inside)[0]
        distinct[rows] += prev_same[j[rows]] < start24[rows]
    card_out["card_distinct_merchants_24h"] = distinct.astype(np.float64)

    for name, values in card_out.items():
        unsorted = np.empty(n, dtype=values.dtype)
        unsorted[by_card] = values
        out[name] = unsorted

    # --- first time at a merchant / in a country / on a device within the horizon
    def is_new(keys: np.ndarray, applies: np.ndarray) -> np.ndarray:
        group = _codes(card * (int(keys.max(initial=0)) + 1) + keys)
        prev = _previous_in_group(group, order)
        fresh = (prev < 0) | (time_ms[np.maximum(prev, 0)] <= time_ms - RECENCY_HORIZON_MS)
        return (fresh & applies).astype(np.float64)

    always = np.ones(n, dtype=bool)
    out["is_new_merchant"] = is_new(merchant, always)
    out["is_new_country"] = is_new(
        np.where(has_country, _codes(country), _codes(country).max(initial=0) + 1 + order),
        has_country,
    )
    # rows without a device get keys of their own, so they never count as an earlier use
    device_codes = _codes(np.where(has_device, device_raw, ""))
    device_codes = np.where(has_device, device_codes, device_codes.max(initial=0) + 1 + order)
    out["is_new_device"] = is_new(device_codes, has_device)

    # --- merchant windows, aligned to the hour and the day
    by_merchant = np.lexsort((order, merchant))
    m_keys = merchant[by_merchant] * stride + rel[by_merchant]
    m_time = time_ms[by_merchant]
    m_pos = np.arange(n, dtype=np.int64)
    hour_start = m_time // HOUR_MS * HOUR_MS - MERCHANT_COUNT_WINDOW_MS
    day_start = m_time // DAY_MS * DAY_MS - MERCHANT_FRAUD_WINDOW_MS
    m_base = merchant[by_merchant] * stride - base
    count24 = m_pos - _window_start(m_keys, m_base + hour_start, inclusive=True)
    total28 = m_pos - _window_start(m_keys, m_base + day_start, inclusive=True)
    today = m_time // DAY_MS * DAY_MS
    m_out = {"merchant_count_24h": count24.astype(np.float64)}
    for label, width in MERCHANT_COUNT_WINDOWS_MS.items():
        if label != "24h":
            since = _window_start(m_keys, m_base + today - width, inclusive=True)
            m_out[f"merchant_count_{label}"] = (m_pos - since).astype(np.float64)
    # fraud windows [lo, hi) of transaction time; hi None: up to now
    risk_end = today - MERCHANT_RISK_DELAY_MS
    windows: dict[str, tuple[np.ndarray, np.ndarray | None]] = {"28d": (day_start, None)}
    for label, width in MERCHANT_RISK_WINDOWS_MS.items():
        windows[label] = (risk_end - width, risk_end)
    frauds = _merchant_frauds(labels, tid, time_ms, merchant, by_merchant, m_time, windows)
    m_out["merchant_fraud_rate_28d"] = fx.share(frauds["28d"], total28, np)
    risk_hi = _window_start(m_keys, m_base + risk_end, inclusive=True)
    for label, width in MERCHANT_RISK_WINDOWS_MS.items():
        lo = _window_start(m_keys, m_base + risk_end - width, inclusive=True)
        total = np.minimum(risk_hi, m_pos) - np.minimum(lo, m_pos)
        m_out[f"merchant_risk_{label}"] = fx.share(frauds[label], total, np)
        if label == "7d":
            m_out["merchant_txns_risk_7d"] = total.astype(np.float64)
    for name, values in m_out.items():
        unsorted = np.empty(n, dtype=values.dtype)
        unsorted[by_merchant] = values
        out[name] = unsorted

    hour = fx.hour_of(time_ms)
    weekday = fx.weekday_of(time_ms)
    channel_raw = _optional(table, "channel")
    channel = np.where(_present(channel_raw), channel_raw, "").astype(str)
    channel_code = np.full(n, np.nan)
    channel_code[channel != ""] = -1.0
    for name, code in CHANNEL_CODES.items():
        channel_code[channel == name] = code
    out.update(
        amount_usd=amount_usd,
        log_amount_usd=fx.log_amount(amount_usd, np),
        hour=hour.astype(np.float64),
        weekday=weekday.astype(np.float64),
        is_night=np.isin(hour, NIGHT_HOURS).astype(np.float64),
        is_weekend=(weekday >= 5).astype(np.float64),
        is_international=(has_country & (country != ISSUER_COUNTRY)).astype(np.float64),
        is_cross_currency=(has_currency & (currency != ISSUER_CURRENCY)).astype(np.float64),
        channel=channel_code,
        mcc=pd.to_numeric(pd.Series(_optional(table, "mcc")), errors="coerce").to_numpy(np.float64),
        has_location=has_location.astype(np.float64),
        has_device=has_device.astype(np.float64),
    )

    frame = pd.DataFrame(
        {
            "transaction_id": tid,
            "event_time": table["event_time"].to_pandas().to_numpy(),
            "card_id": column("card_id"),
            "merchant_id": column("merchant_id"),
        }
    )
    features = pd.DataFrame({name: out[name] for name in names})
    return pd.concat([frame, features], axis=1)


def _merchant_frauds(
    labels: pd.DataFrame | pa.Table | None,
    tid: np.ndarray,
    time_ms: np.ndarray,
    merchant: np.ndarray,
    by_merchant: np.ndarray,
    m_time: np.ndarray,
    windows: dict[str, tuple[np.ndarray, np.ndarray | None]],
) -> dict[str, np.ndarray]:
    """Per window, per row (merchant order): the merchant's fraud labels whose transaction time is
    in [lo, hi) (hi None: no upper bound) and that were reported before the row's time."""
    counts = {name: np.zeros(len(by_merchant), dtype=np.int64) for name in windows}
    if labels is None or len(labels) == 0:
        return counts
    frame = labels.to_pandas() if isinstance(labels, pa.Table) else labels
    frame = frame[frame["is_fraud"].astype(bool)]
    reported = pd.to_datetime(frame["reported_at"], utc=True)
    reported_ms = (
        (reported - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    ).to_numpy()
    row_of = pd.Series(np.arange(len(tid)), index=tid)
    rows = row_of.reindex(frame["transaction_id"].to_numpy()).to_numpy()
    known = ~np.isnan(rows)
    rows = rows[known].astype(np.int64)
    reported_ms = reported_ms[known]
    if len(rows) == 0:
        return counts
    f_merchant = merchant[rows]
    f_time = time_ms[rows]
    m_codes = merchant[by_merchant]
    bounds = np.searchsorted(m_codes, np.arange(int(merchant.max()) + 2), side="left")
    for code in np.unique(f_merchant):
        mask = f_merchant == code
        ft, fr = f_time[mask][None, :], reported_ms[mask][None, :]
        lo_row, hi_row = bounds[code], bounds[code + 1]
        step = max(1, _FRAUD_CHUNK // max(ft.shape[1], 1))
        for a in range(lo_row, hi_row, step):
            b = min(hi_row, a + step)
            known_now = fr < m_time[a:b, None]
            for name, (lo, hi) in windows.items():
                inside = known_now & (ft >= lo[a:b, None])
                if hi is not None:
                    inside &= ft < hi[a:b, None]
                counts[name][a:b] = inside.sum(axis=1)
    return counts
