"""Hand-made histories with answers worked out by hand, checked against both evaluators."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from securebank.features.definitions import FEATURE_NAMES
from securebank.features.offline import build_features
from securebank.features.replay import replay
from tests.builders import DAY, HOUR, LOS_ANGELES, NEW_YORK, T0, frame, labels_frame, txn


def offline(transactions: pd.DataFrame, labels: pd.DataFrame | None) -> pd.DataFrame:
    return build_features(transactions, labels).set_index("transaction_id")


def online(transactions: pd.DataFrame, labels: pd.DataFrame | None) -> pd.DataFrame:
    return replay(transactions, labels).frame().set_index("transaction_id")


EVALUATORS = pytest.mark.parametrize("evaluate", [offline, online], ids=["offline", "online"])


def card_history() -> pd.DataFrame:
    ny_lat, ny_lon = NEW_YORK
    la_lat, la_lon = LOS_ANGELES
    return frame(
        [
            txn("a1", T0 - 2 * DAY, amount="100.00", merchant_lat=ny_lat, merchant_lon=ny_lon),
            txn("a2", T0 - HOUR / 2, merchant_id="mer_2", amount="50.00", status="declined"),
            txn("a3", T0 - HOUR, amount="20.00"),  # exactly one hour before: outside the 1 h window
            txn(
                "a4",
                T0,
                merchant_id="mer_3",
                amount="400.00",
                merchant_lat=la_lat,
                merchant_lon=la_lon,
            ),
        ]
    )


@EVALUATORS
def test_card_windows_moments_and_recency(evaluate):
    row = evaluate(card_history(), None).loc["a4"]
    assert row["amount_usd"] == 400.0
    assert row["log_amount_usd"] == pytest.approx(math.log(401.0))
    assert (row["hour"], row["weekday"], row["is_night"], row["is_weekend"]) == (12, 0, 0, 0)
    assert (row["card_count_1h"], row["card_sum_1h"]) == (1, 50.0)
    assert (row["card_count_24h"], row["card_sum_24h"]) == (2, 70.0)
    assert (row["card_count_7d"], row["card_sum_7d"]) == (3, 170.0)
    # amounts 100, 50, 20: mean 56.667, population variance 3266.667 / 3 = 1088.889
    assert row["card_mean_30d"] == pytest.approx(170 / 3, abs=1e-9)
    assert row["card_std_30d"] == pytest.approx(math.sqrt(1088.8888888889), abs=1e-6)
    assert row["amount_zscore_30d"] == pytest.approx((400 - 170 / 3) / 32.9983164, abs=1e-6)
    assert row["secs_since_prev"] == 1800.0  # a2, thirty minutes earlier
    # last located transaction is a1 in New York, 48 h earlier; New York - Los Angeles ~3,936 km
    assert row["km_from_prev_location"] == pytest.approx(3936, abs=5)
    assert row["kmh_from_prev_location"] == pytest.approx(3936 / 48, abs=0.2)
    assert (row["is_new_merchant"], row["is_new_country"], row["is_new_device"]) == (1, 0, 0)
    assert row["card_distinct_merchants_24h"] == 2  # mer_1 (a3) and mer_2 (a2)
    assert (row["card_declines_1h"], row["card_declines_24h"]) == (1, 1)
    assert (row["has_location"], row["has_device"]) == (1, 0)


@EVALUATORS
def test_first_transaction_of_a_card_has_no_history(evaluate):
    row = evaluate(card_history(), None).loc["a1"]
    assert row["card_count_7d"] == 0 and row["card_mean_30d"] == 0 and row["card_std_30d"] == 0
    assert row["amount_zscore_30d"] == 0
    assert math.isnan(row["secs_since_prev"]) and math.isnan(row["km_from_prev_location"])
    assert row["is_new_merchant"] == 1 and row["is_new_country"] == 1


@EVALUATORS
def test_recency_horizon_and_devices(evaluate):
    online_shop = {"channel": "ecommerce"}
    in_france = {"merchant_country": "FR", "currency": "EUR"}
    history = frame(
        [
            txn("r1", T0 - 181 * DAY, merchant_id="mer_old", device_id="dev_1", **online_shop),
            txn("r2", T0 - 179 * DAY, merchant_id="mer_recent", **in_france),
            txn("r3", T0, merchant_id="mer_old", device_id="dev_1", **online_shop),
            txn(
                "r4",
                T0 + HOUR,
                merchant_id="mer_recent",
                device_id="dev_2",
                **in_france,
                **online_shop,
            ),
        ]
    )
    rows = evaluate(history, None)
    assert rows.loc["r3", "is_new_merchant"] == 1  # last seen 181 days ago: beyond the horizon
    assert rows.loc["r3", "is_new_device"] == 1
    assert rows.loc["r3", "is_new_country"] == 1  # US last seen with r1, 181 days ago
    assert rows.loc["r4", "is_new_merchant"] == 0  # 179 days + 1 hour ago: inside
    assert rows.loc["r4", "is_new_country"] == 0
    assert rows.loc["r4", "is_new_device"] == 1
    assert rows.loc["r4", "is_international"] == 1 and rows.loc["r4", "is_cross_currency"] == 1
    assert rows.loc["r4", "card_count_7d"] == 1  # r1 and r2 are older than 30 days


def merchant_history():
    day = T0.replace(hour=0) + 8 * DAY  # Tuesday 2026-03-10 00:00 UTC
    rows = [
        txn("x1", day - 27 * DAY + 10 * HOUR, card_id="tok_b"),
        txn("x2", day - 29 * DAY, card_id="tok_c"),
        txn("x3", day - DAY + 8.5 * HOUR, card_id="tok_e"),
        txn("x4", day - DAY + 13.25 * HOUR, card_id="tok_f"),
        txn("x5", day + 9 * HOUR, card_id="tok_g"),
        txn("q", day + 13 * HOUR + 40 * 60 * pd.Timedelta(seconds=1), card_id="tok_h"),
    ]
    labels = labels_frame([("x1", day - DAY), ("x2", day - 2 * DAY), ("x5", day + 20 * HOUR)])
    return frame(rows), labels


@EVALUATORS
def test_merchant_count_and_fraud_rate(evaluate):
    transactions, labels = merchant_history()
    row = evaluate(transactions, labels).loc["q"]
    # the 24 h count starts at 13:00 yesterday: x4 (13:15) and x5
    assert row["merchant_count_24h"] == 2
    # the 28 d window starts at midnight 28 days ago: x1, x3, x4, x5 (x2 is older); only x1's
    # label was reported before now (x5's comes tonight, x2 is outside)
    assert row["merchant_fraud_rate_28d"] == pytest.approx(0.25)


@EVALUATORS
def test_labels_reported_later_are_invisible(evaluate):
    transactions, labels = merchant_history()
    row = evaluate(transactions, labels).loc["x5"]
    # at x5 (09:00): window holds x1, x3, x4; x1 reported yesterday
    assert row["merchant_fraud_rate_28d"] == pytest.approx(1 / 3)
    before_report = evaluate(transactions, labels).loc["x4"]
    # at x4 (yesterday 13:15) the window starts 29 days before today: x2 (exactly at the start),
    # x1 and x3; x1 (reported yesterday 00:00) and x2 (reported two days ago) are both known
    assert before_report["merchant_fraud_rate_28d"] == pytest.approx(2 / 3)


@EVALUATORS
def test_every_feature_is_produced_in_order(evaluate):
    rows = evaluate(card_history(), None)
    assert list(rows.columns[-len(FEATURE_NAMES) :]) == list(FEATURE_NAMES)


@EVALUATORS
def test_card_means_and_amount_ratios(evaluate):
    row = evaluate(card_history(), None).loc["a4"]
    # before a4: a1 100 (2 days ago), a2 50 (30 min), a3 20 (1 h); the 24 h window holds a2, a3
    assert (row["card_count_24h"], row["card_count_7d"], row["card_count_30d"]) == (2, 3, 3)
    assert row["card_mean_24h"] == pytest.approx(35.0)
    assert row["card_mean_7d"] == pytest.approx(170 / 3)
    assert row["amount_to_mean_24h"] == pytest.approx(400 / 35)
    assert row["amount_to_mean_7d"] == pytest.approx(400 / (170 / 3))
    assert row["amount_to_mean_30d"] == pytest.approx(400 / (170 / 3))
    first = evaluate(card_history(), None).loc["a1"]
    assert first["card_mean_24h"] == 0 and math.isnan(first["amount_to_mean_24h"])


def terminal_history():
    """A terminal with one transaction a day for 40 days; frauds on days 20 and 25, each reported
    three days later; the question is asked on day 33 at noon."""
    start = T0.replace(hour=0)
    rows = [
        txn(f"m{d:02d}", start + d * DAY + 10 * HOUR, card_id=f"tok_{d:02d}") for d in range(40)
    ]
    labels = labels_frame(
        [
            ("m20", start + 23 * DAY + 10 * HOUR),
            ("m25", start + 28 * DAY + 10 * HOUR),
            ("m30", start + 33 * DAY + 13 * HOUR),  # reported after the question
        ]
    )
    rows.append(txn("q", start + 33 * DAY + 12 * HOUR, card_id="tok_q"))
    return frame(rows), labels


@EVALUATORS
def test_merchant_risk_windows_end_the_label_delay_before_today(evaluate):
    transactions, labels = terminal_history()
    row = evaluate(transactions, labels).loc["q"]
    # today is day 33; the risk windows end at the start of day 26 (7 days earlier)
    # 1 d: day 25 only -> m25, a fraud reported on day 28: 1 / 1
    assert row["merchant_risk_1d"] == 1.0
    # 7 d: days 19..25 -> 7 transactions, frauds m20 and m25 known: 2 / 7
    assert row["merchant_risk_7d"] == pytest.approx(2 / 7)
    assert row["merchant_txns_risk_7d"] == 7
    # 30 d: days 0..25 (the window would start on day -4) -> 26 transactions, 2 frauds
    assert row["merchant_risk_30d"] == pytest.approx(2 / 26)
    # counts: 7 d from the start of day 26 -> days 26..33 = 8; 30 d from day 3 -> 31
    assert (row["merchant_count_7d"], row["merchant_count_30d"]) == (8, 31)
    # the 28 d as-known rate: days 5..33 (29 transactions), m30 is not reported yet
    assert row["merchant_fraud_rate_28d"] == pytest.approx(2 / 29)


@EVALUATORS
def test_a_label_reported_mid_stream_changes_risk_from_the_next_transaction_on(evaluate):
    transactions, labels = terminal_history()
    rows = evaluate(transactions, labels)
    # m28 (day 28, 10:00) is at the moment of m25's report: reported_at is not before it
    assert rows.loc["m28", "merchant_fraud_rate_28d"] == pytest.approx(1 / 28)
    assert rows.loc["m29", "merchant_fraud_rate_28d"] == pytest.approx(2 / 28)  # days 1..28


def minimal(records):
    """Only the five required columns, as a bank file may have."""
    required = ["transaction_id", "event_time", "card_id", "merchant_id", "amount"]
    return frame(records)[required]


@EVALUATORS
def test_a_minimal_schema_history_gives_every_feature(evaluate):
    history = minimal(
        [
            txn("n1", T0 - DAY, amount="20.00"),
            txn("n2", T0 - HOUR, amount="30.00", merchant_id="mer_2"),
            txn("n3", T0, amount="100.00"),
        ]
    )
    rows = evaluate(history, None)
    row = rows.loc["n3"]
    assert list(rows.columns[-len(FEATURE_NAMES) :]) == list(FEATURE_NAMES)
    assert row["amount_usd"] == 100.0  # the issuer's currency
    assert row["card_count_24h"] == 1 and row["card_mean_30d"] == 25.0
    assert row["amount_to_mean_30d"] == 4.0
    assert math.isnan(row["mcc"]) and math.isnan(row["channel"])
    assert (row["is_international"], row["is_cross_currency"], row["is_new_country"]) == (0, 0, 0)
    assert (row["has_location"], row["has_device"], row["is_new_device"]) == (0, 0, 0)
    assert row["card_declines_24h"] == 0  # no status: approved
    assert rows.loc["n1", "is_new_merchant"] == 1


@EVALUATORS
def test_null_optional_fields_mean_the_same_as_absent_ones(evaluate):
    nulls = {
        "mcc": None,
        "currency": None,
        "merchant_country": None,
        "channel": None,
        "status": None,
        "customer_id": None,
    }
    with_nulls = frame([txn("n1", T0 - DAY, **nulls), txn("n2", T0, amount="5.00", **nulls)])
    without = minimal([txn("n1", T0 - DAY), txn("n2", T0, amount="5.00")])
    a, b = evaluate(with_nulls, None), evaluate(without, None)
    pd.testing.assert_frame_equal(a[list(FEATURE_NAMES)], b[list(FEATURE_NAMES)])
