from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from securebank.contract import Rejection, Transaction, parse_label, parse_transaction

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def valid() -> dict:
    return {
        "transaction_id": "tx_1",
        "event_time": "2026-03-02T11:59:00Z",
        "card_id": "tok_abc",
        "customer_id": "cus_1",
        "merchant_id": "mer_1",
        "mcc": "5411",
        "amount": "12.50",
        "currency": "USD",
        "merchant_country": "US",
        "merchant_lat": 40.7,
        "merchant_lon": -74.0,
        "channel": "pos",
        "device_id": "dev_1",
        "status": "approved",
    }


def reasons(record: dict) -> dict[str, str]:
    result = parse_transaction(record, now=NOW)
    assert isinstance(result, Rejection), f"expected a rejection, got {result!r}"
    return result.as_dict()


def test_valid_transaction_parses_with_utc_time_and_minor_units():
    record = valid() | {"event_time": "2026-03-02T12:59:00+01:00"}
    txn = parse_transaction(record, now=NOW)
    assert isinstance(txn, Transaction)
    assert txn.event_time == datetime(2026, 3, 2, 11, 59, tzinfo=UTC)
    assert txn.event_time.tzinfo == UTC
    assert txn.amount_minor == 1250


def test_optional_fields_may_be_absent():
    record = valid()
    for key in ("merchant_lat", "merchant_lon", "device_id"):
        del record[key]
    txn = parse_transaction(record, now=NOW)
    assert isinstance(txn, Transaction)
    assert txn.merchant_lat is None and txn.device_id is None


def test_currency_exponent_is_respected():
    assert isinstance(
        parse_transaction(valid() | {"currency": "JPY", "amount": "1500"}), Transaction
    )
    assert "JPY allows (0)" in reasons(valid() | {"currency": "JPY", "amount": "1500.5"})["amount"]
    assert "USD allows (2)" in reasons(valid() | {"amount": "12.505"})["amount"]
    kwd = parse_transaction(valid() | {"currency": "KWD", "amount": "1.125"}, now=NOW)
    assert isinstance(kwd, Transaction) and kwd.amount_minor == 1125


def test_missing_field():
    record = valid()
    del record["card_id"]
    assert reasons(record) == {"card_id": "required field is missing"}


def test_extra_field():
    assert reasons(valid() | {"cvv": "123"}) == {"cvv": "unexpected field"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("mcc", 5411), ("card_id", 123), ("amount", "twelve"), ("channel", "fax"), ("status", True)],
)
def test_wrong_types_name_the_field(field, value):
    assert field in reasons(valid() | {field: value})


@pytest.mark.parametrize("amount", ["0", "-5.00", "0.00"])
def test_non_positive_amounts(amount):
    assert reasons(valid() | {"amount": amount})["amount"] == "amount must be positive"


def test_absurd_amount():
    assert "limit" in reasons(valid() | {"amount": "9000000.00"})["amount"]
    assert "limit" in reasons(valid() | {"amount": "1e12"})["amount"]


def test_not_a_number_amount():
    assert "amount" in reasons(valid() | {"amount": "NaN"})


def test_unknown_currency_and_country():
    assert reasons(valid() | {"currency": "XYZ"}) == {"currency": "not an ISO 4217 currency code"}
    assert "not accepted" in reasons(valid() | {"currency": "ISK"})["currency"]
    assert reasons(valid() | {"merchant_country": "XX"}) == {
        "merchant_country": "not an ISO 3166-1 alpha-2 country code"
    }


@pytest.mark.parametrize(("field", "value"), [("merchant_lat", 90.5), ("merchant_lon", -181)])
def test_location_out_of_range(field, value):
    assert field in reasons(valid() | {field: value})


def test_location_half_given():
    assert "merchant_lat" in reasons(valid() | {"merchant_lon": None})


def test_event_time_in_the_future():
    assert isinstance(
        parse_transaction(valid() | {"event_time": "2026-03-02T12:04:00Z"}, now=NOW), Transaction
    )
    late = (NOW + timedelta(minutes=6)).isoformat()
    assert "future" in reasons(valid() | {"event_time": late})["event_time"]


def test_event_time_needs_a_timezone():
    assert "event_time" in reasons(valid() | {"event_time": "2026-03-02T11:00:00"})


@pytest.mark.parametrize("field", ["card_id", "customer_id", "device_id", "merchant_id"])
def test_pan_in_any_field_is_refused_without_echoing_it(field):
    pan = "4111111111111111"
    result = parse_transaction(valid() | {field: pan}, now=NOW)
    assert isinstance(result, Rejection)
    assert "PAN" in result.as_dict()[field]
    assert pan not in str(result) and pan not in repr(result)


def test_pan_in_an_unexpected_field_is_refused_too():
    result = parse_transaction(valid() | {"memo": "4111 1111 1111 1111"}, now=NOW)
    assert isinstance(result, Rejection)
    assert "PAN" in result.as_dict()["memo"]
    assert "4111" not in str(result)


def test_not_an_object():
    assert parse_transaction(["tx"], now=NOW).as_dict() == {
        "record": "a transaction must be a JSON object"
    }


def test_float_amount_is_read_by_its_decimal_text():
    txn = parse_transaction(valid() | {"amount": 0.1}, now=NOW)
    assert isinstance(txn, Transaction) and txn.amount == Decimal("0.1")


def test_label_contract():
    label = parse_label(
        {"transaction_id": "tx_1", "is_fraud": True, "reported_at": "2026-03-09T00:00:00Z"}
    )
    assert not isinstance(label, Rejection) and label.is_fraud
    assert (
        "is_fraud"
        in parse_label(
            {"transaction_id": "tx_1", "is_fraud": "yes", "reported_at": "2026-03-09T00:00:00Z"}
        ).as_dict()
    )
