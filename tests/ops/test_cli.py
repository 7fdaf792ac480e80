"""The operations commands as a user types them (in process, against the local AWS)."""

from __future__ import annotations

import json

import pytest

from securebank.cli.app import main
from securebank.local import stack as local_stack
from securebank.settings import get_settings
from tests.ops.helpers import alert_json, put_decision


@pytest.fixture
def cli(aws, moto_endpoint, local_aws, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    for name, url in local_aws.environment().items():  # the local stack, per service
        monkeypatch.setenv(name, url)
    monkeypatch.setenv("SECUREBANK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SECUREBANK_PREFIX", aws.names.prefix)
    monkeypatch.setenv("SECUREBANK_ENVIRONMENT", aws.names.environment)
    monkeypatch.setenv("COLUMNS", "200")
    from securebank.cli import console as cli_console  # made at import: COLUMNS may come late

    monkeypatch.setattr(cli_console.console, "width", 200)
    # The `aws` fixture provisioned these resources; provisioning again per command would list
    # every stream of the session's shared moto, which pages past 100 names.
    monkeypatch.setattr("securebank.cli.context.local_stack.provision", lambda aws, names: [])
    get_settings.cache_clear()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    yield run
    get_settings.cache_clear()


BAD_REQUESTS = [
    (("cases", "list", "--status", "lost"), "--status takes"),
    (("cases", "resolve", "nope", "--outcome", "fraud"), "no case nope"),
    (("cases", "assign", "a/b", "--to", "x"), "not a case id"),
    (("outcomes", "import", "missing.csv"), "cannot read"),
    (("outcomes", "import", "x.csv", "--source", "rumour"), "--source takes"),
    (("monitor", "performance", "--by", "colour"), "--by takes"),
    (("monitor", "performance", "--as-of", "soon"), "not an ISO time"),
    (("labels", "show", "t-0"), "no label for t-0"),
    (("monitor", "compare", "--challenger", "99"), "99"),
]


def test_bad_requests_get_one_error_line(cli):
    for args, message in BAD_REQUESTS:
        code, _, err = cli(*args)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code != 0 and len(lines) == 1 and lines[0].startswith("error: "), (args, err)
        assert message in lines[0], (args, lines)


def test_alerts_to_cases_to_labels_to_merchant_state_to_performance(aws, cli, tmp_path):
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=aws.names.alerts_queue)["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=alert_json(f"t-{i}", merchant_id="m-9"))
    db = aws.client("dynamodb")
    for i in range(3):
        put_decision(db, aws.names.decisions_table, f"t-{i}", "m-9", "2026-09-01T10:00:00+00:00")

    code, out, _ = cli("cases", "ingest", "--idle-exit", "0.5")
    assert code == 0 and "3 alerts → 3 cases created" in out
    code, out, _ = cli("cases", "list", "--json")
    # Same creation time: DynamoDB leaves the order of equal index keys open.
    assert sorted(c["case_id"] for c in json.loads(out)) == ["t-0", "t-1", "t-2"]
    assert cli("cases", "assign", "t-0", "--to", "bob", "--as", "lead")[0] == 0
    code, out, _ = cli("cases", "resolve", "t-0", "--outcome", "legit", "--as", "bob")
    assert code == 0 and "resolved: legit (label recorded)" in out
    code, out, _ = cli("cases", "show", "t-0")
    assert "assigned" in out and "bob" in out and "lead" in out

    chargebacks = tmp_path / "cb.csv"
    chargebacks.write_text(
        "transaction_id,reported_at\nt-0,2026-09-20T00:00:00Z\nt-1,2026-09-21\nbad,never\n"
    )
    code, out, _ = cli("outcomes", "import", str(chargebacks))
    assert code == 0 and "3 rows: 2 accepted, 1 refused" in out
    assert "1 changed an earlier label" in out and "row 3: reported_at" in out
    code, out, _ = cli("labels", "show", "t-0")
    assert "fraud since 2026-09-20" in out and "analyst" in out and "chargeback" in out

    code, out, _ = cli("labels", "follow", "--idle-exit", "0.5")
    # The stream (moto) reads every change: the analyst's legit and two chargebacks; the table
    # scan (dynalite, the default) reads the newest of each label: t-0's chargeback and t-1's.
    changes = 3 if local_stack.dynamodb_server() == "moto" else 2
    assert code == 0 and f"{changes} label changes read" in out
    code, out, _ = cli("labels", "merchant", "m-9")
    assert "2 fraud labels" in out

    code, out, _ = cli("monitor", "performance", "--json")
    assert code == 0 and json.loads(out) == []  # no decisions in the lake yet


def test_an_import_whose_label_keeps_changing_is_one_error_line(cli, tmp_path, monkeypatch):
    from securebank.labels.store import LabelConflict, LabelStore

    def keeps_changing(self, event, *args, **kwargs):
        raise LabelConflict(f"label of {event.transaction_id} keeps changing; try again")

    monkeypatch.setattr(LabelStore, "record", keeps_changing)
    chargebacks = tmp_path / "cb.csv"
    chargebacks.write_text("transaction_id,reported_at\nt-0,2026-09-20T00:00:00Z\n")
    code, out, err = cli("outcomes", "import", str(chargebacks))
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and len(lines) == 1 and "Traceback" not in out + err
    assert lines[0].startswith("error: label of t-0 keeps changing") and "again" in lines[0]
