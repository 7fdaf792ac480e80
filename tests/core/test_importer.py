"""Bring your own data: mapping, validation, rejects with reasons and no values."""

import json

import pytest

from securebank.dataset import read_labels, read_transactions
from securebank.importer import ColumnMapping, MappingError, import_dataset

HEADER = "id,ts,card,cust,merch,category,amt,ccy,country,lat,lon,kind,dev,result\n"
GOOD = "t1,2026-05-01T10:00:00Z,tok1,c1,m1,5411,12.50,USD,US,40.7,-74.0,pos,,approved\n"
GOOD2 = "t2,2026-05-01T11:00:00Z,tok1,c1,m2,5999,1000.00,EUR,FR,,,ecommerce,d1,declined\n"
BAD = "t3,2026-05-01T12:00:00Z,4111111111111111,c1,m1,5411,3,USD,US,,,pos,,approved\n"
BAD2 = "t4,2026-05-01T12:00:00Z,tok2,c1,m1,5411,-3,USD,US,,,pos,,approved\n"
MAPPING = {
    "columns": {
        "transaction_id": "id",
        "event_time": "ts",
        "card_id": "card",
        "customer_id": "cust",
        "merchant_id": "merch",
        "mcc": "category",
        "amount": "amt",
        "currency": "ccy",
        "merchant_country": "country",
        "merchant_lat": "lat",
        "merchant_lon": "lon",
        "channel": "kind",
        "device_id": "dev",
        "status": "result",
    },
    "label_columns": {"transaction_id": "txn", "is_fraud": "fraud", "reported_at": "when"},
}


def test_import_keeps_valid_rows_and_explains_rejects_without_values(tmp_path):
    source = tmp_path / "tx.csv"
    source.write_text(HEADER + GOOD + GOOD2 + BAD + BAD2)
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "txn,fraud,when\nt2,true,2026-05-09T00:00:00Z\nt9,true,2026-05-09T00:00:00Z\n"
    )
    mapping_file = tmp_path / "map.json"
    mapping_file.write_text(json.dumps(MAPPING))
    summary = import_dataset(source, labels, ColumnMapping.load(mapping_file), tmp_path / "out")
    assert (summary.rows, summary.accepted, summary.rejected, summary.labels) == (4, 2, 2, 1)
    table = read_transactions(tmp_path / "out").to_pylist()
    assert [r["transaction_id"] for r in table] == ["t1", "t2"]
    assert str(table[0]["amount"]) == "12.5000" and table[0]["device_id"] is None
    assert table[1]["merchant_lat"] is None
    assert read_labels(tmp_path / "out")["transaction_id"].to_pylist() == ["t2"]
    rejects = summary.rejects_file.read_text()
    pan_row, amount_row = (json.loads(line) for line in rejects.splitlines())
    assert pan_row["row"] == 3 and "card number" in pan_row["reasons"]["card_id"]
    assert amount_row["row"] == 4 and set(amount_row["reasons"]) == {"amount"}
    assert "4111111111111111" not in rejects


def test_constants_fill_missing_fields_and_bad_mappings_are_refused(tmp_path):
    mapping = {**MAPPING, "constants": {"currency": "USD"}}
    mapping["columns"] = {k: v for k, v in MAPPING["columns"].items() if k != "currency"}
    (tmp_path / "m.json").write_text(json.dumps(mapping))
    assert ColumnMapping.load(tmp_path / "m.json").constants == {"currency": "USD"}
    del mapping["constants"]
    (tmp_path / "m.json").write_text(json.dumps(mapping))
    with pytest.raises(MappingError, match="no column or constant for currency"):
        ColumnMapping.load(tmp_path / "m.json")
    (tmp_path / "m.yaml").write_text("columns:\n  colour: x\n")
    with pytest.raises(MappingError, match="'colour' is not a transaction field"):
        ColumnMapping.load(tmp_path / "m.yaml")
