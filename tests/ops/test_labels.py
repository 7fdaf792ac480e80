"""Outcomes become labels: the override rule, the labels table, files, and the labels stream."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from securebank.cases.model import case_from_alert
from securebank.cases.store import CaseStore
from securebank.labels.follow import LabelStreamFollower, LabelTableFollower
from securebank.labels.model import LabelEvent, LabelSource, apply_event
from securebank.labels.outcomes import (
    OutcomeReport,
    parse_outcome_rows,
    read_outcome_file,
    record_outcomes,
    resolve_case,
)
from securebank.labels.store import (
    UPDATE_ATTEMPTS,
    DecisionLookup,
    LabelConflict,
    LabelLog,
    LabelStore,
    parse_time_ms,
)
from securebank.labels.stream import MerchantLabelState
from securebank.scorer.state_store import FeatureStateStore
from tests.ops.helpers import alert_json, labels_keep_changing, put_decision

A, C, R = LabelSource.ANALYST, LabelSource.CHARGEBACK, LabelSource.REPORT
DAY = 86_400_000


def ev(is_fraud: bool, at: int, source: LabelSource = A) -> LabelEvent:
    return LabelEvent("t-1", is_fraud, at, source, "x")


def fold(*events: LabelEvent):
    record = None
    for event in events:
        record = apply_event(record, event, "m-1", 0)
    return record


def test_a_later_chargeback_overrides_an_analyst_legit_and_history_is_kept():
    record = fold(ev(False, 10 * DAY), ev(True, 40 * DAY, C))
    assert (record.is_fraud, record.reported_at_ms, record.source) == (True, 40 * DAY, C)
    assert [e.source for e in record.history] == [A, C]


def test_an_analyst_cannot_override_a_chargeback_even_later():
    record = fold(ev(True, 40 * DAY, C), ev(False, 50 * DAY))
    assert (record.is_fraud, record.reported_at_ms) == (True, 40 * DAY)
    assert len(record.history) == 2


def test_a_confirmation_keeps_the_time_the_fraud_was_first_known():
    record = fold(ev(True, 10 * DAY), ev(True, 40 * DAY, C))
    assert (record.is_fraud, record.reported_at_ms, record.source) == (True, 10 * DAY, C)


def test_a_reversal_and_a_new_chargeback_restart_the_clock():
    record = fold(ev(True, 10 * DAY, C), ev(False, 20 * DAY, R), ev(True, 30 * DAY, C))
    assert (record.is_fraud, record.reported_at_ms) == (True, 30 * DAY)
    assert fold(ev(True, 10 * DAY, C), ev(False, 20 * DAY, R)).is_fraud is False


def test_the_same_event_twice_is_one_event():
    record = fold(ev(True, 10 * DAY))
    assert apply_event(record, ev(True, 10 * DAY)) is record


def test_outcome_rows_are_refused_one_by_one_with_reasons():
    rows = [
        {"transaction_id": "t-1", "reported_at": "2026-09-01T00:00:00"},
        {"transaction_id": "t-2", "reported_at": "2026-09-01T00:00:00Z", "is_fraud": "false"},
        {"transaction_id": "", "reported_at": "2026-09-01"},
        {"transaction_id": "t-3", "reported_at": "yesterday"},
        {"transaction_id": "t-4", "reported_at": "2026-09-01", "is_fraud": "perhaps"},
        {"transaction_id": "t-5", "reported_at": "2026-09-01", "source": "analyst"},
        "not an object",
    ]
    events, rejected = parse_outcome_rows(rows, by="file")
    assert [(e.transaction_id, e.is_fraud, e.source) for e in events] == [
        ("t-1", True, C),
        ("t-2", False, C),
    ]
    assert events[0].reported_at_ms == parse_time_ms("2026-09-01T00:00:00+00:00")
    assert [r["row"] for r in rejected] == [3, 4, 5, 6, 7]
    assert "reported_at" in rejected[1]["reason"] and "is_fraud" in rejected[2]["reason"]


def test_outcome_files_in_csv_and_json_lines(tmp_path):
    csv_file = tmp_path / "cb.csv"
    csv_file.write_text("transaction_id,reported_at\nt-1,2026-09-01\n")
    assert read_outcome_file(csv_file) == [{"transaction_id": "t-1", "reported_at": "2026-09-01"}]
    jsonl = tmp_path / "cb.jsonl"
    jsonl.write_text('{"transaction_id": "t-1", "reported_at": "2026-09-01"}\n{oops\n')
    rows = read_outcome_file(jsonl)
    events, rejected = parse_outcome_rows(rows, by="file")
    assert len(events) == 1 and rejected[0]["row"] == 2


def _stores(aws):
    db = aws.client("dynamodb")
    names = aws.names
    return (
        db,
        LabelStore(db, names.labels_table),
        DecisionLookup(db, names.decisions_table),
        LabelLog(aws.client("s3"), names.lake_bucket),
        MerchantLabelState(db, names.feature_table),
    )


def _follower(kind: str, aws, target, checkpoint):
    """Either local consumer: the table's stream (moto, AWS), or the scan by version (dynalite)."""
    names = aws.names
    if kind == "stream":
        streams = aws.client("dynamodbstreams")  # on moto: the stack's dynalite has no Streams
        return LabelStreamFollower(
            aws.client("dynamodb"), streams, names.labels_table, target, checkpoint
        )
    return LabelTableFollower(aws.client("dynamodb"), names.labels_table, target, checkpoint)


