"""Bring your own data: mapping, validation, rejects with reasons and no values, bank files."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from securebank.contract import parse_transaction
from securebank.data.dataset import read_labels, read_transactions
from securebank.data.importer import (
    ColumnMapping,
    ImportFailed,
    ImportOptions,
    MappingError,
    import_dataset,
    normalise_amount,
)

NOW = datetime(2026, 11, 1, tzinfo=UTC)
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


def rejects_of(summary):
    return [json.loads(line) for line in summary.rejects_file.read_text().splitlines()]


def test_import_keeps_valid_rows_and_explains_rejects_without_values(tmp_path):
    source = tmp_path / "tx.csv"
    source.write_text(HEADER + GOOD + GOOD2 + BAD + BAD2)
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "txn,fraud,when\nt2,true,2026-05-09T00:00:00Z\nt9,true,2026-05-09T00:00:00Z\n"
    )
    mapping_file = tmp_path / "map.json"
    mapping_file.write_text(json.dumps(MAPPING))
    summary = import_dataset(
        source, labels, ColumnMapping.load(mapping_file), tmp_path / "out", ImportOptions(now=NOW)
    )
    assert (summary.rows, summary.accepted, summary.rejected, summary.labels) == (4, 2, 2, 1)
    table = read_transactions(tmp_path / "out").to_pylist()
    assert [r["transaction_id"] for r in table] == ["t1", "t2"]
    assert str(table[0]["amount"]) == "12.5000" and table[0]["device_id"] is None
    assert table[1]["merchant_lat"] is None
    assert read_labels(tmp_path / "out")["transaction_id"].to_pylist() == ["t2"]
    pan_row, amount_row, orphan = rejects_of(summary)
    assert pan_row["row"] == 3 and "card number" in pan_row["reasons"]["card_id"]
    assert amount_row["row"] == 4 and set(amount_row["reasons"]) == {"amount"}
    assert orphan == {
        "file": "labels",
        "row": 2,
        "reasons": {"transaction_id": "no transaction with this id in the transactions file"},
    }
    assert summary.labels_orphaned == 1 and summary.labels_rejected == 1
    assert "4111111111111111" not in summary.rejects_file.read_text()


def test_mapping_constants_may_be_numbers_and_bad_mappings_are_refused(tmp_path):
    mapping = {**MAPPING, "constants": {"currency": "USD"}}
    mapping["columns"] = {k: v for k, v in MAPPING["columns"].items() if k != "currency"}
    (tmp_path / "m.json").write_text(json.dumps(mapping))
    assert ColumnMapping.load(tmp_path / "m.json").constants == {"currency": "USD"}
    (tmp_path / "n.json").write_text(json.dumps({"columns": {}, "constants": {"mcc": 5999}}))
    with pytest.raises(MappingError, match="no column or constant for amount, card_id"):
        ColumnMapping.load(tmp_path / "n.json")
    (tmp_path / "m.yaml").write_text(
        "columns: {transaction_id: a, event_time: b, card_id: c, merchant_id: d, amount: e}\n"
        "constants: {mcc: 5999, merchant_lat: 40.5, merchant_lon: -3, device_id: null}\n"
    )
    assert ColumnMapping.load(tmp_path / "m.yaml").constants == {
        "mcc": "5999",
        "merchant_lat": "40.5",
        "merchant_lon": "-3",
        "device_id": None,
    }
    (tmp_path / "z.yaml").write_text(
        "columns: {transaction_id: a, event_time: b, card_id: c, merchant_id: d, amount: e}\n"
        "constants: {mcc: 0742}\n"  # YAML 1.1 would read an octal 482
    )
    assert ColumnMapping.load(tmp_path / "z.yaml").constants == {"mcc": "0742"}
    (tmp_path / "c.yaml").write_text("columns: {amount: a}\nconstants: {amount: 5}\n")
    with pytest.raises(MappingError, match="'amount' has both a column and a constant"):
        ColumnMapping.load(tmp_path / "c.yaml")
    (tmp_path / "x.yaml").write_text("columns:\n  colour: x\n")
    with pytest.raises(MappingError, match="'colour' is not a transaction field"):
        ColumnMapping.load(tmp_path / "x.yaml")
    (tmp_path / "broken.yaml").write_text("columns: [unclosed\n")
    with pytest.raises(MappingError, match="not valid YAML"):
        ColumnMapping.load(tmp_path / "broken.yaml")


def test_european_amounts_and_epoch_times(tmp_path):
    assert normalise_amount("1.234,56", "EUR", "round", decimal_comma=True) == ("1234.56", False)
    assert normalise_amount("85,64999999999999", "EUR", "round", decimal_comma=True) == (
        Decimal("85.65"),
        True,
    )
    (tmp_path / "tx.csv").write_text(
        "id;s;ms;card;shop;amount\n"
        "x1;1777629600;1777629600123;c;s;1.234,50\n"
        "x2;2026-05-01 10:00;oops;c;s;2,5\n"
    )
    columns = {"transaction_id": "id", "card_id": "card", "merchant_id": "shop", "amount": "amount"}
    expected = {"s": datetime(2026, 5, 1, 10, 0, tzinfo=UTC)}
    expected["ms"] = expected["s"] + timedelta(milliseconds=123)
    for unit, column in (("epoch-s", "s"), ("epoch-ms", "ms")):
        mapping = ColumnMapping(columns=columns | {"event_time": column})
        options = ImportOptions(
            time_format=unit, decimal_comma=True, delimiter=";", currency="EUR", now=NOW
        )
        out = tmp_path / unit
        summary = import_dataset(tmp_path / "tx.csv", None, mapping, out, options)
        assert summary.accepted == 1
        assert rejects_of(summary)[0]["reasons"] == {"event_time": f"not a time in {unit}"}
        (row,) = read_transactions(out).to_pylist()
        assert row["event_time"] == expected[column]
    # an ISO import meeting a number says so instead of guessing seconds or milliseconds
    mapping = ColumnMapping(columns=columns | {"event_time": "s"})
    options = ImportOptions(decimal_comma=True, delimiter=";", currency="EUR", now=NOW)
    with pytest.raises(ImportFailed, match="a number, not a time"):
        import_dataset(tmp_path / "tx.csv", None, mapping, tmp_path / "iso", options)
    assert read_transactions(tmp_path / "epoch-s")["amount"].to_pylist() == [Decimal("1234.5")]


@pytest.mark.parametrize(
    ("text", "currency", "policy", "expected", "rounded"),
    [
        ("85.64999999999999", "USD", "round", Decimal("85.65"), True),
        ("0.30000000000000004", "EUR", "round", Decimal("0.30"), True),
        ("1500.0000000000002", "JPY", "round", Decimal("1500"), True),
        ("12.50", "USD", "round", "12.50", False),
        ("12.345", "USD", "round", "12.345", False),  # a genuine third decimal: refused later
        ("12.345", "USD", "round-all", Decimal("12.34"), True),  # half to even
        ("85.64999999999999", "USD", "reject", "85.64999999999999", False),
        (85.64999999999999, "USD", "round", Decimal("85.65"), True),  # a Parquet double
        ("abc", "USD", "round", "abc", False),
        ("1e30", "USD", "round", "1e30", False),  # too long to round: refused by the contract
        ("12.5000000", "USD", "round", "12.5000000", False),
    ],
)
def test_float_text_amounts_round_to_the_currency_exponent(
    text, currency, policy, expected, rounded
):
    assert normalise_amount(text, currency, policy) == (expected, rounded)


def test_the_card_number_check_never_runs_on_amounts():
    # A Luhn-valid 16-digit number written as an amount is too large, not a card number; the
    # same digits as float text have too many decimals.
    for amount, reason in (("4111111111111111", "exceeds"), ("0.4111111111111111", "decimal")):
        rejection = parse_transaction(
            {
                "transaction_id": "t1",
                "event_time": NOW,
                "card_id": "tok",
                "merchant_id": "m",
                "amount": amount,
                "currency": "USD",
            },
            now=NOW,
        )
        assert set(rejection.as_dict()) == {"amount"}
        assert reason in rejection.as_dict()["amount"]


def bank_file(tmp_path, rows: int):
    """A bank-shaped export: five columns, naive local times, float-text amounts, no currency."""
    lines = ["TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT"]
    start = datetime(2026, 3, 27, 22, 0)  # Paris changes to summer time on 2026-03-29
    for i in range(rows):
        at = start + timedelta(minutes=37 * i)
        amount = f"{i % 50}.64999999999999" if i % 3 else f"{i % 50 + 1}.5"
        lines.append(f"{i},{at:%Y-%m-%d %H:%M:%S},{i % 7},{i % 11},{amount}")
    (tmp_path / "tx.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "tx.csv"


BANK_MAPPING = (
    "columns:\n  transaction_id: TRANSACTION_ID\n  event_time: TX_DATETIME\n"
    "  card_id: CUSTOMER_ID\n  customer_id: CUSTOMER_ID\n  merchant_id: TERMINAL_ID\n"
    "  amount: TX_AMOUNT\n"
    "constants:\n  mcc: 5999\n"
    "label_columns: {transaction_id: TRANSACTION_ID, is_fraud: TX_FRAUD}\n"
)


def test_bank_shaped_file_imports_across_chunks_with_nothing_lost(tmp_path):
    rows = 400
    source = bank_file(tmp_path, rows)
    with source.open("a") as handle:
        handle.write("400,2026-04-15 10:00:00,1,2,4111111111111111\n")  # refused: over the limit
        handle.write("401,2026-04-15 10:00:00,1\n")  # malformed: three fields
        handle.write("5,2026-03-28 01:05:00,5,5,9.99\n")  # repeats id 5 (same day)
        handle.write("402,not a time,1,2,3.00\n")
        handle.write("10,2026-04-20 10:00:00,1,2,7.00\n")  # repeats id 10, three weeks later
    (tmp_path / "labels.csv").write_text(
        "TRANSACTION_ID,TX_FRAUD\n10,1\n11,0\n400,1\n999,1\n12,maybe\n"
    )
    (tmp_path / "map.yaml").write_text(BANK_MAPPING)
    options = ImportOptions(
        timezone=ZoneInfo("Europe/Paris"),
        currency="EUR",
        country="FR",
        label_delay=timedelta(days=7),
        block_bytes=2048,  # many blocks: rows and labels must meet across block boundaries
        now=NOW,
    )
    progress: list[int] = []
    summary = import_dataset(
        source,
        tmp_path / "labels.csv",
        ColumnMapping.load(tmp_path / "map.yaml"),
        tmp_path / "out",
        options,
        on_progress=progress.append,
    )
    assert len(progress) > 5 and progress[-1] == rows + 4  # one call per block
    assert summary.rows == rows + 4 and summary.malformed == 1
    assert (summary.accepted, summary.rejected, summary.duplicates) == (rows, 2, 2)
    assert summary.amounts_rounded == sum(1 for i in range(rows) if i % 3)
    assert summary.times_localised == rows + 3
    # nothing vanishes: every refused record is a line of the rejects file, counted by reason
    rejects = rejects_of(summary)
    assert len(rejects) == sum(summary.reasons.values()) == 2 + 1 + 2 + 3
    by_file = {(r["file"], r.get("row"), r.get("line")): r["reasons"] for r in rejects}
    assert "exceeds" in by_file[("transactions", rows + 1, None)]["amount"]
    assert by_file[("transactions", None, rows + 3)] == {
        "record": "3 fields where the header has 5"
    }
    assert "row 6" in by_file[("transactions", rows + 2, None)]["transaction_id"]
    assert "row 11" in by_file[("transactions", rows + 4, None)]["transaction_id"]
    repeats = "transactions: transaction_id: repeats the transaction id of row N; the first is kept"
    assert summary.reasons[repeats] == 2  # counted by reason, not by row: a bounded summary
    assert set(by_file[("transactions", rows + 3, None)]) == {"event_time"}
    assert by_file[("labels", 3, None)] == {
        "transaction_id": f"its transaction (row {rows + 1}) was refused"
    }
    assert "no transaction" in by_file[("labels", 4, None)]["transaction_id"]
    assert set(by_file[("labels", 5, None)]) == {"is_fraud"}
    assert (summary.labels_of_refused_rows, summary.labels_orphaned) == (1, 1)
    assert (summary.labels_read, summary.labels_genuine) == (5, 1)
    assert (summary.labels, summary.labels_rejected) == (1, 3)

    table = read_transactions(tmp_path / "out")
    assert table.num_rows == rows
    first = table.slice(0, 2).to_pylist()
    # 22:00 in Paris (UTC+1 until 29 March) is 21:00 UTC; the repeated id 5 kept its first row
    assert first[0]["event_time"] == datetime(2026, 3, 27, 21, 0, tzinfo=UTC)
    assert first[0]["currency"] == "EUR" and first[0]["mcc"] == "5999"
    assert first[0]["status"] == "approved" and first[0]["channel"] is None
    assert first[0]["merchant_country"] is None and first[0]["customer_id"] == "0"
    times = table["event_time"].to_pylist()
    assert times == sorted(times)
    by_id = {r["transaction_id"]: r for r in table.to_pylist()}
    assert by_id["1"]["amount"] == Decimal("1.6500")  # 1.64999999999999 → 1.65
    assert by_id["3"]["amount"] == Decimal("4.5000")
    assert by_id["5"]["amount"] == Decimal("5.6500")  # the first row with id 5, not the repeat
    # after the switch to summer time, Paris is UTC+2
    summer = datetime(2026, 3, 27, 22, 0) + timedelta(minutes=37 * 399)
    assert by_id["399"]["event_time"] == summer.replace(tzinfo=UTC) - timedelta(hours=2)
    labels = read_labels(tmp_path / "out").to_pylist()
    assert [(r["transaction_id"], r["is_fraud"]) for r in labels] == [("10", True)]
    assert labels[0]["reported_at"] == by_id["10"]["event_time"] + timedelta(days=7)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["issuer"] == {"country": "FR", "currency": "EUR"}
    assert manifest["accepted"] == rows and manifest["timezone_of_naive_times"] == "Europe/Paris"
    assert not (tmp_path / "out" / ".import-staging").exists()


def test_an_import_where_every_row_fails_raises_one_message_and_keeps_the_old_dataset(tmp_path):
    source = bank_file(tmp_path, 30)
    (tmp_path / "map.yaml").write_text(BANK_MAPPING)
    mapping = ColumnMapping.load(tmp_path / "map.yaml")
    out = tmp_path / "out"
    zoned = ImportOptions(timezone=ZoneInfo("UTC"), now=NOW)
    import_dataset(source, None, mapping, out, zoned)
    before = read_transactions(out)
    with pytest.raises(ImportFailed) as failure:
        import_dataset(source, None, mapping, out, ImportOptions(now=NOW))  # naive times, no zone
    message = str(failure.value)
    assert message.startswith("none of the 30 rows was accepted; most common reason: event_time:")
    assert "--timezone" in message and "\n" not in message
    assert len(rejects_of(failure.value.summary)) == 30
    assert read_transactions(out).equals(before)
    assert not (out / ".import-staging").exists()


def test_amounts_reject_keeps_todays_strictness(tmp_path):
    source = bank_file(tmp_path, 9)
    (tmp_path / "map.yaml").write_text(BANK_MAPPING)
    options = ImportOptions(timezone=ZoneInfo("UTC"), amounts="reject", now=NOW)
    summary = import_dataset(
        source, None, ColumnMapping.load(tmp_path / "map.yaml"), tmp_path / "out", options
    )
    assert (summary.accepted, summary.rejected, summary.amounts_rounded) == (3, 6, 0)
    assert all("decimal places" in r["reasons"]["amount"] for r in rejects_of(summary))


def test_parquet_sources_with_typed_columns_and_labels_with_reported_at(tmp_path):
    transactions = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "ts": pa.array(
                [datetime(2026, 5, 1, 9), datetime(2026, 5, 1, 10), datetime(2026, 5, 2, 1)],
                pa.timestamp("us"),
            ),
            "card": ["a", "b", "a"],
            "terminal": pa.array([17, 17, 18], pa.int32()),
            "mcc": pa.array([742, 5411, None], pa.int64()),
            "amount": pa.array([85.64999999999999, 10.0, 3.3000000000000003], pa.float64()),
        }
    )
    pq.write_table(transactions, tmp_path / "tx.parquet")
    labels = pa.table(
        {"id": [2, 3], "fraud": [1, 1], "at": ["2026-05-03 00:00:00", "2026-05-01 00:00:00"]}
    )
    pq.write_table(labels, tmp_path / "labels.parquet")
    mapping = ColumnMapping(
        columns={
            "transaction_id": "id",
            "event_time": "ts",
            "card_id": "card",
            "merchant_id": "terminal",
            "mcc": "mcc",
            "amount": "amount",
        },
        label_columns={"transaction_id": "id", "is_fraud": "fraud", "reported_at": "at"},
    )
    summary = import_dataset(
        tmp_path / "tx.parquet",
        tmp_path / "labels.parquet",
        mapping,
        tmp_path / "out",
        ImportOptions(timezone=ZoneInfo("UTC"), now=NOW),
    )
    assert (summary.accepted, summary.amounts_rounded, summary.days) == (3, 2, 2)
    rows = read_transactions(tmp_path / "out").to_pylist()
    assert [(r["transaction_id"], r["merchant_id"], r["mcc"]) for r in rows] == [
        ("1", "17", "0742"),
        ("2", "17", "5411"),
        ("3", "18", None),
    ]
    assert [r["amount"] for r in rows] == [Decimal("85.65"), Decimal("10"), Decimal("3.3")]
    # label 3 says it was reported before its transaction happened: refused, not kept
    assert read_labels(tmp_path / "out")["transaction_id"].to_pylist() == ["2"]
    (early,) = rejects_of(summary)
    assert early["file"] == "labels" and "reported before" in early["reasons"]["transaction_id"]


def test_worker_processes_give_the_same_dataset_and_rejects(tmp_path):
    source = bank_file(tmp_path, 300)
    with source.open("a") as handle:
        handle.write("300,2026-04-15 10:00:00,1,2,4111111111111111\n")
        handle.write("7,2026-03-28 02:19:00,5,5,9.99\n")
    (tmp_path / "labels.csv").write_text("TRANSACTION_ID,TX_FRAUD\n10,1\n300,1\n999,1\n")
    (tmp_path / "map.yaml").write_text(BANK_MAPPING)
    results = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        options = ImportOptions(
            timezone=ZoneInfo("UTC"),
            label_delay=timedelta(days=7),
            block_bytes=1024,
            workers=workers,
            now=NOW,
        )
        summary = import_dataset(
            source, tmp_path / "labels.csv", ColumnMapping.load(tmp_path / "map.yaml"), out, options
        )
        summary.rejects_file = summary.rejects_file.read_text()
        results.append((summary, read_transactions(out), read_labels(out)))
    (one, one_tx, one_labels), (two, two_tx, two_labels) = results
    assert one == two and one.accepted == 300 and one.duplicates == 1
    assert one_tx.equals(two_tx) and one_labels.equals(two_labels)


def test_semicolon_separated_latin1_exports(tmp_path):
    (tmp_path / "tx.csv").write_bytes(
        "id;quand;carte;commerçant;montant\n"
        "a1;2026-05-01 10:00:00;c1;café-1;12.5\n"
        "a2;2026-05-01 11:00:00;c1;boulangerie;3.3000000000000003\n".encode("latin1")
    )
    mapping = ColumnMapping(
        columns={
            "transaction_id": "id",
            "event_time": "quand",
            "card_id": "carte",
            "merchant_id": "commerçant",
            "amount": "montant",
        }
    )
    options = ImportOptions(
        timezone=ZoneInfo("UTC"), delimiter=";", encoding="latin1", currency="EUR", now=NOW
    )
    summary = import_dataset(tmp_path / "tx.csv", None, mapping, tmp_path / "out", options)
    assert (summary.accepted, summary.amounts_rounded) == (1, 1)
    # "café-1" is not a token (identifiers are ASCII): refused with a reason, not lost
    (refused,) = rejects_of(summary)
    assert refused["row"] == 1 and set(refused["reasons"]) == {"merchant_id"}
    assert read_transactions(tmp_path / "out")["amount"].to_pylist() == [Decimal("3.3")]


def test_labels_may_come_from_the_transactions_file_itself(tmp_path):
    lines = ["TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD"] + [
        f"{i},2026-05-0{1 + i % 3} 10:00:{i % 60:02d},c{i % 4},t{i % 5},{i + 1}.5,{int(i % 7 == 0)}"
        for i in range(50)
    ]
    (tmp_path / "bank.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "map.yaml").write_text(BANK_MAPPING)
    options = ImportOptions(timezone=ZoneInfo("UTC"), label_delay=timedelta(days=7), now=NOW)
    summary = import_dataset(
        tmp_path / "bank.csv",
        tmp_path / "bank.csv",
        ColumnMapping.load(tmp_path / "map.yaml"),
        tmp_path / "out",
        options,
    )
    frauds = [i for i in range(50) if i % 7 == 0]
    assert (summary.accepted, summary.labels) == (50, len(frauds))
    assert summary.labels_genuine == 50 - len(frauds)
    assert summary.rejects_file is None
    labels = read_labels(tmp_path / "out")
    assert sorted(labels["transaction_id"].to_pylist(), key=int) == [str(i) for i in frauds]


def test_an_import_killed_midway_leaves_the_earlier_dataset_and_the_next_one_works(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    source = bank_file(tmp_path, 200)
    (tmp_path / "map.yaml").write_text(BANK_MAPPING)
    mapping = ColumnMapping.load(tmp_path / "map.yaml")
    out = tmp_path / "out"
    options = ImportOptions(timezone=ZoneInfo("UTC"), block_bytes=1024, now=NOW)
    import_dataset(source, None, mapping, out, options)
    before = read_transactions(out)
    marker = tmp_path / "first-block-spilled"
    script = f"""
