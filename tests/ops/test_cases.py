"""Cases: the state machine with its audit trail, and the store and alerts consumer on the
local AWS."""

from __future__ import annotations

import json
import threading

import pytest

from securebank.cases.alerts import AlertQueueConsumer, AlertReport
from securebank.cases.model import (
    CaseConflict,
    CaseError,
    CaseStatus,
    InvalidAlert,
    Outcome,
    assign,
    case_from_alert,
    resolve,
)
from securebank.cases.store import UPDATE_ATTEMPTS, CaseNotFound, CaseStore
from tests.ops.helpers import alert, alert_json

T0, T1, T2 = "2026-09-01T10:00:01Z", "2026-09-01T10:05:00Z", "2026-09-01T11:00:00Z"


def test_a_case_moves_open_assigned_resolved_and_audits_every_step():
    case = case_from_alert(alert_json("t-1"), T0)
    assert case.status is CaseStatus.OPEN and case.case_id == "t-1"
    assigned = assign(case, "alice", "lead", T1)
    resolved = resolve(assigned, "fraud", "card holder confirmed", "alice", T2)
    assert resolved.status is CaseStatus.RESOLVED and resolved.outcome is Outcome.FRAUD
    assert [a.what for a in resolved.audit] == ["opened", "assigned", "resolved"]
    step = resolved.audit[1]
    assert (step.who, step.when) == ("lead", T1)
    assert step.before == {"status": "open", "assignee": None}
    assert step.after == {"status": "assigned", "assignee": "alice"}
    last = resolved.audit[2]
    assert last.before == {"status": "assigned", "outcome": None, "note": ""}
    assert last.after["outcome"] == "fraud" and last.after["status"] == "resolved"


def test_transitions_that_make_no_sense_are_refused_with_a_reason():
    case = case_from_alert(alert_json("t-1"), T0)
    done = resolve(case, "legit", "", "bob", T1)
    assert done.assignee == "bob"  # resolving an open case takes it
    with pytest.raises(CaseError, match="already resolved"):
        resolve(done, "fraud", "", "bob", T2)
    with pytest.raises(CaseError, match="resolved"):
        assign(done, "alice", "lead", T2)
    with pytest.raises(CaseError, match="outcome must be one of"):
        resolve(case, "maybe", "", "bob", T1)
    with pytest.raises(CaseError, match="analyst"):
        resolve(case, "fraud", "", "<script>", T1)
    with pytest.raises(CaseError, match="already assigned"):
        assign(assign(case, "alice", "lead", T1), "alice", "lead", T2)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps(alert("t-1", action="approve")), "does not open a case"),
        (json.dumps({"transaction_id": "t"}), "lacks"),
        (json.dumps(alert("t/../x")), "not a valid id"),
        (json.dumps(alert("t-1", score="high")), "not a number"),
        (json.dumps(alert("t-1", score="nan")), "score is not a finite number"),
        (json.dumps(alert("t-1", score=float("nan"))), "score is not a finite number"),  # NaN
        (json.dumps(alert("t-1", score="-inf")), "score is not a finite number"),
        (json.dumps(alert("t-1", score=0.5))[:-1] + ', "score": 1e999}', "not a finite number"),
        (
            json.dumps(alert("t-1", feature_names=["a"], features=[float("inf")])),
            "features are not finite numbers",
        ),
        (
            json.dumps(alert("t-1", feature_names=["a", "b"], features=[1.0, "NaN"])),
            "features are not finite numbers",
        ),
    ],
)
def test_an_alert_that_cannot_be_a_case_says_why(body, reason):
    with pytest.raises(InvalidAlert, match=reason):
        case_from_alert(body, T0)


def test_the_features_snapshot_is_named_when_the_alert_carries_names():
    case = case_from_alert(alert("t-1", feature_names=["a", "b"], features=[1.5, None]), T0)
    assert case.features == {"a": 1.5, "b": None}


def test_store_creates_once_lists_by_status_and_updates_over_the_version_read(aws):
    store = CaseStore(aws.client("dynamodb"), aws.names.cases_table)
    first = case_from_alert(alert_json("t-1"), T0)
    assert store.create(first) is True
    assert store.create(first) is False
    store.create(case_from_alert(alert_json("t-2", action="decline"), T1))
    updated = store.update("t-1", lambda c: assign(c, "alice", "lead", T2))
    assert updated.version == 1 and store.get("t-1").assignee == "alice"
    assert [c.case_id for c in store.list((CaseStatus.OPEN,))] == ["t-2"]
    assert [c.case_id for c in store.list((CaseStatus.ASSIGNED,))] == ["t-1"]
    with pytest.raises(CaseNotFound):
        store.get("nope")


