"""`securebank data import | slice` as a user meets them, on a bank-shaped CSV.

The whole flow runs in a real subprocess; failures run the same entry point in-process (faster).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from securebank.cli.app import main
from tests.cli.test_cli import securebank

TRANSACTIONS = (
    "TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT\n"
    "1,2026-05-01 10:00:00,c1,t1,85.64999999999999\n"
    "2,2026-05-01 23:30:00,c1,t2,4111111111111111\n"
    "3,2026-05-02 09:00:00,c2,t1,0.30000000000000004\n"
    "4,2026-05-03 09:00:00,c2,t3,12.5\n"
)
LABELS = "TRANSACTION_ID,TX_FRAUD\n1,1\n2,1\n"
MAPPING = (
    "columns: {transaction_id: TRANSACTION_ID, event_time: TX_DATETIME, card_id: CUSTOMER_ID,\n"
    "          merchant_id: TERMINAL_ID, amount: TX_AMOUNT}\n"
    "constants: {mcc: 5999}\n"
    "label_columns: {transaction_id: TRANSACTION_ID, is_fraud: TX_FRAUD}\n"
)


@pytest.fixture
def bank(tmp_path):
    (tmp_path / "tx.csv").write_text(TRANSACTIONS)
    (tmp_path / "labels.csv").write_text(LABELS)
    (tmp_path / "map.yaml").write_text(MAPPING)
    return tmp_path


def one_error_line(result) -> str:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@pytest.fixture
def in_process(bank, monkeypatch, capsys):
    """Run the CLI's entry point in `bank`; return its exit code and what it printed."""
    monkeypatch.chdir(bank)
    monkeypatch.setenv("COLUMNS", "200")
    from securebank.cli import console as cli_console  # made at import: COLUMNS may come late

    monkeypatch.setattr(cli_console.console, "width", 200)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        code = main(list(args))
        printed = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, printed.out, printed.err)

    return run


def test_import_then_slice_a_bank_file(bank):
    imported = securebank(
        "data", "import", "--transactions", "tx.csv", "--labels", "labels.csv", "--map",
        "map.yaml", "--out", "ds", "--timezone", "Europe/Paris", "--currency", "EUR",
        "--label-delay-days", "7", cwd=bank,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    out = imported.stdout
    for measure, value in (("accepted", 3), ("rejected", 1), ("amounts_rounded", 2)):
        assert any(
            measure in line and line.rstrip(" │").endswith(str(value)) for line in out.splitlines()
        )
    assert "amount exceeds the" in out and "its transaction (row N) was refused" in out
    rejects = [
        json.loads(line) for line in (bank / "ds" / "rejects.jsonl").read_text().splitlines()
    ]
    assert [(r["file"], r["row"]) for r in rejects] == [("transactions", 2), ("labels", 2)]
    manifest = json.loads((bank / "ds" / "manifest.json").read_text())
    assert manifest["issuer"]["currency"] == "EUR" and manifest["issuer"]["country"] == "US"

    sliced = securebank(
        "data", "slice", "--data", "ds", "--from", "2026-05-01T12:00:00+02:00", "--to",
        "2026-05-03", "--out", "cut", cwd=bank,
    )  # fmt: skip
    assert sliced.returncode == 0, sliced.stderr
    assert "1 transactions over 1 days and 0 labels" in sliced.stdout


def test_an_import_where_every_row_fails_prints_one_error_line(bank, in_process):
    # naive timestamps and no --timezone: every row is refused, and the user is told why
    args = ["data", "import", "--transactions", "tx.csv", "--map", "map.yaml", "--out", "ds"]
    line = one_error_line(in_process(*args))
    assert "none of the 4 rows was accepted" in line and "--timezone" in line
    assert len((bank / "ds" / "rejects.jsonl").read_text().splitlines()) == 4
    assert not (bank / "ds" / "transactions").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("import", "--timezone", "Mars/Olympus"),
        ("import", "--amounts", "maybe"),
        ("import", "--currency", "XYZ"),
        ("import", "--country", "ZZ"),
        ("import", "--time-format", "%d/%m/%Y", "--timezone", "UTC"),  # every row fails
        ("slice", "--from", "2026-05-03", "--to", "2026-05-01"),
        ("slice", "--from", "yesterday", "--to", "2026-05-01"),
    ],
)
def test_bad_arguments_get_one_error_line(in_process, args):
    command, *extra = args
    if command == "import":
        base = ["--transactions", "tx.csv", "--map", "map.yaml", "--out", "ds"]
    else:
        base = ["--data", "ds", "--out", "cut"]
    one_error_line(in_process("data", command, *base, *extra))
