"""A minimal bank record (id, time, card, merchant, amount, currency) is a valid transaction."""

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from securebank.contract import TRANSACTION_SCHEMA, Rejection, Transaction, parse_transaction
from securebank.data.dataset import DatasetError, read_transactions

NOW = datetime(2026, 6, 1, tzinfo=UTC)
MINIMAL = {
    "transaction_id": "t1",
    "event_time": "2026-05-01T10:00:00Z",
    "card_id": "tok_1",
    "merchant_id": "term_9",
    "amount": "12.50",
    "currency": "EUR",
}


def test_minimal_record_is_accepted_with_documented_defaults():
    txn = parse_transaction(MINIMAL, now=NOW)
    assert isinstance(txn, Transaction)
    assert txn.status == "approved"
    unknown = ("customer_id", "mcc", "merchant_country", "channel", "device_id", "merchant_lat")
    assert all(getattr(txn, name) is None for name in unknown)
    explicit_nulls = {name: None for name in unknown} | {"merchant_lon": None}
    assert parse_transaction(MINIMAL | explicit_nulls, now=NOW) == txn


@pytest.mark.parametrize("missing", ["transaction_id", "event_time", "card_id", "merchant_id"])
def test_the_five_core_fields_and_currency_stay_required(missing):
    for name in (missing, "amount", "currency"):
        record = {k: v for k, v in MINIMAL.items() if k != name}
        rejection = parse_transaction(record, now=NOW)
        assert isinstance(rejection, Rejection)
        assert rejection.as_dict() == {name: "required field is missing"}


def test_optional_fields_are_still_checked_when_present():
    for field, value in (("mcc", "59"), ("merchant_country", "ZZ"), ("channel", "fax")):
        rejection = parse_transaction(MINIMAL | {field: value}, now=NOW)
        assert isinstance(rejection, Rejection) and set(rejection.as_dict()) == {field}


def test_arrow_nullability_follows_the_contract(tmp_path):
    optional = {name for name, f in Transaction.model_fields.items() if not f.is_required()}
    nullable = {f.name for f in TRANSACTION_SCHEMA if f.nullable}
    assert nullable == optional - {"status"}  # status always has a value: approved by default
    # a dataset with a null in a required column is refused on reading, with the column's name
    row = parse_transaction(MINIMAL, now=NOW).model_dump() | {"card_id": None}
    lenient = pa.schema([f.with_nullable(True) for f in TRANSACTION_SCHEMA])
    broken = pa.Table.from_pylist([row], schema=lenient)
    folder = tmp_path / "transactions" / "date=2026-05-01"
    folder.mkdir(parents=True)
    pq.write_table(broken, folder / "part-0.parquet")
    with pytest.raises(DatasetError, match="card_id"):
        read_transactions(tmp_path)