import time
from datetime import datetime, UTC
from pathlib import Path
from zoneinfo import ZoneInfo
from securebank.data.importer import ColumnMapping, ImportOptions, import_dataset

def pause(row):  # after the first block is spilled: wait to be killed
    Path({str(marker)!r}).write_text(str(row))
    time.sleep(120)

import_dataset(
    Path({str(source)!r}), None, ColumnMapping.load(Path({str(tmp_path / "map.yaml")!r})),
    Path({str(out)!r}),
    ImportOptions(
        timezone=ZoneInfo("Europe/Paris"), block_bytes=1024, now=datetime(2026, 11, 1, tzinfo=UTC)
    ),
    on_progress=pause,
)
"""
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        for _ in range(600):  # a bounded wait for the child to reach the marker, not a timing
            if marker.exists() or child.poll() is not None:
                break
            time.sleep(0.1)
        assert marker.exists(), "the child never spilled a block"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert (out / ".import-staging").exists()  # killed mid-import
    assert read_transactions(out).equals(before)  # the earlier dataset is untouched
    summary = import_dataset(source, None, mapping, out, options)
    assert summary.accepted == 200 and not (out / ".import-staging").exists()


def test_a_swap_killed_midway_is_undone_by_the_next_import(tmp_path):
    source = bank_file(tmp_path, 20)
    (tmp_path / "map.yaml").write_text(BANK_MAPPING)
    mapping = ColumnMapping.load(tmp_path / "map.yaml")
    out = tmp_path / "out"
    options = ImportOptions(timezone=ZoneInfo("UTC"), now=NOW)
    import_dataset(source, None, mapping, out, options)
    before = read_transactions(out)
    # as if killed after moving the old transactions aside, before moving the new ones in
    aside = out / ".import-staging" / "previous"
    aside.mkdir(parents=True)
    (out / "transactions").rename(aside / "transactions")
    broken = tmp_path / "broken.csv"
    broken.write_text("TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT\n1,x,1,1,1\n")
    with pytest.raises(ImportFailed):  # a failing import must not lose the restored dataset
        import_dataset(broken, None, mapping, out, options)
    assert read_transactions(out).equals(before)