@pytest.fixture
def moto_aws(aws, moto_endpoint):
    """The same resources on moto's server, whose DynamoDB keeps Streams."""
    from securebank.aws import AwsClients
    from securebank.local import stack as local_stack

    clients = AwsClients(region="us-east-1", endpoint_url=moto_endpoint, local=True)
    local_stack.provision(clients, aws.names)
    clients.names = aws.names  # type: ignore[attr-defined]
    return clients


@pytest.mark.parametrize("kind", ["stream", "table"])
def test_labels_reach_the_merchant_state_through_the_stream_exactly_once(kind, request, tmp_path):
    aws = request.getfixturevalue("moto_aws" if kind == "stream" else "aws")
    db, labels, lookup, log, target = _stores(aws)
    names = aws.names
    put_decision(db, names.decisions_table, "t-1", "m-1", "2026-09-01T10:00:00+00:00")
    put_decision(db, names.decisions_table, "t-2", "m-1", "2026-09-02T10:00:00+00:00")
    events, _ = parse_outcome_rows(
        [
            {"transaction_id": "t-1", "reported_at": "2026-09-10T00:00:00Z"},
            {"transaction_id": "t-2", "reported_at": "2026-09-11T00:00:00Z"},
            {"transaction_id": "t-9", "reported_at": "2026-09-11T00:00:00Z"},
        ],
        by="file",
    )
    report = record_outcomes(events, labels, lookup, log, OutcomeReport())
    assert (report.recorded, report.unknown_transaction) == (3, 1)
    assert report.lake_key.startswith("labels/events/date=2026-09-10/")
    again = record_outcomes(events, labels, lookup, log, OutcomeReport())
    assert (again.recorded, again.unchanged) == (0, 3)

    follower = _follower(kind, aws, target, tmp_path / "ck.json")
    assert follower.poll_once() == 3
    state = target.state("m-1")
    t1 = parse_time_ms("2026-09-01T10:00:00Z")
    r1 = parse_time_ms("2026-09-10T00:00:00Z")
    assert (t1, r1) in state.frauds and len(state.frauds) == 2
    # The scorer's read path sums the labels partial into the merchant.
    with ThreadPoolExecutor(1) as pool:
        view = FeatureStateStore(db, names.feature_table, ["shard-0"], pool).load(
            "shard-0", [], ["m-1"]
        )
    assert sorted(view.merchants["m-1"].merged.frauds) == sorted(state.frauds)

    # A crash before the checkpoint: a new follower from the old checkpoint file re-reads the
    # same records, and applying them again changes nothing.
    (tmp_path / "ck.json").write_text("{}")
    replayed = _follower(kind, aws, target, tmp_path / "ck.json")
    assert replayed.poll_once() == 3
    assert replayed.stats.applied == 0 and replayed.stats.unchanged == 2
    assert target.state("m-1").frauds == state.frauds

    # A representment (not fraud after all) removes the label from the merchant.
    reversal, _ = parse_outcome_rows(
        [{"transaction_id": "t-2", "reported_at": "2026-09-20", "is_fraud": "false"}], by="file"
    )
    record_outcomes(reversal, labels, lookup, log, OutcomeReport())
    follower.poll_once()
    assert target.state("m-1").frauds == [(t1, r1)]


def test_resolving_a_case_records_the_analysts_label_once_even_when_repeated(aws):
    db, labels, _, log, _ = _stores(aws)
    cases = CaseStore(db, aws.names.cases_table)
    cases.create(case_from_alert(alert_json("t-1"), "2026-09-01T10:00:01Z"))
    now = parse_time_ms("2026-09-03T12:00:00Z")
    resolve_case(cases, labels, log, "t-1", "fraud", "confirmed", "alice", now)
    resolve_case(cases, labels, log, "t-1", "fraud", "confirmed", "alice", now + 5000)
    record = labels.get("t-1")
    assert (record.is_fraud, record.source, record.reported_at_ms) == (True, A, now)
    assert len(record.history) == 1 and record.merchant_id == "m-1"
    with pytest.raises(ValueError, match="already resolved"):
        resolve_case(cases, labels, log, "t-1", "legit", "", "bob", now)


def test_a_label_that_keeps_changing_is_a_conflict_to_retry_not_a_fault(aws):
    """Every write loses to a concurrent writer: the store gives up with LabelConflict (a
    CaseConflict: HTTP 409, "try again"), not a RuntimeError (HTTP 500); sent again once the
    other writer is done, the same event is recorded."""
    db, labels, _, _, _ = _stores(aws)
    rival = LabelStore(db, aws.names.labels_table)
    event = LabelEvent("t-1", True, parse_time_ms("2026-09-03T12:00:00Z"), C, "bank")
    refused = pytest.raises(LabelConflict, match="label of t-1 keeps changing; try again")
    with labels_keep_changing(labels, rival) as written, refused:
        labels.record(event, None)
    assert written == ["t-1"] * UPDATE_ATTEMPTS
    record = labels.get("t-1")
    assert record.version == UPDATE_ATTEMPTS and event not in record.history
    before, after = labels.record(event, None)
    assert before == record and event in after.history and after.version == UPDATE_ATTEMPTS + 1
