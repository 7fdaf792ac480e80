"""The scorer's defences without AWS: decoder limits, dead-letter bodies, retries, the breaker."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from securebank.local.producer import contract_json
from securebank.retry import Backoff, RetriesExhausted, retry_leftovers
from securebank.scorer.fanout import SQS_BATCH_BYTES, DeadLetterQueue, dead_letter_body
from securebank.scorer.records import MAX_DEPTH, decode_record, nesting_depth
from securebank.scorer.scoring import CircuitBreaker

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
GOOD = {
    "transaction_id": "t-1",
    "event_time": "2026-11-25T11:59:00Z",
    "card_id": "tok_1",
    "customer_id": "cus_1",
    "merchant_id": "m_1",
    "mcc": "5411",
    "amount": "12.50",
    "currency": "USD",
    "merchant_country": "US",
    "channel": "pos",
    "status": "approved",
}


def _record(data: bytes, seq: int = 1) -> dict:
    return {
        "kinesis": {
            "partitionKey": "tok_1",
            "sequenceNumber": str(seq),
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": NOW.timestamp(),
        },
        "eventID": f"shardId-000000000000:{seq}",
    }


def _reason(data: bytes) -> str:
    decoded = decode_record(_record(data), NOW)
    assert decoded.transaction is None
    return str(decoded.rejection)


def test_a_good_record_decodes():
    assert decode_record(_record(json.dumps(GOOD).encode()), NOW).transaction is not None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[" * 200_000, "over the 16,384-byte limit"),
        (b"[" * 5_000 + b"]" * 5_000, "nested deeper than 4 levels"),
        (b'{"a": ' * 1_000 + b"1" + b"}" * 1_000, "nested deeper than 4 levels"),
        (json.dumps(GOOD).encode()[:-1] + b', "pad": "\xff\xfe"}', "not valid UTF-8"),
        (b'{"transaction_id": "a", "transaction_id": "b"}', "a key appears twice"),
        (json.dumps({**GOOD, "amount": "NaN"}).replace('"NaN"', "NaN").encode(), "NaN is not"),
        (b"not json", "not a JSON document"),
        (b"", "not a JSON document"),
        (b"[1, 2]", "must be a JSON object"),
        (json.dumps({**GOOD, "amount": ["1"]}).encode(), "amount"),
        (json.dumps({**GOOD, "card_id": 42}).encode(), "card_id"),
        ("\ufeff".encode() + json.dumps(GOOD).encode(), "not a JSON document"),
    ],
)
def test_poison_is_refused_with_a_reason_never_an_error(data, reason):
    assert reason in _reason(data)


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"k": "[[[[[[[[[[{{{{{{{{{{"}).encode()
    assert nesting_depth(text) == 1 <= MAX_DEPTH


def test_a_record_that_is_not_base64_is_refused():
    record = _record(b"{}")
    record["kinesis"]["data"] = "%%%not base64"
    assert "not base64" in str(decode_record(record, NOW).rejection)


def test_dead_letters_never_hold_a_card_number_or_too_many_bytes():
    pan = "4111 1111 1111 1111"
    with_pan = decode_record(_record(json.dumps({**GOOD, "card_id": pan}).encode()), NOW)
    body = dead_letter_body(with_pan)
    assert body["data_redacted"] and body["data_base64"] is None
    assert "4111" not in json.dumps(body)
    as_key = decode_record(_record(json.dumps({**GOOD, "4111111111111111": 1}).encode()), NOW)
    assert "4111111111111111" not in json.dumps(dead_letter_body(as_key))
    big = decode_record(_record(b"x" * 12_000), NOW)
    summary = dead_letter_body(big)
    assert summary["data_base64"] is None and summary["data_bytes"] == 12_000
    assert len(summary["data_sha256"]) == 64


class _Sqs:
    def __init__(self, fail_first: int = 0) -> None:
        self.calls: list[list[dict]] = []
        self.fail_first = fail_first

    def send_message_batch(self, QueueUrl, Entries):
        self.calls.append(Entries)
        if self.fail_first:
            self.fail_first -= 1
            return {"Failed": [{"Id": Entries[0]["Id"], "SenderFault": False}]}
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}


def test_dead_letter_batches_stay_under_the_sqs_limit_and_refused_entries_are_resent():
    records = [decode_record(_record(b"y" * 8_000 + bytes([i]), i), NOW) for i in range(40)]
    sqs = _Sqs(fail_first=1)
    assert DeadLetterQueue(sqs, "url").send(records) == 40
    assert all(sum(len(e["MessageBody"]) for e in call) <= SQS_BATCH_BYTES for call in sqs.calls)
    assert len(sqs.calls[1]) == 1 and sqs.calls[1][0] == sqs.calls[0][0]  # the re-send
    sent = [e["MessageBody"] for call in sqs.calls[2:] for e in call] + [
        e["MessageBody"] for e in sqs.calls[0]
    ]
    assert len(set(sent)) == 40


def test_retry_leftovers_backs_off_and_gives_up_after_its_attempts():
    sleeps: list[float] = []
    attempts = []

    def never_done(pending):
        attempts.append(pending)
        return pending

    with pytest.raises(RetriesExhausted) as raised:
        retry_leftovers(
            never_done, [1, 2], what="x", backoff=Backoff(0.01, 0.05, 5), sleep=sleeps.append
        )
    assert len(attempts) == 5 and raised.value.left == 2
    assert len(sleeps) == 4 and all(0 <= s <= 0.05 for s in sleeps)


def test_retry_leftovers_never_sleeps_past_the_deadline():
    now = [100.0]
    sleeps: list[float] = []

    def clock():
        return now[0]

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    def shrinking(pending):
        return pending[1:]

    assert retry_leftovers(shrinking, [1, 2, 3], what="x", sleep=sleep, clock=clock) == 3
    with pytest.raises(RetriesExhausted):
        retry_leftovers(
            lambda p: p,
            [1],
            what="x",
            backoff=Backoff(10.0, 10.0, 50),
            deadline=now[0] + 0.5,
            sleep=sleep,
            clock=clock,
        )
    assert sum(sleeps[2:]) <= 0.5 + 1e-9


def test_breaker_opens_after_failures_and_one_half_open_probe_closes_it():
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=3, open_s=1.0, clock=lambda: now[0])
    for _ in range(3):
        assert breaker.allow() == (True, False)
        breaker.failure()
    assert breaker.state == "open" and breaker.allow() == (False, False)
    now[0] = 1.01
    assert breaker.allow() == (True, True)  # the probe
    assert breaker.allow() == (False, False)  # only one at a time
    breaker.failure()  # the probe failed: open again for another second
    assert breaker.state == "open" and breaker.allow() == (False, False)
    now[0] = 2.1
    assert breaker.allow() == (True, True)
    breaker.success()
    assert breaker.state == "closed" and breaker.allow() == (True, False)


def test_contract_json_of_a_row_still_decodes():
    row = {**GOOD, "event_time": NOW, "amount": "1.00"}
    assert decode_record(_record(contract_json(row)), NOW).transaction is not None


def test_a_stored_decision_reads_back_whatever_else_its_item_holds():
    from securebank.scorer.decision_store import Decision, decision_from_item, decision_item

    decision = Decision(
        *("t", "c", "m", "2026-11-25T00:00:00+00:00", "1.00", "USD", "US", "5411"),
        score=0.25,
        action="review",
        review_threshold=0.2,
        decline_threshold=0.9,
        model_version="3",
        feature_set_version="v2",
        scored_by="endpoint",
        explain_method="treeshap",
        reason_codes="[]",
        shard_id="shardId-000000000001",
        sequence_number="42",
        arrived_at_ms=1,
        decided_at_ms=2,
    )
    item = decision_item(decision)
    assert decision_from_item(item) == decision
    item["case_status"] = {"S": "open"}  # another writer's attribute
    del item["explain_method"]
    assert decision_from_item(item).explain_method == ""


def test_shared_clients_retry_adaptively_and_the_endpoint_client_makes_one_attempt():
    from securebank.aws import AwsClients
    from securebank.scorer.scoring import EndpointScorer

    clients = AwsClients(region="us-east-1", endpoint_url="http://127.0.0.1:9", local=True)
    retries = clients.client("dynamodb").meta.config.retries
    assert retries["mode"] == "adaptive" and retries["total_max_attempts"] == 5
    scorer = EndpointScorer(clients, "e", resolve_url=lambda: "http://127.0.0.1:10")
    endpoint_client = scorer._client(100)
    assert endpoint_client.meta.config.retries["total_max_attempts"] == 1
    assert endpoint_client.meta.config.read_timeout == 0.1
    assert endpoint_client.meta.endpoint_url == "http://127.0.0.1:10"