def test_two_analysts_resolving_at_once_make_one_resolution(aws):
    store = CaseStore(aws.client("dynamodb"), aws.names.cases_table)
    store.create(case_from_alert(alert_json("t-1"), T0))
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def work(name: str) -> None:
        barrier.wait()
        try:
            store.update("t-1", lambda c: resolve(c, "fraud", name, name, T1))
            outcomes.append("ok")
        except CaseError:
            outcomes.append("refused")

    threads = [threading.Thread(target=work, args=(f"analyst{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    case = store.get("t-1")
    assert outcomes.count("ok") == 1 and outcomes.count("refused") == 3
    assert [a.what for a in case.audit] == ["opened", "resolved"]


def test_alerts_queue_consumer_makes_one_case_per_alert_and_dead_letters_bad_ones(aws):
    sqs = aws.client("sqs")
    names = aws.names
    url = sqs.get_queue_url(QueueName=names.alerts_queue)["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName=names.dead_letter_queue)["QueueUrl"]
    bodies = [alert_json(f"t-{i}") for i in range(25)]
    bodies += [alert_json("t-3"), "{broken"]  # a redelivered alert, a malformed one
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    store = CaseStore(aws.client("dynamodb"), names.cases_table)
    consumer = AlertQueueConsumer(sqs, url, store, dlq)
    report = AlertReport()
    while consumer.poll_once(T0, report):
        pass
    assert (report.created, report.duplicates, report.invalid) == (25, 1, 1)
    assert len(store.list((CaseStatus.OPEN,), limit=1000)) == 25
    (dead,) = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert "not JSON" in json.loads(dead["Body"])["reason"]


def test_an_oversized_alert_still_makes_a_bounded_case(aws):
    huge = alert(
        "t-big",
        merchant_id="m" * 10_000,
        reason_codes=[{"feature": "f" * 1000, "contribution": 1.0}] * 50_000,
        feature_names=[f"x{i}" for i in range(100_000)],
        features=[1.0] * 100_000,
    )
    case = case_from_alert(json.dumps(huge), T0)
    assert len(case.reason_codes) == 10 and len(case.merchant_id) == 64 and case.features == {}
    store = CaseStore(aws.client("dynamodb"), aws.names.cases_table)
    assert store.create(case) is True
    with pytest.raises(InvalidAlert, match="not numbers"):
        case_from_alert(alert("t-2", feature_names=["a"], features=["high"]), T0)


def test_a_case_that_keeps_changing_is_a_conflict_to_retry_not_a_bad_request(aws):
    """Every attempt loses to a concurrent writer: the update gives up with CaseConflict (HTTP
    409, "try again"), not a plain CaseError (HTTP 400, which says the request itself is wrong)."""
    store = CaseStore(aws.client("dynamodb"), aws.names.cases_table)
    other = CaseStore(aws.client("dynamodb"), aws.names.cases_table)
    store.create(case_from_alert(alert_json("t-1"), T0))

    def change(case):
        other.update("t-1", lambda c: assign(c, f"analyst{c.version}", "lead", T1))
        return assign(case, "alice", "lead", T2)

    with pytest.raises(CaseConflict, match="keeps changing"):
        store.update("t-1", change)
    assert store.get("t-1").version == UPDATE_ATTEMPTS


def _strict_json(text: str | bytes) -> object:
    """json.loads that refuses NaN and Infinity, as JSON (RFC 8259) and strict clients do."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_an_alert_whose_score_is_not_finite_is_dead_lettered_and_costs_no_other(aws):
    """A score of "nan" (or NaN, Infinity) once made a case whose JSON held NaN; now the alert
    goes where invalid alerts go, with its reason, and the others become cases."""
    sqs = aws.client("sqs")
    names = aws.names
    url = sqs.get_queue_url(QueueName=names.alerts_queue)["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName=names.dead_letter_queue)["QueueUrl"]
    bad = [alert_json("t-nan", score="nan"), alert_json("t-inf", score=float("inf"))]
    for body in [alert_json("t-1"), *bad, alert_json("t-2")]:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    store = CaseStore(aws.client("dynamodb"), names.cases_table)
    report = AlertReport()
    consumer = AlertQueueConsumer(sqs, url, store, dlq)
    while consumer.poll_once(T0, report):
        pass
    assert (report.created, report.invalid) == (2, 2)
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    reasons = sorted(json.loads(m["Body"])["reason"] for m in dead)
    assert reasons == ["alert: score is not a finite number"] * 2
    for case in store.list((CaseStatus.OPEN,)):
        assert _strict_json(json.dumps(case.as_dict()))["score"] == 0.91
    for tid in ("t-nan", "t-inf"):
        with pytest.raises(CaseNotFound):
            store.get(tid)
