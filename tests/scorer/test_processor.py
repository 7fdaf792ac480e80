"""The scorer against the local AWS (moto's server) and the model server, both over HTTP."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections import Counter

import pytest

from securebank.scorer.assembly import build_parts
from securebank.scorer.processor import process_batch
from tests.scorer.conftest import scorer_clients
from tests.scorer.helpers import card_count, decisions, drain, kinesis_event, stream_rows


def _parts(stream_env, runtime_url=None, **overrides):
    settings, aws = stream_env
    if overrides:
        settings = settings.model_copy(update=overrides)
    return build_parts(settings, scorer_clients(aws, runtime_url), endpoint=runtime_url is not None)


@pytest.fixture
def rows(trained):
    return stream_rows(trained, 400)


def test_n_records_in_n_decisions_with_alerts_and_lake(stream_env, model_server, rows):
    from securebank.inference.endpoint import EndpointConfig

    settings, aws = stream_env
    server, endpoint, spec = model_server
    endpoint.apply(EndpointConfig(settings.names.endpoint, (spec,)))
    parts = _parts(stream_env, server.url)
    for start in range(0, len(rows), 100):
        report = process_batch(kinesis_event(rows[start : start + 100], first_seq=start + 1), parts)
        assert report.fallback == 0, report.fallback_reason
    made = decisions(aws)
    assert sorted(d["transaction_id"] for d in made) == sorted(r["transaction_id"] for r in rows)
    assert {d["scored_by"] for d in made} == {"endpoint"}
    assert {d["model_version"] for d in made} == {"1"}
    flagged = [d for d in made if d["action"] != "approve"]
    alerts = drain(aws, aws.names.alerts_queue)
    assert len(alerts) == len(flagged) > 0
    alert = json.loads(alerts[0]["Body"])
    assert alert["reason_codes"] and alert["action"] in ("review", "decline")
    band = alerts[0]["MessageAttributes"]["risk_band"]["StringValue"]
    assert band == {"review": "high", "decline": "critical"}[alert["action"]]
    s3 = aws.client("s3")
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=aws.names.lake_bucket, Prefix="decisions/")["Contents"]
    ]
    lake_rows = [
        json.loads(line)
        for key in keys
        for line in s3.get_object(Bucket=aws.names.lake_bucket, Key=key)["Body"].read().splitlines()
    ]
    assert len(lake_rows) == len(rows) and all(k.startswith("decisions/date=") for k in keys)


def test_injected_fraud_raises_alerts(stream_env, trained):
    from securebank.data.dataset import read_labels

    _, aws = stream_env
    parts = _parts(stream_env)
    rows = stream_rows(trained, 3000)
    labels = read_labels(trained.data).to_pylist()
    fraud_ids = {x["transaction_id"] for x in labels if x["is_fraud"]}
    for start in range(0, len(rows), 500):
        process_batch(kinesis_event(rows[start : start + 500], first_seq=start + 1), parts)
    made = {d["transaction_id"]: d for d in decisions(aws)}
    frauds = [made[t] for t in fraud_ids if t in made]
    assert frauds, "the streamed window holds fraud"
    caught = sum(d["action"] != "approve" for d in frauds) / len(frauds)
    genuine = Counter(d["action"] for t, d in made.items() if t not in fraud_ids)
    false_alarms = 1 - genuine["approve"] / sum(genuine.values())
    # The review budget is 0.5 % of traffic and fraud is 1 %: at most half can be caught.
    assert caught >= 0.2
    assert caught > 20 * false_alarms


def test_poison_records_go_to_the_dead_letter_queue_with_reasons_and_no_pan(stream_env, rows):
    _, aws = stream_env
    parts = _parts(stream_env)
    poison = [
        b"not json",
        json.dumps({"transaction_id": "p1", "card_id": "4111111111111111"}).encode(),
    ]
    report = process_batch(kinesis_event([rows[0], poison[0], rows[1], poison[1]]), parts)
    assert (report.invalid, report.decided) == (2, 2)
    letters = [json.loads(m["Body"]) for m in drain(aws, aws.names.dead_letter_queue)]
    assert [x["sequence_number"] for x in letters] == ["2", "4"]
    assert letters[0]["reason"] == "record: data is not a JSON document"
    assert "card number" in letters[1]["reasons"]["card_id"]
    assert letters[1]["data_redacted"] is True and letters[1]["data_base64"] is None
    assert "4111111111111111" not in json.dumps(letters)


def test_a_redelivered_batch_makes_no_second_decision_and_counts_nothing_twice(stream_env, rows):
    _, aws = stream_env
    parts = _parts(stream_env)
    batch = kinesis_event(rows[:100])
    card = rows[0]["card_id"]
    before = card_count(aws, card)
    first = process_batch(batch, parts)
    after_first = card_count(aws, card)
    again = process_batch(batch, parts)
    assert first.decided == 100 and again.decided == 0 and again.skipped_redelivered == 100
    assert (
        card_count(aws, card)
        == after_first
        == before + sum(r["card_id"] == card for r in rows[:100])
    )
    assert len(decisions(aws)) == 100


def test_a_crash_after_decisions_before_state_is_repaired_on_retry(stream_env, rows, monkeypatch):
    _, aws = stream_env
    parts = _parts(stream_env)
    batch = kinesis_event(rows[:50])
    card = rows[0]["card_id"]
    before = card_count(aws, card)
    save = parts.states.save
    monkeypatch.setattr(parts.states, "save", lambda *a: (_ for _ in ()).throw(OSError("crash")))
    with pytest.raises(OSError):
        process_batch(batch, parts)
    assert len(decisions(aws)) == 50 and card_count(aws, card) == before
    monkeypatch.setattr(parts.states, "save", save)
    retry = process_batch(batch, parts)
    assert retry.decided == 0 and retry.resumed == 50 and retry.duplicates == 0
    assert card_count(aws, card) == before + sum(r["card_id"] == card for r in rows[:50])
    assert len(decisions(aws)) == 50


def test_endpoint_down_means_fallback_decisions_and_none_lost(stream_env, rows):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    _, aws = stream_env
    parts = _parts(stream_env, closed)
    report = process_batch(kinesis_event(rows[:100]), parts)
    assert report.decided == 100 and report.fallback == 100
    assert report.fallback_reason == "EndpointConnectionError"
    assert {d["scored_by"] for d in decisions(aws)} == {"fallback"}


def test_a_slow_endpoint_is_abandoned_within_the_budget(stream_env, rows):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []
    stop = threading.Event()

    def accept_and_hold() -> None:  # a real server that accepts and never answers
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_hold, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        parts = _parts(stream_env, url, latency_budget_ms=1500)
        report = process_batch(kinesis_event(rows[:20]), parts)
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert report.fallback == 20 and report.fallback_reason == "ReadTimeoutError"
    assert report.decided == 20
    assert report.scoring_ms < 1500


def _killable_server(config):
    """A model server whose kill() drops every connection, as a killed process would."""
    from securebank.inference.endpoint import Endpoint
    from securebank.inference.server import ModelServer, start_in_thread

    class Killable(ModelServer):
        def process_request(self, request, client_address):
            self.accepted.append(request)
            super().process_request(request, client_address)

        def kill(self):
            self.shutdown()
            self.server_close()
            for sock in self.accepted:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    server = Killable(("127.0.0.1", 0), Endpoint())
    server.accepted = []  # the sockets it accepted
    start_in_thread(server)
    server.endpoint.apply(config)
    return server


def test_moved_endpoint_is_found_again_by_the_half_open_probe(stream_env, model_server, rows):
    from securebank.inference.endpoint import EndpointConfig
    from securebank.scorer.scoring import CircuitBreaker

    settings, aws = stream_env
    spec = model_server[2]
    config = EndpointConfig(settings.names.endpoint, (spec,))
    first = _killable_server(config)
    where = [first.url]
    parts = build_parts(settings, scorer_clients(aws, None), resolve_endpoint_url=lambda: where[0])
    now = [0.0]
    parts.endpoint.breaker = CircuitBreaker(failure_threshold=2, open_s=1.0, clock=lambda: now[0])
    batches = iter(kinesis_event(rows[i : i + 10], first_seq=i + 1) for i in range(0, 100, 10))

    def scored_by():
        report = process_batch(next(batches), parts)
        return "endpoint" if report.fallback == 0 else report.fallback_reason

    assert scored_by() == "endpoint"
    first.kill()  # the endpoint goes away ...
    assert [scored_by(), scored_by()] == ["EndpointConnectionError"] * 2
    assert scored_by() == "circuit open"  # ... the breaker stops calling it
    restarted = _killable_server(config)
    try:
        where[0] = restarted.url  # ... it comes back on another port
        assert scored_by() == "circuit open"
        now[0] = 1.5  # the breaker's open time has passed: one probe, at the new address
        assert [scored_by(), scored_by()] == ["endpoint", "endpoint"]
    finally:
        restarted.kill()
    assert len(decisions(aws)) == 70
